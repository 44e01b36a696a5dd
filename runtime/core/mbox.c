/* Mailboxes: the pid table, the signal queue, and signal processing on receive.
 *
 * Design. A mailbox is a BEAM process as seen from the outside. Everything addressed to it —
 * messages and the signals of links and monitors — goes through one queue in arrival order,
 * so Erlang's ordering holds per sender: a link request followed by a message is seen in that
 * order. The queue is Vyukov's intrusive multi-producer single-consumer list: producers (the
 * control thread, the data-plane poller, application threads sending locally) push with one
 * atomic exchange and never lock; the consumer is whoever holds recv_lock. A receiver with
 * nothing to read spins briefly, then sleeps on a futex word that producers bump.
 *
 * Signals are processed by the receiver, like a BEAM process handles its signal queue: a
 * LINK adds the relation, an exit from a linked process removes it and becomes an {'EXIT',..}
 * message, a 'DOWN' for a live monitor becomes a message, others are dropped. When a signal
 * refers to a connection that has gone down meanwhile, the answer is the same as BEAM's:
 * the link fires at once with `noconnection`.
 *
 * Pids: number = slot index in node->slots (1..max_mailboxes), serial bumped each time the
 * slot is reused, creation = the node's. Lookups are RCU reads of the slot array.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/cpu.h"
#include "common/hash.h"
#include "common/log.h"
#include "control/etf.h"
#include "runtime/core/carrier.h"
#include "runtime/core/conn.h"
#include "runtime/carrier_dpdk/dp_glue.h"
#include "runtime/core/mbox.h"
#include "runtime/core/node.h"
#include "runtime/core/rcu.h"
#include "runtime/core/route.h"
#include "runtime/core/terms.h"

/* How long a receiver spins before sleeping (a wake-up costs tens of µs on a VM). */
#define MBOX_SPIN_NS 20000


/* ---- the queue ----------------------------------------------------------------------- */

static long futex_op(_Atomic uint32_t *addr, int op, uint32_t val, const struct timespec *ts)
{
    return syscall(SYS_futex, (uint32_t *)addr, op | FUTEX_PRIVATE_FLAG, val, ts, NULL, 0);
}

void mbox_push(struct dd_mbox *mb, struct sig *s)
{
    atomic_store_explicit(&s->next, NULL, memory_order_relaxed);
    struct sig *prev = atomic_exchange_explicit(&mb->tail, s, memory_order_acq_rel);
    atomic_store_explicit(&prev->next, s, memory_order_release);
    atomic_fetch_add_explicit(&mb->futex, 1, memory_order_seq_cst);
    if (atomic_load_explicit(&mb->sleeping, memory_order_seq_cst))
        futex_op(&mb->futex, FUTEX_WAKE, INT_MAX, NULL);
}

/* Single consumer (recv_lock held). NULL if empty or a producer is mid-push. */
static struct sig *mbox_pop(struct dd_mbox *mb)
{
    struct sig *head = mb->head;
    struct sig *next = atomic_load_explicit(&head->next, memory_order_acquire);
    if (head == &mb->stub) {
        if (!next)
            return NULL;
        mb->head = next;
        head = next;
        next = atomic_load_explicit(&next->next, memory_order_acquire);
    }
    if (next) {
        mb->head = next;
        return head;
    }
    if (head != atomic_load_explicit(&mb->tail, memory_order_acquire))
        return NULL; /* a producer has exchanged the tail but not linked yet */
    atomic_store_explicit(&mb->stub.next, NULL, memory_order_relaxed);
    struct sig *prev = atomic_exchange_explicit(&mb->tail, &mb->stub, memory_order_acq_rel);
    atomic_store_explicit(&prev->next, &mb->stub, memory_order_release);
    next = atomic_load_explicit(&head->next, memory_order_acquire);
    if (next) {
        mb->head = next;
        return head;
    }
    return NULL;
}

