/* dd_stress role `priority`: lane scheduling checked functionally.
 *
 *   priority --to NODE [--big BYTES] [--bigs K]
 *
 * Mailbox `big` (sender 0) streams K messages of BYTES (64 MiB by default) to the peer's
 * `stress` mailbox, back to back. Mailbox `probe` (sender 1) sends one 64-byte message while
 * each big message is on the wire: once the peer's port has received PROBE_AFTER_FRAMES more
 * frames than when the previous big message was complete there ({got, Seq} to our `prio`
 * mailbox; the peer's frame count comes from {frames, From} requests).
 * The peer logs every big and probe arrival (PRIO lines: the port's received frames, the
 * heartbeats received and the largest heartbeat gap since the previous line); the script
 * checks that probe k arrived while big k was in flight and before it completed, and that
 * heartbeats kept arriving meanwhile. Prints `RESULT priority ...` with the transfer times.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/dataplane/stress.h"

#define PRIO_MAX_BIGS      8
#define PROBE_SIZE         64
#define PROBE_AFTER_FRAMES 1000 /* of a 64 MiB message's ~46 600 */

static struct {
    const char *to;
    uint32_t big;
    unsigned bigs;
    dd_mbox *mb_big, *mb_probe, *mb;
    uint8_t *bufs[PRIO_MAX_BIGS];
    size_t lens[PRIO_MAX_BIGS];
    uint64_t salt;
    int error;
} P;

static void *big_main(void *arg)
{
    (void)arg;
    for (unsigned k = 0; k < P.bigs && !g_stress_stop; k++) {
        int rc = dd_send_reg(P.mb_big, STRESS_NAME, P.to, P.bufs[k], P.lens[k]);
        if (rc != DD_OK) {
            fprintf(stderr, "priority: big message %u: %s\n", k, dd_last_error());
            P.error = rc;
            return NULL;
        }
    }
    return NULL;
}

static int send_probe(unsigned k)
{
    uint8_t buf[PROBE_SIZE + STRESS_TERM_HDR];
    struct stress_hdr h = {.sender = 1, .seq = k, .kind = STRESS_PROBE, .salt = P.salt};
    size_t len = stress_build(buf, PROBE_SIZE, &h);
    return dd_send_reg(P.mb_probe, STRESS_NAME, P.to, buf, len);
}

/* The frames the peer's port has received; -1 if it does not answer. */
static long peer_frames(void)
{
    stress_request(P.mb, P.to, "frames", 0, 0, 0);
    dd_msg *m = stress_await(P.mb, "frames", 5000, NULL, NULL);
    if (!m)
        return -1;
    int idx = 0, ver, arity;
    char atom[MAXATOMLEN_UTF8];
    long n = -1;
    ei_decode_version(m->term, &idx, &ver);
    ei_decode_tuple_header(m->term, &idx, &arity);
    ei_decode_atom(m->term, &idx, atom);
    if (ei_decode_long(m->term, &idx, &n) < 0)
        n = -1;
    dd_msg_free(m);
    return n;
}

/* Waits until the peer has received `more` frames beyond `base`: the big message streams.
 * Returns the peer's count then, or -1. */
static long await_frames(long base, long more)
{
    uint64_t end = stress_now_ns() + 10000000000ull;
    while (stress_now_ns() < end && !g_stress_stop) {
        long n = peer_frames();
        if (n < 0)
            return -1;
        if (n >= base + more)
            return n;
        usleep(200);
    }
    return -1;
}

/* {got, Seq} from the peer: big message Seq is complete there. */
static bool await_got(unsigned k, int timeout_ms)
{
    dd_msg *m = stress_await(P.mb, "got", timeout_ms, NULL, NULL);
    if (!m)
        return false;
    int idx = 0, ver, arity;
    char atom[MAXATOMLEN_UTF8];
    unsigned long long seq = ~0ull;
    ei_decode_version(m->term, &idx, &ver);
    ei_decode_tuple_header(m->term, &idx, &arity);
    ei_decode_atom(m->term, &idx, atom);
    ei_decode_ulonglong(m->term, &idx, &seq);
    dd_msg_free(m);
    return seq == k;
}

