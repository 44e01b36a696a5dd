/* dpdist-epmd's daemon: see epmd_server.h for the semantics and bounds.
 *
 * Structure: listeners and client connections are epoll items. A client connection is
 * either a request connection (reads one request, writes the reply, closes; idle ones sit
 * on an LRU list ordered by last activity and expire by the rule of epmd_idle.h) or, after a
 * successful ALIVE2_REQ, a registration (kept until EOF or any byte). Registered nodes live
 * in `active` (name -> node) and on a newest-first list for NAMES/DUMP; unregistered ones
 * move to a FIFO (`unreg`) so that a name coming back gets a new creation.
 */
#include "control/epmd/epmd_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/strmap.h"
#include "control/epmd/epmd_codec.h"
#include "control/epmd/epmd_idle.h"

#define LOG_MOD "epmd"
#define EPMD_MAX_LISTENERS 16
#define EPMD_EPOLL_BATCH 256
/* Accepts per readiness report. Level-triggered epoll reports the listener again while
 * connections wait, so a small batch costs nothing under load and saves the accept() that
 * would fail with EAGAIN in the common one-connection case. */
#define EPMD_ACCEPT_BATCH 4
/* After a burst of work, poll without sleeping for this long before blocking again: under
 * a stream of lookups the next connection arrives within microseconds, and waking a
 * sleeping daemon costs its clients more than the spin costs us (in a VM, an IPI per
 * connection). An idle daemon sleeps. */
#define EPMD_SPIN_NS 200000u
#define EPMD_RESERVED_FDS 32
#define EPMD_MAX_CONNS_CAP 1000000u
/* Longest epoll wait while request connections are open (the idle rule is re-checked). */
#define EPMD_MAX_WAIT_MS 60000

enum item_kind { ITEM_LISTENER, ITEM_WAKE, ITEM_CONN };

struct epmd_item {
    enum item_kind kind;
    int fd;
    bool in_ep; /* in the epoll set (a lookup answered at accept time never is) */
};

struct epmd_node {
    struct epmd_node *prev, *next; /* active list (newest first) or unreg FIFO (oldest first) */
    struct epmd_conn *conn;        /* registration, NULL once unregistered */
    uint32_t cr_counter;
    uint16_t port, high_vsn, low_vsn;
    uint8_t node_type, protocol;
    uint16_t extra_len;
    uint16_t name_len;
    uint8_t extra[EPMD_EXTRA_MAX];
    uint8_t name[EPMD_MAXSYMLEN + 1];
};

struct epmd_conn {
    struct epmd_item item;
    struct epmd_conn *lru_prev, *lru_next; /* request connections only */
    struct epmd_node *node;                /* registrations only */
    struct epmd_idle_stamp last;           /* last activity (accept, a read with bytes) */
    int8_t local;     /* -1 unknown (checked on first use: it costs two syscalls) */
    bool keep;        /* a registration */
    bool close_after; /* close once the output is flushed */
    bool exit_after;  /* KILL accepted: stop the daemon once flushed */
    bool dead;        /* closed; freed after the current event batch */
    struct epmd_conn *next_dead;
    uint8_t *out;
    size_t out_len, out_off, out_cap;
    size_t got;
    uint8_t in[EPMD_INBUF_SIZE];
};

struct node_list {
    struct epmd_node *head, *tail;
    size_t count;
};

struct epmd_server {
    struct epmd_server_cfg cfg;
    int ep;
    int wake_fd;
    struct epmd_item wake_item;
    struct epmd_item listeners[EPMD_MAX_LISTENERS];
    size_t n_listeners;
    int reserve_fd; /* spare descriptor released to drain accept() on EMFILE */

    struct strmap *active; /* name -> node */
    struct strmap *unreg;  /* name -> node */
    struct node_list active_list, unreg_list;

    struct epmd_conn *lru_head, *lru_tail;
    struct epmd_conn *graveyard; /* closed during this batch; freed after it */
    size_t n_conns;
    volatile int stop;

    pthread_mutex_t stats_lock;
    struct epmd_server_stats stats;
};

/* ---------------------------------------------------------------------------------- */
/* configuration and set-up                                                            */

void epmd_server_cfg_defaults(struct epmd_server_cfg *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->port = EPMD_DEFAULT_PORT;
    cfg->packet_timeout_s = 60;
    cfg->max_unreg = 1000;
}

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL, 0);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static int ep_add(struct epmd_server *srv, struct epmd_item *item, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = item};
    int rc = epoll_ctl(srv->ep, EPOLL_CTL_ADD, item->fd, &ev);
    if (rc == 0)
        item->in_ep = true;
    return rc;
}

static int ep_mod(struct epmd_server *srv, struct epmd_item *item, uint32_t events)
{
    if (!item->in_ep)
        return ep_add(srv, item, events);
    struct epoll_event ev = {.events = events, .data.ptr = item};
    return epoll_ctl(srv->ep, EPOLL_CTL_MOD, item->fd, &ev);
}

