/* The TCP carrier's send queue (runtime/carrier_tcp/txq.c): pure — no socket, no lock, no
 * clock. Its owner (tcpc.c) holds the connection's tx_lock around every call and does the
 * writing: txq_gather says what to write next, txq_advance what was written.
 *
 * Toward a peer that takes fragments (DFLAG_FRAGMENTS: BEAM, and dpdist nodes), a message
 * whose body exceeds TXQ_FRAG_DATA_BYTES goes as fragments of that size (erl_ext_dist's
 * "Distribution Header for Fragmented Messages": a start fragment 131 'E' SequenceId
 * FragmentId=N NumberOfAtomCacheRefs=0, then continuations 131 'F' SequenceId FragmentId
 * N-1 .. 1), and other messages go between its fragments: a 64 MiB message delays a small
 * one by one fragment, not by 64 MiB.
 *
 * Order. The queue is one FIFO, written from its head. When a fragment of the head message
 * is complete, that message moves back past the entries that may overtake it: whole (small)
 * messages of other senders. It stops before a message of its own sender (one sender's
 * messages keep their order), before another fragmented message (one fragmented message at
 * a time: the receiver reassembles at most one of ours), and before a barrier (the carrier
 * switch marker: nothing of a message may follow it on TCP). Ticks go anywhere.
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
/* What the queue leaves to the kernel: the socket's TCP_NOTSENT_LOWAT (tcpc_sock_up). The
 * kernel takes more only while fewer than this many bytes are unsent in the socket, so once
 * the peer stops keeping up, the order of everything else is decided here (one write may
 * overshoot by the skb it fills, at most 64 KiB on loopback). Two fragments: enough to keep
 * the wire busy between two wake-ups of the writer, small enough that a tick or a small
 * message waits behind at most that much unsent data on our side. */
#define TXQ_SOCK_NOTSENT_BYTES (128u * 1024)

/* A queued outgoing buffer. */
struct txq_entry {
    struct txq_entry *next;
    struct obuf *b;  /* a reference */
    size_t off;      /* bytes of b written; fragmented: where the next fragment's data starts */
    uint64_t sender; /* b's ordering tag: one sender's messages never overtake each other */
    bool barrier;    /* the carrier switch marker: nothing moves behind it */
    /* Sent in fragments when frags_left > 0: the FragmentId of the next one. */
    uint64_t frag_seq, frags_left;
    bool pkt_open;       /* a fragment is being written: its header and data below */
    uint8_t pkt_hdr_len; /* 4-byte length + fragment header */
    uint8_t pkt_hdr[DISTMSG_LEN_BYTES + DISTMSG_HDR_FRAG_MAX_LEN];
    size_t pkt_data, pkt_off; /* the fragment's data bytes; bytes of the packet written */
};

struct txq {
    struct txq_entry *head, *tail;
    size_t bytes;           /* bytes still to write (a fragmented message: its data) */
    size_t frag_bytes;      /* of bytes: data of messages going in fragments */
    uint64_t frag_seq_next; /* SequenceId of our next fragmented message */
    const struct obuf *tick; /* the node's tick packet: it may pass anything */
};

void txq_init(struct txq *q, const struct obuf *tick);

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
    return q->head == NULL;
}

/* Queues b (takes a reference) from byte off; in fragments if fragmented (then off must be
 * 0); a barrier when it is the carrier switch marker. false when out of memory (nothing
 * queued; the caller's message is lost as on a broken link). */
bool txq_push(struct txq *q, struct obuf *b, size_t off, bool barrier, bool fragmented);

/* What to write next, into iov (at most max entries, max >= 2): whole messages from the
 * head, up to and including one fragment (its header first). Returns the entries used
 * (0: nothing queued). */
int txq_gather(struct txq *q, struct iovec *iov, int max);
/* written bytes of what txq_gather gave went out: drops what is done, moves a fragmented
 * message back behind what may pass it (see Order). */
void txq_advance(struct txq *q, size_t written);
/* Drops everything queued. */
void txq_drop_all(struct txq *q);

#endif
