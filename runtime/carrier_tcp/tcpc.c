/* The TCP carrier: distribution traffic on the connection's socket after the handshake
 * (4-byte length framing, ticks as empty packets), as OTP's inet_tcp_dist does it.
 *
 * Sending (any thread): under tx_lock, a message goes straight to the socket when nothing is
 * queued, else to the queue that the control thread drains on EPOLLOUT; a large one toward
 * a peer that takes fragments goes in fragments, other messages between them (below). The
 * queue is bounded by node->tx_queue_limit bytes, per class (txq_bytes_for): a message is
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
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

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

#define TCPC_READ_CHUNK (256 * 1024)
#define TCPC_WRITE_IOV  64

/* Epoll mask for the socket from its wants (tx_lock held). */
static void sock_update_events(struct conn *c)
{
    struct rt_sock *s = c->sock;
    if (!s || s->fd < 0)
        return;
    uint32_t ev = EPOLLRDHUP;
    if (!atomic_load(&c->rx_paused) && !c->rxb_waiting)
        ev |= EPOLLIN;
    if (s->want_out)
        ev |= EPOLLOUT;
    ctl_mod_fd(c->node, s->fd, ev, &s->item);
}

void tcpc_update_events(struct conn *c)
{
    pthread_mutex_lock(&c->tx_lock);
    sock_update_events(c);
    pthread_mutex_unlock(&c->tx_lock);
}

/* ---- fragments ---------------------------------------------------------------------
 *
 * Toward a peer that accepts fragments (DFLAG_FRAGMENTS: BEAM, and dpdist nodes), a message
 * whose body exceeds TCPC_FRAG_DATA goes out as fragments of that size (erl_ext_dist's
 * "Distribution Header for Fragmented Messages": a start fragment, 131 'E' SequenceId
 * FragmentId=N NumberOfAtomCacheRefs=0, then continuations 131 'F' SequenceId FragmentId
 * N-1 .. 1), and other messages go between its fragments: a 64 MiB message delays a small
 * one by one fragment, not by 64 MiB.
 *
 * The queue stays one FIFO, written from its head. When a fragment of the head message is
 * complete, that message moves back past the entries that may overtake it: whole (small)
 * messages of other senders. It stops before a message of its own sender (one sender's
 * messages keep their order), before another fragmented message (one fragmented message at
 * a time: the receiver reassembles at most one of ours), and before the carrier switch
 * marker (nothing of a message may follow the marker on TCP). Ticks go anywhere. */
#define TCPC_FRAG_DATA (64u * 1024)
/* Where a message's body starts in its obuf: after the packet length and 131 'D' 0. */
#define TCPC_BODY_OFF (DISTMSG_LEN_BYTES + DISTMSG_HDR_NORMAL_LEN)

static bool fragmentable(const struct conn *c, const struct obuf *b)
{
    return (c->flags & DFLAG_FRAGMENTS) && b->len > TCPC_BODY_OFF + TCPC_FRAG_DATA &&
           distmsg_is_plain_normal_header(b->bytes + DISTMSG_LEN_BYTES,
                                          b->len - DISTMSG_LEN_BYTES);
}

/* Prepares q's next fragment: its header in q->pkt_hdr, its data from b->bytes + q->off. */
static void frag_open(struct rt_txq *q)
{
    size_t left = q->b->len - q->off;
    q->pkt_data = left < TCPC_FRAG_DATA ? left : TCPC_FRAG_DATA;
    bool first = q->off == TCPC_BODY_OFF;
    size_t hl = distmsg_frag_header_encode(
        q->pkt_hdr + DISTMSG_LEN_BYTES, sizeof(q->pkt_hdr) - DISTMSG_LEN_BYTES,
        first ? DISTMSG_HDR_FRAG_START : DISTMSG_HDR_FRAG_CONT, q->frag_seq, q->frags_left);
    distmsg_frame_put_len(q->pkt_hdr, (uint32_t)(hl + q->pkt_data));
    q->pkt_hdr_len = (uint8_t)(DISTMSG_LEN_BYTES + hl);
    q->pkt_off = 0;
    q->pkt_open = true;
}

/* The head entry's fragment is complete and more follow: move it back past the entries
 * that may overtake it (see above). */
static void frag_requeue_head(struct conn *c)
{
    struct rt_txq *q = c->txq_head, *prev = q;
    struct rt_txq *p = q->next;
    while (p && !p->barrier && p->frags_left == 0 &&
           (p->sender != q->sender || p->b == c->node->tick)) {
        prev = p;
        p = p->next;
    }
    if (prev == q)
        return; /* nothing may pass it */
    c->txq_head = q->next;
    q->next = p;
    prev->next = q;
    if (!p)
        c->txq_tail = q;
}