/* Binds one listening socket; returns the fd, -1 with errno set. */
static int listen_on(const struct sockaddr_storage *ss, socklen_t len)
{
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ss->ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (set_nonblock(fd) < 0 || bind(fd, (const struct sockaddr *)ss, len) < 0 ||
        listen(fd, SOMAXCONN) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

struct addr_entry {
    struct sockaddr_storage ss;
    socklen_t len;
    bool implicit; /* the loopback we add ourselves: failing to bind it is not fatal */
};

static void make_v4(struct addr_entry *a, in_addr_t addr, uint16_t port, bool implicit)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)&a->ss;
    memset(a, 0, sizeof(*a));
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    sin->sin_addr.s_addr = addr;
    a->len = sizeof(*sin);
    a->implicit = implicit;
}

static void make_v6(struct addr_entry *a, const struct in6_addr *addr, uint16_t port,
                    bool implicit)
{
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a->ss;
    memset(a, 0, sizeof(*a));
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    sin6->sin6_addr = *addr;
    a->len = sizeof(*sin6);
    a->implicit = implicit;
}

/* Fills addrs from the configured list (plus loopback) or the wildcard addresses. */
static int collect_addresses(const struct epmd_server_cfg *cfg, struct addr_entry *addrs,
                             size_t *n, char *err, size_t errlen)
{
    const char *list = cfg->addresses;
    *n = 0;
    if (!list || list[strspn(list, " ,")] == '\0') {
        make_v4(&addrs[(*n)++], htonl(INADDR_ANY), cfg->port, false);
        make_v6(&addrs[(*n)++], &in6addr_any, cfg->port, true);
        return 0;
    }
    bool have_lo4 = false, have_lo6 = false;
    char *copy = strdup(list), *save = NULL;
    if (!copy) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (char *tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        if (*n >= EPMD_MAX_LISTENERS - 2) {
            snprintf(err, errlen, "cannot listen on more than %d IP addresses",
                     EPMD_MAX_LISTENERS - 2);
            free(copy);
            return -1;
        }
        struct in_addr a4;
        struct in6_addr a6;
        if (inet_pton(AF_INET, tok, &a4) == 1) {
            have_lo4 |= (ntohl(a4.s_addr) >> 24) == 127;
            make_v4(&addrs[(*n)++], a4.s_addr, cfg->port, false);
        } else if (inet_pton(AF_INET6, tok, &a6) == 1) {
            have_lo6 |= IN6_IS_ADDR_LOOPBACK(&a6);
            make_v6(&addrs[(*n)++], &a6, cfg->port, false);
        } else {
            snprintf(err, errlen, "cannot parse IP address \"%s\"", tok);
            free(copy);
            return -1;
        }
    }
    free(copy);
    if (!have_lo4)
        make_v4(&addrs[(*n)++], htonl(INADDR_LOOPBACK), cfg->port, false);
    if (!have_lo6)
        make_v6(&addrs[(*n)++], &in6addr_loopback, cfg->port, true);
    return 0;
}

static unsigned derive_max_conns(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        if (rl.rlim_cur < rl.rlim_max) {
            rl.rlim_cur = rl.rlim_max;
            setrlimit(RLIMIT_NOFILE, &rl);
            getrlimit(RLIMIT_NOFILE, &rl);
        }
        if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur > EPMD_RESERVED_FDS * 2)
            return rl.rlim_cur - EPMD_RESERVED_FDS > EPMD_MAX_CONNS_CAP
                       ? EPMD_MAX_CONNS_CAP
                       : (unsigned)(rl.rlim_cur - EPMD_RESERVED_FDS);
    }
    return 1000;
}

