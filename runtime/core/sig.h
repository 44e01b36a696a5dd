/* Signals (runtime/core/sig.c): what a mailbox's queue carries — messages, and the signals of
 * links and monitors — and the terms built for the ones that become messages ({'EXIT', ..},
 * {'DOWN', ..}). A signal is owned by whoever holds it: its producer until mbox_push, then
 * the mailbox, then the application once it is handed out (dd_msg_free). Any thread. */
#ifndef DPDIST_RUNTIME_CORE_SIG_H
#define DPDIST_RUNTIME_CORE_SIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dpdist/dpdist.h"

struct conn;

enum sig_kind {
    SIG_MESSAGE = 1, /* an ordinary message */
    SIG_LINK,        /* remote asks to link */
    SIG_UNLINK_ID,   /* remote removes a link: answer with UNLINK_ID_ACK */
    SIG_UNLINK_ACK,  /* our unlink completed */
    SIG_EXIT,        /* link exit from `peer` (removes the link) */
    SIG_EXIT2,       /* exit/2 from `peer` */
    SIG_MONITOR,     /* remote monitors us */
    SIG_DEMONITOR,   /* remote drops its monitor */
    SIG_DOWN,        /* a monitored process went down */
    SIG_READY,       /* a ready-made message (node events, immediate noconnection) */
};

#define SIG_SMALL_BYTES 256 /* terms up to this size live inside the signal */

/* A queued signal; the public dd_msg is embedded so a message is handed out without a copy.
 * The large members (pids and references carry 1 KB node names) come last and are written
 * only when used: sig_new() clears the rest. */
struct sig {
    struct sig *_Atomic next; /* mailbox MPSC queue (runtime/core/mbox_queue.h) */
    enum sig_kind kind;
    uint64_t id;       /* UNLINK_ID */
    struct conn *conn; /* the connection it came from (holds a reference) or NULL */
    char *name;        /* SIG_MONITOR by name (malloc'd, freed with the signal) */
    /* The memory behind msg.term: freed with free_fn(free_arg) (NULL: inline/none). */
    void (*free_fn)(void *arg);
    void *free_arg;
    size_t acct_bytes; /* counted against the delivering carrier's receive bound */
    void (*consumed_fn)(struct conn *c, size_t bytes); /* that carrier's accounting hook */
    dd_msg msg;                  /* SIG_MESSAGE, SIG_EXIT*, SIG_DOWN, SIG_READY: the term */
    dd_pid peer;                 /* sender / linked / monitoring process */
    dd_ref ref;                  /* monitors */
    char small[SIG_SMALL_BYTES]; /* small message terms live here (no second allocation) */
};

/* A cleared signal of that kind, or NULL when out of memory. */
struct sig *sig_new(enum sig_kind kind);
/* Frees s and what it holds: its term, its connection reference, the carrier's accounting
 * (consumed_fn). NULL is a no-op. */
void sig_free(struct sig *s);
/* The signal's term becomes a copy of term (with its version byte); false when out of
 * memory. */
bool sig_set_term_copy(struct sig *s, const uint8_t *term, size_t len);
/* The signal's term becomes {'EXIT', From, Reason}, or {'DOWN', Ref, process, Obj, Reason}
 * with Obj the pid, or {name, node} when pid is NULL. reason is a term with its version
 * byte. false when out of memory or reason is not such a term. */
bool sig_make_exit_term(struct sig *s, const dd_pid *from, const uint8_t *reason,
                        size_t reason_len);
bool sig_make_down_term(struct sig *s, const dd_ref *ref, const dd_pid *pid, const char *name,
                        const char *node, const uint8_t *reason, size_t reason_len);

#endif
