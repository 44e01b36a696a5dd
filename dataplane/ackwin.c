/* Fast path (except ackwin_tx_init/fini): no allocation, no locks, no logging.
 *
 * ackwin — selective-repeat window with cumulative + SACK acknowledgements.
 *
 * Algorithm
 *   Receiver: rcv_nxt is the first sequence number not yet received; a W-bit ring marks
 *   the frames of (rcv_nxt, rcv_nxt + W) that arrived. Marking rcv_nxt walks rcv_nxt over
 *   the run of set bits, clearing them, so every bit is set once and cleared once (O(1)
 *   amortised per frame). The ACK is (rcv_nxt, bitmap of rcv_nxt+1 .. rcv_high-1).
 *   Sender: descriptors of frames [snd_una, snd_nxt) live in a ring of W slots (seq & mask).
 *   An ACK frees [snd_una, cum) and marks SACKed bits; each frame is handed to the release
 *   callback exactly once, the first time the peer is known to hold it. RTT per RFC 6298
 *   (SRTT/RTTVAR, RTO = SRTT + 4 RTTVAR, clamped), Karn's rule (sample only frames sent
 *   once; one sample per ACK, from the most recently sent newly acknowledged frame),
 *   exponential backoff on timeout, reset by the next sample. Fast retransmit: a frame
 *   still unacknowledged below the DUPTHRESH-th highest SACKed frame is lost; it is queued
 *   again if it was sent only once or its last transmission is one RTO old (so at most
 *   once per RTO). On timeout every unacknowledged frame one RTO old is queued (the whole
 *   window is the unit of recovery, as in SACK TCP after an RTO; there is no congestion
 *   window here), the RTO doubles and the timer restarts.
 *
 * Invariants
 *   - serial arithmetic: snd_una <= sack_high <= snd_nxt, snd_nxt - snd_una <= W, and
 *     W <= 8192 << 2^31, so (int32_t)(a - b) orders any two live numbers.
 *   - slot (s & mask) holds frame s for s in [snd_una, snd_nxt); others are FREE.
 *   - inflight == number of INFLIGHT slots; the timer is armed iff snd_una != snd_nxt.
 *   - a frame is in the retransmission queue at most once (rtx_queued); entries whose
 *     frame was released or whose slot now holds another seq are stale and skipped.
 *   - receiver: the bit of rcv_nxt is never set; bits outside (rcv_nxt, rcv_high) are 0.
 *
 * Bounds
 *   W <= 8192 frames; retransmission queue 2 W entries (compacted to <= W live entries
 *   when full); SACK bitmap <= 1024 bytes; ACK processing O(frames newly acknowledged +
 *   bitmap bits + frames below the highest SACK); timeout O(W).
 */
#include "dataplane/ackwin.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/wire.h"

bool ackwin_valid_window(uint32_t w)
{
    return w >= ACKWIN_MIN_FRAMES && w <= ACKWIN_MAX_FRAMES && (w & (w - 1)) == 0;
}

/* ---------------------------------------------------------------- receiver ------- */

static inline bool rx_bit(const struct ackwin_rx *rx, uint32_t seq)
{
    uint32_t i = seq & rx->mask;
    return (rx->bits[i >> 6] >> (i & 63)) & 1u;
}

static inline void rx_set(struct ackwin_rx *rx, uint32_t seq)
{
    uint32_t i = seq & rx->mask;
    rx->bits[i >> 6] |= UINT64_C(1) << (i & 63);
}

static inline void rx_clear(struct ackwin_rx *rx, uint32_t seq)
{
    uint32_t i = seq & rx->mask;
    rx->bits[i >> 6] &= ~(UINT64_C(1) << (i & 63));
}

int ackwin_rx_init(struct ackwin_rx *rx, uint32_t w, uint32_t isn)
{
    if (!ackwin_valid_window(w))
        return -EINVAL;
    memset(rx, 0, sizeof(*rx));
    rx->rcv_nxt = isn;
    rx->rcv_high = isn;
    rx->w = w;
    rx->mask = w - 1;
    return 0;
}

