/* dpctl: dpdist's own protocol bytes (see dpctl.h).
 *
 * Algorithm
 *   Decoding reads the term left to right with one cursor (struct rd): every read first
 *   checks that its bytes are inside the buffer. Messages are recognised by their tuple
 *   arity and first atom, then their fields are read in order. A mesh list is read as a
 *   chain of list cells (each LIST_EXT's tail may be NIL or the next LIST_EXT), iteratively.
 *   Encoding writes the same shapes as libei: integers as SMALL_INTEGER_EXT below 256,
 *   INTEGER_EXT up to 2^27 - 1 (ei's ERL_MAX), SMALL_BIG_EXT with the fewest bytes above;
 *   atoms as SMALL_ATOM_UTF8_EXT (ATOM_UTF8_EXT from 256 bytes); the MAC as BINARY_EXT.
 *
 * Invariants
 *   - the cursor never passes len; a result other than DPCTL_OK leaves *m only partly set
 *     (kind at most);
 *   - every accepted atom is valid UTF-8 without NUL (Latin-1 atoms are converted); a mesh
 *     list names no empty node;
 *   - dpctl_decode(dpctl_encode(m)) == m for every message dpctl_encode accepts.
 *
 * Bounds
 *   Time linear in len (each step consumes at least one byte); no recursion; no allocation;
 *   at most DPCTL_MESH_MAX nodes per list; atom texts at most DPCTL_ATOM_MAX bytes.
 */
#include "control/dpctl.h"

#include <string.h>

#include "common/bytes.h"
#include "common/utf8.h"
#include "control/etf.h"

#define DPCTL_TAG_REQ    "dpdist_upgrade_req"
#define DPCTL_TAG_ACK    "dpdist_upgrade_ack"
#define DPCTL_TAG_NAK    "dpdist_upgrade_nak"
#define DPCTL_TAG_SWITCH "dpdist_switch"
#define DPCTL_TAG_MESH   "dpdist_mesh"
#define DPCTL_OFFER_ARITY 11
#define DPCTL_INT_MAX    ((1u << 27) - 1) /* ei's largest INTEGER_EXT (ERL_MAX) */

static const char *const dpctl_messages[] = {
#define DPCTL_X_MSG(code, msg) msg,
    DPCTL_ERRORS(DPCTL_X_MSG)
#undef DPCTL_X_MSG
};

const char *dpctl_strerror(enum dpctl_result r)
{
    return (unsigned)r < DPCTL_E__COUNT ? dpctl_messages[r] : "unknown dpctl result";
}

/* ---- trailer and Extra --------------------------------------------------------------- */

size_t dpctl_trailer_encode(uint8_t *out, size_t cap, uint8_t caps)
{
    if (cap < DPCTL_TRAILER_LEN)
        return 0;
    memcpy(out, DPCTL_TRAILER_MAGIC, DPCTL_TRAILER_MAGIC_LEN);
    out[DPCTL_TRAILER_MAGIC_LEN] = DPCTL_VERSION;
    out[DPCTL_TRAILER_MAGIC_LEN + 1] = caps;
    return DPCTL_TRAILER_LEN;
}

enum dpctl_result dpctl_trailer_parse(const uint8_t *t, size_t len, struct dpctl_trailer *out)
{
    memset(out, 0, sizeof(*out));
    if (len < DPCTL_TRAILER_MAGIC_LEN + 1 ||
        memcmp(t, DPCTL_TRAILER_MAGIC, DPCTL_TRAILER_MAGIC_LEN) != 0)
        return DPCTL_E_UNKNOWN;
    out->version = t[DPCTL_TRAILER_MAGIC_LEN];
    if (len > DPCTL_TRAILER_MAGIC_LEN + 1)
        out->caps = t[DPCTL_TRAILER_MAGIC_LEN + 1];
    return DPCTL_OK;
}

