/* Fast path: no locks, no blocking, no logging, no allocation except mbufs (and reassembly
 * buffers inside the channel protocol).
 *
 * One poll-loop iteration:
 *   1. receive: the pulse queue until empty, then the data queue until empty or
 *      DP_RX_DATA_BUDGET DATA frames (pulse frames on it do not count); each frame is
 *      demultiplexed by session id through the RCU peer table, its source checked, and
 *      handed to the channel (which delivers completed messages through the runtime's
 *      callback, or drops and counts data it cannot take now: the sender sends it again);
 *   2. for every channel, every iteration: move what senders queued on its ring into the
 *      protocol, apply consumed credit, run the liveness check and take its pulse frames
 *      (chan_tx_pulse): heartbeats, acks and the dead-peer check never wait for the data path;
 *   3. for the channels in round-robin order while the data array and the stage have room:
 *      retransmissions and new data (chan_tx_data);
 *   4. transmit: all pulse frames of this iteration first, then data frames left over from
 *      the last burst the NIC did not take, then the new data frames; on a port with a
 *      pulse queue pair, the pulse frames go to their own queue (port_tx).
 * Bounds (dp_pvt.h, checked by static assertions): every channel's pulse frames fit the pulse
 * array; a channel is asked for no more data frames than the data array still holds, and new
 * data is collected only while the stage can take back all the data the port refuses, so a
 * data frame built is always sent or kept, in order. Refused pulse frames are kept while the
 * stage has room, else dropped and counted (tx_pulse_dropped).
 * A lcore runs iterations back to back and announces a QSBR quiescent state after each; in
 * inline mode, application threads run them (dp_engine_poll).
 */
#include <limits.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include "dataplane/dp_auth.h"
#include "dataplane/dp_limits.h"
#include "dataplane/dp_pvt.h"

/* Publish the channel's counters for other threads, at most every ms. The poller is the
 * only writer (one at a time in inline mode: poll_owner), so a seqcount is enough. */
void dp_chan_publish_stats(struct dp_chan *ch, uint64_t now)
{
    if (now < ch->stats_due_ns)
        return;
    ch->stats_due_ns = now + DP_STATS_PERIOD_NS;
    rte_seqcount_write_begin(&ch->stats_seq);
    chan_get_stats(ch->c, &ch->stats);
    rte_seqcount_write_end(&ch->stats_seq);
}

static inline void count_drop(struct dp_engine *e, enum wire_drop d)
{
    if ((unsigned)d < WIRE_DROP__COUNT)
        e->st.rx_drops[d]++;
}

