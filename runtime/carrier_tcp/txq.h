/* The TCP carrier's send queue (runtime/carrier_tcp/txq.c): pure — no socket, no lock, no
 * clock. Its owner (tcpc.c) holds the connection's tx_lock around every call and does the
 * writing: txq_gather says what to write next, txq_advance what was written.
 *
 * Toward a peer that takes fragments (DFLAG_FRAGMENTS: BEAM, and dpdist nodes), a message
 * whose body exceeds TXQ_FRAG_DATA_BYTES goes as fragments of that size (erl_ext_dist's
 * "Distribution Header for Fragmented Messages": a start fragment 131 'E' SequenceId
 * FragmentId=N NumberOfAtomCacheRefs=0, then continuations 131 'F' SequenceId FragmentId
 * N-1 .. 1), and other messages go between its fragments: a 64 MiB message delays a small
 * one by at most the fragment being written, not by 64 MiB.
 *
 * Lanes. At every packet boundary the next packet is chosen in this order:
 *   1. the tick (an empty packet; it may pass anything, a packet is never cut by it);
 *   2. whole messages, FIFO (`whole`): control messages and small messages. They share one
 *      lane because a sender's link, exit or monitor signal must keep its place among that
 *      sender's messages;
 *   3. the next fragment of a fragmented message, round robin over the messages in `frags`:
 *      large messages of different senders interleave fragment by fragment;
 *   4. the barrier (the carrier switch marker of the DPDK upgrade), once everything queued
 *      before it is written; nothing of a message follows it on TCP.
 * A packet is written to its end before another begins.
 *
 * Order per sender. A sender's messages keep their order: while a sender has a fragmented
 * message queued, every later message of that sender (whole or fragmented) waits on that
 * message's `after` list and enters its lane when the message has been written. Messages
 * pushed after a barrier wait on the barrier's `after` list the same way.
 *
 * Interleaving bound. A dpdist receiver holds every fragmented message in flight (started,
 * not finished) in memory at once, bounded by its max_message_bytes per connection (beyond
 * that it closes the connection): a fragmented message is started only while the messages
 * in flight, counted as FragmentIds x TXQ_FRAG_DATA_BYTES (what the receiver reserves), stay
 * within `inflight_limit` and TXQ_INFLIGHT_MAX, or when none is in flight. The node gives
 * its own max_message_bytes (the peers of a cluster share it). BEAM reassembles any number.
 *
 * Admission (txq_bytes_for): whole messages are admitted while the whole messages queued
 * stay below the limit, so a small message does not wait for a 64 MiB one to drain; a
 * message going in fragments counts everything queued, so a stream of large messages is
 * still held to the limit. Memory: the limit for each class, plus the one message that
 * crossed it.
 */
#ifndef DPDIST_RUNTIME_CARRIER_TCP_TXQ_H
#define DPDIST_RUNTIME_CARRIER_TCP_TXQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "control/distmsg.h"
#include "runtime/core/obuf.h"

#define TXQ_FRAG_DATA_BYTES (64u * 1024) /* a fragment's data */
#define TXQ_INFLIGHT_MAX    16u           /* fragmented messages started, not finished */
/* What the queue leaves to the kernel: the socket's TCP_NOTSENT_LOWAT (tcpc_sock_up). The
 * kernel takes more only while fewer than this many bytes are unsent in the socket, so once
 * the peer stops keeping up, the order of everything else is decided here (one write may
 * overshoot by the skb it fills, at most 64 KiB on loopback). Two fragments: enough to keep
 * the wire busy between two wake-ups of the writer, small enough that a tick or a small
 * message waits behind at most that much unsent data on our side. */
#define TXQ_SOCK_NOTSENT_BYTES (128u * 1024)

/* A FIFO of queued entries: a lane, or the entries waiting for one entry. */
struct txq_entry;
struct txq_lane {
    struct txq_entry *head, *tail;
};