struct epmd_server *epmd_server_new(const struct epmd_server_cfg *cfg, char *err, size_t errlen,
                                    bool *in_use)
{
    *in_use = false;
    struct epmd_server *srv = calloc(1, sizeof(*srv));
    if (!srv) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    srv->cfg = *cfg;
    srv->ep = srv->wake_fd = srv->reserve_fd = -1;
    pthread_mutex_init(&srv->stats_lock, NULL);
    if (srv->cfg.max_conns == 0)
        srv->cfg.max_conns = derive_max_conns();
    if (srv->cfg.packet_timeout_s == 0)
        srv->cfg.packet_timeout_s = 60;
    srv->active = strmap_new();
    srv->unreg = strmap_new();
    srv->ep = epoll_create1(EPOLL_CLOEXEC);
    srv->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    srv->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (!srv->active || !srv->unreg || srv->ep < 0 || srv->wake_fd < 0) {
        snprintf(err, errlen, "cannot set up the event loop: %s", strerror(errno));
        goto fail;
    }
    srv->wake_item = (struct epmd_item){ITEM_WAKE, srv->wake_fd, false};
    ep_add(srv, &srv->wake_item, EPOLLIN);

    if (cfg->listen_fds && cfg->n_listen_fds) {
        if (cfg->n_listen_fds > EPMD_MAX_LISTENERS) {
            snprintf(err, errlen, "cannot listen on more than %d sockets", EPMD_MAX_LISTENERS);
            goto fail;
        }
        for (size_t i = 0; i < cfg->n_listen_fds; i++) {
            set_nonblock(cfg->listen_fds[i]);
            srv->listeners[srv->n_listeners++] = (struct epmd_item){ITEM_LISTENER,
                                                                    cfg->listen_fds[i], false};
        }
    } else {
        struct addr_entry addrs[EPMD_MAX_LISTENERS];
        size_t n;
        if (collect_addresses(cfg, addrs, &n, err, errlen) < 0)
            goto fail;
        for (size_t i = 0; i < n; i++) {
            if (srv->cfg.port != 0) /* port 0: the first socket picks one, the rest follow */
                ((struct sockaddr_in *)&addrs[i].ss)->sin_port = htons(srv->cfg.port);
            int fd = listen_on(&addrs[i].ss, addrs[i].len);
            if (fd < 0) {
                if (errno == EADDRINUSE && !addrs[i].implicit) {
                    *in_use = true;
                    snprintf(err, errlen, "there is already a epmd running at port %u",
                             cfg->port);
                    goto fail;
                }
                if (addrs[i].implicit) {
                    DLOG_DBG(LOG_MOD, "not listening on an IPv6 address: %s", strerror(errno));
                    continue;
                }
                snprintf(err, errlen, "failed to bind socket: %s", strerror(errno));
                goto fail;
            }
            if (srv->cfg.port == 0) {
                struct sockaddr_storage got;
                socklen_t gl = sizeof(got);
                getsockname(fd, (struct sockaddr *)&got, &gl);
                srv->cfg.port = ntohs(((struct sockaddr_in *)&got)->sin_port);
            }
            srv->listeners[srv->n_listeners++] = (struct epmd_item){ITEM_LISTENER, fd, false};
        }
    }
    for (size_t i = 0; i < srv->n_listeners; i++)
        if (ep_add(srv, &srv->listeners[i], EPOLLIN) < 0) {
            snprintf(err, errlen, "epoll: %s", strerror(errno));
            goto fail;
        }
    DLOG_DBG(LOG_MOD, "listening on port %u (%zu sockets), at most %u connections",
             cfg->port, srv->n_listeners, srv->cfg.max_conns);
    return srv;
fail:
    epmd_server_free(srv);
    return NULL;
}

/* ---------------------------------------------------------------------------------- */
/* node registry                                                                       */

static void list_push_front(struct node_list *l, struct epmd_node *n)
{
    n->prev = NULL;
    n->next = l->head;
    if (l->head)
        l->head->prev = n;
    else
        l->tail = n;
    l->head = n;
    l->count++;
}

static void list_push_back(struct node_list *l, struct epmd_node *n)
{
    n->next = NULL;
    n->prev = l->tail;
    if (l->tail)
        l->tail->next = n;
    else
        l->head = n;
    l->tail = n;
    l->count++;
}

static void list_unlink(struct node_list *l, struct epmd_node *n)
{
    if (n->prev)
        n->prev->next = n->next;
    else
        l->head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        l->tail = n->prev;
    n->prev = n->next = NULL;
    l->count--;
}

/* Creation numbers 0..3 are reserved. */
static void bump_creation(struct epmd_node *n)
{
    if (++n->cr_counter < 4)
        n->cr_counter = 4;
}

static uint32_t node_creation(const struct epmd_node *n)
{
    return n->high_vsn >= 6 ? n->cr_counter : n->cr_counter % 3 + 1;
}

/* Moves a live registration to the FIFO of old names, forgetting the oldest if full. */
static void node_unregister(struct epmd_server *srv, struct epmd_node *n, const char *why)
{
    DLOG_DBG(LOG_MOD, "unregistering '%.*s:%u', port %u (%s)", (int)n->name_len, n->name,
             node_creation(n), n->port, why);
    strmap_remove(srv->active, n->name, n->name_len);
    list_unlink(&srv->active_list, n);
    if (n->conn)
        n->conn->node = NULL;
    n->conn = NULL;
    if (strmap_put(srv->unreg, n->name, n->name_len, n) != 0) {
        free(n);
        return;
    }
    list_push_back(&srv->unreg_list, n);
    while (srv->unreg_list.count > srv->cfg.max_unreg) {
        struct epmd_node *old = srv->unreg_list.head;
        list_unlink(&srv->unreg_list, old);
        strmap_remove(srv->unreg, old->name, old->name_len);
        free(old);
    }
}

