/* Fast path (except reasm_create/destroy): no locks, no logging; buffers only through
 * the allocator hook.
 *
 * reasm — reassembly by byte count, release in msg_seq order per flow.
 *
 * Algorithm
 *   Per flow: next_msg_seq (the next message to deliver) and the number of messages held.
 *   Held messages are entries of a fixed pool, found by (flow, msg_seq) in an open-
 *   addressing hash table (linear probing, backward-shift deletion, no tombstones). The
 *   first fragment of a message to arrive (any offset) allocates msg_len bytes; every
 *   fragment is copied at frag_off; the message is complete when `got` reaches msg_len
 *   (the receive window removed duplicate frames, so bytes are never counted twice for an
 *   honest sender). A complete message that is its flow's next is delivered, then the
 *   flow's following messages are delivered while they are complete (one hash lookup
 *   each). Fast path: a single-fragment message that is its flow's next is delivered
 *   straight from the caller's frame: no entry, no allocation, no copy (with nothing
 *   held for the flow, not even a hash lookup).
 *
 * Invariants
 *   - for every held entry e: serial e.msg_seq >= flows[e.flow].next_msg_seq, and
 *     0 < e.got <= e.msg_len; e.complete <=> got == msg_len; a complete entry is never
 *     its flow's next (it would have been delivered).
 *   - sum of held msg_len == held_bytes <= max_bytes.
 *   - started_bytes (msg_len of every message ever seen: each is counted once, when it
 *     is delivered directly or gets its entry) <= credit_limit.
 *   - entries not its flow's next are admitted only while fewer than max_pending entries
 *     are in use, so the pool (max_pending + max_flows) always has room for each flow's
 *     next message: no flow waits for another.
 *   - with a shared budget (the node's): every held entry has taken its msg_len from it,
 *     given back when the entry goes (delivered or destroyed); an entry that is not its
 *     flow's next was admitted only while the budget's use stayed within cap -
 *     max_msg_bytes. So when no flow's next message is in progress, at least max_msg_bytes
 *     of the budget are free for one (unless the TCP carrier holds them), and next messages
 *     in progress always complete (the sender retransmits what was refused).
 *
 * Bounds
 *   pool max_pending + max_flows entries; hash 2x pool rounded up to a power of two;
 *   held bytes <= max_bytes; msg_len <= max_msg_bytes. O(1) expected per fragment plus
 *   O(1) per message delivered.
 */
#include "dataplane/reasm.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/budget.h"

struct reasm_entry {
    uint8_t *buf;
    uint32_t msg_seq;
    uint32_t msg_len;
    uint32_t got;
    uint16_t flow;
    uint8_t complete;
    uint32_t next_free; /* free list link (index + 1, 0 = end) */
};

struct reasm_flow {
    uint32_t next_msg_seq;
    uint32_t held; /* entries of this flow */
};

struct reasm {
    struct reasm_params p;
    struct reasm_alloc alloc;
    reasm_deliver_fn deliver;
    void *deliver_ctx;

    struct reasm_flow *flows;
    struct reasm_entry *pool;
    uint32_t pool_size;
    uint32_t free_head; /* index + 1 */
    uint32_t used;
    uint64_t held_bytes;
    uint64_t started_bytes; /* msg_len of every message seen, since creation */
    uint64_t credit_limit;  /* started_bytes may not exceed it */

    uint32_t *hash; /* entry index + 1, 0 = empty */
    uint32_t hash_mask;
};

static inline uint32_t hash_key(uint16_t flow, uint32_t msg_seq, uint32_t mask)
{
    uint64_t k = ((uint64_t)flow << 32 | msg_seq) * UINT64_C(0x9E3779B97F4A7C15);
    return (uint32_t)(k >> 32) & mask;
}

static struct reasm_entry *lookup(const struct reasm *r, uint16_t flow, uint32_t msg_seq)
{
    for (uint32_t i = hash_key(flow, msg_seq, r->hash_mask);; i = (i + 1) & r->hash_mask) {
        uint32_t v = r->hash[i];
        if (v == 0)
            return NULL;
        struct reasm_entry *e = &r->pool[v - 1];
        if (e->flow == flow && e->msg_seq == msg_seq)
            return e;
    }
}

static void hash_insert(struct reasm *r, uint32_t idx)
{
    const struct reasm_entry *e = &r->pool[idx];
    uint32_t i = hash_key(e->flow, e->msg_seq, r->hash_mask);
    while (r->hash[i])
        i = (i + 1) & r->hash_mask;
    r->hash[i] = idx + 1;
}

