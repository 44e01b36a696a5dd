/* swarm: many dpdist nodes in one process, all connecting at once to one target node.
 *
 *   swarm -count N -prefix NAME -target NODE [-setcookie C] [-epmd_port P] [-published]
 *         [-ticktime S] [-hold MS] [-loglevel 0..3]
 *
 * Starts N nodes named NAME<i> (short names; hidden unless -published), then releases N
 * threads together: each connects its node to NODE, opens a mailbox and makes a round trip
 * through {echo, NODE} (it sends {Self, {swarm, I, Payload}} and expects the same term
 * back). Then asks {echo, NODE} for {nodes, Self} and checks that every swarm node is
 * connected to it (the target answers {nodes, Visible, Hidden}); published nodes must also
 * reach a full mesh with each other and the target. -hold keeps the nodes up
 * that long before stopping them; -loglevel sets the nodes' log level (default 1: warnings).
 * Prints one "swarm: ..." line per phase with timings and
 * exits 0 only if every node connected, got its echo back and is seen by the target.
 * Used by tests/interop/node_many_peers.sh against dpdist-echo and against a BEAM node.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "dpdist/dpdist.h"
#include "dpdist/dpdist_args.h"

#define SWARM_MAX_NODES  2000
#define SWARM_TIMEOUT_MS 30000

struct swarm_opts {
    struct dd_args node; /* the node flags (dd_args_parse): cookie, EPMD port, ticktime.. */
    int count;
    const char *prefix;
    const char *target;
    bool published;
    int hold_ms;
};

struct swarm_peer {
    int index;
    dd_node *node;
    char sname[128];
    int connect_rc;
    int echo_ok;
    double connect_ms;
    double echo_ms;
};

static atomic_int g_ready;
static atomic_bool g_go;
static const struct swarm_opts *g_opts;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* {Self, {swarm, I, Payload}} */
static void encode_probe(ei_x_buff *x, const dd_pid *self, int index)
{
    char payload[64];
    snprintf(payload, sizeof(payload), "probe from swarm node %d", index);
    ei_x_new_with_version(x);
    ei_x_encode_tuple_header(x, 2);
    ei_x_encode_pid(x, self);
    ei_x_encode_tuple_header(x, 3);
    ei_x_encode_atom(x, "swarm");
    ei_x_encode_long(x, index);
    ei_x_encode_binary(x, payload, (long)strlen(payload));
}

/* The reply is {swarm, I, Payload}: the probe without the pid. */
static bool reply_matches(const dd_msg *m, const ei_x_buff *probe)
{
    int idx = 0, ver, arity;
    if (m->kind != DD_MSG_MESSAGE || ei_decode_version(probe->buff, &idx, &ver) < 0 ||
        ei_decode_tuple_header(probe->buff, &idx, &arity) < 0 ||
        ei_skip_term(probe->buff, &idx) < 0)
        return false;
    size_t want = (size_t)(probe->index - idx);
    return m->len == want + 1 && memcmp(m->term + 1, probe->buff + idx, want) == 0;
}

static void *peer_main(void *arg)
{
    struct swarm_peer *p = arg;
    atomic_fetch_add(&g_ready, 1);
    while (!atomic_load(&g_go))
        usleep(100);
    double t0 = now_ms();
    p->connect_rc = dd_connect(p->node, g_opts->target, SWARM_TIMEOUT_MS);
    double t1 = now_ms();
    p->connect_ms = t1 - t0;
    if (p->connect_rc != DD_OK) {
        fprintf(stderr, "swarm: %s cannot connect: %s\n", p->sname, dd_last_error());
        return NULL;
    }
    dd_mbox *mb;
    if (dd_mbox_open(p->node, NULL, 0, &mb) != DD_OK)
        return NULL;
    ei_x_buff x;
    encode_probe(&x, dd_mbox_pid(mb), p->index);
    if (dd_send_reg(mb, "echo", g_opts->target, x.buff, (size_t)x.index) == DD_OK) {
        dd_msg *m;
        if (dd_recv(mb, &m, SWARM_TIMEOUT_MS) == DD_OK) {
            p->echo_ok = reply_matches(m, &x);
            dd_msg_free(m);
        }
    }
    p->echo_ms = now_ms() - t1;
    if (!p->echo_ok)
        fprintf(stderr, "swarm: %s got no echo back\n", p->sname);
    ei_x_free(&x);
    dd_mbox_close(mb);
    return NULL;
}

