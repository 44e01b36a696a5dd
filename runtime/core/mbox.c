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
#include <linux/futex.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/cpu.h"
#include "common/hash.h"
#include "common/log.h"
#include "control/etf.h"
#include "runtime/core/carrier.h"
#include "runtime/core/conn.h"
#include "runtime/core/mbox.h"
#include "runtime/core/node.h"
#include "runtime/core/rcu.h"
#include "runtime/core/route.h"
#include "runtime/core/terms.h"

/* How long a receiver spins before sleeping (a wake-up costs tens of µs on a VM).
 *
 * On a process that may run on one CPU only (MBOX_SPIN_YIELD in the node's mbox_spin_ns;
 * a node pinned to one core), the thread that would deliver (the TCP control thread)
 * cannot run while the receiver spins, so the spin yields the core at every turn, and
 * lasts longer (yielding costs nothing while nobody else wants the core; a loopback round
 * trip between two such nodes takes 25-60 µs). It is turned off for a while when it does
 * not pay: a spin that ends without a message makes the next MBOX_SPIN_SKIP waits of that
 * mailbox sleep at once, and a yield that gave the core away for more than
 * MBOX_YIELD_BUSY_NS (another thread is busy on it) the next MBOX_SPIN_SKIP_BUSY waits. A
 * runnable spinner gets no wake-up preemption when its message comes: under the kernel's
 * EEVDF scheduler it waits for the busy thread's slice to end (one scheduler tick).
 * Measured (perf/run --quick --only rtt_small,rtt_small_under_bulk, dpdist_tcp, nodes on one
 * core each, beam_tcp in the same run ~66 µs idle, ~1.5-2 ms / 14 ms p50 / p99 under bulk):
 *   plain spin (pause):             idle p50 59 µs; a third of the receiving core taken
 *                                   from the control thread of a 64 KiB stream
 *   no spin:                        idle p50 64-82 µs; under bulk p99 343 µs
 *   yielding spin on every wait:    idle p50 24 µs; under bulk p99 4,001 µs (one tick)
 *   skip after a miss only:         idle p50 24 µs; under bulk p99 3.7 ms
 *   skip after a miss or a busy
 *   yield (this):                   idle p50 24 µs; under bulk p50 82 µs, p99 342 µs */
#define MBOX_SPIN_NS         20000
#define MBOX_SPIN_ONE_CPU_NS 100000
#define MBOX_SPIN_SKIP       15
#define MBOX_YIELD_BUSY_NS   200000
#define MBOX_SPIN_SKIP_BUSY  256

unsigned mbox_spin_skip_after(bool spun, bool ready, bool busy)
{
    if (!spun)
        return 0;
    if (busy)
        return MBOX_SPIN_SKIP_BUSY;
    return ready ? 0 : MBOX_SPIN_SKIP;
}

uint64_t mbox_spin_ns_for_this_process(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) != 0 || CPU_COUNT(&set) > 1)
        return MBOX_SPIN_NS;
    return MBOX_SPIN_ONE_CPU_NS | MBOX_SPIN_YIELD;
}

void mbox_copy_sliced(uint8_t *dst, const uint8_t *src, size_t len)
{
    for (size_t off = 0; off < len; off += MBOX_COPY_SLICE_BYTES) {
        size_t n = len - off < MBOX_COPY_SLICE_BYTES ? len - off : MBOX_COPY_SLICE_BYTES;
        memcpy(dst + off, src + off, n);
        if (off + n < len)
            sched_yield();
    }
}

/* ---- waiting ---------------------------------------------------------------------- */

bool mbox_sleep(struct dd_mbox *mb, uint64_t timeout_ns)
{
    struct mbox_queue *q = &mb->q;
    uint32_t seq = atomic_load_explicit(&q->futex, memory_order_seq_cst);
    atomic_store_explicit(&q->sleeping, 1, memory_order_seq_cst);
    if (!mbox_ready(mb) && timeout_ns) {
        struct timespec ts, *tsp = NULL;
        if (timeout_ns != UINT64_MAX) {
            ts.tv_sec = (time_t)(timeout_ns / 1000000000u);
            ts.tv_nsec = (long)(timeout_ns % 1000000000u);
            tsp = &ts;
        }
        mbox_futex(&q->futex, FUTEX_WAIT, seq, tsp);
    }
    atomic_store(&q->sleeping, 0);
    return mbox_ready(mb);
}

/* Waits for the queue to become non-empty or the deadline (ns, UINT64_MAX = none): the
 * node's poller when it has one (a data plane polled by its receivers), else a short spin
 * and the futex. */
