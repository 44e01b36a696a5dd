/* Connections to other nodes: the table, references, on-demand dialling, the link/monitor
 * registry, and nodedown.
 *
 * Lifecycle: PENDING (created by a send/link/connect to an unknown node, or by an incoming
 * handshake that got admitted) -> UP (handshake done; carrier set) -> DOWN (any failure,
 * tick timeout, disconnect, peer gone; terminal). A DOWN connection is out of the table; its
 * memory goes when the last reference is dropped, after an RCU grace period (readers on the
 * delivery path may still hold the pointer).
 *
 * Nodedown, as BEAM: every link with a process on the peer gets an exit signal
 * `noconnection`, every monitor of a process there a 'DOWN' `noconnection`, every monitor the
 * peer held on our mailboxes is dropped, queued messages are discarded, subscribers get
 * {nodedown, Node}. The registry lives under reg_lock; a relation added after the connection
 * went down is refused (the caller then fires noconnection itself), so none is missed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/hash.h"
#include "common/log.h"
#include "runtime/core/carrier.h"
#include "runtime/core/conn.h"
#include "runtime/core/mbox.h"
#include "runtime/core/mesh.h"
#include "runtime/core/node.h"
#include "runtime/core/rcu.h"
#include "runtime/core/terms.h"

static unsigned long conn_hash(const char *s)
{
    return (unsigned long)hash_fnv1a64_str(s);
}

static int conn_match(struct cds_lfht_node *node, const void *key)
{
    return strcmp(caa_container_of(node, struct conn, ht_node)->peer, key) == 0;
}

struct conn *conn_lookup(struct dd_node *n, const char *peer)
{
    struct cds_lfht_iter it;
    cds_lfht_lookup(n->conns, conn_hash(peer), conn_match, peer, &it);
    struct cds_lfht_node *node = cds_lfht_iter_get_node(&it);
    return node ? caa_container_of(node, struct conn, ht_node) : NULL;
}

void conn_ref(struct conn *c)
{
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
}

/* Frees c after the transports' conn_fini of the first `inited` transports. */
static void conn_free(struct conn *c, unsigned inited)
{
    struct dd_node *n = c->node;
    while (inited-- > 0)
        if (n->transports[inited]->conn_fini)
            n->transports[inited]->conn_fini(c);
    pthread_mutex_destroy(&c->reg_lock);
    pthread_mutex_destroy(&c->up_lock);
    pthread_cond_destroy(&c->up_cond);
    ks_conn_wipe(&c->hs_keys);
    free(c);
}

static void conn_free_rcu(struct rcu_head *head)
{
    struct conn *c = caa_container_of(head, struct conn, rcu);
    conn_free(c, c->node->n_transports);
}

void conn_unref(struct conn *c)
{
    if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1)
        urcu_qsbr_call_rcu(&c->rcu, conn_free_rcu);
}

/* A new PENDING connection to peer with one reference for the table and one for the
 * caller; NULL when out of memory. */
static struct conn *conn_new(struct dd_node *n, const char *peer)
{
    struct conn *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    atomic_init(&c->refs, 2);
    c->node = n;
    snprintf(c->peer, sizeof(c->peer), "%s", peer);
    atomic_init(&c->state, CONN_PENDING);
    c->created_ms = clock_now_ms();
    atomic_init(&c->carrier, n->dialler->carrier);
    pthread_mutex_init(&c->reg_lock, NULL);
    pthread_mutex_init(&c->up_lock, NULL);
    /* conn_wait_up's deadline is on CLOCK_MONOTONIC: a wall-clock step moves no timeout */
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->up_cond, &ca);
    pthread_condattr_destroy(&ca);
    cds_lfht_node_init(&c->ht_node);
    for (unsigned i = 0; i < n->n_transports; i++) {
        const struct rt_transport *t = n->transports[i];
        if (t->conn_init && t->conn_init(c) != DD_OK) {
            conn_free(c, i);
            return NULL;
        }
    }
    return c;
}

