/* Fast path (except sched_create/destroy): no allocation, no locks, no logging.
 *
 * sched: the channel's transmit scheduler for DATA fragments (dataplane.md §3).
 * Per data lane (express, normal) a deficit-round-robin ring of active flows, quantum =
 * one maximum payload, one fragment per pick; between the two lanes strict priority for
 * express (normal_weight 0) or weighted round robin in frames when both have work. The pulse lane is not scheduled here: chan sends
 * pulse frames before asking for data.
 *
 * The scheduler knows flows only by slot number and the length of each active flow's
 * next fragment, which the owner reports (sched_activate / sched_sent). A single-threaded
 * object owned by the channel's polling thread.
 */
#ifndef DPDIST_DATAPLANE_SCHED_H
#define DPDIST_DATAPLANE_SCHED_H

#include <stdbool.h>
#include <stdint.h>

struct sched;

/* Slow path. quantum: bytes added to a flow's deficit per turn (the maximum payload;
 * every fragment must be <= quantum). Weights in frames: express_weight >= 1; normal_weight
 * 0 makes the express lane strictly ahead of the normal one. NULL with errno EINVAL or
 * ENOMEM. */
struct sched *sched_create(uint32_t max_flows, uint32_t quantum, uint32_t express_weight,
                           uint32_t normal_weight);
void sched_destroy(struct sched *s);

/* An inactive flow has a fragment of head_len bytes to send on `lane` (WIRE_LANE_EXPRESS
 * or WIRE_LANE_NORMAL): it joins the end of that lane's round. Returns 0, or -EINVAL
 * (bad flow or lane, head_len 0, or the flow is already active). */
int sched_activate(struct sched *s, uint32_t flow, uint8_t lane, uint32_t head_len);

/* The flow whose next fragment goes out now, or -1 when no flow is active. *lane (if not
 * NULL) gets its lane. The caller must send that fragment and call sched_sent(). */
int sched_pick(struct sched *s, uint8_t *lane);

/* The fragment picked for `flow` went out with sent_len bytes. next_len: its following
 * fragment (0: the flow has nothing more and leaves the round); next_lane: the lane of
 * that fragment (a flow whose next message is on the other lane moves there). */
void sched_sent(struct sched *s, uint32_t flow, uint32_t sent_len, uint32_t next_len,
                uint8_t next_lane);

/* Remove a flow from its round whatever its state (channel teardown). */
void sched_deactivate(struct sched *s, uint32_t flow);

bool sched_is_active(const struct sched *s, uint32_t flow);
uint32_t sched_active_flows(const struct sched *s, uint8_t lane); /* per data lane */
bool sched_has_work(const struct sched *s);

#endif
