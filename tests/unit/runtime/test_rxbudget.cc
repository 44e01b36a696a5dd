// Tests for runtime/carrier_tcp/rxbudget.c, the node-wide reassembly memory on the TCP carrier: peers
// with unfinished fragmented messages (raw peers after a real handshake: tests/unit/runtime/
// rt_test_util's RawPeer sends the fragments by hand, and stops where it likes) and real
// dpdist nodes in this process sending large messages at once. The node under test has a
// small max_reassembly_bytes; dd_node_reassembly reports what it holds.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <thread>
#include <vector>

#include "runtime/carrier_tcp/tcpc_stats.h"
#include "tests/lib/bytes.h"
#include "rt_test_util.h"

using namespace rt_test;

namespace
{

const size_t kFrag = 64 * 1024;

struct dd_reassembly_stats reasm(dd_node *n)
{
    struct dd_reassembly_stats s = {};
    EXPECT_EQ(dd_node_reassembly(n, &s), DD_OK);
    return s;
}

using testbytes::be;
using testbytes::cat;

// {Tag, Bin}: Bin a binary of len bytes derived from tag.
Bytes big(long tag, size_t len)
{
    std::vector<char> bin(len, char('a' + tag % 26));
    for (size_t i = 0; i < len; i += 4096)
        bin[i] = char(tag + long(i / 4096));
    return term([&](ei_x_buff *x) {
        ei_x_encode_tuple_header(x, 2);
        ei_x_encode_long(x, tag);
        ei_x_encode_binary(x, bin.data(), long(len));
    });
}

// The node under test: a mailbox `sink` collecting what arrives, keyed by tag.
class ReasmBudget : public ::testing::Test
{
  protected:
    void start(size_t max_msg, size_t cap)
    {
        NodeOpts o;
        o.max_message_bytes = max_msg;
        o.max_reassembly_bytes = cap;
        alive_ = fresh_name("capped");
        node_ = start_node(alive_, o);
        ASSERT_TRUE(node_);
        ASSERT_EQ(dd_mbox_open(node_, "sink", 0, &sink_), DD_OK);
    }
    void TearDown() override
    {
        if (node_)
            dd_node_stop(node_);
    }
    // A raw peer named `name` after a real handshake.
    std::unique_ptr<RawPeer> peer(const std::string &name)
    {
        auto p = std::make_unique<RawPeer>();
        EXPECT_TRUE(p->connect_to(alive_));
        EXPECT_TRUE(p->handshake(name + "@" + short_host(), dd_node_name(node_)));
        return p;
    }
    // The fragment packets of message {tag, <len bytes>} from p to sink.
    std::vector<Bytes> fragments(RawPeer &p, long tag, size_t len)
    {
        return fragment_body(reg_send_body(p.pid(1), "sink", big(tag, len)), uint64_t(tag), kFrag);
    }
    bool send_all(RawPeer &p, const std::vector<Bytes> &pk, size_t from, size_t to)
    {
        for (size_t i = from; i < to; i++)
            if (!p.send_packet(pk[i]))
                return false;
        return true;
    }
    // Next message on sink: its tag and size (-1 when none in timeout_ms); *same: whether
    // it is exactly big(tag, len) for that size.
    long next_tag(int timeout_ms, size_t *len = nullptr, bool *same = nullptr)
    {
        dd_msg *m = recv_one(sink_, timeout_ms);
        if (!m)
            return -1;
        int idx = 0, ver, arity;
        long tag = -2;
        if (ei_decode_version(m->term, &idx, &ver) == 0 &&
            ei_decode_tuple_header(m->term, &idx, &arity) == 0)
            ei_decode_long(m->term, &idx, &tag);
        if (len)
            *len = m->len;
        if (same) {
            int bidx = idx, type, size;
            ei_get_type(m->term, &bidx, &type, &size);
            Bytes want = big(tag, size_t(size));
            *same = want.size() == m->len && memcmp(want.data(), m->term, m->len) == 0;
        }
        dd_msg_free(m);
        return tag;
    }
    std::string alive_;
    dd_node *node_ = nullptr;
    dd_mbox *sink_ = nullptr;
    LogCapture logs_;
};

// Three peers each leave a 7 MiB message unfinished: the node holds what they announced and
// no more than its cap. A fourth peer's message does not fit: the node stops reading that
// peer (logged) instead of holding a fourth message, so a small message behind it waits too.
// When one of the three finishes, the fourth goes on, and everything arrives in order.
// Before the cap, four such peers held four messages (three held 778 MB in the report).
TEST_F(ReasmBudget, UnfinishedMessagesFromManyPeersStayUnderTheCap)
{
    const size_t len = 7 << 20;
    // A 7 MiB message is 113 fragments: each start reserves 113 x 64 KiB.
    const size_t n_frags = (len + 200) / kFrag + 1, est = n_frags * kFrag;
    start(8 << 20, 3 * est + est / 2);
    std::vector<std::unique_ptr<RawPeer>> peers;
    std::vector<std::vector<Bytes>> pk;
    for (long i = 0; i < 4; i++) {
        peers.push_back(peer("holder" + std::to_string(i)));
        pk.push_back(fragments(*peers[size_t(i)], i, len));
        ASSERT_EQ(pk[size_t(i)].size(), n_frags);
    }
    // 10 of 113 fragments, then a small message of another process of the peer (tag 90 + i),
    // then nothing: the small one arriving shows the node read past the fragments.
    for (size_t i = 0; i < 4; i++) {
        ASSERT_TRUE(send_all(*peers[i], pk[i], 0, 10));
        ASSERT_TRUE(
            peers[i]->send_packet(reg_send_body(peers[i]->pid(2), "sink", big(90 + long(i), 10))));
        if (i < 3) {
            EXPECT_EQ(next_tag(3000), 90 + long(i));
        }
    }
    EXPECT_EQ(next_tag(500), -1) << "the node read on behind the fourth peer's fragments";
    ASSERT_TRUE(wait_until([&] { return reasm(node_).waiting == 1; }, 3000));
    struct dd_reassembly_stats st = reasm(node_);
    EXPECT_EQ(st.bytes, 3 * est) << "the fourth message holds nothing";
    EXPECT_LE(st.high_water, st.limit);
    EXPECT_GE(st.refusals, 1u);
    EXPECT_TRUE(logs_.wait_for("reassembly memory is at its cap*reading from holder3@*waits for "
                               "room (a fragmented message)",
                               2000));
    EXPECT_EQ(next_tag(300), -1) << "nothing complete yet";

    // Peer 0 finishes: its message arrives, and peer 3 is read again from where it waited.
    ASSERT_TRUE(send_all(*peers[0], pk[0], 10, n_frags));
    size_t got_len = 0;
    EXPECT_EQ(next_tag(5000, &got_len), 0);
    EXPECT_EQ(got_len, big(0, len).size());
    ASSERT_TRUE(wait_until([&] { return reasm(node_).waiting == 0; }, 3000));
    EXPECT_EQ(next_tag(5000), 93) << "what peer 3 sent after its first fragments";
    ASSERT_TRUE(send_all(*peers[3], pk[3], 10, n_frags));
    EXPECT_EQ(next_tag(5000, &got_len), 3) << "the waiting peer's message, whole";
    EXPECT_EQ(got_len, big(3, len).size());
    // A peer that goes away gives its memory back.
    peers[1].reset();
    EXPECT_TRUE(wait_until([&] { return reasm(node_).bytes == est; }, 3000)) << reasm(node_).bytes;
    ASSERT_TRUE(send_all(*peers[2], pk[2], 10, n_frags));
    EXPECT_EQ(next_tag(5000), 2);
    EXPECT_TRUE(wait_until([&] { return reasm(node_).bytes == 0; }, 3000));
    EXPECT_LE(reasm(node_).high_water, reasm(node_).limit);
}

// Two peers each hold one message and start a second at the cap: the first to ask waits (the
// other may still finish and give memory back); the second would then wait for a peer that
// waits for it, so it is closed instead (logged), and the first goes on.
TEST_F(ReasmBudget, APeerThatWouldWaitForAWaitingPeerIsClosed)
{
    const size_t len = 3 << 20;
    const size_t n_frags = (len + 200) / kFrag + 1, est = n_frags * kFrag;
    start(7 << 20, 8 << 20); // two messages per peer fit its own bound, three not the cap
    auto a = peer("interleaver_a"), b = peer("interleaver_b");
    auto a1 = fragments(*a, 1, len), a2 = fragments(*a, 2, len);
    auto b1 = fragments(*b, 3, len), b2 = fragments(*b, 4, len);
    ASSERT_TRUE(send_all(*a, a1, 0, 5));
    ASSERT_TRUE(send_all(*b, b1, 0, 5));
    ASSERT_TRUE(wait_until([&] { return reasm(node_).bytes == 2 * est; }, 3000));
    ASSERT_TRUE(send_all(*a, a2, 0, 1));
    ASSERT_TRUE(wait_until([&] { return reasm(node_).waiting == 1; }, 3000));
    ASSERT_TRUE(send_all(*b, b2, 0, 1));
    EXPECT_TRUE(b->wait_closed(3000));
    EXPECT_TRUE(logs_.wait_for("closing connection to interleaver_b@*held by connections "
                               "waiting",
                               2000));
    // b's memory comes back; a's second message starts and both of a's finish.
    ASSERT_TRUE(wait_until([&] { return reasm(node_).waiting == 0; }, 3000));
    for (size_t i = 5; i < n_frags; i++) { // interleaved, as BEAM would
        ASSERT_TRUE(a->send_packet(a1[i]));
        ASSERT_TRUE(a->send_packet(a2[i - 4]));
    }
    ASSERT_TRUE(send_all(*a, a2, n_frags - 4, n_frags));
    long t1 = next_tag(5000), t2 = next_tag(5000);
    EXPECT_TRUE((t1 == 1 && t2 == 2) || (t1 == 2 && t2 == 1)) << t1 << " " << t2;
    EXPECT_LE(reasm(node_).high_water, reasm(node_).limit);
}

// Real dpdist nodes in this process send large messages at once while a raw peer holds most
// of the cap with an unfinished one: they wait (nothing held for them, nothing lost), and
// once the raw peer finishes every message arrives whole and in each sender's order.
TEST_F(ReasmBudget, DpdistSendersWaitForRoomAndLoseNothing)
{
    const size_t len = 3 << 20;
    const size_t n_frags = (len + 200) / kFrag + 1, est = n_frags * kFrag;
    start(7 << 20, 2 * est + est / 2);
    auto holder = peer("holder");
    auto hk = fragments(*holder, 50, 2 * len);
    ASSERT_TRUE(send_all(*holder, hk, 0, 3));
    ASSERT_TRUE(wait_until([&] { return reasm(node_).bytes > 0; }, 3000));
    const int senders = 3, per = 2;
    std::vector<std::unique_ptr<Node>> nodes;
    std::vector<std::thread> ts;
    std::atomic<int> failed{0};
    for (int s = 0; s < senders; s++)
        nodes.push_back(std::make_unique<Node>(fresh_name("bulk")));
    for (int s = 0; s < senders; s++)
        ts.emplace_back([&, s] {
            dd_mbox *mb;
            if (dd_mbox_open(nodes[size_t(s)]->n, nullptr, 0, &mb) != DD_OK) {
                failed++;
                return;
            }
            for (int k = 0; k < per; k++) {
                Bytes t = big(10 * (s + 1) + k, len);
                if (dd_send_reg(mb, "sink", dd_node_name(node_), t.data(), t.size()) != DD_OK)
                    failed++;
            }
            dd_mbox_close(mb);
        });
    for (auto &t : ts)
        t.join();
    EXPECT_EQ(failed.load(), 0);
    ASSERT_TRUE(wait_until([&] { return reasm(node_).waiting >= 1; }, 5000))
        << "with the holder's 6 MiB there is room for no 3 MiB message";
    EXPECT_EQ(next_tag(300), -1);
    ASSERT_TRUE(send_all(*holder, hk, 3, hk.size()));
    std::map<long, int> seen;
    std::map<int, long> last;
    for (int i = 0; i < senders * per + 1; i++) {
        size_t got = 0;
        long tag = next_tag(10000, &got);
        ASSERT_GE(tag, 0) << "after " << i << " messages";
        seen[tag]++;
        if (tag != 50) {
            EXPECT_EQ(got, big(tag, len).size());
            int s = int(tag / 10);
            EXPECT_GT(tag, last.count(s) ? last[s] : -1) << "sender " << s << " out of order";
            last[s] = tag;
        }
    }
    EXPECT_EQ(seen.size(), size_t(senders * per + 1)) << "each message once";
    struct dd_reassembly_stats st = reasm(node_);
    EXPECT_LE(st.high_water, st.limit);
    EXPECT_GE(st.refusals, 1u);
    EXPECT_TRUE(wait_until([&] { return reasm(node_).bytes == 0; }, 3000));
}

// A node stopping while a peer waits for room lets that connection go (LeakSanitizer
// checks that nothing is left behind in the ASan build).
TEST_F(ReasmBudget, ANodeStopsWhileAPeerWaits)
{
    const size_t len = 7 << 20;
    const size_t n_frags = (len + 200) / kFrag + 1, est = n_frags * kFrag;
    start(8 << 20, est + est / 2);
    auto a = peer("first"), b = peer("second");
    auto pa = fragments(*a, 1, len), pb = fragments(*b, 2, len);
    ASSERT_TRUE(send_all(*a, pa, 0, 2));
    ASSERT_TRUE(wait_until([&] { return reasm(node_).bytes == est; }, 3000));
    ASSERT_TRUE(send_all(*b, pb, 0, 2));
    ASSERT_TRUE(wait_until([&] { return reasm(node_).waiting == 1; }, 3000));
    dd_node_stop(node_);
    node_ = nullptr;
    EXPECT_TRUE(b->wait_closed(3000));
}

TEST_F(ReasmBudget, TheCapHoldsTheLargestMessage)
{
    NodeOpts o;
    o.max_message_bytes = 8 << 20;
    o.max_reassembly_bytes = 4 << 20;
    struct dd_node_cfg cfg = {};
    std::string alive = fresh_name("toosmall");
    cfg.sname = alive.c_str();
    cfg.cookie = "rtcookie";
    cfg.epmd_port = epmd_port();
    cfg.max_message_bytes = o.max_message_bytes;
    cfg.max_reassembly_bytes = o.max_reassembly_bytes;
    dd_node *n = nullptr;
    EXPECT_EQ(dd_node_start(&cfg, &n), DD_EINVAL);
    EXPECT_NE(std::string(dd_last_error()).find("max_reassembly_bytes"), std::string::npos);
    EXPECT_EQ(dd_node_reassembly(nullptr, nullptr), DD_EINVAL);
}

// The receive path reads fragment bodies straight into their message's buffer (a readv of
// the body's rest and a little beyond it) and hands that buffer to the mailbox: of two
// interleaved 16 MiB messages with small ones between their fragments, only a small part
// is copied from the receive buffer (the first read, and what each read takes beyond a
// body), and both are delivered in their own buffers, whole. Before, every fragment was
// copied into a reassembly buffer and the whole message again into the mailbox's.
TEST_F(ReasmBudget, FragmentBodiesAreReadStraightIntoTheirMessage)
{
    const size_t len = 16 << 20;
    start(64 << 20, 128 << 20);
    auto p = peer("direct");
    auto m1 = fragments(*p, 1, len), m2 = fragments(*p, 2, len);
    size_t total = 0;
    for (size_t i = 0; i < m1.size(); i++) {
        ASSERT_TRUE(p->send_packet(m1[i]));
        ASSERT_TRUE(p->send_packet(m2[i]));
        total += m1[i].size() + m2[i].size();
        if (i % 64 == 0) {
            ASSERT_TRUE(p->send_packet(reg_send_body(p->pid(3), "sink", big(10 + long(i), 40))));
        }
    }
    std::map<long, size_t> got;
    for (int k = 0; k < 2 + int((m1.size() + 63) / 64); k++) {
        size_t got_len = 0;
        bool same = false;
        long tag = next_tag(10000, &got_len, &same);
        ASSERT_GE(tag, 0) << "message " << k << " missing";
        EXPECT_TRUE(same) << "message " << tag << " differs from what was sent";
        got[tag] = got_len;
    }
    EXPECT_EQ(got[1], big(1, len).size());
    EXPECT_EQ(got[2], big(2, len).size());
    struct tcpc_rx_stats st = {};
    ASSERT_TRUE(tcpc_rx_stats_get(node_, p->name().c_str(), &st));
    std::cout << "# " << total << " bytes of fragments: " << st.placed_bytes
              << " read into their message, " << st.copied_bytes << " copied from the receive "
              << "buffer; " << st.owned_msgs << " messages delivered in their own buffer\n";
    EXPECT_LE(st.copied_bytes, total / 8) << "fragment bodies went through the receive buffer";
    EXPECT_GE(st.placed_bytes + st.copied_bytes, total - 4096 * m1.size());
    EXPECT_EQ(st.owned_msgs, 2u) << "a reassembled message was copied for the mailbox";
    EXPECT_TRUE(wait_until([&] { return reasm(node_).bytes == 0; }, 3000));
}

// Bad fragments whose bodies are still arriving (so they are placed, not fed whole) close
// the connection with the reason, as when fed: a continuation of no sequence, and a last
// fragment far larger than its message announced while the node's memory is held by
// another peer. Other peers are served on.
TEST_F(ReasmBudget, BadFragmentsArrivingInPiecesCloseTheConnection)
{
    const size_t len = 5 << 20;
    const size_t n_frags = (len + 200) / kFrag + 1, est = n_frags * kFrag;
    start(8 << 20, 8 << 20);
    auto holder = peer("holder");
    auto hk = fragments(*holder, 1, len);
    ASSERT_TRUE(send_all(*holder, hk, 0, 3));
    ASSERT_TRUE(wait_until([&] { return reasm(node_).bytes == est; }, 3000));

    auto stray = peer("stray");
    Bytes cont = cat({{131, 70}, be(77, 8), be(1, 8), Bytes(300 * 1024, 1)});
    Bytes len4 = be(uint64_t(cont.size()), 4);
    ASSERT_TRUE(stray->send_bytes(cat({len4, Bytes(cont.begin(), cont.begin() + 100)})));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    (void)stray->send_bytes(Bytes(cont.begin() + 100, cont.end()));
    EXPECT_TRUE(stray->wait_closed(3000));
    EXPECT_TRUE(logs_.wait_for("closing connection to stray@*: bad packet: continuation fragment "
                               "for an unknown sequence",
                               2000));

    auto grower = peer("grower");
    Bytes startf = cat({{131, 69}, be(5, 8), be(2, 8), {0}, Bytes(kFrag, 2)});
    ASSERT_TRUE(grower->send_packet(startf)); // reserves 2 x 64 KiB
    Bytes last = cat({{131, 70}, be(5, 8), be(1, 8), Bytes(6 << 20, 3)});
    Bytes last4 = be(uint64_t(last.size()), 4);
    ASSERT_TRUE(grower->send_bytes(cat({last4, Bytes(last.begin(), last.begin() + 100)})));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    (void)grower->send_bytes(Bytes(last.begin() + 100, last.end()));
    EXPECT_TRUE(grower->wait_closed(3000));
    EXPECT_TRUE(logs_.wait_for("closing connection to grower@*: bad packet: fragments larger "
                               "than their message announced*",
                               2000));
    EXPECT_TRUE(wait_until([&] { return reasm(node_).bytes == est; }, 3000))
        << "only the holder's message is held";
    ASSERT_TRUE(send_all(*holder, hk, 3, n_frags));
    size_t got_len = 0;
    bool same = false;
    EXPECT_EQ(next_tag(5000, &got_len, &same), 1) << "the holder is served on";
    EXPECT_TRUE(same);
    EXPECT_LE(reasm(node_).high_water, reasm(node_).limit);
}

} // namespace
