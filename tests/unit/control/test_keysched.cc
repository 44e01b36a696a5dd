// Tests for control/keysched.c: RFC 5869 (HKDF-SHA256) cases 1-3, RFC 7748 §6.1 (X25519),
// RFC 4231 case 2 (HMAC-SHA256), and dpdist's own published vectors (docs/security.md, also
// recomputed independently by ks_vectors.py): a real initiator/acceptor pair of hs_ machines
// produces the vector's transcript byte for byte, and both ends derive the published secrets,
// keys, IVs, channel keys, confirmation tags and key update, for the cookie and the TLS ikm.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "tests/lib/hex.h"
#include "tests/unit/control/vector_handshake.h"

namespace
{

using Bytes = std::vector<uint8_t>;
using testhex::bytes;
using namespace vectorhs;

std::string hex(const uint8_t *p, size_t n)
{
    return testhex::str(p, n);
}

// --- RFC test vectors -----------------------------------------------------------------------

struct HkdfCase {
    const char *ikm, *salt, *info;
    size_t len;
    const char *prk, *okm;
};

// RFC 5869 appendix A, cases 1-3 (SHA-256).
const HkdfCase kHkdf[] = {
    {"0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "000102030405060708090a0b0c",
     "f0f1f2f3f4f5f6f7f8f9", 42, "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
     "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"},
    {"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
     "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
     "404142434445464748494a4b4c4d4e4f",
     "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
     "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
     "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf",
     "b0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecf"
     "d0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeef"
     "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
     82, "06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244",
     "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
     "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
     "cc30c58179ec3e87c14c01d5c1f3434f1d87"},
    {"0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "", "", 42,
     "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04",
     "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"},
};

TEST(KeyschedRfc, Hkdf5869Cases1To3)
{
    for (const HkdfCase &c : kHkdf) {
        SCOPED_TRACE(c.prk);
        Bytes ikm = bytes(c.ikm), salt = bytes(c.salt), info = bytes(c.info);
        uint8_t prk[KS_HASH_LEN];
        ASSERT_EQ(ks_hkdf_extract(salt.data(), salt.size(), ikm.data(), ikm.size(), prk), KS_OK);
        EXPECT_EQ(hex(prk, sizeof(prk)), c.prk);
        Bytes okm(c.len);
        ASSERT_EQ(ks_hkdf_expand(prk, sizeof(prk), info.data(), info.size(), okm.data(), c.len),
                  KS_OK);
        EXPECT_EQ(testhex::str(okm), c.okm);
    }
}

TEST(KeyschedRfc, HkdfArguments)
{
    uint8_t prk[KS_HASH_LEN] = {1}, out[KS_HKDF_EXPAND_MAX + 1];
    EXPECT_EQ(ks_hkdf_expand(prk, sizeof(prk), nullptr, 0, out, 0), KS_E_ARG);
    EXPECT_EQ(ks_hkdf_expand(prk, sizeof(prk), nullptr, 0, out, KS_HKDF_EXPAND_MAX + 1), KS_E_ARG);
    EXPECT_EQ(ks_hkdf_expand(prk, sizeof(prk), nullptr, 0, out, KS_HKDF_EXPAND_MAX), KS_OK);
    EXPECT_EQ(ks_hkdf_expand(prk, KS_HASH_LEN - 1, nullptr, 0, out, 32), KS_E_ARG);
    EXPECT_EQ(ks_hkdf_expand(nullptr, 32, nullptr, 0, out, 32), KS_E_ARG);
    EXPECT_EQ(ks_hkdf_extract(nullptr, 3, prk, 1, out), KS_E_ARG);
    EXPECT_EQ(ks_hkdf_extract(nullptr, 0, nullptr, 0, out), KS_OK); // all empty is defined
}

TEST(KeyschedRfc, X25519Rfc7748)
{
    KeyPair alice, bob;
    ASSERT_EQ(ks_x25519_from_private(&alice.k, bytes(kAlicePriv).data()), KS_OK);
    ASSERT_EQ(ks_x25519_from_private(&bob.k, bytes(kBobPriv).data()), KS_OK);
    EXPECT_EQ(hex(alice.k.pub, 32), kAlicePub);
    EXPECT_EQ(hex(bob.k.pub, 32), kBobPub);
    uint8_t k1[32], k2[32];
    ASSERT_EQ(ks_x25519_derive(&alice.k, bob.k.pub, k1), KS_OK);
    ASSERT_EQ(ks_x25519_derive(&bob.k, alice.k.pub, k2), KS_OK);
    EXPECT_EQ(hex(k1, 32), kShared);
    EXPECT_EQ(hex(k2, 32), kShared);
    // Wiped: nothing left, and no derive without a key pair.
    ks_x25519_wipe(&alice.k);
    EXPECT_EQ(alice.k.pkey, nullptr);
    EXPECT_EQ(Bytes(alice.k.pub, alice.k.pub + 32), Bytes(32, 0));
    EXPECT_EQ(ks_x25519_derive(&alice.k, bob.k.pub, k1), KS_E_ARG);
    // A key pair replaced by another is freed (LeakSanitizer would see it otherwise).
    ASSERT_EQ(ks_x25519_keygen(&bob.k), KS_OK);
    ASSERT_EQ(ks_x25519_from_private(&bob.k, bytes(kBobPriv).data()), KS_OK);
    EXPECT_EQ(hex(bob.k.pub, 32), kBobPub);
}

// Public keys of small order give an all-zero result: refused, output cleared.
TEST(KeyschedRfc, X25519LowOrderPeerRefused)
{
    KeyPair me;
    ASSERT_EQ(ks_x25519_keygen(&me.k), KS_OK);
    Bytes zero(32, 0), one(32, 0);
    one[0] = 1;
    for (const Bytes &pub : {zero, one}) {
        uint8_t out[32];
        memset(out, 0xaa, sizeof(out));
        EXPECT_EQ(ks_x25519_derive(&me.k, pub.data(), out), KS_E_LOW_ORDER);
        EXPECT_EQ(Bytes(out, out + 32), Bytes(32, 0));
    }
}

TEST(KeyschedRfc, X25519FreshPairsAgree)
{
    KeyPair a, b, c;
    ASSERT_EQ(ks_x25519_keygen(&a.k), KS_OK);
    ASSERT_EQ(ks_x25519_keygen(&b.k), KS_OK);
    ASSERT_EQ(ks_x25519_keygen(&c.k), KS_OK);
    EXPECT_NE(Bytes(a.k.pub, a.k.pub + 32), Bytes(b.k.pub, b.k.pub + 32));
    uint8_t ab[32], ba[32], ac[32];
    ASSERT_EQ(ks_x25519_derive(&a.k, b.k.pub, ab), KS_OK);
    ASSERT_EQ(ks_x25519_derive(&b.k, a.k.pub, ba), KS_OK);
    ASSERT_EQ(ks_x25519_derive(&a.k, c.k.pub, ac), KS_OK);
    EXPECT_EQ(0, memcmp(ab, ba, 32));
    EXPECT_NE(0, memcmp(ab, ac, 32));
}

// RFC 4231 test case 2, the message given in three parts; ks_tag is its truncation with a
// label in front.
TEST(KeyschedRfc, HmacSha256Rfc4231AndTags)
{
    const char *key = "Jefe";
    ks_part parts[] = {{"what do ya", 10}, {" want ", 6}, {"for nothing?", 12}};
    uint8_t mac[32];
    ASSERT_EQ(ks_hmac_sha256((const uint8_t *)key, 4, parts, 3, mac), KS_OK);
    EXPECT_EQ(hex(mac, 32), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    uint8_t tag[KS_TAG_LEN];
    ASSERT_EQ(ks_tag((const uint8_t *)key, 4, "what do ya", parts + 1, 2, tag), KS_OK);
    EXPECT_EQ(hex(tag, 16), "5bdcc146bf60754e6a042426089575c7");
    EXPECT_TRUE(ks_tag_equal(tag, mac));
    tag[15] ^= 1;
    EXPECT_FALSE(ks_tag_equal(tag, mac));
    EXPECT_EQ(ks_hmac_sha256(nullptr, 0, parts, 1, mac), KS_E_ARG);
    EXPECT_EQ(ks_tag((const uint8_t *)key, 4, nullptr, nullptr, 0, tag), KS_E_ARG);
}

// --- dpdist's vectors (docs/security.md, "Test vectors") ------------------------------------

// The published values, as printed by ks_vectors.py --print.
const std::map<std::string, std::string> kVec = {
    {"cookie", "44504449535454455354434f4f4b4945"},
    {"th", "6d73e70a604b856ee6fc0faf618d53967b1f88e0f715362dac5d6bd93dff5523"},
    {"prk", "ec28b25fcf5ee38cf61f12164edf969c17c1a075afa17cb304bbc9570a8618cf"},
    {"s", "07cf24700ece864ac19744bc01e4ef1e2979b9d42304885b843b2d7850834219"},
    {"sec_i>a", "7f7ac3dc4cbb2b8ec23615dec4be70656802c1f5cf05929144d6517be24fdae1"},
    {"key_i>a", "8b2ceaac9e315e1d0507c9520d0607e64bcc6b9b630c979f7c090985ba2f31c6"},
    {"iv_i>a", "f0fc6a00dcdb553ceff5d62e"},
    {"sec_a>i", "385cf7700466ad425844941b827655c93ddfc25b0c3790e1c2f7958cece9d0bd"},
    {"key_a>i", "aaa45ae7efdc8ef10d2e7672dd0375be8e50d2d3aa09fe3c035f3b3d23af65ac"},
    {"iv_a>i", "cf274b8a1a92f0b79b0b7f19"},
    {"confirm_i>a", "423b8a2aed4671be88a3a224b77cf654"},
    {"confirm_a>i", "b51353896bd86f499f8641f040b112cd"},
    {"csec_i>a", "6d5e764f51b57aa5322ba0413919196cbcd84c793e15428eb6a21faba0e86394"},
    {"ckey_i>a", "c097d68629aae844fbea72ab0ec0b839779188510f485b2706ac2ce0375771ab"},
    {"civ_i>a", "477f3a67a2cf440010e81391"},
    {"csec_a>i", "0d273bc04d4956865ef335220689b1a034e0cf2930ecdc347ac0469c6ab67764"},
    {"ckey_a>i", "ed5988645229f8aa9846710c64dad87f2cb8947669517c15a6676004c3024b4b"},
    {"civ_a>i", "22f07dd4b6b659e6ade3ee73"},
    {"ku1_sec_i>a", "31d20b67d6344c9accd04084004ec81200869b6170efd5b89fd8515a5327904b"},
    {"ku1_key_i>a", "e32a7310b46988a8fb81671cc01bbe8e4aebfd01afdd650fae9892fea59fd545"},
    {"ku1_iv_i>a", "946a0cbbe0fc4a3b6c407ee9"},
    {"tls_prk", "7873a5c880cf73f33131fba73ec52febb7227aa553ae6a80e4d7defbb59af72a"},
    {"tls_s", "45039fbac78c4ad2099af975086d7b2c21ed113ec403398b7d1fd06763ea9c4c"},
    {"tls_key_i>a", "61e261bf19451e56820917c2e114f4eeaf733af8ab6a12382299f1f24cc794a9"},
    {"tls_iv_i>a", "2b06e2f9d6aab555f1aa0968"},
    {"tls_key_a>i", "9609295fec82b25fadb4fc465147af79223d814e0628b767a4400b3e76fa1d1e"},
    {"tls_iv_a>i", "a79b91a12d0ead36ec956b63"},
};

struct VectorHandshake {
    VectorKeys keys;
    const ks_x25519 &kp_i = keys.i.k, &kp_a = keys.a.k;
    End *ini = nullptr, *acc = nullptr;
    VectorHandshake()
    {
        ini = new End(HS_INITIATOR, kp_i);
        acc = new End(HS_ACCEPTOR, kp_a);
        for (int round = 0; round < 10; round++) {
            acc->input(ini->output());
            ini->input(acc->output());
        }
    }
    ~VectorHandshake()
    {
        delete ini;
        delete acc;
    }
};

TEST(KeyschedVectors, RealHandshakeGivesThePublishedTranscript)
{
    VectorHandshake v;
    ASSERT_EQ(v.ini->step, HS_DONE);
    ASSERT_EQ(v.acc->step, HS_DONE);
    EXPECT_EQ(testhex::str(v.ini->transcript()), testhex::str(vector_transcript()));
    EXPECT_EQ(v.acc->transcript(), v.ini->transcript());
    // The peers' public keys come out of the trailers.
    const struct hs_result *ri = hs_result(&v.ini->h), *ra = hs_result(&v.acc->h);
    ASSERT_EQ(ri->peer_trailer_len, 40u);
    EXPECT_EQ(hex(ri->peer_trailer + 8, 32), kBobPub);
    EXPECT_EQ(hex(ra->peer_trailer + 8, 32), kAlicePub);
}

// Both ends, each from its own transcript, its own private key and the peer's public key from
// the peer's trailer, derive every published value.
TEST(KeyschedVectors, BothEndsDeriveThePublishedKeys)
{
    VectorHandshake v;
    ASSERT_EQ(v.ini->step, HS_DONE);
    const uint8_t *cookie = (const uint8_t *)kCookie;
    EXPECT_EQ(hex(cookie, strlen(kCookie)), kVec.at("cookie"));
    for (End *end : {v.ini, v.acc}) {
        bool is_ini = end == v.ini;
        SCOPED_TRACE(is_ini ? "initiator" : "acceptor");
        Bytes t = end->transcript();
        const struct hs_result *r = hs_result(&end->h);
        ks_conn c;
        ASSERT_EQ(ks_conn_establish(&c, cookie, strlen(kCookie), t.data(), t.size(),
                                    is_ini ? &v.kp_i : &v.kp_a, r->peer_trailer + 8),
                  KS_OK);
        EXPECT_EQ(hex(c.th, 32), kVec.at("th"));
        EXPECT_EQ(hex(c.prk, 32), kVec.at("prk"));
        EXPECT_EQ(hex(c.s, 32), kVec.at("s"));
        ks_traffic i2a, a2i;
        ASSERT_EQ(ks_traffic_derive(&c, &i2a, &a2i), KS_OK);
        EXPECT_EQ(hex(i2a.secret, 32), kVec.at("sec_i>a"));
        EXPECT_EQ(hex(i2a.key, 32), kVec.at("key_i>a"));
        EXPECT_EQ(hex(i2a.iv, 12), kVec.at("iv_i>a"));
        EXPECT_EQ(hex(a2i.secret, 32), kVec.at("sec_a>i"));
        EXPECT_EQ(hex(a2i.key, 32), kVec.at("key_a>i"));
        EXPECT_EQ(hex(a2i.iv, 12), kVec.at("iv_a>i"));
        uint8_t tag[KS_TAG_LEN];
        ASSERT_EQ(ks_confirm_tag(&i2a, &c, tag), KS_OK);
        EXPECT_EQ(hex(tag, 16), kVec.at("confirm_i>a"));
        ASSERT_EQ(ks_confirm_tag(&a2i, &c, tag), KS_OK);
        EXPECT_EQ(hex(tag, 16), kVec.at("confirm_a>i"));
        ks_traffic ci2a, ca2i;
        ASSERT_EQ(ks_channel_derive(&c, &ci2a, &ca2i), KS_OK);
        EXPECT_EQ(hex(ci2a.secret, 32), kVec.at("csec_i>a"));
        EXPECT_EQ(hex(ci2a.key, 32), kVec.at("ckey_i>a"));
        EXPECT_EQ(hex(ci2a.iv, 12), kVec.at("civ_i>a"));
        EXPECT_EQ(hex(ca2i.secret, 32), kVec.at("csec_a>i"));
        EXPECT_EQ(hex(ca2i.key, 32), kVec.at("ckey_a>i"));
        EXPECT_EQ(hex(ca2i.iv, 12), kVec.at("civ_a>i"));
        ASSERT_EQ(ks_traffic_update(&i2a), KS_OK);
        EXPECT_EQ(i2a.generation, 1u);
        EXPECT_EQ(hex(i2a.secret, 32), kVec.at("ku1_sec_i>a"));
        EXPECT_EQ(hex(i2a.key, 32), kVec.at("ku1_key_i>a"));
        EXPECT_EQ(hex(i2a.iv, 12), kVec.at("ku1_iv_i>a"));
        EXPECT_EQ(ks_confirm_tag(&i2a, &c, tag), KS_E_STATE); // confirm precedes updates
        ks_traffic_wipe(&i2a);
        ks_conn_wipe(&c);
        EXPECT_EQ(Bytes((uint8_t *)&c, (uint8_t *)&c + sizeof(c)), Bytes(sizeof(c), 0));
    }
}

TEST(KeyschedVectors, TlsIkm)
{
    Bytes exporter = bytes("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    uint8_t ikm[KS_IKM_MAX];
    size_t ikm_len = 0;
    ASSERT_EQ(ks_ikm_tls(exporter.data(), kCookie, ikm, &ikm_len), KS_OK);
    ASSERT_EQ(ikm_len, 32 + strlen(kCookie));
    EXPECT_EQ(0, memcmp(ikm + 32, kCookie, strlen(kCookie)));
    Bytes t = vector_transcript();
    VectorKeys kp;
    ks_conn c;
    ASSERT_EQ(ks_conn_establish(&c, ikm, ikm_len, t.data(), t.size(), &kp.a.k, kp.i.k.pub), KS_OK);
    EXPECT_EQ(hex(c.prk, 32), kVec.at("tls_prk"));
    EXPECT_EQ(hex(c.s, 32), kVec.at("tls_s"));
    ks_traffic i2a, a2i;
    ASSERT_EQ(ks_traffic_derive(&c, &i2a, &a2i), KS_OK);
    EXPECT_EQ(hex(i2a.key, 32), kVec.at("tls_key_i>a"));
    EXPECT_EQ(hex(i2a.iv, 12), kVec.at("tls_iv_i>a"));
    EXPECT_EQ(hex(a2i.key, 32), kVec.at("tls_key_a>i"));
    EXPECT_EQ(hex(a2i.iv, 12), kVec.at("tls_iv_a>i"));
    EXPECT_EQ(ks_ikm_tls(exporter.data(), "", ikm, &ikm_len), KS_E_ARG);
    EXPECT_EQ(
        ks_ikm_tls(exporter.data(), std::string(COOKIE_MAX_LEN + 1, 'c').c_str(), ikm, &ikm_len),
        KS_E_ARG);
}

// A trailer altered in flight (one bit of the acceptor's offer) leaves the two ends with
// different transcripts: different keys and confirmation tags, so the key confirmation fails
// and the connection does not come up (JOINT-15-16 §2).
TEST(KeyschedVectors, TamperedTrailerSplitsTheKeys)
{
    Bytes t = vector_transcript(), t2 = t;
    const size_t msg3 = 61 + 5, trailer = msg3 + 2 + 23;
    ASSERT_EQ(t2[trailer + 7], 2); // the kind byte of the acceptor's offer
    t2[trailer + 7] ^= 1;          // as the initiator receives it
    VectorKeys kp;
    ks_conn ci, ca;
    const uint8_t *ck = (const uint8_t *)kCookie;
    ASSERT_EQ(
        ks_conn_establish(&ci, ck, strlen(kCookie), t2.data(), t2.size(), &kp.i.k, kp.a.k.pub),
        KS_OK);
    ASSERT_EQ(ks_conn_establish(&ca, ck, strlen(kCookie), t.data(), t.size(), &kp.a.k, kp.i.k.pub),
              KS_OK);
    ks_traffic ii, ia, ai, aa;
    ASSERT_EQ(ks_traffic_derive(&ci, &ii, &ia), KS_OK);
    ASSERT_EQ(ks_traffic_derive(&ca, &ai, &aa), KS_OK);
    EXPECT_NE(0, memcmp(ii.key, ai.key, 32));
    uint8_t sent[16], expected[16];
    ASSERT_EQ(ks_confirm_tag(&ii, &ci, sent), KS_OK);     // what the initiator sends
    ASSERT_EQ(ks_confirm_tag(&ai, &ca, expected), KS_OK); // what the acceptor expects
    EXPECT_FALSE(ks_tag_equal(sent, expected));
    // Nor can one direction's tag stand in for the other's.
    ASSERT_EQ(ks_confirm_tag(&aa, &ca, sent), KS_OK);
    EXPECT_FALSE(ks_tag_equal(sent, expected));
}

TEST(KeyschedConn, ArgumentsAndState)
{
    ks_conn c;
    Bytes t(10, 1);
    uint8_t ikm[KS_IKM_MAX + 1] = {1};
    EXPECT_EQ(ks_conn_init(&c, ikm, 0, t.data(), t.size()), KS_E_ARG);
    EXPECT_EQ(ks_conn_init(&c, ikm, KS_IKM_MAX + 1, t.data(), t.size()), KS_E_ARG);
    EXPECT_EQ(ks_conn_init(&c, ikm, 5, t.data(), 0), KS_E_ARG);
    EXPECT_EQ(ks_conn_init(&c, nullptr, 5, t.data(), t.size()), KS_E_ARG);
    ASSERT_EQ(ks_conn_init(&c, ikm, KS_IKM_MAX, t.data(), t.size()), KS_OK);
    ks_traffic a, b;
    EXPECT_EQ(ks_traffic_derive(&c, &a, &b), KS_E_STATE);
    EXPECT_EQ(ks_channel_derive(&c, &a, &b), KS_E_STATE);
    uint8_t dh[32] = {7};
    ASSERT_EQ(ks_conn_mix_dh(&c, dh), KS_OK);
    EXPECT_EQ(ks_traffic_derive(&c, &a, &b), KS_OK);
    // The two directions and the channel never share a key.
    ks_traffic ca, cb;
    ASSERT_EQ(ks_channel_derive(&c, &ca, &cb), KS_OK);
    std::vector<Bytes> keys = {Bytes(a.key, a.key + 32), Bytes(b.key, b.key + 32),
                               Bytes(ca.key, ca.key + 32), Bytes(cb.key, cb.key + 32)};
    for (size_t i = 0; i < keys.size(); i++)
        for (size_t j = i + 1; j < keys.size(); j++)
            EXPECT_NE(keys[i], keys[j]);
    // A low-order peer key fails the whole establishment and leaves nothing behind.
    KeyPair me;
    ASSERT_EQ(ks_x25519_keygen(&me.k), KS_OK);
    Bytes zero(32, 0);
    EXPECT_EQ(ks_conn_establish(&c, ikm, 5, t.data(), t.size(), &me.k, zero.data()),
              KS_E_LOW_ORDER);
    EXPECT_EQ(Bytes((uint8_t *)&c, (uint8_t *)&c + sizeof(c)), Bytes(sizeof(c), 0));
    for (int e = 0; e < KS_E__COUNT; e++)
        EXPECT_STRNE(ks_strerror((ks_error)e), "");
    EXPECT_STREQ(ks_strerror((ks_error)77), "unknown error");
}

} // namespace
