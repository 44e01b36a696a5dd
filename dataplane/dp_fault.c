/* Fast path: no locks, no syscalls, no logging.
 *
 * Fault injection for tests ([fault] in the node config): drops, duplicates, reorders and
 * delays a given fraction of frames on receive and/or transmit, deterministically from a
 * seed (xorshift64*), so a failing run can be replayed. Held frames (delayed, reordered)
 * are bounded by DP_FAULT_HOLD; beyond that frames pass unharmed.
 */
#include <rte_mbuf.h>

#include "dataplane/dp_pvt.h"

static uint64_t fault_rand(struct dp_fault *f)
{
    f->rng ^= f->rng >> 12;
    f->rng ^= f->rng << 25;
    f->rng ^= f->rng >> 27;
    return f->rng * 0x2545F4914F6CDD1Dull;
}

static bool chance(struct dp_fault *f, double rate)
{
    if (rate <= 0.0)
        return false;
    return (double)(fault_rand(f) >> 11) * (1.0 / 9007199254740992.0) < rate;
}

void dp_fault_init(struct dp_fault *f, const struct dp_fault_params *p, uint64_t salt)
{
    f->p = *p;
    f->rng = (p->seed * 0x9E3779B97F4A7C15ull) ^ salt;
    if (f->rng == 0)
        f->rng = 0x1234567;
    f->n_held = 0;
}

void dp_fault_flush(struct dp_fault *f)
{
    while (f->n_held)
        rte_pktmbuf_free(f->held[--f->n_held]);
}

static bool hold(struct dp_fault *f, struct rte_mbuf *m, uint64_t until)
{
    if (f->n_held == DP_FAULT_HOLD)
        return false;
    f->held[f->n_held] = m;
    f->held_until[f->n_held] = until;
    f->n_held++;
    return true;
}

unsigned dp_fault_apply(struct dp_fault *f, struct rte_mempool *pool, struct rte_mbuf **pkts,
                        unsigned n, unsigned cap, uint64_t now, struct dp_port_stats *st)
{
    struct rte_mbuf *out[DP_TX_STAGE + DP_BURST * 2 + DP_FAULT_HOLD];
    unsigned k = 0, room = cap < RTE_DIM(out) ? cap : (unsigned)RTE_DIM(out);
    /* Frames whose time has come go first: reordered ones were held for one round. */
    for (unsigned i = 0; i < f->n_held;) {
        if (f->held_until[i] <= now && k < room) {
            out[k++] = f->held[i];
            f->held[i] = f->held[f->n_held - 1];
            f->held_until[i] = f->held_until[f->n_held - 1];
            f->n_held--;
        } else {
            i++;
        }
    }
    for (unsigned i = 0; i < n; i++) {
        struct rte_mbuf *m = pkts[i];
        if (chance(f, f->p.drop_rate)) {
            rte_pktmbuf_free(m);
            st->fault_dropped++;
            continue;
        }
        if (chance(f, f->p.delay_rate) && hold(f, m, now + (uint64_t)f->p.delay_us * 1000)) {
            st->fault_delayed++;
            continue;
        }
        if (chance(f, f->p.reorder_rate) && hold(f, m, now)) {
            st->fault_reordered++;
            continue;
        }
        if (k < room) {
            out[k++] = m;
        } else { /* released held frames took the room: dropped, and counted so */
            rte_pktmbuf_free(m);
            st->fault_dropped++;
            continue;
        }
        if (chance(f, f->p.dup_rate) && k < room) {
            struct rte_mbuf *c = rte_pktmbuf_copy(m, pool, 0, UINT32_MAX);
            if (c) {
                out[k++] = c;
                st->fault_duplicated++;
            }
        }
    }
    for (unsigned i = 0; i < k; i++)
        pkts[i] = out[i];
    return k;
}
