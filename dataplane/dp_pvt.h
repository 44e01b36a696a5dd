/* Private structures of the data-plane engine (dp_*.c). Not for the runtime. */
#ifndef DPDIST_DATAPLANE_DP_PVT_H
#define DPDIST_DATAPLANE_DP_PVT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_seqcount.h>
#include <rte_spinlock.h>
#include <urcu/urcu-qsbr.h>

#include "dataplane/dp.h"
#include "dataplane/dp_mapguard.h"
#include "dataplane/fauth.h"
#include "dataplane/peertab.h"
#include "dataplane/wire.h"

#define DP_BURST        32   /* frames per receive burst */
/* Receive bounds of one poll iteration (dp_worker.c receive): the pulse queue is read until
 * it is empty (DP_PULSE_DESC frames at most), the data queue until it is empty or
 * DP_RX_DATA_BUDGET DATA frames were handled (as many as before the pulse-frame drain: more
 * per iteration made an overloaded receiver's own heartbeats late), pulse frames among them
 * not counted, DP_RX_READ_MAX frames read at most. */
#define DP_RX_DATA_BUDGET DP_BURST
#define DP_RX_READ_MAX    1024
#define DP_RX_BURST_ROOM  (DP_BURST * 3) /* a burst and what fault injection may add */
#define DP_MAX_CHANS    256  /* channels one engine polls */
/* Transmit bounds of one poll iteration (dp_worker.c). Every data frame built is sent or kept
 * in the stage for the next iteration, never counted as sent and dropped: */
#define DP_TX_PER_CHAN       16 /* frames asked from one channel per iteration, at most */
#define DP_TX_PULSE_PER_CALL 2  /* pulse frames chan_tx_pulse gives per call (HEARTBEAT + ACK) */
/* Every channel is asked for its pulse frames every iteration, whatever the data path does
 * (a backed-up port, full arrays): room for all of them. */
#define DP_TX_PULSE_MAX      (DP_MAX_CHANS * DP_TX_PULSE_PER_CALL)
#define DP_TX_DATA_MAX       (DP_BURST * 2) /* data frames collected per iteration */
#define DP_TX_STAGE          (DP_BURST * 8) /* frames the port did not take, kept in order */
/* New data frames are collected only while the stage could take back all the data the
 * iteration hands to the port (stage + new data) if the port takes none of it. Pulse frames
 * the port refuses are kept too while the stage has room, else dropped and counted
 * (tx_pulse_dropped: they recur, a heartbeat every interval and an ACK with it). */
#define DP_TX_COLLECT_BELOW (DP_TX_STAGE - DP_TX_DATA_MAX)
#define DP_TX_PORT_BURST    64 /* frames per rte_eth_tx_burst call */
/* Messages dropped per iteration from the send ring of a channel that is down. */
#define DP_TX_DRAIN_DOWN_MSGS 256
#define DP_STATS_PERIOD_NS 1000000ull
#define DP_FAULT_HOLD   64   /* frames the fault injector may hold back */

_Static_assert(DP_TX_PER_CHAN >= DP_TX_PULSE_PER_CALL, "a channel's pulse frames fit one ask");
_Static_assert(DP_TX_DATA_MAX >= DP_TX_PER_CHAN, "one channel's data fits the iteration's array");
_Static_assert(DP_TX_COLLECT_BELOW >= DP_BURST, "the stage leaves room to collect a burst");
_Static_assert(DP_TX_COLLECT_BELOW - 1 + DP_TX_DATA_MAX <= DP_TX_STAGE,
               "the data one iteration hands to the port fits the stage");

struct dp_chan {
    struct dp_engine *e;
    struct dp_chan_cfg cfg;
    struct chan *c;             /* the protocol; owned by the poller */
    struct rte_ring *txr;       /* struct dp_msg *, multi-producer, single-consumer */
    struct dp_msg *pending;     /* dequeued, not yet accepted by chan_submit (poller) */
    uint64_t fed_bytes;         /* bytes of messages chan_submit accepted (poller) */
    uint64_t dropped_bytes;     /* bytes of messages it refused: down or invalid (poller) */
    struct wire_endpoints ep;   /* our -> peer addresses */
    uint32_t idx;               /* slot in the engine's channel array */

    _Atomic uint64_t submitted_bytes; /* reserved by senders */
    _Atomic uint64_t acked_bytes;     /* released by the poller (dp_worker.c: released_bytes) */
    _Atomic uint64_t consumed_pending;
    _Atomic bool rx_blocked;
    _Atomic bool close_req;
    _Atomic bool closed;        /* the poller sent CLOSE / saw it down: safe to retire */
    _Atomic bool is_up;
    _Atomic bool retired;       /* out of the engine's array (poller) */

