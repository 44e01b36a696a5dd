/* raw-memif: bare DPDK frames over net_memif between two processes, the floor under the
 * dpdist DPDK data plane (no dpdist header, no reliability, no lanes).
 *
 *   raw-memif server -socket PATH -lcore N -prefix P [-frame BYTES] [-bsize BYTES] [-timeout S]
 *   raw-memif client -socket PATH -lcore N -prefix P [-frame BYTES] [-bsize BYTES] [-timeout S]
 *                    -test rtt|stream|under-bulk [-sizes LIST] [-count N] [-warmup N]
 *                    [-seconds S] [-warmup-ms MS] [-bulk-size SIZE] [-samples FILE]
 *
 * The tool builds the EAL arguments itself: -l N --no-huge -m 256 --no-pci --no-telemetry
 * --file-prefix P --vdev net_memif0,role=...,socket=PATH,socket-abstract=no,bsize=B. Start the
 * server first: the client connects inside rte_eth_dev_start(). Both wait for the link, and
 * the client polls its receive queue while waiting (the server cannot transmit before that).
 *
 * A message of S bytes travels as frames of at most -frame bytes (default 1514, an Ethernet
 * frame at MTU 1500) each starting with a 24-byte header (type, message length, sequence
 * number, offset); the header is not counted in S. -bsize (default 2048) is memif's buffer
 * size; a frame must fit one buffer (never chained, as in the dpdist engine) and one mbuf
 * (the pool's data room is bsize). perf/run passes the frame size and bsize of the memif
 * config dpdist_dpdk runs on (perf/benchlib/transports.py memif_link), so the floor is
 * measured on the same link; both sides print it. Copy mode only (no zero-copy).
 * The tests are those of raw-tcp (rtt, stream, under-bulk) with the same result lines; in
 * under-bulk one thread interleaves: each loop iteration sends a PING when none is in flight
 * (ahead of the bulk frames it has not handed to the port yet), polls for the PONG, and
 * offers the port one burst of bulk frames. The server echoes PINGs when their last frame
 * arrives and counts DATA/BULK between MARK and FINISH.
 * Busy-polling on both sides, as a DPDK application does. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "perf/bench_stats.h"

enum rm_type {
    RM_PING = 1,
    RM_PONG,
    RM_DATA,
    RM_MARK,
    RM_FINISH,
    RM_REPORT,
    RM_BULK,
    RM_QUIT,
};

struct rm_hdr {
    uint32_t type;
    uint32_t msg_len;
    uint64_t seq;
    uint32_t frag_off;
    uint32_t pad;
};

#define RM_BURST       32
#define RM_DESC        1024
#define RM_MBUFS       8191
#define RM_MAX_SIZES   16
#define RM_MAX_SAMPLES (4u << 20)
#define RM_LINK_WAIT_S 10

struct rm_opts {
    bool server;
    const char *socket, *prefix, *test, *samples;
    unsigned long lcore, frame, bsize, count, warmup, warmup_ms, timeout_s;
    double seconds;
    size_t sizes[RM_MAX_SIZES];
    int n_sizes;
    size_t bulk_size;
};

struct rm_port {
    uint16_t id;
    struct rte_mempool *pool;
    size_t payload_max; /* frame - header */
};

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

/* ---- frames ------------------------------------------------------------------------- */

/* Payload bytes of the frame at offset off of a len-byte message. */
static size_t frag_len(const struct rm_port *p, size_t len, size_t off)
{
    return len - off < p->payload_max ? len - off : p->payload_max;
}

/* One frame of message (type, seq, len) at offset off; NULL when the pool is empty. */
static struct rte_mbuf *frame_new(struct rm_port *p, enum rm_type type, uint64_t seq,
                                  size_t msg_len, size_t off)
{
    size_t len = frag_len(p, msg_len, off);
    struct rte_mbuf *m = rte_pktmbuf_alloc(p->pool);
    if (!m)
        return NULL;
    char *d = rte_pktmbuf_append(m, (uint16_t)(sizeof(struct rm_hdr) + len));
    struct rm_hdr h = {
        .type = type, .msg_len = (uint32_t)msg_len, .seq = seq, .frag_off = (uint32_t)off};
    memcpy(d, &h, sizeof(h));
    memset(d + sizeof(h), 0, len); /* the payload copy a real transport makes */
    return m;
}