static bool mbox_maybe_nonempty(struct dd_mbox *mb)
{
    struct sig *head = mb->head;
    return atomic_load_explicit(&head->next, memory_order_acquire) != NULL ||
           head != atomic_load_explicit(&mb->tail, memory_order_acquire);
}

/* Inline polling: one leader at a time. Every thread waiting in dd_recv used to spin on the
 * port; on a node that owns one core, four such threads took turns on it in scheduler time
 * slices (a round trip's p99 went from microseconds to hundreds of them). Now one waiter,
 * the leader, polls; the others sleep on their mailboxes' futexes and the leader's polling
 * wakes them when it delivers to them. Leadership sticks to a thread between its dd_recv
 * calls (it will be back: no wake-up for the common one-thread-per-service pattern); a
 * waiter takes it over when it is free, when the leader has been out of dd_recv for
 * INLINE_LEASE_NS (busy elsewhere or gone: a leader in dd_recv that the scheduler has put
 * aside keeps it, or two threads would spin by turns again), or when the waiter's mailbox is
 * express and the leader's is not (latency-critical receivers poll themselves). Sleeping
 * waiters check again every INLINE_FOLLOWER_NAP_NS; the control thread polls a few times
 * per heartbeat interval whatever happens. */
#define INLINE_LEASE_NS 200000u
#define INLINE_FOLLOWER_NAP_NS 1000000u

/* The token this thread last led with (mbox_inline_leader_polling: not a poller for itself). */
static _Thread_local uintptr_t t_lead_token;

static uintptr_t inline_token(const struct dd_mbox *mb)
{
    return (uintptr_t)mb | (mb->lane == RT_LANE_EXPRESS ? 1u : 0u);
}

/* The leader `cur` is waiting in dd_recv, or left it less than INLINE_LEASE_NS ago. */
static bool inline_leader_active(struct dd_node *n, uintptr_t cur, uint64_t now)
{
    return atomic_load(&n->inline_waiting) == cur ||
           now - atomic_load(&n->inline_lease_ns) <= INLINE_LEASE_NS;
}

/* Makes mb the inline leader if it may be; true when it is. */
static bool inline_lead(struct dd_mbox *mb, uint64_t now)
{
    struct dd_node *n = mb->node;
    uintptr_t me = inline_token(mb);
    uintptr_t cur = atomic_load(&n->inline_leader);
    if (cur == me) {
        t_lead_token = me;
        return true;
    }
    bool take = cur == 0 || !inline_leader_active(n, cur, now) || ((me & 1u) && !(cur & 1u));
    if (!take || !atomic_compare_exchange_strong(&n->inline_leader, &cur, me))
        return false;
    atomic_fetch_add_explicit(&n->inline_takeovers, 1, memory_order_relaxed);
    atomic_store(&n->inline_lease_ns, now);
    t_lead_token = me;
    return true;
}

/* A closing mailbox gives up the leadership. */
static void inline_resign(struct dd_mbox *mb)
{
    uintptr_t me = inline_token(mb);
    atomic_compare_exchange_strong(&mb->node->inline_leader, &me, 0);
}

/* ---- payload copies by the leader ---- */

/* Payloads from this size up are worth handing over (below, the copy costs about as much as
 * the hand-over); the leader copies them in chunks between polls, so a round trip waits for
 * one chunk at most (a few µs). */
#define INLINE_COPY_MIN (128u * 1024)
#define INLINE_COPY_CHUNK (16u * 1024)
/* A sender that copies for itself, polling between chunks: ~10 us of copying each. */
#define INLINE_SELF_COPY_CHUNK (64u * 1024)

