/* Reassembly of fragmented distribution messages (erl_ext_dist.md "Distribution Header for
 * Fragmented Messages"): see struct distmsg_reasm in distmsg.h.
 *
 * Design. A fixed table of max_seqs slots, allocated once. A start fragment ('E', FragId N)
 * takes a free slot keyed by its SequenceId and expects N-1 next; each continuation ('F')
 * must name a sequence in flight and carry exactly the expected id; FragId 1 completes the
 * message. Messages that fit one fragment (N = 1) and unfragmented packets never touch the
 * table: the body is returned in place.
 *
 * Bounds. Each slot's buffer grows geometrically, but every byte of capacity is charged to
 * r->bytes before it is allocated, and r->bytes never exceeds r->max_bytes. A finished
 * message stays charged until the next call frees it (its bytes are the caller's output until
 * then). On any protocol error the sequence concerned is freed; nothing else changes.
 *
 * Shared budget (optional, the node's): a start takes its message's estimated size (the
 * FragmentId count times max(first body, frag_est), capped at what max_bytes leaves of the
 * connection's reservations) before anything
 * else changes, so a refused start leaves r untouched for a retry. A sequence whose contents
 * outgrow its reservation takes the difference fragment by fragment, or is dropped. Honest
 * senders (fragments of frag_est bytes at most) never need more than they reserved, so a
 * message in progress can always finish: only starts wait for room.
 *
 * Direct placement (distmsg_reasm_place/placed): the same checks and room as a feed, from
 * the fragment's header and the part of its body at hand; the caller then writes the rest
 * of the body where it is told (the TCP carrier reads the socket straight into it) and
 * closes it with distmsg_reasm_placed. With a shared budget a sequence's buffer is
 * allocated at its whole reservation at the start, so it is never reallocated (copied)
 * while it fills. distmsg_reasm_take hands a finished message's buffer to the caller, who
 * delivers it without copying; its memory leaves r and the shared budget then.
 *
 * Invariants: in_flight == number of used slots other than `done`; bytes == sum of the
 * capacities of all used slots (including `done`); shared_bytes == sum of their `reserved`,
 * and each slot's len <= reserved when a budget is shared.
 */
#include <stdlib.h>
#include <string.h>

#include "common/bigbuf.h"
#include "common/budget.h"
#include "control/distmsg.h"

struct distmsg_reasm_seq {
    bool used;
    uint64_t seq_id;
    uint64_t next_frag; /* id the next continuation must carry */
    uint8_t *buf;
    size_t len, cap;
    size_t reserved; /* taken from r->shared for this message */
};

enum distmsg_result distmsg_reasm_init(struct distmsg_reasm *r, size_t max_seqs, size_t max_bytes)
{
    memset(r, 0, sizeof(*r));
    if (max_seqs == 0 || max_bytes == 0 || max_seqs > SIZE_MAX / sizeof(*r->seqs))
        return DISTMSG_E_CONFIG;
    r->seqs = calloc(max_seqs, sizeof(*r->seqs));
    if (r->seqs == NULL)
        return DISTMSG_E_NOMEM;
    r->max_seqs = max_seqs;
    r->max_bytes = max_bytes;
    return DISTMSG_OK;
}

static void seq_free(struct distmsg_reasm *r, struct distmsg_reasm_seq *s)
{
    r->bytes -= s->cap;
    if (s->reserved) {
        budget_give(r->shared, s->reserved);
        r->shared_bytes -= s->reserved;
    }
    bigbuf_free(s->buf);
    memset(s, 0, sizeof(*s));
}

void distmsg_reasm_share(struct distmsg_reasm *r, struct budget *shared, size_t frag_est)
{
    r->shared = shared;
    r->frag_est = frag_est;
}

void distmsg_reasm_release(struct distmsg_reasm *r)
{
    if (r->done != NULL) {
        seq_free(r, r->done);
        r->done = NULL;
    }
}

/* The shared reservation for a message of `frags` fragments whose first body is first_len:
 * at most what the connection's own bound leaves (a message beyond it fails that bound
 * anyway), so a connection holding the only reservations always fits a cap >= max_bytes. */
static size_t estimate(const struct distmsg_reasm *r, uint64_t frags, size_t first_len)
{
    size_t per = first_len > r->frag_est ? first_len : r->frag_est;
    size_t left = r->shared_bytes < r->max_bytes ? r->max_bytes - r->shared_bytes : 0;
    size_t est = per == 0 || frags > left / per ? left : (size_t)frags * per;
    return est > first_len ? est : first_len;
}

