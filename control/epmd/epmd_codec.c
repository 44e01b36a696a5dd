/* EPMD wire codec: see epmd_codec.h. Pure: bytes in, bytes out. */
#include "control/epmd/epmd_codec.h"

#include <stdio.h>
#include <string.h>

#include "common/bytes.h"
#include "common/utf8.h"

static const char *const epmd_messages[] = {
#define EPMD_X_MSG(code, msg) msg,
    EPMD_ERRORS(EPMD_X_MSG)
#undef EPMD_X_MSG
};

const char *epmd_strerror(enum epmd_result r)
{
    if ((unsigned)r >= EPMD_E__COUNT)
        return "unknown error";
    return epmd_messages[r];
}

enum epmd_result epmd_frame_check(const uint8_t *buf, size_t got, size_t *total)
{
    if (got < 2)
        return EPMD_E_NEED_MORE;
    size_t want = (size_t)be16_get(buf) + 2;
    if (want < 3 || want >= EPMD_INBUF_SIZE)
        return EPMD_E_SIZE;
    if (got > want)
        return EPMD_E_TRAILING;
    if (got < want)
        return EPMD_E_NEED_MORE;
    *total = want;
    return EPMD_OK;
}

enum epmd_result epmd_check_name(const uint8_t *name, size_t len)
{
    if (len == 0)
        return EPMD_E_NAME_EMPTY;
    if (memchr(name, 0, len))
        return EPMD_E_NAME_NUL;
    long chars = utf8_count_chars(name, len);
    if (chars < 0)
        return EPMD_E_NAME_UTF8;
    if (chars > EPMD_NAME_MAX_CHARS)
        return EPMD_E_NAME_LONG;
    return EPMD_OK;
}

static enum epmd_result parse_alive2(const uint8_t *b, size_t len, struct epmd_node_rec *rec)
{
    if (len <= EPMD_ALIVE2_FIXED)
        return EPMD_E_SHORT;
    rec->port = be16_get(b + 1);
    rec->node_type = b[3];
    rec->protocol = b[4];
    rec->high_vsn = be16_get(b + 5);
    rec->low_vsn = be16_get(b + 7);
    rec->name_len = be16_get(b + 9);
    if ((size_t)rec->name_len + EPMD_ALIVE2_FIXED > len)
        return EPMD_E_NAME_LEN;
    rec->name = b + 11;
    rec->extra_len = be16_get(b + 11 + rec->name_len);
    if ((size_t)rec->extra_len + rec->name_len + EPMD_ALIVE2_FIXED > len)
        return EPMD_E_EXTRA_LEN;
    rec->extra = b + 13 + rec->name_len;
    if (memchr(rec->name, 0, rec->name_len))
        return EPMD_E_NAME_NUL;
    return EPMD_OK;
}

enum epmd_result epmd_parse_request(const uint8_t *body, size_t len, struct epmd_request *out)
{
    if (len == 0)
        return EPMD_E_EMPTY;
    memset(out, 0, sizeof(*out));
    out->code = (enum epmd_code)body[0];
    switch (body[0]) {
    case EPMD_ALIVE2_REQ:
        return parse_alive2(body, len, &out->u.alive2);
    case EPMD_PORT2_REQ:
    case EPMD_STOP_REQ: {
        size_t n = len;
        if (body[0] == EPMD_PORT2_REQ && body[n - 1] == 0)
            n--; /* old clients NUL-terminate the name */
        if (n <= 1)
            return EPMD_E_SHORT;
        if (n - 1 > EPMD_MAXSYMLEN)
            return EPMD_E_NAME_LONG;
        out->u.named.name = body + 1;
        out->u.named.name_len = (uint16_t)(n - 1);
        return epmd_check_name(body + 1, n - 1);
    }
    case EPMD_NAMES_REQ:
    case EPMD_DUMP_REQ:
    case EPMD_KILL_REQ:
        return EPMD_OK;
    default:
        return EPMD_E_UNKNOWN;
    }
}

size_t epmd_build_alive2_resp(uint8_t *out, size_t cap, uint16_t high_vsn, uint8_t result,
                              uint32_t creation)
{
    if (high_vsn >= 6) {
        if (cap < 6)
            return 0;
        out[0] = EPMD_ALIVE2_X_RESP;
        out[1] = result;
        be32_put(out + 2, creation);
        return 6;
    }
    if (cap < 4)
        return 0;
    out[0] = EPMD_ALIVE2_RESP;
    out[1] = result;
    be16_put(out + 2, (uint16_t)creation);
    return 4;
}

size_t epmd_build_port2_resp(uint8_t *out, size_t cap, const struct epmd_node_rec *rec)
{
    size_t need = 14 + (size_t)rec->name_len + rec->extra_len;
    if (cap < need)
        return 0;
    out[0] = EPMD_PORT2_RESP;
    out[1] = 0;
    be16_put(out + 2, rec->port);
    out[4] = rec->node_type;
    out[5] = rec->protocol;
    be16_put(out + 6, rec->high_vsn);
    be16_put(out + 8, rec->low_vsn);
    be16_put(out + 10, rec->name_len);
    memcpy(out + 12, rec->name, rec->name_len);
    be16_put(out + 12 + rec->name_len, rec->extra_len);
    if (rec->extra_len)
        memcpy(out + 14 + rec->name_len, rec->extra, rec->extra_len);
    return need;
}

size_t epmd_build_port2_error(uint8_t *out, size_t cap)
{
    if (cap < 2)
        return 0;
    out[0] = EPMD_PORT2_RESP;
    out[1] = 1;
    return 2;
}

size_t epmd_build_port_header(uint8_t *out, size_t cap, uint32_t epmd_port)
{
    if (cap < 4)
        return 0;
    be32_put(out, epmd_port);
    return 4;
}

