/* The DPDK carrier (runtime/carrier_dpdk/): a connection's data on a data-plane channel
 * after the upgrade (dpc_upgrade.c), the node's data plane (dpc_start.c), polling in
 * application threads when it has no lcore (dpc_inline.c, dpc_copy.c).
 *
 * This file: the carrier's ops (send from any thread, with the channel's byte budget; the
 * statistics), deliveries from the poller into the node core's dispatch, the control
 * thread's reaction to channels that went down, per-connection state, diagnostics, and the
 * transport table.
 */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/bigbuf.h"
#include "common/clock.h"
#include "common/log.h"
#include "control/distmsg.h"
#include "dataplane/dp.h"
#include "runtime/carrier_dpdk/dpc.h"
#include "runtime/core/conn.h"
#include "runtime/core/dispatch.h"
#include "runtime/core/node.h"

/* A message's lane is handed to the engine as it is (obuf's dp_msg.lane). */
_Static_assert((int)RT_LANE_PULSE == (int)WIRE_LANE_PULSE &&
                   (int)RT_LANE_EXPRESS == (int)WIRE_LANE_EXPRESS &&
                   (int)RT_LANE_NORMAL == (int)WIRE_LANE_NORMAL,
               "the runtime's lanes are the wire's");

/* ---- the DPDK carrier --------------------------------------------------------------- */

/* A sender finding its channel's queue full sleeps this long between tries (plus the
 * kernel's timer slack, 50 µs by default): far below the time the queue takes to drain. */
#define DP_SEND_FULL_NAP_NS 20000

static int dpc_send(struct conn *c, struct obuf *b, bool nonblock)
{
    /* The channel handle lives as long as c (dpc_conn_fini): a reference to c is all a
     * sender needs. */
    struct dp_chan *ch = atomic_load(&c->dp->send_chan);
    struct dpc_node *dp = c->node->dp;
    if (!ch || !dp || atomic_load(&c->state) == CONN_DOWN)
        return DD_ENOCONN;
    int rc;
    while ((rc = dp_chan_send(ch, &b->dp)) == -EAGAIN && !nonblock) {
        /* Full: room comes with the peer's acknowledgements. With a poller of its own (an
         * lcore, or inline a receiver polling as the leader), sleep a little: spinning here
         * would take turns on the node's one core with that poller, in scheduler time
         * slices of milliseconds. Inline with nobody polling, poll. */
        if (!dp->inline_poll || dpc_inline_leader_polling(c->node)) {
            struct timespec ts = {0, DP_SEND_FULL_NAP_NS};
            nanosleep(&ts, NULL);
        } else if (dpc_poll(c->node, 1) == 0) {
            sched_yield();
        }
    }
    if (rc == 0 && dp->inline_poll)
        dpc_poll(c->node, 1); /* no dedicated poller: send it now (a busy one: no-op) */
    switch (rc) {
    case 0:
        return DD_OK;
    case -EAGAIN:
        return lasterr_set(DD_EWOULDBLOCK, "data-plane send queue to %s is full", c->peer);
    case -EMSGSIZE:
        return lasterr_set(DD_ETOOBIG, "message of %u bytes is above the data plane's maximum",
                       b->dp.len);
    default:
        return DD_ENOCONN;
    }
}

static void dpc_peer_stats(struct conn *c, struct dd_peer_stats *out);

const struct rt_carrier_ops dpc_carrier = {
    .name = "dpdk",
    .kind = DD_CARRIER_DPDK,
    .send = dpc_send,
    .peer_stats = dpc_peer_stats,
};

/* ---- deliveries (on the poller) ----------------------------------------------------- */

/* Any thread holding a reference to c: c->dp->chan is the control thread's (detach clears
 * it); the sender handle lives as long as c. */
static void dpc_consumed(struct conn *c, size_t bytes)
{
    struct dp_chan *ch = atomic_load(&c->dp->send_chan);
    if (ch)
        dp_chan_consumed(ch, bytes);
}

