/* Handshake I/O: the sockets that listen.c accepted and dial.c connected, driving the
 * handshake state machine (control/handshake.c) on them, then handing each socket to the
 * TCP carrier (tcpc.c). Control thread.
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
 * Failed handshakes of accepted sockets go through the guard (hsguard.h): an address whose
 * handshakes fail has its next attempt held unread for a delay that doubles with each
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

#include <openssl/crypto.h>

#include "common/clock.h"
#include "common/log.h"
#include "control/cookie.h"
#include "runtime/core/conn.h"
#include "runtime/carrier_tcp/hsio.h"
#include "runtime/carrier_tcp/tcpc.h"
#include "runtime/core/node.h"
#include "runtime/core/rcu.h"
#include "runtime/carrier_tcp/tcpc.h"

/* ---- sockets ------------------------------------------------------------------------ */

static void sock_event(struct ctl_item *it, uint32_t events);
static void hsio_on_event(struct dd_node *n, struct hsio_sock *s, uint32_t events);

static void list_add(struct dd_node *n, struct hsio_sock *s)
{
    s->prev = NULL;
    s->next = n->tcp->handshaking;
    if (n->tcp->handshaking)
        n->tcp->handshaking->prev = s;
    n->tcp->handshaking = s;
    s->listed = true;
}

static void list_del(struct dd_node *n, struct hsio_sock *s)
{
    if (!s->listed)
        return;
    if (s->prev)
        s->prev->next = s->next;
    else
        n->tcp->handshaking = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->next = s->prev = NULL;
    s->listed = false;
}

/* ---- the handshake guard (runtime/carrier_tcp/hsguard.h) ---------------------------------------- */

/* The socket's attempt is over for the guard: its token goes back (any outcome). */
static void guard_release(struct dd_node *n, struct hsio_sock *s)
{
    if (s->guard_token)
        hsg_done(&n->tcp->hsguard, &s->src, s->guard_token);
    s->guard_token = 0;
}

/* The guard's summary lines that are due. */
static void guard_log(struct dd_node *n, uint64_t now)
{
    struct hsg_summary sum[8];
    size_t k = hsg_summaries(&n->tcp->hsguard, now, sum, sizeof(sum) / sizeof(sum[0]));
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
void hsio_sock_free(struct dd_node *n, struct hsio_sock *s)
{
    if (s->dead)
        return;
    guard_release(n, s);
    list_del(n, s);
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    s->dead = true;
    s->next_dead = n->tcp->graveyard;
    n->tcp->graveyard = s;
}

void hsio_bury(struct dd_node *n)
{
    while (n->tcp->graveyard) {
        struct hsio_sock *s = n->tcp->graveyard;
        n->tcp->graveyard = s->next_dead;
        free(s->hs);
        free(s->rx);
        free(s);
    }
}

/* The connection an established socket belongs to (referenced) or NULL. */
static struct conn *hsio_sock_conn(struct dd_node *n, struct hsio_sock *s)
{
    (void)n;
    struct conn *c = s->owner;
    if (c)
        conn_ref(c);
    return c;
}

static const char *cb_cookie(void *arg, const char *peer)
{
    struct hsio_sock *s = arg;
    return node_cookie_for(s->node, peer, s->cookie_buf, sizeof(s->cookie_buf));
}

static int cb_challenge(void *arg, uint32_t *out)
{
    (void)arg;
    return cookie_challenge(out) == COOKIE_OK ? 0 : -1;
}

static enum hs_status cb_admit(void *arg, const char *peer, uint64_t flags)
{
    struct hsio_sock *s = arg;
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
        c->tcp->sock = s;
    } else if (atomic_load(&c->state) == CONN_UP) {
        st = HS_STATUS_ALIVE;
        conn_unref(c);
    } else if (c->dialling || (c->tcp->sock && c->tcp->sock->initiator)) {
        if (strcmp(peer, n->name) > 0) {
            /* The peer's attempt wins: ours is abandoned. */
            st = HS_STATUS_OK_SIMULTANEOUS;
            c->tcp->dial_gen++;
            c->dialling = false;
            if (c->tcp->sock && c->tcp->sock->initiator)
                c->tcp->sock->lost_race = true; /* closed by the control thread below */
            s->conn = c;
            c->tcp->sock = s;
        } else {
            st = HS_STATUS_NOK;
            conn_unref(c);
        }
    } else if (c->tcp->sock && !c->tcp->sock->initiator) {
        st = HS_STATUS_NOK; /* another incoming attempt from that node is in progress */
        conn_unref(c);
    } else {
        s->conn = c; /* pending with nobody working on it: take it */
        c->tcp->sock = s;
    }
    pthread_mutex_unlock(&n->lock);
    return st;
}

