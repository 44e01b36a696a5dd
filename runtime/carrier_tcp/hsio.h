/* Handshake I/O (runtime/carrier_tcp/hsio.c): accepting, dialling, driving the handshake. Control thread
 * except hsio_dial (any thread). */
#ifndef DPDIST_RUNTIME_CARRIER_TCP_HSIO_H
#define DPDIST_RUNTIME_CARRIER_TCP_HSIO_H

#include "runtime/core/node.h"

void hsio_accept(struct dd_node *n);
/* The listener's control-thread item (node->listen_item): accepts. */
void hsio_listener_event(struct ctl_item *it, uint32_t events);
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
