/* dd_stress role `stream`: test messages streamed to a peer until it goes down (the peer is
 * killed by the script: tests/fault/kill_memif.sh).
 *
 *   stream --to NODE [--size BYTES] [--senders N] [--duration S]
 *
 * Connects (and expects DPDK), subscribes to node events, prints
 * `RESULT stream phase=connect connected=1 carrier=dpdk`, then N sender threads send
 * messages of BYTES (default 1024) to the peer's `stress` mailbox back to back, until the
 * peer's nodedown arrives or --duration seconds (default 30) have passed. A sender stops as
 * soon as the peer has no connection any more (a send would dial it again). Ends with
 * `RESULT stream nodedown=0|1 sent=N nodedown_wall_ns=T`, then the data-plane summary (stderr).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/dataplane/stress.h"

#define STREAM_MAX_SENDERS 8

struct stream_sender {
    unsigned idx;
    dd_mbox *mb;
    pthread_t thread;
};

static const char *g_to;
static uint32_t g_size = 1024;
static _Atomic bool g_done;
static _Atomic uint64_t g_sent;

static void *stream_sender_main(void *arg)
{
    struct stream_sender *s = arg;
    uint8_t *buf = malloc((size_t)g_size + STRESS_TERM_HDR);
    if (!buf)
        return NULL;
    struct stress_hdr h = {.sender = s->idx, .kind = STRESS_DATA, .salt = 1};
    while (!atomic_load(&g_done) && !g_stress_stop &&
           dd_node_carrier(g_stress.node, g_to) != DD_CARRIER_NONE) {
        size_t len = stress_build(buf, g_size, &h);
        if (dd_send_reg(s->mb, STRESS_NAME, g_to, buf, len) != DD_OK)
            break;
        h.seq++;
        atomic_fetch_add(&g_sent, 1);
    }
    free(buf);
    return NULL;
}

int stress_stream_main(int argc, char **argv)
{
    unsigned senders = 2, duration_s = 30;
    for (int i = 0; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--to"))
            g_to = argv[i + 1];
        else if (!strcmp(argv[i], "--size"))
            g_size = (uint32_t)strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--senders"))
            senders = (unsigned)strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--duration"))
            duration_s = (unsigned)strtoul(argv[i + 1], NULL, 10);
    }
    if (!g_to || g_size < STRESS_MIN_SIZE || senders < 1 || senders > STREAM_MAX_SENDERS) {
        fprintf(stderr, "stream: bad options\n");
        return 2;
    }
    dd_mbox *mb;
    if (dd_mbox_open(g_stress.node, "stream", 0, &mb) != DD_OK)
        return 1;
    dd_monitor_nodes(mb, true);
    int rc = DD_ENOCONN;
    for (int i = 0; i < 100 && rc != DD_OK && !g_stress_stop; i++) {
        rc = dd_connect(g_stress.node, g_to, 5000);
        if (rc != DD_OK)
            usleep(200000);
    }
    bool dpdk = rc == DD_OK && stress_wait_dpdk(g_to, 10000);
    printf("RESULT stream phase=connect connected=%d carrier=%s\n", rc == DD_OK,
           dpdk ? "dpdk" : "other");
    if (!dpdk) {
        dd_mbox_close(mb);
        return 1;
    }
    struct stream_sender s[STREAM_MAX_SENDERS];
    for (unsigned i = 0; i < senders; i++) {
        s[i].idx = i;
        if (dd_mbox_open(g_stress.node, NULL, 0, &s[i].mb) != DD_OK ||
            pthread_create(&s[i].thread, NULL, stream_sender_main, &s[i]) != 0) {
            fprintf(stderr, "stream: cannot start sender %u\n", i);
            return 1;
        }
    }
    bool down = false;
    uint64_t down_wall = 0, end = stress_now_ns() + (uint64_t)duration_s * 1000000000ull;
    while (!down && !g_stress_stop && stress_now_ns() < end) {
        dd_msg *m;
        if (stress_recv(mb, &m, 100) != DD_OK)
            continue;
        if (m->kind == DD_MSG_NODEDOWN) { /* the only node this one is connected to */
            down = true;
            down_wall = stress_wall_ns();
        }
        dd_msg_free(m);
    }
    atomic_store(&g_done, true);
    for (unsigned i = 0; i < senders; i++) {
        pthread_join(s[i].thread, NULL);
        dd_mbox_close(s[i].mb);
    }
    printf("RESULT stream nodedown=%d sent=%llu nodedown_wall_ns=%llu\n", down,
           (unsigned long long)atomic_load(&g_sent), (unsigned long long)down_wall);
    dd_mbox_close(mb);
    if (dd_dataplane_summary(g_stress.node, stderr) != DD_OK)
        fprintf(stderr, "no data plane\n");
    return 0;
}
