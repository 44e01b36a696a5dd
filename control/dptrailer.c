/* The version-2 handshake trailer: see dptrailer.h (layout, ranges, versioning). Pure. */
#include "control/dptrailer.h"

#include <stdbool.h>
#include <string.h>

#include "common/bytes.h"
#include "control/handshake.h"

_Static_assert(DPTRAILER_MAX_LEN <= HS_TRAILER_MAX,
               "the longest trailer must fit what the handshake appends to its 'N' message");

/* Body offsets (dptrailer.h). */
enum {
    OFF_ENDPOINT_ID = 0,
    OFF_MAC = 8,
    OFF_IPV4 = 14,
    OFF_UDP_PORT = 18,
    OFF_MTU = 20,
    OFF_HB_MISSED = 22,
    OFF_WINDOW_FRAMES = 24,
    OFF_CONN_RX_WINDOW = 28,
    OFF_HB_INTERVAL_NS = 32,
    OFF_RX_SESSION = 40,
    OFF_CONN_RX_ID = 48,
    OFF_TOKEN = 52,
    OFF_MODE = 68,
    OFF_X25519 = 69,
};
_Static_assert(OFF_X25519 + DPTRAILER_X25519_LEN == DPTRAILER_BODY_V2_LEN, "body layout");

static const char *const dptrailer_messages[] = {
#define DPTRAILER_X_MSG(code, name, msg) msg,
    DPTRAILER_RESULTS(DPTRAILER_X_MSG)
#undef DPTRAILER_X_MSG
};

static const char *const dptrailer_names[] = {
#define DPTRAILER_X_NAME(code, name, msg) name,
    DPTRAILER_RESULTS(DPTRAILER_X_NAME)
#undef DPTRAILER_X_NAME
};

const char *dptrailer_strerror(enum dptrailer_result r)
{
    if ((unsigned)r >= DPTRAILER_RESULT__COUNT)
        return "unknown result";
    return dptrailer_messages[r];
}

const char *dptrailer_result_name(enum dptrailer_result r)
{
    if ((unsigned)r >= DPTRAILER_RESULT__COUNT)
        return "unknown";
    return dptrailer_names[r];
}

static bool all_zero(const uint8_t *p, size_t len)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < len; i++)
        acc |= p[i];
    return acc == 0;
}

/* The field rules of dptrailer.h, in the order of the result table. */
static enum dptrailer_result check_fields(const struct dptrailer *t)
{
    if (t->mode != DPTRAILER_MODE_NONE && t->mode != DPTRAILER_MODE_GMAC &&
        t->mode != DPTRAILER_MODE_GCM)
        return DPTRAILER_E_MODE;
    if (t->endpoint_id == 0 || t->rx_session == 0 || t->conn_rx_id == 0)
        return DPTRAILER_E_ID;
    uint8_t first_octet = (uint8_t)(t->ipv4 >> 24);
    if ((t->mac[0] & 0x01) || all_zero(t->mac, sizeof(t->mac)) || first_octet == 0 ||
        first_octet >= 224 || t->udp_port == 0)
        return DPTRAILER_E_ADDRESS;
    if (t->mtu < DPTRAILER_MTU_MIN || t->mtu > DPTRAILER_MTU_MAX ||
        t->window_frames < DPTRAILER_WINDOW_FRAMES_MIN ||
        t->window_frames > DPTRAILER_WINDOW_FRAMES_MAX ||
        t->hb_interval_ns < DPTRAILER_HB_INTERVAL_NS_MIN ||
        t->hb_interval_ns > DPTRAILER_HB_INTERVAL_NS_MAX ||
        t->hb_missed < DPTRAILER_HB_MISSED_MIN || t->hb_missed > DPTRAILER_HB_MISSED_MAX ||
        t->conn_rx_window < DPTRAILER_CONN_RX_WINDOW_MIN_BYTES)
        return DPTRAILER_E_PARAM;
    if (all_zero(t->x25519_pub, sizeof(t->x25519_pub)))
        return DPTRAILER_E_KEY;
    return DPTRAILER_OK;
}

static enum dptrailer_result refuse(struct dptrailer *out, uint8_t version, enum dptrailer_result r)
{
    memset(out, 0, sizeof(*out));
    out->version = version;
    return r;
}

