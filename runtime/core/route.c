/* Outgoing messages and signals: to a local mailbox (pushed on its queue) or to a process on
 * another node (encoded as a distribution control message and handed to the connection's
 * carrier, connecting on demand). Callable from any thread.
 *
 * Erlang's rules for a target that does not exist are kept: a message is dropped; a link
 * answers with an exit signal `noproc`; a monitor with a 'DOWN' `noproc`; a link or monitor
 * towards a node that cannot be reached fires with `noconnection` (via the connection's
 * registry when it goes down, or at once when the connection is already gone).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "control/distmsg.h"
#include "control/etf.h"
#include "runtime/core/carrier.h"
#include "runtime/core/conn.h"
#include "runtime/core/mbox.h"
#include "runtime/core/node.h"
#include "runtime/core/rcu.h"
#include "runtime/core/route.h"
#include "runtime/core/terms.h"

/* A per-thread buffer for encoding control messages: sends are frequent, and the encoding
 * is copied into the message buffer right after, so one reused buffer per thread saves an
 * allocation per message. Freed when the thread exits. */
static pthread_key_t g_scratch_key;
static pthread_once_t g_scratch_once = PTHREAD_ONCE_INIT;
static __thread ei_x_buff *t_scratch;

static void scratch_free(void *p)
{
    ei_x_free(p);
    free(p);
}

static void scratch_key(void)
{
    pthread_key_create(&g_scratch_key, scratch_free);
}

static ei_x_buff *scratch(void)
{
    if (!t_scratch) {
        pthread_once(&g_scratch_once, scratch_key);
        ei_x_buff *x = malloc(sizeof(*x));
        if (!x || ei_x_new(x) < 0) {
            free(x);
            return NULL;
        }
        t_scratch = x;
        pthread_setspecific(g_scratch_key, x);
    }
    t_scratch->index = 0;
    return t_scratch;
}

uint64_t route_sender_tag(const dd_pid *pid)
{
    return (uint64_t)pid->num << 32 | pid->serial;
}

/* Sends an encoded control message (+ payload term with version byte) to `node`, dialling
 * it if needed, or (dial false) only on a live one (conn_get_live). `from`, the sending
 * mailbox of a message (NULL for signals), copies the payload (mbox_copy_payload). */
static int send_remote_on(struct dd_node *n, const char *node, ei_x_buff *ctl,
                          const uint8_t *payload, size_t payload_len, uint64_t sender,
                          uint8_t lane, bool nonblock, bool dial, struct dd_mbox *from)
{
    struct conn *c = dial ? conn_get_or_dial(n, node) : conn_get_live(n, node);
    if (!c) { /* unreachable: like erlang:send/2, not an error; a bad name or a stop is */
        int st = dial ? lasterr_status() : DD_OK;
        return st == DD_ENOCONN ? DD_OK : st;
    }
    if (payload_len > n->max_msg || (size_t)ctl->index + payload_len > n->max_msg) {
        conn_unref(c);
        return lasterr_set(DD_ETOOBIG, "message of %zu bytes is above the maximum of %zu",
                       payload_len, n->max_msg);
    }
    struct obuf *b;
    if (from && payload_len > 1) {
        b = obuf_build_nocopy(ctl, payload_len, sender, lane);
        if (b)
            mbox_copy_payload(from, obuf_payload(b, ctl), payload + 1, payload_len - 1);
    } else {
        b = obuf_build(ctl, payload, payload_len, sender, lane);
    }
    int rc = b ? conn_send(c, b, nonblock) : lasterr_set(DD_ENOMEM, "out of memory");
    if (b)
        obuf_unref(b);
    conn_unref(c);
    return rc == DD_ENOCONN ? DD_OK : rc;
}

/* A message from `from`: dials, its sender tag and lane. */
static int send_remote(struct dd_mbox *from, const char *node, ei_x_buff *ctl,
                       const uint8_t *payload, size_t payload_len, bool nonblock)
{
    return send_remote_on(from->node, node, ctl, payload, payload_len,
                          route_sender_tag(&from->pid), from->lane, nonblock, true, from);
}

/* Pushes a signal to a local mailbox, or bounces it if the mailbox does not exist. */
static void push_local(struct dd_node *n, const dd_pid *to, struct sig *s)
{
    rcu_rd_enter();
    struct dd_mbox *mb = mbox_lookup_pid(n, to);
    if (mb)
        mbox_push(mb, s);
    rcu_rd_leave();
    if (!mb)
        mbox_bounce(n, to, s);
}

