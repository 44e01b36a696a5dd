/* dd-bench client role, the tests under a bulk stream (under-bulk, hbgap, survive) and
 * failure detection. The bulk stream is a second mailbox of this node sending -bulk-size
 * binaries to {sink, Peer}: it shares the connection (and the carrier) with the measured
 * traffic, which is the point. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perf/dd_bench.h"
#include "perf/dd_bench_pvt.h"

#define BULK_START_TIMEOUT_NS (30 * 1000000000ull)

struct bulk {
    dd_node *node;
    const char *peer;
    size_t size;
    pthread_t thread;
    atomic_bool stop, started, failed;
    atomic_bool abandon; /* the peer went down: do not wait for its report */
    int64_t report[3];
    bool have_report;
};

static void *bulk_main(void *arg)
{
    struct bulk *b = arg;
    dd_mbox *mb;
    struct ddb_term bin = {0};
    if (ddb_open_watching(b->node, NULL, 0, &mb) != DD_OK || ddb_term_bin(&bin, b->size) < 0 ||
        ddb_sink_begin(mb, b->peer) < 0 ||
        ddb_send_atom(mb, "sink", b->peer, "sink_mark") != DD_OK) {
        atomic_store(&b->failed, true);
        ddb_term_free(&bin);
        return NULL;
    }
    for (uint64_t seq = 1; !atomic_load(&b->stop) && !ddb_stopping(); seq++) {
        ddb_term_set_seq(&bin, seq);
        if (dd_send_reg(mb, "sink", b->peer, bin.buf, bin.len) != DD_OK) {
            fprintf(stderr, "dd-bench: bulk send: %s\n", dd_last_error());
            atomic_store(&b->failed, true);
            break;
        }
        atomic_store(&b->started, true);
    }
    ddb_term_free(&bin);
    if (!atomic_load(&b->failed) && !atomic_load(&b->abandon))
        b->have_report = ddb_sink_finish(mb, b->peer, b->report) == 0;
    dd_mbox_close(mb);
    return NULL;
}

/* Starts the bulk sender thread. */
static int bulk_launch(struct bulk *b, dd_node *node, const struct ddb_opts *o)
{
    memset(b, 0, sizeof(*b));
    b->node = node;
    b->peer = o->peer;
    b->size = o->bulk_size;
    return pthread_create(&b->thread, NULL, bulk_main, b) == 0 ? 0 : -1;
}

/* Starts the bulk sender and waits until its first message is handed to the runtime. */
static int bulk_start(struct bulk *b, dd_node *node, const struct ddb_opts *o)
{
    if (bulk_launch(b, node, o) < 0)
        return -1;
    uint64_t end = bstat_now_ns() + BULK_START_TIMEOUT_NS;
    while (!atomic_load(&b->started) && !atomic_load(&b->failed) && bstat_now_ns() < end)
        bstat_sleep_ns(100 * 1000);
    if (atomic_load(&b->started))
        return 0;
    atomic_store(&b->stop, true);
    pthread_join(b->thread, NULL);
    fprintf(stderr, "dd-bench: the bulk stream did not start\n");
    return -1;
}

static void bulk_stop(struct bulk *b, char *extra, size_t cap)
{
    atomic_store(&b->stop, true);
    pthread_join(b->thread, NULL);
    if (b->have_report)
        snprintf(extra, cap, "bulk_size=%zu bulk_msgs=%lld bulk_bytes=%lld bulk_ns=%lld", b->size,
                 (long long)b->report[0], (long long)b->report[1], (long long)b->report[2]);
    else
        snprintf(extra, cap, "bulk_size=%zu bulk_report=none", b->size);
}

