/* dd_stress role `source`: N sender mailboxes (one thread each) stream test messages to the
 * `stress` mailbox of a peer node, then the peer's report is compared with what was sent.
 *
 *   source --to NODE [--senders N] [--count M] [--dist mixed|small|SIZE] [--max BYTES]
 *          [--seed S] [--stall MS] [--recover M] [--warmup W] [--timeout S] [--stop-peer 1]
 *          [--hog MS]
 *
 * Phases, each ending with one `RESULT source phase=NAME ...` line:
 *   warmup    (--warmup W) W messages first, so that buffers and pools are in use before
 *             what is measured;
 *   main      M messages in total from N senders (blocking sends; with --stall, the peer
 *             first stops reading for MS ms and the senders use non-blocking sends, counting
 *             the "would block" answers and the bytes accepted while the peer stalled;
 *             with --hog, the peer's threads first keep its CPU busy for MS ms without
 *             reading: {hog, From, Ms} in stress_serve.c);
 *   recover   (--recover M) fault injection off on both nodes, then M more messages: the
 *             retransmission count of this phase shows whether the channel recovered.
 * A phase is complete when the peer reports, for every sender, exactly the sequence numbers
 * sent (nothing missing, nothing twice, in order, intact); it gives up when the peer's count
 * makes no progress for --timeout seconds. --stop-peer 1 ends the peer's process afterwards.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/dataplane/stress.h"

struct src_opts {
    const char *to;
    unsigned senders;
    uint64_t count;
    struct stress_dist dist;
    uint64_t seed;
    uint64_t stall_ms;
    uint64_t hog_ms;
    uint64_t recover;
    uint64_t warmup;
    unsigned timeout_s;
    bool stop_peer;
};

struct sender {
    unsigned idx;
    dd_mbox *mb;
    pthread_t thread;
    uint64_t rng;
    uint64_t next_seq; /* continues across phases */
    uint64_t quota;    /* messages of this phase */
    bool nonblock;
    bool started;
    int error;
};

static struct src_opts O;
static struct sender *g_senders;
static uint64_t g_salt;
static _Atomic uint64_t g_sent_msgs, g_sent_bytes, g_wouldblock;
static unsigned g_nodedowns;                 /* of the peer, seen by the main mailbox */
static uint64_t g_total_msgs, g_total_bytes; /* over all phases (the peer's report is too) */

static void count_event(dd_msg *m, void *arg)
{
    (void)arg;
    if (m->kind == DD_MSG_NODEDOWN) {
        g_nodedowns++;
        printf("EVENT nodedown during the test\n");
    }
}

static void *sender_main(void *arg)
{
    struct sender *s = arg;
    size_t cap = (size_t)O.dist.max + STRESS_TERM_HDR;
    uint8_t *buf = malloc(cap);
    if (!buf) {
        s->error = DD_ENOMEM;
        return NULL;
    }
    for (uint64_t k = 0; k < s->quota && !g_stress_stop; k++) {
        struct stress_hdr h = {
            .sender = s->idx, .seq = s->next_seq, .kind = STRESS_DATA, .salt = g_salt};
        uint32_t size = stress_dist_next(&O.dist, &s->rng);
        size_t len = stress_build(buf, size, &h);
        int rc;
        for (;;) {
            rc = dd_send_reg_flags(s->mb, STRESS_NAME, O.to, buf, len,
                                   s->nonblock ? DD_SEND_NONBLOCK : 0);
            if (rc != DD_EWOULDBLOCK || g_stress_stop)
                break;
            atomic_fetch_add(&g_wouldblock, 1);
            usleep(50);
        }
        if (rc != DD_OK) {
            fprintf(stderr, "stress: sender %u: %s\n", s->idx, dd_last_error());
            s->error = rc;
            break;
        }
        s->next_seq++;
        atomic_fetch_add(&g_sent_msgs, 1);
        atomic_fetch_add(&g_sent_bytes, size);
    }
    free(buf);
    return NULL;
}