int route_check_term(const void *term, size_t len)
{
    const uint8_t *t = term;
    size_t end;
    if (!term || len < 2 || t[0] != ETF_VERSION || etf_skip(t, len, 1, &end) != ETF_OK ||
        end != len)
        return lasterr_set(DD_EBADTERM, "not one well-formed external term with version byte %d",
                       ETF_VERSION);
    return DD_OK;
}

int route_send_pid(struct dd_mbox *from, const dd_pid *to, const void *term, size_t len,
                   bool nonblock)
{
    struct dd_node *n = from->node;
    if (strcmp(to->node, n->name) == 0) {
        if (to->creation != n->creation)
            return DD_OK; /* a previous incarnation of this node: dropped */
        if (len > n->max_msg)
            return lasterr_set(DD_ETOOBIG, "message of %zu bytes is above the maximum", len);
        struct sig *s = sig_new(SIG_MESSAGE);
        if (!s || !sig_set_term_copy(s, term, len)) {
            sig_free(s);
            return lasterr_set(DD_ENOMEM, "out of memory");
        }
        s->msg.has_from = true;
        s->msg.from = from->pid;
        push_local(n, to, s);
        return DD_OK;
    }
    ei_x_buff *x = scratch();
    if (!x)
        return lasterr_set(DD_ENOMEM, "out of memory");
    return distmsg_encode_send_sender(x, &from->pid, to) == DISTMSG_OK
               ? send_remote(from, to->node, x, term, len, nonblock)
               : lasterr_set(DD_EINVAL, "cannot encode a message to that pid");
}

int route_send_reg(struct dd_mbox *from, const char *name, const char *node, const void *term,
                   size_t len, bool nonblock)
{
    struct dd_node *n = from->node;
    if (!node || strcmp(node, n->name) == 0) {
        rcu_rd_enter();
        struct dd_mbox *mb = mbox_lookup_name(n, name);
        dd_pid to = mb ? mb->pid : (dd_pid){0};
        rcu_rd_leave();
        if (!mb)
            return DD_OK; /* {Name, Node} ! Msg to an unknown name: dropped */
        return route_send_pid(from, &to, term, len, nonblock);
    }
    ei_x_buff *x = scratch();
    if (!x)
        return lasterr_set(DD_ENOMEM, "out of memory");
    return distmsg_encode_reg_send(x, &from->pid, name) == DISTMSG_OK
               ? send_remote(from, node, x, term, len, nonblock)
               : lasterr_set(DD_EINVAL, "cannot encode a message to %s", name);
}

int route_send_alias(struct dd_mbox *from, const dd_ref *alias, const void *term, size_t len)
{
    struct dd_node *n = from->node;
    if (strcmp(alias->node, n->name) == 0)
        return DD_OK; /* our mailboxes have no aliases: nothing is listening */
    ei_x_buff x;
    ei_x_new(&x);
    int rc = distmsg_encode_alias_send(&x, &from->pid, alias) == DISTMSG_OK
                 ? send_remote(from, alias->node, &x, term, len, false)
                 : lasterr_set(DD_EINVAL, "cannot encode an alias send");
    ei_x_free(&x);
    return rc;
}

/* A signal to to_node on the express lane. Signals about an existing relation (link exit,
 * monitor exit, demonitor, unlink, unlink ack) go only on a live connection, as in Erlang:
 * when it is gone, the relation went with it (noconnection on both sides), and dialling
 * just to deliver them would bring the connection back. exit/2 dials, like a send. */
static void send_ctl(struct dd_node *n, const char *to_node, ei_x_buff *x, uint64_t sender,
                     const uint8_t *payload, size_t payload_len, bool dial)
{
    send_remote_on(n, to_node, x, payload, payload_len, sender, RT_LANE_EXPRESS, false,
                   dial, NULL);
}

void route_exit_signal(struct dd_node *n, const dd_pid *from, const dd_pid *to,
                       const uint8_t *reason, size_t reason_len, bool link_exit)
{
    if (strcmp(to->node, n->name) == 0) {
        struct sig *s = sig_new(link_exit ? SIG_EXIT : SIG_EXIT2);
        if (!s || !sig_make_exit_term(s, from, reason, reason_len)) {
            sig_free(s);
            return;
        }
        s->peer = *from;
        push_local(n, to, s);
        return;
    }
    ei_x_buff x;
    ei_x_new(&x);
    enum distmsg_result r = link_exit ? distmsg_encode_payload_exit(&x, from, to)
                                      : distmsg_encode_payload_exit2(&x, from, to);
    if (r == DISTMSG_OK)
        send_ctl(n, to->node, &x, route_sender_tag(from), reason, reason_len, !link_exit);
    ei_x_free(&x);
}

