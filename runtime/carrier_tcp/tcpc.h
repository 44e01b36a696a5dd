/* The TCP carrier (runtime/carrier_tcp/tcpc.c): framing, send queue, receive path, ticks. */
#ifndef DPDIST_RUNTIME_CARRIER_TCP_TCPC_H
#define DPDIST_RUNTIME_CARRIER_TCP_TCPC_H

#include "runtime/core/node.h"

/* Start sending what queued while pending (any thread). */
void tcpc_kick(struct conn *c);
/* Control thread: the socket is writable / readable. */
void tcpc_on_writable(struct conn *c);
void tcpc_on_readable(struct conn *c);
/* Drop everything queued (any thread). */
void tcpc_drop_queue(struct conn *c);
/* Close the socket (control thread). */
void tcpc_close(struct conn *c);
/* Reading was paused for unconsumed data; resume (any thread). */
void tcpc_resume_rx(struct conn *c);
/* The socket's epoll events from the connection's wants (control thread): reading is off
 * while it is paused for unconsumed data or waits for reassembly memory (rxbudget.h). */
void tcpc_update_events(struct conn *c);
/* Periodic tick and liveness check (control thread). */
void tcpc_tick(struct conn *c, uint64_t now_ms);

/* Queue `marker` as the last message on TCP and move the connection's sends to `next`. */
void tcpc_send_and_switch(struct conn *c, struct obuf *marker,
                          const struct rt_carrier_ops *next);

/* Sockets (runtime/carrier_tcp/hsio.c). */
void hsio_sock_free(struct dd_node *n, struct rt_sock *s);

#endif