/* Hands all n frames to the port, spinning while the ring is full. */
static int tx_all(struct rm_port *p, struct rte_mbuf **m, uint16_t n)
{
    uint16_t done = 0;
    while (done < n) {
        done += rte_eth_tx_burst(p->id, 0, m + done, n - done);
        if (g_stop) {
            rte_pktmbuf_free_bulk(m + done, n - done);
            return -1;
        }
    }
    return 0;
}

/* Sends a whole message of len bytes (one frame without payload when len is 0). */
static int send_msg(struct rm_port *p, enum rm_type type, uint64_t seq, size_t len)
{
    size_t off = 0;
    do {
        struct rte_mbuf *burst[RM_BURST];
        uint16_t n = 0;
        do {
            burst[n] = frame_new(p, type, seq, len, off);
            if (!burst[n])
                break;
            off += frag_len(p, len, off);
            n++;
        } while (n < RM_BURST && off < len);
        if (n == 0 || tx_all(p, burst, n) < 0)
            return -1;
    } while (off < len);
    return 0;
}

/* The header of a received frame and its payload length; NULL for a frame too short to be
 * ours (the caller drops it). */
static const struct rm_hdr *hdr_of(struct rte_mbuf *m, size_t *payload)
{
    if (rte_pktmbuf_data_len(m) < sizeof(struct rm_hdr))
        return NULL;
    *payload = rte_pktmbuf_data_len(m) - sizeof(struct rm_hdr);
    return rte_pktmbuf_mtod(m, const struct rm_hdr *);
}

/* ---- server ------------------------------------------------------------------------- */

static int run_server(struct rm_port *p, const struct rm_opts *o)
{
    bool measuring = false;
    uint64_t t0 = 0, t_last = 0, msgs = 0, bytes = 0;
    uint64_t deadline = bstat_now_ns() + o->timeout_s * 1000000000ull;
    for (unsigned spins = 0; !g_stop; spins++) {
        if ((spins & 0xffff) == 0 && bstat_now_ns() > deadline) {
            fprintf(stderr, "raw-memif: server timeout after %lu s\n", o->timeout_s);
            return 1;
        }
        struct rte_mbuf *rx[RM_BURST];
        uint16_t n = rte_eth_rx_burst(p->id, 0, rx, RM_BURST);
        for (uint16_t i = 0; i < n; i++) {
            size_t len;
            const struct rm_hdr *h = hdr_of(rx[i], &len);
            struct rm_hdr c = h ? *h : (struct rm_hdr){0};
            bool last = h && c.frag_off + len >= c.msg_len;
            rte_pktmbuf_free(rx[i]);
            switch (c.type) {
            case RM_PING:
                if (last && send_msg(p, RM_PONG, c.seq, c.msg_len) < 0)
                    return 1;
                break;
            case RM_DATA:
            case RM_BULK:
                if (measuring) {
                    bytes += len;
                    msgs += last;
                    t_last = bstat_now_ns();
                }
                break;
            case RM_MARK:
                measuring = true;
                msgs = bytes = 0;
                t0 = t_last = bstat_now_ns();
                break;
            case RM_FINISH: {
                /* REPORT: seq = messages, 16 payload bytes = bytes and ns */
                struct rte_mbuf *m = frame_new(p, RM_REPORT, msgs, 16, 0);
                if (!m)
                    return 1;
                uint64_t v[2] = {bytes, t_last - t0};
                memcpy(rte_pktmbuf_mtod(m, char *) + sizeof(struct rm_hdr), v, sizeof(v));
                if (tx_all(p, &m, 1) < 0)
                    return 1;
                measuring = false;
                break;
            }
            case RM_QUIT:
                rte_pktmbuf_free_bulk(rx + i + 1, n - i - 1);
                return 0;
            default:
                break;
            }
        }
    }
    return 0;
}

/* ---- client ------------------------------------------------------------------------- */

/* Polls until the last frame of message (type, seq) arrives; false after 10 s. Frames of
 * other messages are dropped. With report, fills it from a REPORT frame. */