enum ackwin_verdict ackwin_rx_check(const struct ackwin_rx *rx, uint32_t seq)
{
    int32_t d = (int32_t)(seq - rx->rcv_nxt);
    if (d < 0)
        return d >= -(int32_t)rx->w ? ACKWIN_DUPLICATE : ACKWIN_OUT_OF_WINDOW;
    if ((uint32_t)d >= rx->w)
        return ACKWIN_OUT_OF_WINDOW;
    return rx_bit(rx, seq) ? ACKWIN_DUPLICATE : ACKWIN_NEW;
}

void ackwin_rx_mark(struct ackwin_rx *rx, uint32_t seq)
{
    if (seq != rx->rcv_nxt) {
        rx_set(rx, seq);
        if (wire_seq_lt(rx->rcv_high, seq + 1))
            rx->rcv_high = seq + 1;
        return;
    }
    seq++;
    while (seq != rx->rcv_high && rx_bit(rx, seq)) {
        rx_clear(rx, seq);
        seq++;
    }
    rx->rcv_nxt = seq;
    if (wire_seq_lt(rx->rcv_high, seq))
        rx->rcv_high = seq;
}

size_t ackwin_rx_sack(const struct ackwin_rx *rx, uint8_t *out, size_t cap)
{
    uint32_t span = rx->rcv_high - rx->rcv_nxt; /* 0 or >= 2 */
    if (span < 2)
        return 0;
    uint32_t nbits = span - 1;
    size_t nbytes = (nbits + 7) / 8;
    if (nbytes > cap)
        return 0;
    memset(out, 0, nbytes);
    uint32_t base = rx->rcv_nxt + 1;
    for (uint32_t i = 0; i < nbits; i++) {
        if (rx_bit(rx, base + i))
            out[i >> 3] |= (uint8_t)(1u << (i & 7));
    }
    return nbytes;
}

/* ---------------------------------------------------------------- sender --------- */

int ackwin_tx_init(struct ackwin_tx *tx, uint32_t w, uint32_t isn, uint64_t min_rto_ns,
                   uint64_t max_rto_ns, uint64_t initial_rto_ns)
{
    memset(tx, 0, sizeof(*tx));
    if (!ackwin_valid_window(w) || min_rto_ns == 0 || max_rto_ns < min_rto_ns)
        return -EINVAL;
    tx->ring = calloc(w, sizeof(*tx->ring));
    tx->rtxq = calloc(2 * (size_t)w, sizeof(*tx->rtxq));
    if (!tx->ring || !tx->rtxq) {
        ackwin_tx_fini(tx);
        return -ENOMEM;
    }
    tx->w = w;
    tx->mask = w - 1;
    tx->rtxq_cap = 2 * w;
    tx->snd_una = tx->snd_nxt = tx->sack_high = isn;
    tx->min_rto_ns = min_rto_ns;
    tx->max_rto_ns = max_rto_ns;
    tx->rto_ns = initial_rto_ns < min_rto_ns   ? min_rto_ns
                 : initial_rto_ns > max_rto_ns ? max_rto_ns
                                               : initial_rto_ns;
    return 0;
}

void ackwin_tx_fini(struct ackwin_tx *tx)
{
    free(tx->ring);
    free(tx->rtxq);
    tx->ring = NULL;
    tx->rtxq = NULL;
}

struct ackwin_frame *ackwin_tx_push(struct ackwin_tx *tx, uint64_t now_ns)
{
    if (!ackwin_tx_can_push(tx))
        return NULL;
    uint32_t seq = tx->snd_nxt++;
    struct ackwin_frame *f = &tx->ring[seq & tx->mask];
    memset(f, 0, sizeof(*f));
    f->seq = seq;
    f->state = ACKWIN_FRAME_INFLIGHT;
    f->sent_ns = now_ns;
    f->tx_count = 1;
    tx->inflight++;
    if (tx->rto_deadline_ns == 0)
        tx->rto_deadline_ns = now_ns + tx->rto_ns;
    return f;
}

