/* Inline polling: the DPDK carrier's poller when the node has no lcore for it, run by the
 * application threads that wait in dd_recv (and, as a fallback, by the control thread).
 *
 * Algorithm
 *   One leader at a time. Every thread waiting in dd_recv used to spin on the port; on a
 *   node that owns one core, four such threads took turns on it in scheduler time slices (a
 *   round trip's p99 went from microseconds to hundreds of them). Now one waiter, the
 *   leader, polls; the others sleep on their mailboxes' futexes and the leader's polling
 *   wakes them when it delivers to them. Leadership sticks to a thread between its dd_recv
 *   calls (it will be back: no wake-up for the common one-thread-per-service pattern); a
 *   waiter takes it over when it is free, when the leader has been out of dd_recv for
 *   DPC_INLINE_LEASE_NS (busy elsewhere or gone: a leader in dd_recv that the scheduler has
 *   put aside keeps it, or two threads would spin by turns again), or when the waiter's
 *   mailbox is express and the leader's is not (latency-critical receivers poll
 *   themselves). Sleeping waiters check again every INLINE_FOLLOWER_NAP_NS; when no
 *   application thread polled for a while, the watchdog poller (dpc_watchdog.c) does, at
 *   real-time priority (the control thread only when the watchdog could not start).
 *
 * Invariants and progress (liburcu's style of statement; docs/architecture.md "Conventions"
 * has them with the lock order: recv_lock -> poll_owner (try) -> ... -> copy_lock)
 *   - leadership (inline_leader, CAS) is advisory: it says who spends time polling; what
 *     keeps two threads out of the engine at once is the engine's poll_owner try-lock
 *     (dp_engine_poll: acquire/release), so two threads that briefly both believe they lead
 *     only take turns. Lock-free: a waiter never waits for the leader: it takes over after
 *     DPC_INLINE_LEASE_NS without the leader in dd_recv, else it sleeps in naps of at most
 *     INLINE_FOLLOWER_NAP_NS and looks again. inline_lease_ns is a hint (relaxed would do).
 *   - the leader announces a QSBR quiescent state each turn when its wait is the thread's
 *     only read section, so writers' grace periods end while it polls.
 *
 * Bounds
 *   A follower sleeps at most INLINE_FOLLOWER_NAP_NS per nap; the watchdog (or, without it,
 *   the control thread) polls 4 times per heartbeat interval when nobody else does.
 */
#include <stdatomic.h>
#include <time.h>

#include <rte_pause.h>

#include "dataplane/dp.h"
#include "runtime/carrier_dpdk/dpc.h"
#include "runtime/core/mbox.h"
#include "runtime/core/node.h"
#include "runtime/core/rcu.h"

#define INLINE_FOLLOWER_NAP_NS 1000000u
/* The control thread's polls per heartbeat interval (inline: nobody else may be polling). */
#define INLINE_CONTROL_POLLS_PER_HB    4
#define INLINE_CONTROL_POLL_ITERATIONS 4

/* The token this thread last led with (dpc_inline_leader_polling: not a poller for itself). */
static _Thread_local uintptr_t t_lead_token;

static uintptr_t inline_token(const struct dd_mbox *mb)
{
    return (uintptr_t)mb | (mb->lane == RT_LANE_EXPRESS ? 1u : 0u);
}

/* The leader `cur` is waiting in dd_recv, or left it less than DPC_INLINE_LEASE_NS ago. */
static bool inline_leader_active(struct dpc_node *dp, uintptr_t cur, uint64_t now)
{
    return atomic_load(&dp->inline_waiting) == cur ||
           now - atomic_load(&dp->inline_lease_ns) <= DPC_INLINE_LEASE_NS;
}

/* Makes mb the inline leader if it may be; true when it is. */
static bool inline_lead(struct dd_mbox *mb, uint64_t now)
{
    struct dpc_node *dp = mb->node->dp;
    uintptr_t me = inline_token(mb);
    uintptr_t cur = atomic_load(&dp->inline_leader);
    if (cur == me) {
        t_lead_token = me;
        return true;
    }
    bool take = cur == 0 || !inline_leader_active(dp, cur, now) || ((me & 1u) && !(cur & 1u));
    if (!take || !atomic_compare_exchange_strong(&dp->inline_leader, &cur, me))
        return false;
    atomic_fetch_add_explicit(&dp->inline_takeovers, 1, memory_order_relaxed);
    atomic_store(&dp->inline_lease_ns, now);
    t_lead_token = me;
    return true;
}

/* A closing mailbox gives up the leadership. */
static void inline_resign(struct dd_mbox *mb)
{
    uintptr_t me = inline_token(mb);
    atomic_compare_exchange_strong(&mb->node->dp->inline_leader, &me, 0);
}

bool dpc_inline_lease_fresh(struct dd_node *n)
{
    uintptr_t cur = atomic_load(&n->dp->inline_leader);
    return cur != 0 && inline_leader_active(n->dp, cur, dp_clock_ns());
}

bool dpc_inline_leader_polling(struct dd_node *n)
{
    uintptr_t cur = atomic_load(&n->dp->inline_leader);
    return cur != t_lead_token && dpc_inline_lease_fresh(n);
}