static bool wait_msg(struct rm_port *p, enum rm_type type, uint64_t seq, uint64_t report[3])
{
    uint64_t deadline = bstat_now_ns() + 10 * 1000000000ull;
    for (unsigned spins = 0; !g_stop; spins++) {
        if ((spins & 0xfff) == 0 && bstat_now_ns() > deadline)
            return false;
        struct rte_mbuf *rx[RM_BURST];
        uint16_t n = rte_eth_rx_burst(p->id, 0, rx, RM_BURST);
        bool done = false;
        for (uint16_t i = 0; i < n; i++) {
            size_t len;
            const struct rm_hdr *h = hdr_of(rx[i], &len);
            if (h && h->type == type && (report ? len >= 2 * sizeof(uint64_t) : h->seq == seq) &&
                h->frag_off + len >= h->msg_len) {
                if (report) {
                    report[0] = h->seq;
                    memcpy(report + 1, (const char *)(h + 1), 2 * sizeof(uint64_t));
                }
                done = true;
            }
            rte_pktmbuf_free(rx[i]);
        }
        if (done)
            return true;
    }
    return false;
}

static int test_rtt(struct rm_port *p, const struct rm_opts *o)
{
    struct bstat_samples s;
    if (bstat_init(&s, o->count) < 0)
        return 1;
    uint64_t seq = 0;
    for (int i = 0; i < o->n_sizes; i++) {
        bstat_reset(&s);
        for (unsigned long k = 0; k < o->warmup + o->count && !g_stop; k++) {
            uint64_t t0 = bstat_now_ns();
            if (send_msg(p, RM_PING, ++seq, o->sizes[i]) < 0 || !wait_msg(p, RM_PONG, seq, NULL)) {
                fprintf(stderr, "raw-memif: no PONG %llu\n", (unsigned long long)seq);
                return 1;
            }
            if (k >= o->warmup)
                bstat_add(&s, bstat_now_ns() - t0);
        }
        bstat_report_rtt(&s, o->sizes[i], i == 0 ? o->samples : NULL);
    }
    bstat_free(&s);
    return 0;
}

static int finish(struct rm_port *p, uint64_t r[3])
{
    if (send_msg(p, RM_FINISH, 0, 0) < 0 || !wait_msg(p, RM_REPORT, 0, r)) {
        fprintf(stderr, "raw-memif: no report from the server\n");
        return -1;
    }
    return 0;
}

static int test_stream(struct rm_port *p, const struct rm_opts *o)
{
    for (int i = 0; i < o->n_sizes; i++) {
        uint64_t mark = bstat_now_ns() + o->warmup_ms * 1000000ull, end = UINT64_MAX;
        uint64_t seq = 0, after_mark = 0;
        while (!g_stop) { /* as dd-bench's stream_to: the window counts from the mark */
            uint64_t now = bstat_now_ns();
            if (end == UINT64_MAX && now >= mark) {
                if (send_msg(p, RM_MARK, 0, 0) < 0)
                    return 1;
                end = now + (uint64_t)(o->seconds * 1e9);
            }
            if (now >= end && after_mark >= BSTAT_STREAM_MIN_MSGS)
                break;
            if (send_msg(p, RM_DATA, ++seq, o->sizes[i]) < 0)
                return 1;
            after_mark += end != UINT64_MAX;
        }
        uint64_t r[3];
        if (finish(p, r) < 0)
            return 1;
        bstat_print_stream(o->sizes[i], r[0], r[1], r[2], NULL);
    }
    return 0;
}

/* Bulk frames not yet accepted by the port, kept across loop iterations. */
struct bulk_q {
    struct rte_mbuf *m[RM_BURST];
    uint16_t n;
    uint64_t seq;
    size_t off;
};

static void bulk_offer(struct rm_port *p, struct bulk_q *b, size_t size)
{
    while (b->n < RM_BURST) {
        struct rte_mbuf *m = frame_new(p, RM_BULK, b->seq, size, b->off);
        if (!m)
            break;
        b->m[b->n++] = m;
        b->off += frag_len(p, size, b->off);
        if (b->off >= size) {
            b->off = 0;
            b->seq++;
        }
    }
    uint16_t sent = rte_eth_tx_burst(p->id, 0, b->m, b->n);
    memmove(b->m, b->m + sent, (b->n - sent) * sizeof(b->m[0]));
    b->n -= sent;
}