static void txq_pop_head(struct conn *c)
{
    struct rt_txq *q = c->txq_head;
    c->txq_head = q->next;
    if (!c->txq_head)
        c->txq_tail = NULL;
    obuf_unref(q->b);
    free(q);
}

/* Writes as much of the queue as the socket takes (tx_lock held). Returns -1 on a socket
 * error (the caller brings the connection down). */
static int flush_locked(struct conn *c)
{
    struct rt_sock *s = c->sock;
    if (!s || s->fd < 0 || !s->up)
        return 0;
    while (c->txq_head) {
        /* Whole messages from the head, up to and including one fragment. */
        struct iovec iov[TCPC_WRITE_IOV];
        int n = 0;
        for (struct rt_txq *q = c->txq_head; q && n < TCPC_WRITE_IOV - 1; q = q->next) {
            if (q->frags_left == 0) {
                iov[n].iov_base = q->b->bytes + q->off;
                iov[n++].iov_len = q->b->len - q->off;
                continue;
            }
            if (!q->pkt_open)
                frag_open(q);
            if (q->pkt_off < q->pkt_hdr_len) {
                iov[n].iov_base = q->pkt_hdr + q->pkt_off;
                iov[n++].iov_len = q->pkt_hdr_len - q->pkt_off;
            }
            size_t done = q->pkt_off > q->pkt_hdr_len ? q->pkt_off - q->pkt_hdr_len : 0;
            iov[n].iov_base = q->b->bytes + q->off + done;
            iov[n++].iov_len = q->pkt_data - done;
            break; /* what follows depends on where this message goes next */
        }
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
        ssize_t w = sendmsg(s->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            return -1;
        }
        atomic_store_explicit(&c->last_tx_ms, clock_now_ms(), memory_order_relaxed);
        size_t left = (size_t)w;
        while (left && c->txq_head) {
            struct rt_txq *q = c->txq_head;
            if (q->frags_left == 0) {
                size_t rest = q->b->len - q->off;
                if (left < rest) {
                    q->off += left;
                    c->txq_bytes -= left;
                    break;
                }
                left -= rest;
                c->txq_bytes -= rest;
                txq_pop_head(c);
                continue;
            }
            size_t rest = q->pkt_hdr_len + q->pkt_data - q->pkt_off;
            if (left < rest) {
                q->pkt_off += left;
                break;
            }
            left -= rest; /* 0: the fragment ended what was gathered */
            q->off += q->pkt_data;
            c->txq_bytes -= q->pkt_data;
            c->txq_frag_bytes -= q->pkt_data;
            q->pkt_open = false;
            if (--q->frags_left == 0)
                txq_pop_head(c);
            else
                frag_requeue_head(c);
        }
    }
    bool want = c->txq_head != NULL;
    if (want != s->want_out) {
        s->want_out = want;
        sock_update_events(c);
    }
    if (c->txq_bytes - c->txq_frag_bytes < c->node->tx_queue_limit)
        pthread_cond_broadcast(&c->tx_room); /* each waiter checks its own budget */
    return 0;
}

/* The queue bytes that count against b's admission (tx_lock held). Whole messages are
 * admitted while the whole messages queued stay below the limit: a small message does not
 * wait for a 64 MiB one to drain, it passes it between fragments. A message going in
 * fragments counts everything queued, so a stream of large messages is still held to the
 * limit (memory: the limit for each class, plus the one message that crossed it). */
static size_t txq_bytes_for(const struct conn *c, const struct obuf *b)
{
    return fragmentable(c, b) ? c->txq_bytes : c->txq_bytes - c->txq_frag_bytes;
}

/* Queues b from byte off (tx_lock held); fragmented when the peer takes fragments and b is
 * large (then off must be 0). */
static void enqueue_locked(struct conn *c, struct obuf *b, size_t off, bool barrier)
{
    struct rt_txq *q = calloc(1, sizeof(*q));
    if (!q)
        return; /* out of memory: the message is lost like on a broken link */
    obuf_ref(b);
    q->b = b;
    q->off = off;
    q->sender = b->dp.sender;
    q->barrier = barrier;
    if (off == 0 && !barrier && fragmentable(c, b)) {
        size_t data = b->len - TCPC_BODY_OFF;
        q->off = TCPC_BODY_OFF;
        q->frag_seq = ++c->frag_seq_next;
        q->frags_left = (data + TCPC_FRAG_DATA - 1) / TCPC_FRAG_DATA;
        c->txq_bytes += data;
        c->txq_frag_bytes += data;
    } else {
        c->txq_bytes += b->len - off;
    }
    if (c->txq_tail)
        c->txq_tail->next = q;
    else
        c->txq_head = q;
    c->txq_tail = q;
}

