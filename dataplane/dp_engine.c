/* The data-plane engine's slow path: EAL, the port and its mempool, channels being added and
 * retired, and the any-thread entry points (send, consumed, inline poll). The poll loop itself
 * is in dp_worker.c.
 *
 * Channel lifetime: dp_chan_add creates the protocol object, publishes the channel in the
 * peer table (receive demux) and in the engine's array (what the poller transmits for).
 * dp_chan_close asks the poller to send CLOSE; once it has, the control thread unpublishes
 * the channel and frees it with call_rcu, after every poller has passed a quiescent state.
 *
 * The send byte budget (dp_chan_send; fields in dp_pvt.h), in liburcu's style of statement
 * (docs/architecture.md, "Lock-free constructs"):
 *   - senders (any thread, any number): load(acked_bytes) first, then load(submitted_bytes),
 *     then CAS(submitted_bytes, sub, sub + len), all seq_cst (stronger than needed), looping
 *     while the CAS fails. Lock-free, not wait-free: a failed CAS means another sender's
 *     reservation (or a give-back) succeeded. The message is then published through the
 *     channel's MP-RTS rte_ring (lock-free producers, one consumer: the poller); a full ring
 *     gives the reservation back (fetch_sub) and -EAGAIN.
 *   - acked_bytes has one writer, the poller (dp_worker.c: store release), and only grows.
 *     Read before submitted_bytes, it never exceeds it, so sub - acked cannot wrap; a stale
 *     value only refuses early (a spurious -EAGAIN), never admits more than the bound plus
 *     one message (a message larger than the bound goes alone, when nothing is pending).
 *   Invariant: one writer of acked_bytes.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_alarm.h>
#include <rte_bus_vdev.h>
#include <rte_cycles.h>
#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_mempool.h>
#include <rte_pause.h>
#include <rte_tm.h>

#include "common/bigbuf.h"
#include "common/clock.h"
#include "common/log.h"
#include "dataplane/dp_auth.h"
#include "dataplane/dp_devargs.h"
#include "dataplane/dp_limits.h"
#include "dataplane/dp_portlim.h"
#include "dataplane/dp_pvt.h"

#define LOG_MOD "dataplane"

static pthread_mutex_t g_eal_lock = PTHREAD_MUTEX_INITIALIZER;

/* Bytes the express lane may queue above tx_queue_bytes (dp_chan_send). */
#define DP_EXPRESS_RESERVE (1u << 20)

/* TSC -> ns: ns = base_ns + ((tsc - base_tsc) * mult) >> 32. */
static uint64_t g_tsc_base, g_ns_base, g_tsc_mult;

static void calibrate_tsc(void)
{
    uint64_t t0 = clock_now_ns(), c0 = rte_rdtsc();
    while (clock_now_ns() - t0 < 20000000) /* 20 ms */
        ;
    uint64_t t1 = clock_now_ns(), c1 = rte_rdtsc();
    if (c1 <= c0)
        return;
    g_tsc_mult = (uint64_t)(((__uint128_t)(t1 - t0) << 32) / (c1 - c0));
    g_ns_base = t1;
    g_tsc_base = c1;
}

uint64_t dp_clock_ns(void)
{
    if (unlikely(g_tsc_mult == 0))
        return clock_now_ns();
    return g_ns_base + (uint64_t)(((__uint128_t)(rte_rdtsc() - g_tsc_base) * g_tsc_mult) >> 32);
}
static int g_eal_users;
static bool g_eal_ok;

int dp_eal_init(int argc, char **argv, char *err, size_t errlen)
{
    pthread_mutex_lock(&g_eal_lock);
    if (g_eal_ok) {
        g_eal_users++;
        pthread_mutex_unlock(&g_eal_lock);
        DLOG_INFO(LOG_MOD, "EAL already initialised in this process; this node's EAL "
                           "options are not applied");
        return 1;
    }
    rte_log_set_global_level(dlog_enabled(DLOG_DEBUG) ? RTE_LOG_INFO : RTE_LOG_WARNING);
    int rc = rte_eal_init(argc, argv);
    if (rc < 0) {
        int e = rte_errno > 0 ? rte_errno : EIO;
        snprintf(err, errlen, "EAL initialisation failed: %s",
                 rte_errno ? rte_strerror(rte_errno) : "see the EAL messages above");
        pthread_mutex_unlock(&g_eal_lock);
        return -e;
    }
    g_eal_ok = true;
    g_eal_users = 1;
    calibrate_tsc();
    pthread_mutex_unlock(&g_eal_lock);
    return 0;
}

void dp_eal_release(void)
{
    pthread_mutex_lock(&g_eal_lock);
    if (g_eal_users > 0)
        g_eal_users--;
    /* rte_eal_cleanup() cannot be followed by another rte_eal_init() in the same process,
     * so EAL stays for the process's life; DPDK releases it at exit. */
    pthread_mutex_unlock(&g_eal_lock);
}

/* ---- the port --------------------------------------------------------------------- */

/* "net_ring...,pair=NAME,side=0|1": a crossed pair of rings between two engines of this
 * process (a plain net_ring vdev loops back to itself). */
