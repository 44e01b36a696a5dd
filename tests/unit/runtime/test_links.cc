// Tests of links, monitors and exit signals (runtime/core/route.c, runtime/core/mbox.c, the registry in
// runtime/core/conn.c) through the public API: between mailboxes of one node, and between two
// in-process nodes over the TCP carrier. Erlang's rules: exits and 'DOWN's carry the
// reason, a dead target answers noproc, a lost connection fires noconnection, unlink is
// acknowledged (no exit after an unlink), demonitor silences a monitor.
#include <gtest/gtest.h>

#include <string>
#include <thread>

#include "rt_test_util.h"

using namespace rt_test;

namespace
{

// Decodes the pid at the start of a term's second element, e.g. {'EXIT', Pid, Reason}.
bool second_pid(const dd_msg *m, dd_pid *out)
{
    int idx = 0, ver, arity;
    char atom[MAXATOMLEN_UTF8];
    return ei_decode_version(m->term, &idx, &ver) == 0 &&
           ei_decode_tuple_header(m->term, &idx, &arity) == 0 &&
           ei_decode_atom(m->term, &idx, atom) == 0 && ei_decode_pid(m->term, &idx, out) == 0;
}

// The last element of a tuple message as text (the reason of an 'EXIT' or 'DOWN').
std::string reason_of(const dd_msg *m)
{
    int idx = 0, ver, arity;
    if (ei_decode_version(m->term, &idx, &ver) < 0 ||
        ei_decode_tuple_header(m->term, &idx, &arity) < 0 || arity < 1)
        return "<not a tuple>";
    for (int i = 0; i < arity - 1; i++)
        if (dd_term_skip(m->term, m->len, &idx) != DD_OK)
            return "<bad>";
    char *s = nullptr;
    std::string r = ei_s_print_term(&s, m->term, &idx) < 0 ? "<bad>" : s;
    free(s);
    return r;
}

// {'DOWN', Ref, process, Obj, Reason}: the ref.
bool down_ref(const dd_msg *m, dd_ref *out)
{
    int idx = 0, ver, arity;
    char atom[MAXATOMLEN_UTF8];
    return ei_decode_version(m->term, &idx, &ver) == 0 &&
           ei_decode_tuple_header(m->term, &idx, &arity) == 0 && arity == 5 &&
           ei_decode_atom(m->term, &idx, atom) == 0 && ei_decode_ref(m->term, &idx, out) == 0;
}

struct Pair {
    Node a, b;
    Pair() : a(fresh_name("lka")), b(fresh_name("lkb"))
    {
    }
};

// ---- one node ----------------------------------------------------------------------------

TEST(RuntimeLinks, LocalLinkExitCarriesReason)
{
    Node node(fresh_name("lk"));
    ASSERT_TRUE(node.n);
    dd_mbox *a, *b;
    ASSERT_EQ(dd_mbox_open(node.n, nullptr, 0, &a), DD_OK);
    ASSERT_EQ(dd_mbox_open(node.n, nullptr, 0, &b), DD_OK);
    dd_pid bpid = *dd_mbox_pid(b);
    ASSERT_EQ(dd_link(a, &bpid), DD_OK);
    // b sees nothing of the link request (it is a signal), a neither.
    EXPECT_TRUE(recv_nothing(b, 20));
    Bytes reason = atom_term("custom");
    dd_mbox_close_reason(b, reason.data(), reason.size());
    dd_msg *m = recv_one(a, 1000);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->kind, DD_MSG_EXIT);
    dd_pid from;
    EXPECT_TRUE(second_pid(m, &from) && dd_pid_eq(&from, &bpid)) << show(m);
    EXPECT_EQ(reason_of(m), "custom");
    dd_msg_free(m);

    // The link is gone with the exit: a fresh mailbox closing does not reach a.
    EXPECT_TRUE(recv_nothing(a, 20));
    dd_mbox_close(a);
}

