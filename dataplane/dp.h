/* The DPDK data plane engine: one port, its mempool, a poller, and the per-peer channels on
 * it. This is the interface the node runtime uses; it knows nothing about Erlang terms: it
 * moves opaque messages (struct dp_msg) tagged with a sender and a lane.
 *
 * Threads:
 * - slow path (create/destroy, channel add/close, telemetry): the node's control thread;
 * - dp_chan_send / dp_chan_consumed / dp_engine_poll: any thread (lock-free: an MPSC ring and
 *   atomics);
 * - the poller runs every channel's protocol (dataplane/chan.c) and calls the channel's
 *   deliver/down callbacks. It is either a dedicated lcore (the config lists a polling
 *   lcore besides the main one) or, in inline mode, whichever application thread calls
 *   dp_engine_poll() (a try-lock: one thread polls at a time, nobody waits).
 * Every thread that calls dp_engine_poll or touches channels must be a QSBR RCU reader
 * (registered and online) during the call.
 */
#ifndef DPDIST_DATAPLANE_DP_H
#define DPDIST_DATAPLANE_DP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dataplane/chan.h"
#include "dataplane/dp_msg.h"

#define DP_ERR_LEN 512

/* Process-wide EAL initialisation; the first call wins, later calls only count (EAL runs
 * once per process). Returns 0 when this call initialised EAL (EAL keeps argv for the
 * process's life), 1 when EAL was up already (argv was not used: the caller may free it),
 * or a negative errno (rte_errno's, EIO when EAL set none) with err. */
int dp_eal_init(int argc, char **argv, char *err, size_t errlen);
/* Drop one user; EAL is cleaned up with the last one. */
void dp_eal_release(void);

/* Monotonic nanoseconds from the TSC (a few ns per call, where CLOCK_MONOTONIC costs ~50 ns
 * in a VM), calibrated against CLOCK_MONOTONIC by dp_eal_init (rte_get_tsc_hz() is rounded).
 * Before calibration it falls back to CLOCK_MONOTONIC. Any thread; fast path. */
uint64_t dp_clock_ns(void);

struct dp_fault_params {
    double drop_rate, dup_rate, reorder_rate, delay_rate; /* 0..1 each */
    uint32_t delay_us;
    uint64_t seed;
    bool on_rx, on_tx;
};

struct dp_engine_params {
    const char *name;          /* for logs and telemetry, e.g. the node name */
    const char *port;          /* a PCI address, a vdev string, or net_ring...,pair=X,side=N */
    uint8_t mac[6];            /* all zero: the port's own */
    uint32_t ip;               /* host order */
    uint16_t udp_port;
    uint16_t mtu;
    uint16_t rx_desc, tx_desc;
    uint32_t mbufs, mbuf_cache, data_room;
    bool want_ipv4_cksum_offload, want_udp_cksum_offload;
    bool promiscuous; /* [dataplane] promiscuous: receive every frame (else ours only); the
                       * destination is checked in software either way (dp_auth_rx) */
    int poll_lcore;            /* -1: inline polling */
    struct chan_params chan;   /* defaults for channels (sessions set per channel) */
    uint64_t tx_queue_bytes;   /* bytes a channel may have queued or in flight */
    uint32_t tx_ring_msgs;     /* messages in a channel's send ring (power of two) */
    /* A port with one queue pair: new DATA waits while this many wire bytes of data are in
     * flight (sent, unacknowledged), which bounds the data ahead of a pulse frame in the ring
     * (docs/dataplane.md §7, "The pulse queue"). 0: no bound. Unused with a pulse queue. */
    uint64_t tx_data_ahead_bytes;
    struct dp_fault_params fault;
    bool fault_on;
    /* Called once on the polling lcore before its loop (e.g. to mark it an RCU reader). */
    void (*poller_init)(void *arg);
    void *poller_arg;
    /* Called (from the poller) when a channel went down or has deliveries the control
     * thread should notice; must be async-signal-safe-ish: e.g. write an eventfd. */
    void (*notify)(void *arg);
    void *notify_arg;
};

struct dp_engine;
struct dp_chan;

/* Slow path. EAL must be initialised. NULL with err on failure (port not found, cannot
 * configure, no mempool, ...): nothing is left behind. */
struct dp_engine *dp_engine_create(const struct dp_engine_params *p, char *err, size_t errlen);
/* Stops the poller, closes every channel (messages dropped), frees the port's resources. */
void dp_engine_destroy(struct dp_engine *e);

/* The endpoint peers must send to. */
void dp_engine_endpoint(const struct dp_engine *e, uint8_t mac[6], uint32_t *ip, uint16_t *port);
uint16_t dp_engine_mtu(const struct dp_engine *e);
const struct dp_engine_params *dp_engine_params(const struct dp_engine *e);
bool dp_engine_inline(const struct dp_engine *e);

/* Inline mode: run up to `iterations` poll-loop iterations if no other thread is polling.
 * Returns the number of frames received + sent (0 also when another thread polls). The
 * caller is an online QSBR reader. */
unsigned dp_engine_poll(struct dp_engine *e, unsigned iterations);

/* Inline mode: as dp_engine_poll, but waits while another thread polls. The lease is a
 * priority-inheritance mutex: a real-time caller (the watchdog poller) lifts a holder that
 * the scheduler preempted mid-iteration to its own priority, so the holder finishes its
 * iterations at once instead of after other processes' time slices. */
unsigned dp_engine_poll_wait(struct dp_engine *e, unsigned iterations);

/* Inline mode: when a dp_engine_poll call last finished its iterations (dp_clock_ns; 0:
 * never). Any thread; a hint (relaxed): a watchdog polls only when nobody else did lately. */
