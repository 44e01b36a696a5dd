/* Fast path (except chan_create/destroy and the params helpers): no locks, no syscalls,
 * no logging; allocates only message buffers for reassembly, through the allocator hook.
 *
 * chan: the per-peer channel protocol of docs/dataplane.md §3–§5 as a pure object.
 * Messages in (chan_submit), frame descriptors out (chan_tx_burst); frames in (chan_rx),
 * messages out (the deliver callback). It combines the flow table, the scheduler, the
 * ack window, credits and reassembly. It never touches a port, an mbuf, a clock or a
 * thread: the engine passes the time and moves the bytes.
 *
 * Threads: a channel is owned by one polling thread; every function below must be called
 * from it (chan_create/chan_destroy may run elsewhere while no poller can reach the
 * channel, e.g. after the peer table's grace period).
 */
#ifndef DPDIST_DATAPLANE_CHAN_H
#define DPDIST_DATAPLANE_CHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/dp_msg.h"
#include "dataplane/reasm.h"
#include "dataplane/wire.h"

struct chan_params {
    uint64_t local_session;    /* our rx_session: frames to us carry it */
    uint64_t peer_session;     /* the peer's rx_session: our frames carry it */
    uint32_t window_frames;    /* W: frames in flight, power of two, 8..8192 */
    uint64_t rx_window_bytes;  /* credit granted beyond what the application consumed */
    uint32_t max_msg_bytes;    /* largest message, <= rx_window_bytes */
    uint32_t max_flows;        /* flow slots, 1..32768 */
    uint32_t max_payload;      /* message bytes per DATA frame: MTU - WIRE_L3_HDRS_LEN */
    uint32_t max_pending_msgs; /* receive side: messages held beyond their flow's next */
    uint32_t tx_queue_msgs;    /* submitted messages waiting to start (credit/flow slot) */
    uint64_t hb_interval_ns;   /* HEARTBEAT period */
    uint32_t hb_missed_limit;  /* down after hb_interval x this without a valid frame */
    uint64_t min_rto_ns;
    uint64_t max_rto_ns;
    uint64_t initial_rto_ns; /* before the first RTT sample */
    uint32_t express_weight; /* lane WRR weights, in frames */
    uint32_t normal_weight;  /* 0: the express lane strictly ahead (sched.h) */
    uint32_t max_transmissions; /* a frame sent this often without an ack: down; 0 = never */
    uint64_t ack_delay_ns;      /* delayed ACK: longest wait for data to go with (20 us) */
    uint32_t ack_every;         /* ... or after this many DATA frames (16) */
    /* The node's reassembly memory (struct reasm_params.shared); NULL: only the channel's
     * own bounds. Shared by the channels that point at it; outlives them. */
    struct budget *reasm_budget;
};

/* Defaults (sessions 0: the caller sets them). */
void chan_params_default(struct chan_params *p);
/* 0, or -EINVAL naming nothing: use chan_params_error() for the first rule broken. */
int chan_params_check(const struct chan_params *p);
const char *chan_params_error(const struct chan_params *p); /* NULL when valid */

#define CHAN_DOWN_REASONS(X)                                                                       \
    X(CHAN_UP, "up")                                                                               \
    X(CHAN_DOWN_HEARTBEAT, "no frame from the peer within hb_interval x hb_missed_limit")          \
    X(CHAN_DOWN_PEER_CLOSE, "the peer sent CLOSE")                                                 \
    X(CHAN_DOWN_LOCAL_CLOSE, "closed locally")                                                     \
    X(CHAN_DOWN_RETX_LIMIT, "a frame reached max_transmissions without an acknowledgement")

enum chan_down_reason {
#define CHAN_X_ENUM(code, msg) code,
    CHAN_DOWN_REASONS(CHAN_X_ENUM)
#undef CHAN_X_ENUM
        CHAN_DOWN__COUNT
};
const char *chan_down_str(enum chan_down_reason r);

/* A delivered message: see struct reasm_msg for ownership (buf NULL: borrowed for the
 * duration of the callback; buf set: the callback owns it and frees it with
 * ops.alloc.free). `flow` is the peer's flow slot, the unit of ordering. */
typedef struct reasm_msg chan_delivery;

