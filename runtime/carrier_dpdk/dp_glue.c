/* The runtime's side of the DPDK data plane: start-up from the node's config file,
 * advertising (EPMD Extra, handshake trailer), the upgrade of a connection between two
 * dpdist nodes, the DPDK carrier, and deliveries from the poller.
 *
 * Upgrade, over the authenticated TCP connection, as REG_SENDs to '$dpdist' (the bytes:
 * control/dpctl.h):
 *   initiator: {dpdist_upgrade_req, 1, SessionA, Mac, Ip, Port, Mtu, Window, HbNs, HbMissed}
 *   acceptor:  {dpdist_upgrade_ack, 1, SessionB, Mac, Ip, Port, Mtu, Window, HbNs, HbMissed}
 *              or {dpdist_upgrade_nak, Reason}
 *   each side, after adding its channel: {dpdist_switch} as its last message on TCP, then
 *   every later message of that direction goes over DPDK.
 * A side accepts DPDK frames only after it has read the peer's {dpdist_switch} from TCP;
 * frames that arrive earlier are not acknowledged and come again. So messages of one sender
 * never overtake each other across the switch. The TCP connection stays as the control
 * channel: ticks keep flowing on it, and its loss is the peer's loss.
 * Negotiated: MTU and window the smaller of both, heartbeat interval the larger.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sched.h>
#include <sys/random.h>

#include "common/bigbuf.h"
#include "common/clock.h"
#include "common/log.h"
#include "control/distmsg.h"
#include "control/dpctl.h"
#include "dataplane/dp.h"
#include "dataplane/dp_limits.h"
#include "runtime/core/carrier.h"
#include "config/cfg.h"
#include "runtime/core/conn.h"
#include "runtime/core/dispatch.h"
#include "runtime/carrier_dpdk/dp_glue.h"
#include "runtime/carrier_dpdk/dpc.h"
#include "runtime/core/mesh.h"
#include "runtime/core/mbox.h"
#include "runtime/core/node.h"
#include "runtime/core/rcu.h"
#include "runtime/core/route.h"

/* The bytes of the trailer, the Extra field and the '$dpdist' messages: control/dpctl.h. */

/* A message's lane is handed to the engine as it is (obuf's dp_msg.lane). */
_Static_assert((int)RT_LANE_PULSE == (int)WIRE_LANE_PULSE &&
                   (int)RT_LANE_EXPRESS == (int)WIRE_LANE_EXPRESS &&
                   (int)RT_LANE_NORMAL == (int)WIRE_LANE_NORMAL,
               "the runtime's lanes are the wire's");


/* ---- start and stop ----------------------------------------------------------------- */

static void poller_init(void *arg)
{
    (void)arg;
    rcu_rd_mark_permanent();
}

static void notify_control(void *arg)
{
    struct dd_node *n = arg;
    atomic_store(&n->dp_events, true);
    ctl_wake(n);
}

