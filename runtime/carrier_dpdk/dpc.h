/* The DPDK carrier's own header (runtime/carrier_dpdk/): its per-node state and what its
 * files share. Not for the node core (runtime/core/carrier.h is the interface). */
#ifndef DPDIST_RUNTIME_CARRIER_DPDK_DPC_H
#define DPDIST_RUNTIME_CARRIER_DPDK_DPC_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/cfg.h"
#include "control/distmsg.h"
#include "control/dpctl.h"
#include "control/keysched.h"
#include "dataplane/chan.h"
#include "dataplane/dp.h"
#include "runtime/core/carrier.h"
#include "runtime/core/conn.h"
#include "runtime/core/node.h"

struct dp_chan;
struct dp_engine;

#define DPC_DROP_LOG_KINDS     3
#define DPC_DROP_LOG_PERIOD_MS 10000 /* at most one line per this about dropped forgeries */
struct dpc_copy_job;

/* The DPDK carrier's part of a connection (c->dp; conn_init .. conn_fini, only on a node
 * with a data plane). */
struct dpc_conn {
    struct dp_chan *_Atomic send_chan; /* the channel's handle for senders; lives as long as c */
    struct distmsg_ctl *ctl;           /* decode scratch of the poller's deliveries */
    _Atomic bool peer_switched;        /* the peer's {dpdist_switch} was read from TCP */
    _Atomic int down;                  /* set by the poller: the channel went down (reason + 1) */
    /* Control thread. */
    struct dp_chan *chan;   /* the data-plane channel once upgraded (until conn_close) */
    uint64_t local_session; /* our rx session id for the upgrade */
    bool peer_has_dp;       /* from the peer's handshake trailer */
    struct dpctl_offer req; /* the upgrade's REQ (ours as initiator, the peer's as acceptor) */
    uint8_t auth_mode;      /* negotiated frame authentication (enum fauth_mode) */
    /* Key confirmations (dpc_keys.c): ours for {dpdist_switch, Confirm}, and the one the
     * peer's must equal; meaningful when auth_mode != none. */
    uint8_t confirm_tx[DPCTL_CONFIRM_LEN], confirm_rx[DPCTL_CONFIRM_LEN];
};

/* A node's data plane (n->dp; NULL without one). Set up by node_start, gone at node_stop;
 * the engine's own threads and callbacks see it through n. */
struct dpc_node {
    struct dp_engine *engine;
    struct cfg_file cfg;
    bool inline_poll;      /* no poller thread: application threads poll (dpc_inline.c) */
    uint64_t busy_poll_ns; /* [eal] busy_poll_us (0: always spin) */
    uint64_t idle_sleep_ns;
    _Atomic bool events; /* the poller has something for the control thread (channels down) */

    /* Inline polling (dpc_inline.c): the one receiver that polls the port while it waits
     * (its mailbox's address, low bit set for an express mailbox; 0: none) and when it last
     * did. The others sleep on their mailboxes until the leader delivers to them. */
    _Atomic uintptr_t inline_leader;
    _Atomic uintptr_t inline_waiting; /* the leader while it waits in dd_recv, else 0 */
    _Atomic uint64_t inline_lease_ns; /* when a leader last took over or left dd_recv */
    /* Copies of large payloads handed to the leader (dpc_copy.c), in order. copy_lock is a
     * leaf, held for one chunk's memcpy at most. */
    pthread_mutex_t copy_lock;
    struct dpc_copy_job *copy_head, *copy_tail;
    _Atomic bool copy_pending;
    /* The watchdog poller (dpc_watchdog.c): inline mode only. Set before its thread starts;
     * the flags are the control thread's and the watchdog's. */
    pthread_t watchdog;
    _Atomic bool watchdog_started;
    uint64_t watchdog_backstop_ns; /* the longest sleep: one heartbeat interval */
    uint64_t watchdog_slack_ns;    /* how late after a deadline it steps in */
    _Atomic bool watchdog_stop;
    _Atomic bool watchdog_rt;                /* it runs at SCHED_FIFO */
    int watchdog_tfd;                        /* its timer (timerfd, CLOCK_MONOTONIC) */
    pthread_mutex_t watchdog_arm_lock;       /* leaf: held around one timerfd_settime */
    _Atomic uint64_t watchdog_armed_due;     /* the liveness deadline pollers armed it for */
    _Atomic uint64_t watchdog_wakeups;       /* timer expiries it saw */
    _Atomic uint64_t watchdog_runs;          /* wake-ups that found nobody polling and polled */
    _Atomic uint64_t watchdog_iterations;    /* poll-loop iterations it ran */
    _Atomic uint64_t watchdog_busy_ns;       /* time it spent polling */
    _Atomic uint64_t watchdog_capped;        /* wake-ups sent back to sleep by the duty cap */
    /* Rate-limited log of authentication drops (dpc.c log_auth_drops; control thread). */
    uint64_t drop_log_ms;
    uint64_t drop_logged[DPC_DROP_LOG_KINDS]; /* bad_tag, replay, wrong_destination logged */
    /* Counters for dd_dataplane_summary. */
    _Atomic uint64_t inline_takeovers;   /* leadership changes */
    _Atomic uint64_t copies_by_leader;   /* payloads the leader copied for a sender */
    _Atomic uint64_t copies_taken_back;  /* ... that their sender finished itself */
    _Atomic uint64_t copies_self_polled; /* large copies by a sender polling between chunks */
};