static int make_ring_pair(struct dp_engine *e, const char *spec, char *err, size_t errlen)
{
    char pair[32] = "", side[4] = "";
    if (!dp_devargs_get(spec, "pair", pair, sizeof(pair)) ||
        !dp_devargs_get(spec, "side", side, sizeof(side)) || !pair[0] ||
        (strcmp(side, "0") && strcmp(side, "1"))) {
        snprintf(err, errlen, "ring pair '%s': needs pair=NAME and side=0 or side=1", spec);
        return -1;
    }
    /* Per direction one ring per queue pair: data (4096 frames) and pulse (DP_PULSE_DESC), so
     * the pair behaves like a memif pair, frames of a transmit queue arriving on the receive
     * queue of the same id. */
    static const char *const kind[DP_PORT_TX_QUEUES] = {"d", "p"};
    static const unsigned size[DP_PORT_TX_QUEUES] = {4096, DP_PULSE_DESC};
    _Static_assert(DP_QUEUE_DATA == 0 && DP_QUEUE_PULSE == 1, "ring order = queue ids");
    struct rte_ring *r[2][DP_PORT_TX_QUEUES]; /* [direction: a to b, b to a][queue] */
    for (int dir = 0; dir < 2; dir++)
        for (int q = 0; q < DP_PORT_TX_QUEUES; q++) {
            char name[RTE_RING_NAMESIZE];
            snprintf(name, sizeof(name), "%s_%s%s", pair, dir ? "ba" : "ab", kind[q]);
            r[dir][q] = rte_ring_lookup(name);
            if (!r[dir][q])
                r[dir][q] = rte_ring_create(name, size[q], (int)rte_socket_id(),
                                            RING_F_SP_ENQ | RING_F_SC_DEQ);
            if (!r[dir][q]) {
                snprintf(err, errlen, "cannot create ring %s: %s", name, rte_strerror(rte_errno));
                return -1;
            }
        }
    struct rte_ring **rx = side[0] == '0' ? r[1] : r[0];
    struct rte_ring **tx = side[0] == '0' ? r[0] : r[1];
    /* queues=1: the data rings only, a port with one queue pair (as af_packet with
     * qpairs=1), for tests of the shared queue. Both sides must say the same. */
    char queues[4] = "";
    unsigned nq = DP_PORT_TX_QUEUES;
    if (dp_devargs_get(spec, "queues", queues, sizeof(queues))) {
        if (strcmp(queues, "1") && strcmp(queues, "2")) {
            snprintf(err, errlen, "ring pair '%s': queues must be 1 or 2", spec);
            return -1;
        }
        nq = queues[0] == '1' ? DP_PORT_QUEUES_MIN : DP_PORT_TX_QUEUES;
    }
    snprintf(e->dev_name, sizeof(e->dev_name), "%s_%s", pair, side);
    int port = rte_eth_from_rings(e->dev_name, rx, nq, tx, nq, rte_socket_id());
    if (port < 0) {
        snprintf(err, errlen, "cannot create the ring port %s: %s", e->dev_name,
                 rte_strerror(rte_errno));
        return -1;
    }
    e->port_id = (uint16_t)port;
    e->owns_port = true;
    return 0;
}

static int find_port(struct dp_engine *e, char *err, size_t errlen)
{
    const char *spec = e->p.port;
    if (!spec || !*spec) {
        snprintf(err, errlen, "no port configured");
        return -1;
    }
    if (strncmp(spec, "net_ring", 8) == 0 && dp_devargs_has(spec, "pair"))
        return make_ring_pair(e, spec, err, errlen);
    size_t n = strcspn(spec, ",");
    snprintf(e->dev_name, sizeof(e->dev_name), "%.*s", (int)n, spec);
    uint16_t port;
    if (rte_eth_dev_get_port_by_name(e->dev_name, &port) == 0) {
        e->port_id = port;
        return 0;
    }
    /* Not probed at EAL start (e.g. a second node in this process): hot-plug it. */
    bool is_vdev = strncmp(spec, "net_", 4) == 0;
    int rc = is_vdev ? rte_vdev_init(e->dev_name, spec + n + (spec[n] == ',')) : -ENODEV;
    if (rc == 0 && rte_eth_dev_get_port_by_name(e->dev_name, &port) == 0) {
        e->port_id = port;
        e->owns_port = true;
        return 0;
    }
    snprintf(err, errlen, "port %s not found (%s)", e->dev_name,
             is_vdev ? "the vdev could not be created" : "is the device bound to a DPDK driver?");
    return -1;
}

/* Strict priority for the pulse transmit queue at the port's scheduler, where the PMD has
 * rte_tm: a root node with two strict-priority levels and the two queues as its leaves
 * (pulse at priority 0). Virtual devices (memif, af_packet, ring) have no rte_tm: the pulse
 * queue then has its own descriptor ring only, served in the order the PMD drains its
 * queues. Best effort: any refusal is logged and the port runs with its default hierarchy.
 * Before rte_eth_dev_start (the hierarchy is committed to a stopped port). */
static bool setup_pulse_priority(struct dp_engine *e)
{
    enum { ROOT_NODE_ID = 1000000 };
    struct rte_tm_capabilities cap;
    struct rte_tm_error terr = {0};
    int rc = rte_tm_capabilities_get(e->port_id, &cap, &terr);
    if (rc != 0) {
        DLOG_INFO(LOG_MOD, "port %s: no traffic manager (rte_tm: %s)", e->dev_name,
                  rte_strerror(-rc));
        return false;
    }
    if (cap.sched_sp_n_priorities_max < 2) {
        DLOG_INFO(LOG_MOD, "port %s: rte_tm has %u strict priorities: no pulse priority",
                  e->dev_name, cap.sched_sp_n_priorities_max);
        return false;
    }
    struct rte_tm_node_params root = {.shaper_profile_id = RTE_TM_SHAPER_PROFILE_ID_NONE};
    root.nonleaf.n_sp_priorities = 2;
    struct rte_tm_node_params leaf = {.shaper_profile_id = RTE_TM_SHAPER_PROFILE_ID_NONE};
    leaf.leaf.cman = RTE_TM_CMAN_TAIL_DROP;
    leaf.leaf.wred.wred_profile_id = RTE_TM_WRED_PROFILE_ID_NONE;
    const char *step = "root node";
    rc = rte_tm_node_add(e->port_id, ROOT_NODE_ID, RTE_TM_NODE_ID_NULL, 0, 1,
                         RTE_TM_NODE_LEVEL_ID_ANY, &root, &terr);
    if (rc == 0) {
        step = "pulse leaf";
        rc = rte_tm_node_add(e->port_id, DP_QUEUE_PULSE, ROOT_NODE_ID, 0, 1,
                             RTE_TM_NODE_LEVEL_ID_ANY, &leaf, &terr);
    }
    if (rc == 0) {
        step = "data leaf";
        rc = rte_tm_node_add(e->port_id, DP_QUEUE_DATA, ROOT_NODE_ID, 1, 1,
                             RTE_TM_NODE_LEVEL_ID_ANY, &leaf, &terr);
    }
    if (rc == 0) {
        step = "commit";
        rc = rte_tm_hierarchy_commit(e->port_id, 1, &terr);
    }
    if (rc != 0) {
        DLOG_WARN(LOG_MOD, "port %s: rte_tm refused the pulse priority at %s (%s: %s)",
                  e->dev_name, step, rte_strerror(-rc), terr.message ? terr.message : "");
        return false;
    }
    return true;
}