void route_monitor_exit(struct dd_node *n, const dd_pid *from, const char *from_name,
                        const dd_pid *to, const dd_ref *ref, const uint8_t *reason,
                        size_t reason_len)
{
    if (strcmp(to->node, n->name) == 0) {
        struct sig *s = sig_new(SIG_DOWN);
        if (!s || !sig_make_down_term(s, ref, from_name ? NULL : from, from_name, n->name,
                                         reason, reason_len)) {
            sig_free(s);
            return;
        }
        s->ref = *ref;
        push_local(n, to, s);
        return;
    }
    ei_x_buff x;
    ei_x_new(&x);
    if (distmsg_encode_payload_monitor_p_exit(&x, from_name ? NULL : from, from_name, to, ref) ==
        DISTMSG_OK)
        send_ctl(n, to->node, &x, route_sender_tag(from), reason, reason_len, false);
    ei_x_free(&x);
}

void route_demonitor(struct dd_node *n, const dd_pid *from, const dd_pid *to, const char *to_name,
                     const dd_ref *ref)
{
    if (strcmp(to->node, n->name) == 0) {
        struct sig *s = sig_new(SIG_DEMONITOR);
        if (!s)
            return;
        s->peer = *from;
        s->ref = *ref;
        if (to_name) {
            rcu_rd_enter();
            struct dd_mbox *mb = mbox_lookup_name(n, to_name);
            if (mb)
                mbox_push(mb, s);
            rcu_rd_leave();
            if (!mb)
                sig_free(s);
            return;
        }
        push_local(n, to, s);
        return;
    }
    ei_x_buff x;
    ei_x_new(&x);
    if (distmsg_encode_demonitor_p(&x, from, to_name ? NULL : to, to_name, ref) == DISTMSG_OK)
        send_ctl(n, to->node, &x, route_sender_tag(from), NULL, 0, false);
    ei_x_free(&x);
}

void route_unlink_ack(struct dd_node *n, const dd_pid *from, const dd_pid *to, uint64_t id)
{
    if (id == 0)
        return; /* old-style UNLINK: no acknowledgement */
    if (strcmp(to->node, n->name) == 0) {
        struct sig *s = sig_new(SIG_UNLINK_ACK);
        if (!s)
            return;
        s->peer = *from;
        s->id = id;
        push_local(n, to, s);
        return;
    }
    ei_x_buff x;
    ei_x_new(&x);
    if (distmsg_encode_unlink_id_ack(&x, id, from, to) == DISTMSG_OK)
        send_ctl(n, to->node, &x, route_sender_tag(from), NULL, 0, false);
    ei_x_free(&x);
}

void mbox_send_unlink_ack(struct dd_mbox *mb, const dd_pid *to, uint64_t id)
{
    route_unlink_ack(mb->node, &mb->pid, to, id);
}

/* ---- links and monitors initiated by a mailbox ------------------------------------- */

/* The connection a relation with `pid` depends on: NULL for local processes; for remote
 * ones a referenced connection (dialled if needed), or NULL with *unreachable set. */
static struct conn *rel_conn(struct dd_node *n, const char *node, bool *unreachable)
{
    *unreachable = false;
    if (strcmp(node, n->name) == 0)
        return NULL;
    struct conn *c = conn_get_or_dial(n, node);
    if (!c)
        *unreachable = true;
    return c;
}

/* Delivers an immediate noconnection exit or 'DOWN' to mb itself. */
static void self_noconnection(struct dd_mbox *mb, bool link, const dd_pid *pid, const dd_ref *ref,
                              const char *name, const char *node)
{
    struct sig *s = sig_new(SIG_READY);
    if (!s)
        return;
    bool ok = link ? sig_make_exit_term(s, pid, term_noconnection,
                                           term_noconnection_len)
                   : sig_make_down_term(s, ref, name ? NULL : pid, name, node,
                                           term_noconnection, term_noconnection_len);
    if (!ok) {
        sig_free(s);
        return;
    }
    mbox_push(mb, s);
}

