/* raw-tcp: bare TCP on loopback, the kernel-socket floor under the TCP transports.
 *
 *   raw-tcp server -port P [-busy-poll] [-timeout S]
 *   raw-tcp client -port P -test rtt|stream|under-bulk [-sizes LIST] [-count N] [-warmup N]
 *                  [-seconds S] [-warmup-ms MS] [-bulk-size SIZE] [-samples FILE] [-busy-poll]
 *
 * One connection, messages framed as an 8-byte header (32-bit payload length, big-endian;
 * one type byte; three zero bytes) and the payload; TCP_NODELAY on both ends.
 *   rtt:        PING of SIZE bytes, the server answers PONG with the same payload; one in
 *               flight; -warmup round trips first, then -count timed ones (per size).
 *   stream:     DATA messages of SIZE bytes as fast as the socket takes them for -seconds
 *               (after -warmup-ms unmeasured), then FINISH; the server counts what it received
 *               between the MARK and the last DATA and answers REPORT (per size).
 *   under-bulk: rtt of 64-byte PINGs for -seconds while a second thread writes BULK messages
 *               of -bulk-size on the same connection (whole messages under one lock, as one
 *               byte stream must: a PING waits for the BULK being written).
 * -busy-poll: receive with non-blocking recv() in a loop instead of sleeping in recv().
 * The server serves one client, then exits (or after -timeout seconds without one).
 * Result lines: perf/bench_stats.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "perf/bench_stats.h"

enum rtcp_type {
    RTCP_PING = 1,
    RTCP_PONG = 2,
    RTCP_DATA = 3,
    RTCP_MARK = 4,
    RTCP_FINISH = 5,
    RTCP_REPORT = 6,
    RTCP_BULK = 7,
};

#define RTCP_HDR         8
#define RTCP_MAX_SIZES   16
#define RTCP_CHUNK       (1u << 20)
#define RTCP_MAX_SAMPLES (4u << 20)

struct rtcp_opts {
    bool server;
    uint16_t port;
    const char *test;
    size_t sizes[RTCP_MAX_SIZES];
    int n_sizes;
    unsigned long count, warmup;
    double seconds;
    unsigned long warmup_ms;
    size_t bulk_size;
    const char *samples;
    bool busy_poll;
    unsigned long timeout_s;
};

static bool g_busy_poll;

static int write_all(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len) {
        ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

static int read_all(int fd, void *buf, size_t len)
{
    uint8_t *p = buf;
    while (len) {
        ssize_t r = recv(fd, p, len, g_busy_poll ? MSG_DONTWAIT : 0);
        if (r < 0 && (errno == EINTR || (g_busy_poll && errno == EAGAIN)))
            continue;
        if (r <= 0)
            return -1;
        p += r;
        len -= (size_t)r;
    }
    return 0;
}

static void put_hdr(uint8_t *h, uint32_t len, enum rtcp_type type)
{
    uint32_t be = htonl(len);
    memcpy(h, &be, 4);
    h[4] = (uint8_t)type;
    h[5] = h[6] = h[7] = 0;
}

static int read_hdr(int fd, uint32_t *len, enum rtcp_type *type)
{
    uint8_t h[RTCP_HDR];
    if (read_all(fd, h, sizeof(h)) < 0)
        return -1;
    uint32_t be;
    memcpy(&be, h, 4);
    *len = ntohl(be);
    *type = (enum rtcp_type)h[4];
    return 0;
}

/* Sends header + payload (the payload buffer has RTCP_HDR bytes of room before it). */
static int send_msg(int fd, uint8_t *frame, uint32_t len, enum rtcp_type type)
{
    put_hdr(frame, len, type);
    return write_all(fd, frame, RTCP_HDR + (size_t)len);
}

static void set_nodelay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* ---- server ------------------------------------------------------------------------- */