/* The port carries a whole frame of the configured MTU in one buffer (dp_portlim.h), or
 * the engine refuses it before touching the device: the channel cuts messages at this MTU
 * (dp_chan_add), and a frame the device chains or truncates is lost. A virtual device's
 * limit is its buffer size (memif reports the same max_mtu whatever bsize is); a NIC's is its
 * max_mtu, checked once probed (setup_port). */
static int check_frame_fits(const struct dp_engine *e, char *err, size_t errlen)
{
    unsigned frame = (unsigned)e->mtu + DP_ETH_HDR_BYTES;
    struct dp_portlim lim = dp_portlim_of(e->p.port);
    if (lim.devarg[0] && lim.frame_max_bytes < frame) {
        snprintf(err, errlen,
                 "port %s: mtu %u makes %u-byte frames, but %s=%u holds frames of at most %u "
                 "bytes; set %s=%u in the vdev, or lower mtu",
                 e->p.port, e->mtu, frame, lim.devarg, lim.devarg_value, lim.frame_max_bytes,
                 lim.devarg, dp_portlim_devarg_for(&lim, frame));
        return -1;
    }
    return 0;
}

/* Frames to our MAC only, unless the configuration asks for promiscuous mode: a configured
 * MAC other than the port's is programmed as its default address (or added as a second one);
 * a port that can do neither is put in promiscuous mode, and says so (the software check of
 * the destination, dp_auth_rx, holds either way). */
static int port_set_filter(struct dp_engine *e, const struct rte_ether_addr *port_mac)
{
    const char *why = NULL;
    if (e->p.promiscuous) {
        why = "asked by the configuration";
    } else if (memcmp(port_mac->addr_bytes, e->mac, 6) != 0) {
        struct rte_ether_addr want;
        memcpy(want.addr_bytes, e->mac, 6);
        if (rte_eth_dev_default_mac_addr_set(e->port_id, &want) != 0 &&
            rte_eth_dev_mac_addr_add(e->port_id, &want, 0) != 0)
            why = "the port cannot filter for the configured MAC";
    }
    if (why) {
        rte_eth_promiscuous_enable(e->port_id);
        e->promiscuous = rte_eth_promiscuous_get(e->port_id) == 1;
        DLOG_INFO(LOG_MOD, "port %s: promiscuous mode (%s)", e->dev_name, why);
    } else {
        rte_eth_promiscuous_disable(e->port_id); /* some drivers start in it */
        e->promiscuous = rte_eth_promiscuous_get(e->port_id) == 1;
    }
    return 0;
}

