// Tests of connections (runtime/core/conn.c, runtime/carrier_tcp/hsio.c, runtime/carrier_tcp/tcpc.c, runtime/core/mesh.c)
// between in-process nodes over loopback TCP: simultaneous connects from both sides (exactly
// one connection survives, nothing is lost), backpressure from a receiver that stops reading
// (DD_EWOULDBLOCK, blocking senders, nothing lost once it reads again, the connection
// survives the stall), per-sender order with many sending threads, connect failures, hidden
// nodes and the mesh of published nodes.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <iostream>
#include <memory>
#include <dirent.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <thread>
#include <vector>

#include "rt_test_util.h"
extern "C" {
#include "runtime/carrier_tcp/txq.h"
}

using namespace rt_test;
using Clock = std::chrono::steady_clock;

namespace
{

// A raw peer `my_alive`@host connected to the node registered as `alive` and through the
// handshake with it (the default cookie and flags).
bool join_raw(RawPeer &p, const std::string &alive, const Node &node, const std::string &my_alive)
{
    return p.connect_to(alive) && p.handshake(my_alive + "@" + short_host(), node.name());
}

// A fragment packet's SequenceId and FragmentId (erl_ext_dist: 131, 'E' or 'F', then both
// as 8-byte big-endian integers); false for any other packet (a fragment shorter than
// that fails the test).
bool frag_ids(const Bytes &body, uint64_t *seq, uint64_t *id)
{
    if (body.size() < 2 || (body[1] != 'E' && body[1] != 'F'))
        return false;
    if (body.size() < 18) {
        ADD_FAILURE() << "a fragment of " << body.size() << " bytes: shorter than its header";
        return false;
    }
    *seq = *id = 0;
    for (int i = 0; i < 8; i++) {
        *seq = *seq << 8 | body[2 + i];
        *id = *id << 8 | body[2 + 8 + i];
    }
    return true;
}

Bytes big_seq(long i, size_t bytes)
{
    return term([&](ei_x_buff *x) {
        ei_x_encode_tuple_header(x, 3);
        ei_x_encode_atom(x, "seq");
        ei_x_encode_long(x, i);
        std::vector<char> blob(bytes, char(i));
        ei_x_encode_binary(x, blob.data(), long(blob.size()));
    });
}

// Sends 256 KiB messages {seq, I, Blob} with DD_SEND_NONBLOCK until the queue stays full
// (the receiver has stopped reading and every buffer on the way is full). Returns the count.
long fill_until_full(dd_mbox *tx, const char *name, const std::string &node, size_t bytes)
{
    long sent = 0;
    auto full_since = Clock::now();
    bool full = false;
    while (sent < 4000) {
        Bytes t = big_seq(sent, bytes);
        int rc = dd_send_reg_flags(tx, name, node.c_str(), t.data(), t.size(), DD_SEND_NONBLOCK);
        if (rc == DD_OK) {
            sent++;
            full = false;
            continue;
        }
        EXPECT_EQ(rc, DD_EWOULDBLOCK) << dd_last_error();
        EXPECT_NE(std::string(dd_last_error()).find("full"), std::string::npos);
        if (rc != DD_EWOULDBLOCK)
            break;
        if (!full) {
            full = true;
            full_since = Clock::now();
        } else if (Clock::now() - full_since > std::chrono::milliseconds(600)) {
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_TRUE(full) << "the queue never filled up after " << sent << " messages";
    return sent;
}

long seq_of(const dd_msg *m)
{
    int idx = 0, ver, arity;
    char atom[MAXATOMLEN_UTF8];
    long i;
    if (ei_decode_version(m->term, &idx, &ver) < 0 ||
        ei_decode_tuple_header(m->term, &idx, &arity) < 0 || arity != 3 ||
        ei_decode_atom(m->term, &idx, atom) < 0 || ei_decode_long(m->term, &idx, &i) < 0)
        return -1;
    return i;
}

TEST(RuntimeConn, SimultaneousConnectLeavesOneConnection)
{
    LogCapture logs;
    enum dlog_level saved = dlog_get_level();
    dlog_set_level(DLOG_DEBUG); // to count the races (logged at debug level)
    int races = 0;
    Node x(fresh_name("simx")), y(fresh_name("simy"));
    ASSERT_TRUE(x.n && y.n);
    dd_mbox *mx, *my;
    ASSERT_EQ(dd_mbox_open(x.n, "sim", 0, &mx), DD_OK);
    ASSERT_EQ(dd_mbox_open(y.n, "sim", 0, &my), DD_OK);
    const int kRounds = 25;
    for (int round = 0; round < kRounds; round++) {
        std::atomic<int> arrived{0};
        int rx = 1, ry = 1;
        // Odd rounds connect explicitly, even rounds by sending (connect on demand).
        auto side = [&](dd_node *me, dd_mbox *mb, const std::string &peer, int *rc) {
            arrived++;
            while (arrived.load() < 2)
                std::this_thread::yield();
            if (round % 2) {
                *rc = dd_connect(me, peer.c_str(), 5000);
            } else {
                for (int i = 0; i < 20; i++) {
                    Bytes t = triple("hello", round, i);
                    dd_send_reg(mb, "sim", peer.c_str(), t.data(), t.size());
                }
                *rc = dd_connect(me, peer.c_str(), 5000);
            }
        };
        std::thread tx([&] { side(x.n, mx, y.name(), &rx); });
        std::thread ty([&] { side(y.n, my, x.name(), &ry); });
        tx.join();
        ty.join();
        ASSERT_EQ(rx, DD_OK) << "round " << round << ": " << dd_last_error();
        ASSERT_EQ(ry, DD_OK) << "round " << round;
        ASSERT_EQ(nodes_of(x.n), std::vector<std::string>{y.name()});
        ASSERT_EQ(nodes_of(y.n), std::vector<std::string>{x.name()});
        // Nothing is lost, in order, both ways; then a message after the connect too.
        for (auto [mb, from] : {std::pair{mx, my}, std::pair{my, mx}}) {
            if (round % 2 == 0)
                for (int i = 0; i < 20; i++) {
                    dd_msg *m = recv_one(mb, 3000);
                    std::string tag;
                    long r, k;
                    ASSERT_TRUE(m) << "round " << round << ": message " << i << " lost";
                    EXPECT_TRUE(untriple(m, &tag, &r, &k) && r == round && k == i) << show(m);
                    dd_msg_free(m);
                }
            Bytes t = triple("after", round, 0);
            ASSERT_EQ(dd_send(from, dd_mbox_pid(mb), t.data(), t.size()), DD_OK);
            dd_msg *m = recv_one(mb, 3000);
            ASSERT_TRUE(m) << "round " << round;
            EXPECT_EQ(show(m), "{after, " + std::to_string(round) + ", 0}");
            dd_msg_free(m);
        }
        // The surviving connection stays: nobody took it down or replaced it.
        EXPECT_EQ(logs.count(" down:"), 0u) << "round " << round;
        EXPECT_EQ(logs.count("replaced"), 0u) << "round " << round;
        ASSERT_EQ(dd_disconnect(x.n, y.name().c_str()), DD_OK);
        ASSERT_TRUE(wait_until([&] { return nodes_of(y.n).empty(); }, 3000));
        // Give the loser's socket time to go too before the next round.
        ASSERT_TRUE(logs.wait_for(y.name() + ": node " + x.name() + " down", 3000));
        races += logs.count("simultaneous connect") + logs.count("dial to * abandoned") > 0;
        logs.clear();
    }
    dlog_set_level(saved);
    // Not every round races (timing), but most do; the point is that none goes wrong.
    std::cout << "# " << races << " of " << kRounds << " rounds were simultaneous connects\n";
    EXPECT_GT(races, 0);
    dd_mbox_close(mx);
    dd_mbox_close(my);
}

TEST(RuntimeConn, StuckReceiverPushesBackAndLosesNothing)
{
    LogCapture logs;
    NodeOpts o;
    o.ticktime_s = 2; // the stall below lasts longer than a ticktime
    Node s(fresh_name("bps"), o), r(fresh_name("bpr"), o);
    ASSERT_TRUE(s.n && r.n);
    dd_mbox *tx, *rx;
    ASSERT_EQ(dd_mbox_open(s.n, nullptr, 0, &tx), DD_OK);
    ASSERT_EQ(dd_mbox_open(r.n, "sink", 0, &rx), DD_OK);
    ASSERT_EQ(dd_connect(s.n, r.name().c_str(), 3000), DD_OK);
    const size_t kBytes = 256 * 1024;
    long sent = fill_until_full(tx, "sink", r.name(), kBytes);
    ASSERT_GT(sent, 10);
    // A blocking send waits for room.
    std::atomic<int> blocking_rc{1};
    std::thread blocked([&] {
        Bytes t = big_seq(sent, kBytes);
        blocking_rc = dd_send_reg(tx, "sink", r.name().c_str(), t.data(), t.size());
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_EQ(blocking_rc.load(), 1) << "dd_send returned while the receiver is stuck";
    // Stall for longer than the ticktime: the connection must survive it.
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
    EXPECT_EQ(nodes_of(s.n), std::vector<std::string>{r.name()});
    EXPECT_EQ(logs.count(" down:"), 0u);
    // The receiver reads again: everything arrives, in order.
    long got = 0;
    while (got <= sent) {
        dd_msg *m = recv_one(rx, 5000);
        if (!m)
            break;
        EXPECT_EQ(seq_of(m), got);
        EXPECT_GT(m->len, kBytes);
        got++;
        dd_msg_free(m);
    }
    blocked.join();
    EXPECT_EQ(blocking_rc.load(), DD_OK);
    EXPECT_EQ(got, sent + 1) << "messages lost";
    EXPECT_TRUE(recv_nothing(rx, 50));
    EXPECT_EQ(logs.count(" down:"), 0u);
    dd_mbox_close(tx);
    dd_mbox_close(rx);
}

// The sender goes away while the receiver is stuck: the receiving node neither spins on the
// hang-up nor loses what was already on its way; the nodedown comes after those messages.
// The send queue's two admission classes at their limits: with the receiver stuck and the
// queue full of large (fragmented) messages, a small message of another sender is still
// admitted, and small messages are in turn refused once they fill the limit themselves
// (8 MiB). Nothing is lost when the receiver reads again.
TEST(RuntimeConn, SmallMessagesHaveTheirOwnQueueLimit)
{
    Node s(fresh_name("cls"), NodeOpts()), r(fresh_name("clr"), NodeOpts());
    ASSERT_TRUE(s.n && r.n);
    dd_mbox *big_tx, *small_tx, *rx;
    ASSERT_EQ(dd_mbox_open(s.n, nullptr, 0, &big_tx), DD_OK);
    ASSERT_EQ(dd_mbox_open(s.n, nullptr, 0, &small_tx), DD_OK);
    ASSERT_EQ(dd_mbox_open(r.n, "sink", 0, &rx), DD_OK);
    ASSERT_EQ(dd_connect(s.n, r.name().c_str(), 3000), DD_OK);
    const size_t kBig = 256 * 1024, kSmall = 32 * 1024;
    long big_sent = fill_until_full(big_tx, "sink", r.name(), kBig);
    ASSERT_GT(big_sent, 10);
    long small_sent = 0;
    int rc = DD_OK;
    while (small_sent < 2000) {
        Bytes t = big_seq(100000 + small_sent, kSmall);
        rc = dd_send_reg_flags(small_tx, "sink", r.name().c_str(), t.data(), t.size(),
                               DD_SEND_NONBLOCK);
        if (rc != DD_OK)
            break;
        small_sent++;
    }
    EXPECT_EQ(rc, DD_EWOULDBLOCK) << "small messages were never refused";
    EXPECT_GE(small_sent, 1) << "a small message waited for the large ones";
    // 8 MiB of 32 KiB messages is 256; the last one admitted may cross the limit
    EXPECT_LE(small_sent, 257);
    long big_got = 0, small_got = 0;
    while (big_got < big_sent || small_got < small_sent) {
        dd_msg *m = recv_one(rx, 5000);
        if (!m)
            break;
        long i = seq_of(m);
        if (i >= 100000) {
            EXPECT_EQ(i, 100000 + small_got) << "small messages out of order";
            small_got++;
        } else {
            EXPECT_EQ(i, big_got) << "large messages out of order";
            big_got++;
        }
        dd_msg_free(m);
    }
    EXPECT_EQ(big_got, big_sent);
    EXPECT_EQ(small_got, small_sent);
    EXPECT_TRUE(recv_nothing(rx, 50));
    dd_mbox_close(big_tx);
    dd_mbox_close(small_tx);
    dd_mbox_close(rx);
}

TEST(RuntimeConn, StuckReceiverOutlivesItsPeer)
{
    LogCapture logs;
    Node r(fresh_name("bpr"));
    ASSERT_TRUE(r.n);
    dd_mbox *rx;
    ASSERT_EQ(dd_mbox_open(r.n, "sink", 0, &rx), DD_OK);
    ASSERT_EQ(dd_monitor_nodes(rx, true), DD_OK);
    std::string sname;
    long sent;
    {
        Node s(fresh_name("bps"));
        ASSERT_TRUE(s.n);
        sname = s.name();
        dd_mbox *tx;
        ASSERT_EQ(dd_mbox_open(s.n, nullptr, 0, &tx), DD_OK);
        sent = fill_until_full(tx, "sink", r.name(), 256 * 1024);
    } // s stops: its socket closes while r is not reading
    ASSERT_TRUE(logs.wait_for(sname + ": node " + sname + " stopping", 2000));
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    getrusage(RUSAGE_SELF, &ru1);
    double cpu = double(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec + ru1.ru_stime.tv_sec -
                        ru0.ru_stime.tv_sec) +
                 double(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec + ru1.ru_stime.tv_usec -
                        ru0.ru_stime.tv_usec) /
                     1e6;
    EXPECT_LT(cpu, 0.3) << "the idle node burnt " << cpu << " s of CPU in 1 s";
    // Reading again: a prefix of what was sent arrives in order, then the nodedown.
    long got = 0;
    bool nodedown = false;
    while (dd_msg *m = recv_one(rx, 3000)) {
        if (m->kind == DD_MSG_NODEDOWN) {
            nodedown = true;
            dd_msg_free(m);
            break;
        }
        if (m->kind == DD_MSG_MESSAGE) {
            EXPECT_EQ(seq_of(m), got);
            got++;
        }
        dd_msg_free(m);
    }
    EXPECT_TRUE(nodedown);
    EXPECT_GT(got, 0);
    EXPECT_LE(got, sent);
    dd_mbox_close(rx);
}

TEST(RuntimeConn, OrderPerSenderAcrossNodesWithManyThreads)
{
    Node a(fresh_name("ora")), b(fresh_name("orb"));
    ASSERT_TRUE(a.n && b.n);
    dd_mbox *rx;
    ASSERT_EQ(dd_mbox_open(b.n, nullptr, 0, &rx), DD_OK);
    dd_pid rxpid = *dd_mbox_pid(rx);
    const int kSenders = 8, kPer = 5000;
    std::atomic<int> failures{0};
    std::vector<std::thread> ts;
    for (int k = 0; k < kSenders; k++)
        ts.emplace_back([&, k] {
            dd_mbox *tx;
            if (dd_mbox_open(a.n, nullptr, 0, &tx) != DD_OK) {
                failures++;
                return;
            }
            for (int i = 0; i < kPer; i++) {
                Bytes t = triple("s", k, i);
                if (dd_send(tx, &rxpid, t.data(), t.size()) != DD_OK)
                    failures++;
            }
            dd_mbox_close(tx);
        });
    std::vector<long> next(kSenders, 0);
    int got = 0, bad = 0;
    while (got < kSenders * kPer) {
        dd_msg *m = recv_one(rx, 5000);
        if (!m)
            break;
        std::string tag;
        long k, i;
        if (untriple(m, &tag, &k, &i) && k >= 0 && k < kSenders) {
            bad += i != next[size_t(k)];
            next[size_t(k)] = i + 1;
            got++;
        }
        dd_msg_free(m);
    }
    for (auto &t : ts)
        t.join();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_EQ(got, kSenders * kPer);
    EXPECT_EQ(bad, 0);
    dd_mbox_close(rx);
}

// Over TCP, a large message goes in 64 KiB fragments (DFLAG_FRAGMENTS) and other senders'
// small messages go between them. The small ones are sent once the 48 MiB message is queued:
// sent whole, the large message would be delivered before them (and they would wait until
// the queue is below its 8 MiB limit); in fragments, they are admitted at once and pass
// what is left of it. The large messages arrive whole and intact, and their sender's small
// message after them.
TEST(RuntimeConn, SmallMessagesPassLargeOnesBetweenFragments)
{
    Node a(fresh_name("fra")), b(fresh_name("frb"));
    ASSERT_TRUE(a.n && b.n);
    dd_mbox *rx, *big_tx, *small_tx;
    ASSERT_EQ(dd_mbox_open(b.n, nullptr, 0, &rx), DD_OK);
    ASSERT_EQ(dd_mbox_open(a.n, nullptr, 0, &big_tx), DD_OK);
    ASSERT_EQ(dd_mbox_open(a.n, nullptr, 0, &small_tx), DD_OK);
    dd_pid rxpid = *dd_mbox_pid(rx);
    ASSERT_EQ(dd_connect(a.n, b.name().c_str(), 5000), DD_OK) << dd_last_error();
    const int kSmall = 50;
    const size_t kSizes[] = {48u << 20, 24u << 20};
    std::atomic<bool> first_queued{false}, smalls_sent{false};
    std::thread big([&] {
        Bytes t0 = big_seq(0, kSizes[0]);
        EXPECT_EQ(dd_send(big_tx, &rxpid, t0.data(), t0.size()), DD_OK) << dd_last_error();
        first_queued = true;
        while (!smalls_sent)
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        Bytes t1 = big_seq(1, kSizes[1]);
        EXPECT_EQ(dd_send(big_tx, &rxpid, t1.data(), t1.size()), DD_OK) << dd_last_error();
        Bytes after = triple("after", 1, 0);
        EXPECT_EQ(dd_send(big_tx, &rxpid, after.data(), after.size()), DD_OK);
    });
    ASSERT_TRUE(wait_until([&] { return first_queued.load(); }, 10000));
    for (int i = 0; i < kSmall; i++) {
        Bytes t = triple("small", 2, i);
        EXPECT_EQ(dd_send(small_tx, &rxpid, t.data(), t.size()), DD_OK);
    }
    smalls_sent = true;
    std::string order;
    int larges = 0, smalls = 0;
    bool after_seen = false;
    while (larges < 2 || smalls < kSmall || !after_seen) {
        dd_msg *m = recv_one(rx, 20000);
        if (!m) {
            ADD_FAILURE() << "after " << larges << " large and " << smalls << " small: " << order;
            break;
        }
        std::string tag;
        long k, i;
        if (untriple(m, &tag, &k, &i)) {
            if (tag == "small") {
                EXPECT_EQ(i, smalls) << "small messages out of order";
                smalls++;
                order += "s";
            } else {
                EXPECT_EQ(tag, "after");
                EXPECT_EQ(larges, 2) << "a sender's small message overtook its large one";
                after_seen = true;
                order += "a";
            }
        } else if (larges < 2) {
            Bytes want = big_seq(larges, kSizes[larges]);
            EXPECT_EQ(m->len, want.size()) << "large message " << larges;
            EXPECT_TRUE(m->len == want.size() && memcmp(m->term, want.data(), want.size()) == 0)
                << "large message " << larges << " differs";
            larges++;
            order += "L";
        }
        dd_msg_free(m);
    }
    big.join();
    EXPECT_EQ(order.find('L'), size_t(kSmall)) << "the small messages waited for the large one: "
                                               << order;
    dd_mbox_close(rx);
    dd_mbox_close(big_tx);
    dd_mbox_close(small_tx);
}

// The node's end of a connection whose other end is `peer_fd` (both in this process, on
// loopback): the socket in /proc/self/fd whose local port is the peer's remote one and vice
// versa (ports only: the node's side may see the IPv4 addresses mapped into IPv6).
int other_end(int peer_fd)
{
    auto port = [](const sockaddr_storage &a) {
        return a.ss_family == AF_INET ? ntohs(((const sockaddr_in &)a).sin_port)
                                      : ntohs(((const sockaddr_in6 &)a).sin6_port);
    };
    sockaddr_storage pl{}, pr{};
    socklen_t ll = sizeof(pl), rl = sizeof(pr);
    if (getsockname(peer_fd, (sockaddr *)&pl, &ll) < 0 || getpeername(peer_fd, (sockaddr *)&pr, &rl) < 0)
        return -1;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int found = -1;
    while (dirent *e = readdir(d)) {
        int fd = atoi(e->d_name);
        if (fd == peer_fd || e->d_name[0] == '.')
            continue;
        sockaddr_storage l{}, r{};
        socklen_t l1 = sizeof(l), r1 = sizeof(r);
        if (getsockname(fd, (sockaddr *)&l, &l1) == 0 && getpeername(fd, (sockaddr *)&r, &r1) == 0 &&
            (l.ss_family == AF_INET || l.ss_family == AF_INET6) && port(l) == port(pr) &&
            port(r) == port(pl)) {
            found = fd;
            break;
        }
    }
    closedir(d);
    return found;
}

// The queue stays in dpdist, not in the kernel: toward a peer that reads slowly, the bytes
// the node leaves unsent in its socket (SIOCOUTQNSD) stay under TXQ_SOCK_NOTSENT_BYTES (plus
// the one skb a write may fill), however much is queued behind them. Without
// TCP_NOTSENT_LOWAT the kernel takes up to its send buffer (MiBs on loopback) and every tick
// and small message waits behind it.
TEST(RuntimeConn, UnsentBytesInTheSocketStayUnderTheBound)
{
    std::string alive = fresh_name("lowat");
    Node a(alive);
    ASSERT_TRUE(a.n);
    RawPeer slow;
    ASSERT_TRUE(join_raw(slow, alive, a, "slow"));
    int afd = other_end(slow.fd());
    ASSERT_GE(afd, 0) << "the node's socket was not found";
    dd_mbox *tx;
    ASSERT_EQ(dd_mbox_open(a.n, nullptr, 0, &tx), DD_OK);
    erlang_pid to = slow.pid(1);
    Bytes big = big_seq(1, 1 << 20);
    std::atomic<bool> stop{false};
    std::atomic<long> sent{0};
    std::thread sender([&] {
        while (!stop) {
            int rc = dd_send_flags(tx, &to, big.data(), big.size(), DD_SEND_NONBLOCK);
            if (rc == DD_OK)
                sent++;
            else if (rc == DD_EWOULDBLOCK)
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            else
                break;
        }
    });
    // First not at all (every buffer on the way fills), then 64 KiB every 5 ms.
    const size_t kSlack = 64 * 1024;
    int max_unsent = 0;
    size_t got = 0;
    std::vector<uint8_t> buf(64 * 1024);
    auto until = Clock::now() + std::chrono::milliseconds(2000);
    auto reading_from = Clock::now() + std::chrono::milliseconds(300);
    while (Clock::now() < until) {
        int unsent = 0;
        ASSERT_EQ(ioctl(afd, SIOCOUTQNSD, &unsent), 0) << strerror(errno);
        max_unsent = std::max(max_unsent, unsent);
        if (Clock::now() >= reading_from) {
            ssize_t r = recv(slow.fd(), buf.data(), buf.size(), MSG_DONTWAIT);
            if (r > 0)
                got += size_t(r);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    stop = true;
    sender.join();
    std::cout << "# " << sent.load() << " MiB queued, " << (got >> 10) << " KiB read slowly, "
              << "at most " << max_unsent << " bytes unsent in the node's socket (bound "
              << TXQ_SOCK_NOTSENT_BYTES << " + " << kSlack << ")\n";
    EXPECT_GE(sent.load(), 8) << "the sender did not get ahead of the reader";
    EXPECT_GT(got, size_t(1) << 20) << "the slow reader got nothing";
    EXPECT_GT(max_unsent, 0) << "the socket never held unsent data: nothing was tested";
    EXPECT_LE(size_t(max_unsent), TXQ_SOCK_NOTSENT_BYTES + kSlack);
    dd_mbox_close(tx);
}

// A tick is due while a large whole message waits for a peer that does not read (one that
// takes no fragments: the message stays whole, above twice the queue limit). The tick is
// not an answer the peer failed to read: the connection stays.
TEST(RuntimeConn, ATickBehindALargeWholeMessageKeepsTheConnection)
{
    std::string alive = fresh_name("tickbig");
    NodeOpts o;
    o.ticktime_s = 2; // a tick every 500 ms
    Node a(alive, o);
    ASSERT_TRUE(a.n);
    RawPeer stuck;
    ASSERT_TRUE(stuck.connect_to(alive));
    ASSERT_TRUE(stuck.handshake("nofrag@" + short_host(), a.name(), "rtcookie",
                                (DISTFLAGS_ADVERTISED | DFLAG_PUBLISHED) & ~uint64_t(DFLAG_FRAGMENTS)));
    dd_mbox *tx;
    ASSERT_EQ(dd_mbox_open(a.n, nullptr, 0, &tx), DD_OK);
    erlang_pid to = stuck.pid(1);
    Bytes big = big_seq(1, 40u << 20);
    ASSERT_EQ(dd_send(tx, &to, big.data(), big.size()), DD_OK);
    for (int i = 0; i < 15; i++) { // 1.5 s: ticks are due; we tick too, and read nothing
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        ASSERT_TRUE(stuck.send_bytes(Bytes{0, 0, 0, 0}));
    }
    auto peers = nodes_of(a.n);
    EXPECT_NE(std::find(peers.begin(), peers.end(), "nofrag@" + short_host()), peers.end())
        << "the connection was closed";
    dd_mbox_close(tx);
}

// Lanes on the wire: during a 64 MiB transfer toward a peer that reads slowly (one fragment
// a millisecond, and once not at all for 1.2 s, more than twice the tick interval whatever
// the phase of the node's tick timer), a 64-byte message of another sender and a tick reach
// the peer before the transfer's last fragment. Before, ticks went out only on an idle queue.
TEST(RuntimeConn, TickAndSmallMessageGoAheadOfABulkTransfer)
{
    Bytes big = big_seq(1, 64u << 20);
    Bytes small = term([](ei_x_buff *x) {
        std::string s(48, 's');
        ei_x_encode_binary(x, s.data(), long(s.size()));
    });
    std::string alive = fresh_name("lane");
    NodeOpts o;
    o.ticktime_s = 2; // a tick every 500 ms
    Node a(alive, o);
    ASSERT_TRUE(a.n);
    RawPeer slow;
    ASSERT_TRUE(join_raw(slow, alive, a, "slowlane"));
    dd_mbox *big_tx, *small_tx;
    ASSERT_EQ(dd_mbox_open(a.n, nullptr, 0, &big_tx), DD_OK);
    ASSERT_EQ(dd_mbox_open(a.n, nullptr, 0, &small_tx), DD_OK);
    erlang_pid to = slow.pid(1);
    std::atomic<int> big_rc{-1};
    std::thread sender([&] { big_rc = dd_send(big_tx, &to, big.data(), big.size()); });
    int frags = 0, last_frag = -1, small_at = -1, ticks_before = 0, packets = 0;
    bool small_sent = false;
    auto t0 = Clock::now(), last_tick = t0 - std::chrono::seconds(1);
    while (last_frag < 0 && Clock::now() < t0 + std::chrono::seconds(30)) {
        if (Clock::now() - last_tick > std::chrono::milliseconds(100)) { // we stay alive too
            ASSERT_TRUE(slow.send_bytes(Bytes{0, 0, 0, 0}));
            last_tick = Clock::now();
        }
        if (!small_sent && frags >= 64) { // 4 MiB into the transfer
            ASSERT_EQ(dd_send(small_tx, &to, small.data(), small.size()), DD_OK);
            small_sent = true;
            // and a pause of more than a tick interval: the node has written nothing for
            // that long, so a tick is due while the transfer is queued
            for (int i = 0; i < 12; i++) {
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
                ASSERT_TRUE(slow.send_bytes(Bytes{0, 0, 0, 0}));
            }
        }
        Bytes body;
        int r = slow.read_packet(&body, 1000, /*ticks*/ true);
        ASSERT_EQ(r, 1) << "after " << frags << " fragments";
        packets++;
        if (body.empty()) {
            ticks_before++;
            continue;
        }
        ASSERT_GE(body.size(), 2u);
        uint64_t seq, id;
        if (frag_ids(body, &seq, &id)) {
            frags++;
            if (id == 1)
                last_frag = packets;
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        } else if (small_sent && small_at < 0 && body.size() < 200) {
            small_at = packets;
        }
    }
    sender.join();
    double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    std::cout << "# " << frags << " fragments in " << secs << " s; the 64-byte message was packet "
              << small_at << ", the last fragment " << last_frag << "; " << ticks_before
              << " ticks before it\n";
    EXPECT_EQ(big_rc.load(), DD_OK);
    EXPECT_GT(frags, 1000) << "the large message did not go in fragments";
    ASSERT_GT(last_frag, 0) << "the transfer did not end";
    EXPECT_GT(small_at, 0) << "the 64-byte message did not arrive";
    EXPECT_LT(small_at, last_frag) << "the 64-byte message waited for the transfer";
    EXPECT_GT(secs, 1.2) << "the transfer was too fast for a tick to be due";
    EXPECT_GE(ticks_before, 1) << "no tick during a " << secs << " s transfer";
    dd_mbox_close(big_tx);
    dd_mbox_close(small_tx);
}

// Large messages of different senders interleave fragment by fragment: a 1 MiB message sent
// while a 48 MiB one of another sender is on its way arrives first. The receiver is a raw peer
// that reads at its own pace (a dpdist node read so fast that the 48 MiB could be written out
// before the second dd_send, and the test then proved nothing).
TEST(RuntimeConn, LargeMessagesOfDifferentSendersInterleave)
{
    Bytes big = big_seq(0, 48u << 20), mid = big_seq(1, 1u << 20);
    std::string alive = fresh_name("ila");
    Node a(alive);
    ASSERT_TRUE(a.n);
    RawPeer peer;
    ASSERT_TRUE(join_raw(peer, alive, a, "ilpeer"));
    dd_mbox *big_tx, *mid_tx;
    ASSERT_EQ(dd_mbox_open(a.n, nullptr, 0, &big_tx), DD_OK);
    ASSERT_EQ(dd_mbox_open(a.n, nullptr, 0, &mid_tx), DD_OK);
    erlang_pid to = peer.pid(1);
    std::atomic<int> big_rc{-1}, mid_rc{-1};
    std::thread big_sender([&] { big_rc = dd_send(big_tx, &to, big.data(), big.size()); });
    std::thread mid_sender;
    const uint64_t whole = ~uint64_t(0); // the 1 MiB message arrived unfragmented
    std::vector<uint64_t> done;          // sequence ids, in the order their last fragment came
    uint64_t big_id = 0;
    int frags = 0;
    auto t0 = Clock::now(), last_tick = t0;
    while (done.size() < 2 && Clock::now() < t0 + std::chrono::seconds(30)) {
        if (Clock::now() - last_tick > std::chrono::milliseconds(100)) { // we stay alive too
            ASSERT_TRUE(peer.send_bytes(Bytes{0, 0, 0, 0}));
            last_tick = Clock::now();
        }
        if (!mid_sender.joinable() && frags >= 64) // 4 MiB into the 48 MiB transfer
            mid_sender = std::thread([&] { mid_rc = dd_send(mid_tx, &to, mid.data(), mid.size()); });
        Bytes body;
        int r = peer.read_packet(&body, 1000, /*ticks*/ true);
        ASSERT_EQ(r, 1) << "after " << frags << " fragments";
        uint64_t seq, id;
        if (frag_ids(body, &seq, &id)) {
            frags++;
            if (big_id == 0)
                big_id = seq;
            if (id == 1)
                done.push_back(seq);
            std::this_thread::sleep_for(std::chrono::microseconds(200)); // a slow reader
        } else if (body.size() > mid.size()) {
            done.push_back(whole);
        }
    }
    big_sender.join();
    if (mid_sender.joinable())
        mid_sender.join();
    EXPECT_EQ(big_rc.load(), DD_OK);
    EXPECT_EQ(mid_rc.load(), DD_OK);
    ASSERT_EQ(done.size(), 2u) << "after " << frags << " fragments";
    EXPECT_NE(done[0], big_id) << "the 1 MiB message waited for the 48 MiB one";
    EXPECT_EQ(done[1], big_id);
    dd_mbox_close(big_tx);
    dd_mbox_close(mid_tx);
}

// BEAM reassembles what dpdist sends in fragments: every size from 1 byte to 64 MiB (around
// the 64 KiB fragment boundary byte by byte), from three senders at once, so that their
// fragments interleave; each arrives whole, with its content, in its sender's order. Then a
// 64-byte message sent just after a 64 MiB one of another sender reaches BEAM first.
TEST(RuntimeConn, BeamReassemblesEverySizeFromSeveralSenders)
{
    if (!have_erl())
        GTEST_SKIP() << "no erl here";
    std::string b_alive = fresh_name("reasmbeam");
    Beam beam(b_alive,
              "register(inbox, self()), io:format(\"ready~n\"), "
              "L = fun L(Next) -> receive {S, I, Bin} when is_integer(S) -> "
              "  Ok = Bin =:= binary:copy(<<((S * 31 + I) rem 256)>>, byte_size(Bin)), "
              "  InOrder = I =:= maps:get(S, Next, 0), "
              "  io:format(\"got ~p ~p ~p ~p~n\", [S, I, byte_size(Bin), Ok andalso InOrder]), "
              "  L(Next#{S => I + 1}) "
              "after 60000 -> halt(1) end end, L(#{}).");
    ASSERT_TRUE(beam.wait_for("ready", 20000)) << ::testing::PrintToString(beam.lines());
    NodeOpts o;
    o.long_name = true;
    Node a(fresh_name("reasmsrc"), o);
    ASSERT_TRUE(a.n);
    std::string b_name = b_alive + "@127.0.0.1";
    ASSERT_EQ(dd_connect(a.n, b_name.c_str(), 10000), DD_OK) << dd_last_error();

    std::vector<size_t> sizes = {1, 2, 3, 64, 100, 1000, 64u << 20};
    for (int k = 10; k <= 25; k++)
        for (long d = -1; d <= 1; d++)
            sizes.push_back(size_t((1l << k) + d));
    for (size_t z = 65536 - 80; z <= 65536 + 20; z++) // the fragment boundary, byte by byte
        sizes.push_back(z);
    const int kSenders = 3;
    std::vector<std::vector<size_t>> per(kSenders);
    for (size_t i = 0; i < sizes.size(); i++)
        per[i % kSenders].push_back(sizes[i]);
    auto msg = [](long sender, long i, size_t len) {
        return term([&](ei_x_buff *x) {
            ei_x_encode_tuple_header(x, 3);
            ei_x_encode_long(x, sender);
            ei_x_encode_long(x, i);
            std::vector<char> blob(len, char((sender * 31 + i) % 256));
            ei_x_encode_binary(x, blob.data(), long(blob.size()));
        });
    };
    std::vector<std::thread> senders;
    for (int sdr = 0; sdr < kSenders; sdr++)
        senders.emplace_back([&, sdr] {
            dd_mbox *mb;
            ASSERT_EQ(dd_mbox_open(a.n, nullptr, 0, &mb), DD_OK);
            for (size_t i = 0; i < per[sdr].size(); i++) {
                Bytes t = msg(sdr, long(i), per[sdr][i]);
                EXPECT_EQ(dd_send_reg(mb, "inbox", b_name.c_str(), t.data(), t.size()), DD_OK)
                    << dd_last_error();
            }
            dd_mbox_close(mb);
        });
    for (auto &t : senders)
        t.join();
    EXPECT_TRUE(wait_until([&] { return beam.lines().size() > sizes.size(); }, 60000))
        << "BEAM got " << beam.lines().size() - 1 << " of " << sizes.size();
    auto got = beam.lines();
    for (int sdr = 0; sdr < kSenders; sdr++)
        for (size_t i = 0; i < per[sdr].size(); i++) {
            std::string want = "got " + std::to_string(sdr) + " " + std::to_string(i) + " " +
                               std::to_string(per[sdr][i]) + " true";
            EXPECT_TRUE(std::find(got.begin(), got.end(), want) != got.end()) << "missing: " << want;
        }

    // A 64-byte message of another sender overtakes a 64 MiB message on its way.
    dd_mbox *bulk, *small;
    ASSERT_EQ(dd_mbox_open(a.n, nullptr, 0, &bulk), DD_OK);
    ASSERT_EQ(dd_mbox_open(a.n, nullptr, 0, &small), DD_OK);
    Bytes b64 = msg(7, 0, 64u << 20), s64 = msg(8, 0, 64);
    ASSERT_EQ(dd_send_reg(bulk, "inbox", b_name.c_str(), b64.data(), b64.size()), DD_OK);
    ASSERT_EQ(dd_send_reg(small, "inbox", b_name.c_str(), s64.data(), s64.size()), DD_OK);
    std::string big_line = "got 7 0 " + std::to_string(64u << 20) + " true";
    ASSERT_TRUE(beam.wait_for(big_line, 60000)) << "the 64 MiB message did not arrive";
    auto lines = beam.lines();
    auto small_at = std::find(lines.begin(), lines.end(), "got 8 0 64 true");
    auto big_at = std::find(lines.begin(), lines.end(), big_line);
    EXPECT_TRUE(small_at < big_at) << "the 64-byte message waited for the 64 MiB one";
    dd_mbox_close(bulk);
    dd_mbox_close(small);
}

// dd_peer_stats().max_rx_gap_ns on the TCP carrier: the largest time between two packets
// from the peer since the previous read, then reset.
TEST(RuntimeConn, LargestReceiveGapIsMeasuredAndReset)
{
    Node a(fresh_name("gpa")), b(fresh_name("gpb"));
    ASSERT_TRUE(a.n && b.n);
    dd_mbox *rx, *tx;
    ASSERT_EQ(dd_mbox_open(b.n, nullptr, 0, &rx), DD_OK);
    ASSERT_EQ(dd_mbox_open(a.n, nullptr, 0, &tx), DD_OK);
    dd_pid rxpid = *dd_mbox_pid(rx);
    auto send_and_take = [&](long i) {
        Bytes t = triple("g", 0, i);
        ASSERT_EQ(dd_send(tx, &rxpid, t.data(), t.size()), DD_OK) << dd_last_error();
        dd_msg *m = recv_one(rx, 5000);
        ASSERT_NE(m, nullptr);
        dd_msg_free(m);
    };
    send_and_take(0);
    struct dd_peer_stats st;
    ASSERT_EQ(dd_peer_stats(b.n, a.name().c_str(), &st), DD_OK) << dd_last_error();
    EXPECT_EQ(st.carrier, DD_CARRIER_TCP);
    std::this_thread::sleep_for(std::chrono::milliseconds(120));
    send_and_take(1);
    ASSERT_EQ(dd_peer_stats(b.n, a.name().c_str(), &st), DD_OK);
    EXPECT_GE(st.max_rx_gap_ns, 100u * 1000 * 1000) << "a 120 ms pause was not seen";
    EXPECT_LT(st.max_rx_gap_ns, 10ull * 1000 * 1000 * 1000);
    for (long i = 2; i < 20; i++)
        send_and_take(i);
    ASSERT_EQ(dd_peer_stats(b.n, a.name().c_str(), &st), DD_OK);
    EXPECT_LT(st.max_rx_gap_ns, 100u * 1000 * 1000) << "the previous read did not reset it";
    dd_mbox_close(tx);
    dd_mbox_close(rx);
}

// A hub with more peers than the control thread handles in one batch keeps ticking them
// all: after more than a tick time every peer is still connected, in both directions.
TEST(RuntimeConn, HubWithManyPeersKeepsEveryConnectionAlive)
{
    LogCapture logs;
    NodeOpts o;
    o.ticktime_s = 4; // short, yet above what 301 control threads on a busy 2-core machine
                      // may be starved for
    Node hub(fresh_name("hub"), o);
    ASSERT_TRUE(hub.n);
    const int kPeers = 300;
    std::vector<std::unique_ptr<Node>> peers;
    NodeOpts leaf = o;
    leaf.hidden = true; // published leaves would mesh with each other (300 x 300)
    for (int i = 0; i < kPeers; i++) {
        peers.push_back(std::make_unique<Node>(fresh_name("leaf"), leaf));
        ASSERT_TRUE(peers.back()->n);
        ASSERT_EQ(dd_connect(peers.back()->n, hub.name().c_str(), 5000), DD_OK);
    }
    // dd_connect returns when the leaf's side is up; the hub (the acceptor) marks its side up
    // on its own control thread, a moment later.
    ASSERT_TRUE(wait_until([&] { return nodes_of(hub.n).size() == size_t(kPeers); }, 5000))
        << nodes_of(hub.n).size() << " of " << kPeers << " peers connected at the hub";
    // The leaves only talk to the hub: a hub that stops ticking some of them is declared
    // down by those within a tick time (4 s here).
    std::this_thread::sleep_for(std::chrono::milliseconds(5500));
    EXPECT_EQ(nodes_of(hub.n).size(), size_t(kPeers));
    EXPECT_EQ(logs.count("not responding"), 0u);
    peers.clear();
}

TEST(RuntimeConn, ConnectFailures)
{
    LogCapture logs;
    Node a(fresh_name("cfa"));
    NodeOpts other;
    other.cookie = "othercookie";
    Node b(fresh_name("cfb"), other);
    ASSERT_TRUE(a.n && b.n);
    EXPECT_EQ(dd_connect(a.n, a.name().c_str(), 100), DD_OK); // itself
    std::string ghost = "ghost" + fresh_name("") + "@" + short_host();
    auto t0 = Clock::now();
    EXPECT_EQ(dd_connect(a.n, ghost.c_str(), 3000), DD_ENOCONN);
    EXPECT_LT(Clock::now() - t0, std::chrono::milliseconds(2000));
    EXPECT_NE(std::string(dd_last_error()).find("ghost"), std::string::npos);
    EXPECT_EQ(dd_connect(a.n, "not a node name", 100), DD_EINVAL);
    EXPECT_EQ(dd_connect(a.n, "long@host.example.com", 100), DD_ENOCONN);
    // Different cookies: refused (the initiator only sees the acceptor close, as in OTP),
    // and the acceptor logs it.
    EXPECT_EQ(dd_connect(a.n, b.name().c_str(), 3000), DD_ENOCONN);
    EXPECT_TRUE(logs.wait_for("Connection attempt from disallowed node " + a.name(), 2000));
    EXPECT_NE(dd_ping(a.n, b.name().c_str(), 2000), DD_OK);
    // With the peer's cookie set for that peer, it works (erlang:set_cookie/2).
    ASSERT_EQ(dd_set_cookie(a.n, b.name().c_str(), "othercookie"), DD_OK);
    EXPECT_EQ(dd_ping(a.n, b.name().c_str(), 3000), DD_OK);
    EXPECT_EQ(dd_node_carrier(a.n, b.name().c_str()), DD_CARRIER_TCP);
    EXPECT_EQ(dd_set_cookie(a.n, nullptr, "bad cookie\n"), DD_ECOOKIE);
}

// Nodes A,B,C,D published: A-B and C-D connect, then A meets C: all four end up connected.
// A hidden node H that connects to A learns nobody and is told to nobody.
TEST(RuntimeConn, MeshOfPublishedNodesHiddenStaysOut)
{
    Node a(fresh_name("mesha")), b(fresh_name("meshb")), c(fresh_name("meshc")),
        d(fresh_name("meshd"));
    ASSERT_TRUE(a.n && b.n && c.n && d.n);
    ASSERT_EQ(dd_connect(a.n, b.name().c_str(), 3000), DD_OK);
    ASSERT_EQ(dd_connect(c.n, d.name().c_str(), 3000), DD_OK);
    ASSERT_EQ(dd_connect(a.n, c.name().c_str(), 3000), DD_OK);
    Node *all[] = {&a, &b, &c, &d};
    auto others = [&](Node *me) {
        std::vector<std::string> v;
        for (Node *o : all)
            if (o != me)
                v.push_back(o->name());
        std::sort(v.begin(), v.end());
        return v;
    };
    for (Node *me : all)
        EXPECT_TRUE(
            wait_until([&] { return nodes_of(me->n, DD_NODES_VISIBLE) == others(me); }, 5000))
            << me->name() << " sees " << ::testing::PrintToString(nodes_of(me->n));

    NodeOpts ho;
    ho.hidden = true;
    Node h(fresh_name("meshh"), ho);
    ASSERT_TRUE(h.n);
    ASSERT_EQ(dd_connect(h.n, a.name().c_str(), 3000), DD_OK);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    EXPECT_EQ(nodes_of(h.n), std::vector<std::string>{a.name()});
    EXPECT_TRUE(nodes_of(h.n, DD_NODES_VISIBLE).empty()); // a hidden node sees only hidden
    EXPECT_EQ(nodes_of(a.n, DD_NODES_HIDDEN), std::vector<std::string>{h.name()});
    for (Node *o : {&b, &c, &d})
        EXPECT_EQ(nodes_of(o->n), others(o)) << o->name() << " learnt of the hidden node";
}

} // namespace