    /* Stats snapshot for other threads: one writer, the poller (dp_chan_publish_stats);
     * readers retry while it is mid-update (dp_chan_stats). */
    rte_seqcount_t stats_seq;
    struct chan_stats stats;
    uint64_t stats_due_ns;
    uint64_t last_hb_rx_ns;
    _Atomic uint64_t max_hb_gap_ns;
    uint64_t last_rx_ns;
    _Atomic uint64_t max_rx_gap_ns;

    struct rcu_head rcu;
    void (*done)(void *arg);
    void *done_arg;

    /* Frame authentication (dp_auth.c): keys set before the channel is published, wiped when
     * it is freed; tx_pn and the replay window are the poller's. */
    uint8_t auth_mode; /* enum fauth_mode */
    /* Per packet-number space (WIRE_PN_PULSE_BIT): [0] data frames, [1] pulse frames. */
    uint64_t tx_pn[2];                /* the last counter value sealed (the first frame gets 1) */
    struct fauth_replay replay[2];
    struct fauth_key tx_key, rx_key; /* 64-byte aligned: the struct is allocated aligned */
};

struct dp_fault {
    struct dp_fault_params p;
    uint64_t rng;
    struct rte_mbuf *held[DP_FAULT_HOLD]; /* delayed or reordered frames */
    uint64_t held_until[DP_FAULT_HOLD];
    unsigned n_held;
};

struct dp_engine {
    struct dp_engine_params p;
    char name[64];
    char port_spec[256]; /* p.port points here: the caller's string need not outlive create */
    uint16_t port_id;
    bool port_started;
    bool owns_port; /* created by us (ring pair, hot-plugged vdev): detach on destroy */
    char dev_name[128];
    struct rte_mempool *pool;
    uint8_t mac[6];
    uint16_t mtu;
    bool promiscuous;   /* the port is in promiscuous mode (port_set_filter) */
    bool tx_ip_cksum;   /* the port fills IPv4 checksums */
    bool rx_ip_cksum;   /* the port verifies them */
    uint16_t n_queues;  /* queue pairs set up: 2 = data + pulse (DP_QUEUE_PULSE), 1 = shared */
    bool pulse_sp;      /* the pulse TX queue has strict priority at the port (rte_tm) */

    struct peertab *peers;
    /* Channels: control thread writes slots, the poller reads them (RCU pointers). */
    struct dp_chan *_Atomic chans[DP_MAX_CHANS];
    _Atomic unsigned chan_hi; /* slots in use are below this (control thread raises it) */

    /* Poller state. */
    int guard_slot;         /* dp_mapguard slot: "inside a port burst" (dp_mapguard.h) */
    /* Inline mode: who polls. Application threads only try it (never wait); the watchdog
     * poller waits for it, and priority inheritance then lifts a holder the scheduler put
     * aside mid-iteration to the watchdog's real-time priority (dp_engine_poll_wait). */
    pthread_mutex_t poll_owner;
    _Atomic uint64_t last_poll_ns; /* inline mode: the end of the last dp_engine_poll */
    _Atomic uint64_t liveness_due_ns; /* inline mode: its channels' earliest liveness deadline */
    int lcore;              /* -1 inline */
    _Atomic bool stop;
    bool launched;
    struct rte_mbuf *pulse[DP_TX_PULSE_MAX];
    unsigned n_pulse;
    struct rte_mbuf *stage[DP_TX_STAGE];
    unsigned n_stage;
    unsigned rr; /* round-robin start among channels */
    struct dp_fault fault_rx, fault_tx;
    _Atomic bool fault_active; /* p.fault_on and not switched off */

    /* Port counters: written by the poller, read racily (64-bit stores are atomic here). */
    struct dp_port_stats st;
};

/* dp_worker.c */
unsigned dp_worker_iteration(struct dp_engine *e);
int dp_worker_lcore_main(void *arg);
void dp_chan_publish_stats(struct dp_chan *ch, uint64_t now);

/* dp_fault.c: returns the frames to process now (in place), possibly fewer or more. */
unsigned dp_fault_apply(struct dp_fault *f, struct rte_mempool *pool, struct rte_mbuf **pkts,
                        unsigned n, unsigned cap, uint64_t now, struct dp_port_stats *st);
void dp_fault_init(struct dp_fault *f, const struct dp_fault_params *p, uint64_t salt);
void dp_fault_flush(struct dp_fault *f);

/* dp_telemetry.c */
void dp_telemetry_register(struct dp_engine *e);
void dp_telemetry_unregister(struct dp_engine *e);
/* Control thread: takes ch out of e's slot array, under the telemetry lock (dp_telemetry.c). */
void dp_telemetry_unpublish_chan(struct dp_engine *e, struct dp_chan *ch);

#endif