static void handle_rx(struct dp_engine *e, struct rte_mbuf *m, uint64_t now)
{
    if (unlikely(m->nb_segs != 1)) {
        count_drop(e, WIRE_DROP_BAD_LENGTH);
        return;
    }
    uint8_t *data = rte_pktmbuf_mtod(m, uint8_t *);
    struct wire_rx rx;
    unsigned flags = e->rx_ip_cksum ? 0 : WIRE_RX_VERIFY_IP_CSUM;
    if (e->rx_ip_cksum && (m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_BAD) {
        count_drop(e, WIRE_DROP_BAD_IP);
        return;
    }
    enum wire_drop d = wire_parse(data, m->data_len, e->p.udp_port, flags, &rx);
    if (unlikely(d != WIRE_OK)) {
        count_drop(e, d);
        return;
    }
    struct dp_chan *ch;
    d = dp_auth_rx(e, data, &rx, &ch); /* destination, session, source, replay, tag */
    if (unlikely(d != WIRE_OK)) {
        count_drop(e, d);
        return;
    }
    /* Until the peer's switch marker is read from TCP, its DATA waits (unacknowledged, so
     * it comes again); its pulse frames (acks of our data, heartbeats) count at once. */
    if (unlikely(rx.hdr.type == WIRE_T_DATA &&
                 atomic_load_explicit(&ch->rx_blocked, memory_order_acquire))) {
        e->st.rx_blocked++;
        return;
    }
    if (ch->last_rx_ns && now - ch->last_rx_ns >
                              atomic_load_explicit(&ch->max_rx_gap_ns, memory_order_relaxed))
        atomic_store_explicit(&ch->max_rx_gap_ns, now - ch->last_rx_ns, memory_order_relaxed);
    ch->last_rx_ns = now;
    if (rx.hdr.type == WIRE_T_HEARTBEAT) {
        if (ch->last_hb_rx_ns) {
            uint64_t gap = now - ch->last_hb_rx_ns;
            if (gap > atomic_load_explicit(&ch->max_hb_gap_ns, memory_order_relaxed))
                atomic_store_explicit(&ch->max_hb_gap_ns, gap, memory_order_relaxed);
        }
        ch->last_hb_rx_ns = now;
    }
    chan_rx(ch->c, &rx.hdr, rx.payload, rx.payload_len, now);
}

/* Bytes whose reservation (dp_chan_send) is over: messages fully acknowledged, plus those the
 * protocol refused; once the channel is down, every message it took is gone for good. Both
 * terms only grow (acknowledged messages are a part of the fed ones). */
static uint64_t released_bytes(const struct dp_chan *ch)
{
    return (chan_is_up(ch->c) ? chan_acked_bytes(ch->c) : ch->fed_bytes) + ch->dropped_bytes;
}

/* Moves queued messages from the senders' ring into the protocol. A channel that is down
 * takes none: its ring is drained (DP_TX_DRAIN_DOWN_MSGS per iteration) and every message
 * dropped, its bytes released. */
static void feed_submissions(struct dp_chan *ch)
{
    uint32_t space = chan_is_up(ch->c) ? chan_submit_space(ch->c) : DP_TX_DRAIN_DOWN_MSGS;
    while (space > 0) {
        struct dp_msg *m = ch->pending;
        if (!m) {
            void *p;
            if (rte_ring_sc_dequeue(ch->txr, &p) != 0)
                return;
            m = p;
        }
        int rc = chan_submit(ch->c, m);
        if (rc == -ENOBUFS) {
            ch->pending = m;
            return;
        }
        ch->pending = NULL;
        if (rc == 0)
            ch->fed_bytes += m->len;
        else /* down or invalid: the message is dropped, its bytes released */
            ch->dropped_bytes += m->len;
        dp_msg_unref(m); /* the ring's reference; the channel holds its own */
        space--;
    }
}

/* Builds one frame into a fresh mbuf; NULL if the mempool is empty. */
static struct rte_mbuf *build_frame(struct dp_engine *e, struct dp_chan *ch,
                                    const struct chan_frame *f)
{
    struct rte_mbuf *m = rte_pktmbuf_alloc(e->pool);
    if (unlikely(!m)) {
        e->st.no_mbuf++;
        return NULL;
    }
    size_t total = WIRE_FRAME_OVERHEAD + f->len;
    uint8_t *p = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)total);
    if (unlikely(!p)) {
        rte_pktmbuf_free(m);
        e->st.no_mbuf++;
        return NULL;
    }
    wire_encode_headers(p, total, &ch->ep, &f->hdr, f->len,
                        e->tx_ip_cksum ? WIRE_ENC_IP_CSUM_OFFLOAD : 0);
    if (f->len)
        rte_memcpy(p + WIRE_ALL_HDRS_LEN, f->payload, f->len);
    if (unlikely(!dp_auth_seal(ch, p, f->len))) {
        rte_pktmbuf_free(m);
        return NULL;
    }
    if (e->tx_ip_cksum) {
        m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM;
        m->l2_len = WIRE_ETH_LEN;
        m->l3_len = WIRE_IPV4_LEN;
    }
    return m;
}

/* Builds a channel's frames: pulse frames to e->pulse, data frames to `data` (NULL when only
 * pulse frames were asked for). Returns the data frames added. */
static unsigned build_frames(struct dp_engine *e, struct dp_chan *ch,
                             const struct chan_frame *frames, unsigned n, struct rte_mbuf **data)
{
    unsigned nd = 0;
    for (unsigned i = 0; i < n; i++) {
        struct rte_mbuf *m = build_frame(e, ch, &frames[i]);
        if (!m)
            continue; /* not built (no mbuf): the protocol retransmits data; pulse recurs */
        if (frames[i].hdr.lane == WIRE_LANE_PULSE) {
            RTE_ASSERT(e->n_pulse < DP_TX_PULSE_MAX);
            e->pulse[e->n_pulse++] = m;
        } else {
            data[nd++] = m;
        }
    }
    return nd;
}

/* The channel's pulse frames and its liveness check, every iteration (at most
 * DP_TX_PULSE_PER_CALL frames: the pulse array holds them for every channel). */
static void collect_pulse(struct dp_engine *e, struct dp_chan *ch, uint64_t now)
{
    struct chan_frame frames[DP_TX_PULSE_PER_CALL];
    unsigned n = chan_tx_pulse(ch->c, now, frames, DP_TX_PULSE_PER_CALL);
    build_frames(e, ch, frames, n, NULL);
    if (n > 0 && frames[0].hdr.type == WIRE_T_CLOSE)
        atomic_store(&ch->closed, true);
}

