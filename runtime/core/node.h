/* The node runtime's shared structures: the node, its connections and its mailboxes.
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
 * Lock order: mbox->lock, then conn->reg_lock / conn->tx_lock, then node->lock.
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
#include "runtime/carrier_tcp/hsguard.h"
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
struct rt_sock;
struct dpc_node; /* the node's data plane (runtime/carrier_dpdk/dpc.h), NULL when TCP only */



/* ---- connections -------------------------------------------------------------------- */

enum rt_conn_state {
    CONN_PENDING = 1, /* dialling or handshaking; messages queue up */
    CONN_UP,
    CONN_DOWN,        /* gone: unlinked from the table, freed after a grace period */
};


/* One socket of a connection: the handshake, then the established TCP carrier. */
struct rt_sock {
    struct ctl_item item; /* the socket's events (hsio.c) */
    struct dd_node *node;
    int fd;
    bool initiator;
    bool up;              /* handshake done: 4-byte framed traffic */
    struct conn *conn; /* acceptor: NULL until the peer is admitted */
    struct hs *hs;        /* during the handshake */
    uint8_t *rx;
    size_t rx_len, rx_cap;
    uint64_t deadline_ms; /* handshake step deadline (net_setuptime) */
    bool want_out;        /* EPOLLOUT registered */
    struct rt_sock *next, *prev; /* node's list of handshaking sockets */
    bool listed;
    bool lost_race; /* simultaneous connect: this attempt gave way to the peer's */
    bool dead;      /* closed; memory freed after the current event batch */
    struct conn *owner; /* established: the connection using it (not a reference) */
    struct rt_sock *next_dead;
    char cookie_buf[256];
    /* Acceptor: the peer's address for the handshake guard (runtime/carrier_tcp/hsguard.h), the token
     * of this attempt there, and the time until which the socket is held unread (0: not
     * held, registered with epoll). */
    struct hsg_addr src;
    bool src_known;
    uint32_t guard_token;
    uint64_t held_until_ms;
};

struct dp_chan;
struct hsio_dial; /* runtime/carrier_tcp/hsio.c */

/* A queued outgoing buffer (TCP). */
struct rt_txq {
    struct rt_txq *next;
    struct obuf *b;
    size_t off;      /* bytes of b written; fragmented: where the next fragment's data starts */
    uint64_t sender; /* b's ordering tag: one sender's messages never overtake each other */
    bool barrier;    /* the carrier switch marker: nothing moves behind it (tcpc.c) */
    /* Sent in fragments (tcpc.c) when frags_left > 0: the FragmentId of the next one. */
    uint64_t frag_seq, frags_left;
    bool pkt_open;        /* a fragment is being written: its header and data below */
    uint8_t pkt_hdr_len;  /* 4-byte length + fragment header */
    uint8_t pkt_hdr[DISTMSG_LEN_BYTES + DISTMSG_HDR_FRAG_MAX_LEN];
    size_t pkt_data, pkt_off; /* the fragment's data bytes; bytes of the packet written */
};

struct conn {
    struct cds_lfht_node ht_node; /* node->conns, keyed by peer name */
    struct rcu_head rcu;
    _Atomic int refs;
    struct dd_node *node;
    char peer[HS_NAME_MAX + 1];
    _Atomic int state; /* enum rt_conn_state */
    uint64_t created_ms;

    /* Set when the handshake completes. */
    uint64_t flags; /* negotiated distribution flags */
    uint32_t peer_creation;
    bool peer_published;
    bool peer_dpdist; /* the peer sent the dpdist trailer */
    struct rt_sock *sock; /* the established (or outgoing handshaking) socket */
    bool dialling;        /* an outgoing attempt is in progress (dialler thread / handshake) */
    unsigned dial_gen;    /* bumped when a dial attempt is abandoned (node->lock) */

    /* TCP send side. */
    pthread_mutex_t tx_lock;
    pthread_cond_t tx_room;
    struct rt_txq *txq_head, *txq_tail;
    size_t txq_bytes;
    size_t txq_frag_bytes;  /* of txq_bytes: data of messages going in fragments */
    uint64_t frag_seq_next; /* SequenceId of our next fragmented message */
    _Atomic uint64_t last_tx_ms;

    /* Receive side (control thread only, except the atomics). */
    _Atomic uint64_t last_rx_ms;
    struct distmsg_reasm reasm;
    struct distmsg_ctl *ctl; /* decode scratch (large) */
    _Atomic int64_t unconsumed; /* delivered message bytes not yet freed by the application */
    _Atomic bool rx_paused;     /* EPOLLIN off because of unconsumed */
    /* The node's reassembly memory (runtime/carrier_tcp/rxbudget.c; control thread): waiting for room
     * (EPOLLIN off, on the node's wait list with what it holds), and the reservation of
     * the large packet being received. */
    bool rxb_waiting;
    struct conn *rxb_next;
    size_t rxb_waiting_held;
    size_t rxb_pkt;

    /* The carrier data goes through (TCP until a data-plane upgrade); changed under
     * tx_lock, read without it (a TCP send that finds it changed is redirected). */
    const struct rt_carrier_ops *_Atomic carrier;
    bool initiator;        /* we dialled (the upgrade is offered by the initiator) */
    struct dp_chan *dp_chan; /* the data-plane channel once upgraded (control thread) */
    struct dp_chan *_Atomic dp_send_chan; /* its handle for senders; freed with the conn */
    struct distmsg_ctl *dp_ctl; /* decode scratch for the data-plane poller */
    uint64_t dp_local_session;  /* our rx session id for the upgrade (control thread) */
    bool dp_peer_has_dp;        /* from the peer's handshake trailer */
    _Atomic bool dp_peer_switched; /* the peer's {dpdist_switch} was read from TCP */
    _Atomic int dp_down;        /* set by the poller: the channel went down (reason + 1) */
    _Atomic uint64_t max_tick_gap_ns; /* largest gap between ticks received (TCP) */
    uint64_t last_tick_ns;
    _Atomic uint64_t max_rx_gap_ns;   /* largest gap between packets received (TCP) */
    uint64_t last_pkt_ns;

