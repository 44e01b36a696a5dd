/* Handshake I/O: accepting and dialling sockets and driving the handshake state machine
 * (control/handshake.c) on them, then handing the socket to the TCP carrier.
 *
 * Control thread, except the dialler: an outgoing attempt runs the EPMD lookup and the TCP
 * connect on a short-lived thread (both block, bounded by net_setuptime), then posts the
 * connected socket back to the control thread for the handshake.
 *
 * Admission (acceptor), decided with node->lock held:
 * - no connection to that peer: a new one for this socket (status ok);
 * - our own attempt to that peer in progress (simultaneous connect): the node with the
 *   greater name wins, as in OTP: if the peer's name is greater we abandon our attempt and
 *   answer ok_simultaneous, else nok (our attempt goes on);
 * - already connected: alive. The initiator answers true when it has no other connection to
 *   us (its old one is gone); the old connection then goes once the handshake completes.
 * A wrong cookie shows as a bad digest: "Connection attempt from disallowed node NAME".
 *
 * Failed handshakes of accepted sockets go through the guard (runtime/carrier_tcp/hsguard.h): an address
 * whose handshakes fail has its next attempt held unread for a delay that doubles with each
 * failure, one attempt at a time, and its failure lines are rate-limited into summaries.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "control/cookie.h"
#include "control/epmd/epmd_client.h"
#include "runtime/core/conn.h"
#include "runtime/carrier_tcp/hsio.h"
#include "runtime/core/node.h"
#include "runtime/core/rcu.h"
#include "runtime/carrier_tcp/tcpc.h"

/* ---- sockets ------------------------------------------------------------------------ */

static void sock_event(struct ctl_item *it, uint32_t events);

static void list_add(struct dd_node *n, struct rt_sock *s)
{
    s->prev = NULL;
    s->next = n->handshaking;
    if (n->handshaking)
        n->handshaking->prev = s;
    n->handshaking = s;
    s->listed = true;
}

static void list_del(struct dd_node *n, struct rt_sock *s)
{
    if (!s->listed)
        return;
    if (s->prev)
        s->prev->next = s->next;
    else
        n->handshaking = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->next = s->prev = NULL;
    s->listed = false;
}

/* ---- the handshake guard (runtime/carrier_tcp/hsguard.h) ---------------------------------------- */

/* The socket's attempt is over for the guard: its token goes back (any outcome). */
static void guard_release(struct dd_node *n, struct rt_sock *s)
{
    if (s->guard_token)
        hsg_done(n->hsguard, &s->src, s->guard_token);
    s->guard_token = 0;
}

/* The guard's summary lines that are due. */
static void guard_log(struct dd_node *n, uint64_t now)
{
    struct hsg_summary sum[8];
    size_t k = hsg_summaries(n->hsguard, now, sum, sizeof(sum) / sizeof(sum[0]));
    for (size_t i = 0; i < k; i++) {
        char a[INET6_ADDRSTRLEN + 4];
        if (sum[i].others)
            DLOG_WARN(n->log_name,
                      "%u failed handshakes from other addresses suppressed, %u connections "
                      "refused while an earlier attempt from their address waited",
                      sum[i].failures, sum[i].refused);
        else
            DLOG_WARN(n->log_name,
                      "%u failed handshakes from %s suppressed, %u connections from it refused "
                      "while an earlier one waited; its next attempt waits %u ms",
                      sum[i].failures, hsg_addr_str(&sum[i].addr, a, sizeof(a)), sum[i].refused,
                      sum[i].next_delay_ms);
    }
}

/* Closes now, frees after the event batch (an event for s may still be pending in it). */
void hsio_sock_free(struct dd_node *n, struct rt_sock *s)
{
    if (s->dead)
        return;
    guard_release(n, s);
    list_del(n, s);
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    s->dead = true;
    s->next_dead = n->graveyard;
    n->graveyard = s;
}

void hsio_bury(struct dd_node *n)
{
    while (n->graveyard) {
        struct rt_sock *s = n->graveyard;
        n->graveyard = s->next_dead;
        free(s->hs);
        free(s->rx);
        free(s);
    }
}

struct conn *hsio_sock_conn(struct dd_node *n, struct rt_sock *s)
{
    (void)n;
    struct conn *c = s->owner;
    if (c)
        conn_ref(c);
    return c;
}

