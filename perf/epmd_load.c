/* epmd-load: PORT_PLEASE2 lookup load against any EPMD (ours or the reference daemon).
 *
 *   epmd-load -port P [-names N] [-clients C] [-seconds S]
 *
 * Registers N names (raw ALIVE2 connections held open for the run), then keeps C lookups in
 * flight for S seconds, each a full EPMD exchange (connect, PORT_PLEASE2_REQ, read the reply
 * to EOF, close), for names spread over all N. Prints one line:
 *   lookups=<count> seconds=<s> rate=<lookups/s> errors=<n> names=<N>
 * Used by perf/epmd-bench, which runs it against both daemons in the same run. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "control/epmd/epmd_codec.h"

struct lookup {
    int fd;
    size_t sent, got;
    size_t req_len;
    uint8_t req[64];
    uint8_t resp[64];
};

static int tcp_connect(uint16_t port, bool nonblock)
{
    int fd = socket(AF_INET, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

static int register_names(uint16_t port, int n, int *fds)
{
    for (int i = 0; i < n; i++) {
        char name[32];
        int len = snprintf(name, sizeof(name), "load%d", i);
        struct epmd_node_rec rec = {.port = (uint16_t)(10000 + i % 50000), .node_type = 77,
                                    .high_vsn = 6, .low_vsn = 5,
                                    .name = (const uint8_t *)name, .name_len = (uint16_t)len};
        uint8_t req[128];
        size_t rl = epmd_build_alive2_req(req, sizeof(req), &rec);
        fds[i] = tcp_connect(port, false);
        if (fds[i] < 0 || write(fds[i], req, rl) != (ssize_t)rl) {
            fprintf(stderr, "epmd-load: registration %d: %s\n", i, strerror(errno));
            return -1;
        }
    }
    for (int i = 0; i < n; i++) {
        uint8_t r[8];
        size_t got = 0;
        while (got < 6) {
            ssize_t k = read(fds[i], r + got, sizeof(r) - got);
            if (k <= 0)
                break;
            got += (size_t)k;
            if (got >= 4 && r[0] == 'y')
                break;
        }
        if (got < 4 || r[1] != 0) {
            fprintf(stderr, "epmd-load: registration %d refused (%zu bytes of reply)\n", i, got);
            return -1;
        }
    }
    return 0;
}

static void start_lookup(int ep, struct lookup *l, uint16_t port, int names, unsigned *seed)
{
    char name[32];
    int len = snprintf(name, sizeof(name), "load%d", names ? (int)(rand_r(seed) % names) : 0);
    l->req_len = epmd_build_port2_req(l->req, sizeof(l->req), (const uint8_t *)name, (size_t)len);
    l->sent = l->got = 0;
    l->fd = tcp_connect(port, true);
    if (l->fd < 0)
        return;
    struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.ptr = l};
    epoll_ctl(ep, EPOLL_CTL_ADD, l->fd, &ev);
}

int main(int argc, char **argv)
{
    uint16_t port = 0;
    int names = 100, clients = 16;
    double seconds = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-port"))
            port = (uint16_t)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-names"))
            names = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-clients"))
            clients = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-seconds"))
            seconds = atof(argv[i + 1]);
    }
    if (!port || names < 1 || clients < 1 || clients > 4096) {
        fprintf(stderr, "usage: epmd-load -port P [-names N] [-clients C] [-seconds S]\n");
        return 2;
    }
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    int *regs = calloc((size_t)names, sizeof(int));
    if (register_names(port, names, regs) < 0) {
        fprintf(stderr, "epmd-load: could not register %d names\n", names);
        return 1;
    }
    int ep = epoll_create1(0);
    struct lookup *ls = calloc((size_t)clients, sizeof(*ls));
    unsigned seed = 12345;
    uint64_t t0 = clock_now_ns(), end = t0 + (uint64_t)(seconds * 1e9);
    unsigned long done = 0, errors = 0;
    for (int i = 0; i < clients; i++)
        start_lookup(ep, &ls[i], port, names, &seed);
    struct epoll_event evs[256];
    while (clock_now_ns() < end) {
        int n = epoll_wait(ep, evs, 256, 100);
        for (int i = 0; i < n; i++) {
            struct lookup *l = evs[i].data.ptr;
            bool finished = false, failed = false;
            if (l->sent < l->req_len && (evs[i].events & EPOLLOUT)) {
                ssize_t w = send(l->fd, l->req + l->sent, l->req_len - l->sent, MSG_NOSIGNAL);
                if (w > 0)
                    l->sent += (size_t)w;
                else if (errno != EAGAIN)
                    failed = true;
                if (l->sent == l->req_len) {
                    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = l};
                    epoll_ctl(ep, EPOLL_CTL_MOD, l->fd, &ev);
                }
            }
            if (!failed && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
                ssize_t r = recv(l->fd, l->resp + l->got, sizeof(l->resp) - l->got, 0);
                if (r > 0)
                    l->got += (size_t)r;
                else if (r == 0)
                    finished = true;
                else if (errno != EAGAIN)
                    failed = true;
            }
            if (finished || failed) {
                bool ok = finished && l->got >= 2 && l->resp[0] == 'w' && l->resp[1] == 0;
                done += ok;
                errors += !ok;
                close(l->fd);
                start_lookup(ep, l, port, names, &seed);
            }
        }
    }
    double secs = (double)(clock_now_ns() - t0) / 1e9;
    printf("lookups=%lu seconds=%.2f rate=%.0f errors=%lu names=%d\n", done, secs,
           (double)done / secs, errors, names);
    for (int i = 0; i < names; i++)
        close(regs[i]);
    return errors > done / 100 ? 1 : 0;
}