bool dpctl_trailer_has_data_plane(const struct dpctl_trailer *t)
{
    return t->version == DPCTL_VERSION && (t->caps & DPCTL_CAP_DATA_PLANE);
}

size_t dpctl_extra_encode(uint8_t *out, size_t cap, const struct dpctl_endpoint *ep)
{
    if (cap < DPCTL_EXTRA_LEN)
        return 0;
    memcpy(out, DPCTL_EXTRA_MAGIC, DPCTL_EXTRA_MAGIC_LEN);
    memcpy(out + DPCTL_EXTRA_OFF_MAC, ep->mac, 6);
    be32_put(out + DPCTL_EXTRA_OFF_IP, ep->ip);
    be16_put(out + DPCTL_EXTRA_OFF_PORT, ep->port);
    out[DPCTL_EXTRA_OFF_VERSION] = DPCTL_VERSION;
    return DPCTL_EXTRA_LEN;
}

enum dpctl_result dpctl_extra_parse(const uint8_t *extra, size_t len, struct dpctl_endpoint *ep)
{
    memset(ep, 0, sizeof(*ep));
    if (len < DPCTL_EXTRA_LEN || memcmp(extra, DPCTL_EXTRA_MAGIC, DPCTL_EXTRA_MAGIC_LEN) != 0)
        return DPCTL_E_UNKNOWN;
    memcpy(ep->mac, extra + DPCTL_EXTRA_OFF_MAC, 6);
    ep->ip = be32_get(extra + DPCTL_EXTRA_OFF_IP);
    ep->port = be16_get(extra + DPCTL_EXTRA_OFF_PORT);
    ep->version = extra[DPCTL_EXTRA_OFF_VERSION];
    return DPCTL_OK;
}

/* ---- reading terms ------------------------------------------------------------------- */

struct rd {
    const uint8_t *p;
    size_t len, off;
};

static bool rd_has(const struct rd *r, size_t n)
{
    return r->len - r->off >= n;
}

static enum dpctl_result rd_tuple(struct rd *r, uint32_t *arity)
{
    if (!rd_has(r, 1))
        return DPCTL_E_TRUNCATED;
    uint8_t tag = r->p[r->off];
    size_t hl = tag == ETF_TAG_SMALL_TUPLE ? 2 : tag == ETF_TAG_LARGE_TUPLE ? 5 : 0;
    if (!hl)
        return DPCTL_E_TAG;
    if (!rd_has(r, hl))
        return DPCTL_E_TRUNCATED;
    *arity = hl == 2 ? r->p[r->off + 1] : be32_get(r->p + r->off + 1);
    r->off += hl;
    return DPCTL_OK;
}

/* An atom's text as UTF-8 into out (DPCTL_ATOM_MAX + 1 bytes, NUL-terminated), or skipped
 * (out NULL); *bytes (if not NULL) its length in the input. Latin-1 atoms are converted;
 * text with NUL or invalid UTF-8 is refused. */
static enum dpctl_result rd_atom_n(struct rd *r, char *out, size_t *bytes)
{
    if (!rd_has(r, 1))
        return DPCTL_E_TRUNCATED;
    uint8_t tag = r->p[r->off];
    bool small = tag == ETF_TAG_SMALL_ATOM || tag == ETF_TAG_SMALL_ATOM_UTF8;
    bool utf8 = tag == ETF_TAG_ATOM_UTF8 || tag == ETF_TAG_SMALL_ATOM_UTF8;
    if (!small && tag != ETF_TAG_ATOM && tag != ETF_TAG_ATOM_UTF8)
        return DPCTL_E_TAG;
    size_t hl = small ? 2 : 3;
    if (!rd_has(r, hl))
        return DPCTL_E_TRUNCATED;
    size_t n = small ? r->p[r->off + 1] : be16_get(r->p + r->off + 1);
    if (!rd_has(r, hl + n))
        return DPCTL_E_TRUNCATED;
    const uint8_t *s = r->p + r->off + hl;
    if (memchr(s, 0, n))
        return DPCTL_E_RANGE;
    size_t w = 0;
    if (utf8) {
        long chars = utf8_count_chars(s, n);
        if (chars < 0 || chars > 255 || n > DPCTL_ATOM_MAX)
            return DPCTL_E_RANGE;
        if (out)
            memcpy(out, s, n);
        w = n;
    } else {
        if (n > 255)
            return DPCTL_E_RANGE;
        for (size_t i = 0; i < n && out; i++) {
            if (s[i] < 0x80) {
                out[w++] = (char)s[i];
            } else {
                out[w++] = (char)(0xc0 | (s[i] >> 6));
                out[w++] = (char)(0x80 | (s[i] & 0x3f));
            }
        }
    }
    if (out)
        out[w] = '\0';
    if (bytes)
        *bytes = n;
    r->off += hl + n;
    return DPCTL_OK;
}