static const char *cb_cookie(void *arg, const char *peer)
{
    struct rt_sock *s = arg;
    return node_cookie_for(s->node, peer, s->cookie_buf, sizeof(s->cookie_buf));
}

static int cb_challenge(void *arg, uint32_t *out)
{
    (void)arg;
    return cookie_challenge(out) == COOKIE_OK ? 0 : -1;
}

static enum hs_status cb_admit(void *arg, const char *peer, uint64_t flags)
{
    struct rt_sock *s = arg;
    struct dd_node *n = s->node;
    (void)flags;
    if (strcmp(peer, n->name) == 0) {
        DLOG_ERR(n->log_name,
                 "** Connection attempt from node %s refused: that is this node's own name **",
                 peer);
        return HS_STATUS_NOT_ALLOWED;
    }
    enum hs_status st = HS_STATUS_OK;
    pthread_mutex_lock(&n->lock);
    bool existed;
    struct conn *c = conn_insert_new(n, peer, &existed);
    if (!c) {
        DLOG_ERR(n->log_name, "** Connection attempt from node %s refused: %s **", peer,
                 n->closing ? "this node is stopping" : "out of memory");
        st = HS_STATUS_NOT_ALLOWED;
    } else if (!existed) {
        s->conn = c; /* the reference conn_insert_new gave us */
        c->sock = s;
    } else if (atomic_load(&c->state) == CONN_UP) {
        st = HS_STATUS_ALIVE;
        conn_unref(c);
    } else if (c->dialling || (c->sock && c->sock->initiator)) {
        if (strcmp(peer, n->name) > 0) {
            /* The peer's attempt wins: ours is abandoned. */
            st = HS_STATUS_OK_SIMULTANEOUS;
            c->dial_gen++;
            c->dialling = false;
            if (c->sock && c->sock->initiator)
                c->sock->lost_race = true; /* closed by the control thread below */
            s->conn = c;
            c->sock = s;
        } else {
            st = HS_STATUS_NOK;
            conn_unref(c);
        }
    } else if (c->sock && !c->sock->initiator) {
        st = HS_STATUS_NOK; /* another incoming attempt from that node is in progress */
        conn_unref(c);
    } else {
        s->conn = c; /* pending with nobody working on it: take it */
        c->sock = s;
    }
    pthread_mutex_unlock(&n->lock);
    return st;
}

static bool cb_alive_answer(void *arg, const char *peer)
{
    struct rt_sock *s = arg;
    struct dd_node *n = s->node;
    /* As OTP's initiator (is_pending): true when this attempt is still the one our pending
     * connection waits for; then we have no other connection to the peer and whatever the
     * peer remembers is gone here. False when the attempt gave way to the peer's own
     * (simultaneous connect) or the connection went meanwhile: the peer's is the one to keep. */
    pthread_mutex_lock(&n->lock);
    struct conn *c = s->conn;
    bool ours = c && c->sock == s && !s->lost_race && atomic_load(&c->state) == CONN_PENDING;
    pthread_mutex_unlock(&n->lock);
    if (ours)
        DLOG_DBG(n->log_name, "%s still had our old connection: answered true", peer);
    return ours;
}

static const struct hs_callbacks g_hs_cb = {
    .cookie = cb_cookie,
    .challenge = cb_challenge,
    .admit = cb_admit,
    .alive_answer = cb_alive_answer,
};

static struct rt_sock *sock_new(struct dd_node *n, int fd, bool initiator, struct conn *c)
{
    struct rt_sock *s = calloc(1, sizeof(*s));
    struct hs *hs = malloc(sizeof(*hs));
    if (!s || !hs) {
        free(s);
        free(hs);
        return NULL;
    }
    s->item.on_event = sock_event;
    s->node = n;
    s->fd = fd;
    s->initiator = initiator;
    s->conn = c;
    s->hs = hs;
    s->deadline_ms = clock_now_ms() + n->setuptime_ms;
    struct hs_config cfg = {
        .role = initiator ? HS_INITIATOR : HS_ACCEPTOR,
        .my_name = n->name,
        .my_creation = n->creation,
        .my_flags = n->flags,
        .required_flags = DISTFLAGS_REQUIRED_DPDIST,
        .expected_peer = initiator ? c->peer : NULL,
        .trailer = n->trailer,
        .trailer_len = n->trailer_len,
        .cb = &g_hs_cb,
        .cb_arg = s,
    };
    if (hs_init(hs, &cfg) != HS_OK) {
        DLOG_WARN(n->log_name, "handshake set-up failed: %s", hs_strerror(hs_last_error(hs)));
        free(hs);
        free(s);
        return NULL;
    }
    return s;
}