static int serve(int fd)
{
    size_t cap = RTCP_HDR + RTCP_CHUNK;
    uint8_t *buf = malloc(cap);
    if (!buf)
        return -1;
    bool measuring = false;
    uint64_t t0 = 0, t_last = 0, msgs = 0, bytes = 0;
    for (;;) {
        uint32_t len;
        enum rtcp_type type;
        if (read_hdr(fd, &len, &type) < 0)
            break; /* the client closed: done */
        if (type == RTCP_PING) {
            if (RTCP_HDR + (size_t)len > cap) {
                uint8_t *p = realloc(buf, RTCP_HDR + (size_t)len);
                if (!p)
                    break;
                buf = p;
                cap = RTCP_HDR + (size_t)len;
            }
            if (read_all(fd, buf + RTCP_HDR, len) < 0 || send_msg(fd, buf, len, RTCP_PONG) < 0)
                break;
            continue;
        }
        for (uint32_t left = len; left;) { /* DATA, BULK, MARK, FINISH: consume the payload */
            uint32_t k = left < RTCP_CHUNK ? left : RTCP_CHUNK;
            if (read_all(fd, buf, k) < 0)
                goto out;
            left -= k;
        }
        uint64_t now = bstat_now_ns();
        if (type == RTCP_MARK) {
            measuring = true;
            t0 = t_last = now;
            msgs = bytes = 0;
        } else if ((type == RTCP_DATA || type == RTCP_BULK) && measuring) {
            msgs++;
            bytes += len;
            t_last = now;
        } else if (type == RTCP_FINISH) {
            uint64_t r[3] = {msgs, bytes, t_last - t0};
            memcpy(buf + RTCP_HDR, r, sizeof(r));
            if (send_msg(fd, buf, sizeof(r), RTCP_REPORT) < 0)
                break;
            measuring = false;
        }
    }
out:
    free(buf);
    return 0;
}

static int run_server(const struct rtcp_opts *o)
{
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons(o->port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(ls, 4) < 0) {
        fprintf(stderr, "raw-tcp: listen on port %u: %s\n", o->port, strerror(errno));
        return 1;
    }
    printf("# raw-tcp server ready on port %u\n", o->port);
    fflush(stdout);
    struct pollfd p = {.fd = ls, .events = POLLIN};
    int rc = poll(&p, 1, (int)(o->timeout_s * 1000));
    if (rc <= 0) {
        fprintf(stderr, "raw-tcp: no client within %lu s\n", o->timeout_s);
        return 1;
    }
    int fd = accept(ls, NULL, NULL);
    close(ls);
    if (fd < 0)
        return 1;
    set_nodelay(fd);
    serve(fd);
    close(fd);
    return 0;
}

/* ---- client ------------------------------------------------------------------------- */

static int connect_to(uint16_t port)
{
    for (int attempt = 0; attempt < 100; attempt++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET,
                                 .sin_port = htons(port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
            set_nodelay(fd);
            return fd;
        }
        if (fd >= 0)
            close(fd);
        bstat_sleep_ns(50 * 1000000ull);
    }
    fprintf(stderr, "raw-tcp: cannot connect to port %u\n", port);
    return -1;
}

/* One round trip of a PING with len payload bytes; the reply lands in frame too. */
static int round_trip(int fd, uint8_t *frame, uint32_t len, pthread_mutex_t *wlock)
{
    if (wlock)
        pthread_mutex_lock(wlock);
    int rc = send_msg(fd, frame, len, RTCP_PING);
    if (wlock)
        pthread_mutex_unlock(wlock);
    uint32_t rlen;
    enum rtcp_type type;
    if (rc < 0 || read_hdr(fd, &rlen, &type) < 0 || type != RTCP_PONG || rlen != len ||
        read_all(fd, frame + RTCP_HDR, rlen) < 0)
        return -1;
    return 0;
}

static int test_rtt(int fd, const struct rtcp_opts *o)
{
    struct bstat_samples s;
    if (bstat_init(&s, o->count) < 0)
        return -1;
    for (int i = 0; i < o->n_sizes; i++) {
        size_t size = o->sizes[i];
        uint8_t *frame = calloc(1, RTCP_HDR + size);
        if (!frame)
            return -1;
        bstat_reset(&s);
        for (unsigned long k = 0; k < o->warmup + o->count; k++) {
            uint64_t t0 = bstat_now_ns();
            if (round_trip(fd, frame, (uint32_t)size, NULL) < 0) {
                fprintf(stderr, "raw-tcp: round trip failed\n");
                return -1;
            }
            if (k >= o->warmup)
                bstat_add(&s, bstat_now_ns() - t0);
        }
        bstat_report_rtt(&s, size, i == 0 ? o->samples : NULL);
        free(frame);
    }
    bstat_free(&s);
    return 0;
}

