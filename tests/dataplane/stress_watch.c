/* dd_stress role `watch`: what a node sees when a peer dies (kill -9) or freezes (SIGSTOP).
 *
 *   watch --victim NODE --peer NODE [--duration S] [--ping-ms MS]
 *
 * Connects to both nodes (and expects DPDK to each), links to the victim's `stress` mailbox,
 * monitors it by pid and by name, and subscribes to node events; prints ARMED. Then, for
 * --duration seconds, it pings the other peer's `stress` mailbox every --ping-ms and prints
 * every event as it comes:
 *   EVENT kind=nodedown|exit|down node=NODE reason=TERM wall_ns=T
 * (wall_ns is CLOCK_REALTIME, comparable with `date +%s%N` in the script that kills).
 * Ends with `RESULT watch ...`: pings and pongs to the other peer, the slowest round trip,
 * the carrier to it at the end, and which events came with which reason.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/dataplane/stress.h"

struct watch_counts {
    unsigned victim_nodedown, peer_nodedown, other_nodedown;
    unsigned exit_noconnection, exit_other, down_noconnection, down_other;
    uint64_t victim_nodedown_wall_ns;
};

/* The last element of the event's tuple (the reason, or the node of a nodedown) as text. */
static void last_element(const dd_msg *m, char *out, size_t cap)
{
    int idx = 0, ver, arity;
    snprintf(out, cap, "?");
    if (ei_decode_version(m->term, &idx, &ver) < 0 ||
        ei_decode_tuple_header(m->term, &idx, &arity) < 0 || arity < 1)
        return;
    for (int i = 0; i < arity - 1; i++)
        if (dd_term_skip(m->term, m->len, &idx) != DD_OK)
            return;
    char *s = NULL;
    if (ei_s_print_term(&s, m->term, &idx) >= 0) {
        size_t n = strlen(s);
        if (n >= 2 && s[0] == '\'' && s[n - 1] == '\'') /* a quoted atom */
            snprintf(out, cap, "%.*s", (int)(n - 2), s + 1);
        else
            snprintf(out, cap, "%s", s);
    }
    free(s);
}

static void on_event(const dd_msg *m, const char *victim, const char *peer, struct watch_counts *c)
{
    char last[512];
    last_element(m, last, sizeof(last));
    uint64_t wall = stress_wall_ns();
    const char *kind = "other";
    const char *node = m->has_from ? m->from.node : "";
    switch (m->kind) {
    case DD_MSG_NODEDOWN:
        kind = "nodedown";
        node = last;
        if (!strcmp(last, victim)) {
            c->victim_nodedown++;
            c->victim_nodedown_wall_ns = wall;
        } else if (!strcmp(last, peer)) {
            c->peer_nodedown++;
        } else {
            c->other_nodedown++;
        }
        break;
    case DD_MSG_EXIT:
        kind = "exit";
        if (!strcmp(last, "noconnection"))
            c->exit_noconnection++;
        else
            c->exit_other++;
        break;
    case DD_MSG_DOWN:
        kind = "down";
        if (!strcmp(last, "noconnection"))
            c->down_noconnection++;
        else
            c->down_other++;
        break;
    default:
        return;
    }
    printf("EVENT kind=%s node=%s reason=%s wall_ns=%llu\n", kind, node, last,
           (unsigned long long)wall);
}

static bool is_pong(const dd_msg *m, long *n)
{
    int idx = 0, ver, arity;
    char atom[MAXATOMLEN_UTF8];
    return m->kind == DD_MSG_MESSAGE && ei_decode_version(m->term, &idx, &ver) == 0 &&
           ei_decode_tuple_header(m->term, &idx, &arity) == 0 && arity == 2 &&
           ei_decode_atom(m->term, &idx, atom) == 0 && !strcmp(atom, "pong") &&
           ei_decode_long(m->term, &idx, n) == 0;
}

static const char *carrier(const char *node)
{
    enum dd_carrier_kind k = dd_node_carrier(g_stress.node, node);
    return k == DD_CARRIER_DPDK ? "dpdk" : k == DD_CARRIER_TCP ? "tcp" : "none";
}

