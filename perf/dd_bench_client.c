/* dd-bench client role, the unloaded tests: rtt, stream, connect, fanout (the tests with a
 * bulk stream are in dd_bench_load.c). Each prints "result" lines (bench_stats.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perf/dd_bench.h"
#include "perf/dd_bench_pvt.h"

#define CONNECT_TIMEOUT_MS  10000
#define CARRIER_WAIT_MS     5000
#define REPORT_TIMEOUT_MS   120000
#define DISCONNECT_PAUSE_NS (20 * 1000000ull)

static const char *carrier_name(enum dd_carrier_kind k)
{
    return k == DD_CARRIER_DPDK ? "dpdk" : k == DD_CARRIER_TCP ? "tcp" : "none";
}

/* Polls until the carrier to peer is `want` or ms pass; returns the carrier seen last. */
static enum dd_carrier_kind wait_carrier(dd_node *node, const char *peer, enum dd_carrier_kind want,
                                         int ms)
{
    uint64_t end = bstat_now_ns() + (uint64_t)ms * 1000000u;
    enum dd_carrier_kind k;
    while ((k = dd_node_carrier(node, peer)) != want && bstat_now_ns() < end)
        bstat_sleep_ns(100 * 1000);
    return k;
}

int ddb_open_watching(dd_node *node, const char *regname, unsigned flags, dd_mbox **out)
{
    int rc = dd_mbox_open(node, regname, flags, out);
    if (rc == DD_OK)
        rc = dd_monitor_nodes(*out, true);
    if (rc != DD_OK)
        fprintf(stderr, "dd-bench: mailbox: %s\n", dd_last_error());
    return rc;
}

int ddb_connect_peer(dd_node *node, const char *peer, const struct ddb_opts *o)
{
    int rc = dd_connect(node, peer, CONNECT_TIMEOUT_MS);
    if (rc != DD_OK) {
        fprintf(stderr, "dd-bench: cannot connect to %s: %s\n", peer, dd_last_error());
        return -1;
    }
    enum dd_carrier_kind k = dd_node_carrier(node, peer);
    if (o->expect_carrier != DD_CARRIER_NONE)
        k = wait_carrier(node, peer, o->expect_carrier, CARRIER_WAIT_MS);
    printf("# connected to %s, carrier %s\n", peer, carrier_name(k));
    if (o->expect_carrier != DD_CARRIER_NONE && k != o->expect_carrier) {
        fprintf(stderr, "dd-bench: the connection to %s uses carrier %s, not %s\n", peer,
                carrier_name(k), carrier_name(o->expect_carrier));
        return k == DD_CARRIER_NONE ? DDB_WENT_DOWN : -1;
    }
    return 0;
}

struct seq_want {
    uint64_t seq;
    size_t size;
};

static bool match_seq(const dd_msg *m, void *arg)
{
    const struct seq_want *w = arg;
    const char *data;
    size_t size;
    return ddb_view_bin(m, &data, &size) && size == w->size && ddb_bin_seq(data, size) == w->seq;
}

int ddb_round_trip(dd_mbox *mb, const char *peer, struct ddb_term *req, uint64_t seq, size_t size)
{
    ddb_term_set_seq(req, seq);
    if (dd_send_reg(mb, "echo", peer, req->buf, req->len) != DD_OK)
        return -1;
    struct seq_want w = {seq, size};
    dd_msg *m = ddb_wait_for(mb, match_seq, &w, DDB_REPLY_TIMEOUT_MS);
    if (!m)
        return -1;
    dd_msg_free(m);
    return 0;
}

static int test_rtt(dd_node *node, const struct ddb_opts *o)
{
    dd_mbox *mb;
    struct bstat_samples s;
    if (ddb_open_watching(node, "ping", DD_MBOX_EXPRESS, &mb) != DD_OK ||
        bstat_init(&s, o->count) < 0 || ddb_connect_peer(node, o->peer, o) < 0)
        return 1;
    uint64_t seq = 0;
    for (int i = 0; i < o->n_sizes; i++) {
        struct ddb_term req;
        if (ddb_term_echo_req(&req, dd_mbox_pid(mb), o->sizes[i]) < 0)
            return 1;
        bstat_reset(&s);
        for (unsigned long k = 0; k < o->warmup + o->count && !ddb_stopping(); k++) {
            uint64_t t0 = bstat_now_ns();
            if (ddb_round_trip(mb, o->peer, &req, ++seq, o->sizes[i]) < 0) {
                fprintf(stderr, "dd-bench: no echo from %s\n", o->peer);
                return 1;
            }
            if (k >= o->warmup)
                bstat_add(&s, bstat_now_ns() - t0);
        }
        bstat_report_rtt(&s, o->sizes[i], i == 0 ? o->samples : NULL);
        ddb_term_free(&req);
    }
    bstat_free(&s);
    return 0;
}