static void params_from_cfg(struct dd_node *n, const struct cfg_file *cfg,
                            struct dp_engine_params *p)
{
    memset(p, 0, sizeof(*p));
    p->name = n->name;
    p->port = cfg->port.kind == CFG_PORT_PCI ? cfg->port.pci : cfg->port.vdev;
    memcpy(p->mac, cfg->port.mac, 6);
    p->ip = ntohl(cfg->port.ip.s_addr);
    p->udp_port = cfg->port.udp_port;
    p->mtu = cfg->port.mtu;
    p->rx_desc = cfg->port.rx_desc;
    p->tx_desc = cfg->port.tx_desc;
    p->mbufs = cfg->mempool.mbuf_count;
    p->mbuf_cache = cfg->mempool.cache_size;
    p->data_room = cfg->mempool.data_room;
    p->want_ipv4_cksum_offload = (cfg->port.offloads & CFG_OFFLOAD_IPV4_CKSUM) != 0;
    p->want_udp_cksum_offload = (cfg->port.offloads & CFG_OFFLOAD_UDP_CKSUM) != 0;
    /* A polling lcore besides the main one: a dedicated poller (DP_POLL_LCORES: the first;
     * `dpdist-config check` warns about the others). Just one lcore: the node's application
     * threads poll (inline). */
    _Static_assert(DP_POLL_LCORES == 1, "the engine takes one poll_lcore");
    uint16_t lcores[8];
    unsigned npoll = cfg_poll_lcores(cfg, lcores, 8);
    p->poll_lcore = npoll > 0 && lcores[0] != cfg->eal.main_lcore ? lcores[0] : -1;
    chan_params_default(&p->chan);
    p->chan.window_frames = cfg->lanes.window_frames;
    p->chan.rx_window_bytes = cfg->lanes.rx_window_bytes;
    p->chan.max_msg_bytes = (uint32_t)cfg->lanes.max_msg_bytes;
    p->chan.max_flows = cfg->lanes.max_flows;
    p->chan.hb_interval_ns = (uint64_t)cfg->lanes.hb_interval_us * 1000;
    p->chan.hb_missed_limit = cfg->lanes.hb_missed_limit;
    p->chan.min_rto_ns = (uint64_t)cfg->lanes.min_rto_us * 1000;
    p->chan.max_rto_ns = (uint64_t)cfg->lanes.max_rto_us * 1000;
    if (p->chan.initial_rto_ns < p->chan.min_rto_ns)
        p->chan.initial_rto_ns = p->chan.min_rto_ns;
    if (p->chan.initial_rto_ns > p->chan.max_rto_ns)
        p->chan.initial_rto_ns = p->chan.max_rto_ns;
    p->chan.reasm_budget = &n->reasm_budget; /* shared with TCP and the other channels */
    p->chan.express_weight = cfg->lanes.express_weight;
    p->chan.normal_weight = cfg->lanes.normal_weight;
    if (p->chan.max_pending_msgs < p->chan.window_frames)
        p->chan.max_pending_msgs = p->chan.window_frames;
    p->tx_queue_bytes = cfg->lanes.tx_queue_bytes;
    p->fault_on = cfg->fault.enabled;
    p->fault.drop_rate = cfg->fault.drop_rate;
    p->fault.dup_rate = cfg->fault.dup_rate;
    p->fault.reorder_rate = cfg->fault.reorder_rate;
    p->fault.delay_rate = cfg->fault.delay_rate;
    p->fault.delay_us = cfg->fault.delay_us;
    p->fault.seed = cfg->fault.seed;
    p->fault.on_rx = cfg->fault.direction != CFG_FAULT_TX;
    p->fault.on_tx = cfg->fault.direction != CFG_FAULT_RX;
    p->poller_init = poller_init;
    p->notify = notify_control;
    p->notify_arg = n;
}

static int dp_glue_start(struct dd_node *n, const struct dd_node_cfg *ncfg, char *err,
                         size_t errlen)
{
    const char *config_file = ncfg->config_file;
    if (!config_file)
        return DD_OK;
    struct dpc_node *dp = calloc(1, sizeof(*dp));
    if (!dp) {
        snprintf(err, errlen, "out of memory");
        return DD_ENOMEM;
    }
    /* The whole config is checked before anything touches the NIC. */
    if (cfg_load_for_node(config_file, &dp->cfg) != 0) {
        snprintf(err, errlen, "invalid configuration %s (see the messages above)",
                 config_file);
        free(dp);
        return DD_ECONFIG;
    }
    if (dp->cfg.port.kind == CFG_PORT_NONE) {
        DLOG_INFO(n->log_name, "%s has no [port]: TCP only", config_file);
        free(dp);
        return DD_OK;
    }
    if (n->reasm_budget.cap < dp->cfg.lanes.max_msg_bytes) {
        snprintf(err, errlen,
                 "the node's max_reassembly_bytes (%llu) is below [lanes] max_msg_bytes (%llu) "
                 "in %s: the largest message must fit",
                 (unsigned long long)n->reasm_budget.cap,
                 (unsigned long long)dp->cfg.lanes.max_msg_bytes, config_file);
        free(dp);
        return DD_ECONFIG;
    }
    char **argv;
    int argc;
    if (cfg_eal_argv(&dp->cfg, "dpdist", &argv, &argc) != 0) {
        snprintf(err, errlen, "cannot build the EAL arguments");
        free(dp);
        return DD_ECONFIG;
    }
    char **eal_argv = malloc(((size_t)argc + 1) * sizeof(char *));
    if (!eal_argv) {
        free(argv);
        free(dp);
        snprintf(err, errlen, "out of memory");
        return DD_ENOMEM;
    }
    memcpy(eal_argv, argv, ((size_t)argc + 1) * sizeof(char *));
    /* EAL keeps pointers into argv for the process's life: leak it on purpose (one per
     * process), and the copy too since rte_eal_init permutes it. A second node in the process
     * finds EAL up: its arguments were not used. */
    int eal = dp_eal_init(argc, eal_argv, err, errlen);
    if (eal < 0) {
        free(dp);
        return DD_EIO;
    }
    if (eal > 0) {
        free(eal_argv);
        free(argv);
    }
    struct dp_engine_params p;
    params_from_cfg(n, &dp->cfg, &p);
    dp->engine = dp_engine_create(&p, err, errlen);
    if (!dp->engine) {
        dp_eal_release();
        free(dp);
        return DD_EIO;
    }
    dp->inline_poll = dp_engine_inline(dp->engine);
    dp->busy_poll_ns = (uint64_t)dp->cfg.eal.busy_poll_us * 1000;
    dp->idle_sleep_ns = (uint64_t)dp->cfg.eal.idle_sleep_us * 1000;
    pthread_mutex_init(&dp->copy_lock, NULL);
    n->dp = dp;
    if (dp->inline_poll)
        n->poller = &dpc_inline_poller; /* receivers and the control thread poll */
    DLOG_INFO(n->log_name, "DPDK data plane on %s (%s polling)", dp->cfg.port.kind == CFG_PORT_PCI
                                                                    ? dp->cfg.port.pci
                                                                    : dp->cfg.port.vdev,
              dp->inline_poll ? "inline" : "lcore");
    return DD_OK;
}