struct conn *conn_insert_new(struct dd_node *n, const char *peer, bool *existed)
{
    *existed = false;
    if (n->closing)
        return NULL; /* node_stop is taking every connection down */
    struct conn *c = conn_new(n, peer);
    if (!c)
        return NULL;
    rcu_rd_enter();
    struct cds_lfht_node *got =
        cds_lfht_add_unique(n->conns, conn_hash(peer), conn_match, peer, &c->ht_node);
    while (got != &c->ht_node &&
           atomic_load(&caa_container_of(got, struct conn, ht_node)->state) == CONN_DOWN) {
        /* conn_down has woken the waiters but not yet taken the entry out (it needs
         * n->lock, which our caller holds): a new attempt must not join the failed one.
         * Take it out here; conn_down's own cds_lfht_del then finds it gone, and the
         * table's reference is still released by conn_down. */
        cds_lfht_del(n->conns, got);
        got = cds_lfht_add_unique(n->conns, conn_hash(peer), conn_match, peer, &c->ht_node);
    }
    if (got != &c->ht_node) {
        struct conn *old = caa_container_of(got, struct conn, ht_node);
        conn_ref(old);
        rcu_rd_leave();
        atomic_store(&c->refs, 1);
        conn_unref(c);
        *existed = true;
        return old;
    }
    rcu_rd_leave();
    return c;
}

struct conn *conn_get_or_dial(struct dd_node *n, const char *peer)
{
    if (strcmp(peer, n->name) == 0) {
        lasterr_set(DD_EINVAL, "a node does not connect to itself");
        return NULL;
    }
    rcu_rd_enter();
    struct conn *c = conn_lookup(n, peer);
    if (c && atomic_load(&c->state) != CONN_DOWN) {
        conn_ref(c);
        rcu_rd_leave();
        return c;
    }
    rcu_rd_leave();
    struct nodename nn;
    enum nodename_result nr = nodename_parse(&nn, peer, strlen(peer), NODENAME_PEER);
    if (nr != NODENAME_OK) {
        lasterr_set(DD_EINVAL, "'%s' is not a node name: %s", peer, nodename_strerror(nr));
        return NULL;
    }
    if (nn.kind != n->kind) {
        lasterr_set(DD_ENOCONN, "%s uses %s names and cannot connect to %s", n->name,
                n->kind == NODENAME_SHORT ? "short" : "long", peer);
        DLOG_WARN(n->log_name, "not connecting to %s: short and long node names do not mix",
                  peer);
        return NULL;
    }
    pthread_mutex_lock(&n->lock);
    bool existed;
    bool closing = n->closing;
    c = conn_insert_new(n, peer, &existed);
    if (c && !existed)
        c->dialling = true;
    pthread_mutex_unlock(&n->lock);
    if (!c) {
        if (closing)
            lasterr_set(DD_ECLOSED, "node %s is stopping", n->name);
        else
            lasterr_set(DD_ENOMEM, "out of memory");
        return NULL;
    }
    if (!existed)
        n->dialler->dial(c); /* takes its own reference */
    return c;
}

struct conn *conn_get_live(struct dd_node *n, const char *peer)
{
    rcu_rd_enter();
    struct conn *c = conn_lookup(n, peer);
    if (c && atomic_load(&c->state) != CONN_DOWN)
        conn_ref(c);
    else
        c = NULL;
    rcu_rd_leave();
    return c;
}

int conn_send(struct conn *c, struct obuf *b, bool nonblock)
{
    const struct rt_carrier_ops *carrier = atomic_load(&c->carrier);
    return carrier->send(c, b, nonblock);
}

void conn_switch_carrier(struct conn *c, struct obuf *marker, const struct rt_carrier_ops *next)
{
    const struct rt_carrier_ops *cur = atomic_load(&c->carrier);
    if (cur != next && cur->switch_to)
        cur->switch_to(c, marker, next);
}

enum dd_carrier_kind conn_carrier_kind(struct conn *c)
{
    return atomic_load(&c->carrier)->kind;
}

void conn_peer_trailer(struct conn *c, const uint8_t *t, size_t len)
{
    struct dpctl_trailer tr;
    c->peer_dpdist = dpctl_trailer_parse(t, len, &tr) == DPCTL_OK;
    if (!c->peer_dpdist)
        return;
    RT_FOR_EACH_TRANSPORT(c->node, tp)
    {
        if (tp->peer_trailer)
            tp->peer_trailer(c, &tr);
    }
}

void conn_peer_epmd_extra(struct conn *c, const uint8_t *extra, size_t len)
{
    RT_FOR_EACH_TRANSPORT(c->node, t)
    {
        if (t->peer_epmd_extra)
            t->peer_epmd_extra(c, extra, len);
    }
}

void conn_peer_msg(struct conn *c, const struct dpctl_msg *m, enum dpctl_result rc)
{
    RT_FOR_EACH_TRANSPORT(c->node, t)
    {
        if (t->peer_msg)
            t->peer_msg(c, m, rc);
    }
}

