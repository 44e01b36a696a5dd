/* Fast path: no allocation after init, no locks, no logging.
 *
 * ackwin: the two halves of the channel's selective-repeat window (dataplane.md §4).
 *
 *   receiver (struct ackwin_rx): which frame sequence numbers arrived; verdicts NEW /
 *     DUPLICATE / OUT_OF_WINDOW; the cumulative + SACK acknowledgement.
 *   sender (struct ackwin_tx): the ring of in-flight frame descriptors, ACK processing
 *     (release through a callback), RTT/RTO per RFC 6298 with Karn's rule, the
 *     retransmission timer, fast retransmit, and the queue of frames to send again.
 *
 * Both are single-threaded objects owned by the channel's polling thread. Times are
 * nanoseconds on any monotonic clock the owner uses consistently.
 */
#ifndef DPDIST_DATAPLANE_ACKWIN_H
#define DPDIST_DATAPLANE_ACKWIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ACKWIN_MAX_FRAMES 8192 /* W limit: the SACK bitmap holds W-1 bits in 1024 bytes */
#define ACKWIN_MIN_FRAMES 8
#define ACKWIN_DUPTHRESH  3 /* later frames SACKed before an early retransmission */

/* True if w is a valid window: a power of two in [ACKWIN_MIN_FRAMES, ACKWIN_MAX_FRAMES]. */
bool ackwin_valid_window(uint32_t w);

/* ---------------------------------------------------------------- receiver ------- */

enum ackwin_verdict {
    ACKWIN_NEW,           /* in [rcv_nxt, rcv_nxt + W) and not seen: accept, then mark */
    ACKWIN_DUPLICATE,     /* seen already (or in the W frames before rcv_nxt) */
    ACKWIN_OUT_OF_WINDOW, /* anything else */
};

struct ackwin_rx {
    uint32_t rcv_nxt;  /* every frame before it arrived */
    uint32_t rcv_high; /* one past the highest frame that arrived (== rcv_nxt: no hole) */
    uint32_t w;
    uint32_t mask;
    uint64_t bits[ACKWIN_MAX_FRAMES / 64]; /* bit (seq & mask): seq arrived, for seq in
                                            * (rcv_nxt, rcv_nxt + W) */
};

/* isn: the first sequence number the peer will send. Returns 0, or -EINVAL for a bad w. */
int ackwin_rx_init(struct ackwin_rx *rx, uint32_t w, uint32_t isn);

/* Classify a received DATA sequence number; does not change the window. */
enum ackwin_verdict ackwin_rx_check(const struct ackwin_rx *rx, uint32_t seq);

/* Record seq as received (only after ackwin_rx_check said NEW and the frame was taken).
 * Advances rcv_nxt over the contiguous run; O(1) amortised. */
void ackwin_rx_mark(struct ackwin_rx *rx, uint32_t seq);

/* The SACK bitmap for an ACK: bit i (byte i/8, bit i%8) = frame rcv_nxt + 1 + i arrived.
 * Writes the shortest bitmap that holds every set bit (0 bytes without holes). Returns
 * its length in bytes (<= W/8 <= 1024), or 0 if cap is too short for it. */
size_t ackwin_rx_sack(const struct ackwin_rx *rx, uint8_t *out, size_t cap);

/* ---------------------------------------------------------------- sender --------- */

enum ackwin_frame_state {
    ACKWIN_FRAME_FREE = 0, /* slot not in use */
    ACKWIN_FRAME_INFLIGHT, /* sent, not acknowledged */
    ACKWIN_FRAME_SACKED,   /* selectively acknowledged (released), waiting for snd_una */
};

/* One sent DATA frame, enough to send it again. The owner fills msg..lane after
 * ackwin_tx_push(); ackwin keeps seq, state, the times and the counts. */
struct ackwin_frame {
    void *msg;        /* opaque message reference, released through the callback */
    uint64_t sent_ns; /* last transmission */
    uint32_t seq;
    uint32_t off; /* fragment offset in the message */
    uint32_t len; /* fragment length */
    uint32_t msg_seq;
    uint32_t msg_len;
    uint16_t flow;
    uint8_t lane;
    uint8_t tx_count; /* transmissions, saturating at 255 */
    uint8_t state;    /* enum ackwin_frame_state */
    uint8_t rtx_queued;
};

/* Called once per frame when the peer has it (cumulatively or selectively acknowledged). */
typedef void (*ackwin_release_fn)(void *ctx, struct ackwin_frame *f);

