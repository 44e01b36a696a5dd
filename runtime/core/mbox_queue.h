/* A mailbox's signal queue and its receiver's sleep: header only (static inline), because
 * every delivery pushes here (the control thread, the data-plane poller, application
 * threads sending locally) and every receive pops here.
 *
 * Algorithm
 *   Dmitry Vyukov's intrusive multi-producer single-consumer queue ("Intrusive MPSC node-based
 *   queue", 1024cores.net): a singly linked list from head (the consumer's) to tail (the
 *   producers'), with a stub node that is re-inserted whenever the consumer would otherwise
 *   take the last node. A producer links its node in with one exchange of tail and one
 *   store; the consumer needs no atomic read-modify-write except to re-insert the stub.
 *   A receiver with nothing to read sleeps on a futex word that producers bump.
 *
 * Memory ordering and progress (liburcu's style of statement; the same statements, with the
 * other lock-free constructs and the lock order, are in docs/architecture.md "Conventions")
 *   - mbox_queue_push (any thread, any number at once): store(node->next, NULL, relaxed);
 *     prev = exchange(tail, node, acq_rel); store(prev->next, node, release). Wait-free:
 *     two atomic operations, no loop. The release store publishes the node's contents to
 *     the consumer's acquire load of prev->next.
 *   - mbox_queue_pop (one consumer at a time: the caller holds the mailbox's recv_lock):
 *     load(next, acquire). Blocking in the queue sense: a producer preempted between its
 *     exchange and its link hides its node and every node after it, so pop returns NULL
 *     while mbox_queue_maybe_nonempty says true, and the caller retries (never spins
 *     forever on a live producer: the link is the producer's next instruction).
 *   - the receiver's sleep is a Dekker pair, both sides seq_cst: the producer
 *     fetch_add(futex) then load(sleeping); the receiver load(futex) as seq, store(sleeping,
 *     1), re-checks the queue, then FUTEX_WAIT(futex, seq). Either the producer sees
 *     sleeping and wakes, or the receiver's re-check sees the node; and FUTEX_WAIT returns
 *     at once if futex moved past seq, so no wake-up is lost.
 *
 * Invariants
 *   - head is never NULL; tail is the last node (or the stub); the stub is in the list
 *     exactly when the list would otherwise be empty from the consumer's view;
 *   - a node is pushed once and popped once; the queue never frees nodes.
 *
 * Bounds
 *   None of its own: a mailbox's queue is bounded by what its senders are allowed to send
 *   (the carriers' send and receive bounds). O(1) per push and pop.
 */
#ifndef DPDIST_RUNTIME_CORE_MBOX_QUEUE_H
#define DPDIST_RUNTIME_CORE_MBOX_QUEUE_H

#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "runtime/core/sig.h"

struct mbox_queue {
    struct sig *_Atomic tail; /* producers */
    struct sig *head;         /* the consumer */
    struct sig stub;
    _Atomic uint32_t futex; /* sequence bumped by producers; the receiver sleeps on it */
    _Atomic int sleeping;   /* a receiver is (about to be) in FUTEX_WAIT */
};

/* A private futex operation on a 32-bit word (FUTEX_WAIT / FUTEX_WAKE). */
static inline long mbox_futex(_Atomic uint32_t *addr, int op, uint32_t val,
                              const struct timespec *ts)
{
    return syscall(SYS_futex, (uint32_t *)addr, op | FUTEX_PRIVATE_FLAG, val, ts, NULL, 0);
}

static inline void mbox_queue_init(struct mbox_queue *q)
{
    atomic_init(&q->stub.next, NULL);
    atomic_init(&q->tail, &q->stub);
    q->head = &q->stub;
    atomic_init(&q->futex, 0);
    atomic_init(&q->sleeping, 0);
}

/* Any thread; wakes a sleeping receiver. */
static inline void mbox_queue_push(struct mbox_queue *q, struct sig *s)
{
    atomic_store_explicit(&s->next, NULL, memory_order_relaxed);
    struct sig *prev = atomic_exchange_explicit(&q->tail, s, memory_order_acq_rel);
    atomic_store_explicit(&prev->next, s, memory_order_release);
    atomic_fetch_add_explicit(&q->futex, 1, memory_order_seq_cst);
    if (atomic_load_explicit(&q->sleeping, memory_order_seq_cst))
        mbox_futex(&q->futex, FUTEX_WAKE, INT_MAX, NULL);
}

/* The consumer. NULL if empty or a producer is mid-push (mbox_queue_maybe_nonempty). */
static inline struct sig *mbox_queue_pop(struct mbox_queue *q)
{
    struct sig *head = q->head;
    struct sig *next = atomic_load_explicit(&head->next, memory_order_acquire);
    if (head == &q->stub) {
        if (!next)
            return NULL;
        q->head = next;
        head = next;
        next = atomic_load_explicit(&next->next, memory_order_acquire);
    }
    if (next) {
        q->head = next;
        return head;
    }
    if (head != atomic_load_explicit(&q->tail, memory_order_acquire))
        return NULL; /* a producer has exchanged the tail but not linked yet */
    atomic_store_explicit(&q->stub.next, NULL, memory_order_relaxed);
    struct sig *prev = atomic_exchange_explicit(&q->tail, &q->stub, memory_order_acq_rel);
    atomic_store_explicit(&prev->next, &q->stub, memory_order_release);
    next = atomic_load_explicit(&head->next, memory_order_acquire);
    if (next) {
        q->head = next;
        return head;
    }
    return NULL;
}

/* The consumer: something is queued or being pushed (pop may still return NULL once). */
static inline bool mbox_queue_maybe_nonempty(struct mbox_queue *q)
{
    struct sig *head = q->head;
    return atomic_load_explicit(&head->next, memory_order_acquire) != NULL ||
           head != atomic_load_explicit(&q->tail, memory_order_acquire);
}

/* Wakes every receiver sleeping on q (a closing mailbox). */
static inline void mbox_queue_wake_all(struct mbox_queue *q)
{
    mbox_futex(&q->futex, FUTEX_WAKE, INT_MAX, NULL);
}

#endif
