/* The TCP carrier's send queue: see txq.h for the order and admission rules.
 *
 * Invariants
 *   - bytes == sum over entries of what remains to write (whole: len - off; fragmented:
 *     len - off of its data, its fragment headers not counted); frag_bytes the part of it
 *     in fragmented entries;
 *   - at most one entry has pkt_open, and it is the head (a fragment is written from the
 *     head to its end before anything else);
 *   - an entry never moves past a barrier, a fragmented entry, or an entry of its sender
 *     that is not the tick.
 * Bounds
 *   txq_gather: O(max); txq_advance: O(entries written + entries passed by one requeue).
 */
#include "runtime/carrier_tcp/txq.h"

#include <stdlib.h>

/* Where a message's body starts in its obuf: after the packet length and 131 'D' 0. */
#define TXQ_BODY_OFF (DISTMSG_LEN_BYTES + DISTMSG_HDR_NORMAL_LEN)

void txq_init(struct txq *q, const struct obuf *tick)
{
    q->head = q->tail = NULL;
    q->bytes = q->frag_bytes = 0;
    q->frag_seq_next = 0;
    q->tick = tick;
}

bool txq_fragmentable(const struct obuf *b)
{
    return b->len > TXQ_BODY_OFF + TXQ_FRAG_DATA_BYTES &&
           distmsg_is_plain_normal_header(b->bytes + DISTMSG_LEN_BYTES,
                                          b->len - DISTMSG_LEN_BYTES);
}

bool txq_push(struct txq *q, struct obuf *b, size_t off, bool barrier, bool fragmented)
{
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
        e->off = TXQ_BODY_OFF;
        e->frag_seq = ++q->frag_seq_next;
        e->frags_left = (data + TXQ_FRAG_DATA_BYTES - 1) / TXQ_FRAG_DATA_BYTES;
        q->bytes += data;
        q->frag_bytes += data;
    } else {
        q->bytes += b->len - off;
    }
    if (q->tail)
        q->tail->next = e;
    else
        q->head = e;
    q->tail = e;
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

/* The head entry's fragment is complete and more follow: move it back past the entries
 * that may overtake it (txq.h, Order). */
static void requeue_head(struct txq *q)
{
    struct txq_entry *e = q->head, *prev = e;
    struct txq_entry *p = e->next;
    while (p && !p->barrier && p->frags_left == 0 && (p->sender != e->sender || p->b == q->tick)) {
        prev = p;
        p = p->next;
    }
    if (prev == e)
        return; /* nothing may pass it */
    q->head = e->next;
    e->next = p;
    prev->next = e;
    if (!p)
        q->tail = e;
}

static void pop_head(struct txq *q)
{
    struct txq_entry *e = q->head;
    q->head = e->next;
    if (!q->head)
        q->tail = NULL;
    obuf_unref(e->b);
    free(e);
}

int txq_gather(struct txq *q, struct iovec *iov, int max)
{
    int n = 0;
    for (struct txq_entry *e = q->head; e && n < max - 1; e = e->next) {
        if (e->frags_left == 0) {
            iov[n].iov_base = e->b->bytes + e->off;
            iov[n++].iov_len = e->b->len - e->off;
            continue;
        }
        if (!e->pkt_open)
            frag_open(e);
        if (e->pkt_off < e->pkt_hdr_len) {
            iov[n].iov_base = e->pkt_hdr + e->pkt_off;
            iov[n++].iov_len = e->pkt_hdr_len - e->pkt_off;
        }
        size_t done = e->pkt_off > e->pkt_hdr_len ? e->pkt_off - e->pkt_hdr_len : 0;
        iov[n].iov_base = e->b->bytes + e->off + done;
        iov[n++].iov_len = e->pkt_data - done;
        break; /* what follows depends on where this message goes next */
    }
    return n;
}

void txq_advance(struct txq *q, size_t written)
{
    size_t left = written;
    while (left && q->head) {
        struct txq_entry *e = q->head;
        if (e->frags_left == 0) {
            size_t rest = e->b->len - e->off;
            if (left < rest) {
                e->off += left;
                q->bytes -= left;
                break;
            }
            left -= rest;
            q->bytes -= rest;
            pop_head(q);
            continue;
        }
        size_t rest = e->pkt_hdr_len + e->pkt_data - e->pkt_off;
        if (left < rest) {
            e->pkt_off += left;
            break;
        }
        left -= rest; /* 0: the fragment ended what was gathered */
        e->off += e->pkt_data;
        q->bytes -= e->pkt_data;
        q->frag_bytes -= e->pkt_data;
        e->pkt_open = false;
        if (--e->frags_left == 0)
            pop_head(q);
        else
            requeue_head(q);
    }
}

void txq_drop_all(struct txq *q)
{
    while (q->head)
        pop_head(q);
    q->bytes = 0;
    q->frag_bytes = 0;
}
