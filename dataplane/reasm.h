/* Fast path (except reasm_create/destroy): no locks, no logging; allocates message
 * buffers only through the caller's allocator hook, one per multi-fragment or
 * out-of-order message.
 *
 * reasm: receive-side message reassembly and per-flow ordering (dataplane.md §4).
 * Takes DATA fragments that the receive window accepted (each sequence number once), in
 * any order; rebuilds messages; hands them to a deliver callback strictly in msg_seq
 * order per flow, flows independent of each other.
 *
 * A single-threaded object owned by the channel's polling thread.
 */
#ifndef DPDIST_DATAPLANE_REASM_H
#define DPDIST_DATAPLANE_REASM_H

#include <stddef.h>
#include <stdint.h>

#include "dataplane/wire.h"

/* Message buffer allocator. alloc may return NULL (the fragment is then dropped with
 * WIRE_DROP_NO_MEMORY and comes again by retransmission). Buffers handed to the deliver
 * callback with `buf` set are released by their new owner with the same free. */
struct reasm_alloc {
    void *(*alloc)(void *ctx, size_t len);
    void (*free)(void *ctx, void *buf, size_t len);
    void *ctx;
};

/* One complete message, in order. Ownership:
 *   buf == NULL: `data` points into the caller's frame (single-fragment message that
 *                was next in its flow); valid only during the callback: copy it.
 *   buf != NULL: `data` == buf, allocated by reasm_alloc.alloc(len); the callback
 *                takes ownership and releases it with reasm_alloc.free(ctx, buf, len). */
struct reasm_msg {
    const uint8_t *data;
    void *buf;
    uint32_t len;
    uint32_t msg_seq;
    uint16_t flow;
};

/* Must not call back into the same reasm object. */
typedef void (*reasm_deliver_fn)(void *ctx, const struct reasm_msg *m);

struct budget; /* common/budget.h */

struct reasm_params {
    uint16_t max_flows;     /* flow slots 0..max_flows-1 */
    uint32_t max_pending;   /* messages held that are not the next of their flow */
    uint64_t max_bytes;     /* bytes of buffers held (rx_window_bytes) */
    uint32_t max_msg_bytes; /* largest msg_len accepted */
    /* The node's reassembly memory, shared with its other channels and the TCP carrier
     * (NULL: none). Every buffer held takes its msg_len from it until its message is
     * delivered. A message that is not its flow's next may only use it up to cap -
     * max_msg_bytes, so a flow's next message always finds room once the next messages in
     * progress elsewhere are delivered: held messages never wait on each other. */
    struct budget *shared;
};

struct reasm;

/* Slow path. The entry pool holds max_pending + max_flows messages: every flow's next
 * message can always be taken, so a flow is never blocked by other flows' later
 * messages. Returns NULL with errno EINVAL or ENOMEM. */
struct reasm *reasm_create(const struct reasm_params *p, const struct reasm_alloc *alloc,
                           reasm_deliver_fn deliver, void *deliver_ctx);
/* Frees every held buffer through the allocator, then the object. NULL is a no-op. */
void reasm_destroy(struct reasm *r);

/* Insert one fragment (hdr.type DATA; hdr.flow, msg_seq, msg_len, frag_off; `len`
 * payload bytes). Delivers every message this completes, in order. Returns WIRE_OK, or
 * the drop reason with nothing changed:
 *   BAD_HEADER    flow >= max_flows
 *   BAD_LENGTH    msg_len > max_msg_bytes, len == 0 or frag_off + len > msg_len
 *   STALE_MSG     msg_seq already delivered in this flow
 *   BAD_FRAGMENT  msg_len differs from an earlier fragment's, or more bytes than msg_len
 *   REASM_FULL    max_pending messages already held beyond their flows' next message
 *   NO_CREDIT     buffering the message would hold more than max_bytes, or a new
 *                 message goes beyond the credit limit
 *   NODE_BUDGET   the shared budget has no room for the message's buffer
 *   NO_MEMORY     the allocator failed
 * Overlapping fragments from a dishonest sender cannot write outside the buffer; they
 * may complete a message early, with its bytes undefined. */
enum wire_drop reasm_insert(struct reasm *r, const struct wire_hdr *h, const uint8_t *payload,
                            uint32_t len);

/* Credit check (dataplane.md §4): the msg_len of every message seen since creation may
 * add up to at most `limit` (the channel's current grant, consumed + rx_window_bytes);
 * a fragment of a new message beyond it is dropped with WIRE_DROP_NO_CREDIT. Default:
 * no limit. */
void reasm_set_credit_limit(struct reasm *r, uint64_t limit);
uint64_t reasm_started_bytes(const struct reasm *r);

/* Introspection (counters, tests). */
uint32_t reasm_pending(const struct reasm *r);    /* messages held */
uint64_t reasm_held_bytes(const struct reasm *r); /* bytes of buffers held */
uint32_t reasm_next_msg_seq(const struct reasm *r, uint16_t flow);

#endif
