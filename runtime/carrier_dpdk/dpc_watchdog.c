/* The watchdog poller: liveness of an inline-polling node that does not depend on its
 * application threads (docs/dataplane.md §7, "The watchdog poller").
 *
 * Algorithm
 *   One thread per node with an inline-polling data plane, at real-time priority
 *   (SCHED_FIFO when the process may; otherwise at normal priority, with a log line). It
 *   sleeps on a timerfd armed for the engine's next liveness deadline (the earliest
 *   heartbeat due or peer-silence limit of its channels, dp_engine_liveness_due_ns) plus
 *   a slack (watchdog_slack_ns: two idle naps and DPC_WATCHDOG_SLACK_BASE_NS). Every other
 *   poller moves that timer when the deadline moves (dpc_watchdog_push: a timerfd_settime
 *   about once per heartbeat interval), so while an
 *   application thread keeps polling the watchdog never wakes: each wake-up of a real-time
 *   thread is a scheduling point at which the kernel may hand the core of a busy-polling
 *   leader to another runnable process (the periodic wake-up every quarter interval this
 *   replaces cost rtt_small's p99 a factor of 10 and more on a loaded machine). When it does
 *   wake and the deadline passed without a poll (or none is known: a new channel's first
 *   deadline comes from a poll), or its last run ended with traffic still flowing, and
 *   nobody polled within the slack, it takes the poll lease
 *   and runs iterations until one finds no work, at most DPC_WATCHDOG_RUN_MAX_NS: due
 *   heartbeats and acks go out, the port is read, the channels' liveness is checked. While
 *   traffic flows it comes back as soon as the cap lets it (busy polling, capped); when idle,
 *   at the next deadline, at the latest after a heartbeat interval (backstop). Unlike
 *   application threads it waits for the lease: the lease is a priority-inheritance mutex,
 *   so a leader that the kernel preempted in the middle of an iteration runs at once at the
 *   watchdog's priority until it lets go.
 *   Duty-cycle cap: after running for R ns it sleeps at least R x (100 - cap) / cap
 *   (DPC_WATCHDOG_DUTY_PCT, dpc_watchdog_rest_until); a wake-up before then (a poller moved
 *   the timer) is sent back to sleep and counted. So a flood of frames takes at most that
 *   share of the core from the application threads the watchdog preempts.
 *
 * Threads and ownership
 *   The thread belongs to the node's DPDK carrier: started by dpc_watchdog_start after the
 *   engine, stopped (joined) by dpc_watchdog_stop before the engine goes. It is a QSBR
 *   reader only while it polls (rcu_rd_enter/leave in dpc_poll_wait), offline while it
 *   sleeps. The timerfd is armed under watchdog_arm_lock (a leaf) by any thread.
 *
 * Bounds
 *   No wake-up while others poll; otherwise one per liveness deadline, at least one per
 *   heartbeat interval; a run of at most DPC_WATCHDOG_RUN_MAX_NS plus one iteration; at most
 *   DPC_WATCHDOG_DUTY_PCT percent of a core over time; stop waits for one run (or a heartbeat
 *   interval when a poller re-arms the timer just after the stop's wake-up).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "dataplane/dp.h"
#include "runtime/carrier_dpdk/dpc.h"

#define DPC_WATCHDOG_MIN_BACKSTOP_NS 100000ull /* 100 us */
/* After a deadline, before it steps in: an application thread that polls in naps
 * (idle_sleep_us, stretched by the kernel's 50 us timer slack) gets 2 naps plus this. A poll
 * that recent means somebody polls. At most a quarter of the heartbeat interval. */
#define DPC_WATCHDOG_SLACK_BASE_NS   250000ull
#define DPC_WATCHDOG_RUN_MAX_NS      200000ull /* one run: 200 us at most */
#define DPC_WATCHDOG_DUTY_PCT        25        /* share of a core, at most */
#define DPC_WATCHDOG_RT_PRIORITY     10        /* SCHED_FIFO priority (1..99) */
#define NS_PER_S                     1000000000ull

uint64_t dpc_watchdog_rest_until(uint64_t end_ns, uint64_t ran_ns)
{
    return end_ns + ran_ns * (100 - DPC_WATCHDOG_DUTY_PCT) / DPC_WATCHDOG_DUTY_PCT;
}