struct ackwin_tx {
    uint32_t snd_una;   /* oldest frame not cumulatively acknowledged */
    uint32_t snd_nxt;   /* next sequence number to use */
    uint32_t sack_high; /* one past the highest SACKed frame (>= snd_una) */
    uint32_t w;
    uint32_t mask;
    uint32_t inflight;         /* frames in state INFLIGHT */
    struct ackwin_frame *ring; /* W descriptors, slot seq & mask */

    /* frames to send again, in the order they were found lost; stale entries (frames
     * released meanwhile) are skipped when popped and compacted away when full */
    uint32_t *rtxq;
    uint32_t rtxq_cap; /* 2 W */
    uint32_t rtxq_head;
    uint32_t rtxq_len;

    /* RFC 6298 */
    uint64_t srtt_ns;
    uint64_t rttvar_ns;
    uint64_t rto_ns;
    uint64_t min_rto_ns;
    uint64_t max_rto_ns;
    bool have_rtt;
    uint64_t rto_deadline_ns; /* 0: timer off (nothing unacknowledged) */

    /* counters */
    uint64_t timeouts;
    uint64_t fast_rtx;
    uint64_t rtt_samples;
};

/* Allocates the ring and the retransmission queue (slow path). isn: our first sequence
 * number. initial_rto is clamped to [min_rto, max_rto]. Returns 0, -EINVAL, -ENOMEM. */
int ackwin_tx_init(struct ackwin_tx *tx, uint32_t w, uint32_t isn, uint64_t min_rto_ns,
                   uint64_t max_rto_ns, uint64_t initial_rto_ns);
/* Frees the ring without releasing anything: release outstanding frames first with
 * ackwin_tx_release_all() if their messages need it. */
void ackwin_tx_fini(struct ackwin_tx *tx);

static inline uint32_t ackwin_tx_outstanding(const struct ackwin_tx *tx)
{
    return tx->snd_nxt - tx->snd_una;
}

static inline bool ackwin_tx_can_push(const struct ackwin_tx *tx)
{
    return tx->snd_nxt - tx->snd_una < tx->w;
}

/* Take the next sequence number for a new frame sent at now_ns. Returns its descriptor
 * (seq, state, sent_ns, tx_count = 1 set; the caller fills the rest), or NULL when W
 * frames are outstanding. Arms the timer if it was off. */
struct ackwin_frame *ackwin_tx_push(struct ackwin_tx *tx, uint64_t now_ns);

/* Process an ACK: cumulative ack `cum` (every frame before it arrived) and the bitmap
 * (bit i = frame cum + 1 + i arrived). Releases each newly acknowledged frame through
 * `release` exactly once, takes at most one RTT sample (Karn: only frames sent once),
 * restarts or stops the timer, and queues frames for fast retransmission. An ACK older
 * than snd_una is still used for its SACK bits. Returns the number of frames released,
 * or -1 if the ACK acknowledges frames never sent (nothing changed then). */
int ackwin_tx_on_ack(struct ackwin_tx *tx, uint32_t cum, const uint8_t *sack, size_t sack_len,
                     uint64_t now_ns, ackwin_release_fn release, void *ctx);

/* Retransmission timer. */
static inline bool ackwin_tx_timer_due(const struct ackwin_tx *tx, uint64_t now_ns)
{
    return tx->rto_deadline_ns != 0 && now_ns >= tx->rto_deadline_ns;
}

/* The timer expired: queue every unacknowledged frame whose last transmission is at
 * least one RTO old (always including the oldest), double the RTO (up to max_rto) and
 * restart the timer. */
void ackwin_tx_on_timeout(struct ackwin_tx *tx, uint64_t now_ns);

/* Next frame to send again, or NULL. The caller sends it and then calls
 * ackwin_tx_resent(). */
struct ackwin_frame *ackwin_tx_next_rtx(struct ackwin_tx *tx);
void ackwin_tx_resent(struct ackwin_tx *tx, struct ackwin_frame *f, uint64_t now_ns);

/* Frames waiting in the retransmission queue (upper bound: may count stale entries). */
static inline uint32_t ackwin_tx_rtx_pending(const struct ackwin_tx *tx)
{
    return tx->rtxq_len;
}

/* Release every outstanding frame through `release` (channel teardown). */
void ackwin_tx_release_all(struct ackwin_tx *tx, ackwin_release_fn release, void *ctx);

/* RFC 6298 update with one RTT sample (exposed for tests). */
void ackwin_tx_rtt_sample(struct ackwin_tx *tx, uint64_t rtt_ns);

#endif