enum dptrailer_result dptrailer_parse(const uint8_t *buf, size_t len, enum dptrailer_kind expect,
                                      struct dptrailer *out)
{
    if (len == 0)
        return refuse(out, 0, DPTRAILER_NONE);
    size_t magic_seen = len < DPTRAILER_MAGIC_LEN ? len : DPTRAILER_MAGIC_LEN;
    if (memcmp(buf, DPTRAILER_MAGIC, magic_seen) != 0)
        return refuse(out, 0, DPTRAILER_E_MAGIC);
    if (len <= DPTRAILER_MAGIC_LEN)
        return refuse(out, 0, DPTRAILER_E_SHORT);
    uint8_t version = buf[DPTRAILER_MAGIC_LEN];
    if (version != DPTRAILER_VERSION)
        return refuse(out, version, DPTRAILER_E_VERSION);
    if (len < DPTRAILER_HDR_LEN)
        return refuse(out, version, DPTRAILER_E_SHORT);
    uint8_t kind = buf[7];
    if ((kind != DPTRAILER_OFFER && kind != DPTRAILER_ANSWER) ||
        (expect != DPTRAILER_KIND_ANY && kind != (uint8_t)expect))
        return refuse(out, version, DPTRAILER_E_KIND);
    size_t body_len = be16_get(buf + 8);
    if (body_len != len - DPTRAILER_HDR_LEN || body_len < DPTRAILER_BODY_V2_LEN ||
        body_len > DPTRAILER_BODY_MAX)
        return refuse(out, version, DPTRAILER_E_LENGTH);

    const uint8_t *b = buf + DPTRAILER_HDR_LEN;
    struct dptrailer t = {
        .version = version,
        .kind = (enum dptrailer_kind)kind,
        .mode = (enum dptrailer_mode)b[OFF_MODE],
        .endpoint_id = be64_get(b + OFF_ENDPOINT_ID),
        .ipv4 = be32_get(b + OFF_IPV4),
        .udp_port = be16_get(b + OFF_UDP_PORT),
        .mtu = be16_get(b + OFF_MTU),
        .hb_missed = be16_get(b + OFF_HB_MISSED),
        .window_frames = be32_get(b + OFF_WINDOW_FRAMES),
        .conn_rx_window = be32_get(b + OFF_CONN_RX_WINDOW),
        .hb_interval_ns = be64_get(b + OFF_HB_INTERVAL_NS),
        .rx_session = be64_get(b + OFF_RX_SESSION),
        .conn_rx_id = be32_get(b + OFF_CONN_RX_ID),
        .ext = body_len > DPTRAILER_BODY_V2_LEN ? b + DPTRAILER_BODY_V2_LEN : NULL,
        .ext_len = body_len - DPTRAILER_BODY_V2_LEN,
    };
    memcpy(t.mac, b + OFF_MAC, sizeof(t.mac));
    memcpy(t.token, b + OFF_TOKEN, sizeof(t.token));
    memcpy(t.x25519_pub, b + OFF_X25519, sizeof(t.x25519_pub));
    enum dptrailer_result r = check_fields(&t);
    if (r != DPTRAILER_OK)
        return refuse(out, version, r);
    *out = t;
    return DPTRAILER_OK;
}

size_t dptrailer_encoded_len(const struct dptrailer *t)
{
    return DPTRAILER_HDR_LEN + DPTRAILER_BODY_V2_LEN + t->ext_len;
}

enum dptrailer_result dptrailer_encode(const struct dptrailer *t, uint8_t *buf, size_t cap,
                                       size_t *len)
{
    if (t->kind != DPTRAILER_OFFER && t->kind != DPTRAILER_ANSWER)
        return DPTRAILER_E_KIND;
    if (t->ext_len > DPTRAILER_BODY_MAX - DPTRAILER_BODY_V2_LEN || (t->ext_len && !t->ext))
        return DPTRAILER_E_LENGTH;
    enum dptrailer_result r = check_fields(t);
    if (r != DPTRAILER_OK)
        return r;
    size_t n = dptrailer_encoded_len(t);
    if (cap < n)
        return DPTRAILER_E_SPACE;

    memcpy(buf, DPTRAILER_MAGIC, DPTRAILER_MAGIC_LEN);
    buf[6] = DPTRAILER_VERSION;
    buf[7] = (uint8_t)t->kind;
    be16_put(buf + 8, (uint16_t)(n - DPTRAILER_HDR_LEN));
    uint8_t *b = buf + DPTRAILER_HDR_LEN;
    be64_put(b + OFF_ENDPOINT_ID, t->endpoint_id);
    memcpy(b + OFF_MAC, t->mac, sizeof(t->mac));
    be32_put(b + OFF_IPV4, t->ipv4);
    be16_put(b + OFF_UDP_PORT, t->udp_port);
    be16_put(b + OFF_MTU, t->mtu);
    be16_put(b + OFF_HB_MISSED, t->hb_missed);
    be32_put(b + OFF_WINDOW_FRAMES, t->window_frames);
    be32_put(b + OFF_CONN_RX_WINDOW, t->conn_rx_window);
    be64_put(b + OFF_HB_INTERVAL_NS, t->hb_interval_ns);
    be64_put(b + OFF_RX_SESSION, t->rx_session);
    be32_put(b + OFF_CONN_RX_ID, t->conn_rx_id);
    memcpy(b + OFF_TOKEN, t->token, sizeof(t->token));
    b[OFF_MODE] = (uint8_t)t->mode;
    memcpy(b + OFF_X25519, t->x25519_pub, sizeof(t->x25519_pub));
    if (t->ext_len)
        memcpy(b + DPTRAILER_BODY_V2_LEN, t->ext, t->ext_len);
    *len = n;
    return DPTRAILER_OK;
}