void ackwin_tx_rtt_sample(struct ackwin_tx *tx, uint64_t r)
{
    if (!tx->have_rtt) {
        tx->srtt_ns = r;
        tx->rttvar_ns = r / 2;
        tx->have_rtt = true;
    } else {
        uint64_t delta = tx->srtt_ns > r ? tx->srtt_ns - r : r - tx->srtt_ns;
        tx->rttvar_ns = (3 * tx->rttvar_ns + delta) / 4;
        tx->srtt_ns = (7 * tx->srtt_ns + r) / 8;
    }
    uint64_t rto = tx->srtt_ns + 4 * tx->rttvar_ns;
    if (rto < tx->min_rto_ns)
        rto = tx->min_rto_ns;
    if (rto > tx->max_rto_ns)
        rto = tx->max_rto_ns;
    tx->rto_ns = rto;
    tx->rtt_samples++;
}

/* Put seq on the retransmission queue; compacts stale entries when full. */
static void rtxq_push(struct ackwin_tx *tx, struct ackwin_frame *f)
{
    if (tx->rtxq_len == tx->rtxq_cap) {
        uint32_t kept = 0;
        for (uint32_t i = 0; i < tx->rtxq_len; i++) {
            uint32_t s = tx->rtxq[(tx->rtxq_head + i) % tx->rtxq_cap];
            const struct ackwin_frame *g = &tx->ring[s & tx->mask];
            if (g->seq == s && g->state == ACKWIN_FRAME_INFLIGHT && g->rtx_queued)
                tx->rtxq[(tx->rtxq_head + kept++) % tx->rtxq_cap] = s;
        }
        tx->rtxq_len = kept; /* <= W live entries: room again */
    }
    tx->rtxq[(tx->rtxq_head + tx->rtxq_len) % tx->rtxq_cap] = f->seq;
    tx->rtxq_len++;
    f->rtx_queued = 1;
}

struct ackwin_frame *ackwin_tx_next_rtx(struct ackwin_tx *tx)
{
    while (tx->rtxq_len) {
        uint32_t s = tx->rtxq[tx->rtxq_head];
        tx->rtxq_head = (tx->rtxq_head + 1) % tx->rtxq_cap;
        tx->rtxq_len--;
        struct ackwin_frame *f = &tx->ring[s & tx->mask];
        if (f->seq == s && f->state == ACKWIN_FRAME_INFLIGHT && f->rtx_queued &&
            wire_seq_lt(s, tx->snd_nxt) && !wire_seq_lt(s, tx->snd_una)) {
            f->rtx_queued = 0;
            return f;
        }
    }
    return NULL;
}

void ackwin_tx_resent(struct ackwin_tx *tx, struct ackwin_frame *f, uint64_t now_ns)
{
    (void)tx;
    f->sent_ns = now_ns;
    if (f->tx_count < UINT8_MAX)
        f->tx_count++;
}

/* Release one INFLIGHT frame; remember the best RTT sample candidate. */
static inline void release_frame(struct ackwin_tx *tx, struct ackwin_frame *f,
                                 ackwin_release_fn release, void *ctx,
                                 const struct ackwin_frame **sample)
{
    tx->inflight--;
    if (f->tx_count == 1 && (!*sample || f->sent_ns > (*sample)->sent_ns))
        *sample = f;
    release(ctx, f);
}

