/* Handshake framing over TLS: see hsframe.h. */
#include "control/hsframe.h"

#include <string.h>

#include "common/bytes.h"

static const char *const hsframe_messages[] = {
#define HSFRAME_X_MSG(code, msg) msg,
    HSFRAME_ERRORS(HSFRAME_X_MSG)
#undef HSFRAME_X_MSG
};

const char *hsframe_strerror(enum hsframe_error e)
{
    if ((unsigned)e >= HSFRAME_E__COUNT)
        return "unknown error";
    return hsframe_messages[e];
}

/* Re-frame the message at the front of in: in_hdr length bytes in, out_hdr out. */
static enum hsframe_error reframe(const uint8_t *in, size_t len, size_t in_hdr, size_t *consumed,
                                  uint8_t *out, size_t out_cap, size_t out_hdr, size_t *out_len)
{
    *consumed = 0;
    *out_len = 0;
    if (len < in_hdr)
        return HSFRAME_PARTIAL;
    uint64_t body = in_hdr == HSFRAME_TLS_LEN_BYTES ? be32_get(in) : be16_get(in);
    /* Checked on the length alone: the body is never waited for. */
    if (body > HS_MSG_MAX)
        return HSFRAME_E_TOO_LARGE;
    if (len - in_hdr < body)
        return HSFRAME_PARTIAL;
    if (out_cap < out_hdr + body)
        return HSFRAME_E_SPACE;
    if (out_hdr == HSFRAME_TLS_LEN_BYTES)
        be32_put(out, (uint32_t)body);
    else
        be16_put(out, (uint16_t)body);
    memcpy(out + out_hdr, in + in_hdr, body);
    *consumed = in_hdr + body;
    *out_len = out_hdr + body;
    return HSFRAME_OK;
}

enum hsframe_error hsframe_from_tls(const uint8_t *in, size_t len, size_t *consumed, uint8_t *out,
                                    size_t out_cap, size_t *out_len)
{
    return reframe(in, len, HSFRAME_TLS_LEN_BYTES, consumed, out, out_cap, HSFRAME_TCP_LEN_BYTES,
                   out_len);
}

enum hsframe_error hsframe_to_tls(const uint8_t *in, size_t len, size_t *consumed, uint8_t *out,
                                  size_t out_cap, size_t *out_len)
{
    return reframe(in, len, HSFRAME_TCP_LEN_BYTES, consumed, out, out_cap, HSFRAME_TLS_LEN_BYTES,
                   out_len);
}
