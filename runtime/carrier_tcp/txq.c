/* The TCP carrier's send queue: see txq.h for the lanes, the order and admission rules.
 *
 * Algorithm
 *   push: a non-tick entry waits on the `after` list of the barrier if there is one, else of
 *   its sender's fragmented message if one is queued (a scan of `frags`, short: every entry
 *   there holds more than a fragment and admission keeps their sum near the queue limit),
 *   else joins its lane's tail. gather: the rest of an open fragment, the tick, the whole
 *   lane, then the next fragment of the first message of `frags` that may go (started, or
 *   within the interleaving bound). advance: consumes in the same order; after a fragment
 *   its message goes to the back of `frags`; a finished message releases its `after` list.
 * Invariants
 *   - bytes == sum over all entries (lanes and after lists) of what remains to write
 *     (whole: len - off; fragmented: len - off of its data, fragment headers not counted);
 *     frag_bytes the part of it in fragmented entries;
 *   - only whole.head may be partly written among whole entries; only frags.head may have
 *     a fragment open with pkt_off > 0, and then txq_gather gives its rest first;
 *   - a sender has at most one entry in `frags`; its later entries are on that entry's
 *     `after` list, in push order;
 *   - inflight counts the started, unfinished entries of `frags`; inflight_bytes their
 *     frags_total x TXQ_FRAG_DATA_BYTES.
 * Bounds
 *   txq_push: O(|frags|); txq_gather: O(max + |frags|); txq_advance: O(entries written +
 *   entries released).
 */
#include "runtime/carrier_tcp/txq.h"

#include <stdlib.h>

/* Where a message's body starts in its obuf: after the packet length and 131 'D' 0. */
#define TXQ_BODY_OFF (DISTMSG_LEN_BYTES + DISTMSG_HDR_NORMAL_LEN)

void txq_init(struct txq *q, const struct obuf *tick, size_t inflight_limit)
{
    *q = (struct txq){.tick = tick, .inflight_limit = inflight_limit ? inflight_limit : 1};
}

bool txq_fragmentable(const struct obuf *b)
{
    return b->len > TXQ_BODY_OFF + TXQ_FRAG_DATA_BYTES &&
           distmsg_is_plain_normal_header(b->bytes + DISTMSG_LEN_BYTES,
                                          b->len - DISTMSG_LEN_BYTES);
}

static void lane_append(struct txq_lane *l, struct txq_entry *e)
{
    e->next = NULL;
    if (l->tail)
        l->tail->next = e;
    else
        l->head = e;
    l->tail = e;
}

static struct txq_entry *lane_pop(struct txq_lane *l)
{
    struct txq_entry *e = l->head;
    l->head = e->next;
    if (!l->head)
        l->tail = NULL;
    e->next = NULL;
    return e;
}

/* Puts e where it waits or goes (Order per sender); behind the barrier if there is one and
 * e was pushed after it. */
static void place(struct txq *q, struct txq_entry *e, bool after_barrier)
{
    if (after_barrier && q->barrier) {
        lane_append(&q->barrier->after, e);
        return;
    }
    for (struct txq_entry *f = q->frags.head; f; f = f->next)
        if (f->sender == e->sender) {
            lane_append(&f->after, e);
            return;
        }
    if (e->barrier)
        q->barrier = e;
    else
        lane_append(e->fragmented ? &q->frags : &q->whole, e);
}

/* e has been written: its waiters enter their lanes in order. A fragmented one among them
 * takes the rest of the list as its own waiters (place() finds it for the next ones). The
 * waiters of a message were pushed before the barrier, if any, and stay ahead of it. */
static void release(struct txq *q, struct txq_entry *e)
{
    struct txq_entry *w = e->after.head;
    e->after.head = e->after.tail = NULL;
    while (w) {
        struct txq_entry *next = w->next;
        place(q, w, false);
        w = next;
    }
}

static void entry_free(struct txq_entry *e)
{
    obuf_unref(e->b);
    free(e);
}

