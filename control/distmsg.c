/* Connected-phase framing, headers, control message decode and encode: see distmsg.h.
 * Reassembly lives in distmsg_reasm.c.
 *
 * Decoding never hands unchecked bytes to libei: the control tuple and the message term are
 * first walked with etf_skip() within the body's bounds; ei then decodes fields inside those
 * checked spans. Which fields an op has is one row of a table (op_layouts below), so adding
 * an op is one line.
 */
#include "control/distmsg.h"

#include <limits.h>
#include <string.h>

#include "common/bytes.h"
#include "control/etf.h"

static const char *const distmsg_messages[] = {
#define DISTMSG_X_MSG(code, msg) msg,
    DISTMSG_ERRORS(DISTMSG_X_MSG)
#undef DISTMSG_X_MSG
};

const char *distmsg_strerror(enum distmsg_result r)
{
    if ((unsigned)r >= DISTMSG_E__COUNT)
        return "unknown error";
    return distmsg_messages[r];
}

/* --- framing --------------------------------------------------------------------------- */

enum distmsg_result distmsg_frame_next(const uint8_t *buf, size_t len, size_t max_packet,
                                       struct distmsg_frame *f)
{
    if (len < DISTMSG_LEN_BYTES)
        return DISTMSG_E_NEED_MORE;
    size_t plen = be32_get(buf);
    if (plen > max_packet)
        return DISTMSG_E_FRAME_SIZE;
    if (len - DISTMSG_LEN_BYTES < plen)
        return DISTMSG_E_NEED_MORE;
    f->data = buf + DISTMSG_LEN_BYTES;
    f->len = plen;
    f->total = DISTMSG_LEN_BYTES + plen;
    return DISTMSG_OK;
}

void distmsg_frame_put_len(uint8_t out[DISTMSG_LEN_BYTES], uint32_t len)
{
    be32_put(out, len);
}

/* --- header ---------------------------------------------------------------------------- */

enum distmsg_result distmsg_header_decode(const uint8_t *pkt, size_t len, struct distmsg_hdr *h)
{
    memset(h, 0, sizeof(*h));
    if (len == 0)
        return DISTMSG_E_EMPTY;
    if (pkt[0] == DISTMSG_PASS_THROUGH) {
        h->kind = DISTMSG_HDR_PASS_THROUGH;
        h->len = 1;
        return DISTMSG_OK;
    }
    if (pkt[0] != DISTMSG_VERSION)
        return DISTMSG_E_HEADER;
    if (len < 2)
        return DISTMSG_E_HEADER_SHORT;
    size_t need;
    switch (pkt[1]) {
    case DISTMSG_HDR_NORMAL_TAG:
        h->kind = DISTMSG_HDR_NORMAL;
        need = DISTMSG_HDR_NORMAL_LEN;
        break;
    case DISTMSG_HDR_FRAG_START_TAG:
        h->kind = DISTMSG_HDR_FRAG_START;
        need = DISTMSG_HDR_FRAG_START_LEN;
        break;
    case DISTMSG_HDR_FRAG_CONT_TAG:
        h->kind = DISTMSG_HDR_FRAG_CONT;
        need = DISTMSG_HDR_FRAG_CONT_LEN;
        break;
    default:
        return DISTMSG_E_HEADER;
    }
    if (len < need)
        return DISTMSG_E_HEADER_SHORT;
    if (h->kind != DISTMSG_HDR_NORMAL) {
        h->seq_id = be64_get(pkt + 2);
        h->frag_id = be64_get(pkt + 10);
        if (h->frag_id == 0)
            return DISTMSG_E_FRAG_ID;
    }
    /* NumberOfAtomCacheRefs is the last header byte of 'D' and 'E'; 'F' has none. */
    if (h->kind != DISTMSG_HDR_FRAG_CONT && pkt[need - 1] != 0)
        return DISTMSG_E_ATOM_CACHE;
    h->len = need;
    return DISTMSG_OK;
}

