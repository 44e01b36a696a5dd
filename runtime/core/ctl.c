/* The control thread: see ctl.h.
 *
 * One turn of the loop: wait for events (at most the timer period, or a fraction of the
 * data plane's heartbeat interval when application threads poll it inline and may all be
 * busy elsewhere), then, inside one RCU read section: every event's item, the posted work,
 * what the data plane reported, the periodic work when the timer fired, the sockets closed
 * during the batch; outside it, a few iterations of the inline poll loop.
 */
#include "runtime/core/ctl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "runtime/core/carrier.h"
#include "runtime/core/conn.h"
#include "runtime/core/node.h"
#include "runtime/core/rcu.h"

#define CTL_TIMER_MAX_MS 100
#define CTL_EPOLL_BATCH  64

static struct ctl_loop *loop_of(struct ctl_item *it, size_t off)
{
    return (struct ctl_loop *)((char *)it - off);
}

static void wake_event(struct ctl_item *it, uint32_t events)
{
    (void)events;
    struct ctl_loop *l = loop_of(it, offsetof(struct ctl_loop, wake_item));
    uint64_t v;
    ssize_t r = read(l->wake_fd, &v, sizeof(v));
    (void)r;
}

static void timer_event(struct ctl_item *it, uint32_t events)
{
    (void)events;
    struct ctl_loop *l = loop_of(it, offsetof(struct ctl_loop, timer_item));
    uint64_t v;
    ssize_t r = read(l->timer_fd, &v, sizeof(v));
    (void)r;
    l->timer_due = true;
}

void ctl_preinit(struct ctl_loop *l)
{
    memset(l, 0, sizeof(*l));
    l->ep = l->wake_fd = l->timer_fd = -1;
    l->wake_item.on_event = wake_event;
    l->timer_item.on_event = timer_event;
    pthread_mutex_init(&l->work_lock, NULL);
}

int ctl_add_fd(struct dd_node *n, int fd, uint32_t events, struct ctl_item *it)
{
    struct epoll_event e = {.events = events, .data.ptr = it};
    return epoll_ctl(n->ctl.ep, EPOLL_CTL_ADD, fd, &e) == 0 ? 0 : -errno;
}

int ctl_mod_fd(struct dd_node *n, int fd, uint32_t events, struct ctl_item *it)
{
    struct epoll_event e = {.events = events, .data.ptr = it};
    return epoll_ctl(n->ctl.ep, EPOLL_CTL_MOD, fd, &e) == 0 ? 0 : -errno;
}

int ctl_del_fd(struct dd_node *n, int fd)
{
    return epoll_ctl(n->ctl.ep, EPOLL_CTL_DEL, fd, NULL) == 0 ? 0 : -errno;
}

int ctl_init(struct dd_node *n, unsigned period_ms)
{
    struct ctl_loop *l = &n->ctl;
    l->ep = epoll_create1(EPOLL_CLOEXEC);
    l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    l->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (l->ep < 0 || l->wake_fd < 0 || l->timer_fd < 0)
        return -errno;
    if (period_ms > CTL_TIMER_MAX_MS || period_ms == 0)
        period_ms = CTL_TIMER_MAX_MS;
    struct itimerspec its = {.it_interval = {0, (long)period_ms * 1000000},
                             .it_value = {0, (long)period_ms * 1000000}};
    int rc;
    if (timerfd_settime(l->timer_fd, 0, &its, NULL) < 0)
        return -errno;
    if ((rc = ctl_add_fd(n, l->wake_fd, EPOLLIN, &l->wake_item)) < 0 ||
        (rc = ctl_add_fd(n, l->timer_fd, EPOLLIN, &l->timer_item)) < 0)
        return rc;
    return 0;
}

void ctl_wake(struct dd_node *n)
{
    uint64_t one = 1;
    ssize_t w = write(n->ctl.wake_fd, &one, sizeof(one));
    (void)w;
}

void ctl_post(struct dd_node *n, void (*fn)(struct dd_node *, void *), void *arg)
{
    struct ctl_work *w = malloc(sizeof(*w));
    if (!w) {
        DLOG_ERR(n->log_name, "out of memory posting work to the control thread");
        return;
    }
    w->fn = fn;
    w->arg = arg;
    w->next = NULL;
    struct ctl_loop *l = &n->ctl;
    pthread_mutex_lock(&l->work_lock);
    if (l->work_tail)
        l->work_tail->next = w;
    else
        l->work = w;
    l->work_tail = w;
    pthread_mutex_unlock(&l->work_lock);
    ctl_wake(n);
}

bool ctl_is_control_thread(const struct dd_node *n)
{
    /* thread is zero until ctl_start: never equal to a running thread */
    return pthread_equal(pthread_self(), n->ctl.thread);
}