static bool parse_opts(int argc, char **argv)
{
    memset(&O, 0, sizeof(O));
    O.senders = 4;
    O.count = 100000;
    O.seed = 1;
    O.timeout_s = 60;
    const char *dist = "mixed";
    unsigned long max = 4u << 20;
    for (int i = 0; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            return false;
        i++;
        if (!strcmp(k, "--to"))
            O.to = v;
        else if (!strcmp(k, "--senders"))
            O.senders = (unsigned)strtoul(v, NULL, 10);
        else if (!strcmp(k, "--count"))
            O.count = strtoull(v, NULL, 10);
        else if (!strcmp(k, "--dist"))
            dist = v;
        else if (!strcmp(k, "--max"))
            max = strtoul(v, NULL, 10);
        else if (!strcmp(k, "--seed"))
            O.seed = strtoull(v, NULL, 10);
        else if (!strcmp(k, "--stall"))
            O.stall_ms = strtoull(v, NULL, 10);
        else if (!strcmp(k, "--hog"))
            O.hog_ms = strtoull(v, NULL, 10);
        else if (!strcmp(k, "--recover"))
            O.recover = strtoull(v, NULL, 10);
        else if (!strcmp(k, "--warmup"))
            O.warmup = strtoull(v, NULL, 10);
        else if (!strcmp(k, "--timeout"))
            O.timeout_s = (unsigned)strtoul(v, NULL, 10);
        else if (!strcmp(k, "--stop-peer"))
            O.stop_peer = strcmp(v, "0") != 0;
        else
            return false;
    }
    return O.to && O.senders >= 1 && O.senders <= STRESS_MAX_SENDERS &&
           stress_dist_parse(dist, (uint32_t)max, &O.dist) == 0;
}

/* The peer's report; true when every sender's next sequence number is what we sent. */
static bool fetch_report(dd_mbox *mb, char *text, size_t cap)
{
    text[0] = '\0';
    if (stress_request(mb, O.to, "report", 0, 0, 0) != DD_OK)
        return false;
    dd_msg *m = stress_await(mb, "report", 5000, count_event, NULL);
    if (!m)
        return false;
    bool ok = stress_report_text(m, text, cap);
    dd_msg_free(m);
    if (!ok)
        return false;
    const char *next = strstr(text, "next=");
    if (!next || stress_field(text, "senders") != O.senders)
        return false;
    next += 5;
    for (unsigned i = 0; i < O.senders; i++) {
        char *end;
        unsigned long long v = strtoull(next, &end, 10);
        if (v != g_senders[i].next_seq)
            return false;
        next = *end == ',' ? end + 1 : end;
    }
    return stress_field(text, "gaps") == 0 && stress_field(text, "dups") == 0;
}

static void peer_stats(struct dd_peer_stats *st)
{
    if (dd_peer_stats(g_stress.node, O.to, st) != DD_OK)
        memset(st, 0, sizeof(*st));
}

static const char *carrier_name(enum dd_carrier_kind k)
{
    return k == DD_CARRIER_DPDK ? "dpdk" : k == DD_CARRIER_TCP ? "tcp" : "none";
}

/* Sends {Tag, Self, Ms} to the peer's stress mailbox and waits for its {Answer}. */
static bool ask_peer(dd_mbox *mb, const char *tag, uint64_t ms, const char *answer)
{
    stress_request(mb, O.to, tag, 1, (long)ms, 0);
    dd_msg *m = stress_await(mb, answer, 5000, NULL, NULL);
    if (!m) {
        fprintf(stderr, "stress: the peer does not answer %s with %s\n", tag, answer);
        return false;
    }
    dd_msg_free(m);
    return true;
}