size_t distmsg_frag_header_encode(uint8_t *out, size_t cap, enum distmsg_hdr_kind kind,
                                  uint64_t seq_id, uint64_t frag_id)
{
    size_t len;
    uint8_t tag;
    if (kind == DISTMSG_HDR_FRAG_START) {
        len = DISTMSG_HDR_FRAG_START_LEN;
        tag = DISTMSG_HDR_FRAG_START_TAG;
    } else if (kind == DISTMSG_HDR_FRAG_CONT) {
        len = DISTMSG_HDR_FRAG_CONT_LEN;
        tag = DISTMSG_HDR_FRAG_CONT_TAG;
    } else {
        return 0;
    }
    if (cap < len || frag_id == 0)
        return 0;
    out[0] = DISTMSG_VERSION;
    out[1] = tag;
    be64_put(out + 2, seq_id);
    be64_put(out + 10, frag_id);
    if (kind == DISTMSG_HDR_FRAG_START)
        out[18] = 0; /* NumberOfAtomCacheRefs */
    return len;
}

/* --- control decode -------------------------------------------------------------------- */

/* Field codes of a control tuple after the op:
 *   P FromPid              T ToPid               U unused term (skipped)
 *   N ToName atom          X ToProc pid|atom     Y FromProc pid|atom
 *   F reference (Ref, Alias, ReqId)              I unlink id (integer)
 *   G GroupLeader pid      M {Mod, Fun, Arity}   O OptList (span)
 *   L SPAWN_REPLY flags    S SPAWN_REPLY result (span)
 *   K trace token (span)   R reason (span)                                                  */
struct op_layout {
    uint8_t op;
    bool payload;
    const char *fields;
};

static const struct op_layout op_layouts[] = {
    {DISTMSG_OP_LINK, false, "PT"},
    {DISTMSG_OP_SEND, true, "UT"},
    {DISTMSG_OP_EXIT, false, "PTR"},
    {DISTMSG_OP_UNLINK, false, "PT"},
    {DISTMSG_OP_REG_SEND, true, "PUN"},
    {DISTMSG_OP_GROUP_LEADER, false, "PT"},
    {DISTMSG_OP_EXIT2, false, "PTR"},
    {DISTMSG_OP_SEND_TT, true, "UTK"},
    {DISTMSG_OP_EXIT_TT, false, "PTKR"},
    {DISTMSG_OP_REG_SEND_TT, true, "PUNK"},
    {DISTMSG_OP_EXIT2_TT, false, "PTKR"},
    {DISTMSG_OP_MONITOR_P, false, "PXF"},
    {DISTMSG_OP_DEMONITOR_P, false, "PXF"},
    {DISTMSG_OP_MONITOR_P_EXIT, false, "YTFR"},
    {DISTMSG_OP_SEND_SENDER, true, "PT"},
    {DISTMSG_OP_SEND_SENDER_TT, true, "PTK"},
    {DISTMSG_OP_PAYLOAD_EXIT, true, "PT"},
    {DISTMSG_OP_PAYLOAD_EXIT_TT, true, "PTK"},
    {DISTMSG_OP_PAYLOAD_EXIT2, true, "PT"},
    {DISTMSG_OP_PAYLOAD_EXIT2_TT, true, "PTK"},
    {DISTMSG_OP_PAYLOAD_MONITOR_P_EXIT, true, "YTF"},
    {DISTMSG_OP_SPAWN_REQUEST, true, "FPGMO"},
    {DISTMSG_OP_SPAWN_REQUEST_TT, true, "FPGMOK"},
    {DISTMSG_OP_SPAWN_REPLY, false, "FTLS"},
    {DISTMSG_OP_SPAWN_REPLY_TT, false, "FTLSK"},
    {DISTMSG_OP_ALIAS_SEND, true, "PF"},
    {DISTMSG_OP_ALIAS_SEND_TT, true, "PFK"},
    {DISTMSG_OP_UNLINK_ID, false, "IPT"},
    {DISTMSG_OP_UNLINK_ID_ACK, false, "IPT"},
};