TEST(RuntimeLinks, LocalLinkIsBidirectionalAndNormalExitIsDelivered)
{
    Node node(fresh_name("lk"));
    ASSERT_TRUE(node.n);
    dd_mbox *a, *b;
    ASSERT_EQ(dd_mbox_open(node.n, nullptr, 0, &a), DD_OK);
    ASSERT_EQ(dd_mbox_open(node.n, nullptr, 0, &b), DD_OK);
    dd_pid apid = *dd_mbox_pid(a);
    ASSERT_EQ(dd_link(a, dd_mbox_pid(b)), DD_OK);
    EXPECT_TRUE(recv_nothing(b, 20)); // b processes the LINK signal
    dd_mbox_close(a);                 // reason normal: b traps exits, so it sees it
    dd_msg *m = recv_one(b, 1000);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->kind, DD_MSG_EXIT);
    dd_pid from;
    EXPECT_TRUE(second_pid(m, &from) && dd_pid_eq(&from, &apid));
    EXPECT_EQ(reason_of(m), "normal");
    dd_msg_free(m);
    dd_mbox_close(b);
}

TEST(RuntimeLinks, UnlinkIsAcknowledgedAndSilencesTheLink)
{
    Node node(fresh_name("lk"));
    ASSERT_TRUE(node.n);
    dd_mbox *a;
    ASSERT_EQ(dd_mbox_open(node.n, nullptr, 0, &a), DD_OK);
    // Unlink then an immediate exit of the other side, many times: never an 'EXIT' (the
    // exit crosses the unlink; the unlink id tells it is stale).
    for (int i = 0; i < 200; i++) {
        dd_mbox *b;
        ASSERT_EQ(dd_mbox_open(node.n, nullptr, 0, &b), DD_OK);
        ASSERT_EQ(dd_link(a, dd_mbox_pid(b)), DD_OK);
        if (i % 2)
            recv_nothing(b, 0); // sometimes b has seen the link before the unlink
        ASSERT_EQ(dd_unlink(a, dd_mbox_pid(b)), DD_OK);
        Bytes reason = atom_term("boom");
        dd_mbox_close_reason(b, reason.data(), reason.size());
        dd_msg *m = recv_one(a, 0);
        if (m) {
            ADD_FAILURE() << "iteration " << i << ": " << show(m);
            dd_msg_free(m);
        }
    }
    EXPECT_TRUE(recv_nothing(a, 50));
    dd_mbox_close(a);
}

TEST(RuntimeLinks, LinkToDeadPidGivesNoproc)
{
    Node node(fresh_name("lk"));
    ASSERT_TRUE(node.n);
    dd_mbox *a, *b;
    ASSERT_EQ(dd_mbox_open(node.n, nullptr, 0, &a), DD_OK);
    ASSERT_EQ(dd_mbox_open(node.n, nullptr, 0, &b), DD_OK);
    dd_pid dead = *dd_mbox_pid(b);
    dd_mbox_close(b);
    ASSERT_EQ(dd_link(a, &dead), DD_OK);
    dd_msg *m = recv_one(a, 1000);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->kind, DD_MSG_EXIT);
    EXPECT_EQ(reason_of(m), "noproc");
    dd_msg_free(m);
    dd_mbox_close(a);
}

