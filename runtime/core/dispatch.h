/* Incoming distribution messages (runtime/core/dispatch.c). */
#ifndef DPDIST_RUNTIME_CORE_DISPATCH_H
#define DPDIST_RUNTIME_CORE_DISPATCH_H

#include "control/distmsg.h"
#include "runtime/core/node.h"

/* Where a message body came from, for memory and accounting. */
struct dispatch_src {
    struct distmsg_ctl *ctl; /* decode scratch of the delivering thread */
    void *owned;             /* body memory we may keep, or NULL: copy out */
    void (*owned_free)(void *owned); /* how to free it */
    size_t acct;             /* bytes to report consumed when the application is done */
    void (*consumed_fn)(struct conn *c, size_t bytes);
};

/* Decode one complete message body from connection c and route it. Called on the thread of
 * the carrier that received it. With src->owned, the payload of a message is handed to the
 * mailbox in place (no copy) and the buffer freed with the message; otherwise the body is
 * only read during the call. Every path reports src->acct consumed exactly once. */
void dispatch_body(struct conn *c, const struct distmsg_body *body,
                   const struct dispatch_src *src);

#endif
