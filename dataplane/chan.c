/* Fast path (except chan_create/destroy/params): no locks, no syscalls, no logging;
 * allocation only of reassembly buffers, through the allocator hook.
 *
 * chan — one peer channel: flows, credits, scheduler, ack window, reassembly, liveness.
 *
 * Transmit pipeline (per message)
 *   chan_submit      -> start queue (FIFO, submission order, bounded by tx_queue_msgs)
 *   start_messages   -> the head starts when the peer's credit covers its whole length
 *                       (tx_started + len <= peer_credit) and its sender has or gets a
 *                       flow slot; it takes the flow's next msg_seq and joins the flow's
 *                       queue; the flow joins the scheduler if it was idle. Strict FIFO:
 *                       a blocked head blocks later messages (no starvation, and per-flow
 *                       order holds trivially).
 *   chan_tx_burst    -> pulse frames, then retransmissions, then one fragment per
 *                       scheduler pick while fewer than W frames are in flight.
 *   ACK              -> frames released; a message whose bytes are all acknowledged drops
 *                       the channel's reference; a flow with no message left is idle in
 *                       the flow table (its slot may go to another sender).
 * Receive: DATA -> window verdict -> reassembly (credit-checked) -> mark -> ACK due;
 *   deliveries come out of reassembly in per-flow order through ops.deliver.
 *
 * Invariants
 *   - a flow is in the scheduler iff its queue (started, not fully fragmented messages)
 *     is non-empty; flows[f].msgs counts its started messages not fully acknowledged,
 *     and the flow table slot is busy iff msgs > 0.
 *   - tx_started <= peer_credit; peer_credit only grows.
 *   - every message reference the channel holds is in exactly one place: the start
 *     queue, a flow queue (possibly also with frames in flight), or only in-flight frames.
 *   - delivered - consumed <= rx_window_bytes for an honest peer; the grant is
 *     consumed + rx_window_bytes and never shrinks.
 *
 * Bounds: start queue tx_queue_msgs; W frames in flight; max_flows flows; reassembly
 * max_pending_msgs + max_flows messages and rx_window_bytes bytes; one ACK and one
 * HEARTBEAT payload in scratch per burst.
 */
#include "dataplane/chan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/bytes.h"
#include "dataplane/ackwin.h"
#include "dataplane/flowtab.h"
#include "dataplane/sched.h"

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

struct chan_txflow {
    struct dp_msg *head; /* started, not yet fully fragmented */
    struct dp_msg *tail;
    uint32_t next_msg_seq;
    uint32_t msgs; /* started, not fully acknowledged */
};

struct chan {
    struct chan_params p;
    struct chan_ops ops;
    enum chan_down_reason down;
    bool close_pending;
    bool ack_due;       /* send an ACK in the next burst */
    bool credit_dirty;  /* the grant grew since it was last advertised */
    uint64_t ack_at_ns; /* delayed ACK: due at this time (0: none pending) */
    uint32_t rx_since_ack; /* DATA frames received since the last ACK */
    uint64_t advertised;   /* the grant our last ACK or HEARTBEAT carried */
    bool rx_any; /* some DATA arrived: heartbeats carry an ACK too */
    bool credit_stalled;
    bool flow_stalled;
    uint64_t last_rx_ns;
    uint64_t next_hb_ns;
    uint64_t dead_after_ns;
    uint32_t hb_seq;

    /* transmit */
    struct flowtab *ft;
    struct sched *sched;
    struct chan_txflow *flows;
    struct ackwin_tx atx;
    struct dp_msg *sq_head; /* start queue */
    struct dp_msg *sq_tail;
    uint32_t sq_count;
    uint64_t sq_bytes;
    uint64_t tx_started;
    uint64_t peer_credit;
    uint64_t inflight_wire_bytes; /* DATA frames sent and not yet acknowledged, on the wire */

    /* receive */
    struct reasm *reasm;
    uint64_t delivered;
    uint64_t consumed;

    struct chan_stats st;
    struct ackwin_rx arx;
    uint8_t ack_buf[WIRE_ACK_MAX_LEN];
    uint8_t hb_buf[WIRE_HEARTBEAT_LEN];
};

