/* The VM <-> agent protocol codec: see ag_proto.h and docs/agent.md §6.
 *
 * One layout function per type, used in both directions through a small cursor that either
 * reads or writes (struct cur), so that the two cannot disagree; one check function holds
 * the rules on field values, applied after decoding and before encoding.
 */
#include "agent/ag_proto.h"

#include <stdbool.h>
#include <string.h>

#include "common/bytes.h"

static const char *const result_msgs[] = {
#define AG_X_MSG(code, msg) msg,
    AG_PROTO_RESULTS(AG_X_MSG)
#undef AG_X_MSG
};

const char *ag_proto_strerror(enum ag_proto_result r)
{
    return (unsigned)r < AG_PROTO__COUNT ? result_msgs[r] : "unknown result";
}

const char *ag_proto_type_name(unsigned type)
{
    switch (type) {
#define AG_X_CASE(code, value, name)                                                               \
    case value:                                                                                    \
        return name;
        AG_PROTO_TYPES(AG_X_CASE)
#undef AG_X_CASE
    }
    return "unknown";
}

const char *ag_reason_name(unsigned reason)
{
    switch (reason) {
#define AG_X_CASE(code, value, name, msg)                                                          \
    case value:                                                                                    \
        return name;
        AG_PROTO_REASONS(AG_X_CASE)
#undef AG_X_CASE
    }
    return "unknown";
}

const char *ag_reason_text(unsigned reason)
{
    switch (reason) {
#define AG_X_CASE(code, value, name, msg)                                                          \
    case value:                                                                                    \
        return msg;
        AG_PROTO_REASONS(AG_X_CASE)
#undef AG_X_CASE
    }
    return "unknown reason";
}

/* --- the cursor: reads from a body or writes into one -------------------------------------- */

struct cur {
    uint8_t *out;      /* writing: the buffer; NULL when reading */
    const uint8_t *in; /* reading: the body */
    size_t len, off;   /* bytes available, bytes done */
    bool short_;       /* reading ran past the end, or writing past len */
};

static bool room(struct cur *c, size_t n)
{
    if (c->short_ || n > c->len - c->off) {
        c->short_ = true;
        return false;
    }
    return true;
}

static void u8(struct cur *c, uint8_t *v)
{
    if (!room(c, 1))
        return;
    if (c->out)
        c->out[c->off] = *v;
    else
        *v = c->in[c->off];
    c->off += 1;
}

static void u16(struct cur *c, uint16_t *v)
{
    if (!room(c, 2))
        return;
    if (c->out)
        be16_put(c->out + c->off, *v);
    else
        *v = be16_get(c->in + c->off);
    c->off += 2;
}

static void u32(struct cur *c, uint32_t *v)
{
    if (!room(c, 4))
        return;
    if (c->out)
        be32_put(c->out + c->off, *v);
    else
        *v = be32_get(c->in + c->off);
    c->off += 4;
}

static void u64(struct cur *c, uint64_t *v)
{
    if (!room(c, 8))
        return;
    if (c->out)
        be64_put(c->out + c->off, *v);
    else
        *v = be64_get(c->in + c->off);
    c->off += 8;
}

/* A fixed-size field held in the struct. */
static void fixed(struct cur *c, uint8_t *v, size_t n)
{
    if (!room(c, n))
        return;
    if (c->out)
        memcpy(c->out + c->off, v, n);
    else
        memcpy(v, c->in + c->off, n);
    c->off += n;
}

/* A variable field of n bytes borrowed from the body (reading) or copied from *p. */
static void var(struct cur *c, const uint8_t **p, size_t n)
{
    if (!room(c, n))
        return;
    if (c->out) {
        if (n)
            memcpy(c->out + c->off, *p, n);
    } else {
        *p = n ? c->in + c->off : NULL;
    }
    c->off += n;
}