/* Asks {echo, target} for {nodes, Visible, Hidden}; counts how many of ours it lists. */
static int count_seen(dd_node *node, struct swarm_peer *peers, int n, int *total)
{
    dd_mbox *mb;
    *total = -1;
    if (dd_mbox_open(node, NULL, 0, &mb) != DD_OK)
        return -1;
    ei_x_buff x;
    ei_x_new_with_version(&x);
    ei_x_encode_tuple_header(&x, 2);
    ei_x_encode_atom(&x, "nodes");
    ei_x_encode_pid(&x, dd_mbox_pid(mb));
    int seen = -1;
    dd_msg *m;
    if (dd_send_reg(mb, "echo", g_opts->target, x.buff, (size_t)x.index) == DD_OK &&
        dd_recv(mb, &m, SWARM_TIMEOUT_MS) == DD_OK) {
        int idx = 0, ver, arity, len;
        char atom[MAXATOMLEN_UTF8];
        if (ei_decode_version(m->term, &idx, &ver) == 0 &&
            ei_decode_tuple_header(m->term, &idx, &arity) == 0 && arity == 3 &&
            ei_decode_atom(m->term, &idx, atom) == 0 && strcmp(atom, "nodes") == 0) {
            seen = 0;
            *total = 0;
            for (int list = 0; list < 2; list++) {
                /* Either a proper list (BEAM) or nested conses (dpdist-echo). */
                while (ei_decode_list_header(m->term, &idx, &len) == 0 && len > 0) {
                    for (int k = 0; k < len; k++) {
                        char name[MAXATOMLEN_UTF8];
                        if (ei_decode_atom(m->term, &idx, name) < 0)
                            break;
                        (*total)++;
                        for (int i = 0; i < n; i++)
                            if (strcmp(name, dd_node_name(peers[i].node)) == 0) {
                                seen++;
                                break;
                            }
                    }
                    int ty, sz;
                    if (ei_get_type(m->term, &idx, &ty, &sz) == 0 && ty == ERL_NIL_EXT) {
                        ei_decode_list_header(m->term, &idx, &len);
                        break;
                    }
                }
            }
        }
        dd_msg_free(m);
    }
    ei_x_free(&x);
    dd_mbox_close(mb);
    return seen;
}

