/* Outgoing messages and signals (runtime/core/route.c): local pushes or encoded control
 * messages on a connection. Any thread. */
#ifndef DPDIST_RUNTIME_CORE_ROUTE_H
#define DPDIST_RUNTIME_CORE_ROUTE_H

#include "runtime/core/node.h"

/* DD_OK or DD_EBADTERM (with the error message set). */
int route_check_term(const void *term, size_t len);
/* Data-plane ordering tag of a local pid. */
uint64_t route_sender_tag(const dd_pid *pid);

int route_send_pid(struct dd_mbox *from, const dd_pid *to, const void *term, size_t len,
                   bool nonblock);
int route_send_reg(struct dd_mbox *from, const char *name, const char *node, const void *term,
                   size_t len, bool nonblock);
int route_send_alias(struct dd_mbox *from, const dd_ref *alias, const void *term, size_t len);
int route_link(struct dd_mbox *mb, const dd_pid *to);
int route_unlink(struct dd_mbox *mb, const dd_pid *to);
/* Monitor pid, or (pid NULL) the name on node (NULL node: this node). */
int route_monitor(struct dd_mbox *mb, const dd_pid *pid, const char *name, const char *node,
                  dd_ref *ref_out);
int route_demonitor_ref(struct dd_mbox *mb, const dd_ref *ref);

#endif