/* Registers rec for conn. Returns the node or NULL (refused; reason logged). */
static struct epmd_node *node_register(struct epmd_server *srv, struct epmd_conn *conn,
                                       const struct epmd_node_rec *rec)
{
    enum epmd_result r = epmd_check_name(rec->name, rec->name_len);
    if (r != EPMD_OK) {
        DLOG_DBG(LOG_MOD, "ALIVE2_REQ refused: %s", epmd_strerror(r));
        return NULL;
    }
    if (rec->extra_len > EPMD_EXTRA_MAX) {
        DLOG_DBG(LOG_MOD, "ALIVE2_REQ refused: extra data is too long (%u)", rec->extra_len);
        return NULL;
    }
    if (strmap_get(srv->active, rec->name, rec->name_len)) {
        DLOG_DBG(LOG_MOD, "node name already occupied %.*s", (int)rec->name_len, rec->name);
        return NULL;
    }
    struct epmd_node *n = strmap_remove(srv->unreg, rec->name, rec->name_len);
    if (n) {
        list_unlink(&srv->unreg_list, n);
        DLOG_DBG(LOG_MOD, "reusing slot with same name '%.*s'", (int)rec->name_len, rec->name);
    } else {
        n = calloc(1, sizeof(*n));
        if (!n) {
            DLOG_WARN(LOG_MOD, "out of memory registering a node");
            return NULL;
        }
        n->cr_counter = (uint32_t)time(NULL);
        memcpy(n->name, rec->name, rec->name_len);
        n->name_len = rec->name_len;
    }
    bump_creation(n);
    if (strmap_put(srv->active, n->name, n->name_len, n) != 0) {
        free(n);
        return NULL;
    }
    list_push_front(&srv->active_list, n);
    n->conn = conn;
    n->port = rec->port;
    n->node_type = rec->node_type;
    n->protocol = rec->protocol;
    n->high_vsn = rec->high_vsn;
    n->low_vsn = rec->low_vsn;
    n->extra_len = rec->extra_len;
    memcpy(n->extra, rec->extra, rec->extra_len);
    DLOG_DBG(LOG_MOD, "registering '%.*s:%u', port %u, type %u proto %u highvsn %u lowvsn %u",
             (int)n->name_len, n->name, node_creation(n), n->port, n->node_type, n->protocol,
             n->high_vsn, n->low_vsn);
    return n;
}

/* ---------------------------------------------------------------------------------- */
/* connections                                                                         */

static void lru_unlink(struct epmd_server *srv, struct epmd_conn *c)
{
    if (!c->lru_prev && srv->lru_head != c)
        return; /* not on the list */
    if (c->lru_prev)
        c->lru_prev->lru_next = c->lru_next;
    else
        srv->lru_head = c->lru_next;
    if (c->lru_next)
        c->lru_next->lru_prev = c->lru_prev;
    else
        srv->lru_tail = c->lru_prev;
    c->lru_prev = c->lru_next = NULL;
}

static void lru_touch(struct epmd_server *srv, struct epmd_conn *c,
                      const struct epmd_idle_now *now)
{
    lru_unlink(srv, c);
    epmd_idle_touch(&c->last, now);
    c->lru_prev = srv->lru_tail;
    if (srv->lru_tail)
        srv->lru_tail->lru_next = c;
    else
        srv->lru_head = c;
    srv->lru_tail = c;
}

/* Closes now; the memory is freed after the current event batch, because an event for
 * this connection may still be waiting in that batch (a connection can be closed by another
 * one's request: eviction, STOP_REQ). */
static void conn_close(struct epmd_server *srv, struct epmd_conn *c)
{
    if (c->dead)
        return;
    DLOG_DBG(LOG_MOD, "closing connection on file descriptor %d", c->item.fd);
    if (c->node)
        node_unregister(srv, c->node, "connection closed");
    if (c->exit_after)
        srv->stop = 1; /* KILL accepted: exit even if "OK" did not go out, as the reference */
    lru_unlink(srv, c);
    /* Leave the epoll set explicitly: close() alone leaves it only when no other descriptor
     * refers to the socket, and a fork() of the process that hosts this server (a test that
     * starts erl, a program that spawns a helper) holds a copy until its exec; epoll would
     * then report events for this connection after its memory is freed. */
    epoll_ctl(srv->ep, EPOLL_CTL_DEL, c->item.fd, NULL);
    close(c->item.fd);
    c->item.fd = -1;
    c->dead = true;
    c->next_dead = srv->graveyard;
    srv->graveyard = c;
    srv->n_conns--;
}

static void bury_dead(struct epmd_server *srv)
{
    while (srv->graveyard) {
        struct epmd_conn *c = srv->graveyard;
        srv->graveyard = c->next_dead;
        free(c->out);
        free(c);
    }
}

/* Local peers: 127.0.0.0/8, ::1, IPv4-mapped loopback, or the peer address equals the
 * address it connected to (a process on this host using an external address). */
static bool peer_is_local(int fd)
{
    struct sockaddr_storage peer, self;
    socklen_t pl = sizeof(peer), sl = sizeof(self);
    if (getpeername(fd, (struct sockaddr *)&peer, &pl) < 0 ||
        getsockname(fd, (struct sockaddr *)&self, &sl) < 0)
        return false;
    if (peer.ss_family == AF_INET) {
        const struct sockaddr_in *p = (const struct sockaddr_in *)&peer;
        const struct sockaddr_in *s = (const struct sockaddr_in *)&self;
        return (ntohl(p->sin_addr.s_addr) >> 24) == 127 ||
               p->sin_addr.s_addr == s->sin_addr.s_addr;
    }
    if (peer.ss_family == AF_INET6) {
        const struct sockaddr_in6 *p = (const struct sockaddr_in6 *)&peer;
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)&self;
        if (IN6_IS_ADDR_LOOPBACK(&p->sin6_addr))
            return true;
        if (IN6_IS_ADDR_V4MAPPED(&p->sin6_addr) && p->sin6_addr.s6_addr[12] == 127)
            return true;
        return IN6_ARE_ADDR_EQUAL(&p->sin6_addr, &s->sin6_addr);
    }
    return false;
}

static bool conn_is_local(struct epmd_conn *c)
{
    if (c->local < 0)
        c->local = peer_is_local(c->item.fd);
    return c->local;
}

