/* dd_stress: the `stress` mailbox, served by its own thread (see stress.h).
 *
 * Test messages (stress_msg.c) are checked per source node and sender: sequence numbers must
 * come in order, each exactly once, with intact content. Requests ({Tag, FromPid, Args...}):
 *   {ping, From, N}        -> {pong, N}
 *   {report, From}         -> {report, <<"key=value ...">>}: counters for From's node
 *   {fault, From, 0|1}     -> dd_dataplane_fault(node, Arg), {fault_ok, Status}
 *   {hog, From, Ms}        -> first STRESS_CALM_MS polling in dd_recv on a mailbox nobody
 *                             sends to (prints a CALM line: the watchdog's wake-ups, none
 *                             expected), then {hogging}, then STRESS_HOG_THREADS more
 *                             threads and this one spin on the CPU for Ms without calling
 *                             dd_recv (a node whose application threads keep its only core
 *                             busy: the process is pinned to one CPU by the scripts); prints
 *                             a HOG line after, with the watchdog's busy time meanwhile
 *   {stall, From, Ms}      -> {stalling}, then no dd_recv for Ms while sampling the
 *                             receiver's unconsumed bytes and resident memory
 *   {whois, From}          -> {pid, Pid}
 *   {frames, From}         -> {frames, N}: the frames this node's port has received
 *   {prio_start, From}     starts a priority log (PRIO lines on stdout)
 *   {stop, From}           -> {stopping}; the process ends
 * Big and probe messages of the priority test are logged with the port's received frames,
 * the heartbeats received and the largest heartbeat gap since the previous log line; each
 * big message is answered with {got, Seq} to the `prio` mailbox of its node.
 * In inline mode this thread is the process's poller while it waits in dd_recv.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/dataplane/stress.h"

#define MAX_SOURCES     8
#define SAMPLE_EVERY_NS 50000000ull
#define STALL_SAMPLE_US 2000
#define STRESS_HOG_THREADS 3
#define STRESS_CALM_MS     200 /* {hog}: first this long polling in dd_recv (calm) */

struct sender_state {
    uint64_t next, msgs, bytes, dups, gaps, corrupt;
};

struct source {
    char node[MAXATOMLEN_UTF8];
    struct sender_state s[STRESS_MAX_SENDERS];
    uint32_t senders;         /* highest index seen + 1 */
    uint64_t max_hb_gap_ns;   /* over the whole run */
    uint64_t event_hb_gap_ns; /* since the last PRIO line */
};

static struct {
    dd_mbox *mb;
    pthread_t thread;
    struct source src[MAX_SOURCES];
    unsigned n_src;
    uint64_t next_sample_ns;
    uint64_t prio_t0_ns;
    /* the last stall */
    uint64_t stall_ms, stall_max_unconsumed, stall_window, stall_rss_growth_kb;
    uint64_t foreign; /* test messages from a sender index >= 64, or a 9th source node */
} S;

static struct source *source_of(const char *node)
{
    for (unsigned i = 0; i < S.n_src; i++)
        if (!strcmp(S.src[i].node, node))
            return &S.src[i];
    if (S.n_src == MAX_SOURCES)
        return NULL;
    struct source *s = &S.src[S.n_src++];
    memset(s, 0, sizeof(*s));
    snprintf(s->node, sizeof(s->node), "%s", node);
    return s;
}

/* dd_peer_stats of a source: folds the heartbeat gap into the maxima. */
static void sample(struct source *s, struct dd_peer_stats *out)
{
    struct dd_peer_stats st;
    if (dd_peer_stats(g_stress.node, s->node, &st) != DD_OK)
        memset(&st, 0, sizeof(st));
    if (st.max_heartbeat_gap_ns > s->max_hb_gap_ns)
        s->max_hb_gap_ns = st.max_heartbeat_gap_ns;
    if (st.max_heartbeat_gap_ns > s->event_hb_gap_ns)
        s->event_hb_gap_ns = st.max_heartbeat_gap_ns;
    if (out)
        *out = st;
}

static void sample_all(void)
{
    uint64_t now = stress_now_ns();
    if (now < S.next_sample_ns)
        return;
    S.next_sample_ns = now + SAMPLE_EVERY_NS;
    for (unsigned i = 0; i < S.n_src; i++)
        sample(&S.src[i], NULL);
}

static void reply(const dd_pid *to, ei_x_buff *x)
{
    dd_send(S.mb, to, x->buff, (size_t)x->index);
}

