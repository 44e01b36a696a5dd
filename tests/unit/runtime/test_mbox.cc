// Tests of runtime/core/mbox.c through the public API, on one in-process node: local send and
// receive, per-sender ordering with many threads sending at once, registered names,
// receive timeouts and polling, concurrent receivers, pid reuse, argument checks.
#include <gtest/gtest.h>
#include <sched.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <map>
#include <set>
#include <thread>
#include <vector>

#include "runtime/api/dd_testing.h"
#include "rt_test_util.h"

using namespace rt_test;
using Clock = std::chrono::steady_clock;

namespace
{

long ms_since(Clock::time_point t0)
{
    return long(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count());
}

TEST(RuntimeMbox, SendAndReceiveLocally)
{
    Node node(fresh_name("mbox"));
    ASSERT_TRUE(node.n);
    dd_mbox *a, *b;
    ASSERT_EQ(dd_mbox_open(node.n, nullptr, 0, &a), DD_OK);
    ASSERT_EQ(dd_mbox_open(node.n, nullptr, 0, &b), DD_OK);
    EXPECT_FALSE(dd_pid_eq(dd_mbox_pid(a), dd_mbox_pid(b)));
    EXPECT_STREQ(dd_mbox_pid(a)->node, dd_node_name(node.n));
    EXPECT_EQ(dd_mbox_pid(a)->creation, dd_node_creation(node.n));

    Bytes t = triple("hello", 1, 2);
    ASSERT_EQ(dd_send(a, dd_mbox_pid(b), t.data(), t.size()), DD_OK);
    dd_msg *m = recv_one(b, 1000);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->kind, DD_MSG_MESSAGE);
    EXPECT_TRUE(m->has_from);
    EXPECT_TRUE(dd_pid_eq(&m->from, dd_mbox_pid(a)));
    EXPECT_EQ(Bytes(m->term, m->term + m->len), t);
    dd_msg_free(m);
    EXPECT_TRUE(recv_nothing(a, 0));
    dd_mbox_close(a);
    dd_mbox_close(b);
}

TEST(RuntimeMbox, PollAndTimeout)
{
    Node node(fresh_name("mbox"));
    ASSERT_TRUE(node.n);
    dd_mbox *a;
    ASSERT_EQ(dd_mbox_open(node.n, nullptr, 0, &a), DD_OK);
    dd_msg *m = nullptr;
    auto t0 = Clock::now();
    EXPECT_EQ(dd_recv(a, &m, 0), DD_ETIMEDOUT);
    EXPECT_LT(ms_since(t0), 50);
    t0 = Clock::now();
    EXPECT_EQ(dd_recv(a, &m, 120), DD_ETIMEDOUT);
    long took = ms_since(t0);
    EXPECT_GE(took, 115);
    EXPECT_LT(took, 1000);

    // A blocked receiver wakes up when a message arrives.
    dd_mbox *b;
    ASSERT_EQ(dd_mbox_open(node.n, nullptr, 0, &b), DD_OK);
    std::thread sender([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        Bytes t = atom_term("wake");
        dd_send(b, dd_mbox_pid(a), t.data(), t.size());
    });
    t0 = Clock::now();
    ASSERT_EQ(dd_recv(a, &m, -1), DD_OK);
    EXPECT_GE(ms_since(t0), 80);
    EXPECT_EQ(show(m), "wake");
    dd_msg_free(m);
    sender.join();
    dd_mbox_close(a);
    dd_mbox_close(b);
}

