/* DPDK telemetry commands for the data plane (slow path):
 *   /dpdist/ports            port counters of every engine in this process
 *   /dpdist/peers            channels: session, peer, state, messages, RTT, in flight
 *   /dpdist/peer,SESSION     one channel in full: per-lane counters, drops by reason, gauges
 * Read with dpdk-telemetry.py (or any client of the v2 socket under the runtime dir).
 * Command names are registered once per process; engines are listed in a small table.
 *
 * Threads and lifetimes: the callbacks run on DPDK's telemetry threads (one per client
 * connection), which are neither pollers nor RCU readers. They reach engines and channels only
 * while holding g_tele_lock, and the control thread takes the same lock to list or unlist an
 * engine (dp_telemetry_register/unregister) and to take a channel out of an engine's slot array
 * (dp_telemetry_unpublish_chan, from dp_chan_close and dp_engine_destroy). So an engine or a
 * channel a callback finds stays valid until it releases the lock: an engine is freed only after
 * it was unlisted, and a channel's handle only by dp_chan_free, after dp_chan_close unpublished
 * it. Callbacks read only what other threads may read: the stats snapshot (seqlock),
 * configuration fixed at creation, and atomics; never the protocol object (ch->c).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_telemetry.h>

#include "dataplane/dp_pvt.h"

#define DP_TELE_MAX_ENGINES 8

static pthread_mutex_t g_tele_lock = PTHREAD_MUTEX_INITIALIZER;
static struct dp_engine *g_engines[DP_TELE_MAX_ENGINES];
static bool g_registered;

static void add_port(struct rte_tel_data *d, const struct dp_engine *e)
{
    struct dp_port_stats s;
    dp_engine_port_stats(e, &s);
    rte_tel_data_add_dict_string(d, "name", e->name);
    rte_tel_data_add_dict_string(d, "device", e->dev_name);
    rte_tel_data_add_dict_u64(d, "mtu", e->mtu);
    rte_tel_data_add_dict_string(d, "polling", e->lcore >= 0 ? "lcore" : "inline");
    rte_tel_data_add_dict_u64(d, "rx_frames", s.rx_frames);
    rte_tel_data_add_dict_u64(d, "rx_bytes", s.rx_bytes);
    rte_tel_data_add_dict_u64(d, "tx_frames", s.tx_frames);
    rte_tel_data_add_dict_u64(d, "tx_bytes", s.tx_bytes);
    rte_tel_data_add_dict_u64(d, "tx_retry", s.tx_full);
    rte_tel_data_add_dict_u64(d, "tx_pulse_dropped", s.tx_pulse_dropped);
    rte_tel_data_add_dict_u64(d, "tx_staged", s.tx_staged);
    rte_tel_data_add_dict_u64(d, "no_mbuf", s.no_mbuf);
    rte_tel_data_add_dict_u64(d, "rx_blocked", s.rx_blocked);
    rte_tel_data_add_dict_u64(d, "tx_ahead_held", s.tx_ahead_held);
    rte_tel_data_add_dict_u64(d, "polls", s.polls);
    rte_tel_data_add_dict_u64(d, "busy_polls", s.busy_polls);
    rte_tel_data_add_dict_u64(d, "fault_dropped", s.fault_dropped);
    rte_tel_data_add_dict_u64(d, "fault_duplicated", s.fault_duplicated);
    rte_tel_data_add_dict_u64(d, "fault_reordered", s.fault_reordered);
    rte_tel_data_add_dict_u64(d, "fault_delayed", s.fault_delayed);
    rte_tel_data_add_dict_u64(d, "mbufs_in_use", s.mbufs_in_use);
    for (int i = 1; i < WIRE_DROP__COUNT; i++) {
        char key[64];
        snprintf(key, sizeof(key), "drop_%s", wire_drop_name((enum wire_drop)i));
        rte_tel_data_add_dict_u64(d, key, s.rx_drops[i]);
    }
}

static int tele_ports(const char *cmd, const char *params, struct rte_tel_data *d)
{
    (void)cmd;
    (void)params;
    rte_tel_data_start_dict(d);
    pthread_mutex_lock(&g_tele_lock);
    for (int i = 0; i < DP_TELE_MAX_ENGINES; i++) {
        if (!g_engines[i])
            continue;
        struct rte_tel_data *p = rte_tel_data_alloc();
        if (!p)
            break;
        rte_tel_data_start_dict(p);
        add_port(p, g_engines[i]);
        char key[32];
        snprintf(key, sizeof(key), "port%d", i);
        rte_tel_data_add_dict_container(d, key, p, 0);
    }
    pthread_mutex_unlock(&g_tele_lock);
    return 0;
}

/* With g_tele_lock held. */
static struct dp_chan *find_chan(uint64_t session)
{
    for (int i = 0; i < DP_TELE_MAX_ENGINES; i++) {
        if (!g_engines[i])
            continue;
        for (unsigned k = 0; k < DP_MAX_CHANS; k++) {
            struct dp_chan *ch = atomic_load(&g_engines[i]->chans[k]);
            if (ch && ch->cfg.local_session == session)
                return ch;
        }
    }
    return NULL;
}