/* The leader's share: one chunk of the oldest job. 1 when it copied something. */
static unsigned inline_copy_step(struct dd_node *n)
{
    if (!atomic_load_explicit(&n->copy_pending, memory_order_acquire))
        return 0;
    pthread_mutex_lock(&n->copy_lock);
    struct rt_copy_job *j = n->copy_head;
    if (!j) {
        atomic_store(&n->copy_pending, false);
        pthread_mutex_unlock(&n->copy_lock);
        return 0;
    }
    size_t chunk = j->len - j->done < INLINE_COPY_CHUNK ? j->len - j->done : INLINE_COPY_CHUNK;
    memcpy(j->dst + j->done, j->src + j->done, chunk);
    j->done += chunk;
    if (j->done == j->len) {
        n->copy_head = j->next;
        if (!n->copy_head) {
            n->copy_tail = NULL;
            atomic_store(&n->copy_pending, false);
        }
        atomic_fetch_add_explicit(&n->copies_by_leader, 1, memory_order_relaxed);
        atomic_store(&j->finished, 1);
        /* the sender may return (and its stack frame go) as soon as it sees `finished`:
         * waking it only passes the address to the kernel, nothing is written there */
        futex_op(&j->finished, FUTEX_WAKE, 1, NULL);
    }
    pthread_mutex_unlock(&n->copy_lock);
    return 1;
}

/* Takes a queued job back (the leader stopped polling): true if it was still queued, with
 * j->done bytes copied. */
static bool inline_copy_take_back(struct dd_node *n, struct rt_copy_job *j)
{
    bool queued = false;
    pthread_mutex_lock(&n->copy_lock);
    if (!atomic_load(&j->finished)) {
        struct rt_copy_job **pp = &n->copy_head, *prev = NULL;
        while (*pp && *pp != j) {
            prev = *pp;
            pp = &(*pp)->next;
        }
        if (*pp == j) {
            *pp = j->next;
            if (n->copy_tail == j)
                n->copy_tail = prev;
            if (!n->copy_head)
                atomic_store(&n->copy_pending, false);
            queued = true;
        }
    }
    pthread_mutex_unlock(&n->copy_lock);
    return queued;
}

static bool inline_lease_fresh(struct dd_node *n)
{
    uintptr_t cur = atomic_load(&n->inline_leader);
    return cur != 0 && inline_leader_active(n, cur, dp_glue_clock_ns());
}

bool mbox_inline_leader_polling(struct dd_node *n)
{
    uintptr_t cur = atomic_load(&n->inline_leader);
    return cur != t_lead_token && inline_lease_fresh(n);
}

void mbox_copy_payload(struct dd_mbox *from, uint8_t *dst, const uint8_t *src, size_t len)
{
    struct dd_node *n = from->node;
    if (len < INLINE_COPY_MIN || !dp_glue_inline(n)) {
        memcpy(dst, src, len);
        return;
    }
    if (!mbox_inline_leader_polling(n)) {
        /* Nobody else polls (a node whose threads send and do not wait in dd_recv): copy
         * in chunks and poll between them, so heartbeats, acks and other senders' frames
         * keep moving during a copy of many milliseconds. */
        for (size_t done = 0; done < len;) {
            size_t chunk = len - done < INLINE_SELF_COPY_CHUNK ? len - done
                                                                : INLINE_SELF_COPY_CHUNK;
            memcpy(dst + done, src + done, chunk);
            done += chunk;
            dp_glue_poll(n, 1);
        }
        atomic_fetch_add_explicit(&n->copies_self_polled, 1, memory_order_relaxed);
        return;
    }
    struct rt_copy_job j = {.dst = dst, .src = src, .len = len};
    atomic_init(&j.finished, 0);
    pthread_mutex_lock(&n->copy_lock);
    if (n->copy_tail)
        n->copy_tail->next = &j;
    else
        n->copy_head = &j;
    n->copy_tail = &j;
    atomic_store_explicit(&n->copy_pending, true, memory_order_release);
    pthread_mutex_unlock(&n->copy_lock);
    while (!atomic_load(&j.finished)) {
        struct timespec ts = {0, INLINE_LEASE_NS};
        futex_op(&j.finished, FUTEX_WAIT, 0, &ts);
        if (!atomic_load(&j.finished) && !inline_lease_fresh(n) &&
            inline_copy_take_back(n, &j)) {
            atomic_fetch_add_explicit(&n->copies_taken_back, 1, memory_order_relaxed);
            memcpy(dst + j.done, src + j.done, len - j.done);
            return;
        }
    }
    /* the leader's unlock is the last touch of j: wait for it before the frame goes */
    pthread_mutex_lock(&n->copy_lock);
    pthread_mutex_unlock(&n->copy_lock);
}

