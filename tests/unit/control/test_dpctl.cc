// Tests for control/dpctl.c, dpdist's own protocol bytes: the handshake trailer, the EPMD
// Extra field, and the '$dpdist' messages (upgrade offer/answer, nak, switch, mesh list).
//
// Golden vectors: the bytes libei wrote for each message through the ei call sequences of
// runtime/carrier_dpdk/dpc_upgrade.c and runtime/core/mesh.c (mesh_on_up)
// at dd67fe2, captured with a throw-away program. The encoder must stay byte-identical to
// them (wire compatibility with nodes built before dpctl), and the decoder must read them.
// Besides: each range boundary, every truncation, trailing bytes, integer encodings against
// libei, Latin-1 atoms, and input built to make a recursive reader deep or slow.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include <ei.h>

extern "C" {
#include "control/dpctl.h"
}

namespace
{

using Bytes = std::vector<uint8_t>;

Bytes hex(const std::string &h)
{
    Bytes b;
    for (size_t i = 0; i + 1 < h.size(); i += 2)
        b.push_back((uint8_t)std::stoul(h.substr(i, 2), nullptr, 16));
    return b;
}

const Bytes GOLD_REQ = hex("83680b77126470646973745f757067726164655f72657161026e0800efcdab89"
                           "674523016d0000000602dd630000016e04000100630a620000111262000005dc"
                           "620000010062000f424061646101");
const Bytes GOLD_ACK = hex("83680b77126470646973745f757067726164655f61636b610261016d00000006"
                           "fffefdfcfbfa6e0400ffffffff620000ffff620000258062000020006e040000"
                           "0000086207ffffff6102");
const Bytes GOLD_REQ_LOW = hex("83680b77126470646973745f757067726164655f72657161026e0800ffffffff"
                               "ffffffff6d0000000602dd63000001610061016200000240610861ff61016100");
const Bytes GOLD_NAK = hex("83680277126470646973745f757067726164655f6e616b77096261645f6f6666"
                           "6572");
const Bytes GOLD_SWITCH = hex("836801770d6470646973745f737769746368");
// {dpdist_switch, <<0..15>>}: with a key confirmation
const Bytes GOLD_SWITCH_CONFIRM = hex("836802770d6470646973745f7377697463686d00000010"
                                      "000102030405060708090a0b0c0d0e0f");
const Bytes GOLD_MESH = hex("836802770b6470646973745f6d6573686c000000017704614068316c00000001"
                            "771062656540686f73742e6578616d706c656a");
const Bytes GOLD_MESH_EMPTY = hex("836802770b6470646973745f6d6573686a");

dpctl_offer offer(uint64_t session, const uint8_t mac[6], uint32_t ip, uint16_t port,
                  uint16_t mtu, uint32_t window, uint64_t hb_ns, uint32_t missed,
                  uint8_t auth = 1)
{
    dpctl_offer o{};
    o.auth = auth;
    o.session = session;
    memcpy(o.mac, mac, 6);
    o.ip = ip;
    o.port = port;
    o.mtu = mtu;
    o.window = window;
    o.hb_ns = hb_ns;
    o.hb_missed = missed;
    return o;
}

const uint8_t MAC1[6] = {0x02, 0xdd, 0x63, 0, 0, 1};
const uint8_t MAC2[6] = {0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0xfa};

dpctl_msg msg(dpctl_kind k, const dpctl_offer &o = {}, const char *reason = "")
{
    dpctl_msg m{};
    m.kind = k;
    m.offer = o;
    snprintf(m.reason, sizeof(m.reason), "%s", reason);
    return m;
}

Bytes encode(const dpctl_msg &m)
{
    Bytes out(64 + DPCTL_ATOM_MAX);
    size_t n = dpctl_encode(&m, out.data(), out.size());
    out.resize(n);
    return out;
}

// Decodes a standalone term (version byte first) the way the runtime gets it: without it.
dpctl_result decode(const Bytes &t, dpctl_msg *m)
{
    EXPECT_FALSE(t.empty());
    return dpctl_decode(t.data() + 1, t.size() - 1, m);
}

void expect_offer(const dpctl_offer &got, const dpctl_offer &want)
{
    EXPECT_EQ(got.session, want.session);
    EXPECT_EQ(0, memcmp(got.mac, want.mac, 6));
    EXPECT_EQ(got.ip, want.ip);
    EXPECT_EQ(got.port, want.port);
    EXPECT_EQ(got.mtu, want.mtu);
    EXPECT_EQ(got.window, want.window);
    EXPECT_EQ(got.hb_ns, want.hb_ns);
    EXPECT_EQ(got.hb_missed, want.hb_missed);
    EXPECT_EQ(got.auth, want.auth);
}

std::vector<std::string> mesh_nodes(const Bytes &t)
{
    dpctl_msg m;
    EXPECT_EQ(decode(t, &m), DPCTL_OK);
    dpctl_mesh_iter it;
    dpctl_mesh_iter_init(&it, t.data() + 1, t.size() - 1, &m);
    std::vector<std::string> out;
    char name[DPCTL_ATOM_MAX + 1];
    while (dpctl_mesh_next(&it, name))
        out.push_back(name);
    EXPECT_EQ(out.size(), m.mesh_count);
    return out;
}

// --- golden vectors ------------------------------------------------------------------------

TEST(DpctlGolden, OffersEncodeAsLibeiDidAndDecodeBack)
{
    struct {
        const Bytes &gold;
        dpctl_kind kind;
        dpctl_offer o;
    } cases[] = {
        {GOLD_REQ, DPCTL_REQ,
         offer(0x0123456789abcdefull, MAC1, 0x0a630001, 4370, 1500, 256, 1000000, 100)},
        {GOLD_ACK, DPCTL_ACK,
         offer(1, MAC2, 0xffffffffu, 65535, 9600, 8192, 134217728, 134217727, 2)},
        {GOLD_REQ_LOW, DPCTL_REQ, offer(~0ull, MAC1, 0, 1, 576, 8, 255, 1, 0)},
    };
    for (const auto &c : cases) {
        EXPECT_EQ(encode(msg(c.kind, c.o)), c.gold);
        dpctl_msg m;
        ASSERT_EQ(decode(c.gold, &m), DPCTL_OK);
        EXPECT_EQ(m.kind, c.kind);
        expect_offer(m.offer, c.o);
    }
}

TEST(DpctlGolden, NakAndSwitch)
{
    EXPECT_EQ(encode(msg(DPCTL_NAK, {}, "bad_offer")), GOLD_NAK);
    EXPECT_EQ(encode(msg(DPCTL_SWITCH)), GOLD_SWITCH);
    dpctl_msg m;
    ASSERT_EQ(decode(GOLD_NAK, &m), DPCTL_OK);
    EXPECT_EQ(m.kind, DPCTL_NAK);
    EXPECT_STREQ(m.reason, "bad_offer");
    ASSERT_EQ(decode(GOLD_SWITCH, &m), DPCTL_OK);
    EXPECT_EQ(m.kind, DPCTL_SWITCH);
}

TEST(DpctlGolden, MeshListsWriteAsLibeiDidAndReadBack)
{
    Bytes buf(256);
    dpctl_mesh_writer w;
    dpctl_mesh_writer_init(&w, buf.data(), buf.size());
    ASSERT_TRUE(dpctl_mesh_add(&w, "a@h1"));
    ASSERT_TRUE(dpctl_mesh_add(&w, "bee@host.example"));
    size_t n = dpctl_mesh_finish(&w);
    EXPECT_EQ(Bytes(buf.begin(), buf.begin() + n), GOLD_MESH);
    EXPECT_EQ(mesh_nodes(GOLD_MESH), (std::vector<std::string>{"a@h1", "bee@host.example"}));

    dpctl_mesh_writer_init(&w, buf.data(), buf.size());
    n = dpctl_mesh_finish(&w);
    EXPECT_EQ(n, size_t(DPCTL_MESH_HEAD_BYTES));
    EXPECT_EQ(Bytes(buf.begin(), buf.begin() + n), GOLD_MESH_EMPTY);
    EXPECT_TRUE(mesh_nodes(GOLD_MESH_EMPTY).empty());
}

TEST(Dpctl, MeshListAsBeamWritesIt)
{
    // [a@h, b@h] as one LIST_EXT of 2 (term_to_binary's shape), Latin-1 atoms
    Bytes t = hex("836802770b6470646973745f6d657368"
                  "6c00000002"
                  "7303614068"
                  "7303624068"
                  "6a");
    EXPECT_EQ(mesh_nodes(t), (std::vector<std::string>{"a@h", "b@h"}));
}

TEST(Dpctl, MeshWriterKeepsTheListWellFormedWhenFull)
{
    Bytes buf(DPCTL_MESH_HEAD_BYTES + DPCTL_MESH_NODE_BYTES(4));
    dpctl_mesh_writer w;
    dpctl_mesh_writer_init(&w, buf.data(), buf.size());
    EXPECT_TRUE(dpctl_mesh_add(&w, "a@h1"));
    EXPECT_FALSE(dpctl_mesh_add(&w, "b@h1")); // no room: nothing appended
    EXPECT_FALSE(dpctl_mesh_add(&w, ""));
    size_t n = dpctl_mesh_finish(&w);
    ASSERT_EQ(n, buf.size());
    EXPECT_EQ(mesh_nodes(Bytes(buf.begin(), buf.begin() + n)), std::vector<std::string>{"a@h1"});
    // not even the head fits
    dpctl_mesh_writer_init(&w, buf.data(), DPCTL_MESH_HEAD_BYTES - 1);
    EXPECT_FALSE(dpctl_mesh_add(&w, "a@h1"));
    EXPECT_EQ(dpctl_mesh_finish(&w), 0u);
}

// --- integers as libei writes them --------------------------------------------------------

TEST(Dpctl, IntegersEncodeAsEiEncodesThem)
{
    // an offer whose session takes each value: its bytes must match ei's encoding of it
    for (uint64_t v : {1ull, 255ull, 256ull, (1ull << 27) - 1, 1ull << 27, (1ull << 31) - 1,
                       1ull << 31, (1ull << 32) - 1, 1ull << 32, 1ull << 56, 1ull << 63, ~0ull}) {
        Bytes enc = encode(msg(DPCTL_REQ, offer(v, MAC1, 1, 1, 1500, 8, 1, 1)));
        ei_x_buff x;
        ASSERT_EQ(ei_x_new(&x), 0);
        ASSERT_EQ(ei_x_encode_ulonglong(&x, v), 0);
        // version, tuple header (2), tag atom (20), version integer (2): then the session
        Bytes want(x.buff, x.buff + x.index);
        ASSERT_GE(enc.size(), 25 + want.size());
        EXPECT_EQ(Bytes(enc.begin() + 25, enc.begin() + 25 + (long)want.size()), want) << v;
        ei_x_free(&x);
        dpctl_msg m;
        ASSERT_EQ(decode(enc, &m), DPCTL_OK) << v;
        EXPECT_EQ(m.offer.session, v);
    }
}

TEST(Dpctl, IntegerFormsTheDecoderTakes)
{
    // session as INTEGER_EXT below 2^27 (ei would write SMALL_INTEGER), SMALL_BIG with
    // leading zero bytes, a 9-byte SMALL_BIG whose top byte is 0
    Bytes base = GOLD_REQ_LOW; // session at offset 25: 6e 08 ff*8
    auto with_session = [&](const Bytes &s) {
        Bytes t;
        for (size_t i = 0; i < 25; i++)
            t.push_back(base[i]);
        for (uint8_t b : s)
            t.push_back(b);
        for (size_t i = 25 + 11; i < base.size(); i++)
            t.push_back(base[i]);
        return t;
    };
    dpctl_msg m;
    ASSERT_EQ(decode(with_session(hex("6200000007")), &m), DPCTL_OK);
    EXPECT_EQ(m.offer.session, 7u);
    ASSERT_EQ(decode(with_session(hex("6e08000700000000000000")), &m), DPCTL_OK);
    EXPECT_EQ(m.offer.session, 7u);
    ASSERT_EQ(decode(with_session(hex("6e09000100000000000000" "00")), &m), DPCTL_OK);
    EXPECT_EQ(m.offer.session, 1u);
    // refused: negative, above 64 bits, a float
    EXPECT_EQ(decode(with_session(hex("62ffffffff")), &m), DPCTL_E_RANGE);
    EXPECT_EQ(decode(with_session(hex("6e010107")), &m), DPCTL_E_RANGE);
    EXPECT_EQ(decode(with_session(hex("6e09000000000000000000" "01")), &m), DPCTL_E_RANGE);
    EXPECT_EQ(decode(with_session(hex("460000000000000000")), &m), DPCTL_E_TAG);
    EXPECT_EQ(m.kind, DPCTL_REQ); // known as a request with a bad offer
}

// --- ranges ----------------------------------------------------------------------------------

TEST(Dpctl, OfferRangesAtTheirBoundaries)
{
    struct {
        dpctl_offer o;
        dpctl_result want;
    } cases[] = {
        {offer(1, MAC1, 1, 1, 576, 8, 1, 1), DPCTL_OK},
        {offer(1, MAC1, 1, 65535, 9600, 8192, 1, ~0u), DPCTL_OK},
        {offer(0, MAC1, 1, 1, 576, 8, 1, 1), DPCTL_E_RANGE},    // session 0
        {offer(1, MAC1, 1, 0, 576, 8, 1, 1), DPCTL_E_RANGE},    // port 0
        {offer(1, MAC1, 1, 1, 575, 8, 1, 1), DPCTL_E_RANGE},    // mtu
        {offer(1, MAC1, 1, 1, 9601, 8, 1, 1), DPCTL_E_RANGE},   // mtu
        {offer(1, MAC1, 1, 1, 576, 7, 1, 1), DPCTL_E_RANGE},    // window
        {offer(1, MAC1, 1, 1, 576, 8193, 1, 1), DPCTL_E_RANGE}, // window
        {offer(1, MAC1, 1, 1, 576, 8, 0, 1), DPCTL_E_RANGE},    // heartbeat
        {offer(1, MAC1, 1, 1, 576, 8, 1, 0), DPCTL_E_RANGE},    // missed
    };
    for (const auto &c : cases) {
        Bytes t = encode(msg(DPCTL_ACK, c.o));
        ASSERT_FALSE(t.empty());
        dpctl_msg m;
        EXPECT_EQ(decode(t, &m), c.want) << c.o.session << " " << c.o.port << " " << c.o.mtu
                                          << " " << c.o.window << " " << c.o.hb_ns;
        EXPECT_EQ(m.kind, DPCTL_ACK);
    }
    // a value above its field: a port of 65536
    Bytes t = GOLD_REQ; // port 4370 = 62 00 00 11 12 at offset 54
    ASSERT_EQ(t[54], 0x62);
    t[56] = 0x01;
    t[57] = 0x00;
    t[58] = 0x00; // 0x00010000
    dpctl_msg m;
    EXPECT_EQ(decode(t, &m), DPCTL_E_RANGE);
    // a MAC of 5 bytes, the wrong version (1: offers without Auth), an Auth above gcm
    Bytes v1 = GOLD_REQ;
    ASSERT_EQ(v1[24], 2);
    v1[24] = 1;
    EXPECT_EQ(decode(v1, &m), DPCTL_E_VERSION);
    Bytes auth3 = GOLD_REQ;
    auth3.back() = 3;
    EXPECT_EQ(decode(auth3, &m), DPCTL_E_RANGE);
    Bytes mac5 = GOLD_REQ; // binary length at offset 37..40
    ASSERT_EQ(mac5[36], 0x6d);
    mac5[40] = 5;
    EXPECT_NE(decode(mac5, &m), DPCTL_OK);
}

// --- malformed input -------------------------------------------------------------------------

TEST(Dpctl, EveryTruncationIsRefused)
{
    for (const Bytes *g : {&GOLD_REQ, &GOLD_ACK, &GOLD_NAK, &GOLD_SWITCH, &GOLD_SWITCH_CONFIRM,
                           &GOLD_MESH, &GOLD_MESH_EMPTY}) {
        for (size_t cut = 1; cut < g->size(); cut++) {
            Bytes t(g->begin() + 1, g->begin() + (long)cut); // without the version byte
            dpctl_msg m;
            dpctl_result r = dpctl_decode(t.data(), t.size(), &m);
            EXPECT_EQ(r, DPCTL_E_TRUNCATED) << "cut at " << cut << ": " << dpctl_strerror(r);
        }
    }
}

TEST(Dpctl, TrailingBytesUnknownTagsAndArities)
{
    dpctl_msg m;
    Bytes t = GOLD_SWITCH;
    t.push_back(0x6a);
    EXPECT_EQ(decode(t, &m), DPCTL_E_TRAILING);
    // {dpdist_other}: not ours; {dpdist_switch, x}: ours, wrong arity
    EXPECT_EQ(decode(hex("836801770c6470646973745f6f74686572"), &m), DPCTL_E_UNKNOWN);
    EXPECT_EQ(m.kind, DPCTL_NONE);
    EXPECT_EQ(decode(hex("836803770d6470646973745f7377697463686a6a"), &m), DPCTL_E_ARITY);
    EXPECT_EQ(m.kind, DPCTL_SWITCH);
    // {dpdist_switch, x}: the confirmation must be a 16-byte binary
    EXPECT_EQ(decode(hex("836802770d6470646973745f73776974636877017a"), &m), DPCTL_E_TAG);
    EXPECT_EQ(decode(hex("836802770d6470646973745f7377697463686d0000000100"), &m),
              DPCTL_E_RANGE);
    // not a tuple, an empty tuple, a tuple whose first element is no atom
    EXPECT_EQ(decode(hex("836a"), &m), DPCTL_E_TAG);
    EXPECT_EQ(decode(hex("836800"), &m), DPCTL_E_UNKNOWN);
    EXPECT_EQ(decode(hex("8368016101"), &m), DPCTL_E_TAG);
    // atoms with a NUL or invalid UTF-8
    EXPECT_EQ(decode(hex("83680277126470646973745f757067726164655f6e616b770261" "00"), &m),
              DPCTL_E_RANGE);
    EXPECT_EQ(decode(hex("83680277126470646973745f757067726164655f6e616b7702c328"), &m),
              DPCTL_E_RANGE);
    // a Latin-1 reason comes out as UTF-8
    ASSERT_EQ(decode(hex("83680277126470646973745f757067726164655f6e616b730278e9"), &m),
              DPCTL_OK);
    EXPECT_STREQ(m.reason, "x\xc3\xa9");
    // an improper mesh list, a mesh list naming the node ''
    EXPECT_EQ(decode(hex("836802770b6470646973745f6d6573686c0000000177036140686101"), &m),
              DPCTL_E_TAG);
    EXPECT_EQ(decode(hex("836802770b6470646973745f6d6573686c0000000277036140687700" "6a"), &m),
              DPCTL_E_RANGE); // found by fuzz_dpctl: '' cannot be written back
}

TEST(Dpctl, HostileShapesAreRefusedInLinearTime)
{
    // a reason that is a 10^6-deep tuple: refused at its first byte
    Bytes nak = hex("83680277126470646973745f757067726164655f6e616b");
    for (int i = 0; i < 1000000; i++) {
        nak.push_back(0x68);
        nak.push_back(0x01);
    }
    nak.push_back(0x6a);
    dpctl_msg m;
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(decode(nak, &m), DPCTL_E_TAG);
    // a mesh list of 10^6 one-node cells: refused once it passes DPCTL_MESH_MAX
    Bytes mesh = hex("836802770b6470646973745f6d657368");
    Bytes cell = hex("6c00000001770361406a"); // [a@j | ...]
    for (int i = 0; i < 1000000; i++)
        mesh.insert(mesh.end(), cell.begin(), cell.end());
    mesh.push_back(0x6a);
    EXPECT_EQ(decode(mesh, &m), DPCTL_E_TOO_MANY);
    // a chain of 10^6 empty cells ends in NIL: an empty list, read without recursion
    Bytes empty = hex("836802770b6470646973745f6d657368");
    for (int i = 0; i < 1000000; i++) {
        Bytes c = hex("6c00000000");
        empty.insert(empty.end(), c.begin(), c.end());
    }
    empty.push_back(0x6a);
    EXPECT_EQ(decode(empty, &m), DPCTL_OK);
    EXPECT_EQ(m.mesh_count, 0u);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_LT(s, 5.0) << "linear in the input: a few ms on any machine";
    // exactly DPCTL_MESH_MAX nodes pass
    Bytes full = hex("836802770b6470646973745f6d657368");
    for (int i = 0; i < DPCTL_MESH_MAX; i++)
        full.insert(full.end(), cell.begin(), cell.end());
    full.push_back(0x6a);
    EXPECT_EQ(mesh_nodes(full).size(), size_t(DPCTL_MESH_MAX));
}

// --- trailer and Extra -------------------------------------------------------------------

TEST(Dpctl, TrailerAsTheHandshakeCarriesIt)
{
    uint8_t buf[DPCTL_TRAILER_LEN];
    ASSERT_EQ(dpctl_trailer_encode(buf, sizeof(buf), DPCTL_CAP_DATA_PLANE), 8u);
    EXPECT_EQ(Bytes(buf, buf + 8), Bytes({'D', 'P', 'D', 'I', 'S', 'T', 1, 1}));
    EXPECT_EQ(dpctl_trailer_encode(buf, 7, 0), 0u);
    dpctl_trailer t;
    ASSERT_EQ(dpctl_trailer_parse(buf, 8, &t), DPCTL_OK);
    EXPECT_TRUE(dpctl_trailer_has_data_plane(&t));
    // a dpdist node without the capability byte or of another version: dpdist, no upgrade
    ASSERT_EQ(dpctl_trailer_parse(buf, 7, &t), DPCTL_OK);
    EXPECT_FALSE(dpctl_trailer_has_data_plane(&t));
    Bytes v2 = {'D', 'P', 'D', 'I', 'S', 'T', 2, 1};
    ASSERT_EQ(dpctl_trailer_parse(v2.data(), v2.size(), &t), DPCTL_OK);
    EXPECT_FALSE(dpctl_trailer_has_data_plane(&t));
    // not dpdist's
    EXPECT_EQ(dpctl_trailer_parse(buf, 6, &t), DPCTL_E_UNKNOWN);
    Bytes other = {'D', 'P', 'D', 'I', 'S', 'X', 1, 1};
    EXPECT_EQ(dpctl_trailer_parse(other.data(), other.size(), &t), DPCTL_E_UNKNOWN);
}

TEST(Dpctl, ExtraFieldAsEpmdCarriesIt)
{
    dpctl_endpoint ep{};
    memcpy(ep.mac, MAC1, 6);
    ep.ip = 0x0a630001;
    ep.port = 4370;
    uint8_t buf[DPCTL_EXTRA_LEN];
    ASSERT_EQ(dpctl_extra_encode(buf, sizeof(buf), &ep), 17u);
    EXPECT_EQ(Bytes(buf, buf + 17), hex("4450443102dd630000010a6300011112" "01"));
    EXPECT_EQ(dpctl_extra_encode(buf, 16, &ep), 0u);
    dpctl_endpoint got;
    ASSERT_EQ(dpctl_extra_parse(buf, sizeof(buf), &got), DPCTL_OK);
    EXPECT_EQ(0, memcmp(got.mac, MAC1, 6));
    EXPECT_EQ(got.ip, 0x0a630001u);
    EXPECT_EQ(got.port, 4370);
    EXPECT_EQ(got.version, DPCTL_VERSION);
    EXPECT_EQ(dpctl_extra_parse(buf, 16, &got), DPCTL_E_UNKNOWN);
    buf[3] = '2';
    EXPECT_EQ(dpctl_extra_parse(buf, sizeof(buf), &got), DPCTL_E_UNKNOWN);
}

TEST(Dpctl, EncoderRefusesWhatItCannotWrite)
{
    uint8_t small[10];
    dpctl_msg m = msg(DPCTL_REQ, offer(1, MAC1, 1, 1, 1500, 8, 1, 1));
    EXPECT_EQ(dpctl_encode(&m, small, sizeof(small)), 0u);
    Bytes big(4096);
    dpctl_msg mesh = msg(DPCTL_MESH);
    EXPECT_EQ(dpctl_encode(&mesh, big.data(), big.size()), 0u);
    dpctl_msg none = msg(DPCTL_NONE);
    EXPECT_EQ(dpctl_encode(&none, big.data(), big.size()), 0u);
    EXPECT_STRNE(dpctl_strerror(DPCTL_E_RANGE), dpctl_strerror(DPCTL_OK));
    EXPECT_STREQ(dpctl_strerror((dpctl_result)999), "unknown dpctl result");
}

} // namespace

TEST(DpctlGolden, SwitchWithAndWithoutKeyConfirmation)
{
    dpctl_msg m = msg(DPCTL_SWITCH);
    EXPECT_EQ(encode(m), GOLD_SWITCH);
    m.has_confirm = true;
    for (int i = 0; i < DPCTL_CONFIRM_LEN; i++)
        m.confirm[i] = (uint8_t)i;
    EXPECT_EQ(encode(m), GOLD_SWITCH_CONFIRM);
    dpctl_msg got;
    ASSERT_EQ(decode(GOLD_SWITCH_CONFIRM, &got), DPCTL_OK);
    EXPECT_EQ(got.kind, DPCTL_SWITCH);
    EXPECT_TRUE(got.has_confirm);
    EXPECT_EQ(0, memcmp(got.confirm, m.confirm, DPCTL_CONFIRM_LEN));
    ASSERT_EQ(decode(GOLD_SWITCH, &got), DPCTL_OK);
    EXPECT_FALSE(got.has_confirm);
}