static int setup_port(struct dp_engine *e, char *err, size_t errlen)
{
    struct rte_eth_dev_info info;
    int rc = rte_eth_dev_info_get(e->port_id, &info);
    if (rc != 0) {
        snprintf(err, errlen, "port %s: no device info: %s", e->dev_name, rte_strerror(-rc));
        return -1;
    }
    struct rte_eth_conf conf;
    memset(&conf, 0, sizeof(conf));
    if (e->p.want_ipv4_cksum_offload &&
        (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM)) {
        conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
        e->tx_ip_cksum = true;
    }
    if (e->p.want_ipv4_cksum_offload && (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM)) {
        conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_IPV4_CKSUM;
        e->rx_ip_cksum = true;
    }
    /* A data pair, and a pulse pair where the port has a second one (dp_worker.c: port_rx,
     * port_tx); a port with one pair carries the pulse lane on it. */
    _Static_assert(DP_PORT_RX_QUEUES == 2 && DP_PORT_TX_QUEUES == 2 && DP_QUEUE_DATA == 0 &&
                       DP_QUEUE_PULSE == 1 && DP_PORT_QUEUES_MIN == 1,
                   "dp_worker.c polls and sends on a data pair and maybe a pulse pair");
    e->n_queues = info.max_rx_queues >= DP_PORT_RX_QUEUES && info.max_tx_queues >= DP_PORT_TX_QUEUES
                      ? DP_PORT_RX_QUEUES
                      : DP_PORT_QUEUES_MIN;
    rc = rte_eth_dev_configure(e->port_id, e->n_queues, e->n_queues, &conf);
    if (rc != 0) {
        snprintf(err, errlen, "port %s: configure failed: %s", e->dev_name, rte_strerror(-rc));
        return -1;
    }
    if (strncmp(e->p.port, "net_", 4) != 0 && info.max_mtu && e->mtu > info.max_mtu) {
        snprintf(err, errlen, "port %s: mtu %u is above the device's largest, %u; lower mtu",
                 e->dev_name, e->mtu, info.max_mtu);
        return -1;
    }
    rc = rte_eth_dev_set_mtu(e->port_id, e->mtu);
    if (rc != 0 && rc != -ENOTSUP)
        DLOG_WARN(LOG_MOD, "port %s: MTU %u not set (%s); frames stay within it anyway",
                  e->dev_name, e->mtu, rte_strerror(-rc));
    uint16_t rxd = e->p.rx_desc ? e->p.rx_desc : 1024, txd = e->p.tx_desc ? e->p.tx_desc : 1024;
    rte_eth_dev_adjust_nb_rx_tx_desc(e->port_id, &rxd, &txd);
    int socket = rte_eth_dev_socket_id(e->port_id);
    if (socket < 0)
        socket = (int)rte_socket_id();
    char pool_name[RTE_MEMPOOL_NAMESIZE];
    snprintf(pool_name, sizeof(pool_name), "dp%u_%d", e->port_id, (int)getpid() % 100000);
    uint32_t room = e->p.data_room ? e->p.data_room : RTE_MBUF_DEFAULT_BUF_SIZE;
    if (room < (uint32_t)e->mtu + 14 + RTE_PKTMBUF_HEADROOM)
        room = (uint32_t)e->mtu + 14 + RTE_PKTMBUF_HEADROOM;
    e->pool = rte_pktmbuf_pool_create(pool_name, e->p.mbufs ? e->p.mbufs : 8191,
                                      e->p.mbuf_cache ? e->p.mbuf_cache : 256, 0,
                                      (uint16_t)room, socket);
    if (!e->pool) {
        snprintf(err, errlen, "port %s: cannot create the mempool (%u mbufs of %u bytes): %s",
                 e->dev_name, e->p.mbufs, room, rte_strerror(rte_errno));
        return -1;
    }
    struct rte_eth_txconf txconf = info.default_txconf;
    txconf.offloads = conf.txmode.offloads;
    if ((rc = rte_eth_rx_queue_setup(e->port_id, DP_QUEUE_DATA, rxd, (unsigned)socket, NULL,
                                     e->pool)) != 0 ||
        (rc = rte_eth_tx_queue_setup(e->port_id, DP_QUEUE_DATA, txd, (unsigned)socket,
                                     &txconf)) != 0) {
        snprintf(err, errlen, "port %s: queue set-up failed: %s", e->dev_name,
                 rte_strerror(-rc));
        return -1;
    }
    if (e->n_queues > DP_PORT_QUEUES_MIN) {
        uint16_t prxd = DP_PULSE_DESC, ptxd = DP_PULSE_DESC;
        rte_eth_dev_adjust_nb_rx_tx_desc(e->port_id, &prxd, &ptxd);
        if ((rc = rte_eth_rx_queue_setup(e->port_id, DP_QUEUE_PULSE, prxd, (unsigned)socket,
                                         NULL, e->pool)) != 0 ||
            (rc = rte_eth_tx_queue_setup(e->port_id, DP_QUEUE_PULSE, ptxd, (unsigned)socket,
                                         &txconf)) != 0) {
            snprintf(err, errlen, "port %s: pulse queue set-up failed: %s", e->dev_name,
                     rte_strerror(-rc));
            return -1;
        }
        e->pulse_sp = setup_pulse_priority(e);
    }
    if (e->n_queues == DP_PORT_QUEUES_MIN)
        DLOG_INFO(LOG_MOD,
                  "port %s: one queue pair: the pulse lane shares it with data, data in flight "
                  "ahead of it %s %lu bytes (tx_data_ahead, docs/dataplane.md §7)",
                  e->dev_name, e->p.tx_data_ahead_bytes ? "at most" : "unbounded:",
                  (unsigned long)e->p.tx_data_ahead_bytes);
    else
        DLOG_INFO(LOG_MOD, "port %s: %s", e->dev_name,
                  e->pulse_sp ? "pulse queue pair, strict priority at the port's scheduler (rte_tm)"
                              : "pulse queue pair (own descriptor rings; no rte_tm priority)");
    /* A memif client connects while starting and fails if the server is not up yet. */
    for (int attempt = 0;; attempt++) {
        rc = rte_eth_dev_start(e->port_id);
        if (rc == 0 || attempt >= 100)
            break;
        usleep(100000);
    }
    if (rc != 0) {
        snprintf(err, errlen, "port %s: start failed: %s", e->dev_name, rte_strerror(-rc));
        return -1;
    }
    e->port_started = true;
    struct rte_ether_addr mac;
    rte_eth_macaddr_get(e->port_id, &mac);
    static const uint8_t zero[6];
    if (memcmp(e->p.mac, zero, 6) != 0)
        memcpy(e->mac, e->p.mac, 6);
    else
        memcpy(e->mac, mac.addr_bytes, 6);
    return port_set_filter(e, &mac);
}