/* The leader's wait: poll until mb has something, the deadline, or another waiter took
 * the leadership (then false with *lost). Spins until busy_poll_us has passed without
 * traffic, then polls with short sleeps so an idle node does not burn its core. */
static bool inline_poll_wait(struct dd_mbox *mb, uint64_t deadline_ns, bool *lost)
{
    struct dd_node *n = mb->node;
    uintptr_t me = inline_token(mb);
    uint64_t busy_ns = dp_glue_busy_poll_ns(n), sleep_ns = dp_glue_idle_sleep_ns(n);
    uint64_t now = dp_glue_clock_ns();
    uint64_t spin_until = busy_ns ? now + busy_ns : UINT64_MAX;
    bool got = true;
    *lost = false;
    atomic_store(&n->inline_waiting, me);
    rcu_rd_enter();
    while (!mbox_maybe_nonempty(mb) && !atomic_load(&mb->closed)) {
        now = dp_glue_clock_ns();
        if (now >= deadline_ns) {
            got = false;
            break;
        }
        if (atomic_load_explicit(&n->inline_leader, memory_order_relaxed) != me) {
            *lost = true;
            got = false;
            break;
        }
        unsigned work = dp_glue_poll_locked(n, 1) + inline_copy_step(n);
        if (work && busy_ns)
            spin_until = now + busy_ns;
        if (now >= spin_until && !work) {
            uint64_t nap = deadline_ns - now < sleep_ns ? deadline_ns - now : sleep_ns;
            struct timespec ts = {0, (long)nap};
            rcu_rd_leave();
            nanosleep(&ts, NULL);
            rcu_rd_enter();
        } else if (!work) {
            cpu_relax();
        }
        /* A quiescent state each turn, so writers' grace periods end (only when this wait
         * is the thread's only read section: nothing is held across it). */
        if (rcu_rd_depth() == 1)
            urcu_qsbr_quiescent_state();
    }
    rcu_rd_leave();
    /* out of dd_recv from now: the lease runs (only ours to end if nobody took over) */
    atomic_store(&n->inline_lease_ns, dp_glue_clock_ns());
    uintptr_t w = me;
    atomic_compare_exchange_strong(&n->inline_waiting, &w, 0);
    return got;
}

/* A follower's wait: sleep on the mailbox's futex until something arrives, the deadline,
 * or the nap ends (then the caller looks at the leadership again). */
static void inline_follow_wait(struct dd_mbox *mb, uint64_t deadline_ns)
{
    uint32_t seq = atomic_load_explicit(&mb->futex, memory_order_seq_cst);
    atomic_store_explicit(&mb->sleeping, 1, memory_order_seq_cst);
    if (!mbox_maybe_nonempty(mb) && !atomic_load(&mb->closed)) {
        uint64_t now = dp_glue_clock_ns();
        uint64_t left = deadline_ns > now ? deadline_ns - now : 0;
        if (left > INLINE_FOLLOWER_NAP_NS)
            left = INLINE_FOLLOWER_NAP_NS;
        struct timespec ts = {0, (long)left};
        if (left)
            futex_op(&mb->futex, FUTEX_WAIT, seq, &ts);
    }
    atomic_store(&mb->sleeping, 0);
}

