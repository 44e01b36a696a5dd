// Tests of connection set-up (runtime/hsio.c) between in-process nodes over real sockets:
// dials that fail (an EPMD that refuses, one that never answers, a registered port nobody
// listens on, a peer whose accept queue is full), nodes stopped while their dialler is
// blocked, and — run again by netns_run.sh inside a network namespace — peers whose host
// name or address gives EHOSTUNREACH at once, after ARP fails, or never answers.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "rt_test_util.h"
extern "C" {
#include "control/epmd/epmd_client.h"
}

using namespace rt_test;
using Clock = std::chrono::steady_clock;

namespace
{

// A TCP listener on addr:port that never accepts. Not full: connections complete (the
// kernel queues them) and nothing is ever answered, like a frozen daemon. Full: its accept
// queue is full, so the kernel drops a new SYN and connect() waits.
class DeadListener
{
  public:
    DeadListener(const char *addr, uint16_t port, bool full)
    {
        fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(port);
        inet_pton(AF_INET, addr, &sa.sin_addr);
        if (bind(fd_, reinterpret_cast<sockaddr *>(&sa), sizeof(sa)) < 0 ||
            listen(fd_, full ? 0 : 16) < 0) {
            ADD_FAILURE() << "listen on " << addr << ":" << port << ": " << strerror(errno);
            return;
        }
        socklen_t sl = sizeof(sa);
        getsockname(fd_, reinterpret_cast<sockaddr *>(&sa), &sl);
        port_ = ntohs(sa.sin_port);
        // Fill the accept queue: connect until one does not complete.
        for (int i = 0; full && i < 8; i++) {
            int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
            int rc = connect(c, reinterpret_cast<sockaddr *>(&sa), sizeof(sa));
            struct pollfd p = {c, POLLOUT, 0};
            if (rc == 0 || (errno == EINPROGRESS && poll(&p, 1, 300) == 1)) {
                fillers_.push_back(c);
                continue;
            }
            close(c);
            full_ = true;
            break;
        }
        if (full && !full_)
            ADD_FAILURE() << "the accept queue of " << addr << ":" << port_ << " never filled";
    }
    ~DeadListener()
    {
        for (int c : fillers_)
            close(c);
        if (fd_ >= 0)
            close(fd_);
    }
    uint16_t port() const
    {
        return port_;
    }

  private:
    int fd_ = -1;
    uint16_t port_ = 0;
    bool full_ = false;
    std::vector<int> fillers_;
};

// A name registered with the test EPMD at a port of our choice (no node behind it), for as
// long as the object lives.
class FakeRegistration
{
  public:
    FakeRegistration(const std::string &alive, uint16_t port, uint16_t epmd = epmd_port())
    {
        struct epmd_node_rec rec = {};
        rec.port = port;
        rec.node_type = EPMD_NODE_TYPE_NORMAL;
        rec.protocol = EPMD_PROTO_TCP_IPV4;
        rec.high_vsn = 6;
        rec.low_vsn = 6;
        rec.name = reinterpret_cast<const uint8_t *>(alive.c_str());
        rec.name_len = uint16_t(alive.size());
        uint8_t result = 1;
        uint32_t creation;
        int rc = epmd_client_register(nullptr, epmd, &rec, 2000, &fd_, &result, &creation);
        EXPECT_TRUE(rc == 0 && result == 0) << "registering " << alive << ": " << rc;
    }
    ~FakeRegistration()
    {
        if (fd_ >= 0)
            close(fd_);
    }

  private:
    int fd_ = -1;
};

// Takes back the memory a stopped node freed and fills it with 0xA5, as the allocations of
// a busy process would: a thread still using the node then reads garbage (and crashes)
// instead of stale values that happen to work. Under ASan the use itself is reported.
class Scribble
{
  public:
    Scribble()
    {
        for (size_t sz = 256; sz <= 16384; sz += 16) {
            void *p = malloc(sz);
            memset(p, 0xa5, sz);
            blocks_.push_back(p);
        }
    }
    ~Scribble()
    {
        for (void *p : blocks_)
            free(p);
    }