static void reply_atom(const dd_pid *to, const char *a, int nargs, long v)
{
    ei_x_buff x;
    ei_x_new_with_version(&x);
    ei_x_encode_tuple_header(&x, 1 + nargs);
    ei_x_encode_atom(&x, a);
    if (nargs)
        ei_x_encode_long(&x, v);
    reply(to, &x);
    ei_x_free(&x);
}

static void prio_log(struct source *s, const struct stress_hdr *h, const dd_pid *from)
{
    struct dd_peer_stats st;
    sample(s, &st); /* folds in the gap since the last sample; event_hb_gap_ns has the rest */
    uint64_t rx = stress_port_rx_frames();
    printf("PRIO arrive kind=%s sender=%u seq=%llu len=%u t_us=%llu rx_frames=%llu hb_rx=%llu "
           "hb_gap_us=%llu\n",
           h->kind == STRESS_BIG ? "big" : "probe", h->sender, (unsigned long long)h->seq, h->len,
           (unsigned long long)((stress_now_ns() - S.prio_t0_ns) / 1000), (unsigned long long)rx,
           (unsigned long long)st.heartbeats_rx, (unsigned long long)(s->event_hb_gap_ns / 1000));
    fflush(stdout);
    s->event_hb_gap_ns = 0;
    if (h->kind == STRESS_BIG) {
        ei_x_buff x;
        ei_x_new_with_version(&x);
        ei_x_encode_tuple_header(&x, 2);
        ei_x_encode_atom(&x, "got");
        ei_x_encode_ulonglong(&x, h->seq);
        dd_send_reg(S.mb, "prio", from->node, x.buff, (size_t)x.index);
        ei_x_free(&x);
    }
}

static void on_test_msg(const dd_msg *m, const struct stress_hdr *h, bool intact)
{
    struct source *s = source_of(m->has_from ? m->from.node : "?");
    if (!s || h->sender >= STRESS_MAX_SENDERS) {
        S.foreign++;
        return;
    }
    struct sender_state *ss = &s->s[h->sender];
    if (h->sender >= s->senders)
        s->senders = h->sender + 1;
    ss->msgs++;
    ss->bytes += h->len;
    if (!intact)
        ss->corrupt++;
    if (h->seq == ss->next) {
        ss->next++;
    } else if (h->seq < ss->next) {
        ss->dups++;
    } else {
        ss->gaps += h->seq - ss->next;
        fprintf(stderr, "stress: %s sender %u: seq %llu, expected %llu\n", s->node, h->sender,
                (unsigned long long)h->seq, (unsigned long long)ss->next);
        ss->next = h->seq + 1;
    }
    if (h->kind == STRESS_BIG || h->kind == STRESS_PROBE)
        prio_log(s, h, &m->from);
}

static void send_report(const dd_pid *to)
{
    struct source *s = source_of(to->node);
    char text[4096];
    size_t n = 0;
    uint64_t msgs = 0, bytes = 0, dups = 0, gaps = 0, corrupt = 0;
    if (s) {
        sample(s, NULL);
        for (uint32_t i = 0; i < s->senders; i++) {
            msgs += s->s[i].msgs;
            bytes += s->s[i].bytes;
            dups += s->s[i].dups;
            gaps += s->s[i].gaps;
            corrupt += s->s[i].corrupt;
        }
    }
    n += (size_t)snprintf(
        text + n, sizeof(text) - n,
        "msgs=%llu bytes=%llu dups=%llu gaps=%llu corrupt=%llu foreign=%llu "
        "max_hb_gap_us=%llu stall_ms=%llu stall_max_unconsumed=%llu "
        "stall_window=%llu stall_rss_growth_kb=%llu senders=%u next=",
        (unsigned long long)msgs, (unsigned long long)bytes, (unsigned long long)dups,
        (unsigned long long)gaps, (unsigned long long)corrupt, (unsigned long long)S.foreign,
        (unsigned long long)(s ? s->max_hb_gap_ns / 1000 : 0), (unsigned long long)S.stall_ms,
        (unsigned long long)S.stall_max_unconsumed, (unsigned long long)S.stall_window,
        (unsigned long long)S.stall_rss_growth_kb, s ? s->senders : 0);
    for (uint32_t i = 0; s && i < s->senders && n < sizeof(text) - 24; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "%s%llu", i ? "," : "",
                              (unsigned long long)s->s[i].next);
    ei_x_buff x;
    ei_x_new_with_version(&x);
    ei_x_encode_tuple_header(&x, 2);
    ei_x_encode_atom(&x, "report");
    ei_x_encode_binary(&x, text, (long)n);
    reply(to, &x);
    ei_x_free(&x);
}

