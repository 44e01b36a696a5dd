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

/* Receive and transmit queues of the port, at most: a data pair and a pulse pair (lane 0:
 * heartbeats, acks, credit, close), which the one poller serves. A port that offers one pair
 * only (net_af_packet without qpairs=2, a plain net_ring) runs on DP_PORT_QUEUES_MIN, the
 * pulse lane sharing it with the data lanes (docs/dataplane.md §7, "The pulse queue"). */
#define DP_PORT_RX_QUEUES  2
#define DP_PORT_TX_QUEUES  2
#define DP_PORT_QUEUES_MIN 1
/* The queue ids. */
#define DP_QUEUE_DATA  0
#define DP_QUEUE_PULSE 1
/* Descriptors of each pulse queue (pulse frames are few: a heartbeat and an ack per channel
 * and iteration at most). */
#define DP_PULSE_DESC 256

/* Polling lcores besides the main lcore: one dedicated poller (the first lcore of [eal]
 * lcores after the main one), or inline polling when the node has a single lcore. */
#define DP_POLL_LCORES 1

/* A number as text, for the keys' defaults and documentation strings. */
#define DP_LIMIT_STR_(x) #x
#define DP_LIMIT_STR(x)  DP_LIMIT_STR_(x)

#endif
