// Unit tests for dataplane/chan.c. Direct tests drive one channel by hand (parameter and
// input validation, pulse-first ordering, retransmissions before new data, credit
// enforcement, teardown). Simulated-link tests (sim_link.h) join two channels through a
// deterministic lossy link and check end-to-end guarantees: every message arrives exactly
// once and in per-sender order at 1% and 10% loss+duplication+reordering, recovery when
// loss stops, credit backpressure, heartbeat and CLOSE liveness, and a 64-byte message
// overtaking a 64 MiB one.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "sim_link.h"

extern "C" {
#include "dataplane/chan.h"
}

namespace
{

using namespace sim;

chan_params sim_params()
{
    chan_params p;
    chan_params_default(&p);
    p.window_frames = 4096;
    p.rx_window_bytes = 32u << 20;
    p.max_msg_bytes = 4u << 20;
    p.max_flows = 16;
    p.max_pending_msgs = 4096;
    p.hb_interval_ns = 1 * MS;
    p.hb_missed_limit = 20;
    p.min_rto_ns = 100 * US;
    p.max_rto_ns = 10 * MS;
    p.initial_rto_ns = 1 * MS;
    p.max_transmissions = 0;
    return p;
}

// Mixed sizes, 64 B to 4 MiB, weighted towards small messages as distribution traffic is.
uint32_t pick_size(Rng &r, uint32_t max)
{
    double u = r.uniform();
    uint32_t n;
    if (u < 0.70)
        n = uint32_t(64 + r.below(449));
    else if (u < 0.95)
        n = uint32_t(512 + r.below(16 * 1024));
    else if (u < 0.9985)
        n = uint32_t(16 * 1024 + r.below(240 * 1024));
    else
        n = uint32_t(256 * 1024 + r.below(max > 256 * 1024 ? max - 256 * 1024 + 1 : 1));
    return n < max ? n : max;
}

// Application traffic from several senders of one node.
struct Traffic {
    Node &n;
    Rng rng;
    unsigned senders;
    std::vector<uint64_t> left;
    uint64_t total = 0, submitted = 0, bytes = 0;
    uint64_t budget; // bytes alive at the sender (dd_send's tx_queue_bytes)
    uint32_t max_size;