static const char *const chan_down_msgs[] = {
#define CHAN_X_MSG(code, msg) msg,
    CHAN_DOWN_REASONS(CHAN_X_MSG)
#undef CHAN_X_MSG
};

const char *chan_down_str(enum chan_down_reason r)
{
    if ((unsigned)r >= CHAN_DOWN__COUNT)
        return "unknown";
    return chan_down_msgs[r];
}

/* ------------------------------------------------------------ parameters --------- */

void chan_params_default(struct chan_params *p)
{
    memset(p, 0, sizeof(*p));
    p->window_frames = 4096;
    p->rx_window_bytes = UINT64_C(128) << 20;
    p->max_msg_bytes = UINT32_C(64) << 20;
    p->max_flows = 256;
    p->max_payload = 1500 - WIRE_L3_HDRS_LEN;
    p->max_pending_msgs = 4096;
    p->tx_queue_msgs = 65536;
    p->hb_interval_ns = 100 * UINT64_C(1000000);
    p->hb_missed_limit = 10;
    p->min_rto_ns = 1 * UINT64_C(1000000);
    p->max_rto_ns = 500 * UINT64_C(1000000);
    p->initial_rto_ns = 10 * UINT64_C(1000000);
    p->ack_delay_ns = 20 * UINT64_C(1000);
    p->ack_every = 16;
    p->express_weight = 4;
    p->normal_weight = 0; /* strict priority for the express lane */
    p->max_transmissions = 32;
}

const char *chan_params_error(const struct chan_params *p)
{
    if (!ackwin_valid_window(p->window_frames))
        return "window_frames must be a power of two in 8..8192";
    if (p->max_msg_bytes == 0 || p->max_msg_bytes > p->rx_window_bytes)
        return "max_msg_bytes must be in 1..rx_window_bytes";
    if (p->max_flows == 0 || p->max_flows > FLOWTAB_MAX_FLOWS)
        return "max_flows must be in 1..32768";
    if (p->max_payload == 0 || p->max_payload > 65535 - WIRE_L3_HDRS_LEN)
        return "max_payload must be in 1..65475";
    if (p->max_pending_msgs == 0 || p->max_pending_msgs > (UINT32_C(1) << 24))
        return "max_pending_msgs must be in 1..2^24";
    if (p->tx_queue_msgs == 0)
        return "tx_queue_msgs must be at least 1";
    if (p->hb_interval_ns == 0 || p->hb_missed_limit == 0)
        return "hb_interval and hb_missed_limit must be positive";
    if (p->hb_interval_ns > UINT64_MAX / p->hb_missed_limit)
        return "hb_interval x hb_missed_limit overflows";
    if (p->min_rto_ns == 0 || p->max_rto_ns < p->min_rto_ns)
        return "need 0 < min_rto <= max_rto";
    if (p->express_weight == 0)
        return "express_weight must be at least 1";
    if (p->ack_every == 0)
        return "ack_every must be at least 1";
    if (p->ack_delay_ns >= p->min_rto_ns)
        return "ack_delay must be shorter than min_rto (else every ack comes too late)";
    return NULL;
}

int chan_params_check(const struct chan_params *p)
{
    return chan_params_error(p) ? -EINVAL : 0;
}

/* ------------------------------------------------------------ callbacks ---------- */

static void go_down(struct chan *c, enum chan_down_reason why)
{
    if (c->down != CHAN_UP)
        return;
    c->down = why;
    if (c->ops.down)
        c->ops.down(c->ops.ctx, why);
}

static void on_deliver(void *ctx, const struct reasm_msg *m)
{
    struct chan *c = ctx;
    c->delivered += m->len;
    c->st.rx_msgs++;
    c->st.rx_msg_bytes += m->len;
    if (!m->buf)
        c->st.rx_msgs_direct++;
    c->ops.deliver(c->ops.ctx, m);
}