static enum dpctl_result rd_atom(struct rd *r, char *out)
{
    return rd_atom_n(r, out, NULL);
}

/* A non-negative integer of at most 64 bits. */
static enum dpctl_result rd_uint(struct rd *r, uint64_t *v)
{
    if (!rd_has(r, 1))
        return DPCTL_E_TRUNCATED;
    switch (r->p[r->off]) {
    case ETF_TAG_SMALL_INTEGER:
        if (!rd_has(r, 2))
            return DPCTL_E_TRUNCATED;
        *v = r->p[r->off + 1];
        r->off += 2;
        return DPCTL_OK;
    case ETF_TAG_INTEGER: {
        if (!rd_has(r, 5))
            return DPCTL_E_TRUNCATED;
        int32_t i = (int32_t)be32_get(r->p + r->off + 1);
        r->off += 5;
        if (i < 0)
            return DPCTL_E_RANGE;
        *v = (uint64_t)i;
        return DPCTL_OK;
    }
    case ETF_TAG_SMALL_BIG: {
        if (!rd_has(r, 3))
            return DPCTL_E_TRUNCATED;
        size_t n = r->p[r->off + 1];
        uint8_t sign = r->p[r->off + 2];
        if (!rd_has(r, 3 + n))
            return DPCTL_E_TRUNCATED;
        const uint8_t *d = r->p + r->off + 3;
        uint64_t x = 0;
        for (size_t i = n; i-- > 0;) {
            if (i >= 8 && d[i] != 0)
                return DPCTL_E_RANGE; /* above 64 bits */
            if (i < 8)
                x |= (uint64_t)d[i] << (8 * i);
        }
        if (sign != 0 && x != 0)
            return DPCTL_E_RANGE;
        r->off += 3 + n;
        *v = x;
        return DPCTL_OK;
    }
    default:
        return DPCTL_E_TAG;
    }
}

static enum dpctl_result rd_binary(struct rd *r, uint8_t *out, size_t want)
{
    if (!rd_has(r, 1))
        return DPCTL_E_TRUNCATED;
    if (r->p[r->off] != ETF_TAG_BINARY)
        return DPCTL_E_TAG;
    if (!rd_has(r, 5))
        return DPCTL_E_TRUNCATED;
    uint32_t n = be32_get(r->p + r->off + 1);
    if (!rd_has(r, 5 + (size_t)n))
        return DPCTL_E_TRUNCATED;
    if (n != want)
        return DPCTL_E_RANGE;
    memcpy(out, r->p + r->off + 5, n);
    r->off += 5 + n;
    return DPCTL_OK;
}

#define TRY(expr)                                                                                  \
    do {                                                                                           \
        enum dpctl_result rc_ = (expr);                                                            \
        if (rc_ != DPCTL_OK)                                                                       \
            return rc_;                                                                            \
    } while (0)