/* prefix + name + formatted tail; returns 0 if it does not fit. */
static size_t build_line(uint8_t *out, size_t cap, const char *prefix, const uint8_t *name,
                         size_t name_len, const char *tail, size_t tail_len)
{
    size_t plen = strlen(prefix);
    size_t need = plen + name_len + tail_len;
    if (cap < need)
        return 0;
    memcpy(out, prefix, plen);
    memcpy(out + plen, name, name_len);
    memcpy(out + plen + name_len, tail, tail_len);
    return need;
}

size_t epmd_build_names_line(uint8_t *out, size_t cap, const uint8_t *name, size_t name_len,
                             uint16_t port)
{
    char tail[32];
    int n = snprintf(tail, sizeof(tail), " at port %u\n", (unsigned)port);
    return build_line(out, cap, "name ", name, name_len, tail, (size_t)n);
}

size_t epmd_build_dump_active(uint8_t *out, size_t cap, const uint8_t *name, size_t name_len,
                              uint16_t port, int fd)
{
    char tail[64];
    int n = snprintf(tail, sizeof(tail), "> at port %u, fd = %d\n", (unsigned)port, fd);
    return build_line(out, cap, "active name     <", name, name_len, tail, (size_t)n + 1);
}

size_t epmd_build_dump_unused(uint8_t *out, size_t cap, const uint8_t *name, size_t name_len,
                              uint16_t port, int fd)
{
    char tail[64];
    int n = snprintf(tail, sizeof(tail), ">, port = %u, fd = %d \n", (unsigned)port, fd);
    return build_line(out, cap, "old/unused name <", name, name_len, tail, (size_t)n + 1);
}

size_t epmd_build_alive2_req(uint8_t *out, size_t cap, const struct epmd_node_rec *rec)
{
    size_t body = EPMD_ALIVE2_FIXED + (size_t)rec->name_len + rec->extra_len;
    if (body > 0xFFFF || cap < body + 2)
        return 0;
    be16_put(out, (uint16_t)body);
    uint8_t *b = out + 2;
    b[0] = EPMD_ALIVE2_REQ;
    be16_put(b + 1, rec->port);
    b[3] = rec->node_type;
    b[4] = rec->protocol;
    be16_put(b + 5, rec->high_vsn);
    be16_put(b + 7, rec->low_vsn);
    be16_put(b + 9, rec->name_len);
    memcpy(b + 11, rec->name, rec->name_len);
    be16_put(b + 11 + rec->name_len, rec->extra_len);
    if (rec->extra_len)
        memcpy(b + 13 + rec->name_len, rec->extra, rec->extra_len);
    return body + 2;
}

static size_t build_named_req(uint8_t *out, size_t cap, enum epmd_code code, const uint8_t *name,
                              size_t name_len)
{
    size_t body = 1 + name_len;
    if (body > 0xFFFF || cap < body + 2)
        return 0;
    be16_put(out, (uint16_t)body);
    out[2] = (uint8_t)code;
    memcpy(out + 3, name, name_len);
    return body + 2;
}

size_t epmd_build_port2_req(uint8_t *out, size_t cap, const uint8_t *name, size_t name_len)
{
    return build_named_req(out, cap, EPMD_PORT2_REQ, name, name_len);
}

size_t epmd_build_stop_req(uint8_t *out, size_t cap, const uint8_t *name, size_t name_len)
{
    return build_named_req(out, cap, EPMD_STOP_REQ, name, name_len);
}

size_t epmd_build_simple_req(uint8_t *out, size_t cap, enum epmd_code code)
{
    if (cap < 3)
        return 0;
    be16_put(out, 1);
    out[2] = (uint8_t)code;
    return 3;
}

enum epmd_result epmd_parse_alive2_resp(const uint8_t *buf, size_t len, uint8_t *result,
                                        uint32_t *creation, size_t *used)
{
    if (len < 1)
        return EPMD_E_NEED_MORE;
    size_t need;
    if (buf[0] == EPMD_ALIVE2_X_RESP)
        need = 6;
    else if (buf[0] == EPMD_ALIVE2_RESP)
        need = 4;
    else
        return EPMD_E_RESP;
    if (len < need)
        return EPMD_E_NEED_MORE;
    *result = buf[1];
    *creation = need == 6 ? be32_get(buf + 2) : be16_get(buf + 2);
    *used = need;
    return EPMD_OK;
}

enum epmd_result epmd_parse_port2_resp(const uint8_t *buf, size_t len, bool *found,
                                       struct epmd_node_rec *rec, size_t *used)
{
    if (len < 2)
        return EPMD_E_NEED_MORE;
    if (buf[0] != EPMD_PORT2_RESP)
        return EPMD_E_RESP;
    if (buf[1] != 0) {
        *found = false;
        *used = 2;
        return EPMD_OK;
    }
    if (len < 12)
        return EPMD_E_NEED_MORE;
    memset(rec, 0, sizeof(*rec));
    rec->port = be16_get(buf + 2);
    rec->node_type = buf[4];
    rec->protocol = buf[5];
    rec->high_vsn = be16_get(buf + 6);
    rec->low_vsn = be16_get(buf + 8);
    rec->name_len = be16_get(buf + 10);
    if (len < 14 + (size_t)rec->name_len)
        return EPMD_E_NEED_MORE;
    rec->name = buf + 12;
    rec->extra_len = be16_get(buf + 12 + rec->name_len);
    if (len < 14 + (size_t)rec->name_len + rec->extra_len)
        return EPMD_E_NEED_MORE;
    rec->extra = buf + 14 + rec->name_len;
    *found = true;
    *used = 14 + (size_t)rec->name_len + rec->extra_len;
    return EPMD_OK;
}
