/* The TCP carrier: distribution traffic on the connection's socket after the handshake
 * (4-byte length framing, ticks as empty packets), as OTP's inet_tcp_dist does it.
 *
 * Sending (any thread): under tx_lock, a message goes straight to the socket when nothing is
 * queued, else to the queue that the control thread drains on EPOLLOUT; a large one toward
 * a peer that takes fragments goes in fragments, other messages between them (below). The
 * queue (txq.h) is bounded by tx_queue_limit bytes per class (txq_bytes_for): a message is
 * accepted while its class is below the limit, like BEAM's dist buffer busy limit; beyond
 * it a sender waits or gets DD_EWOULDBLOCK.
 * While the connection is pending, messages queue up and go out once it is up.
 *
 * Receiving (control thread): read, split into packets, reassemble fragments, dispatch.
 * Delivered bytes not yet freed by the application count against rx_unconsumed_limit; above
 * it the socket is not read, so a stuck receiver pushes back on the sender through TCP.
 * Fragmented messages and long packets draw from the node's reassembly memory; when it is
 * full, the socket is not read either, until there is room (runtime/carrier_tcp/rxbudget.h).
 *
 * Ticks: every tick interval, a connection that sent nothing gets a tick; a connection that
 * received nothing for a whole ticktime is down (net_tick_timeout), as in OTP.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/bigbuf.h"
#include "common/bytes.h"
#include "common/clock.h"
#include "common/log.h"
#include "control/distmsg.h"
#include "runtime/core/conn.h"
#include "runtime/core/dispatch.h"
#include "runtime/core/node.h"
#include "runtime/core/rcu.h"
#include "runtime/carrier_tcp/hsio.h"
#include "runtime/carrier_tcp/rxbudget.h"
#include "runtime/carrier_tcp/tcpc.h"

/* Receive reads: TCPC_READ_CHUNK bytes into rx between fragment streams; while fragments
 * stream, each read takes the rest of the fragment body being placed (straight into its
 * message's buffer) and at most TCPC_READ_PEEK bytes beyond it into rx, from where only
 * that much of the next fragment is copied; a body with at least TCPC_DIRECT_MIN_BYTES
 * still to come is placed. At most TCPC_READ_EVENT_BYTES per readable event, so other
 * connections are served. */
#define TCPC_READ_CHUNK       (256 * 1024)
#define TCPC_READ_PEEK        (4 * 1024)
#define TCPC_DIRECT_MIN_BYTES (4 * 1024)
#define TCPC_READ_EVENT_BYTES (4 * 1024 * 1024)
#define TCPC_WRITE_IOV        64
/* At most this much is written per flush (one writable event, or one sender's own call);
 * the rest on the next writable event, so the control thread serves its other sockets and
 * a sender's dd_send of 64 MiB does not write all of it while holding tx_lock. */
#define TCPC_WRITE_PASS_BYTES (256 * 1024)

/* Epoll mask for the socket from its wants (tx_lock held). */
static void sock_update_events(struct conn *c)
{
    struct hsio_sock *s = c->tcp->sock;
    if (!s || s->fd < 0)
        return;
    uint32_t ev = EPOLLRDHUP;
    if (!atomic_load(&c->tcp->rx_paused) && !c->tcp->rxb_waiting)
        ev |= EPOLLIN;
    if (s->want_out)
        ev |= EPOLLOUT;
    ctl_mod_fd(c->node, s->fd, ev, &s->item);
}

void tcpc_update_events(struct conn *c)
{
    pthread_mutex_lock(&c->tcp->tx_lock);
    sock_update_events(c);
    pthread_mutex_unlock(&c->tcp->tx_lock);
}

void tcpc_sock_up(struct dd_node *n, int fd, const char *peer)
{
    int lowat = (int)TXQ_SOCK_NOTSENT_BYTES;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof(lowat)) < 0)
        DLOG_WARN(n->log_name,
                  "connection to %s: cannot set TCP_NOTSENT_LOWAT (%s): the kernel will hold "
                  "up to a send buffer of unsent data ahead of small messages",
                  peer, strerror(errno));
}