    /* Links and monitors with processes on the peer. */
    pthread_mutex_t reg_lock;
    struct rel *rels;

    /* Waiters in dd_connect: state changes to UP and DOWN are made under up_lock. */
    pthread_mutex_t up_lock;
    pthread_cond_t up_cond;
    int fail_status;    /* why it went down (DD_E*), under up_lock */
    char fail_why[256]; /* ... in words, for dd_connect's error (under up_lock) */
};

/* ---- mailboxes ---------------------------------------------------------------------- */


struct dd_mbox {
    struct cds_lfht_node name_node; /* node->names when registered */
    struct rcu_head rcu;
    struct dd_node *node;
    dd_pid pid;
    char regname[MAXATOMLEN_UTF8];
    unsigned flags;
    uint8_t lane;
    _Atomic bool closed;

    struct mbox_queue q; /* its signals (runtime/core/mbox_queue.h) */

    pthread_mutex_t recv_lock; /* serialises receivers and signal processing */
    pthread_mutex_t lock;      /* relations */
    struct rel *rels;
    bool monitor_nodes;
    uint64_t next_unlink_id;
};

/* ---- the node ----------------------------------------------------------------------- */

struct rt_cookie {
    struct rt_cookie *next;
    char *peer;
    char *cookie;
};

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
    size_t tx_queue_limit; /* TCP send queue bytes before senders wait */
    size_t rx_unconsumed_limit;
    char epmd_host[256];
    bool epmd_host_set;
    uint16_t epmd_port;

    /* Cookies. */
    pthread_mutex_t cookie_lock;
    char *cookie;
    struct rt_cookie *cookies;

    /* Sockets and the control thread. */
    struct ctl_loop ctl;
    int listen_fd;
    struct ctl_item listen_item; /* its events (hsio.c) */
    uint16_t listen_port;
    char listen_address[64]; /* what the listener is bound to, as given */
    int epmd_fd;                 /* our registration: EPMD closing it ends it */
    struct ctl_item epmd_item;
    bool closing; /* dd_node_stop has begun: no new mailbox or connection (under lock) */
    struct rt_sock *handshaking; /* sockets in the handshake (control thread) */
    struct hsg *hsguard;         /* failed handshakes per source address (control thread) */
    /* Reassembly memory of the whole node: TCP fragments and large packets (control thread,
     * runtime/carrier_tcp/rxbudget.h), DPDK message buffers (the poller). Then the TCP connections that
     * wait for room in it, what they hold, and the log state (control thread). */
    struct budget reasm_budget;
    struct conn *rxb_head, *rxb_tail;
    size_t rxb_waiting_bytes, rxb_waiting;
    bool rxb_resuming, rxb_again;
    uint64_t rxb_log_ms, rxb_refusals_logged;
    uint64_t rxb_wait_used;      /* memory in use when a connection last began to wait */
    uint64_t rxb_resumed_ms;     /* when waiting connections were last let go on */
    struct rt_sock *graveyard;   /* closed sockets, freed after the event batch */
    struct hsio_dial *dials;     /* outgoing attempts in their dialler thread (under lock) */
    uint8_t trailer[HS_TRAILER_MAX]; /* what our 'N' messages carry after the name */
    size_t trailer_len;

    /* Tables (RCU). */
    pthread_mutex_t lock;
    struct cds_lfht *conns; /* peer name -> dd_conn (PENDING or UP) */
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

    struct obuf *tick;      /* an empty packet, shared */
    struct dd_mbox *system; /* internal sender for net_kernel replies and '$dpdist' messages */
    /* The carriers (runtime/core/carrier.h), wired by the API; started[i] once
     * transports[i]->node_start succeeded. dial: the one that connects. */
    const struct rt_transport *transports[RT_TRANSPORTS_MAX];
    unsigned n_transports;
    bool transport_started[RT_TRANSPORTS_MAX];
    const struct rt_transport *dialler;
    struct dpc_node *dp;
    _Atomic bool dp_events; /* the poller has something for the control thread */
    /* How receivers wait and payloads are copied when a carrier polls in application
     * threads (set by that carrier's node_start; NULL: the core's own way). */
    const struct rt_poller_ops *poller;
};

/* ---- shared helpers ------------------------------------------------------------------ */


/* Identities. */
void node_make_ref(struct dd_node *n, dd_ref *out);
bool node_pid_is_local(const struct dd_node *n, const dd_pid *p);
bool node_ref_is_local(const struct dd_node *n, const dd_ref *r);

/* Connections: runtime/core/conn.h. Mailboxes: runtime/core/mbox.h. */

/* Mailboxes (mbox.c). */
struct dd_mbox *mbox_lookup_pid(struct dd_node *n, const dd_pid *pid); /* RCU section */
struct dd_mbox *mbox_lookup_name(struct dd_node *n, const char *name); /* RCU section */

/* Node events (node.c). */
void node_notify_nodes(struct dd_node *n, const char *peer, bool up, bool visible);
/* The cookie to use with peer, copied into buf (node.c). */
const char *node_cookie_for(struct dd_node *n, const char *peer, char *buf, size_t cap);


#endif