uint64_t dpc_watchdog_next_run(uint64_t end_ns, uint64_t ran_ns, bool flowing, uint64_t due,
                               uint64_t slack_ns, uint64_t backstop_ns)
{
    uint64_t next = end_ns;
    if (!flowing)
        next = due <= end_ns + backstop_ns ? due + slack_ns : end_ns + backstop_ns;
    uint64_t rest = dpc_watchdog_rest_until(end_ns, ran_ns);
    return next > rest ? next : rest;
}

/* Arms the timer for t_ns (dp_clock_ns time) and notes `due` as what pollers armed it for.
 * Any thread. */
static void watchdog_arm(struct dpc_node *dp, uint64_t t_ns, uint64_t due)
{
    pthread_mutex_lock(&dp->watchdog_arm_lock);
    if (dp->watchdog_tfd < 0) { /* stopped: a poller's late push */
        pthread_mutex_unlock(&dp->watchdog_arm_lock);
        return;
    }
    /* dp_clock_ns runs on the TSC, calibrated against CLOCK_MONOTONIC: convert now */
    uint64_t now = dp_clock_ns(), mono = clock_now_ns();
    uint64_t at = t_ns > now ? mono + (t_ns - now) : mono + 1;
    struct itimerspec its = {.it_value = {.tv_sec = (time_t)(at / NS_PER_S),
                                          .tv_nsec = (long)(at % NS_PER_S)}};
    timerfd_settime(dp->watchdog_tfd, TFD_TIMER_ABSTIME, &its, NULL);
    atomic_store_explicit(&dp->watchdog_armed_due, due, memory_order_relaxed);
    pthread_mutex_unlock(&dp->watchdog_arm_lock);
}

/* When to wake for a liveness deadline (UINT64_MAX: none; then the backstop). */
static uint64_t watchdog_wake_for(const struct dpc_node *dp, uint64_t due, uint64_t now)
{
    return dpc_watchdog_next_run(now, 0, false, due, dp->watchdog_slack_ns,
                                 dp->watchdog_backstop_ns);
}

void dpc_watchdog_push(struct dd_node *n)
{
    struct dpc_node *dp = n->dp;
    if (!atomic_load_explicit(&dp->watchdog_started, memory_order_relaxed))
        return;
    uint64_t due = dp_engine_liveness_due_ns(dp->engine);
    if (due == atomic_load_explicit(&dp->watchdog_armed_due, memory_order_relaxed))
        return;
    watchdog_arm(dp, watchdog_wake_for(dp, due, dp_clock_ns()), due);
}

/* Blocks until the timer expires (or stop arms it for now). */
static void watchdog_sleep(struct dpc_node *dp)
{
    uint64_t expiries;
    while (read(dp->watchdog_tfd, &expiries, sizeof(expiries)) < 0 && errno == EINTR)
        ;
}

/* One run: iterations until one finds nothing, at most DPC_WATCHDOG_RUN_MAX_NS. Returns the
 * time it took; *flowing: the last iteration still found work. */