static int run_phase(dd_mbox *mb, const char *phase, uint64_t count, bool stall)
{
    struct dd_peer_stats st0, st1;
    peer_stats(&st0);
    g_nodedowns = 0;
    atomic_store(&g_sent_msgs, 0);
    atomic_store(&g_sent_bytes, 0);
    atomic_store(&g_wouldblock, 0);
    if (stall && !ask_peer(mb, "stall", O.stall_ms, "stalling"))
        return 1;
    if (O.hog_ms && !strcmp(phase, "main") && !ask_peer(mb, "hog", O.hog_ms, "hogging"))
        return 1;
    uint64_t t0 = stress_now_ns();
    for (unsigned i = 0; i < O.senders; i++) {
        struct sender *s = &g_senders[i];
        s->quota = count / O.senders + (i < count % O.senders ? 1 : 0);
        s->nonblock = stall;
        s->error = 0;
        s->started = pthread_create(&s->thread, NULL, sender_main, s) == 0;
        if (!s->started)
            s->error = DD_EIO;
    }
    uint64_t stall_bytes = 0, stall_msgs = 0, stall_wb = 0;
    if (stall) {
        /* What the senders got rid of while the peer did not read (ends a little early:
         * the peer's stall began when it answered). */
        uint64_t until = t0 + O.stall_ms * 1000000ull * 9 / 10;
        while (stress_now_ns() < until && !g_stress_stop)
            usleep(1000);
        stall_bytes = atomic_load(&g_sent_bytes);
        stall_msgs = atomic_load(&g_sent_msgs);
        stall_wb = atomic_load(&g_wouldblock);
    }
    int errors = 0;
    for (unsigned i = 0; i < O.senders; i++) {
        if (g_senders[i].started)
            pthread_join(g_senders[i].thread, NULL);
        errors += g_senders[i].error != 0;
    }
    uint64_t t_sent = stress_now_ns();
    /* Wait for the peer to have everything, or for its count to stop moving. */
    char text[4096] = "";
    bool complete = false;
    uint64_t last_msgs = UINT64_MAX, last_change = stress_now_ns();
    while (!g_stress_stop) {
        complete = fetch_report(mb, text, sizeof(text));
        if (complete)
            break;
        uint64_t msgs = stress_field(text, "msgs");
        if (msgs != last_msgs) {
            last_msgs = msgs;
            last_change = stress_now_ns();
        } else if (stress_now_ns() - last_change > (uint64_t)O.timeout_s * 1000000000ull) {
            break;
        }
        usleep(20000);
    }
    uint64_t t1 = stress_now_ns();
    /* The peer has everything; its last acknowledgements may still be on their way (and our
     * counters are a snapshot of the poller's, refreshed every ms). */
    uint64_t msgs_now = atomic_load(&g_sent_msgs);
    for (int i = 0; i < 200; i++) {
        peer_stats(&st1);
        if (!complete || st1.tx_msgs - st0.tx_msgs >= msgs_now)
            break;
        usleep(10000);
    }
    double secs = (double)(t1 - t0) / 1e9;
    uint64_t msgs = atomic_load(&g_sent_msgs), bytes = atomic_load(&g_sent_bytes);
    g_total_msgs += msgs;
    g_total_bytes += bytes;
    printf("RESULT source phase=%s complete=%d nodedowns=%u sent=%llu sent_bytes=%llu "
           "total_sent=%llu total_sent_bytes=%llu secs=%.3f "
           "send_secs=%.3f msgs_per_s=%.0f mbit_per_s=%.1f wouldblock=%llu send_errors=%d "
           "carrier=%s dp_tx_msgs=%llu retransmits=%llu credit_stalls=%llu srtt_us=%llu "
           "stall_accepted_bytes=%llu stall_accepted_msgs=%llu stall_wouldblock=%llu "
           "peer: %s\n",
           phase, complete, g_nodedowns, (unsigned long long)msgs, (unsigned long long)bytes,
           (unsigned long long)g_total_msgs, (unsigned long long)g_total_bytes, secs,
           (double)(t_sent - t0) / 1e9, (double)msgs / secs, (double)bytes * 8 / secs / 1e6,
           (unsigned long long)atomic_load(&g_wouldblock), errors, carrier_name(st1.carrier),
           (unsigned long long)(st1.tx_msgs - st0.tx_msgs),
           (unsigned long long)(st1.retransmits - st0.retransmits),
           (unsigned long long)(st1.credit_stalls - st0.credit_stalls),
           (unsigned long long)(st1.srtt_ns / 1000), (unsigned long long)stall_bytes,
           (unsigned long long)stall_msgs, (unsigned long long)stall_wb, text);
    fprintf(stderr, "after phase %s:\n", phase);
    if (dd_dataplane_summary(g_stress.node, stderr) != DD_OK)
        fprintf(stderr, "no data plane\n");
    return errors ? 1 : 0;
}

