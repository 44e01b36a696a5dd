// Tests for agent/ag_classify.c: the golden packets of two real OTP nodes
// (tests/vectors/ag_classify.txt, classified independently by capture_dist.py), every
// control op built with libei, every truncation of every golden packet, header errors, and
// the sequence table (duplicates, unknown sequences, its bound, deletion).
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <ei.h>

#include "agent/ag_classify.h"
#include "tests/lib/hex.h"

#ifndef DPDIST_VECTORS_DIR
#error "DPDIST_VECTORS_DIR must name tests/vectors"
#endif

namespace
{

using Bytes = std::vector<uint8_t>;

Bytes from_hex(const std::string &hex)
{
    return hex == "-" ? Bytes() : testhex::bytes(hex);
}

struct Golden {
    int line;
    std::string stream, kind, op, lane, sender;
    size_t length;
    Bytes bytes;
};

std::vector<Golden> load_golden()
{
    std::ifstream in(std::string(DPDIST_VECTORS_DIR) + "/ag_classify.txt");
    std::vector<Golden> out;
    std::string text;
    int n = 0;
    while (std::getline(in, text)) {
        n++;
        if (text.empty() || text[0] == '#')
            continue;
        std::istringstream ls(text);
        Golden g;
        std::string conn, dir, hex;
        ls >> conn >> dir >> g.kind >> g.op >> g.lane >> g.sender >> g.length >> hex;
        g.line = n;
        g.stream = conn + dir;
        g.bytes = from_hex(hex);
        out.push_back(g);
    }
    return out;
}

const char *kind_name(ag_pkt_kind k)
{
    switch (k) {
    case AG_PKT_TICK:
        return "tick";
    case AG_PKT_WHOLE:
        return "whole";
    case AG_PKT_FRAG_FIRST:
        return "first";
    case AG_PKT_FRAG_CONT:
        return "cont";
    }
    return "?";
}

const char *lane_name(ag_lane l)
{
    return l == AG_LANE_PULSE ? "pulse" : l == AG_LANE_EXPRESS ? "express" : "normal";
}

struct Classifier {
    ag_classify c;
    explicit Classifier(uint32_t max = 64)
    {
        EXPECT_EQ(ag_classify_init(&c, max), 0);
    }
    ~Classifier()
    {
        ag_classify_fini(&c);
    }
    ag_classify_result run(const Bytes &b, ag_class *out)
    {
        return ag_classify_packet(&c, b.data(), b.size(), out);
    }
};

TEST(AgClassify, GoldenPacketsOfRealNodes)
{
    std::vector<Golden> gs = load_golden();
    ASSERT_GT(gs.size(), 50u) << "no golden packets: run tests/vectors/capture_dist.py";
    std::map<std::string, Classifier> streams;
    std::map<std::string, int> ops_seen;
    for (const Golden &g : gs) {
        SCOPED_TRACE("ag_classify.txt line " + std::to_string(g.line));
        Classifier &c = streams[g.stream];
        ag_class cl;
        ASSERT_EQ(c.run(g.bytes, &cl), AG_CLASSIFY_OK);
        EXPECT_STREQ(kind_name(cl.kind), g.kind.c_str());
        EXPECT_STREQ(lane_name(cl.lane), g.lane.c_str());
        EXPECT_EQ(g.op == "-" ? -1 : std::stoi(g.op), cl.op);
        if (g.sender == "-") {
            EXPECT_EQ(cl.kind, AG_PKT_TICK);
        } else if (g.sender.rfind("barrier:", 0) == 0) {
            EXPECT_STREQ(ag_barrier_name(cl.barrier), g.sender.c_str() + 8);
            EXPECT_EQ(cl.key, 0u);
        } else {
            EXPECT_EQ(cl.barrier, AG_BARRIER_NONE);
            Bytes sender = from_hex(g.sender);
            EXPECT_EQ(cl.key, ag_classify_key(sender.data(), sender.size()));
            if (cl.kind != AG_PKT_FRAG_CONT) {
                EXPECT_EQ(testhex::str(g.bytes.data() + cl.sender_off, cl.sender_len), g.sender);
            }
        }
        ops_seen[g.kind + " " + g.op]++;
    }
    // what the capture must have produced for this test to mean something
    for (const char *want : {"tick -", "first 22", "cont -", "whole 2", "whole 22", "whole 28",
                             "whole 29", "whole 31"})
        EXPECT_GT(ops_seen[want], 0) << want << " missing from the capture";
    for (auto &s : streams)
        EXPECT_EQ(s.second.c.n, 0u) << "a sequence was left open in " << s.first;
}

TEST(AgClassify, EveryTruncationOfGoldenPackets)
{
    for (const Golden &g : load_golden()) {
        for (size_t cut = 0; cut <= g.bytes.size(); cut++) {
            Classifier c;
            Bytes b(g.bytes.begin(), g.bytes.begin() + (long)cut);
            ag_class cl;
            ag_classify_result r = c.run(b, &cl);
            if (cut == 0) { // an empty packet is a tick
                EXPECT_EQ(r, AG_CLASSIFY_OK);
                EXPECT_EQ(cl.kind, AG_PKT_TICK);
                continue;
            }
            if (g.kind == "cont") {
                // a continuation of an unknown sequence, or a cut header
                EXPECT_NE(r, AG_CLASSIFY_OK);
                continue;
            }
            if (r != AG_CLASSIFY_OK)
                continue;
            EXPECT_LE(cl.sender_off + cl.sender_len, cut);
            EXPECT_EQ(cl.barrier == AG_BARRIER_NONE, cl.key != 0 || cl.kind == AG_PKT_TICK);
        }
    }
}

// --- every op, built with libei ---------------------------------------------------------------

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
    Bytes bytes() const
    {
        return Bytes(x.buff, x.buff + x.index);
    }
};