/* ---- going down -------------------------------------------------------------------- */

/* The control thread's part of conn_down: sockets and channels close there. */
static void conn_down_now(struct dd_node *n, void *arg)
{
    struct conn *c = arg;
    RT_FOR_EACH_TRANSPORT(n, t)
    {
        if (t->conn_close)
            t->conn_close(c);
    }
    conn_unref(c); /* the reference conn_down took */
}

void conn_down(struct conn *c, int status, const char *why)
{
    struct dd_node *n = c->node;
    /* Under up_lock, so that a dd_connect waiter that sees DOWN also sees why. */
    pthread_mutex_lock(&c->up_lock);
    int old = atomic_exchange(&c->state, CONN_DOWN);
    if (old != CONN_DOWN) {
        c->fail_status = status;
        snprintf(c->fail_why, sizeof(c->fail_why), "%s", why);
        pthread_cond_broadcast(&c->up_cond);
    }
    pthread_mutex_unlock(&c->up_lock);
    if (old == CONN_DOWN)
        return;
    pthread_mutex_lock(&n->lock);
    rcu_rd_enter();
    cds_lfht_del(n->conns, &c->ht_node);
    rcu_rd_leave();
    pthread_mutex_unlock(&n->lock);
    if (old == CONN_UP)
        DLOG_INFO(n->log_name, "node %s down: %s", c->peer, why);
    else
        DLOG_INFO(n->log_name, "connection to %s failed: %s", c->peer, why);

    /* Relations: noconnection to everything that depended on this connection. */
    rel_conn_down(c);

    /* Queued data is dropped; blocked senders are released. */
    RT_FOR_EACH_TRANSPORT(n, t)
    {
        if (t->conn_abort)
            t->conn_abort(c);
    }

    if (old == CONN_UP)
        node_notify_nodes(n, c->peer, false, c->peer_published);
    /* Sockets and the data-plane channel are closed on the control thread. */
    conn_ref(c);
    ctl_post(n, conn_down_now, c);
    conn_unref(c); /* the table's reference */
}

void conn_set_up(struct conn *c)
{
    struct dd_node *n = c->node;
    pthread_mutex_lock(&c->up_lock);
    atomic_store(&c->state, CONN_UP);
    pthread_cond_broadcast(&c->up_cond);
    pthread_mutex_unlock(&c->up_lock);
    DLOG_INFO(n->log_name, "node %s up (%s, %s)", c->peer,
              c->peer_published ? "visible" : "hidden", c->peer_dpdist ? "dpdist" : "erlang");
    node_notify_nodes(n, c->peer, true, c->peer_published);
    /* the carriers: what queued while pending goes out, the upgrade starts */
    RT_FOR_EACH_TRANSPORT(n, t)
    {
        if (t->conn_up)
            t->conn_up(c);
    }
    mesh_on_up(c);
}

int conn_wait_up(struct conn *c, int timeout_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts); /* the clock of up_cond (conn_new) */
    uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)(timeout_ms < 0 ? 3600000 : timeout_ms) * 1000000u;
    ts.tv_sec += (time_t)(ns / 1000000000u);
    ts.tv_nsec = (long)(ns % 1000000000u);
    pthread_mutex_lock(&c->up_lock);
    int rc = 0;
    while (atomic_load(&c->state) == CONN_PENDING && rc == 0)
        rc = pthread_cond_timedwait(&c->up_cond, &c->up_lock, &ts);
    int state = atomic_load(&c->state);
    if (state == CONN_DOWN) {
        rc = lasterr_set(c->fail_status ? c->fail_status : DD_ENOCONN,
                         "cannot connect to %s: %s", c->peer, c->fail_why);
        pthread_mutex_unlock(&c->up_lock);
        return rc;
    }
    pthread_mutex_unlock(&c->up_lock);
    if (state == CONN_UP)
        return DD_OK;
    return lasterr_set(DD_ETIMEDOUT, "connection to %s not up within %d ms", c->peer, timeout_ms);
}

void conn_down_all(struct dd_node *n, const char *why)
{
    struct cds_lfht_iter it;
    struct conn *c;
    for (;;) {
        struct conn *victim = NULL;
        rcu_rd_enter();
        cds_lfht_for_each_entry(n->conns, &it, c, ht_node)
        {
            conn_ref(c);
            victim = c;
            break;
        }
        rcu_rd_leave();
        if (!victim)
            break;
        conn_down(victim, DD_ECLOSED, why);
        conn_unref(victim);
    }
}
