/* Incoming distribution messages: decode the control message and turn it into a signal on
 * the target mailbox, or answer on behalf of a process that does not exist. Runs on the
 * thread of the carrier that received the message (the control thread for TCP, the
 * data-plane poller for DPDK): no blocking, no locks except on rare paths (a dead target's
 * answer is routed like any outgoing signal).
 *
 * Built-in processes: `net_kernel` answers {is_auth, Node} calls (net_adm:ping) and accepts
 * monitors; `'$dpdist'` receives dpdist's own control messages (mesh, data-plane upgrade).
 * A message that does not decode is dropped with a log line; the connection stays up.
 */
#include <string.h>

#include "common/log.h"
#include "control/distmsg.h"
#include "control/etf.h"
#include "runtime/core/carrier.h"
#include "runtime/core/conn.h"
#include "runtime/core/dispatch.h"
#include "runtime/core/mbox.h"
#include "runtime/core/mesh.h"
#include "runtime/core/node.h"
#include "runtime/core/rcu.h"
#include "runtime/core/route.h"

/* A term of the body as a standalone external term (version byte prepended). With an owned
 * body the term stays where it is: the byte before it (the end of the control tuple, already
 * decoded) becomes its version byte, and the signal frees the whole body. */
static bool span_term(struct sig *s, const struct distmsg_body *body,
                      const struct distmsg_span *sp, void **owned,
                      const struct dispatch_src *src)
{
    if (*owned && sp->off >= 1 && sp->len + 1 > sizeof(s->small)) {
        uint8_t *t = (uint8_t *)body->data + sp->off - 1;
        t[0] = ETF_VERSION;
        s->msg.term = (const char *)t;
        s->msg.len = sp->len + 1;
        s->free_fn = src->owned_free;
        s->free_arg = *owned;
        *owned = NULL;
        return true;
    }
    if (sp->len + 1 <= sizeof(s->small)) {
        s->small[0] = (char)ETF_VERSION;
        memcpy(s->small + 1, body->data + sp->off, sp->len);
        s->msg.term = s->small;
        s->msg.len = sp->len + 1;
        return true;
    }
    char *p = malloc(sp->len + 1);
    if (!p)
        return false;
    p[0] = (char)ETF_VERSION;
    memcpy(p + 1, body->data + sp->off, sp->len);
    s->msg.term = p;
    s->msg.len = sp->len + 1;
    s->free_fn = free;
    s->free_arg = p;
    return true;
}

static void deliver(struct conn *c, struct dd_mbox *mb, struct sig *s)
{
    s->conn = c;
    conn_ref(c);
    mbox_push(mb, s);
}

/* Target mailbox of a pid or registered name (RCU section held by the caller). */
static struct dd_mbox *target(struct dd_node *n, const struct distmsg_ctl *ctl)
{
    return ctl->to_is_name ? mbox_lookup_name(n, ctl->to_name) : mbox_lookup_pid(n, &ctl->to);
}

/* {'$gen_call', {From, Tag}, {is_auth, Node}} -> {Tag, yes} to From (or to the alias when Tag
 * is [alias | Ref], as gen:call uses since OTP 24). */
static void net_kernel_call(struct conn *c, const struct distmsg_body *body,
                            const struct distmsg_span *sp)
{
    struct dd_node *n = c->node;
    const char *buf = (const char *)body->data + sp->off;
    int idx = 0, arity, list_len;
    char atom[MAXATOMLEN_UTF8];
    erlang_pid from;
    if (ei_decode_tuple_header(buf, &idx, &arity) < 0 || arity != 3 ||
        ei_decode_atom(buf, &idx, atom) < 0 || strcmp(atom, "$gen_call") != 0 ||
        ei_decode_tuple_header(buf, &idx, &arity) < 0 || arity != 2 ||
        ei_decode_pid(buf, &idx, &from) < 0)
        return;
    int tag_start = idx;
    erlang_ref alias;
    bool via_alias = false;
    int tmp = idx;
    if (ei_decode_list_header(buf, &tmp, &list_len) == 0 && list_len == 1 &&
        ei_decode_atom(buf, &tmp, atom) == 0 && strcmp(atom, "alias") == 0 &&
        ei_decode_ref(buf, &tmp, &alias) == 0)
        via_alias = (c->flags & DFLAG_ALIAS) != 0;
    /* The tag is the caller's, of any shape and depth: walk it with the bounded iterative
     * walker (ei_skip_term recurses per nesting level: a deep tag overflowed the stack). */
    size_t tag_end_off;
    if (etf_skip((const uint8_t *)buf, sp->len, (size_t)idx, &tag_end_off) != ETF_OK)
        return;
    idx = (int)tag_end_off;
    int tag_end = idx;
    if (ei_decode_tuple_header(buf, &idx, &arity) < 0 || arity != 2 ||
        ei_decode_atom(buf, &idx, atom) < 0 || strcmp(atom, "is_auth") != 0)
        return;
    ei_x_buff reply;
    ei_x_new_with_version(&reply);
    ei_x_encode_tuple_header(&reply, 2);
    ei_x_append_buf(&reply, buf + tag_start, tag_end - tag_start);
    ei_x_encode_atom(&reply, "yes");
    if (via_alias)
        route_send_alias(n->system, &alias, reply.buff, (size_t)reply.index);
    else
        route_send_pid(n->system, &from, reply.buff, (size_t)reply.index, false);
    ei_x_free(&reply);
}