struct dp_engine *dp_engine_create(const struct dp_engine_params *p, char *err, size_t errlen)
{
    struct dp_engine *e = calloc(1, sizeof(*e));
    if (!e) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    e->p = *p;
    snprintf(e->name, sizeof(e->name), "%s", p->name ? p->name : "dpdist");
    e->p.name = e->name;
    snprintf(e->port_spec, sizeof(e->port_spec), "%s", p->port ? p->port : "");
    e->p.port = e->port_spec;
    e->lcore = p->poll_lcore;
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    /* PI: glibc's uncontended trylock/unlock stay one atomic instruction in user space */
    pthread_mutexattr_setprotocol(&ma, PTHREAD_PRIO_INHERIT);
    pthread_mutex_init(&e->poll_owner, &ma);
    pthread_mutexattr_destroy(&ma);
    atomic_store(&e->liveness_due_ns, UINT64_MAX);
    e->guard_slot = dp_mapguard_slot_get();
    if (e->guard_slot < 0) {
        snprintf(err, errlen, "this process already has %d data-plane engines", DP_MAPGUARD_SLOTS);
        free(e);
        return NULL;
    }
    if (e->p.tx_ring_msgs == 0)
        e->p.tx_ring_msgs = 4096;
    if (e->p.tx_queue_bytes == 0)
        e->p.tx_queue_bytes = 128u << 20;
    e->mtu = e->p.mtu ? e->p.mtu : 1500;
    if (check_frame_fits(e, err, errlen) < 0 || find_port(e, err, errlen) < 0 ||
        setup_port(e, err, errlen) < 0) {
        dp_engine_destroy(e);
        return NULL;
    }
    e->peers = peertab_create(64);
    if (!e->peers) {
        snprintf(err, errlen, "cannot create the peer table");
        dp_engine_destroy(e);
        return NULL;
    }
    if (p->fault_on) {
        dp_fault_init(&e->fault_rx, &p->fault, 0x5eed);
        dp_fault_init(&e->fault_tx, &p->fault, 0x7e11);
        atomic_store(&e->fault_active, true);
    }
    if (e->lcore >= 0) {
        if (!rte_lcore_is_enabled((unsigned)e->lcore) ||
            (unsigned)e->lcore == rte_get_main_lcore()) {
            snprintf(err, errlen, "polling lcore %d is not an enabled worker lcore",
                     e->lcore);
            dp_engine_destroy(e);
            return NULL;
        }
        int rc = rte_eal_remote_launch(dp_worker_lcore_main, e, (unsigned)e->lcore);
        if (rc != 0) {
            snprintf(err, errlen, "cannot launch the poller on lcore %d: %s", e->lcore,
                     rte_strerror(-rc));
            dp_engine_destroy(e);
            return NULL;
        }
        e->launched = true;
    }
    dp_telemetry_register(e);
    DLOG_INFO(LOG_MOD,
              "%s: port %s up, %02x:%02x:%02x:%02x:%02x:%02x %u.%u.%u.%u:%u, mtu %u, %s polling%s",
              e->name, e->dev_name, e->mac[0], e->mac[1], e->mac[2], e->mac[3], e->mac[4],
              e->mac[5], p->ip >> 24, (p->ip >> 16) & 255, (p->ip >> 8) & 255, p->ip & 255,
              p->udp_port, e->mtu, e->lcore >= 0 ? "lcore" : "inline",
              p->fault_on ? ", FAULT INJECTION ON" : "");
    return e;
}

/* The protocol half of a retired channel (poller state): freed after a grace period. */
static void chan_retire(struct dp_chan *ch)
{
    if (ch->pending)
        dp_msg_unref(ch->pending);
    ch->pending = NULL;
    chan_destroy(ch->c);
    ch->c = NULL;
    dp_auth_chan_wipe(ch); /* the poller is past it: nothing seals or verifies any more */
    void (*done)(void *) = ch->done;
    if (done)
        done(ch->done_arg);
}

static void chan_retire_rcu(struct rcu_head *head)
{
    chan_retire(caa_container_of(head, struct dp_chan, rcu));
}

void dp_chan_free(struct dp_chan *ch)
{
    if (!ch)
        return;
    if (ch->txr) {
        void *m;
        while (rte_ring_dequeue(ch->txr, &m) == 0)
            dp_msg_unref(m);
        rte_ring_free(ch->txr);
    }
    dp_auth_chan_wipe(ch);
    free(ch);
}

/* Stops and closes the port (and removes a vdev we created). */
static void port_release_now(struct dp_engine *e)
{
    if (e->port_started) {
        rte_eth_dev_stop(e->port_id);
        rte_eth_dev_close(e->port_id);
        e->port_started = false;
    }
    if (e->owns_port && e->dev_name[0] && !dp_devargs_has(e->p.port ? e->p.port : "", "pair"))
        rte_vdev_uninit(e->dev_name);
}

struct port_release_req {
    struct dp_engine *e;
    _Atomic bool done;
};

static void port_release_alarm(void *arg)
{
    struct port_release_req *r = arg;
    port_release_now(r->e);
    atomic_store(&r->done, true);
}

/* Releases the port on EAL's interrupt thread, where drivers handle their own events: memif
 * tears a connection down there when the peer goes away, and a close on another thread at the
 * same moment races with it (two disconnects freeing the same regions: a crash when both
 * nodes of a pair stop together). Falls back to this thread if the alarm cannot be set or
 * does not run within 5 s. */
static void port_release(struct dp_engine *e)
{
    struct port_release_req *r = calloc(1, sizeof(*r));
    if (r) {
        r->e = e;
        if (rte_eal_alarm_set(1, port_release_alarm, r) == 0) {
            for (int i = 0; i < 5000 && !atomic_load(&r->done); i++)
                usleep(1000);
            if (!atomic_load(&r->done) && rte_eal_alarm_cancel(port_release_alarm, r) > 0) {
                DLOG_WARN(LOG_MOD, "%s: the interrupt thread did not release the port; "
                                   "releasing it here", e->name);
            } else {
                while (!atomic_load(&r->done)) /* ran, or is running: cannot be cancelled */
                    usleep(1000);
                free(r);
                return;
            }
        }
        free(r);
    }
    port_release_now(e);
}

void dp_engine_destroy(struct dp_engine *e)
{
    if (!e)
        return;
    dp_telemetry_unregister(e);
    if (e->launched) {
        atomic_store(&e->stop, true);
        rte_eal_wait_lcore((unsigned)e->lcore);
    }
    for (unsigned i = 0; i < DP_MAX_CHANS; i++) {
        struct dp_chan *ch = atomic_load(&e->chans[i]);
        if (!ch)
            continue;
        dp_telemetry_unpublish_chan(e, ch);
        if (e->peers)
            peertab_remove_sync(e->peers, ch->cfg.local_session);
        chan_retire(ch); /* the owner frees the handle (dp_chan_free) */
    }
    while (e->n_pulse)
        rte_pktmbuf_free(e->pulse[--e->n_pulse]);
    while (e->n_stage)
        rte_pktmbuf_free(e->stage[--e->n_stage]);
    dp_fault_flush(&e->fault_rx);
    dp_fault_flush(&e->fault_tx);
    if (e->peers)
        peertab_destroy(e->peers, NULL, NULL);
    port_release(e);
    dp_mapguard_slot_put(e->guard_slot); /* the poller is stopped, the port released */
    if (e->pool)
        rte_mempool_free(e->pool);
    pthread_mutex_destroy(&e->poll_owner);
    free(e);
}

