/* What the node core and the carriers agree on. For now: the lanes a message travels on.
 *
 * A lane is a message's priority class, chosen by its sender and kept by every carrier: the
 * DPDK carrier schedules each lane on its own (dataplane/wire.h WIRE_LANE_*, docs/dataplane.md
 * §2: pulse strict first, express and normal by weighted round robin), the TCP carrier
 * lets whole small messages pass the fragments of large ones. The numbers are the wire's
 * (checked by _Static_assert in runtime/carrier_dpdk/dp_glue.c, the one file that knows both).
 */
#ifndef DPDIST_RUNTIME_CORE_CARRIER_H
#define DPDIST_RUNTIME_CORE_CARRIER_H

enum rt_lane {
    RT_LANE_PULSE = 0,   /* liveness: ticks (TCP); heartbeats and acks never carry messages */
    RT_LANE_EXPRESS = 1, /* signals (links, monitors, exits) and express mailboxes' messages */
    RT_LANE_NORMAL = 2,  /* every other message */
};

#endif
