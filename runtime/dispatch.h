/* Incoming distribution messages (runtime/dispatch.c). */
#ifndef DPDIST_RUNTIME_DISPATCH_H
#define DPDIST_RUNTIME_DISPATCH_H

#include "control/distmsg.h"
#include "runtime/node.h"

/* Decode one complete message body from connection c and route it. Called on the thread of
 * the carrier that received it; c->ctl is its scratch space, so one thread per connection
 * at a time. */
void dispatch_body(struct dd_conn *c, const struct distmsg_body *body);

#endif
