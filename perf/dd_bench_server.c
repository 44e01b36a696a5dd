/* dd-bench server role: the `echo`, `sink` and `pulse` mailboxes of the benchmark protocol
 * (dd_bench.h), one thread each, plus the main thread logging node events. Runs until
 * SIGTERM/SIGINT or -timeout seconds. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perf/dd_bench.h"

struct srv_mbox {
    dd_node *node;
    dd_mbox *mb;
    pthread_t thread;
};

/* {Pid, Bin} -> Bin to Pid. The reply is [131 | the binary's encoding], copied into a
 * scratch buffer that grows to the largest request (dd_send copies it again). */
static void *echo_main(void *arg)
{
    struct srv_mbox *s = arg;
    size_t cap = 1 << 16;
    char *reply = malloc(cap);
    if (!reply)
        return NULL;
    while (!ddb_stopping()) {
        dd_msg *m;
        if (dd_recv(s->mb, &m, 200) != DD_OK)
            continue;
        int idx = 0, ver, arity, type, size;
        dd_pid from;
        if (m->kind == DD_MSG_MESSAGE && ei_decode_version(m->term, &idx, &ver) == 0 &&
            ei_decode_tuple_header(m->term, &idx, &arity) == 0 && arity == 2 &&
            ei_decode_pid(m->term, &idx, &from) == 0 &&
            ei_get_type(m->term, &idx, &type, &size) == 0 && type == ERL_BINARY_EXT) {
            size_t body = m->len - (size_t)idx;
            if (body + 1 > cap) {
                char *p = realloc(reply, body + 1);
                if (!p) {
                    dd_msg_free(m);
                    continue;
                }
                reply = p;
                cap = body + 1;
            }
            reply[0] = (char)DDB_VERSION_MAGIC;
            memcpy(reply + 1, m->term + idx, body);
            dd_send(s->mb, &from, reply, body + 1);
        }
        dd_msg_free(m);
    }
    free(reply);
    return NULL;
}

static void send_report(dd_mbox *mb, const dd_pid *to, const char *tag, const int64_t *v, int n)
{
    ei_x_buff x;
    ei_x_new_with_version(&x);
    ei_x_encode_tuple_header(&x, n + 1);
    ei_x_encode_atom(&x, tag);
    for (int i = 0; i < n; i++)
        ei_x_encode_longlong(&x, v[i]);
    dd_send(mb, to, x.buff, (size_t)x.index);
    ei_x_free(&x);
}

static void send_atom_to(dd_mbox *mb, const dd_pid *to, const char *atom)
{
    ei_x_buff x;
    ei_x_new_with_version(&x);
    ei_x_encode_atom(&x, atom);
    dd_send(mb, to, x.buff, (size_t)x.index);
    ei_x_free(&x);
}

/* Counts binaries between sink_mark and {sink_finish, Pid}. */
static void *sink_main(void *arg)
{
    struct srv_mbox *s = arg;
    bool measuring = false;
    uint64_t t0 = 0, t_last = 0, msgs = 0, bytes = 0;
    while (!ddb_stopping()) {
        dd_msg *m;
        if (dd_recv(s->mb, &m, 200) != DD_OK)
            continue;
        const char *data;
        size_t size;
        dd_pid from;
        if (ddb_view_bin(m, &data, &size)) {
            if (measuring) {
                msgs++;
                bytes += size;
                t_last = bstat_now_ns();
            }
        } else if (ddb_is_atom(m, "sink_mark")) {
            measuring = true;
            t0 = t_last = bstat_now_ns();
            msgs = bytes = 0;
        } else if (ddb_decode_tag_pid(m, "sink_begin", &from)) {
            measuring = false;
            msgs = bytes = 0;
            send_atom_to(s->mb, &from, "sink_ready");
        } else if (ddb_decode_tag_pid(m, "sink_finish", &from)) {
            int64_t v[3] = {(int64_t)msgs, (int64_t)bytes, (int64_t)(t_last - t0)};
            send_report(s->mb, &from, "sink_report", v, 3);
            measuring = false;
        }
        dd_msg_free(m);
    }
    return NULL;
}

static bool decode_pulse(const dd_msg *m)
{
    int idx = 0, ver, arity;
    char a[MAXATOMLEN_UTF8];
    return m->kind == DD_MSG_MESSAGE && ei_decode_version(m->term, &idx, &ver) == 0 &&
           ei_decode_tuple_header(m->term, &idx, &arity) == 0 && arity == 2 &&
           ei_decode_atom(m->term, &idx, a) == 0 && strcmp(a, "pulse") == 0;
}