/* The ten fields of an offer after the tag: version, then the parameters. */
static enum dpctl_result rd_offer(struct rd *r, struct dpctl_offer *o)
{
    uint64_t vsn, session, ip, port, mtu, window, hb_ns, missed, auth;
    TRY(rd_uint(r, &vsn));
    if (vsn != DPCTL_OFFER_VERSION)
        return DPCTL_E_VERSION;
    TRY(rd_uint(r, &session));
    TRY(rd_binary(r, o->mac, sizeof(o->mac)));
    TRY(rd_uint(r, &ip));
    TRY(rd_uint(r, &port));
    TRY(rd_uint(r, &mtu));
    TRY(rd_uint(r, &window));
    TRY(rd_uint(r, &hb_ns));
    TRY(rd_uint(r, &missed));
    TRY(rd_uint(r, &auth));
    if (auth > DPCTL_AUTH_MAX)
        return DPCTL_E_RANGE;
    if (session == 0 || ip > UINT32_MAX || port == 0 || port > UINT16_MAX ||
        mtu < DPCTL_MTU_MIN || mtu > DPCTL_MTU_MAX || window < DPCTL_WINDOW_MIN ||
        window > DPCTL_WINDOW_MAX || hb_ns == 0 || missed == 0 || missed > UINT32_MAX)
        return DPCTL_E_RANGE;
    o->session = session;
    o->ip = (uint32_t)ip;
    o->port = (uint16_t)port;
    o->mtu = (uint16_t)mtu;
    o->window = (uint32_t)window;
    o->hb_ns = hb_ns;
    o->hb_missed = (uint32_t)missed;
    o->auth = (uint8_t)auth;
    return DPCTL_OK;
}

/* A list of atoms: cells whose tail is NIL or the next cell. */
static enum dpctl_result rd_mesh(struct rd *r, unsigned *count)
{
    *count = 0;
    for (;;) {
        if (!rd_has(r, 1))
            return DPCTL_E_TRUNCATED;
        uint8_t tag = r->p[r->off];
        if (tag == ETF_TAG_NIL) {
            r->off++;
            return DPCTL_OK;
        }
        if (tag != ETF_TAG_LIST)
            return DPCTL_E_TAG;
        if (!rd_has(r, 5))
            return DPCTL_E_TRUNCATED;
        uint32_t n = be32_get(r->p + r->off + 1);
        r->off += 5;
        if (n > DPCTL_MESH_MAX - *count)
            return DPCTL_E_TOO_MANY;
        for (uint32_t i = 0; i < n; i++) {
            size_t bytes;
            TRY(rd_atom_n(r, NULL, &bytes));
            if (bytes == 0)
                return DPCTL_E_RANGE; /* no node is named '' */
        }
        *count += n;
    }
}

enum dpctl_result dpctl_decode(const uint8_t *term, size_t len, struct dpctl_msg *m)
{
    m->kind = DPCTL_NONE;
    m->reason[0] = '\0';
    m->mesh_off = 0;
    m->mesh_count = 0;
    m->has_confirm = false;
    memset(&m->offer, 0, sizeof(m->offer));
    struct rd r = {term, len, 0};
    uint32_t arity;
    char tag[DPCTL_ATOM_MAX + 1];
    TRY(rd_tuple(&r, &arity));
    if (arity == 0)
        return DPCTL_E_UNKNOWN;
    TRY(rd_atom(&r, tag));
    uint32_t want;
    if (!strcmp(tag, DPCTL_TAG_REQ)) {
        m->kind = DPCTL_REQ;
        want = DPCTL_OFFER_ARITY;
    } else if (!strcmp(tag, DPCTL_TAG_ACK)) {
        m->kind = DPCTL_ACK;
        want = DPCTL_OFFER_ARITY;
    } else if (!strcmp(tag, DPCTL_TAG_NAK)) {
        m->kind = DPCTL_NAK;
        want = 2;
    } else if (!strcmp(tag, DPCTL_TAG_SWITCH)) {
        m->kind = DPCTL_SWITCH;
        want = arity == 2 ? 2 : 1; /* with or without the key confirmation */
    } else if (!strcmp(tag, DPCTL_TAG_MESH)) {
        m->kind = DPCTL_MESH;
        want = 2;
    } else {
        return DPCTL_E_UNKNOWN;
    }
    if (arity != want)
        return DPCTL_E_ARITY;
    switch (m->kind) {
    case DPCTL_REQ:
    case DPCTL_ACK:
        TRY(rd_offer(&r, &m->offer));
        break;
    case DPCTL_NAK:
        TRY(rd_atom(&r, m->reason));
        break;
    case DPCTL_SWITCH:
        if (arity == 2) {
            TRY(rd_binary(&r, m->confirm, sizeof(m->confirm)));
            m->has_confirm = true;
        }
        break;
    case DPCTL_MESH:
        m->mesh_off = r.off;
        TRY(rd_mesh(&r, &m->mesh_count));
        break;
    default:
        break;
    }
    return r.off == len ? DPCTL_OK : DPCTL_E_TRAILING;
}