void dp_engine_endpoint(const struct dp_engine *e, uint8_t mac[6], uint32_t *ip, uint16_t *port)
{
    memcpy(mac, e->mac, 6);
    *ip = e->p.ip;
    *port = e->p.udp_port;
}

uint16_t dp_engine_mtu(const struct dp_engine *e)
{
    return e->mtu;
}

const struct dp_engine_params *dp_engine_params(const struct dp_engine *e)
{
    return &e->p;
}

bool dp_engine_inline(const struct dp_engine *e)
{
    return e->lcore < 0;
}

/* Inline polling runs on application threads, which EAL does not know: without an lcore id
 * they have no mempool cache, and every mbuf taken or returned is an operation on the
 * pool's shared ring (40% of a busy node's time). A polling thread registers with EAL once
 * (rte_thread_register: an lcore id of the free ones) and gives its id back when it exits. */
static pthread_key_t g_lcore_key;
static pthread_once_t g_lcore_once = PTHREAD_ONCE_INIT;
static _Thread_local bool t_lcore_tried;

static void lcore_release(void *arg)
{
    (void)arg;
    rte_thread_unregister();
}

static void lcore_key_init(void)
{
    pthread_key_create(&g_lcore_key, lcore_release);
}

static void lcore_register_thread(void)
{
    t_lcore_tried = true;
    if (rte_lcore_id() != LCORE_ID_ANY)
        return;
    pthread_once(&g_lcore_once, lcore_key_init);
    if (rte_thread_register() == 0)
        pthread_setspecific(g_lcore_key, (void *)1);
    /* else (all lcore ids taken): it polls without a cache, slower but correct */
}

/* Runs the iterations with poll_owner held, and releases it. */
static unsigned poll_locked(struct dp_engine *e, unsigned iterations)
{
    unsigned work = 0;
    for (unsigned i = 0; i < iterations; i++)
        work += dp_worker_iteration(e);
    /* what a sleeping watchdog must wake for (dpc_watchdog.c): a few loads per channel */
    uint64_t due = UINT64_MAX;
    unsigned hi = atomic_load_explicit(&e->chan_hi, memory_order_acquire);
    for (unsigned i = 0; i < hi; i++) {
        struct dp_chan *ch = atomic_load_explicit(&e->chans[i], memory_order_acquire);
        uint64_t d = ch ? chan_liveness_deadline(ch->c) : UINT64_MAX;
        due = d < due ? d : due;
    }
    atomic_store_explicit(&e->liveness_due_ns, due, memory_order_relaxed);
    atomic_store_explicit(&e->last_poll_ns, dp_clock_ns(), memory_order_relaxed);
    pthread_mutex_unlock(&e->poll_owner);
    return work;
}

unsigned dp_engine_poll(struct dp_engine *e, unsigned iterations)
{
    if (e->lcore >= 0)
        return 0;
    if (!t_lcore_tried)
        lcore_register_thread();
    /* acquire here, release at the unlock: consecutive inline pollers see each other's
     * engine state; a thread that finds it taken goes on without polling */
    if (pthread_mutex_trylock(&e->poll_owner) != 0)
        return 0;
    return poll_locked(e, iterations);
}

unsigned dp_engine_poll_wait(struct dp_engine *e, unsigned iterations)
{
    if (e->lcore >= 0)
        return 0;
    if (!t_lcore_tried)
        lcore_register_thread();
    if (pthread_mutex_lock(&e->poll_owner) != 0)
        return 0;
    return poll_locked(e, iterations);
}

uint64_t dp_engine_last_poll_ns(const struct dp_engine *e)
{
    return atomic_load_explicit(&e->last_poll_ns, memory_order_relaxed);
}

uint64_t dp_engine_liveness_due_ns(const struct dp_engine *e)
{
    return atomic_load_explicit(&e->liveness_due_ns, memory_order_relaxed);
}

/* ---- channels ----------------------------------------------------------------------- */

/* Reassembly buffers: bigbuf (cached, already faulted in; never unmapped on the poller).
 * The runtime frees delivered ones with bigbuf_free. */
static void *reasm_alloc_bigbuf(void *ctx, size_t len)
{
    (void)ctx;
    return bigbuf_alloc(len, false);
}

static void reasm_free_bigbuf(void *ctx, void *buf, size_t len)
{
    (void)ctx;
    (void)len;
    bigbuf_free(buf);
}

static void chan_on_deliver(void *ctx, const chan_delivery *m)
{
    struct dp_chan *ch = ctx;
    ch->cfg.deliver(ch->cfg.ctx, m);
}

static void chan_on_down(void *ctx, enum chan_down_reason why)
{
    struct dp_chan *ch = ctx;
    atomic_store(&ch->is_up, false);
    if (why != CHAN_DOWN_LOCAL_CLOSE && ch->cfg.down)
        ch->cfg.down(ch->cfg.ctx, why);
    if (ch->e->p.notify)
        ch->e->p.notify(ch->e->p.notify_arg);
}