/* Up to `max` data frames of one channel (retransmissions, then new data unless
 * resend_only) into `data`. */
static unsigned collect_data(struct dp_engine *e, struct dp_chan *ch, uint64_t now,
                             struct rte_mbuf **data, unsigned max, bool resend_only)
{
    struct chan_frame frames[DP_TX_PER_CHAN];
    RTE_ASSERT(max <= DP_TX_PER_CHAN);
    unsigned n = resend_only ? chan_tx_resend(ch->c, now, frames, max)
                             : chan_tx_data(ch->c, now, frames, max);
    return build_frames(e, ch, frames, n, data);
}

/* ---- the port's queues ------------------------------------------------------------
 * With a pulse pair (e->n_queues == 2, dp_engine.c setup_port), pulse frames have their own
 * transmit queue, so none waits behind the data frames already in the data queue's
 * descriptor ring, and the receiver reads the pulse queue before the data queue. With one
 * pair, both share it. Called inside the map guard. */

static unsigned port_tx_queue(struct dp_engine *e, uint16_t q, struct rte_mbuf **out, unsigned n)
{
    unsigned sent = 0;
    while (sent < n) {
        uint16_t k = rte_eth_tx_burst(e->port_id, q, out + sent,
                                      (uint16_t)RTE_MIN(n - sent, DP_TX_PORT_BURST));
        for (unsigned i = 0; i < k; i++)
            e->st.tx_bytes += out[sent + i]->pkt_len;
        sent += k;
        if (k == 0)
            break;
    }
    e->st.tx_frames += sent;
    return sent;
}

static inline bool is_pulse_frame(const struct rte_mbuf *m)
{
    return m->data_len > WIRE_LANE_OFF &&
           rte_pktmbuf_mtod(m, const uint8_t *)[WIRE_LANE_OFF] == WIRE_LANE_PULSE;
}

/* Hands out[0..n) to the port: with a pulse pair, the pulse frames among them to the pulse
 * queue first, the rest to the data queue. Returns how many the port took; those it did not
 * take end up in out[0..n - taken), in their order. */
static unsigned port_tx(struct dp_engine *e, struct rte_mbuf **out, unsigned n)
{
    if (e->n_queues == 1) {
        unsigned sent = port_tx_queue(e, DP_QUEUE_DATA, out, n);
        memmove(out, out + sent, (n - sent) * sizeof(*out));
        return sent;
    }
    struct rte_mbuf *pulse[DP_TX_PULSE_MAX + DP_TX_STAGE];
    unsigned np = 0, nd = 0;
    for (unsigned i = 0; i < n; i++) {
        if (is_pulse_frame(out[i]))
            pulse[np++] = out[i];
        else
            out[nd++] = out[i];
    }
    unsigned sp = port_tx_queue(e, DP_QUEUE_PULSE, pulse, np);
    unsigned sd = port_tx_queue(e, DP_QUEUE_DATA, out, nd);
    /* left: pulse frames the pulse queue refused (tried first next time), then data */
    unsigned left_p = np - sp, left_d = nd - sd;
    memmove(out + left_p, out + sd, left_d * sizeof(*out));
    memcpy(out, pulse + sp, left_p * sizeof(*out));
    return sp + sd;
}

/* Hands this iteration's frames to the port: pulse frames, then the stage's leftovers of
 * earlier iterations, then new data (each channel's frames keep their order, so the peer sees
 * no reordering that would look like loss). What the port does not take goes back to the
 * stage, in order: the data always fits (n_stage + nd <= DP_TX_STAGE: DP_TX_COLLECT_BELOW);
 * refused pulse frames take what room is left; those in front (this iteration's, then the
 * stage's) are dropped first: the newest, not the oldest (docs/dataplane.md §7, open). */
