// A test fixture for the data-plane engine without the runtime: two engines in this process
// joined by a crossed net_ring pair (`net_ring0,pair=NAME,side=0|1`), channels between them,
// polled inline from the test thread (a QSBR reader). Needs EAL (tests/lib/eal_main.cc).
// Used by test_dp_engine.cc and test_dp_telemetry.cc.
#ifndef DPDIST_TESTS_UNIT_DATAPLANE_ENGINE_PAIR_H
#define DPDIST_TESTS_UNIT_DATAPLANE_ENGINE_PAIR_H

#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

extern "C" {
#include <urcu/urcu-qsbr.h>

#include "common/bigbuf.h"
#include "dataplane/dp.h"
}

namespace engine_pair
{

inline std::atomic<unsigned> g_pair_seq{0};
inline std::atomic<uint64_t> g_msgs_freed{0};

constexpr uint32_t IP_A = 0x0a630001, IP_B = 0x0a630002;
constexpr uint16_t UDP_PORT = 4370;

// A message: the dp_msg header and its bytes in one block. The first 8 bytes carry the
// message's sequence number on its channel.
struct TestMsg {
    dp_msg m;
    uint8_t data[];
};

inline void test_msg_free(dp_msg *m)
{
    g_msgs_freed++;
    free(m);
}

inline dp_msg *make_msg(uint64_t seq, uint32_t len)
{
    auto *t = static_cast<TestMsg *>(malloc(sizeof(TestMsg) + len));
    memset(t->data, int(seq & 0xff), len);
    memcpy(t->data, &seq, sizeof(seq));
    dp_msg_init(&t->m, t->data, len, /*sender*/ 1, WIRE_LANE_NORMAL, test_msg_free, nullptr);
    return &t->m;
}

// One side of a channel pair and what its callbacks saw.
struct Side {
    dp_chan *ch = nullptr;
    uint64_t next_seq = 0; // expected on delivery
    uint64_t delivered = 0, out_of_order = 0;
    uint64_t corrupt = 0;   // messages whose bytes after the sequence number are not make_msg's
    uint32_t last_len = 0;  // of the last message delivered
    int downs = 0;
    enum chan_down_reason why = CHAN_UP; // of the last down
    bool retired = false;
};

inline void on_deliver(void *ctx, const chan_delivery *m)
{
    auto *s = static_cast<Side *>(ctx);
    uint64_t seq;
    memcpy(&seq, m->data, sizeof(seq));
    if (seq != s->next_seq)
        s->out_of_order++;
    for (uint32_t i = sizeof(seq); i < m->len; i++)
        if (m->data[i] != uint8_t(seq & 0xff)) {
            s->corrupt++;
            break;
        }
    s->last_len = m->len;
    s->next_seq = seq + 1;
    s->delivered++;
    dp_chan_consumed(s->ch, m->len);
    bigbuf_free(m->buf);
}

inline void on_down(void *ctx, enum chan_down_reason why)
{
    static_cast<Side *>(ctx)->downs++;
    static_cast<Side *>(ctx)->why = why;
}

inline void on_retired(void *arg)
{
    static_cast<Side *>(arg)->retired = true;
}

// Protocol settings a test may change before SetUp (the defaults suit most tests).
struct PairTuning {
    uint32_t hb_missed_limit = 10000;
    uint32_t window_frames = 4096;
    uint16_t mtu = 1500;
    std::string port_args; // appended to the ring pair's arguments, e.g. ",queues=1"
    uint64_t tx_data_ahead = 0; // dp_engine_params.tx_data_ahead_bytes
};

// An engine on `port` (side 0 or 1 picks its name, MAC and IP).
inline dp_engine *make_engine_on(const std::string &port, int side, char *err,
                                 const PairTuning &t = PairTuning())
{
    struct dp_engine_params p = {};
    p.name = side ? "B" : "A";
    p.port = port.c_str();
    const uint8_t mac[6] = {0x02, 0xdd, 0x63, 0, 0, uint8_t(side + 1)};
    memcpy(p.mac, mac, 6);
    p.ip = side ? IP_B : IP_A;
    p.udp_port = UDP_PORT;
    p.mtu = t.mtu;
    p.mbufs = 8191;
    p.mbuf_cache = 64;
    p.poll_lcore = -1;
    chan_params_default(&p.chan);
    // A loss-free link: any retransmission is the engine's fault. Timers far above what a
    // loaded machine delays a poll, so no timeout fires spuriously either.
    p.chan.min_rto_ns = 500 * 1000000ull;
    p.chan.initial_rto_ns = 500 * 1000000ull;
    p.chan.max_rto_ns = 2000 * 1000000ull;
    // Heartbeats every ms: many channels' pulse frames come due in the same iterations.
    p.chan.hb_interval_ns = 1000000;
    p.chan.hb_missed_limit = t.hb_missed_limit;
    p.chan.window_frames = t.window_frames;
    p.chan.tx_queue_msgs = 64; // the protocol's start queue: the rest waits in the send ring
    p.tx_queue_bytes = 64u << 20;
    p.tx_ring_msgs = 4096;
    p.tx_data_ahead_bytes = t.tx_data_ahead;
    return dp_engine_create(&p, err, DP_ERR_LEN);
}

inline dp_engine *make_engine(const std::string &pair, int side, char *err,
                              const PairTuning &t = PairTuning())
{
    return make_engine_on("net_ring0,pair=" + pair + ",side=" + std::to_string(side) +
                              t.port_args,
                          side, err, t);
}

// Two engines over a fresh ring pair; the test thread is their QSBR reader and poller.
class EnginePair : public ::testing::Test
{
  protected:
    dp_engine *a = nullptr, *b = nullptr;
    std::vector<Side *> sides;
    PairTuning tuning; // a derived fixture's constructor may change it
    std::string pair;  // the ring pair's name: rings <pair>_ab{d,p} (A -> B), <pair>_ba{d,p}
    // Frame keys of the channels add_pair makes (A's side; B's is the mirror): none by default.
    dp_chan_auth auth_a = {};