  private:
    std::vector<void *> blocks_;
};

// The process still serves: two new nodes connect and ping.
void two_nodes_still_connect(const NodeOpts &o)
{
    Node a(fresh_name("after"), o), b(fresh_name("after"), o);
    ASSERT_TRUE(a.n && b.n);
    EXPECT_EQ(dd_connect(a.n, b.name().c_str(), 5000), DD_OK) << dd_last_error();
    EXPECT_EQ(dd_ping(b.n, a.name().c_str(), 5000), DD_OK) << dd_last_error();
}

bool contains(const std::string &s, const std::string &part)
{
    return s.find(part) != std::string::npos;
}

// A node stopped while its dialler waits for an EPMD that never answers: when the lookup
// gives up, the dialler must not touch the freed node (before, it read its EPMD port and
// posted its result to the node's work queue: a use after free, SIGSEGV).
TEST(RuntimeHsio, NodeStopsWhileItsEpmdLookupHangs)
{
    DeadListener frozen_epmd("127.0.0.3", epmd_port(), false);
    NodeOpts o;
    o.long_name = true;
    o.setuptime_ms = 600;
    dd_node *a = start_node(fresh_name("hslook"), o);
    ASSERT_TRUE(a);
    EXPECT_EQ(dd_connect(a, "ghost@127.0.0.3", 100), DD_ETIMEDOUT) << dd_last_error();
    Bytes t = atom_term("lost");
    dd_mbox *mb;
    ASSERT_EQ(dd_mbox_open(a, nullptr, 0, &mb), DD_OK);
    EXPECT_EQ(dd_send_reg(mb, "x", "ghost@127.0.0.3", t.data(), t.size()), DD_OK);
    dd_node_stop(a);
    {
        Scribble s;
        std::this_thread::sleep_for(std::chrono::milliseconds(o.setuptime_ms + 700));
    }
    two_nodes_still_connect(o);
}

// The same with the dialler blocked in the TCP connect to the peer's port (EPMD answered,
// the peer's accept queue is full so our SYN is dropped).
TEST(RuntimeHsio, NodeStopsWhileItsTcpConnectHangs)
{
    DeadListener full("127.0.0.1", 0, true);
    std::string stuck = fresh_name("stuck");
    FakeRegistration reg(stuck, full.port());
    NodeOpts o;
    o.long_name = true;
    o.setuptime_ms = 600;
    for (int round = 0; round < 3; round++) {
        dd_node *a = start_node(fresh_name("hsconn"), o);
        ASSERT_TRUE(a);
        EXPECT_EQ(dd_connect(a, (stuck + "@127.0.0.1").c_str(), 150), DD_ETIMEDOUT)
            << dd_last_error();
        dd_node_stop(a);
        Scribble s;
        std::this_thread::sleep_for(std::chrono::milliseconds(o.setuptime_ms + 700));
    }
    two_nodes_still_connect(o);
}

// Every way a dial fails is an error that says why, and the node goes on serving.
TEST(RuntimeHsio, FailedDialsAreErrorsAndTheNodeGoesOn)
{
    LogCapture logs;
    NodeOpts o;
    o.long_name = true;
    o.setuptime_ms = 500;
    Node a(fresh_name("hsfail"), o), b(fresh_name("hsfail"), o);
    ASSERT_TRUE(a.n && b.n);
    ASSERT_EQ(dd_connect(a.n, b.name().c_str(), 3000), DD_OK) << dd_last_error();

    // No EPMD on that host: ECONNREFUSED.
    EXPECT_EQ(dd_connect(a.n, "ghost@127.0.0.2", 3000), DD_ENOCONN);
    EXPECT_TRUE(contains(dd_last_error(), "cannot ask EPMD on 127.0.0.2")) << dd_last_error();
    EXPECT_TRUE(contains(dd_last_error(), strerror(ECONNREFUSED))) << dd_last_error();
    // An EPMD that takes the connection and never answers: the lookup times out.
    {
        DeadListener frozen_epmd("127.0.0.3", epmd_port(), false);
        auto t0 = Clock::now();
        EXPECT_EQ(dd_connect(a.n, "ghost@127.0.0.3", 5000), DD_ENOCONN);
        EXPECT_TRUE(contains(dd_last_error(), strerror(ETIMEDOUT))) << dd_last_error();
        EXPECT_LT(Clock::now() - t0, std::chrono::milliseconds(3 * o.setuptime_ms));
    }
    // EPMD does not know the name.
    EXPECT_EQ(dd_connect(a.n, "nobody@127.0.0.1", 3000), DD_ENOCONN);
    EXPECT_TRUE(contains(dd_last_error(), "no node named nobody")) << dd_last_error();
    // Registered, but nobody listens on its port.
    {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t sl = sizeof(sa);
        ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr *>(&sa), sizeof(sa)), 0);
        getsockname(fd, reinterpret_cast<sockaddr *>(&sa), &sl);
        std::string closed = fresh_name("closed");
        FakeRegistration reg(closed, ntohs(sa.sin_port)); // bound, not listening: refused
        EXPECT_EQ(dd_connect(a.n, (closed + "@127.0.0.1").c_str(), 3000), DD_ENOCONN);
        EXPECT_TRUE(contains(dd_last_error(), "cannot connect to 127.0.0.1 port"))
            << dd_last_error();
        close(fd);
    }
    // Sending to an unreachable node drops the message (erlang:send/2), no error.
    dd_mbox *mb;
    ASSERT_EQ(dd_mbox_open(a.n, nullptr, 0, &mb), DD_OK);
    Bytes t = atom_term("dropped");
    for (int i = 0; i < 50; i++)
        EXPECT_EQ(dd_send_reg(mb, "x", "ghost@127.0.0.2", t.data(), t.size()), DD_OK);
    // The connection that works was never disturbed.
    EXPECT_EQ(nodes_of(a.n), std::vector<std::string>{b.name()});
    EXPECT_EQ(dd_ping(a.n, b.name().c_str(), 3000), DD_OK) << dd_last_error();
    EXPECT_EQ(logs.count(" down:"), 0u);
    dd_mbox_close(mb);
}