static bool cb_alive_answer(void *arg, const char *peer)
{
    struct hsio_sock *s = arg;
    struct dd_node *n = s->node;
    /* As OTP's initiator (is_pending): true when this attempt is still the one our pending
     * connection waits for; then we have no other connection to the peer and whatever the
     * peer remembers is gone here. False when the attempt gave way to the peer's own
     * (simultaneous connect) or the connection went meanwhile: the peer's is the one to keep. */
    pthread_mutex_lock(&n->lock);
    struct conn *c = s->conn;
    bool ours = c && c->tcp->sock == s && !s->lost_race && atomic_load(&c->state) == CONN_PENDING;
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

static struct hsio_sock *sock_new(struct dd_node *n, int fd, bool initiator, struct conn *c)
{
    struct hsio_sock *s = calloc(1, sizeof(*s));
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
static int flush_hs_output(struct hsio_sock *s)
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
    struct hsio_sock *s = (struct hsio_sock *)((char *)it - offsetof(struct hsio_sock, item));
    hsio_on_event(s->node, s, events);
}


/* ---- outcome ------------------------------------------------------------------------- */

static void log_failure(struct dd_node *n, struct hsio_sock *s, enum hs_error e)
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
static void handshake_drop(struct dd_node *n, struct hsio_sock *s, enum hs_error e)
{
    flush_hs_output(s); /* a refusal status still goes out */
    struct conn *c = s->conn;
    s->conn = NULL;
    if (c) {
        pthread_mutex_lock(&n->lock);
        bool ours = c->tcp->sock == s;
        if (ours)
            c->tcp->sock = NULL;
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

static void handshake_failed(struct dd_node *n, struct hsio_sock *s, enum hs_error e)
{
    /* The peer's own offences count against its address (the guard delays its next attempt)
     * and are logged within the guard's budget; the rest is always logged. */
    bool counted = !s->initiator && s->src_known && hsg_counts(e);
    if (!counted || hsg_failed(&n->tcp->hsguard, &s->src, clock_now_ms()))
        log_failure(n, s, e);
    handshake_drop(n, s, e);
}

/* Acceptor, after `alive` and the initiator's `true`: the connection the initiator has
 * forgotten goes here too (nodedown, as OTP's acceptor drops it), and s carries a new one.
 * Done only now that the handshake is complete, so that an unauthenticated peer cannot tear
 * a connection down. A connection that is merely pending by now (the old one went down and a
 * send dialled again) is taken over instead: our own attempt is abandoned and what is queued
 * on it goes out on s. Returns the connection, referenced for s, or NULL (out of memory). */
static struct conn *replace_old_conn(struct dd_node *n, struct hsio_sock *s, const char *peer)
{
    for (int tries = 0; tries < 8; tries++) {
        pthread_mutex_lock(&n->lock);
        bool existed;
        struct conn *c = conn_insert_new(n, peer, &existed);
        if (c && existed && atomic_load(&c->state) == CONN_PENDING) {
            c->tcp->dial_gen++;
            c->dialling = false;
            if (c->tcp->sock)
                c->tcp->sock->lost_race = true; /* closed by hsio_reap */
            existed = false;
        }
        if (c && !existed) {
            c->tcp->sock = s;
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

/* The data-plane key schedule's start for c: the cookie this handshake used and its
 * transcript (control/keysched.h), before the handshake state is freed. Without it (no
 * transcript: cannot happen within the handshake's bounds) the upgrade refuses to run keyed. */
static void keys_from_handshake(struct hsio_sock *s, struct conn *c)
{
    const uint8_t *tr;
    size_t tr_len = hs_transcript(s->hs, &tr);
    size_t ck_len = strnlen(s->cookie_buf, sizeof(s->cookie_buf));
    c->hs_keys_ok = tr_len > 0 && ck_len > 0 &&
                    ks_conn_init(&c->hs_keys, (const uint8_t *)s->cookie_buf, ck_len, tr,
                                 tr_len) == KS_OK;
    OPENSSL_cleanse(s->cookie_buf, sizeof(s->cookie_buf));
}

static void handshake_done(struct dd_node *n, struct hsio_sock *s)
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
        hsg_succeeded(&n->tcp->hsguard, &s->src);
    guard_release(n, s);
    c->flags = res->flags;
    c->initiator = s->initiator;
    c->peer_creation = res->peer_creation;
    c->peer_published = (res->peer_flags & DFLAG_PUBLISHED) != 0;
    conn_peer_trailer(c, res->peer_trailer, res->peer_trailer_len); /* peer_dpdist */
    keys_from_handshake(s, c);
    free(s->hs);
    s->hs = NULL;
    s->up = true;
    tcpc_sock_up(n, s->fd, c->peer);
    uint64_t now = clock_now_ms();
    atomic_store(&c->tcp->last_rx_ms, now);
    atomic_store(&c->tcp->last_tx_ms, now);
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

static void handshake_step(struct dd_node *n, struct hsio_sock *s)
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

static void hsio_on_event(struct dd_node *n, struct hsio_sock *s, uint32_t events)
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
    struct hsio_sock *s = n->tcp->handshaking;
    while (s) {
        struct hsio_sock *next = s->next;
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
    struct hsio_sock *s = sock_new(n, fd, false, NULL);
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

void hsio_dialled(struct dd_node *n, int fd, struct conn *c)
{
    struct hsio_sock *s = sock_new(n, fd, true, c);
    if (!s) {
        close(fd);
        conn_down(c, DD_ENOMEM, "out of memory");
        return;
    }
    conn_ref(c); /* the socket's reference */
    pthread_mutex_lock(&n->lock);
    c->tcp->sock = s;
    pthread_mutex_unlock(&n->lock);
    list_add(n, s);
    ctl_add_fd(n, s->fd, EPOLLIN | EPOLLRDHUP, &s->item);
    if (flush_hs_output(s) < 0)
        handshake_failed(n, s, HS_E_OUTPUT);
}