/* A frame the peer holds: count its bytes; a fully acknowledged message is done. */
static void on_release(void *ctx, struct ackwin_frame *f)
{
    struct chan *c = ctx;
    struct dp_msg *m = f->msg;
    c->inflight_wire_bytes -= WIRE_ALL_HDRS_LEN + f->len;
    m->tx.acked += f->len;
    if (m->tx.acked < m->len)
        return;
    struct chan_txflow *fl = &c->flows[m->tx.flow];
    c->st.tx_msgs_acked++;
    c->st.tx_bytes_acked += m->len;
    if (--fl->msgs == 0)
        flowtab_set_idle(c->ft, m->tx.flow);
    dp_msg_unref(m);
}

/* ------------------------------------------------------------ life cycle --------- */

struct chan *chan_create(const struct chan_params *p, const struct chan_ops *ops, uint64_t now_ns)
{
    if (!p || !ops || !ops->deliver || chan_params_check(p) != 0) {
        errno = EINVAL;
        return NULL;
    }
    struct chan *c = calloc(1, sizeof(*c));
    if (!c) {
        errno = ENOMEM;
        return NULL;
    }
    c->p = *p;
    c->ops = *ops;
    c->down = CHAN_UP;
    c->last_rx_ns = now_ns;
    c->next_hb_ns = now_ns;
    c->dead_after_ns = p->hb_interval_ns * p->hb_missed_limit;
    c->peer_credit = p->rx_window_bytes; /* the grant before the first ACK (§4) */

    struct reasm_params rp = {
        .max_flows = (uint16_t)p->max_flows,
        .max_pending = p->max_pending_msgs,
        .max_bytes = p->rx_window_bytes,
        .max_msg_bytes = p->max_msg_bytes,
        .shared = p->reasm_budget,
    };
    /* Initial sequence numbers: the low 32 bits of the receiver's session id (§1.1). */
    int rc = ackwin_tx_init(&c->atx, p->window_frames, (uint32_t)p->peer_session, p->min_rto_ns,
                            p->max_rto_ns, p->initial_rto_ns);
    if (rc == 0)
        rc = ackwin_rx_init(&c->arx, p->window_frames, (uint32_t)p->local_session);
    c->ft = flowtab_create(p->max_flows);
    c->sched = sched_create(p->max_flows, p->max_payload, p->express_weight, p->normal_weight);
    c->flows = calloc(p->max_flows, sizeof(*c->flows));
    c->reasm = reasm_create(&rp, &ops->alloc, on_deliver, c);
    if (rc != 0 || !c->ft || !c->sched || !c->flows || !c->reasm) {
        chan_destroy(c);
        errno = ENOMEM; /* parameters were checked above */
        return NULL;
    }
    reasm_set_credit_limit(c->reasm, p->rx_window_bytes);
    return c;
}

void chan_destroy(struct chan *c)
{
    if (!c)
        return;
    if (c->atx.ring && c->flows)
        ackwin_tx_release_all(&c->atx, on_release, c);
    if (c->flows) {
        for (uint32_t f = 0; f < c->p.max_flows; f++) {
            struct dp_msg *m = c->flows[f].head;
            while (m) {
                struct dp_msg *next = m->tx.next;
                dp_msg_unref(m);
                m = next;
            }
        }
    }
    for (struct dp_msg *m = c->sq_head; m;) {
        struct dp_msg *next = m->tx.next;
        dp_msg_unref(m);
        m = next;
    }
    ackwin_tx_fini(&c->atx);
    reasm_destroy(c->reasm);
    sched_destroy(c->sched);
    flowtab_destroy(c->ft);
    free(c->flows);
    free(c);
}

/* ------------------------------------------------------------ transmit ----------- */

int chan_submit(struct chan *c, struct dp_msg *m)
{
    if (unlikely(c->down != CHAN_UP))
        return -ENOTCONN;
    if (unlikely(m->len == 0 || m->len > c->p.max_msg_bytes ||
                 (m->lane != WIRE_LANE_EXPRESS && m->lane != WIRE_LANE_NORMAL)))
        return -EINVAL;
    if (unlikely(c->sq_count >= c->p.tx_queue_msgs))
        return -ENOBUFS;
    dp_msg_ref(m);
    memset(&m->tx, 0, sizeof(m->tx));
    if (c->sq_tail)
        c->sq_tail->tx.next = m;
    else
        c->sq_head = m;
    c->sq_tail = m;
    c->sq_count++;
    c->sq_bytes += m->len;
    c->st.tx_msgs_submitted++;
    return 0;
}