static int tcpc_send(struct conn *c, struct obuf *b, bool nonblock)
{
    pthread_mutex_lock(&c->tx_lock);
    if (atomic_load(&c->carrier) != &rt_tcp_carrier && b != c->node->tick) {
        /* Switched to another carrier while we were on our way: follow it, so nothing of
         * ours goes on TCP after the switch marker. Ticks stay: TCP remains the control
         * channel, and the peer's net_ticktime watches it. */
        pthread_mutex_unlock(&c->tx_lock);
        return conn_send(c, b, nonblock);
    }
    if (ctl_is_control_thread(c->node)) {
        /* The control thread never waits for room: it is the thread that makes room. What
         * it sends answers the peer's own requests (noproc exits and 'DOWN's, unlink acks,
         * pings), so it may go past the limit, up to twice it; beyond that the peer does
         * not read what it asked for and is cut off. (Counted as for any sender: a large
         * message on its way in fragments is not the peer failing to read.) */
        if (atomic_load(&c->state) != CONN_DOWN &&
            txq_bytes_for(c, b) >= 2 * c->node->tx_queue_limit) {
            size_t queued = c->txq_bytes;
            pthread_mutex_unlock(&c->tx_lock);
            DLOG_WARN(c->node->log_name,
                      "closing connection to %s: it does not read the answers to its own "
                      "requests (%zu bytes queued)",
                      c->peer, queued);
            conn_down(c, DD_EIO, "send queue overflow");
            return DD_ENOCONN;
        }
    } else {
        while (atomic_load(&c->state) != CONN_DOWN &&
               txq_bytes_for(c, b) >= c->node->tx_queue_limit) {
            if (nonblock) {
                pthread_mutex_unlock(&c->tx_lock);
                return lasterr_set(DD_EWOULDBLOCK, "send queue to %s is full (%zu bytes)", c->peer,
                               c->txq_bytes);
            }
            pthread_cond_wait(&c->tx_room, &c->tx_lock);
        }
    }
    if (atomic_load(&c->state) == CONN_DOWN) {
        pthread_mutex_unlock(&c->tx_lock);
        return DD_ENOCONN;
    }
    size_t off = 0;
    struct rt_sock *s = c->sock;
    bool up = atomic_load(&c->state) == CONN_UP && s && s->up && s->fd >= 0;
    if (up && fragmentable(c, b)) {
        /* Fragments: queued, and written from here as far as the socket takes them (a
         * write error shows on the socket, where the control thread handles it). */
        enqueue_locked(c, b, 0, false);
        (void)flush_locked(c);
        pthread_mutex_unlock(&c->tx_lock);
        return DD_OK;
    }
    if (!c->txq_head && up) {
        /* Nothing queued: straight to the socket, no thread hand-off. */
        ssize_t w = send(s->fd, b->bytes, b->len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w > 0) {
            off = (size_t)w;
            atomic_store_explicit(&c->last_tx_ms, clock_now_ms(), memory_order_relaxed);
        }
    }
    if (off < b->len) {
        enqueue_locked(c, b, off, false);
        if (atomic_load(&c->state) == CONN_UP && s && s->up && !s->want_out) {
            s->want_out = true;
            sock_update_events(c);
        }
    }
    pthread_mutex_unlock(&c->tx_lock);
    return DD_OK;
}