static int tele_peers(const char *cmd, const char *params, struct rte_tel_data *d)
{
    (void)cmd;
    (void)params;
    rte_tel_data_start_dict(d);
    pthread_mutex_lock(&g_tele_lock);
    for (int i = 0; i < DP_TELE_MAX_ENGINES; i++) {
        struct dp_engine *e = g_engines[i];
        if (!e)
            continue;
        for (unsigned k = 0; k < DP_MAX_CHANS; k++) {
            struct dp_chan *ch = atomic_load(&e->chans[k]);
            if (!ch)
                continue;
            struct chan_stats s;
            dp_chan_stats(ch, &s);
            struct rte_tel_data *p = rte_tel_data_alloc();
            if (!p)
                break;
            char peer[40], key[24];
            uint32_t ip = ch->cfg.peer_ip;
            snprintf(peer, sizeof(peer), "%u.%u.%u.%u:%u", ip >> 24, (ip >> 16) & 255,
                     (ip >> 8) & 255, ip & 255, ch->cfg.peer_port);
            rte_tel_data_start_dict(p);
            rte_tel_data_add_dict_string(p, "peer", peer);
            rte_tel_data_add_dict_string(p, "state", atomic_load(&ch->is_up) ? "up" : "down");
            rte_tel_data_add_dict_u64(p, "tx_msgs", s.tx_msgs_acked);
            rte_tel_data_add_dict_u64(p, "rx_msgs", s.rx_msgs);
            rte_tel_data_add_dict_u64(p, "srtt_ns", s.srtt_ns);
            rte_tel_data_add_dict_u64(p, "inflight_frames", s.inflight_frames);
            rte_tel_data_add_dict_u64(p, "credit_stalls", s.credit_stalls);
            rte_tel_data_add_dict_u64(p, "rx_bad_tag", s.drops[WIRE_DROP_BAD_TAG]);
            rte_tel_data_add_dict_u64(p, "rx_replay", s.drops[WIRE_DROP_REPLAY]);
            snprintf(key, sizeof(key), "%016" PRIx64, ch->cfg.local_session);
            rte_tel_data_add_dict_container(d, key, p, 0);
        }
    }
    pthread_mutex_unlock(&g_tele_lock);
    return 0;
}

