// Tests of node start-up (runtime/core/node.c): the address of the distribution listener. By
// default every address, IPv4 and IPv6 ("::"), or IPv4 alone on a kernel without IPv6 (here
// a seccomp filter makes socket(AF_INET6) fail with EAFNOSUPPORT, which is what such a kernel,
// booted with ipv6.disable=1, answers); an explicit address through the API or the config
// file's [node] section; addresses that cannot be used. netns_run.sh runs these again in a
// network namespace where IPv6 is disabled by sysctl (DD_NETNS_IPV6_DISABLED set).
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "rt_test_util.h"
extern "C" {
#include "control/epmd/epmd_client.h"
#include "dpdist/dpdist_args.h"
}

using namespace rt_test;

namespace
{

// The listen port a node registered with the test EPMD (0 if none).
uint16_t port_of(const std::string &full_name)
{
    std::string alive = full_name.substr(0, full_name.find('@'));
    struct epmd_lookup l;
    if (epmd_client_port_please(nullptr, epmd_port(), alive.c_str(), 2000, &l) < 0 || !l.found)
        return 0;
    return l.port;
}

// Whether a TCP connect to addr:port succeeds (within a second).
bool can_connect(const char *addr, uint16_t port)
{
    sockaddr_storage ss{};
    socklen_t len;
    auto *s4 = reinterpret_cast<sockaddr_in *>(&ss);
    auto *s6 = reinterpret_cast<sockaddr_in6 *>(&ss);
    if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        len = sizeof(*s4);
    } else if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        len = sizeof(*s6);
    } else {
        return false;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return false;
    bool ok = connect(fd, reinterpret_cast<sockaddr *>(&ss), len) == 0;
    if (!ok && errno == EINPROGRESS) {
        struct pollfd p = {fd, POLLOUT, 0};
        int err = 0;
        socklen_t el = sizeof(err);
        ok = poll(&p, 1, 1000) == 1 &&
             getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == 0;
    }
    close(fd);
    return ok;
}

// Whether this kernel and namespace take IPv6 on loopback.
bool ipv6_usable()
{
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    sockaddr_in6 s6{};
    s6.sin6_family = AF_INET6;
    s6.sin6_addr = in6addr_loopback;
    bool ok = bind(fd, reinterpret_cast<sockaddr *>(&s6), sizeof(s6)) == 0;
    close(fd);
    return ok;
}

bool contains(const std::string &s, const std::string &part)
{
    return s.find(part) != std::string::npos;
}

TEST(RuntimeNode, DefaultListenerTakesIPv4AndIPv6)
{
    LogCapture logs;
    NodeOpts o;
    o.long_name = true;
    Node a(fresh_name("lsdef"), o);
    ASSERT_TRUE(a.n);
    uint16_t port = port_of(a.name());
    ASSERT_NE(port, 0);
    EXPECT_TRUE(logs.count(a.name() + " started: listening on :: port " + std::to_string(port)))
        << "not dual-stack";
    EXPECT_TRUE(can_connect("127.0.0.1", port));
    if (getenv("DD_NETNS_IPV6_DISABLED")) {
        EXPECT_FALSE(ipv6_usable()) << "netns_run.sh noipv6 did not disable IPv6";
    }
    if (ipv6_usable()) {
        EXPECT_TRUE(can_connect("::1", port));
    } else {
        std::cout << "# IPv6 is not usable here: only IPv4 checked\n";
    }
    Node b(fresh_name("lsdef"), o);
    ASSERT_TRUE(b.n);
    EXPECT_EQ(dd_connect(b.n, a.name().c_str(), 3000), DD_OK) << dd_last_error();
}

// [node] listen_address in the config file, applied by dd_node_start to the flags of the tools.
TEST(RuntimeNode, ListenAddressFromTheConfigFile)
{
    std::string alive = fresh_name("lscfg");
    std::string path = "/tmp/dd-test-node-" + std::to_string(getpid()) + "-" + alive + ".ini";
    {
        std::ofstream f(path);
        f << "[node]\nname = " << alive << "@127.0.0.1\nlisten_address = 127.0.0.1\n";
    }
    std::string port_arg = std::to_string(epmd_port());
    std::vector<const char *> argv = {"test",      "-config",    path.c_str(), "-setcookie",
                                      "rtcookie", "-epmd_port", port_arg.c_str()};
    struct dd_args args;
    ASSERT_EQ(dd_args_parse(int(argv.size()), const_cast<char **>(argv.data()), &args), DD_OK);
    ASSERT_EQ(args.cfg.listen_address, nullptr); // the flags gave none: the file's counts
    dd_node *a = nullptr;
    int rc = dd_node_start(&args.cfg, &a); // reads the file (and checks it whole)
    unlink(path.c_str());
    ASSERT_EQ(rc, DD_OK) << dd_last_error();
    dd_args_free(&args);
    uint16_t port = port_of(dd_node_name(a));
    EXPECT_TRUE(can_connect("127.0.0.1", port));
    if (ipv6_usable()) {
        EXPECT_FALSE(can_connect("::1", port)) << "listens beyond 127.0.0.1";
    }
    NodeOpts o;
    o.long_name = true;
    Node b(fresh_name("lscfg"), o);
    ASSERT_TRUE(b.n);
    EXPECT_EQ(dd_ping(b.n, dd_node_name(a), 3000), DD_OK) << dd_last_error();
    dd_node_stop(a);
}