/* The node flags (dd_args_parse, which also applies -loglevel), then the swarm's own. */
static int parse(int argc, char **argv, struct swarm_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->count = 100;
    if (dd_args_parse(argc, argv, &o->node) != DD_OK) {
        fprintf(stderr, "swarm: %s\n", dd_last_error());
        return -1;
    }
    int rest_argc = o->node.rest_argc;
    char **rest = o->node.rest_argv;
    for (int i = 0; i < rest_argc; i++) {
        const char *a = rest[i], *v = i + 1 < rest_argc ? rest[i + 1] : NULL;
        if (!strcmp(a, "-published")) {
            o->published = true;
            continue;
        }
        if (!v)
            return -1;
        i++;
        if (!strcmp(a, "-count"))
            o->count = atoi(v);
        else if (!strcmp(a, "-prefix"))
            o->prefix = v;
        else if (!strcmp(a, "-target"))
            o->target = v;
        else if (!strcmp(a, "-hold"))
            o->hold_ms = atoi(v);
        else
            return -1;
    }
    if (!o->prefix || !o->target || o->count < 1 || o->count > SWARM_MAX_NODES)
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    struct swarm_opts o;
    dlog_set_ident("swarm");
    dd_log_set_level(DD_LOG_WARNING);
    if (parse(argc, argv, &o) < 0) {
        fprintf(stderr, "usage: swarm -count N -prefix NAME -target NODE [-published] "
                        "[-hold MS] [node flags]\nnode flags (the name is PREFIX<i>):\n%s",
                dd_args_usage());
        dd_args_free(&o.node);
        return 2;
    }
    g_opts = &o;
    struct swarm_peer *peers = calloc((size_t)o.count, sizeof(*peers));
    pthread_t *threads = calloc((size_t)o.count, sizeof(*threads));
    if (!peers || !threads)
        return 2;

    double t0 = now_ms();
    int started = 0;
    for (int i = 0; i < o.count; i++) {
        struct swarm_peer *p = &peers[i];
        p->index = i;
        snprintf(p->sname, sizeof(p->sname), "%s%d", o.prefix, i);
        struct dd_node_cfg cfg = o.node.cfg;
        cfg.sname = p->sname;
        cfg.name = NULL;
        cfg.hidden = !o.published;
        if (dd_node_start(&cfg, &p->node) != DD_OK) {
            fprintf(stderr, "swarm: cannot start %s: %s\n", p->sname, dd_last_error());
            break;
        }
        started++;
    }
    double t1 = now_ms();
    printf("swarm: started %d/%d %s nodes in %.0f ms\n", started, o.count,
           o.published ? "published" : "hidden", t1 - t0);
    if (started < o.count) {
        for (int i = 0; i < started; i++)
            dd_node_stop(peers[i].node);
        return 1;
    }

    for (int i = 0; i < o.count; i++)
        pthread_create(&threads[i], NULL, peer_main, &peers[i]);
    while (atomic_load(&g_ready) < o.count)
        usleep(1000);
    double t2 = now_ms();
    atomic_store(&g_go, true);
    for (int i = 0; i < o.count; i++)
        pthread_join(threads[i], NULL);
    double t3 = now_ms();

    int connected = 0, echoed = 0;
    double max_connect = 0, sum_connect = 0, max_echo = 0;
    for (int i = 0; i < o.count; i++) {
        connected += peers[i].connect_rc == DD_OK;
        echoed += peers[i].echo_ok;
        sum_connect += peers[i].connect_ms;
        if (peers[i].connect_ms > max_connect)
            max_connect = peers[i].connect_ms;
        if (peers[i].echo_ms > max_echo)
            max_echo = peers[i].echo_ms;
    }
    printf("swarm: %d/%d connected at once to %s (connect: mean %.1f ms, max %.1f ms)\n", connected,
           o.count, o.target, sum_connect / o.count, max_connect);
    printf("swarm: %d/%d echo round trips (slowest %.1f ms); all done %.0f ms after the start "
           "signal\n",
           echoed, o.count, max_echo, t3 - t2);

    int total = -1;
    int seen = count_seen(peers[0].node, peers, o.count, &total);
    printf("swarm: the target lists %d of our %d nodes (%d connections in all)\n", seen, o.count,
           total);
    bool meshed = true;
    if (o.published) {
        /* Published nodes learn each other through the target: a full mesh of count + 1. */
        double tm = now_ms();
        int least = 0;
        while (now_ms() - tm < SWARM_TIMEOUT_MS) {
            least = o.count;
            for (int i = 0; i < o.count; i++) {
                char **names;
                size_t k = 0;
                if (dd_nodes(peers[i].node, DD_NODES_VISIBLE, &names, &k) == DD_OK)
                    dd_nodes_free(names);
                if ((int)k < least)
                    least = (int)k;
            }
            if (least == o.count)
                break;
            usleep(50000);
        }
        meshed = least == o.count;
        printf("swarm: full mesh of %d %s (the least connected node sees %d); %.0f ms after "
               "the round trips\n",
               o.count + 1, meshed ? "reached" : "NOT reached", least, now_ms() - tm);
    }
    if (o.hold_ms > 0)
        usleep((useconds_t)o.hold_ms * 1000);

    double t4 = now_ms();
    for (int i = 0; i < o.count; i++)
        dd_node_stop(peers[i].node);
    printf("swarm: stopped %d nodes in %.0f ms\n", o.count, now_ms() - t4);
    free(peers);
    free(threads);
    dd_args_free(&o.node);
    bool ok = connected == o.count && echoed == o.count && seen == o.count && meshed;
    printf("swarm: %s\n", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