bool txq_push(struct txq *q, struct obuf *b, size_t off, bool barrier, bool fragmented)
{
    if (b == q->tick && !barrier && !fragmented) {
        /* One pending tick says as much as several; one partly written by its sender (on
         * an empty queue) is finished from where it stopped. */
        if (!q->ticks)
            q->tick_off = off;
        q->ticks = 1;
        return true;
    }
    struct txq_entry *e = calloc(1, sizeof(*e));
    if (!e)
        return false;
    obuf_ref(b);
    e->b = b;
    e->off = off;
    e->sender = b->dp.sender;
    e->barrier = barrier;
    if (fragmented) {
        size_t data = b->len - TXQ_BODY_OFF;
        e->fragmented = true;
        e->off = TXQ_BODY_OFF;
        e->frag_seq = ++q->frag_seq_next;
        e->frags_left = e->frags_total = (data + TXQ_FRAG_DATA_BYTES - 1) / TXQ_FRAG_DATA_BYTES;
        q->bytes += data;
        q->frag_bytes += data;
    } else {
        q->bytes += b->len - off;
    }
    place(q, e, !barrier);
    return true;
}

/* Prepares e's next fragment: its header in e->pkt_hdr, its data from b->bytes + e->off. */
static void frag_open(struct txq_entry *e)
{
    size_t left = e->b->len - e->off;
    e->pkt_data = left < TXQ_FRAG_DATA_BYTES ? left : TXQ_FRAG_DATA_BYTES;
    bool first = e->off == TXQ_BODY_OFF;
    size_t hl = distmsg_frag_header_encode(
        e->pkt_hdr + DISTMSG_LEN_BYTES, sizeof(e->pkt_hdr) - DISTMSG_LEN_BYTES,
        first ? DISTMSG_HDR_FRAG_START : DISTMSG_HDR_FRAG_CONT, e->frag_seq, e->frags_left);
    distmsg_frame_put_len(e->pkt_hdr, (uint32_t)(hl + e->pkt_data));
    e->pkt_hdr_len = (uint8_t)(DISTMSG_LEN_BYTES + hl);
    e->pkt_off = 0;
    e->pkt_open = true;
}

static size_t reserved(const struct txq_entry *e)
{
    return (size_t)e->frags_total * TXQ_FRAG_DATA_BYTES;
}

/* Whether e may write its next fragment now (Interleaving bound). */
static bool may_go(const struct txq *q, const struct txq_entry *e)
{
    if (e->started || q->inflight == 0)
        return true;
    return q->inflight < TXQ_INFLIGHT_MAX && q->inflight_bytes + reserved(e) <= q->inflight_limit;
}

/* Brings the first message of `frags` that may go to the head (the others keep their
 * order behind it); NULL when none may. One is always in flight when none may, and the
 * messages in flight may always go, so this finds one whenever `frags` is not empty. */
static struct txq_entry *frags_next(struct txq *q)
{
    struct txq_entry *prev = NULL, *e = q->frags.head;
    while (e && !may_go(q, e)) {
        prev = e;
        e = e->next;
    }
    if (!e || !prev)
        return e;
    prev->next = e->next;
    if (q->frags.tail == e)
        q->frags.tail = prev;
    e->next = q->frags.head;
    q->frags.head = e;
    return e;
}

/* The rest of e's open fragment into iov[n..]; returns the new n. */
static int frag_iov(struct txq_entry *e, struct iovec *iov, int n)
{
    if (e->pkt_off < e->pkt_hdr_len) {
        iov[n].iov_base = e->pkt_hdr + e->pkt_off;
        iov[n++].iov_len = e->pkt_hdr_len - e->pkt_off;
    }
    size_t done = e->pkt_off > e->pkt_hdr_len ? e->pkt_off - e->pkt_hdr_len : 0;
    iov[n].iov_base = e->b->bytes + e->off + done;
    iov[n++].iov_len = e->pkt_data - done;
    return n;
}