struct dp_chan *dp_chan_add(struct dp_engine *e, const struct dp_chan_cfg *cfg, char *err,
                            size_t errlen)
{
    unsigned slot;
    for (slot = 0; slot < DP_MAX_CHANS && atomic_load(&e->chans[slot]); slot++)
        ;
    if (slot == DP_MAX_CHANS) {
        snprintf(err, errlen, "this data plane already has %d channels", DP_MAX_CHANS);
        return NULL;
    }
    /* Aligned for its fauth keys (64 bytes). */
    struct dp_chan *ch = aligned_alloc(_Alignof(struct dp_chan),
                                       RTE_ALIGN_CEIL(sizeof(*ch), _Alignof(struct dp_chan)));
    if (!ch) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    memset(ch, 0, sizeof(*ch));
    ch->e = e;
    ch->cfg = *cfg;
    memset(&ch->cfg.auth, 0, sizeof(ch->cfg.auth)); /* the keys live in ch's fauth keys only */
    if (dp_auth_chan_init(ch, &cfg->auth, err, errlen) != 0) {
        free(ch);
        return NULL;
    }
    ch->idx = slot;
    rte_seqcount_init(&ch->stats_seq);
    atomic_init(&ch->rx_blocked, cfg->rx_blocked);
    atomic_init(&ch->is_up, true);
    struct chan_params p = e->p.chan;
    p.local_session = cfg->local_session;
    p.peer_session = cfg->peer_session;
    uint16_t mtu = cfg->mtu && cfg->mtu < e->mtu ? cfg->mtu : e->mtu;
    p.max_payload = (uint32_t)mtu - WIRE_L3_HDRS_LEN;
    if (cfg->window_frames)
        p.window_frames = cfg->window_frames;
    if (cfg->hb_interval_ns)
        p.hb_interval_ns = cfg->hb_interval_ns;
    if (cfg->hb_missed_limit)
        p.hb_missed_limit = cfg->hb_missed_limit;
    const char *bad = chan_params_error(&p);
    if (bad) {
        snprintf(err, errlen, "channel parameters: %s", bad);
        dp_auth_chan_wipe(ch);
        free(ch);
        return NULL;
    }
    struct chan_ops ops = {
        .deliver = chan_on_deliver,
        .down = chan_on_down,
        .alloc = {.alloc = reasm_alloc_bigbuf, .free = reasm_free_bigbuf, .ctx = NULL},
        .ctx = ch,
    };
    ch->c = chan_create(&p, &ops, dp_clock_ns());
    char rname[RTE_RING_NAMESIZE];
    static _Atomic unsigned ring_seq;
    snprintf(rname, sizeof(rname), "dpc%u_%u", (unsigned)getpid() % 100000,
             atomic_fetch_add(&ring_seq, 1));
    /* Senders are application threads that the kernel may preempt, often several on one
     * CPU: with the classic MP mode each producer spins until every earlier one (perhaps
     * descheduled) has published, a convoy that can stall sends for seconds. RTS (relaxed
     * tail sync) lets producers finish independently. */
    ch->txr = rte_ring_create(rname, e->p.tx_ring_msgs, SOCKET_ID_ANY,
                              RING_F_MP_RTS_ENQ | RING_F_SC_DEQ);
    if (!ch->c || !ch->txr) {
        snprintf(err, errlen, "cannot create the channel: %s",
                 !ch->c ? "protocol object" : rte_strerror(rte_errno));
        if (ch->txr)
            rte_ring_free(ch->txr);
        chan_destroy(ch->c);
        dp_auth_chan_wipe(ch);
        free(ch);
        return NULL;
    }
    memcpy(ch->ep.src_mac, e->mac, 6);
    memcpy(ch->ep.dst_mac, cfg->peer_mac, 6);
    ch->ep.src_ip = e->p.ip;
    ch->ep.dst_ip = cfg->peer_ip;
    ch->ep.src_port = e->p.udp_port;
    ch->ep.dst_port = cfg->peer_port;
    if (peertab_add(e->peers, cfg->local_session, ch) != 0) {
        snprintf(err, errlen, "session id collision");
        rte_ring_free(ch->txr);
        chan_destroy(ch->c);
        dp_auth_chan_wipe(ch);
        free(ch);
        return NULL;
    }
    atomic_store_explicit(&e->chans[slot], ch, memory_order_release);
    if (slot + 1 > atomic_load(&e->chan_hi))
        atomic_store_explicit(&e->chan_hi, slot + 1, memory_order_release);
    return ch;
}

void dp_chan_unblock_rx(struct dp_chan *ch)
{
    atomic_store(&ch->rx_blocked, false);
}

int dp_chan_send(struct dp_chan *ch, struct dp_msg *msg)
{
    struct dp_engine *e = ch->e;
    if (msg->len == 0 || msg->len > e->p.chan.max_msg_bytes)
        return -EMSGSIZE;
    for (;;) {
        if (!atomic_load(&ch->is_up) || atomic_load(&ch->close_req))
            return -ENOTCONN;
        /* Released bytes first: they never exceed the reservations made before them, so
         * sub - acked cannot wrap. */
        uint64_t acked = atomic_load(&ch->acked_bytes);
        uint64_t sub = atomic_load(&ch->submitted_bytes);
        /* A message larger than the whole bound may go when nothing else is pending. The
         * express lane has DP_EXPRESS_RESERVE bytes above the bound, so a stream of large
         * normal messages that fills it does not hold back a small express one. */
        uint64_t bound = e->p.tx_queue_bytes +
                         (msg->lane == WIRE_LANE_EXPRESS ? DP_EXPRESS_RESERVE : 0);
        if (sub - acked + msg->len > bound && sub != acked)
            return -EAGAIN;
        if (atomic_compare_exchange_weak(&ch->submitted_bytes, &sub, sub + msg->len))
            break;
    }
    dp_msg_ref(msg);
    if (rte_ring_enqueue(ch->txr, msg) != 0) { /* the ring's mode: MP RTS */
        dp_msg_unref(msg);
        atomic_fetch_sub(&ch->submitted_bytes, msg->len);
        return -EAGAIN;
    }
    return 0;
}

uint64_t dp_chan_queued_bytes(const struct dp_chan *ch)
{
    uint64_t acked = atomic_load(&ch->acked_bytes); /* first: see dp_chan_send */
    return atomic_load(&ch->submitted_bytes) - acked;
}

void dp_chan_consumed(struct dp_chan *ch, uint64_t bytes)
{
    atomic_fetch_add_explicit(&ch->consumed_pending, bytes, memory_order_relaxed);
}