int ddb_sink_begin(dd_mbox *mb, const char *peer)
{
    if (ddb_send_tag_pid(mb, "sink", peer, "sink_begin") != DD_OK ||
        !ddb_wait_atom(mb, "sink_ready", DDB_REPLY_TIMEOUT_MS)) {
        fprintf(stderr, "dd-bench: the sink on %s does not answer\n", peer);
        return -1;
    }
    return 0;
}

int ddb_sink_finish(dd_mbox *mb, const char *peer, int64_t report[3])
{
    if (ddb_send_tag_pid(mb, "sink", peer, "sink_finish") != DD_OK ||
        !ddb_wait_report(mb, "sink_report", report, 3, REPORT_TIMEOUT_MS)) {
        fprintf(stderr, "dd-bench: no sink report from %s\n", peer);
        return -1;
    }
    return 0;
}

/* Sends binaries round-robin to the sinks of peers[0..n) for warmup_ms, marks them, and
 * sends for seconds more, counted from the mark and never fewer than BSTAT_STREAM_MIN_MSGS
 * rounds after it (a starved sender still produces a measurable window). */
static int stream_to(dd_mbox *mb, const char *const *peers, int n, struct ddb_term *bin,
                     const struct ddb_opts *o)
{
    uint64_t mark = bstat_now_ns() + o->warmup_ms * 1000000ull, end = UINT64_MAX;
    uint64_t seq = 0, after_mark = 0;
    while (!ddb_stopping()) {
        uint64_t now = bstat_now_ns();
        if (end == UINT64_MAX && now >= mark) {
            for (int p = 0; p < n; p++)
                if (ddb_send_atom(mb, "sink", peers[p], "sink_mark") != DD_OK)
                    return -1;
            end = now + (uint64_t)(o->seconds * 1e9);
        }
        if (now >= end && after_mark >= BSTAT_STREAM_MIN_MSGS)
            break;
        for (int p = 0; p < n; p++) {
            ddb_term_set_seq(bin, ++seq);
            if (dd_send_reg(mb, "sink", peers[p], bin->buf, bin->len) != DD_OK) {
                fprintf(stderr, "dd-bench: send: %s\n", dd_last_error());
                return -1;
            }
        }
        after_mark += end != UINT64_MAX;
    }
    return 0;
}

static int test_stream(dd_node *node, const struct ddb_opts *o)
{
    dd_mbox *mb;
    if (ddb_open_watching(node, NULL, 0, &mb) != DD_OK || ddb_connect_peer(node, o->peer, o) < 0)
        return 1;
    for (int i = 0; i < o->n_sizes && !ddb_stopping(); i++) {
        struct ddb_term bin;
        int64_t r[3];
        if (ddb_term_bin(&bin, o->sizes[i]) < 0 || ddb_sink_begin(mb, o->peer) < 0 ||
            stream_to(mb, &o->peer, 1, &bin, o) < 0 || ddb_sink_finish(mb, o->peer, r) < 0)
            return 1;
        bstat_print_stream(o->sizes[i], (uint64_t)r[0], (uint64_t)r[1], (uint64_t)r[2], NULL);
        ddb_term_free(&bin);
    }
    return 0;
}