TEST(RuntimeLinks, LocalMonitorDemonitorAndNames)
{
    Node node(fresh_name("lk"));
    ASSERT_TRUE(node.n);
    dd_mbox *a, *b, *svc;
    ASSERT_EQ(dd_mbox_open(node.n, nullptr, 0, &a), DD_OK);
    ASSERT_EQ(dd_mbox_open(node.n, nullptr, 0, &b), DD_OK);
    ASSERT_EQ(dd_mbox_open(node.n, "svc", 0, &svc), DD_OK);

    dd_ref r1, r2, r3, r4;
    ASSERT_EQ(dd_monitor(a, dd_mbox_pid(b), &r1), DD_OK);
    ASSERT_EQ(dd_monitor_name(a, "svc", nullptr, &r2), DD_OK);
    ASSERT_EQ(dd_monitor_name(a, "nosuch", nullptr, &r3), DD_OK);
    // Unknown name: 'DOWN' at once with noproc and {Name, Node} as the object.
    dd_msg *m = recv_one(a, 1000);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->kind, DD_MSG_DOWN);
    dd_ref got;
    EXPECT_TRUE(down_ref(m, &got) && dd_ref_eq(&got, &r3));
    EXPECT_NE(show(m).find("{nosuch, " + node.name() + "}"), std::string::npos) << show(m);
    EXPECT_EQ(reason_of(m), "noproc");
    dd_msg_free(m);

    // A demonitored process's exit says nothing.
    ASSERT_EQ(dd_monitor(a, dd_mbox_pid(b), &r4), DD_OK);
    ASSERT_EQ(dd_demonitor(a, &r4), DD_OK);
    Bytes why = atom_term("why");
    dd_mbox_close_reason(b, why.data(), why.size());
    m = recv_one(a, 1000);
    ASSERT_TRUE(m);
    EXPECT_TRUE(down_ref(m, &got) && dd_ref_eq(&got, &r1)) << show(m);
    EXPECT_EQ(reason_of(m), "why");
    dd_msg_free(m);
    dd_mbox_close(svc);
    m = recv_one(a, 1000);
    ASSERT_TRUE(m);
    EXPECT_TRUE(down_ref(m, &got) && dd_ref_eq(&got, &r2)) << show(m);
    EXPECT_NE(show(m).find("{svc, " + node.name() + "}"), std::string::npos) << show(m);
    EXPECT_EQ(reason_of(m), "normal");
    dd_msg_free(m);
    EXPECT_TRUE(recv_nothing(a, 50));

    // Monitoring a dead pid: noproc.
    ASSERT_EQ(dd_monitor(a, dd_mbox_pid(a), &r4), DD_OK); // self: allowed, never fires
    dd_mbox *c;
    ASSERT_EQ(dd_mbox_open(node.n, nullptr, 0, &c), DD_OK);
    dd_pid dead = *dd_mbox_pid(c);
    dd_mbox_close(c);
    ASSERT_EQ(dd_monitor(a, &dead, &r4), DD_OK);
    m = recv_kind(a, DD_MSG_DOWN, 1000);
    ASSERT_TRUE(m);
    EXPECT_EQ(reason_of(m), "noproc");
    dd_msg_free(m);
    dd_mbox_close(a);
}

TEST(RuntimeLinks, ExitSignalFromAnotherMailbox)
{
    Node node(fresh_name("lk"));
    ASSERT_TRUE(node.n);
    dd_mbox *a, *b;
    ASSERT_EQ(dd_mbox_open(node.n, nullptr, 0, &a), DD_OK);
    ASSERT_EQ(dd_mbox_open(node.n, nullptr, 0, &b), DD_OK);
    Bytes why = atom_term("kill_it");
    ASSERT_EQ(dd_exit(a, dd_mbox_pid(b), why.data(), why.size()), DD_OK);
    dd_msg *m = recv_one(b, 1000);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->kind, DD_MSG_EXIT);
    EXPECT_EQ(reason_of(m), "kill_it");
    dd_msg_free(m);
    dd_mbox_close(a);
    dd_mbox_close(b);
}

// ---- two nodes ----------------------------------------------------------------------------

