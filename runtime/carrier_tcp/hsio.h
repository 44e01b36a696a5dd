/* Handshake I/O (runtime/carrier_tcp/hsio.c): accepted and dialled sockets, driving the
 * handshake. Control thread except hsio_dial (any thread). */
#ifndef DPDIST_RUNTIME_CARRIER_TCP_HSIO_H
#define DPDIST_RUNTIME_CARRIER_TCP_HSIO_H

#include "runtime/core/node.h"

/* Dials c's peer (any thread): the EPMD lookup and the TCP connect run on a short-lived
 * thread, then the handshake on the control thread. Takes its own reference to c. */
void hsio_dial(struct dd_node *n, struct conn *c);
/* An accepted socket starts its handshake (listen.c): its peer's address for the guard
 * (NULL: not IPv4/IPv6) and the guard's token; held_until_ms != 0: left unread until then.
 * false when out of memory (the caller closes fd and returns the token). */
bool hsio_accepted(struct dd_node *n, int fd, const struct hsg_addr *src, uint32_t guard_token,
                   uint64_t held_until_ms);
void hsio_on_event(struct dd_node *n, struct rt_sock *s, uint32_t events);
/* Handshake deadlines and abandoned attempts. */
void hsio_reap(struct dd_node *n, uint64_t now_ms);
/* Frees the sockets closed during the last event batch. */
void hsio_bury(struct dd_node *n);
void hsio_sock_free(struct dd_node *n, struct rt_sock *s);
/* node_stop, after the control thread has ended: the dials still blocked in their EPMD
 * lookup or TCP connect finish on their own, without touching the node again. */
void hsio_orphan_dials(struct dd_node *n);
/* The connection an established socket belongs to (referenced) or NULL. */
struct conn *hsio_sock_conn(struct dd_node *n, struct rt_sock *s);

#endif