static int test_connect(dd_node *node, const struct ddb_opts *o)
{
    struct bstat_samples hs, up;
    if (bstat_init(&hs, o->count) < 0 || bstat_init(&up, o->count) < 0)
        return 1;
    bool upgrade = o->expect_carrier == DD_CARRIER_DPDK;
    for (unsigned long k = 0; k < o->warmup + o->count && !ddb_stopping(); k++) {
        uint64_t t0 = bstat_now_ns();
        if (dd_connect(node, o->peer, CONNECT_TIMEOUT_MS) != DD_OK) {
            fprintf(stderr, "dd-bench: connect %lu to %s: %s\n", k, o->peer, dd_last_error());
            return 1;
        }
        uint64_t t1 = bstat_now_ns(), t2 = t1;
        if (upgrade) {
            if (wait_carrier(node, o->peer, DD_CARRIER_DPDK, CARRIER_WAIT_MS) != DD_CARRIER_DPDK) {
                fprintf(stderr, "dd-bench: the connection to %s was not upgraded\n", o->peer);
                return 1;
            }
            t2 = bstat_now_ns();
        }
        if (k >= o->warmup) {
            bstat_add(&hs, t1 - t0);
            bstat_add(&up, t2 - t0);
        }
        dd_disconnect(node, o->peer);
        wait_carrier(node, o->peer, DD_CARRIER_NONE, 2000);
        bstat_sleep_ns(DISCONNECT_PAUSE_NS); /* let the peer see the close */
    }
    struct bstat_summary sum;
    bstat_summarize(&hs, &sum);
    bstat_print_latency("connect", 0, &sum, NULL);
    if (upgrade) {
        bstat_summarize(&up, &sum);
        bstat_print_latency("connect_upgrade", 0, &sum, NULL);
    }
    bstat_free(&hs);
    bstat_free(&up);
    return 0;
}

static int test_fanout(dd_node *node, const struct ddb_opts *o)
{
    dd_mbox *mb;
    struct bstat_samples s;
    if (ddb_open_watching(node, "ping", DD_MBOX_EXPRESS, &mb) != DD_OK ||
        bstat_init(&s, o->count) < 0)
        return 1;
    for (int p = 0; p < o->n_peers; p++)
        if (ddb_connect_peer(node, o->peers[p], o) < 0)
            return 1;
    size_t size = o->sizes[0];
    struct ddb_term req;
    if (ddb_term_echo_req(&req, dd_mbox_pid(mb), size) < 0)
        return 1;
    for (unsigned long k = 0; k < o->warmup + o->count && !ddb_stopping(); k++) {
        uint64_t t0 = bstat_now_ns();
        ddb_term_set_seq(&req, k + 1);
        for (int p = 0; p < o->n_peers; p++)
            if (dd_send_reg(mb, "echo", o->peers[p], req.buf, req.len) != DD_OK)
                return 1;
        struct seq_want w = {k + 1, size};
        for (int p = 0; p < o->n_peers; p++) {
            dd_msg *m = ddb_wait_for(mb, match_seq, &w, DDB_REPLY_TIMEOUT_MS);
            if (!m) {
                fprintf(stderr, "dd-bench: fan-out round %lu: a peer did not answer\n", k);
                return 1;
            }
            dd_msg_free(m);
        }
        if (k >= o->warmup)
            bstat_add(&s, bstat_now_ns() - t0);
    }
    struct bstat_summary sum;
    bstat_summarize(&s, &sum);
    char extra[32];
    snprintf(extra, sizeof(extra), "peers=%d", o->n_peers);
    bstat_print_latency("fanout_rtt", size, &sum, extra);
    ddb_term_free(&req);

    /* The stream part: every peer's sink, round robin. */
    size_t ssize = o->n_sizes > 1 ? o->sizes[1] : 1024;
    struct ddb_term bin;
    if (ddb_term_bin(&bin, ssize) < 0)
        return 1;
    for (int p = 0; p < o->n_peers; p++)
        if (ddb_sink_begin(mb, o->peers[p]) < 0)
            return 1;
    if (stream_to(mb, o->peers, o->n_peers, &bin, o) < 0)
        return 1;
    uint64_t msgs = 0, bytes = 0, ns = 0;
    for (int p = 0; p < o->n_peers; p++) {
        int64_t r[3];
        if (ddb_sink_finish(mb, o->peers[p], r) < 0)
            return 1;
        msgs += (uint64_t)r[0];
        bytes += (uint64_t)r[1];
        ns = (uint64_t)r[2] > ns ? (uint64_t)r[2] : ns;
    }
    printf("result kind=fanout_stream size=%zu msgs=%llu bytes=%llu ns=%llu peers=%d\n", ssize,
           (unsigned long long)msgs, (unsigned long long)bytes, (unsigned long long)ns, o->n_peers);
    fflush(stdout);
    ddb_term_free(&bin);
    bstat_free(&s);
    return 0;
}

int ddb_client(dd_node *node, const struct ddb_opts *o)
{
    if (!strcmp(o->test, "rtt"))
        return test_rtt(node, o);
    if (!strcmp(o->test, "stream"))
        return test_stream(node, o);
    if (!strcmp(o->test, "connect"))
        return test_connect(node, o);
    if (!strcmp(o->test, "fanout"))
        return test_fanout(node, o);
    return ddb_client_load(node, o);
}