/* Sends pending handshake output (small; a full socket buffer here means a dead peer). */
static int flush_hs_output(struct rt_sock *s)
{
    const uint8_t *p;
    size_t len;
    while ((len = hs_output(s->hs, &p)) > 0) {
        ssize_t w = send(s->fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return errno == EAGAIN ? 0 : -1;
        hs_output_consumed(s->hs, (size_t)w);
    }
    return 0;
}

/* The socket's events reach hsio_on_event. */
static void sock_event(struct ctl_item *it, uint32_t events)
{
    struct rt_sock *s = (struct rt_sock *)((char *)it - offsetof(struct rt_sock, item));
    hsio_on_event(s->node, s, events);
}


/* ---- outcome ------------------------------------------------------------------------- */

static void log_failure(struct dd_node *n, struct rt_sock *s, enum hs_error e)
{
    const struct hs_result *res = hs_result(s->hs);
    const char *peer = res->peer_name[0] ? res->peer_name : "(unknown)";
    char where[INET6_ADDRSTRLEN + 16] = ""; /* an acceptor's peer address */
    if (!s->initiator && s->src_known) {
        char a[INET6_ADDRSTRLEN + 4];
        snprintf(where, sizeof(where), " (address %s)", hsg_addr_str(&s->src, a, sizeof(a)));
    }
    switch (e) {
    case HS_E_DIGEST:
        if (!s->initiator)
            DLOG_ERR(n->log_name, "** Connection attempt from disallowed node %s **%s", peer,
                     where);
        else
            DLOG_ERR(n->log_name, "** Connection attempt to node %s refused: wrong cookie **",
                     s->conn ? s->conn->peer : peer);
        break;
    case HS_E_NAME_KIND:
        DLOG_ERR(n->log_name,
                 "** Connection attempt %s node %s refused: %s uses %s names, short and long "
                 "names cannot be mixed **%s",
                 s->initiator ? "to" : "from", s->initiator && s->conn ? s->conn->peer : peer,
                 n->name, n->kind == NODENAME_SHORT ? "short" : "long", where);
        break;
    case HS_E_STATUS_NOK:
        if (s->initiator)
            DLOG_DBG(n->log_name, "simultaneous connect with %s: the other attempt wins",
                     s->conn ? s->conn->peer : peer);
        else
            DLOG_DBG(n->log_name, "simultaneous connect with %s: our own attempt wins", peer);
        break;
    case HS_E_STATUS_FALSE:
        /* Simultaneous connect: the peer's attempt came up first, ours is not needed. */
        DLOG_DBG(n->log_name, "simultaneous connect with %s: the existing connection stays",
                 s->initiator && s->conn ? s->conn->peer : peer);
        break;
    case HS_E_STATUS_NOT_ALLOWED:
        if (s->initiator) /* an acceptor said why when it refused (cb_admit) */
            DLOG_ERR(n->log_name, "** Connection attempt to node %s not allowed by the peer **",
                     s->conn ? s->conn->peer : peer);
        break;
    default:
        DLOG_WARN(n->log_name, "handshake %s %s%s failed: %s", s->initiator ? "to" : "from",
                  s->initiator && s->conn ? s->conn->peer : peer, where, hs_strerror(e));
        break;
    }
}

/* Ends a handshake that failed, once its failure has been logged. */
static void handshake_drop(struct dd_node *n, struct rt_sock *s, enum hs_error e)
{
    flush_hs_output(s); /* a refusal status still goes out */
    struct conn *c = s->conn;
    s->conn = NULL;
    if (c) {
        pthread_mutex_lock(&n->lock);
        bool ours = c->sock == s;
        if (ours)
            c->sock = NULL;
        if (s->initiator && ours)
            c->dialling = false;
        bool abandon = ours && e != HS_E_STATUS_NOK && atomic_load(&c->state) == CONN_PENDING;
        pthread_mutex_unlock(&n->lock);
        if (abandon)
            conn_down(c, e == HS_E_DIGEST ? DD_ECOOKIE : DD_ENOCONN,
                      e == HS_E_TRUNCATED ? "the handshake did not complete" : hs_strerror(e));
        conn_unref(c);
    }
    hsio_sock_free(n, s);
}

static void handshake_failed(struct dd_node *n, struct rt_sock *s, enum hs_error e)
{
    /* The peer's own offences count against its address (the guard delays its next attempt)
     * and are logged within the guard's budget; the rest is always logged. */
    bool counted = !s->initiator && s->src_known && hsg_counts(e);
    if (!counted || hsg_failed(n->hsguard, &s->src, clock_now_ms()))
        log_failure(n, s, e);
    handshake_drop(n, s, e);
}

/* Acceptor, after `alive` and the initiator's `true`: the connection the initiator has
 * forgotten goes here too (nodedown, as OTP's acceptor drops it), and s carries a new one.
 * Done only now that the handshake is complete, so that an unauthenticated peer cannot tear
 * a connection down. A connection that is merely pending by now (the old one went down and a
 * send dialled again) is taken over instead: our own attempt is abandoned and what is queued
 * on it goes out on s. Returns the connection, referenced for s, or NULL (out of memory). */
static struct conn *replace_old_conn(struct dd_node *n, struct rt_sock *s, const char *peer)
{
    for (int tries = 0; tries < 8; tries++) {
        pthread_mutex_lock(&n->lock);
        bool existed;
        struct conn *c = conn_insert_new(n, peer, &existed);
        if (c && existed && atomic_load(&c->state) == CONN_PENDING) {
            c->dial_gen++;
            c->dialling = false;
            if (c->sock)
                c->sock->lost_race = true; /* closed by hsio_reap */
            existed = false;
        }
        if (c && !existed) {
            c->sock = s;
            s->conn = c;
        }
        pthread_mutex_unlock(&n->lock);
        if (!c || !existed)
            return c;
        conn_down(c, DD_ENOCONN, "replaced by a new connection from the same node");
        conn_unref(c);
    }
    return NULL;
}

static void handshake_done(struct dd_node *n, struct rt_sock *s)
{
    const struct hs_result *res = hs_result(s->hs);
    if (flush_hs_output(s) < 0) {
        handshake_failed(n, s, HS_E_OUTPUT);
        return;
    }
    /* An initiator's socket always carries its own pending connection, also after it
     * answered `true` to `alive`: that answer is about the peer's old connection, never
     * ours. (Before, the initiator took its own pending connection for the old one here and
     * tore it down: its queue dropped, dd_connect failed, and its later tcpc_close freed the
     * socket the replacement was using.) */
    struct conn *c = s->conn;
    if (!s->initiator && !c) {
        c = replace_old_conn(n, s, res->peer_name);
        if (!c) {
            handshake_failed(n, s, HS_E_STATUS_UNKNOWN);
            return;
        }
    }
    list_del(n, s);
    if (!s->initiator && s->src_known)
        hsg_succeeded(n->hsguard, &s->src);
    guard_release(n, s);
    c->flags = res->flags;
    c->initiator = s->initiator;
    c->peer_creation = res->peer_creation;
    c->peer_published = (res->peer_flags & DFLAG_PUBLISHED) != 0;
    conn_peer_trailer(c, res->peer_trailer, res->peer_trailer_len); /* peer_dpdist */
    free(s->hs);
    s->hs = NULL;
    s->up = true;
    uint64_t now = clock_now_ms();
    atomic_store(&c->last_rx_ms, now);
    atomic_store(&c->last_tx_ms, now);
    ctl_mod_fd(n, s->fd, EPOLLIN | EPOLLRDHUP, &s->item);
    s->conn = NULL; /* the connection owns the socket now */
    s->owner = c;
    pthread_mutex_lock(&n->lock);
    c->dialling = false;
    pthread_mutex_unlock(&n->lock);
    conn_set_up(c);
    if (s->rx_len)
        tcpc_on_readable(c); /* packets that came with the last handshake message */
    conn_unref(c);          /* the socket's reference */
}

/* ---- events -------------------------------------------------------------------------- */

static void handshake_step(struct dd_node *n, struct rt_sock *s)
{
    for (;;) {
        if (s->rx_cap < HS_RX_MAX) {
            uint8_t *p = realloc(s->rx, HS_RX_MAX);
            if (!p) {
                handshake_failed(n, s, HS_E_OUTPUT);
                return;
            }
            s->rx = p;
            s->rx_cap = HS_RX_MAX;
        }
        ssize_t r = recv(s->fd, s->rx + s->rx_len, s->rx_cap - s->rx_len, MSG_DONTWAIT);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (r <= 0) {
            const struct hs_result *res = hs_result(s->hs);
            const char *who = s->initiator && s->conn ? s->conn->peer : res->peer_name;
            if (s->initiator)
                DLOG_WARN(n->log_name,
                          "handshake to %s failed: connection closed by the peer (a wrong "
                          "cookie shows this way)",
                          who);
            else if (res->peer_name[0]) /* most often the loser of a simultaneous connect */
                DLOG_INFO(n->log_name, "handshake from %s ended: connection closed by the peer",
                          who);
            else /* a port probe, or the peer's own abandoned dial */
                DLOG_DBG(n->log_name, "connection closed before any handshake message");
            handshake_drop(n, s, HS_E_TRUNCATED);
            return;
        }
        s->rx_len += (size_t)r;
        size_t used = 0;
        enum hs_step st = hs_feed(s->hs, s->rx, s->rx_len, &used);
        /* net_setuptime bounds each handshake step: only a whole message restarts it, so a
         * peer trickling bytes cannot hold the socket open. */
        if (used > 0)
            s->deadline_ms = clock_now_ms() + n->setuptime_ms;
        memmove(s->rx, s->rx + used, s->rx_len - used);
        s->rx_len -= used;
        /* A simultaneous connect may have made another socket redundant. */
        if (st == HS_FAILED) {
            handshake_failed(n, s, hs_last_error(s->hs));
            return;
        }
        if (flush_hs_output(s) < 0) {
            handshake_failed(n, s, HS_E_OUTPUT);
            return;
        }
        if (st == HS_DONE) {
            handshake_done(n, s);
            return;
        }
    }
}

void hsio_on_event(struct dd_node *n, struct rt_sock *s, uint32_t events)
{
    if (s->dead)
        return;
    if (s->up) {
        /* Established: the socket belongs to its connection. */
        struct conn *c = hsio_sock_conn(n, s);
        if (!c)
            return;
        if (events & EPOLLOUT)
            tcpc_on_writable(c);
        if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
            tcpc_on_readable(c);
        conn_unref(c);
        return;
    }
    handshake_step(n, s);
}

void hsio_reap(struct dd_node *n, uint64_t now)
{
    struct rt_sock *s = n->handshaking;
    while (s) {
        struct rt_sock *next = s->next;
        if (s->held_until_ms) {
            /* Held by the guard: its handshake starts (we read its first message) now. */
            if (now >= s->held_until_ms) {
                s->held_until_ms = 0;
                s->deadline_ms = now + n->setuptime_ms;
                ctl_add_fd(n, s->fd, EPOLLIN | EPOLLRDHUP, &s->item);
            }
        } else if (s->lost_race) {
            DLOG_DBG(n->log_name, "closing our attempt: the simultaneous one from the peer won");
            struct conn *c = s->conn;
            s->conn = NULL;
            if (c)
                conn_unref(c);
            hsio_sock_free(n, s);
        } else if (now > s->deadline_ms) {
            const struct hs_result *res = hs_result(s->hs);
            DLOG_WARN(n->log_name, "handshake %s %s timed out (net_setuptime %u ms)",
                      s->initiator ? "to" : "from",
                      s->initiator && s->conn ? s->conn->peer
                                              : (res->peer_name[0] ? res->peer_name : "?"),
                      n->setuptime_ms);
            handshake_drop(n, s, HS_E_TRUNCATED);
        }
        s = next;
    }
    guard_log(n, now);
}

bool hsio_accepted(struct dd_node *n, int fd, const struct hsg_addr *src, uint32_t guard_token,
                   uint64_t held_until_ms)
{
    struct rt_sock *s = sock_new(n, fd, false, NULL);
    if (!s)
        return false;
    if (src) {
        s->src = *src;
        s->src_known = true;
    }
    s->guard_token = guard_token;
    list_add(n, s);
    if (held_until_ms) {
        s->held_until_ms = held_until_ms;
        s->deadline_ms = held_until_ms + n->setuptime_ms;
    } else {
        ctl_add_fd(n, s->fd, EPOLLIN | EPOLLRDHUP, &s->item);
    }
    return true;
}

/* ---- dialling ------------------------------------------------------------------------ */

/* One outgoing attempt's EPMD lookup and TCP connect, on a detached thread of its own (both
 * block, each bounded by net_setuptime, the name resolution by the resolver's own timeouts).
 *
 * Lifetime: shared by the thread and the node (refs, under mu). The thread reads only this
 * struct, never the node or the connection, except to post its result to the node's control
 * thread, which it does under mu and only while `node` is set. node_stop clears `node`
 * under mu (hsio_orphan_dials) for every attempt not yet posted, so a thread that outlives
 * its node (blocked in connect() toward a host that does not answer) finds it gone, closes
 * its socket and frees the struct alone. Before, the thread kept a plain pointer to the node
 * and used it after dd_node_stop had freed it: a crash whenever a node stopped while a
 * dial was blocked. */
struct hsio_dial {
    pthread_mutex_t mu;
    int refs;                       /* the thread's and the node's, under mu */
    struct dd_node *node;           /* NULL once orphaned, under mu */
    bool posted;                    /* dial_done is queued on the control thread, under mu */
    struct hsio_dial *next, *prev;  /* node->dials, under node->lock */
    /* Owned by the node side: the thread never touches it. */
    struct conn *conn;           /* a reference */
    unsigned gen;
    /* Copies for the thread. */
    char peer[HS_NAME_MAX + 1];
    uint16_t epmd_port;
    unsigned setuptime_ms;
    /* The thread's result, read by dial_done once posted. */
    int fd;
    int status;
    char why[2 * HS_NAME_MAX + 128];
    struct epmd_lookup lookup;
};

static void dial_put(struct hsio_dial *d)
{
    pthread_mutex_lock(&d->mu);
    bool last = --d->refs == 0;
    pthread_mutex_unlock(&d->mu);
    if (last) {
        pthread_mutex_destroy(&d->mu);
        free(d);
    }
}

/* Takes d off the node's list (node->lock held). */
static void dial_unlist(struct dd_node *n, struct hsio_dial *d)
{
    if (d->prev)
        d->prev->next = d->next;
    else
        n->dials = d->next;
    if (d->next)
        d->next->prev = d->prev;
    d->next = d->prev = NULL;
}

static void dial_done(struct dd_node *n, void *arg)
{
    struct hsio_dial *d = arg;
    struct conn *c = d->conn;
    pthread_mutex_lock(&n->lock);
    dial_unlist(n, d);
    bool wanted = atomic_load(&c->state) == CONN_PENDING && c->dial_gen == d->gen && !c->sock;
    pthread_mutex_unlock(&n->lock);
    if (!wanted) {
        DLOG_DBG(n->log_name, "dial to %s abandoned: %s", c->peer,
                 atomic_load(&c->state) == CONN_PENDING ? "simultaneous connect, the peer's wins"
                                                        : "no longer needed");
        if (d->fd >= 0)
            close(d->fd);
    } else if (d->fd < 0) {
        conn_down(c, d->status, d->why);
    } else {
        conn_peer_epmd_extra(c, d->lookup.extra, d->lookup.extra_len);
        struct rt_sock *s = sock_new(n, d->fd, true, c);
        if (!s) {
            close(d->fd);
            conn_down(c, DD_ENOMEM, "out of memory");
        } else {
            conn_ref(c); /* the socket's reference */
            pthread_mutex_lock(&n->lock);
            c->sock = s;
            pthread_mutex_unlock(&n->lock);
            list_add(n, s);
            ctl_add_fd(n, s->fd, EPOLLIN | EPOLLRDHUP, &s->item);
            if (flush_hs_output(s) < 0)
                handshake_failed(n, s, HS_E_OUTPUT);
        }
    }
    conn_unref(c);
    dial_put(d);
}

static void *dial_thread(void *arg)
{
    struct hsio_dial *d = arg;
    const char *at = strrchr(d->peer, '@');
    char alive[NODENAME_MAX_BYTES + 1];
    size_t alen = at ? (size_t)(at - d->peer) : 0;
    memcpy(alive, d->peer, alen);
    alive[alen] = '\0';
    const char *host = at + 1;
    int rc = epmd_client_port_please(host, d->epmd_port, alive, (int)d->setuptime_ms,
                                     &d->lookup);
    if (rc < 0) {
        d->status = DD_ENOCONN;
        snprintf(d->why, sizeof(d->why), "cannot ask EPMD on %s:%u: %s", host, d->epmd_port,
                 strerror(-rc));
    } else if (!d->lookup.found) {
        d->status = DD_ENOCONN;
        snprintf(d->why, sizeof(d->why), "no node named %s registered with EPMD on %s", alive,
                 host);
    } else if (d->lookup.high_vsn < 6) {
        d->status = DD_ENOCONN;
        snprintf(d->why, sizeof(d->why), "%s speaks distribution version %u only (need 6)",
                 d->peer, d->lookup.high_vsn);
    } else {
        d->fd = epmd_client_connect(host, d->lookup.port, (int)d->setuptime_ms);
        if (d->fd < 0) {
            d->status = DD_ENOCONN;
            snprintf(d->why, sizeof(d->why), "cannot connect to %s port %u: %s", host,
                     d->lookup.port, strerror(-d->fd));
            d->fd = -1;
        } else {
            int fl = 1;
            setsockopt(d->fd, IPPROTO_TCP, TCP_NODELAY, &fl, sizeof(fl));
            fl = fcntl(d->fd, F_GETFL, 0);
            fcntl(d->fd, F_SETFL, fl | O_NONBLOCK);
        }
    }
    pthread_mutex_lock(&d->mu);
    bool orphaned = d->node == NULL;
    if (!orphaned) {
        d->posted = true;
        ctl_post(d->node, dial_done, d);
    }
    pthread_mutex_unlock(&d->mu);
    if (orphaned && d->fd >= 0)
        close(d->fd);
    dial_put(d);
    return NULL;
}

void hsio_dial(struct dd_node *n, struct conn *c)
{
    struct hsio_dial *d = calloc(1, sizeof(*d));
    if (!d) {
        conn_down(c, DD_ENOMEM, "out of memory");
        return;
    }
    pthread_mutex_init(&d->mu, NULL);
    d->refs = 2;
    d->node = n;
    d->conn = c;
    d->fd = -1;
    snprintf(d->peer, sizeof(d->peer), "%s", c->peer);
    d->epmd_port = n->epmd_port;
    d->setuptime_ms = n->setuptime_ms;
    conn_ref(c);
    pthread_mutex_lock(&n->lock);
    d->gen = c->dial_gen;
    d->next = n->dials;
    if (n->dials)
        n->dials->prev = d;
    n->dials = d;
    pthread_mutex_unlock(&n->lock);
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    if (pthread_create(&t, &attr, dial_thread, d) != 0) {
        pthread_mutex_lock(&n->lock);
        dial_unlist(n, d);
        pthread_mutex_unlock(&n->lock);
        pthread_mutex_destroy(&d->mu);
        free(d);
        conn_down(c, DD_EIO, "cannot start a dialler thread");
        conn_unref(c);
    }
    pthread_attr_destroy(&attr);
}

void hsio_orphan_dials(struct dd_node *n)
{
    pthread_mutex_lock(&n->lock);
    struct hsio_dial *d = n->dials, *orphans = NULL;
    while (d) {
        struct hsio_dial *next = d->next;
        pthread_mutex_lock(&d->mu);
        bool posted = d->posted;
        if (!posted)
            d->node = NULL; /* its thread finishes alone */
        pthread_mutex_unlock(&d->mu);
        if (!posted) { /* else dial_done, queued, still needs it */
            dial_unlist(n, d);
            d->next = orphans;
            orphans = d;
        }
        d = next;
    }
    pthread_mutex_unlock(&n->lock);
    while (orphans) {
        d = orphans;
        orphans = d->next;
        conn_unref(d->conn);
        dial_put(d); /* the node's reference */
    }
}