// Run by netns_run.sh (mode unreachable) inside a network namespace where this host's name resolves to
// $DD_UNREACH_ARP (a veth address nobody answers ARP for: EHOSTUNREACH after about 3 s),
// $DD_UNREACH_ROUTE has an unreachable route (EHOSTUNREACH at once) and $DD_UNREACH_SILENT
// a static neighbour entry (SYNs vanish: the connect times out). Short-name nodes then
// cannot reach each other, as in the root where runtime-conn crashed (issue 10, item 2).
TEST(RuntimeHsio, UnreachableHostsFailCleanly)
{
    const char *arp = getenv("DD_UNREACH_ARP"), *route = getenv("DD_UNREACH_ROUTE"),
               *silent = getenv("DD_UNREACH_SILENT");
    if (!arp || !route || !silent)
        GTEST_SKIP() << "runs inside the network namespace of netns_run.sh unreachable";
    LogCapture logs;
    NodeOpts so;
    so.setuptime_ms = 5000; // longer than the ARP failure
    Node x(fresh_name("unx"), so), y(fresh_name("uny"), so);
    ASSERT_TRUE(x.n && y.n);
    NodeOpts lo = so;
    lo.long_name = true;
    lo.setuptime_ms = 1000;
    Node l(fresh_name("unl"), lo);
    ASSERT_TRUE(l.n);

    // Unreachable route: at once.
    auto t0 = Clock::now();
    EXPECT_EQ(dd_connect(l.n, (std::string("ghost@") + route).c_str(), 3000), DD_ENOCONN);
    EXPECT_TRUE(contains(dd_last_error(), strerror(EHOSTUNREACH))) << dd_last_error();
    EXPECT_LT(Clock::now() - t0, std::chrono::milliseconds(1000));
    // Silent peer: the EPMD lookup times out after net_setuptime.
    EXPECT_EQ(dd_connect(l.n, (std::string("ghost@") + silent).c_str(), 4000), DD_ENOCONN);
    EXPECT_TRUE(contains(dd_last_error(), strerror(ETIMEDOUT))) << dd_last_error();

    // Our own host name resolves to the ARP address: short-name nodes cannot reach each
    // other. Senders, dd_connect waiters and a stop while the diallers are blocked.
    dd_mbox *mx;
    ASSERT_EQ(dd_mbox_open(x.n, nullptr, 0, &mx), DD_OK);
    Bytes t = atom_term("dropped");
    std::thread sender([&] {
        for (int i = 0; i < 200; i++) {
            EXPECT_EQ(dd_send_reg(mx, "x", y.name().c_str(), t.data(), t.size()), DD_OK);
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    });
    EXPECT_EQ(dd_connect(x.n, y.name().c_str(), 8000), DD_ENOCONN);
    EXPECT_TRUE(contains(dd_last_error(), strerror(EHOSTUNREACH))) << dd_last_error();
    sender.join();
    EXPECT_EQ(dd_connect(y.n, x.name().c_str(), 200), DD_ETIMEDOUT);
    EXPECT_EQ(dd_connect(l.n, (std::string("ghost@") + silent).c_str(), 200), DD_ETIMEDOUT);
    dd_mbox_close(mx);
    dd_node_stop(y.n); // its dialler and l's are still blocked
    y.n = nullptr;
    dd_node_stop(l.n);
    l.n = nullptr;
    {
        Scribble s;
        std::this_thread::sleep_for(std::chrono::milliseconds(so.setuptime_ms + 1000));
    }
    EXPECT_GT(logs.count("cannot ask EPMD on"), 0u);
    // Long names on loopback still work here.
    two_nodes_still_connect(lo);
}

} // namespace