/* Backward-shift deletion: keeps every probe chain unbroken without tombstones. */
static void hash_remove(struct reasm *r, uint32_t idx)
{
    const struct reasm_entry *e = &r->pool[idx];
    uint32_t i = hash_key(e->flow, e->msg_seq, r->hash_mask);
    while (r->hash[i] != idx + 1)
        i = (i + 1) & r->hash_mask;
    uint32_t hole = i;
    for (uint32_t j = (hole + 1) & r->hash_mask; r->hash[j]; j = (j + 1) & r->hash_mask) {
        const struct reasm_entry *o = &r->pool[r->hash[j] - 1];
        uint32_t home = hash_key(o->flow, o->msg_seq, r->hash_mask);
        /* o may move into the hole if its home is not in (hole, j] (cyclically) */
        if (((j - home) & r->hash_mask) >= ((j - hole) & r->hash_mask)) {
            r->hash[hole] = r->hash[j];
            hole = j;
        }
    }
    r->hash[hole] = 0;
}

static void entry_free(struct reasm *r, struct reasm_entry *e)
{
    uint32_t idx = (uint32_t)(e - r->pool);
    hash_remove(r, idx);
    r->flows[e->flow].held--;
    r->used--;
    r->held_bytes -= e->msg_len;
    if (r->p.shared)
        budget_give(r->p.shared, e->msg_len);
    e->buf = NULL;
    e->next_free = r->free_head;
    r->free_head = idx + 1;
}

struct reasm *reasm_create(const struct reasm_params *p, const struct reasm_alloc *alloc,
                           reasm_deliver_fn deliver, void *deliver_ctx)
{
    if (!p || !alloc || !alloc->alloc || !alloc->free || !deliver || p->max_flows == 0 ||
        p->max_pending == 0 || p->max_msg_bytes == 0 || p->max_bytes < p->max_msg_bytes ||
        (uint64_t)p->max_pending + p->max_flows > (UINT32_C(1) << 28)) {
        errno = EINVAL;
        return NULL;
    }
    struct reasm *r = calloc(1, sizeof(*r));
    if (!r) {
        errno = ENOMEM;
        return NULL;
    }
    r->p = *p;
    r->alloc = *alloc;
    r->deliver = deliver;
    r->deliver_ctx = deliver_ctx;
    r->pool_size = p->max_pending + p->max_flows;
    uint32_t hsize = 4;
    while (hsize < 2 * r->pool_size)
        hsize <<= 1;
    r->hash_mask = hsize - 1;
    r->flows = calloc(p->max_flows, sizeof(*r->flows));
    r->pool = calloc(r->pool_size, sizeof(*r->pool));
    r->hash = calloc(hsize, sizeof(*r->hash));
    if (!r->flows || !r->pool || !r->hash) {
        reasm_destroy(r);
        errno = ENOMEM;
        return NULL;
    }
    for (uint32_t i = 0; i < r->pool_size; i++)
        r->pool[i].next_free = i + 2 <= r->pool_size ? i + 2 : 0;
    r->free_head = 1;
    r->credit_limit = UINT64_MAX;
    return r;
}

void reasm_destroy(struct reasm *r)
{
    if (!r)
        return;
    if (r->pool) {
        for (uint32_t i = 0; i < r->pool_size; i++) {
            if (!r->pool[i].buf)
                continue;
            r->alloc.free(r->alloc.ctx, r->pool[i].buf, r->pool[i].msg_len);
            if (r->p.shared)
                budget_give(r->p.shared, r->pool[i].msg_len);
        }
    }
    free(r->flows);
    free(r->pool);
    free(r->hash);
    free(r);
}

/* Deliver the flow's following messages while they are complete. */
static void drain_flow(struct reasm *r, uint16_t flow)
{
    struct reasm_flow *fl = &r->flows[flow];
    while (fl->held) {
        struct reasm_entry *e = lookup(r, flow, fl->next_msg_seq);
        if (!e || !e->complete)
            return;
        struct reasm_msg m = {
            .data = e->buf,
            .buf = e->buf,
            .len = e->msg_len,
            .msg_seq = e->msg_seq,
            .flow = flow,
        };
        entry_free(r, e); /* ownership of the buffer moves to the callback */
        fl->next_msg_seq++;
        r->deliver(r->deliver_ctx, &m);
    }
}