int route_link(struct dd_mbox *mb, const dd_pid *to)
{
    struct dd_node *n = mb->node;
    if (node_pid_eq(to, &mb->pid))
        return DD_OK;
    bool unreachable;
    struct conn *c = rel_conn(n, to->node, &unreachable);
    pthread_mutex_lock(&mb->lock);
    struct rel *r = rel_find(mb, REL_LINK, to, NULL);
    bool added = false;
    if (!r && !unreachable) {
        r = rel_add(mb, REL_LINK, to, NULL, NULL, c);
        added = r != NULL;
    }
    pthread_mutex_unlock(&mb->lock);
    if (unreachable || (!r && c)) {
        self_noconnection(mb, true, to, NULL, NULL, NULL);
    } else if (added) {
        if (!c) {
            struct sig *s = sig_new(SIG_LINK);
            if (s) {
                s->peer = mb->pid;
                push_local(n, to, s);
            }
        } else {
            ei_x_buff x;
            ei_x_new(&x);
            if (distmsg_encode_link(&x, &mb->pid, to) == DISTMSG_OK)
                send_ctl(n, to->node, &x, route_sender_tag(&mb->pid), NULL, 0, true);
            ei_x_free(&x);
        }
    }
    if (c)
        conn_unref(c);
    return DD_OK;
}

int route_unlink(struct dd_mbox *mb, const dd_pid *to)
{
    struct dd_node *n = mb->node;
    pthread_mutex_lock(&mb->lock);
    struct rel *r = rel_find(mb, REL_LINK, to, NULL);
    uint64_t id = 0;
    bool gone = false;
    if (r && r->unlink_id == 0) {
        r->unlink_id = id = mb->next_unlink_id++;
        /* Connection lost: the noconnection exit already queued for us removes the link
         * (an unlinked link's exit is not delivered); the other side has no link left. */
        gone = r->conn && atomic_load(&r->conn->state) == CONN_DOWN;
    }
    pthread_mutex_unlock(&mb->lock);
    if (!id || gone)
        return DD_OK;
    if (strcmp(to->node, n->name) == 0) {
        struct sig *s = sig_new(SIG_UNLINK_ID);
        if (s) {
            s->peer = mb->pid;
            s->id = id;
            push_local(n, to, s);
        }
        return DD_OK;
    }
    ei_x_buff x;
    ei_x_new(&x);
    if (distmsg_encode_unlink_id(&x, id, &mb->pid, to) == DISTMSG_OK)
        send_ctl(n, to->node, &x, route_sender_tag(&mb->pid), NULL, 0, false);
    ei_x_free(&x);
    return DD_OK;
}

int route_monitor(struct dd_mbox *mb, const dd_pid *pid, const char *name, const char *node,
                  dd_ref *ref_out)
{
    struct dd_node *n = mb->node;
    dd_ref ref;
    node_make_ref(n, &ref);
    *ref_out = ref;
    dd_pid target = {0};
    if (pid)
        target = *pid;
    else
        snprintf(target.node, sizeof(target.node), "%s", node ? node : n->name);
    bool unreachable;
    struct conn *c = rel_conn(n, target.node, &unreachable);
    pthread_mutex_lock(&mb->lock);
    struct rel *r = unreachable ? NULL : rel_add(mb, REL_MONITOR, &target, &ref, name, c);
    pthread_mutex_unlock(&mb->lock);
    if (!r) {
        self_noconnection(mb, false, &target, &ref, name, target.node);
    } else if (!c) {
        struct sig *s = sig_new(SIG_MONITOR);
        if (s) {
            s->peer = mb->pid;
            s->ref = ref;
            if (name) {
                s->name = strdup(name);
                rcu_rd_enter();
                struct dd_mbox *t = mbox_lookup_name(n, name);
                if (t)
                    mbox_push(t, s);
                rcu_rd_leave();
                if (!t) { /* no such name: 'DOWN' noproc */
                    sig_free(s);
                    route_monitor_exit(n, &target, name, &mb->pid, &ref, term_noproc,
                                       term_noproc_len);
                }
            } else {
                push_local(n, &target, s);
            }
        }
    } else {
        ei_x_buff x;
        ei_x_new(&x);
        if (distmsg_encode_monitor_p(&x, &mb->pid, name ? NULL : &target, name, &ref) ==
            DISTMSG_OK)
            send_ctl(n, target.node, &x, route_sender_tag(&mb->pid), NULL, 0, true);
        ei_x_free(&x);
    }
    if (c)
        conn_unref(c);
    return DD_OK;
}

int route_demonitor_ref(struct dd_mbox *mb, const dd_ref *ref)
{
    pthread_mutex_lock(&mb->lock);
    struct rel *r = rel_find(mb, REL_MONITOR, NULL, ref);
    struct rel copy;
    bool gone = false;
    if (r) {
        copy = *r;
        gone = r->conn && atomic_load(&r->conn->state) == CONN_DOWN; /* nothing to undo there */
        rel_remove(mb, r);
    }
    pthread_mutex_unlock(&mb->lock);
    if (r && !gone)
        route_demonitor(mb->node, &mb->pid, &copy.remote, copy.to_name[0] ? copy.to_name : NULL,
                        &copy.ref);
    return DD_OK;
}