static unsigned transmit(struct dp_engine *e, struct rte_mbuf **data, unsigned nd, uint64_t now)
{
    struct rte_mbuf *out[DP_TX_PULSE_MAX + DP_TX_STAGE];
    RTE_ASSERT(e->n_stage + nd <= DP_TX_STAGE);
    unsigned n = 0;
    for (unsigned i = 0; i < e->n_pulse; i++)
        out[n++] = e->pulse[i];
    e->n_pulse = 0;
    for (unsigned i = 0; i < e->n_stage; i++)
        out[n++] = e->stage[i];
    e->n_stage = 0;
    for (unsigned i = 0; i < nd; i++)
        out[n++] = data[i];
    if (n == 0)
        return 0;
    if (unlikely(atomic_load_explicit(&e->fault_active, memory_order_relaxed) &&
                 e->fault_tx.p.on_tx))
        n = dp_fault_apply(&e->fault_tx, e->pool, out, n, RTE_DIM(out), now, &e->st);
    dp_mapguard_enter(e->guard_slot);
    unsigned sent = port_tx(e, out, n);
    dp_mapguard_leave(e->guard_slot);
    if (sent < n) {
        e->st.tx_full += n - sent;
        unsigned left = n - sent, i = 0;
        /* Refused pulse frames (port_tx puts them first) beyond the stage's room are dropped,
         * those in front first: the data after them always fits (n_stage + nd <= DP_TX_STAGE),
         * except for frames fault injection duplicated, which may go too (data: resent). */
        unsigned pulse_left = 0;
        while (pulse_left < left && is_pulse_frame(out[pulse_left]))
            pulse_left++;
        for (; left - i > DP_TX_STAGE; i++) {
            if (i < pulse_left)
                e->st.tx_pulse_dropped++;
            rte_pktmbuf_free(out[i]);
        }
        for (; i < left; i++)
            e->stage[e->n_stage++] = out[i];
    }
    e->st.tx_staged = e->n_stage;
    return sent;
}

/* Hands a received burst to the channels; returns the DATA-lane frames among them (the
 * receive budget counts those only). The lane byte read here only sorts for the budget: every
 * frame is checked in full (handle_rx). */
static unsigned handle_burst(struct dp_engine *e, struct rte_mbuf **pkts, unsigned nb)
{
    bool fault = atomic_load_explicit(&e->fault_active, memory_order_relaxed) &&
                 e->fault_rx.p.on_rx;
    if (nb == 0 && likely(!fault))
        return 0;
    /* The clock is read after the receive: an inline poller preempted before it must not
     * stamp what it then finds with a stale time (the peer would look silent for as long
     * as the preemption lasted: a false heartbeat timeout). */
    uint64_t now = dp_clock_ns();
    if (unlikely(fault)) /* also with nothing read: frames it held may be due */
        nb = dp_fault_apply(&e->fault_rx, e->pool, pkts, nb, DP_RX_BURST_ROOM, now, &e->st);
    unsigned data = 0;
    for (unsigned i = 0; i < nb; i++) {
        if (i + 1 < nb)
            rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
        e->st.rx_frames++;
        e->st.rx_bytes += pkts[i]->pkt_len;
        data += !is_pulse_frame(pkts[i]);
        handle_rx(e, pkts[i], now);
        rte_pktmbuf_free(pkts[i]);
    }
    return data;
}

/* Reads queue q in bursts and hands them to the channels, until the queue is empty,
 * `max` frames were read, or *data_left DATA frames were handled (pulse-lane frames do not
 * count: they are always handled). Returns the frames read. */
static unsigned read_queue(struct dp_engine *e, uint16_t q, unsigned max, unsigned *data_left)
{
    struct rte_mbuf *pkts[DP_RX_BURST_ROOM]; /* a burst, with room for fault duplicates */
    unsigned total = 0;
    while (total < max && *data_left > 0) {
        uint16_t want = (uint16_t)RTE_MIN(RTE_MIN(*data_left, max - total), (unsigned)DP_BURST);
        /* Port bursts run inside the map guard: a shared-memory port (memif) is not
         * unmapped under them when its peer dies (dp_mapguard.h). */
        dp_mapguard_enter(e->guard_slot);
        unsigned nb = rte_eth_rx_burst(e->port_id, q, pkts, want);
        dp_mapguard_leave(e->guard_slot);
        total += nb;
        unsigned data = handle_burst(e, pkts, nb);
        *data_left -= RTE_MIN(data, *data_left);
        if (nb < want)
            break; /* empty */
    }
    return total;
}

/* Receive: the pulse queue until it is empty (DP_PULSE_DESC frames at most), then the data
 * queue until it is empty or DP_RX_DATA_BUDGET DATA frames were handled; pulse-lane frames on
 * the data queue (a port with one queue pair) are handled whenever read and do not count.
 * Every frame read is handled: what a channel cannot take now (receive window, reassembly,
 * node memory) it drops and counts, unacknowledged, and the sender sends it again; nothing is
 * put back. DATA beyond the budget waits in the ring for the next iteration: handling
 * everything at once made an overloaded receiver's iterations long and its own heartbeats
 * late (docs/dataplane.md §7, "Receive"); on a shared queue, what waits there ahead of a pulse
 * frame is bounded by the sender (tx_data_ahead). Returns the frames read. */
