/* Dialling (runtime/carrier_tcp/dial.c). */
#ifndef DPDIST_RUNTIME_CARRIER_TCP_DIAL_H
#define DPDIST_RUNTIME_CARRIER_TCP_DIAL_H

struct conn;
struct dd_node;

/* Dials c's peer (any thread): the EPMD lookup and the TCP connect run on a short-lived
 * thread, then the handshake on the control thread. Takes its own reference to c; a failure
 * takes c down (conn_down) with why. */
void dial_start(struct dd_node *n, struct conn *c);
/* node_stop, after the control thread has ended: the dials still blocked in their EPMD
 * lookup or TCP connect finish on their own, without touching the node again. */
void dial_orphan_all(struct dd_node *n);

#endif