/* ---- the carrier (dpc.c) -------------------------------------------------------------- */

extern const struct rt_transport dpc_transport;
extern const struct rt_carrier_ops dpc_carrier;
/* The channel callbacks, on the poller: a delivered message (into the core's dispatch), the
 * channel went down (noted for the control thread). ctx: the connection. */
void dpc_on_deliver(void *ctx, const chan_delivery *m);
void dpc_on_down(void *ctx, enum chan_down_reason why);

/* ---- start, stop, advertising (dpc_start.c) ------------------------------------------- */

/* Starts the data plane when st->file has a [port] (the file was loaded and checked whole by
 * the API: it is copied, not read again); DD_OK and nothing else without one. */
int dpc_node_start(struct dd_node *n, const struct rt_start *st, char *err, size_t errlen);
void dpc_node_stop(struct dd_node *n);
uint8_t dpc_trailer_caps(struct dd_node *n);
size_t dpc_epmd_extra(struct dd_node *n, uint8_t *buf, size_t cap);
void dpc_peer_trailer(struct conn *c, const struct dpctl_trailer *t);
void dpc_peer_epmd_extra(struct conn *c, const uint8_t *extra, size_t len);

/* ---- the upgrade (dpc_upgrade.c) ------------------------------------------------------- */

/* c is up: the initiator of a connection between two dpdist nodes offers the upgrade. */
void dpc_conn_up(struct conn *c);
/* An upgrade message from the peer (the transport's peer_msg). */
void dpc_peer_msg(struct conn *c, const struct dpctl_msg *m, enum dpctl_result rc);

/* ---- channel keys (dpc_keys.c) ---------------------------------------------------------- */

/* The frame keys of c's channel in mode (0: none, *auth zeroed) from c->hs_keys and both upgrade
 * offers; also sets c->dp->confirm_tx/rx. Consumes (wipes) c->hs_keys. KS_OK, KS_E_STATE when
 * the handshake left no key schedule, or a libcrypto failure. Control thread. */
enum ks_error dpc_keys_derive(struct conn *c, const struct dpctl_offer *req,
                              const struct dpctl_offer *ack, uint8_t mode,
                              struct dp_chan_auth *auth);

/* ---- the watchdog poller (dpc_watchdog.c) ----------------------------------------------- */

/* Starts the node's watchdog poller (inline mode; n->dp set). 0 or -errno. */
int dpc_watchdog_start(struct dd_node *n);
/* Stops and joins it (no-op if not started); before the engine goes. */
void dpc_watchdog_stop(struct dd_node *n);
/* After a poll by any other thread: moves the watchdog's timer to the engine's new liveness
 * deadline when it changed (about once per heartbeat interval: one timerfd_settime), so a
 * watchdog never wakes while somebody else keeps polling. Any thread; cheap otherwise. */
void dpc_watchdog_push(struct dd_node *n);
/* The watchdog's schedule (pure; tests/unit/runtime/test_watchdog.cc). The duty-cycle cap:
 * after a run of ran_ns that ended at end_ns, the earliest next run. */
uint64_t dpc_watchdog_rest_until(uint64_t end_ns, uint64_t ran_ns);
/* The next run after one (ran_ns 0: after a wake-up that did not poll): while traffic flows
 * (flowing) as soon as the cap allows; else for the liveness deadline due (UINT64_MAX: none)
 * plus slack_ns, at the latest backstop_ns after end_ns; never before the cap allows. */
uint64_t dpc_watchdog_next_run(uint64_t end_ns, uint64_t ran_ns, bool flowing, uint64_t due,
                               uint64_t slack_ns, uint64_t backstop_ns);

/* ---- polling (dpc_inline.c) ----------------------------------------------------------- */

/* Waiting, copying and closing when application threads poll (n->poller). */
extern const struct rt_poller_ops dpc_inline_poller;
/* A bounded turn of the poll loop (iterations) if no other thread polls; the work done. An
 * RCU read section is taken (dpc_poll) or held by the caller (dpc_poll_locked). */
unsigned dpc_poll(struct dd_node *n, unsigned iterations);
unsigned dpc_poll_locked(struct dd_node *n, unsigned iterations);
/* As dpc_poll, but waits for the poll lease (dp_engine_poll_wait): the watchdog poller. */
unsigned dpc_poll_wait(struct dd_node *n, unsigned iterations);
/* Another thread is polling the port right now (the inline leader, and not this thread
 * between two of its dd_recv calls). */
bool dpc_inline_leader_polling(struct dd_node *n);
/* The current leader is waiting in dd_recv or left it less than the lease ago. */
bool dpc_inline_lease_fresh(struct dd_node *n);
/* How long a sender waits for the leader's copy before it looks at the lease again. */
#define DPC_INLINE_LEASE_NS 200000u

/* ---- payload copies by the leader (dpc_copy.c) ----------------------------------------- */

/* The copy_payload hook: see dpc_copy.c. */
void dpc_copy_payload(struct dd_mbox *from, uint8_t *dst, const uint8_t *src, size_t len);
/* The leader's share between two polls: one chunk of the oldest job; 1 when it copied. */
unsigned dpc_copy_step(struct dd_node *n);

#endif