static int test_under_bulk(struct rm_port *p, const struct rm_opts *o)
{
    struct bstat_samples s;
    if (bstat_init(&s, RM_MAX_SAMPLES) < 0 || send_msg(p, RM_MARK, 0, 0) < 0)
        return 1;
    struct bulk_q b = {.seq = 1};
    uint64_t start = bstat_now_ns(), mark = start + o->warmup_ms * 1000000ull;
    uint64_t end = mark + (uint64_t)(o->seconds * 1e9), seq = 0, t0 = 0;
    bool in_flight = false;
    for (uint64_t now = start; BSTAT_GO_ON(now, end, s.n) && !g_stop; now = bstat_now_ns()) {
        if (!in_flight) {
            struct rte_mbuf *m = frame_new(p, RM_PING, ++seq, 64, 0);
            if (!m || tx_all(p, &m, 1) < 0)
                return 1;
            t0 = bstat_now_ns();
            in_flight = true;
        }
        struct rte_mbuf *rx[RM_BURST];
        uint16_t n = rte_eth_rx_burst(p->id, 0, rx, RM_BURST);
        for (uint16_t i = 0; i < n; i++) {
            size_t len;
            const struct rm_hdr *h = hdr_of(rx[i], &len);
            if (h && h->type == RM_PONG && h->seq == seq) {
                uint64_t t1 = bstat_now_ns();
                if (t0 >= mark)
                    bstat_add(&s, t1 - t0);
                in_flight = false;
            }
            rte_pktmbuf_free(rx[i]);
        }
        bulk_offer(p, &b, o->bulk_size);
    }
    if (b.n)
        tx_all(p, b.m, b.n);
    if (in_flight)
        wait_msg(p, RM_PONG, seq, NULL);
    uint64_t r[3];
    if (finish(p, r) < 0)
        return 1;
    struct bstat_summary sum;
    bstat_summarize(&s, &sum);
    char extra[160];
    snprintf(extra, sizeof(extra), "bulk_size=%zu bulk_msgs=%llu bulk_bytes=%llu bulk_ns=%llu",
             o->bulk_size, (unsigned long long)r[0], (unsigned long long)r[1],
             (unsigned long long)r[2]);
    bstat_print_latency("rtt_under_bulk", 64, &sum, extra);
    if (o->samples)
        bstat_write_samples(o->samples, &s, 20000);
    bstat_free(&s);
    return 0;
}

/* The server cannot transmit until the client has polled after the connection, and the
 * link may come up between our polls: PING (sequence 0) until a PONG comes back, so that the
 * measured exchanges start on a working pair. */
static int sync_with_server(struct rm_port *p)
{
    uint64_t deadline = bstat_now_ns() + RM_LINK_WAIT_S * 1000000000ull;
    while (!g_stop && bstat_now_ns() < deadline) {
        if (send_msg(p, RM_PING, 0, 64) < 0)
            return -1;
        uint64_t until = bstat_now_ns() + 10 * 1000000ull;
        while (bstat_now_ns() < until) {
            struct rte_mbuf *rx[RM_BURST];
            uint16_t n = rte_eth_rx_burst(p->id, 0, rx, RM_BURST);
            bool got = false;
            for (uint16_t i = 0; i < n; i++) {
                size_t len;
                const struct rm_hdr *h = hdr_of(rx[i], &len);
                got |= h && h->type == RM_PONG && h->seq == 0;
                rte_pktmbuf_free(rx[i]);
            }
            if (got)
                return 0;
        }
    }
    fprintf(stderr, "raw-memif: the server does not answer\n");
    return -1;
}

static int run_client(struct rm_port *p, const struct rm_opts *o)
{
    if (sync_with_server(p) < 0)
        return 1;
    int rc = !strcmp(o->test, "rtt")      ? test_rtt(p, o)
             : !strcmp(o->test, "stream") ? test_stream(p, o)
                                          : test_under_bulk(p, o);
    send_msg(p, RM_QUIT, 0, 0);
    return rc;
}