/* Records the gaps between consecutive {pulse, Seq} arrivals. */
static void *pulse_main(void *arg)
{
    struct srv_mbox *s = arg;
    struct bstat_samples gaps;
    if (bstat_init(&gaps, 1u << 20) < 0)
        return NULL;
    uint64_t last = 0;
    char peer[sizeof(((dd_pid *)0)->node)] = "";
    while (!ddb_stopping()) {
        dd_msg *m;
        if (dd_recv(s->mb, &m, 200) != DD_OK)
            continue;
        dd_pid from;
        if (decode_pulse(m)) {
            uint64_t now = bstat_now_ns();
            if (last) {
                bstat_add(&gaps, now - last);
            } else {
                /* The first pulse (after the sender's warm-up): the liveness window starts
                 * here too, as the pulse gaps do, not at pulse_begin before the bulk
                 * stream started (its first message being built is not "under bulk"). */
                int64_t hb, rx;
                ddb_runtime_gaps(s->node, peer, &hb, &rx);
            }
            last = now;
        } else if (ddb_decode_tag_pid(m, "pulse_begin", &from)) {
            bstat_reset(&gaps);
            last = 0;
            snprintf(peer, sizeof(peer), "%s", from.node);
            int64_t hb, rx;
            ddb_runtime_gaps(s->node, from.node, &hb, &rx); /* resets the maxima */
            send_atom_to(s->mb, &from, "pulse_ready");
        } else if (ddb_decode_tag_pid(m, "pulse_finish", &from)) {
            struct bstat_summary sum;
            bstat_summarize(&gaps, &sum);
            int64_t v[6] = {
                (int64_t)sum.n, (int64_t)sum.max, (int64_t)sum.p99, (int64_t)sum.p50, -1, -1};
            ddb_runtime_gaps(s->node, from.node, &v[4], &v[5]);
            send_report(s->mb, &from, "pulse_report", v, 6);
        }
        dd_msg_free(m);
    }
    bstat_free(&gaps);
    return NULL;
}

static const char *event_name(enum dd_msg_kind k)
{
    return k == DD_MSG_NODEUP ? "nodeup" : k == DD_MSG_NODEDOWN ? "nodedown" : "event";
}

/* Prints node events until stopped or timeout_s passed. */
static void log_events(dd_mbox *events, unsigned long timeout_s)
{
    uint64_t end = bstat_now_ns() + (uint64_t)timeout_s * 1000000000u;
    while (!ddb_stopping() && bstat_now_ns() < end) {
        dd_msg *m;
        if (dd_recv(events, &m, 200) != DD_OK)
            continue;
        int idx = 1, arity;
        char tag[MAXATOMLEN_UTF8], peer[MAXATOMLEN_UTF8] = "?";
        if (ei_decode_tuple_header(m->term, &idx, &arity) == 0 && arity == 2 &&
            ei_decode_atom(m->term, &idx, tag) == 0)
            ei_decode_atom(m->term, &idx, peer);
        printf("# %s %s realtime_ns=%llu\n", event_name(m->kind), peer,
               (unsigned long long)bstat_realtime_ns());
        fflush(stdout);
        dd_msg_free(m);
    }
}

int ddb_server(dd_node *node, const struct ddb_opts *o)
{
    static const char *const names[] = {"echo", "sink", "pulse"};
    static void *(*const mains[])(void *) = {echo_main, sink_main, pulse_main};
    struct srv_mbox mbs[3];
    int started = 0;
    dd_mbox *events;
    int rc = dd_mbox_open(node, NULL, 0, &events);
    if (rc == DD_OK)
        rc = dd_monitor_nodes(events, true);
    for (; started < 3 && rc == DD_OK; started++) {
        mbs[started].node = node;
        /* echo answers on the express lane, as a latency-critical server would */
        rc = dd_mbox_open(node, names[started], started == 0 ? DD_MBOX_EXPRESS : 0,
                          &mbs[started].mb);
        if (rc == DD_OK &&
            pthread_create(&mbs[started].thread, NULL, mains[started], &mbs[started]) != 0)
            rc = DD_ENOMEM;
        if (rc != DD_OK)
            break;
    }
    if (rc == DD_OK) {
        printf("# dd-bench server %s ready\n", dd_node_name(node));
        fflush(stdout);
        log_events(events, o->timeout_s);
    } else {
        fprintf(stderr, "dd-bench: server mailboxes: %s\n", dd_last_error());
    }
    /* the threads see the stop within one dd_recv timeout; then the node may go */
    ddb_request_stop();
    for (int i = 0; i < started; i++)
        pthread_join(mbs[i].thread, NULL);
    return rc == DD_OK ? 0 : 1;
}