static void reg_send_builtin(struct conn *c, const struct distmsg_ctl *ctl,
                             const struct distmsg_body *body)
{
    if (strcmp(ctl->to_name, "net_kernel") == 0)
        net_kernel_call(c, body, &ctl->payload);
    else if (strcmp(ctl->to_name, MESH_NAME) == 0)
        mesh_receive(c, body->data + ctl->payload.off, ctl->payload.len);
}

static bool is_builtin(const char *name)
{
    return strcmp(name, "net_kernel") == 0 || strcmp(name, MESH_NAME) == 0;
}

/* Returns true if the message was handed to a mailbox (which then reports it consumed). */
static bool message(struct conn *c, const struct distmsg_ctl *ctl,
                    const struct distmsg_body *body, bool has_from, void **owned,
                    const struct dispatch_src *src)
{
    struct dd_node *n = c->node;
    rcu_rd_enter();
    struct dd_mbox *mb = target(n, ctl);
    if (!mb) {
        rcu_rd_leave();
        if (ctl->to_is_name && is_builtin(ctl->to_name))
            reg_send_builtin(c, ctl, body);
        return false; /* no such process: dropped, as BEAM does */
    }
    struct sig *s = sig_new(SIG_MESSAGE);
    if (!s || !span_term(s, body, &ctl->payload, owned, src)) {
        rcu_rd_leave();
        sig_free(s);
        DLOG_WARN(n->log_name, "out of memory: message from %s dropped", c->peer);
        return false;
    }
    s->msg.has_from = has_from;
    if (has_from)
        s->msg.from = ctl->from;
    s->acct_bytes = src->acct;
    s->consumed_fn = src->consumed_fn;
    deliver(c, mb, s);
    rcu_rd_leave();
    return true;
}

/* Link, unlink, monitor signals: to the mailbox, or answered for a missing process. */
static void relation_signal(struct conn *c, const struct distmsg_ctl *ctl,
                            enum sig_kind kind)
{
    struct dd_node *n = c->node;
    struct sig *s = sig_new(kind);
    if (!s)
        return;
    s->peer = ctl->from;
    s->ref = ctl->ref;
    s->id = ctl->unlink_id;
    if (ctl->to_is_name && !(s->name = strdup(ctl->to_name))) {
        sig_free(s);
        return;
    }
    rcu_rd_enter();
    struct dd_mbox *mb = target(n, ctl);
    if (mb)
        deliver(c, mb, s);
    rcu_rd_leave();
    if (mb)
        return;
    if (ctl->to_is_name && is_builtin(ctl->to_name)) {
        sig_free(s); /* net_kernel et al.: monitors are accepted and never fire */
        return;
    }
    dd_pid dead = ctl->to;
    if (ctl->to_is_name) {
        dead = (dd_pid){0};
        snprintf(dead.node, sizeof(dead.node), "%s", n->name);
    }
    mbox_bounce(n, &dead, s);
}

/* The reason of an exit or a monitor exit as a whole external term (malloc'ed, *len set),
 * or NULL when out of memory. */
static uint8_t *reason_term(const struct distmsg_ctl *ctl, const struct distmsg_body *body,
                            size_t *len)
{
    const struct distmsg_span *reason = ctl->has_reason ? &ctl->reason : &ctl->payload;
    uint8_t *r = malloc(reason->len + 1);
    if (!r)
        return NULL;
    r[0] = ETF_VERSION;
    memcpy(r + 1, body->data + reason->off, reason->len);
    *len = reason->len + 1;
    return r;
}

/* Delivers s to the local mailbox of pid `to`, or frees it when there is none. */
static void deliver_to_pid(struct conn *c, const dd_pid *to, struct sig *s)
{
    rcu_rd_enter();
    struct dd_mbox *mb = mbox_lookup_pid(c->node, to);
    if (mb)
        deliver(c, mb, s);
    rcu_rd_leave();
    if (!mb)
        sig_free(s);
}

static void exit_signal(struct conn *c, const struct distmsg_ctl *ctl,
                        const struct distmsg_body *body, bool link_exit)
{
    size_t len;
    uint8_t *r = reason_term(ctl, body, &len);
    if (!r)
        return;
    struct sig *s = sig_new(link_exit ? SIG_EXIT : SIG_EXIT2);
    if (s && sig_make_exit_term(s, &ctl->from, r, len)) {
        s->peer = ctl->from;
        deliver_to_pid(c, &ctl->to, s);
    } else {
        sig_free(s);
    }
    free(r);
}

