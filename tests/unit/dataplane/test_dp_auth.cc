// Authenticated frames in the engine (dataplane/dp_auth.c): two engines over a net_ring pair
// with per-direction keys, and the test thread as the attacker on the link between them. It
// reads what A sent from the A -> B rings (an observer sees every frame), puts it back, and
// adds its own frames before B polls.
//
// Checks:
//  - with gmac and gcm, messages flow both ways, in order, and nothing is dropped;
//  - a DATA frame with one payload byte flipped, a forged DATA, CLOSE and HEARTBEAT with the
//    observed session id, a fresh packet number and a wrong tag, and a forged ACK to A for all
//    of its frames: each is dropped and counted as bad_tag (port and channel), nothing is
//    delivered or acted on (both channels stay up, A keeps its unacknowledged data and it
//    still arrives once);
//  - the captured DATA frame sent again (at once, and after the window moved on): replay;
//  - the captured frame to another MAC or another IPv4 address: wrong_destination;
//  - the ports are not promiscuous (net_ring can be either: the engine turned it off);
//  - the wire-format vectors of docs/dataplane.md §1.3 (computed independently with Python's
//    cryptography AESGCM): wire_encode_headers + fauth_seal make exactly those bytes, and B's
//    engine, keyed with key_i>a/iv_i>a, delivers the message they carry.
#include "tests/unit/dataplane/engine_pair.h"

#include "tests/lib/hex.h"

extern "C" {
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "common/bytes.h"
#include "dataplane/fauth.h"
#include "dataplane/wire.h"
}

namespace
{

using namespace engine_pair;
using Bytes = std::vector<uint8_t>;

class AuthPair : public EnginePair
{
  protected:
    rte_mempool *pool = nullptr;
    static inline std::atomic<unsigned> pool_seq{0};

    void SetUp() override
    {
        for (int i = 0; i < 32; i++) {
            auth_a.tx_key[i] = uint8_t(0x10 + i);
            auth_a.rx_key[i] = uint8_t(0x80 + i);
        }
        for (int i = 0; i < 12; i++) {
            auth_a.tx_iv[i] = uint8_t(0x40 + i);
            auth_a.rx_iv[i] = uint8_t(0xc0 + i);
        }
        auth_a.mode = 1; // gmac
        EnginePair::SetUp();
        std::string name = "inj" + std::to_string(getpid() % 100000) + "_" +
                           std::to_string(pool_seq++);
        pool = rte_pktmbuf_pool_create(name.c_str(), 255, 0, 0, 2048 + RTE_PKTMBUF_HEADROOM,
                                       (int)rte_socket_id());
        ASSERT_NE(pool, nullptr);
    }

    void TearDown() override
    {
        EnginePair::TearDown();
        rte_mempool_free(pool);
    }

    rte_ring *ring(const char *dir, char kind)
    {
        std::string n = pair + "_" + dir + kind;
        rte_ring *r = rte_ring_lookup(n.c_str());
        EXPECT_NE(r, nullptr) << n;
        return r;
    }

    // Everything A's port has put on the A -> B rings (data ring, then pulse), taken off.
    std::vector<Bytes> take_ab()
    {
        std::vector<Bytes> out;
        for (char k : {'d', 'p'}) {
            void *p;
            while (rte_ring_dequeue(ring("ab", k), &p) == 0) {
                auto *m = static_cast<rte_mbuf *>(p);
                const uint8_t *d = rte_pktmbuf_mtod(m, const uint8_t *);
                out.emplace_back(d, d + m->data_len);
                rte_pktmbuf_free(m);
            }
        }
        return out;
    }