/* Whether b goes to c's peer in fragments (txq.h): the peer takes them and b is large. */
static bool fragmentable(const struct conn *c, const struct obuf *b)
{
    return (c->flags & DFLAG_FRAGMENTS) && txq_fragmentable(b);
}

/* Queues b from byte off (tx_lock held); in fragments when the peer takes them and b is
 * large (then off must be 0). Out of memory the message is lost as on a broken link. */
static void enqueue_locked(struct conn *c, struct obuf *b, size_t off, bool barrier)
{
    bool frag = off == 0 && !barrier && fragmentable(c, b);
    (void)txq_push(&c->tcp->txq, b, off, barrier, frag);
}

/* Writes what the socket takes of the queue (tx_lock held), up to TCPC_WRITE_PASS_BYTES,
 * and stops after a write when a sender waits for tx_lock (one write always goes, so that
 * senders keeping the lock busy cannot stop the writing). The lanes are chosen per packet,
 * but a message not yet queued cannot be chosen, and a reader as fast as the writer
 * (loopback) never fills the socket: without letting go, a 64 MiB message would be
 * written whole before the small message of another sender were queued. What is left goes
 * on the next writable event (want_out). Returns -1 on a socket error (the caller brings
 * the connection down). */
static int flush_locked(struct conn *c)
{
    struct tcpc_conn *t = c->tcp;
    struct hsio_sock *s = t->sock;
    if (!s || s->fd < 0 || !s->up)
        return 0;
    size_t written = 0;
    while (!txq_empty(&t->txq) && written < TCPC_WRITE_PASS_BYTES &&
           (written == 0 || atomic_load_explicit(&t->tx_waiters, memory_order_relaxed) == 0)) {
        struct iovec iov[TCPC_WRITE_IOV];
        int n = txq_gather(&t->txq, iov, TCPC_WRITE_IOV);
        if (n == 0)
            break;
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
        ssize_t w = sendmsg(s->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            return -1;
        }
        atomic_store_explicit(&t->last_tx_ms, clock_now_ms(), memory_order_relaxed);
        txq_advance(&t->txq, (size_t)w);
        written += (size_t)w;
    }
    bool want = !txq_empty(&t->txq);
    if (want != s->want_out) {
        s->want_out = want;
        sock_update_events(c);
    }
    if (txq_bytes_for(&t->txq, false) < c->node->tcp->tx_queue_limit)
        pthread_cond_broadcast(&t->tx_room); /* each waiter checks its own budget */
    return 0;
}

