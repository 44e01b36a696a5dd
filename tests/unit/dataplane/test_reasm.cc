// Unit tests for dataplane/reasm.c: fragment sizes at the edges (exact multiples of the
// payload, 1-byte and maximum messages), out-of-order and missing fragments, per-flow
// ordering with independent flows, the direct (no allocation) path, consistency errors
// and every bound at its limit.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <vector>

#include "common/budget.h"
extern "C" {
#include "dataplane/reasm.h"
}

namespace
{

using Bytes = std::vector<uint8_t>;

struct Delivered {
    uint16_t flow;
    uint32_t msg_seq;
    Bytes data;
    bool owned;
};

struct Harness {
    std::vector<Delivered> got;
    long allocs = 0, frees = 0, fail_alloc = 0;
    std::map<void *, size_t> live;
    reasm *r = nullptr;

    static void *alloc(void *ctx, size_t len)
    {
        auto *h = static_cast<Harness *>(ctx);
        if (h->fail_alloc) {
            h->fail_alloc--;
            return nullptr;
        }
        void *p = malloc(len);
        h->allocs++;
        h->live[p] = len;
        return p;
    }
    static void release(void *ctx, void *buf, size_t len)
    {
        auto *h = static_cast<Harness *>(ctx);
        EXPECT_EQ(h->live[buf], len);
        h->live.erase(buf);
        h->frees++;
        free(buf);
    }
    static void deliver(void *ctx, const reasm_msg *m)
    {
        auto *h = static_cast<Harness *>(ctx);
        h->got.push_back(
            {m->flow, m->msg_seq, Bytes(m->data, m->data + m->len), m->buf != nullptr});
        if (m->buf) {
            EXPECT_EQ(m->data, m->buf);
            release(ctx, m->buf, m->len);
        }
    }

    explicit Harness(reasm_params p = {4, 16, 1 << 20, 1 << 16, nullptr})
    {
        reasm_alloc a{alloc, release, this};
        r = reasm_create(&p, &a, deliver, this);
    }
    ~Harness()
    {
        reasm_destroy(r);
        EXPECT_TRUE(live.empty()) << "buffers leaked";
    }