TEST(RuntimeLinks, RemoteLinksAndMonitors)
{
    Pair p;
    ASSERT_TRUE(p.a.n && p.b.n);
    dd_mbox *a, *b1, *b2, *svc;
    ASSERT_EQ(dd_mbox_open(p.a.n, nullptr, 0, &a), DD_OK);
    ASSERT_EQ(dd_mbox_open(p.b.n, nullptr, 0, &b1), DD_OK);
    ASSERT_EQ(dd_mbox_open(p.b.n, nullptr, 0, &b2), DD_OK);
    ASSERT_EQ(dd_mbox_open(p.b.n, "rsvc", 0, &svc), DD_OK);
    dd_pid b1pid = *dd_mbox_pid(b1), b2pid = *dd_mbox_pid(b2);

    ASSERT_EQ(dd_link(a, &b1pid), DD_OK); // connects on demand
    dd_ref mref, nref, gone;
    ASSERT_EQ(dd_monitor(a, &b2pid, &mref), DD_OK);
    ASSERT_EQ(dd_monitor_name(a, "rsvc", p.b.name().c_str(), &nref), DD_OK);
    ASSERT_EQ(dd_monitor_name(a, "nosuch", p.b.name().c_str(), &gone), DD_OK);
    dd_msg *m = recv_one(a, 3000);
    ASSERT_TRUE(m);
    dd_ref got;
    EXPECT_TRUE(down_ref(m, &got) && dd_ref_eq(&got, &gone)) << show(m);
    EXPECT_NE(show(m).find("{nosuch, " + p.b.name() + "}"), std::string::npos) << show(m);
    EXPECT_EQ(reason_of(m), "noproc");
    dd_msg_free(m);
    // Let the signals reach the B mailboxes (they process them on receive).
    EXPECT_TRUE(recv_nothing(b1, 100));
    EXPECT_TRUE(recv_nothing(b2, 20));
    EXPECT_TRUE(recv_nothing(svc, 20));

    Bytes r1 = atom_term("r_link");
    dd_mbox_close_reason(b1, r1.data(), r1.size());
    m = recv_one(a, 3000);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->kind, DD_MSG_EXIT);
    dd_pid from;
    EXPECT_TRUE(second_pid(m, &from) && dd_pid_eq(&from, &b1pid));
    EXPECT_EQ(reason_of(m), "r_link");
    dd_msg_free(m);

    Bytes r2 = term([](ei_x_buff *x) {
        ei_x_encode_tuple_header(x, 2);
        ei_x_encode_atom(x, "shutdown");
        ei_x_encode_long(x, 42);
    });
    dd_mbox_close_reason(b2, r2.data(), r2.size());
    m = recv_one(a, 3000);
    ASSERT_TRUE(m);
    EXPECT_TRUE(down_ref(m, &got) && dd_ref_eq(&got, &mref)) << show(m);
    EXPECT_EQ(reason_of(m), "{shutdown, 42}");
    dd_msg_free(m);

    dd_mbox_close(svc);
    m = recv_one(a, 3000);
    ASSERT_TRUE(m);
    EXPECT_TRUE(down_ref(m, &got) && dd_ref_eq(&got, &nref)) << show(m);
    EXPECT_NE(show(m).find("{rsvc, " + p.b.name() + "}"), std::string::npos) << show(m);
    dd_msg_free(m);
    EXPECT_TRUE(recv_nothing(a, 50));
    dd_mbox_close(a);
}

TEST(RuntimeLinks, RemoteUnlinkDemonitorAndDeadTargets)
{
    Pair p;
    ASSERT_TRUE(p.a.n && p.b.n);
    dd_mbox *a;
    ASSERT_EQ(dd_mbox_open(p.a.n, nullptr, 0, &a), DD_OK);
    ASSERT_EQ(dd_connect(p.a.n, p.b.name().c_str(), 3000), DD_OK);
    for (int i = 0; i < 50; i++) {
        dd_mbox *b;
        ASSERT_EQ(dd_mbox_open(p.b.n, nullptr, 0, &b), DD_OK);
        dd_ref ref;
        ASSERT_EQ(dd_link(a, dd_mbox_pid(b)), DD_OK);
        ASSERT_EQ(dd_monitor(a, dd_mbox_pid(b), &ref), DD_OK);
        if (i % 2)
            recv_nothing(b, 5);
        ASSERT_EQ(dd_unlink(a, dd_mbox_pid(b)), DD_OK);
        ASSERT_EQ(dd_demonitor(a, &ref), DD_OK);
        Bytes why = atom_term("crossing");
        dd_mbox_close_reason(b, why.data(), why.size());
    }
    EXPECT_TRUE(recv_nothing(a, 300)) << "an exit or 'DOWN' after unlink/demonitor";

    // Dead remote pid: link -> 'EXIT' noproc, monitor -> 'DOWN' noproc.
    dd_mbox *b;
    ASSERT_EQ(dd_mbox_open(p.b.n, nullptr, 0, &b), DD_OK);
    dd_pid dead = *dd_mbox_pid(b);
    dd_mbox_close(b);
    dd_ref ref;
    ASSERT_EQ(dd_link(a, &dead), DD_OK);
    ASSERT_EQ(dd_monitor(a, &dead, &ref), DD_OK);
    dd_msg *m1 = recv_one(a, 3000);
    dd_msg *m2 = recv_one(a, 3000);
    ASSERT_TRUE(m1 && m2);
    EXPECT_EQ(m1->kind + m2->kind, DD_MSG_EXIT + DD_MSG_DOWN);
    EXPECT_EQ(reason_of(m1), "noproc");
    EXPECT_EQ(reason_of(m2), "noproc");
    dd_msg_free(m1);
    dd_msg_free(m2);
    dd_mbox_close(a);
}