/* A queued outgoing buffer. */
struct txq_entry {
    struct txq_entry *next;
    struct obuf *b;  /* a reference */
    size_t off;      /* bytes of b written; fragmented: where the next fragment's data starts */
    uint64_t sender; /* b's ordering tag: one sender's messages never overtake each other */
    bool barrier;    /* the carrier switch marker: written last */
    bool fragmented; /* goes in fragments (frags_left of them remain) */
    /* Entries that wait for this one to be written (see Order per sender), a FIFO. */
    struct txq_lane after;
    /* Sent in fragments: the FragmentId of the next one; started when its first went out. */
    uint64_t frag_seq, frags_left, frags_total;
    bool started;
    bool pkt_open;       /* a fragment is being written: its header and data below */
    uint8_t pkt_hdr_len; /* 4-byte length + fragment header */
    uint8_t pkt_hdr[DISTMSG_LEN_BYTES + DISTMSG_HDR_FRAG_MAX_LEN];
    size_t pkt_data, pkt_off; /* the fragment's data bytes; bytes of the packet written */
};

struct txq {
    struct txq_lane whole;   /* whole messages (their head may be partly written) */
    struct txq_lane frags;   /* fragmented messages, round robin from the head */
    struct txq_entry *barrier; /* the carrier switch marker, written when the rest is */
    size_t ticks;            /* ticks to write (at most one is kept) */
    size_t tick_off;         /* bytes of the tick being written */
    /* What the last txq_gather gave, besides whole messages, for txq_advance: the rest of
     * an open fragment first, the tick, a fragment after the whole messages, the barrier. */
    bool frag_first, tick_gathered, frag_gathered, barrier_gathered;
    size_t bytes;            /* bytes still to write (a fragmented message: its data) */
    size_t frag_bytes;       /* of bytes: data of messages going in fragments */
    size_t inflight, inflight_bytes; /* fragmented messages started, their reserved size */
    size_t inflight_limit;   /* bytes; see Interleaving bound */
    uint64_t frag_seq_next;  /* SequenceId of our next fragmented message */
    const struct obuf *tick; /* the node's tick packet: it may pass anything */
};

/* inflight_limit: the receiver's bound on fragmented messages in flight (bytes, >= 1). */
void txq_init(struct txq *q, const struct obuf *tick, size_t inflight_limit);

/* Whether b may go in fragments: larger than one fragment, with the plain normal header
 * 131 'D' 0 (the caller also checks that the peer takes fragments). */
bool txq_fragmentable(const struct obuf *b);
/* The queued bytes that count against the admission of a message going whole
 * (fragmented false) or in fragments (true): see Admission above. */
static inline size_t txq_bytes_for(const struct txq *q, bool fragmented)
{
    return fragmented ? q->bytes : q->bytes - q->frag_bytes;
}
static inline bool txq_empty(const struct txq *q)
{
    return !q->whole.head && !q->frags.head && !q->barrier && !q->ticks;
}

/* Queues b (takes a reference) from byte off; in fragments if fragmented (then off must be
 * 0); a barrier when it is the carrier switch marker (at most one). The tick packet is not
 * queued as an entry: one is kept pending. false when out of memory (nothing queued; the
 * caller's message is lost as on a broken link). */
bool txq_push(struct txq *q, struct obuf *b, size_t off, bool barrier, bool fragmented);

/* What to write next, into iov (at most max entries, max >= 3), in lane order: the rest
 * of a fragment being written, the tick, whole messages, then at most one fragment (its
 * header first). Returns the entries used (0: nothing queued). */
int txq_gather(struct txq *q, struct iovec *iov, int max);
/* written bytes of what txq_gather gave went out: drops what is done, moves a fragmented
 * message to the back of its lane after each fragment (round robin). */
void txq_advance(struct txq *q, size_t written);
/* Drops everything queued. */
void txq_drop_all(struct txq *q);

#endif