int stress_watch_main(int argc, char **argv)
{
    const char *victim = NULL, *peer = NULL;
    unsigned duration_s = 10, ping_ms = 5;
    for (int i = 0; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--victim"))
            victim = argv[i + 1];
        else if (!strcmp(argv[i], "--peer"))
            peer = argv[i + 1];
        else if (!strcmp(argv[i], "--duration"))
            duration_s = (unsigned)strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--ping-ms"))
            ping_ms = (unsigned)strtoul(argv[i + 1], NULL, 10);
    }
    if (!victim || !peer || ping_ms == 0) {
        fprintf(stderr, "watch: bad options\n");
        return 2;
    }
    dd_mbox *mb;
    if (dd_mbox_open(g_stress.node, "watch", 0, &mb) != DD_OK)
        return 1;
    dd_monitor_nodes(mb, true);
    /* The other nodes may still be starting: try for a while. */
    bool up = false;
    for (int i = 0; i < 100 && !up && !g_stress_stop; i++) {
        up = dd_connect(g_stress.node, victim, 5000) == DD_OK &&
             dd_connect(g_stress.node, peer, 5000) == DD_OK;
        if (!up)
            usleep(200000);
    }
    up = up && stress_wait_dpdk(victim, 10000) && stress_wait_dpdk(peer, 10000);
    printf("RESULT watch phase=connect up=%d victim_carrier=%s peer_carrier=%s\n", up,
           carrier(victim), carrier(peer));
    if (!up)
        return 1;
    stress_request(mb, victim, "whois", 0, 0, 0);
    dd_msg *m = stress_await(mb, "pid", 5000, NULL, NULL);
    dd_pid vpid;
    int idx = 0, ver, arity;
    char atom[MAXATOMLEN_UTF8];
    if (!m || ei_decode_version(m->term, &idx, &ver) < 0 ||
        ei_decode_tuple_header(m->term, &idx, &arity) < 0 ||
        ei_decode_atom(m->term, &idx, atom) < 0 || ei_decode_pid(m->term, &idx, &vpid) < 0) {
        fprintf(stderr, "watch: the victim does not tell its pid\n");
        dd_msg_free(m);
        return 1;
    }
    dd_msg_free(m);
    dd_ref r1, r2;
    if (dd_link(mb, &vpid) != DD_OK || dd_monitor(mb, &vpid, &r1) != DD_OK ||
        dd_monitor_name(mb, STRESS_NAME, victim, &r2) != DD_OK) {
        fprintf(stderr, "watch: link/monitor failed: %s\n", dd_last_error());
        return 1;
    }
    /* A round trip to the victim after the link and monitors: they are in place there. */
    stress_request(mb, victim, "ping", 1, 0, 0);
    m = stress_await(mb, "pong", 5000, NULL, NULL);
    if (!m)
        return 1;
    dd_msg_free(m);
    printf("ARMED\n");

    struct watch_counts c = {0};
    long sent = 0, pongs = 0;
    uint64_t max_rtt = 0, sent_at[64] = {0};
    uint64_t end = stress_now_ns() + (uint64_t)duration_s * 1000000000ull;
    uint64_t next_ping = 0, drain_until = 0;
    while (!g_stress_stop) {
        uint64_t now = stress_now_ns();
        if (now >= end) {
            if (!drain_until)
                drain_until = now + 1000000000ull; /* answers still on their way */
            if (now >= drain_until || pongs == sent)
                break;
        } else if (now >= next_ping) {
            sent_at[sent % 64] = now;
            stress_request(mb, peer, "ping", 1, sent, 0);
            sent++;
            next_ping = now + (uint64_t)ping_ms * 1000000ull;
        }
        int rc = stress_recv(mb, &m, 1);
        if (rc != DD_OK)
            continue;
        long n;
        if (is_pong(m, &n)) {
            pongs++;
            uint64_t rtt = stress_now_ns() - sent_at[n % 64];
            if (sent - n < 64 && rtt > max_rtt)
                max_rtt = rtt;
        } else {
            on_event(m, victim, peer, &c);
        }
        dd_msg_free(m);
    }
    printf("RESULT watch phase=done pings=%ld pongs=%ld max_rtt_us=%llu peer_carrier=%s "
           "victim_nodedown=%u victim_nodedown_wall_ns=%llu peer_nodedown=%u other_nodedown=%u "
           "exit_noconnection=%u exit_other=%u down_noconnection=%u down_other=%u\n",
           sent, pongs, (unsigned long long)(max_rtt / 1000), carrier(peer), c.victim_nodedown,
           (unsigned long long)c.victim_nodedown_wall_ns, c.peer_nodedown, c.other_nodedown,
           c.exit_noconnection, c.exit_other, c.down_noconnection, c.down_other);
    dd_mbox_close(mb);
    return 0;
}