static void dp_glue_stop(struct dd_node *n)
{
    struct dpc_node *dp = n->dp;
    if (!dp)
        return;
    n->dp = NULL;
    n->poller = NULL;
    urcu_qsbr_barrier(); /* channels retired with call_rcu are freed first */
    dp_engine_destroy(dp->engine);
    dp_eal_release();
    pthread_mutex_destroy(&dp->copy_lock);
    free(dp);
}

/* ---- advertising -------------------------------------------------------------------- */

static uint8_t dp_glue_trailer_caps(struct dd_node *n)
{
    return n->dp ? DPCTL_CAP_DATA_PLANE : 0;
}

static size_t dp_glue_epmd_extra(struct dd_node *n, uint8_t *buf, size_t cap)
{
    if (!n->dp)
        return 0;
    struct dpctl_endpoint ep;
    dp_engine_endpoint(n->dp->engine, ep.mac, &ep.ip, &ep.port);
    return dpctl_extra_encode(buf, cap, &ep);
}

static void dp_glue_peer_trailer(struct conn *c, const struct dpctl_trailer *t)
{
    c->dp_peer_has_dp = dpctl_trailer_has_data_plane(t);
}

static void dp_glue_note_extra(struct conn *c, const uint8_t *extra, size_t len)
{
    /* The handshake trailer is authoritative (it is authenticated); the Extra field is
     * informational for tools (dpdist-epmd -names shows nothing of it, PORT_PLEASE2 does). */
    struct dpctl_endpoint ep;
    if (dpctl_extra_parse(extra, len, &ep) == DPCTL_OK)
        DLOG_DBG(c->node->log_name, "%s advertises a data plane at %u.%u.%u.%u:%u", c->peer,
                 ep.ip >> 24, (ep.ip >> 16) & 255, (ep.ip >> 8) & 255, ep.ip & 255, ep.port);
}

/* ---- the DPDK carrier --------------------------------------------------------------- */

/* A sender finding its channel's queue full sleeps this long between tries (plus the
 * kernel's timer slack, 50 µs by default): far below the time the queue takes to drain. */
#define DP_SEND_FULL_NAP_NS 20000

