/* The node (runtime/core/node.c). Its connections: conn.h; its mailboxes: mbox.h; each
 * carrier's part of it: theirs (n->tcp, n->dp: runtime/carrier_tcp/tcpc.h,
 * runtime/carrier_dpdk/dpc.h), reached through carrier.h only.
 *
 * Threads and who owns what:
 * - the control thread (one per node, ctl.c) owns sockets: the listener, the EPMD
 *   registration, every connection socket during and after the handshake, the timers. It
 *   reads and dispatches incoming TCP traffic, and writes when a socket's queue is backed up;
 * - application threads call the dd_ API: they encode messages and hand them to a
 *   connection's carrier (writing directly to the socket when its queue is empty), open and
 *   close mailboxes, and receive (processing their mailbox's signals, like a BEAM process);
 * - the data plane's poller (when configured) delivers DPDK traffic through the same
 *   dispatch path as the control thread.
 *
 * Tables read on the delivery path (connections by name, registered names, mailboxes by pid)
 * are RCU-protected (runtime/core/rcu.h); writers hold node->lock. Per-connection state that
 * several threads touch (send queue, link/monitor registry) has its own lock.
 * Lock order: docs/architecture.md "Locks".
 */
#ifndef DPDIST_RUNTIME_CORE_NODE_H
#define DPDIST_RUNTIME_CORE_NODE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <urcu/rculfhash.h>
#include <urcu/urcu-qsbr.h>

#include "common/budget.h"
#include "control/distmsg.h"
#include "control/handshake.h"
#include "control/nodename.h"
#include "dpdist/dpdist.h"
#include "runtime/core/carrier.h"
#include "runtime/core/ctl.h"
#include "runtime/core/lasterr.h"
#include "runtime/core/mbox_queue.h"
#include "runtime/core/obuf.h"
#include "runtime/core/rel.h"
#include "runtime/core/sig.h"

#define RT_LOG_NAME_MAX 64

struct conn;
struct dd_mbox;
struct dpc_node;  /* the DPDK carrier's part (runtime/carrier_dpdk/dpc.h), NULL when TCP only */
struct tcpc_node; /* the TCP carrier's part (runtime/carrier_tcp/tcpc.h) */

struct rt_cookie {
    struct rt_cookie *next;
    char *peer;
    char *cookie;
};

/* The node: its identity and configuration (read-only once started), its cookies, the
 * tables of connections, names and mailboxes, the control thread, and each carrier's part
 * (n->tcp, n->dp: theirs alone; the core never looks inside). */
struct dd_node {
    char name[HS_NAME_MAX + 1];
    char log_name[RT_LOG_NAME_MAX]; /* module tag for log lines */
    enum nodename_kind kind;
    bool hidden;
    uint32_t creation;
    uint64_t flags; /* advertised */

    /* Configuration. */
    unsigned ticktime_ms, tick_interval_ms;
    unsigned setuptime_ms;
    size_t max_msg;
    size_t max_mailboxes;
    char epmd_host[256];
    bool epmd_host_set;
    uint16_t epmd_port;

    /* Cookies (under cookie_lock, a leaf). */
    pthread_mutex_t cookie_lock;
    char *cookie;
    struct rt_cookie *cookies;

    /* The control thread (runtime/core/ctl.h) and the node's own sockets. */
    struct ctl_loop ctl;
    /* Where the node takes connections (what EPMD hands out): set by the carrier that
     * listens (the TCP carrier) in its node_start. */
    uint16_t listen_port;
    char listen_address[64]; /* what the listener is bound to, as given */
    int epmd_fd;             /* our registration: EPMD closing it ends it */
    struct ctl_item epmd_item;
    bool closing; /* dd_node_stop has begun: no new mailbox or connection (under lock) */
    uint8_t trailer[HS_TRAILER_MAX]; /* what our 'N' messages carry after the name */
    size_t trailer_len;

    /* Reassembly memory of the whole node (common/budget.h, lock-free): TCP fragments and
     * large packets (control thread), DPDK message buffers (the poller); reasm_waiting: the
     * connections that wait for room in it (written by the TCP carrier, read by
     * dd_node_reassembly with __atomic loads). */
    struct budget reasm_budget;
    size_t reasm_waiting;

    /* Tables (RCU). */
    pthread_mutex_t lock;
    struct cds_lfht *conns; /* peer name -> struct conn (PENDING or UP) */
    struct cds_lfht *names; /* registered name -> dd_mbox */
    struct dd_mbox *_Atomic *slots; /* pid number -> mailbox */
    uint32_t *slot_serial;          /* next serial per slot */
    uint32_t *free_slots;
    size_t n_free;
    size_t n_mailboxes;
    _Atomic uint64_t ref_counter;

    /* Node monitors: mailboxes subscribed with dd_monitor_nodes (under node->lock). */
    struct dd_mbox **node_monitors;
    size_t n_node_monitors, cap_node_monitors;

    struct dd_mbox *system; /* internal sender for net_kernel replies and '$dpdist' messages */
    /* The carriers (runtime/core/carrier.h), wired by the API; transport_started[i] once
     * transports[i]->node_start succeeded; dialler: the one that connects. */
    const struct rt_transport *transports[RT_TRANSPORTS_MAX];
    unsigned n_transports;
    bool transport_started[RT_TRANSPORTS_MAX];
    const struct rt_transport *dialler;
    struct tcpc_node *tcp;
    struct dpc_node *dp;
    /* How receivers wait and payloads are copied when a carrier polls in application
     * threads (set by that carrier's node_start; NULL: the core's own way). */
    const struct rt_poller_ops *poller;
    /* How a waiting receiver spins before it sleeps (mbox.c): for MBOX_SPIN_NS, yielding
     * the core at every turn when the process may run on one CPU only (at node start). */
    uint64_t mbox_spin_ns;
};

/* Identities. */
void node_make_ref(struct dd_node *n, dd_ref *out);
bool node_pid_is_local(const struct dd_node *n, const dd_pid *p);
/* Equality of identities (pure; arguments not NULL). dd_pid_eq/dd_ref_eq are these plus the
 * API's NULL checks: the core calls these, never the public functions. */
bool node_pid_eq(const dd_pid *a, const dd_pid *b);
bool node_ref_eq(const dd_ref *a, const dd_ref *b);

/* Node events (node.c): nodeup/nodedown to the subscribers of dd_monitor_nodes. */
void node_notify_nodes(struct dd_node *n, const char *peer, bool up, bool visible);
/* The cookie to use with peer, copied into buf (node.c; any thread). */
const char *node_cookie_for(struct dd_node *n, const char *peer, char *buf, size_t cap);

#endif