static bool mbox_wait(struct dd_mbox *mb, uint64_t deadline_ns)
{
    const struct rt_poller_ops *poller = mb->node->poller;
    if (poller)
        return poller->wait(mb, deadline_ns);
    uint64_t spin = mb->node->mbox_spin_ns;
    bool yield = spin & MBOX_SPIN_YIELD;
    uint64_t spin_until = clock_now_ns() + (spin & ~MBOX_SPIN_YIELD);
    if (yield && mb->spin_skip > 0) {
        mb->spin_skip--;
        spin_until = 0;
    }
    bool spun = false, busy = false;
    for (uint64_t now = clock_now_ns(); now < spin_until && !busy;) {
        spun = true;
        if (mbox_ready(mb))
            break;
        if (!yield) {
            cpu_relax();
            now = clock_now_ns();
            continue;
        }
        sched_yield();
        uint64_t after = clock_now_ns();
        busy = after - now > MBOX_YIELD_BUSY_NS; /* another thread kept the core that long */
        now = after;
    }
    bool ready = mbox_ready(mb);
    if (yield && spun)
        mb->spin_skip = mbox_spin_skip_after(spun, ready, busy);
    if (ready)
        return true;
    for (;;) {
        uint64_t timeout = UINT64_MAX;
        if (deadline_ns != UINT64_MAX) {
            uint64_t now = clock_now_ns();
            if (now >= deadline_ns)
                return false;
            timeout = deadline_ns - now;
        }
        if (mbox_sleep(mb, timeout))
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
    mbox_queue_init(&mb->q);
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
        struct sig *s = mbox_queue_pop(&mb->q);
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
/* ---- closing: unpublish, quiesce, drain, detach relations, fire them, release ------- */

/* Nobody finds the mailbox any more: name, slot and node monitors gone (node.lock); the
 * poller lets go of it; a receiver sleeping in dd_recv wakes. */
static void mbox_unpublish(struct dd_mbox *mb)
{
    struct dd_node *n = mb->node;
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
    if (n->poller && n->poller->mbox_closed)
        n->poller->mbox_closed(mb); /* it may have been the one polling */
    mbox_queue_wake_all(&mb->q);
}

/* Producers look the mailbox up inside RCU read sections: after a grace period nobody can
 * push any more (but conn_down, which pushes under reg_lock: see mbox_detach_relations). */
static void mbox_quiesce(void)
{
    if (rcu_rd_depth() == 0)
        urcu_qsbr_synchronize_rcu();
}

/* recv_lock held. Empties the queue. keep_relations: signals that change relations (links,
 * monitors, their removal) are processed, so that the relations get their signals at the
 * close; messages are dropped. Otherwise everything is dropped. */
static void mbox_drain(struct dd_mbox *mb, bool keep_relations)
{
    struct sig *s;
    for (;;) {
        while ((s = mbox_queue_pop(&mb->q)) != NULL) {
            if (keep_relations && s->kind != SIG_MESSAGE && s->kind != SIG_READY &&
                s->kind != SIG_EXIT2)
                s = mbox_process(mb, s);
            if (s)
                sig_free(s);
        }
        if (!mbox_queue_maybe_nonempty(&mb->q))
            break;
    }
}

/* recv_lock held. Takes every relation off the mailbox and its connection (mb->lock) and
 * returns those whose other side must hear of the close, linked by mb_next; the relations
 * on a connection that is down are freed (the other side has seen noconnection already,
 * and sending would dial the node again for a relation that no longer exists). */
static struct rel *mbox_detach_relations(struct dd_mbox *mb)
{
    struct rel *fire = NULL;
    pthread_mutex_lock(&mb->lock);
    while (mb->rels) {
        struct rel *r = mb->rels;
        bool gone = r->conn && atomic_load(&r->conn->state) == CONN_DOWN;
        bool silent = r->kind == REL_LINK && r->unlink_id != 0; /* unlinking already */
        rel_detach(mb, r);
        if (gone || silent) {
            free(r);
        } else {
            r->mb_next = fire;
            fire = r;
        }
    }
    pthread_mutex_unlock(&mb->lock);
    return fire;
}

/* No lock held (sending may wait for room on a TCP queue). The close's signals: an exit to
 * each link, a 'DOWN' to each watcher, a demonitor for each of our monitors; frees the list. */
static void mbox_fire_relations(struct dd_mbox *mb, struct rel *fire, const uint8_t *reason,
                                size_t reason_len)
{
    struct dd_node *n = mb->node;
    while (fire) {
        struct rel *r = fire;
        fire = r->mb_next;
        switch (r->kind) {
        case REL_LINK:
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
        free(r);
    }
}

/* The pid number goes back to the free list (after the close's signals went out under this
 * pid), and the mailbox is freed. */
static void mbox_release(struct dd_mbox *mb)
{
    struct dd_node *n = mb->node;
    pthread_mutex_lock(&n->lock);
    n->free_slots[n->n_free++] = mb->pid.num;
    n->n_mailboxes--;
    pthread_mutex_unlock(&n->lock);
    pthread_mutex_destroy(&mb->recv_lock);
    pthread_mutex_destroy(&mb->lock);
    free(mb);
}

/* Lock order: recv_lock -> mb->lock -> reg_lock (rel_detach), never a wait under them: the
 * close's signals are sent after both are released (PLAN-11 §9 item 2: they used to go out
 * under mb->lock and recv_lock, and a full TCP queue made the close wait there). */
void mbox_close(struct dd_mbox *mb, const uint8_t *reason, size_t reason_len)
{
    if (atomic_exchange(&mb->closed, true))
        return;
    mbox_unpublish(mb);
    mbox_quiesce();
    pthread_mutex_lock(&mb->recv_lock);
    /* Signals that arrived before the close still count: links and monitors made by them
     * get their signals below. */
    mbox_drain(mb, true);
    struct rel *fire = mbox_detach_relations(mb);
    /* A nodedown that raced with us queued signals for relations we just detached
     * (rel_conn_down pushes them under the connection's reg_lock, which rel_detach waited
     * for): they are all linked in by now and nobody can push any more. */
    mbox_drain(mb, false);
    pthread_mutex_unlock(&mb->recv_lock);
    mbox_fire_relations(mb, fire, reason, reason_len);
    mbox_release(mb);
}