int txq_gather(struct txq *q, struct iovec *iov, int max)
{
    int n = 0;
    q->frag_first = q->tick_gathered = q->frag_gathered = q->barrier_gathered = false;
    struct txq_entry *f = q->frags.head;
    if (f && f->pkt_open && f->pkt_off > 0) { /* a fragment is half written: its rest */
        n = frag_iov(f, iov, n);
        q->frag_first = true;
    }
    if (q->tick_off > 0 || (q->ticks && (!q->whole.head || q->whole.head->off == 0))) {
        /* the tick, at a packet boundary (a half-written whole message is finished first) */
        iov[n].iov_base = (void *)(q->tick->bytes + q->tick_off); /* writev reads it */
        iov[n++].iov_len = q->tick->len - q->tick_off;
        q->tick_gathered = true;
    }
    bool whole_all = true;
    for (struct txq_entry *e = q->whole.head; e; e = e->next) {
        if (n >= max - 2) {
            whole_all = false;
            break;
        }
        iov[n].iov_base = e->b->bytes + e->off;
        iov[n++].iov_len = e->b->len - e->off;
    }
    if (!whole_all || q->frag_first)
        return n;
    f = frags_next(q);
    if (f) {
        if (!f->pkt_open)
            frag_open(f);
        n = frag_iov(f, iov, n);
        q->frag_gathered = true;
    } else if (!q->whole.head && q->barrier) {
        /* everything pushed before the barrier is written: the barrier itself */
        struct txq_entry *m = q->barrier;
        iov[n].iov_base = m->b->bytes + m->off;
        iov[n++].iov_len = m->b->len - m->off;
        q->barrier_gathered = true;
    }
    return n;
}

/* Consumes up to *left bytes of frags.head's open fragment; true when it is complete. */
static bool frag_advance(struct txq *q, size_t *left)
{
    struct txq_entry *e = q->frags.head;
    size_t rest = e->pkt_hdr_len + e->pkt_data - e->pkt_off;
    if (*left < rest) {
        e->pkt_off += *left;
        *left = 0;
        return false;
    }
    *left -= rest;
    if (!e->started) {
        e->started = true;
        q->inflight++;
        q->inflight_bytes += reserved(e);
    }
    e->off += e->pkt_data;
    q->bytes -= e->pkt_data;
    q->frag_bytes -= e->pkt_data;
    e->pkt_open = false;
    lane_pop(&q->frags);
    if (--e->frags_left == 0) {
        q->inflight--;
        q->inflight_bytes -= reserved(e);
        release(q, e);
        entry_free(e);
    } else {
        lane_append(&q->frags, e); /* round robin */
    }
    return true;
}

void txq_advance(struct txq *q, size_t written)
{
    size_t left = written;
    bool frag_first = q->frag_first, tick = q->tick_gathered;
    bool frag_after = q->frag_gathered, barrier = q->barrier_gathered;
    q->frag_first = q->tick_gathered = q->frag_gathered = q->barrier_gathered = false;
    if (frag_first && !frag_advance(q, &left))
        return;
    if (tick) {
        size_t rest = q->tick->len - q->tick_off;
        if (left < rest) {
            q->tick_off += left;
            return;
        }
        left -= rest;
        q->ticks = 0;
        q->tick_off = 0;
    }
    while (left && q->whole.head) {
        struct txq_entry *e = q->whole.head;
        size_t rest = e->b->len - e->off;
        if (left < rest) {
            e->off += left;
            q->bytes -= left;
            return;
        }
        left -= rest;
        q->bytes -= rest;
        entry_free(lane_pop(&q->whole));
    }
    if (left && frag_after) {
        (void)frag_advance(q, &left);
    } else if (left && barrier) {
        struct txq_entry *m = q->barrier;
        size_t take = left < m->b->len - m->off ? left : m->b->len - m->off;
        m->off += take;
        q->bytes -= take;
        if (m->off == m->b->len) {
            q->barrier = NULL;
            release(q, m);
            entry_free(m);
        }
    }
}

/* Frees a lane's entries and their waiters (waiters have none of their own: see place). */
static void free_list(struct txq_entry *e)
{
    while (e) {
        struct txq_entry *next = e->next;
        for (struct txq_entry *w = e->after.head, *wn; w; w = wn) {
            wn = w->next;
            entry_free(w);
        }
        entry_free(e);
        e = next;
    }
}

void txq_drop_all(struct txq *q)
{
    free_list(q->whole.head);
    free_list(q->frags.head);
    free_list(q->barrier);
    const struct obuf *tick = q->tick;
    size_t limit = q->inflight_limit;
    uint64_t seq = q->frag_seq_next;
    *q = (struct txq){.tick = tick, .inflight_limit = limit, .frag_seq_next = seq};
}
