/* The TCP carrier's transport (runtime/core/carrier.h): its part of a node — the listener,
 * the handshake guard, the shared tick packet — and of each connection — the receive
 * reassembly and scratch, the send queue's lock — and its share of the control thread's
 * turns: handshake deadlines, reassembly memory, ticks, pending connections that got
 * nowhere. The TCP carrier is always there: it connects (dial), and stays the connection's
 * control channel after an upgrade to the data plane.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "control/distmsg.h"
#include "runtime/carrier_tcp/dial.h"
#include "runtime/carrier_tcp/hsio.h"
#include "runtime/carrier_tcp/listen.h"
#include "runtime/carrier_tcp/rxbudget.h"
#include "runtime/carrier_tcp/tcpc.h"
#include "runtime/core/conn.h"
#include "runtime/core/rcu.h"

/* Send queue bytes per class before senders wait (txq.h, Admission), and delivered bytes
 * not yet freed by the application before the socket is not read any more. */
#define TCPC_TX_QUEUE_LIMIT      (8u << 20)
#define TCPC_RX_UNCONSUMED_LIMIT (64u << 20)
/* Fragmented messages one connection reassembles at once (distmsg_reasm). */
#define TCPC_REASM_SEQS_MAX 64

/* ---- the node ---------------------------------------------------------------------- */

static void tcpc_node_stop(struct dd_node *n);

static int tcpc_node_start(struct dd_node *n, const struct rt_start *st, char *err,
                           size_t errlen)
{
    const struct dd_node_cfg *cfg = st->cfg;
    struct tcpc_node *t = calloc(1, sizeof(*t));
    static const uint8_t no_bytes[1]; /* memcpy of 0 bytes still wants a pointer */
    struct obuf *tick = t ? obuf_from_bytes(no_bytes, 0, 0, RT_LANE_PULSE) : NULL;
    if (!tick) {
        free(t);
        snprintf(err, errlen, "out of memory");
        return DD_ENOMEM;
    }
    t->node = n;
    t->listen_fd = -1;
    t->tick = tick;
    t->tx_queue_limit = TCPC_TX_QUEUE_LIMIT;
    t->rx_unconsumed_limit = TCPC_RX_UNCONSUMED_LIMIT;
    hsg_init(&t->hsguard, &(struct hsg_params){.base_delay_ms = cfg->handshake_backoff_ms,
                                               .max_delay_ms = cfg->handshake_backoff_max_ms});
    n->tcp = t;
    if (listen_open(n, cfg, err, errlen) == 0) {
        int rc = listen_register(n);
        if (rc == 0)
            return DD_OK;
        snprintf(err, errlen, "cannot poll the listener: %s", strerror(-rc));
    }
    /* the core stops only the transports that started: undo this one here */
    tcpc_node_stop(n);
    return DD_EIO;
}

/* The control thread has ended: diallers still blocked finish alone (those that posted
 * their result are run by node_stop). */
static void tcpc_node_halt(struct dd_node *n)
{
    dial_orphan_all(n);
}

static void tcpc_node_stop(struct dd_node *n)
{
    struct tcpc_node *t = n->tcp;
    if (!t)
        return;
    rcu_rd_enter();
    rxb_resume(n); /* connections left waiting for reassembly memory (all down): let go */
    while (n->tcp->handshaking)
        hsio_sock_free(n, n->tcp->handshaking);
    hsio_bury(n);
    rcu_rd_leave();
    if (t->listen_fd >= 0)
        close(t->listen_fd);
    obuf_unref(t->tick);
    free(t);
    n->tcp = NULL;
}

/* ---- connections --------------------------------------------------------------------- */

static int tcpc_conn_init(struct conn *c)
{
    struct dd_node *n = c->node;
    struct tcpc_conn *t = calloc(1, sizeof(*t));
    if (!t)
        return DD_ENOMEM;
    t->rx_ctl = malloc(sizeof(*t->rx_ctl));
    if (!t->rx_ctl || distmsg_reasm_init(&t->reasm, TCPC_REASM_SEQS_MAX, n->max_msg) != DISTMSG_OK) {
        free(t->rx_ctl);
        free(t);
        return DD_ENOMEM;
    }
    distmsg_reasm_share(&t->reasm, &n->reasm_budget, DISTMSG_FRAG_EST_BYTES);
    pthread_mutex_init(&t->tx_lock, NULL);
    pthread_cond_init(&t->tx_room, NULL);
    txq_init(&t->txq, n->tcp->tick, n->max_msg); /* the peer's bound, taken as ours */
    c->tcp = t;
    return DD_OK;
}

static void tcpc_conn_fini(struct conn *c)
{
    struct tcpc_conn *t = c->tcp;
    txq_drop_all(&t->txq);
    distmsg_reasm_fini(&t->reasm); /* gives back its share of the node's reassembly memory */
    rxb_give_packet(c);
    free(t->rx_ctl);
    pthread_mutex_destroy(&t->tx_lock);
    pthread_cond_destroy(&t->tx_room);
    free(t);
    c->tcp = NULL;
}

static void tcpc_dial(struct conn *c)
{
    dial_start(c->node, c);
}

/* Every timer turn, each connection: an established one ticks (and is down after a whole
 * ticktime of silence); a pending one that nobody works on any more (no socket, no dial)
 * and that is older than twice the set-up time is given up. */
static void tcpc_conn_periodic(struct conn *c, uint64_t now)
{
    int st = atomic_load(&c->state);
    if (st == CONN_UP) {
        tcpc_tick(c, now);
    } else if (st == CONN_PENDING && !c->tcp->sock && !c->dialling &&
               now > c->created_ms + 2ull * c->node->setuptime_ms) {
        conn_down(c, DD_ETIMEDOUT, "no connection came up within the set-up time");
    }
}

static void tcpc_periodic(struct dd_node *n, uint64_t now)
{
    hsio_reap(n, now);
    /* Reassembly memory given back on the poller (DPDK deliveries) or by freed connections
     * lets the connections that wait for it go on; refusals are logged here too. */
    rxb_periodic(n, now);
}

const struct rt_transport tcpc_transport = {
    .name = "tcp",
    .carrier = &rt_tcp_carrier,
    .node_start = tcpc_node_start,
    .node_halt = tcpc_node_halt,
    .node_stop = tcpc_node_stop,
    .conn_init = tcpc_conn_init,
    .conn_fini = tcpc_conn_fini,
    .dial = tcpc_dial,
    .conn_up = tcpc_kick, /* messages queued while pending */
    .conn_abort = tcpc_drop_queue,
    .conn_close = tcpc_close,
    .conn_busy = tcpc_busy,
    .periodic = tcpc_periodic,
    .conn_periodic = tcpc_conn_periodic,
    .turn_end = hsio_bury, /* sockets closed during the turn */
};