static int tele_peer(const char *cmd, const char *params, struct rte_tel_data *d)
{
    (void)cmd;
    if (!params || !*params)
        return -1;
    uint64_t session = strtoull(params, NULL, 16);
    pthread_mutex_lock(&g_tele_lock);
    struct dp_chan *ch = find_chan(session);
    if (!ch) {
        pthread_mutex_unlock(&g_tele_lock);
        return -1;
    }
    struct chan_stats s;
    dp_chan_stats(ch, &s);
    uint64_t max_hb_gap_ns = atomic_load(&ch->max_hb_gap_ns);
    uint64_t queued_bytes = dp_chan_queued_bytes(ch);
    pthread_mutex_unlock(&g_tele_lock); /* ch may go from here on */
    rte_tel_data_start_dict(d);
    static const char *const lanes[WIRE_LANES] = {"pulse", "express", "normal"};
    for (int l = 0; l < WIRE_LANES; l++) {
        struct rte_tel_data *p = rte_tel_data_alloc();
        if (!p)
            return -1;
        rte_tel_data_start_dict(p);
        rte_tel_data_add_dict_u64(p, "tx_frames", s.lane[l].tx_frames);
        rte_tel_data_add_dict_u64(p, "tx_bytes", s.lane[l].tx_bytes);
        rte_tel_data_add_dict_u64(p, "rx_frames", s.lane[l].rx_frames);
        rte_tel_data_add_dict_u64(p, "rx_bytes", s.lane[l].rx_bytes);
        rte_tel_data_add_dict_u64(p, "retransmits", s.lane[l].retransmits);
        rte_tel_data_add_dict_u64(p, "tx_msgs", s.lane[l].tx_msgs);
        rte_tel_data_add_dict_u64(p, "active_flows", s.lane[l].active_flows);
        rte_tel_data_add_dict_container(d, lanes[l], p, 0);
    }
    struct rte_tel_data *dr = rte_tel_data_alloc();
    if (!dr)
        return -1;
    rte_tel_data_start_dict(dr);
    for (int i = 1; i < WIRE_DROP__COUNT; i++)
        rte_tel_data_add_dict_u64(dr, wire_drop_name((enum wire_drop)i), s.drops[i]);
    rte_tel_data_add_dict_container(d, "drops", dr, 0);
#define U64(field) rte_tel_data_add_dict_u64(d, #field, s.field)
    U64(tx_msgs_submitted);
    U64(tx_msgs_acked);
    U64(rx_msgs);
    U64(rx_msg_bytes);
    U64(acks_tx);
    U64(acks_rx);
    U64(heartbeats_tx);
    U64(heartbeats_rx);
    U64(rto_timeouts);
    U64(fast_retransmits);
    U64(credit_stalls);
    U64(flow_stalls);
    U64(window_stalls);
    U64(startq_msgs);
    U64(startq_bytes);
    U64(inflight_frames);
    U64(rtx_queued);
    U64(busy_flows);
    U64(srtt_ns);
    U64(rttvar_ns);
    U64(rto_ns);
    U64(peer_credit);
    U64(credit_limit);
    U64(rx_unconsumed);
    U64(reasm_pending);
    U64(reasm_held_bytes);
#undef U64
    rte_tel_data_add_dict_u64(d, "max_heartbeat_gap_ns", max_hb_gap_ns);
    rte_tel_data_add_dict_u64(d, "tx_queued_bytes", queued_bytes);
    return 0;
}

void dp_telemetry_register(struct dp_engine *e)
{
    pthread_mutex_lock(&g_tele_lock);
    for (int i = 0; i < DP_TELE_MAX_ENGINES; i++)
        if (!g_engines[i]) {
            g_engines[i] = e;
            break;
        }
    if (!g_registered) {
        rte_telemetry_register_cmd("/dpdist/ports", tele_ports,
                                   "Data-plane port counters. No parameters");
        rte_telemetry_register_cmd("/dpdist/peers", tele_peers,
                                   "Data-plane channels, keyed by session id. No parameters");
        rte_telemetry_register_cmd("/dpdist/peer", tele_peer,
                                   "One channel's counters. Parameters: session id (hex)");
        g_registered = true;
    }
    pthread_mutex_unlock(&g_tele_lock);
}

void dp_telemetry_unregister(struct dp_engine *e)
{
    pthread_mutex_lock(&g_tele_lock);
    for (int i = 0; i < DP_TELE_MAX_ENGINES; i++)
        if (g_engines[i] == e)
            g_engines[i] = NULL;
    pthread_mutex_unlock(&g_tele_lock);
}

void dp_telemetry_unpublish_chan(struct dp_engine *e, struct dp_chan *ch)
{
    pthread_mutex_lock(&g_tele_lock);
    atomic_store(&e->chans[ch->idx], NULL);
    pthread_mutex_unlock(&g_tele_lock);
}