static const struct op_layout *find_layout(long op)
{
    for (size_t i = 0; i < sizeof(op_layouts) / sizeof(op_layouts[0]); i++)
        if (op_layouts[i].op == op)
            return &op_layouts[i];
    return NULL;
}

bool distmsg_op_has_payload(enum distmsg_op op)
{
    const struct op_layout *l = find_layout(op);
    return l != NULL && l->payload;
}

/* Cursor over a checked control term: ei decodes at idx; end bounds the term. */
struct cursor {
    const char *b;
    int idx;
    size_t end;
};

/* Tag of the next field; 0 (no such tag) if the term is used up. */
static uint8_t peek(const struct cursor *c)
{
    return (size_t)c->idx < c->end ? (uint8_t)c->b[c->idx] : 0;
}

static bool is_pid_tag(uint8_t t)
{
    return t == ERL_PID_EXT || t == ERL_NEW_PID_EXT;
}

static bool is_atom_tag(uint8_t t)
{
    return t == ERL_ATOM_EXT || t == ERL_SMALL_ATOM_EXT || t == ERL_ATOM_UTF8_EXT ||
           t == ERL_SMALL_ATOM_UTF8_EXT;
}

/* Skip one term (already inside a checked span), recording it as a span. */
static enum distmsg_result take_span(struct cursor *c, struct distmsg_span *s)
{
    size_t e;
    if (etf_skip((const uint8_t *)c->b, c->end, (size_t)c->idx, &e) != ETF_OK)
        return DISTMSG_E_TERM;
    if (s != NULL) {
        s->off = (size_t)c->idx;
        s->len = e - (size_t)c->idx;
    }
    c->idx = (int)e;
    return DISTMSG_OK;
}

static enum distmsg_result take_pid(struct cursor *c, erlang_pid *p)
{
    if (!is_pid_tag(peek(c)) || ei_decode_pid(c->b, &c->idx, p) != 0)
        return DISTMSG_E_FIELD;
    return DISTMSG_OK;
}

static enum distmsg_result take_atom(struct cursor *c, char name[MAXATOMLEN_UTF8])
{
    if (!is_atom_tag(peek(c)) ||
        ei_decode_atom_as(c->b, &c->idx, name, MAXATOMLEN_UTF8, ERLANG_UTF8, NULL, NULL) != 0)
        return DISTMSG_E_FIELD;
    return DISTMSG_OK;
}

static enum distmsg_result take_pid_or_atom(struct cursor *c, erlang_pid *p, bool *is_name,
                                            char name[MAXATOMLEN_UTF8])
{
    *is_name = is_atom_tag(peek(c));
    return *is_name ? take_atom(c, name) : take_pid(c, p);
}

static enum distmsg_result take_ref(struct cursor *c, erlang_ref *r)
{
    uint8_t t = peek(c);
    if ((t != ERL_NEW_REFERENCE_EXT && t != ERL_NEWER_REFERENCE_EXT && t != ERL_REFERENCE_EXT) ||
        ei_decode_ref(c->b, &c->idx, r) != 0)
        return DISTMSG_E_FIELD;
    return DISTMSG_OK;
}

static enum distmsg_result take_mfa(struct cursor *c, struct distmsg_ctl *ctl)
{
    int arity;
    uint8_t t = peek(c);
    if ((t != ERL_SMALL_TUPLE_EXT && t != ERL_LARGE_TUPLE_EXT) ||
        ei_decode_tuple_header(c->b, &c->idx, &arity) != 0 || arity != 3)
        return DISTMSG_E_FIELD;
    enum distmsg_result r = take_atom(c, ctl->mod);
    if (r == DISTMSG_OK)
        r = take_atom(c, ctl->fun);
    if (r == DISTMSG_OK && ei_decode_long(c->b, &c->idx, &ctl->arity) != 0)
        r = DISTMSG_E_FIELD;
    return r;
}

