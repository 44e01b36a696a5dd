// Two dpdist nodes in this process, their data planes joined by a crossed net_ring pair
// (`vdev = net_ring0,pair=NAME,side=0|1`, dataplane/dp_engine.c), registered with an EPMD
// server running in a thread (tests/unit/runtime/rt_test_util): the whole stack from dd_send
// to dd_recv over DPDK, without another process. EAL is initialised once by
// tests/lib/eal_main.cc; each node has one lcore (inline polling), so each has a "pump"
// thread waiting in dd_recv, i.e. running its poll loop, as an application thread would.
//
// Checks: the connection moves to DPDK in both directions (dd_node_carrier, the counters of
// dd_peer_stats); many small messages keep their order; messages of 4 and 32 MiB arrive
// intact; several senders keep their own orders; a disconnect takes the channel down (nodedown,
// links fire with noconnection) and a new connection is upgraded again on the same ports;
// several receiving threads on one inline node share the polling (one leader, the others
// woken by it), the leader copies large payloads for sending threads, and when the leader's
// mailbox closes another receiver takes over.
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "dpdist/dpdist.h"
#include "runtime/api/dd_testing.h"
#include "tests/unit/runtime/rt_test_util.h" // the process's EPMD, wait_until

namespace
{

// A directory for the nodes' config files, removed at exit (the files go with their nodes).
struct TmpDir {
    std::string path = "/tmp";
    TmpDir()
    {
        char tmpl[] = "/tmp/dpdist-unit-ring.XXXXXX";
        if (mkdtemp(tmpl))
            path = tmpl;
    }
    ~TmpDir()
    {
        if (path != "/tmp")
            rmdir(path.c_str());
    }
};

std::string tmpdir()
{
    static TmpDir dir;
    return dir.path;
}

std::atomic<unsigned> g_seq{0};

using rt_test::wait_until;

// ---- nodes -----------------------------------------------------------------------------------

// A node whose data plane is one side of the ring pair `pair`.
struct RingNode {
    dd_node *n = nullptr;
    std::string alive, cfg_path;
    RingNode(const std::string &pair, int side, const std::string &extra = "",
             size_t max_message_bytes = 0, size_t max_reassembly_bytes = 0)
    {
        alive = "ring" + std::to_string(getpid()) + "x" + std::to_string(g_seq++);
        cfg_path = tmpdir() + "/" + alive + ".ini";
        std::ofstream f(cfg_path);
        f << "[node]\nsname = " << alive << "\n"
          << "[eal]\nlcores = 0\nno_huge = true\n" // EAL is up already: ignored
          << "[port]\nvdev = net_ring0,pair=" << pair << ",side=" << side << "\n"
          << "ip = 10.99.0." << (side + 1) << "\nmac = 02:dd:99:00:00:0" << (side + 1) << "\n"
          << "[mempool]\nmbuf_count = 4095\ncache_size = 64\n"
          << "[lanes]\nhb_missed_limit = 50\nmin_rto_us = 5000\n"
          << extra;
        f.close();
        struct dd_node_cfg cfg = {};
        cfg.sname = alive.c_str();
        cfg.cookie = "ringcookie";
        cfg.epmd_port = rt_test::epmd_port();
        cfg.config_file = cfg_path.c_str();
        cfg.max_message_bytes = max_message_bytes;
        cfg.max_reassembly_bytes = max_reassembly_bytes;
        int rc = dd_node_start(&cfg, &n);
        EXPECT_EQ(rc, DD_OK) << dd_last_error();
    }
    ~RingNode()
    {
        if (n)
            dd_node_stop(n);
        unlink(cfg_path.c_str());
    }
    std::string name() const
    {
        return dd_node_name(n);
    }
};

// Runs a node's poll loop from a thread waiting in dd_recv, as an application would.
struct Pump {
    dd_mbox *mb = nullptr;
    std::atomic<bool> stop{false};
    std::thread t;
    explicit Pump(dd_node *n)
    {
        EXPECT_EQ(dd_mbox_open(n, nullptr, 0, &mb), DD_OK);
        t = std::thread([this] {
            while (!stop) {
                dd_msg *m;
                if (dd_recv(mb, &m, 20) == DD_OK)
                    dd_msg_free(m);
            }
        });
    }
    ~Pump()
    {
        stop = true;
        t.join();
        dd_mbox_close(mb);
    }
};

// ---- terms -----------------------------------------------------------------------------------

// {seq, Sender, Seq, Padding}: Padding a binary of pad bytes (fragmented when large).
std::vector<char> seq_term(long sender, long seq, size_t pad = 0)
{
    std::vector<char> padding(pad, char(seq));
    ei_x_buff x;
    ei_x_new_with_version(&x);
    ei_x_encode_tuple_header(&x, 4);
    ei_x_encode_atom(&x, "seq");
    ei_x_encode_long(&x, sender);
    ei_x_encode_long(&x, seq);
    ei_x_encode_binary(&x, padding.data(), long(pad));
    std::vector<char> v(x.buff, x.buff + x.index);
    ei_x_free(&x);
    return v;
}

bool un_seq(const dd_msg *m, long *sender, long *seq)
{
    int idx = 0, ver, arity;
    char atom[MAXATOMLEN_UTF8];
    return m->kind == DD_MSG_MESSAGE && ei_decode_version(m->term, &idx, &ver) == 0 &&
           ei_decode_tuple_header(m->term, &idx, &arity) == 0 && arity == 4 &&
           ei_decode_atom(m->term, &idx, atom) == 0 && !strcmp(atom, "seq") &&
           ei_decode_long(m->term, &idx, sender) == 0 && ei_decode_long(m->term, &idx, seq) == 0;
}

// What a received message is, for failure messages.
std::string show_term(const dd_msg *m)
{
    long snd, q;
    if (un_seq(m, &snd, &q))
        return "{seq, " + std::to_string(snd) + ", " + std::to_string(q) + ", _}";
    return "a message of kind " + std::to_string(int(m->kind)) + ", " + std::to_string(m->len) +
           " bytes";
}

// A binary of len bytes whose content depends on (tag, offset).
std::vector<char> big_term(size_t len, uint32_t tag)
{
    std::vector<char> bin(len);
    for (size_t i = 0; i < len; i += 4) {
        uint32_t v = tag * 2654435761u ^ uint32_t(i);
        memcpy(&bin[i], &v, len - i < 4 ? len - i : 4);
    }
    ei_x_buff x;
    ei_x_new_with_version(&x);
    ei_x_encode_binary(&x, bin.data(), long(len));
    std::vector<char> v(x.buff, x.buff + x.index);
    ei_x_free(&x);
    return v;
}

struct dd_peer_stats stats(dd_node *n, const std::string &peer)
{
    struct dd_peer_stats s = {};
    EXPECT_EQ(dd_peer_stats(n, peer.c_str(), &s), DD_OK) << dd_last_error();
    return s;
}

// Two nodes connected over their ring pair, with pumps and a mailbox each.
class RingPair : public ::testing::Test
{
  protected:
    void SetUp() override
    {
        std::string pair = "rp" + std::to_string(getpid() % 100000) + "_" + std::to_string(g_seq++);
        a_ = new RingNode(pair, 0);
        b_ = new RingNode(pair, 1);
        ASSERT_TRUE(a_->n && b_->n);
        pa_ = new Pump(a_->n);
        pb_ = new Pump(b_->n);
        ASSERT_EQ(dd_mbox_open(a_->n, "ma", 0, &ma_), DD_OK);
        ASSERT_EQ(dd_mbox_open(b_->n, "mb", 0, &mb_), DD_OK);
        ASSERT_EQ(dd_connect(a_->n, b_->name().c_str(), 5000), DD_OK) << dd_last_error();
        ASSERT_TRUE(wait_until(
            [&] {
                return dd_node_carrier(a_->n, b_->name().c_str()) == DD_CARRIER_DPDK &&
                       dd_node_carrier(b_->n, a_->name().c_str()) == DD_CARRIER_DPDK;
            },
            5000))
            << "carriers: A->B " << dd_node_carrier(a_->n, b_->name().c_str()) << ", B->A "
            << dd_node_carrier(b_->n, a_->name().c_str());
    }
    void TearDown() override
    {
        if (ma_)
            dd_mbox_close(ma_);
        if (mb_)
            dd_mbox_close(mb_);
        delete pa_;
        delete pb_;
        delete a_;
        delete b_;
    }
    // Receives n messages {seq, Sender, Seq} on mb; per-sender order is checked.
    void expect_ordered(dd_mbox *mb, long senders, long per_sender)
    {
        std::vector<long> next(size_t(senders), 0);
        for (long k = 0; k < senders * per_sender; k++) {
            dd_msg *m = nullptr;
            ASSERT_EQ(dd_recv(mb, &m, 10000), DD_OK) << "after " << k << " messages";
            long s, q;
            ASSERT_TRUE(un_seq(m, &s, &q));
            ASSERT_TRUE(s >= 0 && s < senders);
            ASSERT_EQ(q, next[size_t(s)]) << "sender " << s;
            next[size_t(s)]++;
            dd_msg_free(m);
        }
    }
    RingNode *a_ = nullptr, *b_ = nullptr;
    Pump *pa_ = nullptr, *pb_ = nullptr;
    dd_mbox *ma_ = nullptr, *mb_ = nullptr;
};

TEST_F(RingPair, UpgradesToDpdkBothWays)
{
    struct dd_peer_stats sa = stats(a_->n, b_->name()), sb = stats(b_->n, a_->name());
    EXPECT_EQ(sa.carrier, DD_CARRIER_DPDK);
    EXPECT_EQ(sb.carrier, DD_CARRIER_DPDK);
    // Heartbeats flow at once; the bound reported is the configured default (128 MiB).
    EXPECT_TRUE(wait_until([&] { return stats(a_->n, b_->name()).heartbeats_rx > 0; }, 2000));
    EXPECT_EQ(sa.rx_window, uint64_t(128) << 20);
    char *text = nullptr;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    EXPECT_EQ(dd_dataplane_summary(a_->n, f), DD_OK);
    fclose(f);
    EXPECT_NE(strstr(text, "net_ring") ? text : strstr(text, "rp"), nullptr) << text;
    EXPECT_NE(strstr(text, " up: "), nullptr) << text;
    free(text);
    EXPECT_EQ(dd_dataplane_fault(a_->n, false), DD_ENOTFOUND); // no [fault] section
}

TEST_F(RingPair, ManySmallMessagesInOrderOverDpdk)
{
    const long n = 20000;
    struct dd_peer_stats a0 = stats(a_->n, b_->name()), b0 = stats(b_->n, a_->name());
    std::thread rx([&] { expect_ordered(mb_, 1, n); });
    for (long i = 0; i < n; i++) {
        auto t = seq_term(0, i);
        ASSERT_EQ(dd_send(ma_, dd_mbox_pid(mb_), t.data(), t.size()), DD_OK);
    }
    rx.join();
    // The counters prove the data plane carried them (refreshed every ms or so).
    EXPECT_TRUE(
        wait_until([&] { return stats(a_->n, b_->name()).tx_msgs >= a0.tx_msgs + n; }, 3000))
        << "acknowledged: " << stats(a_->n, b_->name()).tx_msgs - a0.tx_msgs;
    EXPECT_TRUE(
        wait_until([&] { return stats(b_->n, a_->name()).rx_msgs >= b0.rx_msgs + n; }, 3000));
    EXPECT_EQ(dd_node_carrier(a_->n, b_->name().c_str()), DD_CARRIER_DPDK);
}

TEST_F(RingPair, LargeMessagesArriveIntact)
{
    for (size_t len : {size_t(4) << 20, size_t(32) << 20, size_t(1500), size_t(1)}) {
        auto t = big_term(len, uint32_t(len));
        ASSERT_EQ(dd_send_reg(ma_, "mb", b_->name().c_str(), t.data(), t.size()), DD_OK);
        dd_msg *m = nullptr;
        ASSERT_EQ(dd_recv(mb_, &m, 20000), DD_OK) << len << " bytes";
        ASSERT_EQ(m->len, t.size());
        EXPECT_EQ(memcmp(m->term, t.data(), t.size()), 0) << len << " bytes";
        EXPECT_TRUE(m->has_from && dd_pid_eq(&m->from, dd_mbox_pid(ma_)));
        dd_msg_free(m);
    }
    // And back the other way.
    auto t = big_term(size_t(8) << 20, 7);
    ASSERT_EQ(dd_send(mb_, dd_mbox_pid(ma_), t.data(), t.size()), DD_OK);
    dd_msg *m = nullptr;
    ASSERT_EQ(dd_recv(ma_, &m, 20000), DD_OK);
    ASSERT_EQ(m->len, t.size());
    EXPECT_EQ(memcmp(m->term, t.data(), t.size()), 0);
    dd_msg_free(m);
}

TEST_F(RingPair, SeveralSendersKeepTheirOrder)
{
    const long senders = 4, per = 5000;
    std::vector<std::thread> ts;
    std::thread rx([&] { expect_ordered(mb_, senders, per); });
    for (long s = 0; s < senders; s++) {
        ts.emplace_back([&, s] {
            dd_mbox *mb;
            ASSERT_EQ(dd_mbox_open(a_->n, nullptr, 0, &mb), DD_OK);
            for (long i = 0; i < per; i++) {
                // Every sender mixes in larger (fragmented) messages now and then.
                auto t = seq_term(s, i, i % 500 == 499 ? 100 * 1024 : 0);
                ASSERT_EQ(dd_send(mb, dd_mbox_pid(mb_), t.data(), t.size()), DD_OK);
            }
            dd_mbox_close(mb);
        });
    }
    for (auto &t : ts)
        t.join();
    rx.join();
}

// Deeply nested terms from a peer over DPDK reach the same decoding as over TCP (the poller
// dispatches them): a '$gen_call' to net_kernel whose tag is a 10^6-deep list is answered
// {Tag, yes} (the tag was walked by libei's recursive ei_skip_term before, which overflowed
// the polling thread's stack), a deep message reaches a mailbox intact, and the node goes on
// serving. node_deep_terms.sh sends such terms from BEAM over TCP.
TEST_F(RingPair, DeepTermsOverDpdkLeaveTheNodeServing)
{
    const size_t depth = 1000000;
    rt_test::Bytes tag = rt_test::deep_list(depth, false);
    ei_x_buff x;
    ei_x_new_with_version(&x);
    ei_x_encode_tuple_header(&x, 3);
    ei_x_encode_atom(&x, "$gen_call");
    ei_x_encode_tuple_header(&x, 2);
    ei_x_encode_pid(&x, dd_mbox_pid(ma_));
    ei_x_append_buf(&x, (const char *)tag.data(), int(tag.size()));
    ei_x_encode_tuple_header(&x, 2);
    ei_x_encode_atom(&x, "is_auth");
    ei_x_encode_atom(&x, a_->name().c_str());
    uint64_t rx0 = stats(b_->n, a_->name()).rx_msgs;
    ASSERT_EQ(dd_send_reg(ma_, "net_kernel", b_->name().c_str(), x.buff, size_t(x.index)), DD_OK);
    ei_x_free(&x);
    dd_msg *m = nullptr;
    ASSERT_EQ(dd_recv(ma_, &m, 20000), DD_OK) << "no {Tag, yes} from net_kernel";
    // {Tag, yes}: 131, SMALL_TUPLE 2, the tag's bytes, 'yes'.
    ASSERT_EQ(m->len, 1 + 2 + tag.size() + 5);
    EXPECT_EQ(memcmp(m->term + 3, tag.data(), tag.size()), 0);
    dd_msg_free(m);
    EXPECT_GT(stats(b_->n, a_->name()).rx_msgs, rx0) << "the call went over DPDK";

    rt_test::Bytes deep = rt_test::deep_list(depth);
    ASSERT_EQ(dd_send(ma_, dd_mbox_pid(mb_), deep.data(), deep.size()), DD_OK);
    ASSERT_EQ(dd_recv(mb_, &m, 20000), DD_OK);
    ASSERT_EQ(m->len, deep.size());
    int idx = 1;
    EXPECT_EQ(dd_term_skip(m->term, m->len, &idx), DD_OK);
    EXPECT_EQ(size_t(idx), m->len);
    dd_msg_free(m);
    auto t = seq_term(0, 0);
    ASSERT_EQ(dd_send(ma_, dd_mbox_pid(mb_), t.data(), t.size()), DD_OK);
    expect_ordered(mb_, 1, 1);
    EXPECT_EQ(dd_node_carrier(a_->n, b_->name().c_str()), DD_CARRIER_DPDK);
}

TEST_F(RingPair, DisconnectThenUpgradeAgain)
{
    // A link across the pair fires with noconnection when the connection goes.
    ASSERT_EQ(dd_link(ma_, dd_mbox_pid(mb_)), DD_OK);
    ASSERT_EQ(dd_monitor_nodes(ma_, true), DD_OK);
    auto t = seq_term(0, 0);
    ASSERT_EQ(dd_send(ma_, dd_mbox_pid(mb_), t.data(), t.size()), DD_OK);
    expect_ordered(mb_, 1, 1); // the link is in place at B
    ASSERT_EQ(dd_disconnect(a_->n, b_->name().c_str()), DD_OK);
    bool exit_seen = false, nodedown_seen = false;
    for (int i = 0; i < 10 && !(exit_seen && nodedown_seen); i++) {
        dd_msg *m = nullptr;
        if (dd_recv(ma_, &m, 2000) != DD_OK)
            break;
        if (m->kind == DD_MSG_EXIT)
            exit_seen = memmem(m->term, m->len, "noconnection", 12) != nullptr;
        if (m->kind == DD_MSG_NODEDOWN)
            nodedown_seen = true;
        dd_msg_free(m);
    }
    EXPECT_TRUE(exit_seen) << "{'EXIT', Pid, noconnection}";
    EXPECT_TRUE(nodedown_seen);
    dd_msg *m = nullptr; // the other end of the link fires too
    ASSERT_EQ(dd_recv(mb_, &m, 2000), DD_OK);
    EXPECT_EQ(m->kind, DD_MSG_EXIT);
    EXPECT_NE(memmem(m->term, m->len, "noconnection", 12), nullptr);
    dd_msg_free(m);
    EXPECT_TRUE(wait_until(
        [&] { return dd_node_carrier(b_->n, a_->name().c_str()) == DD_CARRIER_NONE; }, 3000));
    // Connected again: a new channel on the same ports, upgraded again.
    ASSERT_EQ(dd_connect(a_->n, b_->name().c_str(), 5000), DD_OK) << dd_last_error();
    ASSERT_TRUE(wait_until(
        [&] { return dd_node_carrier(a_->n, b_->name().c_str()) == DD_CARRIER_DPDK; }, 5000));
    for (long i = 0; i < 1000; i++) {
        auto u = seq_term(0, i);
        ASSERT_EQ(dd_send(ma_, dd_mbox_pid(mb_), u.data(), u.size()), DD_OK);
    }
    expect_ordered(mb_, 1, 1000);
    EXPECT_EQ(dd_node_carrier(a_->n, b_->name().c_str()), DD_CARRIER_DPDK);
}

// Inline polling with many threads on node A (runtime/core/mbox.c): the pump leads; three more
// receivers sleep until it delivers to them; two senders hand their 256 KiB payloads to it
// for copying. Everything arrives intact and in order, the summary counts the copies the
// leader made, and when the pump's mailbox closes a receiver takes over the polling.
// The "inline polling:" line of a node's data-plane summary.
struct InlineCounters {
    bool ok = false;
    unsigned long takeovers = 0, copies = 0, back = 0, self = 0;
};
InlineCounters inline_counters(dd_node *n)
{
    InlineCounters c;
    char *text = nullptr;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return c;
    int rc = dd_dataplane_summary(n, f);
    fclose(f);
    const char *line = rc == DD_OK ? strstr(text, "inline polling: ") : nullptr;
    c.ok = line && sscanf(line,
                          "inline polling: %lu leader take-overs, %lu payloads copied by the "
                          "leader for senders (%lu taken back), %lu by their sender polling "
                          "between chunks",
                          &c.takeovers, &c.copies, &c.back, &c.self) == 4;
    if (!c.ok)
        ADD_FAILURE() << "no inline polling counters in the summary:\n" << (text ? text : "");
    free(text);
    return c;
}

TEST_F(RingPair, ReceiversShareInlinePollingAndTheLeaderCopiesForSenders)
{
    const int receivers = 3;
    const long smalls = 2000;
    std::vector<dd_mbox *> rx(receivers);
    for (auto &r : rx)
        ASSERT_EQ(dd_mbox_open(a_->n, nullptr, 0, &r), DD_OK);
    std::atomic<int> rx_bad{0};
    auto receive_all = [&](long first, long count) {
        std::vector<std::thread> ts;
        for (int k = 0; k < receivers; k++)
            ts.emplace_back([&, k, first, count] {
                for (long i = first; i < first + count; i++) {
                    dd_msg *m = nullptr;
                    long snd, q;
                    int rc = dd_recv(rx[size_t(k)], &m, 10000);
                    if (rc != DD_OK) {
                        ADD_FAILURE() << "receiver " << k << ": " << dd_strerror(rc) << " at " << i;
                        rx_bad++;
                        return;
                    }
                    if (!un_seq(m, &snd, &q) || snd != k || q != i) {
                        ADD_FAILURE() << "receiver " << k << " expected " << i << ": "
                                      << show_term(m);
                        rx_bad++;
                    }
                    dd_msg_free(m);
                }
            });
        return ts;
    };
    auto send_smalls = [&](long first, long count) {
        for (long i = first; i < first + count; i++)
            for (int k = 0; k < receivers; k++) {
                auto t = seq_term(k, i);
                ASSERT_EQ(dd_send(mb_, dd_mbox_pid(rx[size_t(k)]), t.data(), t.size()), DD_OK);
            }
    };
    // 1. smalls from B to the three receivers, large messages from two senders on A to B
    auto rts = receive_all(0, smalls);
    const int senders = 2, bigs = 40;
    const size_t big = 256 * 1024;
    std::vector<std::thread> sts;
    std::vector<dd_pid> sender_pids(senders);
    std::atomic<int> opened{0};
    for (int s = 0; s < senders; s++)
        sts.emplace_back([&, s] {
            dd_mbox *mb;
            ASSERT_EQ(dd_mbox_open(a_->n, nullptr, 0, &mb), DD_OK);
            sender_pids[size_t(s)] = *dd_mbox_pid(mb);
            opened++;
            for (int i = 0; i < bigs; i++) {
                auto t = big_term(big, uint32_t(s * 1000 + i));
                ASSERT_EQ(dd_send(mb, dd_mbox_pid(mb_), t.data(), t.size()), DD_OK);
            }
            dd_mbox_close(mb);
        });
    while (opened < senders)
        std::this_thread::yield();
    send_smalls(0, smalls);
    std::vector<int> next(senders, 0);
    for (int k = 0; k < senders * bigs; k++) {
        dd_msg *m = nullptr;
        ASSERT_EQ(dd_recv(mb_, &m, 20000), DD_OK) << "after " << k << " large messages";
        int s = dd_pid_eq(&m->from, &sender_pids[0]) ? 0 : 1;
        ASSERT_TRUE(m->has_from && dd_pid_eq(&m->from, &sender_pids[size_t(s)]));
        auto want = big_term(big, uint32_t(s * 1000 + next[size_t(s)]));
        ASSERT_EQ(m->len, want.size());
        EXPECT_EQ(memcmp(m->term, want.data(), want.size()), 0)
            << "sender " << s << " message " << next[size_t(s)];
        next[size_t(s)]++;
        dd_msg_free(m);
    }
    for (auto &t : sts)
        t.join();
    for (auto &t : rts)
        t.join();
    EXPECT_EQ(rx_bad.load(), 0);
    InlineCounters c = inline_counters(a_->n);
    ASSERT_TRUE(c.ok);
    unsigned long copies = c.copies, back = c.back;
    EXPECT_GT(copies, 0u) << "no payload was copied by the leader";
    EXPECT_LE(copies + back, static_cast<unsigned long>(senders * bigs));
    // 2. the leader's mailbox closes: a receiver takes the polling over
    delete pa_;
    pa_ = nullptr;
    rts = receive_all(smalls, 200);
    send_smalls(smalls, 200);
    for (auto &t : rts)
        t.join();
    EXPECT_EQ(rx_bad.load(), 0) << "after the leader left";
    for (auto *r : rx)
        dd_mbox_close(r);
}

// The node's reassembly memory is shared by its carriers: while a raw TCP peer of B holds
// most of it with an unfinished fragmented message, a 3 MiB message from A over DPDK finds
// no room: B drops its first fragment unacknowledged (node_budget) and A sends it again
// (nothing is held for it, nothing is lost, the channel stays up). When the TCP message
// finishes, the DPDK one gets in and arrives whole.
TEST(RingBudget, DpdkMessagesWaitForRoomInTheNodesReassemblyMemory)
{
    static std::atomic<int> seq{0};
    std::string pair = "rb" + std::to_string(getpid() % 100000) + "_" + std::to_string(seq++);
    const size_t cap = 10 << 20, tcp_max = 8 << 20;
    RingNode a(pair, 0), b(pair, 1, "max_msg_bytes = 4M\n", tcp_max, cap);
    ASSERT_TRUE(a.n && b.n);
    Pump pa(a.n), pb(b.n);
    dd_mbox *tx, *rx;
    ASSERT_EQ(dd_mbox_open(a.n, nullptr, 0, &tx), DD_OK);
    ASSERT_EQ(dd_mbox_open(b.n, "rx", 0, &rx), DD_OK);
    ASSERT_EQ(dd_connect(a.n, b.name().c_str(), 5000), DD_OK) << dd_last_error();
    ASSERT_TRUE(wait_until(
        [&] { return dd_node_carrier(a.n, b.name().c_str()) == DD_CARRIER_DPDK; }, 5000));
    // The TCP holder: a 7.5 MiB message announced (120 fragments of 64 KiB reserved), 3 sent.
    rt_test::RawPeer holder;
    ASSERT_TRUE(holder.connect_to(b.alive));
    ASSERT_TRUE(holder.handshake("holder@" + rt_test::short_host(), b.name(), "ringcookie"));
    std::vector<char> pad((15 << 19) - 100, 'h');
    rt_test::Bytes held =
        rt_test::term([&](ei_x_buff *x) { ei_x_encode_binary(x, pad.data(), long(pad.size())); });
    auto frags = rt_test::fragment_body(rt_test::reg_send_body(holder.pid(1), "rx", held), 7);
    for (size_t i = 0; i < 3; i++)
        ASSERT_TRUE(holder.send_packet(frags[i]));
    struct dd_reassembly_stats st = {};
    ASSERT_TRUE(
        wait_until([&] { return dd_node_reassembly(b.n, &st) == DD_OK && st.bytes > 0; }, 3000));
    EXPECT_GT(st.bytes + (3 << 20), cap) << "no room left for 3 MiB";

    auto t = big_term(3 << 20, 42);
    ASSERT_EQ(dd_send(tx, dd_mbox_pid(rx), t.data(), t.size()), DD_OK);
    ASSERT_TRUE(
        wait_until([&] { return dd_node_reassembly(b.n, &st) == DD_OK && st.refusals > 0; }, 3000))
        << "B never refused the DPDK message's first fragment";
    dd_msg *m = nullptr;
    EXPECT_EQ(dd_recv(rx, &m, 200), DD_ETIMEDOUT) << "it arrived past the cap";
    char *text = nullptr;
    size_t tlen = 0;
    FILE *f = open_memstream(&text, &tlen);
    dd_dataplane_summary(b.n, f);
    fclose(f);
    EXPECT_NE(strstr(text, "node_budget"), nullptr) << text;
    free(text);

    for (size_t i = 3; i < frags.size(); i++)
        ASSERT_TRUE(holder.send_packet(frags[i]));
    bool got_held = false, got_dpdk = false;
    for (int k = 0; k < 2; k++) {
        ASSERT_EQ(dd_recv(rx, &m, 10000), DD_OK) << "after " << k << " messages";
        if (m->len == held.size())
            got_held = memcmp(m->term, held.data(), held.size()) == 0;
        else if (m->len == t.size())
            got_dpdk = memcmp(m->term, t.data(), t.size()) == 0;
        dd_msg_free(m);
    }
    EXPECT_TRUE(got_held);
    EXPECT_TRUE(got_dpdk) << "the DPDK message, whole";
    EXPECT_EQ(dd_node_carrier(a.n, b.name().c_str()), DD_CARRIER_DPDK) << "the channel stayed up";
    ASSERT_EQ(dd_node_reassembly(b.n, &st), DD_OK);
    EXPECT_LE(st.high_water, st.limit);
    EXPECT_EQ(st.bytes, 0u);
    dd_mbox_close(tx);
    dd_mbox_close(rx);
}

// The express lane's reserve at its limits: with the receiver not reading (its credit
// used up) and the normal lane's messages filling tx_queue_bytes, an express mailbox may
// still queue DP_EXPRESS_RESERVE (1 MiB) more, then gets DD_EWOULDBLOCK too; once the
// receiver reads, everything arrives in order per sender.
TEST(RingQueue, ExpressMessagesHaveAReserveAboveAFullQueue)
{
    static std::atomic<int> seq{0};
    std::string pair = "rq" + std::to_string(getpid() % 100000) + "_" + std::to_string(seq++);
    const std::string windows =
        "max_msg_bytes = 256K\nrx_window_bytes = 256K\ntx_queue_bytes = 256K\n";
    RingNode a(pair, 0, windows), b(pair, 1, windows);
    ASSERT_TRUE(a.n && b.n);
    Pump pa(a.n), pb(b.n);
    dd_mbox *normal, *express, *rx;
    ASSERT_EQ(dd_mbox_open(a.n, nullptr, 0, &normal), DD_OK);
    ASSERT_EQ(dd_mbox_open(a.n, nullptr, DD_MBOX_EXPRESS, &express), DD_OK);
    ASSERT_EQ(dd_mbox_open(b.n, nullptr, 0, &rx), DD_OK);
    ASSERT_EQ(dd_connect(a.n, b.name().c_str(), 5000), DD_OK) << dd_last_error();
    ASSERT_TRUE(wait_until([&] { return dd_node_carrier(a.n, b.name().c_str()) == DD_CARRIER_DPDK; },
                           5000));
    const dd_pid *to = dd_mbox_pid(rx);
    const size_t kPad = 16 * 1024;
    // normal: until the queue stays full (the receiver holds its whole window unread)
    long normal_sent = 0;
    auto full_since = std::chrono::steady_clock::now();
    bool full = false;
    while (normal_sent < 1000) {
        auto t = seq_term(0, normal_sent, kPad);
        int rc = dd_send_flags(normal, to, t.data(), t.size(), DD_SEND_NONBLOCK);
        if (rc == DD_OK) {
            normal_sent++;
            full = false;
            continue;
        }
        ASSERT_EQ(rc, DD_EWOULDBLOCK) << dd_last_error();
        if (!full) {
            full = true;
            full_since = std::chrono::steady_clock::now();
        } else if (std::chrono::steady_clock::now() - full_since > std::chrono::milliseconds(300)) {
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_TRUE(full) << "the normal lane never filled up after " << normal_sent;
    // express: admitted above the full queue, up to the reserve
    long express_sent = 0;
    int rc = DD_OK;
    while (express_sent < 1000) {
        auto t = seq_term(1, express_sent, kPad);
        rc = dd_send_flags(express, to, t.data(), t.size(), DD_SEND_NONBLOCK);
        if (rc != DD_OK)
            break;
        express_sent++;
    }
    EXPECT_EQ(rc, DD_EWOULDBLOCK) << "the express lane has no limit";
    EXPECT_GE(express_sent, 60) << "express messages were held by the full normal lane";
    EXPECT_LE(express_sent, 66) << "more than the 1 MiB reserve (16 KiB messages)";
    std::vector<long> next(2, 0);
    for (long k = 0; k < normal_sent + express_sent; k++) {
        dd_msg *m = nullptr;
        ASSERT_EQ(dd_recv(rx, &m, 10000), DD_OK) << "after " << k << " messages";
        long snd, q;
        ASSERT_TRUE(un_seq(m, &snd, &q) && (snd == 0 || snd == 1)) << show_term(m);
        EXPECT_EQ(q, next[size_t(snd)]) << "sender " << snd;
        next[size_t(snd)] = q + 1;
        dd_msg_free(m);
    }
    EXPECT_EQ(next[0], normal_sent);
    EXPECT_EQ(next[1], express_sent);
    dd_mbox_close(normal);
    dd_mbox_close(express);
    dd_mbox_close(rx);
}

// A node whose only threads send (nobody waits in dd_recv): a sender copying a large payload
// polls between chunks, so the port does not go unpolled for the whole copy.
TEST_F(RingPair, ASenderWithNobodyPollingPollsBetweenCopyChunks)
{
    delete pa_; // A: no thread waits in dd_recv any more
    pa_ = nullptr;
    const int n = 4;
    const size_t big = 1 << 20, small = 64 * 1024;
    for (int i = 0; i < n; i++) {
        auto t = big_term(big, uint32_t(i));
        ASSERT_EQ(dd_send(ma_, dd_mbox_pid(mb_), t.data(), t.size()), DD_OK);
        auto s = big_term(small, uint32_t(100 + i));
        ASSERT_EQ(dd_send(ma_, dd_mbox_pid(mb_), s.data(), s.size()), DD_OK);
    }
    for (int i = 0; i < 2 * n; i++) {
        dd_msg *m = nullptr;
        ASSERT_EQ(dd_recv(mb_, &m, 10000), DD_OK) << "after " << i << " messages";
        auto want = i % 2 ? big_term(small, uint32_t(100 + i / 2)) : big_term(big, uint32_t(i / 2));
        ASSERT_EQ(m->len, want.size()) << "message " << i;
        EXPECT_EQ(memcmp(m->term, want.data(), want.size()), 0) << "message " << i;
        dd_msg_free(m);
    }
    InlineCounters c = inline_counters(a_->n);
    ASSERT_TRUE(c.ok);
    unsigned long copies = c.copies, self = c.self;
    EXPECT_EQ(self, static_cast<unsigned long>(n)) << "only the 1 MiB payloads are chunked";
    EXPECT_EQ(copies, 0u) << "nobody led the polling on A";
}

} // namespace