/* Stops reading for ms milliseconds; samples what the data plane holds for us meanwhile
 * (for every source so far and for `node`, who asked). */
static void stall(uint64_t ms, const char *node)
{
    source_of(node);
    uint64_t rss0 = stress_rss_kb(), rss_max = rss0;
    uint64_t end = stress_now_ns() + ms * 1000000ull;
    S.stall_ms = ms;
    S.stall_max_unconsumed = 0;
    while (stress_now_ns() < end && !g_stress_stop) {
        for (unsigned i = 0; i < S.n_src; i++) {
            struct dd_peer_stats st;
            if (dd_peer_stats(g_stress.node, S.src[i].node, &st) != DD_OK ||
                st.carrier != DD_CARRIER_DPDK)
                continue;
            if (st.rx_unconsumed > S.stall_max_unconsumed)
                S.stall_max_unconsumed = st.rx_unconsumed;
            S.stall_window = st.rx_window;
        }
        uint64_t rss = stress_rss_kb();
        if (rss > rss_max)
            rss_max = rss;
        usleep(STALL_SAMPLE_US);
    }
    S.stall_rss_growth_kb = rss_max - rss0;
    printf("STALL ms=%llu max_unconsumed=%llu window=%llu rss_growth_kb=%llu\n",
           (unsigned long long)ms, (unsigned long long)S.stall_max_unconsumed,
           (unsigned long long)S.stall_window, (unsigned long long)S.stall_rss_growth_kb);
    fflush(stdout);
}

static void spin_until(uint64_t end_ns)
{
    volatile uint64_t x = 0;
    while (stress_now_ns() < end_ns && !g_stress_stop)
        for (int i = 0; i < 1000; i++)
            x += (uint64_t)i;
}

static void *hog_main(void *arg)
{
    spin_until(*(const uint64_t *)arg);
    return NULL;
}

/* This thread polls for STRESS_CALM_MS in dd_recv on a mailbox nobody sends to; prints how
 * often the watchdog woke meanwhile (it has no reason to while somebody polls). */
static void calm(void)
{
    dd_mbox *mb;
    if (dd_mbox_open(g_stress.node, NULL, 0, &mb) != DD_OK)
        return;
    uint64_t w0[3], w1[3];
    stress_watchdog_counts(w0);
    uint64_t t0 = stress_now_ns();
    dd_msg *m = NULL;
    if (dd_recv(mb, &m, STRESS_CALM_MS) == DD_OK)
        dd_msg_free(m);
    stress_watchdog_counts(w1);
    printf("CALM ms=%llu watchdog_wakeups=%llu watchdog_runs=%llu\n",
           (unsigned long long)((stress_now_ns() - t0) / 1000000ull),
           (unsigned long long)(w1[0] - w0[0]), (unsigned long long)(w1[1] - w0[1]));
    fflush(stdout);
    dd_mbox_close(mb);
}

/* Keeps the process's CPU busy for ms milliseconds: STRESS_HOG_THREADS threads and this one
 * spin (no dd_recv, no sleep). Prints the watchdog's busy time meanwhile (its duty cycle). */
static void hog(uint64_t ms)
{
    uint64_t w0[3], w1[3];
    stress_watchdog_counts(w0);
    uint64_t t0 = stress_now_ns(), end = t0 + ms * 1000000ull;
    pthread_t th[STRESS_HOG_THREADS];
    bool started[STRESS_HOG_THREADS];
    for (unsigned i = 0; i < STRESS_HOG_THREADS; i++)
        started[i] = pthread_create(&th[i], NULL, hog_main, &end) == 0;
    spin_until(end);
    unsigned n = 0;
    for (unsigned i = 0; i < STRESS_HOG_THREADS; i++)
        if (started[i]) {
            pthread_join(th[i], NULL);
            n++;
        }
    uint64_t took_us = (stress_now_ns() - t0) / 1000u;
    stress_watchdog_counts(w1);
    printf("HOG ms=%llu threads=%u took_ms=%llu watchdog_runs=%llu watchdog_busy_us=%llu\n",
           (unsigned long long)ms, n + 1, (unsigned long long)(took_us / 1000u),
           (unsigned long long)(w1[1] - w0[1]), (unsigned long long)(w1[2] - w0[2]));
    fflush(stdout);
}