/* Sends what is queued without blocking. Returns 0 when all of it is sent, -EAGAIN when
 * the socket is full, or the negative errno of a failed send (the bytes stay queued). */
static int conn_send_queued(struct epmd_conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t w = send(c->item.fd, c->out + c->out_off, c->out_len - c->out_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
        }
        c->out_off += (size_t)w;
    }
    c->out_len = c->out_off = 0;
    return 0;
}

static void conn_flush(struct epmd_server *srv, struct epmd_conn *c)
{
    int rc = conn_send_queued(c);
    if (rc == -EAGAIN) {
        ep_mod(srv, &c->item, EPOLLOUT);
        return;
    }
    if (rc < 0) {
        DLOG_DBG(LOG_MOD, "error in write on fd %d: %s", c->item.fd, strerror(-rc));
        conn_close(srv, c);
        return;
    }
    if (c->close_after || c->exit_after) {
        conn_close(srv, c);
        return;
    }
    ep_mod(srv, &c->item, EPOLLIN | EPOLLRDHUP);
}

/* Queues bytes for the peer; they are sent by conn_flush(). */
static bool conn_queue(struct epmd_conn *c, const void *data, size_t len)
{
    if (c->out_len + len > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 256;
        while (cap < c->out_len + len)
            cap *= 2;
        uint8_t *p = realloc(c->out, cap);
        if (!p)
            return false;
        c->out = p;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, data, len);
    c->out_len += len;
    return true;
}

/* -delay_accept and -delay_write, the reference daemon's flags to simulate a busy server:
 * it sleeps in its only thread, so every client waits, and so do ours. Returns early when
 * epmd_server_stop() is called (it makes wake_fd readable). */
static void testing_delay(struct epmd_server *srv, unsigned seconds)
{
    uint64_t end = clock_now_ms() + (uint64_t)seconds * 1000;
    for (;;) {
        uint64_t t = clock_now_ms();
        if (srv->stop || t >= end)
            return;
        struct pollfd p = {.fd = srv->wake_fd, .events = POLLIN};
        if (poll(&p, 1, (int)(end - t)) > 0)
            return;
    }
}

/* One write of a reply as the reference daemon makes it (NAMES and DUMP: the header, then
 * one per line). With -delay_write each waits first and goes out at once, so the client
 * sees the pieces one delay apart as from the reference; a failed send is left to
 * conn_flush(), which meets it again and closes (unregistering an ALIVE2 connection). */
static bool conn_reply(struct epmd_server *srv, struct epmd_conn *c, const void *data,
                       size_t len)
{
    if (!srv->cfg.delay_write_s)
        return conn_queue(c, data, len);
    testing_delay(srv, srv->cfg.delay_write_s);
    if (!conn_queue(c, data, len))
        return false;
    (void)conn_send_queued(c);
    return true;
}

/* ---------------------------------------------------------------------------------- */
/* requests                                                                            */

static void do_alive2(struct epmd_server *srv, struct epmd_conn *c,
                      const struct epmd_node_rec *rec)
{
    uint8_t reply[8];
    struct epmd_node *n = node_register(srv, c, rec);
    size_t len = epmd_build_alive2_resp(reply, sizeof(reply), rec->high_vsn, n ? 0 : 1,
                                        n ? node_creation(n) : 99);
    conn_reply(srv, c, reply, len);
    if (!n) {
        c->close_after = true; /* refused: the client reads the error, then EOF */
        return;
    }
    DLOG_DBG(LOG_MOD, "** sent ALIVE2_RESP for \"%.*s\"", (int)n->name_len, n->name);
    c->keep = true;
    c->node = n;
    lru_unlink(srv, c);
}

static void do_port2(struct epmd_server *srv, struct epmd_conn *c, const uint8_t *name,
                     size_t name_len)
{
    uint8_t reply[EPMD_PORT2_RESP_MAX];
    size_t len;
    struct epmd_node *n = strmap_get(srv->active, name, name_len);
    if (n) {
        struct epmd_node_rec rec = {
            .port = n->port,
            .node_type = n->node_type,
            .protocol = n->protocol,
            .high_vsn = n->high_vsn,
            .low_vsn = n->low_vsn,
            .name = n->name,
            .name_len = n->name_len,
            .extra = n->extra,
            .extra_len = n->extra_len,
        };
        len = epmd_build_port2_resp(reply, sizeof(reply), &rec);
    } else {
        len = epmd_build_port2_error(reply, sizeof(reply));
    }
    DLOG_DBG(LOG_MOD, "** sent PORT2_RESP (%s) for \"%.*s\"", n ? "ok" : "error", (int)name_len,
             name);
    conn_reply(srv, c, reply, len);
}

static void do_names_or_dump(struct epmd_server *srv, struct epmd_conn *c, bool dump)
{
    uint8_t line[EPMD_MAXSYMLEN + 128];
    size_t len = epmd_build_port_header(line, sizeof(line), srv->cfg.port);
    conn_reply(srv, c, line, len);
    for (struct epmd_node *n = srv->active_list.head; n; n = n->next) {
        len = dump ? epmd_build_dump_active(line, sizeof(line), n->name, n->name_len, n->port,
                                            n->conn ? n->conn->item.fd : -1)
                   : epmd_build_names_line(line, sizeof(line), n->name, n->name_len, n->port);
        if (!conn_reply(srv, c, line, len))
            return;
    }
    if (!dump)
        return;
    for (struct epmd_node *n = srv->unreg_list.head; n; n = n->next) {
        len = epmd_build_dump_unused(line, sizeof(line), n->name, n->name_len, n->port, -1);
        if (!conn_reply(srv, c, line, len))
            return;
    }
}