static int tcpc_send(struct conn *c, struct obuf *b, bool nonblock)
{
    struct tcpc_conn *t = c->tcp;
    size_t limit = c->node->tcp->tx_queue_limit;
    if (pthread_mutex_trylock(&t->tx_lock) != 0) {
        /* Someone is writing: it lets go at its next packet (flush_locked). */
        atomic_fetch_add(&t->tx_waiters, 1);
        pthread_mutex_lock(&t->tx_lock);
        atomic_fetch_sub(&t->tx_waiters, 1);
    }
    if (atomic_load(&c->carrier) != &rt_tcp_carrier && b != c->node->tcp->tick) {
        /* Switched to another carrier while we were on our way: follow it, so nothing of
         * ours goes on TCP after the switch marker. Ticks stay: TCP remains the control
         * channel, and the peer's net_ticktime watches it. */
        pthread_mutex_unlock(&t->tx_lock);
        return conn_send(c, b, nonblock);
    }
    bool frag = fragmentable(c, b);
    if (ctl_is_control_thread(c->node)) {
        /* The control thread never waits for room: it is the thread that makes room. What
         * it sends answers the peer's own requests (noproc exits and 'DOWN's, unlink acks,
         * pings), so it may go past the limit, up to twice it; beyond that the peer does
         * not read what it asked for and is cut off. (Counted as for any sender: a large
         * message on its way in fragments is not the peer failing to read; nor is a tick,
         * which takes no room: at most one waits.) */
        if (b != c->node->tcp->tick && atomic_load(&c->state) != CONN_DOWN &&
            txq_bytes_for(&t->txq, frag) >= 2 * limit) {
            size_t queued = t->txq.bytes;
            pthread_mutex_unlock(&t->tx_lock);
            DLOG_WARN(c->node->log_name,
                      "closing connection to %s: it does not read the answers to its own "
                      "requests (%zu bytes queued)",
                      c->peer, queued);
            conn_down(c, DD_EIO, "send queue overflow");
            return DD_ENOCONN;
        }
    } else {
        while (atomic_load(&c->state) != CONN_DOWN && txq_bytes_for(&t->txq, frag) >= limit) {
            if (nonblock) {
                pthread_mutex_unlock(&t->tx_lock);
                return lasterr_set(DD_EWOULDBLOCK, "send queue to %s is full (%zu bytes)",
                                   c->peer, t->txq.bytes);
            }
            pthread_cond_wait(&t->tx_room, &t->tx_lock);
        }
    }
    if (atomic_load(&c->state) == CONN_DOWN) {
        pthread_mutex_unlock(&t->tx_lock);
        return DD_ENOCONN;
    }
    size_t off = 0;
    struct hsio_sock *s = t->sock;
    bool up = atomic_load(&c->state) == CONN_UP && s && s->up && s->fd >= 0;
    if (up && frag) {
        /* Fragments: queued, and written from here as far as the socket takes them (a
         * write error shows on the socket, where the control thread handles it). */
        enqueue_locked(c, b, 0, false);
        (void)flush_locked(c);
        pthread_mutex_unlock(&t->tx_lock);
        return DD_OK;
    }
    if (txq_empty(&t->txq) && up) {
        /* Nothing queued: straight to the socket, no thread hand-off. */
        ssize_t w = send(s->fd, b->bytes, b->len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w > 0) {
            off = (size_t)w;
            atomic_store_explicit(&t->last_tx_ms, clock_now_ms(), memory_order_relaxed);
        }
    }
    if (off < b->len) {
        enqueue_locked(c, b, off, false);
        if (atomic_load(&c->state) == CONN_UP && s && s->up && !s->want_out) {
            s->want_out = true;
            sock_update_events(c);
        }
    }
    pthread_mutex_unlock(&t->tx_lock);
    return DD_OK;
}

void tcpc_send_and_switch(struct conn *c, struct obuf *marker,
                          const struct rt_carrier_ops *next)
{
    pthread_mutex_lock(&c->tcp->tx_lock);
    struct hsio_sock *s = c->tcp->sock;
    size_t off = 0;
    if (txq_empty(&c->tcp->txq) && s && s->up && s->fd >= 0) {
        ssize_t w = send(s->fd, marker->bytes, marker->len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w > 0)
            off = (size_t)w;
    }
    if (off < marker->len) {
        enqueue_locked(c, marker, off, true);
        if (s && s->up && !s->want_out) {
            s->want_out = true;
            sock_update_events(c);
        }
    }
    atomic_store(&c->carrier, next);
    pthread_mutex_unlock(&c->tcp->tx_lock);
}

static void tcpc_peer_stats(struct conn *c, struct dd_peer_stats *out)
{
    out->max_heartbeat_gap_ns = atomic_exchange(&c->tcp->max_tick_gap_ns, 0);
    out->max_rx_gap_ns = atomic_exchange(&c->tcp->max_rx_gap_ns, 0);
}

const struct rt_carrier_ops rt_tcp_carrier = {
    .name = "tcp",
    .kind = DD_CARRIER_TCP,
    .send = tcpc_send,
    .peer_stats = tcpc_peer_stats,
    .switch_to = tcpc_send_and_switch,
};