/* A request {Tag, FromPid [, Int]}; false for {stop, ...}. */
static bool on_request(const dd_msg *m)
{
    int idx = 0, ver, arity;
    char tag[MAXATOMLEN_UTF8];
    dd_pid from;
    long arg = 0;
    if (ei_decode_version(m->term, &idx, &ver) < 0 ||
        ei_decode_tuple_header(m->term, &idx, &arity) < 0 || arity < 2 ||
        ei_decode_atom(m->term, &idx, tag) < 0 || ei_decode_pid(m->term, &idx, &from) < 0)
        return true;
    if (arity > 2 && ei_decode_long(m->term, &idx, &arg) < 0)
        return true;
    if (!strcmp(tag, "ping")) {
        reply_atom(&from, "pong", 1, arg);
    } else if (!strcmp(tag, "report")) {
        send_report(&from);
    } else if (!strcmp(tag, "fault")) {
        int rc = dd_dataplane_fault(g_stress.node, arg != 0);
        uint64_t n[3];
        stress_fault_counts(n);
        printf("FAULT %s rc=%d dropped=%llu duplicated=%llu reordered=%llu\n", arg ? "on" : "off",
               rc, (unsigned long long)n[0], (unsigned long long)n[1], (unsigned long long)n[2]);
        fflush(stdout);
        reply_atom(&from, "fault_ok", 1, rc);
    } else if (!strcmp(tag, "stall")) {
        reply_atom(&from, "stalling", 0, 0);
        stall((uint64_t)arg, from.node);
    } else if (!strcmp(tag, "hog")) {
        calm();
        reply_atom(&from, "hogging", 0, 0);
        hog((uint64_t)arg);
    } else if (!strcmp(tag, "frames")) {
        reply_atom(&from, "frames", 1, (long)stress_port_rx_frames());
    } else if (!strcmp(tag, "whois")) {
        ei_x_buff x;
        ei_x_new_with_version(&x);
        ei_x_encode_tuple_header(&x, 2);
        ei_x_encode_atom(&x, "pid");
        ei_x_encode_pid(&x, dd_mbox_pid(S.mb));
        reply(&from, &x);
        ei_x_free(&x);
    } else if (!strcmp(tag, "prio_start")) {
        struct source *s = source_of(from.node);
        S.prio_t0_ns = stress_now_ns();
        if (s) {
            s->event_hb_gap_ns = 0;
            sample(s, NULL);
            s->event_hb_gap_ns = 0;
        }
        printf("PRIO start rx_frames=%llu\n", (unsigned long long)stress_port_rx_frames());
        fflush(stdout);
        reply_atom(&from, "prio_ready", 0, 0);
    } else if (!strcmp(tag, "stop")) {
        reply_atom(&from, "stopping", 0, 0);
        return false;
    }
    return true;
}

static void *serve_main(void *arg)
{
    (void)arg;
    for (;;) {
        dd_msg *m;
        int rc = stress_recv(S.mb, &m, 50);
        sample_all();
        if (g_stress_stop)
            break;
        if (rc == DD_ETIMEDOUT)
            continue;
        if (rc != DD_OK)
            break;
        bool go_on = true;
        if (m->kind == DD_MSG_MESSAGE) {
            struct stress_hdr h;
            bool intact;
            if (stress_parse(m->term, m->len, &h, &intact))
                on_test_msg(m, &h, intact);
            else
                go_on = on_request(m);
        }
        dd_msg_free(m);
        if (!go_on)
            break;
    }
    g_stress_stop = 1;
    if (dd_dataplane_summary(g_stress.node, stderr) != DD_OK)
        fprintf(stderr, "no data plane\n");
    return NULL;
}

int stress_serve_start(void)
{
    int rc = dd_mbox_open(g_stress.node, STRESS_NAME, 0, &S.mb);
    if (rc != DD_OK) {
        fprintf(stderr, "stress: cannot open the %s mailbox: %s\n", STRESS_NAME, dd_last_error());
        return rc;
    }
    if (pthread_create(&S.thread, NULL, serve_main, NULL) != 0) {
        fprintf(stderr, "stress: cannot start the serve thread\n");
        return DD_EIO;
    }
    return DD_OK;
}

void stress_serve_wait(void)
{
    pthread_join(S.thread, NULL);
}