erlang_pid pid(unsigned num)
{
    erlang_pid p;
    memset(&p, 0, sizeof(p));
    strcpy(p.node, "node@host");
    p.num = num;
    p.serial = 1;
    p.creation = 7;
    return p;
}

// 131 'D' 0 {Op, pid(2), pid(3), ..., pid(arity)} : element i is the pid numbered i
Bytes whole_with_pids(int op, int arity)
{
    X x;
    Bytes hdr = {131, 'D', 0};
    ei_x_encode_tuple_header(&x.x, arity);
    ei_x_encode_long(&x.x, op);
    for (int i = 2; i <= arity; i++) {
        erlang_pid p = pid((unsigned)i);
        ei_x_encode_pid(&x.x, &p);
    }
    Bytes body = x.bytes();
    hdr.insert(hdr.end(), body.begin(), body.end());
    return hdr;
}

Bytes pid_bytes(unsigned num)
{
    X x;
    erlang_pid p = pid(num);
    ei_x_encode_pid(&x.x, &p);
    return x.bytes();
}

TEST(AgClassify, EveryOpNamesItsSender)
{
    // erl_dist_protocol.md's control messages: op -> the element naming the sender
    std::map<int, int> sender = {{1, 2},  {3, 2},  {4, 2},  {6, 2},  {7, 2},  {8, 2},  {13, 2},
                                 {16, 2}, {18, 2}, {19, 2}, {20, 2}, {21, 2}, {22, 2}, {23, 2},
                                 {24, 2}, {25, 2}, {26, 2}, {27, 2}, {28, 2}, {29, 3}, {30, 3},
                                 {31, 5}, {32, 5}, {33, 2}, {34, 2}, {35, 3}, {36, 3}};
    for (int op = 0; op < 256; op++) {
        SCOPED_TRACE("op " + std::to_string(op));
        Classifier c;
        ag_class cl;
        ASSERT_EQ(c.run(whole_with_pids(op, 7), &cl), AG_CLASSIFY_OK);
        EXPECT_EQ(cl.op, op);
        EXPECT_EQ(cl.lane, AG_LANE_EXPRESS);
        if (op == 2 || op == 12) {
            EXPECT_EQ(cl.barrier, AG_BARRIER_NO_SENDER);
        } else if (!sender.count(op)) {
            EXPECT_EQ(cl.barrier, AG_BARRIER_UNKNOWN_OP);
        } else {
            Bytes want = pid_bytes((unsigned)sender[op]), pkt = whole_with_pids(op, 7);
            ASSERT_EQ(cl.barrier, AG_BARRIER_NONE);
            EXPECT_EQ(cl.key, ag_classify_key(want.data(), want.size()));
            ASSERT_LE(cl.sender_off + cl.sender_len, pkt.size());
            EXPECT_EQ(want, Bytes(pkt.begin() + (long)cl.sender_off,
                                  pkt.begin() + (long)(cl.sender_off + cl.sender_len)));
            // a tuple too short to hold its sender is not parsed past its end
            Classifier c2;
            ASSERT_EQ(c2.run(whole_with_pids(op, sender[op] - 1), &cl), AG_CLASSIFY_OK);
            EXPECT_EQ(cl.barrier, AG_BARRIER_CONTROL);
        }
    }
}

