/* Outgoing message buffers: see obuf.h. */
#include "runtime/core/obuf.h"

#include <stdlib.h>
#include <string.h>

#include "common/bigbuf.h"

/* Large messages come from bigbuf: their release, often on the data-plane poller when the
 * peer acknowledges the last fragment, never unmaps memory there. */
static void obuf_free(struct dp_msg *m)
{
    bigbuf_free(m);
}

static struct obuf *obuf_alloc(size_t body_len, uint64_t sender, uint8_t lane)
{
    if (body_len > UINT32_MAX)
        return NULL;
    struct obuf *b = bigbuf_alloc(sizeof(*b) + DISTMSG_LEN_BYTES + body_len, true);
    if (!b)
        return NULL;
    b->len = DISTMSG_LEN_BYTES + body_len;
    distmsg_frame_put_len(b->bytes, (uint32_t)body_len);
    dp_msg_init(&b->dp, obuf_body(b), (uint32_t)body_len, sender, lane, obuf_free, NULL);
    return b;
}

struct obuf *obuf_build(const ei_x_buff *ctl, const uint8_t *payload, size_t payload_len,
                        uint64_t sender, uint8_t lane)
{
    size_t pl = payload_len ? payload_len - 1 : 0; /* without the version byte */
    struct obuf *b = obuf_alloc((size_t)ctl->index + pl, sender, lane);
    if (!b)
        return NULL;
    memcpy(obuf_body(b), ctl->buff, (size_t)ctl->index);
    if (pl)
        memcpy(obuf_payload(b, ctl), payload + 1, pl);
    return b;
}

struct obuf *obuf_build_nocopy(const ei_x_buff *ctl, size_t payload_len, uint64_t sender,
                               uint8_t lane)
{
    size_t pl = payload_len ? payload_len - 1 : 0;
    struct obuf *b = obuf_alloc((size_t)ctl->index + pl, sender, lane);
    if (b)
        memcpy(obuf_body(b), ctl->buff, (size_t)ctl->index);
    return b;
}

struct obuf *obuf_from_bytes(const uint8_t *data, size_t len, uint64_t sender, uint8_t lane)
{
    struct obuf *b = obuf_alloc(len, sender, lane);
    if (b)
        memcpy(obuf_body(b), data, len);
    return b;
}