/* Waits for the queue to become non-empty or the deadline (ns, UINT64_MAX = none). */
static bool mbox_wait(struct dd_mbox *mb, uint64_t deadline_ns)
{
    if (dp_glue_inline(mb->node)) {
        for (;;) {
            if (mbox_maybe_nonempty(mb) || atomic_load(&mb->closed))
                return true;
            uint64_t now = dp_glue_clock_ns();
            if (now >= deadline_ns)
                return false;
            if (inline_lead(mb, now)) {
                bool lost;
                if (inline_poll_wait(mb, deadline_ns, &lost) || !lost)
                    return mbox_maybe_nonempty(mb) || atomic_load(&mb->closed);
            } else {
                inline_follow_wait(mb, deadline_ns);
            }
        }
    }
    uint64_t spin_until = clock_now_ns() + MBOX_SPIN_NS;
    while (clock_now_ns() < spin_until) {
        if (mbox_maybe_nonempty(mb) || atomic_load(&mb->closed))
            return true;
        cpu_relax();
    }
    for (;;) {
        uint32_t seq = atomic_load_explicit(&mb->futex, memory_order_seq_cst);
        atomic_store_explicit(&mb->sleeping, 1, memory_order_seq_cst);
        if (mbox_maybe_nonempty(mb) || atomic_load(&mb->closed)) {
            atomic_store(&mb->sleeping, 0);
            return true;
        }
        struct timespec ts, *tsp = NULL;
        uint64_t now = clock_now_ns();
        if (deadline_ns != UINT64_MAX) {
            if (now >= deadline_ns) {
                atomic_store(&mb->sleeping, 0);
                return false;
            }
            uint64_t left = deadline_ns - now;
            ts.tv_sec = (time_t)(left / 1000000000u);
            ts.tv_nsec = (long)(left % 1000000000u);
            tsp = &ts;
        }
        futex_op(&mb->futex, FUTEX_WAIT, seq, tsp);
        atomic_store(&mb->sleeping, 0);
        if (mbox_maybe_nonempty(mb) || atomic_load(&mb->closed))
            return true;
    }
}

/* ---- the pid table ------------------------------------------------------------------- */

struct dd_mbox *mbox_lookup_pid(struct dd_node *n, const dd_pid *pid)
{
    if (!node_pid_is_local(n, pid) || pid->num == 0 || pid->num > n->max_mailboxes)
        return NULL;
    struct dd_mbox *mb = atomic_load_explicit(&n->slots[pid->num], memory_order_acquire);
    if (!mb || mb->pid.serial != pid->serial || atomic_load(&mb->closed))
        return NULL;
    return mb;
}

static int names_match(struct cds_lfht_node *node, const void *key)
{
    struct dd_mbox *mb = caa_container_of(node, struct dd_mbox, name_node);
    return strcmp(mb->regname, key) == 0;
}

static unsigned long name_hash(const char *s)
{
    return (unsigned long)hash_fnv1a64_str(s);
}

struct dd_mbox *mbox_lookup_name(struct dd_node *n, const char *name)
{
    struct cds_lfht_iter it;
    cds_lfht_lookup(n->names, name_hash(name), names_match, name, &it);
    struct cds_lfht_node *node = cds_lfht_iter_get_node(&it);
    if (!node)
        return NULL;
    struct dd_mbox *mb = caa_container_of(node, struct dd_mbox, name_node);
    return atomic_load(&mb->closed) ? NULL : mb;
}

