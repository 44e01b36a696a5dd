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

#endif
