/* budget: a byte budget that several threads draw from, all or nothing, without a lock.
 *
 * The node's reassembly memory is one (runtime/core/node.h: TCP fragments and partial packets on
 * the control thread, DPDK message buffers on the poller): whoever holds bytes of it has
 * taken them with budget_take and gives them back with budget_give, so `used` never exceeds
 * the limit a taker asked for, and never `cap`.
 *
 * Threads: any. budget_take is a compare-and-swap loop (lock-free: a failed CAS means another
 * thread's take or give succeeded); budget_give one atomic subtraction; no syscall, so the
 * data plane's fast path may call them.
 *
 * Memory ordering and progress (liburcu's style; docs/architecture.md, "Lock-free
 * constructs"): budget_take loads `used` relaxed and CASes it acq_rel (relaxed on failure):
 * lock-free; budget_give is fetch_sub acq_rel: wait-free; budget_used loads acquire. The
 * ordering only orders the counter itself: the budget publishes no data (the bytes' owner
 * hands its buffer over by other means). high_water is a relaxed CAS maximum and refusals a
 * relaxed counter: both approximate while takers race, exact when quiet. Fields are plain integers accessed only through the
 * __atomic builtins, so the header also serves C++ tests. `cap` is set by budget_init before
 * the budget is shared and never changes.
 */
#ifndef DPDIST_COMMON_BUDGET_H
#define DPDIST_COMMON_BUDGET_H

#include <stdbool.h>
#include <stdint.h>

struct budget {
    uint64_t cap;        /* read-only once shared */
    uint64_t used;       /* bytes taken and not given back */
    uint64_t high_water; /* the most ever taken at once */
    uint64_t refusals;   /* budget_refused calls: takers that did not get their bytes */
};

static inline void budget_init(struct budget *b, uint64_t cap)
{
    b->cap = cap;
    __atomic_store_n(&b->used, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&b->high_water, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&b->refusals, 0, __ATOMIC_RELAXED);
}

/* Takes bytes if used + bytes stays within limit (callers pass cap, or less to keep a
 * reserve for others); true if taken. */
static inline bool budget_take(struct budget *b, uint64_t bytes, uint64_t limit)
{
    if (limit > b->cap)
        limit = b->cap;
    uint64_t u = __atomic_load_n(&b->used, __ATOMIC_RELAXED);
    do {
        if (bytes > limit || u > limit - bytes)
            return false;
    } while (!__atomic_compare_exchange_n(&b->used, &u, u + bytes, true, __ATOMIC_ACQ_REL,
                                          __ATOMIC_RELAXED));
    uint64_t hw = __atomic_load_n(&b->high_water, __ATOMIC_RELAXED);
    while (u + bytes > hw && !__atomic_compare_exchange_n(&b->high_water, &hw, u + bytes, true,
                                                          __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        ;
    return true;
}

/* Gives back bytes taken earlier. */
static inline void budget_give(struct budget *b, uint64_t bytes)
{
    __atomic_fetch_sub(&b->used, bytes, __ATOMIC_ACQ_REL);
}

/* Counts a taker that was refused (for logs and statistics). */
static inline void budget_refused(struct budget *b)
{
    __atomic_fetch_add(&b->refusals, 1, __ATOMIC_RELAXED);
}

static inline uint64_t budget_used(const struct budget *b)
{
    return __atomic_load_n(&b->used, __ATOMIC_ACQUIRE);
}

#endif