int stress_prio_main(int argc, char **argv)
{
    memset(&P, 0, sizeof(P));
    P.big = 64u << 20;
    P.bigs = 2;
    for (int i = 0; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--to"))
            P.to = argv[i + 1];
        else if (!strcmp(argv[i], "--big"))
            P.big = (uint32_t)strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--bigs"))
            P.bigs = (unsigned)strtoul(argv[i + 1], NULL, 10);
    }
    if (!P.to || P.bigs < 1 || P.bigs > PRIO_MAX_BIGS || P.big < 4096) {
        fprintf(stderr, "priority: bad options\n");
        return 2;
    }
    if (dd_mbox_open(g_stress.node, "prio", 0, &P.mb) != DD_OK ||
        dd_mbox_open(g_stress.node, "big", 0, &P.mb_big) != DD_OK ||
        dd_mbox_open(g_stress.node, "probe", 0, &P.mb_probe) != DD_OK)
        return 1;
    int rc = dd_connect(g_stress.node, P.to, 10000);
    bool dpdk = rc == DD_OK && stress_wait_dpdk(P.to, 10000);
    printf("RESULT priority phase=connect connected=%d dpdk=%d\n", rc == DD_OK, dpdk);
    if (!dpdk)
        return 1;
    /* Build every big message first: the stream must not wait for the CPU. */
    P.salt = 0x5eedull * 0x9E3779B97F4A7C15ull + (uint64_t)getpid();
    for (unsigned k = 0; k < P.bigs; k++) {
        P.bufs[k] = malloc((size_t)P.big + STRESS_TERM_HDR);
        if (!P.bufs[k])
            return 1;
        struct stress_hdr h = {.sender = 0, .seq = k, .kind = STRESS_BIG, .salt = P.salt};
        P.lens[k] = stress_build(P.bufs[k], P.big, &h);
    }
    stress_request(P.mb, P.to, "prio_start", 0, 0, 0);
    dd_msg *ready = stress_await(P.mb, "prio_ready", 5000, NULL, NULL);
    if (!ready)
        return 1;
    dd_msg_free(ready);

    pthread_t t;
    uint64_t t0 = stress_now_ns();
    long base = peer_frames();
    if (base < 0 || pthread_create(&t, NULL, big_main, NULL) != 0)
        return 1;
    uint64_t probe_ns[PRIO_MAX_BIGS] = {0}, got_ns[PRIO_MAX_BIGS] = {0};
    long probe_at[PRIO_MAX_BIGS] = {0}; /* the peer's received frames when the probe went */
    bool ok = true;
    for (unsigned k = 0; k < P.bigs && ok; k++) {
        /* Big message k streams (the first as soon as dd_send took it, the next ones right
         * after the previous one's last frame): once the peer has PROBE_AFTER_FRAMES of it,
         * the probe goes. */
        probe_at[k] = await_frames(base, PROBE_AFTER_FRAMES);
        if (probe_at[k] < 0) {
            fprintf(stderr, "priority: big message %u does not stream\n", k);
            ok = false;
            break;
        }
        probe_ns[k] = stress_now_ns();
        if (send_probe(k) != DD_OK || !await_got(k, 60000)) {
            fprintf(stderr, "priority: no {got, %u} from the peer\n", k);
            ok = false;
            break;
        }
        got_ns[k] = stress_now_ns();
        base = peer_frames();
        ok = base >= 0;
    }
    pthread_join(t, NULL);
    for (unsigned k = 0; k < P.bigs; k++) {
        printf("RESULT priority big=%u bytes=%u probe_sent_ms=%.3f big_done_ms=%.3f "
               "probe_sent_at_frames=%ld\n",
               k, P.big, (double)(probe_ns[k] - t0) / 1e6, (double)(got_ns[k] - t0) / 1e6,
               probe_at[k]);
        free(P.bufs[k]);
    }
    struct dd_peer_stats st;
    if (dd_peer_stats(g_stress.node, P.to, &st) != DD_OK)
        memset(&st, 0, sizeof(st));
    double secs = (double)(stress_now_ns() - t0) / 1e9;
    printf("RESULT priority phase=done ok=%d bigs=%u secs=%.3f mbit_per_s=%.1f retransmits=%llu "
           "carrier=%s\n",
           ok && !P.error, P.bigs, secs, (double)P.big * P.bigs * 8 / secs / 1e6,
           (unsigned long long)st.retransmits, st.carrier == DD_CARRIER_DPDK ? "dpdk" : "other");
    dd_mbox_close(P.mb_big);
    dd_mbox_close(P.mb_probe);
    dd_mbox_close(P.mb);
    return ok && !P.error ? 0 : 1;
}
