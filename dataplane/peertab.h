/* peertab: the RCU peer table (docs/dataplane.md §2): rx session id (64 bits) -> channel.
 *
 * Readers are the polling threads (fast path: lookups take no lock and make no syscall);
 * the writer is the control thread (slow path: it allocates and may wait for a grace
 * period). Built on liburcu's lock-free resizable hash table (cds_lfht) with the QSBR
 * flavour: every thread that touches the table must be registered with
 * urcu_qsbr_register_thread() (rcu_register_thread() under URCU_API_MAP) and be online;
 * polling threads announce a quiescent state (urcu_qsbr_quiescent_state()) once per loop
 * iteration and hold no pointer obtained from the table across it. Include
 * <urcu/urcu-qsbr.h> for those calls; link liburcu-qsbr and liburcu-cds (dpcore_dep).
 *
 * The table stores channel pointers; it never looks inside them. It does not own them
 * either, except that after removal it hands each one to the reclaim function the
 * remover passed, once no reader can still hold it.
 */
#ifndef DPDIST_DATAPLANE_PEERTAB_H
#define DPDIST_DATAPLANE_PEERTAB_H

#include <stdint.h>

struct peertab;

/* Frees (or otherwise retires) a removed channel; runs after a grace period, in
 * liburcu's call_rcu worker thread (a registered QSBR thread): it must not block for
 * long or call synchronize_rcu(). */
typedef void (*peertab_reclaim_fn)(void *chan, void *arg);

/* Slow path, any thread (registration not required). init_buckets: power of two hint
 * (0: 64); the table grows by itself. NULL with errno EINVAL (not a power of two) or
 * ENOMEM. */
struct peertab *peertab_create(unsigned long init_buckets);

/* Writer (control thread), registered and online, outside any read-side critical
 * section, with no reader able to reach the table any more: removes every remaining
 * entry (handing each to reclaim, if not NULL, after a grace period), waits for all
 * pending reclaims of this and earlier removals (urcu_qsbr_barrier(), offline for the
 * call), frees the table.
 * Returns 0 or a negative errno from cds_lfht_destroy. NULL is a no-op. */
int peertab_destroy(struct peertab *pt, peertab_reclaim_fn reclaim, void *arg);

/* Writer, registered and online. Publishes session -> chan (chan != NULL): readers see
 * it from now on, with every write the caller made to *chan before the call visible.
 * Returns 0, -EEXIST (session present; nothing changed), -EINVAL, -ENOMEM. */
int peertab_add(struct peertab *pt, uint64_t session, void *chan);

/* Writer, registered and online, outside a read-side critical section. Unlinks session:
 * new lookups miss it at once; readers that found it before may keep using it until their
 * next quiescent state; after that grace period reclaim(chan, arg) runs in the call_rcu
 * thread (reclaim may be NULL). Returns 0 or -ENOENT. Non-blocking. */
int peertab_remove(struct peertab *pt, uint64_t session, peertab_reclaim_fn reclaim, void *arg);

/* Same, but waits for the grace period (urcu_qsbr_synchronize_rcu(), which takes the
 * caller offline meanwhile) and returns the channel, now unreachable by any reader, for
 * the caller to free; NULL if absent. Blocks until every reader passed a quiescent state. */
void *peertab_remove_sync(struct peertab *pt, uint64_t session);

/* Fast path. Reader: registered, online, inside urcu_qsbr_read_lock() (a no-op in QSBR,
 * kept for clarity and for liburcu's debug checks). Returns the channel or NULL. The
 * pointer is valid until the caller's next quiescent state (urcu_qsbr_quiescent_state()
 * or urcu_qsbr_thread_offline()). */
void *peertab_lookup(struct peertab *pt, uint64_t session);

/* Approximate number of entries (any registered thread). */
unsigned long peertab_count(struct peertab *pt);

#endif