static void do_kill(struct epmd_server *srv, struct epmd_conn *c)
{
    if (!srv->cfg.relaxed && srv->active_list.count > 0) {
        DLOG_DBG(LOG_MOD, "Disallowed KILL_REQ, live nodes");
        conn_reply(srv, c, "NO", 2);
        return;
    }
    DLOG_INFO(LOG_MOD, "got KILL_REQ - terminates normal");
    conn_reply(srv, c, "OK", 2);
    c->exit_after = true;
}

static void do_stop(struct epmd_server *srv, struct epmd_conn *c, const uint8_t *name,
                    size_t name_len)
{
    struct epmd_node *n = strmap_get(srv->active, name, name_len);
    if (!n) {
        conn_reply(srv, c, "NOEXIST", 7);
        return;
    }
    struct epmd_conn *reg = n->conn;
    node_unregister(srv, n, "STOP_REQ");
    if (reg)
        conn_close(srv, reg);
    conn_reply(srv, c, "STOPPED", 7);
}

static const char *request_name(enum epmd_code code)
{
    switch (code) {
    case EPMD_ALIVE2_REQ:
        return "ALIVE2_REQ";
    case EPMD_PORT2_REQ:
        return "PORT2_REQ";
    case EPMD_NAMES_REQ:
        return "NAMES_REQ";
    case EPMD_DUMP_REQ:
        return "DUMP_REQ";
    case EPMD_KILL_REQ:
        return "KILL_REQ";
    case EPMD_STOP_REQ:
        return "STOP_REQ";
    default:
        return "unknown request";
    }
}

/* Handles one complete request; the connection is flushed (and closed unless it became a
 * registration) by the caller. Returns false if the connection must close with no reply. */
static bool do_request(struct epmd_server *srv, struct epmd_conn *c, const uint8_t *body,
                       size_t len)
{
    struct epmd_request req;
    enum epmd_result r = epmd_parse_request(body, len, &req);
    static const uint8_t local_only[] = {EPMD_ALIVE2_REQ, EPMD_DUMP_REQ, EPMD_KILL_REQ,
                                         EPMD_STOP_REQ};
    if (r == EPMD_E_UNKNOWN) {
        DLOG_DBG(LOG_MOD, "got garbage: unknown request code %u", body[0]);
        return false;
    }
    if (memchr(local_only, body[0], sizeof(local_only)) && !conn_is_local(c)) {
        DLOG_DBG(LOG_MOD, "request '%c' from non local address refused", body[0]);
        return false;
    }
    if (body[0] == EPMD_STOP_REQ && !srv->cfg.relaxed) {
        DLOG_DBG(LOG_MOD, "Disallowed STOP_REQ, no relaxed_command_check");
        return false;
    }
    if (r != EPMD_OK) {
        DLOG_DBG(LOG_MOD, "bad request '%c' (%zu bytes): %s", body[0], len, epmd_strerror(r));
        return false;
    }
    DLOG_DBG(LOG_MOD, "** got %s", request_name(req.code));
    switch (req.code) {
    case EPMD_ALIVE2_REQ:
        do_alive2(srv, c, &req.u.alive2);
        break;
    case EPMD_PORT2_REQ:
        do_port2(srv, c, req.u.named.name, req.u.named.name_len);
        break;
    case EPMD_NAMES_REQ:
        do_names_or_dump(srv, c, false);
        break;
    case EPMD_DUMP_REQ:
        do_names_or_dump(srv, c, true);
        break;
    case EPMD_KILL_REQ:
        do_kill(srv, c);
        break;
    case EPMD_STOP_REQ:
        do_stop(srv, c, req.u.named.name, req.u.named.name_len);
        break;
    default:
        return false;
    }
    return true;
}

/* A registration socket: EOF, an error or any byte at all ends the registration. */
static void conn_read_registration(struct epmd_server *srv, struct epmd_conn *c)
{
    uint8_t buf[256];
    ssize_t n = recv(c->item.fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n > 0)
        DLOG_DBG(LOG_MOD, "got more than expected on ALIVE socket %d (%zd)", c->item.fd, n);
    else if (n < 0)
        DLOG_DBG(LOG_MOD, "error on ALIVE socket %d: %s", c->item.fd, strerror(errno));
    conn_close(srv, c);
}

