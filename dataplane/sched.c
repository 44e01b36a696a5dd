/* Fast path (except sched_create/destroy): no allocation, no locks, no logging.
 *
 * sched — deficit round robin (Shreedhar & Varghese, "Efficient Fair Queuing using
 * Deficit Round Robin", SIGCOMM 1995) per lane, weighted round robin between lanes.
 *
 * Algorithm
 *   Each data lane keeps its active flows on a circular doubly linked list and a cursor
 *   `cur` (whose turn it is). When a flow's turn starts its deficit grows by the quantum;
 *   the flow is picked while its deficit covers its next fragment; otherwise the turn
 *   passes to the next flow in the ring, which gets its quantum. Because every fragment is
 *   at most one quantum, a fresh turn always covers a fragment: one step per pick. A flow
 *   that runs out of fragments leaves the ring and forgets its deficit; a newly active
 *   flow joins just before `cur` (the end of the current round).
 *   Between the lanes: with normal_weight 0 (the default), strict priority: the express lane
 *   takes every pick while it has a flow, the normal lane only the picks express leaves.
 *   With normal_weight >= 1, when both have flows, express gets `express_weight` picks, then
 *   normal gets `normal_weight`, and so on; when one lane is empty the other takes every
 *   pick.
 *
 * Invariants
 *   - a flow is on at most one lane's ring; lane[flow] says which (NONE if inactive).
 *   - 0 < head_len[f] <= quantum for every active f; deficit[f] <= 2 quantum.
 *   - a lane's `cur` is NONE iff its ring is empty; turn_open says cur's quantum has been
 *     added for its current turn.
 *
 * Bounds: O(1) per pick, activation and sent; memory O(max_flows).
 */
#include "dataplane/sched.h"

#include <errno.h>
#include <stdlib.h>

#include "dataplane/wire.h"

#define NONE    UINT32_MAX
#define NO_LANE 0xffu

struct sched_lane {
    uint32_t cur;
    uint32_t count;
    bool turn_open;
};

struct sched {
    uint32_t max_flows;
    uint32_t quantum;
    uint32_t weight[2];
    struct sched_lane lanes[2]; /* 0 express, 1 normal */
    uint32_t wrr_lane;
    uint32_t wrr_left;
    uint32_t *next;
    uint32_t *prev;
    uint32_t *deficit;
    uint32_t *head_len;
    uint8_t *lane_of; /* index into lanes[] or NO_LANE */
};

static inline int lane_index(uint8_t lane)
{
    return lane == WIRE_LANE_EXPRESS ? 0 : lane == WIRE_LANE_NORMAL ? 1 : -1;
}

struct sched *sched_create(uint32_t max_flows, uint32_t quantum, uint32_t express_weight,
                           uint32_t normal_weight)
{
    if (max_flows == 0 || quantum == 0 || express_weight == 0) {
        errno = EINVAL;
        return NULL;
    }
    struct sched *s = calloc(1, sizeof(*s));
    if (!s) {
        errno = ENOMEM;
        return NULL;
    }
    s->max_flows = max_flows;
    s->quantum = quantum;
    s->weight[0] = express_weight;
    s->weight[1] = normal_weight;
    s->lanes[0].cur = s->lanes[1].cur = NONE;
    s->next = calloc(max_flows, sizeof(*s->next));
    s->prev = calloc(max_flows, sizeof(*s->prev));
    s->deficit = calloc(max_flows, sizeof(*s->deficit));
    s->head_len = calloc(max_flows, sizeof(*s->head_len));
    s->lane_of = malloc(max_flows);
    if (!s->next || !s->prev || !s->deficit || !s->head_len || !s->lane_of) {
        sched_destroy(s);
        errno = ENOMEM;
        return NULL;
    }
    for (uint32_t i = 0; i < max_flows; i++)
        s->lane_of[i] = NO_LANE;
    s->wrr_lane = 0;
    s->wrr_left = express_weight;
    return s;
}

void sched_destroy(struct sched *s)
{
    if (!s)
        return;
    free(s->next);
    free(s->prev);
    free(s->deficit);
    free(s->head_len);
    free(s->lane_of);
    free(s);
}