static uint64_t watchdog_run(struct dd_node *n, bool *flowing)
{
    uint64_t t0 = dp_clock_ns(), now = t0;
    unsigned runs = 0, w = 0;
    do {
        /* waits for the lease: an application thread preempted while polling is lifted to
         * our priority meanwhile (priority inheritance) and finishes its iteration first */
        w = dpc_poll_wait(n, 1);
        now = dp_clock_ns();
        runs++;
    } while (w != 0 && now - t0 < DPC_WATCHDOG_RUN_MAX_NS);
    *flowing = w != 0;
    atomic_fetch_add_explicit(&n->dp->watchdog_iterations, runs, memory_order_relaxed);
    atomic_fetch_add_explicit(&n->dp->watchdog_busy_ns, now - t0, memory_order_relaxed);
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
        DLOG_INFO(n->log_name,
                  "watchdog poller at SCHED_FIFO priority %d, waking on liveness deadlines "
                  "(at least every %llu us)",
                  DPC_WATCHDOG_RT_PRIORITY,
                  (unsigned long long)(dp->watchdog_backstop_ns / 1000));
    else
        DLOG_WARN(n->log_name,
                  "watchdog poller at normal priority (SCHED_FIFO refused: %s): on a busy core "
                  "heartbeats may leave late",
                  strerror(rc));
    atomic_store(&dp->watchdog_rt, rc == 0);
    uint64_t not_before = 0;
    bool flowing = false;
    while (!atomic_load_explicit(&dp->watchdog_stop, memory_order_acquire)) {
        watchdog_sleep(dp);
        if (atomic_load_explicit(&dp->watchdog_stop, memory_order_acquire))
            break;
        atomic_fetch_add_explicit(&dp->watchdog_wakeups, 1, memory_order_relaxed);
        uint64_t now = dp_clock_ns();
        if (now < not_before) { /* the duty-cycle cap: not yet */
            atomic_fetch_add_explicit(&dp->watchdog_capped, 1, memory_order_relaxed);
            watchdog_arm(dp, not_before, 0);
            continue;
        }
        uint64_t due = dp_engine_liveness_due_ns(dp->engine);
        bool others = now - dp_engine_last_poll_ns(dp->engine) < dp->watchdog_slack_ns;
        /* UINT64_MAX: no channel when the engine last polled; one may have come since (a
         * channel's first deadline is published by a poll: nobody else may make one) */
        if (others || (!flowing && now < due && due != UINT64_MAX)) {
            /* somebody polls, or nothing is due: sleep until the deadline (a poll that
             * moves it moves the timer too) */
            flowing = false;
            watchdog_arm(dp, others && due <= now ? now + dp->watchdog_slack_ns
                                                  : watchdog_wake_for(dp, due, now), due);
            continue;
        }
        uint64_t ran = watchdog_run(n, &flowing);
        atomic_fetch_add_explicit(&dp->watchdog_runs, 1, memory_order_relaxed);
        now = dp_clock_ns();
        not_before = dpc_watchdog_rest_until(now, ran);
        due = dp_engine_liveness_due_ns(dp->engine);
        watchdog_arm(dp,
                     dpc_watchdog_next_run(now, ran, flowing, due, dp->watchdog_slack_ns,
                                           dp->watchdog_backstop_ns),
                     flowing ? 0 : due);
    }
    return NULL;
}

int dpc_watchdog_start(struct dd_node *n)
{
    struct dpc_node *dp = n->dp;
    uint64_t hb = dp_engine_params(dp->engine)->chan.hb_interval_ns;
    dp->watchdog_backstop_ns = hb > DPC_WATCHDOG_MIN_BACKSTOP_NS ? hb
                                                                 : DPC_WATCHDOG_MIN_BACKSTOP_NS;
    uint64_t slack = DPC_WATCHDOG_SLACK_BASE_NS + 2 * dp->idle_sleep_ns;
    dp->watchdog_slack_ns = slack < hb / 4 ? slack : hb / 4;
    dp->watchdog_tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
    if (dp->watchdog_tfd < 0)
        return -errno;
    atomic_store(&dp->watchdog_stop, false);
    /* the first wake-up: the backstop (no channel yet) */
    watchdog_arm(dp, dp_clock_ns() + dp->watchdog_backstop_ns, UINT64_MAX);
    int rc = pthread_create(&dp->watchdog, NULL, watchdog_main, n);
    if (rc != 0) {
        close(dp->watchdog_tfd);
        dp->watchdog_tfd = -1;
        return -rc;
    }
    atomic_store(&dp->watchdog_started, true);
    return 0;
}

void dpc_watchdog_stop(struct dd_node *n)
{
    struct dpc_node *dp = n->dp;
    if (!dp || !atomic_load(&dp->watchdog_started))
        return;
    atomic_store(&dp->watchdog_started, false); /* pollers leave the timer alone */
    atomic_store_explicit(&dp->watchdog_stop, true, memory_order_release);
    watchdog_arm(dp, 0, 0); /* wakes it now */
    pthread_join(dp->watchdog, NULL);
    /* application threads may still poll and push until the node goes: the lock stays (it
     * goes with dp), the timer closes under it */
    pthread_mutex_lock(&dp->watchdog_arm_lock);
    close(dp->watchdog_tfd);
    dp->watchdog_tfd = -1;
    pthread_mutex_unlock(&dp->watchdog_arm_lock);
}
