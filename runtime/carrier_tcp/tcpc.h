/* The TCP carrier (runtime/carrier_tcp/): framing, the send queue, the receive path and
 * ticks (tcpc.c), the handshake I/O (hsio.c, dial.c, listen.c, hsguard.c), the reassembly
 * memory's waiting connections (rxbudget.c), and its transport (tcpc_node.c).
 *
 * Its per-connection and per-node state is its own (c->tcp, n->tcp): the node core never
 * looks inside. Threads: see each field; node->lock (the core's) also guards the fields
 * the handshake's admission decides on (sock, dial_gen).
 */
#ifndef DPDIST_RUNTIME_CARRIER_TCP_TCPC_H
#define DPDIST_RUNTIME_CARRIER_TCP_TCPC_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/distmsg.h"
#include "runtime/carrier_tcp/hsguard.h"
#include "runtime/carrier_tcp/tcpc_stats.h"
#include "runtime/carrier_tcp/txq.h"
#include "runtime/core/carrier.h"
#include "runtime/core/conn.h"
#include "runtime/core/ctl.h"
#include "runtime/core/node.h"

struct dial;
struct hsio_sock;

/* The TCP carrier's part of a connection (c->tcp; conn_init .. conn_fini). */
struct tcpc_conn {
    /* The established (or outgoing handshaking) socket: set and cleared under node->lock,
     * read under tx_lock or on the control thread. */
    struct hsio_sock *sock;
    unsigned dial_gen; /* bumped when a dial attempt is abandoned (node->lock) */

    /* Send side, under tx_lock (a mutex: senders of any thread, the control thread when
     * the socket is writable). tx_room: senders waiting for queue room. tx_waiters:
     * senders blocked on tx_lock itself; whoever is writing lets go for them (flush_locked),
     * so a small message is queued ahead of the next fragment, not after the last. */
    pthread_mutex_t tx_lock;
    pthread_cond_t tx_room;
    _Atomic unsigned tx_waiters;
    struct txq txq;
    _Atomic uint64_t last_tx_ms;

    /* Receive side (control thread only, except the atomics). */
    _Atomic uint64_t last_rx_ms;
    struct distmsg_reasm reasm;
    struct distmsg_ctl *rx_ctl; /* decode scratch (large) */
    _Atomic int64_t unconsumed; /* delivered message bytes not yet freed by the application */
    _Atomic bool rx_paused;     /* EPOLLIN off because of unconsumed */
    /* The fragment body being read straight into its message's buffer (tcpc.c, direct
     * placement): where the next bytes go and how many are still due; and whether
     * fragments are streaming (the next reads then take little beyond a body into rx). */
    uint8_t *rx_dst;
    size_t rx_dst_left;
    bool rx_frag_stream;
    struct tcpc_rx_stats rx_stats; /* written relaxed here, read by tcpc_rx_stats_get */
    /* The node's reassembly memory (rxbudget.c; control thread): waiting for room (EPOLLIN
     * off, on the node's wait list with what it holds), and the reservation of the large
     * packet being received. */
    bool rxb_waiting;
    struct conn *rxb_next;
    size_t rxb_waiting_held;
    size_t rxb_pkt;
    /* Largest gaps between ticks and between packets received (dd_peer_stats): one writer
     * (the control thread, relaxed load-then-store), read-and-reset by exchange: approximate,
     * a reset may be lost. */
    _Atomic uint64_t max_tick_gap_ns;
    uint64_t last_tick_ns;
    _Atomic uint64_t max_rx_gap_ns;
    uint64_t last_pkt_ns;
};

/* The TCP carrier's part of a node (n->tcp; node_start .. node_stop). Control thread,
 * except where noted. */
struct tcpc_node {
    struct dd_node *node;
    int listen_fd;
    struct ctl_item listen_item;     /* its events (listen.c) */
    struct hsio_sock *handshaking;   /* sockets in the handshake */
    struct hsio_sock *graveyard;     /* closed sockets, freed after the event batch */
    struct hsg hsguard;              /* failed handshakes per source address */
    struct dial *dials;              /* outgoing attempts in their threads (node->lock) */
    struct obuf *tick;               /* an empty packet, shared */
    size_t tx_queue_limit;           /* send queue bytes per class before senders wait */
    size_t rx_unconsumed_limit;      /* delivered bytes not yet freed before reading stops */
    /* Connections that wait for room in the node's reassembly memory (rxbudget.c). */
    struct conn *rxb_head, *rxb_tail;
    size_t rxb_waiting_bytes;
    bool rxb_resuming, rxb_again;
    uint64_t rxb_log_ms, rxb_refusals_logged;
    uint64_t rxb_wait_used;  /* memory in use when a connection last began to wait */
    uint64_t rxb_resumed_ms; /* when waiting connections were last let go on */
};

/* The socket of a connection that has just come up (control thread): bounds its unsent
 * bytes to TXQ_SOCK_NOTSENT_BYTES (TCP_NOTSENT_LOWAT). The send buffer is left to the
 * kernel's autotuning (no fixed SO_SNDBUF): it then holds what is in flight, not a queue. */
void tcpc_sock_up(struct dd_node *n, int fd, const char *peer);
/* Start sending what queued while pending (any thread). */
void tcpc_kick(struct conn *c);
/* Control thread: the socket is writable / readable. */
void tcpc_on_writable(struct conn *c);
void tcpc_on_readable(struct conn *c);
/* Drop everything queued and release blocked senders (any thread, at conn_down). */
void tcpc_drop_queue(struct conn *c);
/* Data queued on an UP connection (node_stop waits for it). */
bool tcpc_busy(struct conn *c);
/* The application freed `bytes` of messages this carrier delivered (any thread). */
void tcpc_consumed(struct conn *c, size_t bytes);
/* Close the socket (control thread). */
void tcpc_close(struct conn *c);
/* Reading was paused for unconsumed data; resume (any thread). */
void tcpc_resume_rx(struct conn *c);
/* The socket's epoll events from the connection's wants (control thread): reading is off
 * while it is paused for unconsumed data or waits for reassembly memory (rxbudget.h). */
void tcpc_update_events(struct conn *c);
/* Periodic tick and liveness check (control thread). */
void tcpc_tick(struct conn *c, uint64_t now_ms);

/* Queue `marker` as the last message on TCP and move the connection's sends to `next`
 * (the switch_to op; conn_switch_carrier). */
void tcpc_send_and_switch(struct conn *c, struct obuf *marker, const struct rt_carrier_ops *next);

/* The TCP carrier's ops (a connection's first carrier) and its transport (tcpc_node.c). */
extern const struct rt_carrier_ops rt_tcp_carrier;
extern const struct rt_transport tcpc_transport;

#endif