static int test_under_bulk(dd_node *node, const struct ddb_opts *o)
{
    dd_mbox *mb;
    struct bstat_samples s;
    struct bulk b;
    if (ddb_open_watching(node, "ping", DD_MBOX_EXPRESS, &mb) != DD_OK ||
        bstat_init(&s, DDB_MAX_SAMPLES) < 0 || ddb_connect_peer(node, o->peer, o) < 0 ||
        bulk_start(&b, node, o) < 0)
        return 1;
    struct ddb_term req;
    if (ddb_term_echo_req(&req, dd_mbox_pid(mb), 64) < 0)
        return 1;
    uint64_t start = bstat_now_ns(), mark = start + o->warmup_ms * 1000000ull;
    uint64_t end = mark + (uint64_t)(o->seconds * 1e9);
    int rc = 0;
    uint64_t seq = 0;
    for (uint64_t now = start; BSTAT_GO_ON(now, end, s.n) && !ddb_stopping();
         now = bstat_now_ns()) {
        if (ddb_round_trip(mb, o->peer, &req, ++seq, 64) < 0) {
            fprintf(stderr, "dd-bench: no echo from %s under bulk\n", o->peer);
            rc = 1;
            break;
        }
        if (now >= mark)
            bstat_add(&s, bstat_now_ns() - now);
    }
    char extra[160];
    bulk_stop(&b, extra, sizeof(extra));
    struct bstat_summary sum;
    bstat_summarize(&s, &sum);
    bstat_print_latency("rtt_under_bulk", 64, &sum, extra);
    if (o->samples)
        bstat_write_samples(o->samples, &s, 20000);
    ddb_term_free(&req);
    bstat_free(&s);
    return rc;
}

static int test_hbgap(dd_node *node, const struct ddb_opts *o)
{
    dd_mbox *mb;
    struct bulk b;
    if (ddb_open_watching(node, "pulse", DD_MBOX_EXPRESS, &mb) != DD_OK ||
        ddb_connect_peer(node, o->peer, o) < 0)
        return 1;
    if (ddb_send_tag_pid(mb, "pulse", o->peer, "pulse_begin") != DD_OK ||
        !ddb_wait_atom(mb, "pulse_ready", DDB_REPLY_TIMEOUT_MS)) {
        fprintf(stderr, "dd-bench: the pulse receiver on %s does not answer\n", o->peer);
        return 1;
    }
    if (bulk_start(&b, node, o) < 0)
        return 1;
    bstat_sleep_ns(o->warmup_ms * 1000000ull);
    uint64_t period = o->pulse_ms * 1000000ull, next = bstat_now_ns();
    uint64_t end = next + (uint64_t)(o->seconds * 1e9), seq = 0;
    while (next < end && !ddb_stopping()) {
        next += period;
        uint64_t now = bstat_now_ns();
        if (next > now)
            bstat_sleep_ns(next - now);
        if (ddb_send_pulse(mb, o->peer, ++seq) != DD_OK)
            break;
    }
    int64_t r[6];
    bool ok = ddb_send_tag_pid(mb, "pulse", o->peer, "pulse_finish") == DD_OK &&
              ddb_wait_report(mb, "pulse_report", r, 6, 120000);
    char extra[160];
    bulk_stop(&b, extra, sizeof(extra));
    if (!ok) {
        fprintf(stderr, "dd-bench: no pulse report from %s\n", o->peer);
        return 1;
    }
    printf("result kind=hbgap pulse_ms=%lu sent=%llu pulses=%lld max_gap_ns=%lld p99_gap_ns=%lld "
           "p50_gap_ns=%lld hb_gap_ns=%lld rx_gap_ns=%lld %s\n",
           o->pulse_ms, (unsigned long long)seq, (long long)r[0], (long long)r[1], (long long)r[2],
           (long long)r[3], (long long)r[4], (long long)r[5], extra);
    fflush(stdout);
    return 0;
}

/* true for {nodedown, Peer}. */
static bool is_nodedown_of(const dd_msg *m, const char *peer)
{
    int idx = 1, arity;
    char tag[MAXATOMLEN_UTF8], who[MAXATOMLEN_UTF8];
    return m->kind == DD_MSG_NODEDOWN && ei_decode_tuple_header(m->term, &idx, &arity) == 0 &&
           arity == 2 && ei_decode_atom(m->term, &idx, tag) == 0 &&
           ei_decode_atom(m->term, &idx, who) == 0 && strcmp(who, peer) == 0;
}

