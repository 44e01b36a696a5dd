/* What the TCP carrier's receive path did with the bodies of fragmented messages on one
 * connection (runtime/carrier_tcp/tcpc.c): for tests and profiling. A plain C header (no
 * atomics), so C++ tests can include it. */
#ifndef DPDIST_RUNTIME_CARRIER_TCP_TCPC_STATS_H
#define DPDIST_RUNTIME_CARRIER_TCP_TCPC_STATS_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct dd_node;

struct tcpc_rx_stats {
    uint64_t placed_bytes; /* fragment body bytes read from the socket into their message */
    uint64_t copied_bytes; /* fragment bytes copied there from the receive buffer */
    uint64_t owned_msgs;   /* reassembled messages delivered in their own buffer (no copy) */
};

/* The counters of n's connection to peer since it came up (any thread; relaxed reads).
 * false: no such connection. */
bool tcpc_rx_stats_get(struct dd_node *n, const char *peer, struct tcpc_rx_stats *out);

#ifdef __cplusplus
}
#endif

#endif
