/* The DPDK carrier's start and stop: the node's data plane from its config file (checked
 * whole before anything touches the NIC), EAL, the engine and its poller, and what the node
 * advertises (handshake trailer capability, EPMD Extra field) and learns from peers.
 * Slow path: node_start/node_stop's thread and the control thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "config/cfg.h"
#include "control/dpctl.h"
#include "dataplane/dp.h"
#include "dataplane/dp_limits.h"
#include "runtime/carrier_dpdk/dpc.h"
#include "runtime/core/conn.h"
#include "runtime/core/node.h"
#include "runtime/core/rcu.h"


static void poller_init(void *arg)
{
    (void)arg;
    rcu_rd_mark_permanent();
}

static void notify_control(void *arg)
{
    struct dd_node *n = arg;
    atomic_store(&n->dp->events, true);
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
    p->promiscuous = cfg->dataplane.promiscuous;
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

int dpc_node_start(struct dd_node *n, const struct rt_start *st, char *err, size_t errlen)
{
    if (!st->file)
        return DD_OK;
    const char *config_file = st->file->path;
    if (st->file->port.kind == CFG_PORT_NONE) {
        DLOG_INFO(n->log_name, "%s has no [port]: TCP only", config_file);
        return DD_OK;
    }
    struct dpc_node *dp = calloc(1, sizeof(*dp));
    if (!dp) {
        snprintf(err, errlen, "out of memory");
        return DD_ENOMEM;
    }
    dp->cfg = *st->file; /* plain data: the strings are arrays inside */
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
    if (dp->inline_poll) {
        n->poller = &dpc_inline_poller; /* receivers and the control thread poll */
        int rc = dpc_watchdog_start(n);  /* ... and the watchdog when they do not */
        if (rc != 0)
            DLOG_WARN(n->log_name, "no watchdog poller (%s): liveness depends on the "
                      "application threads and the control thread", strerror(-rc));
    }
    DLOG_INFO(n->log_name, "DPDK data plane on %s (%s polling)", dp->cfg.port.kind == CFG_PORT_PCI
                                                                    ? dp->cfg.port.pci
                                                                    : dp->cfg.port.vdev,
              dp->inline_poll ? "inline" : "lcore");
    return DD_OK;
}

void dpc_node_stop(struct dd_node *n)
{
    struct dpc_node *dp = n->dp;
    if (!dp)
        return;
    dpc_watchdog_stop(n); /* it polls through n->dp */
    n->dp = NULL;
    n->poller = NULL;
    urcu_qsbr_barrier(); /* channels retired with call_rcu are freed first */
    dp_engine_destroy(dp->engine);
    dp_eal_release();
    pthread_mutex_destroy(&dp->copy_lock);
    free(dp);
}

/* ---- advertising -------------------------------------------------------------------- */

uint8_t dpc_trailer_caps(struct dd_node *n)
{
    return n->dp ? DPCTL_CAP_DATA_PLANE : 0;
}

size_t dpc_epmd_extra(struct dd_node *n, uint8_t *buf, size_t cap)
{
    if (!n->dp)
        return 0;
    struct dpctl_endpoint ep;
    dp_engine_endpoint(n->dp->engine, ep.mac, &ep.ip, &ep.port);
    return dpctl_extra_encode(buf, cap, &ep);
}

void dpc_peer_trailer(struct conn *c, const struct dpctl_trailer *t)
{
    if (c->dp)
        c->dp->peer_has_dp = dpctl_trailer_has_data_plane(t);
}

void dpc_peer_epmd_extra(struct conn *c, const uint8_t *extra, size_t len)
{
    /* The handshake trailer is authoritative (it is authenticated); the Extra field is
     * informational for tools (dpdist-epmd -names shows nothing of it, PORT_PLEASE2 does). */
    struct dpctl_endpoint ep;
    if (dpctl_extra_parse(extra, len, &ep) == DPCTL_OK)
        DLOG_DBG(c->node->log_name, "%s advertises a data plane at %u.%u.%u.%u:%u", c->peer,
                 ep.ip >> 24, (ep.ip >> 16) & 255, (ep.ip >> 8) & 255, ep.ip & 255, ep.port);
}