/* The layout of every type: the same code reads and writes. false: unknown type. */
static bool layout(struct cur *c, struct ag_msg *m)
{
    uint8_t zero = 0;
    switch (m->type) {
    case AG_MSG_REGISTER:
        u8(c, &m->u.reg.version);
        u8(c, &zero); /* reserved: written 0; ag_proto_decode checks it */
        u32(c, &m->u.reg.os_pid);
        u16(c, &m->u.reg.name_len);
        var(c, &m->u.reg.name, m->u.reg.name_len);
        return true;
    case AG_MSG_WELCOME:
        u8(c, &m->u.welcome.version);
        u8(c, &m->u.welcome.mode);
        u32(c, &m->u.welcome.vm_id);
        u64(c, &m->u.welcome.endpoint_id);
        u32(c, &m->u.welcome.max_conns);
        u32(c, &m->u.welcome.probe_interval_ms);
        u32(c, &m->u.welcome.probe_timeout_ms);
        return true;
    case AG_MSG_OFFER_OUT:
        u32(c, &m->u.offer_out.req);
        fixed(c, m->u.offer_out.x25519_pub, AG_PROTO_X25519_LEN);
        u8(c, &m->u.offer_out.extra_len);
        var(c, &m->u.offer_out.extra, m->u.offer_out.extra_len);
        u16(c, &m->u.offer_out.name_len);
        var(c, &m->u.offer_out.name, m->u.offer_out.name_len);
        return true;
    case AG_MSG_OFFER:
    case AG_MSG_ANSWER:
        u32(c, &m->u.offer.req);
        u16(c, &m->u.offer.status);
        u16(c, &m->u.offer.len);
        var(c, &m->u.offer.trailer, m->u.offer.len);
        return true;
    case AG_MSG_OFFER_IN:
        u32(c, &m->u.offer_in.req);
        fixed(c, m->u.offer_in.x25519_pub, AG_PROTO_X25519_LEN);
        u16(c, &m->u.offer_in.len);
        var(c, &m->u.offer_in.offer, m->u.offer_in.len);
        return true;
    case AG_MSG_ATTACH:
        u8(c, &m->u.attach.role);
        fixed(c, m->u.attach.token, AG_PROTO_TOKEN_LEN);
        fixed(c, m->u.attach.tx_key, AG_PROTO_KEY_LEN);
        fixed(c, m->u.attach.tx_iv, AG_PROTO_IV_LEN);
        fixed(c, m->u.attach.rx_key, AG_PROTO_KEY_LEN);
        fixed(c, m->u.attach.rx_iv, AG_PROTO_IV_LEN);
        fixed(c, m->u.attach.channel_key, AG_PROTO_KEY_LEN);
        fixed(c, m->u.attach.confirm_tx, AG_PROTO_TAG_LEN);
        fixed(c, m->u.attach.confirm_rx, AG_PROTO_TAG_LEN);
        u16(c, &m->u.attach.len);
        var(c, &m->u.attach.peer_trailer, m->u.attach.len);
        return true;
    case AG_MSG_ATTACHED:
        u32(c, &m->u.attached.conn_id);
        return true;
    case AG_MSG_REFUSED:
    case AG_MSG_CONN_DOWN:
        u32(c, &m->u.refused.req);
        u16(c, &m->u.refused.reason);
        u16(c, &m->u.refused.text_len);
        var(c, &m->u.refused.text, m->u.refused.text_len);
        return true;
    case AG_MSG_PROBE:
    case AG_MSG_PROBE_ACK:
        u32(c, &m->u.probe.seq);
        return true;
    case AG_MSG_STATS:
        u32(c, &m->u.stats.req);
        u32(c, &m->u.stats.conn_id);
        return true;
    case AG_MSG_STATS_REPLY: {
        struct ag_stats *s = &m->u.stats_reply;
        u32(c, &s->req);
        u16(c, &s->status);
        u64(c, &s->peer_endpoint);
        u16(c, &s->mtu);
        u32(c, &s->rtt_us);
        u32(c, &s->hb_interval_us);
        uint64_t *counters[] = {
            &s->retransmits,      &s->drops,           &s->barriers,
            &s->reordered,        &s->pulse_tx_frames, &s->pulse_rx_frames,
            &s->ticks_tx,         &s->ticks_rx,        &s->express_tx_msgs,
            &s->express_tx_bytes, &s->express_rx_msgs, &s->express_rx_bytes,
            &s->normal_tx_msgs,   &s->normal_tx_bytes, &s->normal_rx_msgs,
            &s->normal_rx_bytes,
        };
        for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
            u64(c, counters[i]);
        return true;
    }
    }
    return false;
}

/* The rules on values, the same for decode and encode. */
static bool trailer_len_ok(uint16_t n)
{
    return n >= 1 && n <= DPTRAILER_MAX_LEN;
}