void tcpc_kick(struct conn *c)
{
    if (atomic_load(&c->tcp->tx_waiters) > 0)
        sched_yield(); /* a sender that waits for tx_lock goes first (flush_locked) */
    pthread_mutex_lock(&c->tcp->tx_lock);
    if (flush_locked(c) < 0) {
        pthread_mutex_unlock(&c->tcp->tx_lock);
        conn_down(c, DD_EIO, "write error");
        return;
    }
    pthread_mutex_unlock(&c->tcp->tx_lock);
}

void tcpc_on_writable(struct conn *c)
{
    tcpc_kick(c);
}

void tcpc_drop_queue(struct conn *c)
{
    pthread_mutex_lock(&c->tcp->tx_lock);
    txq_drop_all(&c->tcp->txq);
    pthread_cond_broadcast(&c->tcp->tx_room); /* blocked senders find the connection down */
    pthread_mutex_unlock(&c->tcp->tx_lock);
}

bool tcpc_busy(struct conn *c)
{
    pthread_mutex_lock(&c->tcp->tx_lock);
    bool busy = !txq_empty(&c->tcp->txq) && atomic_load(&c->state) == CONN_UP;
    pthread_mutex_unlock(&c->tcp->tx_lock);
    return busy;
}

void tcpc_consumed(struct conn *c, size_t bytes)
{
    int64_t left = atomic_fetch_sub(&c->tcp->unconsumed, (int64_t)bytes) - (int64_t)bytes;
    if (atomic_load(&c->tcp->rx_paused) && left < (int64_t)c->node->tcp->rx_unconsumed_limit / 2)
        tcpc_resume_rx(c);
}

void tcpc_close(struct conn *c)
{
    pthread_mutex_lock(&c->tcp->tx_lock);
    struct hsio_sock *s = c->tcp->sock;
    c->tcp->sock = NULL;
    if (s)
        s->owner = NULL;
    pthread_mutex_unlock(&c->tcp->tx_lock);
    if (s)
        hsio_sock_free(c->node, s);
}

/* Resumes reading a paused socket (control thread work item). */
static void resume_rx_work(struct dd_node *n, void *arg)
{
    struct conn *c = arg;
    (void)n;
    if (atomic_exchange(&c->tcp->rx_paused, false)) {
        pthread_mutex_lock(&c->tcp->tx_lock);
        sock_update_events(c);
        pthread_mutex_unlock(&c->tcp->tx_lock);
        tcpc_on_readable(c);
    }
    conn_unref(c);
}

void tcpc_resume_rx(struct conn *c)
{
    conn_ref(c);
    ctl_post(c->node, resume_rx_work, c);
}

static void stat_add(uint64_t *counter, uint64_t v)
{
    __atomic_fetch_add(counter, v, __ATOMIC_RELAXED);
}

bool tcpc_rx_stats_get(struct dd_node *n, const char *peer, struct tcpc_rx_stats *out)
{
    rcu_rd_enter();
    struct conn *c = conn_lookup(n, peer);
    if (c) {
        out->placed_bytes = __atomic_load_n(&c->tcp->rx_stats.placed_bytes, __ATOMIC_RELAXED);
        out->copied_bytes = __atomic_load_n(&c->tcp->rx_stats.copied_bytes, __ATOMIC_RELAXED);
        out->owned_msgs = __atomic_load_n(&c->tcp->rx_stats.owned_msgs, __ATOMIC_RELAXED);
    }
    rcu_rd_leave();
    return c != NULL;
}

/* A whole packet has arrived: the liveness clock and the largest gap between packets
 * (dd_peer_stats). Returns the time (ns). */
static uint64_t packet_seen(struct conn *c)
{
    atomic_store_explicit(&c->tcp->last_rx_ms, clock_now_ms(), memory_order_relaxed);
    uint64_t now = clock_now_ns();
    if (c->tcp->last_pkt_ns && now - c->tcp->last_pkt_ns > atomic_load(&c->tcp->max_rx_gap_ns))
        atomic_store(&c->tcp->max_rx_gap_ns, now - c->tcp->last_pkt_ns);
    c->tcp->last_pkt_ns = now;
    return now;
}