TEST(RuntimeLinks, DisconnectFiresNoconnectionBothSides)
{
    Pair p;
    ASSERT_TRUE(p.a.n && p.b.n);
    dd_mbox *a, *ev_a, *b, *ev_b, *svc;
    ASSERT_EQ(dd_mbox_open(p.a.n, nullptr, 0, &a), DD_OK);
    ASSERT_EQ(dd_mbox_open(p.a.n, nullptr, 0, &ev_a), DD_OK);
    ASSERT_EQ(dd_mbox_open(p.b.n, nullptr, 0, &b), DD_OK);
    ASSERT_EQ(dd_mbox_open(p.b.n, nullptr, 0, &ev_b), DD_OK);
    ASSERT_EQ(dd_mbox_open(p.b.n, "dsvc", 0, &svc), DD_OK);
    ASSERT_EQ(dd_monitor_nodes(ev_a, true), DD_OK);
    ASSERT_EQ(dd_monitor_nodes(ev_b, true), DD_OK);
    dd_pid apid = *dd_mbox_pid(a), bpid = *dd_mbox_pid(b);

    ASSERT_EQ(dd_link(a, &bpid), DD_OK);
    dd_ref m1, m2, m3;
    ASSERT_EQ(dd_monitor(a, &bpid, &m1), DD_OK);
    ASSERT_EQ(dd_monitor_name(a, "dsvc", p.b.name().c_str(), &m2), DD_OK);
    dd_msg *m = recv_kind(ev_a, DD_MSG_NODEUP, 3000);
    ASSERT_TRUE(m);
    EXPECT_EQ(show(m), "{nodeup, " + p.b.name() + "}");
    dd_msg_free(m);
    m = recv_kind(ev_b, DD_MSG_NODEUP, 3000);
    ASSERT_TRUE(m);
    EXPECT_EQ(show(m), "{nodeup, " + p.a.name() + "}");
    dd_msg_free(m);
    // b monitors a too; make sure every signal reached b before cutting.
    ASSERT_EQ(dd_monitor(b, &apid, &m3), DD_OK);
    EXPECT_TRUE(recv_nothing(b, 100));
    EXPECT_TRUE(recv_nothing(a, 50));

    ASSERT_EQ(dd_disconnect(p.a.n, p.b.name().c_str()), DD_OK);
    EXPECT_EQ(dd_disconnect(p.a.n, p.b.name().c_str()), DD_ENOTFOUND);

    int exits = 0, downs = 0;
    for (int i = 0; i < 3; i++) {
        m = recv_one(a, 3000);
        ASSERT_TRUE(m) << "after " << exits << " exits and " << downs << " downs";
        EXPECT_EQ(reason_of(m), "noconnection") << show(m);
        exits += m->kind == DD_MSG_EXIT;
        downs += m->kind == DD_MSG_DOWN;
        dd_msg_free(m);
    }
    EXPECT_EQ(exits, 1);
    EXPECT_EQ(downs, 2);
    // The other side sees the connection close: its link and monitor fire too.
    int b_exits = 0, b_downs = 0;
    for (int i = 0; i < 2; i++) {
        m = recv_one(b, 3000);
        ASSERT_TRUE(m);
        EXPECT_EQ(reason_of(m), "noconnection") << show(m);
        b_exits += m->kind == DD_MSG_EXIT;
        b_downs += m->kind == DD_MSG_DOWN;
        dd_msg_free(m);
    }
    EXPECT_EQ(b_exits, 1);
    EXPECT_EQ(b_downs, 1);
    m = recv_kind(ev_a, DD_MSG_NODEDOWN, 3000);
    ASSERT_TRUE(m);
    EXPECT_EQ(show(m), "{nodedown, " + p.b.name() + "}");
    dd_msg_free(m);
    m = recv_kind(ev_b, DD_MSG_NODEDOWN, 3000);
    ASSERT_TRUE(m);
    dd_msg_free(m);
    EXPECT_TRUE(nodes_of(p.a.n).empty());
    EXPECT_TRUE(wait_until([&] { return nodes_of(p.b.n).empty(); }, 3000));

    // After the cut, a link to a pid there reconnects; unsubscribed monitors stay quiet.
    ASSERT_EQ(dd_monitor_nodes(ev_a, false), DD_OK);
    dd_ref r;
    ASSERT_EQ(dd_monitor(a, &bpid, &r), DD_OK); // b's mailbox still lives
    ASSERT_EQ(dd_connect(p.a.n, p.b.name().c_str(), 3000), DD_OK);
    EXPECT_TRUE(recv_nothing(ev_a, 100));
    dd_mbox_close(b);
    m = recv_one(a, 3000);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->kind, DD_MSG_DOWN);
    EXPECT_EQ(reason_of(m), "normal");
    dd_msg_free(m);
    dd_mbox_close(a);
    dd_mbox_close(ev_a);
    dd_mbox_close(ev_b);
    dd_mbox_close(svc);
}