static int test_failure(dd_node *node, const struct ddb_opts *o)
{
    dd_mbox *mb;
    if (dd_mbox_open(node, NULL, 0, &mb) != DD_OK || dd_monitor_nodes(mb, true) != DD_OK ||
        ddb_connect_peer(node, o->peer, o) < 0)
        return 1;
    printf("armed\n");
    fflush(stdout);
    uint64_t end = bstat_now_ns() + (uint64_t)o->timeout_s * 1000000000u;
    while (bstat_now_ns() < end && !ddb_stopping()) {
        dd_msg *m;
        if (dd_recv(mb, &m, 100) != DD_OK)
            continue;
        bool down = is_nodedown_of(m, o->peer);
        dd_msg_free(m);
        if (down) {
            printf("result kind=nodedown realtime_ns=%llu\n",
                   (unsigned long long)bstat_realtime_ns());
            fflush(stdout);
            return 0;
        }
    }
    printf("result kind=nodedown timeout_s=%lu\n", o->timeout_s);
    fflush(stdout);
    return 1;
}

/* Streams the bulk load for -seconds and reports the nodedowns of the peer. A nodedown ends
 * the test at once (the peer is gone: nothing will answer), whatever the bulk sender was
 * doing: that is the result, not an error. */
static int test_survive(dd_node *node, const struct ddb_opts *o)
{
    dd_mbox *mb;
    struct bulk b;
    if (dd_mbox_open(node, NULL, 0, &mb) != DD_OK || dd_monitor_nodes(mb, true) != DD_OK)
        return 1;
    int rc = ddb_connect_peer(node, o->peer, o);
    if (rc == DDB_WENT_DOWN) { /* down before the load even started: did not survive */
        printf("result kind=survive seconds=0.0 nodedowns=1 bulk_size=%zu bulk_report=none\n",
               o->bulk_size);
        fflush(stdout);
        return 0;
    }
    if (rc < 0 || bulk_launch(&b, node, o) < 0)
        return 1;
    uint64_t start = bstat_now_ns(), end = start + (uint64_t)(o->seconds * 1e9);
    int downs = 0;
    while (bstat_now_ns() < end && !ddb_stopping() && !downs && !atomic_load(&b.failed)) {
        dd_msg *m;
        if (dd_recv(mb, &m, 50) != DD_OK)
            continue;
        downs += is_nodedown_of(m, o->peer);
        dd_msg_free(m);
    }
    double secs = (double)(bstat_now_ns() - start) / 1e9;
    /* the bulk sender failing first is usually the peer going down: wait for the event */
    for (uint64_t until = bstat_now_ns() + 2000000000ull;
         !downs && atomic_load(&b.failed) && bstat_now_ns() < until;) {
        dd_msg *m;
        if (dd_recv(mb, &m, 50) != DD_OK)
            continue;
        downs += is_nodedown_of(m, o->peer);
        dd_msg_free(m);
    }
    if (downs) {
        atomic_store(&b.abandon, true);
        ddb_request_stop(); /* ends every wait of the bulk sender */
    }
    char extra[160];
    bulk_stop(&b, extra, sizeof(extra));
    if (!downs && (atomic_load(&b.failed) || !atomic_load(&b.started))) {
        fprintf(stderr, "dd-bench: the bulk stream failed without a nodedown\n");
        return 1;
    }
    printf("result kind=survive seconds=%.1f nodedowns=%d %s\n", secs, downs, extra);
    fflush(stdout);
    return 0;
}

int ddb_client_load(dd_node *node, const struct ddb_opts *o)
{
    if (!strcmp(o->test, "under-bulk"))
        return test_under_bulk(node, o);
    if (!strcmp(o->test, "hbgap"))
        return test_hbgap(node, o);
    if (!strcmp(o->test, "failure"))
        return test_failure(node, o);
    if (!strcmp(o->test, "survive"))
        return test_survive(node, o);
    fprintf(stderr, "dd-bench: unknown test %s\n", o->test);
    return 2;
}