static enum distmsg_result take_field(struct cursor *c, char code, struct distmsg_ctl *ctl)
{
    EI_ULONGLONG id;
    switch (code) {
    case 'P':
        return take_pid(c, &ctl->from);
    case 'T':
        return take_pid(c, &ctl->to);
    case 'G':
        return take_pid(c, &ctl->group_leader);
    case 'U':
        return take_span(c, NULL);
    case 'N':
        ctl->to_is_name = true;
        return take_atom(c, ctl->to_name);
    case 'X':
        return take_pid_or_atom(c, &ctl->to, &ctl->to_is_name, ctl->to_name);
    case 'Y':
        return take_pid_or_atom(c, &ctl->from, &ctl->from_is_name, ctl->from_name);
    case 'F':
        return take_ref(c, &ctl->ref);
    case 'I':
        if (ei_decode_ulonglong(c->b, &c->idx, &id) != 0)
            return DISTMSG_E_FIELD;
        ctl->unlink_id = id;
        return DISTMSG_OK;
    case 'M':
        return take_mfa(c, ctl);
    case 'O':
        return take_span(c, &ctl->opts);
    case 'L':
        return ei_decode_long(c->b, &c->idx, &ctl->spawn_flags) == 0 ? DISTMSG_OK : DISTMSG_E_FIELD;
    case 'S':
        return take_span(c, &ctl->result);
    case 'K':
        ctl->has_token = true;
        return take_span(c, &ctl->token);
    case 'R':
        ctl->has_reason = true;
        return take_span(c, &ctl->reason);
    default:
        return DISTMSG_E_CONFIG;
    }
}

/* Clears what distmsg_decode may leave unset: every scalar and span, and the first byte of
 * every name. The name buffers are 1 KB each (atoms are up to 255 UTF-8 characters); zeroing
 * the whole 8 KB struct per message was most of the receive path's cost. */
static void ctl_reset(struct distmsg_ctl *ctl)
{
    static const struct distmsg_span none;
    ctl->op = 0;
    ctl->from.node[0] = ctl->to.node[0] = ctl->group_leader.node[0] = '\0';
    ctl->from.num = ctl->from.serial = ctl->from.creation = 0;
    ctl->to.num = ctl->to.serial = ctl->to.creation = 0;
    ctl->group_leader.num = ctl->group_leader.serial = ctl->group_leader.creation = 0;
    ctl->from_is_name = ctl->to_is_name = false;
    ctl->from_name[0] = ctl->to_name[0] = ctl->mod[0] = ctl->fun[0] = '\0';
    ctl->ref.node[0] = '\0';
    ctl->ref.len = 0;
    memset(ctl->ref.n, 0, sizeof(ctl->ref.n));
    ctl->ref.creation = 0;
    ctl->unlink_id = 0;
    ctl->arity = 0;
    ctl->spawn_flags = 0;
    ctl->has_token = ctl->has_reason = ctl->has_payload = false;
    ctl->opts = ctl->result = ctl->token = ctl->reason = ctl->payload = none;
}

enum distmsg_result distmsg_decode(const struct distmsg_body *body, struct distmsg_ctl *ctl)
{
    ctl_reset(ctl);
    const uint8_t *b = body->data;
    size_t len = body->len, pos = 0, ctl_end;
    if (len == 0)
        return DISTMSG_E_EMPTY;
    if (body->versioned) {
        if (b[0] != DISTMSG_VERSION)
            return DISTMSG_E_VERSION;
        pos = 1;
    }
    if (etf_skip(b, len, pos, &ctl_end) != ETF_OK)
        return DISTMSG_E_TERM;
    if (ctl_end > INT_MAX)
        return DISTMSG_E_TOO_LARGE;