void dpctl_mesh_iter_init(struct dpctl_mesh_iter *it, const uint8_t *term, size_t len,
                          const struct dpctl_msg *m)
{
    it->term = term;
    it->len = len;
    it->off = m->mesh_off;
    it->left = 0;
    it->remaining = m->kind == DPCTL_MESH ? m->mesh_count : 0;
}

bool dpctl_mesh_next(struct dpctl_mesh_iter *it, char *name)
{
    if (it->remaining == 0)
        return false;
    struct rd r = {it->term, it->len, it->off};
    /* dpctl_decode checked the whole list: cells until an atom, then the atom */
    while (it->left == 0) {
        if (!rd_has(&r, 5) || r.p[r.off] != ETF_TAG_LIST)
            return false;
        it->left = be32_get(r.p + r.off + 1);
        r.off += 5;
    }
    if (rd_atom(&r, name) != DPCTL_OK)
        return false;
    it->off = r.off;
    it->left--;
    it->remaining--;
    return true;
}

/* ---- writing terms ------------------------------------------------------------------- */

struct wr {
    uint8_t *p;
    size_t cap, len;
    bool ok;
};

static void wr_bytes(struct wr *w, const void *b, size_t n)
{
    if (!w->ok || w->cap - w->len < n) {
        w->ok = false;
        return;
    }
    memcpy(w->p + w->len, b, n);
    w->len += n;
}

static void wr_u8(struct wr *w, uint8_t v)
{
    wr_bytes(w, &v, 1);
}

static void wr_be32(struct wr *w, uint32_t v)
{
    uint8_t b[4];
    be32_put(b, v);
    wr_bytes(w, b, 4);
}

static void wr_atom(struct wr *w, const char *s)
{
    size_t n = strlen(s);
    if (n > DPCTL_ATOM_MAX) {
        w->ok = false;
        return;
    }
    if (n < 256) {
        wr_u8(w, ETF_TAG_SMALL_ATOM_UTF8);
        wr_u8(w, (uint8_t)n);
    } else {
        uint8_t b[3] = {ETF_TAG_ATOM_UTF8, (uint8_t)(n >> 8), (uint8_t)n};
        wr_bytes(w, b, 3);
    }
    wr_bytes(w, s, n);
}

static void wr_tuple(struct wr *w, uint8_t arity)
{
    wr_u8(w, ETF_TAG_SMALL_TUPLE);
    wr_u8(w, arity);
}