static int finish_report(int fd, uint8_t *frame, uint64_t r[3])
{
    uint32_t len;
    enum rtcp_type type;
    if (send_msg(fd, frame, 0, RTCP_FINISH) < 0 || read_hdr(fd, &len, &type) < 0 ||
        type != RTCP_REPORT || len != 3 * sizeof(uint64_t) ||
        read_all(fd, frame + RTCP_HDR, len) < 0)
        return -1;
    memcpy(r, frame + RTCP_HDR, 3 * sizeof(uint64_t));
    return 0;
}

static int test_stream(int fd, const struct rtcp_opts *o)
{
    for (int i = 0; i < o->n_sizes; i++) {
        size_t size = o->sizes[i];
        uint8_t *frame = calloc(1, RTCP_HDR + size);
        if (!frame)
            return -1;
        uint64_t mark = bstat_now_ns() + o->warmup_ms * 1000000ull, end = UINT64_MAX;
        uint64_t after_mark = 0;
        for (;;) { /* as dd-bench's stream_to: the window counts from the mark */
            uint64_t now = bstat_now_ns();
            if (end == UINT64_MAX && now >= mark) {
                if (send_msg(fd, frame, 0, RTCP_MARK) < 0)
                    return -1;
                end = now + (uint64_t)(o->seconds * 1e9);
            }
            if (now >= end && after_mark >= BSTAT_STREAM_MIN_MSGS)
                break;
            if (send_msg(fd, frame, (uint32_t)size, RTCP_DATA) < 0)
                return -1;
            after_mark += end != UINT64_MAX;
        }
        uint64_t r[3];
        if (finish_report(fd, frame, r) < 0) {
            fprintf(stderr, "raw-tcp: no report from the server\n");
            return -1;
        }
        bstat_print_stream(size, r[0], r[1], r[2], NULL);
        free(frame);
    }
    return 0;
}

struct bulk_ctx {
    int fd;
    size_t size;
    pthread_mutex_t *wlock;
    atomic_bool stop;
    uint64_t sent;
};

static void *bulk_main(void *arg)
{
    struct bulk_ctx *b = arg;
    uint8_t *frame = calloc(1, RTCP_HDR + b->size);
    if (!frame)
        return NULL;
    while (!atomic_load(&b->stop)) {
        pthread_mutex_lock(b->wlock);
        int rc = send_msg(b->fd, frame, (uint32_t)b->size, RTCP_BULK);
        pthread_mutex_unlock(b->wlock);
        if (rc < 0)
            break;
        b->sent++;
    }
    free(frame);
    return NULL;
}

static int test_under_bulk(int fd, const struct rtcp_opts *o)
{
    pthread_mutex_t wlock = PTHREAD_MUTEX_INITIALIZER;
    uint8_t *frame = calloc(1, RTCP_HDR + 64);
    struct bstat_samples s;
    if (!frame || bstat_init(&s, RTCP_MAX_SAMPLES) < 0)
        return -1;
    if (send_msg(fd, frame, 0, RTCP_MARK) < 0)
        return -1;
    struct bulk_ctx b = {.fd = fd, .size = o->bulk_size, .wlock = &wlock};
    pthread_t th;
    if (pthread_create(&th, NULL, bulk_main, &b) != 0)
        return -1;
    uint64_t start = bstat_now_ns(), mark = start + o->warmup_ms * 1000000ull;
    uint64_t end = mark + (uint64_t)(o->seconds * 1e9);
    int rc = 0;
    for (uint64_t now = start; BSTAT_GO_ON(now, end, s.n); now = bstat_now_ns()) {
        uint64_t t0 = bstat_now_ns();
        if (round_trip(fd, frame, 64, &wlock) < 0) {
            rc = -1;
            break;
        }
        if (t0 >= mark)
            bstat_add(&s, bstat_now_ns() - t0);
    }
    atomic_store(&b.stop, true);
    pthread_join(th, NULL);
    uint64_t r[3] = {0, 0, 0};
    if (rc == 0 && finish_report(fd, frame, r) < 0)
        rc = -1;
    struct bstat_summary sum;
    bstat_summarize(&s, &sum);
    char extra[128];
    snprintf(extra, sizeof(extra), "bulk_size=%zu bulk_msgs=%llu bulk_bytes=%llu bulk_ns=%llu",
             o->bulk_size, (unsigned long long)r[0], (unsigned long long)r[1],
             (unsigned long long)r[2]);
    bstat_print_latency("rtt_under_bulk", 64, &sum, extra);
    if (o->samples)
        bstat_write_samples(o->samples, &s, 20000);
    bstat_free(&s);
    free(frame);
    return rc;
}

