/* The carrier interface: everything the node core knows about the carriers below it, and
 * all the core calls them through. Two tables:
 *
 * - struct rt_carrier_ops, per connection: who moves the connection's data right now. A
 *   connection has one at a time (c->carrier: read without a lock, changed only by
 *   conn_switch_carrier); the TCP carrier's first, then the DPDK carrier's after the
 *   upgrade. The TCP connection stays as the control channel either way.
 * - struct rt_transport, per node: a carrier's lifecycle and its share of the node's work
 *   (start and stop, what it advertises, per-connection state, the control thread's turns).
 *   The API wires them (runtime/api: the TCP carrier always, it also connects; the DPDK
 *   carrier, which starts only with a [port] in the config); the core keeps them in
 *   n->transports[] and calls each hook that is not NULL, in that order.
 *
 * Lanes: a message's priority class, chosen by its sender and kept by every carrier (the
 * DPDK carrier schedules each lane on its own: dataplane/wire.h WIRE_LANE_*, docs/dataplane.md
 * §2; the TCP carrier lets whole small messages pass the fragments of large ones). The
 * numbers are the wire's (checked by _Static_assert in the DPDK carrier).
 *
 * Error convention: DD_* statuses (dpdist.h); hooks that run on the control thread or the
 * poller log their failures instead of returning them.
 */
#ifndef DPDIST_RUNTIME_CORE_CARRIER_H
#define DPDIST_RUNTIME_CORE_CARRIER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "control/dpctl.h"
#include "dpdist/dpdist.h"

struct conn;
struct dd_mbox;
struct dd_node;
struct obuf;

enum rt_lane {
    RT_LANE_PULSE = 0,   /* liveness: ticks (TCP); heartbeats and acks never carry messages */
    RT_LANE_EXPRESS = 1, /* signals (links, monitors, exits) and express mailboxes' messages */
    RT_LANE_NORMAL = 2,  /* every other message */
};

/* ---- per connection: who moves the data now ---------------------------------------- */

struct rt_carrier_ops {
    const char *name;
    enum dd_carrier_kind kind;
    /* Queues one message for the peer (any thread); takes its own reference to b. DD_OK,
     * DD_EWOULDBLOCK (full and nonblock), DD_ETOOBIG, or DD_ENOCONN. Without nonblock it may
     * wait for room. */
    int (*send)(struct conn *c, struct obuf *b, bool nonblock);
    /* The connection's counters of this carrier into out (any thread; out is zeroed and
     * out->carrier set by the caller). */
    void (*peer_stats)(struct conn *c, struct dd_peer_stats *out);
    /* Queues marker as the last message on this carrier and moves the connection's sends to
     * next, atomically for senders (conn_switch_carrier). NULL: this carrier is never left. */
    void (*switch_to)(struct conn *c, struct obuf *marker, const struct rt_carrier_ops *next);
};

/* ---- per node: a carrier's lifecycle ----------------------------------------------- */

struct cfg_file; /* config/cfg.h: the core passes it on without looking inside */

/* What a node starts with: the effective settings (the caller's, with the config file's
 * [node] section applied by the API) and the config file loaded once and checked whole
 * (NULL: no file). Both outlive node_start only as copies the transports make. */
struct rt_start {
    const struct dd_node_cfg *cfg;
    const struct cfg_file *file;
};

struct rt_transport {
    const char *name;
    /* The carrier a new connection starts on (the transport that connects), else NULL. */
    const struct rt_carrier_ops *carrier;

    /* Node lifecycle (node_start calls node_start in table order after the core is set up,
     * node_stop calls node_halt once the control thread has ended, then node_stop in
     * reverse order; node_stop also undoes a node_start whose later transports failed). */
    int (*node_start)(struct dd_node *n, const struct rt_start *st, char *err,
                      size_t errlen);     /* DD_OK or a DD_E* with err */
    void (*node_halt)(struct dd_node *n); /* let go of what would post to the control thread */
    void (*node_stop)(struct dd_node *n);
    uint8_t (*trailer_caps)(struct dd_node *n); /* DPCTL_CAP_* bits of our handshake trailer */
    /* What the node registers in EPMD's Extra field (the first transport with any wins). */
    size_t (*epmd_extra)(struct dd_node *n, uint8_t *buf, size_t cap);