    struct cursor c = {(const char *)b, (int)pos, ctl_end};
    int arity;
    long op;
    if (ei_decode_tuple_header(c.b, &c.idx, &arity) != 0 || arity < 1 ||
        ei_decode_long(c.b, &c.idx, &op) != 0)
        return DISTMSG_E_CONTROL;
    const struct op_layout *l = find_layout(op);
    if (l == NULL)
        return DISTMSG_E_UNKNOWN_OP;
    ctl->op = (enum distmsg_op)op;
    if ((size_t)arity != 1 + strlen(l->fields))
        return DISTMSG_E_ARITY;
    for (const char *f = l->fields; *f; f++) {
        enum distmsg_result r = take_field(&c, *f, ctl);
        if (r != DISTMSG_OK)
            return r;
    }
    /* The checked walk and ei agree on where the tuple ends, or the input is inconsistent. */
    if ((size_t)c.idx != ctl_end)
        return DISTMSG_E_TERM;

    pos = ctl_end;
    if (!l->payload)
        return pos == len ? DISTMSG_OK : DISTMSG_E_TRAILING;
    if (pos == len)
        return DISTMSG_E_NO_PAYLOAD;
    if (body->versioned) {
        if (b[pos] != DISTMSG_VERSION)
            return DISTMSG_E_VERSION;
        pos++;
    }
    size_t end;
    if (etf_skip(b, len, pos, &end) != ETF_OK)
        return DISTMSG_E_TERM;
    if (end != len)
        return DISTMSG_E_TRAILING;
    ctl->has_payload = true;
    ctl->payload.off = pos;
    ctl->payload.len = end - pos;
    return DISTMSG_OK;
}

/* --- encoders -------------------------------------------------------------------------- */

static const char normal_header[DISTMSG_HDR_NORMAL_LEN] = {(char)DISTMSG_VERSION,
                                                           DISTMSG_HDR_NORMAL_TAG, 0};

/* Header, tuple header of the given arity, op. */
static bool begin(ei_x_buff *x, long op, int arity)
{
    return ei_x_append_buf(x, normal_header, sizeof(normal_header)) == 0 &&
           ei_x_encode_tuple_header(x, arity) == 0 && ei_x_encode_long(x, op) == 0;
}

static bool put_atom(ei_x_buff *x, const char *s)
{
    if (s == NULL)
        return false;
    size_t len = strlen(s);
    return len < MAXATOMLEN_UTF8 &&
           ei_x_encode_atom_len_as(x, s, (int)len, ERLANG_UTF8, ERLANG_UTF8) == 0;
}

static bool put_pid(ei_x_buff *x, const erlang_pid *p)
{
    return p != NULL && ei_x_encode_pid(x, p) == 0;
}

static bool put_ref(ei_x_buff *x, const erlang_ref *r)
{
    return r != NULL && ei_x_encode_ref(x, r) == 0;
}

static enum distmsg_result done(bool ok)
{
    return ok ? DISTMSG_OK : DISTMSG_E_ENCODE;
}

/* {Op, A, B} with two pids */
static enum distmsg_result pid_pair(ei_x_buff *x, long op, const erlang_pid *from,
                                    const erlang_pid *to)
{
    return done(begin(x, op, 3) && put_pid(x, from) && put_pid(x, to));
}

enum distmsg_result distmsg_encode_send(ei_x_buff *x, const erlang_pid *to)
{
    return done(begin(x, DISTMSG_OP_SEND, 3) && put_atom(x, "") && put_pid(x, to));
}

enum distmsg_result distmsg_encode_send_sender(ei_x_buff *x, const erlang_pid *from,
                                               const erlang_pid *to)
{
    return pid_pair(x, DISTMSG_OP_SEND_SENDER, from, to);
}

enum distmsg_result distmsg_encode_reg_send(ei_x_buff *x, const erlang_pid *from,
                                            const char *to_name)
{
    return done(begin(x, DISTMSG_OP_REG_SEND, 4) && put_pid(x, from) && put_atom(x, "") &&
                put_atom(x, to_name));
}

enum distmsg_result distmsg_encode_alias_send(ei_x_buff *x, const erlang_pid *from,
                                              const erlang_ref *alias)
{
    return done(begin(x, DISTMSG_OP_ALIAS_SEND, 3) && put_pid(x, from) && put_ref(x, alias));
}

enum distmsg_result distmsg_encode_link(ei_x_buff *x, const erlang_pid *from, const erlang_pid *to)
{
    return pid_pair(x, DISTMSG_OP_LINK, from, to);
}