static int dp_carrier_send(struct conn *c, struct obuf *b, bool nonblock)
{
    /* The channel handle lives as long as c (dp_glue_free_chan): a reference to c is all a
     * sender needs. */
    struct dp_chan *ch = atomic_load(&c->dp_send_chan);
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

static void dp_carrier_peer_stats(struct conn *c, struct dd_peer_stats *out);

static const struct rt_carrier_ops dp_carrier = {
    .name = "dpdk",
    .kind = DD_CARRIER_DPDK,
    .send = dp_carrier_send,
    .peer_stats = dp_carrier_peer_stats,
};

/* ---- deliveries (on the poller) ----------------------------------------------------- */

/* Any thread holding a reference to c: c->dp_chan is the control thread's (detach clears
 * it); the sender handle lives as long as c. */
static void dp_consumed_hook(struct conn *c, size_t bytes)
{
    struct dp_chan *ch = atomic_load(&c->dp_send_chan);
    if (ch)
        dp_chan_consumed(ch, bytes);
}

static void on_deliver(void *ctx, const chan_delivery *m)
{
    struct conn *c = ctx;
    struct distmsg_hdr h;
    enum distmsg_result r = distmsg_header_decode(m->data, m->len, &h);
    if (r != DISTMSG_OK || h.kind == DISTMSG_HDR_FRAG_START || h.kind == DISTMSG_HDR_FRAG_CONT) {
        DLOG_WARN(c->node->log_name, "data-plane message from %s dropped: %s", c->peer,
                  r != DISTMSG_OK ? distmsg_strerror(r) : "fragment header");
        bigbuf_free(m->buf);
        dp_consumed_hook(c, m->len);
        return;
    }
    struct distmsg_body body = {
        .data = m->data + h.len,
        .len = m->len - h.len,
        .versioned = h.kind == DISTMSG_HDR_PASS_THROUGH,
    };
    struct dispatch_src src = {
        .ctl = c->dp_ctl,
        .owned = m->buf,
        .owned_free = bigbuf_free,
        .acct = m->len,
        .consumed_fn = dp_consumed_hook,
    };
    dispatch_body(c, &body, &src);
}

static void on_down(void *ctx, enum chan_down_reason why)
{
    struct conn *c = ctx;
    atomic_store(&c->dp_down, (int)why + 1);
}

/* Control thread: channels the poller reported down take their connections down. */
static void dp_glue_check_events(struct dd_node *n)
{
    if (!n->dp || !atomic_exchange(&n->dp_events, false))
        return;
    struct cds_lfht_iter it;
    struct conn *c;
    struct conn *victims[64];
    size_t k = 0;
    cds_lfht_for_each_entry(n->conns, &it, c, ht_node)
    {
        if (atomic_load(&c->dp_down) && k < 64) {
            conn_ref(c);
            victims[k++] = c;
        }
    }
    for (size_t i = 0; i < k; i++) {
        int why = atomic_load(&victims[i]->dp_down) - 1;
        char msg[160];
        snprintf(msg, sizeof(msg), "data plane: %s", chan_down_str((enum chan_down_reason)why));
        conn_down(victims[i], why == CHAN_DOWN_HEARTBEAT ? DD_ETIMEDOUT : DD_ENOCONN, msg);
        conn_unref(victims[i]);
    }
    if (k == 64)
        atomic_store(&n->dp_events, true); /* more next round */
}

/* ---- the upgrade -------------------------------------------------------------------- */

static uint64_t random_session(void)
{
    uint64_t v = 0;
    while (v == 0)
        if (getrandom(&v, sizeof(v), 0) != sizeof(v))
            v = (uint64_t)clock_now_ms() * 0x9E3779B97F4A7C15ull;
    return v;
}

/* Sends m to the peer's '$dpdist'. The upgrade's messages always use TCP (conn_send would
 * follow the carrier, which is still TCP here). */
static void send_ctl_msg(struct conn *c, const struct dpctl_msg *m)
{
    uint8_t term[DPCTL_ATOM_MAX + 128];
    size_t len = dpctl_encode(m, term, sizeof(term));
    if (len)
        route_send_reg(c->node->system, MESH_NAME, c->peer, term, len, false);
}

/* Our offer (REQ or ACK) with our receive session for c's channel. */
static void send_offer(struct conn *c, enum dpctl_kind kind, uint64_t session)
{
    struct dpc_node *dp = c->node->dp;
    const struct dp_engine_params *p = dp_engine_params(dp->engine);
    struct dpctl_msg m = {.kind = kind};
    struct dpctl_offer *o = &m.offer;
    dp_engine_endpoint(dp->engine, o->mac, &o->ip, &o->port);
    o->session = session;
    o->mtu = dp_engine_mtu(dp->engine);
    o->window = p->chan.window_frames;
    o->hb_ns = p->chan.hb_interval_ns;
    o->hb_missed = p->chan.hb_missed_limit;
    send_ctl_msg(c, &m);
}

static void chan_retired(void *arg)
{
    conn_unref(arg);
}

/* Adds the channel for c from the peer's offer; rx blocked until its {dpdist_switch}. */
static bool add_channel(struct conn *c, uint64_t local_session, const struct dpctl_offer *o)
{
    struct dpc_node *dp = c->node->dp;
    const struct dp_engine_params *p = dp_engine_params(dp->engine);
    struct dp_chan_cfg cc = {
        .local_session = local_session,
        .peer_session = o->session,
        .peer_ip = o->ip,
        .peer_port = o->port,
        .mtu = o->mtu < dp_engine_mtu(dp->engine) ? o->mtu : dp_engine_mtu(dp->engine),
        .window_frames = o->window < p->chan.window_frames ? o->window : p->chan.window_frames,
        .hb_interval_ns = o->hb_ns > p->chan.hb_interval_ns ? o->hb_ns : p->chan.hb_interval_ns,
        .hb_missed_limit = p->chan.hb_missed_limit,
        .deliver = on_deliver,
        .down = on_down,
        .ctx = c,
        .rx_blocked = !atomic_load(&c->dp_peer_switched),
    };
    memcpy(cc.peer_mac, o->mac, 6);
    if (!c->dp_ctl && !(c->dp_ctl = malloc(sizeof(*c->dp_ctl))))
        return false;
    char err[DP_ERR_LEN];
    conn_ref(c); /* the channel's reference, dropped when it is retired */
    struct dp_chan *ch = dp_chan_add(dp->engine, &cc, err, sizeof(err));
    if (!ch) {
        conn_unref(c);
        DLOG_WARN(c->node->log_name, "data-plane channel to %s not created: %s; staying on TCP",
                  c->peer, err);
        return false;
    }
    c->dp_chan = ch;
    atomic_store(&c->dp_send_chan, ch);
    return true;
}

/* Sends {dpdist_switch} as our last TCP message and moves our sends to DPDK. */
static void switch_carrier(struct conn *c)
{
    uint8_t term[32];
    struct dpctl_msg m = {.kind = DPCTL_SWITCH};
    size_t len = dpctl_encode(&m, term, sizeof(term));
    ei_x_buff ctl;
    ei_x_new(&ctl);
    if (len && distmsg_encode_reg_send(&ctl, &c->node->system->pid, MESH_NAME) == DISTMSG_OK) {
        struct obuf *b = obuf_build(&ctl, term, len, 0, RT_LANE_EXPRESS);
        if (b) {
            conn_switch_carrier(c, b, &dp_carrier);
            obuf_unref(b);
        }
    }
    ei_x_free(&ctl);
    DLOG_INFO(c->node->log_name, "%s: traffic to %s moves to the DPDK data plane",
              c->node->name, c->peer);
}

/* c is up: the initiator of a connection between two dpdist nodes offers the upgrade. */
static void dp_glue_maybe_upgrade(struct conn *c)
{
    struct dd_node *n = c->node;
    if (!c->initiator || !c->peer_dpdist)
        return;
    if (!n->dp || !c->dp_peer_has_dp) {
        DLOG_INFO(n->log_name, "%s stays on TCP: %s has no data plane", c->peer,
                  !n->dp ? "this node" : "the peer");
        return;
    }
    c->dp_local_session = random_session();
    send_offer(c, DPCTL_REQ, c->dp_local_session);
}

static void send_nak(struct conn *c, const char *why)
{
    struct dpctl_msg m = {.kind = DPCTL_NAK};
    snprintf(m.reason, sizeof(m.reason), "%s", why);
    send_ctl_msg(c, &m);
    DLOG_INFO(c->node->log_name, "%s stays on TCP: %s", c->peer, why);
}

/* An upgrade message from the peer, decoded (rc: dpctl_decode's result). */
struct upgrade_work {
    struct conn *c;
    enum dpctl_result rc;
    struct dpctl_msg m;
};

/* Acceptor: the initiator's offer. */
static void on_req(struct conn *c, const struct upgrade_work *w)
{
    if (c->initiator || c->dp_chan)
        return;
    if (!c->node->dp) {
        send_nak(c, "no_data_plane");
    } else if (w->rc != DPCTL_OK) {
        DLOG_DBG(c->node->log_name, "upgrade offer from %s: %s", c->peer, dpctl_strerror(w->rc));
        send_nak(c, "bad_offer");
    } else {
        c->dp_local_session = random_session();
        if (!add_channel(c, c->dp_local_session, &w->m.offer)) {
            send_nak(c, "channel_failed");
        } else {
            send_offer(c, DPCTL_ACK, c->dp_local_session);
            switch_carrier(c);
        }
    }
}

/* Initiator: the acceptor's offer in answer to ours. */
static void on_ack(struct conn *c, const struct upgrade_work *w)
{
    if (!c->initiator || c->dp_chan || !c->node->dp)
        return;
    if (w->rc == DPCTL_OK && add_channel(c, c->dp_local_session, &w->m.offer))
        switch_carrier(c);
    else
        DLOG_WARN(c->node->log_name, "upgrade answer from %s unusable (%s): staying on TCP",
                  c->peer, w->rc == DPCTL_OK ? "no channel" : dpctl_strerror(w->rc));
}

static void on_nak(struct conn *c, const struct upgrade_work *w)
{
    DLOG_INFO(c->node->log_name, "%s declined the data-plane upgrade (%s): staying on TCP",
              c->peer, w->rc == DPCTL_OK ? w->m.reason : "?");
}

static void upgrade_handle(struct upgrade_work *w)
{
    struct conn *c = w->c;
    if (atomic_load(&c->state) == CONN_UP) {
        switch (w->m.kind) {
        case DPCTL_REQ:
            on_req(c, w);
            break;
        case DPCTL_ACK:
            on_ack(c, w);
            break;
        case DPCTL_NAK:
            on_nak(c, w);
            break;
        default:
            break;
        }
    }
    conn_unref(c);
}

static void upgrade_on_control(struct dd_node *n, void *arg)
{
    (void)n;
    upgrade_handle(arg);
    free(arg);
}

static void dp_glue_upgrade_msg(struct conn *c, const struct dpctl_msg *m,
                                enum dpctl_result rc)
{
    if (m->kind == DPCTL_SWITCH) {
        if (rc != DPCTL_OK)
            return;
        /* In order with the TCP stream: everything the peer sent on TCP before is in. The
         * channel may not exist yet (its creation can lag behind on the control thread):
         * then it is created unblocked. */
        atomic_store(&c->dp_peer_switched, true);
        if (c->dp_chan)
            dp_chan_unblock_rx(c->dp_chan);
        return;
    }
    /* The rest touches the engine's slow path: on the control thread, in stream order. */
    if (ctl_is_control_thread(c->node)) {
        struct upgrade_work now = {.c = c, .rc = rc, .m = *m};
        conn_ref(c);
        upgrade_handle(&now);
        return;
    }
    struct upgrade_work *w = malloc(sizeof(*w));
    if (!w)
        return;
    w->c = c;
    w->rc = rc;
    w->m = *m;
    conn_ref(c);
    ctl_post(c->node, upgrade_on_control, w);
}

static void dp_glue_detach(struct conn *c)
{
    struct dp_chan *ch = c->dp_chan;
    if (!ch)
        return;
    c->dp_chan = NULL;
    dp_chan_close(ch, chan_retired, c);
}

static void dp_glue_conn_fini(struct conn *c)
{
    struct dp_chan *ch = atomic_exchange(&c->dp_send_chan, NULL);
    dp_chan_free(ch);
    free(c->dp_ctl);
}

/* ---- diagnostics -------------------------------------------------------------------- */

static int dp_glue_summary(struct dd_node *n, FILE *out)
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
    return DD_OK;
}

