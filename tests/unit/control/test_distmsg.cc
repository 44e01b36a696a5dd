// Tests for control/distmsg.c and control/distmsg_reasm.c: framing, headers, reassembly,
// control message decoding (terms built with libei here), encoder round trips, and garbage.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include <ei.h>

#include "common/bigbuf.h"
#include "common/budget.h"
#include "control/distmsg.h"
#include "tests/lib/bytes.h"

namespace
{

using Bytes = std::vector<uint8_t>;

using testbytes::be;
using testbytes::cat;

// --- terms --------------------------------------------------------------------------------

erlang_pid make_pid(const char *node, unsigned num, unsigned creation = 0x5eed)
{
    erlang_pid p;
    memset(&p, 0, sizeof(p));
    strcpy(p.node, node);
    p.num = num;
    p.serial = 3;
    p.creation = creation;
    return p;
}

erlang_ref make_ref(const char *node, unsigned a, int len = 3)
{
    erlang_ref r;
    memset(&r, 0, sizeof(r));
    strcpy(r.node, node);
    r.len = len;
    for (int i = 0; i < len; i++)
        r.n[i] = a + i;
    r.creation = 0x5eed;
    return r;
}

void expect_pid(const erlang_pid &got, const erlang_pid &want)
{
    EXPECT_STREQ(got.node, want.node);
    EXPECT_EQ(got.num, want.num);
    EXPECT_EQ(got.serial, want.serial);
    EXPECT_EQ(got.creation, want.creation);
}

void expect_ref(const erlang_ref &got, const erlang_ref &want)
{
    EXPECT_STREQ(got.node, want.node);
    ASSERT_EQ(got.len, want.len);
    for (int i = 0; i < want.len; i++)
        EXPECT_EQ(got.n[i], want.n[i]);
    EXPECT_EQ(got.creation, want.creation);
}

// An ei_x_buff that frees itself; terms are appended without version bytes.
struct X {
    ei_x_buff x;
    X()
    {
        ei_x_new(&x);
    }
    ~X()
    {
        ei_x_free(&x);
    }
    X &tuple(int n)
    {
        EXPECT_EQ(ei_x_encode_tuple_header(&x, n), 0);
        return *this;
    }
    X &lng(long v)
    {
        EXPECT_EQ(ei_x_encode_long(&x, v), 0);
        return *this;
    }
    X &ull(unsigned long long v)
    {
        EXPECT_EQ(ei_x_encode_ulonglong(&x, v), 0);
        return *this;
    }
    X &atom(const char *a)
    {
        EXPECT_EQ(ei_x_encode_atom_len_as(&x, a, strlen(a), ERLANG_UTF8, ERLANG_UTF8), 0);
        return *this;
    }
    X &pid(const erlang_pid &p)
    {
        EXPECT_EQ(ei_x_encode_pid(&x, &p), 0);
        return *this;
    }
    X &ref(const erlang_ref &r)
    {
        EXPECT_EQ(ei_x_encode_ref(&x, &r), 0);
        return *this;
    }
    X &nil()
    {
        EXPECT_EQ(ei_x_encode_empty_list(&x), 0);
        return *this;
    }
    X &str(const char *s)
    {
        EXPECT_EQ(ei_x_encode_string(&x, s), 0);
        return *this;
    }
    Bytes bytes() const
    {
        return Bytes((const uint8_t *)x.buff, (const uint8_t *)x.buff + x.index);
    }
};

// The encoded bytes of a small term, without version byte.
Bytes term_atom(const char *a)
{
    X t;
    t.atom(a);
    return t.bytes();
}

Bytes term_token()
{
    X t; // a seq-trace token shape: {Flags, Label, Serial, From, Prev}
    t.tuple(5).lng(1).lng(2).lng(3).pid(make_pid("tracer@host", 9)).lng(4);
    return t.bytes();
}

struct Decoded {
    enum distmsg_result r;
    struct distmsg_ctl ctl;
    Bytes body;
    Bytes span(const struct distmsg_span &s) const
    {
        return Bytes(body.begin() + s.off, body.begin() + s.off + s.len);
    }
};

Decoded *decode(const Bytes &body, bool versioned = false)
{
    static Decoded d; // distmsg_ctl is big: keep it off the stack
    d.body = body;
    struct distmsg_body b = {d.body.data(), d.body.size(), versioned};
    d.r = distmsg_decode(&b, &d.ctl);
    return &d;
}

const erlang_pid kFrom = make_pid("alice@host", 11);
const erlang_pid kTo = make_pid("bob@host", 22);
const erlang_ref kRef = make_ref("bob@host", 100);

// --- framing ------------------------------------------------------------------------------

TEST(DistmsgFrame, SplitsPacketsAndTicks)
{
    Bytes stream = cat({be(3, 4), {1, 2, 3}, be(0, 4), be(1, 4), {9}, be(5, 4), {1, 2}});
    size_t off = 0;
    struct distmsg_frame f;
    ASSERT_EQ(distmsg_frame_next(stream.data() + off, stream.size() - off, 100, &f), DISTMSG_OK);
    EXPECT_EQ(f.len, 3u);
    EXPECT_EQ(f.data[0], 1);
    EXPECT_EQ(f.total, 7u);
    off += f.total;
    ASSERT_EQ(distmsg_frame_next(stream.data() + off, stream.size() - off, 100, &f), DISTMSG_OK);
    EXPECT_EQ(f.len, 0u); // tick
    off += f.total;
    ASSERT_EQ(distmsg_frame_next(stream.data() + off, stream.size() - off, 100, &f), DISTMSG_OK);
    EXPECT_EQ(f.len, 1u);
    off += f.total;
    EXPECT_EQ(distmsg_frame_next(stream.data() + off, stream.size() - off, 100, &f),
              DISTMSG_E_NEED_MORE);
    EXPECT_EQ(distmsg_frame_next(stream.data(), 3, 100, &f), DISTMSG_E_NEED_MORE);
}

TEST(DistmsgFrame, SizeLimit)
{
    struct distmsg_frame f;
    Bytes at = cat({be(64, 4), Bytes(64, 0)});
    EXPECT_EQ(distmsg_frame_next(at.data(), at.size(), 64, &f), DISTMSG_OK);
    Bytes over = be(65, 4); // refused from the length alone
    EXPECT_EQ(distmsg_frame_next(over.data(), over.size(), 64, &f), DISTMSG_E_FRAME_SIZE);
    Bytes huge = be(0xffffffff, 4);
    EXPECT_EQ(distmsg_frame_next(huge.data(), huge.size(), 1 << 20, &f), DISTMSG_E_FRAME_SIZE);
    uint8_t len[4];
    distmsg_frame_put_len(len, 0x01020304);
    EXPECT_EQ(Bytes(len, len + 4), Bytes({1, 2, 3, 4}));
}

// --- headers ------------------------------------------------------------------------------

TEST(DistmsgHeader, EveryKind)
{
    struct distmsg_hdr h;
    Bytes p = {112, 131, 106};
    ASSERT_EQ(distmsg_header_decode(p.data(), p.size(), &h), DISTMSG_OK);
    EXPECT_EQ(h.kind, DISTMSG_HDR_PASS_THROUGH);
    EXPECT_EQ(h.len, 1u);
    Bytes d = {131, 68, 0, 106};
    ASSERT_EQ(distmsg_header_decode(d.data(), d.size(), &h), DISTMSG_OK);
    EXPECT_EQ(h.kind, DISTMSG_HDR_NORMAL);
    EXPECT_EQ(h.len, 3u);
    Bytes e = cat({{131, 69}, be(0x0102030405060708, 8), be(3, 8), {0}});
    ASSERT_EQ(distmsg_header_decode(e.data(), e.size(), &h), DISTMSG_OK);
    EXPECT_EQ(h.kind, DISTMSG_HDR_FRAG_START);
    EXPECT_EQ(h.seq_id, 0x0102030405060708u);
    EXPECT_EQ(h.frag_id, 3u);
    EXPECT_EQ(h.len, 19u);
    Bytes f = cat({{131, 70}, be(7, 8), be(2, 8)});
    ASSERT_EQ(distmsg_header_decode(f.data(), f.size(), &h), DISTMSG_OK);
    EXPECT_EQ(h.kind, DISTMSG_HDR_FRAG_CONT);
    EXPECT_EQ(h.frag_id, 2u);
    EXPECT_EQ(h.len, 18u);
}

TEST(DistmsgHeader, Errors)
{
    struct distmsg_hdr h;
    EXPECT_EQ(distmsg_header_decode(nullptr, 0, &h), DISTMSG_E_EMPTY);
    Bytes bad = {130, 68, 0};
    EXPECT_EQ(distmsg_header_decode(bad.data(), bad.size(), &h), DISTMSG_E_HEADER);
    Bytes bad2 = {131, 71, 0};
    EXPECT_EQ(distmsg_header_decode(bad2.data(), bad2.size(), &h), DISTMSG_E_HEADER);
    Bytes cache = {131, 68, 1, 0, 0, 100};
    EXPECT_EQ(distmsg_header_decode(cache.data(), cache.size(), &h), DISTMSG_E_ATOM_CACHE);
    Bytes ecache = cat({{131, 69}, be(1, 8), be(2, 8), {2}});
    EXPECT_EQ(distmsg_header_decode(ecache.data(), ecache.size(), &h), DISTMSG_E_ATOM_CACHE);
    Bytes zero = cat({{131, 70}, be(1, 8), be(0, 8)});
    EXPECT_EQ(distmsg_header_decode(zero.data(), zero.size(), &h), DISTMSG_E_FRAG_ID);
    Bytes zero_e = cat({{131, 69}, be(1, 8), be(0, 8), {0}});
    EXPECT_EQ(distmsg_header_decode(zero_e.data(), zero_e.size(), &h), DISTMSG_E_FRAG_ID);
    // Every truncation of each header kind is "short".
    for (const Bytes &full : {Bytes{131, 68, 0}, cat({{131, 69}, be(1, 8), be(2, 8), {0}}),
                              cat({{131, 70}, be(1, 8), be(2, 8)})}) {
        for (size_t cut = 1; cut < full.size(); cut++) {
            Bytes p(full.begin(), full.begin() + cut);
            EXPECT_EQ(distmsg_header_decode(p.data(), p.size(), &h), DISTMSG_E_HEADER_SHORT) << cut;
        }
    }
}

TEST(DistmsgHeader, FragmentHeadersEncodeAndDecodeBack)
{
    for (uint64_t id : {uint64_t(1), uint64_t(1) << 32, ~uint64_t(0)}) {
        for (auto kind : {DISTMSG_HDR_FRAG_START, DISTMSG_HDR_FRAG_CONT}) {
            uint8_t out[DISTMSG_HDR_FRAG_MAX_LEN + 1];
            memset(out, 0xee, sizeof(out));
            size_t n = distmsg_frag_header_encode(out, sizeof(out), kind, id * 3, id);
            ASSERT_EQ(n, kind == DISTMSG_HDR_FRAG_START ? 19u : 18u);
            EXPECT_EQ(out[n], 0xee) << "wrote past its length";
            struct distmsg_hdr h;
            ASSERT_EQ(distmsg_header_decode(out, n, &h), DISTMSG_OK) << id;
            EXPECT_EQ(h.kind, kind);
            EXPECT_EQ(h.seq_id, id * 3);
            EXPECT_EQ(h.frag_id, id);
            EXPECT_EQ(h.len, n);
        }
    }
    // byte for byte what OTP's erl_ext_dist describes
    uint8_t out[DISTMSG_HDR_FRAG_MAX_LEN];
    ASSERT_EQ(distmsg_frag_header_encode(out, sizeof(out), DISTMSG_HDR_FRAG_START,
                                         0x0102030405060708, 3),
              19u);
    EXPECT_EQ(Bytes(out, out + 19), cat({{131, 69}, be(0x0102030405060708, 8), be(3, 8), {0}}));
    ASSERT_EQ(distmsg_frag_header_encode(out, sizeof(out), DISTMSG_HDR_FRAG_CONT, 7, 2), 18u);
    EXPECT_EQ(Bytes(out, out + 18), cat({{131, 70}, be(7, 8), be(2, 8)}));
    // refused, nothing written: a short buffer, fragment id 0, not a fragment kind
    memset(out, 0xee, sizeof(out));
    EXPECT_EQ(distmsg_frag_header_encode(out, 18, DISTMSG_HDR_FRAG_START, 1, 1), 0u);
    EXPECT_EQ(distmsg_frag_header_encode(out, 17, DISTMSG_HDR_FRAG_CONT, 1, 1), 0u);
    EXPECT_EQ(distmsg_frag_header_encode(out, sizeof(out), DISTMSG_HDR_FRAG_CONT, 1, 0), 0u);
    EXPECT_EQ(distmsg_frag_header_encode(out, sizeof(out), DISTMSG_HDR_NORMAL, 1, 1), 0u);
    EXPECT_EQ(out[0], 0xee);
}

TEST(DistmsgHeader, PlainNormalHeader)
{
    Bytes d = {131, 68, 0, 104, 2};
    EXPECT_TRUE(distmsg_is_plain_normal_header(d.data(), d.size()));
    EXPECT_TRUE(distmsg_is_plain_normal_header(d.data(), 3));
    EXPECT_FALSE(distmsg_is_plain_normal_header(d.data(), 2));
    Bytes cache = {131, 68, 1, 0, 0, 100};
    EXPECT_FALSE(distmsg_is_plain_normal_header(cache.data(), cache.size()));
    Bytes pass = {112, 131, 106};
    EXPECT_FALSE(distmsg_is_plain_normal_header(pass.data(), pass.size()));
    Bytes e = cat({{131, 69}, be(1, 8), be(2, 8), {0}});
    EXPECT_FALSE(distmsg_is_plain_normal_header(e.data(), e.size()));
}

// --- reassembly ---------------------------------------------------------------------------

Bytes frag_start(uint64_t seq, uint64_t id, const Bytes &body)
{
    return cat({{131, 69}, be(seq, 8), be(id, 8), {0}, body});
}

Bytes frag_cont(uint64_t seq, uint64_t id, const Bytes &body)
{
    return cat({{131, 70}, be(seq, 8), be(id, 8), body});
}

struct Reasm {
    struct distmsg_reasm r;
    Reasm(size_t seqs, size_t bytes)
    {
        EXPECT_EQ(distmsg_reasm_init(&r, seqs, bytes), DISTMSG_OK);
    }
    ~Reasm()
    {
        distmsg_reasm_fini(&r);
    }
    // Feed; returns the result and the completed body (empty if incomplete).
    enum distmsg_result feed(const Bytes &pkt, Bytes *done = nullptr, bool *versioned = nullptr)
    {
        struct distmsg_body b;
        bool complete = false;
        enum distmsg_result res = distmsg_reasm_feed(&r, pkt.data(), pkt.size(), &b, &complete);
        if (done != nullptr) {
            done->clear();
            if (res == DISTMSG_OK && complete)
                done->assign(b.data, b.data + b.len);
        }
        if (versioned != nullptr && complete)
            *versioned = b.versioned;
        if (res == DISTMSG_OK && !complete) {
            EXPECT_TRUE(done == nullptr || done->empty());
        }
        return res;
    }
    // Direct placement of pkt, of which the first `have` bytes are at hand: the rest is
    // written where distmsg_reasm_place says, as the TCP carrier's read does. *taken: the
    // completed message's buffer, taken over (the body must lie in it).
    enum distmsg_result place(const Bytes &pkt, size_t have, Bytes *done = nullptr,
                              bool take = false)
    {
        struct distmsg_place p;
        enum distmsg_result res = distmsg_reasm_place(&r, pkt.data(), have, pkt.size(), &p);
        if (done != nullptr)
            done->clear();
        if (res != DISTMSG_OK)
            return res;
        EXPECT_EQ(p.left, pkt.size() - have);
        if (p.left)
            memcpy(p.dst, pkt.data() + have, p.left);
        struct distmsg_body b;
        bool complete = false;
        distmsg_reasm_placed(&r, &b, &complete);
        if (complete && done != nullptr)
            done->assign(b.data, b.data + b.len);
        if (complete && take) {
            uint8_t *buf = static_cast<uint8_t *>(distmsg_reasm_take(&r));
            EXPECT_EQ(buf, b.data) << "the body is the taken buffer, not a copy";
            bigbuf_free(buf);
        }
        return res;
    }
};

TEST(DistmsgReasm, UnfragmentedPassThrough)
{
    Reasm ra(4, 1024);
    Bytes out;
    bool v = true;
    ASSERT_EQ(ra.feed({131, 68, 0, 106}, &out, &v), DISTMSG_OK);
    EXPECT_EQ(out, Bytes({106}));
    EXPECT_FALSE(v);
    ASSERT_EQ(ra.feed({112, 131, 106}, &out, &v), DISTMSG_OK);
    EXPECT_EQ(out, Bytes({131, 106}));
    EXPECT_TRUE(v);
    ASSERT_EQ(ra.feed(frag_start(5, 1, {1, 2}), &out), DISTMSG_OK); // one-fragment message
    EXPECT_EQ(out, Bytes({1, 2}));
    EXPECT_EQ(ra.r.in_flight, 0u);
    EXPECT_EQ(ra.r.bytes, 0u);
}

TEST(DistmsgReasm, InterleavedSequences)
{
    Reasm ra(4, 1024);
    Bytes out;
    ASSERT_EQ(ra.feed(frag_start(1, 3, {'a', '1'}), &out), DISTMSG_OK);
    EXPECT_TRUE(out.empty());
    ASSERT_EQ(ra.feed(frag_start(2, 2, {'b', '1'}), &out), DISTMSG_OK);
    EXPECT_EQ(ra.r.in_flight, 2u);
    ASSERT_EQ(ra.feed(frag_cont(1, 2, {'a', '2'}), &out), DISTMSG_OK);
    EXPECT_TRUE(out.empty());
    ASSERT_EQ(ra.feed(frag_cont(2, 1, {'b', '2'}), &out), DISTMSG_OK);
    EXPECT_EQ(out, Bytes({'b', '1', 'b', '2'}));
    ASSERT_EQ(ra.feed({131, 68, 0, 106}, &out), DISTMSG_OK); // unfragmented in between
    EXPECT_EQ(out, Bytes({106}));
    ASSERT_EQ(ra.feed(frag_cont(1, 1, {'a', '3'}), &out), DISTMSG_OK);
    EXPECT_EQ(out, Bytes({'a', '1', 'a', '2', 'a', '3'}));
    EXPECT_EQ(ra.r.in_flight, 0u);
    // A sequence id may be reused once finished.
    ASSERT_EQ(ra.feed(frag_start(1, 2, {'c'}), &out), DISTMSG_OK);
    ASSERT_EQ(ra.feed(frag_cont(1, 1, {'d'}), &out), DISTMSG_OK);
    EXPECT_EQ(out, Bytes({'c', 'd'}));
    ASSERT_EQ(ra.feed({131, 68, 0, 106}, &out), DISTMSG_OK);
    EXPECT_EQ(ra.r.bytes, 0u); // the finished buffer was released
}

TEST(DistmsgReasm, SequenceLimit)
{
    Reasm ra(2, 1024);
    ASSERT_EQ(ra.feed(frag_start(1, 2, {1})), DISTMSG_OK);
    ASSERT_EQ(ra.feed(frag_start(2, 2, {1})), DISTMSG_OK); // at the limit
    EXPECT_EQ(ra.feed(frag_start(3, 2, {1})), DISTMSG_E_REASM_SEQS);
    EXPECT_EQ(ra.r.in_flight, 2u);
    ASSERT_EQ(ra.feed(frag_cont(1, 1, {2})), DISTMSG_OK);
    EXPECT_EQ(ra.feed(frag_start(3, 2, {1})), DISTMSG_OK); // a slot is free again
}

TEST(DistmsgReasm, ByteLimit)
{
    const size_t max = 100;
    {
        Reasm ra(4, max);
        Bytes out;
        ASSERT_EQ(ra.feed(frag_start(1, 3, Bytes(40, 1))), DISTMSG_OK);
        ASSERT_EQ(ra.feed(frag_cont(1, 2, Bytes(40, 2))), DISTMSG_OK);
        ASSERT_EQ(ra.feed(frag_cont(1, 1, Bytes(20, 3)), &out), DISTMSG_OK); // exactly max
        EXPECT_EQ(out.size(), max);
        EXPECT_LE(ra.r.bytes, max);
    }
    {
        Reasm ra(4, max);
        ASSERT_EQ(ra.feed(frag_start(1, 3, Bytes(40, 1))), DISTMSG_OK);
        ASSERT_EQ(ra.feed(frag_cont(1, 2, Bytes(40, 2))), DISTMSG_OK);
        EXPECT_EQ(ra.feed(frag_cont(1, 1, Bytes(21, 3))), DISTMSG_E_REASM_BYTES);
        EXPECT_EQ(ra.r.in_flight, 0u); // dropped
        EXPECT_EQ(ra.r.bytes, 0u);
        EXPECT_EQ(ra.feed(frag_cont(1, 1, {1})), DISTMSG_E_FRAG_SEQ_UNKNOWN);
    }
    {
        // The bound is shared between sequences.
        Reasm ra(4, max);
        ASSERT_EQ(ra.feed(frag_start(1, 2, Bytes(60, 1))), DISTMSG_OK);
        EXPECT_EQ(ra.feed(frag_start(2, 2, Bytes(41, 1))), DISTMSG_E_REASM_BYTES);
        EXPECT_EQ(ra.feed(frag_start(2, 2, Bytes(40, 1))), DISTMSG_OK);
        EXPECT_LE(ra.r.bytes, max);
    }
    {
        // Many small fragments: geometric growth never passes the bound.
        Reasm ra(1, max);
        ASSERT_EQ(ra.feed(frag_start(1, 1000, {1})), DISTMSG_OK);
        uint64_t id = 999;
        enum distmsg_result res = DISTMSG_OK;
        for (; res == DISTMSG_OK && id > 0; id--) {
            res = ra.feed(frag_cont(1, id, {1}));
            EXPECT_LE(ra.r.bytes, max);
        }
        EXPECT_EQ(res, DISTMSG_E_REASM_BYTES);
        EXPECT_EQ(id, 1000u - 100u - 1u); // the 101st byte failed
    }
}

// The node's shared budget across two connections' reassemblers: a start reserves its
// message's estimated size (fragments x max(first body, frag_est)); at the cap a start is
// refused with nothing changed and goes through once memory frees; a message in progress
// always finishes; fragments that outgrow the estimate take more or drop the sequence.
TEST(DistmsgReasm, SharedBudget)
{
    struct budget b;
    budget_init(&b, 100);
    Reasm r1(4, 1000), r2(4, 1000);
    distmsg_reasm_share(&r1.r, &b, 16);
    distmsg_reasm_share(&r2.r, &b, 16);
    Bytes out;
    ASSERT_EQ(r1.feed(frag_start(1, 3, Bytes(10, 1))), DISTMSG_OK); // reserves 3 x 16
    EXPECT_EQ(budget_used(&b), 48u);
    ASSERT_EQ(r2.feed(frag_start(2, 3, Bytes(10, 2))), DISTMSG_OK);
    EXPECT_EQ(budget_used(&b), 96u);
    EXPECT_EQ(r2.feed(frag_start(3, 2, Bytes(10, 3))), DISTMSG_E_REASM_SHARED);
    EXPECT_EQ(r2.r.in_flight, 1u) << "a refused start changes nothing";
    EXPECT_EQ(budget_used(&b), 96u);
    EXPECT_EQ(b.refusals, 1u);
    // The messages in progress finish within what they reserved.
    ASSERT_EQ(r1.feed(frag_cont(1, 2, Bytes(16, 1))), DISTMSG_OK);
    ASSERT_EQ(r1.feed(frag_cont(1, 1, Bytes(16, 1)), &out), DISTMSG_OK);
    EXPECT_EQ(out.size(), 42u);
    EXPECT_LE(r1.r.bytes, r1.r.shared_bytes) << "capacity within the reservation";
    distmsg_reasm_release(&r1.r);
    EXPECT_EQ(budget_used(&b), 48u);
    ASSERT_EQ(r2.feed(frag_start(3, 2, Bytes(10, 3))), DISTMSG_OK) << "the same start, again";
    EXPECT_EQ(budget_used(&b), 80u);
    // Fragments larger than announced: the difference comes from the budget, or the
    // sequence goes.
    ASSERT_EQ(r1.feed(frag_start(4, 2, Bytes(4, 4))), DISTMSG_E_REASM_SHARED); // 32 > 20 left
    ASSERT_EQ(r2.feed(frag_cont(3, 1, Bytes(30, 3)), &out), DISTMSG_OK);       // 40 > 32: +8
    EXPECT_EQ(out.size(), 40u);
    distmsg_reasm_release(&r2.r);
    EXPECT_EQ(budget_used(&b), 48u);
    ASSERT_EQ(r1.feed(frag_start(4, 2, Bytes(4, 4))), DISTMSG_OK);             // 32: 80 in use
    EXPECT_EQ(r1.feed(frag_cont(4, 1, Bytes(60, 4))), DISTMSG_E_REASM_GROWTH); // +32 > 20
    EXPECT_EQ(r1.r.in_flight, 0u);
    EXPECT_EQ(budget_used(&b), 48u);
    // A sender announcing a huge message reserves at most the connection's bound.
    ASSERT_EQ(r1.feed(frag_start(5, uint64_t(1) << 60, Bytes(4, 5))), DISTMSG_E_REASM_SHARED);
    EXPECT_GE(b.high_water, 96u);
    EXPECT_LE(b.high_water, 100u);
    distmsg_reasm_fini(&r2.r); // sequence 2 is still in flight
    EXPECT_EQ(budget_used(&b), 0u) << "fini gives everything back";
}

// Direct placement gives the same messages as feeding, whatever part of a fragment's body
// is at hand when it is placed; a finished message's buffer is taken over with the body in
// it, and its memory leaves the connection's bound and the node's budget at once.
TEST(DistmsgReasm, PlacedFragmentsMakeTheSameMessages)
{
    struct budget b;
    budget_init(&b, 1000);
    Reasm fed(4, 1000), put(4, 1000);
    distmsg_reasm_share(&put.r, &b, 64);
    Bytes a1(64, 'a'), a2(64, 'b'), a3(10, 'c'), x1(64, 'x'), x2(5, 'y');
    Bytes out, want;
    ASSERT_EQ(put.place(frag_start(1, 3, a1), 19), DISTMSG_OK); // the header alone at hand
    EXPECT_EQ(put.r.bytes, 3u * 64) << "one buffer at the whole reservation: never regrown";
    EXPECT_EQ(budget_used(&b), 3u * 64);
    ASSERT_EQ(put.place(frag_start(2, 2, x1), 19 + 30), DISTMSG_OK); // part of the body
    ASSERT_EQ(put.feed({131, 68, 0, 106}, &out), DISTMSG_OK) << "unfragmented in between";
    EXPECT_EQ(out, Bytes({106}));
    ASSERT_EQ(put.place(frag_cont(1, 2, a2), 18 + 64), DISTMSG_OK); // all of it at hand
    ASSERT_EQ(put.feed(frag_cont(2, 1, x2), &out), DISTMSG_OK) << "fed and placed mix";
    EXPECT_EQ(out, cat({x1, x2}));
    ASSERT_EQ(put.place(frag_cont(1, 1, a3), 18, &out, true), DISTMSG_OK);
    ASSERT_EQ(fed.feed(frag_start(1, 3, a1)), DISTMSG_OK);
    ASSERT_EQ(fed.feed(frag_cont(1, 2, a2)), DISTMSG_OK);
    ASSERT_EQ(fed.feed(frag_cont(1, 1, a3), &want), DISTMSG_OK);
    EXPECT_EQ(out, want);
    EXPECT_EQ(out, cat({a1, a2, a3}));
    EXPECT_EQ(put.r.in_flight, 0u);
    EXPECT_EQ(put.r.bytes, 0u) << "taken: no longer the reassembler's";
    EXPECT_EQ(put.r.shared_bytes, 0u);
    EXPECT_EQ(budget_used(&b), 0u);
    EXPECT_EQ(distmsg_reasm_take(&put.r), nullptr) << "nothing finished any more";
    // The last fragment fed (not placed) completes a placed message just as well.
    ASSERT_EQ(put.place(frag_start(3, 2, a1), 19), DISTMSG_OK);
    ASSERT_EQ(put.feed(frag_cont(3, 1, a3), &out), DISTMSG_OK);
    EXPECT_EQ(out, cat({a1, a3}));
}

// An empty fragment body placed before the sequence has any buffer (no shared budget, so
// nothing reserved): nothing to write, no address (UBSan found the null pointer offset
// with the fuzzer), and the message completes with the next fragment.
TEST(DistmsgReasm, AnEmptyBodyIsPlacedBeforeAnyBuffer)
{
    Reasm put(4, 1000);
    struct distmsg_place p;
    Bytes start = frag_start(9, 2, Bytes());
    ASSERT_EQ(distmsg_reasm_place(&put.r, start.data(), start.size(), start.size(), &p),
              DISTMSG_OK);
    EXPECT_EQ(p.left, 0u);
    EXPECT_EQ(p.dst, nullptr);
    struct distmsg_body b;
    bool complete = true;
    distmsg_reasm_placed(&put.r, &b, &complete);
    EXPECT_FALSE(complete);
    Bytes out;
    ASSERT_EQ(put.feed(frag_cont(9, 1, Bytes({131, 106})), &out), DISTMSG_OK);
    EXPECT_EQ(out, Bytes({131, 106}));
}

// A large message's buffer comes from bigbuf (common/bigbuf.h): given back with
// bigbuf_free once taken, it is the buffer of the next large message, already faulted in,
// not a fresh mapping (a 64 MiB stream over TCP spent half the receiving thread in page
// faults and munmap with malloc'd buffers).
TEST(DistmsgReasm, ALargeMessagesBufferIsReusedForTheNext)
{
    const size_t frag = 64 * 1024, n = 16; // 1 MiB in 16 fragments
    struct budget b;
    budget_init(&b, 4 * n * frag);
    Reasm put(4, 4 * n * frag);
    distmsg_reasm_share(&put.r, &b, frag);
    void *first = nullptr;
    for (int round = 0; round < 2; round++) {
        struct bigbuf_stats before, after;
        bigbuf_get_stats(&before);
        Bytes body(frag, uint8_t('a' + round)), out;
        for (uint64_t id = n; id >= 1; id--) {
            Bytes pkt = id == n ? frag_start(7, id, body) : frag_cont(7, id, body);
            ASSERT_EQ(put.feed(pkt, id == 1 ? &out : nullptr), DISTMSG_OK) << "fragment " << id;
        }
        ASSERT_EQ(out.size(), n * frag);
        EXPECT_EQ(out.front(), uint8_t('a' + round));
        void *buf = distmsg_reasm_take(&put.r);
        ASSERT_NE(buf, nullptr);
        bigbuf_get_stats(&after);
        if (round == 1) {
            EXPECT_EQ(after.cache_hits, before.cache_hits + 1) << "the first buffer, reused";
            EXPECT_EQ(after.fresh, before.fresh) << "no new mapping for the second message";
            EXPECT_EQ(buf, first);
        }
        first = buf;
        bigbuf_free(buf);
    }
}

// Placement checks every fragment as feeding does, before anything is written: each bad
// input gives its error, drops the sequence concerned (or changes nothing, for a start
// the node has no room for), and leaves the other sequences alone.
TEST(DistmsgReasm, PlacementRefusesWhatFeedingRefuses)
{
    Reasm ra(2, 300);
    Bytes body(100, 7);
    EXPECT_EQ(ra.place(frag_cont(9, 1, body), 18), DISTMSG_E_FRAG_SEQ_UNKNOWN);
    ASSERT_EQ(ra.place(frag_start(1, 3, body), 19), DISTMSG_OK);
    EXPECT_EQ(ra.place(frag_cont(1, 1, body), 18), DISTMSG_E_FRAG_ORDER); // skipped id 2
    EXPECT_EQ(ra.r.in_flight, 0u) << "the sequence is dropped";
    ASSERT_EQ(ra.place(frag_start(1, 3, body), 19), DISTMSG_OK);
    EXPECT_EQ(ra.place(frag_start(1, 3, body), 19), DISTMSG_E_FRAG_SEQ_DUP);
    EXPECT_EQ(ra.r.in_flight, 0u);
    EXPECT_EQ(ra.r.bytes, 0u);
    // The sequence limit and the connection's byte bound.
    ASSERT_EQ(ra.place(frag_start(1, 3, body), 19), DISTMSG_OK);
    ASSERT_EQ(ra.place(frag_start(2, 3, body), 19), DISTMSG_OK);
    EXPECT_EQ(ra.place(frag_start(3, 2, body), 19), DISTMSG_E_REASM_SEQS);
    EXPECT_EQ(ra.r.in_flight, 2u) << "a start beyond the limit changes nothing";
    ASSERT_EQ(ra.place(frag_cont(1, 2, body), 18), DISTMSG_OK);     // 300 held
    EXPECT_EQ(ra.place(frag_cont(2, 2, Bytes(101, 1)), 18), DISTMSG_E_REASM_BYTES);
    EXPECT_EQ(ra.r.in_flight, 1u);
    EXPECT_LE(ra.r.bytes, 300u);
    // Not a piece of a sequence: refused with nothing changed, to be fed whole.
    EXPECT_EQ(ra.place(cat({{131, 68, 0}, body}), 3), DISTMSG_E_CONFIG);
    EXPECT_EQ(ra.place(frag_start(7, 1, body), 19), DISTMSG_E_CONFIG);
    EXPECT_EQ(ra.r.in_flight, 1u);
    // A header cut short, an unknown header, FragmentId 0.
    Bytes start = frag_start(4, 2, body);
    struct distmsg_place p;
    EXPECT_EQ(distmsg_reasm_place(&ra.r, start.data(), 10, start.size(), &p),
              DISTMSG_E_HEADER_SHORT);
    EXPECT_EQ(ra.place(cat({{131, 99}, body}), 20), DISTMSG_E_HEADER);
    EXPECT_EQ(ra.place(frag_cont(1, 0, body), 18), DISTMSG_E_FRAG_ID);
    // At hand more than the packet, or a second placement before the first is closed.
    EXPECT_EQ(distmsg_reasm_place(&ra.r, start.data(), start.size(), 19, &p), DISTMSG_E_CONFIG);
    ASSERT_EQ(distmsg_reasm_place(&ra.r, start.data(), 19, start.size(), &p), DISTMSG_OK);
    EXPECT_EQ(distmsg_reasm_place(&ra.r, start.data(), 19, start.size(), &p), DISTMSG_E_CONFIG);
}

// With the node's budget: a start without room changes nothing and may be placed again;
// fragments larger than announced take more from the budget or drop the sequence.
TEST(DistmsgReasm, PlacementDrawsFromTheSharedBudget)
{
    struct budget b;
    budget_init(&b, 100);
    Reasm r1(4, 1000), r2(4, 1000);
    distmsg_reasm_share(&r1.r, &b, 16);
    distmsg_reasm_share(&r2.r, &b, 16);
    ASSERT_EQ(r1.place(frag_start(1, 4, Bytes(16, 1)), 19), DISTMSG_OK); // 64
    EXPECT_EQ(r2.place(frag_start(2, 3, Bytes(16, 2)), 19), DISTMSG_E_REASM_SHARED);
    EXPECT_EQ(r2.r.in_flight, 0u);
    EXPECT_EQ(r2.r.bytes, 0u);
    EXPECT_EQ(budget_used(&b), 64u) << "a refused start takes nothing";
    ASSERT_EQ(r2.place(frag_start(2, 2, Bytes(16, 2)), 19), DISTMSG_OK); // 96
    EXPECT_EQ(r1.place(frag_cont(1, 3, Bytes(60, 1)), 18), DISTMSG_E_REASM_GROWTH);
    EXPECT_EQ(r1.r.in_flight, 0u) << "the sequence that outgrew the budget is dropped";
    EXPECT_EQ(budget_used(&b), 32u);
    Bytes out;
    ASSERT_EQ(r2.place(frag_cont(2, 1, Bytes(40, 3)), 18, &out, true), DISTMSG_OK); // +24
    EXPECT_EQ(out, cat({Bytes(16, 2), Bytes(40, 3)}));
    EXPECT_EQ(budget_used(&b), 0u);
}

TEST(DistmsgReasm, BadFragmentIds)
{
    Reasm ra(4, 1024);
    EXPECT_EQ(ra.feed(frag_cont(9, 1, {1})), DISTMSG_E_FRAG_SEQ_UNKNOWN);
    ASSERT_EQ(ra.feed(frag_start(1, 3, {1})), DISTMSG_OK);
    EXPECT_EQ(ra.feed(frag_cont(1, 1, {1})), DISTMSG_E_FRAG_ORDER); // skipped id 2
    EXPECT_EQ(ra.r.in_flight, 0u);
    ASSERT_EQ(ra.feed(frag_start(1, 3, {1})), DISTMSG_OK);
    EXPECT_EQ(ra.feed(frag_cont(1, 3, {1})), DISTMSG_E_FRAG_ORDER); // repeated id
    ASSERT_EQ(ra.feed(frag_start(1, 3, {1})), DISTMSG_OK);
    EXPECT_EQ(ra.feed(frag_start(1, 3, {1})), DISTMSG_E_FRAG_SEQ_DUP);
    EXPECT_EQ(ra.r.in_flight, 0u);
    EXPECT_EQ(ra.feed(frag_cont(1, 0, {1})), DISTMSG_E_FRAG_ID);
    EXPECT_EQ(ra.feed({}), DISTMSG_E_EMPTY);
    EXPECT_EQ(ra.r.bytes, 0u);
}

TEST(DistmsgReasm, InitArguments)
{
    struct distmsg_reasm r;
    EXPECT_EQ(distmsg_reasm_init(&r, 0, 10), DISTMSG_E_CONFIG);
    EXPECT_EQ(distmsg_reasm_init(&r, 10, 0), DISTMSG_E_CONFIG);
    distmsg_reasm_fini(&r); // safe on a failed init
    ASSERT_EQ(distmsg_reasm_init(&r, 2, 100), DISTMSG_OK);
    struct distmsg_body b;
    bool c;
    Bytes s = frag_start(1, 2, {1, 2, 3});
    ASSERT_EQ(distmsg_reasm_feed(&r, s.data(), s.size(), &b, &c), DISTMSG_OK);
    distmsg_reasm_fini(&r); // frees the sequence in flight (ASan checks for leaks)
}

// --- decode of every op -------------------------------------------------------------------

TEST(DistmsgDecode, LinkUnlinkGroupLeader)
{
    for (long op : {DISTMSG_OP_LINK, DISTMSG_OP_UNLINK, DISTMSG_OP_GROUP_LEADER}) {
        X t;
        t.tuple(3).lng(op).pid(kFrom).pid(kTo);
        Decoded *d = decode(t.bytes());
        ASSERT_EQ(d->r, DISTMSG_OK) << op;
        EXPECT_EQ(d->ctl.op, op);
        expect_pid(d->ctl.from, kFrom);
        expect_pid(d->ctl.to, kTo);
        EXPECT_FALSE(d->ctl.has_payload);
    }
}

TEST(DistmsgDecode, SendFamily)
{
    Bytes msg = term_atom("hello");
    {
        X t;
        t.tuple(3).lng(DISTMSG_OP_SEND).atom("").pid(kTo);
        Decoded *d = decode(cat({t.bytes(), msg}));
        ASSERT_EQ(d->r, DISTMSG_OK);
        expect_pid(d->ctl.to, kTo);
        ASSERT_TRUE(d->ctl.has_payload);
        EXPECT_EQ(d->span(d->ctl.payload), msg);
    }
    {
        X t;
        t.tuple(4).lng(DISTMSG_OP_SEND_TT).atom("").pid(kTo).atom("token");
        Decoded *d = decode(cat({t.bytes(), msg}));
        ASSERT_EQ(d->r, DISTMSG_OK);
        EXPECT_TRUE(d->ctl.has_token);
        EXPECT_EQ(d->span(d->ctl.token), term_atom("token"));
        EXPECT_EQ(d->span(d->ctl.payload), msg);
    }
    {
        X t;
        t.tuple(3).lng(DISTMSG_OP_SEND_SENDER).pid(kFrom).pid(kTo);
        Decoded *d = decode(cat({t.bytes(), msg}));
        ASSERT_EQ(d->r, DISTMSG_OK);
        expect_pid(d->ctl.from, kFrom);
        expect_pid(d->ctl.to, kTo);
        EXPECT_EQ(d->span(d->ctl.payload), msg);
    }
    {
        X t;
        Bytes tok = term_token();
        t.tuple(4).lng(DISTMSG_OP_SEND_SENDER_TT).pid(kFrom).pid(kTo);
        Decoded *d = decode(cat({t.bytes(), tok, msg}));
        ASSERT_EQ(d->r, DISTMSG_OK);
        EXPECT_EQ(d->span(d->ctl.token), tok);
        EXPECT_EQ(d->span(d->ctl.payload), msg);
    }
}

TEST(DistmsgDecode, RegSend)
{
    Bytes msg = term_atom("m");
    X t;
    t.tuple(4).lng(DISTMSG_OP_REG_SEND).pid(kFrom).atom("").atom("net_kernel");
    Decoded *d = decode(cat({t.bytes(), msg}));
    ASSERT_EQ(d->r, DISTMSG_OK);
    expect_pid(d->ctl.from, kFrom);
    EXPECT_TRUE(d->ctl.to_is_name);
    EXPECT_STREQ(d->ctl.to_name, "net_kernel");
    X t2;
    t2.tuple(5).lng(DISTMSG_OP_REG_SEND_TT).pid(kFrom).atom("").atom("n\xc3\xa4me");
    Decoded *d2 = decode(cat({t2.bytes(), term_token(), msg}));
    ASSERT_EQ(d2->r, DISTMSG_OK);
    EXPECT_STREQ(d2->ctl.to_name, "n\xc3\xa4me"); // UTF-8 atom
    EXPECT_TRUE(d2->ctl.has_token);
}

TEST(DistmsgDecode, ExitsWithReasonInTuple)
{
    Bytes reason = term_atom("killed");
    for (long op : {DISTMSG_OP_EXIT, DISTMSG_OP_EXIT2}) {
        X t;
        t.tuple(4).lng(op).pid(kFrom).pid(kTo).atom("killed");
        Decoded *d = decode(t.bytes());
        ASSERT_EQ(d->r, DISTMSG_OK);
        ASSERT_TRUE(d->ctl.has_reason);
        EXPECT_EQ(d->span(d->ctl.reason), reason);
        EXPECT_FALSE(d->ctl.has_payload);
    }
    for (long op : {DISTMSG_OP_EXIT_TT, DISTMSG_OP_EXIT2_TT}) {
        X t;
        t.tuple(5).lng(op).pid(kFrom).pid(kTo).atom("tok").atom("killed");
        Decoded *d = decode(t.bytes());
        ASSERT_EQ(d->r, DISTMSG_OK);
        EXPECT_EQ(d->span(d->ctl.reason), reason);
        EXPECT_EQ(d->span(d->ctl.token), term_atom("tok"));
    }
}

TEST(DistmsgDecode, PayloadExits)
{
    X reason;
    reason.tuple(2).atom("shutdown").str("why");
    for (long op : {DISTMSG_OP_PAYLOAD_EXIT, DISTMSG_OP_PAYLOAD_EXIT2}) {
        X t;
        t.tuple(3).lng(op).pid(kFrom).pid(kTo);
        Decoded *d = decode(cat({t.bytes(), reason.bytes()}));
        ASSERT_EQ(d->r, DISTMSG_OK);
        EXPECT_EQ(d->span(d->ctl.payload), reason.bytes());
        EXPECT_FALSE(d->ctl.has_reason);
    }
    for (long op : {DISTMSG_OP_PAYLOAD_EXIT_TT, DISTMSG_OP_PAYLOAD_EXIT2_TT}) {
        X t;
        t.tuple(4).lng(op).pid(kFrom).pid(kTo).atom("tok");
        Decoded *d = decode(cat({t.bytes(), reason.bytes()}));
        ASSERT_EQ(d->r, DISTMSG_OK);
        EXPECT_TRUE(d->ctl.has_token);
        EXPECT_EQ(d->span(d->ctl.payload), reason.bytes());
    }
}

TEST(DistmsgDecode, Monitors)
{
    for (long op : {DISTMSG_OP_MONITOR_P, DISTMSG_OP_DEMONITOR_P}) {
        X by_pid;
        by_pid.tuple(4).lng(op).pid(kFrom).pid(kTo).ref(kRef);
        Decoded *d = decode(by_pid.bytes());
        ASSERT_EQ(d->r, DISTMSG_OK);
        EXPECT_FALSE(d->ctl.to_is_name);
        expect_pid(d->ctl.to, kTo);
        expect_ref(d->ctl.ref, kRef);
        X by_name;
        by_name.tuple(4).lng(op).pid(kFrom).atom("net_kernel").ref(kRef);
        d = decode(by_name.bytes());
        ASSERT_EQ(d->r, DISTMSG_OK);
        EXPECT_TRUE(d->ctl.to_is_name);
        EXPECT_STREQ(d->ctl.to_name, "net_kernel");
    }
    X exit_pid;
    exit_pid.tuple(5).lng(DISTMSG_OP_MONITOR_P_EXIT).pid(kFrom).pid(kTo).ref(kRef).atom("normal");
    Decoded *d = decode(exit_pid.bytes());
    ASSERT_EQ(d->r, DISTMSG_OK);
    EXPECT_FALSE(d->ctl.from_is_name);
    expect_pid(d->ctl.from, kFrom);
    EXPECT_EQ(d->span(d->ctl.reason), term_atom("normal"));
    X exit_name;
    exit_name.tuple(5).lng(DISTMSG_OP_MONITOR_P_EXIT).atom("reg").pid(kTo).ref(kRef).atom("x");
    d = decode(exit_name.bytes());
    ASSERT_EQ(d->r, DISTMSG_OK);
    EXPECT_TRUE(d->ctl.from_is_name);
    EXPECT_STREQ(d->ctl.from_name, "reg");
    X pexit;
    pexit.tuple(4).lng(DISTMSG_OP_PAYLOAD_MONITOR_P_EXIT).atom("reg").pid(kTo).ref(kRef);
    d = decode(cat({pexit.bytes(), term_atom("noproc")}));
    ASSERT_EQ(d->r, DISTMSG_OK);
    EXPECT_TRUE(d->ctl.from_is_name);
    EXPECT_EQ(d->span(d->ctl.payload), term_atom("noproc"));
}

TEST(DistmsgDecode, AliasSend)
{
    erlang_ref alias = make_ref("alice@host", 7, 4);
    X t;
    t.tuple(3).lng(DISTMSG_OP_ALIAS_SEND).pid(kFrom).ref(alias);
    Decoded *d = decode(cat({t.bytes(), term_atom("reply")}));
    ASSERT_EQ(d->r, DISTMSG_OK);
    expect_ref(d->ctl.ref, alias);
    X tt;
    tt.tuple(4).lng(DISTMSG_OP_ALIAS_SEND_TT).pid(kFrom).ref(alias).atom("tok");
    d = decode(cat({tt.bytes(), term_atom("reply")}));
    ASSERT_EQ(d->r, DISTMSG_OK);
    EXPECT_TRUE(d->ctl.has_token);
}

TEST(DistmsgDecode, UnlinkId)
{
    for (long op : {DISTMSG_OP_UNLINK_ID, DISTMSG_OP_UNLINK_ID_ACK}) {
        for (unsigned long long id : {0ull, 255ull, 1ull << 40, ~0ull}) {
            X t;
            t.tuple(4).lng(op).ull(id).pid(kFrom).pid(kTo);
            Decoded *d = decode(t.bytes());
            ASSERT_EQ(d->r, DISTMSG_OK);
            EXPECT_EQ(d->ctl.unlink_id, id);
        }
    }
}

TEST(DistmsgDecode, SpawnRequest)
{
    X opts;
    opts.nil();
    X args;
    args.str("ab");
    erlang_pid gl = make_pid("alice@host", 1);
    for (long op : {DISTMSG_OP_SPAWN_REQUEST, DISTMSG_OP_SPAWN_REQUEST_TT}) {
        X t;
        t.tuple(op == DISTMSG_OP_SPAWN_REQUEST ? 6 : 7).lng(op).ref(kRef).pid(kFrom).pid(gl);
        t.tuple(3).atom("erlang").atom("apply").lng(2);
        t.nil();
        if (op == DISTMSG_OP_SPAWN_REQUEST_TT)
            t.atom("tok");
        Decoded *d = decode(cat({t.bytes(), args.bytes()}));
        ASSERT_EQ(d->r, DISTMSG_OK) << distmsg_strerror(d->r);
        expect_ref(d->ctl.ref, kRef);
        expect_pid(d->ctl.from, kFrom);
        expect_pid(d->ctl.group_leader, gl);
        EXPECT_STREQ(d->ctl.mod, "erlang");
        EXPECT_STREQ(d->ctl.fun, "apply");
        EXPECT_EQ(d->ctl.arity, 2);
        EXPECT_EQ(d->span(d->ctl.opts), opts.bytes());
        EXPECT_EQ(d->span(d->ctl.payload), args.bytes());
        EXPECT_EQ(d->ctl.has_token, op == DISTMSG_OP_SPAWN_REQUEST_TT);
    }
    X bad_mfa; // {M, F} instead of {M, F, A}
    bad_mfa.tuple(6).lng(DISTMSG_OP_SPAWN_REQUEST).ref(kRef).pid(kFrom).pid(gl);
    bad_mfa.tuple(2).atom("m").atom("f").nil();
    EXPECT_EQ(decode(cat({bad_mfa.bytes(), args.bytes()}))->r, DISTMSG_E_FIELD);
}

TEST(DistmsgDecode, SpawnReply)
{
    X t;
    t.tuple(5).lng(DISTMSG_OP_SPAWN_REPLY).ref(kRef).pid(kTo).lng(3).pid(kFrom);
    Decoded *d = decode(t.bytes());
    ASSERT_EQ(d->r, DISTMSG_OK);
    EXPECT_EQ(d->ctl.spawn_flags, 3);
    X pid;
    pid.pid(kFrom);
    EXPECT_EQ(d->span(d->ctl.result), pid.bytes());
    X tt;
    tt.tuple(6).lng(DISTMSG_OP_SPAWN_REPLY_TT).ref(kRef).pid(kTo).lng(0).atom("notsup").atom("t");
    d = decode(tt.bytes());
    ASSERT_EQ(d->r, DISTMSG_OK);
    EXPECT_TRUE(d->ctl.has_token);
}

TEST(DistmsgDecode, PassThroughBodies)
{
    X t;
    t.tuple(3).lng(DISTMSG_OP_SEND_SENDER).pid(kFrom).pid(kTo);
    Bytes msg = term_atom("hi");
    Bytes body = cat({{131}, t.bytes(), {131}, msg});
    Decoded *d = decode(body, true);
    ASSERT_EQ(d->r, DISTMSG_OK);
    EXPECT_EQ(d->ctl.payload.off, 1 + t.bytes().size() + 1); // span skips the 131
    EXPECT_EQ(d->span(d->ctl.payload), msg);
    EXPECT_EQ(decode(cat({t.bytes(), msg}), true)->r, DISTMSG_E_VERSION);
    EXPECT_EQ(decode(cat({{131}, t.bytes(), msg}), true)->r, DISTMSG_E_VERSION);
}

// --- malformed control messages -----------------------------------------------------------

TEST(DistmsgDecode, ErrorsAreDistinct)
{
    X notuple;
    notuple.nil();
    EXPECT_EQ(decode(notuple.bytes())->r, DISTMSG_E_CONTROL);
    X op_atom;
    op_atom.tuple(3).atom("link").pid(kFrom).pid(kTo);
    EXPECT_EQ(decode(op_atom.bytes())->r, DISTMSG_E_CONTROL);
    X empty;
    empty.tuple(0);
    EXPECT_EQ(decode(empty.bytes())->r, DISTMSG_E_CONTROL);
    for (long op : {0L, 5L, 9L, 17L, 37L, 1000L, -1L}) {
        X unknown;
        unknown.tuple(3).lng(op).pid(kFrom).pid(kTo);
        EXPECT_EQ(decode(unknown.bytes())->r, DISTMSG_E_UNKNOWN_OP) << op;
    }
    X arity;
    arity.tuple(4).lng(DISTMSG_OP_LINK).pid(kFrom).pid(kTo).pid(kTo);
    EXPECT_EQ(decode(arity.bytes())->r, DISTMSG_E_ARITY);
    X field;
    field.tuple(3).lng(DISTMSG_OP_LINK).atom("x").pid(kTo);
    EXPECT_EQ(decode(field.bytes())->r, DISTMSG_E_FIELD);
    X ref_for_pid;
    ref_for_pid.tuple(4).lng(DISTMSG_OP_MONITOR_P).pid(kFrom).pid(kTo).pid(kTo);
    EXPECT_EQ(decode(ref_for_pid.bytes())->r, DISTMSG_E_FIELD);
    X id_atom;
    id_atom.tuple(4).lng(DISTMSG_OP_UNLINK_ID).atom("x").pid(kFrom).pid(kTo);
    EXPECT_EQ(decode(id_atom.bytes())->r, DISTMSG_E_FIELD);
    X nopayload;
    nopayload.tuple(3).lng(DISTMSG_OP_SEND_SENDER).pid(kFrom).pid(kTo);
    EXPECT_EQ(decode(nopayload.bytes())->r, DISTMSG_E_NO_PAYLOAD);
    EXPECT_EQ(decode(cat({nopayload.bytes(), term_atom("a"), term_atom("b")}))->r,
              DISTMSG_E_TRAILING);
    X link;
    link.tuple(3).lng(DISTMSG_OP_LINK).pid(kFrom).pid(kTo);
    EXPECT_EQ(decode(cat({link.bytes(), term_atom("extra")}))->r, DISTMSG_E_TRAILING);
    EXPECT_EQ(decode(Bytes{})->r, DISTMSG_E_EMPTY);
    EXPECT_EQ(decode(Bytes{82, 1})->r, DISTMSG_E_TERM); // atom cache reference
    EXPECT_EQ(decode(cat({nopayload.bytes(), {82, 1}}))->r, DISTMSG_E_TERM);
}

TEST(DistmsgDecode, EveryTruncationFails)
{
    X t;
    t.tuple(6).lng(DISTMSG_OP_SPAWN_REQUEST).ref(kRef).pid(kFrom).pid(kTo);
    t.tuple(3).atom("m").atom("f").lng(0);
    t.nil();
    Bytes full = cat({t.bytes(), term_atom("x")});
    ASSERT_EQ(decode(full)->r, DISTMSG_OK);
    for (size_t cut = 0; cut < full.size(); cut++) {
        Bytes p(full.begin(), full.begin() + cut); // exact size: ASan catches overreads
        EXPECT_NE(decode(p)->r, DISTMSG_OK) << cut;
    }
}

TEST(DistmsgDecode, LongAtomsAndNames)
{
    std::string a255(255, 'q');
    X t;
    t.tuple(4).lng(DISTMSG_OP_REG_SEND).pid(kFrom).atom("").atom(a255.c_str());
    Decoded *d = decode(cat({t.bytes(), term_atom("m")}));
    ASSERT_EQ(d->r, DISTMSG_OK);
    EXPECT_EQ(std::string(d->ctl.to_name), a255);
    // An ATOM_UTF8_EXT longer than any atom: refused as a field, not overflowed.
    Bytes big = {104, 4, 97, DISTMSG_OP_REG_SEND};
    X from;
    from.pid(kFrom);
    Bytes longatom = {118, 0x10, 0x00};
    longatom.resize(3 + 0x1000, 'z');
    Decoded *d2 = decode(cat({big, from.bytes(), term_atom(""), longatom, term_atom("m")}));
    EXPECT_EQ(d2->r, DISTMSG_E_FIELD);
}

// --- encoders: round trips ----------------------------------------------------------------

// Run an encoder, check the header, optionally append a payload, decode the packet.
Decoded *roundtrip(const std::function<enum distmsg_result(ei_x_buff *)> &enc,
                   const Bytes *payload_with_version = nullptr)
{
    X x;
    EXPECT_EQ(enc(&x.x), DISTMSG_OK);
    if (payload_with_version != nullptr) {
        EXPECT_EQ(distmsg_append_payload(&x.x, payload_with_version->data(),
                                         payload_with_version->size()),
                  DISTMSG_OK);
    }
    Bytes pkt = x.bytes();
    EXPECT_EQ(Bytes(pkt.begin(), pkt.begin() + 3), Bytes({131, 68, 0}));
    struct distmsg_reasm r;
    EXPECT_EQ(distmsg_reasm_init(&r, 1, 16), DISTMSG_OK);
    struct distmsg_body body;
    bool complete = false;
    EXPECT_EQ(distmsg_reasm_feed(&r, pkt.data(), pkt.size(), &body, &complete), DISTMSG_OK);
    EXPECT_TRUE(complete);
    Decoded *d = decode(Bytes(body.data, body.data + body.len));
    distmsg_reasm_fini(&r);
    return d;
}

Bytes versioned(const Bytes &t)
{
    return cat({{131}, t});
}

TEST(DistmsgEncode, RoundTripEveryEncoder)
{
    const erlang_ref alias = make_ref("alice@host", 55, 4);
    const Bytes msg = versioned(term_atom("payload"));
    Decoded *d;

    d = roundtrip([](ei_x_buff *x) { return distmsg_encode_send(x, &kTo); }, &msg);
    ASSERT_EQ(d->r, DISTMSG_OK);
    EXPECT_EQ(d->ctl.op, DISTMSG_OP_SEND);
    expect_pid(d->ctl.to, kTo);
    EXPECT_EQ(d->span(d->ctl.payload), term_atom("payload"));

    d = roundtrip([](ei_x_buff *x) { return distmsg_encode_send_sender(x, &kFrom, &kTo); }, &msg);
    ASSERT_EQ(d->r, DISTMSG_OK);
    EXPECT_EQ(d->ctl.op, DISTMSG_OP_SEND_SENDER);
    expect_pid(d->ctl.from, kFrom);
    expect_pid(d->ctl.to, kTo);
    EXPECT_EQ(d->span(d->ctl.payload), term_atom("payload"));

    d = roundtrip([](ei_x_buff *x) { return distmsg_encode_reg_send(x, &kFrom, "rex"); }, &msg);
    ASSERT_EQ(d->r, DISTMSG_OK);
    EXPECT_EQ(d->ctl.op, DISTMSG_OP_REG_SEND);
    EXPECT_STREQ(d->ctl.to_name, "rex");

    d = roundtrip([&](ei_x_buff *x) { return distmsg_encode_alias_send(x, &kFrom, &alias); }, &msg);
    ASSERT_EQ(d->r, DISTMSG_OK);
    EXPECT_EQ(d->ctl.op, DISTMSG_OP_ALIAS_SEND);
    expect_ref(d->ctl.ref, alias);

    d = roundtrip([](ei_x_buff *x) { return distmsg_encode_link(x, &kFrom, &kTo); });
    ASSERT_EQ(d->r, DISTMSG_OK);
    EXPECT_EQ(d->ctl.op, DISTMSG_OP_LINK);
    expect_pid(d->ctl.to, kTo);

    d = roundtrip(
        [](ei_x_buff *x) { return distmsg_encode_unlink_id(x, 1ull << 50, &kFrom, &kTo); });
    ASSERT_EQ(d->r, DISTMSG_OK);
    EXPECT_EQ(d->ctl.op, DISTMSG_OP_UNLINK_ID);
    EXPECT_EQ(d->ctl.unlink_id, 1ull << 50);

    d = roundtrip([](ei_x_buff *x) { return distmsg_encode_unlink_id_ack(x, 7, &kFrom, &kTo); });
    ASSERT_EQ(d->r, DISTMSG_OK);
    EXPECT_EQ(d->ctl.op, DISTMSG_OP_UNLINK_ID_ACK);
    EXPECT_EQ(d->ctl.unlink_id, 7u);

    const Bytes reason = versioned(term_atom("normal"));
    d = roundtrip([](ei_x_buff *x) { return distmsg_encode_payload_exit(x, &kFrom, &kTo); },
                  &reason);
    ASSERT_EQ(d->r, DISTMSG_OK);
    EXPECT_EQ(d->ctl.op, DISTMSG_OP_PAYLOAD_EXIT);
    EXPECT_EQ(d->span(d->ctl.payload), term_atom("normal"));

    d = roundtrip([](ei_x_buff *x) { return distmsg_encode_payload_exit2(x, &kFrom, &kTo); },
                  &reason);
    ASSERT_EQ(d->r, DISTMSG_OK);
    EXPECT_EQ(d->ctl.op, DISTMSG_OP_PAYLOAD_EXIT2);

    d = roundtrip(
        [](ei_x_buff *x) { return distmsg_encode_monitor_p(x, &kFrom, &kTo, nullptr, &kRef); });
    ASSERT_EQ(d->r, DISTMSG_OK);
    EXPECT_EQ(d->ctl.op, DISTMSG_OP_MONITOR_P);
    EXPECT_FALSE(d->ctl.to_is_name);
    expect_pid(d->ctl.to, kTo);
    expect_ref(d->ctl.ref, kRef);

    d = roundtrip([](ei_x_buff *x) {
        return distmsg_encode_monitor_p(x, &kFrom, nullptr, "net_kernel", &kRef);
    });
    ASSERT_EQ(d->r, DISTMSG_OK);
    EXPECT_TRUE(d->ctl.to_is_name);
    EXPECT_STREQ(d->ctl.to_name, "net_kernel");

    d = roundtrip(
        [](ei_x_buff *x) { return distmsg_encode_demonitor_p(x, &kFrom, nullptr, "reg", &kRef); });
    ASSERT_EQ(d->r, DISTMSG_OK);
    EXPECT_EQ(d->ctl.op, DISTMSG_OP_DEMONITOR_P);
    EXPECT_STREQ(d->ctl.to_name, "reg");

    d = roundtrip(
        [](ei_x_buff *x) { return distmsg_encode_demonitor_p(x, &kFrom, &kTo, nullptr, &kRef); });
    ASSERT_EQ(d->r, DISTMSG_OK);
    expect_pid(d->ctl.to, kTo);

    d = roundtrip(
        [](ei_x_buff *x) {
            return distmsg_encode_payload_monitor_p_exit(x, &kFrom, nullptr, &kTo, &kRef);
        },
        &reason);
    ASSERT_EQ(d->r, DISTMSG_OK);
    EXPECT_EQ(d->ctl.op, DISTMSG_OP_PAYLOAD_MONITOR_P_EXIT);
    EXPECT_FALSE(d->ctl.from_is_name);
    expect_pid(d->ctl.from, kFrom);

    d = roundtrip(
        [](ei_x_buff *x) {
            return distmsg_encode_payload_monitor_p_exit(x, nullptr, "reg", &kTo, &kRef);
        },
        &reason);
    ASSERT_EQ(d->r, DISTMSG_OK);
    EXPECT_TRUE(d->ctl.from_is_name);
    EXPECT_STREQ(d->ctl.from_name, "reg");

    d = roundtrip([](ei_x_buff *x) {
        return distmsg_encode_spawn_reply_error(x, &kRef, &kTo, DISTMSG_SPAWN_FLAG_MONITOR,
                                                "notsup");
    });
    ASSERT_EQ(d->r, DISTMSG_OK);
    EXPECT_EQ(d->ctl.op, DISTMSG_OP_SPAWN_REPLY);
    expect_ref(d->ctl.ref, kRef);
    expect_pid(d->ctl.to, kTo);
    EXPECT_EQ(d->ctl.spawn_flags, DISTMSG_SPAWN_FLAG_MONITOR);
    EXPECT_EQ(d->span(d->ctl.result), term_atom("notsup"));
}

TEST(DistmsgEncode, Refusals)
{
    X x;
    EXPECT_EQ(distmsg_encode_reg_send(&x.x, &kFrom, nullptr), DISTMSG_E_ENCODE);
    X y;
    std::string too_long(MAXATOMLEN_UTF8, 'a');
    EXPECT_EQ(distmsg_encode_reg_send(&y.x, &kFrom, too_long.c_str()), DISTMSG_E_ENCODE);
    X z;
    EXPECT_EQ(distmsg_encode_monitor_p(&z.x, &kFrom, nullptr, nullptr, &kRef), DISTMSG_E_ENCODE);
}

TEST(DistmsgEncode, AppendPayloadChecksTheTerm)
{
    X x;
    Bytes ok = versioned(term_atom("a"));
    EXPECT_EQ(distmsg_append_payload(&x.x, ok.data(), ok.size()), DISTMSG_OK);
    EXPECT_EQ(x.bytes(), term_atom("a")); // without the 131
    Bytes no_version = term_atom("a");
    EXPECT_EQ(distmsg_append_payload(&x.x, no_version.data(), no_version.size()),
              DISTMSG_E_PAYLOAD);
    Bytes two_terms = cat({ok, term_atom("b")});
    EXPECT_EQ(distmsg_append_payload(&x.x, two_terms.data(), two_terms.size()), DISTMSG_E_PAYLOAD);
    Bytes cut(ok.begin(), ok.end() - 1);
    EXPECT_EQ(distmsg_append_payload(&x.x, cut.data(), cut.size()), DISTMSG_E_PAYLOAD);
    EXPECT_EQ(distmsg_append_payload(&x.x, ok.data(), 1), DISTMSG_E_PAYLOAD);
    EXPECT_EQ(distmsg_append_payload(&x.x, nullptr, 0), DISTMSG_E_PAYLOAD);
    EXPECT_EQ(x.bytes(), term_atom("a")); // unchanged by refusals
}

TEST(DistmsgEncode, WithVersionedPayloadFromEi)
{
    // A payload made the usual way: ei_x_new_with_version + encoders.
    ei_x_buff p;
    ei_x_new_with_version(&p);
    ei_x_encode_tuple_header(&p, 2);
    ei_x_encode_atom(&p, "ok");
    ei_x_encode_long(&p, 12345678);
    X x;
    ASSERT_EQ(distmsg_encode_send_sender(&x.x, &kFrom, &kTo), DISTMSG_OK);
    ASSERT_EQ(distmsg_append_payload(&x.x, (const uint8_t *)p.buff, p.index), DISTMSG_OK);
    Bytes pkt = x.bytes();
    Decoded *d = decode(Bytes(pkt.begin() + 3, pkt.end()));
    ASSERT_EQ(d->r, DISTMSG_OK);
    EXPECT_EQ(d->span(d->ctl.payload), Bytes((uint8_t *)p.buff + 1, (uint8_t *)p.buff + p.index));
    ei_x_free(&p);
}

TEST(Distmsg, OpTableAndStrings)
{
    EXPECT_TRUE(distmsg_op_has_payload(DISTMSG_OP_SEND_SENDER));
    EXPECT_TRUE(distmsg_op_has_payload(DISTMSG_OP_SPAWN_REQUEST));
    EXPECT_FALSE(distmsg_op_has_payload(DISTMSG_OP_LINK));
    EXPECT_FALSE(distmsg_op_has_payload((enum distmsg_op)5));
    for (int r = 0; r < DISTMSG_E__COUNT; r++)
        EXPECT_STRNE(distmsg_strerror((enum distmsg_result)r), "");
    EXPECT_STREQ(distmsg_strerror((enum distmsg_result) - 3), "unknown error");
}

} // namespace