uint64_t dp_engine_last_poll_ns(const struct dp_engine *e);
/* Inline mode: the earliest liveness deadline of the engine's channels (chan_liveness_deadline)
 * as the last dp_engine_poll call left it (dp_clock_ns; UINT64_MAX: no channel). A poll must
 * run by then or a heartbeat leaves late. Any thread; relaxed. */
uint64_t dp_engine_liveness_due_ns(const struct dp_engine *e);

/* ---- channels --------------------------------------------------------------------- */

/* A channel's frame keys (docs/security.md §keys): mode is enum fauth_mode (0 = none: no
 * keys, tags zero and unchecked); tx for frames we send, rx for the peer's. Secret: the
 * caller wipes its copy after dp_chan_add (which keeps only the expanded fauth keys). */
struct dp_chan_auth {
    uint8_t mode;
    uint8_t tx_key[32], tx_iv[12];
    uint8_t rx_key[32], rx_iv[12];
};

struct dp_chan_cfg {
    uint64_t local_session;
    uint64_t peer_session;
    uint8_t peer_mac[6];
    uint32_t peer_ip;      /* host order */
    uint16_t peer_port;
    uint16_t mtu;          /* negotiated: the smaller of both */
    uint32_t window_frames; /* negotiated */
    uint64_t hb_interval_ns; /* negotiated: the larger of both */
    uint32_t hb_missed_limit;
    /* Deliveries, on the poller: see chan_delivery for ownership (an owned buffer is freed
     * with bigbuf_free). The message's bytes count against the credit until
     * dp_chan_consumed() returns them. */
    void (*deliver)(void *ctx, const chan_delivery *m);
    /* The channel went down, on the poller. */
    void (*down)(void *ctx, enum chan_down_reason why);
    void *ctx;
    bool rx_blocked; /* drop incoming frames (unacknowledged) until dp_chan_unblock_rx */
    struct dp_chan_auth auth; /* not kept in the channel's copy of the cfg (wiped there) */
};

/* Control thread. The channel is live for the poller when this returns. NULL with err. */
struct dp_chan *dp_chan_add(struct dp_engine *e, const struct dp_chan_cfg *cfg, char *err,
                            size_t errlen);
/* Frames from the peer are accepted from now on (any thread). */
void dp_chan_unblock_rx(struct dp_chan *ch);
/* Queue a message (any thread, no RCU section needed); takes its own reference. 0, -EAGAIN
 * (ring or byte bound full: poll or wait and try again), -EMSGSIZE, -ENOTCONN. Does not poll:
 * in inline mode the caller runs the poll loop once right after (dp_engine_poll), else the
 * message waits for the next poll by someone. */
int dp_chan_send(struct dp_chan *ch, struct dp_msg *msg);
/* Bytes reserved by dp_chan_send and not yet released (any thread): messages queued, in
 * flight or unacknowledged. A message's bytes are released when the peer acknowledged all of
 * it, when the channel refuses it, or when the channel is down (its messages are dropped). */
uint64_t dp_chan_queued_bytes(const struct dp_chan *ch);
/* The application consumed `bytes` of delivered messages (any thread). */
void dp_chan_consumed(struct dp_chan *ch, uint64_t bytes);
/* Control thread: send CLOSE (best effort) and retire the channel from the poller; the
 * protocol state is freed after an RCU grace period, then done(arg) runs (in liburcu's
 * call_rcu thread): from then on no callback runs any more. The channel handle itself (and
 * messages still queued on it) stays valid for senders until its owner calls dp_chan_free,
 * which must come after done and after the last dp_chan_send can have started. */
void dp_chan_close(struct dp_chan *ch, void (*done)(void *arg), void *arg);
void dp_chan_free(struct dp_chan *ch);
bool dp_chan_is_up(const struct dp_chan *ch);

/* Counters of one channel: a snapshot the poller refreshes (at most ~1 ms old). */
void dp_chan_stats(const struct dp_chan *ch, struct chan_stats *out);
/* The largest gap between heartbeats received on this channel (ns) since the last reset,
 * and reset it. */
uint64_t dp_chan_take_max_hb_gap(struct dp_chan *ch);
/* The same for any valid frame from the peer. */
uint64_t dp_chan_take_max_rx_gap(struct dp_chan *ch);

/* Port-level counters. */
struct dp_port_stats {
    uint64_t rx_frames, tx_frames, rx_bytes, tx_bytes;
    uint64_t rx_drops[WIRE_DROP__COUNT]; /* frames dropped before reaching a channel */
    uint64_t tx_full;       /* frames the NIC did not take at once (retried) */
    uint64_t tx_pulse_dropped; /* pulse frames the NIC refused with the stage full (they recur) */
    uint64_t tx_staged;     /* gauge: frames the NIC refused, waiting for the next iteration */
    uint64_t no_mbuf;       /* transmit attempts that found the mempool empty */
    uint64_t rx_blocked;    /* frames dropped for a channel not yet unblocked */
    uint64_t tx_ahead_held; /* times a channel's new data waited for tx_data_ahead_bytes */
    uint64_t polls, busy_polls;
    uint64_t fault_dropped, fault_duplicated, fault_reordered, fault_delayed;
    uint64_t mbufs_in_use; /* of the engine's mempool, per-thread caches counted as free */
};
void dp_engine_port_stats(const struct dp_engine *e, struct dp_port_stats *out);

/* Fault injection (configured at creation) off or on again (any thread). */
void dp_engine_set_fault(struct dp_engine *e, bool enable);

/* A short human summary of the port and every channel (slow path). */
void dp_engine_summary(struct dp_engine *e, FILE *out);

#endif