static void dp_carrier_peer_stats(struct conn *c, struct dd_peer_stats *out)
{
    /* An application thread (dd_peer_stats): see dp_consumed_hook. */
    struct dp_chan *ch = atomic_load(&c->dp_send_chan);
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
}

static int dp_glue_fault(struct dd_node *n, bool enable)
{
    if (!n->dp || !n->dp->cfg.fault.enabled)
        return lasterr_set(DD_ENOTFOUND, "%s has no fault injection configured", n->name);
    dp_engine_set_fault(n->dp->engine, enable);
    return DD_OK;
}

const struct rt_transport dpc_transport = {
    .name = "dpdk",
    .node_start = dp_glue_start,
    .node_stop = dp_glue_stop,
    .trailer_caps = dp_glue_trailer_caps,
    .epmd_extra = dp_glue_epmd_extra,
    .conn_fini = dp_glue_conn_fini,
    .peer_trailer = dp_glue_peer_trailer,
    .peer_epmd_extra = dp_glue_note_extra,
    .conn_up = dp_glue_maybe_upgrade,
    .peer_msg = dp_glue_upgrade_msg,
    .conn_close = dp_glue_detach,
    .turn = dp_glue_check_events,
    .summary = dp_glue_summary,
    .fault = dp_glue_fault,
};