int mbox_open(struct dd_node *n, const char *regname, unsigned flags, struct dd_mbox **out)
{
    struct dd_mbox *mb = calloc(1, sizeof(*mb));
    if (!mb)
        return lasterr_set(DD_ENOMEM, "out of memory opening a mailbox");
    mb->node = n;
    mb->flags = flags;
    mb->lane = (flags & DD_MBOX_EXPRESS) ? RT_LANE_EXPRESS : RT_LANE_NORMAL;
    atomic_init(&mb->tail, &mb->stub);
    mb->head = &mb->stub;
    pthread_mutex_init(&mb->recv_lock, NULL);
    pthread_mutex_init(&mb->lock, NULL);
    mb->next_unlink_id = 1;
    cds_lfht_node_init(&mb->name_node);

    pthread_mutex_lock(&n->lock);
    if (n->closing) {
        pthread_mutex_unlock(&n->lock);
        free(mb);
        return lasterr_set(DD_ECLOSED, "node %s is stopping", n->name);
    }
    if (n->n_free == 0) {
        pthread_mutex_unlock(&n->lock);
        free(mb);
        return lasterr_set(DD_ELIMIT, "all %zu mailbox slots are in use", n->max_mailboxes);
    }
    uint32_t slot = n->free_slots[--n->n_free];
    mb->pid = (dd_pid){0};
    snprintf(mb->pid.node, sizeof(mb->pid.node), "%s", n->name);
    mb->pid.num = slot;
    mb->pid.serial = n->slot_serial[slot]++ & 0x1fff;
    mb->pid.creation = n->creation;
    if (regname) {
        snprintf(mb->regname, sizeof(mb->regname), "%s", regname);
        rcu_rd_enter();
        struct cds_lfht_node *dup =
            cds_lfht_add_unique(n->names, name_hash(regname), names_match, regname,
                                &mb->name_node);
        rcu_rd_leave();
        if (dup != &mb->name_node) {
            n->free_slots[n->n_free++] = slot;
            pthread_mutex_unlock(&n->lock);
            free(mb);
            return lasterr_set(DD_ENAMEINUSE, "name '%s' is already registered on %s", regname,
                           n->name);
        }
    }
    n->n_mailboxes++;
    atomic_store_explicit(&n->slots[slot], mb, memory_order_release);
    pthread_mutex_unlock(&n->lock);
    *out = mb;
    return DD_OK;
}

/* ---- signal processing --------------------------------------------------------------- */

/* Handles one signal for the receiver. Returns the signal if it is (or became) a message
 * to hand out, NULL if it was consumed. */
static struct sig *mbox_process(struct dd_mbox *mb, struct sig *s)
{
    struct rel *r;
    switch (s->kind) {
    case SIG_MESSAGE:
    case SIG_READY:
        return s;
    case SIG_LINK:
        pthread_mutex_lock(&mb->lock);
        r = rel_find(mb, REL_LINK, &s->peer, NULL);
        if (!r && !rel_add(mb, REL_LINK, &s->peer, NULL, NULL, s->conn)) {
            /* The connection went down before we saw the link: it fires at once. */
            pthread_mutex_unlock(&mb->lock);
            if (s->conn &&
                sig_make_exit_term(s, &s->peer, term_noconnection,
                                      term_noconnection_len))
                return s;
            sig_free(s);
            return NULL;
        }
        pthread_mutex_unlock(&mb->lock);
        break;
    case SIG_UNLINK_ID:
        pthread_mutex_lock(&mb->lock);
        r = rel_find(mb, REL_LINK, &s->peer, NULL);
        if (r && r->unlink_id == 0)
            rel_remove(mb, r);
        pthread_mutex_unlock(&mb->lock);
        mbox_send_unlink_ack(mb, &s->peer, s->id);
        break;
    case SIG_UNLINK_ACK:
        pthread_mutex_lock(&mb->lock);
        r = rel_find(mb, REL_LINK, &s->peer, NULL);
        if (r && r->unlink_id == s->id)
            rel_remove(mb, r);
        pthread_mutex_unlock(&mb->lock);
        break;
    case SIG_EXIT:
        pthread_mutex_lock(&mb->lock);
        r = rel_find(mb, REL_LINK, &s->peer, NULL);
        bool live = r && r->unlink_id == 0;
        if (r)
            rel_remove(mb, r);
        pthread_mutex_unlock(&mb->lock);
        if (live)
            return s; /* already carries the {'EXIT', ...} term */
        break;
    case SIG_EXIT2:
        return s;
    case SIG_MONITOR:
        pthread_mutex_lock(&mb->lock);
        rel_add(mb, REL_WATCHER, &s->peer, &s->ref, s->name, s->conn);
        pthread_mutex_unlock(&mb->lock);
        break;
    case SIG_DEMONITOR:
        pthread_mutex_lock(&mb->lock);
        r = rel_find(mb, REL_WATCHER, NULL, &s->ref);
        if (r)
            rel_remove(mb, r);
        pthread_mutex_unlock(&mb->lock);
        break;
    case SIG_DOWN:
        pthread_mutex_lock(&mb->lock);
        r = rel_find(mb, REL_MONITOR, NULL, &s->ref);
        if (r)
            rel_remove(mb, r);
        pthread_mutex_unlock(&mb->lock);
        if (r)
            return s;
        break;
    }
    sig_free(s);
    return NULL;
}