    void SetUp() override
    {
        urcu_qsbr_register_thread();
        pair = "dpe" + std::to_string(getpid() % 100000) + "_" + std::to_string(g_pair_seq++);
        char err[DP_ERR_LEN] = "";
        a = make_engine(pair, 0, err, tuning);
        ASSERT_NE(a, nullptr) << err;
        b = make_engine(pair, 1, err, tuning);
        ASSERT_NE(b, nullptr) << err;
    }

    void TearDown() override
    {
        urcu_qsbr_barrier(); // channels closed with call_rcu are retired first
        dp_engine_destroy(a);
        dp_engine_destroy(b);
        for (Side *s : sides) {
            dp_chan_free(s->ch);
            delete s;
        }
        urcu_qsbr_unregister_thread();
    }

    // Adds channel i on both engines (sessions derived from i); returns {A side, B side}.
    std::pair<Side *, Side *> add_pair(unsigned i, bool b_rx_blocked = false)
    {
        Side *sa = new Side, *sb = new Side;
        sides.push_back(sa);
        sides.push_back(sb);
        uint64_t sess_a = 0xa000000000000000ull + i + 1, sess_b = 0xb000000000000000ull + i + 1;
        char err[DP_ERR_LEN] = "";
        dp_chan_cfg ca = {};
        ca.local_session = sess_a;
        ca.peer_session = sess_b;
        const uint8_t mac_b[6] = {0x02, 0xdd, 0x63, 0, 0, 2},
                      mac_a[6] = {0x02, 0xdd, 0x63, 0, 0, 1};
        memcpy(ca.peer_mac, mac_b, 6);
        ca.peer_ip = IP_B;
        ca.peer_port = UDP_PORT;
        ca.deliver = on_deliver;
        ca.down = on_down;
        ca.ctx = sa;
        ca.auth = auth_a;
        dp_chan_cfg cb = ca;
        cb.auth.mode = auth_a.mode; // B receives with A's transmit key and the other way
        memcpy(cb.auth.tx_key, auth_a.rx_key, sizeof(cb.auth.tx_key));
        memcpy(cb.auth.tx_iv, auth_a.rx_iv, sizeof(cb.auth.tx_iv));
        memcpy(cb.auth.rx_key, auth_a.tx_key, sizeof(cb.auth.rx_key));
        memcpy(cb.auth.rx_iv, auth_a.tx_iv, sizeof(cb.auth.rx_iv));
        cb.local_session = sess_b;
        cb.peer_session = sess_a;
        memcpy(cb.peer_mac, mac_a, 6);
        cb.peer_ip = IP_A;
        cb.ctx = sb;
        cb.rx_blocked = b_rx_blocked;
        sa->ch = dp_chan_add(a, &ca, err, sizeof(err));
        EXPECT_NE(sa->ch, nullptr) << err;
        sb->ch = dp_chan_add(b, &cb, err, sizeof(err));
        EXPECT_NE(sb->ch, nullptr) << err;
        return {sa, sb};
    }

    void poll(dp_engine *e, unsigned n = 1)
    {
        dp_engine_poll(e, n);
        urcu_qsbr_quiescent_state();
    }

    uint64_t in_use(dp_engine *e)
    {
        dp_port_stats st;
        dp_engine_port_stats(e, &st);
        return st.mbufs_in_use;
    }
};

// Polls until pred() holds or the time is up; true if it held.
template <class F>
inline bool poll_until(F pred, std::chrono::milliseconds limit, const std::function<void()> &step)
{
    auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
        step();
        if (pred())
            return true;
    }
    return pred();
}

} // namespace engine_pair

#endif