    /* Connections. conn_init at creation (0 or DD_ENOMEM), conn_fini when the last
     * reference is gone (in an RCU callback: no lock may be taken that a reader holds). */
    int (*conn_init)(struct conn *c);
    void (*conn_fini)(struct conn *c);
    /* Connect to c's peer (any thread; the connecting transport only). */
    void (*dial)(struct conn *c);
    /* What the peer told about itself: its handshake trailer (parsed; control thread) and,
     * when we dialled, its EPMD Extra field. */
    void (*peer_trailer)(struct conn *c, const struct dpctl_trailer *t);
    void (*peer_epmd_extra)(struct conn *c, const uint8_t *extra, size_t len);
    /* c is up (control thread, after nodeup). */
    void (*conn_up)(struct conn *c);
    /* A message of dpdist's own protocol from the peer (control/dpctl.h; any receiving
     * thread). */
    void (*peer_msg)(struct conn *c, const struct dpctl_msg *m, enum dpctl_result rc);
    /* c went down (conn_down): conn_abort at once on the thread that took it down (drop what
     * is queued, release waiting senders), conn_close later on the control thread (close
     * sockets and channels). */
    void (*conn_abort)(struct conn *c);
    void (*conn_close)(struct conn *c);
    /* node_stop: data still queued on c (it waits a little for it to go). */
    bool (*conn_busy)(struct conn *c);

    /* The control thread's turn: turn after the events and posted work, periodic and
     * conn_periodic (every connection) when the timer fired, turn_end last. */
    void (*turn)(struct dd_node *n);
    void (*periodic)(struct dd_node *n, uint64_t now_ms);
    void (*conn_periodic)(struct conn *c, uint64_t now_ms);
    void (*turn_end)(struct dd_node *n);

    /* Diagnostics for dd_dataplane_summary / dd_dataplane_fault: DD_ENOTFOUND when this
     * transport has nothing to show or switch. */
    int (*summary)(struct dd_node *n, FILE *out);
    int (*fault)(struct dd_node *n, bool enable);
};

/* ---- receivers: when a carrier polls in application threads ------------------------ */

/* A carrier that has no thread of its own (the DPDK carrier polled inline: the node has one
 * core) gets its polling done by the threads that wait in dd_recv and send. It installs
 * these in n->poller at node_start; the core then waits, copies and closes through them. */
struct rt_poller_ops {
    /* A receiver with nothing to read (recv_lock held): returns once mb is ready
     * (mbox_ready), at the deadline (ns on CLOCK_MONOTONIC's scale, UINT64_MAX: none;
     * false), or earlier when it is worth looking again (true). */
    bool (*wait)(struct dd_mbox *mb, uint64_t deadline_ns);
    /* Copies a payload of a message `from` sends into its buffer (mbox_copy_payload). */
    void (*copy_payload)(struct dd_mbox *from, uint8_t *dst, const uint8_t *src, size_t len);
    /* mb is closing: it no longer waits (and must not stay the one that polls). */
    void (*mbox_closed)(struct dd_mbox *mb);
    /* The control thread: a bounded turn of polling after each of its turns (the fallback
     * when no receiver is waiting), and the longest it may sleep before the next. */
    unsigned (*control_poll)(struct dd_node *n);
    uint64_t (*control_period_ns)(struct dd_node *n);
};

#define RT_TRANSPORTS_MAX 4

/* Each transport of n, in table order: RT_FOR_EACH_TRANSPORT(n, t) { ... t->hook ... }. */
#define RT_FOR_EACH_TRANSPORT(n, t)                                                                \
    for (const struct rt_transport *const *t##_it = (n)->transports, *t;                           \
         t##_it < (n)->transports + (n)->n_transports && ((t = *t##_it), 1); t##_it++)

#endif