static enum distmsg_result unlink_id(ei_x_buff *x, long op, uint64_t id, const erlang_pid *from,
                                     const erlang_pid *to)
{
    return done(begin(x, op, 4) && ei_x_encode_ulonglong(x, id) == 0 && put_pid(x, from) &&
                put_pid(x, to));
}

enum distmsg_result distmsg_encode_unlink_id(ei_x_buff *x, uint64_t id, const erlang_pid *from,
                                             const erlang_pid *to)
{
    return unlink_id(x, DISTMSG_OP_UNLINK_ID, id, from, to);
}

enum distmsg_result distmsg_encode_unlink_id_ack(ei_x_buff *x, uint64_t id, const erlang_pid *from,
                                                 const erlang_pid *to)
{
    return unlink_id(x, DISTMSG_OP_UNLINK_ID_ACK, id, from, to);
}

enum distmsg_result distmsg_encode_payload_exit(ei_x_buff *x, const erlang_pid *from,
                                                const erlang_pid *to)
{
    return pid_pair(x, DISTMSG_OP_PAYLOAD_EXIT, from, to);
}

enum distmsg_result distmsg_encode_payload_exit2(ei_x_buff *x, const erlang_pid *from,
                                                 const erlang_pid *to)
{
    return pid_pair(x, DISTMSG_OP_PAYLOAD_EXIT2, from, to);
}

static bool put_pid_or_atom(ei_x_buff *x, const erlang_pid *pid, const char *name)
{
    return pid != NULL ? put_pid(x, pid) : put_atom(x, name);
}

static enum distmsg_result monitor(ei_x_buff *x, long op, const erlang_pid *from,
                                   const erlang_pid *to_pid, const char *to_name,
                                   const erlang_ref *ref)
{
    return done(begin(x, op, 4) && put_pid(x, from) && put_pid_or_atom(x, to_pid, to_name) &&
                put_ref(x, ref));
}

enum distmsg_result distmsg_encode_monitor_p(ei_x_buff *x, const erlang_pid *from,
                                             const erlang_pid *to_pid, const char *to_name,
                                             const erlang_ref *ref)
{
    return monitor(x, DISTMSG_OP_MONITOR_P, from, to_pid, to_name, ref);
}

enum distmsg_result distmsg_encode_demonitor_p(ei_x_buff *x, const erlang_pid *from,
                                               const erlang_pid *to_pid, const char *to_name,
                                               const erlang_ref *ref)
{
    return monitor(x, DISTMSG_OP_DEMONITOR_P, from, to_pid, to_name, ref);
}

enum distmsg_result distmsg_encode_payload_monitor_p_exit(ei_x_buff *x, const erlang_pid *from_pid,
                                                          const char *from_name,
                                                          const erlang_pid *to,
                                                          const erlang_ref *ref)
{
    return done(begin(x, DISTMSG_OP_PAYLOAD_MONITOR_P_EXIT, 4) &&
                put_pid_or_atom(x, from_pid, from_name) && put_pid(x, to) && put_ref(x, ref));
}

enum distmsg_result distmsg_encode_spawn_reply_error(ei_x_buff *x, const erlang_ref *req_id,
                                                     const erlang_pid *to, long flags,
                                                     const char *error)
{
    return done(begin(x, DISTMSG_OP_SPAWN_REPLY, 5) && put_ref(x, req_id) && put_pid(x, to) &&
                ei_x_encode_long(x, flags) == 0 && put_atom(x, error));
}

enum distmsg_result distmsg_append_payload(ei_x_buff *x, const uint8_t *term, size_t len)
{
    size_t end;
    if (term == NULL || len < 2 || term[0] != DISTMSG_VERSION || len - 1 > INT_MAX ||
        etf_skip(term, len, 1, &end) != ETF_OK || end != len)
        return DISTMSG_E_PAYLOAD;
    return done(ei_x_append_buf(x, (const char *)term + 1, (int)(len - 1)) == 0);
}
