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
 * Invariants: in_flight == number of used slots other than `done`; bytes == sum of the
 * capacities of all used slots (including `done`).
 */
#include <stdlib.h>
#include <string.h>

#include "control/distmsg.h"

struct distmsg_reasm_seq {
    bool used;
    uint64_t seq_id;
    uint64_t next_frag; /* id the next continuation must carry */
    uint8_t *buf;
    size_t len, cap;
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
    free(s->buf);
    memset(s, 0, sizeof(*s));
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

/* Append n bytes, growing the buffer within the byte budget. */
static enum distmsg_result seq_append(struct distmsg_reasm *r, struct distmsg_reasm_seq *s,
                                      const uint8_t *p, size_t n)
{
    if (n > s->cap - s->len) {
        size_t budget = r->max_bytes - r->bytes; /* capacity we may still add */
        if (n - (s->cap - s->len) > budget)
            return DISTMSG_E_REASM_BYTES;
        size_t need = s->len + n;
        size_t new_cap = s->cap > SIZE_MAX / 2 ? need : 2 * s->cap;
        if (new_cap < need)
            new_cap = need;
        if (new_cap - s->cap > budget)
            new_cap = s->cap + budget;
        uint8_t *nb = realloc(s->buf, new_cap);
        if (nb == NULL)
            return DISTMSG_E_NOMEM;
        r->bytes += new_cap - s->cap;
        s->buf = nb;
        s->cap = new_cap;
    }
    if (n)
        memcpy(s->buf + s->len, p, n);
    s->len += n;
    return DISTMSG_OK;
}

enum distmsg_result distmsg_reasm_feed(struct distmsg_reasm *r, const uint8_t *pkt, size_t len,
                                       struct distmsg_body *out, bool *complete)
{
    *complete = false;
    if (r->done != NULL) {
        seq_free(r, r->done);
        r->done = NULL;
    }
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

    struct distmsg_reasm_seq *s = seq_find(r, h.seq_id);
    if (h.kind == DISTMSG_HDR_FRAG_START) {
        if (s != NULL)
            return seq_abort(r, s, DISTMSG_E_FRAG_SEQ_DUP);
        if (h.frag_id == 1) { /* the whole message in one fragment */
            out->data = body;
            out->len = body_len;
            out->versioned = false;
            *complete = true;
            return DISTMSG_OK;
        }
        for (size_t i = 0; i < r->max_seqs && s == NULL; i++)
            if (!r->seqs[i].used)
                s = &r->seqs[i];
        if (s == NULL)
            return DISTMSG_E_REASM_SEQS;
        s->used = true;
        s->seq_id = h.seq_id;
        s->next_frag = h.frag_id - 1;
        r->in_flight++;
        res = seq_append(r, s, body, body_len);
        return res == DISTMSG_OK ? DISTMSG_OK : seq_abort(r, s, res);
    }

    /* continuation */
    if (s == NULL)
        return DISTMSG_E_FRAG_SEQ_UNKNOWN;
    if (h.frag_id != s->next_frag)
        return seq_abort(r, s, DISTMSG_E_FRAG_ORDER);
    res = seq_append(r, s, body, body_len);
    if (res != DISTMSG_OK)
        return seq_abort(r, s, res);
    if (h.frag_id > 1) {
        s->next_frag--;
        return DISTMSG_OK;
    }
    out->data = s->buf;
    out->len = s->len;
    out->versioned = false;
    *complete = true;
    r->in_flight--;
    r->done = s;
    return DISTMSG_OK;
}