struct chan_ops {
    /* In per-flow order, from inside chan_rx(). May call chan_consumed(); must not call
     * chan_rx(), chan_tx_burst() or chan_destroy(). */
    void (*deliver)(void *ctx, const chan_delivery *m);
    /* Once, when the channel goes down (from chan_rx, chan_tx_burst or chan_close).
     * Optional. Same restrictions as deliver. */
    void (*down)(void *ctx, enum chan_down_reason why);
    struct reasm_alloc alloc; /* reassembly buffers */
    void *ctx;
};

/* One frame to transmit: the dpdist header and where its payload is. The engine adds the
 * Ethernet/IPv4/UDP headers (wire_encode_headers) and copies or attaches the payload.
 * Payload lifetime: ACK/HEARTBEAT payloads live in the channel's scratch area until the
 * next chan_tx_burst(); DATA payloads point into msg->data, valid until the next chan_rx()
 * or chan_destroy() (the channel drops its reference when the peer acknowledges): take
 * dp_msg_ref(msg) to keep them longer (zero-copy transmit). */
struct chan_frame {
    struct wire_hdr hdr;
    const uint8_t *payload;
    uint32_t len;
    struct dp_msg *msg; /* DATA only, else NULL */
};

struct chan_lane_stats {
    uint64_t tx_frames;
    uint64_t tx_bytes; /* payload bytes */
    uint64_t rx_frames;
    uint64_t rx_bytes;
    uint64_t retransmits;
    uint64_t tx_msgs;      /* messages started on this lane */
    uint64_t active_flows; /* gauge */
};

/* Counters (monotonic) and gauges (filled by chan_get_stats). */
struct chan_stats {
    struct chan_lane_stats lane[WIRE_LANES];
    uint64_t drops[WIRE_DROP__COUNT];
    uint64_t tx_msgs_submitted;
    uint64_t tx_msgs_acked; /* fully acknowledged, reference dropped */
    uint64_t tx_bytes_acked; /* their bytes */
    uint64_t rx_msgs;       /* delivered */
    uint64_t rx_msg_bytes;
    uint64_t rx_msgs_direct; /* delivered straight from the frame (no reassembly) */
    uint64_t acks_tx;
    uint64_t acks_rx;
    uint64_t heartbeats_tx;
    uint64_t heartbeats_rx;
    uint64_t rto_timeouts;
    uint64_t fast_retransmits;
    uint64_t credit_stalls; /* times the start queue's head began waiting for credit */
    uint64_t flow_stalls;   /* ... for a flow slot */
    uint64_t window_stalls; /* bursts that had data but W frames in flight */
    /* gauges */
    uint64_t startq_msgs;
    uint64_t startq_bytes;
    uint64_t inflight_frames; /* snd_nxt - snd_una */
    uint64_t rtx_queued;
    uint64_t busy_flows;
    uint64_t srtt_ns;
    uint64_t rttvar_ns;
    uint64_t rto_ns;
    uint64_t peer_credit;  /* credit_limit the peer granted us */
    uint64_t tx_started;   /* message bytes we started */
    uint64_t credit_limit; /* what we grant: consumed + rx_window_bytes */
    uint64_t rx_consumed;
    uint64_t rx_unconsumed; /* delivered, not yet consumed */
    uint64_t reasm_pending;
    uint64_t reasm_held_bytes;
};

struct chan;

/* Slow path. now_ns starts the liveness clock; the first HEARTBEAT is due at once.
 * Returns NULL with errno EINVAL (chan_params_check) or ENOMEM. */
struct chan *chan_create(const struct chan_params *p, const struct chan_ops *ops, uint64_t now_ns);

/* Drops every message reference the channel holds (queued, in flight) and frees held
 * reassembly buffers. NULL is a no-op. */
void chan_destroy(struct chan *c);

/* Take a reference to msg and queue it. Messages start (get their flow's next msg_seq and
 * the peer's credit) strictly in submission order. Returns 0, -EINVAL (len 0, len >
 * max_msg_bytes, or lane not express/normal; no reference taken), -ENOBUFS
 * (tx_queue_msgs messages waiting; retry after chan_tx_burst), -ENOTCONN (down). */
int chan_submit(struct chan *c, struct dp_msg *msg);