static bool check(const struct ag_msg *m)
{
    switch (m->type) {
    case AG_MSG_REGISTER:
        return m->u.reg.name_len >= 1 && m->u.reg.name_len <= AG_PROTO_NAME_MAX;
    case AG_MSG_WELCOME:
        return m->u.welcome.mode <= DPTRAILER_MODE_GCM;
    case AG_MSG_OFFER_OUT:
        return m->u.offer_out.name_len >= 1 && m->u.offer_out.name_len <= AG_PROTO_NAME_MAX;
    case AG_MSG_OFFER:
    case AG_MSG_ANSWER:
        if (m->u.offer.status > AG_REASON_MAX)
            return false;
        return m->u.offer.status == AG_REASON_OK ? trailer_len_ok(m->u.offer.len)
                                                 : m->u.offer.len == 0;
    case AG_MSG_OFFER_IN:
        return trailer_len_ok(m->u.offer_in.len);
    case AG_MSG_ATTACH:
        return (m->u.attach.role == AG_ROLE_INITIATOR || m->u.attach.role == AG_ROLE_ACCEPTOR) &&
               trailer_len_ok(m->u.attach.len);
    case AG_MSG_ATTACHED:
        return m->u.attached.conn_id != 0;
    case AG_MSG_REFUSED:
    case AG_MSG_CONN_DOWN:
        return m->u.refused.reason >= 1 && m->u.refused.reason <= AG_REASON_MAX &&
               m->u.refused.text_len <= AG_PROTO_TEXT_MAX;
    case AG_MSG_STATS_REPLY:
        return m->u.stats_reply.status <= AG_REASON_MAX;
    case AG_MSG_PROBE:
    case AG_MSG_PROBE_ACK:
    case AG_MSG_STATS:
        return true;
    }
    return false;
}

enum ag_proto_result ag_proto_frame(const uint8_t *buf, size_t len, const uint8_t **body,
                                    size_t *body_len, size_t *total)
{
    if (len < AG_PROTO_LEN_BYTES)
        return AG_PROTO_NEED_MORE;
    size_t n = be16_get(buf);
    if (n > AG_PROTO_BODY_MAX)
        return AG_PROTO_E_TOO_LONG;
    if (len - AG_PROTO_LEN_BYTES < n)
        return AG_PROTO_NEED_MORE;
    *body = buf + AG_PROTO_LEN_BYTES;
    *body_len = n;
    *total = AG_PROTO_LEN_BYTES + n;
    return AG_PROTO_OK;
}

enum ag_proto_result ag_proto_decode(const uint8_t *body, size_t len, struct ag_msg *m)
{
    memset(m, 0, sizeof(*m));
    if (len < 1 || body[0] < 1 || body[0] > AG_MSG_TYPE_MAX)
        return AG_PROTO_E_TYPE;
    m->type = (enum ag_msg_type)body[0];
    struct cur c = {.in = body, .len = len, .off = 1};
    uint8_t reserved = 0;
    if (m->type == AG_MSG_REGISTER && len >= 3)
        reserved = body[2];
    layout(&c, m);
    enum ag_proto_result r = AG_PROTO_OK;
    if (c.short_ || c.off != len)
        r = AG_PROTO_E_LENGTH;
    else if (reserved != 0 || !check(m))
        r = AG_PROTO_E_FIELD;
    if (r != AG_PROTO_OK)
        memset(m, 0, sizeof(*m));
    return r;
}

enum ag_proto_result ag_proto_encode(const struct ag_msg *m, uint8_t *buf, size_t cap, size_t *len)
{
    if ((unsigned)m->type < 1 || (unsigned)m->type > AG_MSG_TYPE_MAX)
        return AG_PROTO_E_TYPE;
    if (!check(m))
        return AG_PROTO_E_FIELD;
    uint8_t tmp[AG_PROTO_MSG_MAX];
    struct ag_msg copy = *m; /* layout() takes a mutable message; writing reads only */
    tmp[AG_PROTO_LEN_BYTES] = (uint8_t)m->type;
    struct cur c = {.out = tmp + AG_PROTO_LEN_BYTES, .len = AG_PROTO_BODY_MAX, .off = 1};
    layout(&c, &copy);
    if (c.short_)
        return AG_PROTO_E_FIELD; /* cannot happen: check() bounds every variable field */
    if (AG_PROTO_LEN_BYTES + c.off > cap)
        return AG_PROTO_E_SPACE;
    be16_put(tmp, (uint16_t)c.off);
    memcpy(buf, tmp, AG_PROTO_LEN_BYTES + c.off);
    *len = AG_PROTO_LEN_BYTES + c.off;
    return AG_PROTO_OK;
}