uint32_t chan_submit_space(const struct chan *c)
{
    return c->sq_count >= c->p.tx_queue_msgs ? 0 : c->p.tx_queue_msgs - c->sq_count;
}

static inline uint32_t next_frag_len(const struct chan *c, const struct dp_msg *m)
{
    uint32_t left = m->len - m->tx.sent;
    return left < c->p.max_payload ? left : c->p.max_payload;
}

/* Start queued messages in submission order while credit and flow slots allow. */
static void start_messages(struct chan *c)
{
    while (c->sq_head) {
        struct dp_msg *m = c->sq_head;
        if (c->tx_started + m->len > c->peer_credit) {
            if (!c->credit_stalled)
                c->st.credit_stalls++;
            c->credit_stalled = true;
            return;
        }
        c->credit_stalled = false;
        int slot = flowtab_acquire(c->ft, m->sender, NULL);
        if (slot < 0) {
            if (!c->flow_stalled)
                c->st.flow_stalls++;
            c->flow_stalled = true;
            return;
        }
        c->flow_stalled = false;

        c->sq_head = m->tx.next;
        if (!c->sq_head)
            c->sq_tail = NULL;
        c->sq_count--;
        c->sq_bytes -= m->len;

        struct chan_txflow *fl = &c->flows[slot];
        m->tx.next = NULL;
        m->tx.flow = (uint16_t)slot;
        m->tx.msg_seq = fl->next_msg_seq++;
        c->tx_started += m->len;
        fl->msgs++;
        c->st.lane[m->lane].tx_msgs++;
        if (fl->tail) {
            fl->tail->tx.next = m;
            fl->tail = m;
        } else {
            fl->head = fl->tail = m;
            sched_activate(c->sched, (uint32_t)slot, m->lane, next_frag_len(c, m));
        }
    }
}

static void emit_data(struct chan *c, struct chan_frame *o, const struct ackwin_frame *f)
{
    struct dp_msg *m = f->msg;
    uint8_t flags =
        (f->off == 0 ? WIRE_F_FIRST : 0) | (f->off + f->len == f->msg_len ? WIRE_F_LAST : 0);
    o->hdr = (struct wire_hdr){
        .version = DP_WIRE_VERSION,
        .type = WIRE_T_DATA,
        .lane = f->lane,
        .flags = flags,
        .session = c->p.peer_session,
        .seq = f->seq,
        .flow = f->flow,
        .msg_seq = f->msg_seq,
        .msg_len = f->msg_len,
        .frag_off = f->off,
    };
    o->payload = m->data + f->off;
    o->len = f->len;
    o->msg = m;
    c->st.lane[f->lane].tx_frames++;
    c->st.lane[f->lane].tx_bytes += f->len;
}

static void emit_pulse(struct chan *c, struct chan_frame *o, uint8_t type, uint32_t seq,
                       uint16_t flow, const uint8_t *payload, uint32_t len)
{
    o->hdr = (struct wire_hdr){
        .version = DP_WIRE_VERSION,
        .type = type,
        .lane = WIRE_LANE_PULSE,
        .session = c->p.peer_session,
        .seq = seq,
        .flow = flow,
    };
    o->payload = payload;
    o->len = len;
    o->msg = NULL;
    c->st.lane[WIRE_LANE_PULSE].tx_frames++;
    c->st.lane[WIRE_LANE_PULSE].tx_bytes += len;
}

static inline uint64_t grant(const struct chan *c)
{
    return c->consumed + c->p.rx_window_bytes;
}

bool chan_check_liveness(struct chan *c, uint64_t now)
{
    if (unlikely(c->down != CHAN_UP))
        return false;
    if (unlikely(now > c->last_rx_ns && now - c->last_rx_ns >= c->dead_after_ns)) {
        go_down(c, CHAN_DOWN_HEARTBEAT);
        return false;
    }
    return true;
}