static void monitor_exit(struct conn *c, const struct distmsg_ctl *ctl,
                         const struct distmsg_body *body)
{
    size_t len;
    uint8_t *r = reason_term(ctl, body, &len);
    if (!r)
        return;
    struct sig *s = sig_new(SIG_DOWN);
    if (s && sig_make_down_term(s, &ctl->ref, ctl->from_is_name ? NULL : &ctl->from,
                                   ctl->from_name, c->peer, r, len)) {
        s->ref = ctl->ref;
        deliver_to_pid(c, &ctl->to, s);
    } else {
        sig_free(s);
    }
    free(r);
}

static void spawn_request(struct conn *c, const struct distmsg_ctl *ctl)
{
    /* dpdist nodes run no Erlang code: answer as a node that cannot spawn that function. */
    ei_x_buff x;
    ei_x_new(&x);
    if (distmsg_encode_spawn_reply_error(&x, &ctl->ref, &ctl->from, 0, "notsup") == DISTMSG_OK) {
        struct obuf *b = obuf_build(&x, NULL, 0, 0, RT_LANE_EXPRESS);
        if (b) {
            conn_send(c, b, true);
            obuf_unref(b);
        }
    }
    ei_x_free(&x);
    DLOG_INFO(c->node->log_name, "spawn of %s:%s/%ld requested by %s refused (notsup)",
              ctl->mod, ctl->fun, ctl->arity, c->peer);
}

void dispatch_body(struct conn *c, const struct distmsg_body *body,
                   const struct dispatch_src *src)
{
    struct distmsg_ctl *ctl = src->ctl;
    void *owned = src->owned;
    bool handed = false;
    enum distmsg_result r = distmsg_decode(body, ctl);
    if (r != DISTMSG_OK) {
        DLOG_WARN(c->node->log_name, "message from %s dropped: %s", c->peer,
                  distmsg_strerror(r));
        goto done;
    }
    switch (ctl->op) {
    case DISTMSG_OP_SEND:
    case DISTMSG_OP_SEND_TT:
        handed = message(c, ctl, body, false, &owned, src);
        break;
    case DISTMSG_OP_SEND_SENDER:
    case DISTMSG_OP_SEND_SENDER_TT:
    case DISTMSG_OP_REG_SEND:
    case DISTMSG_OP_REG_SEND_TT:
        handed = message(c, ctl, body, true, &owned, src);
        break;
    case DISTMSG_OP_ALIAS_SEND:
    case DISTMSG_OP_ALIAS_SEND_TT:
        break; /* our mailboxes have no aliases: nobody listens, dropped as BEAM does */
    case DISTMSG_OP_LINK:
        relation_signal(c, ctl, SIG_LINK);
        break;
    case DISTMSG_OP_UNLINK:
        relation_signal(c, ctl, SIG_UNLINK_ID); /* id 0: no acknowledgement */
        break;
    case DISTMSG_OP_UNLINK_ID:
        relation_signal(c, ctl, SIG_UNLINK_ID);
        break;
    case DISTMSG_OP_UNLINK_ID_ACK:
        relation_signal(c, ctl, SIG_UNLINK_ACK);
        break;
    case DISTMSG_OP_MONITOR_P:
        relation_signal(c, ctl, SIG_MONITOR);
        break;
    case DISTMSG_OP_DEMONITOR_P:
        relation_signal(c, ctl, SIG_DEMONITOR);
        break;
    case DISTMSG_OP_EXIT:
    case DISTMSG_OP_EXIT_TT:
    case DISTMSG_OP_PAYLOAD_EXIT:
    case DISTMSG_OP_PAYLOAD_EXIT_TT:
        exit_signal(c, ctl, body, true);
        break;
    case DISTMSG_OP_EXIT2:
    case DISTMSG_OP_EXIT2_TT:
    case DISTMSG_OP_PAYLOAD_EXIT2:
    case DISTMSG_OP_PAYLOAD_EXIT2_TT:
        exit_signal(c, ctl, body, false);
        break;
    case DISTMSG_OP_MONITOR_P_EXIT:
    case DISTMSG_OP_PAYLOAD_MONITOR_P_EXIT:
        monitor_exit(c, ctl, body);
        break;
    case DISTMSG_OP_SPAWN_REQUEST:
    case DISTMSG_OP_SPAWN_REQUEST_TT:
        spawn_request(c, ctl);
        break;
    case DISTMSG_OP_GROUP_LEADER:
    case DISTMSG_OP_SPAWN_REPLY:
    case DISTMSG_OP_SPAWN_REPLY_TT:
        break; /* nothing here has a group leader or spawns */
    }
done:
    if (owned)
        src->owned_free(owned);
    if (!handed && src->acct && src->consumed_fn)
        src->consumed_fn(c, src->acct);
}
