/* The TCP carrier (runtime/carrier_tcp/tcpc.c): framing, send queue, receive path, ticks. */
#ifndef DPDIST_RUNTIME_CARRIER_TCP_TCPC_H
#define DPDIST_RUNTIME_CARRIER_TCP_TCPC_H

#include "runtime/core/node.h"

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

/* Queue `marker` as the last message on TCP and move the connection's sends to `next`. */
void tcpc_send_and_switch(struct conn *c, struct obuf *marker,
                          const struct rt_carrier_ops *next);

/* The TCP carrier's ops (a connection's first carrier) and its transport table
 * (tcpc_node.c). */
extern const struct rt_carrier_ops rt_tcp_carrier;
extern const struct rt_transport tcpc_transport;

#endif
