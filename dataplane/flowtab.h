/* Fast path (except flowtab_create/destroy): no allocation, no locks, no logging.
 *
 * flowtab: the sender side map from a 64-bit sender tag (e.g. a mailbox id) to a flow
 * slot 0..max_flows-1 of one channel (dataplane.md §4, "Flows").
 *
 * A slot is BUSY while its sender has queued or unacknowledged messages; the owner says
 * when it becomes IDLE (nothing queued, everything acknowledged). An idle slot keeps its
 * tag, so the same sender gets it back without a new mapping, and is given to another
 * sender only when no FREE slot is left (least recently idled first). "No free slot"
 * (every slot busy) is a normal result: the message waits (backpressure).
 *
 * A single-threaded object owned by the channel's polling thread.
 */
#ifndef DPDIST_DATAPLANE_FLOWTAB_H
#define DPDIST_DATAPLANE_FLOWTAB_H

#include <stdbool.h>
#include <stdint.h>

#define FLOWTAB_MAX_FLOWS 32768

struct flowtab;

/* Slow path: max_flows in 1..FLOWTAB_MAX_FLOWS. NULL with errno EINVAL or ENOMEM. */
struct flowtab *flowtab_create(uint32_t max_flows);
void flowtab_destroy(struct flowtab *ft);

/* The slot mapped to tag (busy or idle), or -1. */
int flowtab_lookup(const struct flowtab *ft, uint64_t tag);

/* The slot for tag, marked busy: its existing slot, else a free one, else the least
 * recently idled slot (which forgets its old tag). Returns the slot, or -ENOSPC when
 * every slot is busy. *reused (if not NULL) tells whether the slot was taken from
 * another tag. */
int flowtab_acquire(struct flowtab *ft, uint64_t tag, bool *reused);

/* The owner's word that `slot` has no queued and no unacknowledged messages: it may be
 * given to another tag from now on. No-op for a slot that is not busy. */
void flowtab_set_idle(struct flowtab *ft, uint32_t slot);

bool flowtab_is_busy(const struct flowtab *ft, uint32_t slot);
uint64_t flowtab_tag(const struct flowtab *ft, uint32_t slot); /* 0 for a free slot */
uint32_t flowtab_busy_count(const struct flowtab *ft);
uint32_t flowtab_max_flows(const struct flowtab *ft);

#endif