static void conn_read(struct epmd_server *srv, struct epmd_conn *c,
                      const struct epmd_idle_now *now)
{
    if (c->keep) {
        conn_read_registration(srv, c);
        return;
    }
    if (c->close_after || c->exit_after)
        return; /* reply pending; further input is ignored */
    ssize_t n = recv(c->item.fd, c->in + c->got, sizeof(c->in) - c->got, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        if (n == 0 && c->got > 0)
            DLOG_DBG(LOG_MOD, "got partial packet only on file descriptor %d (%zu)",
                     c->item.fd, c->got);
        else if (n < 0)
            DLOG_DBG(LOG_MOD, "error in read on fd %d: %s", c->item.fd, strerror(errno));
        conn_close(srv, c);
        return;
    }
    c->got += (size_t)n;
    lru_touch(srv, c, now);
    size_t total = 0;
    enum epmd_result r = epmd_frame_check(c->in, c->got, &total);
    if (r == EPMD_E_NEED_MORE) {
        if (c->got == sizeof(c->in)) /* cannot happen: frame_check bounds the size */
            conn_close(srv, c);
        return;
    }
    if (r != EPMD_OK) {
        srv->stats.bad_requests++;
        if (r == EPMD_E_SIZE)
            DLOG_DBG(LOG_MOD, "invalid packet size (%u)", (unsigned)(c->in[0] << 8 | c->in[1]));
        else
            DLOG_DBG(LOG_MOD, "got %zu bytes in packet, expected %u", c->got - 2,
                     (unsigned)(c->in[0] << 8 | c->in[1]));
        conn_close(srv, c);
        return;
    }
    if (!do_request(srv, c, c->in + 2, total - 2)) {
        srv->stats.bad_requests++;
        conn_close(srv, c);
        return;
    }
    if (!c->keep)
        c->close_after = true;
    conn_flush(srv, c);
}

/* Makes room for one more connection. Returns false if every slot is a registration. */
static bool make_room(struct epmd_server *srv)
{
    if (srv->n_conns < srv->cfg.max_conns)
        return true;
    struct epmd_conn *victim = srv->lru_head;
    if (!victim)
        return false;
    DLOG_DBG(LOG_MOD, "connection limit (%u) reached: closing idle connection on fd %d",
             srv->cfg.max_conns, victim->item.fd);
    srv->stats.evictions++;
    conn_close(srv, victim);
    return true;
}

/* Accepts waiting connections; returns how many. With -delay_accept only one, and its
 * request is read at the next wake-up, as the reference daemon does it. */
static int do_accept(struct epmd_server *srv, int lfd, const struct epmd_idle_now *now)
{
    bool delaying = srv->cfg.delay_accept_s != 0;
    int accepted = 0;
    for (int i = 0; i < (delaying ? 1 : EPMD_ACCEPT_BATCH); i++) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE) {
                /* Out of descriptors: accept with the spare one and drop, so the listener
                 * does not stay readable forever. */
                DLOG_DBG(LOG_MOD, "out of file descriptors; refusing a connection");
                if (srv->reserve_fd >= 0) {
                    close(srv->reserve_fd);
                    int tmp = accept(lfd, NULL, NULL);
                    if (tmp >= 0)
                        close(tmp);
                    srv->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
                }
                srv->stats.refused++;
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
                errno != ECONNABORTED)
                DLOG_WARN(LOG_MOD, "error in accept: %s", strerror(errno));
            return accepted;
        }
        if (!make_room(srv)) {
            DLOG_DBG(LOG_MOD, "every connection is a registration: refusing fd %d", fd);
            srv->stats.refused++;
            close(fd);
            continue;
        }
        struct epmd_conn *c = calloc(1, sizeof(*c));
        if (!c) {
            close(fd);
            continue;
        }
        c->item = (struct epmd_item){ITEM_CONN, fd, false};
        c->local = -1;
        srv->n_conns++;
        accepted++;
        lru_touch(srv, c, now);
        if (dlog_enabled(DLOG_DEBUG))
            DLOG_DBG(LOG_MOD, "%s peer connected on file descriptor %d",
                     conn_is_local(c) ? "Local" : "Non-local", fd);
        /* A client usually sends its request with the connect: often it is already here.
         * Answered now, a lookup costs accept, recv, send and close, and never enters the
         * epoll set. Otherwise (nothing yet, a partial request, a registration, a reply
         * that did not fit) it waits in the set like any other connection. */
        if (!delaying)
            conn_read(srv, c, now);
        if (!c->dead && !c->item.in_ep && ep_add(srv, &c->item, EPOLLIN | EPOLLRDHUP) < 0) {
            DLOG_WARN(LOG_MOD, "cannot watch fd %d: %s", fd, strerror(errno));
            conn_close(srv, c);
        }
    }
    return accepted;
}

/* Both clocks of the idle rule (epmd_idle.h), read once per event batch. */
static struct epmd_idle_now idle_now(void)
{
    return (struct epmd_idle_now){clock_now_ms(), clock_realtime_ns()};
}

/* The LRU head is the longest-silent request connection: see epmd_idle.h for why scanning
 * stops at the first one that is kept. */
static void expire_idle(struct epmd_server *srv, const struct epmd_idle_now *now)
{
    while (srv->lru_head &&
           epmd_idle_expired(&srv->lru_head->last, now, srv->cfg.packet_timeout_s)) {
        DLOG_DBG(LOG_MOD, "closing because timed out on receive (fd %d)",
                 srv->lru_head->item.fd);
        conn_close(srv, srv->lru_head);
    }
}