TEST(RuntimeMbox, RegisteredNames)
{
    Node node(fresh_name("mbox"));
    ASSERT_TRUE(node.n);
    dd_mbox *svc, *dup, *client;
    ASSERT_EQ(dd_mbox_open(node.n, "svc", 0, &svc), DD_OK);
    EXPECT_EQ(dd_mbox_open(node.n, "svc", 0, &dup), DD_ENAMEINUSE);
    EXPECT_NE(std::string(dd_last_error()).find("svc"), std::string::npos);
    EXPECT_EQ(dd_mbox_open(node.n, "", 0, &dup), DD_EINVAL);
    ASSERT_EQ(dd_mbox_open(node.n, nullptr, 0, &client), DD_OK);

    Bytes t = atom_term("by_name");
    EXPECT_EQ(dd_send_reg(client, "svc", nullptr, t.data(), t.size()), DD_OK);
    EXPECT_EQ(dd_send_reg(client, "svc", dd_node_name(node.n), t.data(), t.size()), DD_OK);
    for (int i = 0; i < 2; i++) {
        dd_msg *m = recv_one(svc, 1000);
        ASSERT_TRUE(m);
        EXPECT_EQ(show(m), "by_name");
        EXPECT_TRUE(m->has_from && dd_pid_eq(&m->from, dd_mbox_pid(client)));
        dd_msg_free(m);
    }
    // An unknown name: dropped, as {nosuch, node()} ! Msg in Erlang.
    EXPECT_EQ(dd_send_reg(client, "nosuch", nullptr, t.data(), t.size()), DD_OK);

    // The name is free again once its mailbox is closed.
    dd_mbox_close(svc);
    EXPECT_EQ(dd_send_reg(client, "svc", nullptr, t.data(), t.size()), DD_OK);
    ASSERT_EQ(dd_mbox_open(node.n, "svc", 0, &svc), DD_OK);
    EXPECT_TRUE(recv_nothing(svc, 50));
    dd_mbox_close(svc);
    dd_mbox_close(client);
}

TEST(RuntimeMbox, OrderPerSenderWithManyThreads)
{
    Node node(fresh_name("mbox"));
    ASSERT_TRUE(node.n);
    const int kSenders = 8, kPerSender = 20000;
    dd_mbox *rx;
    ASSERT_EQ(dd_mbox_open(node.n, nullptr, 0, &rx), DD_OK);
    std::atomic<int> failures{0};
    std::vector<std::thread> ts;
    for (int s = 0; s < kSenders; s++)
        ts.emplace_back([&, s] {
            dd_mbox *tx;
            if (dd_mbox_open(node.n, nullptr, 0, &tx) != DD_OK) {
                failures++;
                return;
            }
            for (int i = 0; i < kPerSender; i++) {
                Bytes t = triple("seq", s, i);
                if (dd_send(tx, dd_mbox_pid(rx), t.data(), t.size()) != DD_OK)
                    failures++;
            }
            dd_mbox_close(tx);
        });
    std::vector<long> next(kSenders, 0);
    int got = 0, bad = 0;
    while (got < kSenders * kPerSender) {
        dd_msg *m = recv_one(rx, 5000);
        if (!m)
            break;
        std::string tag;
        long s, i;
        if (m->kind == DD_MSG_MESSAGE && untriple(m, &tag, &s, &i) && s >= 0 && s < kSenders) {
            if (i != next[size_t(s)])
                bad++;
            next[size_t(s)] = i + 1;
            got++;
        }
        dd_msg_free(m);
    }
    for (auto &t : ts)
        t.join();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_EQ(got, kSenders * kPerSender);
    EXPECT_EQ(bad, 0) << "messages of one sender out of order";
    EXPECT_TRUE(recv_nothing(rx, 20));
    dd_mbox_close(rx);
}

