/* What the data-plane engine runs on its port: the queues dp_engine.c sets up and the
 * pollers it launches. The node configuration is checked against these numbers
 * (config/cfg_rules.c, rules_engine): `dpdist-config check` warns, at the line, about a
 * file that asks for more queues or polling lcores than the engine uses, and the keys'
 * defaults and documentation are these numbers (config/cfg_keys.h).
 *
 * Plain constants, no DPDK: the configuration library includes this header too. Change a
 * number together with the engine code that makes it true (dp_engine.c setup_port, the
 * worker's receive and transmit bursts in dp_worker.c, the poller launch in runtime/carrier_dpdk/dpc_start.c); the
 * configuration's checks, defaults and schema follow by themselves.
 */
#ifndef DPDIST_DATAPLANE_DP_LIMITS_H
#define DPDIST_DATAPLANE_DP_LIMITS_H

/* Receive and transmit queues of the port: one pair, which the one poller serves (lane 0,
 * the pulse lane, shares it with the data lanes: docs/dataplane.md). */
#define DP_PORT_RX_QUEUES 1
#define DP_PORT_TX_QUEUES 1
/* The queue id of each: data and pulse frames alike (a port with a second pair would give
 * the pulse lane its own, DP_QUEUE_PULSE). */
#define DP_QUEUE_DATA 0

/* Polling lcores besides the main lcore: one dedicated poller (the first lcore of [eal]
 * lcores after the main one), or inline polling when the node has a single lcore. */
#define DP_POLL_LCORES 1

/* A number as text, for the keys' defaults and documentation strings. */
#define DP_LIMIT_STR_(x) #x
#define DP_LIMIT_STR(x)  DP_LIMIT_STR_(x)

#endif