/* Room in the start queue (messages chan_submit() would accept now). */
uint32_t chan_submit_space(const struct chan *c);

/* Fill up to max frames due now: pulse frames first (CLOSE; HEARTBEAT when due; ACK when
 * something arrived, a duplicate came, credit grew, or with each heartbeat), then
 * retransmissions (RTO, fast retransmit), then new DATA fragments from the scheduler
 * within W frames in flight. Also runs the liveness and retransmission timers. Returns
 * the number of frames filled. */
unsigned chan_tx_burst(struct chan *c, uint64_t now_ns, struct chan_frame *out, unsigned max);

/* The two halves of chan_tx_burst, for a poller that must keep the pulse lane going while it
 * has no room for data (a backed-up port): chan_tx_pulse runs the liveness check and fills
 * only pulse frames (CLOSE; HEARTBEAT when due; ACK when due), at most 2, or CLOSE alone;
 * chan_tx_data fills retransmissions and new DATA (nothing once the channel is down). Calling
 * chan_tx_pulse then chan_tx_data is chan_tx_burst. */
unsigned chan_tx_pulse(struct chan *c, uint64_t now_ns, struct chan_frame *out, unsigned max);
unsigned chan_tx_data(struct chan *c, uint64_t now_ns, struct chan_frame *out, unsigned max);
/* The first part of chan_tx_data alone: the retransmission timer and retransmissions, no new
 * DATA (for a poller holding new data back: dp_worker.c, tx_data_ahead). */
unsigned chan_tx_resend(struct chan *c, uint64_t now_ns, struct chan_frame *out, unsigned max);

/* The dead-peer check alone: a channel that heard nothing from its peer for hb_interval x
 * hb_missed_limit goes down (CHAN_DOWN_HEARTBEAT, through ops.down). Returns whether it is
 * up. chan_tx_pulse runs it; a poller calls it (or chan_tx_pulse) every iteration, whatever
 * its transmit path is doing, so a silent peer is detected on time even while nothing can be
 * sent. */
bool chan_check_liveness(struct chan *c, uint64_t now_ns);

/* One received frame for this channel (header decoded and checked by wire_parse; the
 * rules are checked again here, so any input is safe). Returns WIRE_OK or the drop reason
 * (also counted in the channel's stats). */
enum wire_drop chan_rx(struct chan *c, const struct wire_hdr *h, const uint8_t *payload,
                       uint32_t len, uint64_t now_ns);

/* The application has read or dropped `bytes` of delivered messages: the credit grant
 * grows by as much and an ACK will advertise it. Clamped to what was delivered. */
void chan_consumed(struct chan *c, uint64_t bytes);

/* The earliest time chan_tx_burst() has work: 0 if it has work now, UINT64_MAX if none. */
uint64_t chan_next_deadline(const struct chan *c);
/* The earliest time a poll must run to keep the channel's liveness: its next heartbeat, or
 * when the peer's silence reaches the limit (0: closing, poll now; UINT64_MAX: down). Unlike
 * chan_next_deadline it ignores data work, so it moves only once per heartbeat interval. */
uint64_t chan_liveness_deadline(const struct chan *c);

/* Tear down: the next chan_tx_burst() emits one CLOSE frame and nothing else; the
 * channel is down (CHAN_DOWN_LOCAL_CLOSE) from now on. */
void chan_close(struct chan *c);

bool chan_is_up(const struct chan *c);
/* Wire bytes (headers included) of the DATA frames sent and not yet acknowledged, each
 * counted once however often it was sent: an upper bound of the data between this sender
 * and the peer's receive loop (its transmit ring, the link, the peer's receive ring). */
uint64_t chan_inflight_wire_bytes(const struct chan *c);
/* Bytes of messages fully acknowledged since creation (their references dropped). */
uint64_t chan_acked_bytes(const struct chan *c);
enum chan_down_reason chan_get_down_reason(const struct chan *c);

/* Count a drop the engine decided for this channel's frame before chan_rx (bad_tag, replay):
 * the channel's figures show it beside its own drops. Owning thread. */
void chan_count_drop(struct chan *c, enum wire_drop why);

/* Counters are written only by the owning thread; copy them from it. */
void chan_get_stats(const struct chan *c, struct chan_stats *out);

#endif
