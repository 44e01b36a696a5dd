/* The runtime's side of the DPDK data plane (runtime/carrier_dpdk/dp_glue.c): starting it from the node's
 * config file, advertising it (EPMD Extra, handshake trailer), upgrading connections to it,
 * and the DPDK carrier. Without a data plane every function is a cheap no-op. */
#ifndef DPDIST_RUNTIME_CARRIER_DPDK_DP_GLUE_H
#define DPDIST_RUNTIME_CARRIER_DPDK_DP_GLUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "control/dpctl.h"
#include "runtime/core/node.h"

/* Start the data plane described by config_file (NULL: none). 0 or a DD_E* status with err. */
int dp_glue_start(struct dd_node *n, const char *config_file, char *err, size_t errlen);
void dp_glue_stop(struct dd_node *n);
/* What our handshake 'N' messages carry after the name: the dpdist marker. */
size_t dp_glue_trailer(struct dd_node *n, uint8_t *buf, size_t cap);
/* What we register in EPMD's Extra field: our data-plane endpoint, or nothing. */
size_t dp_glue_epmd_extra(struct dd_node *n, uint8_t *buf, size_t cap);
/* The peer's handshake trailer: true if it is a dpdist node. */
bool dp_glue_parse_trailer(struct conn *c, const uint8_t *t, size_t len);
/* The peer's EPMD Extra field (initiator side). */
void dp_glue_note_extra(struct conn *c, const uint8_t *extra, size_t len);
/* Start the upgrade of an UP connection to a dpdist peer (initiator, control thread). */
void dp_glue_maybe_upgrade(struct conn *c);
/* An upgrade message from the peer (REQ, ACK, NAK, SWITCH), as dpctl_decode gave it (rc its
 * result: a REQ with a bad offer is answered with a nak). Any carrier's receiving thread:
 * SWITCH is acted on at once (stream order), the rest on the control thread. */
void dp_glue_upgrade_msg(struct conn *c, const struct dpctl_msg *m, enum dpctl_result rc);
/* The connection is down: close its channel (control thread). */
void dp_glue_detach(struct conn *c);
/* Frees the channel handle of c (when c itself is freed). */
void dp_glue_free_chan(struct conn *c);
/* Inline polling: spin this long after traffic (0: always), then sleep this long between
 * polls ([eal] busy_poll_us, idle_sleep_us). */
uint64_t dp_glue_busy_poll_ns(struct dd_node *n);
uint64_t dp_glue_idle_sleep_ns(struct dd_node *n);
/* The data plane's clock (TSC-based, calibrated; CLOCK_MONOTONIC without a data plane). */
uint64_t dp_glue_clock_ns(void);
/* The application freed bytes delivered over the data plane. */
void dp_glue_consumed(struct conn *c, size_t bytes);
/* The carrier currently used by c. */
enum dd_carrier_kind dp_glue_carrier_kind(struct conn *c);
/* Control thread: act on what the poller reported (channels down). */
void dp_glue_check_events(struct dd_node *n);
/* Inline polling: whether this node's application threads run the poll loop, and one
 * bounded turn of it (returns the work done; 0 also if another thread is polling). */
bool dp_glue_inline(struct dd_node *n);
unsigned dp_glue_poll(struct dd_node *n, unsigned iterations);
/* The same, for a caller already inside rcu_rd_enter(). */
unsigned dp_glue_poll_locked(struct dd_node *n, unsigned iterations);
uint64_t dp_glue_hb_interval_ns(struct dd_node *n);
int dp_glue_summary(struct dd_node *n, FILE *out);
int dp_glue_peer_stats(struct conn *c, struct dd_peer_stats *out);
int dp_glue_fault(struct dd_node *n, bool enable);

#endif