/* Runs the work posted so far (work it posts in turn waits for the next call). */
static void ctl_run_work(struct dd_node *n)
{
    struct ctl_loop *l = &n->ctl;
    pthread_mutex_lock(&l->work_lock);
    struct ctl_work *w = l->work;
    l->work = l->work_tail = NULL;
    pthread_mutex_unlock(&l->work_lock);
    while (w) {
        struct ctl_work *next = w->next;
        w->fn(n, w->arg);
        free(w);
        w = next;
    }
}

void ctl_drain(struct dd_node *n)
{
    for (;;) {
        pthread_mutex_lock(&n->ctl.work_lock);
        bool empty = n->ctl.work == NULL;
        pthread_mutex_unlock(&n->ctl.work_lock);
        if (empty)
            return;
        ctl_run_work(n);
    }
}

/* The timer's work: the transports' (e.g. handshake deadlines, reassembly memory), then
 * theirs for every connection (e.g. ticks and liveness, pending connections that got
 * nowhere). */
static void ctl_periodic(struct dd_node *n, uint64_t now)
{
    RT_FOR_EACH_TRANSPORT(n, t)
    {
        if (t->periodic)
            t->periodic(n, now);
    }
    struct cds_lfht_iter it;
    struct conn *c;
    /* Every connection, however many (a fixed batch left the rest without ticks). */
    size_t k = 0, cap = 256;
    struct conn **batch = malloc(cap * sizeof(*batch));
    if (!batch)
        return;
    cds_lfht_for_each_entry(n->conns, &it, c, ht_node)
    {
        if (k == cap) {
            struct conn **more = realloc(batch, 2 * cap * sizeof(*batch));
            if (!more)
                break;
            batch = more;
            cap *= 2;
        }
        conn_ref(c);
        batch[k++] = c;
    }
    for (size_t i = 0; i < k; i++) {
        c = batch[i];
        RT_FOR_EACH_TRANSPORT(n, t)
        {
            if (t->conn_periodic)
                t->conn_periodic(c, now);
        }
        conn_unref(c);
    }
    free(batch);
}

static void *ctl_main(void *arg)
{
    struct dd_node *n = arg;
    struct ctl_loop *l = &n->ctl;
    struct epoll_event evs[CTL_EPOLL_BATCH];
    pthread_setname_np(pthread_self(), "dd-ctl");
    /* A carrier polled in application threads may have nobody else polling it: the poller
     * says how often this thread polls it then (e.g. to keep heartbeats and acks going). */
    const struct rt_poller_ops *poller = n->poller;
    int wait_ms = CTL_TIMER_MAX_MS;
    if (poller && poller->control_period_ns) {
        uint64_t ms = poller->control_period_ns(n) / 1000000u;
        wait_ms = ms >= 1 ? (int)ms : 1;
    }
    while (!atomic_load(&l->stopping)) {
        int cnt = epoll_wait(l->ep, evs, CTL_EPOLL_BATCH, wait_ms);
        if (cnt < 0 && errno != EINTR) {
            DLOG_ERR(n->log_name, "epoll_wait: %s", strerror(errno));
            break;
        }
        rcu_rd_enter();
        uint64_t now = clock_now_ms();
        l->timer_due = cnt == 0;
        for (int i = 0; i < cnt; i++) {
            struct ctl_item *it = evs[i].data.ptr;
            it->on_event(it, evs[i].events);
        }
        ctl_run_work(n);
        RT_FOR_EACH_TRANSPORT(n, t)
        {
            if (t->turn)
                t->turn(n);
        }
        if (l->timer_due)
            ctl_periodic(n, now);
        RT_FOR_EACH_TRANSPORT(n, t)
        {
            if (t->turn_end)
                t->turn_end(n);
        }
        rcu_rd_leave();
        if (poller && poller->control_poll)
            poller->control_poll(n);
    }
    return NULL;
}

int ctl_start(struct dd_node *n)
{
    int rc = pthread_create(&n->ctl.thread, NULL, ctl_main, n);
    if (rc != 0)
        return -rc;
    n->ctl.started = true;
    return 0;
}

void ctl_stop(struct dd_node *n)
{
    if (!n->ctl.started)
        return;
    atomic_store(&n->ctl.stopping, true);
    ctl_wake(n);
    pthread_join(n->ctl.thread, NULL);
}

void ctl_fini(struct ctl_loop *l)
{
    if (l->ep >= 0)
        close(l->ep);
    if (l->wake_fd >= 0)
        close(l->wake_fd);
    if (l->timer_fd >= 0)
        close(l->timer_fd);
    l->ep = l->wake_fd = l->timer_fd = -1;
    while (l->work) {
        struct ctl_work *w = l->work;
        l->work = w->next;
        free(w);
    }
    l->work_tail = NULL;
    pthread_mutex_destroy(&l->work_lock);
}
