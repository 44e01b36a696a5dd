/* Node lifecycle used by the public API (runtime/core/node.c). */
#ifndef DPDIST_RUNTIME_CORE_NODE_API_H
#define DPDIST_RUNTIME_CORE_NODE_API_H

#include "runtime/core/node.h"

/* Starts a node with these transports (runtime/core/carrier.h), in this order; one of them
 * must connect (dial). DD_OK, or a DD_E* status with the thread's last error set. */
int node_start(const struct rt_start *st, const struct rt_transport *const *transports,
               unsigned n_transports, struct dd_node **out);
void node_stop(struct dd_node *n);
int node_set_cookie(struct dd_node *n, const char *peer, const char *cookie);

#endif