    // Puts a frame on a ring as if the peer's port had sent it.
    void inject(const char *dir, const Bytes &f)
    {
        rte_mbuf *m = rte_pktmbuf_alloc(pool);
        ASSERT_NE(m, nullptr);
        auto *d = reinterpret_cast<uint8_t *>(rte_pktmbuf_append(m, uint16_t(f.size())));
        ASSERT_NE(d, nullptr);
        memcpy(d, f.data(), f.size());
        ASSERT_EQ(rte_ring_enqueue(ring(dir, 'd'), m), 0);
    }

    static uint8_t type_of(const Bytes &f)
    {
        return f[WIRE_DP_OFF + 1];
    }
    static uint64_t pn_of(const Bytes &f)
    {
        return be64_get(f.data() + WIRE_DP_OFF + WIRE_PN_OFF);
    }

    // A frame from scratch between the two engines' addresses: header h, payload, a tag of
    // 16 bytes the attacker made up.
    static Bytes forge(bool a_to_b, const wire_hdr &h, const Bytes &payload)
    {
        wire_endpoints ep{};
        const uint8_t mac_a[6] = {0x02, 0xdd, 0x63, 0, 0, 1}, mac_b[6] = {0x02, 0xdd, 0x63, 0, 0, 2};
        memcpy(ep.src_mac, a_to_b ? mac_a : mac_b, 6);
        memcpy(ep.dst_mac, a_to_b ? mac_b : mac_a, 6);
        ep.src_ip = a_to_b ? IP_A : IP_B;
        ep.dst_ip = a_to_b ? IP_B : IP_A;
        ep.src_port = ep.dst_port = UDP_PORT;
        Bytes f(WIRE_FRAME_OVERHEAD + payload.size());
        EXPECT_EQ(size_t(WIRE_ALL_HDRS_LEN),
                  wire_encode_headers(f.data(), f.size(), &ep, &h, payload.size(), 0));
        std::copy(payload.begin(), payload.end(), f.begin() + WIRE_ALL_HDRS_LEN);
        for (size_t i = 0; i < WIRE_TAG_LEN; i++)
            f[WIRE_ALL_HDRS_LEN + payload.size() + i] = uint8_t(0x5a ^ i);
        return f;
    }

    uint64_t port_drop(dp_engine *e, wire_drop d)
    {
        dp_port_stats st;
        dp_engine_port_stats(e, &st);
        return st.rx_drops[d];
    }

    uint64_t chan_drop(Side *s, dp_engine *e, wire_drop d)
    {
        usleep(1100); // the channel's stats snapshot is refreshed at most every ms
        poll(e);
        chan_stats st;
        dp_chan_stats(s->ch, &st);
        return st.drops[d];
    }

    void send(Side *s, uint64_t seq, uint32_t len)
    {
        dp_msg *m = make_msg(seq, len);
        ASSERT_EQ(dp_chan_send(s->ch, m), 0);
        dp_msg_unref(m);
    }

