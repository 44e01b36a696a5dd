/* The DPDK carrier's start and stop: the node's data plane from its config file (checked
 * whole before anything touches the NIC), EAL, the engine and its poller, and what the node
 * advertises (handshake trailer capability, EPMD Extra field) and learns from peers.
 * Slow path: node_start/node_stop's thread and the control thread. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "config/cfg.h"
#include "control/dpctl.h"
#include "dataplane/dp.h"
#include "runtime/carrier_dpdk/dpc.h"
#include "runtime/carrier_dpdk/dpc_engine.h"
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
    struct dpc_engine_hooks h = {
        .name = n->name,
        .reasm_budget = &n->reasm_budget, /* shared with TCP and the other channels */
        .poller_init = poller_init,
        .notify = notify_control,
        .notify_arg = n,
    };
    int erc;
    dp->engine = dpc_engine_start(&dp->cfg, &h, &erc, err, errlen);
    if (!dp->engine) {
        free(dp);
        return erc == -ENOMEM ? DD_ENOMEM : erc == -EINVAL ? DD_ECONFIG : DD_EIO;
    }
    dp->inline_poll = dp_engine_inline(dp->engine);
    dp->busy_poll_ns = (uint64_t)dp->cfg.eal.busy_poll_us * 1000;
    dp->idle_sleep_ns = (uint64_t)dp->cfg.eal.idle_sleep_us * 1000;
    pthread_mutex_init(&dp->copy_lock, NULL);
    pthread_mutex_init(&dp->watchdog_arm_lock, NULL);
    dp->watchdog_tfd = -1;
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
    dpc_engine_stop(dp->engine);
    pthread_mutex_destroy(&dp->copy_lock);
    pthread_mutex_destroy(&dp->watchdog_arm_lock);
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