static unsigned receive(struct dp_engine *e)
{
    unsigned data_left = DP_RX_DATA_BUDGET;
    unsigned nb = 0;
    if (e->n_queues > 1) {
        unsigned pulse_budget = UINT_MAX; /* the pulse queue is read dry */
        nb = read_queue(e, DP_QUEUE_PULSE, DP_PULSE_DESC, &pulse_budget);
    }
    return nb + read_queue(e, DP_QUEUE_DATA, DP_RX_READ_MAX, &data_left);
}

unsigned dp_worker_iteration(struct dp_engine *e)
{
    e->st.polls++;
    unsigned work = receive(e);
    uint64_t now = dp_clock_ns();

    /* With one queue pair and tx_data_ahead set, a pulse frame waits in the ring behind
     * whatever data is there: `ahead` sums the data in flight (sent, unacknowledged: an upper
     * bound of what is in the ring). Ports with a pulse queue skip that accounting. */
    const uint64_t ahead_max = e->n_queues == DP_PORT_QUEUES_MIN ? e->p.tx_data_ahead_bytes : 0;
    uint64_t ahead = 0;

    /* Every channel: submissions, credit, liveness and pulse frames, whatever the data path. */
    unsigned hi = atomic_load_explicit(&e->chan_hi, memory_order_acquire);
    for (unsigned i = 0; i < hi; i++) {
        struct dp_chan *ch = atomic_load_explicit(&e->chans[i], memory_order_acquire);
        if (!ch)
            continue;
        if (unlikely(atomic_load_explicit(&ch->close_req, memory_order_relaxed)) &&
            !atomic_load(&ch->closed)) {
            if (chan_is_up(ch->c))
                chan_close(ch->c);
            else
                atomic_store(&ch->closed, true);
        }
        uint64_t consumed = atomic_exchange_explicit(&ch->consumed_pending, 0,
                                                     memory_order_relaxed);
        if (consumed)
            chan_consumed(ch->c, consumed);
        feed_submissions(ch);
        collect_pulse(e, ch, now);
        if (ahead_max)
            ahead += chan_inflight_wire_bytes(ch->c);
    }

    /* Data, channels in round-robin order: at most as many frames as the data array still
     * holds; when it is full, the channels after it wait for the next iteration (the start
     * moves on). While the port is backed up (stage at DP_TX_COLLECT_BELOW), data waits in
     * the protocol. Under the data-ahead bound (ahead_max), new data is collected only while
     * `ahead` is below it; retransmissions still go (they are counted in flight already).
     * Overshoot: one channel's collection. */
    struct rte_mbuf *data[DP_TX_DATA_MAX];
    unsigned nd = 0;
    unsigned start = hi ? e->rr++ % hi : 0;
    for (unsigned k = 0; k < hi; k++) {
        unsigned i = start + k < hi ? start + k : start + k - hi;
        struct dp_chan *ch = atomic_load_explicit(&e->chans[i], memory_order_acquire);
        if (!ch)
            continue;
        unsigned room = RTE_MIN(DP_TX_DATA_MAX - nd, (unsigned)DP_TX_PER_CHAN);
        if (room > 0 && e->n_stage < DP_TX_COLLECT_BELOW && chan_next_deadline(ch->c) <= now) {
            if (!ahead_max) {
                nd += collect_data(e, ch, now, data + nd, room, false);
            } else {
                uint64_t before = chan_inflight_wire_bytes(ch->c);
                bool held = ahead >= ahead_max;
                e->st.tx_ahead_held += held;
                nd += collect_data(e, ch, now, data + nd, room, held);
                ahead += chan_inflight_wire_bytes(ch->c) - before;
            }
        }
        atomic_store_explicit(&ch->acked_bytes, released_bytes(ch), memory_order_release);
        dp_chan_publish_stats(ch, now);
    }
    work += transmit(e, data, nd, now);
    if (work)
        e->st.busy_polls++;
    return work;
}

int dp_worker_lcore_main(void *arg)
{
    struct dp_engine *e = arg;
    urcu_qsbr_register_thread();
    if (e->p.poller_init)
        e->p.poller_init(e->p.poller_arg);
    while (!atomic_load_explicit(&e->stop, memory_order_relaxed)) {
        dp_worker_iteration(e);
        urcu_qsbr_quiescent_state();
    }
    urcu_qsbr_unregister_thread();
    return 0;
}
