/* The distribution listener: binding it (a port range, dual-stack by default) and accepting
 * connections, which become handshaking sockets (hsio.c) unless the handshake guard
 * (hsguard.h) refuses or holds them. Control thread, except listen_open (node_start). */
#include "runtime/carrier_tcp/listen.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "runtime/carrier_tcp/hsio.h"
#include "runtime/carrier_tcp/tcpc.h"
#include "runtime/core/node.h"

#define LISTEN_ANY_DUAL          "::"      /* IPv6 and IPv4 (IPV6_V6ONLY off) */
#define LISTEN_ANY_V4            "0.0.0.0" /* a kernel without IPv6 */
#define LISTEN_BACKLOG           128
#define LISTEN_ACCEPTS_PER_EVENT 16

/* Binds and listens on addr, on the first free port of lo..hi (any
 * port when lo is 0). Returns the socket, or -1 with errno and the message in err. */
static int listen_on(const char *addr, unsigned lo, unsigned hi, char *err, size_t errlen)
{
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(addr, "0", &hints, &res);
    if (gai != 0) {
        snprintf(err, errlen, "listen address %s: %s", addr, gai_strerror(gai));
        errno = EINVAL;
        return -1;
    }
    int fd = -1, e = 0;
    for (unsigned port = lo; port <= hi && fd < 0; port++) {
        fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
            e = errno;
            break;
        }
        int one = 1, zero = 0;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (res->ai_family == AF_INET6) /* "::" takes IPv4 too */
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
        struct sockaddr_storage ss;
        memcpy(&ss, res->ai_addr, res->ai_addrlen);
        if (ss.ss_family == AF_INET6)
            ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
        else
            ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
        if (bind(fd, (struct sockaddr *)&ss, res->ai_addrlen) < 0 ||
            listen(fd, LISTEN_BACKLOG) < 0) {
            e = errno;
            close(fd);
            fd = -1;
            if (!lo || e != EADDRINUSE)
                break;
        }
        if (!lo)
            break;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        if (lo && e == EADDRINUSE)
            snprintf(err, errlen, "no free listen port on %s in %u..%u", addr, lo, hi);
        else
            snprintf(err, errlen, "cannot listen on %s: %s", addr, strerror(e));
        errno = e;
    }
    return fd;
}

/* The distribution listener. Without a listen address: "::" with IPV6_V6ONLY off (IPv4 and
 * IPv6 peers alike), or 0.0.0.0 on a kernel without IPv6 (ipv6.disable=1: no AF_INET6
 * sockets). With net.ipv6.conf.*.disable_ipv6 set, "::" still binds and takes IPv4. */
int listen_open(struct dd_node *n, const struct dd_node_cfg *cfg, char *err, size_t errlen)
{
    unsigned lo = cfg->listen_port_min, hi = cfg->listen_port_max;
    if (lo && !hi)
        hi = lo;
    if (hi < lo) {
        snprintf(err, errlen, "listen port range %u..%u is empty", lo, hi);
        return -1;
    }
    const char *addr = cfg->listen_address;
    int fd;
    if (addr) {
        fd = listen_on(addr, lo, hi, err, errlen);
    } else {
        addr = LISTEN_ANY_DUAL;
        fd = listen_on(addr, lo, hi, err, errlen);
        if (fd < 0 && errno == EAFNOSUPPORT) {
            DLOG_INFO(n->log_name, "this kernel has no IPv6: listening on IPv4 only");
            addr = LISTEN_ANY_V4;
            fd = listen_on(addr, lo, hi, err, errlen);
        }
    }
    if (fd < 0)
        return -1;
    struct sockaddr_storage got;
    socklen_t gl = sizeof(got);
    getsockname(fd, (struct sockaddr *)&got, &gl);
    n->listen_port = ntohs(got.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&got)->sin6_port
                                                     : ((struct sockaddr_in *)&got)->sin_port);
    snprintf(n->listen_address, sizeof(n->listen_address), "%s", addr);
    n->tcp->listen_fd = fd;
    return 0;
}

static void listen_accept(struct dd_node *n)
{
    for (int i = 0; i < LISTEN_ACCEPTS_PER_EVENT; i++) {
        struct sockaddr_storage sa;
        socklen_t sl = sizeof(sa);
        int fd = accept4(n->tcp->listen_fd, (struct sockaddr *)&sa, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
                DLOG_WARN(n->log_name, "accept: %s", strerror(errno));
            return;
        }
        /* An address with failed handshakes on record: one attempt at a time, held unread
         * until its delay is over (hsguard.h). Counted and summarised, not logged here. */
        struct hsg_addr src;
        bool known = hsg_addr_from_sockaddr(&src, (struct sockaddr *)&sa, sl);
        uint32_t token = 0;
        uint64_t until = 0;
        enum hsg_verdict v =
            known ? hsg_accept(&n->tcp->hsguard, &src, clock_now_ms(), &token, &until) : HSG_ADMIT;
        if (v == HSG_REFUSE) {
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (!hsio_accepted(n, fd, known ? &src : NULL, token, v == HSG_HOLD ? until : 0)) {
            hsg_done(&n->tcp->hsguard, &src, token);
            close(fd);
        }
    }
}

static void listen_event(struct ctl_item *it, uint32_t events)
{
    (void)events;
    listen_accept(((struct tcpc_node *)((char *)it - offsetof(struct tcpc_node, listen_item)))->node);
}

int listen_register(struct dd_node *n)
{
    n->tcp->listen_item.on_event = listen_event;
    return ctl_add_fd(n, n->tcp->listen_fd, EPOLLIN, &n->tcp->listen_item);
}
