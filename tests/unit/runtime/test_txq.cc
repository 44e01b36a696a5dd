// Tests for runtime/carrier_tcp/txq.c, the TCP carrier's send queue, without a socket: the
// queue is drained by a simulated writer (txq_gather, then "writing" some bytes of what it
// gave, txq_advance), the byte stream is parsed back into packets and reassembled with
// control/distmsg's reassembler, and the order is checked against the rules of txq.h:
//  - one sender's messages keep their order, fragmented or not;
//  - lanes: the tick first, then whole messages, then the next fragment: whole messages of
//    other senders go before the next fragment of a fragmented one; one of its own sender
//    does not;
//  - fragmented messages of different senders interleave fragment by fragment, within the
//    interleaving bound;
//  - nothing passes a barrier, and it passes nothing;
//  - the stream is the same whatever sizes the socket takes;
//  - admission counts whole and fragmented bytes apart; dropping releases every buffer.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

extern "C" {
#include "control/distmsg.h"
#include "runtime/carrier_tcp/txq.h"
#include "runtime/core/obuf.h"
}

namespace
{

// A message body: 131 'D' 0, then a marker (sender, sequence) and filler up to `len`.
struct Msg {
    uint64_t sender;
    uint32_t seq;
    size_t len;
};

obuf *make(const Msg &m)
{
    std::vector<uint8_t> body(m.len < 16 ? 16 : m.len, uint8_t(m.seq));
    body[0] = 131;
    body[1] = 'D';
    body[2] = 0;
    memcpy(body.data() + 3, &m.sender, 8);
    memcpy(body.data() + 11, &m.seq, 4);
    return obuf_from_bytes(body.data(), body.size(), m.sender, 2);
}

// What came out: packets in stream order, as messages (sender, seq) or markers.
struct Event {
    std::string kind; // "msg", "frag" (a fragment of a message not complete yet), "tick"
    uint64_t sender = 0;
    uint32_t seq = 0;
    uint64_t frag_seq = 0;
};

// Drains q with writes of the sizes `sizes` gives (cycled), returns the written stream.
std::vector<uint8_t> drain(txq *q, const std::vector<size_t> &sizes)
{
    std::vector<uint8_t> out;
    size_t k = 0;
    for (int guard = 0; !txq_empty(q) && guard < 1000000; guard++) {
        iovec iov[8];
        int n = txq_gather(q, iov, 8);
        EXPECT_GT(n, 0);
        size_t want = sizes[k++ % sizes.size()], written = 0;
        for (int i = 0; i < n && written < want; i++) {
            size_t take = std::min(iov[i].iov_len, want - written);
            const uint8_t *p = static_cast<const uint8_t *>(iov[i].iov_base);
            out.insert(out.end(), p, p + take);
            written += take;
        }
        txq_advance(q, written);
    }
    return out;
}

// Parses the stream; every packet well framed, every fragment in order (the reassembler
// refuses what OTP's would).
std::vector<Event> parse(const std::vector<uint8_t> &stream)
{
    std::vector<Event> ev;
    distmsg_reasm ra;
    EXPECT_EQ(distmsg_reasm_init(&ra, TXQ_INFLIGHT_MAX, 64u << 20), DISTMSG_OK);
    size_t off = 0;
    while (off < stream.size()) {
        distmsg_frame f;
        EXPECT_EQ(distmsg_frame_next(stream.data() + off, stream.size() - off, 64u << 20, &f),
                  DISTMSG_OK);
        off += f.total;
        if (f.len == 0) {
            ev.push_back({"tick"});
            continue;
        }
        distmsg_hdr h;
        EXPECT_EQ(distmsg_header_decode(f.data, f.len, &h), DISTMSG_OK);
        distmsg_body body;
        bool complete = false;
        EXPECT_EQ(distmsg_reasm_feed(&ra, f.data, f.len, &body, &complete), DISTMSG_OK);
        Event e;
        e.frag_seq = h.kind == DISTMSG_HDR_NORMAL ? 0 : h.seq_id;
        if (complete) {
            e.kind = "msg";
            EXPECT_GE(body.len, 12u);
            memcpy(&e.sender, body.data, 8);
            memcpy(&e.seq, body.data + 8, 4);
        } else {
            e.kind = h.kind == DISTMSG_HDR_FRAG_START ? "start" : "frag";
        }
        ev.push_back(e);
    }
    distmsg_reasm_fini(&ra);
    return ev;
}

class Txq : public ::testing::Test
{
  protected:
    obuf *tick = nullptr;
    txq q;
    std::vector<obuf *> bufs;

