/* Node lifecycle used by the public API (runtime/core/node.c). */
#ifndef DPDIST_RUNTIME_CORE_NODE_API_H
#define DPDIST_RUNTIME_CORE_NODE_API_H

#include "runtime/core/node.h"

int node_start(const struct dd_node_cfg *cfg, struct dd_node **out);
void node_stop(struct dd_node *n);
int node_set_cookie(struct dd_node *n, const char *peer, const char *cookie);

#endif
