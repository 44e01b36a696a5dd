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
#include "runtime/core/conn.h"
#include "runtime/carrier_dpdk/dp_glue.h"
#include "runtime/core/mbox.h"
#include "runtime/core/mesh.h"
#include "runtime/core/node.h"
#include "runtime/core/rcu.h"
#include "runtime/carrier_tcp/rxbudget.h"
#include "runtime/carrier_tcp/tcpc.h"
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

static void conn_free_rcu(struct rcu_head *head)
{
    struct conn *c = caa_container_of(head, struct conn, rcu);
    dp_glue_free_chan(c);
    distmsg_reasm_fini(&c->reasm); /* gives back its share of the node's reassembly memory */
    rxb_give_packet(c);
    free(c->ctl);
    free(c->dp_ctl);
    pthread_mutex_destroy(&c->tx_lock);
    pthread_mutex_destroy(&c->reg_lock);
    pthread_cond_destroy(&c->tx_room);
    pthread_cond_destroy(&c->up_cond);
    free(c);
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
    c->ctl = malloc(sizeof(*c->ctl));
    if (!c->ctl || distmsg_reasm_init(&c->reasm, 64, n->max_msg) != DISTMSG_OK) {
        free(c->ctl);
        free(c);
        return NULL;
    }
    distmsg_reasm_share(&c->reasm, &n->reasm_budget, DISTMSG_FRAG_EST_BYTES);
    atomic_init(&c->refs, 2);
    c->node = n;
    snprintf(c->peer, sizeof(c->peer), "%s", peer);
    atomic_init(&c->state, CONN_PENDING);
    c->created_ms = clock_now_ms();
    atomic_init(&c->carrier, &rt_tcp_carrier);
    pthread_mutex_init(&c->tx_lock, NULL);
    pthread_mutex_init(&c->reg_lock, NULL);
    pthread_cond_init(&c->tx_room, NULL);
    pthread_cond_init(&c->up_cond, NULL);
    cds_lfht_node_init(&c->ht_node);
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
        hsio_dial(n, c); /* takes its own reference */
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

/* ---- going down -------------------------------------------------------------------- */

static void conn_down_now(struct dd_node *n, void *arg)
{
    struct conn *c = arg;
    tcpc_close(c);
    dp_glue_detach(c);
    conn_unref(c); /* the reference conn_down took */
    (void)n;
}

void conn_down(struct conn *c, int status, const char *why)
{
    struct dd_node *n = c->node;
    /* Under tx_lock, so that a dd_connect waiter that sees DOWN also sees why. */
    pthread_mutex_lock(&c->tx_lock);
    int old = atomic_exchange(&c->state, CONN_DOWN);
    if (old != CONN_DOWN) {
        c->fail_status = status;
        snprintf(c->fail_why, sizeof(c->fail_why), "%s", why);
    }
    pthread_mutex_unlock(&c->tx_lock);
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

    /* Queued data is dropped; blocked senders and dd_connect waiters are released. */
    tcpc_drop_queue(c);
    pthread_mutex_lock(&c->tx_lock);
    pthread_cond_broadcast(&c->tx_room);
    pthread_cond_broadcast(&c->up_cond);
    pthread_mutex_unlock(&c->tx_lock);

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
    pthread_mutex_lock(&c->tx_lock);
    atomic_store(&c->state, CONN_UP);
    c->dialling = false;
    pthread_cond_broadcast(&c->up_cond);
    pthread_mutex_unlock(&c->tx_lock);
    DLOG_INFO(n->log_name, "node %s up (%s, %s)", c->peer,
              c->peer_published ? "visible" : "hidden", c->peer_dpdist ? "dpdist" : "erlang");
    node_notify_nodes(n, c->peer, true, c->peer_published);
    tcpc_kick(c); /* messages queued while pending */
    mesh_on_up(c);
}

int conn_wait_up(struct conn *c, int timeout_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)(timeout_ms < 0 ? 3600000 : timeout_ms) * 1000000u;
    ts.tv_sec += (time_t)(ns / 1000000000u);
    ts.tv_nsec = (long)(ns % 1000000000u);
    pthread_mutex_lock(&c->tx_lock);
    int rc = 0;
    while (atomic_load(&c->state) == CONN_PENDING && rc == 0)
        rc = pthread_cond_timedwait(&c->up_cond, &c->tx_lock, &ts);
    int state = atomic_load(&c->state);
    if (state == CONN_DOWN) {
        rc = lasterr_set(c->fail_status ? c->fail_status : DD_ENOCONN, "cannot connect to %s: %s",
                     c->peer, c->fail_why);
        pthread_mutex_unlock(&c->tx_lock);
        return rc;
    }
    pthread_mutex_unlock(&c->tx_lock);
    if (state == CONN_UP)
        return DD_OK;
    return lasterr_set(DD_ETIMEDOUT, "connection to %s not up within %d ms", c->peer, timeout_ms);
}

void conn_tcp_consumed(struct conn *c, size_t bytes)
{
    int64_t left = atomic_fetch_sub(&c->unconsumed, (int64_t)bytes) - (int64_t)bytes;
    if (atomic_load(&c->rx_paused) && left < (int64_t)c->node->rx_unconsumed_limit / 2)
        tcpc_resume_rx(c);
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