    wire_drop frag(uint16_t flow, uint32_t msg_seq, const Bytes &msg, uint32_t off, uint32_t len)
    {
        wire_hdr h{};
        h.version = DP_WIRE_VERSION;
        h.type = WIRE_T_DATA;
        h.lane = WIRE_LANE_NORMAL;
        h.flow = flow;
        h.msg_seq = msg_seq;
        h.msg_len = uint32_t(msg.size());
        h.frag_off = off;
        return reasm_insert(r, &h, msg.data() + off, len);
    }
    // All fragments of msg with payload size mtu, in the given order of fragment indexes.
    void send(uint16_t flow, uint32_t msg_seq, const Bytes &msg, uint32_t mtu,
              std::vector<size_t> order = {})
    {
        size_t n = (msg.size() + mtu - 1) / mtu;
        if (order.empty())
            for (size_t i = 0; i < n; i++)
                order.push_back(i);
        for (size_t i : order) {
            uint32_t off = uint32_t(i * mtu);
            uint32_t len = std::min<uint32_t>(mtu, uint32_t(msg.size()) - off);
            ASSERT_EQ(WIRE_OK, frag(flow, msg_seq, msg, off, len)) << "fragment " << i;
        }
    }
};

Bytes pattern(size_t n, unsigned seed)
{
    Bytes b(n);
    for (size_t i = 0; i < n; i++)
        b[i] = uint8_t(i * 7 + seed * 13 + (i >> 8));
    return b;
}

TEST(Reasm, CreateRejectsBadParams)
{
    reasm_alloc a{Harness::alloc, Harness::release, nullptr};
    reasm_params p{4, 16, 100, 200, nullptr}; // max_bytes < max_msg
    EXPECT_EQ(nullptr, reasm_create(&p, &a, Harness::deliver, nullptr));
    p = {0, 16, 1000, 100, nullptr};
    EXPECT_EQ(nullptr, reasm_create(&p, &a, Harness::deliver, nullptr));
    p = {4, 16, 1000, 100, nullptr};
    reasm_alloc bad{nullptr, Harness::release, nullptr};
    EXPECT_EQ(nullptr, reasm_create(&p, &bad, Harness::deliver, nullptr));
}

TEST(Reasm, SingleFragmentDirectPathNoAllocation)
{
    Harness h;
    Bytes m = pattern(100, 1);
    h.send(0, 0, m, 1440);
    ASSERT_EQ(1u, h.got.size());
    EXPECT_FALSE(h.got[0].owned);
    EXPECT_EQ(m, h.got[0].data);
    EXPECT_EQ(0, h.allocs);
    EXPECT_EQ(1u, reasm_next_msg_seq(h.r, 0));
}

TEST(Reasm, OneByteMessages)
{
    Harness h;
    for (uint32_t i = 0; i < 100; i++)
        h.send(1, i, Bytes{uint8_t(i)}, 1440);
    ASSERT_EQ(100u, h.got.size());
    for (uint32_t i = 0; i < 100; i++)
        EXPECT_EQ(Bytes{uint8_t(i)}, h.got[i].data);
    EXPECT_EQ(0, h.allocs);
}

TEST(Reasm, ExactMultiplesOfPayload)
{
    Harness h;
    for (uint32_t k = 1; k <= 5; k++) {
        Bytes m = pattern(1440 * k, k);
        h.send(0, k - 1, m, 1440);
        ASSERT_EQ(k, h.got.size());
        EXPECT_EQ(m, h.got.back().data);
    }
    // one byte more and one byte less than a multiple
    Bytes a = pattern(1440 * 3 + 1, 9), b = pattern(1440 * 3 - 1, 10);
    h.send(0, 5, a, 1440);
    h.send(0, 6, b, 1440);
    EXPECT_EQ(a, h.got[5].data);
    EXPECT_EQ(b, h.got[6].data);
    EXPECT_EQ(0u, reasm_pending(h.r));
    EXPECT_EQ(0u, reasm_held_bytes(h.r));
}

TEST(Reasm, MaximumSize)
{
    Harness h;
    Bytes m = pattern(1 << 16, 3);
    h.send(2, 0, m, 1440, {});
    ASSERT_EQ(1u, h.got.size());
    EXPECT_EQ(m, h.got[0].data);
    Bytes too_big = pattern((1 << 16) + 1, 3);
    EXPECT_EQ(WIRE_DROP_BAD_LENGTH, h.frag(2, 1, too_big, 0, 1440));
}

TEST(Reasm, OutOfOrderFragments)
{
    Harness h;
    Bytes m = pattern(1440 * 6 + 100, 4);
    std::vector<size_t> order{6, 2, 0, 5, 1, 4, 3};
    h.send(0, 0, m, 1440, order);
    ASSERT_EQ(1u, h.got.size());
    EXPECT_TRUE(h.got[0].owned);
    EXPECT_EQ(m, h.got[0].data);
    EXPECT_EQ(1, h.allocs);
}

TEST(Reasm, MissingMiddleFragmentBlocksOnlyItsFlow)
{
    Harness h;
    Bytes big = pattern(1440 * 5, 5);
    // flow 0: message 0 without fragment 2, then messages 1 and 2 (single fragments)
    h.send(0, 0, big, 1440, {0, 1, 3, 4});
    h.send(0, 1, pattern(10, 6), 1440);
    h.send(0, 2, pattern(20, 7), 1440);
    // flow 1 goes on meanwhile
    h.send(1, 0, pattern(30, 8), 1440);
    h.send(1, 1, pattern(3000, 9), 1440, {1, 2, 0});
    ASSERT_EQ(2u, h.got.size());
    EXPECT_EQ(1, h.got[0].flow);
    EXPECT_EQ(1, h.got[1].flow);
    EXPECT_EQ(3u, reasm_pending(h.r)); // flow 0: partial 0, complete 1 and 2 waiting
    // the missing fragment completes message 0 and releases 1 and 2 in order
    ASSERT_EQ(WIRE_OK, h.frag(0, 0, big, 2 * 1440, 1440));
    ASSERT_EQ(5u, h.got.size());
    EXPECT_EQ(big, h.got[2].data);
    EXPECT_EQ(1u, h.got[3].msg_seq);
    EXPECT_EQ(pattern(10, 6), h.got[3].data);
    EXPECT_EQ(2u, h.got[4].msg_seq);
    EXPECT_EQ(0u, reasm_pending(h.r));
    EXPECT_EQ(3u, reasm_next_msg_seq(h.r, 0));
}

TEST(Reasm, DirectDeliveryDrainsHeldFollowers)
{
    Harness h;
    h.send(3, 1, pattern(50, 1), 1440); // ahead: held (allocated copy)
    h.send(3, 2, pattern(60, 2), 1440);
    EXPECT_TRUE(h.got.empty());
    h.send(3, 0, pattern(40, 0), 1440); // next: direct, then 1 and 2
    ASSERT_EQ(3u, h.got.size());
    EXPECT_FALSE(h.got[0].owned);
    EXPECT_TRUE(h.got[1].owned);
    EXPECT_EQ(0u, h.got[0].msg_seq);
    EXPECT_EQ(1u, h.got[1].msg_seq);
    EXPECT_EQ(2u, h.got[2].msg_seq);
}

TEST(Reasm, OldMsgSeqIsStale)
{
    Harness h;
    // msg_seq is compared serially: 0xffffffff is "just before 0", i.e. already delivered
    for (uint32_t i = 0; i < 3; i++)
        h.send(0, i, pattern(5, i), 1440);
    EXPECT_EQ(WIRE_DROP_STALE_MSG, h.frag(0, 0xffffffffu, pattern(5, 0), 0, 5)); // = -1: old
    EXPECT_EQ(WIRE_DROP_STALE_MSG, h.frag(0, 2, pattern(5, 0), 0, 5));
}

TEST(Reasm, InconsistentMsgLen)
{
    Harness h;
    Bytes m = pattern(3000, 1);
    ASSERT_EQ(WIRE_OK, h.frag(0, 0, m, 0, 1440));
    Bytes other = pattern(4000, 1);
    EXPECT_EQ(WIRE_DROP_BAD_FRAGMENT, h.frag(0, 0, other, 1440, 1440));
    // more bytes than msg_len (overlap from a dishonest sender)
    ASSERT_EQ(WIRE_OK, h.frag(0, 0, m, 1440, 1440));
    EXPECT_EQ(WIRE_DROP_BAD_FRAGMENT, h.frag(0, 0, m, 1000, 1440));
    // range beyond msg_len
    EXPECT_EQ(WIRE_DROP_BAD_LENGTH, h.frag(0, 0, m, 2000, 1001));
    ASSERT_EQ(WIRE_OK, h.frag(0, 0, m, 2880, 120));
    ASSERT_EQ(1u, h.got.size());
    EXPECT_EQ(m, h.got[0].data);
    // a fragment of a message already delivered
    EXPECT_EQ(WIRE_DROP_STALE_MSG, h.frag(0, 0, m, 0, 1440));
}

TEST(Reasm, CompleteWaitingMessageRejectsMore)
{
    Harness h;
    Bytes m = pattern(100, 1);
    ASSERT_EQ(WIRE_OK, h.frag(0, 5, m, 0, 100)); // complete, waiting for 0..4
    EXPECT_EQ(WIRE_DROP_BAD_FRAGMENT, h.frag(0, 5, m, 0, 100));
}

TEST(Reasm, BadFlow)
{
    Harness h;
    EXPECT_EQ(WIRE_DROP_BAD_HEADER, h.frag(4, 0, pattern(5, 0), 0, 5));
    EXPECT_EQ(WIRE_DROP_BAD_LENGTH, h.frag(0, 0, pattern(5, 0), 0, 0));
}

TEST(Reasm, PendingBoundAtLimitButNextAlwaysFits)
{
    Harness h(reasm_params{2, 3, 1 << 20, 1 << 16, nullptr});
    // three messages ahead of flow 0's next are allowed, the fourth is not
    for (uint32_t i = 1; i <= 3; i++)
        h.send(0, i, pattern(10, i), 1440);
    EXPECT_EQ(3u, reasm_pending(h.r));
    EXPECT_EQ(WIRE_DROP_REASM_FULL, h.frag(0, 4, pattern(10, 4), 0, 10));
    EXPECT_EQ(WIRE_DROP_REASM_FULL, h.frag(1, 1, pattern(10, 4), 0, 10));
    // but each flow's next message still gets an entry (multi-fragment, out of order)
    Bytes m0 = pattern(3000, 0), m1 = pattern(3000, 1);
    ASSERT_EQ(WIRE_OK, h.frag(1, 0, m1, 1440, 1440));
    ASSERT_EQ(WIRE_OK, h.frag(0, 0, m0, 1440, 1440));
    EXPECT_EQ(5u, reasm_pending(h.r));
    h.send(0, 0, m0, 1440, {0, 2});
    h.send(1, 0, m1, 1440, {0, 2});
    ASSERT_EQ(5u, h.got.size()); // flow 0: 0..3; flow 1: 0
    EXPECT_EQ(0u, reasm_pending(h.r));
    h.send(0, 4, pattern(10, 4), 1440);
    EXPECT_EQ(6u, h.got.size());
}

TEST(Reasm, ByteBoundAtLimit)
{
    Harness h(reasm_params{2, 16, 10000, 5000, nullptr});
    Bytes a = pattern(5000, 1), b = pattern(5000, 2), c = pattern(1, 3);
    ASSERT_EQ(WIRE_OK, h.frag(0, 1, a, 0, 1440));
    ASSERT_EQ(WIRE_OK, h.frag(1, 1, b, 0, 1440));
    EXPECT_EQ(10000u, reasm_held_bytes(h.r));
    EXPECT_EQ(WIRE_DROP_NO_CREDIT, h.frag(0, 2, c, 0, 1)); // 10001 > 10000
    // direct delivery holds nothing, so it still works
    h.send(0, 0, pattern(7, 7), 1440);
    EXPECT_EQ(1u, h.got.size());
}

TEST(Reasm, CreditLimit)
{
    Harness h;
    reasm_set_credit_limit(h.r, 100);
    h.send(0, 0, pattern(60, 0), 1440);
    EXPECT_EQ(WIRE_DROP_NO_CREDIT, h.frag(0, 1, pattern(41, 1), 0, 41));
    EXPECT_EQ(WIRE_DROP_NO_CREDIT, h.frag(1, 3, pattern(41, 1), 0, 20)); // held ones too
    h.send(0, 1, pattern(40, 1), 1440);
    EXPECT_EQ(100u, reasm_started_bytes(h.r));
    reasm_set_credit_limit(h.r, 200);
    h.send(0, 2, pattern(100, 2), 1440);
    EXPECT_EQ(3u, h.got.size());
}

TEST(Reasm, AllocatorFailureIsRetryable)
{
    Harness h;
    Bytes m = pattern(3000, 1);
    h.fail_alloc = 1;
    EXPECT_EQ(WIRE_DROP_NO_MEMORY, h.frag(0, 0, m, 0, 1440));
    EXPECT_EQ(0u, reasm_pending(h.r));
    EXPECT_EQ(0u, reasm_started_bytes(h.r));
    h.send(0, 0, m, 1440);
    ASSERT_EQ(1u, h.got.size());
    EXPECT_EQ(m, h.got[0].data);
}

TEST(Reasm, DestroyFreesHeldBuffers)
{
    auto *h = new Harness;
    h->frag(0, 0, pattern(3000, 1), 0, 1440);
    h->frag(1, 7, pattern(30, 1), 0, 30);
    EXPECT_EQ(2u, h->live.size());
    delete h; // the destructor checks nothing leaked
}

// Two channels' reassemblers drawing from one node budget (cap 3000, messages up to 1000):
// a buffer takes its message's length until delivery; at the cap a first fragment is
// refused (NODE_BUDGET, nothing held: the sender retransmits) and admitted once a delivery
// gave memory back; a message that is not its flow's next may only use cap - 1000, so the
// next one always finds room and held messages never wait on each other.
TEST(Reasm, NodeBudgetSharedByChannels)
{
    struct budget b;
    budget_init(&b, 3000);
    Harness h1(reasm_params{4, 16, 1 << 20, 1000, &b}), h2(reasm_params{4, 16, 1 << 20, 1000, &b});
    Bytes a = pattern(1000, 1), c = pattern(1000, 2), d = pattern(1000, 3), e = pattern(500, 4);
    ASSERT_EQ(WIRE_OK, h1.frag(0, 0, a, 0, 250)); // next of flow 0: takes 1000
    ASSERT_EQ(WIRE_OK, h2.frag(0, 0, c, 0, 250));
    EXPECT_EQ(budget_used(&b), 2000u);
    // Not its flow's next: only up to 3000 - 1000.
    EXPECT_EQ(WIRE_DROP_NODE_BUDGET, h2.frag(0, 1, d, 0, 250));
    EXPECT_EQ(reasm_pending(h2.r), 1u);
    ASSERT_EQ(WIRE_OK, h1.frag(1, 0, d, 0, 250)); // a next message may use all of it
    EXPECT_EQ(budget_used(&b), 3000u);
    EXPECT_EQ(WIRE_DROP_NODE_BUDGET, h1.frag(2, 0, e, 0, 250)) << "at the cap";
    EXPECT_EQ(b.refusals, 2u);
    // Finishing a message delivers it and gives its memory back; the refused start goes in.
    for (uint32_t off = 250; off < 1000; off += 250)
        ASSERT_EQ(WIRE_OK, h1.frag(0, 0, a, off, 250));
    ASSERT_EQ(h1.got.size(), 1u);
    EXPECT_EQ(budget_used(&b), 2000u);
    h1.send(2, 0, e, 250);
    EXPECT_EQ(budget_used(&b), 2000u); // e came and went
    EXPECT_EQ(b.high_water, 3000u);
    // Out-of-order messages of one flow fill what they may; the next still gets in.
    struct budget b2;
    budget_init(&b2, 2000);
    {
        Harness h3(reasm_params{4, 16, 1 << 20, 1000, &b2});
        Bytes m0 = pattern(1000, 5), m1 = pattern(1000, 6), m2 = pattern(1000, 7);
        ASSERT_EQ(WIRE_OK, h3.frag(0, 1, m1, 0, 500));               // 1000 of 2000 - 1000
        EXPECT_EQ(WIRE_DROP_NODE_BUDGET, h3.frag(0, 2, m2, 0, 500)); // beyond cap - max_msg
        h3.send(0, 0, m0, 500);                                      // next: room kept for it
        ASSERT_EQ(WIRE_OK, h3.frag(0, 1, m1, 500, 500));
        ASSERT_EQ(h3.got.size(), 2u);
        h3.send(0, 2, m2, 500);
        ASSERT_EQ(h3.got.size(), 3u);
        ASSERT_EQ(WIRE_OK, h3.frag(0, 4, m1, 0, 500)); // held when the reasm goes
        EXPECT_EQ(budget_used(&b2), 1000u);
    }
    EXPECT_EQ(budget_used(&b2), 0u) << "destroy gives held buffers back";
}

TEST(Reasm, RandomisedManyFlows)
{
    Harness h(reasm_params{8, 256, 64 << 20, 1 << 20, nullptr});
    std::mt19937 rng(42);
    struct Frag {
        uint16_t flow;
        uint32_t seq;
        uint32_t off, len;
    };
    std::map<std::pair<int, uint32_t>, Bytes> msgs;
    std::vector<Frag> frags;
    for (uint16_t f = 0; f < 8; f++)
        for (uint32_t s = 0; s < 30; s++) {
            size_t len = 1 + rng() % 20000;
            Bytes m = pattern(len, f * 100 + s);
            for (uint32_t off = 0; off < len; off += 1440)
                frags.push_back({f, s, off, std::min<uint32_t>(1440, uint32_t(len) - off)});
            msgs[{f, s}] = m;
        }
    // shuffle within a sliding window: bounded reordering like a real link
    for (size_t i = 0; i < frags.size(); i++)
        std::swap(frags[i], frags[std::min(frags.size() - 1, i + rng() % 64)]);
    for (const Frag &fr : frags)
        ASSERT_EQ(WIRE_OK, h.frag(fr.flow, fr.seq, msgs[{fr.flow, fr.seq}], fr.off, fr.len));
    ASSERT_EQ(8u * 30, h.got.size());
    std::map<int, uint32_t> next;
    for (const Delivered &d : h.got) {
        EXPECT_EQ(next[d.flow]++, d.msg_seq);
        EXPECT_EQ((msgs[{d.flow, d.msg_seq}]), d.data);
    }
    EXPECT_EQ(0u, reasm_pending(h.r));
}

} // namespace