void dpc_on_deliver(void *ctx, const chan_delivery *m)
{
    struct conn *c = ctx;
    struct distmsg_hdr h;
    enum distmsg_result r = distmsg_header_decode(m->data, m->len, &h);
    if (r != DISTMSG_OK || h.kind == DISTMSG_HDR_FRAG_START || h.kind == DISTMSG_HDR_FRAG_CONT) {
        DLOG_WARN(c->node->log_name, "data-plane message from %s dropped: %s", c->peer,
                  r != DISTMSG_OK ? distmsg_strerror(r) : "fragment header");
        bigbuf_free(m->buf);
        dpc_consumed(c, m->len);
        return;
    }
    struct distmsg_body body = {
        .data = m->data + h.len,
        .len = m->len - h.len,
        .versioned = h.kind == DISTMSG_HDR_PASS_THROUGH,
    };
    struct dispatch_src src = {
        .ctl = c->dp->ctl,
        .owned = m->buf,
        .owned_free = bigbuf_free,
        .acct = m->len,
        .consumed_fn = dpc_consumed,
    };
    dispatch_body(c, &body, &src);
}

void dpc_on_down(void *ctx, enum chan_down_reason why)
{
    struct conn *c = ctx;
    atomic_store(&c->dp->down, (int)why + 1);
}

/* Control thread, at most every DPC_DROP_LOG_PERIOD_MS: one line when frames were dropped
 * as forged, replayed or misaddressed since the last one (the counters have every frame;
 * the log only says that it happens, without letting a flood of forgeries flood it). */
static void log_auth_drops(struct dd_node *n)
{
    static const enum wire_drop kinds[DPC_DROP_LOG_KINDS] = {
        WIRE_DROP_BAD_TAG, WIRE_DROP_REPLAY, WIRE_DROP_WRONG_DESTINATION};
    struct dpc_node *dp = n->dp;
    uint64_t now = clock_now_ms();
    if (now - dp->drop_log_ms < DPC_DROP_LOG_PERIOD_MS)
        return;
    dp->drop_log_ms = now;
    struct dp_port_stats st;
    dp_engine_port_stats(dp->engine, &st);
    uint64_t d[DPC_DROP_LOG_KINDS];
    bool any = false;
    for (int i = 0; i < DPC_DROP_LOG_KINDS; i++) {
        d[i] = st.rx_drops[kinds[i]] - dp->drop_logged[i];
        dp->drop_logged[i] = st.rx_drops[kinds[i]];
        any |= d[i] != 0;
    }
    if (any)
        DLOG_WARN(n->log_name,
                  "data plane dropped frames: %" PRIu64 " with a bad tag, %" PRIu64
                  " replayed, %" PRIu64 " to another destination (forged, replayed or "
                  "misaddressed; docs/security.md)",
                  d[0], d[1], d[2]);
}

/* Control thread: channels the poller reported down take their connections down. */
static void dpc_check_events(struct dd_node *n)
{
    if (n->dp)
        log_auth_drops(n);
    if (!n->dp || !atomic_exchange(&n->dp->events, false))
        return;
    struct cds_lfht_iter it;
    struct conn *c;
    struct conn *victims[64];
    size_t k = 0;
    cds_lfht_for_each_entry(n->conns, &it, c, ht_node)
    {
        if (c->dp && atomic_load(&c->dp->down) && k < 64) {
            conn_ref(c);
            victims[k++] = c;
        }
    }
    for (size_t i = 0; i < k; i++) {
        int why = atomic_load(&victims[i]->dp->down) - 1;
        char msg[160];
        snprintf(msg, sizeof(msg), "data plane: %s", chan_down_str((enum chan_down_reason)why));
        conn_down(victims[i], why == CHAN_DOWN_HEARTBEAT ? DD_ETIMEDOUT : DD_ENOCONN, msg);
        conn_unref(victims[i]);
    }
    if (k == 64)
        atomic_store(&n->dp->events, true); /* more next round */
}

/* The channel is gone from the poller (RCU callback): its reference to c goes. */
static void chan_retired(void *arg)
{
    conn_unref(arg);
}

static void dpc_conn_close(struct conn *c)
{
    if (!c->dp)
        return;
    struct dp_chan *ch = c->dp->chan;
    if (!ch)
        return;
    c->dp->chan = NULL;
    dp_chan_close(ch, chan_retired, c);
}

static int dpc_conn_init(struct conn *c)
{
    if (!c->node->dp)
        return DD_OK; /* no data plane: no part of the connection either */
    c->dp = calloc(1, sizeof(*c->dp));
    return c->dp ? DD_OK : DD_ENOMEM;
}