void tcpc_send_and_switch(struct conn *c, struct obuf *marker,
                          const struct rt_carrier_ops *next)
{
    pthread_mutex_lock(&c->tx_lock);
    struct rt_sock *s = c->sock;
    size_t off = 0;
    if (!c->txq_head && s && s->up && s->fd >= 0) {
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
    pthread_mutex_unlock(&c->tx_lock);
}

static void tcpc_peer_stats(struct conn *c, struct dd_peer_stats *out)
{
    out->max_heartbeat_gap_ns = atomic_exchange(&c->max_tick_gap_ns, 0);
    out->max_rx_gap_ns = atomic_exchange(&c->max_rx_gap_ns, 0);
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
    pthread_mutex_lock(&c->tx_lock);
    if (flush_locked(c) < 0) {
        pthread_mutex_unlock(&c->tx_lock);
        conn_down(c, DD_EIO, "write error");
        return;
    }
    pthread_mutex_unlock(&c->tx_lock);
}

void tcpc_on_writable(struct conn *c)
{
    tcpc_kick(c);
}

void tcpc_drop_queue(struct conn *c)
{
    pthread_mutex_lock(&c->tx_lock);
    while (c->txq_head) {
        struct rt_txq *q = c->txq_head;
        c->txq_head = q->next;
        obuf_unref(q->b);
        free(q);
    }
    c->txq_tail = NULL;
    c->txq_bytes = 0;
    c->txq_frag_bytes = 0;
    pthread_cond_broadcast(&c->tx_room); /* blocked senders find the connection down */
    pthread_mutex_unlock(&c->tx_lock);
}

bool tcpc_busy(struct conn *c)
{
    pthread_mutex_lock(&c->tx_lock);
    bool busy = c->txq_head != NULL && atomic_load(&c->state) == CONN_UP;
    pthread_mutex_unlock(&c->tx_lock);
    return busy;
}

void tcpc_consumed(struct conn *c, size_t bytes)
{
    int64_t left = atomic_fetch_sub(&c->unconsumed, (int64_t)bytes) - (int64_t)bytes;
    if (atomic_load(&c->rx_paused) && left < (int64_t)c->node->rx_unconsumed_limit / 2)
        tcpc_resume_rx(c);
}

void tcpc_close(struct conn *c)
{
    pthread_mutex_lock(&c->tx_lock);
    struct rt_sock *s = c->sock;
    c->sock = NULL;
    if (s)
        s->owner = NULL;
    pthread_mutex_unlock(&c->tx_lock);
    if (s)
        hsio_sock_free(c->node, s);
}

/* Resumes reading a paused socket (control thread work item). */
static void resume_rx_work(struct dd_node *n, void *arg)
{
    struct conn *c = arg;
    (void)n;
    if (atomic_exchange(&c->rx_paused, false)) {
        pthread_mutex_lock(&c->tx_lock);
        sock_update_events(c);
        pthread_mutex_unlock(&c->tx_lock);
        tcpc_on_readable(c);
    }
    conn_unref(c);
}

void tcpc_resume_rx(struct conn *c)
{
    conn_ref(c);
    ctl_post(c->node, resume_rx_work, c);
}

/* Handles the complete packets at the front of the receive buffer. */
static int process_packets(struct conn *c, struct rt_sock *s)
{
    struct dd_node *n = c->node;
    size_t pos = 0;
    int rc = 0;
    bool gave = false; /* reassembly memory given back */
    while (pos < s->rx_len && atomic_load(&c->state) != CONN_DOWN && !c->rxb_waiting) {
        struct distmsg_frame f;
        enum distmsg_result r = distmsg_frame_next(s->rx + pos, s->rx_len - pos, n->max_msg, &f);
        if (r == DISTMSG_E_NEED_MORE) {
            /* A long packet reserves its length in the node's reassembly memory before its
             * bytes pile up in the receive buffer. */
            size_t plen = s->rx_len - pos >= DISTMSG_LEN_BYTES ? be32_get(s->rx + pos) : 0;
            if (!c->rxb_pkt && DISTMSG_LEN_BYTES + plen > RXB_FREE_PACKET_BYTES &&
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
        atomic_store_explicit(&c->last_rx_ms, clock_now_ms(), memory_order_relaxed);
        uint64_t now = clock_now_ns();
        if (c->last_pkt_ns && now - c->last_pkt_ns > atomic_load(&c->max_rx_gap_ns))
            atomic_store(&c->max_rx_gap_ns, now - c->last_pkt_ns);
        c->last_pkt_ns = now;
        if (f.len == 0) { /* tick: track the largest gap between them */
            if (c->last_tick_ns && now - c->last_tick_ns > atomic_load(&c->max_tick_gap_ns))
                atomic_store(&c->max_tick_gap_ns, now - c->last_tick_ns);
            c->last_tick_ns = now;
            continue;
        }
        struct distmsg_body body;
        bool complete;
        r = distmsg_reasm_feed(&c->reasm, f.data, f.len, &body, &complete);
        if (r == DISTMSG_E_REASM_SHARED) {
            /* No room in the node's reassembly memory for the message this fragment starts:
             * the packet stays unread until there is (rxbudget.c). */
            pos -= f.total;
            rc = rxb_wait(c, "a fragmented message");
            break;
        }
        if (c->rxb_pkt) { /* the long packet it reserved for has been read */
            rxb_give_packet(c);
            gave = true;
        }
        if (r != DISTMSG_OK) {
            DLOG_WARN(n->log_name, "closing connection to %s: bad packet: %s", c->peer,
                      distmsg_strerror(r));
            rc = -1;
            break;
        }
        if (complete) {
            struct dispatch_src src = {
                .ctl = c->ctl,
                .acct = body.len,
                .consumed_fn = tcpc_consumed,
            };
            atomic_fetch_add(&c->unconsumed, (int64_t)body.len);
            dispatch_body(c, &body, &src);
            size_t held = c->reasm.shared_bytes;
            distmsg_reasm_release(&c->reasm); /* dispatch copied what it keeps */
            gave |= c->reasm.shared_bytes < held;
        }
        if (atomic_load(&c->unconsumed) > (int64_t)n->rx_unconsumed_limit) {
            atomic_store(&c->rx_paused, true);
            pthread_mutex_lock(&c->tx_lock);
            sock_update_events(c);
            pthread_mutex_unlock(&c->tx_lock);
            break;
        }
    }
    if (pos) {
        memmove(s->rx, s->rx + pos, s->rx_len - pos);
        s->rx_len -= pos;
    }
    if (gave)
        rxb_resume(n); /* connections waiting for reassembly memory may go on */
    return rc;
}

void tcpc_on_readable(struct conn *c)
{
    struct rt_sock *s = c->sock;
    struct dd_node *n = c->node;
    if (!s || s->fd < 0 || c->rxb_waiting) /* waiting: rxb_resume reads it again */
        return;
    /* Packets left from before a pause first. */
    if (s->rx_len && process_packets(c, s) < 0) {
        conn_down(c, DD_EIO, "protocol error");
        return;
    }
    for (int rounds = 0; rounds < 16 && !atomic_load(&c->rx_paused) && !c->rxb_waiting; rounds++) {
        size_t need = s->rx_len + TCPC_READ_CHUNK;
        if (need > s->rx_cap) {
            size_t cap = s->rx_cap ? s->rx_cap : TCPC_READ_CHUNK;
            while (cap < need)
                cap *= 2;
            uint8_t *p = realloc(s->rx, cap);
            if (!p) {
                conn_down(c, DD_ENOMEM, "out of memory for the receive buffer");
                return;
            }
            s->rx = p;
            s->rx_cap = cap;
        }
        ssize_t r = recv(s->fd, s->rx + s->rx_len, s->rx_cap - s->rx_len, MSG_DONTWAIT);
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            conn_down(c, DD_ENOCONN, r == 0 ? "connection closed by peer" : strerror(errno));
            return;
        }
        s->rx_len += (size_t)r;
        if (process_packets(c, s) < 0) {
            conn_down(c, DD_EIO, "protocol error");
            return;
        }
        /* Keep the buffer from staying huge after one large message. */
        if (s->rx_len == 0 && s->rx_cap > 4 * TCPC_READ_CHUNK) {
            free(s->rx);
            s->rx = NULL;
            s->rx_cap = 0;
        }
        if ((size_t)r < TCPC_READ_CHUNK)
            break;
    }
    (void)n;
}

void tcpc_tick(struct conn *c, uint64_t now)
{
    struct dd_node *n = c->node;
    if (atomic_load(&c->rx_paused) || c->rxb_waiting) {
        /* We stopped reading (our application is behind, or the node's reassembly memory is
         * full), not the peer sending: its data is waiting in the socket. Silence from a
         * paused socket proves nothing. */
        atomic_store_explicit(&c->last_rx_ms, now, memory_order_relaxed);
    }
    uint64_t last_rx = atomic_load_explicit(&c->last_rx_ms, memory_order_relaxed);
    if (now > last_rx + n->ticktime_ms) {
        DLOG_WARN(n->log_name, "node %s not responding: no data for %u ms (net_ticktime)",
                  c->peer, n->ticktime_ms);
        conn_down(c, DD_ETIMEDOUT, "net_tick_timeout");
        return;
    }
    uint64_t last_tx = atomic_load_explicit(&c->last_tx_ms, memory_order_relaxed);
    if (now >= last_tx + n->tick_interval_ms) {
        /* An empty packet. With data queued the peer sees bytes arrive anyway, and OTP does
         * not tick then either. */
        pthread_mutex_lock(&c->tx_lock);
        bool idle = c->txq_head == NULL;
        pthread_mutex_unlock(&c->tx_lock);
        if (idle)
            tcpc_send(c, n->tick, true);
    }
}