TEST(RuntimeMbox, ConcurrentReceiversTakeTurns)
{
    Node node(fresh_name("mbox"));
    ASSERT_TRUE(node.n);
    dd_mbox *rx, *tx;
    ASSERT_EQ(dd_mbox_open(node.n, nullptr, 0, &rx), DD_OK);
    ASSERT_EQ(dd_mbox_open(node.n, nullptr, 0, &tx), DD_OK);
    const int kMsgs = 20000, kReceivers = 4;
    std::vector<std::vector<long>> seen(kReceivers);
    std::atomic<int> total{0};
    std::vector<std::thread> rs;
    for (int r = 0; r < kReceivers; r++)
        rs.emplace_back([&, r] {
            while (total.load() < kMsgs) {
                dd_msg *m = nullptr;
                if (dd_recv(rx, &m, 50) != DD_OK)
                    continue;
                std::string tag;
                long a, b;
                if (untriple(m, &tag, &a, &b))
                    seen[size_t(r)].push_back(b);
                dd_msg_free(m);
                total++;
            }
        });
    for (int i = 0; i < kMsgs; i++) {
        Bytes t = triple("n", 0, i);
        ASSERT_EQ(dd_send(tx, dd_mbox_pid(rx), t.data(), t.size()), DD_OK);
    }
    for (auto &t : rs)
        t.join();
    std::set<long> all;
    for (auto &v : seen) {
        // Each receiver sees its share in sending order.
        EXPECT_TRUE(std::is_sorted(v.begin(), v.end()));
        all.insert(v.begin(), v.end());
    }
    EXPECT_EQ(all.size(), size_t(kMsgs)) << "every message received exactly once";
    EXPECT_EQ(total.load(), kMsgs);
    dd_mbox_close(rx);
    dd_mbox_close(tx);
}

