/* Outgoing distribution messages: one reference-counted buffer per message, shared by the
 * carriers. Layout: [4-byte length][dist header + control + payload]. The TCP carrier sends
 * it whole; the DPDK carrier sends from obuf_body (its frames carry their own lengths). The
 * struct dp_msg at the front lets the data plane hold references without copying.
 * Thread-safe reference counting; the contents are immutable once built. */
#ifndef DPDIST_RUNTIME_CORE_OBUF_H
#define DPDIST_RUNTIME_CORE_OBUF_H

#include <stddef.h>
#include <stdint.h>

#include <ei.h>

#include "control/distmsg.h"
#include "dataplane/dp_msg.h"

struct obuf {
    struct dp_msg dp; /* dp.data = obuf_body(b), dp.len = len - DISTMSG_LEN_BYTES */
    size_t len;       /* bytes in `bytes`, length prefix included */
    uint8_t bytes[];
};

/* The packet after its length prefix: dist header, control message, payload. */
static inline uint8_t *obuf_body(struct obuf *b)
{
    return b->bytes + DISTMSG_LEN_BYTES;
}

/* A message from an encoded control part (x: [131,'D',0] + control tuple, as the distmsg
 * encoders produce) and an optional payload term with its version byte (copied without it).
 * sender is the data plane's ordering tag (the sending mailbox), lane its data lane.
 * NULL when out of memory. */
struct obuf *obuf_build(const ei_x_buff *ctl, const uint8_t *payload, size_t payload_len,
                        uint64_t sender, uint8_t lane);
/* As obuf_build, with the payload left for the caller to copy (without its version byte:
 * payload_len - 1 bytes) to obuf_payload(b, ctl). */
struct obuf *obuf_build_nocopy(const ei_x_buff *ctl, size_t payload_len, uint64_t sender,
                               uint8_t lane);
static inline uint8_t *obuf_payload(struct obuf *b, const ei_x_buff *ctl)
{
    return obuf_body(b) + ctl->index;
}
/* A message from raw bytes (dist header + control + payload), copied. */
struct obuf *obuf_from_bytes(const uint8_t *data, size_t len, uint64_t sender, uint8_t lane);

static inline void obuf_ref(struct obuf *b)
{
    dp_msg_ref(&b->dp);
}

static inline void obuf_unref(struct obuf *b)
{
    dp_msg_unref(&b->dp);
}

#endif