static void dpc_conn_fini(struct conn *c)
{
    if (!c->dp)
        return;
    struct dp_chan *ch = atomic_exchange(&c->dp->send_chan, NULL);
    dp_chan_free(ch);
    free(c->dp->ctl);
    free(c->dp);
    c->dp = NULL;
}

/* ---- diagnostics -------------------------------------------------------------------- */

static int dpc_summary(struct dd_node *n, FILE *out)
{
    if (!n->dp)
        return lasterr_set(DD_ENOTFOUND, "%s has no data plane", n->name);
    dp_engine_summary(n->dp->engine, out);
    if (n->dp->inline_poll)
        fprintf(out,
                "inline polling: %" PRIu64 " leader take-overs, %" PRIu64
                " payloads copied by the leader for senders (%" PRIu64 " taken back), %" PRIu64
                " by their sender polling between chunks\n",
                atomic_load(&n->dp->inline_takeovers), atomic_load(&n->dp->copies_by_leader),
                atomic_load(&n->dp->copies_taken_back), atomic_load(&n->dp->copies_self_polled));
    if (n->dp->watchdog_started)
        fprintf(out,
                "watchdog poller (%s, at least every %" PRIu64 " us): %" PRIu64 " runs, %" PRIu64
                " iterations, %" PRIu64 " wake-ups, %" PRIu64 " held back by the duty cap, busy %"
                PRIu64 " us\n",
                atomic_load(&n->dp->watchdog_rt) ? "SCHED_FIFO" : "normal priority",
                n->dp->watchdog_backstop_ns / 1000, atomic_load(&n->dp->watchdog_runs),
                atomic_load(&n->dp->watchdog_iterations), atomic_load(&n->dp->watchdog_wakeups),
                atomic_load(&n->dp->watchdog_capped), atomic_load(&n->dp->watchdog_busy_ns) / 1000);
    return DD_OK;
}

static void dpc_peer_stats(struct conn *c, struct dd_peer_stats *out)
{
    /* An application thread (dd_peer_stats): see dpc_consumed. */
    struct dp_chan *ch = atomic_load(&c->dp->send_chan);
    if (!ch)
        return;
    struct chan_stats s;
    dp_chan_stats(ch, &s);
    out->tx_msgs = s.tx_msgs_acked;
    out->rx_msgs = s.rx_msgs;
    out->retransmits =
        s.lane[WIRE_LANE_EXPRESS].retransmits + s.lane[WIRE_LANE_NORMAL].retransmits;
    out->srtt_ns = s.srtt_ns;
    out->max_heartbeat_gap_ns = dp_chan_take_max_hb_gap(ch);
    out->max_rx_gap_ns = dp_chan_take_max_rx_gap(ch);
    out->heartbeats_rx = s.heartbeats_rx;
    out->credit_stalls = s.credit_stalls;
    out->rx_unconsumed = s.rx_unconsumed;
    out->rx_window = dp_engine_params(c->node->dp->engine)->chan.rx_window_bytes;
    out->rx_bad_tag = s.drops[WIRE_DROP_BAD_TAG];
    out->rx_replay = s.drops[WIRE_DROP_REPLAY];
}

static int dpc_fault(struct dd_node *n, bool enable)
{
    if (!n->dp || !n->dp->cfg.fault.enabled)
        return lasterr_set(DD_ENOTFOUND, "%s has no fault injection configured", n->name);
    dp_engine_set_fault(n->dp->engine, enable);
    return DD_OK;
}

const struct rt_transport dpc_transport = {
    .name = "dpdk",
    .node_start = dpc_node_start,
    .node_stop = dpc_node_stop,
    .trailer_caps = dpc_trailer_caps,
    .epmd_extra = dpc_epmd_extra,
    .conn_init = dpc_conn_init,
    .conn_fini = dpc_conn_fini,
    .peer_trailer = dpc_peer_trailer,
    .peer_epmd_extra = dpc_peer_epmd_extra,
    .conn_up = dpc_conn_up,
    .peer_msg = dpc_peer_msg,
    .conn_close = dpc_conn_close,
    .turn = dpc_check_events,
    .summary = dpc_summary,
    .fault = dpc_fault,
};