int ackwin_tx_on_ack(struct ackwin_tx *tx, uint32_t cum, const uint8_t *sack, size_t sack_len,
                     uint64_t now_ns, ackwin_release_fn release, void *ctx)
{
    /* Validate before changing anything: cum <= snd_nxt, every SACK bit < snd_nxt. */
    if (wire_seq_lt(tx->snd_nxt, cum))
        return -1;
    if (wire_seq_lt(cum, tx->snd_una) && wire_seq_lt(cum, tx->snd_nxt - tx->w))
        return -1; /* far older than anything we could have sent in this window */
    size_t last = sack_len;
    while (last > 0 && sack[last - 1] == 0)
        last--;
    if (last > 0) {
        unsigned top = 7;
        while (!(sack[last - 1] >> top & 1u))
            top--;
        uint32_t high = cum + 1 + (uint32_t)((last - 1) * 8 + top);
        if (!wire_seq_lt(high, tx->snd_nxt))
            return -1;
    }

    int released = 0;
    uint64_t sample_sent = 0;
    const struct ackwin_frame *sample = NULL; /* slots are not reused during an ACK */

    bool advanced = false;
    while (wire_seq_lt(tx->snd_una, cum)) {
        struct ackwin_frame *f = &tx->ring[tx->snd_una & tx->mask];
        if (f->state == ACKWIN_FRAME_INFLIGHT) {
            release_frame(tx, f, release, ctx, &sample);
            if (sample == f)
                sample_sent = f->sent_ns;
            released++;
        }
        f->state = ACKWIN_FRAME_FREE;
        f->rtx_queued = 0;
        tx->snd_una++;
        advanced = true;
    }
    if (wire_seq_lt(tx->sack_high, tx->snd_una))
        tx->sack_high = tx->snd_una;

    for (size_t byte = 0; byte < last; byte++) {
        uint8_t b = sack[byte];
        while (b) {
            unsigned bit = (unsigned)__builtin_ctz(b);
            b &= (uint8_t)(b - 1);
            uint32_t s = cum + 1 + (uint32_t)(byte * 8 + bit);
            if (wire_seq_lt(s, tx->snd_una))
                continue; /* old ACK: already cumulatively acknowledged */
            struct ackwin_frame *f = &tx->ring[s & tx->mask];
            if (f->state != ACKWIN_FRAME_INFLIGHT)
                continue;
            f->state = ACKWIN_FRAME_SACKED;
            release_frame(tx, f, release, ctx, &sample);
            if (sample == f)
                sample_sent = f->sent_ns;
            released++;
            if (wire_seq_lt(tx->sack_high, s + 1))
                tx->sack_high = s + 1;
        }
    }

    if (sample)
        ackwin_tx_rtt_sample(tx, now_ns > sample_sent ? now_ns - sample_sent : 0);

    if (tx->snd_una == tx->snd_nxt)
        tx->rto_deadline_ns = 0;
    else if (advanced)
        tx->rto_deadline_ns = now_ns + tx->rto_ns;

    /* Fast retransmit: walk down from the highest SACKed frame counting SACKed frames;
     * INFLIGHT frames below the DUPTHRESH-th one are lost. */
    if (last > 0 && tx->inflight) {
        unsigned later = 0;
        for (uint32_t s = tx->sack_high; s != tx->snd_una;) {
            s--;
            struct ackwin_frame *f = &tx->ring[s & tx->mask];
            if (f->state == ACKWIN_FRAME_SACKED) {
                later++;
                continue;
            }
            if (later < ACKWIN_DUPTHRESH || f->state != ACKWIN_FRAME_INFLIGHT || f->rtx_queued)
                continue;
            if (f->tx_count == 1 || now_ns - f->sent_ns >= tx->rto_ns) {
                rtxq_push(tx, f);
                tx->fast_rtx++;
            }
        }
    }
    return released;
}

void ackwin_tx_on_timeout(struct ackwin_tx *tx, uint64_t now_ns)
{
    if (tx->snd_una == tx->snd_nxt) {
        tx->rto_deadline_ns = 0;
        return;
    }
    tx->timeouts++;
    uint64_t rto = tx->rto_ns;
    bool first = true;
    for (uint32_t s = tx->snd_una; s != tx->snd_nxt; s++) {
        struct ackwin_frame *f = &tx->ring[s & tx->mask];
        if (f->state != ACKWIN_FRAME_INFLIGHT)
            continue;
        if (!f->rtx_queued && (first || now_ns - f->sent_ns >= rto))
            rtxq_push(tx, f);
        first = false;
    }
    uint64_t backed = rto * 2;
    tx->rto_ns = backed > tx->max_rto_ns ? tx->max_rto_ns : backed;
    tx->rto_deadline_ns = now_ns + tx->rto_ns;
}

void ackwin_tx_release_all(struct ackwin_tx *tx, ackwin_release_fn release, void *ctx)
{
    for (uint32_t s = tx->snd_una; s != tx->snd_nxt; s++) {
        struct ackwin_frame *f = &tx->ring[s & tx->mask];
        if (f->state == ACKWIN_FRAME_INFLIGHT) {
            tx->inflight--;
            release(ctx, f);
        }
        f->state = ACKWIN_FRAME_FREE;
        f->rtx_queued = 0;
    }
    tx->snd_una = tx->snd_nxt;
    tx->sack_high = tx->snd_nxt;
    tx->rtxq_len = 0;
    tx->rto_deadline_ns = 0;
}
