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

/* The DPDK carrier's transport (runtime/core/carrier.h): started only with a [port] in the
 * node's config file, else every hook is a cheap no-op. */
extern const struct rt_transport dpc_transport;

/* Inline polling: spin this long after traffic (0: always), then sleep this long between
 * polls ([eal] busy_poll_us, idle_sleep_us). */
uint64_t dp_glue_busy_poll_ns(struct dd_node *n);
uint64_t dp_glue_idle_sleep_ns(struct dd_node *n);
/* The data plane's clock (TSC-based, calibrated; CLOCK_MONOTONIC without a data plane). */
uint64_t dp_glue_clock_ns(void);
/* Inline polling: whether this node's application threads run the poll loop, and one
 * bounded turn of it (returns the work done; 0 also if another thread is polling). */
bool dp_glue_inline(struct dd_node *n);
unsigned dp_glue_poll(struct dd_node *n, unsigned iterations);
/* The same, for a caller already inside rcu_rd_enter(). */
unsigned dp_glue_poll_locked(struct dd_node *n, unsigned iterations);
uint64_t dp_glue_hb_interval_ns(struct dd_node *n);

#endif
