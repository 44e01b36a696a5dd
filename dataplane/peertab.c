/* peertab_lookup is fast path (no lock, no syscall, no allocation); the rest is the
 * control thread's slow path.
 *
 * peertab — RCU hash table of channels keyed by the 64-bit rx session id.
 *
 * Algorithm: liburcu's cds_lfht (split-ordered lists: Shalev & Shavit, "Split-Ordered
 * Lists: Lock-Free Extensible Hash Tables", JACM 2006), QSBR flavour, automatic resize.
 * Each entry is a node {cds_lfht_node, session, chan, rcu_head}. Add is add_unique (no
 * duplicate key is ever observable). Remove is lookup + cds_lfht_del, then the node
 * (with the channel) is retired after a grace period: call_rcu (non-blocking) or
 * synchronize_rcu (blocking, returns the channel to the caller).
 *
 * Invariants
 *   - a node is freed only after cds_lfht_del succeeded on it and a grace period passed;
 *     cds_lfht_del succeeds once per node, so concurrent removals of one session retire
 *     it once.
 *   - readers dereference a node only between lookup and their next quiescent state.
 *
 * Bounds: one node per channel; the table grows and shrinks with the node count.
 */
#include "dataplane/peertab.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

/* The explicit urcu_qsbr_* names (no URCU_API_MAP): it is plain which flavour runs.
 * No _LGPL_SOURCE: liburcu stays a library call, not code inlined into ours. */
#include <urcu/urcu-qsbr.h>

#include <urcu/rculfhash.h>

struct peertab {
    struct cds_lfht *ht;
};

struct peertab_node {
    struct cds_lfht_node node;
    uint64_t session;
    void *chan;
    peertab_reclaim_fn reclaim;
    void *reclaim_arg;
    struct rcu_head rcu;
};

static inline unsigned long hash_session(uint64_t s)
{
    /* splitmix64 finaliser: session ids are random, but do not rely on it */
    s ^= s >> 30;
    s *= UINT64_C(0xbf58476d1ce4e5b9);
    s ^= s >> 27;
    s *= UINT64_C(0x94d049bb133111eb);
    s ^= s >> 31;
    return (unsigned long)s;
}

static int match_session(struct cds_lfht_node *node, const void *key)
{
    const struct peertab_node *n = caa_container_of(node, struct peertab_node, node);
    return n->session == *(const uint64_t *)key;
}

struct peertab *peertab_create(unsigned long init_buckets)
{
    if (init_buckets == 0)
        init_buckets = 64;
    if (init_buckets & (init_buckets - 1)) {
        errno = EINVAL;
        return NULL;
    }
    struct peertab *pt = calloc(1, sizeof(*pt));
    if (!pt) {
        errno = ENOMEM;
        return NULL;
    }
    pt->ht =
        cds_lfht_new_flavor(init_buckets, init_buckets, 0,
                            CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING, &urcu_qsbr_flavor, NULL);
    if (!pt->ht) {
        free(pt);
        errno = ENOMEM;
        return NULL;
    }
    return pt;
}

static void node_reclaim_rcu(struct rcu_head *head)
{
    struct peertab_node *n = caa_container_of(head, struct peertab_node, rcu);
    if (n->reclaim)
        n->reclaim(n->chan, n->reclaim_arg);
    free(n);
}

int peertab_add(struct peertab *pt, uint64_t session, void *chan)
{
    if (!chan)
        return -EINVAL;
    struct peertab_node *n = calloc(1, sizeof(*n));
    if (!n)
        return -ENOMEM;
    cds_lfht_node_init(&n->node);
    n->session = session;
    n->chan = chan;
    urcu_qsbr_read_lock();
    struct cds_lfht_node *got =
        cds_lfht_add_unique(pt->ht, hash_session(session), match_session, &session, &n->node);
    urcu_qsbr_read_unlock();
    if (got != &n->node) {
        free(n); /* never published: no grace period needed */
        return -EEXIST;
    }
    return 0;
}

/* Unlink under the read lock; the node, or NULL if absent or removed concurrently. */
static struct peertab_node *unlink_node(struct peertab *pt, uint64_t session)
{
    struct cds_lfht_iter it;
    struct peertab_node *n = NULL;
    urcu_qsbr_read_lock();
    cds_lfht_lookup(pt->ht, hash_session(session), match_session, &session, &it);
    struct cds_lfht_node *node = cds_lfht_iter_get_node(&it);
    if (node && cds_lfht_del(pt->ht, node) == 0)
        n = caa_container_of(node, struct peertab_node, node);
    urcu_qsbr_read_unlock();
    return n;
}

int peertab_remove(struct peertab *pt, uint64_t session, peertab_reclaim_fn reclaim, void *arg)
{
    struct peertab_node *n = unlink_node(pt, session);
    if (!n)
        return -ENOENT;
    n->reclaim = reclaim;
    n->reclaim_arg = arg;
    urcu_qsbr_call_rcu(&n->rcu, node_reclaim_rcu);
    return 0;
}

void *peertab_remove_sync(struct peertab *pt, uint64_t session)
{
    struct peertab_node *n = unlink_node(pt, session);
    if (!n)
        return NULL;
    urcu_qsbr_synchronize_rcu();
    void *chan = n->chan;
    free(n);
    return chan;
}

void *peertab_lookup(struct peertab *pt, uint64_t session)
{
    struct cds_lfht_iter it;
    cds_lfht_lookup(pt->ht, hash_session(session), match_session, &session, &it);
    struct cds_lfht_node *node = cds_lfht_iter_get_node(&it);
    if (!node)
        return NULL;
    return caa_container_of(node, struct peertab_node, node)->chan;
}

unsigned long peertab_count(struct peertab *pt)
{
    long before, after;
    unsigned long count;
    urcu_qsbr_read_lock();
    cds_lfht_count_nodes(pt->ht, &before, &count, &after);
    urcu_qsbr_read_unlock();
    return count;
}

int peertab_destroy(struct peertab *pt, peertab_reclaim_fn reclaim, void *arg)
{
    if (!pt)
        return 0;
    struct cds_lfht_iter it;
    struct peertab_node *n;
    urcu_qsbr_read_lock();
    cds_lfht_for_each_entry(pt->ht, &it, n, node)
    {
        if (cds_lfht_del(pt->ht, &n->node) == 0) {
            n->reclaim = reclaim;
            n->reclaim_arg = arg;
            urcu_qsbr_call_rcu(&n->rcu, node_reclaim_rcu);
        }
    }
    urcu_qsbr_read_unlock();
    /* every reclaim queued so far has run; liburcu refuses rcu_barrier() from an online
     * QSBR thread (it counts as a read-side critical section), so go offline for it */
    bool online = urcu_qsbr_read_ongoing();
    if (online)
        urcu_qsbr_thread_offline();
    urcu_qsbr_barrier();
    if (online)
        urcu_qsbr_thread_online();
    int rc = cds_lfht_destroy(pt->ht, NULL);
    free(pt);
    return rc;
}