/* A buffer's bytes from the shared budget: a flow's next message may use all of it, others
 * leave max_msg_bytes for next messages (see Invariants). */
static bool take_shared(struct reasm *r, uint32_t len, bool next)
{
    uint64_t cap = r->p.shared->cap, reserve = r->p.max_msg_bytes;
    uint64_t limit = next ? cap : (cap > reserve ? cap - reserve : 0);
    if (budget_take(r->p.shared, len, limit))
        return true;
    budget_refused(r->p.shared);
    return false;
}

enum wire_drop reasm_insert(struct reasm *r, const struct wire_hdr *h, const uint8_t *payload,
                            uint32_t len)
{
    if (__builtin_expect(h->flow >= r->p.max_flows, 0))
        return WIRE_DROP_BAD_HEADER;
    if (__builtin_expect(h->msg_len > r->p.max_msg_bytes || len == 0 ||
                             (uint64_t)h->frag_off + len > h->msg_len,
                         0))
        return WIRE_DROP_BAD_LENGTH;
    struct reasm_flow *fl = &r->flows[h->flow];
    int32_t ahead = (int32_t)(h->msg_seq - fl->next_msg_seq);
    if (__builtin_expect(ahead < 0, 0))
        return WIRE_DROP_STALE_MSG;

    struct reasm_entry *e = fl->held ? lookup(r, h->flow, h->msg_seq) : NULL;

    /* Fast path: a whole message that is next in its flow goes out from the caller's
     * frame (then any held followers that it unblocks). */
    if (ahead == 0 && len == h->msg_len && !e) {
        if (r->started_bytes + len > r->credit_limit)
            return WIRE_DROP_NO_CREDIT;
        r->started_bytes += len;
        struct reasm_msg m = {
            .data = payload,
            .buf = NULL,
            .len = len,
            .msg_seq = h->msg_seq,
            .flow = h->flow,
        };
        fl->next_msg_seq++;
        r->deliver(r->deliver_ctx, &m);
        if (fl->held)
            drain_flow(r, h->flow);
        return WIRE_OK;
    }

    if (!e) {
        if (ahead != 0 && r->used >= r->p.max_pending)
            return WIRE_DROP_REASM_FULL;
        if (r->free_head == 0)
            return WIRE_DROP_REASM_FULL; /* unreachable by the bound above; kept for safety */
        if (r->held_bytes + h->msg_len > r->p.max_bytes ||
            r->started_bytes + h->msg_len > r->credit_limit)
            return WIRE_DROP_NO_CREDIT;
        if (r->p.shared && !take_shared(r, h->msg_len, ahead == 0))
            return WIRE_DROP_NODE_BUDGET;
        uint8_t *buf = r->alloc.alloc(r->alloc.ctx, h->msg_len);
        if (!buf) {
            if (r->p.shared)
                budget_give(r->p.shared, h->msg_len);
            return WIRE_DROP_NO_MEMORY;
        }
        uint32_t idx = r->free_head - 1;
        e = &r->pool[idx];
        r->free_head = e->next_free;
        e->buf = buf;
        e->flow = h->flow;
        e->msg_seq = h->msg_seq;
        e->msg_len = h->msg_len;
        e->got = 0;
        e->complete = 0;
        hash_insert(r, idx);
        r->used++;
        fl->held++;
        r->held_bytes += h->msg_len;
        r->started_bytes += h->msg_len;
    } else if (e->msg_len != h->msg_len || e->complete || (uint64_t)e->got + len > e->msg_len) {
        return WIRE_DROP_BAD_FRAGMENT;
    }

    memcpy(e->buf + h->frag_off, payload, len);
    e->got += len;
    if (e->got < e->msg_len)
        return WIRE_OK;
    e->complete = 1;
    if (ahead == 0)
        drain_flow(r, h->flow);
    return WIRE_OK;
}

uint32_t reasm_pending(const struct reasm *r)
{
    return r->used;
}

uint64_t reasm_held_bytes(const struct reasm *r)
{
    return r->held_bytes;
}

uint32_t reasm_next_msg_seq(const struct reasm *r, uint16_t flow)
{
    return flow < r->p.max_flows ? r->flows[flow].next_msg_seq : 0;
}

void reasm_set_credit_limit(struct reasm *r, uint64_t limit)
{
    r->credit_limit = limit;
}

uint64_t reasm_started_bytes(const struct reasm *r)
{
    return r->started_bytes;
}