void dp_chan_close(struct dp_chan *ch, void (*done)(void *arg), void *arg)
{
    struct dp_engine *e = ch->e;
    ch->done = done;
    ch->done_arg = arg;
    atomic_store(&ch->close_req, true);
    /* Give the poller a moment to send CLOSE (inline mode: do it here). */
    for (int i = 0; i < 200 && !atomic_load(&ch->closed); i++) {
        if (dp_engine_inline(e))
            dp_engine_poll(e, 1);
        else
            usleep(100);
    }
    dp_telemetry_unpublish_chan(e, ch);
    peertab_remove(e->peers, ch->cfg.local_session, NULL, NULL);
    urcu_qsbr_call_rcu(&ch->rcu, chan_retire_rcu);
}

bool dp_chan_is_up(const struct dp_chan *ch)
{
    return atomic_load(&ch->is_up);
}

/* Obstruction-free: retries while the poller is mid-update (an inline poller preempted
 * there keeps the reader spinning until it runs again; rte_pause between tries). */
void dp_chan_stats(const struct dp_chan *ch, struct chan_stats *out)
{
    uint32_t sn = rte_seqcount_read_begin(&ch->stats_seq);
    for (;;) {
        memcpy(out, &ch->stats, sizeof(*out));
        if (!rte_seqcount_read_retry(&ch->stats_seq, sn))
            return;
        rte_pause();
        sn = rte_seqcount_read_begin(&ch->stats_seq);
    }
}

uint64_t dp_chan_take_max_hb_gap(struct dp_chan *ch)
{
    return atomic_exchange(&ch->max_hb_gap_ns, 0);
}

uint64_t dp_chan_take_max_rx_gap(struct dp_chan *ch)
{
    return atomic_exchange(&ch->max_rx_gap_ns, 0);
}

void dp_engine_set_fault(struct dp_engine *e, bool enable)
{
    atomic_store(&e->fault_active, enable && e->p.fault_on);
}

void dp_engine_port_stats(const struct dp_engine *e, struct dp_port_stats *out)
{
    memcpy(out, &e->st, sizeof(*out));
    out->mbufs_in_use = e->pool ? rte_mempool_in_use_count(e->pool) : 0;
}

void dp_engine_summary(struct dp_engine *e, FILE *out)
{
    struct dp_port_stats ps;
    dp_engine_port_stats(e, &ps);
    fprintf(out, "data plane %s: port %s, mtu %u, %s polling\n", e->name, e->dev_name, e->mtu,
            e->lcore >= 0 ? "lcore" : "inline");
    fprintf(out, "  port: rx %lu frames %lu bytes, tx %lu frames %lu bytes, tx retries %lu, "
                 "pulse dropped %lu, no mbuf %lu, blocked %lu, data held for tx_data_ahead %lu\n",
            (unsigned long)ps.rx_frames, (unsigned long)ps.rx_bytes, (unsigned long)ps.tx_frames,
            (unsigned long)ps.tx_bytes, (unsigned long)ps.tx_full,
            (unsigned long)ps.tx_pulse_dropped, (unsigned long)ps.no_mbuf,
            (unsigned long)ps.rx_blocked, (unsigned long)ps.tx_ahead_held);
    for (int d = 0; d < WIRE_DROP__COUNT; d++)
        if (ps.rx_drops[d])
            fprintf(out, "  port drop %s: %lu\n", wire_drop_name((enum wire_drop)d),
                    (unsigned long)ps.rx_drops[d]);
    if (dp_mapguard_waits() || dp_mapguard_timeouts())
        fprintf(
            out, "  unmaps that waited for a poller's burst: %lu (longest %lu us), gave up: %lu\n",
            (unsigned long)dp_mapguard_waits(), (unsigned long)(dp_mapguard_max_wait_ns() / 1000),
            (unsigned long)dp_mapguard_timeouts());
    for (unsigned i = 0; i < DP_MAX_CHANS; i++) {
        struct dp_chan *ch = atomic_load(&e->chans[i]);
        if (!ch)
            continue;
        struct chan_stats s;
        dp_chan_stats(ch, &s);
        fprintf(out,
                "  channel %016lx -> %u.%u.%u.%u:%u %s: msgs tx %lu rx %lu, retransmits %lu, "
                "srtt %lu us, in flight %lu, credit stalls %lu\n",
                (unsigned long)ch->cfg.local_session, ch->cfg.peer_ip >> 24,
                (ch->cfg.peer_ip >> 16) & 255, (ch->cfg.peer_ip >> 8) & 255,
                ch->cfg.peer_ip & 255, ch->cfg.peer_port,
                atomic_load(&ch->is_up) ? "up" : "down", (unsigned long)s.tx_msgs_acked,
                (unsigned long)s.rx_msgs,
                (unsigned long)(s.lane[WIRE_LANE_EXPRESS].retransmits +
                                s.lane[WIRE_LANE_NORMAL].retransmits),
                (unsigned long)(s.srtt_ns / 1000), (unsigned long)s.inflight_frames,
                (unsigned long)s.credit_stalls);
        fprintf(out,
                "    heartbeats tx %lu rx %lu, acks tx %lu rx %lu, rto timeouts %lu, fast "
                "retransmits %lu, window stalls %lu, unconsumed %lu\n",
                (unsigned long)s.heartbeats_tx, (unsigned long)s.heartbeats_rx,
                (unsigned long)s.acks_tx, (unsigned long)s.acks_rx,
                (unsigned long)s.rto_timeouts, (unsigned long)s.fast_retransmits,
                (unsigned long)s.window_stalls, (unsigned long)s.rx_unconsumed);
        for (int d = 0; d < WIRE_DROP__COUNT; d++)
            if (s.drops[d])
                fprintf(out, "    drop %s: %lu\n", wire_drop_name((enum wire_drop)d),
                        (unsigned long)s.drops[d]);
    }
    if (ps.fault_dropped || ps.fault_duplicated || ps.fault_reordered || ps.fault_delayed)
        fprintf(out, "  fault injection: dropped %lu, duplicated %lu, reordered %lu, delayed %lu\n",
                (unsigned long)ps.fault_dropped, (unsigned long)ps.fault_duplicated,
                (unsigned long)ps.fault_reordered, (unsigned long)ps.fault_delayed);
}