TEST(AgClassify, SenderKindsAndPassThrough)
{
    // {28, capture_named, Pid, Ref}: a DOWN of a monitor by name is a barrier
    X x;
    ei_x_encode_tuple_header(&x.x, 3);
    ei_x_encode_long(&x.x, 28);
    ei_x_encode_atom(&x.x, "registered_name");
    erlang_pid p = pid(9);
    ei_x_encode_pid(&x.x, &p);
    Bytes pkt = {131, 'D', 0};
    Bytes body = x.bytes();
    pkt.insert(pkt.end(), body.begin(), body.end());
    Classifier c;
    ag_class cl;
    ASSERT_EQ(c.run(pkt, &cl), AG_CLASSIFY_OK);
    EXPECT_EQ(cl.barrier, AG_BARRIER_NAMED);
    // the sender element an integer: not a pid
    pkt[5] = 97;
    pkt[6] = 5;
    X y;
    ei_x_encode_tuple_header(&y.x, 3);
    ei_x_encode_long(&y.x, 22);
    ei_x_encode_long(&y.x, 5);
    ei_x_encode_pid(&y.x, &p);
    Bytes pkt2 = {131, 'D', 0};
    Bytes b2 = y.bytes();
    pkt2.insert(pkt2.end(), b2.begin(), b2.end());
    ASSERT_EQ(c.run(pkt2, &cl), AG_CLASSIFY_OK);
    EXPECT_EQ(cl.barrier, AG_BARRIER_NOT_PID);
    // pass-through: 112 131 Control
    Bytes pt = {112, 131};
    Bytes b3 = whole_with_pids(22, 3);
    pt.insert(pt.end(), b3.begin() + 3, b3.end());
    ASSERT_EQ(c.run(pt, &cl), AG_CLASSIFY_OK);
    Bytes want = pid_bytes(2);
    EXPECT_EQ(cl.key, ag_classify_key(want.data(), want.size()));
    EXPECT_EQ(cl.lane, AG_LANE_EXPRESS);
    // a control message that is no tuple, or whose op is no small integer
    for (Bytes bad : {Bytes{131, 'D', 0, 97, 1}, Bytes{131, 'D', 0, 104, 2, 100, 0, 1, 'x'},
                      Bytes{131, 'D', 0, 104, 0}, Bytes{131, 'D', 0}}) {
        ASSERT_EQ(c.run(bad, &cl), AG_CLASSIFY_OK);
        EXPECT_EQ(cl.barrier, AG_BARRIER_CONTROL);
    }
}

