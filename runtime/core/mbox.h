/* Mailboxes (runtime/core/mbox.c): the pid table, the per-mailbox signal queue and the
 * processing of signals on receive. See the design comment in mbox.c. */
#ifndef DPDIST_RUNTIME_CORE_MBOX_H
#define DPDIST_RUNTIME_CORE_MBOX_H

#include "runtime/core/node.h"

/* Open a mailbox (any thread). DD_ENAMEINUSE, DD_ELIMIT, DD_ENOMEM, DD_EINVAL. */
int mbox_open(struct dd_node *n, const char *regname, unsigned flags, struct dd_mbox **out);
/* Close: sends exit signals with reason to linked processes, 'DOWN' to monitors; frees mb.
 * No other thread may use mb during or after the call. */
void mbox_close(struct dd_mbox *mb, const uint8_t *reason, size_t reason_len);
/* Receive (serialised per mailbox). */
int mbox_recv(struct dd_mbox *mb, dd_msg **out, int timeout_ms);
/* Copies a message payload of `from` into its outgoing buffer. On a node polled inline, a
 * large one is copied by the inline leader between polls while this thread sleeps (see
 * mbox.c): one thread busy on the node's core rather than two in scheduler time slices. */
void mbox_copy_payload(struct dd_mbox *from, uint8_t *dst, const uint8_t *src, size_t len);
/* On a node polled inline: another thread is polling the port right now (the inline
 * leader, and not this thread between two of its dd_recv calls). */
bool mbox_inline_leader_polling(struct dd_node *n);
void mbox_msg_free(dd_msg *msg);
/* Answer a signal addressed to a dead/unknown local process `dead`; consumes s. */
void mbox_bounce(struct dd_node *n, const dd_pid *dead, struct sig *s);

/* Signals a mailbox emits (route.c). */
void mbox_send_unlink_ack(struct dd_mbox *mb, const dd_pid *to, uint64_t id);
void route_exit_signal(struct dd_node *n, const dd_pid *from, const dd_pid *to,
                       const uint8_t *reason, size_t reason_len, bool link_exit);
void route_monitor_exit(struct dd_node *n, const dd_pid *from, const char *from_name,
                        const dd_pid *to, const dd_ref *ref, const uint8_t *reason,
                        size_t reason_len);
void route_demonitor(struct dd_node *n, const dd_pid *from, const dd_pid *to, const char *to_name,
                     const dd_ref *ref);
void route_unlink_ack(struct dd_node *n, const dd_pid *from, const dd_pid *to, uint64_t id);

#endif