static int set_faults(dd_mbox *mb, bool on)
{
    stress_request(mb, O.to, "fault", 1, on ? 1 : 0, 0);
    dd_msg *m = stress_await(mb, "fault_ok", 5000, NULL, NULL);
    if (!m)
        return -1;
    dd_msg_free(m);
    int rc = dd_dataplane_fault(g_stress.node, on);
    uint64_t n[3];
    stress_fault_counts(n);
    printf("FAULT %s rc=%d dropped=%llu duplicated=%llu reordered=%llu\n", on ? "on" : "off", rc,
           (unsigned long long)n[0], (unsigned long long)n[1], (unsigned long long)n[2]);
    return 0;
}

int stress_source_main(int argc, char **argv)
{
    if (!parse_opts(argc, argv)) {
        fprintf(stderr, "source: bad options\n");
        return 2;
    }
    dd_mbox *mb;
    if (dd_mbox_open(g_stress.node, "source", 0, &mb) != DD_OK)
        return 1;
    dd_monitor_nodes(mb, true);
    /* The peer may still be starting: try for a while. */
    int rc = DD_ENOCONN;
    for (int i = 0; i < 100 && rc != DD_OK && !g_stress_stop; i++) {
        rc = dd_connect(g_stress.node, O.to, 5000);
        if (rc != DD_OK)
            usleep(200000);
    }
    bool dpdk = rc == DD_OK && stress_wait_dpdk(O.to, 10000);
    printf("RESULT source phase=connect connected=%d carrier=%s\n", rc == DD_OK,
           carrier_name(dd_node_carrier(g_stress.node, O.to)));
    if (rc != DD_OK) {
        dd_mbox_close(mb);
        return 1;
    }
    (void)dpdk;
    g_salt = O.seed * 0x9E3779B97F4A7C15ull + (uint64_t)getpid();
    g_senders = calloc(O.senders, sizeof(*g_senders));
    if (!g_senders)
        return 1;
    for (unsigned i = 0; i < O.senders; i++) {
        g_senders[i].idx = i;
        g_senders[i].rng = O.seed * 1000003u + i;
        if (dd_mbox_open(g_stress.node, NULL, 0, &g_senders[i].mb) != DD_OK)
            return 1;
    }
    int status = O.warmup ? run_phase(mb, "warmup", O.warmup, false) : 0;
    if (status == 0)
        status = run_phase(mb, "main", O.count, O.stall_ms > 0);
    if (status == 0 && O.recover) {
        if (set_faults(mb, false) != 0) {
            fprintf(stderr, "stress: the peer does not answer the fault request\n");
            status = 1;
        } else {
            status = run_phase(mb, "recover", O.recover, false);
        }
    }
    if (O.stop_peer)
        stress_request(mb, O.to, "stop", 0, 0, 0);
    for (unsigned i = 0; i < O.senders; i++)
        dd_mbox_close(g_senders[i].mb);
    dd_mbox_close(mb);
    free(g_senders);
    return status;
}