/* As ei_x_encode_ulonglong: the smallest of SMALL_INTEGER, INTEGER (to ERL_MAX), SMALL_BIG. */
static void wr_uint(struct wr *w, uint64_t v)
{
    if (v < 256) {
        wr_u8(w, ETF_TAG_SMALL_INTEGER);
        wr_u8(w, (uint8_t)v);
    } else if (v <= DPCTL_INT_MAX) {
        wr_u8(w, ETF_TAG_INTEGER);
        wr_be32(w, (uint32_t)v);
    } else {
        uint8_t b[3 + 8];
        size_t n = 0;
        for (uint64_t x = v; x; x >>= 8)
            b[3 + n++] = (uint8_t)x;
        b[0] = ETF_TAG_SMALL_BIG;
        b[1] = (uint8_t)n;
        b[2] = 0; /* sign */
        wr_bytes(w, b, 3 + n);
    }
}

size_t dpctl_encode(const struct dpctl_msg *m, uint8_t *out, size_t cap)
{
    struct wr w = {out, cap, 0, true};
    wr_u8(&w, ETF_VERSION);
    switch (m->kind) {
    case DPCTL_REQ:
    case DPCTL_ACK: {
        const struct dpctl_offer *o = &m->offer;
        wr_tuple(&w, DPCTL_OFFER_ARITY);
        wr_atom(&w, m->kind == DPCTL_REQ ? DPCTL_TAG_REQ : DPCTL_TAG_ACK);
        wr_uint(&w, DPCTL_OFFER_VERSION);
        wr_uint(&w, o->session);
        wr_u8(&w, ETF_TAG_BINARY);
        wr_be32(&w, sizeof(o->mac));
        wr_bytes(&w, o->mac, sizeof(o->mac));
        wr_uint(&w, o->ip);
        wr_uint(&w, o->port);
        wr_uint(&w, o->mtu);
        wr_uint(&w, o->window);
        wr_uint(&w, o->hb_ns);
        wr_uint(&w, o->hb_missed);
        wr_uint(&w, o->auth);
        break;
    }
    case DPCTL_NAK:
        wr_tuple(&w, 2);
        wr_atom(&w, DPCTL_TAG_NAK);
        wr_atom(&w, m->reason);
        break;
    case DPCTL_SWITCH:
        wr_tuple(&w, m->has_confirm ? 2 : 1);
        wr_atom(&w, DPCTL_TAG_SWITCH);
        if (m->has_confirm) {
            wr_u8(&w, ETF_TAG_BINARY);
            wr_be32(&w, sizeof(m->confirm));
            wr_bytes(&w, m->confirm, sizeof(m->confirm));
        }
        break;
    default:
        return 0;
    }
    return w.ok ? w.len : 0;
}

void dpctl_mesh_writer_init(struct dpctl_mesh_writer *mw, uint8_t *out, size_t cap)
{
    struct wr w = {out, cap, 0, cap >= DPCTL_MESH_HEAD_BYTES};
    wr_u8(&w, ETF_VERSION);
    wr_tuple(&w, 2);
    wr_atom(&w, DPCTL_TAG_MESH);
    mw->out = out;
    mw->cap = cap;
    mw->len = w.len;
    mw->count = 0;
    mw->ok = w.ok;
}

bool dpctl_mesh_add(struct dpctl_mesh_writer *mw, const char *node)
{
    size_t n = strlen(node);
    if (!mw->ok || n == 0 || n > DPCTL_ATOM_MAX || mw->count >= DPCTL_MESH_MAX ||
        mw->cap - mw->len < DPCTL_MESH_NODE_BYTES(n) + 1 /* the final NIL */)
        return false;
    /* one cell per node, as libei's list_header(1) + atom wrote it */
    struct wr w = {mw->out, mw->cap, mw->len, true};
    wr_u8(&w, ETF_TAG_LIST);
    wr_be32(&w, 1);
    wr_atom(&w, node);
    mw->len = w.len;
    mw->count++;
    return true;
}

size_t dpctl_mesh_finish(struct dpctl_mesh_writer *mw)
{
    if (!mw->ok || mw->cap - mw->len < 1)
        return 0;
    mw->out[mw->len++] = ETF_TAG_NIL;
    return mw->len;
}