TEST(RuntimeLinks, UnreachableNodeGivesNoconnection)
{
    Node node(fresh_name("lk"));
    ASSERT_TRUE(node.n);
    dd_mbox *a;
    ASSERT_EQ(dd_mbox_open(node.n, nullptr, 0, &a), DD_OK);
    dd_pid ghost = {};
    snprintf(ghost.node, sizeof(ghost.node), "ghost%s@%s", fresh_name("").c_str(),
             short_host().c_str());
    ghost.num = 1;
    ghost.creation = 7;
    dd_ref ref;
    ASSERT_EQ(dd_link(a, &ghost), DD_OK);
    ASSERT_EQ(dd_monitor(a, &ghost, &ref), DD_OK);
    dd_msg *m1 = recv_one(a, 5000);
    dd_msg *m2 = recv_one(a, 5000);
    ASSERT_TRUE(m1 && m2);
    EXPECT_EQ(reason_of(m1), "noconnection");
    EXPECT_EQ(reason_of(m2), "noconnection");
    dd_msg_free(m1);
    dd_msg_free(m2);
    EXPECT_EQ(dd_connect(node.n, ghost.node, 2000), DD_ENOCONN);
    dd_mbox_close(a);
}

// A mailbox closing while its node loses the connection: every relation fires once, the
// node stays sane (no leak, no crash under the sanitizers).
TEST(RuntimeLinks, CloseRacesWithDisconnect)
{
    Pair p;
    ASSERT_TRUE(p.a.n && p.b.n);
    dd_mbox *b;
    ASSERT_EQ(dd_mbox_open(p.b.n, nullptr, 0, &b), DD_OK);
    for (int i = 0; i < 30; i++) {
        ASSERT_EQ(dd_connect(p.a.n, p.b.name().c_str(), 3000), DD_OK);
        std::vector<dd_mbox *> ms;
        for (int k = 0; k < 10; k++) {
            dd_mbox *a;
            ASSERT_EQ(dd_mbox_open(p.a.n, nullptr, 0, &a), DD_OK);
            dd_ref r;
            dd_link(a, dd_mbox_pid(b));
            dd_monitor(a, dd_mbox_pid(b), &r);
            ms.push_back(a);
        }
        std::thread cutter([&] { dd_disconnect(p.a.n, p.b.name().c_str()); });
        for (auto *a : ms)
            dd_mbox_close(a);
        cutter.join();
        while (dd_msg *m = recv_one(b, 0))
            dd_msg_free(m);
        ASSERT_TRUE(wait_until([&] { return nodes_of(p.b.n).empty(); }, 3000));
    }
    dd_mbox_close(b);
}

} // namespace