TEST(AgClassify, HeaderErrors)
{
    Classifier c;
    ag_class cl;
    EXPECT_EQ(c.run({1, 2, 3}, &cl), AG_CLASSIFY_E_HEADER);
    EXPECT_EQ(c.run({131}, &cl), AG_CLASSIFY_E_SHORT);
    EXPECT_EQ(c.run({131, 'Q', 0}, &cl), AG_CLASSIFY_E_HEADER);
    EXPECT_EQ(c.run({131, 'D'}, &cl), AG_CLASSIFY_E_SHORT);
    EXPECT_EQ(c.run({131, 'D', 1, 0, 0}, &cl), AG_CLASSIFY_E_ATOM_CACHE);
    Bytes e = {131, 'E', 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    EXPECT_EQ(c.run(e, &cl), AG_CLASSIFY_E_FRAG_ID);
    e[17] = 2;
    e[18] = 3;
    EXPECT_EQ(c.run(e, &cl), AG_CLASSIFY_E_ATOM_CACHE);
    EXPECT_EQ(c.c.n, 0u);
    EXPECT_EQ(c.run({}, &cl), AG_CLASSIFY_OK);
    EXPECT_EQ(cl.kind, AG_PKT_TICK);
    EXPECT_EQ(cl.lane, AG_LANE_PULSE);
    EXPECT_STREQ(ag_classify_result_name(AG_CLASSIFY_E_SEQ_FULL), "seq_full");
    EXPECT_STRNE(ag_classify_strerror((ag_classify_result)99), "");
}

// --- fragments ---------------------------------------------------------------------------------

Bytes frag_first(uint64_t seq, uint64_t frag, int op, unsigned sender)
{
    Bytes hdr = {131, 'E'};
    for (int i = 7; i >= 0; i--)
        hdr.push_back((uint8_t)(seq >> (8 * i)));
    for (int i = 7; i >= 0; i--)
        hdr.push_back((uint8_t)(frag >> (8 * i)));
    hdr.push_back(0);
    X x;
    ei_x_encode_tuple_header(&x.x, 3);
    ei_x_encode_long(&x.x, op);
    erlang_pid s = pid(sender), t = pid(1000);
    ei_x_encode_pid(&x.x, &s);
    ei_x_encode_pid(&x.x, &t);
    Bytes body = x.bytes();
    hdr.insert(hdr.end(), body.begin(), body.end());
    hdr.insert(hdr.end(), 100, 7); // part of the message
    return hdr;
}

Bytes frag_cont(uint64_t seq, uint64_t frag)
{
    Bytes b = {131, 'F'};
    for (int i = 7; i >= 0; i--)
        b.push_back((uint8_t)(seq >> (8 * i)));
    for (int i = 7; i >= 0; i--)
        b.push_back((uint8_t)(frag >> (8 * i)));
    b.insert(b.end(), 50, 9);
    return b;
}

TEST(AgClassify, FragmentsFollowTheirFirst)
{
    Classifier c(8);
    ag_class a, b, x;
    ASSERT_EQ(c.run(frag_first(10, 3, 22, 1), &a), AG_CLASSIFY_OK);
    ASSERT_EQ(c.run(frag_first(11, 2, 22, 2), &b), AG_CLASSIFY_OK);
    EXPECT_NE(a.key, b.key);
    EXPECT_EQ(a.lane, AG_LANE_NORMAL);
    EXPECT_EQ(c.c.n, 2u);
    ASSERT_EQ(c.run(frag_cont(11, 1), &x), AG_CLASSIFY_OK);
    EXPECT_EQ(x.key, b.key);
    EXPECT_EQ(x.kind, AG_PKT_FRAG_CONT);
    EXPECT_EQ(c.run(frag_cont(11, 1), &x), AG_CLASSIFY_E_SEQ_UNKNOWN);
    ASSERT_EQ(c.run(frag_cont(10, 2), &x), AG_CLASSIFY_OK);
    EXPECT_EQ(x.key, a.key);
    EXPECT_EQ(c.run(frag_first(10, 5, 22, 3), &x), AG_CLASSIFY_E_SEQ_DUP);
    ASSERT_EQ(c.run(frag_cont(10, 1), &x), AG_CLASSIFY_OK);
    EXPECT_EQ(c.c.n, 0u);
    // a message in one fragment leaves nothing behind
    ASSERT_EQ(c.run(frag_first(12, 1, 22, 3), &x), AG_CLASSIFY_OK);
    EXPECT_EQ(c.c.n, 0u);
    // a message that began as a barrier: its later fragments are barriers too
    ASSERT_EQ(c.run(frag_first(13, 2, 2, 3), &x), AG_CLASSIFY_OK);
    EXPECT_EQ(x.barrier, AG_BARRIER_NO_SENDER);
    ASSERT_EQ(c.run(frag_cont(13, 1), &x), AG_CLASSIFY_OK);
    EXPECT_EQ(x.barrier, AG_BARRIER_FRAGMENT);
    EXPECT_EQ(x.key, 0u);
}

TEST(AgClassify, SequenceTableBoundAndDeletion)
{
    ag_classify bad;
    EXPECT_EQ(ag_classify_init(&bad, 0), -EINVAL);
    EXPECT_EQ(ag_classify_init(&bad, (1u << 20) + 1), -EINVAL);
    const uint32_t max = 100;
    Classifier c(max);
    ag_class x;
    std::vector<uint64_t> seqs;
    for (uint32_t i = 0; i < max; i++) {
        uint64_t seq = (uint64_t)i << 20; // spread and colliding homes alike
        seqs.push_back(seq);
        ASSERT_EQ(c.run(frag_first(seq, 2, 22, i + 1), &x), AG_CLASSIFY_OK);
    }
    EXPECT_EQ(c.run(frag_first(999999, 2, 22, 1), &x), AG_CLASSIFY_E_SEQ_FULL);
    EXPECT_EQ(c.c.n, max);
    // a single-fragment message needs no slot even when the table is full
    EXPECT_EQ(c.run(frag_first(999999, 1, 22, 1), &x), AG_CLASSIFY_OK);
    std::mt19937 rng(5);
    std::shuffle(seqs.begin(), seqs.end(), rng);
    for (size_t i = 0; i < seqs.size(); i++) {
        ASSERT_EQ(c.run(frag_cont(seqs[i], 1), &x), AG_CLASSIFY_OK) << i;
        Bytes want = pid_bytes((unsigned)(seqs[i] >> 20) + 1);
        EXPECT_EQ(x.key, ag_classify_key(want.data(), want.size()));
    }
    EXPECT_EQ(c.c.n, 0u);
}

TEST(AgClassify, DeletionKeepsProbeRuns)
{
    // many sequences whose homes collide: removing from the middle of a run must keep the
    // later entries reachable (backward-shift deletion)
    Classifier c(64);
    ag_class x;
    std::vector<uint64_t> seqs;
    for (uint64_t i = 0; i < 64; i++)
        seqs.push_back(i * 977);
    for (uint64_t s : seqs)
        ASSERT_EQ(c.run(frag_first(s, 3, 22, (unsigned)(s % 1000) + 1), &x), AG_CLASSIFY_OK);
    std::mt19937 rng(11);
    std::shuffle(seqs.begin(), seqs.end(), rng);
    for (size_t i = 0; i < seqs.size(); i++) {
        ASSERT_EQ(c.run(frag_cont(seqs[i], 2), &x), AG_CLASSIFY_OK);
        ASSERT_EQ(c.run(frag_cont(seqs[i], 1), &x), AG_CLASSIFY_OK);
        for (size_t j = i + 1; j < seqs.size(); j++) {
            ag_class y;
            // 'F' with FragId 2 does not remove: a lookup only
            ASSERT_EQ(c.run(frag_cont(seqs[j], 2), &y), AG_CLASSIFY_OK) << "lost " << seqs[j];
        }
    }
    EXPECT_EQ(c.c.n, 0u);
}

} // namespace
