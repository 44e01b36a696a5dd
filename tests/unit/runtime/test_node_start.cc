// Tests of node_start's one unwind path (runtime/core/node.c): a start that fails at any
// stage (settings, cookie, config file, listener, EPMD, name in use) returns its status,
// names the cause, and leaves nothing behind: the process's open file descriptors are the
// same as before (once the in-process EPMD closed its side), and under ASan LeakSanitizer finds no leak at exit. Each failure is
// repeated so that one leaked fd or block per attempt shows. Real sockets, the test
// process's EPMD.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "rt_test_util.h"

using namespace rt_test;

namespace
{

constexpr int kAttempts = 8;

int open_fds()
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

// The fd count once it holds still for 100 ms (the in-process EPMD closes its side of a
// connection a moment after the node's side).
int settled_fds()
{
    int now = open_fds();
    for (int i = 0; i < 20; i++) {
        usleep(100 * 1000);
        int again = open_fds();
        if (again == now)
            break;
        now = again;
    }
    return now;
}

// A loopback TCP port held by a bound socket (listening or not), released at scope end.
struct HeldPort {
    int fd = -1;
    uint16_t port = 0;
    explicit HeldPort(bool listening)
    {
        fd = socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof(a);
        if (fd >= 0 && bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof(a)) == 0 &&
            (!listening || listen(fd, 1) == 0) &&
            getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len) == 0)
            port = ntohs(a.sin_port);
    }
    ~HeldPort()
    {
        if (fd >= 0)
            close(fd);
    }
};

struct Base {
    std::string name = fresh_name("ns");
    dd_node_cfg cfg{};
    Base()
    {
        cfg.sname = name.c_str();
        cfg.cookie = "rtcookie";
        cfg.epmd_port = epmd_port();
    }
};

// Starts cfg kAttempts times; each must fail with want and a message containing what, and
// the fd count must not move.
void expect_clean_failure(const dd_node_cfg &cfg, int want, const std::string &what)
{
    epmd_port(); // the test EPMD's fds exist before the count
    int before = settled_fds();
    ASSERT_GT(before, 0);
    for (int i = 0; i < kAttempts; i++) {
        dd_node *n = nullptr;
        int rc = dd_node_start(&cfg, &n);
        EXPECT_EQ(rc, want) << dd_last_error();
        EXPECT_EQ(n, nullptr);
        EXPECT_NE(std::string(dd_last_error()).find(what), std::string::npos)
            << "'" << dd_last_error() << "' does not mention " << what;
        if (n)
            dd_node_stop(n);
    }
    // the test's EPMD runs in this process: its side of a refused registration closes a
    // moment later, so wait for the count to settle (a leak never does)
    EXPECT_TRUE(wait_until([&] { return open_fds() == before; }, 2000))
        << open_fds() << " fds open, " << before << " before: left behind by failed starts";
}

} // namespace

TEST(RuntimeNodeStart, BadNameFailsClean)
{
    Base b;
    b.cfg.sname = "bad@@name";
    expect_clean_failure(b.cfg, DD_EINVAL, "node name");
}

TEST(RuntimeNodeStart, BadCookieFailsClean)
{
    Base b;
    b.cfg.cookie = "";
    expect_clean_failure(b.cfg, DD_ECOOKIE, "");
}

TEST(RuntimeNodeStart, ReassemblyBelowMessageSizeFailsClean)
{
    Base b;
    b.cfg.max_message_bytes = 1 << 20;
    b.cfg.max_reassembly_bytes = 1 << 10;
    expect_clean_failure(b.cfg, DD_EINVAL, "max_reassembly_bytes");
}

TEST(RuntimeNodeStart, EmptyPortRangeFailsClean)
{
    Base b;
    b.cfg.listen_port_min = 5000;
    b.cfg.listen_port_max = 4000;
    expect_clean_failure(b.cfg, DD_EINVAL, "empty");
}

TEST(RuntimeNodeStart, BadConfigFileFailsClean)
{
    Base b;
    std::string path = "/tmp/dd-test-nodestart-" + std::to_string(getpid()) + ".ini";
    std::ofstream(path) << "[node]\nticktiem = 5\n";
    b.cfg.config_file = path.c_str();
    expect_clean_failure(b.cfg, DD_ECONFIG, "invalid configuration");
    unlink(path.c_str());
}

// The listener cannot bind (its only port is taken): after the control loop's fds exist.
TEST(RuntimeNodeStart, ListenPortInUseFailsClean)
{
    HeldPort busy(true);
    ASSERT_NE(busy.port, 0);
    Base b;
    b.cfg.listen_address = "127.0.0.1";
    b.cfg.listen_port_min = busy.port;
    b.cfg.listen_port_max = busy.port;
    expect_clean_failure(b.cfg, DD_EIO, std::to_string(busy.port));
}

// No EPMD on the port: after the listener is open.
TEST(RuntimeNodeStart, NoEpmdFailsClean)
{
    HeldPort none(false);
    ASSERT_NE(none.port, 0);
    Base b;
    b.cfg.epmd_port = none.port;
    expect_clean_failure(b.cfg, DD_EEPMD, "EPMD");
}

// The name is registered already: after the EPMD connection is open.
TEST(RuntimeNodeStart, NameInUseFailsClean)
{
    Base b;
    Node first(b.name);
    ASSERT_TRUE(first.n);
    expect_clean_failure(b.cfg, DD_ENAMEINUSE, b.name);
}

// And a start that succeeds, then stops, leaves nothing either (after a first one: the
// process's once-only resources, e.g. liburcu's call_rcu thread, are not per node).
TEST(RuntimeNodeStart, StartAndStopLeaveNothing)
{
    {
        Base warm;
        Node first(warm.name);
        ASSERT_TRUE(first.n);
    }
    int before = settled_fds();
    for (int i = 0; i < kAttempts; i++) {
        Base b;
        dd_node *n = nullptr;
        ASSERT_EQ(dd_node_start(&b.cfg, &n), DD_OK) << dd_last_error();
        dd_node_stop(n);
    }
    EXPECT_TRUE(wait_until([&] { return open_fds() == before; }, 2000))
        << open_fds() << " fds open, " << before << " before";
}

// dd_last_error is the message of the thread's last failed call, and successful calls leave
// it alone (the rte_errno rule): dd_node_start used to clear it.
TEST(RuntimeNodeStart, LastErrorOutlivesSuccessfulCalls)
{
    EXPECT_EQ(dd_set_cookie(nullptr, nullptr, "c"), DD_EINVAL);
    std::string failed = dd_last_error();
    ASSERT_FALSE(failed.empty());
    Base b;
    dd_node *n = nullptr;
    ASSERT_EQ(dd_node_start(&b.cfg, &n), DD_OK) << dd_last_error();
    EXPECT_EQ(dd_last_error(), failed) << "a successful dd_node_start changed the error";
    dd_mbox *mb = nullptr;
    ASSERT_EQ(dd_mbox_open(n, nullptr, 0, &mb), DD_OK);
    EXPECT_EQ(dd_connect(n, dd_node_name(n), 100), DD_OK);
    EXPECT_EQ(dd_last_error(), failed) << "a successful call changed the error";
    dd_mbox_close(mb);
    dd_node_stop(n);
}