static int next_timeout_ms(struct epmd_server *srv)
{
    if (!srv->lru_head)
        return -1;
    struct epmd_idle_now now = idle_now();
    uint64_t due = epmd_idle_due_ms(&srv->lru_head->last, &now, srv->cfg.packet_timeout_s);
    return due > EPMD_MAX_WAIT_MS ? EPMD_MAX_WAIT_MS : (int)due;
}

/* Under stats_lock: the counts readers see. Published before the lock is let go, so a reader
 * never sees a refusal counted without the registrations processed before it. */
static void publish_stats_locked(struct epmd_server *srv)
{
    srv->stats.registered = srv->active_list.count;
    srv->stats.unregistered = srv->unreg_list.count;
    srv->stats.connections = srv->n_conns;
}

static void publish_stats(struct epmd_server *srv)
{
    pthread_mutex_lock(&srv->stats_lock);
    publish_stats_locked(srv);
    pthread_mutex_unlock(&srv->stats_lock);
}

/* Handles one batch of events. With -delay_accept the batch is handled as the reference
 * daemon's loop does after its sleep: listeners first, and once a connection is accepted
 * the rest waits for the next wake-up (and its delay). Level-triggered epoll reports what
 * was left again. */
static void handle_events(struct epmd_server *srv, const struct epoll_event *evs, int n,
                          const struct epmd_idle_now *now)
{
    if (srv->cfg.delay_accept_s)
        for (int i = 0; i < n; i++) {
            struct epmd_item *it = evs[i].data.ptr;
            if (it->kind == ITEM_LISTENER && do_accept(srv, it->fd, now) > 0)
                return;
        }
    for (int i = 0; i < n && !srv->stop; i++) {
        struct epmd_item *it = evs[i].data.ptr;
        if (it->kind == ITEM_LISTENER) {
            if (!srv->cfg.delay_accept_s) /* else tried above */
                do_accept(srv, it->fd, now);
        } else if (it->kind == ITEM_WAKE) {
            uint64_t v;
            ssize_t r = read(srv->wake_fd, &v, sizeof(v));
            (void)r;
        } else {
            struct epmd_conn *c = (struct epmd_conn *)it;
            uint32_t ev = evs[i].events;
            if (c->dead)
                continue;
            if (ev & EPOLLOUT)
                conn_flush(srv, c);
            else if ((c->close_after || c->exit_after) && (ev & (EPOLLERR | EPOLLHUP)))
                conn_close(srv, c); /* peer gone before reading its reply */
            else
                conn_read(srv, c, now);
        }
    }
}

int epmd_server_run(struct epmd_server *srv)
{
    struct epoll_event evs[EPMD_EPOLL_BATCH];
    uint64_t spin_until = 0;
    while (!srv->stop) {
        int n = epoll_wait(srv->ep, evs, EPMD_EPOLL_BATCH,
                           clock_now_ns() < spin_until ? 0 : next_timeout_ms(srv));
        if (n > 0)
            spin_until = clock_now_ns() + EPMD_SPIN_NS;
        if (n < 0 && errno != EINTR) {
            DLOG_ERR(LOG_MOD, "epoll_wait: %s", strerror(errno));
            break;
        }
        if (n > 0 && srv->cfg.delay_accept_s)
            testing_delay(srv, srv->cfg.delay_accept_s);
        struct epmd_idle_now now = idle_now();
        pthread_mutex_lock(&srv->stats_lock);
        handle_events(srv, evs, n, &now);
        bury_dead(srv);
        publish_stats_locked(srv);
        pthread_mutex_unlock(&srv->stats_lock);
        now = idle_now();
        expire_idle(srv, &now);
        bury_dead(srv);
        publish_stats(srv);
    }
    return 0;
}

uint16_t epmd_server_port(const struct epmd_server *srv)
{
    return srv->cfg.port;
}

void epmd_server_stop(struct epmd_server *srv)
{
    srv->stop = 1;
    uint64_t one = 1;
    ssize_t r = write(srv->wake_fd, &one, sizeof(one));
    (void)r;
}

void epmd_server_get_stats(struct epmd_server *srv, struct epmd_server_stats *out)
{
    pthread_mutex_lock(&srv->stats_lock);
    *out = srv->stats;
    pthread_mutex_unlock(&srv->stats_lock);
}

static void free_node(void *p)
{
    free(p);
}

void epmd_server_free(struct epmd_server *srv)
{
    if (!srv)
        return;
    while (srv->lru_head)
        conn_close(srv, srv->lru_head);
    /* Registrations are not on the LRU: close them through their nodes. */
    while (srv->active_list.head) {
        struct epmd_node *n = srv->active_list.head;
        if (n->conn)
            conn_close(srv, n->conn);
        else
            node_unregister(srv, n, "shutdown");
    }
    bury_dead(srv);
    for (size_t i = 0; i < srv->n_listeners; i++)
        close(srv->listeners[i].fd);
    if (srv->ep >= 0)
        close(srv->ep);
    if (srv->wake_fd >= 0)
        close(srv->wake_fd);
    if (srv->reserve_fd >= 0)
        close(srv->reserve_fd);
    strmap_free(srv->active, NULL);
    strmap_free(srv->unreg, free_node);
    pthread_mutex_destroy(&srv->stats_lock);
    free(srv);
}
