/* The watchdog poller: liveness of an inline-polling node that does not depend on its
 * application threads (docs/dataplane.md §7, "The watchdog poller").
 *
 * Algorithm
 *   One thread per node with an inline-polling data plane, at real-time priority
 *   (SCHED_FIFO when the process may; otherwise at normal priority, with a log line). It
 *   sleeps on an absolute timer of DPC_WATCHDOG_PERIODS_PER_HB wake-ups per heartbeat
 *   interval. On each wake-up it looks at when a dp_engine_poll call last finished: when an
 *   application thread (the inline leader) or the control thread polled less than half a
 *   period ago, it goes back to sleep; else it takes the poll lease and runs iterations
 *   until one finds no work, at most DPC_WATCHDOG_RUN_MAX_NS: due heartbeats and acks go
 *   out, the port is read, the channels' liveness is checked. Unlike application threads
 *   it waits for the lease: the lease is a priority-inheritance mutex, so a leader that the
 *   kernel preempted in the middle of an iteration (other processes' threads on its core)
 *   runs at once at the watchdog's priority until it lets go, instead of holding everyone
 *   off for their time slices. The inline leader stays the fast path: while it polls, the
 *   watchdog only looks at a clock.
 *   Duty-cycle cap: after running for R ns it sleeps at least R x (100 - cap) / cap
 *   (DPC_WATCHDOG_DUTY_PCT), so under a flood it takes at most that share of the core from
 *   the application threads it preempts.
 *
 * Threads and ownership
 *   The thread belongs to the node's DPDK carrier: started by dpc_watchdog_start after the
 *   engine, stopped (joined) by dpc_watchdog_stop before the engine goes. It is a QSBR
 *   reader only while it polls (rcu_rd_enter/leave in dpc_poll), offline while it sleeps.
 *
 * Bounds
 *   A wake-up every hb_interval / DPC_WATCHDOG_PERIODS_PER_HB (at least
 *   DPC_WATCHDOG_MIN_PERIOD_NS); a run of at most DPC_WATCHDOG_RUN_MAX_NS plus one
 *   iteration; at most DPC_WATCHDOG_DUTY_PCT percent of a core over time; stop waits one
 *   period at most.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "dataplane/dp.h"
#include "runtime/carrier_dpdk/dpc.h"

#define DPC_WATCHDOG_PERIODS_PER_HB 4
#define DPC_WATCHDOG_MIN_PERIOD_NS  100000ull  /* 100 us */
#define DPC_WATCHDOG_RUN_MAX_NS     200000ull  /* one run: 200 us at most */
#define DPC_WATCHDOG_DUTY_PCT       25         /* share of a core, at most */
#define DPC_WATCHDOG_RT_PRIORITY    10         /* SCHED_FIFO priority (1..99) */
#define NS_PER_S                    1000000000ull

static void sleep_until(uint64_t t_ns)
{
    struct timespec ts = {.tv_sec = (time_t)(t_ns / NS_PER_S), .tv_nsec = (long)(t_ns % NS_PER_S)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

/* One run: iterations until one finds nothing, at most DPC_WATCHDOG_RUN_MAX_NS. Returns the
 * time it took (0 when another thread held the lease). */
static uint64_t watchdog_run(struct dd_node *n)
{
    uint64_t t0 = dp_clock_ns(), now = t0;
    unsigned runs = 0;
    do {
        /* waits for the lease: an application thread preempted while polling is lifted to
         * our priority meanwhile (priority inheritance) and finishes its iteration first */
        unsigned w = dpc_poll_wait(n, 1);
        now = dp_clock_ns();
        runs++;
        if (w == 0)
            break;
    } while (now - t0 < DPC_WATCHDOG_RUN_MAX_NS);
    atomic_fetch_add_explicit(&n->dp->watchdog_iterations, runs, memory_order_relaxed);
    return now - t0;
}

static void *watchdog_main(void *arg)
{
    struct dd_node *n = arg;
    struct dpc_node *dp = n->dp;
    pthread_setname_np(pthread_self(), "dd-watchdog");
    struct sched_param sp = {.sched_priority = DPC_WATCHDOG_RT_PRIORITY};
    int rc = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
    if (rc == 0)
        DLOG_INFO(n->log_name, "watchdog poller at SCHED_FIFO priority %d every %llu us",
                  DPC_WATCHDOG_RT_PRIORITY, (unsigned long long)(dp->watchdog_period_ns / 1000));
    else
        DLOG_WARN(n->log_name,
                  "watchdog poller at normal priority (SCHED_FIFO refused: %s): on a busy core "
                  "heartbeats may leave late",
                  strerror(rc));
    atomic_store(&dp->watchdog_rt, rc == 0);
    uint64_t period = dp->watchdog_period_ns;
    uint64_t next = clock_now_ns() + period;
    while (!atomic_load_explicit(&dp->watchdog_stop, memory_order_acquire)) {
        sleep_until(next);
        uint64_t now = dp_clock_ns();
        uint64_t last = dp_engine_last_poll_ns(dp->engine);
        uint64_t ran = 0;
        if (now - last >= period / 2) {
            ran = watchdog_run(n);
            if (ran)
                atomic_fetch_add_explicit(&dp->watchdog_runs, 1, memory_order_relaxed);
        }
        /* the duty-cycle cap: after R of work, at least R x (100 - cap) / cap of sleep */
        uint64_t rest = ran * (100 - DPC_WATCHDOG_DUTY_PCT) / DPC_WATCHDOG_DUTY_PCT;
        uint64_t t = clock_now_ns();
        next = t + (rest > period ? rest : period);
    }
    return NULL;
}

int dpc_watchdog_start(struct dd_node *n)
{
    struct dpc_node *dp = n->dp;
    uint64_t hb = dp_engine_params(dp->engine)->chan.hb_interval_ns;
    uint64_t period = hb / DPC_WATCHDOG_PERIODS_PER_HB;
    dp->watchdog_period_ns = period > DPC_WATCHDOG_MIN_PERIOD_NS ? period
                                                                 : DPC_WATCHDOG_MIN_PERIOD_NS;
    atomic_store(&dp->watchdog_stop, false);
    int rc = pthread_create(&dp->watchdog, NULL, watchdog_main, n);
    if (rc != 0)
        return -rc;
    dp->watchdog_started = true;
    return 0;
}

void dpc_watchdog_stop(struct dd_node *n)
{
    struct dpc_node *dp = n->dp;
    if (!dp || !dp->watchdog_started)
        return;
    atomic_store_explicit(&dp->watchdog_stop, true, memory_order_release);
    pthread_join(dp->watchdog, NULL);
    dp->watchdog_started = false;
}