unsigned dpc_poll(struct dd_node *n, unsigned iterations)
{
    struct dpc_node *dp = n->dp;
    if (!dp || !dp->inline_poll)
        return 0;
    rcu_rd_enter();
    unsigned w = dp_engine_poll(dp->engine, iterations);
    rcu_rd_leave();
    dpc_watchdog_push(n);
    return w;
}

unsigned dpc_poll_wait(struct dd_node *n, unsigned iterations)
{
    struct dpc_node *dp = n->dp;
    if (!dp || !dp->inline_poll)
        return 0;
    rcu_rd_enter();
    unsigned w = dp_engine_poll_wait(dp->engine, iterations);
    rcu_rd_leave();
    return w;
}

unsigned dpc_poll_locked(struct dd_node *n, unsigned iterations)
{
    struct dpc_node *dp = n->dp;
    if (!dp || !dp->inline_poll)
        return 0;
    unsigned w = dp_engine_poll(dp->engine, iterations);
    dpc_watchdog_push(n);
    return w;
}

/* The leader's wait: poll until mb has something, the deadline, or another waiter took
 * the leadership (then false with *lost). Spins until busy_poll_us has passed without
 * traffic, then polls with short sleeps so an idle node does not burn its core. */
static bool inline_poll_wait(struct dd_mbox *mb, uint64_t deadline_ns, bool *lost)
{
    struct dd_node *n = mb->node;
    struct dpc_node *dp = n->dp;
    uintptr_t me = inline_token(mb);
    uint64_t busy_ns = dp->busy_poll_ns, sleep_ns = dp->idle_sleep_ns;
    uint64_t now = dp_clock_ns();
    uint64_t spin_until = busy_ns ? now + busy_ns : UINT64_MAX;
    bool got = true;
    *lost = false;
    atomic_store(&dp->inline_waiting, me);
    rcu_rd_enter();
    while (!mbox_ready(mb)) {
        now = dp_clock_ns();
        if (now >= deadline_ns) {
            got = false;
            break;
        }
        if (atomic_load_explicit(&dp->inline_leader, memory_order_relaxed) != me) {
            *lost = true;
            got = false;
            break;
        }
        unsigned work = dpc_poll_locked(n, 1) + dpc_copy_step(n);
        if (work && busy_ns)
            spin_until = now + busy_ns;
        if (now >= spin_until && !work) {
            uint64_t nap = deadline_ns - now < sleep_ns ? deadline_ns - now : sleep_ns;
            struct timespec ts = {0, (long)nap};
            rcu_rd_leave();
            nanosleep(&ts, NULL);
            rcu_rd_enter();
        } else if (!work) {
            rte_pause();
        }
        /* A quiescent state each turn, so writers' grace periods end (only when this wait
         * is the thread's only read section: nothing is held across it). */
        if (rcu_rd_depth() == 1)
            urcu_qsbr_quiescent_state();
    }
    rcu_rd_leave();
    /* out of dd_recv from now: the lease runs (only ours to end if nobody took over) */
    atomic_store(&dp->inline_lease_ns, dp_clock_ns());
    uintptr_t w = me;
    atomic_compare_exchange_strong(&dp->inline_waiting, &w, 0);
    return got;
}

/* A follower's wait: sleep on the mailbox's futex until something arrives, the deadline,
 * or the nap ends (then the caller looks at the leadership again). */
static void inline_follow_wait(struct dd_mbox *mb, uint64_t deadline_ns)
{
    uint64_t now = dp_clock_ns();
    uint64_t left = deadline_ns > now ? deadline_ns - now : 0;
    mbox_sleep(mb, left < INLINE_FOLLOWER_NAP_NS ? left : INLINE_FOLLOWER_NAP_NS);
}

/* The wait hook: lead (poll) or follow (sleep), until mb is ready or the deadline. */
static bool inline_wait(struct dd_mbox *mb, uint64_t deadline_ns)
{
    for (;;) {
        if (mbox_ready(mb))
            return true;
        uint64_t now = dp_clock_ns();
        if (now >= deadline_ns)
            return false;
        if (inline_lead(mb, now)) {
            bool lost;
            if (inline_poll_wait(mb, deadline_ns, &lost) || !lost)
                return mbox_ready(mb);
        } else {
            inline_follow_wait(mb, deadline_ns);
        }
    }
}

/* The fallback when the node has no watchdog poller (dpc_watchdog.c; its thread could not
 * be started): the watchdog does this job at real-time priority and on its own timer, where
 * the control thread is a normal thread that also runs handshakes. */
static unsigned inline_control_poll(struct dd_node *n)
{
    if (n->dp->watchdog_started)
        return 0;
    return dpc_poll(n, INLINE_CONTROL_POLL_ITERATIONS);
}

/* A few control-thread polls per heartbeat interval keep heartbeats and acks going when no
 * application thread polls and there is no watchdog. */
static uint64_t inline_control_period_ns(struct dd_node *n)
{
    uint64_t hb = dp_engine_params(n->dp->engine)->chan.hb_interval_ns;
    uint64_t period = hb / INLINE_CONTROL_POLLS_PER_HB;
    return period >= 1000000u ? period : 1000000u;
}

const struct rt_poller_ops dpc_inline_poller = {
    .wait = inline_wait,
    .copy_payload = dpc_copy_payload,
    .mbox_closed = inline_resign,
    .control_poll = inline_control_poll,
    .control_period_ns = inline_control_period_ns,
};