/* Hands a complete message to dispatch (its bytes count as unconsumed until the
 * application frees them). owned: the message's own buffer (a reassembled message), given
 * to the mailbox without a copy, or NULL (dispatch copies what it keeps out of body).
 * Returns false when the socket must not be read further for now (rx_unconsumed_limit). */
static bool deliver(struct conn *c, const struct distmsg_body *body, void *owned)
{
    struct dispatch_src src = {
        .ctl = c->tcp->rx_ctl,
        .owned = owned,
        .owned_free = bigbuf_free, /* distmsg_reasm_take */
        .acct = body->len,
        .consumed_fn = tcpc_consumed,
    };
    atomic_fetch_add(&c->tcp->unconsumed, (int64_t)body->len);
    dispatch_body(c, body, &src);
    if (atomic_load(&c->tcp->unconsumed) <= (int64_t)c->node->tcp->rx_unconsumed_limit)
        return true;
    atomic_store(&c->tcp->rx_paused, true);
    pthread_mutex_lock(&c->tcp->tx_lock);
    sock_update_events(c);
    pthread_mutex_unlock(&c->tcp->tx_lock);
    return false;
}

/* Delivers the message the reassembler has just completed in body (in place in a packet,
 * or reassembled: then its buffer goes with it). *gave: reassembly memory came back. */
static bool deliver_complete(struct conn *c, const struct distmsg_body *body, bool *gave)
{
    void *owned = distmsg_reasm_take(&c->tcp->reasm);
    *gave |= owned != NULL;
    if (owned)
        stat_add(&c->tcp->rx_stats.owned_msgs, 1);
    return deliver(c, body, owned);
}

/* The packet at s->rx + pos is incomplete, the rest of its body is long and its header is
 * at hand: when it is a fragment of a sequence, its body goes straight into its message's
 * buffer (the part at hand now, the rest read there by tcpc_on_readable), and the packet
 * leaves rx. Returns 1 when placed, 0 when it is not a fragment (it arrives in rx), -1 on
 * bad input (logged), -2 when the node's reassembly memory has no room (nothing changed). */
static int place_fragment(struct conn *c, struct hsio_sock *s, size_t pos, size_t plen)
{
    size_t have = s->rx_len - pos - DISTMSG_LEN_BYTES;
    struct distmsg_place pl;
    enum distmsg_result r = distmsg_reasm_place(&c->tcp->reasm, s->rx + pos + DISTMSG_LEN_BYTES,
                                                have, plen, &pl);
    if (r == DISTMSG_E_CONFIG)
        return 0;
    if (r == DISTMSG_E_REASM_SHARED)
        return -2;
    if (r != DISTMSG_OK) {
        DLOG_WARN(c->node->log_name, "closing connection to %s: bad packet: %s", c->peer,
                  distmsg_strerror(r));
        return -1;
    }
    c->tcp->rx_dst = pl.dst;
    c->tcp->rx_dst_left = pl.left;
    stat_add(&c->tcp->rx_stats.copied_bytes, have);
    stat_add(&c->tcp->rx_stats.placed_bytes, pl.left);
    c->tcp->rx_frag_stream = true;
    return 1;
}

