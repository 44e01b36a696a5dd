/* Mailboxes (runtime/core/mbox.c): the pid table, the per-mailbox signal queue and the
 * processing of signals on receive. See the design comment in mbox.c. */
#ifndef DPDIST_RUNTIME_CORE_MBOX_H
#define DPDIST_RUNTIME_CORE_MBOX_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <urcu/rculfhash.h>
#include <urcu/urcu-qsbr.h>

#include "dpdist/dpdist.h"
#include "runtime/core/carrier.h"
#include "runtime/core/mbox_queue.h"
#include "runtime/core/node.h"

struct rel;

/* A mailbox: a process as BEAM sees it. Its pid's slot and its registered name are RCU
 * tables of the node (writers hold node->lock); its queue takes signals from any thread;
 * one receiver at a time processes them (recv_lock). */
struct dd_mbox {
    struct cds_lfht_node name_node; /* node->names when registered */
    struct rcu_head rcu;
    struct dd_node *node;
    dd_pid pid;
    char regname[MAXATOMLEN_UTF8];
    unsigned flags;
    uint8_t lane;
    _Atomic bool closed;

    struct mbox_queue q; /* its signals (runtime/core/mbox_queue.h) */

    pthread_mutex_t recv_lock; /* serialises receivers and signal processing */
    unsigned spin_skip; /* waits left that sleep without spinning (mbox.c; recv_lock) */
    pthread_mutex_t lock;      /* relations */
    struct rel *rels;
    bool monitor_nodes;
    uint64_t next_unlink_id;
};

/* The mailbox of a local pid / registered name, or NULL (caller in an RCU section). */
struct dd_mbox *mbox_lookup_pid(struct dd_node *n, const dd_pid *pid);
struct dd_mbox *mbox_lookup_name(struct dd_node *n, const char *name);

/* Open a mailbox (any thread). DD_ENAMEINUSE, DD_ELIMIT, DD_ENOMEM, DD_EINVAL. */
int mbox_open(struct dd_node *n, const char *regname, unsigned flags, struct dd_mbox **out);
/* Close: sends exit signals with reason to linked processes, 'DOWN' to monitors; frees mb.
 * No other thread may use mb during or after the call. Sends with no lock held (may wait
 * for room on a TCP queue, as a blocking dd_send). */
void mbox_close(struct dd_mbox *mb, const uint8_t *reason, size_t reason_len);
/* Receive (serialised per mailbox). */
int mbox_recv(struct dd_mbox *mb, dd_msg **out, int timeout_ms);
/* In the node's mbox_spin_ns: the process may run on one CPU only (mbox.c). */
#define MBOX_SPIN_YIELD (1ull << 63)

/* Pushes s onto mb's queue (any thread; consumes s; wakes a sleeping receiver). (On a
 * one-CPU process, yielding the core to the receiver woken here was tried: it changed
 * nothing measurable on TCP and cut the DPDK 64 B stream from 267k to 159k msg/s.) */
static inline void mbox_push(struct dd_mbox *mb, struct sig *s)
{
    mbox_queue_push(&mb->q, s);
}
/* The receiver (recv_lock held): something to look at — a signal, or the mailbox closed. */
static inline bool mbox_ready(struct dd_mbox *mb)
{
    return mbox_queue_maybe_nonempty(&mb->q) || atomic_load(&mb->closed);
}
/* The receiver: sleeps on mb's futex until it is ready, or at most timeout_ns (UINT64_MAX:
 * no limit; 0: no sleep); returns mbox_ready. For pollers' waits (carrier.h) too. */
bool mbox_sleep(struct dd_mbox *mb, uint64_t timeout_ns);
/* The node's mbox_spin_ns (node.h), from the CPUs this process may run on; with
 * MBOX_SPIN_YIELD when that is one CPU. */
uint64_t mbox_spin_ns_for_this_process(void);
/* On one CPU, the waits of a mailbox that sleep at once after this one (mbox.c): spun: the
 * wait spun; ready: a message came during the spin; busy: a yield gave the core away for
 * more than MBOX_YIELD_BUSY_NS. */
unsigned mbox_spin_skip_after(bool spun, bool ready, bool busy);
/* A large payload copied by a sender on a one-CPU process goes in slices of this size with
 * the core yielded between them (mbox_copy_sliced): a 64 MiB copy is ~10 ms of CPU, during
 * which the control thread would not write and a small message's receiver would not run. */
#define MBOX_COPY_SLICE_BYTES (256u * 1024)
void mbox_copy_sliced(uint8_t *dst, const uint8_t *src, size_t len);
/* Copies a message payload of `from` into its outgoing buffer: the node's poller's way when
 * it has one (a carrier polled in application threads may copy large payloads on the
 * polling thread), else memcpy. */
static inline void mbox_copy_payload(struct dd_mbox *from, uint8_t *dst, const uint8_t *src,
                                     size_t len)
{
    const struct rt_poller_ops *p = from->node->poller;
    if (p && p->copy_payload)
        p->copy_payload(from, dst, src, len);
    else if (len >= MBOX_COPY_SLICE_BYTES && (from->node->mbox_spin_ns & MBOX_SPIN_YIELD))
        mbox_copy_sliced(dst, src, len);
    else
        memcpy(dst, src, len);
}
void mbox_msg_free(dd_msg *msg);
/* Answer a signal addressed to a dead/unknown local process `dead`; consumes s. */
void mbox_bounce(struct dd_node *n, const dd_pid *dead, struct sig *s);

/* Signals a mailbox emits (route.c). */
void mbox_send_unlink_ack(struct dd_mbox *mb, const dd_pid *to, uint64_t id);
void route_exit_signal(struct dd_node *n, const dd_pid *from, const dd_pid *to,
                       const uint8_t *reason, size_t reason_len, bool link_exit);
void route_monitor_exit(struct dd_node *n, const dd_pid *from, const char *from_name,
                        const dd_pid *to, const dd_ref *ref, const uint8_t *reason,
                        size_t reason_len);
void route_demonitor(struct dd_node *n, const dd_pid *from, const dd_pid *to, const char *to_name,
                     const dd_ref *ref);
void route_unlink_ack(struct dd_node *n, const dd_pid *from, const dd_pid *to, uint64_t id);

#endif
