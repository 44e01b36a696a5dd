// Tests of the public API's argument checks (runtime/api/api.c, include/dpdist/dpdist.h): every
// public dd_* function called with NULL pointers, empty and oversized names, malformed pids
// and references, unknown flags and enum values returns its documented error with a message
// in dd_last_error(), and never crashes; a mailbox that is closing and a node that is
// stopping refuse new work with DD_ECLOSED.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <iostream>
#include <string>
#include <thread>

#include "rt_test_util.h"
#include "runtime/api/dd_testing.h"

using namespace rt_test;

namespace
{

// Sets the thread's last error to a message no check below gives (dd_pid_str's).
const char *mark_last_error()
{
    dd_pid_str(nullptr, nullptr, 0);
    return "buf is NULL or has no room";
}

// rc is `want`, and the call said why in dd_last_error().
#define EXPECT_FAILS(call, want)                                                                   \
    do {                                                                                           \
        const char *mark = mark_last_error();                                                      \
        EXPECT_EQ((call), (want)) << #call << ": " << dd_last_error();                             \
        EXPECT_STRNE(dd_last_error(), mark) << #call << " set no error message";                   \
    } while (0)

std::string longer_than(size_t n, char c = 'a')
{
    return std::string(n + 1, c);
}

struct Fixture {
    Node a{fresh_name("apia")};
    dd_mbox *mb = nullptr;
    dd_pid pid{};
    Bytes t = atom_term("hello");
    Fixture()
    {
        EXPECT_TRUE(a.n);
        EXPECT_EQ(dd_mbox_open(a.n, nullptr, 0, &mb), DD_OK);
        pid = *dd_mbox_pid(mb);
    }
    ~Fixture()
    {
        dd_mbox_close(mb);
    }
};

TEST(RuntimeApi, NodeFunctionsRefuseBadArguments)
{
    Fixture f;
    dd_node *n = f.a.n;
    EXPECT_STREQ(dd_strerror(DD_EINVAL), "invalid argument");
    EXPECT_STREQ(dd_strerror(12345), "unknown status");

    // dd_node_start
    const char *mark;
    dd_node *out = nullptr;
    struct dd_node_cfg cfg = {};
    EXPECT_FAILS(dd_node_start(nullptr, &out), DD_EINVAL);
    cfg.sname = "x";
    EXPECT_FAILS(dd_node_start(&cfg, nullptr), DD_EINVAL);
    cfg.name = "x@127.0.0.1";
    EXPECT_FAILS(dd_node_start(&cfg, &out), DD_EINVAL); // both
    cfg.name = nullptr;
    cfg.sname = nullptr;
    EXPECT_FAILS(dd_node_start(&cfg, &out), DD_EINVAL); // neither
    cfg.sname = "";
    EXPECT_FAILS(dd_node_start(&cfg, &out), DD_EINVAL);
    std::string huge = longer_than(300);
    cfg.sname = huge.c_str();
    EXPECT_FAILS(dd_node_start(&cfg, &out), DD_EINVAL);
    auto with = [&](const std::function<void(struct dd_node_cfg *)> &set) {
        struct dd_node_cfg c = {};
        std::string name = fresh_name("apicfg");
        c.sname = name.c_str();
        c.cookie = "rtcookie";
        c.epmd_port = epmd_port();
        set(&c);
        dd_node *node = nullptr;
        int rc = dd_node_start(&c, &node);
        if (node)
            dd_node_stop(node);
        return rc;
    };
    EXPECT_FAILS(with([](dd_node_cfg *c) { c->cookie = ""; }), DD_ECOOKIE);
    EXPECT_FAILS(with([](dd_node_cfg *c) { c->ticktime_s = 70000; }), DD_EINVAL);
    EXPECT_FAILS(with([](dd_node_cfg *c) { c->setuptime_ms = 0xffffffffu; }), DD_EINVAL);
    EXPECT_FAILS(with([](dd_node_cfg *c) { c->max_message_bytes = size_t(1) << 40; }),
                 DD_EINVAL);
    EXPECT_FAILS(with([](dd_node_cfg *c) { c->epmd_host = ""; }), DD_EINVAL);
    EXPECT_FAILS(with([&](dd_node_cfg *c) { c->epmd_host = huge.c_str(); }), DD_EINVAL);
    EXPECT_FAILS(with([](dd_node_cfg *c) { c->listen_address = ""; }), DD_EINVAL);
    EXPECT_FAILS(with([](dd_node_cfg *c) { c->config_file = ""; }), DD_EINVAL);
    EXPECT_FAILS(with([](dd_node_cfg *c) {
                     c->listen_port_min = 5000;
                     c->listen_port_max = 4000;
                 }),
                 DD_EINVAL);
    dd_node_stop(nullptr);

    // name, creation, cookie
    mark = mark_last_error();
    EXPECT_EQ(dd_node_name(nullptr), nullptr);
    EXPECT_STRNE(dd_last_error(), mark);
    EXPECT_EQ(dd_node_creation(nullptr), 0u);
    EXPECT_FAILS(dd_set_cookie(nullptr, nullptr, "c"), DD_EINVAL);
    EXPECT_FAILS(dd_set_cookie(n, nullptr, nullptr), DD_EINVAL);
    EXPECT_FAILS(dd_set_cookie(n, "", "c"), DD_EINVAL);
    const std::string long_peer = longer_than(1100);
    EXPECT_FAILS(dd_set_cookie(n, long_peer.c_str(), "c"), DD_EINVAL);
    EXPECT_FAILS(dd_set_cookie(n, "p@h", ""), DD_ECOOKIE);

    // connecting
    for (auto fn : {dd_connect, dd_ping}) {
        EXPECT_FAILS(fn(nullptr, "x@h", 100), DD_EINVAL);
        EXPECT_FAILS(fn(n, nullptr, 100), DD_EINVAL);
        EXPECT_FAILS(fn(n, "", 100), DD_EINVAL);
        EXPECT_FAILS(fn(n, long_peer.c_str(), 100), DD_EINVAL);
        EXPECT_FAILS(fn(n, "not a node name", 100), DD_EINVAL);
        EXPECT_FAILS(fn(n, "two@at@signs", 100), DD_EINVAL);
    }
    EXPECT_FAILS(dd_disconnect(nullptr, "x@h"), DD_EINVAL);
    EXPECT_FAILS(dd_disconnect(n, nullptr), DD_EINVAL);
    EXPECT_FAILS(dd_disconnect(n, ""), DD_EINVAL);
    EXPECT_FAILS(dd_disconnect(n, long_peer.c_str()), DD_EINVAL);
    EXPECT_FAILS(dd_disconnect(n, "nobody@nowhere"), DD_ENOTFOUND);

    // nodes, carrier, stats, data plane
    char **names = nullptr;
    size_t count = 0;
    EXPECT_FAILS(dd_nodes(nullptr, DD_NODES_VISIBLE, &names, &count), DD_EINVAL);
    EXPECT_FAILS(dd_nodes(n, DD_NODES_VISIBLE, nullptr, &count), DD_EINVAL);
    EXPECT_FAILS(dd_nodes(n, dd_nodes_which(0), &names, &count), DD_EINVAL);
    EXPECT_FAILS(dd_nodes(n, dd_nodes_which(99), &names, &count), DD_EINVAL);
    ASSERT_EQ(dd_nodes(n, DD_NODES_CONNECTED, &names, nullptr), DD_OK); // count is optional
    dd_nodes_free(names);
    dd_nodes_free(nullptr);
    mark = mark_last_error();
    EXPECT_EQ(dd_node_carrier(nullptr, "x@h"), DD_CARRIER_NONE);
    EXPECT_STRNE(dd_last_error(), mark);
    EXPECT_EQ(dd_node_carrier(n, nullptr), DD_CARRIER_NONE);
    EXPECT_EQ(dd_node_carrier(n, ""), DD_CARRIER_NONE);
    EXPECT_NE(std::string(dd_last_error()).find("peer"), std::string::npos) << dd_last_error();
    struct dd_peer_stats st;
    EXPECT_FAILS(dd_peer_stats(nullptr, "x@h", &st), DD_EINVAL);
    EXPECT_FAILS(dd_peer_stats(n, nullptr, &st), DD_EINVAL);
    EXPECT_FAILS(dd_peer_stats(n, "", &st), DD_EINVAL);
    EXPECT_FAILS(dd_peer_stats(n, "x@h", nullptr), DD_EINVAL);
    EXPECT_FAILS(dd_peer_stats(n, "x@h", &st), DD_ENOTFOUND);
    EXPECT_FAILS(dd_dataplane_summary(nullptr, stdout), DD_EINVAL);
    EXPECT_FAILS(dd_dataplane_summary(n, nullptr), DD_EINVAL);
    EXPECT_FAILS(dd_dataplane_fault(nullptr, true), DD_EINVAL);
    dd_ref ref;
    EXPECT_FAILS(dd_make_ref(nullptr, &ref), DD_EINVAL);
    EXPECT_FAILS(dd_make_ref(n, nullptr), DD_EINVAL);
}

TEST(RuntimeApi, MailboxFunctionsRefuseBadArguments)
{
    Fixture f;
    dd_node *n = f.a.n;
    dd_mbox *mb = f.mb, *out = nullptr;
    const Bytes &t = f.t;
    std::string name256 = longer_than(255, 'n');           // 256 characters
    std::string name255_utf8;                               // 255 characters, 510 bytes
    for (int i = 0; i < 255; i++)
        name255_utf8 += "\xc3\xa9";
    std::string long_node = longer_than(1100);

    // opening, closing
    EXPECT_FAILS(dd_mbox_open(nullptr, nullptr, 0, &out), DD_EINVAL);
    EXPECT_FAILS(dd_mbox_open(n, nullptr, 0, nullptr), DD_EINVAL);
    EXPECT_FAILS(dd_mbox_open(n, "", 0, &out), DD_EINVAL);
    EXPECT_FAILS(dd_mbox_open(n, name256.c_str(), 0, &out), DD_EINVAL);
    EXPECT_FAILS(dd_mbox_open(n, nullptr, 0x80, &out), DD_EINVAL);
    ASSERT_EQ(dd_mbox_open(n, name255_utf8.c_str(), DD_MBOX_EXPRESS, &out), DD_OK);
    dd_mbox_close(out);
    dd_mbox_close(nullptr);
    dd_mbox_close_reason(nullptr, t.data(), t.size());
    EXPECT_EQ(dd_mbox_pid(nullptr), nullptr);
    EXPECT_EQ(dd_mbox_node(nullptr), nullptr);

    // pids and references that cannot be used
    dd_pid unterminated = f.pid;
    memset(unterminated.node, 'x', sizeof(unterminated.node));
    dd_pid empty = f.pid;
    empty.node[0] = '\0';
    dd_ref ref;
    ASSERT_EQ(dd_make_ref(n, &ref), DD_OK);
    dd_ref too_long = ref, too_short = ref, ref_unterminated = ref;
    too_long.len = 9;
    too_short.len = 0;
    memset(ref_unterminated.node, 'y', sizeof(ref_unterminated.node));

    // sending
    for (const dd_pid *bad : {(const dd_pid *)nullptr, (const dd_pid *)&unterminated,
                              (const dd_pid *)&empty})
        EXPECT_FAILS(dd_send(mb, bad, t.data(), t.size()), DD_EINVAL);
    EXPECT_FAILS(dd_send(nullptr, &f.pid, t.data(), t.size()), DD_EINVAL);
    EXPECT_FAILS(dd_send(mb, &f.pid, nullptr, 5), DD_EBADTERM);
    EXPECT_FAILS(dd_send(mb, &f.pid, t.data(), 0), DD_EBADTERM);
    EXPECT_FAILS(dd_send(mb, &f.pid, t.data(), t.size() - 1), DD_EBADTERM);
    EXPECT_FAILS(dd_send(mb, &f.pid, t.data(), size_t(1) << 40), DD_ETOOBIG);
    EXPECT_FAILS(dd_send_flags(mb, &f.pid, t.data(), t.size(), 0x10), DD_EINVAL);
    EXPECT_FAILS(dd_send_reg(nullptr, "x", nullptr, t.data(), t.size()), DD_EINVAL);
    EXPECT_FAILS(dd_send_reg(mb, nullptr, nullptr, t.data(), t.size()), DD_EINVAL);
    EXPECT_FAILS(dd_send_reg(mb, "", nullptr, t.data(), t.size()), DD_EINVAL);
    EXPECT_FAILS(dd_send_reg(mb, name256.c_str(), nullptr, t.data(), t.size()), DD_EINVAL);
    EXPECT_FAILS(dd_send_reg(mb, "x", "", t.data(), t.size()), DD_EINVAL);
    EXPECT_FAILS(dd_send_reg(mb, "x", long_node.c_str(), t.data(), t.size()), DD_EINVAL);
    EXPECT_FAILS(dd_send_reg(mb, "x", "not a node name", t.data(), t.size()), DD_EINVAL);
    EXPECT_FAILS(dd_send_reg_flags(mb, "x", nullptr, t.data(), t.size(), 0x10), DD_EINVAL);
    EXPECT_FAILS(dd_send_reg(mb, "x", nullptr, nullptr, 0), DD_EBADTERM);
    // to a node that does not answer: dropped, as erlang:send/2
    EXPECT_EQ(dd_send_reg(mb, "x", "nobody@127.0.0.2", t.data(), t.size()), DD_OK);
    EXPECT_FAILS(dd_send_alias(nullptr, &ref, t.data(), t.size()), DD_EINVAL);
    for (const dd_ref *bad : {(const dd_ref *)nullptr, (const dd_ref *)&too_long,
                              (const dd_ref *)&too_short, (const dd_ref *)&ref_unterminated})
        EXPECT_FAILS(dd_send_alias(mb, bad, t.data(), t.size()), DD_EINVAL);
    EXPECT_FAILS(dd_send_alias(mb, &ref, nullptr, 0), DD_EBADTERM);
    EXPECT_FAILS(dd_exit(nullptr, &f.pid, t.data(), t.size()), DD_EINVAL);
    EXPECT_FAILS(dd_exit(mb, nullptr, t.data(), t.size()), DD_EINVAL);
    EXPECT_FAILS(dd_exit(mb, &unterminated, t.data(), t.size()), DD_EINVAL);
    EXPECT_FAILS(dd_exit(mb, &f.pid, nullptr, 0), DD_EBADTERM);

    // receiving
    dd_msg *m = nullptr;
    EXPECT_FAILS(dd_recv(nullptr, &m, 0), DD_EINVAL);
    EXPECT_FAILS(dd_recv(mb, nullptr, 0), DD_EINVAL);
    dd_msg_free(nullptr);

    // links and monitors
    dd_ref mref;
    for (auto fn : {dd_link, dd_unlink}) {
        EXPECT_FAILS(fn(nullptr, &f.pid), DD_EINVAL);
        EXPECT_FAILS(fn(mb, nullptr), DD_EINVAL);
        EXPECT_FAILS(fn(mb, &unterminated), DD_EINVAL);
        EXPECT_FAILS(fn(mb, &empty), DD_EINVAL);
    }
    EXPECT_FAILS(dd_monitor(nullptr, &f.pid, &mref), DD_EINVAL);
    EXPECT_FAILS(dd_monitor(mb, nullptr, &mref), DD_EINVAL);
    EXPECT_FAILS(dd_monitor(mb, &unterminated, &mref), DD_EINVAL);
    EXPECT_FAILS(dd_monitor(mb, &f.pid, nullptr), DD_EINVAL);
    EXPECT_FAILS(dd_monitor_name(nullptr, "x", nullptr, &mref), DD_EINVAL);
    EXPECT_FAILS(dd_monitor_name(mb, nullptr, nullptr, &mref), DD_EINVAL);
    EXPECT_FAILS(dd_monitor_name(mb, "", nullptr, &mref), DD_EINVAL);
    EXPECT_FAILS(dd_monitor_name(mb, name256.c_str(), nullptr, &mref), DD_EINVAL);
    EXPECT_FAILS(dd_monitor_name(mb, "x", "", &mref), DD_EINVAL);
    EXPECT_FAILS(dd_monitor_name(mb, "x", long_node.c_str(), &mref), DD_EINVAL);
    EXPECT_FAILS(dd_monitor_name(mb, "x", nullptr, nullptr), DD_EINVAL);
    EXPECT_FAILS(dd_demonitor(nullptr, &ref), DD_EINVAL);
    for (const dd_ref *bad : {(const dd_ref *)nullptr, (const dd_ref *)&too_long,
                              (const dd_ref *)&too_short, (const dd_ref *)&ref_unterminated})
        EXPECT_FAILS(dd_demonitor(mb, bad), DD_EINVAL);
    EXPECT_FAILS(dd_monitor_nodes(nullptr, true), DD_EINVAL);

    // helpers
    char buf[64];
    EXPECT_STREQ(dd_pid_str(nullptr, buf, sizeof(buf)), "");
    EXPECT_STREQ(dd_pid_str(&f.pid, nullptr, 10), "");
    EXPECT_STREQ(dd_pid_str(&f.pid, buf, 0), "");
    std::string s = dd_pid_str(&unterminated, buf, sizeof(buf));
    EXPECT_EQ(s.size(), sizeof(buf) - 1); // cut at the buffer, not read past the name
    EXPECT_FALSE(dd_pid_eq(nullptr, &f.pid));
    EXPECT_FALSE(dd_pid_eq(&f.pid, nullptr));
    EXPECT_FALSE(dd_pid_eq(&unterminated, &unterminated));
    EXPECT_TRUE(dd_pid_eq(&f.pid, &f.pid));
    EXPECT_FALSE(dd_ref_eq(nullptr, &ref));
    EXPECT_FALSE(dd_ref_eq(&too_long, &too_long));
    EXPECT_TRUE(dd_ref_eq(&ref, &ref));

    // after all that, the mailbox still works
    ASSERT_EQ(dd_send(mb, &f.pid, t.data(), t.size()), DD_OK);
    m = recv_one(mb, 2000);
    EXPECT_EQ(show(m), "hello");
    dd_msg_free(m);
}

// dd_node_stop closes the node's mailboxes first, which wakes their receivers with
// DD_ECLOSED; a receiver that reacts by opening a new mailbox or connecting must be refused,
// or what it opens escapes the stop (a mailbox never closed, a connection never taken down).
// A peer that does not read keeps the stop waiting for its queue (up to 500 ms), so the
// receiver's calls land while the node is stopping.
TEST(RuntimeApi, StoppingNodeRefusesNewWork)
{
    std::string alive = fresh_name("apistop");
    dd_node *n = start_node(alive);
    ASSERT_TRUE(n);
    Node other(fresh_name("apiother"));
    ASSERT_TRUE(other.n);
    RawPeer stuck;
    ASSERT_TRUE(stuck.connect_to(alive));
    ASSERT_TRUE(stuck.handshake("stuck@" + short_host(), dd_node_name(n)));
    dd_mbox *tx, *rx;
    ASSERT_EQ(dd_mbox_open(n, nullptr, 0, &tx), DD_OK);
    ASSERT_EQ(dd_mbox_open(n, nullptr, 0, &rx), DD_OK);
    Bytes big = term([](ei_x_buff *x) {
        std::string blob(1 << 20, 'b');
        ei_x_encode_binary(x, blob.data(), long(blob.size()));
    });
    erlang_pid to = stuck.pid(1);
    int rc = DD_OK;
    for (int i = 0; i < 200 && rc == DD_OK; i++)
        rc = dd_send_flags(tx, &to, big.data(), big.size(), DD_SEND_NONBLOCK);
    ASSERT_EQ(rc, DD_EWOULDBLOCK) << "the queue toward the stuck peer never filled";

    std::atomic<int> woke{1}, opened{1}, connected{1};
    std::thread receiver([&] {
        dd_msg *m = nullptr;
        woke = dd_recv(rx, &m, 10000);
        dd_mbox *late = nullptr;
        opened = dd_mbox_open(n, "late", 0, &late);
        connected = dd_connect(n, other.name().c_str(), 1000);
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(100)); // the receiver waits
    auto t0 = std::chrono::steady_clock::now();
    dd_node_stop(n);
    receiver.join();
    EXPECT_EQ(woke.load(), DD_ECLOSED);
    EXPECT_EQ(opened.load(), DD_ECLOSED);
    EXPECT_EQ(connected.load(), DD_ECLOSED);
    std::cout << "# the stop took "
              << std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - t0)
                     .count()
              << " ms\n";
}

} // namespace