    Traffic(Node &node, uint64_t seed, unsigned nsenders, uint64_t msgs, uint32_t maxsz,
            uint64_t budget_bytes = 48u << 20)
        : n(node), rng(seed), senders(nsenders), left(nsenders), budget(budget_bytes),
          max_size(maxsz)
    {
        for (unsigned s = 0; s < nsenders; s++)
            left[s] = msgs / nsenders + (s < msgs % nsenders);
        total = msgs;
    }
    bool done() const
    {
        return submitted == total;
    }
    void pump()
    {
        for (int k = 0; k < 256 && submitted < total && n.live_bytes < budget; k++) {
            unsigned s = unsigned(rng.below(senders));
            while (left[s] == 0)
                s = (s + 1) % senders;
            uint32_t len = submitted == 0 ? max_size : pick_size(rng, max_size);
            // senders 0..1 express, 2.. normal, the last one alternates per message
            uint8_t lane = s < 2 ? WIRE_LANE_EXPRESS : WIRE_LANE_NORMAL;
            if (s == senders - 1 && senders > 3)
                lane = (rng.next() & 1) ? WIRE_LANE_EXPRESS : WIRE_LANE_NORMAL;
            int rc = n.submit(1000 + s, len, lane);
            if (rc == -ENOBUFS)
                return;
            ASSERT_EQ(0, rc);
            left[s]--;
            submitted++;
            bytes += len;
        }
    }
};

struct Figures {
    uint64_t msgs, bytes, frames, retransmits, timeouts, fast, virt_ms;
    double wall_s;
};

// Run both directions to completion; returns the figures for the report.
Figures run_traffic(Pair &p, Traffic &ta, Traffic &tb, uint64_t max_steps)
{
    auto t0 = std::chrono::steady_clock::now();
    uint64_t v0 = p.now;
    bool ok = p.run_until(
        [&] {
            ta.pump();
            tb.pump();
            return ta.done() && tb.done() && p.b->rx_msgs == ta.total && p.a->rx_msgs == tb.total;
        },
        max_steps);
    EXPECT_TRUE(ok) << "A->B delivered " << p.b->rx_msgs << "/" << ta.total << ", B->A "
                    << p.a->rx_msgs << "/" << tb.total;
    // every message acknowledged, every reference dropped
    EXPECT_TRUE(p.run_until([&] { return Pair::idle(*p.a) && Pair::idle(*p.b); }, 2000000));
    EXPECT_EQ(0, p.a->live_msgs);
    EXPECT_EQ(0, p.b->live_msgs);
    EXPECT_EQ(0u, p.a->bad + p.b->bad);
    EXPECT_TRUE(chan_is_up(p.a->c));
    EXPECT_TRUE(chan_is_up(p.b->c));
    chan_stats sa = p.a->stats(), sb = p.b->stats();
    Figures f{};
    f.msgs = ta.total + tb.total;
    f.bytes = ta.bytes + tb.bytes;
    f.frames = p.frames;
    for (int l = 0; l < WIRE_LANES; l++)
        f.retransmits += sa.lane[l].retransmits + sb.lane[l].retransmits;
    f.timeouts = sa.rto_timeouts + sb.rto_timeouts;
    f.fast = sa.fast_retransmits + sb.fast_retransmits;
    f.virt_ms = (p.now - v0) / MS;
    f.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_EQ(ta.total, sa.tx_msgs_acked);
    EXPECT_EQ(tb.total, sb.tx_msgs_acked);
    return f;
}

void report(const char *name, const LinkParams &lp, const Figures &f)
{
    printf("[ sim      ] %s: loss %.0f%% dup %.0f%% reorder %.0f%%: %lu msgs, %.1f MiB, "
           "%lu frames, %lu retransmits (%lu RTO, %lu fast), %lu ms virtual, %.2f s wall\n",
           name, lp.loss * 100, lp.dup * 100, lp.reorder * 100, (unsigned long)f.msgs,
           double(f.bytes) / (1 << 20), (unsigned long)f.frames, (unsigned long)f.retransmits,
           (unsigned long)f.timeouts, (unsigned long)f.fast, (unsigned long)f.virt_ms, f.wall_s);
    ::testing::Test::RecordProperty("messages", std::to_string(f.msgs));
    ::testing::Test::RecordProperty("wall_seconds", std::to_string(f.wall_s));
}

// --- direct tests ----------------------------------------------------------------

struct Sink {
    std::vector<std::vector<uint8_t>> got;
    int downs = 0;
    chan_down_reason why = CHAN_UP;
    static void deliver(void *ctx, const chan_delivery *m)
    {
        auto *s = static_cast<Sink *>(ctx);
        s->got.emplace_back(m->data, m->data + m->len);
        if (m->buf)
            free(m->buf);
    }
    static void down(void *ctx, chan_down_reason r)
    {
        auto *s = static_cast<Sink *>(ctx);
        s->downs++;
        s->why = r;
    }
    static void *alloc(void *, size_t n)
    {
        return malloc(n);
    }
    static void release(void *, void *b, size_t)
    {
        free(b);
    }
    chan_ops ops()
    {
        chan_ops o{};
        o.deliver = deliver;
        o.down = down;
        o.alloc = {alloc, release, this};
        o.ctx = this;
        return o;
    }
};

struct Msg {
    dp_msg m;
    std::vector<uint8_t> data;
    static int live;
    static void free_fn(dp_msg *m)
    {
        live--;
        delete static_cast<Msg *>(m->user);
    }
    // A message owned by the caller's reference; submit() then drop it.
    static dp_msg *make(uint32_t len, uint64_t sender, uint8_t lane = WIRE_LANE_NORMAL)
    {
        auto *x = new Msg;
        live++;
        x->data.assign(len, uint8_t(sender));
        dp_msg_init(&x->m, x->data.data(), len, sender, lane, free_fn, x);
        return &x->m;
    }
};
int Msg::live = 0;

int submit(chan *c, uint32_t len, uint64_t sender, uint8_t lane = WIRE_LANE_NORMAL)
{
    dp_msg *m = Msg::make(len, sender, lane);
    int rc = chan_submit(c, m);
    dp_msg_unref(m);
    return rc;
}

chan_params small_params()
{
    chan_params p;
    chan_params_default(&p);
    p.local_session = 0x1111;
    p.peer_session = 0x2222;
    p.window_frames = 8;
    p.rx_window_bytes = 100000;
    p.max_msg_bytes = 50000;
    p.max_flows = 4;
    p.max_payload = 1000;
    p.tx_queue_msgs = 4;
    p.hb_interval_ns = 1 * MS;
    p.hb_missed_limit = 100;
    return p;
}

TEST(Chan, ParamsValidation)
{
    chan_params p;
    chan_params_default(&p);
    EXPECT_EQ(0, chan_params_check(&p));
    EXPECT_EQ(nullptr, chan_params_error(&p));
    chan_params q = p;
    q.window_frames = 1000;
    EXPECT_EQ(-EINVAL, chan_params_check(&q));
    q = p;
    q.max_msg_bytes =
        uint32_t(p.rx_window_bytes + 1 > UINT32_MAX ? UINT32_MAX : p.rx_window_bytes + 1);
    q.rx_window_bytes = 1000;
    EXPECT_EQ(-EINVAL, chan_params_check(&q));
    q = p;
    q.max_flows = 0;
    EXPECT_EQ(-EINVAL, chan_params_check(&q));
    q = p;
    q.max_payload = 65536;
    EXPECT_EQ(-EINVAL, chan_params_check(&q));
    q = p;
    q.min_rto_ns = q.max_rto_ns + 1;
    EXPECT_STRNE(nullptr, chan_params_error(&q));
    q = p;
    q.hb_missed_limit = 0;
    EXPECT_EQ(-EINVAL, chan_params_check(&q));
    q = p;
    q.express_weight = 0;
    EXPECT_EQ(-EINVAL, chan_params_check(&q));
    Sink s;
    chan_ops o = s.ops();
    EXPECT_EQ(nullptr, chan_create(&q, &o, 0));
    EXPECT_EQ(EINVAL, errno);
    EXPECT_STREQ("up", chan_down_str(CHAN_UP));
}

TEST(Chan, SubmitValidationAndQueueBound)
{
    Sink s;
    chan_params p = small_params();
    chan_ops o = s.ops();
    chan *c = chan_create(&p, &o, 0);
    ASSERT_NE(nullptr, c);
    EXPECT_EQ(-EINVAL, submit(c, 0, 1));
    EXPECT_EQ(-EINVAL, submit(c, 50001, 1));
    EXPECT_EQ(-EINVAL, submit(c, 10, 1, WIRE_LANE_PULSE));
    EXPECT_EQ(4u, chan_submit_space(c));
    for (int i = 0; i < 4; i++)
        EXPECT_EQ(0, submit(c, 10, 1));
    EXPECT_EQ(0u, chan_submit_space(c));
    EXPECT_EQ(-ENOBUFS, submit(c, 10, 1));
    EXPECT_EQ(4, Msg::live); // rejected ones were freed by the caller's unref
    chan_close(c);
    EXPECT_EQ(-ENOTCONN, submit(c, 10, 1));
    EXPECT_EQ(1, s.downs);
    EXPECT_EQ(CHAN_DOWN_LOCAL_CLOSE, s.why);
    chan_frame out[8];
    ASSERT_EQ(1u, chan_tx_burst(c, 1, out, 8)); // one CLOSE, nothing else
    EXPECT_EQ(WIRE_T_CLOSE, out[0].hdr.type);
    EXPECT_EQ(0u, chan_tx_burst(c, 2, out, 8));
    chan_destroy(c);
    EXPECT_EQ(0, Msg::live);
}

// Two channels wired by hand (no loss), for single-step inspection.
struct Duo {
    Sink sa, sb;
    chan *a, *b;
    Duo(chan_params p = small_params())
    {
        chan_params q = p;
        std::swap(q.local_session, q.peer_session);
        chan_ops oa = sa.ops(), ob = sb.ops();
        a = chan_create(&p, &oa, 0);
        b = chan_create(&q, &ob, 0);
    }
    ~Duo()
    {
        chan_destroy(a);
        chan_destroy(b);
    }
    static void pass(chan *to, const std::vector<chan_frame> &fs, uint64_t now)
    {
        for (const chan_frame &f : fs)
            EXPECT_EQ(WIRE_OK, chan_rx(to, &f.hdr, f.payload, f.len, now));
    }
    static std::vector<chan_frame> tx(chan *c, uint64_t now, unsigned max = 64)
    {
        std::vector<chan_frame> v(max);
        v.resize(chan_tx_burst(c, now, v.data(), max));
        return v;
    }
};

TEST(Chan, PulseAlwaysFirst)
{
    Duo d;
    // initial heartbeats, exchanged
    Duo::pass(d.b, Duo::tx(d.a, 1), 1);
    Duo::pass(d.a, Duo::tx(d.b, 1), 1);
    // a sends data; b has data queued too and now owes an ACK
    ASSERT_EQ(0, submit(d.a, 3000, 1));
    Duo::pass(d.b, Duo::tx(d.a, 2), 2);
    ASSERT_EQ(0, submit(d.b, 3000, 9));
    auto fs = Duo::tx(d.b, 3);
    ASSERT_GE(fs.size(), 2u);
    EXPECT_EQ(WIRE_T_ACK, fs[0].hdr.type);
    EXPECT_EQ(WIRE_LANE_PULSE, fs[0].hdr.lane);
    for (size_t i = 1; i < fs.size(); i++)
        EXPECT_EQ(WIRE_T_DATA, fs[i].hdr.type);
    // heartbeat due at the same time: heartbeat, then ACK, then data; even with room for 1
    Duo::pass(d.b, Duo::tx(d.a, 4), 4);
    ASSERT_EQ(0, submit(d.b, 100, 9));
    auto one = Duo::tx(d.b, 1 * MS + 1, 1);
    ASSERT_EQ(1u, one.size());
    EXPECT_EQ(WIRE_T_HEARTBEAT, one[0].hdr.type);
    auto rest = Duo::tx(d.b, 1 * MS + 2, 8);
    ASSERT_GE(rest.size(), 2u);
    EXPECT_EQ(WIRE_T_ACK, rest[0].hdr.type);
    EXPECT_EQ(WIRE_T_DATA, rest[1].hdr.type);
}

TEST(Chan, RetransmissionsBeforeNewData)
{
    Duo d;
    Duo::tx(d.a, 0); // heartbeat (lost)
    ASSERT_EQ(0, submit(d.a, 2000, 1));
    auto first = Duo::tx(d.a, 1); // two fragments, lost
    ASSERT_EQ(2u, first.size());
    ASSERT_EQ(0, submit(d.a, 500, 2));
    // RTO (initial 10 ms) expires: both go again before the new message
    auto fs = Duo::tx(d.a, 20 * MS, 3);
    ASSERT_EQ(3u, fs.size());
    EXPECT_EQ(WIRE_T_HEARTBEAT, fs[0].hdr.type);
    EXPECT_EQ(first[0].hdr.seq, fs[1].hdr.seq);
    EXPECT_EQ(first[1].hdr.seq, fs[2].hdr.seq);
    auto more = Duo::tx(d.a, 20 * MS);
    ASSERT_EQ(1u, more.size());
    EXPECT_EQ(500u, more[0].hdr.msg_len);
    chan_stats st;
    chan_get_stats(d.a, &st);
    EXPECT_EQ(2u, st.lane[WIRE_LANE_NORMAL].retransmits);
    EXPECT_EQ(1u, st.rto_timeouts);
}

TEST(Chan, InflightBytesAndResendOnly)
{
    // chan_inflight_wire_bytes counts each DATA frame sent once, with its headers, until the
    // peer acknowledges it (retransmissions do not add); chan_tx_resend sends only the
    // retransmissions (the engine's tx_data_ahead holds new data back with it).
    Duo d;
    Duo::tx(d.a, 0); // heartbeat (lost)
    EXPECT_EQ(0u, chan_inflight_wire_bytes(d.a));
    ASSERT_EQ(0, submit(d.a, 2000, 1));
    auto first = Duo::tx(d.a, 1); // two fragments, lost
    ASSERT_EQ(2u, first.size());
    uint64_t wire = 2 * WIRE_ALL_HDRS_LEN + first[0].len + first[1].len;
    EXPECT_EQ(wire, chan_inflight_wire_bytes(d.a));
    ASSERT_EQ(0, submit(d.a, 500, 2));
    std::vector<chan_frame> v(8);
    EXPECT_EQ(0u, chan_tx_resend(d.a, 2, v.data(), 8)) << "nothing due: the RTO is 10 ms";
    v.resize(chan_tx_resend(d.a, 20 * MS, v.data(), 8)); // RTO: both again, not the new one
    ASSERT_EQ(2u, v.size());
    EXPECT_EQ(first[0].hdr.seq, v[0].hdr.seq);
    EXPECT_EQ(first[1].hdr.seq, v[1].hdr.seq);
    EXPECT_EQ(wire, chan_inflight_wire_bytes(d.a)) << "a frame sent again is counted once";
    Duo::pass(d.b, v, 20 * MS);
    Duo::pass(d.a, Duo::tx(d.b, 21 * MS), 21 * MS); // b's heartbeat and ACK
    EXPECT_EQ(0u, chan_inflight_wire_bytes(d.a));
    std::vector<chan_frame> more(8);
    more.resize(chan_tx_data(d.a, 22 * MS, more.data(), 8));
    ASSERT_EQ(1u, more.size());
    EXPECT_EQ(500u, more[0].hdr.msg_len);
    EXPECT_EQ(WIRE_ALL_HDRS_LEN + 500u, chan_inflight_wire_bytes(d.a));
}

TEST(Chan, RxRejectsBadInput)
{
    Duo d;
    wire_hdr h{};
    h.version = DP_WIRE_VERSION;
    h.type = WIRE_T_DATA;
    h.lane = WIRE_LANE_NORMAL;
    h.flags = WIRE_F_FIRST | WIRE_F_LAST;
    h.session = 0x1111;
    h.seq = 0x1111; // a's first expected seq: the low 32 bits of its own session
    h.msg_len = 10;
    uint8_t pl[2000] = {};
    chan_stats st;

    wire_hdr w = h;
    w.session = 0x9999;
    EXPECT_EQ(WIRE_DROP_UNKNOWN_SESSION, chan_rx(d.a, &w, pl, 10, 1));
    w = h;
    w.flow = 4; // max_flows 4
    EXPECT_EQ(WIRE_DROP_BAD_HEADER, chan_rx(d.a, &w, pl, 10, 1));
    w = h;
    w.msg_len = 50001;
    w.flags = WIRE_F_FIRST;
    EXPECT_EQ(WIRE_DROP_BAD_LENGTH, chan_rx(d.a, &w, pl, 10, 1));
    w = h;
    EXPECT_EQ(WIRE_DROP_BAD_LENGTH, chan_rx(d.a, &w, pl, 9, 1)); // LAST but short
    w = h;
    w.seq += 8; // window 8
    EXPECT_EQ(WIRE_DROP_OUT_OF_WINDOW, chan_rx(d.a, &w, pl, 10, 1));
    w = h;
    w.version = DP_WIRE_VERSION + 1;
    EXPECT_EQ(WIRE_DROP_BAD_VERSION, chan_rx(d.a, &w, pl, 10, 1));
    // ACK with a bitmap length that does not match
    w = h;
    w.type = WIRE_T_ACK;
    w.lane = 0;
    w.flags = 0;
    w.flow = 1000;
    EXPECT_EQ(WIRE_DROP_BAD_LENGTH, chan_rx(d.a, &w, pl, 8, 1));
    // ACK for frames never sent
    w.flow = 0;
    w.seq = 0x2222 + 5;
    EXPECT_EQ(WIRE_DROP_BAD_ACK, chan_rx(d.a, &w, pl, 8, 1));
    // the good one
    EXPECT_EQ(WIRE_OK, chan_rx(d.a, &h, pl, 10, 1));
    EXPECT_EQ(1u, d.sa.got.size());
    EXPECT_EQ(WIRE_DROP_DUPLICATE, chan_rx(d.a, &h, pl, 10, 1));
    chan_get_stats(d.a, &st);
    EXPECT_EQ(1u, st.drops[WIRE_DROP_UNKNOWN_SESSION]);
    EXPECT_EQ(1u, st.drops[WIRE_DROP_DUPLICATE]);
    EXPECT_EQ(3u, st.drops[WIRE_DROP_BAD_LENGTH]);
    EXPECT_EQ(1u, st.rx_msgs_direct);
    EXPECT_TRUE(chan_is_up(d.a));
}

TEST(Chan, DuplicateTriggersAck)
{
    Duo d;
    const uint64_t late = 1 + small_params().ack_delay_ns; // the delayed ACK is due
    Duo::tx(d.b, 0);
    ASSERT_EQ(0, submit(d.a, 100, 1));
    auto fs = Duo::tx(d.a, 1);
    ASSERT_EQ(2u, fs.size()); // heartbeat + data
    Duo::pass(d.b, fs, 1);
    auto acks = Duo::tx(d.b, late);
    ASSERT_EQ(1u, acks.size());
    EXPECT_EQ(0u, Duo::tx(d.b, late + 1).size()); // nothing new: no ACK
    EXPECT_EQ(WIRE_DROP_DUPLICATE, chan_rx(d.b, &fs[1].hdr, fs[1].payload, fs[1].len, late + 2));
    auto again = Duo::tx(d.b, late + 3); // a duplicate is answered at once
    ASSERT_EQ(1u, again.size());
    EXPECT_EQ(WIRE_T_ACK, again[0].hdr.type);
}

// Delayed ACKs: a lone DATA frame is acknowledged ack_delay_ns later, not at once; if the
// receiver sends data before that, the ACK goes in the same burst (a request/response
// exchange costs no ACK frame of its own in between); ack_every frames force one.
TEST(Chan, DelayedAckWaitsThenRidesWithData)
{
    chan_params p = small_params();
    Duo d(p);
    Duo::pass(d.a, Duo::tx(d.b, 0), 0);
    ASSERT_EQ(0, submit(d.a, 100, 1));
    auto fs = Duo::tx(d.a, 1);
    Duo::pass(d.b, fs, 1);
    EXPECT_EQ(0u, Duo::tx(d.b, 2).size()) << "no ACK before the delay";
    EXPECT_EQ(1 + p.ack_delay_ns, chan_next_deadline(d.b)) << "the ACK's time is the deadline";
    // b answers before the delay: ACK and DATA leave together, ACK first.
    ASSERT_EQ(0, submit(d.b, 100, 7));
    auto both = Duo::tx(d.b, 3);
    ASSERT_EQ(2u, both.size());
    EXPECT_EQ(WIRE_T_ACK, both[0].hdr.type);
    EXPECT_EQ(WIRE_T_DATA, both[1].hdr.type);
    // Without data to go with, the ACK leaves when the delay is over.
    Duo::pass(d.a, both, 4);
    EXPECT_EQ(0u, Duo::tx(d.a, 5).size());
    auto late = Duo::tx(d.a, 4 + p.ack_delay_ns);
    ASSERT_EQ(1u, late.size());
    EXPECT_EQ(WIRE_T_ACK, late[0].hdr.type);
}

TEST(Chan, AckEveryFramesAndLargeCreditAtOnce)
{
    chan_params p = small_params();
    p.window_frames = 64;
    p.ack_every = 4;
    p.rx_window_bytes = 32000; // an eighth is 4000 bytes: one 4-frame message
    p.max_msg_bytes = 16000;
    Duo d(p);
    Duo::pass(d.a, Duo::tx(d.b, 0), 0);
    ASSERT_EQ(0, submit(d.a, 4 * p.max_payload, 1)); // four frames
    auto fs = Duo::tx(d.a, 1);
    Duo::pass(d.b, fs, 1);
    auto acks = Duo::tx(d.b, 2);
    ASSERT_EQ(1u, acks.size()) << "the fourth frame forces the ACK";
    ASSERT_EQ(1u, d.sb.got.size());
    // Consuming a little is not worth a frame of its own...
    chan_consumed(d.b, 10);
    EXPECT_EQ(0u, Duo::tx(d.b, 3).size());
    // ...an eighth of the window is.
    chan_consumed(d.b, 4 * p.max_payload - 10);
    auto credit = Duo::tx(d.b, 4);
    ASSERT_EQ(1u, credit.size());
    EXPECT_EQ(WIRE_T_ACK, credit[0].hdr.type);
}

TEST(Chan, PeerBeyondCreditIsDropped)
{
    // rx_window 100000, max_msg 50000: a third unconsumed 50000-byte message is too much
    chan_params p = small_params();
    Duo d(p);
    d.sb.got.clear();
    wire_hdr h{};
    h.version = DP_WIRE_VERSION;
    h.type = WIRE_T_DATA;
    h.lane = WIRE_LANE_NORMAL;
    h.flags = WIRE_F_FIRST;
    h.session = 0x2222;
    h.msg_len = 50000;
    std::vector<uint8_t> pl(1000);
    for (uint32_t m = 0; m < 3; m++) {
        wire_hdr w = h;
        w.seq = 0x2222 + m;
        w.msg_seq = m;
        EXPECT_EQ(m < 2 ? WIRE_OK : WIRE_DROP_NO_CREDIT, chan_rx(d.b, &w, pl.data(), 1000, 1));
    }
    chan_stats st;
    chan_get_stats(d.b, &st);
    EXPECT_EQ(1u, st.drops[WIRE_DROP_NO_CREDIT]);
    EXPECT_EQ(100000u, st.reasm_held_bytes);
}

TEST(Chan, SenderRespectsCreditAndWindow)
{
    chan_params p = small_params();
    p.tx_queue_msgs = 100;
    Duo d(p);
    // 3 x 50000 bytes against a credit of 100000: the third waits
    for (int i = 0; i < 3; i++)
        ASSERT_EQ(0, submit(d.a, 50000, 1 + i));
    auto fs = Duo::tx(d.a, 1, 64);
    // W = 8 frames in flight at most (plus the heartbeat)
    EXPECT_EQ(9u, fs.size());
    chan_stats st;
    chan_get_stats(d.a, &st);
    EXPECT_EQ(1u, st.startq_msgs);
    EXPECT_EQ(100000u, st.tx_started);
    EXPECT_EQ(1u, st.credit_stalls);
    EXPECT_EQ(1u, st.window_stalls);
    EXPECT_EQ(8u, st.inflight_frames);
}

TEST(Chan, DestroyReleasesEverything)
{
    {
        chan_params p = small_params();
        p.tx_queue_msgs = 100;
        Duo d(p);
        for (int i = 0; i < 6; i++)
            ASSERT_EQ(0, submit(d.a, 30000, 1 + i % 2)); // some start, some wait for credit
        Duo::tx(d.a, 1);
        // and some reassembly state on b
        wire_hdr h{};
        h.version = DP_WIRE_VERSION;
        h.type = WIRE_T_DATA;
        h.lane = WIRE_LANE_NORMAL;
        h.flags = WIRE_F_FIRST;
        h.session = 0x2222;
        h.seq = 0x2222;
        h.msg_len = 5000;
        uint8_t pl[1000] = {};
        EXPECT_EQ(WIRE_OK, chan_rx(d.b, &h, pl, 1000, 1));
        EXPECT_GT(Msg::live, 0);
    }
    EXPECT_EQ(0, Msg::live); // ASan checks the reassembly buffer
}

TEST(Chan, NextDeadline)
{
    Duo d;
    EXPECT_EQ(0u, chan_next_deadline(d.a)); // first heartbeat due
    Duo::tx(d.a, 10);
    EXPECT_EQ(1 * MS, chan_next_deadline(d.a)); // on the interval's grid from the creation
    ASSERT_EQ(0, submit(d.a, 10, 1));
    EXPECT_EQ(0u, chan_next_deadline(d.a));
    Duo::tx(d.a, 20);
    EXPECT_EQ(1 * MS, chan_next_deadline(d.a)); // heartbeat before the RTO (10 ms)
    chan_close(d.a);
    EXPECT_EQ(0u, chan_next_deadline(d.a));
    Duo::tx(d.a, 30);
    EXPECT_EQ(UINT64_MAX, chan_next_deadline(d.a));
}

TEST(Chan, HeartbeatsStayOnTheirGridWhenAPollIsLate)
{
    Duo d; // heartbeat every 1 ms, down after 100 missed
    auto heartbeats = [](chan *c, uint64_t now) {
        unsigned hb = 0;
        for (const chan_frame &f : Duo::tx(c, now))
            hb += f.hdr.type == WIRE_T_HEARTBEAT;
        return hb;
    };
    EXPECT_EQ(1u, heartbeats(d.a, 0));
    EXPECT_EQ(1u, heartbeats(d.a, 1 * MS + 300 * US)); // a late poll
    EXPECT_EQ(0u, heartbeats(d.a, 2 * MS - 1));
    EXPECT_EQ(1u, heartbeats(d.a, 2 * MS)); // not 2.3 ms: the next gap is 0.7 ms
    EXPECT_EQ(2 * MS + 1 * MS, chan_next_deadline(d.a));
    // a stall of several intervals: one heartbeat, not one per missed slot
    EXPECT_EQ(1u, heartbeats(d.a, 7 * MS + 500 * US));
    EXPECT_EQ(0u, heartbeats(d.a, 7 * MS + 600 * US));
    EXPECT_EQ(8 * MS + 500 * US, chan_next_deadline(d.a));
}

TEST(Chan, RandomFramesNeverCrash)
{
    // Garbage in (headers near the valid ranges, so deep paths are reached): every frame
    // is either taken or dropped with a reason; nothing crashes, nothing leaks (ASan).
    chan_params p = small_params();
    p.tx_queue_msgs = 64;
    Duo d(p);
    Rng rng(1234);
    std::vector<uint8_t> pl(4096);
    for (auto &b : pl)
        b = uint8_t(rng.next());
    uint64_t now = 1;
    long ok = 0;
    uint32_t next_seq = 0x2222;
    for (int i = 0; i < 200000; i++) {
        wire_hdr h{};
        h.version = rng.below(20) ? DP_WIRE_VERSION : uint8_t(rng.next());
        h.type = uint8_t(rng.below(6));
        h.lane = uint8_t(rng.below(4));
        h.flags = uint8_t(rng.below(8));
        h.session = rng.below(50) ? 0x2222 : rng.next();
        h.seq = uint32_t(0x2222 + rng.below(24) - 8);
        if (h.type == WIRE_T_ACK)
            h.seq = uint32_t(0x1111 + rng.below(24) - 4);
        h.flow = uint16_t(h.type == WIRE_T_ACK ? rng.below(6) : rng.below(6));
        h.msg_seq = uint32_t(rng.below(6));
        h.msg_len = uint32_t(1 + rng.below(rng.below(2) ? 3000 : 60000));
        h.frag_off = uint32_t(rng.below(2) ? 0 : rng.below(h.msg_len));
        uint32_t len = uint32_t(rng.below(2100));
        if (h.type != WIRE_T_DATA && rng.below(10))
            h.lane = WIRE_LANE_PULSE, h.flags = 0;
        if (h.type == WIRE_T_DATA && rng.below(10)) { // mostly well-formed fragments
            h.lane = uint8_t(1 + rng.below(2));
            h.seq = next_seq; // like a sender: the same number until it is taken
            h.msg_len = uint32_t(1 + rng.below(rng.below(2) ? 900 : 5000));
            h.frag_off = uint32_t(rng.below(2) ? 0 : rng.below(h.msg_len / 1000 + 1) * 1000);
            if (h.frag_off >= h.msg_len)
                h.frag_off = 0;
            len = std::min<uint32_t>(1000, h.msg_len - h.frag_off);
            h.flags = uint8_t((h.frag_off == 0 ? WIRE_F_FIRST : 0) |
                              (h.frag_off + len == h.msg_len ? WIRE_F_LAST : 0));
        }
        if (h.type == WIRE_T_ACK)
            len = 8 + h.flow;
        else if (h.type == WIRE_T_HEARTBEAT)
            len = 16;
        else if (h.type == WIRE_T_CLOSE)
            len = 1; // a valid CLOSE would end the test early (tested elsewhere)
        wire_drop r = chan_rx(d.b, &h, pl.data(), len, now);
        ASSERT_LT(unsigned(r), unsigned(WIRE_DROP__COUNT));
        ok += r == WIRE_OK;
        if (r == WIRE_OK && h.type == WIRE_T_DATA && h.seq == next_seq)
            next_seq++;
        if (i % 64 == 0) {
            submit(d.b, uint32_t(1 + rng.below(5000)), rng.below(8));
            Duo::tx(d.b, now);
            chan_consumed(d.b, rng.below(100000));
        }
        now += 1000;
    }
    chan_stats st;
    chan_get_stats(d.b, &st);
    EXPECT_GT(ok, 1000);
    EXPECT_GT(st.rx_msgs, 0u);
    for (int r = 1; r < WIRE_DROP__COUNT; r++)
        if (st.drops[r])
            printf("%s=%lu ", wire_drop_name(wire_drop(r)), (unsigned long)st.drops[r]);
    printf("\n");
    EXPECT_TRUE(chan_is_up(d.b)) << chan_down_str(chan_get_down_reason(d.b));
}

// --- simulated link --------------------------------------------------------------

TEST(ChanSim, CleanLink)
{
    Pair p(sim_params(), 1);
    Traffic ta(*p.a, 11, 4, 20000, 4u << 20), tb(*p.b, 12, 3, 5000, 1u << 20);
    Figures f = run_traffic(p, ta, tb, 5000000);
    report("clean", p.ab.p, f);
    EXPECT_EQ(0u, f.retransmits);
}

TEST(ChanSim, OnePercentLossDupReorder)
{
    Pair p(sim_params(), 2);
    LinkParams lp;
    lp.loss = lp.dup = lp.reorder = 0.01;
    p.set_links(lp);
    Traffic ta(*p.a, 21, 6, 150000, 4u << 20), tb(*p.b, 22, 5, 50000, 4u << 20);
    Figures f = run_traffic(p, ta, tb, 20000000);
    report("1%", lp, f);
    EXPECT_GT(f.retransmits, 0u);
    EXPECT_GT(p.ab.st.duplicated, 0u);
    EXPECT_GT(p.ab.st.reordered, 0u);
}

TEST(ChanSim, TenPercentLossDupReorder)
{
    Pair p(sim_params(), 3);
    LinkParams lp;
    lp.loss = lp.dup = lp.reorder = 0.10;
    p.set_links(lp);
    Traffic ta(*p.a, 31, 6, 100000, 4u << 20), tb(*p.b, 32, 5, 30000, 4u << 20);
    Figures f = run_traffic(p, ta, tb, 40000000);
    report("10%", lp, f);
    chan_stats sb = p.b->stats();
    EXPECT_GT(sb.drops[WIRE_DROP_DUPLICATE], 0u);
}

TEST(ChanSim, RecoveryWhenLossStops)
{
    Pair p(sim_params(), 4);
    LinkParams bad;
    bad.loss = 0.4;
    bad.dup = bad.reorder = 0.1;
    p.set_links(bad);
    Traffic ta(*p.a, 41, 4, 5000, 1u << 20);
    // heavy loss for 20 ms of virtual time: some get through, many wait
    p.run_until(
        [&] {
            ta.pump();
            return false;
        },
        20000);
    uint64_t during = p.b->rx_msgs;
    EXPECT_GT(during, 0u);
    EXPECT_LT(during, ta.total);
    p.set_links(LinkParams{});
    EXPECT_TRUE(p.run_until(
        [&] {
            ta.pump();
            return p.b->rx_msgs == ta.total && Pair::idle(*p.a);
        },
        5000000));
    EXPECT_EQ(0u, p.b->bad);
    // once recovered, a clean link sees no more retransmissions and a small RTO
    chan_stats s1 = p.a->stats();
    Traffic more(*p.a, 42, 4, 2000, 64 * 1024);
    EXPECT_TRUE(p.run_until(
        [&] {
            more.pump();
            return more.done() && Pair::idle(*p.a);
        },
        5000000));
    chan_stats s2 = p.a->stats();
    EXPECT_EQ(s1.lane[WIRE_LANE_EXPRESS].retransmits + s1.lane[WIRE_LANE_NORMAL].retransmits,
              s2.lane[WIRE_LANE_EXPRESS].retransmits + s2.lane[WIRE_LANE_NORMAL].retransmits);
    EXPECT_LE(s2.rto_ns, 1 * MS);
    EXPECT_TRUE(chan_is_up(p.a->c));
}

TEST(ChanSim, ReceiverStopsConsumingThenResumes)
{
    chan_params prm = sim_params();
    prm.rx_window_bytes = 4u << 20;
    prm.max_msg_bytes = 1u << 20;
    Pair p(prm, 5);
    LinkParams lp;
    lp.loss = lp.dup = lp.reorder = 0.02;
    p.set_links(lp);
    p.b->consume = false;
    Traffic ta(*p.a, 51, 4, 3000, 1u << 20, 64u << 20); // ~ 10x the window
    uint64_t max_unconsumed = 0;
    // 100 ms virtual: many heartbeat intervals with the sender stalled
    for (int i = 0; i < 100000; i++) {
        ta.pump();
        p.step();
        max_unconsumed = std::max(max_unconsumed, p.b->backlog);
        ASSERT_LE(p.b->stats().rx_unconsumed + p.b->stats().reasm_held_bytes, prm.rx_window_bytes);
    }
    EXPECT_LE(max_unconsumed, prm.rx_window_bytes);
    EXPECT_GE(max_unconsumed, prm.rx_window_bytes - prm.max_msg_bytes);
    chan_stats sa = p.a->stats();
    EXPECT_GE(sa.credit_stalls, 1u);
    EXPECT_GT(sa.startq_msgs, 0u);
    EXPECT_LE(sa.tx_started, sa.peer_credit);
    EXPECT_LT(p.b->rx_msgs, ta.total);
    EXPECT_TRUE(chan_is_up(p.a->c)) << "heartbeats must keep a stalled channel up";
    // resume: everything drains
    p.b->resume_consuming();
    EXPECT_TRUE(p.run_until(
        [&] {
            ta.pump();
            return p.b->rx_msgs == ta.total && Pair::idle(*p.a);
        },
        20000000));
    EXPECT_EQ(0u, p.b->bad);
    EXPECT_EQ(0, p.a->live_msgs);
}

TEST(ChanSim, HeartbeatDownDetection)
{
    chan_params prm = sim_params();
    Pair p(prm, 6);
    p.step_ns = 10 * US;
    p.run_for(5 * MS); // idle: heartbeats only
    EXPECT_TRUE(chan_is_up(p.a->c));
    EXPECT_TRUE(chan_is_up(p.b->c));
    uint64_t cut_at = p.now;
    LinkParams cut;
    cut.cut = true;
    p.set_links(cut);
    uint64_t dead = prm.hb_interval_ns * prm.hb_missed_limit;
    EXPECT_TRUE(p.run_until([&] { return !chan_is_up(p.a->c) && !chan_is_up(p.b->c); },
                            (dead + 10 * MS) / p.step_ns));
    for (Node *n : {p.a.get(), p.b.get()}) {
        EXPECT_EQ(1, n->downs);
        EXPECT_EQ(CHAN_DOWN_HEARTBEAT, n->down_reason);
        EXPECT_GE(n->down_at, cut_at + dead - prm.hb_interval_ns);
        EXPECT_LE(n->down_at, cut_at + dead + 2 * p.step_ns + 10 * US);
    }
    EXPECT_EQ(-ENOTCONN, p.a->submit(1, 100, WIRE_LANE_NORMAL));
}

TEST(ChanSim, CloseReportsDownAtOnce)
{
    Pair p(sim_params(), 7);
    p.run_for(2 * MS);
    chan_close(p.a->c);
    EXPECT_EQ(CHAN_DOWN_LOCAL_CLOSE, p.a->down_reason);
    p.run_for(20 * US);
    EXPECT_EQ(1, p.b->downs);
    EXPECT_EQ(CHAN_DOWN_PEER_CLOSE, p.b->down_reason);
    EXPECT_LE(p.b->down_at, p.a->down_at + 20 * US);
}

TEST(ChanSim, SmallMessageOvertakesHugeOneInFlight)
{
    chan_params prm = sim_params();
    prm.max_msg_bytes = 64u << 20;
    prm.rx_window_bytes = 80u << 20;
    Pair p(prm, 8);
    LinkParams lp;
    lp.loss = lp.dup = lp.reorder = 0.01;
    p.set_links(lp);
    uint64_t huge_done_at = 0, small_done_at = 0;
    p.b->on_msg = [&](uint64_t sender, uint64_t, uint32_t) {
        (sender == 1 ? huge_done_at : small_done_at) = p.now;
    };
    // Count the DATA frames A sends between the small message's submission and its frame:
    // retransmissions (which go first) and new fragments of the 64 MiB message separately.
    bool counting = false;
    long before = -1, new_before = 0, rtx_before = 0;
    uint32_t high_seq = 0;
    bool any_seq = false;
    p.on_tx = [&](const Node &n, const chan_frame &f) {
        if (&n != p.a.get() || f.hdr.type != WIRE_T_DATA)
            return;
        bool fresh = !any_seq || wire_seq_lt(high_seq, f.hdr.seq);
        if (fresh)
            high_seq = f.hdr.seq, any_seq = true;
        if (!counting || before >= 0)
            return;
        if (f.hdr.msg_len == 64)
            before = new_before + rtx_before;
        else
            (fresh ? new_before : rtx_before)++;
    };
    ASSERT_EQ(0, p.a->submit(1, 64u << 20, WIRE_LANE_NORMAL));
    p.run_for(50 * US); // the 64 MiB message is streaming
    EXPECT_GT(p.a->stats().lane[WIRE_LANE_NORMAL].tx_frames, 100u);
    counting = true;
    uint64_t small_submitted_at = p.now;
    ASSERT_EQ(0, p.a->submit(2, 64, WIRE_LANE_NORMAL));
    EXPECT_TRUE(p.run_until([&] { return huge_done_at != 0; }, 10000000));
    EXPECT_GE(before, 0);
    // no new fragment of the 64 MiB message goes first; retransmissions may
    EXPECT_EQ(0, new_before) << "the 64-byte message waited behind new fragments";
    EXPECT_LE(rtx_before, 8);
    ASSERT_NE(0u, small_done_at);
    EXPECT_LT(small_done_at, huge_done_at);
    EXPECT_EQ(2u, p.b->rx_msgs);
    EXPECT_EQ(0u, p.b->bad);
    printf("[ sim      ] 64 B behind %ld new + %ld retransmitted frames, delivered %.1f us after "
           "submission; 64 MiB done %.1f ms after it\n",
           new_before, rtx_before, double(small_done_at - small_submitted_at) / 1e3,
           double(huge_done_at - small_submitted_at) / 1e6);
    EXPECT_TRUE(p.run_until([&] { return Pair::idle(*p.a); }, 1000000));
}

TEST(ChanSim, FlowSlotReuseKeepsPerSenderOrder)
{
    chan_params prm = sim_params();
    prm.max_flows = 2; // 6 senders share 2 slots
    Pair p(prm, 9);
    LinkParams lp;
    lp.loss = lp.dup = lp.reorder = 0.05;
    p.set_links(lp);
    Traffic ta(*p.a, 91, 6, 20000, 256 * 1024), tb(*p.b, 92, 2, 100, 1024);
    Figures f = run_traffic(p, ta, tb, 20000000);
    report("2 slots, 6 senders, 5%", lp, f);
    EXPECT_GT(p.a->stats().flow_stalls, 0u);
}

TEST(ChanSim, RetransmitLimitTakesChannelDown)
{
    chan_params prm = sim_params();
    prm.max_transmissions = 5;
    prm.hb_missed_limit = 100000; // only the retransmit limit can fire
    Pair p(prm, 10);
    LinkParams oneway;
    oneway.cut = true;
    p.ab.p = oneway; // A's frames never arrive; B's still do
    ASSERT_EQ(0, p.a->submit(1, 1000, WIRE_LANE_NORMAL));
    EXPECT_TRUE(p.run_until([&] { return !chan_is_up(p.a->c); }, 1000000));
    EXPECT_EQ(CHAN_DOWN_RETX_LIMIT, p.a->down_reason);
    EXPECT_EQ(4u, p.a->stats().lane[WIRE_LANE_NORMAL].retransmits);
}

} // namespace