// A receiver that waits with a timeout returns by its deadline even while another thread is
// parked in dd_recv(-1) on the same mailbox.
TEST(RuntimeMbox, TimeoutHonouredWithAnotherReceiverWaiting)
{
    Node node(fresh_name("mbox"));
    ASSERT_TRUE(node.n);
    dd_mbox *rx, *tx;
    ASSERT_EQ(dd_mbox_open(node.n, nullptr, 0, &rx), DD_OK);
    ASSERT_EQ(dd_mbox_open(node.n, nullptr, 0, &tx), DD_OK);
    std::atomic<bool> got_forever{false};
    std::thread forever([&] {
        dd_msg *m = nullptr;
        if (dd_recv(rx, &m, -1) == DD_OK) {
            got_forever = true;
            dd_msg_free(m);
        }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::atomic<long> took{-1};
    std::atomic<int> rc{1};
    std::thread timed([&] {
        dd_msg *m = nullptr;
        auto t0 = Clock::now();
        rc = dd_recv(rx, &m, 100);
        took = ms_since(t0);
        if (rc == DD_OK)
            dd_msg_free(m);
    });
    // Bounded wait: if the timed receiver is stuck behind the other one, unblock both.
    bool returned = wait_until([&] { return took.load() >= 0; }, 2000);
    EXPECT_TRUE(returned) << "dd_recv(100 ms) did not return while another thread waits";
    Bytes t = atom_term("one");
    dd_send(tx, dd_mbox_pid(rx), t.data(), t.size());
    dd_send(tx, dd_mbox_pid(rx), t.data(), t.size());
    timed.join();
    forever.join();
    EXPECT_TRUE(got_forever.load());
    if (returned) {
        EXPECT_EQ(rc.load(), DD_ETIMEDOUT);
        EXPECT_LT(took.load(), 1000);
    }
    dd_mbox_close(rx);
    dd_mbox_close(tx);
}

TEST(RuntimeMbox, ClosedMailboxAndPidReuse)
{
    Node node(fresh_name("mbox"));
    ASSERT_TRUE(node.n);
    dd_mbox *a, *tx;
    ASSERT_EQ(dd_mbox_open(node.n, nullptr, 0, &tx), DD_OK);
    ASSERT_EQ(dd_mbox_open(node.n, nullptr, 0, &a), DD_OK);
    dd_pid old = *dd_mbox_pid(a);
    dd_mbox_close(a);
    // The slot is reused with another serial: the old pid reaches nobody.
    dd_mbox *b;
    ASSERT_EQ(dd_mbox_open(node.n, nullptr, 0, &b), DD_OK);
    EXPECT_FALSE(dd_pid_eq(&old, dd_mbox_pid(b)));
    Bytes t = atom_term("stale");
    EXPECT_EQ(dd_send(tx, &old, t.data(), t.size()), DD_OK);
    // A pid of an earlier incarnation of this node (other creation): dropped too.
    dd_pid other = *dd_mbox_pid(b);
    other.creation ^= 1;
    EXPECT_EQ(dd_send(tx, &other, t.data(), t.size()), DD_OK);
    EXPECT_TRUE(recv_nothing(b, 50));
    dd_mbox_close(b);
    dd_mbox_close(tx);
}

TEST(RuntimeMbox, ArgumentChecks)
{
    NodeOpts o;
    o.max_mailboxes = 4;
    Node node(fresh_name("mbox"), o);
    ASSERT_TRUE(node.n);
    dd_mbox *a;
    ASSERT_EQ(dd_mbox_open(node.n, nullptr, 0, &a), DD_OK);
    const uint8_t bad[] = {131, 100}; // truncated ATOM_EXT
    EXPECT_EQ(dd_send(a, dd_mbox_pid(a), bad, sizeof(bad)), DD_EBADTERM);
    const uint8_t nover[] = {100, 0, 1, 'x'};
    EXPECT_EQ(dd_send(a, dd_mbox_pid(a), nover, sizeof(nover)), DD_EBADTERM);
    Bytes t = atom_term("x");
    Bytes two = t;
    two.insert(two.end(), t.begin() + 1, t.end()); // two terms after one version byte
    EXPECT_EQ(dd_send(a, dd_mbox_pid(a), two.data(), two.size()), DD_EBADTERM);
    EXPECT_EQ(dd_send(nullptr, dd_mbox_pid(a), t.data(), t.size()), DD_EINVAL);
    EXPECT_EQ(dd_send_reg(a, "", nullptr, t.data(), t.size()), DD_EINVAL);
    dd_msg *m;
    EXPECT_EQ(dd_recv(nullptr, &m, 0), DD_EINVAL);
    // Four slots: the system mailbox and `a` hold two, two more fit, the next is refused.
    std::vector<dd_mbox *> more;
    int rc = DD_OK;
    for (int i = 0; i < 8 && rc == DD_OK; i++) {
        dd_mbox *x;
        rc = dd_mbox_open(node.n, nullptr, 0, &x);
        if (rc == DD_OK)
            more.push_back(x);
    }
    EXPECT_EQ(rc, DD_ELIMIT);
    EXPECT_EQ(more.size(), size_t(2));
    for (auto *x : more)
        dd_mbox_close(x);
    dd_mbox *again;
    EXPECT_EQ(dd_mbox_open(node.n, nullptr, 0, &again), DD_OK);
    dd_mbox_close(again);
    dd_mbox_close(a);
}

// A process that may run on one CPU only (a node pinned to one core): its receivers spin
// yielding the core (mbox.c, MBOX_SPIN_YIELD), so the control thread that delivers runs.
// Round trips over TCP between two nodes of this process, every thread on one CPU, each
// reply received in order; then the same with a stream the receiver drains.
TEST(RuntimeMbox, RoundTripsAndAStreamWithEveryThreadOnOneCpu)
{
    cpu_set_t was, one;
    ASSERT_EQ(sched_getaffinity(0, sizeof(was), &was), 0);
    int cpu = 0;
    while (cpu < CPU_SETSIZE && !CPU_ISSET(cpu, &was))
        cpu++;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    bool several = CPU_COUNT(&was) > 1;
    uint64_t spin_many = 0;
    bool yields_many = true;
    if (several) { // a node of a process that may run on several CPUs: a plain spin
        Node m(fresh_name("manycpu"));
        ASSERT_TRUE(m.n);
        ASSERT_EQ(dd_testing_mbox_spin(m.n, &spin_many, &yields_many), DD_OK);
        EXPECT_FALSE(yields_many);
        EXPECT_GT(spin_many, 0u);
    } else {
        std::cout << "# this process may run on one CPU only: the several-CPU case is not seen\n";
    }
    ASSERT_EQ(sched_setaffinity(0, sizeof(one), &one), 0); // threads started from here inherit
    {
        Node a(fresh_name("onecpua")), b(fresh_name("onecpub"));
        ASSERT_TRUE(a.n && b.n);
        uint64_t spin_one = 0;
        bool yields_one = false;
        ASSERT_EQ(dd_testing_mbox_spin(a.n, &spin_one, &yields_one), DD_OK);
        EXPECT_TRUE(yields_one) << "a node started on one CPU spins without yielding";
        if (several) {
            EXPECT_GT(spin_one, spin_many) << "the yielding spin is the longer one";
        }
        EXPECT_EQ(dd_testing_mbox_spin(nullptr, &spin_one, &yields_one), DD_EINVAL);
        dd_mbox *ping, *echo;
        ASSERT_EQ(dd_mbox_open(a.n, nullptr, 0, &ping), DD_OK);
        ASSERT_EQ(dd_mbox_open(b.n, nullptr, 0, &echo), DD_OK);
        dd_pid echo_pid = *dd_mbox_pid(echo), ping_pid = *dd_mbox_pid(ping);
        const long kRounds = 2000, kStream = 20000;
        std::thread echoer([&] {
            for (long i = 0; i < kRounds; i++) {
                dd_msg *m = recv_one(echo, 10000);
                if (!m)
                    return;
                EXPECT_EQ(dd_send(echo, &ping_pid, m->term, m->len), DD_OK);
                dd_msg_free(m);
            }
        });
        for (long i = 0; i < kRounds; i++) {
            Bytes t = triple("rt", i, 0);
            ASSERT_EQ(dd_send(ping, &echo_pid, t.data(), t.size()), DD_OK) << dd_last_error();
            dd_msg *m = recv_one(ping, 10000);
            ASSERT_TRUE(m) << "no reply to round trip " << i;
            std::string tag;
            long x = -1, y = -1;
            EXPECT_TRUE(untriple(m, &tag, &x, &y));
            EXPECT_EQ(x, i);
            dd_msg_free(m);
        }
        echoer.join();
        std::thread sender([&] {
            for (long i = 0; i < kStream; i++) {
                Bytes t = triple("s", i, 0);
                ASSERT_EQ(dd_send(ping, &echo_pid, t.data(), t.size()), DD_OK);
            }
        });
        long next = 0;
        while (next < kStream) {
            dd_msg *m = recv_one(echo, 10000);
            ASSERT_TRUE(m) << "the stream stopped at " << next;
            std::string tag;
            long x = -1, y = -1;
            EXPECT_TRUE(untriple(m, &tag, &x, &y));
            ASSERT_EQ(x, next) << "out of order";
            next++;
            dd_msg_free(m);
        }
        sender.join();
        dd_mbox_close(ping);
        dd_mbox_close(echo);
    }
    ASSERT_EQ(sched_setaffinity(0, sizeof(was), &was), 0);
}

// On one CPU the spin turns itself off after it did not pay (mbox.c, mbox_spin_skip_after):
// a message that came during the spin keeps it on; a spin that got nothing skips the next
// few waits; a yield that gave the busy core away skips many more; a wait that did not
// spin changes nothing.
TEST(RuntimeMbox, TheOneCpuSpinIsSkippedAfterAMissAndLongerWhenTheCoreIsBusy)
{
    EXPECT_EQ(dd_testing_mbox_spin_skip_after(true, true, false), 0u) << "a hit";
    unsigned miss = dd_testing_mbox_spin_skip_after(true, false, false);
    unsigned busy = dd_testing_mbox_spin_skip_after(true, true, true);
    EXPECT_GT(miss, 0u) << "a miss";
    EXPECT_GT(busy, miss) << "a busy core: longer than a miss";
    EXPECT_EQ(dd_testing_mbox_spin_skip_after(true, false, true), busy);
    EXPECT_EQ(dd_testing_mbox_spin_skip_after(false, false, false), 0u) << "no spin";
    EXPECT_EQ(dd_testing_mbox_spin_skip_after(false, true, true), 0u) << "no spin";
}

} // namespace