unsigned chan_tx_pulse(struct chan *c, uint64_t now, struct chan_frame *out, unsigned max)
{
    unsigned n = 0;
    if (unlikely(c->down != CHAN_UP)) {
        if (c->close_pending && max > 0) {
            emit_pulse(c, &out[n++], WIRE_T_CLOSE, 0, 0, NULL, 0);
            c->close_pending = false;
        }
        return n;
    }
    if (!chan_check_liveness(c, now))
        return 0;
    bool data_next = ackwin_tx_rtx_pending(&c->atx) ||
                     (sched_has_work(c->sched) && ackwin_tx_can_push(&c->atx)) ||
                     (c->sq_head && c->tx_started + c->sq_head->len <= c->peer_credit);
    if ((c->ack_at_ns && (now >= c->ack_at_ns || data_next)) || (c->credit_dirty && data_next))
        c->ack_due = true;
    if (unlikely(now >= c->next_hb_ns) && n < max) {
        c->advertised = grant(c);
        wire_put_heartbeat(c->hb_buf, sizeof(c->hb_buf), now, grant(c));
        emit_pulse(c, &out[n++], WIRE_T_HEARTBEAT, c->hb_seq++, 0, c->hb_buf, WIRE_HEARTBEAT_LEN);
        c->st.heartbeats_tx++;
        /* On the interval's grid, so a late poll does not make the next gap longer too
         * (after a stall of a whole interval or more, from now). */
        c->next_hb_ns += c->p.hb_interval_ns;
        if (c->next_hb_ns <= now)
            c->next_hb_ns = now + c->p.hb_interval_ns;
        if (c->rx_any)
            c->ack_due = true;
    }
    if (c->ack_due && n < max) {
        size_t sl = ackwin_rx_sack(&c->arx, c->ack_buf + WIRE_ACK_FIXED_LEN, WIRE_SACK_MAX_BYTES);
        be64_put(c->ack_buf, grant(c));
        emit_pulse(c, &out[n++], WIRE_T_ACK, c->arx.rcv_nxt, (uint16_t)sl, c->ack_buf,
                   (uint32_t)(WIRE_ACK_FIXED_LEN + sl));
        c->st.acks_tx++;
        c->ack_due = false;
        c->ack_at_ns = 0;
        c->rx_since_ack = 0;
        c->credit_dirty = false;
        c->advertised = grant(c);
    }
    return n;
}

unsigned chan_tx_resend(struct chan *c, uint64_t now, struct chan_frame *out, unsigned max)
{
    unsigned n = 0;
    if (unlikely(c->down != CHAN_UP))
        return 0;
    if (unlikely(ackwin_tx_timer_due(&c->atx, now)))
        ackwin_tx_on_timeout(&c->atx, now);
    while (n < max && ackwin_tx_rtx_pending(&c->atx)) {
        struct ackwin_frame *f = ackwin_tx_next_rtx(&c->atx);
        if (!f)
            break;
        if (c->p.max_transmissions && f->tx_count >= c->p.max_transmissions) {
            go_down(c, CHAN_DOWN_RETX_LIMIT);
            return n;
        }
        ackwin_tx_resent(&c->atx, f, now);
        emit_data(c, &out[n++], f);
        c->st.lane[f->lane].retransmits++;
    }
    return n;
}

unsigned chan_tx_data(struct chan *c, uint64_t now, struct chan_frame *out, unsigned max)
{
    unsigned n = chan_tx_resend(c, now, out, max);
    if (unlikely(c->down != CHAN_UP))
        return n;

    /* new data */
    start_messages(c);
    while (n < max && sched_has_work(c->sched)) {
        if (!ackwin_tx_can_push(&c->atx)) {
            c->st.window_stalls++;
            break;
        }
        int flow = sched_pick(c->sched, NULL);
        struct chan_txflow *fl = &c->flows[flow];
        struct dp_msg *m = fl->head;
        uint32_t len = next_frag_len(c, m);
        struct ackwin_frame *f = ackwin_tx_push(&c->atx, now);
        f->msg = m;
        f->off = m->tx.sent;
        f->len = len;
        f->msg_seq = m->tx.msg_seq;
        f->msg_len = m->len;
        f->flow = (uint16_t)flow;
        f->lane = m->lane;
        c->inflight_wire_bytes += WIRE_ALL_HDRS_LEN + len;
        m->tx.sent += len;
        if (m->tx.sent == m->len) {
            fl->head = m->tx.next;
            if (!fl->head)
                fl->tail = NULL;
            m->tx.next = NULL;
        }
        struct dp_msg *next = fl->head;
        sched_sent(c->sched, (uint32_t)flow, len, next ? next_frag_len(c, next) : 0,
                   next ? next->lane : 0);
        emit_data(c, &out[n++], f);
    }
    return n;
}