/* Takes recv_lock by the receiver's deadline. Another receiver may hold it while it waits for
 * a message: receivers take turns, and each keeps its own timeout. */
static bool recv_lock_by(struct dd_mbox *mb, int timeout_ms, uint64_t deadline_ns)
{
    if (timeout_ms < 0)
        return pthread_mutex_lock(&mb->recv_lock) == 0;
    if (timeout_ms == 0)
        return pthread_mutex_trylock(&mb->recv_lock) == 0;
    struct timespec ts = {.tv_sec = (time_t)(deadline_ns / 1000000000u),
                          .tv_nsec = (long)(deadline_ns % 1000000000u)};
    return pthread_mutex_clocklock(&mb->recv_lock, CLOCK_MONOTONIC, &ts) == 0;
}

int mbox_recv(struct dd_mbox *mb, dd_msg **out, int timeout_ms)
{
    uint64_t deadline = timeout_ms < 0 ? UINT64_MAX
                                       : clock_now_ns() + (uint64_t)timeout_ms * 1000000u;
    if (!recv_lock_by(mb, timeout_ms, deadline))
        return lasterr_set(atomic_load(&mb->closed) ? DD_ECLOSED : DD_ETIMEDOUT,
                       "no message within %d ms (another thread is receiving)", timeout_ms);
    for (;;) {
        if (atomic_load(&mb->closed)) {
            pthread_mutex_unlock(&mb->recv_lock);
            return lasterr_set(DD_ECLOSED, "mailbox is closed");
        }
        struct sig *s = mbox_pop(mb);
        if (s) {
            s = mbox_process(mb, s);
            if (s) {
                pthread_mutex_unlock(&mb->recv_lock);
                if (s->kind == SIG_MESSAGE)
                    s->msg.kind = DD_MSG_MESSAGE;
                *out = &s->msg;
                return DD_OK;
            }
            continue;
        }
        if (timeout_ms == 0 || !mbox_wait(mb, deadline)) {
            pthread_mutex_unlock(&mb->recv_lock);
            return lasterr_set(DD_ETIMEDOUT, "no message within %d ms", timeout_ms);
        }
    }
}

void mbox_msg_free(dd_msg *msg)
{
    if (msg)
        sig_free(caa_container_of(msg, struct sig, msg));
}

/* ---- closing ------------------------------------------------------------------------- */

/* Answers a signal sent to a mailbox that no longer exists, as BEAM answers for a dead
 * process: a link gets an exit with `noproc`, a monitor a 'DOWN' with `noproc`. */
void mbox_bounce(struct dd_node *n, const dd_pid *dead, struct sig *s)
{
    switch (s->kind) {
    case SIG_LINK:
        route_exit_signal(n, dead, &s->peer, term_noproc, term_noproc_len, true);
        break;
    case SIG_MONITOR:
        route_monitor_exit(n, dead, s->name, &s->peer, &s->ref,
                           term_noproc, term_noproc_len);
        break;
    case SIG_UNLINK_ID:
        /* A dead process still acknowledges an unlink (BEAM does). */
        route_unlink_ack(n, dead, &s->peer, s->id);
        break;
    default:
        break;
    }
    sig_free(s);
}

