/* The DPDK carrier's own header (runtime/carrier_dpdk/): its per-node state and what its
 * files share. Not for the node core (runtime/core/carrier.h is the interface). */
#ifndef DPDIST_RUNTIME_CARRIER_DPDK_DPC_H
#define DPDIST_RUNTIME_CARRIER_DPDK_DPC_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/cfg.h"
#include "runtime/core/carrier.h"

struct dp_engine;
struct dpc_copy_job;

/* A node's data plane (n->dp; NULL without one). Set up by node_start, gone at node_stop;
 * the engine's own threads and callbacks see it through n. */
struct dpc_node {
    struct dp_engine *engine;
    struct cfg_file cfg;
    bool inline_poll;      /* no poller thread: application threads poll (dpc_inline.c) */
    uint64_t busy_poll_ns; /* [eal] busy_poll_us (0: always spin) */
    uint64_t idle_sleep_ns;

    /* Inline polling (dpc_inline.c): the one receiver that polls the port while it waits
     * (its mailbox's address, low bit set for an express mailbox; 0: none) and when it last
     * did. The others sleep on their mailboxes until the leader delivers to them. */
    _Atomic uintptr_t inline_leader;
    _Atomic uintptr_t inline_waiting; /* the leader while it waits in dd_recv, else 0 */
    _Atomic uint64_t inline_lease_ns; /* when a leader last took over or left dd_recv */
    /* Copies of large payloads handed to the leader (dpc_copy.c), in order. copy_lock is a
     * leaf, held for one chunk's memcpy at most. */
    pthread_mutex_t copy_lock;
    struct dpc_copy_job *copy_head, *copy_tail;
    _Atomic bool copy_pending;
    /* Counters for dd_dataplane_summary. */
    _Atomic uint64_t inline_takeovers;   /* leadership changes */
    _Atomic uint64_t copies_by_leader;   /* payloads the leader copied for a sender */
    _Atomic uint64_t copies_taken_back;  /* ... that their sender finished itself */
    _Atomic uint64_t copies_self_polled; /* large copies by a sender polling between chunks */
};

/* ---- polling (dpc_inline.c) ----------------------------------------------------------- */

/* Waiting, copying and closing when application threads poll (n->poller). */
extern const struct rt_poller_ops dpc_inline_poller;
/* A bounded turn of the poll loop (iterations) if no other thread polls; the work done. An
 * RCU read section is taken (dpc_poll) or held by the caller (dpc_poll_locked). */
unsigned dpc_poll(struct dd_node *n, unsigned iterations);
unsigned dpc_poll_locked(struct dd_node *n, unsigned iterations);
/* Another thread is polling the port right now (the inline leader, and not this thread
 * between two of its dd_recv calls). */
bool dpc_inline_leader_polling(struct dd_node *n);
/* The current leader is waiting in dd_recv or left it less than the lease ago. */
bool dpc_inline_lease_fresh(struct dd_node *n);
/* How long a sender waits for the leader's copy before it looks at the lease again. */
#define DPC_INLINE_LEASE_NS 200000u

/* ---- payload copies by the leader (dpc_copy.c) ----------------------------------------- */

/* The copy_payload hook: see dpc_copy.c. */
void dpc_copy_payload(struct dd_mbox *from, uint8_t *dst, const uint8_t *src, size_t len);
/* The leader's share between two polls: one chunk of the oldest job; 1 when it copied. */
unsigned dpc_copy_step(struct dd_node *n);

#endif
