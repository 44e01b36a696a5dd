/* Payload copies on a node polled inline: the copy_payload hook of dpc_inline_poller.
 *
 * Algorithm
 *   A sender copies a message's payload into its outgoing buffer (runtime/core/route.c). On
 *   a node that owns one core and is polled inline, a large copy (from DPC_COPY_MIN up) by
 *   the sender takes the core from the inline leader for milliseconds: heartbeats and acks
 *   stop meanwhile. So the sender hands the copy to the leader instead: it queues a job on
 *   its stack and sleeps; the leader copies DPC_COPY_CHUNK bytes between two polls
 *   (dpc_copy_step), so a round trip waits for one chunk at most, and wakes the sender when
 *   it is done. When no other thread polls (senders that never wait in dd_recv), the sender
 *   copies itself in DPC_SELF_COPY_CHUNK pieces and polls between them.
 *
 * Invariants and progress (docs/architecture.md "Conventions": not lock-free, blocking but
 * bounded; copy_lock is a leaf taken under recv_lock and poll_owner by the leader)
 *   - a job lives on its sender's stack from queueing until the sender returns; the leader
 *     touches it only under copy_lock, and the sender takes copy_lock once more before it
 *     returns, so the leader's last touch (its unlock after setting `finished`) is over;
 *   - copy_lock is a leaf, held for one chunk's memcpy (16 KiB) at most: blocking, bounded;
 *   - copy_pending is a hint (release by the sender, acquire by the leader) that saves the
 *     leader the lock when nothing is queued; `finished` is a futex word (0 -> 1 once);
 *   - a sender whose leader stopped polling (the lease went stale) takes its job back and
 *     finishes it itself: a copy never waits for a thread that does not poll.
 *
 * Bounds
 *   One job per sending thread; the leader copies one chunk per poll turn.
 */
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "runtime/carrier_dpdk/dpc.h"
#include "runtime/core/mbox.h"
#include "runtime/core/node.h"

/* Payloads from this size up are worth handing over (below, the copy costs about as much as
 * the hand-over); the leader copies them in chunks between polls, so a round trip waits for
 * one chunk at most (a few µs). */
#define DPC_COPY_MIN   (128u * 1024)
#define DPC_COPY_CHUNK (16u * 1024)
/* A sender that copies for itself, polling between chunks: ~10 us of copying each. */
#define DPC_SELF_COPY_CHUNK (64u * 1024)

/* A payload copy the inline leader does for a sending thread. On the sender's stack; under
 * copy_lock while queued. */
struct dpc_copy_job {
    struct dpc_copy_job *next;
    uint8_t *dst;
    const uint8_t *src;
    size_t len, done;
    _Atomic uint32_t finished; /* futex word: 1 once copied */
};

unsigned dpc_copy_step(struct dd_node *n)
{
    struct dpc_node *dp = n->dp;
    if (!atomic_load_explicit(&dp->copy_pending, memory_order_acquire))
        return 0;
    pthread_mutex_lock(&dp->copy_lock);
    struct dpc_copy_job *j = dp->copy_head;
    if (!j) {
        atomic_store(&dp->copy_pending, false);
        pthread_mutex_unlock(&dp->copy_lock);
        return 0;
    }
    size_t chunk = j->len - j->done < DPC_COPY_CHUNK ? j->len - j->done : DPC_COPY_CHUNK;
    memcpy(j->dst + j->done, j->src + j->done, chunk);
    j->done += chunk;
    if (j->done == j->len) {
        dp->copy_head = j->next;
        if (!dp->copy_head) {
            dp->copy_tail = NULL;
            atomic_store(&dp->copy_pending, false);
        }
        atomic_fetch_add_explicit(&dp->copies_by_leader, 1, memory_order_relaxed);
        atomic_store(&j->finished, 1);
        /* the sender may return (and its stack frame go) as soon as it sees `finished`:
         * waking it only passes the address to the kernel, nothing is written there */
        mbox_futex(&j->finished, FUTEX_WAKE, 1, NULL);
    }
    pthread_mutex_unlock(&dp->copy_lock);
    return 1;
}

/* Takes a queued job back (the leader stopped polling): true if it was still queued, with
 * j->done bytes copied. */
static bool copy_take_back(struct dpc_node *dp, struct dpc_copy_job *j)
{
    bool queued = false;
    pthread_mutex_lock(&dp->copy_lock);
    if (!atomic_load(&j->finished)) {
        struct dpc_copy_job **pp = &dp->copy_head, *prev = NULL;
        while (*pp && *pp != j) {
            prev = *pp;
            pp = &(*pp)->next;
        }
        if (*pp == j) {
            *pp = j->next;
            if (dp->copy_tail == j)
                dp->copy_tail = prev;
            if (!dp->copy_head)
                atomic_store(&dp->copy_pending, false);
            queued = true;
        }
    }
    pthread_mutex_unlock(&dp->copy_lock);
    return queued;
}

/* Nobody else polls (a node whose threads send and do not wait in dd_recv): copy in chunks
 * and poll between them, so heartbeats, acks and other senders' frames keep moving during a
 * copy of many milliseconds. */
static void copy_self_polled(struct dd_node *n, uint8_t *dst, const uint8_t *src, size_t len)
{
    for (size_t done = 0; done < len;) {
        size_t chunk = len - done < DPC_SELF_COPY_CHUNK ? len - done : DPC_SELF_COPY_CHUNK;
        memcpy(dst + done, src + done, chunk);
        done += chunk;
        dpc_poll(n, 1);
    }
    atomic_fetch_add_explicit(&n->dp->copies_self_polled, 1, memory_order_relaxed);
}

void dpc_copy_payload(struct dd_mbox *from, uint8_t *dst, const uint8_t *src, size_t len)
{
    struct dd_node *n = from->node;
    struct dpc_node *dp = n->dp;
    if (len < DPC_COPY_MIN) {
        memcpy(dst, src, len);
        return;
    }
    if (!dpc_inline_leader_polling(n)) {
        copy_self_polled(n, dst, src, len);
        return;
    }
    struct dpc_copy_job j = {.dst = dst, .src = src, .len = len};
    atomic_init(&j.finished, 0);
    pthread_mutex_lock(&dp->copy_lock);
    if (dp->copy_tail)
        dp->copy_tail->next = &j;
    else
        dp->copy_head = &j;
    dp->copy_tail = &j;
    atomic_store_explicit(&dp->copy_pending, true, memory_order_release);
    pthread_mutex_unlock(&dp->copy_lock);
    while (!atomic_load(&j.finished)) {
        struct timespec ts = {0, DPC_INLINE_LEASE_NS};
        mbox_futex(&j.finished, FUTEX_WAIT, 0, &ts);
        if (!atomic_load(&j.finished) && !dpc_inline_lease_fresh(n) && copy_take_back(dp, &j)) {
            atomic_fetch_add_explicit(&dp->copies_taken_back, 1, memory_order_relaxed);
            memcpy(dst + j.done, src + j.done, len - j.done);
            return;
        }
    }
    /* the leader's unlock is the last touch of j: wait for it before the frame goes */
    pthread_mutex_lock(&dp->copy_lock);
    pthread_mutex_unlock(&dp->copy_lock);
}