/* Handles the complete packets at the front of the receive buffer. */
static int process_packets(struct conn *c, struct hsio_sock *s)
{
    struct dd_node *n = c->node;
    size_t pos = 0;
    int rc = 0;
    bool gave = false; /* reassembly memory given back */
    while (pos < s->rx_len && atomic_load(&c->state) != CONN_DOWN && !c->tcp->rxb_waiting) {
        struct distmsg_frame f;
        enum distmsg_result r = distmsg_frame_next(s->rx + pos, s->rx_len - pos, n->max_msg, &f);
        if (r == DISTMSG_E_NEED_MORE) {
            size_t avail = s->rx_len - pos;
            if (avail < DISTMSG_LEN_BYTES + DISTMSG_HDR_FRAG_MAX_LEN)
                break; /* its header first */
            size_t plen = be32_get(s->rx + pos);
            if (!c->tcp->rxb_pkt && DISTMSG_LEN_BYTES + plen - avail >= TCPC_DIRECT_MIN_BYTES) {
                int placed = place_fragment(c, s, pos, plen);
                if (placed == 1)
                    pos = s->rx_len;
                else if (placed == -2)
                    rc = rxb_wait(c, "a fragmented message");
                else if (placed == -1)
                    rc = -1;
                if (placed != 0)
                    break;
            }
            /* A long packet reserves its length in the node's reassembly memory before its
             * bytes pile up in the receive buffer. */
            if (!c->tcp->rxb_pkt && DISTMSG_LEN_BYTES + plen > RXB_FREE_PACKET_BYTES &&
                !rxb_take_packet(c, plen))
                rc = rxb_wait(c, "a long packet");
            break;
        }
        if (r != DISTMSG_OK) {
            DLOG_WARN(n->log_name, "closing connection to %s: %s", c->peer, distmsg_strerror(r));
            rc = -1;
            break;
        }
        pos += f.total;
        uint64_t now = packet_seen(c);
        if (f.len == 0) { /* tick: track the largest gap between them */
            if (c->tcp->last_tick_ns && now - c->tcp->last_tick_ns > atomic_load(&c->tcp->max_tick_gap_ns))
                atomic_store(&c->tcp->max_tick_gap_ns, now - c->tcp->last_tick_ns);
            c->tcp->last_tick_ns = now;
            continue;
        }
        struct distmsg_body body;
        bool complete;
        r = distmsg_reasm_feed(&c->tcp->reasm, f.data, f.len, &body, &complete);
        if (r == DISTMSG_E_REASM_SHARED) {
            /* No room in the node's reassembly memory for the message this fragment starts:
             * the packet stays unread until there is (rxbudget.c). */
            pos -= f.total;
            rc = rxb_wait(c, "a fragmented message");
            break;
        }
        if (c->tcp->rxb_pkt) { /* the long packet it reserved for has been read */
            rxb_give_packet(c);
            gave = true;
        }
        if (r != DISTMSG_OK) {
            DLOG_WARN(n->log_name, "closing connection to %s: bad packet: %s", c->peer,
                      distmsg_strerror(r));
            rc = -1;
            break;
        }
        if (!complete || c->tcp->reasm.done) { /* a piece of a sequence: copied */
            stat_add(&c->tcp->rx_stats.copied_bytes, f.len);
            c->tcp->rx_frag_stream = true;
        }
        if (complete && !deliver_complete(c, &body, &gave))
            break;
    }
    if (pos) {
        memmove(s->rx, s->rx + pos, s->rx_len - pos);
        s->rx_len -= pos;
    }
    if (gave)
        rxb_resume(n); /* connections waiting for reassembly memory may go on */
    return rc;
}

/* The fragment body being placed has been read whole: it joins its message, which is
 * delivered if it is complete. */
static void placed(struct conn *c)
{
    struct distmsg_body body;
    bool complete, gave = false;
    (void)packet_seen(c);
    c->tcp->rx_dst = NULL;
    distmsg_reasm_placed(&c->tcp->reasm, &body, &complete);
    if (complete)
        (void)deliver_complete(c, &body, &gave); /* a pause shows in rx_paused */
    if (gave)
        rxb_resume(c->node);
}

/* Grows s's receive buffer to hold `want` more bytes. */
static bool rx_room(struct hsio_sock *s, size_t want)
{
    size_t need = s->rx_len + want;
    if (need <= s->rx_cap)
        return true;
    size_t cap = s->rx_cap ? s->rx_cap : TCPC_READ_CHUNK;
    while (cap < need)
        cap *= 2;
    uint8_t *p = realloc(s->rx, cap);
    if (!p)
        return false;
    s->rx = p;
    s->rx_cap = cap;
    return true;
}

