// Tests of connection set-up (runtime/carrier_tcp/hsio.c) between in-process nodes over real sockets:
// dials that fail (an EPMD that refuses, one that never answers, a registered port nobody
// listens on, a peer whose accept queue is full), nodes stopped while their dialler is
// blocked, and — run again by netns_run.sh inside a network namespace — peers whose host
// name or address gives EHOSTUNREACH at once, after ARP fails, or never answers. Then the
// handshake status `alive`: a partition (a TCP relay between two nodes that stops copying
// without closing anything) after which one node redials while the other still holds the
// old connection, with a dpdist node and with a real BEAM node (Debian's erl) as that peer.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
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

// A TCP relay from a port of its own on 127.0.0.1 to 127.0.0.1:target, one thread copying
// bytes both ways. cut() is a partition: the connections it carries are frozen (nothing is
// copied any more and nothing is closed, so neither end learns anything) and new ones are
// closed at once; after heal() new connections are carried again (the frozen ones stay).
class Relay
{
  public:
    explicit Relay(uint16_t target) : target_(target)
    {
        lfd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in sa = loopback(0);
        socklen_t sl = sizeof(sa);
        if (bind(lfd_, reinterpret_cast<sockaddr *>(&sa), sizeof(sa)) < 0 ||
            listen(lfd_, 16) < 0 || pipe(wake_) < 0)
            ADD_FAILURE() << "relay: " << strerror(errno);
        getsockname(lfd_, reinterpret_cast<sockaddr *>(&sa), &sl);
        port_ = ntohs(sa.sin_port);
        thread_ = std::thread([this] { run(); });
    }
    ~Relay()
    {
        stop_ = true;
        poke();
        thread_.join();
        for (const Pair &p : pairs_) {
            close(p.a);
            close(p.b);
        }
        close(lfd_);
        close(wake_[0]);
        close(wake_[1]);
    }
    uint16_t port() const
    {
        return port_;
    }
    void cut()
    {
        std::lock_guard<std::mutex> g(mu_);
        for (Pair &p : pairs_)
            p.frozen = true;
        cut_ = true;
        poke();
    }
    void heal()
    {
        std::lock_guard<std::mutex> g(mu_);
        cut_ = false;
        poke();
    }
    size_t carried() // connections relayed so far
    {
        std::lock_guard<std::mutex> g(mu_);
        return carried_;
    }