    // Messages flow both ways under the current keys.
    void exchange(unsigned n, uint32_t len)
    {
        auto [sa, sb] = add_pair(0);
        for (unsigned k = 0; k < n; k++) {
            send(sa, k, len);
            send(sb, k, len);
        }
        ASSERT_TRUE(poll_until([&] { return sa->delivered == n && sb->delivered == n; },
                               std::chrono::seconds(10), [&] {
                                   poll(a);
                                   poll(b);
                               }))
            << "A got " << sa->delivered << ", B got " << sb->delivered;
        EXPECT_EQ(sa->out_of_order + sb->out_of_order, 0u);
        EXPECT_EQ(sa->downs + sb->downs, 0);
        for (dp_engine *e : {a, b}) {
            EXPECT_EQ(port_drop(e, WIRE_DROP_BAD_TAG), 0u);
            EXPECT_EQ(port_drop(e, WIRE_DROP_REPLAY), 0u);
            EXPECT_EQ(port_drop(e, WIRE_DROP_WRONG_DESTINATION), 0u);
        }
    }
};

TEST_F(AuthPair, GmacMessagesFlowBothWays)
{
    exchange(300, 3000); // three frames each
}

TEST_F(AuthPair, GcmMessagesFlowBothWays)
{
    auth_a.mode = 2;
    exchange(300, 3000);
}

TEST_F(AuthPair, PortsAreNotPromiscuous)
{
    unsigned found = 0;
    uint16_t port = 0;
    char name[RTE_ETH_NAME_MAX_LEN];
    RTE_ETH_FOREACH_DEV(port)
    {
        if (rte_eth_dev_get_name_by_port(port, name) != 0)
            continue;
        std::string n(name); // net_ring_<pair>_<side>
        for (const char *side : {"_0", "_1"}) {
            std::string want = pair + side;
            if (n.size() >= want.size() && n.compare(n.size() - want.size(), want.size(), want) == 0) {
                found++;
                EXPECT_EQ(rte_eth_promiscuous_get(port), 0) << name;
            }
        }
    }
    EXPECT_EQ(found, 2u) << "the pair's two ports";
}

TEST_F(AuthPair, ForgedAndReplayedFramesHaveNoEffect)
{
    auto [sa, sb] = add_pair(0);
    // Settle: the first heartbeats both ways.
    auto settle_end = std::chrono::steady_clock::now() + std::chrono::milliseconds(5);
    while (std::chrono::steady_clock::now() < settle_end) {
        poll(a);
        poll(b);
    }
    // A sends message 0; the attacker observes its DATA frame on the link.
    send(sa, 0, 100);
    poll(a);
    std::vector<Bytes> seen = take_ab();
    Bytes data;
    for (const Bytes &f : seen)
        if (type_of(f) == WIRE_T_DATA)
            data = f;
    ASSERT_FALSE(data.empty()) << "no DATA frame from A seen";
    uint64_t pn = pn_of(data);
    wire_rx rx;
    ASSERT_EQ(wire_parse(data.data(), data.size(), UDP_PORT, WIRE_RX_VERIFY_IP_CSUM, &rx), WIRE_OK);
    const uint64_t sess_b = rx.hdr.session;

    // Forgeries, each before the real frame reaches B.
    Bytes flipped = data;
    flipped[WIRE_ALL_HDRS_LEN + 50] ^= 0x01; // one payload byte
    wire_hdr dh = rx.hdr;
    dh.pn = pn + 1000; // fresh packet number
    dh.msg_seq += 1;
    Bytes fake_data = forge(true, dh, Bytes(100, 0x77));
    wire_hdr ch{};
    ch.type = WIRE_T_CLOSE;
    ch.lane = WIRE_LANE_PULSE;
    ch.session = sess_b;
    ch.pn = WIRE_PN_PULSE_BIT | 2000; // a pulse frame: the pulse packet-number space
    Bytes fake_close = forge(true, ch, {});
    wire_hdr hb = ch;
    hb.type = WIRE_T_HEARTBEAT;
    hb.pn = WIRE_PN_PULSE_BIT | 3000;
    uint8_t hbp[WIRE_HEARTBEAT_LEN];
    wire_put_heartbeat(hbp, sizeof(hbp), 1, ~0ull);
    Bytes fake_hb = forge(true, hb, Bytes(hbp, hbp + sizeof(hbp)));
    for (const Bytes *f : {&flipped, &fake_data, &fake_close, &fake_hb})
        inject("ab", *f);
    poll(b);
    EXPECT_EQ(port_drop(b, WIRE_DROP_BAD_TAG), 4u);
    EXPECT_EQ(sb->delivered, 0u) << "a forged frame was delivered";
    EXPECT_TRUE(dp_chan_is_up(sb->ch)) << "a forged CLOSE took B's channel down";

    // The real frame, then the same frame again: delivered once, the copy is a replay.
    inject("ab", data);
    inject("ab", data);
    poll(b);
    EXPECT_EQ(sb->delivered, 1u);
    EXPECT_EQ(port_drop(b, WIRE_DROP_REPLAY), 1u);

    // Wrong destination: another MAC, another IPv4 address (checksum fixed up).
    Bytes other_mac = data;
    other_mac[5] = 0x99;
    Bytes other_ip = data;
    other_ip[WIRE_ETH_LEN + 19] = 0x99;
    uint16_t c = wire_ipv4_cksum(other_ip.data() + WIRE_ETH_LEN);
    other_ip[WIRE_ETH_LEN + 10] = uint8_t(c >> 8);
    other_ip[WIRE_ETH_LEN + 11] = uint8_t(c);
    inject("ab", other_mac);
    inject("ab", other_ip);
    poll(b);
    EXPECT_EQ(port_drop(b, WIRE_DROP_WRONG_DESTINATION), 2u);
    EXPECT_EQ(sb->delivered, 1u);

    // A forged ACK to A for everything it sent, while A has message 1 in flight and B has
    // not acknowledged it (A's frames to B are held by the attacker meanwhile).
    poll(b); // B's ACK of message 0 goes out on the B -> A rings
    poll(a);
    send(sa, 1, 100);
    poll(a);
    poll(a); // B's acknowledgements already on the way are in
    std::vector<Bytes> held = take_ab();
    uint64_t queued = dp_chan_queued_bytes(sa->ch);
    ASSERT_GE(queued, 100u);
    uint32_t held_seq = 0;
    bool held_data = false;
    for (const Bytes &f : held) {
        wire_rx hr;
        if (type_of(f) == WIRE_T_DATA &&
            wire_parse(f.data(), f.size(), UDP_PORT, WIRE_RX_VERIFY_IP_CSUM, &hr) == WIRE_OK) {
            held_seq = hr.hdr.seq;
            held_data = true;
        }
    }
    ASSERT_TRUE(held_data) << "A did not send message 1";
    wire_hdr ah{};
    ah.type = WIRE_T_ACK;
    ah.lane = WIRE_LANE_PULSE;
    ah.session = rx.hdr.session ^ 0xa000000000000000ull ^ 0xb000000000000000ull; // A's session
    ah.seq = held_seq + 1; // cumulative: everything up to A's frame in flight
    ah.pn = WIRE_PN_PULSE_BIT | (1u << 20);
    uint8_t ackp[WIRE_ACK_FIXED_LEN];
    wire_put_ack(ackp, sizeof(ackp), ~0ull >> 2, nullptr, 0);
    inject("ba", forge(false, ah, Bytes(ackp, ackp + sizeof(ackp))));
    poll(a);
    EXPECT_EQ(port_drop(a, WIRE_DROP_BAD_TAG), 1u);
    EXPECT_EQ(dp_chan_queued_bytes(sa->ch), queued) << "the forged ACK released A's message";
    for (const Bytes &f : held) // the link delivers A's held frames now
        inject("ab", f);
    ASSERT_TRUE(poll_until([&] { return sb->delivered == 2 && dp_chan_queued_bytes(sa->ch) == 0; },
                           std::chrono::seconds(5), [&] {
                               poll(a);
                               poll(b);
                           }));

    // Much later, the first frame again: too old for the window (counted as replay).
    for (unsigned k = 2; k < 1200; k++)
        send(sa, k, 8);
    ASSERT_TRUE(poll_until([&] { return sb->delivered == 1200; }, std::chrono::seconds(10), [&] {
        poll(a);
        poll(b);
    }));
    inject("ab", data);
    poll(b);
    EXPECT_EQ(port_drop(b, WIRE_DROP_REPLAY), 2u);
    EXPECT_EQ(sb->delivered, 1200u);
    EXPECT_EQ(sb->out_of_order, 0u);

    // The channels' own figures: B counted its four bad tags and two replays, A its one.
    EXPECT_EQ(chan_drop(sb, b, WIRE_DROP_BAD_TAG), 4u);
    EXPECT_EQ(chan_drop(sb, b, WIRE_DROP_REPLAY), 2u);
    EXPECT_EQ(chan_drop(sa, a, WIRE_DROP_BAD_TAG), 1u);
    EXPECT_EQ(sa->downs + sb->downs, 0);
    EXPECT_TRUE(dp_chan_is_up(sa->ch));
    EXPECT_TRUE(dp_chan_is_up(sb->ch));
}

// docs/dataplane.md §1.3: a DATA frame A -> B, message 0 of 16 zero bytes, pn 1, under
// keysched's key_i>a / iv_i>a vector (docs/security.md §5).
const char *const VEC_KEY = "8b2ceaac9e315e1d0507c9520d0607e64bcc6b9b630c979f7c090985ba2f31c6";
const char *const VEC_IV = "f0fc6a00dcdb553ceff5d62e";
const char *const VEC_GMAC = "02dd6300000202dd6300000108004500006c00004000401125b90a6300010a63"
                             "0002111211120058000002010203b00000000000000100000001000000000000"
                             "0000000000100000000000000000000000010000000000000000000000000000"
                             "000000000000000000001f4f736689c9aaa25d84c7584130bc19";
const char *const VEC_GCM = "02dd6300000202dd6300000108004500006c00004000401125b90a6300010a63"
                            "0002111211120058000002010203b00000000000000100000001000000000000"
                            "0000000000100000000000000000000000010000000000000000dc4dd7d5f97f"
                            "946adc05bd5738af2b4e6605718dcf52feef3d94cce735be6b77";

class WireVector : public AuthPair, public ::testing::WithParamInterface<int>
{
};

TEST_P(WireVector, ComposedAndAcceptedByTheEngine)
{
    const int mode = GetParam();
    const Bytes want = testhex::bytes(mode == 2 ? VEC_GCM : VEC_GMAC);
    Bytes key = testhex::bytes(VEC_KEY), iv = testhex::bytes(VEC_IV);

    // Composition: headers, payload, seal over dpdist header ‖ payload.
    wire_hdr h{};
    h.type = WIRE_T_DATA;
    h.lane = WIRE_LANE_NORMAL;
    h.flags = WIRE_F_FIRST | WIRE_F_LAST;
    h.session = 0xb000000000000001ull; // B's session of channel 0 (engine_pair.h)
    h.seq = 1;                          // the first DATA seq: the low 32 bits of it
    h.msg_len = 16;
    h.pn = 1;
    Bytes f = forge(true, h, Bytes(16, 0));
    fauth_key k{};
    ASSERT_EQ(fauth_key_init(&k, fauth_mode(mode), key.data(), iv.data()), FAUTH_OK);
    ASSERT_EQ(fauth_seal(&k, 1, f.data() + WIRE_DP_OFF, WIRE_DP_HDR_LEN, WIRE_DP_HDR_LEN + 16,
                         nullptr, f.data() + WIRE_ALL_HDRS_LEN + 16),
              FAUTH_OK);
    fauth_key_wipe(&k);
    EXPECT_EQ(f, want);

    // The engine: B receives with A's transmit key.
    auth_a.mode = uint8_t(mode);
    memcpy(auth_a.tx_key, key.data(), 32);
    memcpy(auth_a.tx_iv, iv.data(), 12);
    auto [sa, sb] = add_pair(0);
    inject("ab", want);
    poll(b);
    EXPECT_EQ(sb->delivered, 1u);
    EXPECT_EQ(sb->out_of_order, 0u);
    EXPECT_EQ(port_drop(b, WIRE_DROP_BAD_TAG), 0u);
    (void)sa;
}

INSTANTIATE_TEST_SUITE_P(Modes, WireVector, ::testing::Values(1, 2),
                         [](const ::testing::TestParamInfo<int> &i) {
                             return std::string(i.param == 2 ? "gcm" : "gmac");
                         });

} // namespace
