// Test harness for dataplane/chan: two channels joined by an in-memory simulated link.
//
// Frames leave one channel as descriptors (chan_tx_burst), are encoded into real Ethernet/
// IPv4/UDP/dpdist bytes (wire_encode_headers), cross a link that loses, duplicates,
// reorders and delays them deterministically from a seed, and are parsed (wire_parse) and
// handed to the other channel (chan_rx). Time is virtual: each step advances the clock by
// step_ns, so a run is reproducible and as fast as the CPU allows.
//
// The application side of each node: numbered messages from several senders, whose bytes
// are a pattern of (sender, index), and a receiver that checks every delivery is the next
// index of its sender (exactly once, in per-sender order) with intact bytes.
#ifndef DPDIST_TESTS_SIM_LINK_H
#define DPDIST_TESTS_SIM_LINK_H

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <vector>

extern "C" {
#include "common/bytes.h"
#include "dataplane/chan.h"
#include "dataplane/dp_msg.h"
#include "dataplane/wire.h"
}

namespace sim
{

constexpr uint64_t US = 1000;
constexpr uint64_t MS = 1000 * US;

// splitmix64: small, fast, deterministic.
struct Rng {
    uint64_t s;
    explicit Rng(uint64_t seed) : s(seed)
    {
    }
    uint64_t next()
    {
        uint64_t z = (s += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    double uniform()
    {
        return double(next() >> 11) * (1.0 / 9007199254740992.0);
    }
    uint64_t below(uint64_t n)
    {
        return n ? next() % n : 0;
    }
};

struct LinkParams {
    double loss = 0, dup = 0, reorder = 0;
    uint64_t delay_ns = 5 * US;          // every frame
    uint64_t reorder_extra_ns = 60 * US; // a reordered frame waits up to this much more
    bool cut = false;                    // drop everything
};

struct LinkStats {
    uint64_t sent = 0, lost = 0, duplicated = 0, reordered = 0, delivered = 0;
};

// One direction.
class Link
{
  public:
    LinkParams p;
    LinkStats st;
    Link(uint64_t seed) : rng_(seed)
    {
    }

    void send(const uint8_t *f, size_t len, uint64_t now)
    {
        st.sent++;
        if (p.cut || rng_.uniform() < p.loss) {
            st.lost++;
            return;
        }
        enqueue(f, len, now);
        if (rng_.uniform() < p.dup) {
            st.duplicated++;
            enqueue(f, len, now);
        }
    }
    // Hand every frame due by `now` to fn(bytes, len).
    template <typename F> void deliver(uint64_t now, F &&fn)
    {
        while (!q_.empty() && q_.begin()->first.first <= now) {
            std::vector<uint8_t> b = std::move(q_.begin()->second);
            q_.erase(q_.begin());
            st.delivered++;
            fn(b.data(), b.size());
        }
    }
    size_t queued() const
    {
        return q_.size();
    }

  private:
    void enqueue(const uint8_t *f, size_t len, uint64_t now)
    {
        uint64_t at = now + p.delay_ns;
        if (rng_.uniform() < p.reorder) {
            st.reordered++;
            at += rng_.below(p.reorder_extra_ns);
        }
        q_.emplace(std::make_pair(at, order_++), std::vector<uint8_t>(f, f + len));
    }
    Rng rng_;
    uint64_t order_ = 0;
    std::map<std::pair<uint64_t, uint64_t>, std::vector<uint8_t>> q_;
};

// Message contents: 8 bytes sender, 8 bytes index, then a pattern of both.
inline uint8_t pattern_byte(uint64_t sender, uint64_t idx, size_t i)
{
    uint32_t x = uint32_t(i) * 2654435761u ^ uint32_t(sender * 0x9e37 + idx * 0x85eb);
    return uint8_t(x >> 13);
}

struct TxMsg {
    dp_msg m;
    std::vector<uint8_t> data;
    long *live;
    uint64_t *live_bytes;
};

inline void txmsg_free(dp_msg *m)
{
    TxMsg *t = static_cast<TxMsg *>(m->user);
    (*t->live)--;
    *t->live_bytes -= t->data.size();
    delete t;
}

// One end: a channel plus its application.
class Node
{
  public:
    const char *name;
    chan *c = nullptr;
    chan_params params;
    wire_endpoints ep{}; // towards the peer
    uint16_t local_port;

    // transmit side
    long live_msgs = 0;      // TxMsg objects alive
    uint64_t live_bytes = 0; // their bytes
    std::map<uint64_t, uint64_t> next_tx_idx;

    // receive side
    bool consume = true;
    uint64_t backlog = 0; // delivered, not consumed
    std::map<uint64_t, uint64_t> next_rx_idx;
    uint64_t rx_msgs = 0, rx_bytes = 0, bad = 0;
    std::function<void(uint64_t sender, uint64_t idx, uint32_t len)> on_msg;
    long buf_live = 0;
    uint64_t buf_bytes = 0;

    // liveness
    int downs = 0;
    chan_down_reason down_reason = CHAN_UP;
    uint64_t down_at = 0;
    uint64_t *clock = nullptr;

    Node(const char *n, const chan_params &p, uint16_t port, uint16_t peer_port, uint64_t now,
         uint64_t *clk)
        : name(n), params(p), local_port(port), clock(clk)
    {
        ep.src_ip = 0x0a000000u | port;
        ep.dst_ip = 0x0a000000u | peer_port;
        ep.src_port = port;
        ep.dst_port = peer_port;
        chan_ops ops{};
        ops.deliver = deliver_cb;
        ops.down = down_cb;
        ops.alloc = {alloc_cb, free_cb, this};
        ops.ctx = this;
        c = chan_create(&p, &ops, now);
        EXPECT_NE(nullptr, c);
    }
    ~Node()
    {
        chan_destroy(c);
        EXPECT_EQ(0, live_msgs) << name << ": message references leaked";
        EXPECT_EQ(0, buf_live) << name << ": reassembly buffers leaked";
    }

    // Submit the next message of `sender`; returns chan_submit's result.
    int submit(uint64_t sender, uint32_t len, uint8_t lane)
    {
        if (len < 16)
            len = 16;
        auto *t = new TxMsg;
        t->live = &live_msgs;
        t->live_bytes = &live_bytes;
        live_msgs++;
        live_bytes += len;
        t->data.resize(len);
        uint64_t idx = next_tx_idx[sender];
        be64_put(t->data.data(), sender);
        be64_put(t->data.data() + 8, idx);
        for (size_t i = 16; i < len; i++)
            t->data[i] = pattern_byte(sender, idx, i);
        dp_msg_init(&t->m, t->data.data(), len, sender, lane, txmsg_free, t);
        int rc = chan_submit(c, &t->m);
        if (rc == 0)
            next_tx_idx[sender]++;
        dp_msg_unref(&t->m); // the channel holds its own reference now (or none)
        return rc;
    }

    void resume_consuming()
    {
        consume = true;
        chan_consumed(c, backlog);
        backlog = 0;
    }

    chan_stats stats() const
    {
        chan_stats s;
        chan_get_stats(c, &s);
        return s;
    }

  private:
    static void *alloc_cb(void *ctx, size_t len)
    {
        auto *n = static_cast<Node *>(ctx);
        n->buf_live++;
        n->buf_bytes += len;
        return malloc(len);
    }
    static void free_cb(void *ctx, void *buf, size_t len)
    {
        auto *n = static_cast<Node *>(ctx);
        n->buf_live--;
        n->buf_bytes -= len;
        free(buf);
    }
    static void deliver_cb(void *ctx, const chan_delivery *m)
    {
        auto *n = static_cast<Node *>(ctx);
        bool ok = m->len >= 16;
        uint64_t sender = ok ? be64_get(m->data) : 0, idx = ok ? be64_get(m->data + 8) : 0;
        if (ok) {
            uint64_t &want = n->next_rx_idx[sender];
            if (idx != want) {
                ADD_FAILURE() << n->name << ": sender " << sender << " delivered " << idx
                              << ", expected " << want;
                ok = false;
            }
            want = idx + 1;
            for (size_t i = 16; ok && i < m->len; i++) {
                if (m->data[i] != pattern_byte(sender, idx, i)) {
                    ADD_FAILURE() << n->name << ": corrupt byte " << i << " of " << sender << "/"
                                  << idx;
                    ok = false;
                }
            }
        }
        if (!ok)
            n->bad++;
        n->rx_msgs++;
        n->rx_bytes += m->len;
        if (n->on_msg)
            n->on_msg(sender, idx, m->len);
        if (m->buf)
            free_cb(ctx, m->buf, m->len);
        if (n->consume)
            chan_consumed(n->c, m->len);
        else
            n->backlog += m->len;
    }
    static void down_cb(void *ctx, chan_down_reason why)
    {
        auto *n = static_cast<Node *>(ctx);
        n->downs++;
        n->down_reason = why;
        n->down_at = n->clock ? *n->clock : 0;
    }
};

// Two nodes and two links, stepping virtual time.
class Pair
{
  public:
    uint64_t now = 1 * MS;
    uint64_t step_ns = 1 * US;
    unsigned burst = 64;
    std::unique_ptr<Node> a, b;
    Link ab, ba;
    uint64_t frames = 0;
    // Sees every frame a node transmits (before the link).
    std::function<void(const Node &, const chan_frame &)> on_tx;

    Pair(const chan_params &pa, uint64_t seed) : ab(seed * 2 + 1), ba(seed * 2 + 2)
    {
        chan_params p1 = pa, p2 = pa;
        p1.local_session = 0x5e55000000000000ull | 0xfffff000u; // low bits: ISN near 2^32
        p2.local_session = 0xa11ce00000000000ull | 0xffffff00u;
        p1.peer_session = p2.local_session;
        p2.peer_session = p1.local_session;
        a = std::make_unique<Node>("A", p1, 47001, 47002, now, &now);
        b = std::make_unique<Node>("B", p2, 47002, 47001, now, &now);
    }

    void set_links(const LinkParams &lp)
    {
        ab.p = lp;
        ba.p = lp;
    }

    void step()
    {
        now += step_ns;
        transmit(*a, ab);
        transmit(*b, ba);
        ab.deliver(now, [&](const uint8_t *f, size_t len) { receive(*b, f, len); });
        ba.deliver(now, [&](const uint8_t *f, size_t len) { receive(*a, f, len); });
    }

    // Step until pred() holds or max_steps pass; returns pred().
    bool run_until(const std::function<bool()> &pred, uint64_t max_steps)
    {
        for (uint64_t i = 0; i < max_steps; i++) {
            if (pred())
                return true;
            step();
        }
        return pred();
    }

    void run_for(uint64_t ns)
    {
        uint64_t end = now + ns;
        while (now < end)
            step();
    }

    static bool idle(const Node &n)
    {
        chan_stats s = n.stats();
        return s.startq_msgs == 0 && s.inflight_frames == 0;
    }

  private:
    void transmit(Node &n, Link &link)
    {
        chan_frame out[256];
        unsigned k = chan_tx_burst(n.c, now, out, burst);
        uint8_t buf[WIRE_FRAME_OVERHEAD + 65536];
        for (unsigned i = 0; i < k; i++) {
            if (on_tx)
                on_tx(n, out[i]);
            size_t h = wire_encode_headers(buf, sizeof(buf), &n.ep, &out[i].hdr, out[i].len, 0);
            ASSERT_EQ(size_t(WIRE_ALL_HDRS_LEN), h);
            if (out[i].len)
                memcpy(buf + h, out[i].payload, out[i].len);
            memset(buf + h + out[i].len, 0, WIRE_TAG_LEN); // the tag: unchecked here
            link.send(buf, h + out[i].len + WIRE_TAG_LEN, now);
            frames++;
        }
    }
    void receive(Node &n, const uint8_t *f, size_t len)
    {
        wire_rx rx;
        wire_drop d = wire_parse(f, len, n.local_port, WIRE_RX_VERIFY_IP_CSUM, &rx);
        ASSERT_EQ(WIRE_OK, d) << wire_drop_name(d);
        chan_rx(n.c, &rx.hdr, rx.payload, rx.payload_len, now);
    }
};

} // namespace sim

#endif