/* ---- EAL and port ------------------------------------------------------------------- */

static int eal_init(const struct rm_opts *o)
{
    static char lcores[16], vdev[512];
    snprintf(lcores, sizeof(lcores), "%lu", o->lcore);
    snprintf(vdev, sizeof(vdev), "net_memif0,role=%s,id=0,socket=%s,socket-abstract=no,bsize=%lu",
             o->server ? "server" : "client", o->socket, o->bsize);
    char *argv[] = {"raw-memif",
                    "-l",
                    lcores,
                    "--no-huge",
                    "-m",
                    "256",
                    "--no-pci",
                    "--no-telemetry",
                    "--log-level",
                    "*:warning",
                    "--file-prefix",
                    (char *)o->prefix,
                    "--vdev",
                    vdev,
                    NULL};
    int argc = (int)(sizeof(argv) / sizeof(argv[0])) - 1;
    if (rte_eal_init(argc, argv) < 0) {
        fprintf(stderr, "raw-memif: rte_eal_init: %s\n", rte_strerror(rte_errno));
        return -1;
    }
    return 0;
}

static int port_init(struct rm_port *p, const struct rm_opts *o)
{
    p->id = 0;
    p->payload_max = o->frame - sizeof(struct rm_hdr);
    p->pool = rte_pktmbuf_pool_create("rm_pool", RM_MBUFS, 256, 0,
                                      (uint16_t)(o->bsize + RTE_PKTMBUF_HEADROOM),
                                      (int)rte_socket_id());
    struct rte_eth_conf conf = {0};
    if (!p->pool || rte_eth_dev_count_avail() < 1 ||
        rte_eth_dev_configure(p->id, 1, 1, &conf) < 0 ||
        rte_eth_rx_queue_setup(p->id, 0, RM_DESC, rte_socket_id(), NULL, p->pool) < 0 ||
        rte_eth_tx_queue_setup(p->id, 0, RM_DESC, rte_socket_id(), NULL) < 0) {
        fprintf(stderr, "raw-memif: port set-up failed: %s\n", rte_strerror(rte_errno));
        return -1;
    }
    int rc = -1;
    for (int attempt = 0; attempt < 100 && rc < 0 && !g_stop; attempt++) {
        rc = rte_eth_dev_start(p->id); /* the client connects here: the server may be late */
        if (rc < 0)
            bstat_sleep_ns(100 * 1000000ull);
    }
    if (rc < 0) {
        fprintf(stderr, "raw-memif: cannot start the port (%d)\n", rc);
        return -1;
    }
    /* the server waits for its client as long as it may live; the client briefly */
    uint64_t wait_s = o->server ? o->timeout_s : RM_LINK_WAIT_S;
    uint64_t deadline = bstat_now_ns() + wait_s * 1000000000ull;
    struct rte_eth_link link = {0};
    while (!g_stop && bstat_now_ns() < deadline) {
        struct rte_mbuf *rx[RM_BURST];
        uint16_t n = rte_eth_rx_burst(p->id, 0, rx, RM_BURST); /* lets the server transmit */
        rte_pktmbuf_free_bulk(rx, n);
        if (rte_eth_link_get_nowait(p->id, &link) == 0 && link.link_status == RTE_ETH_LINK_UP)
            return 0;
        bstat_sleep_ns(1000000);
    }
    fprintf(stderr, "raw-memif: no link within %llu s\n", (unsigned long long)wait_s);
    return -1;
}

/* ---- options ------------------------------------------------------------------------ */