    void SetUp() override
    {
        static const uint8_t none[1] = {0};
        tick = obuf_from_bytes(none, 0, 0, 0);
        txq_init(&q, tick, 64u << 20);
    }
    void TearDown() override
    {
        txq_drop_all(&q);
        for (obuf *b : bufs)
            obuf_unref(b);
        obuf_unref(tick);
    }
    // Queues m whole or, when it is large enough, in fragments (as tcpc.c does toward a
    // peer that takes them).
    void push(const Msg &m, bool barrier = false)
    {
        obuf *b = make(m);
        bufs.push_back(b);
        ASSERT_TRUE(txq_push(&q, b, 0, barrier, !barrier && txq_fragmentable(b)));
    }
    void push_tick()
    {
        ASSERT_TRUE(txq_push(&q, tick, 0, false, false));
    }
    // Index in ev of the complete message (sender, seq), -1 if absent.
    static int at(const std::vector<Event> &ev, uint64_t sender, uint32_t seq)
    {
        for (size_t i = 0; i < ev.size(); i++)
            if (ev[i].kind == "msg" && ev[i].sender == sender && ev[i].seq == seq)
                return int(i);
        return -1;
    }
};

const size_t BIG = 5 * TXQ_FRAG_DATA_BYTES + 123; // six fragments
const size_t SMALL = 100;

TEST_F(Txq, OtherSendersPassAFragmentedMessageItsOwnSenderDoesNot)
{
    push({1, 0, BIG});
    push({2, 0, SMALL});
    push({1, 1, SMALL});
    push({3, 0, SMALL});
    auto ev = parse(drain(&q, {1u << 30}));
    int big = at(ev, 1, 0), other = at(ev, 2, 0), own = at(ev, 1, 1), third = at(ev, 3, 0);
    ASSERT_GE(big, 0);
    ASSERT_GE(other, 0);
    ASSERT_GE(own, 0);
    ASSERT_GE(third, 0);
    EXPECT_EQ(other, 0) << "whole messages go before the next fragment";
    EXPECT_EQ(third, 1) << "a message behind the big one's own sender waits for it";
    EXPECT_EQ(ev[2].kind, "start");
    EXPECT_GT(own, big) << "the big message's own sender overtook it";
}

// A whole message pushed while a fragmented one is being written goes at the next fragment
// boundary, not after the next fragment.
TEST_F(Txq, WholeMessagesGoBeforeTheNextFragment)
{
    push({1, 0, BIG});
    iovec iov[8];
    int n = txq_gather(&q, iov, 8);
    ASSERT_EQ(n, 2); // the first fragment's header and data
    std::vector<uint8_t> stream(static_cast<uint8_t *>(iov[0].iov_base),
                                static_cast<uint8_t *>(iov[0].iov_base) + iov[0].iov_len);
    stream.insert(stream.end(), static_cast<uint8_t *>(iov[1].iov_base),
                  static_cast<uint8_t *>(iov[1].iov_base) + 10);
    txq_advance(&q, iov[0].iov_len + 10); // the header and 10 bytes of data
    push({2, 0, SMALL});
    push_tick();
    auto rest = drain(&q, {1u << 30});
    stream.insert(stream.end(), rest.begin(), rest.end());
    auto ev = parse(stream);
    ASSERT_GE(ev.size(), 4u);
    EXPECT_EQ(ev[0].kind, "start");
    EXPECT_EQ(ev[1].kind, "tick");
    EXPECT_EQ(at(ev, 2, 0), 2);
    EXPECT_EQ(ev[3].kind, "frag");
}

TEST_F(Txq, LargeMessagesOfDifferentSendersInterleaveFragmentByFragment)
{
    push({1, 0, BIG});
    push({2, 0, BIG});
    push({3, 0, BIG});
    push({1, 1, SMALL}); // waits for sender 1's big one
    auto ev = parse(drain(&q, {1u << 30}));
    std::vector<uint64_t> seqs;
    for (const Event &e : ev)
        if (e.frag_seq)
            seqs.push_back(e.frag_seq);
    ASSERT_EQ(seqs.size(), 18u);
    for (size_t i = 0; i < seqs.size(); i++)
        EXPECT_EQ(seqs[i], 1 + i % 3) << "fragment " << i << ": not round robin";
    int own = at(ev, 1, 1);
    EXPECT_GT(own, at(ev, 1, 0)) << "a sender's small message overtook its large one";
    EXPECT_LT(own, at(ev, 2, 0)) << "released at once when its large one ended";
}

// The receiver holds every message in flight: a message starts only within the bound
// (FragmentIds x 64 KiB together), or when none is in flight.
TEST_F(Txq, InterleavingStaysWithinTheReceiversBound)
{
    txq_drop_all(&q);
    txq_init(&q, tick, 2 * 6 * TXQ_FRAG_DATA_BYTES); // room for two of six fragments
    push({1, 0, BIG});
    push({2, 0, BIG});
    push({3, 0, BIG});
    push({4, 0, 30 * TXQ_FRAG_DATA_BYTES}); // larger than the bound alone
    auto ev = parse(drain(&q, {1u << 30}));
    std::map<uint64_t, bool> open;
    size_t max_open = 0, with_four = 0;
    for (const Event &e : ev) {
        if (e.kind == "start")
            open[e.frag_seq] = true;
        else if (e.kind == "msg" && e.frag_seq)
            open.erase(e.frag_seq);
        max_open = std::max(max_open, open.size());
        if (open.count(4) && open.size() > 1)
            with_four++;
    }
    EXPECT_EQ(max_open, 2u);
    EXPECT_EQ(with_four, 0u) << "the message larger than the bound started beside another";
    for (uint64_t s = 1; s <= 4; s++)
        EXPECT_GE(at(ev, s, 0), 0) << "sender " << s << "'s message never went";
}

TEST_F(Txq, NoMoreThanInflightMaxMessagesStartedAtOnce)
{
    // A byte bound that never binds: the count cap alone holds the interleaving.
    const uint64_t senders = TXQ_INFLIGHT_MAX + 4;
    for (uint64_t s = 1; s <= senders; s++)
        push({s, 0, 2 * TXQ_FRAG_DATA_BYTES + 1}); // three fragments each
    auto ev = parse(drain(&q, {1u << 30}));
    std::map<uint64_t, bool> open;
    size_t max_open = 0;
    for (const Event &e : ev) {
        if (e.kind == "start")
            open[e.frag_seq] = true;
        else if (e.kind == "msg" && e.frag_seq)
            open.erase(e.frag_seq);
        max_open = std::max(max_open, open.size());
    }
    EXPECT_EQ(max_open, size_t(TXQ_INFLIGHT_MAX));
    for (uint64_t s = 1; s <= senders; s++)
        EXPECT_GE(at(ev, s, 0), 0) << "sender " << s << "'s message never went";
}

TEST_F(Txq, NothingPassesABarrierAndItPassesNothing)
{
    push({1, 0, BIG});
    push({1, 1, SMALL}); // waits for its sender's big one, and is still ahead of the barrier
    push({7, 0, SMALL}, /*barrier*/ true);
    push({2, 0, SMALL});
    auto ev = parse(drain(&q, {1u << 30}));
    int big = at(ev, 1, 0), own = at(ev, 1, 1), barrier = at(ev, 7, 0), after = at(ev, 2, 0);
    ASSERT_GE(big, 0);
    ASSERT_GE(own, 0);
    ASSERT_GE(barrier, 0);
    ASSERT_GE(after, 0);
    EXPECT_LT(big, own);
    EXPECT_LT(own, barrier) << "a message pushed before the barrier went after it";
    EXPECT_LT(barrier, after) << "a message moved ahead of the barrier";
}

TEST_F(Txq, TheTickGoesFirst)
{
    push({0, 0, BIG}); // the tick's own sender tag: it passes anyway
    push({2, 0, SMALL});
    push_tick();
    push_tick(); // one pending tick says it all
    auto ev = parse(drain(&q, {1u << 30}));
    ASSERT_GE(ev.size(), 3u);
    EXPECT_EQ(ev[0].kind, "tick") << "the tick waited";
    EXPECT_EQ(at(ev, 2, 0), 1);
    EXPECT_EQ(ev[2].kind, "start");
    EXPECT_EQ(std::count_if(ev.begin(), ev.end(), [](const Event &e) { return e.kind == "tick"; }), 1);
}

// A tick its sender wrote in part (straight to the socket, the queue empty) is finished
// from there, before anything else.
TEST_F(Txq, APartlyWrittenTickIsFinishedFirst)
{
    ASSERT_TRUE(txq_push(&q, tick, 3, false, false)); // 3 of its 4 bytes went out
    push({2, 0, SMALL});
    std::vector<uint8_t> stream = {0, 0, 0}; // what its sender wrote
    auto rest = drain(&q, {1u << 30});
    stream.insert(stream.end(), rest.begin(), rest.end());
    auto ev = parse(stream);
    ASSERT_EQ(ev.size(), 2u);
    EXPECT_EQ(ev[0].kind, "tick");
    EXPECT_EQ(at(ev, 2, 0), 1);
}

TEST_F(Txq, OrderPerSenderHoldsWhateverTheSocketTakes)
{
    std::mt19937 rng(7);
    std::vector<Msg> msgs;
    std::map<uint64_t, uint32_t> next;
    for (int i = 0; i < 200; i++) {
        uint64_t s = 1 + rng() % 5;
        size_t len = rng() % 10 == 0 ? TXQ_FRAG_DATA_BYTES * (1 + rng() % 3) + rng() % 999
                                     : 16 + rng() % 3000;
        msgs.push_back({s, next[s]++, len});
    }
    std::vector<uint8_t> whole;
    for (const auto &sizes : std::vector<std::vector<size_t>>{
             {1u << 30}, {1}, {7, 1000, 3}, {TXQ_FRAG_DATA_BYTES - 1}, {65536 + 19}}) {
        txq_drop_all(&q);
        txq_init(&q, tick, 64u << 20); /* the same SequenceIds each run */
        for (const Msg &m : msgs)
            push(m);
        if (sizes.size() == 1 && sizes[0] == 1)
            continue; // byte by byte over 200 messages: slow, covered by {7, 1000, 3}
        auto stream = drain(&q, sizes);
        if (whole.empty()) {
            whole = stream;
        } else {
            size_t d = 0;
            while (d < stream.size() && d < whole.size() && stream[d] == whole[d])
                d++;
            EXPECT_EQ(d, whole.size()) << "the order depends on how much the socket took: "
                                       << "streams differ from byte " << d << " of "
                                       << whole.size() << " (" << stream.size() << ")";
        }
        auto ev = parse(stream);
        std::map<uint64_t, uint32_t> seen;
        size_t got = 0;
        for (const Event &e : ev) {
            if (e.kind != "msg")
                continue;
            EXPECT_EQ(e.seq, seen[e.sender]++) << "sender " << e.sender;
            got++;
        }
        EXPECT_EQ(got, msgs.size());
        EXPECT_EQ(q.bytes, 0u);
        EXPECT_EQ(q.frag_bytes, 0u);
    }
}

TEST_F(Txq, AdmissionCountsWholeAndFragmentedBytesApart)
{
    push({1, 0, BIG});
    push({2, 0, SMALL});
    obuf *small = bufs.back();
    size_t big_data = BIG - DISTMSG_HDR_NORMAL_LEN;
    EXPECT_EQ(q.frag_bytes, big_data);
    EXPECT_EQ(txq_bytes_for(&q, true), big_data + small->len);
    EXPECT_EQ(txq_bytes_for(&q, false), small->len) << "a whole message waits for the big one";
    // partly written: the counts follow
    iovec iov[8];
    int n = txq_gather(&q, iov, 8);
    ASSERT_EQ(n, 3); // the small message, the first fragment's header and data
    txq_advance(&q, iov[0].iov_len + iov[1].iov_len + iov[2].iov_len);
    EXPECT_EQ(q.frag_bytes, big_data - TXQ_FRAG_DATA_BYTES);
    EXPECT_EQ(txq_bytes_for(&q, false), 0u);
    EXPECT_EQ(txq_bytes_for(&q, true), big_data - TXQ_FRAG_DATA_BYTES);
}

TEST_F(Txq, DroppingReleasesEveryBuffer)
{
    push({1, 0, BIG});
    push({2, 0, SMALL});
    for (obuf *b : bufs)
        EXPECT_EQ(b->dp.refcnt.load(), 2u); // ours and the queue's
    iovec iov[8];
    txq_gather(&q, iov, 8);
    txq_advance(&q, 10); // in the middle of the first fragment's header
    txq_drop_all(&q);
    EXPECT_TRUE(txq_empty(&q));
    EXPECT_EQ(q.bytes, 0u);
    for (obuf *b : bufs)
        EXPECT_EQ(b->dp.refcnt.load(), 1u);
}

} // namespace