TEST(RuntimeNode, ListenAddressThatCannotBeUsedIsAClearError)
{
    auto start = [](const char *addr, uint16_t lo, uint16_t hi) {
        struct dd_node_cfg cfg = {};
        std::string name = fresh_name("lsbad") + "@127.0.0.1";
        cfg.name = name.c_str();
        cfg.cookie = "rtcookie";
        cfg.epmd_port = epmd_port();
        cfg.listen_address = addr;
        cfg.listen_port_min = lo;
        cfg.listen_port_max = hi;
        dd_node *n = nullptr;
        int rc = dd_node_start(&cfg, &n);
        if (n)
            dd_node_stop(n);
        return rc;
    };
    // Not an address of this host (TEST-NET-1), also with a port range: one error at once,
    // not a walk through the range.
    EXPECT_EQ(start("192.0.2.1", 0, 0), DD_EIO);
    EXPECT_TRUE(contains(dd_last_error(), "cannot listen on 192.0.2.1")) << dd_last_error();
    EXPECT_TRUE(contains(dd_last_error(), strerror(EADDRNOTAVAIL))) << dd_last_error();
    EXPECT_EQ(start("192.0.2.1", 40000, 40999), DD_EIO);
    EXPECT_TRUE(contains(dd_last_error(), "cannot listen on 192.0.2.1")) << dd_last_error();
    EXPECT_EQ(start("not an address", 0, 0), DD_EIO);
    EXPECT_TRUE(contains(dd_last_error(), "listen address not an address")) << dd_last_error();
    if (!ipv6_usable()) {
        EXPECT_EQ(start("::1", 0, 0), DD_EIO);
        EXPECT_TRUE(contains(dd_last_error(), "cannot listen on ::1")) << dd_last_error();
    }
}

// socket(AF_INET6, ...) fails with EAFNOSUPPORT from now on in this thread and the threads
// it starts, as on a kernel without IPv6. False if the filter cannot be installed.
bool forbid_ipv6_sockets()
{
#if defined(__x86_64__)
    const unsigned arch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
    const unsigned arch = AUDIT_ARCH_AARCH64;
#else
    return false;
#endif
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, arch, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_socket, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_INET6, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EAFNOSUPPORT & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {(unsigned short)(sizeof(f) / sizeof(f[0])), f};
    return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
           prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0;
}

// The child of StartsOnAKernelWithoutIPv6: exits 0 when all went as it should, else prints
// what did not and exits 1.
[[noreturn]] void nodes_without_ipv6()
{
    auto fail = [](const std::string &what) {
        fprintf(stderr, "FAILED: %s\n", what.c_str());
        _exit(1);
    };
    if (!forbid_ipv6_sockets())
        fail(std::string("cannot install the seccomp filter: ") + strerror(errno));
    if (socket(AF_INET6, SOCK_STREAM, 0) >= 0 || errno != EAFNOSUPPORT)
        fail("AF_INET6 sockets still work");
    NodeOpts o;
    o.long_name = true;
    dd_node *a = start_node(fresh_name("nov6a"), o), *b = start_node(fresh_name("nov6b"), o);
    if (!a || !b)
        fail(std::string("a node does not start: ") + dd_last_error());
    if (!can_connect("127.0.0.1", port_of(dd_node_name(a))))
        fail("the listener does not take IPv4");
    if (dd_connect(b, dd_node_name(a), 3000) != DD_OK || dd_ping(a, dd_node_name(b), 3000))
        fail(std::string("the nodes do not connect: ") + dd_last_error());
    // An explicit IPv6 address is the caller's choice: a clear error.
    struct dd_node_cfg cfg = {};
    std::string name = fresh_name("nov6c") + "@127.0.0.1";
    cfg.name = name.c_str();
    cfg.cookie = "rtcookie";
    cfg.epmd_port = epmd_port();
    cfg.listen_address = "::";
    dd_node *c = nullptr;
    if (dd_node_start(&cfg, &c) != DD_EIO ||
        !contains(dd_last_error(), std::string("cannot listen on ::: ") + strerror(EAFNOSUPPORT)))
        fail(std::string("listen_address :: gives: ") + dd_last_error());
    dd_node_stop(b);
    dd_node_stop(a);
    fprintf(stderr, "nodes started without IPv6\n");
    _exit(0);
}

TEST(RuntimeNode, StartsOnAKernelWithoutIPv6)
{
    GTEST_FLAG_SET(death_test_style, "threadsafe"); // a fresh process for the filter
    EXPECT_EXIT(nodes_without_ipv6(), ::testing::ExitedWithCode(0),
                "started: listening on 0\\.0\\.0\\.0 port [0-9]+(.|\n)*nodes started without IPv6");
}

} // namespace
