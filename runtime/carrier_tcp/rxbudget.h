/* The node's reassembly memory on the TCP carrier (runtime/carrier_tcp/rxbudget.c): reservations for
 * large packets being received, the connections that wait for room, resuming them, and the
 * log lines. The budget itself (node->reasm_budget, common/budget.h) is shared with the
 * DPDK carrier, whose message buffers draw from it on the poller (dataplane/reasm.c).
 *
 * Control thread only, except where noted. See docs/runtime.md "Reassembly memory".
 */
#ifndef DPDIST_RUNTIME_CARRIER_TCP_RXBUDGET_H
#define DPDIST_RUNTIME_CARRIER_TCP_RXBUDGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/core/node.h"

/* A packet being received may hold this much of a connection's receive buffer without a
 * reservation; a longer one reserves its whole length when its length arrives. Fragments
 * (64 KiB) never need one. */
#define RXB_FREE_PACKET_BYTES (1u << 20)
/* At most one line per interval about refusals, with what happened since the last one. */
#define RXB_LOG_INTERVAL_MS 10000
#define RXB_RETRY_MS        1000

/* What c holds of the node's reassembly memory: its fragmented messages in progress and the
 * large packet it is receiving. */
size_t rxb_held(const struct conn *c);

/* Reserves a large packet's length for c (true), or false when the node has no room. */
bool rxb_take_packet(struct conn *c, size_t len);
/* Gives back c's packet reservation, if any (any thread holding the last reference). */
void rxb_give_packet(struct conn *c);

/* The packet at the front of c's receive buffer needs room the node does not have (what:
 * for the log). Stops reading c until rxb_resume finds room (0), unless every byte in use
 * belongs to connections that themselves wait for room, c among them: then nothing would
 * ever be given back, and c must be closed (-1, logged). */
int rxb_wait(struct conn *c, const char *what);

/* Lets every waiting connection try again (each waits anew if there is still no room).
 * Called when TCP gives memory back and from the periodic timer (DPDK gives on its poller,
 * and waiting connections that went down are let go here). */
void rxb_resume(struct dd_node *n);

/* From the periodic timer: resumes the waiting connections when memory came back since the
 * last one waited (DPDK gives on its poller; freed connections on the RCU thread), when one
 * of them went down, or RXB_RETRY_MS after the last try; then the refusal line, at most
 * once per RXB_LOG_INTERVAL_MS. */
void rxb_periodic(struct dd_node *n, uint64_t now_ms);

#endif
