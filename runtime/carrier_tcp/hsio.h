/* Handshake I/O (runtime/carrier_tcp/hsio.c): the sockets of connections — accepted
 * (listen.c) or dialled (dial.c) — driving the handshake state machine on them
 * (control/handshake.c), then handing them to the TCP carrier (tcpc.c). Control thread. */
#ifndef DPDIST_RUNTIME_CARRIER_TCP_HSIO_H
#define DPDIST_RUNTIME_CARRIER_TCP_HSIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/handshake.h"
#include "runtime/carrier_tcp/hsguard.h"
#include "runtime/core/conn.h"
#include "runtime/core/ctl.h"
#include "runtime/core/node.h"

/* One socket of a connection: the handshake, then the established TCP carrier. Control
 * thread (the fields the carrier's senders read, up/fd/want_out, change under the
 * connection's tx_lock once it is established). */
struct hsio_sock {
    struct ctl_item item; /* the socket's events */
    struct dd_node *node;
    int fd;
    bool initiator;
    bool up;            /* handshake done: 4-byte framed traffic */
    struct conn *conn;  /* acceptor: NULL until the peer is admitted */
    struct hs *hs;      /* during the handshake */
    uint8_t *rx;
    size_t rx_len, rx_cap;
    uint64_t deadline_ms; /* handshake step deadline (net_setuptime) */
    bool want_out;        /* EPOLLOUT registered */
    struct hsio_sock *next, *prev; /* the node's list of handshaking sockets */
    bool listed;
    bool lost_race; /* simultaneous connect: this attempt gave way to the peer's */
    bool dead;      /* closed; memory freed after the current event batch */
    struct conn *owner; /* established: the connection using it (not a reference) */
    struct hsio_sock *next_dead;
    char cookie_buf[256];
    /* Acceptor: the peer's address for the handshake guard (hsguard.h), the token of this
     * attempt there, and the time until which the socket is held unread (0: not held,
     * registered with epoll). */
    struct hsg_addr src;
    bool src_known;
    uint32_t guard_token;
    uint64_t held_until_ms;
};

/* An accepted socket starts its handshake (listen.c): its peer's address for the guard
 * (NULL: not IPv4/IPv6) and the guard's token; held_until_ms != 0: left unread until then.
 * false when out of memory (the caller closes fd and returns the token). */
bool hsio_accepted(struct dd_node *n, int fd, const struct hsg_addr *src, uint32_t guard_token,
                   uint64_t held_until_ms);
/* A dialled socket (dial.c) starts our handshake as initiator for c; takes fd (closed, and
 * c taken down, when out of memory). */
void hsio_dialled(struct dd_node *n, int fd, struct conn *c);
/* Handshake deadlines, held sockets whose wait is over, abandoned attempts. */
void hsio_reap(struct dd_node *n, uint64_t now_ms);
/* Frees the sockets closed during the last event batch. */
void hsio_bury(struct dd_node *n);
/* Closes s now; its memory goes at the next hsio_bury (an event for it may be pending). */
void hsio_sock_free(struct dd_node *n, struct hsio_sock *s);

#endif