  private:
    struct Pair {
        int a, b;
        bool frozen;
    };
    static sockaddr_in loopback(uint16_t port)
    {
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(port);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        return sa;
    }
    void poke()
    {
        char b = 1;
        ssize_t w = write(wake_[1], &b, 1);
        (void)w;
    }
    // Copies what is readable on from to to; false when from closed or failed.
    static bool copy(int from, int to)
    {
        uint8_t buf[65536];
        ssize_t r = recv(from, buf, sizeof(buf), MSG_DONTWAIT);
        if (r < 0 && errno == EAGAIN)
            return true;
        if (r <= 0)
            return false;
        for (ssize_t off = 0; off < r;) {
            ssize_t w = send(to, buf + off, size_t(r - off), MSG_NOSIGNAL);
            if (w <= 0)
                return false;
            off += w;
        }
        return true;
    }
    void run()
    {
        while (!stop_) {
            std::vector<pollfd> fds = {{lfd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
            std::vector<size_t> which;
            {
                std::lock_guard<std::mutex> g(mu_);
                for (size_t i = 0; i < pairs_.size(); i++)
                    if (!pairs_[i].frozen) {
                        fds.push_back({pairs_[i].a, POLLIN, 0});
                        fds.push_back({pairs_[i].b, POLLIN, 0});
                        which.push_back(i);
                    }
            }
            if (poll(fds.data(), fds.size(), 200) <= 0)
                continue;
            if (fds[1].revents) {
                char b[64];
                ssize_t r = read(wake_[0], b, sizeof(b));
                (void)r;
                continue; // the set of pairs may have changed
            }
            std::lock_guard<std::mutex> g(mu_);
            if (fds[0].revents) {
                int c = accept4(lfd_, nullptr, nullptr, SOCK_CLOEXEC);
                sockaddr_in sa = loopback(target_);
                int t = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (c >= 0 && !cut_ &&
                    connect(t, reinterpret_cast<sockaddr *>(&sa), sizeof(sa)) == 0) {
                    pairs_.push_back({c, t, false});
                    carried_++;
                } else {
                    if (c >= 0)
                        close(c);
                    close(t);
                }
            }
            std::vector<size_t> gone;
            for (size_t k = 0; k < which.size(); k++) {
                Pair &p = pairs_[which[k]];
                bool ok = true;
                if (fds[2 + 2 * k].revents)
                    ok = copy(p.a, p.b);
                if (ok && fds[3 + 2 * k].revents)
                    ok = copy(p.b, p.a);
                if (!ok)
                    gone.push_back(which[k]);
            }
            for (auto it = gone.rbegin(); it != gone.rend(); ++it) {
                close(pairs_[*it].a);
                close(pairs_[*it].b);
                pairs_.erase(pairs_.begin() + long(*it));
            }
        }
    }

    uint16_t target_, port_ = 0;
    int lfd_ = -1, wake_[2] = {-1, -1};
    std::thread thread_;
    std::atomic<bool> stop_{false};
    std::mutex mu_;
    std::vector<Pair> pairs_;
    bool cut_ = false;
    size_t carried_ = 0;
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

// A partition heals while one side still believes in the old connection: A (tick time 2 s)
// gives B up, B (tick time 60 s) still holds the connection when A dials again, so B answers
// `alive`. A has no other connection to B: it answers `true` (OTP's rule), B drops the old
// connection and the new one comes up; what A queued while dialling arrives. Before, A took
// its own pending connection for the old one: it tore it down (its queue dropped, dd_connect
// failing) and a later tcpc_close freed the socket the new connection was using.
TEST(RuntimeHsio, PeerThatStillHasTheOldConnectionAnswersAlive)
{
    LogCapture logs;
    enum dlog_level saved = dlog_get_level();
    dlog_set_level(DLOG_DEBUG);
    // B is registered with the test EPMD; A asks a second EPMD, where B's name points at the
    // relay in front of B's port.
    EpmdDaemon epmd_a;
    NodeOpts ob;
    ob.long_name = true;
    std::string b_alive = fresh_name("alvb");
    Node b(b_alive, ob);
    ASSERT_TRUE(b.n);
    struct epmd_lookup l;
    ASSERT_EQ(epmd_client_port_please(nullptr, epmd_port(), b_alive.c_str(), 2000, &l), 0);
    ASSERT_TRUE(l.found);
    Relay relay(l.port);
    FakeRegistration reg(b_alive, relay.port(), epmd_a.port());
    NodeOpts oa = ob;
    oa.ticktime_s = 2;
    oa.epmd_port = epmd_a.port();
    Node a(fresh_name("alva"), oa);
    ASSERT_TRUE(a.n);
    dd_mbox *ma, *inbox, *watch;
    ASSERT_EQ(dd_mbox_open(a.n, nullptr, 0, &ma), DD_OK);
    ASSERT_EQ(dd_mbox_open(b.n, "inbox", 0, &inbox), DD_OK);
    ASSERT_EQ(dd_mbox_open(b.n, nullptr, 0, &watch), DD_OK);
    ASSERT_EQ(dd_monitor_nodes(watch, true), DD_OK);

    ASSERT_EQ(dd_connect(a.n, b.name().c_str(), 3000), DD_OK) << dd_last_error();
    Bytes first = triple("first", 0, 0);
    ASSERT_EQ(dd_send_reg(ma, "inbox", b.name().c_str(), first.data(), first.size()), DD_OK);
    dd_msg *m = recv_one(inbox, 3000);
    ASSERT_TRUE(m);
    dd_msg_free(m);
    relay.cut();
    ASSERT_TRUE(logs.wait_for(a.name() + ": node " + b.name() + " not responding", 8000));
    ASSERT_TRUE(wait_until([&] { return nodes_of(a.n).empty(); }, 3000));
    EXPECT_EQ(nodes_of(b.n), std::vector<std::string>{a.name()}) << "B lost the connection";
    relay.heal();

    // A sends (connecting on demand), then waits for the connection.
    const int kMsgs = 20;
    for (int i = 0; i < kMsgs; i++) {
        Bytes t = triple("queued", 1, i);
        ASSERT_EQ(dd_send_reg(ma, "inbox", b.name().c_str(), t.data(), t.size()), DD_OK);
    }
    EXPECT_EQ(dd_connect(a.n, b.name().c_str(), 5000), DD_OK) << dd_last_error();
    EXPECT_EQ(relay.carried(), 2u);
    EXPECT_TRUE(logs.wait_for(a.name() + ": " + b.name() + " still had our old connection", 100));
    EXPECT_TRUE(logs.wait_for(b.name() + ": node " + a.name() +
                                  " down: replaced by a new connection from the same node",
                              3000));
    for (int i = 0; i < kMsgs; i++) {
        m = recv_one(inbox, 3000);
        std::string tag;
        long r, k;
        ASSERT_TRUE(m) << "message " << i << " lost";
        EXPECT_TRUE(untriple(m, &tag, &r, &k) && tag == "queued" && k == i) << show(m);
        dd_msg_free(m);
    }
    // One connection each way, and it carries traffic from B too.
    EXPECT_EQ(nodes_of(a.n), std::vector<std::string>{b.name()});
    EXPECT_EQ(nodes_of(b.n), std::vector<std::string>{a.name()});
    Bytes back = atom_term("back");
    ASSERT_EQ(dd_send(inbox, dd_mbox_pid(ma), back.data(), back.size()), DD_OK);
    m = recv_one(ma, 3000);
    EXPECT_EQ(show(m), "back");
    dd_msg_free(m);
    // B saw the old connection go before the new one came up, as BEAM reports it.
    dd_msg *ev = recv_kind(watch, DD_MSG_NODEUP, 2000); // the first connection
    dd_msg_free(ev);
    ev = recv_one(watch, 2000);
    EXPECT_TRUE(ev && ev->kind == DD_MSG_NODEDOWN) << show(ev);
    dd_msg_free(ev);
    ev = recv_one(watch, 2000);
    EXPECT_TRUE(ev && ev->kind == DD_MSG_NODEUP) << show(ev);
    dd_msg_free(ev);
    EXPECT_EQ(logs.count(a.name() + ": connection to " + b.name() + " failed"), 0u);
    dlog_set_level(saved);
    dd_mbox_close(ma);
    dd_mbox_close(inbox);
    dd_mbox_close(watch);
}

// The same with a real BEAM node as B: OTP's acceptor answers `alive`, takes our `true`,
// checks the cookie, drops its old connection and keeps the new one.
TEST(RuntimeHsio, BeamThatStillHasTheOldConnectionAnswersAlive)
{
    if (!have_erl())
        GTEST_SKIP() << "no erl here";
    LogCapture logs;
    enum dlog_level saved = dlog_get_level();
    dlog_set_level(DLOG_DEBUG);
    EpmdDaemon epmd_a;
    std::string b_alive = fresh_name("alvbeam");
    Beam beam(b_alive, "register(inbox, self()), net_kernel:monitor_nodes(true), "
                       "io:format(\"ready~n\"), "
                       "L = fun L() -> receive {nodeup, N} -> io:format(\"nodeup ~s~n\", [N]), L();"
                       " {nodedown, N} -> io:format(\"nodedown ~s~n\", [N]), L();"
                       " {M, I} -> io:format(\"got ~s ~p~n\", [M, I]), L()"
                       " after 60000 -> halt(1) end end, L().");
    ASSERT_TRUE(beam.wait_for("ready", 20000)) << ::testing::PrintToString(beam.lines());
    struct epmd_lookup l;
    ASSERT_EQ(epmd_client_port_please(nullptr, epmd_port(), b_alive.c_str(), 2000, &l), 0);
    ASSERT_TRUE(l.found);
    Relay relay(l.port);
    FakeRegistration reg(b_alive, relay.port(), epmd_a.port());
    NodeOpts oa;
    oa.long_name = true;
    oa.ticktime_s = 2;
    oa.epmd_port = epmd_a.port();
    Node a(fresh_name("alva"), oa);
    ASSERT_TRUE(a.n);
    std::string b_name = b_alive + "@127.0.0.1";
    dd_mbox *ma;
    ASSERT_EQ(dd_mbox_open(a.n, nullptr, 0, &ma), DD_OK);
    auto send = [&](const char *tag, long i) {
        Bytes t = term([&](ei_x_buff *x) {
            ei_x_encode_tuple_header(x, 2);
            ei_x_encode_atom(x, tag);
            ei_x_encode_long(x, i);
        });
        return dd_send_reg(ma, "inbox", b_name.c_str(), t.data(), t.size());
    };

    ASSERT_EQ(dd_connect(a.n, b_name.c_str(), 5000), DD_OK) << dd_last_error();
    ASSERT_EQ(send("first", 0), DD_OK);
    ASSERT_TRUE(beam.wait_for("got first 0", 5000)) << ::testing::PrintToString(beam.lines());
    relay.cut();
    ASSERT_TRUE(logs.wait_for(a.name() + ": node " + b_name + " not responding", 8000));
    ASSERT_TRUE(wait_until([&] { return nodes_of(a.n).empty(); }, 3000));
    relay.heal();
    const int kMsgs = 20;
    for (int i = 0; i < kMsgs; i++)
        ASSERT_EQ(send("queued", i), DD_OK);
    EXPECT_EQ(dd_connect(a.n, b_name.c_str(), 5000), DD_OK) << dd_last_error();
    EXPECT_EQ(relay.carried(), 2u);
    EXPECT_TRUE(logs.count(a.name() + ": " + b_name + " still had our old connection"));
    ASSERT_TRUE(beam.wait_for("got queued " + std::to_string(kMsgs - 1), 5000))
        << ::testing::PrintToString(beam.lines());
    // BEAM's view: up, the first message, the old connection down, the new one up, then
    // every queued message in order.
    std::vector<std::string> want = {"ready", "nodeup " + a.name(), "got first 0",
                                     "nodedown " + a.name(), "nodeup " + a.name()};
    for (int i = 0; i < kMsgs; i++)
        want.push_back("got queued " + std::to_string(i));
    EXPECT_EQ(beam.lines(), want);
    EXPECT_EQ(nodes_of(a.n), std::vector<std::string>{b_name});
    EXPECT_EQ(dd_ping(a.n, b_name.c_str(), 3000), DD_OK) << dd_last_error();
    dlog_set_level(saved);
    dd_mbox_close(ma);
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