void distmsg_reasm_fini(struct distmsg_reasm *r)
{
    if (r->seqs != NULL) {
        for (size_t i = 0; i < r->max_seqs; i++)
            if (r->seqs[i].used)
                seq_free(r, &r->seqs[i]);
        free(r->seqs);
    }
    memset(r, 0, sizeof(*r));
}

static struct distmsg_reasm_seq *seq_find(struct distmsg_reasm *r, uint64_t seq_id)
{
    for (size_t i = 0; i < r->max_seqs; i++)
        if (r->seqs[i].used && r->seqs[i].seq_id == seq_id)
            return &r->seqs[i];
    return NULL;
}

/* Drop a sequence that broke the rules, returning err. */
static enum distmsg_result seq_abort(struct distmsg_reasm *r, struct distmsg_reasm_seq *s,
                                     enum distmsg_result err)
{
    seq_free(r, s);
    r->in_flight--;
    return err;
}

/* Makes room for n more bytes, growing the buffer within the byte budget. */
static enum distmsg_result seq_room(struct distmsg_reasm *r, struct distmsg_reasm_seq *s,
                                    size_t n)
{
    if (r->shared && n > s->reserved - s->len) { /* more than announced */
        size_t extra = n - (s->reserved - s->len);
        if (!budget_take(r->shared, extra, r->shared->cap)) {
            budget_refused(r->shared);
            return DISTMSG_E_REASM_GROWTH;
        }
        s->reserved += extra;
        r->shared_bytes += extra;
    }
    if (n > s->cap - s->len) {
        size_t budget = r->max_bytes - r->bytes; /* capacity we may still add */
        if (n - (s->cap - s->len) > budget)
            return DISTMSG_E_REASM_BYTES;
        size_t need = s->len + n;
        size_t new_cap = s->cap > SIZE_MAX / 2 ? need : 2 * s->cap;
        if (new_cap < need)
            new_cap = need;
        if (r->shared && new_cap < s->reserved) /* reserved anyway: one buffer, no regrowth */
            new_cap = s->reserved;
        if (new_cap - s->cap > budget)
            new_cap = s->cap + budget;
        if (r->shared && new_cap > s->reserved) /* the node's budget counts all of it */
            new_cap = s->reserved;
        /* From bigbuf (common/bigbuf.h): a large message's buffer is one already faulted in
         * when the cache has one, and giving it back does not unmap it. Measured: a dpdist
         * node receiving a stream of 64 MiB messages over TCP spent about half its control
         * thread in page faults and munmap with malloc'd buffers. */
        uint8_t *nb = bigbuf_alloc(new_cap, false);
        if (nb == NULL)
            return DISTMSG_E_NOMEM;
        if (s->len)
            memcpy(nb, s->buf, s->len);
        bigbuf_free(s->buf);
        r->bytes += new_cap - s->cap;
        s->buf = nb;
        s->cap = new_cap;
    }
    return DISTMSG_OK;
}

/* Checks fragment h (not a whole message in one fragment) against the sequences in flight
 * and makes room for its body_len bytes: *out is its sequence. On an error the sequence
 * concerned is dropped, except DISTMSG_E_REASM_SHARED / DISTMSG_E_REASM_SEQS, which change
 * nothing. */
static enum distmsg_result frag_open(struct distmsg_reasm *r, const struct distmsg_hdr *h,
                                     size_t body_len, struct distmsg_reasm_seq **out)
{
    struct distmsg_reasm_seq *s = seq_find(r, h->seq_id);
    if (h->kind == DISTMSG_HDR_FRAG_START) {
        if (s != NULL)
            return seq_abort(r, s, DISTMSG_E_FRAG_SEQ_DUP);
        for (size_t i = 0; i < r->max_seqs && s == NULL; i++)
            if (!r->seqs[i].used)
                s = &r->seqs[i];
        if (s == NULL)
            return DISTMSG_E_REASM_SEQS;
        size_t est = r->shared ? estimate(r, h->frag_id, body_len) : 0;
        if (est && !budget_take(r->shared, est, r->shared->cap)) {
            budget_refused(r->shared);
            return DISTMSG_E_REASM_SHARED; /* nothing changed: feed it again later */
        }
        s->reserved = est;
        r->shared_bytes += est;
        s->used = true;
        s->seq_id = h->seq_id;
        s->next_frag = h->frag_id;
        r->in_flight++;
    } else {
        if (s == NULL)
            return DISTMSG_E_FRAG_SEQ_UNKNOWN;
        if (h->frag_id != s->next_frag)
            return seq_abort(r, s, DISTMSG_E_FRAG_ORDER);
    }
    enum distmsg_result res = seq_room(r, s, body_len);
    if (res != DISTMSG_OK)
        return seq_abort(r, s, res);
    *out = s;
    return DISTMSG_OK;
}