unsigned chan_tx_burst(struct chan *c, uint64_t now, struct chan_frame *out, unsigned max)
{
    unsigned n = chan_tx_pulse(c, now, out, max);
    return n + chan_tx_data(c, now, out + n, max - n);
}

/* ------------------------------------------------------------ receive ------------ */

static inline enum wire_drop drop(struct chan *c, enum wire_drop why)
{
    c->st.drops[why]++;
    return why;
}

static enum wire_drop rx_data(struct chan *c, const struct wire_hdr *h, const uint8_t *payload,
                              uint32_t len, uint64_t now)
{
    if (unlikely(h->flow >= c->p.max_flows))
        return drop(c, WIRE_DROP_BAD_HEADER);
    if (unlikely(h->msg_len > c->p.max_msg_bytes))
        return drop(c, WIRE_DROP_BAD_LENGTH);
    enum ackwin_verdict v = ackwin_rx_check(&c->arx, h->seq);
    if (unlikely(v != ACKWIN_NEW)) {
        if (v == ACKWIN_DUPLICATE) {
            c->ack_due = true; /* our ACK may have been lost */
            return drop(c, WIRE_DROP_DUPLICATE);
        }
        return drop(c, WIRE_DROP_OUT_OF_WINDOW);
    }
    enum wire_drop r = reasm_insert(c->reasm, h, payload, len);
    if (unlikely(r != WIRE_OK))
        return drop(c, r); /* not marked: the sender will send it again */
    ackwin_rx_mark(&c->arx, h->seq);
    c->rx_any = true;
    /* Delayed ACK: it goes with our next data, after ack_every frames, or ack_delay_ns
     * later, whichever comes first (a request/response exchange then needs no ACK frame
     * of its own in the critical path). */
    if (++c->rx_since_ack >= c->p.ack_every)
        c->ack_due = true;
    else if (!c->ack_at_ns)
        c->ack_at_ns = now + c->p.ack_delay_ns;
    return WIRE_OK;
}

enum wire_drop chan_rx(struct chan *c, const struct wire_hdr *h, const uint8_t *payload,
                       uint32_t len, uint64_t now)
{
    if (unlikely(c->down != CHAN_UP))
        return drop(c, WIRE_DROP_CLOSED);
    enum wire_drop r = wire_check_dp(h, len);
    if (unlikely(r != WIRE_OK))
        return drop(c, r);
    if (unlikely(h->session != c->p.local_session))
        return drop(c, WIRE_DROP_UNKNOWN_SESSION);
    if (now > c->last_rx_ns)
        c->last_rx_ns = now;
    c->st.lane[h->lane].rx_frames++;
    c->st.lane[h->lane].rx_bytes += len;

    uint64_t credit;
    switch (h->type) {
    case WIRE_T_DATA:
        return rx_data(c, h, payload, len, now);
    case WIRE_T_ACK: {
        const uint8_t *sack;
        wire_get_ack(payload, &credit, &sack);
        if (ackwin_tx_on_ack(&c->atx, h->seq, sack, h->flow, now, on_release, c) < 0)
            return drop(c, WIRE_DROP_BAD_ACK);
        c->st.acks_rx++;
        break;
    }
    case WIRE_T_HEARTBEAT: {
        uint64_t peer_time;
        wire_get_heartbeat(payload, &peer_time, &credit);
        c->st.heartbeats_rx++;
        break;
    }
    default: /* WIRE_T_CLOSE */
        go_down(c, CHAN_DOWN_PEER_CLOSE);
        return WIRE_OK;
    }
    if (credit > c->peer_credit)
        c->peer_credit = credit;
    return WIRE_OK;
}