/* Closes a mailbox: no new signals reach it once it is out of the tables and a grace period
 * has passed; then every relation gets its exit signal. */
void mbox_close(struct dd_mbox *mb, const uint8_t *reason, size_t reason_len)
{
    struct dd_node *n = mb->node;
    if (atomic_exchange(&mb->closed, true))
        return;
    pthread_mutex_lock(&n->lock);
    rcu_rd_enter();
    if (mb->regname[0])
        cds_lfht_del(n->names, &mb->name_node);
    rcu_rd_leave();
    atomic_store_explicit(&n->slots[mb->pid.num], NULL, memory_order_release);
    for (size_t i = 0; i < n->n_node_monitors; i++)
        if (n->node_monitors[i] == mb)
            n->node_monitors[i--] = n->node_monitors[--n->n_node_monitors];
    pthread_mutex_unlock(&n->lock);
    inline_resign(mb);
    futex_op(&mb->futex, FUTEX_WAKE, INT_MAX, NULL); /* a receiver sleeping in dd_recv */

    /* Producers look the mailbox up inside RCU read sections: after a grace period nobody
     * can push any more. */
    if (rcu_rd_depth() == 0)
        urcu_qsbr_synchronize_rcu();
    pthread_mutex_lock(&mb->recv_lock);
    struct sig *s;
    for (;;) {
        while ((s = mbox_pop(mb)) != NULL) {
            /* Signals that arrived before the close still count: process links and
             * monitors so that they get their exit signals below. */
            if (s->kind == SIG_MESSAGE || s->kind == SIG_READY || s->kind == SIG_EXIT2) {
                sig_free(s);
                continue;
            }
            s = mbox_process(mb, s);
            if (s)
                sig_free(s);
        }
        if (!mbox_maybe_nonempty(mb))
            break;
    }

    pthread_mutex_lock(&mb->lock);
    while (mb->rels) {
        struct rel *r = mb->rels;
        if (r->conn && atomic_load(&r->conn->state) == CONN_DOWN) {
            /* That connection is gone: the other side has seen noconnection already, and
             * sending would dial the node again for a relation that no longer exists. */
            rel_remove(mb, r);
            continue;
        }
        switch (r->kind) {
        case REL_LINK:
            if (r->unlink_id == 0)
                route_exit_signal(n, &mb->pid, &r->remote, reason, reason_len, true);
            break;
        case REL_WATCHER:
            route_monitor_exit(n, &mb->pid, r->to_name[0] ? mb->regname : NULL, &r->remote,
                               &r->ref, reason, reason_len);
            break;
        case REL_MONITOR:
            route_demonitor(n, &mb->pid, &r->remote, r->to_name[0] ? r->to_name : NULL,
                            &r->ref);
            break;
        }
        rel_remove(mb, r);
    }
    pthread_mutex_unlock(&mb->lock);
    /* A nodedown that raced with us queued signals for relations we just removed (conn_down
     * pushes them under the connection's reg_lock, which rel_remove waited for): they
     * are all linked in by now and nobody can push any more. */
    while ((s = mbox_pop(mb)) != NULL || mbox_maybe_nonempty(mb))
        if (s)
            sig_free(s);
    pthread_mutex_unlock(&mb->recv_lock);

    pthread_mutex_lock(&n->lock);
    n->free_slots[n->n_free++] = mb->pid.num;
    n->n_mailboxes--;
    pthread_mutex_unlock(&n->lock);
    pthread_mutex_destroy(&mb->recv_lock);
    pthread_mutex_destroy(&mb->lock);
    free(mb);
}
