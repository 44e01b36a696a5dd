/* Links and monitors (runtime/core/rel.c): one record per relation between a local mailbox
 * and another process, on the mailbox's list (under mbox->lock) and, for a process on
 * another node, on its connection's list too (under conn->reg_lock), so that a nodedown
 * reaches every mailbox concerned.
 *
 * Lock order: mbox->lock, then conn->reg_lock (rel_add, rel_remove); rel_conn_down takes
 * reg_lock alone and only pushes signals under it (lock-free). */
#ifndef DPDIST_RUNTIME_CORE_REL_H
#define DPDIST_RUNTIME_CORE_REL_H

#include <stdbool.h>
#include <stdint.h>

#include "dpdist/dpdist.h"

struct conn;
struct dd_mbox;

enum rel_kind {
    REL_LINK = 1, /* local mailbox <-> other pid */
    REL_MONITOR,  /* local mailbox monitors another process (by pid or name) */
    REL_WATCHER,  /* another process monitors a local mailbox */
};

struct rel {
    struct rel *mb_next, *mb_prev; /* mailbox list */
    struct rel *c_next, *c_prev;   /* connection list */
    enum rel_kind kind;
    struct dd_mbox *mb;
    struct conn *conn;             /* NULL for a relation between two local mailboxes */
    dd_pid remote;                 /* the other process (REL_MONITOR by name: to_name set) */
    char to_name[MAXATOMLEN_UTF8]; /* REL_MONITOR by name / REL_WATCHER on our name */
    dd_ref ref;                    /* monitors */
    uint64_t unlink_id;            /* REL_LINK being removed (UNLINK_ID sent, ack pending) */
    bool c_linked;                 /* on conn's list (under conn->reg_lock) */
};

/* mb->lock held. The first relation of that kind with pid and ref (NULL: any). */
struct rel *rel_find(struct dd_mbox *mb, enum rel_kind kind, const dd_pid *pid, const dd_ref *ref);
/* mb->lock held. A new relation with `remote`; conn is the connection to the remote's node
 * (NULL for a local process). NULL when out of memory or when conn is down already (the
 * caller then treats the other side as gone: noconnection). */
struct rel *rel_add(struct dd_mbox *mb, enum rel_kind kind, const dd_pid *remote, const dd_ref *ref,
                    const char *to_name, struct conn *conn);
/* mb->lock held. Takes r off the mailbox and its connection (r->conn becomes NULL, its
 * reference dropped); r stays the caller's (free). */
void rel_detach(struct dd_mbox *mb, struct rel *r);
/* mb->lock held. rel_detach, then frees r. */
void rel_remove(struct dd_mbox *mb, struct rel *r);
/* c went down: every relation on it leaves c's list and gets its nodedown signal pushed to
 * its mailbox (exit `noconnection`, 'DOWN' `noconnection`, or a dropped monitor); the
 * mailbox frees the record when it processes the signal or closes. Any thread, once. */
void rel_conn_down(struct conn *c);

#endif
