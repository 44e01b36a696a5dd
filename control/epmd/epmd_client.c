/* EPMD client: see epmd_client.h. */
#include "control/epmd/epmd_client.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"

static int remaining_ms(uint64_t deadline)
{
    uint64_t now = clock_now_ms();
    return now >= deadline ? 0 : (int)(deadline - now);
}

/* Non-blocking connect bounded by the deadline; returns a blocking socket. */
static int connect_addr(const struct sockaddr *sa, socklen_t len, uint64_t deadline)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, sa, len) < 0) {
        if (errno != EINPROGRESS) {
            int e = errno;
            close(fd);
            return -e;
        }
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int r = poll(&p, 1, remaining_ms(deadline));
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        if (r <= 0) {
            close(fd);
            return r == 0 ? -ETIMEDOUT : -errno;
        }
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
        if (soerr) {
            close(fd);
            return -soerr;
        }
    }
    int fl = fcntl(fd, F_GETFL, 0);
    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

int epmd_client_connect(const char *host, uint16_t port, int timeout_ms)
{
    uint64_t deadline = clock_now_ms() + (uint64_t)timeout_ms;
    if (!host) {
        struct sockaddr_in6 s6 = {.sin6_family = AF_INET6, .sin6_port = htons(port),
                                  .sin6_addr = IN6ADDR_LOOPBACK_INIT};
        int fd = connect_addr((struct sockaddr *)&s6, sizeof(s6), deadline);
        if (fd >= 0)
            return fd;
        struct sockaddr_in s4 = {.sin_family = AF_INET, .sin_port = htons(port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        return connect_addr((struct sockaddr *)&s4, sizeof(s4), deadline);
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    char portstr[8];
    snprintf(portstr, sizeof(portstr), "%u", port);
    if (getaddrinfo(host, portstr, &hints, &res) != 0)
        return -EHOSTUNREACH;
    int fd = -ECONNREFUSED;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = connect_addr(ai->ai_addr, ai->ai_addrlen, deadline);
        if (fd >= 0)
            break;
    }
    freeaddrinfo(res);
    return fd;
}

static int send_all(int fd, const uint8_t *buf, size_t len)
{
    while (len) {
        ssize_t w = send(fd, buf, len, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        buf += w;
        len -= (size_t)w;
    }
    return 0;
}

/* One recv bounded by the deadline: >0 bytes, 0 on EOF, negative errno. */
static ssize_t recv_some(int fd, uint8_t *buf, size_t cap, uint64_t deadline)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    for (;;) {
        int r = poll(&p, 1, remaining_ms(deadline));
        if (r == 0)
            return -ETIMEDOUT;
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        ssize_t n = recv(fd, buf, cap, 0);
        if (n < 0 && errno == EINTR)
            continue;
        return n < 0 ? -errno : n;
    }
}

/* Reads until EOF (or cap), returns bytes read or a negative errno. */
static ssize_t recv_until_eof(int fd, uint8_t *buf, size_t cap, uint64_t deadline)
{
    size_t got = 0;
    while (got < cap) {
        ssize_t n = recv_some(fd, buf + got, cap - got, deadline);
        if (n < 0)
            return n;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

int epmd_client_names(const char *host, uint16_t port, bool dump, int timeout_ms,
                      uint32_t *epmd_port, char **text, size_t *text_len)
{
    uint64_t deadline = clock_now_ms() + (uint64_t)timeout_ms;
    int fd = epmd_client_connect(host, port, timeout_ms);
    if (fd < 0)
        return fd;
    uint8_t req[3];
    epmd_build_simple_req(req, sizeof(req), dump ? EPMD_DUMP_REQ : EPMD_NAMES_REQ);
    int rc = send_all(fd, req, sizeof(req));
    size_t cap = 4096, got = 0;
    uint8_t *buf = malloc(cap);
    if (!buf)
        rc = -ENOMEM;
    while (rc == 0) {
        if (got == cap) {
            uint8_t *p = realloc(buf, cap * 2);
            if (!p) {
                rc = -ENOMEM;
                break;
            }
            buf = p;
            cap *= 2;
        }
        ssize_t n = recv_some(fd, buf + got, cap - got, deadline);
        if (n < 0)
            rc = (int)n;
        else if (n == 0)
            break;
        else
            got += (size_t)n;
    }
    close(fd);
    if (rc == 0 && got < 4)
        rc = -EPROTO;
    if (rc < 0) {
        free(buf);
        return rc;
    }
    *epmd_port = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | (uint32_t)buf[2] << 8 | buf[3];
    *text_len = got - 4;
    memmove(buf, buf + 4, got - 4);
    buf[got - 4] = '\0'; /* got - 4 < cap */
    *text = (char *)buf;
    return 0;
}

int epmd_client_port_please(const char *host, uint16_t port, const char *name, int timeout_ms,
                            struct epmd_lookup *out)
{
    uint64_t deadline = clock_now_ms() + (uint64_t)timeout_ms;
    size_t nlen = strlen(name);
    uint8_t req[EPMD_MAXSYMLEN + 8];
    size_t rlen = epmd_build_port2_req(req, sizeof(req), (const uint8_t *)name, nlen);
    if (rlen == 0)
        return -ENAMETOOLONG;
    int fd = epmd_client_connect(host, port, timeout_ms);
    if (fd < 0)
        return fd;
    int rc = send_all(fd, req, rlen);
    uint8_t buf[EPMD_PORT2_RESP_MAX];
    ssize_t got = rc ? rc : recv_until_eof(fd, buf, sizeof(buf), deadline);
    close(fd);
    if (got < 0)
        return (int)got;
    struct epmd_node_rec rec;
    size_t used;
    bool found;
    if (epmd_parse_port2_resp(buf, (size_t)got, &found, &rec, &used) != EPMD_OK)
        return -EPROTO;
    memset(out, 0, sizeof(*out));
    out->found = found;
    if (!found)
        return 0;
    out->port = rec.port;
    out->node_type = rec.node_type;
    out->protocol = rec.protocol;
    out->high_vsn = rec.high_vsn;
    out->low_vsn = rec.low_vsn;
    if (rec.name_len > EPMD_MAXSYMLEN || rec.extra_len > EPMD_EXTRA_MAX)
        return -EPROTO;
    memcpy(out->name, rec.name, rec.name_len);
    out->name[rec.name_len] = '\0';
    memcpy(out->extra, rec.extra, rec.extra_len);
    out->extra_len = rec.extra_len;
    return 0;
}

int epmd_client_register(const char *host, uint16_t port, const struct epmd_node_rec *rec,
                         int timeout_ms, int *fd_out, uint8_t *result, uint32_t *creation)
{
    uint64_t deadline = clock_now_ms() + (uint64_t)timeout_ms;
    uint8_t req[EPMD_INBUF_SIZE];
    size_t rlen = epmd_build_alive2_req(req, sizeof(req), rec);
    if (rlen == 0)
        return -ENAMETOOLONG;
    int fd = epmd_client_connect(host, port, timeout_ms);
    if (fd < 0)
        return fd;
    int rc = send_all(fd, req, rlen);
    uint8_t buf[8];
    size_t got = 0, used;
    while (rc == 0) {
        enum epmd_result r = epmd_parse_alive2_resp(buf, got, result, creation, &used);
        if (r == EPMD_OK)
            break;
        if (r != EPMD_E_NEED_MORE) {
            rc = -EPROTO;
            break;
        }
        ssize_t n = recv_some(fd, buf + got, sizeof(buf) - got, deadline);
        if (n <= 0)
            rc = n == 0 ? -ECONNRESET : (int)n;
        else
            got += (size_t)n;
    }
    if (rc < 0 || *result != 0) {
        close(fd);
        return rc;
    }
    *fd_out = fd;
    return 0;
}

static int short_command(const char *host, uint16_t port, const uint8_t *req, size_t rlen,
                         size_t want, int timeout_ms, char reply[8])
{
    uint64_t deadline = clock_now_ms() + (uint64_t)timeout_ms;
    int fd = epmd_client_connect(host, port, timeout_ms);
    if (fd < 0)
        return fd;
    int rc = send_all(fd, req, rlen);
    ssize_t got = rc ? rc : recv_until_eof(fd, (uint8_t *)reply, want, deadline);
    close(fd);
    if (got < 0 && got != -ECONNRESET)
        return (int)got;
    reply[got < 0 ? 0 : got] = '\0';
    return 0;
}

int epmd_client_kill(const char *host, uint16_t port, int timeout_ms, char reply[8])
{
    uint8_t req[3];
    epmd_build_simple_req(req, sizeof(req), EPMD_KILL_REQ);
    return short_command(host, port, req, sizeof(req), 2, timeout_ms, reply);
}

int epmd_client_stop(const char *host, uint16_t port, const char *name, int timeout_ms,
                     char reply[8])
{
    uint8_t req[EPMD_INBUF_SIZE];
    size_t rlen = epmd_build_stop_req(req, sizeof(req), (const uint8_t *)name, strlen(name));
    if (rlen == 0)
        return -ENAMETOOLONG;
    return short_command(host, port, req, rlen, 7, timeout_ms, reply);
}