/* The body of s's next fragment (n bytes, room made by frag_open) is in place: counts it,
 * and on the last fragment hands out the whole message. */
static void frag_close(struct distmsg_reasm *r, struct distmsg_reasm_seq *s, size_t n,
                       struct distmsg_body *out, bool *complete)
{
    s->len += n;
    if (--s->next_frag > 0)
        return;
    out->data = s->buf;
    out->len = s->len;
    out->versioned = false;
    *complete = true;
    r->in_flight--;
    r->done = s;
}

enum distmsg_result distmsg_reasm_feed(struct distmsg_reasm *r, const uint8_t *pkt, size_t len,
                                       struct distmsg_body *out, bool *complete)
{
    *complete = false;
    distmsg_reasm_release(r);
    struct distmsg_hdr h;
    enum distmsg_result res = distmsg_header_decode(pkt, len, &h);
    if (res != DISTMSG_OK)
        return res;
    const uint8_t *body = pkt + h.len;
    size_t body_len = len - h.len;

    if (h.kind == DISTMSG_HDR_NORMAL || h.kind == DISTMSG_HDR_PASS_THROUGH) {
        out->data = body;
        out->len = body_len;
        out->versioned = h.kind == DISTMSG_HDR_PASS_THROUGH;
        *complete = true;
        return DISTMSG_OK;
    }

    if (h.kind == DISTMSG_HDR_FRAG_START && h.frag_id == 1) { /* the whole message in one */
        struct distmsg_reasm_seq *dup = seq_find(r, h.seq_id);
        if (dup != NULL)
            return seq_abort(r, dup, DISTMSG_E_FRAG_SEQ_DUP);
        out->data = body;
        out->len = body_len;
        out->versioned = false;
        *complete = true;
        return DISTMSG_OK;
    }
    struct distmsg_reasm_seq *s;
    res = frag_open(r, &h, body_len, &s);
    if (res != DISTMSG_OK)
        return res;
    if (body_len)
        memcpy(s->buf + s->len, body, body_len);
    frag_close(r, s, body_len, out, complete);
    return DISTMSG_OK;
}

enum distmsg_result distmsg_reasm_place(struct distmsg_reasm *r, const uint8_t *pkt,
                                        size_t have, size_t len, struct distmsg_place *p)
{
    memset(p, 0, sizeof(*p));
    if (r->placing != NULL || have > len)
        return DISTMSG_E_CONFIG;
    distmsg_reasm_release(r);
    struct distmsg_hdr h;
    enum distmsg_result res = distmsg_header_decode(pkt, have, &h);
    if (res != DISTMSG_OK)
        return res;
    if (h.kind != DISTMSG_HDR_FRAG_CONT && (h.kind != DISTMSG_HDR_FRAG_START || h.frag_id == 1))
        return DISTMSG_E_CONFIG; /* not a piece of a sequence: feed it whole */
    struct distmsg_reasm_seq *s;
    res = frag_open(r, &h, len - h.len, &s);
    if (res != DISTMSG_OK)
        return res;
    size_t present = have - h.len;
    if (present)
        memcpy(s->buf + s->len, pkt + h.len, present);
    r->placing = s;
    r->placing_len = len - h.len;
    p->left = len - have;
    /* nothing left to write: no address (the buffer may not exist yet, for an empty body) */
    p->dst = p->left ? s->buf + s->len + present : NULL;
    return DISTMSG_OK;
}

void distmsg_reasm_placed(struct distmsg_reasm *r, struct distmsg_body *out, bool *complete)
{
    *complete = false;
    struct distmsg_reasm_seq *s = r->placing;
    if (s == NULL)
        return;
    r->placing = NULL;
    frag_close(r, s, r->placing_len, out, complete);
}

void *distmsg_reasm_take(struct distmsg_reasm *r)
{
    struct distmsg_reasm_seq *s = r->done;
    if (s == NULL)
        return NULL;
    void *buf = s->buf;
    s->buf = NULL;
    seq_free(r, s);
    r->done = NULL;
    return buf;
}