void tcpc_on_readable(struct conn *c)
{
    struct hsio_sock *s = c->tcp->sock;
    struct tcpc_conn *t = c->tcp;
    if (!s || s->fd < 0 || t->rxb_waiting) /* waiting: rxb_resume reads it again */
        return;
    /* Packets left from before a pause first. */
    if (s->rx_len && process_packets(c, s) < 0) {
        conn_down(c, DD_EIO, "protocol error");
        return;
    }
    size_t got = 0;
    while (got < TCPC_READ_EVENT_BYTES && !atomic_load(&t->rx_paused) && !t->rxb_waiting &&
           atomic_load(&c->state) != CONN_DOWN) {
        /* A fragment body in progress is read where its message is; what follows it goes
         * to rx, only a little while fragments stream (it is copied from there). */
        size_t want = t->rx_dst_left || t->rx_frag_stream ? TCPC_READ_PEEK : TCPC_READ_CHUNK;
        if (!rx_room(s, want)) {
            conn_down(c, DD_ENOMEM, "out of memory for the receive buffer");
            return;
        }
        struct iovec iov[2];
        int niov = 0;
        size_t direct = t->rx_dst_left;
        if (direct)
            iov[niov++] = (struct iovec){.iov_base = t->rx_dst, .iov_len = direct};
        iov[niov++] = (struct iovec){.iov_base = s->rx + s->rx_len, .iov_len = want};
        ssize_t r = readv(s->fd, iov, niov);
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            conn_down(c, DD_ENOCONN, r == 0 ? "connection closed by peer" : strerror(errno));
            return;
        }
        got += (size_t)r;
        size_t to_rx = (size_t)r;
        if (direct) {
            size_t d = to_rx < direct ? to_rx : direct;
            t->rx_dst += d;
            t->rx_dst_left -= d;
            to_rx -= d;
            if (t->rx_dst_left == 0)
                placed(c);
        }
        s->rx_len += to_rx;
        /* Fragments stream on after a read that went into a body or held a piece of a
         * sequence (placed or fed), or that ends in a packet whose header is not all here
         * yet; a read of whole small packets only ends the stream. */
        bool streaming = t->rx_frag_stream;
        t->rx_frag_stream = false;
        if (s->rx_len && !atomic_load(&t->rx_paused) && process_packets(c, s) < 0) {
            conn_down(c, DD_EIO, "protocol error");
            return;
        }
        if (direct || (streaming && s->rx_len))
            t->rx_frag_stream = true;
        /* Keep the buffer from staying huge after one large message. */
        if (s->rx_len == 0 && s->rx_cap > 4 * TCPC_READ_CHUNK) {
            free(s->rx);
            s->rx = NULL;
            s->rx_cap = 0;
        }
        if ((size_t)r < direct + want)
            break;
    }
}

void tcpc_tick(struct conn *c, uint64_t now)
{
    struct dd_node *n = c->node;
    if (atomic_load(&c->tcp->rx_paused) || c->tcp->rxb_waiting) {
        /* We stopped reading (our application is behind, or the node's reassembly memory is
         * full), not the peer sending: its data is waiting in the socket. Silence from a
         * paused socket proves nothing. */
        atomic_store_explicit(&c->tcp->last_rx_ms, now, memory_order_relaxed);
    }
    uint64_t last_rx = atomic_load_explicit(&c->tcp->last_rx_ms, memory_order_relaxed);
    if (now > last_rx + n->ticktime_ms) {
        DLOG_WARN(n->log_name, "node %s not responding: no data for %u ms (net_ticktime)",
                  c->peer, n->ticktime_ms);
        conn_down(c, DD_ETIMEDOUT, "net_tick_timeout");
        return;
    }
    uint64_t last_tx = atomic_load_explicit(&c->tcp->last_tx_ms, memory_order_relaxed);
    if (now >= last_tx + n->tick_interval_ms) {
        /* An empty packet, also with data queued: it goes ahead of everything at the next
         * packet boundary (txq.h, lanes), and at most one waits. Nothing went out for a
         * tick interval, so the peer is not reading fast; the tick then tells it at once
         * that we are alive once it reads again. */
        tcpc_send(c, n->tcp->tick, true);
    }
}
