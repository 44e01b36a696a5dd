/* Connections to other nodes (runtime/core/conn.c): table, references, dialling, registry,
 * nodedown. See the design comment in conn.c. */
#ifndef DPDIST_RUNTIME_CORE_CONN_H
#define DPDIST_RUNTIME_CORE_CONN_H

#include "runtime/core/node.h"

/* The connection to peer (PENDING or UP), no reference taken: caller in an RCU section. */
struct conn *conn_lookup(struct dd_node *n, const char *peer);
/* A referenced connection for sending: the existing one or a new one being dialled.
 * NULL with the error set: DD_EINVAL (not a node name, or this node), DD_ENOCONN (short and
 * long names), DD_ECLOSED (the node is stopping), DD_ENOMEM. */
struct conn *conn_get_or_dial(struct dd_node *n, const char *peer);
/* A referenced connection that is not DOWN (PENDING or UP), or NULL: for signals that only
 * make sense on the connection their relation lives on (dropped, not a reason to dial). */
struct conn *conn_get_live(struct dd_node *n, const char *peer);
/* A new PENDING connection in the table (node->lock held), referenced for the caller; if
 * one exists already, *existed and that one (referenced). NULL when out of memory or when
 * the node is stopping (node->closing). */
struct conn *conn_insert_new(struct dd_node *n, const char *peer, bool *existed);
void conn_ref(struct conn *c);
void conn_unref(struct conn *c);

/* Send on the current carrier (queues while PENDING). DD_OK, DD_EWOULDBLOCK, DD_ENOCONN. */
int conn_send(struct conn *c, struct obuf *b, bool nonblock);
/* Queues marker as the last message on c's current carrier and moves c's sends to next
 * (the current carrier's switch_to; a no-op if it is next already). */
void conn_switch_carrier(struct conn *c, struct obuf *marker, const struct rt_carrier_ops *next);
/* The kind of c's current carrier. Any thread. */
enum dd_carrier_kind conn_carrier_kind(struct conn *c);

/* What the handshake told about the peer (control thread, before conn_set_up): its trailer
 * (sets peer_dpdist, and tells the transports), its EPMD Extra field (initiator). */
void conn_peer_trailer(struct conn *c, const uint8_t *t, size_t len);
void conn_peer_epmd_extra(struct conn *c, const uint8_t *extra, size_t len);
/* A '$dpdist' message for the transports (runtime/core/mesh.c decodes it). */
void conn_peer_msg(struct conn *c, const struct dpctl_msg *m, enum dpctl_result rc);

/* Handshake done: UP. Control thread. */
void conn_set_up(struct conn *c);
/* Tear down with nodedown semantics. Any thread; idempotent. */
void conn_down(struct conn *c, int status, const char *why);
void conn_down_all(struct dd_node *n, const char *why);
/* Wait until c is UP (DD_OK) or DOWN / timeout (error set). */
int conn_wait_up(struct conn *c, int timeout_ms);


#endif
