/* dp_mapguard: a port's shared memory stays mapped while a poller is inside a burst on it.
 *
 * Why (docs/dataplane.md §8): net_memif maps regions shared with its peer process. When the
 * peer dies, the driver disconnects on EAL's interrupt thread: it clears its "connected" flag,
 * then unmaps the regions and frees their descriptors, while this process's poller may be
 * inside rte_eth_rx_burst/tx_burst, past that flag's check, reading the rings: SIGSEGV. The
 * driver raises no event (no LSC/RMV callback) before the unmap, so the only hook on that
 * thread ahead of the unmap is munmap itself: this module defines munmap for the process (it
 * interposes on libc's, see dp_mapguard.c) and, when it is called on EAL's interrupt thread,
 * first waits until no poller is inside a burst.
 *
 * Poller side (fast path, any polling thread; one slot per engine, one poller per engine at a
 * time): dp_mapguard_enter(slot) right before a port burst, dp_mapguard_leave(slot) right after.
 * Cost: a relaxed store and a release store; no lock, no syscall, no fence instruction (unless
 * the kernel has no membarrier(2), see dp_mapguard.c). Slots: control thread.
 */
#ifndef DPDIST_DATAPLANE_DP_MAPGUARD_H
#define DPDIST_DATAPLANE_DP_MAPGUARD_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_branch_prediction.h>
#include <rte_common.h>

#ifdef __cplusplus /* C++ tests: std::atomic<T> has _Atomic T's layout */
extern "C++" {
#include <atomic>
}
#define DP_MG_ATOMIC(T) std::atomic<T>
#define DP_MG_NS        std::
#else
#include <stdatomic.h>
#define DP_MG_ATOMIC(T) _Atomic T
#define DP_MG_NS
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define DP_MAPGUARD_SLOTS 64 /* engines of one process */

/* One poller's "inside a burst" flag, alone on its cache line (written on every burst). */
struct dp_mapguard_slot {
    DP_MG_ATOMIC(uint32_t) in_burst;
    DP_MG_ATOMIC(bool) used;
} __rte_cache_aligned;

extern struct dp_mapguard_slot dp_mapguard_slots[DP_MAPGUARD_SLOTS];
/* Set when membarrier(2) is missing: pollers then fence themselves (seq_cst). */
extern DP_MG_ATOMIC(bool) dp_mapguard_poller_fence;

/* Control thread: a free slot for an engine, or -1 when all DP_MAPGUARD_SLOTS are taken. The
 * first call also registers the process for membarrier's private expedited command. */
int dp_mapguard_slot_get(void);
/* Control thread, once the engine's poller is stopped: the slot is free again. */
void dp_mapguard_slot_put(int slot);

/* Unmaps that waited for a poller to leave its burst, and the longest wait (ns), since the
 * process started (any thread). */
uint64_t dp_mapguard_waits(void);
uint64_t dp_mapguard_max_wait_ns(void);
/* Waits that gave up after DP_MAPGUARD_WAIT_MAX_NS (a poller stuck inside a burst). */
uint64_t dp_mapguard_timeouts(void);

/* Ordering: the relaxed store followed (program order, compiler barrier) by the burst's loads
 * of the driver's state pairs with the unmapping thread's membarrier(2): either this store is
 * visible to it before it looks (it waits), or the burst's loads come after the barrier and
 * see the driver's "disconnected" state, stored before the unmap (the burst touches nothing
 * shared). Without membarrier, a seq_cst fence here gives the same (Dekker). */
static inline void dp_mapguard_enter(int slot)
{
    DP_MG_NS atomic_store_explicit(&dp_mapguard_slots[slot].in_burst, 1u,
                                   DP_MG_NS memory_order_relaxed);
    if (unlikely(DP_MG_NS atomic_load_explicit(&dp_mapguard_poller_fence,
                                               DP_MG_NS memory_order_relaxed)))
        DP_MG_NS atomic_thread_fence(DP_MG_NS memory_order_seq_cst);
    else
        DP_MG_NS atomic_signal_fence(DP_MG_NS memory_order_seq_cst);
}

/* Release: every access of the burst to the port's memory happens before the unmapping
 * thread's acquire load that sees 0. */
static inline void dp_mapguard_leave(int slot)
{
    DP_MG_NS atomic_store_explicit(&dp_mapguard_slots[slot].in_burst, 0u,
                                   DP_MG_NS memory_order_release);
}

#ifdef __cplusplus
}
#endif

#endif
