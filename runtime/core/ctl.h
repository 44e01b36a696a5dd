/* The control thread (runtime/core/ctl.c): one per node, an epoll loop over the node's
 * sockets and timers, and the work other threads post to it.
 *
 * What it serves: every file descriptor registered with ctl_add_fd, each through its own
 * struct ctl_item (the owner embeds the item and finds itself back with container_of in
 * on_event: no central switch over kinds); a wake eventfd for posted work (ctl_post); a
 * periodic timer (ticks, handshake deadlines, pending connections that got nowhere). It is a
 * QSBR RCU reader while it handles a batch of events, offline while it sleeps.
 *
 * Threads: ctl_post, ctl_wake and ctl_is_control_thread from any thread; the fd functions
 * from any thread (epoll_ctl is thread-safe); the rest from the thread that starts and stops
 * the node. work_lock is a leaf lock (nothing is taken under it).
 */
#ifndef DPDIST_RUNTIME_CORE_CTL_H
#define DPDIST_RUNTIME_CORE_CTL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct dd_node;

/* Something the control thread polls: on_event runs on the control thread with the epoll
 * events, inside an RCU read section. */
struct ctl_item {
    void (*on_event)(struct ctl_item *it, uint32_t events);
};

/* Work posted to the control thread (ctl_post), run in posting order. */
struct ctl_work {
    struct ctl_work *next;
    void (*fn)(struct dd_node *n, void *arg);
    void *arg;
};

/* The loop's state, embedded in struct dd_node as n->ctl. */
struct ctl_loop {
    int ep, wake_fd, timer_fd; /* -1 when not open */
    struct ctl_item wake_item, timer_item;
    bool timer_due; /* the periodic timer fired in this batch (control thread) */
    pthread_t thread;
    bool started;
    _Atomic bool stopping; /* the thread ends at its next turn */
    pthread_mutex_t work_lock;
    struct ctl_work *work, *work_tail;
};

/* Before anything can fail in node_start: fds -1, the lock. */
void ctl_preinit(struct ctl_loop *l);
/* The epoll set, the wake eventfd and the timer (every period_ms, at most CTL_TIMER_MAX_MS).
 * 0, or -errno. */
int ctl_init(struct dd_node *n, unsigned period_ms);
/* The thread (0 or -errno). */
int ctl_start(struct dd_node *n);
/* Asks the thread to end and waits for it (no-op if it never started). */
void ctl_stop(struct dd_node *n);
/* Closes the fds, frees posted work that never ran. After ctl_stop. */
void ctl_fini(struct ctl_loop *l);

/* Runs fn(n, arg) on the control thread (any thread). Work posted after ctl_stop runs in
 * ctl_drain (node_stop). */
void ctl_post(struct dd_node *n, void (*fn)(struct dd_node *, void *), void *arg);
/* Wakes the control thread from epoll_wait (any thread, async-signal-safe). */
void ctl_wake(struct dd_node *n);
/* Whether the caller is n's control thread. */
bool ctl_is_control_thread(const struct dd_node *n);
/* Runs posted work on the calling thread until none is left (node_stop, after ctl_stop). */
void ctl_drain(struct dd_node *n);

/* epoll_ctl on the node's set for fd with it (0 or -errno). */
int ctl_add_fd(struct dd_node *n, int fd, uint32_t events, struct ctl_item *it);
int ctl_mod_fd(struct dd_node *n, int fd, uint32_t events, struct ctl_item *it);
int ctl_del_fd(struct dd_node *n, int fd);

#endif