static void ring_insert(struct sched *s, uint32_t li, uint32_t f)
{
    struct sched_lane *l = &s->lanes[li];
    if (l->cur == NONE) {
        s->next[f] = s->prev[f] = f;
        l->cur = f;
        l->turn_open = false;
    } else {
        uint32_t before = s->prev[l->cur]; /* the end of the round */
        s->next[before] = f;
        s->prev[f] = before;
        s->next[f] = l->cur;
        s->prev[l->cur] = f;
    }
    l->count++;
    s->lane_of[f] = (uint8_t)li;
    s->deficit[f] = 0;
}

static void ring_remove(struct sched *s, uint32_t f)
{
    uint32_t li = s->lane_of[f];
    struct sched_lane *l = &s->lanes[li];
    if (s->next[f] == f) {
        l->cur = NONE;
    } else {
        s->next[s->prev[f]] = s->next[f];
        s->prev[s->next[f]] = s->prev[f];
        if (l->cur == f) {
            l->cur = s->next[f];
            l->turn_open = false;
        }
    }
    l->count--;
    s->lane_of[f] = NO_LANE;
    s->deficit[f] = 0;
    s->head_len[f] = 0;
}

static inline uint32_t clamp_len(const struct sched *s, uint32_t len)
{
    return len > s->quantum ? s->quantum : len;
}

int sched_activate(struct sched *s, uint32_t flow, uint8_t lane, uint32_t head_len)
{
    int li = lane_index(lane);
    if (flow >= s->max_flows || li < 0 || head_len == 0 || s->lane_of[flow] != NO_LANE)
        return -EINVAL;
    ring_insert(s, (uint32_t)li, flow);
    s->head_len[flow] = clamp_len(s, head_len);
    return 0;
}

static uint32_t pick_in_lane(struct sched *s, struct sched_lane *l)
{
    uint32_t f = l->cur;
    if (!l->turn_open) {
        s->deficit[f] += s->quantum;
        l->turn_open = true;
    }
    if (s->deficit[f] >= s->head_len[f])
        return f;
    /* turn over: the next flow's turn starts with a quantum, which covers any fragment */
    f = l->cur = s->next[f];
    s->deficit[f] += s->quantum;
    return f;
}

int sched_pick(struct sched *s, uint8_t *lane)
{
    bool e = s->lanes[0].cur != NONE, n = s->lanes[1].cur != NONE;
    uint32_t li;
    if (s->weight[1] == 0 && (e || n)) {
        li = e ? 0 : 1; /* strict priority */
    } else if (e && n) {
        if (s->wrr_left == 0) {
            s->wrr_lane ^= 1u;
            s->wrr_left = s->weight[s->wrr_lane];
        }
        li = s->wrr_lane;
        s->wrr_left--;
    } else if (e || n) {
        li = e ? 0 : 1;
        if (s->wrr_lane != li) {
            s->wrr_lane = li;
            s->wrr_left = s->weight[li];
        }
        if (s->wrr_left)
            s->wrr_left--;
    } else {
        return -1;
    }
    if (lane)
        *lane = li == 0 ? WIRE_LANE_EXPRESS : WIRE_LANE_NORMAL;
    return (int)pick_in_lane(s, &s->lanes[li]);
}

void sched_sent(struct sched *s, uint32_t flow, uint32_t sent_len, uint32_t next_len,
                uint8_t next_lane)
{
    if (flow >= s->max_flows || s->lane_of[flow] == NO_LANE)
        return;
    s->deficit[flow] = s->deficit[flow] > sent_len ? s->deficit[flow] - sent_len : 0;
    if (next_len == 0) {
        ring_remove(s, flow);
        return;
    }
    int li = lane_index(next_lane);
    if (li >= 0 && (uint32_t)li != s->lane_of[flow]) {
        ring_remove(s, flow);
        ring_insert(s, (uint32_t)li, flow);
    }
    s->head_len[flow] = clamp_len(s, next_len);
}

void sched_deactivate(struct sched *s, uint32_t flow)
{
    if (flow < s->max_flows && s->lane_of[flow] != NO_LANE)
        ring_remove(s, flow);
}

bool sched_is_active(const struct sched *s, uint32_t flow)
{
    return flow < s->max_flows && s->lane_of[flow] != NO_LANE;
}

uint32_t sched_active_flows(const struct sched *s, uint8_t lane)
{
    int li = lane_index(lane);
    return li < 0 ? 0 : s->lanes[li].count;
}

bool sched_has_work(const struct sched *s)
{
    return s->lanes[0].cur != NONE || s->lanes[1].cur != NONE;
}
