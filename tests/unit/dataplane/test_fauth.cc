// Tests for dataplane/fauth.c and its two backends (fauth_imb.c, fauth_ossl.c):
// NIST CAVP AES-256-GCM known answers (gcmEncryptExtIV256.rsp, and test case 16 of the GCM
// specification) through seal and open on every backend built in, ipsec-mb against OpenSSL on
// random frames of 0-9000 bytes, the nonce construction, every replay-window case, and the
// receive order (a forged frame with a high packet number does not move the window).
#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "tests/lib/hex.h"

extern "C" {
#include "dataplane/fauth.h"
}

namespace
{

using Bytes = std::vector<uint8_t>;
using testhex::bytes;

constexpr size_t kHdr = 48; // the v2 data-plane header (DESIGN-16 §3)

std::vector<fauth_backend> backends()
{
    std::vector<fauth_backend> v;
    for (fauth_backend b : {FAUTH_BACKEND_IMB, FAUTH_BACKEND_OSSL})
        if (fauth_backend_available(b))
            v.push_back(b);
    return v;
}

// A key on the heap with the alignment it asks for.
struct Key {
    fauth_key *k;
    Key() : k(new fauth_key())
    {
    }
    ~Key()
    {
        fauth_key_wipe(k);
        delete k;
    }
    Key(const Key &) = delete;
    Key &operator=(const Key &) = delete;
};

struct Vector {
    const char *name, *key, *iv, *aad, *pt, *ct, *tag;
};

// NIST CAVP gcmEncryptExtIV256.rsp ([Keylen = 256] [IVlen = 96] [Taglen = 128]) and the GCM
// specification's test case 16 (AES-256, 60-byte plaintext, 20-byte AAD).
const Vector kVectors[] = {
    {"CAVP PTlen=0 AADlen=0 Count=0",
     "b52c505a37d78eda5dd34f20c22540ea1b58963cf8e5bf8ffa85f9f2492505b4", "516c33929df5a3284ff463d7",
     "", "", "", "bdc1ac884d332457a1d2664f168c76f0"},
    {"CAVP PTlen=0 AADlen=0 Count=1",
     "5fe0861cdc2690ce69b3658c7f26f8458eec1c9243c5ba0845305d897e96ca0f", "770ac1a5a3d476d5d96944a1",
     "", "", "", "196d691e1047093ca4b3d2ef4baba216"},
    {"CAVP PTlen=0 AADlen=128 Count=0",
     "78dc4e0aaf52d935c3c01eea57428f00ca1fd475f5da86a49c8dd73d68c8e223", "d79cf22d504cc793c3fb6c8a",
     "b96baa8c1c75a671bfb2d08d06be5f36", "", "", "3e5d486aa2e30b22e040b85723a06e76"},
    {"CAVP PTlen=0 AADlen=128 Count=1",
     "4457ff33683cca6ca493878bdc00373893a9763412eef8cddb54f91318e0da88", "699d1f29d7b8c55300bb1fd2",
     "6749daeea367d0e9809e2dc2f309e6e3", "", "", "d60c74d2517fde4a74e0cd4709ed43a9"},
    {"CAVP PTlen=0 AADlen=160 Count=0",
     "886cff5f3e6b8d0e1ad0a38fcdb26de97e8acbe79f6bed66959a598fa5047d65", "3a8efa1cd74bbab5448f9945",
     "519fee519d25c7a304d6c6aa1897ee1eb8c59655", "", "", "f6d47505ec96c98a42dc3ae719877b87"},
    {"CAVP PTlen=128 AADlen=0 Count=0",
     "31bdadd96698c204aa9ce1448ea94ae1fb4a9a0b3c9d773b51bb1822666b8f22", "0d18e06c7c725ac9e362e1ce",
     "", "2db5168e932556f8089a0622981d017d", "fa4362189661d163fcd6a56d8bf0405a",
     "d636ac1bbedd5cc3ee727dc2ab4a9489"},
    {"CAVP PTlen=128 AADlen=128 Count=0",
     "92e11dcdaa866f5ce790fd24501f92509aacf4cb8b1339d50c9c1240935dd08b", "ac93a1a6145299bde902f21a",
     "1e0889016f67601c8ebea4943bc23ad6", "2d71bcfa914e4ac045b2aa60955fad24",
     "8995ae2e6df3dbf96fac7b7137bae67f", "eca5aa77d51d4a0a14d9c51e1da474ab"},
    {"CAVP PTlen=104 AADlen=160 Count=1",
     "97431e565e8370a4879de962746a2fd67eca868b1c8e51eece2c1f94f74af407", "17fb63066e2726d282ecc610",
     "78e7374da7c77be5938de8dd76cf0308618306a9", "e21629cc973fbe40176e621d9d",
     "80dbd469de480389ba6c2fca52", "4e284abb8b4f9f13c7497ae56df05fa5"},
    {"CAVP PTlen=408 AADlen=720 Count=2",
     "c277df045d0a1a3956958f271055c229d2634427b1d73e99d54920da69f72e01", "79e24f84bc77a21a6cb14ee2",
     "ca09282238d492029afbd30ea9b4aa9d448d77b4b41a791c35ebe3f8e5034ac71210117a843fae647cea020712c27"
     "e"
     "5c8f85acf933d5e28430c7770862d8dbb197cbbcfe49dd63f6aa05fbd13e32c459342698dfee5935c7c321",
     "5ca68d858cc30b1cb0514c4e9de98e1a1a835df401f69e9ec6f1bcb1158f09114dff551683b3827457f77e17a7097"
     "b"
     "1ea69eac",
     "5c5223c8eda59a8dc28b08e6c21482a46e5d84d32c7050bf144fc57f4e8094de133198da7b4b8398b167204aff837"
     "d"
     "a15d9ab2",
     "378885950a4491bee3cd681d3c957b9a"},
    {"GCM spec test case 16", "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
     "cafebabefacedbaddecaf888", "feedfacedeadbeeffeedfacedeadbeefabaddad2",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
     "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
     "76fc6ece0f4e1768cddf8853bb2d551b"},
};

// The key's iv such that packet number 1 gives the vector's nonce (nonce = iv XOR pn).
Bytes iv_for_pn1(const std::string &nonce_hex)
{
    Bytes iv = bytes(nonce_hex);
    iv[11] ^= 1;
    return iv;
}

TEST(FauthVectors, SealAndOpenEveryBackend)
{
    for (fauth_backend b : backends()) {
        for (const Vector &v : kVectors) {
            SCOPED_TRACE(std::string(fauth_backend_name(b)) + ": " + v.name);
            Bytes key = bytes(v.key), iv = iv_for_pn1(v.iv), aad = bytes(v.aad), pt = bytes(v.pt);
            Bytes ct = bytes(v.ct), want_tag = bytes(v.tag);
            // Without plaintext the vector is a GMAC: mode gmac over the AAD alone; every
            // vector also runs in mode gcm with the AAD as the header.
            for (fauth_mode mode : {FAUTH_GMAC, FAUTH_GCM}) {
                if (mode == FAUTH_GMAC && !pt.empty())
                    continue;
                Key k;
                ASSERT_EQ(fauth_key_init_backend(k.k, b, mode, key.data(), iv.data()), FAUTH_OK);
                Bytes frame = aad;
                frame.insert(frame.end(), pt.begin(), pt.end());
                uint8_t tag[FAUTH_TAG_LEN];
                ASSERT_EQ(fauth_seal(k.k, 1, frame.data(), aad.size(), frame.size(), nullptr, tag),
                          FAUTH_OK);
                EXPECT_EQ(testhex::str(tag, 16), v.tag);
                EXPECT_EQ(testhex::str(Bytes(frame.begin() + aad.size(), frame.end())), v.ct);
                EXPECT_EQ(Bytes(frame.begin(), frame.begin() + aad.size()), aad);
                // Out of place: the payload comes from src (what build_frame will do).
                Bytes frame2 = aad;
                frame2.resize(aad.size() + pt.size(), 0xee);
                uint8_t tag2[FAUTH_TAG_LEN];
                ASSERT_EQ(
                    fauth_seal(k.k, 1, frame2.data(), aad.size(), frame2.size(), pt.data(), tag2),
                    FAUTH_OK);
                EXPECT_EQ(frame2, frame);
                EXPECT_EQ(0, memcmp(tag, tag2, 16));
                // Open: decrypts in place to the plaintext.
                ASSERT_EQ(fauth_open(k.k, 1, frame.data(), aad.size(), frame.size(), tag),
                          FAUTH_OK);
                EXPECT_EQ(Bytes(frame.begin() + aad.size(), frame.end()), pt);
                // Every single-bit change of the tag fails.
                for (int bit = 0; bit < 128; bit++) {
                    Bytes f = frame2;
                    uint8_t bad[16];
                    memcpy(bad, tag, 16);
                    bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
                    ASSERT_EQ(fauth_open(k.k, 1, f.data(), aad.size(), f.size(), bad),
                              FAUTH_E_BAD_TAG)
                        << "bit " << bit;
                }
                // Another packet number is another nonce.
                Bytes f = frame2;
                EXPECT_EQ(fauth_open(k.k, 2, f.data(), aad.size(), f.size(), tag), FAUTH_E_BAD_TAG);
            }
        }
    }
}

// dpdist's published frame vectors (docs/security.md): key_i>a and iv_i>a of the key-schedule
// vector, packet number 1, header bytes 00..2f, payload 30..6f. Cross-checked once with a
// third implementation (Python's cryptography AESGCM) when they were made.
TEST(FauthVectors, PublishedFrameVectors)
{
    Bytes key = bytes("8b2ceaac9e315e1d0507c9520d0607e64bcc6b9b630c979f7c090985ba2f31c6");
    Bytes iv = bytes("f0fc6a00dcdb553ceff5d62e");
    uint8_t nonce[12];
    fauth_nonce(iv.data(), 1, nonce);
    EXPECT_EQ(testhex::str(nonce, 12), "f0fc6a00dcdb553ceff5d62f");
    for (fauth_backend b : backends()) {
        SCOPED_TRACE(fauth_backend_name(b));
        for (fauth_mode mode : {FAUTH_GMAC, FAUTH_GCM}) {
            Key k;
            ASSERT_EQ(fauth_key_init_backend(k.k, b, mode, key.data(), iv.data()), FAUTH_OK);
            Bytes f(kHdr + 64);
            for (size_t i = 0; i < f.size(); i++)
                f[i] = (uint8_t)i;
            uint8_t tag[16];
            ASSERT_EQ(fauth_seal(k.k, 1, f.data(), kHdr, f.size(), nullptr, tag), FAUTH_OK);
            if (mode == FAUTH_GMAC) {
                EXPECT_EQ(testhex::str(tag, 16), "3187b00608527760c76f483105f86116");
            } else {
                EXPECT_EQ(testhex::str(tag, 16), "79b6b9852871f87d45d99f3bb2a66af5");
                EXPECT_EQ(testhex::str(f.data() + kHdr, 64),
                          "ec7ce5e6cd4aa25de43c876c049215719e43b8e75b45b771acbcc0ffa9910772"
                          "ba8cec07ad3e700f4d46814c3639f15720d796a81c80ecdbc38e40b4fe7f58b5");
            }
        }
    }
}

// Random frames of 0-9000 payload bytes: both backends give the same tags and ciphertexts,
// open what the other sealed, and refuse a flipped byte (header, payload or tag) and another pn.
TEST(FauthBackends, IpsecMbAgreesWithOpenssl)
{
    if (!fauth_backend_available(FAUTH_BACKEND_IMB))
        GTEST_SKIP() << "built without intel-ipsec-mb (libipsec-mb-dev): nothing to compare";
    std::mt19937_64 rng(16);
    auto fill = [&](Bytes &b) {
        for (auto &c : b)
            c = (uint8_t)rng();
    };
    for (fauth_mode mode : {FAUTH_GMAC, FAUTH_GCM}) {
        Bytes key(32), iv(12);
        fill(key);
        fill(iv);
        Key imb, ossl;
        ASSERT_EQ(fauth_key_init_backend(imb.k, FAUTH_BACKEND_IMB, mode, key.data(), iv.data()),
                  FAUTH_OK);
        ASSERT_EQ(fauth_key_init_backend(ossl.k, FAUTH_BACKEND_OSSL, mode, key.data(), iv.data()),
                  FAUTH_OK);
        int mismatches = 0;
        for (int i = 0; i < 1500; i++) {
            size_t plen = i < 300 ? (size_t)i : (size_t)(rng() % 9001);
            uint64_t pn = 1 + rng() % FAUTH_PN_MAX;
            Bytes plain(kHdr + plen);
            fill(plain);
            Bytes a = plain, o = plain;
            uint8_t ta[16], to[16];
            ASSERT_EQ(fauth_seal(imb.k, pn, a.data(), kHdr, a.size(), nullptr, ta), FAUTH_OK);
            ASSERT_EQ(fauth_seal(ossl.k, pn, o.data(), kHdr, o.size(), nullptr, to), FAUTH_OK);
            mismatches += memcmp(ta, to, 16) != 0 || a != o;
            if (mode == FAUTH_GCM && plen >= 16) {
                EXPECT_NE(Bytes(a.begin() + kHdr, a.end()),
                          Bytes(plain.begin() + kHdr, plain.end()));
            }
            // Cross-open: OpenSSL opens ipsec-mb's frame and the reverse.
            Bytes x = a, y = o;
            ASSERT_EQ(fauth_open(ossl.k, pn, x.data(), kHdr, x.size(), ta), FAUTH_OK);
            ASSERT_EQ(fauth_open(imb.k, pn, y.data(), kHdr, y.size(), to), FAUTH_OK);
            EXPECT_EQ(x, plain);
            EXPECT_EQ(y, plain);
            // One flipped bit anywhere in header or payload, or in the tag, or another pn.
            size_t at = rng() % a.size();
            for (const fauth_key *k : {imb.k, ossl.k}) {
                Bytes f = a;
                f[at] ^= (uint8_t)(1u << (rng() % 8));
                EXPECT_EQ(fauth_open(k, pn, f.data(), kHdr, f.size(), ta), FAUTH_E_BAD_TAG);
                uint8_t bad[16];
                memcpy(bad, ta, 16);
                bad[rng() % 16] ^= 0x80;
                f = a;
                EXPECT_EQ(fauth_open(k, pn, f.data(), kHdr, f.size(), bad), FAUTH_E_BAD_TAG);
                f = a;
                EXPECT_EQ(fauth_open(k, pn ^ 1, f.data(), kHdr, f.size(), ta), FAUTH_E_BAD_TAG);
            }
        }
        EXPECT_EQ(mismatches, 0) << fauth_mode_name(mode);
    }
}

TEST(FauthNonce, IvXorBigEndianPacketNumber)
{
    Bytes iv = bytes("000102030405060708090a0b");
    uint8_t n[12];
    fauth_nonce(iv.data(), 0x0102030405060708ull, n);
    // The first 4 bytes are the iv's; bytes 4..11 are iv XOR pn (big-endian).
    EXPECT_EQ(testhex::str(n, 12), "00010203"
                                   "05070503"
                                   "0d0f0d03");
    fauth_nonce(iv.data(), 1, n);
    EXPECT_EQ(testhex::str(n, 12), "000102030405060708090a0a");
    fauth_nonce(iv.data(), FAUTH_PN_MAX, n);
    EXPECT_EQ(testhex::str(n, 12), "000102034405060708090a0b");
    fauth_nonce(iv.data(), 0, n);
    EXPECT_EQ(Bytes(n, n + 12), iv);
}

// The nonce, not iv and pn apart, is what the cipher sees: (iv, pn) and (iv ^ d, pn ^ d) seal
// alike; a different nonce seals differently.
TEST(FauthNonce, OnlyTheXorReachesTheCipher)
{
    for (fauth_backend b : backends()) {
        Bytes key(32, 7), iv1 = bytes("a0a1a2a3a4a5a6a7a8a9aaab"), iv2 = iv1;
        iv2[11] ^= 0x33;
        iv2[4] ^= 0x20;
        uint64_t pn1 = 0x1234, pn2 = pn1 ^ 0x33 ^ (0x20ull << 56);
        Key k1, k2;
        ASSERT_EQ(fauth_key_init_backend(k1.k, b, FAUTH_GMAC, key.data(), iv1.data()), FAUTH_OK);
        ASSERT_EQ(fauth_key_init_backend(k2.k, b, FAUTH_GMAC, key.data(), iv2.data()), FAUTH_OK);
        Bytes f(kHdr + 100, 1);
        uint8_t t1[16], t2[16], t3[16];
        ASSERT_EQ(fauth_seal(k1.k, pn1, f.data(), kHdr, f.size(), nullptr, t1), FAUTH_OK);
        ASSERT_EQ(fauth_seal(k2.k, pn2, f.data(), kHdr, f.size(), nullptr, t2), FAUTH_OK);
        ASSERT_EQ(fauth_seal(k1.k, pn1 + 1, f.data(), kHdr, f.size(), nullptr, t3), FAUTH_OK);
        EXPECT_EQ(0, memcmp(t1, t2, 16));
        EXPECT_NE(0, memcmp(t1, t3, 16));
    }
}

TEST(FauthKey, ArgumentsModesAndWipe)
{
    EXPECT_EQ(alignof(fauth_key), 64u);
    EXPECT_EQ(offsetof(fauth_key, imb_key) % 64, 0u);
    Bytes key(32, 1), iv(12, 2);
    Key k;
    EXPECT_EQ(fauth_key_init(k.k, (fauth_mode)3, key.data(), iv.data()), FAUTH_E_ARG);
    EXPECT_EQ(fauth_key_init(k.k, FAUTH_GMAC, nullptr, iv.data()), FAUTH_E_ARG);
    EXPECT_EQ(fauth_key_init(k.k, FAUTH_GMAC, key.data(), nullptr), FAUTH_E_ARG);
    EXPECT_EQ(fauth_key_init(nullptr, FAUTH_GMAC, key.data(), iv.data()), FAUTH_E_ARG);
    uint8_t f[64] = {0}, tag[16];
    EXPECT_EQ(fauth_seal(k.k, 1, f, 0, sizeof(f), nullptr, tag), FAUTH_E_ARG); // not ready
    ASSERT_EQ(fauth_key_init(k.k, FAUTH_GMAC, key.data(), iv.data()), FAUTH_OK);
    EXPECT_EQ(fauth_seal(k.k, 0, f, 0, sizeof(f), nullptr, tag), FAUTH_E_PN_RANGE);
    EXPECT_EQ(fauth_seal(k.k, FAUTH_PN_MAX + 1, f, 0, sizeof(f), nullptr, tag), FAUTH_E_PN_RANGE);
    EXPECT_EQ(fauth_seal(k.k, FAUTH_PN_MAX, f, 0, sizeof(f), nullptr, tag), FAUTH_OK);
    EXPECT_EQ(fauth_seal(k.k, 1, f, 65, 64, nullptr, tag), FAUTH_E_ARG); // header > frame
    EXPECT_EQ(fauth_open(k.k, 1, f, 65, 64, tag), FAUTH_E_ARG);
    Bytes big(FAUTH_LEN_MAX + 1);
    EXPECT_EQ(fauth_seal(k.k, 1, big.data(), 0, big.size(), nullptr, tag), FAUTH_E_ARG);
    EXPECT_EQ(fauth_seal(k.k, 1, big.data(), 0, FAUTH_LEN_MAX, nullptr, tag), FAUTH_OK);
    EXPECT_EQ(fauth_seal(k.k, 1, nullptr, 0, 0, nullptr, tag), FAUTH_OK); // empty frame
    EXPECT_EQ(fauth_open(k.k, 1, nullptr, 0, 0, tag), FAUTH_OK);
    // Wiping erases the key material and makes the key unusable.
    fauth_key_wipe(k.k);
    const uint8_t *raw = reinterpret_cast<const uint8_t *>(k.k);
    EXPECT_EQ(Bytes(raw, raw + sizeof(fauth_key)), Bytes(sizeof(fauth_key), 0));
    EXPECT_EQ(fauth_seal(k.k, 1, f, 0, sizeof(f), nullptr, tag), FAUTH_E_ARG);
    EXPECT_EQ(fauth_open(k.k, 1, f, 0, sizeof(f), tag), FAUTH_E_ARG);
    fauth_key_wipe(k.k); // twice is fine
    // Re-init of a ready key (the OpenSSL backend's context is freed: LeakSanitizer).
    for (fauth_backend b : backends()) {
        ASSERT_EQ(fauth_key_init_backend(k.k, b, FAUTH_GCM, key.data(), iv.data()), FAUTH_OK);
        ASSERT_EQ(fauth_key_init_backend(k.k, b, FAUTH_GMAC, key.data(), iv.data()), FAUTH_OK);
    }
}

TEST(FauthKey, ModeNone)
{
    Key k;
    ASSERT_EQ(fauth_key_init(k.k, FAUTH_NONE, nullptr, nullptr), FAUTH_OK);
    EXPECT_EQ(fauth_tag_len(FAUTH_NONE), 0u);
    EXPECT_EQ(fauth_tag_len(FAUTH_GMAC), 16u);
    EXPECT_EQ(fauth_tag_len(FAUTH_GCM), 16u);
    uint8_t f[8] = {1, 2, 3, 4, 0, 0, 0, 0}, src[4] = {9, 9, 9, 9};
    uint8_t tag[16];
    memset(tag, 0x55, sizeof(tag));
    ASSERT_EQ(fauth_seal(k.k, 1, f, 4, 8, src, tag), FAUTH_OK);
    EXPECT_EQ(Bytes(f, f + 8), (Bytes{1, 2, 3, 4, 9, 9, 9, 9})); // copied, nothing else
    EXPECT_EQ(Bytes(tag, tag + 16), Bytes(16, 0x55));            // no tag written
    // The packet number is still checked.
    fauth_replay r;
    fauth_replay_init(&r);
    EXPECT_EQ(fauth_accept(k.k, &r, 1, f, 4, 8, nullptr), FAUTH_OK);
    EXPECT_EQ(fauth_accept(k.k, &r, 1, f, 4, 8, nullptr), FAUTH_E_REPLAY);
}

TEST(FauthKey, GmacCopiesFromSrcAndLeavesPayloadClear)
{
    for (fauth_backend b : backends()) {
        Bytes key(32, 3), iv(12, 4);
        Key k;
        ASSERT_EQ(fauth_key_init_backend(k.k, b, FAUTH_GMAC, key.data(), iv.data()), FAUTH_OK);
        Bytes payload(100);
        for (size_t i = 0; i < payload.size(); i++)
            payload[i] = (uint8_t)i;
        Bytes f(kHdr + payload.size(), 0);
        uint8_t tag[16];
        ASSERT_EQ(fauth_seal(k.k, 5, f.data(), kHdr, f.size(), payload.data(), tag), FAUTH_OK);
        EXPECT_EQ(Bytes(f.begin() + kHdr, f.end()), payload);
        ASSERT_EQ(fauth_open(k.k, 5, f.data(), kHdr, f.size(), tag), FAUTH_OK);
        EXPECT_EQ(Bytes(f.begin() + kHdr, f.end()), payload);
    }
}

TEST(FauthNames, ModesAndErrors)
{
    fauth_mode m;
    EXPECT_EQ(fauth_mode_parse("gcm", &m), 0);
    EXPECT_EQ(m, FAUTH_GCM);
    EXPECT_EQ(fauth_mode_parse("gmac", &m), 0);
    EXPECT_EQ(m, FAUTH_GMAC);
    EXPECT_EQ(fauth_mode_parse("none", &m), 0);
    EXPECT_EQ(m, FAUTH_NONE);
    EXPECT_EQ(fauth_mode_parse("GCM", &m), -1);
    EXPECT_EQ(fauth_mode_parse(nullptr, &m), -1);
    EXPECT_STREQ(fauth_mode_name(FAUTH_GMAC), "gmac");
    EXPECT_STREQ(fauth_mode_name((fauth_mode)9), "?");
    EXPECT_EQ(fauth_mode_stronger(FAUTH_GMAC, FAUTH_GCM), FAUTH_GCM);
    EXPECT_EQ(fauth_mode_stronger(FAUTH_GMAC, FAUTH_NONE), FAUTH_GMAC);
    EXPECT_EQ(fauth_mode_stronger(FAUTH_NONE, FAUTH_NONE), FAUTH_NONE);
    for (int e = 0; e < FAUTH_E__COUNT; e++)
        EXPECT_STRNE(fauth_strerror((fauth_error)e), "");
    EXPECT_STREQ(fauth_strerror((fauth_error)99), "unknown error");
    EXPECT_TRUE(fauth_backend_available(FAUTH_BACKEND_DEFAULT));
    EXPECT_TRUE(fauth_backend_available(FAUTH_BACKEND_OSSL));
    EXPECT_NE(std::string(fauth_backend_name(FAUTH_BACKEND_DEFAULT)), "unavailable");
    std::printf("default backend: %s\n", fauth_backend_name(FAUTH_BACKEND_DEFAULT));
}

// --- replay window --------------------------------------------------------------------------

TEST(FauthReplay, InOrderThenDuplicates)
{
    fauth_replay r;
    fauth_replay_init(&r);
    for (uint64_t pn = 1; pn <= 5000; pn++) {
        ASSERT_EQ(fauth_replay_check(&r, pn), FAUTH_OK) << pn;
        ASSERT_EQ(fauth_replay_mark(&r, pn), FAUTH_OK) << pn;
        ASSERT_EQ(fauth_replay_check(&r, pn), FAUTH_E_REPLAY) << pn;
    }
    // Every pn inside the window is a replay; at the depth it becomes too old.
    for (uint64_t back = 0; back < FAUTH_REPLAY_DEPTH; back++)
        ASSERT_EQ(fauth_replay_check(&r, 5000 - back), FAUTH_E_REPLAY) << back;
    EXPECT_EQ(fauth_replay_check(&r, 5000 - FAUTH_REPLAY_DEPTH), FAUTH_E_TOO_OLD);
    EXPECT_EQ(fauth_replay_check(&r, 1), FAUTH_E_TOO_OLD);
    EXPECT_EQ(fauth_replay_check(&r, 5001), FAUTH_OK);
}

TEST(FauthReplay, PacketNumberRange)
{
    fauth_replay r;
    fauth_replay_init(&r);
    EXPECT_EQ(fauth_replay_check(&r, 0), FAUTH_E_PN_RANGE);
    EXPECT_EQ(fauth_replay_mark(&r, 0), FAUTH_E_PN_RANGE);
    EXPECT_EQ(fauth_replay_check(&r, FAUTH_PN_MAX + 1), FAUTH_E_PN_RANGE);
    EXPECT_EQ(fauth_replay_check(&r, UINT64_MAX), FAUTH_E_PN_RANGE);
    EXPECT_EQ(fauth_replay_mark(&r, FAUTH_PN_MAX), FAUTH_OK);
    EXPECT_EQ(fauth_replay_mark(&r, FAUTH_PN_MAX), FAUTH_E_REPLAY);
    EXPECT_EQ(fauth_replay_check(&r, FAUTH_PN_MAX - FAUTH_REPLAY_DEPTH + 1), FAUTH_OK);
    EXPECT_EQ(fauth_replay_check(&r, FAUTH_PN_MAX - FAUTH_REPLAY_DEPTH), FAUTH_E_TOO_OLD);
}

TEST(FauthReplay, OutOfOrderInsideTheWindowOnce)
{
    fauth_replay r;
    fauth_replay_init(&r);
    ASSERT_EQ(fauth_replay_mark(&r, 1000), FAUTH_OK);
    // Late frames up to depth-1 behind are accepted once each, in any order.
    for (uint64_t pn : std::vector<uint64_t>{999, 42, 500, 1000 - FAUTH_REPLAY_DEPTH + 1, 998}) {
        EXPECT_EQ(fauth_replay_mark(&r, pn), FAUTH_OK) << pn;
        EXPECT_EQ(fauth_replay_mark(&r, pn), FAUTH_E_REPLAY) << pn;
    }
    EXPECT_EQ(fauth_replay_mark(&r, 1000 - FAUTH_REPLAY_DEPTH), FAUTH_E_TOO_OLD);
    EXPECT_EQ(fauth_replay_check(&r, 997), FAUTH_OK); // never seen
}

TEST(FauthReplay, JumpsKeepOrClearTheRightBits)
{
    fauth_replay r;
    fauth_replay_init(&r);
    for (uint64_t pn = 1; pn <= 300; pn++)
        ASSERT_EQ(fauth_replay_mark(&r, pn), FAUTH_OK);
    // A jump of a few words: the old pns still inside the window stay marked, the skipped
    // ones are new, the ones now behind the depth are too old.
    ASSERT_EQ(fauth_replay_mark(&r, 1100), FAUTH_OK);
    EXPECT_EQ(fauth_replay_check(&r, 300), FAUTH_E_REPLAY);
    EXPECT_EQ(fauth_replay_check(&r, 1100 - FAUTH_REPLAY_DEPTH + 1), FAUTH_E_REPLAY); // 141
    EXPECT_EQ(fauth_replay_check(&r, 1100 - FAUTH_REPLAY_DEPTH), FAUTH_E_TOO_OLD);
    for (uint64_t pn = 301; pn < 1100; pn++)
        ASSERT_EQ(fauth_replay_check(&r, pn), FAUTH_OK) << pn; // the words ahead were cleared
    // Jumps of the depth, one ring, more: every pn behind the new top that was marked before
    // is now too old, so the whole window behind the new top is new (no stale bit survived).
    for (uint64_t jump : std::vector<uint64_t>{FAUTH_REPLAY_DEPTH, FAUTH_REPLAY_BITS,
                                               FAUTH_REPLAY_BITS + 64, 1000000}) {
        uint64_t top = r.top + jump;
        ASSERT_EQ(fauth_replay_mark(&r, top), FAUTH_OK);
        EXPECT_EQ(fauth_replay_check(&r, top), FAUTH_E_REPLAY);
        EXPECT_EQ(fauth_replay_check(&r, top - jump), FAUTH_E_TOO_OLD);
        for (uint64_t pn = top - FAUTH_REPLAY_DEPTH + 1; pn < top; pn++)
            ASSERT_EQ(fauth_replay_check(&r, pn), FAUTH_OK) << "jump " << jump << " pn " << pn;
    }
}

// A word of the ring is reused for newer pns: a late frame whose pn is now too old must not
// set the bit that stands for a newer pn in the same ring slot.
TEST(FauthReplay, TooOldMarkLeavesTheRingAlone)
{
    fauth_replay r;
    fauth_replay_init(&r);
    ASSERT_EQ(fauth_replay_mark(&r, 100), FAUTH_OK);
    ASSERT_EQ(fauth_replay_mark(&r, 2000), FAUTH_OK);
    fauth_replay before = r;
    EXPECT_EQ(fauth_replay_mark(&r, 101), FAUTH_E_TOO_OLD);
    EXPECT_EQ(0, memcmp(&before, &r, sizeof(r)));
    // 101 + 1024 shares 101's ring slot and is inside the window: still new.
    EXPECT_EQ(fauth_replay_check(&r, 101 + FAUTH_REPLAY_BITS), FAUTH_OK);
}

// Two copies of one frame in a burst both pass check; only the first mark succeeds.
TEST(FauthReplay, MarkIsTheAuthoritativeVerdict)
{
    fauth_replay r;
    fauth_replay_init(&r);
    EXPECT_EQ(fauth_replay_check(&r, 7), FAUTH_OK);
    EXPECT_EQ(fauth_replay_check(&r, 7), FAUTH_OK);
    EXPECT_EQ(fauth_replay_mark(&r, 7), FAUTH_OK);
    EXPECT_EQ(fauth_replay_mark(&r, 7), FAUTH_E_REPLAY);
}

// The receive order with real keys: a forged frame (bad tag) with a far-ahead pn is dropped
// and leaves the window as it was, so the genuine stream goes on; a replayed genuine frame and
// a modified one are refused.
TEST(FauthAccept, ForgedHighPacketNumberDoesNotMoveTheWindow)
{
    for (fauth_backend b : backends()) {
        for (fauth_mode mode : {FAUTH_GMAC, FAUTH_GCM}) {
            SCOPED_TRACE(std::string(fauth_backend_name(b)) + " " + fauth_mode_name(mode));
            Bytes key(32, 0x42), iv(12, 0x17);
            Key tx, rx;
            ASSERT_EQ(fauth_key_init_backend(tx.k, b, mode, key.data(), iv.data()), FAUTH_OK);
            ASSERT_EQ(fauth_key_init_backend(rx.k, b, mode, key.data(), iv.data()), FAUTH_OK);
            fauth_replay r;
            fauth_replay_init(&r);
            struct Frame {
                uint64_t pn;
                Bytes f;
                uint8_t tag[16];
            };
            auto seal = [&](uint64_t pn) {
                Frame fr{pn, Bytes(kHdr + 64, (uint8_t)pn), {}};
                EXPECT_EQ(fauth_seal(tx.k, pn, fr.f.data(), kHdr, fr.f.size(), nullptr, fr.tag),
                          FAUTH_OK);
                return fr;
            };
            auto accept = [&](Frame fr) { // by value: gcm decrypts in place
                return fauth_accept(rx.k, &r, fr.pn, fr.f.data(), kHdr, fr.f.size(), fr.tag);
            };
            std::vector<Frame> sent;
            for (uint64_t pn = 1; pn <= 100; pn++) {
                sent.push_back(seal(pn));
                ASSERT_EQ(accept(sent.back()), FAUTH_OK);
            }
            fauth_replay before = r;
            Frame forged = sent[99];
            forged.pn = 1000000; // the attacker's guess at a pn far ahead, with a stale tag
            EXPECT_EQ(accept(forged), FAUTH_E_BAD_TAG);
            EXPECT_EQ(0, memcmp(&before, &r, sizeof(r)));
            Frame modified = seal(101);
            modified.f[kHdr + 3] ^= 1;
            EXPECT_EQ(accept(modified), FAUTH_E_BAD_TAG);
            EXPECT_EQ(accept(sent[50]), FAUTH_E_REPLAY);
            Frame next = seal(101);
            EXPECT_EQ(accept(next), FAUTH_OK);
            EXPECT_EQ(accept(next), FAUTH_E_REPLAY);
            // The plaintext comes back in gcm.
            Frame dec = seal(102);
            ASSERT_EQ(fauth_accept(rx.k, &r, dec.pn, dec.f.data(), kHdr, dec.f.size(), dec.tag),
                      FAUTH_OK);
            EXPECT_EQ(dec.f, Bytes(kHdr + 64, 102));
        }
    }
}

} // namespace