static int run_client(const struct rtcp_opts *o)
{
    int fd = connect_to(o->port);
    if (fd < 0)
        return 1;
    int rc;
    if (!strcmp(o->test, "rtt"))
        rc = test_rtt(fd, o);
    else if (!strcmp(o->test, "stream"))
        rc = test_stream(fd, o);
    else
        rc = test_under_bulk(fd, o);
    close(fd);
    return rc < 0 ? 1 : 0;
}

/* ---- options ------------------------------------------------------------------------ */

static int usage(void)
{
    fprintf(stderr,
            "usage: raw-tcp server -port P [-busy-poll] [-timeout S]\n"
            "       raw-tcp client -port P -test rtt|stream|under-bulk [-sizes LIST] [-count N]\n"
            "               [-warmup N] [-seconds S] [-warmup-ms MS] [-bulk-size SIZE]\n"
            "               [-samples FILE] [-busy-poll]\n");
    return 2;
}

/* One option with its value; false if unknown or malformed. */
static bool parse_opt(const char *a, const char *v, struct rtcp_opts *o)
{
    unsigned long x;
    if (!v)
        return false;
    if (!strcmp(a, "-port")) {
        o->port = (uint16_t)(bstat_parse_ulong(v, &x) && x < 65536 ? x : 0);
        return o->port != 0;
    }
    if (!strcmp(a, "-test")) {
        o->test = v;
        return !strcmp(v, "rtt") || !strcmp(v, "stream") || !strcmp(v, "under-bulk");
    }
    if (!strcmp(a, "-sizes"))
        return (o->n_sizes = bstat_parse_sizes(v, o->sizes, RTCP_MAX_SIZES)) > 0;
    if (!strcmp(a, "-count"))
        return bstat_parse_ulong(v, &o->count) && o->count > 0;
    if (!strcmp(a, "-warmup"))
        return bstat_parse_ulong(v, &o->warmup);
    if (!strcmp(a, "-seconds"))
        return (o->seconds = atof(v)) > 0;
    if (!strcmp(a, "-warmup-ms"))
        return bstat_parse_ulong(v, &o->warmup_ms);
    if (!strcmp(a, "-bulk-size"))
        return bstat_parse_size(v, &o->bulk_size) && o->bulk_size > 0;
    if (!strcmp(a, "-samples")) {
        o->samples = v;
        return true;
    }
    if (!strcmp(a, "-timeout"))
        return bstat_parse_ulong(v, &o->timeout_s) && o->timeout_s > 0;
    return false;
}

static int parse_opts(int argc, char **argv, struct rtcp_opts *o)
{
    *o = (struct rtcp_opts){.test = "rtt",
                            .count = 10000,
                            .warmup = 1000,
                            .seconds = 1,
                            .warmup_ms = 200,
                            .bulk_size = 64u << 20,
                            .timeout_s = 60};
    o->sizes[0] = 64;
    o->n_sizes = 1;
    if (argc < 2 || (strcmp(argv[1], "server") && strcmp(argv[1], "client")))
        return -1;
    o->server = !strcmp(argv[1], "server");
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "-busy-poll")) {
            o->busy_poll = true;
            continue;
        }
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!parse_opt(argv[i], v, o)) {
            fprintf(stderr, "raw-tcp: bad option %s %s\n", argv[i], v ? v : "");
            return -1;
        }
        i++;
    }
    for (int i = 0; i < o->n_sizes; i++)
        if (o->sizes[i] > UINT32_MAX - RTCP_HDR)
            return -1;
    return o->port ? 0 : -1;
}

int main(int argc, char **argv)
{
    struct rtcp_opts o;
    if (parse_opts(argc, argv, &o) < 0)
        return usage();
    signal(SIGPIPE, SIG_IGN);
    g_busy_poll = o.busy_poll;
    return o.server ? run_server(&o) : run_client(&o);
}