static bool parse_opt(const char *a, const char *v, struct rm_opts *o)
{
    if (!v)
        return false;
    if (!strcmp(a, "-socket"))
        return (o->socket = v)[0] == '/';
    if (!strcmp(a, "-prefix"))
        return (o->prefix = v)[0] != '\0';
    if (!strcmp(a, "-test"))
        return !strcmp(o->test = v, "rtt") || !strcmp(v, "stream") || !strcmp(v, "under-bulk");
    if (!strcmp(a, "-samples"))
        return (o->samples = v) != NULL;
    if (!strcmp(a, "-lcore"))
        return bstat_parse_ulong(v, &o->lcore) && o->lcore < RTE_MAX_LCORE;
    if (!strcmp(a, "-frame"))
        return bstat_parse_ulong(v, &o->frame) && o->frame >= 64 + sizeof(struct rm_hdr);
    if (!strcmp(a, "-bsize"))
        return bstat_parse_ulong(v, &o->bsize) && o->bsize >= 64 + sizeof(struct rm_hdr) &&
               o->bsize <= UINT16_MAX - RTE_PKTMBUF_HEADROOM;
    if (!strcmp(a, "-count"))
        return bstat_parse_ulong(v, &o->count) && o->count > 0;
    if (!strcmp(a, "-warmup"))
        return bstat_parse_ulong(v, &o->warmup);
    if (!strcmp(a, "-warmup-ms"))
        return bstat_parse_ulong(v, &o->warmup_ms);
    if (!strcmp(a, "-timeout"))
        return bstat_parse_ulong(v, &o->timeout_s) && o->timeout_s > 0;
    if (!strcmp(a, "-seconds"))
        return (o->seconds = atof(v)) > 0;
    if (!strcmp(a, "-sizes"))
        return (o->n_sizes = bstat_parse_sizes(v, o->sizes, RM_MAX_SIZES)) > 0;
    if (!strcmp(a, "-bulk-size"))
        return bstat_parse_size(v, &o->bulk_size) && o->bulk_size > 0;
    return false;
}

static int parse_opts(int argc, char **argv, struct rm_opts *o)
{
    *o = (struct rm_opts){.test = "rtt",
                          .frame = 1514,
                          .bsize = 2048,
                          .count = 10000,
                          .warmup = 1000,
                          .warmup_ms = 200,
                          .timeout_s = 120,
                          .seconds = 1,
                          .bulk_size = 64u << 20};
    o->sizes[0] = 64;
    o->n_sizes = 1;
    if (argc < 2 || (strcmp(argv[1], "server") && strcmp(argv[1], "client")))
        return -1;
    o->server = !strcmp(argv[1], "server");
    for (int i = 2; i < argc; i += 2) {
        if (!parse_opt(argv[i], i + 1 < argc ? argv[i + 1] : NULL, o)) {
            fprintf(stderr, "raw-memif: bad option %s %s\n", argv[i],
                    i + 1 < argc ? argv[i + 1] : "");
            return -1;
        }
    }
    if (o->frame > o->bsize) {
        fprintf(stderr, "raw-memif: -frame %lu does not fit a memif buffer of -bsize %lu\n",
                o->frame, o->bsize);
        return -1;
    }
    return o->socket && o->prefix ? 0 : -1;
}

int main(int argc, char **argv)
{
    struct rm_opts o;
    if (parse_opts(argc, argv, &o) < 0) {
        fprintf(stderr,
                "usage: raw-memif server|client -socket PATH -lcore N -prefix P [-frame B]\n"
                "       [-bsize B]\n"
                "       [-timeout S] [-test rtt|stream|under-bulk] [-sizes LIST] [-count N]\n"
                "       [-warmup N] [-seconds S] [-warmup-ms MS] [-bulk-size SIZE]\n"
                "       [-samples FILE]\n");
        return 2;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    alarm((unsigned)o.timeout_s); /* a hard bound on the whole run, stuck or not */
    if (eal_init(&o) < 0)
        return 3;
    printf("# raw-memif %s: EAL up; frames of at most %lu bytes, memif bsize %lu, copy mode\n",
           o.server ? "server" : "client", o.frame, o.bsize);
    fflush(stdout);
    struct rm_port p;
    int rc = port_init(&p, &o) < 0 ? 3 : 0;
    if (rc == 0) {
        printf("# raw-memif %s ready (link up)\n", o.server ? "server" : "client");
        fflush(stdout);
        rc = o.server ? run_server(&p, &o) : run_client(&p, &o);
    }
    rte_eth_dev_stop(p.id);
    rte_eth_dev_close(p.id);
    rte_eal_cleanup();
    return rc;
}
