/* RCU read-side helpers: see rcu.h. */
#include "runtime/core/rcu.h"

#include <pthread.h>

static pthread_key_t g_key;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static __thread int t_registered;
static __thread int t_depth;

/* Runs at thread exit for threads that registered here. */
static void rcu_rd_thread_exit(void *arg)
{
    (void)arg;
    if (t_registered) {
        if (t_depth == 0)
            urcu_qsbr_thread_online();
        urcu_qsbr_unregister_thread();
        t_registered = 0;
    }
}

static void rcu_rd_make_key(void)
{
    pthread_key_create(&g_key, rcu_rd_thread_exit);
}

void rcu_rd_enter(void)
{
    if (t_depth++ > 0)
        return;
    if (!t_registered) {
        pthread_once(&g_once, rcu_rd_make_key);
        urcu_qsbr_register_thread(); /* leaves the thread online */
        t_registered = 1;
        pthread_setspecific(g_key, (void *)1);
    } else {
        urcu_qsbr_thread_online();
    }
    urcu_qsbr_read_lock();
}

void rcu_rd_leave(void)
{
    if (--t_depth > 0)
        return;
    urcu_qsbr_read_unlock();
    urcu_qsbr_thread_offline();
}

int rcu_rd_depth(void)
{
    return t_depth;
}

void rcu_rd_mark_permanent(void)
{
    t_registered = 0; /* not ours to unregister */
    t_depth = 1;      /* never reaches 0: always online */
}
