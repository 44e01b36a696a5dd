/* Links and monitors: see rel.h.
 *
 * Nodedown, as BEAM: every link with a process on the peer gets an exit signal
 * `noconnection`, every monitor of a process there a 'DOWN' `noconnection`, every monitor the
 * peer held on our mailboxes is dropped. A relation added after the connection went down is
 * refused (rel_add returns NULL; the caller fires noconnection itself), so none is missed:
 * rel_conn_add checks the state under reg_lock, which rel_conn_down holds while it empties
 * the list after the state became DOWN. */
#include "runtime/core/rel.h"

#include <stdio.h>
#include <stdlib.h>

#include "runtime/core/conn.h"
#include "runtime/core/mbox.h"
#include "runtime/core/sig.h"
#include "runtime/core/terms.h"

static void rel_link_mb(struct dd_mbox *mb, struct rel *r)
{
    r->mb = mb;
    r->mb_prev = NULL;
    r->mb_next = mb->rels;
    if (mb->rels)
        mb->rels->mb_prev = r;
    mb->rels = r;
}

static void rel_unlink_mb(struct dd_mbox *mb, struct rel *r)
{
    if (r->mb_prev)
        r->mb_prev->mb_next = r->mb_next;
    else
        mb->rels = r->mb_next;
    if (r->mb_next)
        r->mb_next->mb_prev = r->mb_prev;
    r->mb_next = r->mb_prev = NULL;
}

/* r onto c's list, with a reference to c; false if c is down already. */
static bool rel_conn_add(struct conn *c, struct rel *r)
{
    pthread_mutex_lock(&c->reg_lock);
    if (atomic_load(&c->state) == CONN_DOWN) {
        pthread_mutex_unlock(&c->reg_lock);
        return false;
    }
    r->conn = c;
    conn_ref(c);
    r->c_prev = NULL;
    r->c_next = c->rels;
    if (c->rels)
        c->rels->c_prev = r;
    c->rels = r;
    r->c_linked = true;
    pthread_mutex_unlock(&c->reg_lock);
    return true;
}

/* r off its connection's list (if still there); drops the reference. */
static void rel_conn_del(struct rel *r)
{
    struct conn *c = r->conn;
    pthread_mutex_lock(&c->reg_lock);
    if (r->c_linked) {
        if (r->c_prev)
            r->c_prev->c_next = r->c_next;
        else
            c->rels = r->c_next;
        if (r->c_next)
            r->c_next->c_prev = r->c_prev;
        r->c_linked = false;
    }
    pthread_mutex_unlock(&c->reg_lock);
    r->conn = NULL;
    conn_unref(c);
}

void rel_detach(struct dd_mbox *mb, struct rel *r)
{
    rel_unlink_mb(mb, r);
    if (r->conn)
        rel_conn_del(r);
}

void rel_remove(struct dd_mbox *mb, struct rel *r)
{
    rel_detach(mb, r);
    free(r);
}

struct rel *rel_find(struct dd_mbox *mb, enum rel_kind kind, const dd_pid *pid, const dd_ref *ref)
{
    for (struct rel *r = mb->rels; r; r = r->mb_next) {
        if (r->kind != kind)
            continue;
        if (ref && !node_ref_eq(&r->ref, ref))
            continue;
        if (pid && !node_pid_eq(&r->remote, pid))
            continue;
        return r;
    }
    return NULL;
}

struct rel *rel_add(struct dd_mbox *mb, enum rel_kind kind, const dd_pid *remote, const dd_ref *ref,
                    const char *to_name, struct conn *conn)
{
    struct rel *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->kind = kind;
    if (remote)
        r->remote = *remote;
    if (ref)
        r->ref = *ref;
    if (to_name)
        snprintf(r->to_name, sizeof(r->to_name), "%s", to_name);
    rel_link_mb(mb, r);
    if (conn && !rel_conn_add(conn, r)) {
        rel_unlink_mb(mb, r);
        free(r);
        return NULL;
    }
    return r;
}

/* Queues the nodedown signal a relation gets (called under c->reg_lock). */
static void rel_nodedown(struct conn *c, struct rel *r)
{
    struct sig *s = NULL;
    switch (r->kind) {
    case REL_LINK:
        s = sig_new(SIG_EXIT);
        if (s && !sig_make_exit_term(s, &r->remote, term_noconnection, term_noconnection_len)) {
            sig_free(s);
            s = NULL;
        }
        if (s)
            s->peer = r->remote;
        break;
    case REL_MONITOR:
        s = sig_new(SIG_DOWN);
        if (s && !sig_make_down_term(s, &r->ref, r->to_name[0] ? NULL : &r->remote, r->to_name,
                                     c->peer, term_noconnection, term_noconnection_len)) {
            sig_free(s);
            s = NULL;
        }
        if (s)
            s->ref = r->ref;
        break;
    case REL_WATCHER:
        s = sig_new(SIG_DEMONITOR);
        if (s)
            s->ref = r->ref;
        break;
    }
    /* The mailbox still holds r (it is freed when the mailbox processes the signal or
     * closes), so r->mb is alive here. */
    if (s)
        mbox_push(r->mb, s);
}

void rel_conn_down(struct conn *c)
{
    pthread_mutex_lock(&c->reg_lock);
    while (c->rels) {
        struct rel *r = c->rels;
        c->rels = r->c_next;
        if (c->rels)
            c->rels->c_prev = NULL;
        r->c_linked = false;
        r->c_next = r->c_prev = NULL;
        rel_nodedown(c, r);
    }
    pthread_mutex_unlock(&c->reg_lock);
}