void chan_consumed(struct chan *c, uint64_t bytes)
{
    uint64_t avail = c->delivered - c->consumed;
    if (bytes > avail)
        bytes = avail;
    if (bytes == 0)
        return;
    c->consumed += bytes;
    reasm_set_credit_limit(c->reasm, grant(c));
    /* A large growth is advertised at once; a small one goes with the next ACK or HEARTBEAT
     * (or our next data), which keeps a consumed message from costing a frame. */
    if (grant(c) - c->advertised >= c->p.rx_window_bytes / 8)
        c->ack_due = true;
    else
        c->credit_dirty = true;
}

/* ------------------------------------------------------------ state -------------- */

uint64_t chan_next_deadline(const struct chan *c)
{
    if (c->down != CHAN_UP)
        return c->close_pending ? 0 : UINT64_MAX;
    if (c->ack_due || ackwin_tx_rtx_pending(&c->atx))
        return 0;
    if (sched_has_work(c->sched) && ackwin_tx_can_push(&c->atx))
        return 0;
    if (c->sq_head && c->tx_started + c->sq_head->len <= c->peer_credit && !c->flow_stalled)
        return 0;
    uint64_t d = c->next_hb_ns;
    if (c->atx.rto_deadline_ns && c->atx.rto_deadline_ns < d)
        d = c->atx.rto_deadline_ns;
    if (c->ack_at_ns && c->ack_at_ns < d)
        d = c->ack_at_ns;
    uint64_t dead = c->last_rx_ns + c->dead_after_ns;
    return dead < d ? dead : d;
}

uint64_t chan_liveness_deadline(const struct chan *c)
{
    if (c->down != CHAN_UP)
        return c->close_pending ? 0 : UINT64_MAX;
    uint64_t dead = c->last_rx_ns + c->dead_after_ns;
    return dead < c->next_hb_ns ? dead : c->next_hb_ns;
}

void chan_close(struct chan *c)
{
    if (c->down != CHAN_UP)
        return;
    c->close_pending = true;
    go_down(c, CHAN_DOWN_LOCAL_CLOSE);
}

uint64_t chan_inflight_wire_bytes(const struct chan *c)
{
    return c->inflight_wire_bytes;
}

uint64_t chan_acked_bytes(const struct chan *c)
{
    return c->st.tx_bytes_acked;
}

bool chan_is_up(const struct chan *c)
{
    return c->down == CHAN_UP;
}

enum chan_down_reason chan_get_down_reason(const struct chan *c)
{
    return c->down;
}

void chan_count_drop(struct chan *c, enum wire_drop why)
{
    if ((unsigned)why < WIRE_DROP__COUNT)
        c->st.drops[why]++;
}

void chan_get_stats(const struct chan *c, struct chan_stats *o)
{
    *o = c->st;
    o->rto_timeouts = c->atx.timeouts;
    o->fast_retransmits = c->atx.fast_rtx;
    o->lane[WIRE_LANE_EXPRESS].active_flows = sched_active_flows(c->sched, WIRE_LANE_EXPRESS);
    o->lane[WIRE_LANE_NORMAL].active_flows = sched_active_flows(c->sched, WIRE_LANE_NORMAL);
    o->startq_msgs = c->sq_count;
    o->startq_bytes = c->sq_bytes;
    o->inflight_frames = ackwin_tx_outstanding(&c->atx);
    o->rtx_queued = ackwin_tx_rtx_pending(&c->atx);
    o->busy_flows = flowtab_busy_count(c->ft);
    o->srtt_ns = c->atx.srtt_ns;
    o->rttvar_ns = c->atx.rttvar_ns;
    o->rto_ns = c->atx.rto_ns;
    o->peer_credit = c->peer_credit;
    o->tx_started = c->tx_started;
    o->credit_limit = grant(c);
    o->rx_consumed = c->consumed;
    o->rx_unconsumed = c->delivered - c->consumed;
    o->reasm_pending = reasm_pending(c->reasm);
    o->reasm_held_bytes = reasm_held_bytes(c->reasm);
}
