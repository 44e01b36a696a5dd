/* ag_classify: what the agent needs to know about one distribution packet a VM wrote, to put
 * it on a lane without breaking Erlang's ordering (docs/agent.md §7, DESIGN-15 §3.1-3.2).
 *
 * Owns: the ag_classify_ functions, struct ag_classify (per connection: the table of
 * fragmented messages in flight) and its result table. Pure: bytes in, a classification out;
 * no I/O, no clock, no logging; the table is allocated once by ag_classify_init and never
 * grows. Thread-safety: one struct ag_classify per connection, used by one thread at a time.
 *
 * Input: one packet of a distribution connection in the connected phase, without its 4-byte
 * length (the VM's controller socket runs {packet,4}):
 *   len 0                                      a tick                    -> pulse lane
 *   131 'D' 0 Control [Message]                a message sent whole      -> express lane
 *   112 131 Control [131 Message]              the same, pass-through    -> express lane
 *   131 'E' SeqId FragId 0 Control [part]      first fragment            -> normal lane
 *   131 'F' SeqId FragId [part]                a later fragment          -> normal lane
 * The atom cache is never negotiated (dpdist_dist rejects it), so every control message
 * names its sender in plain external format.
 *
 * Output: the lane and a flow key. Packets with the same key keep their order end to end;
 * packets with different keys may pass each other. The key is a hash of the bytes of the
 * term that names the *sender* of the signal (the element of the control tuple below), so
 * each sender's signals stay in order, which is all Erlang promises once the atom cache is
 * off (per sender->receiver pair). Later fragments take the key of their first fragment
 * (the table below remembers it per SeqId until the fragment with FragId 1).
 *
 *   sender = element 2 of the control tuple for ops 1,3,4,6,7,8,13,16,18..28,33,34;
 *            element 3 for 29,30 (spawn request: From) and 35,36 (unlink id: FromPid);
 *            element 5 for 31,32 (spawn reply: the child, whose later signals follow it).
 *
 * A packet whose sender cannot be named is a *barrier* (key 0): SEND and SEND_TT (ops 2, 12:
 * no sender, as OTP 25 sends a message encoded while the connection was pending), a sender
 * that is an atom (a monitor by name: its DOWN), an unknown op, a control message that does
 * not parse. A barrier must be ordered against every packet of its connection (the lanes do
 * that: agent/ag_lanes.h). The later fragments of a message that started as a barrier are
 * barriers too: its real sender is unknown, so nothing of that connection may pass them.
 *
 * Errors (the caller closes the connection, counts and logs it): a packet that is no
 * distribution packet, atom cache references, a fragment id 0, a first fragment for a
 * sequence already in flight, a later fragment of an unknown sequence, more fragmented
 * messages in flight than the table holds. On an error the state is unchanged.
 *
 * Bounds: the table holds max_seqs sequences (BEAM has at most one per sending process);
 * lookups are O(1) expected (open addressing, linear probing, backward-shift deletion; the
 * table is twice max_seqs rounded up to a power of two). Parsing walks only the control
 * tuple's elements up to the sender (control/etf.c: bounded, no recursion but into funs),
 * never the message.
 */
#ifndef DPDIST_AGENT_AG_CLASSIFY_H
#define DPDIST_AGENT_AG_CLASSIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The lanes a packet can go on (dataplane lanes: pulse is strict priority). */
enum ag_lane {
    AG_LANE_PULSE = 0,
    AG_LANE_EXPRESS = 1,
    AG_LANE_NORMAL = 2,
};
#define AG_LANES 3

enum ag_pkt_kind {
    AG_PKT_TICK = 0,
    AG_PKT_WHOLE,      /* 'D' or pass-through */
    AG_PKT_FRAG_FIRST, /* 'E' */
    AG_PKT_FRAG_CONT,  /* 'F' */
};

/* Why a packet is a barrier: X(code, name, message). */
#define AG_BARRIER_REASONS(X)                                                                      \
    X(AG_BARRIER_NONE, "none", "not a barrier")                                                    \
    X(AG_BARRIER_NO_SENDER, "no_sender", "the op names no sender (SEND, SEND_TT)")                 \
    X(AG_BARRIER_NAMED, "named", "the sender is a registered name (a DOWN of a monitor by name)")  \
    X(AG_BARRIER_NOT_PID, "not_pid", "the sender element is neither a pid nor a port")             \
    X(AG_BARRIER_UNKNOWN_OP, "unknown_op", "a control op this agent does not know")                \
    X(AG_BARRIER_CONTROL, "control", "the control message does not parse up to its sender")        \
    X(AG_BARRIER_FRAGMENT, "fragment", "a later fragment of a message that began as a barrier")

enum ag_barrier_reason {
#define AG_X_ENUM(code, name, msg) code,
    AG_BARRIER_REASONS(AG_X_ENUM)
#undef AG_X_ENUM
        AG_BARRIER__COUNT
};

#define AG_CLASSIFY_RESULTS(X)                                                                     \
    X(AG_CLASSIFY_OK, "ok", "ok")                                                                  \
    X(AG_CLASSIFY_E_HEADER, "header", "not a distribution packet (no 131 'D'/'E'/'F' or 112)")     \
    X(AG_CLASSIFY_E_SHORT, "short", "distribution header truncated")                               \
    X(AG_CLASSIFY_E_ATOM_CACHE, "atom_cache",                                                      \
      "atom cache references in a header (the cache is never negotiated)")                         \
    X(AG_CLASSIFY_E_FRAG_ID, "frag_id", "fragment id 0")                                           \
    X(AG_CLASSIFY_E_SEQ_DUP, "seq_dup", "first fragment of a sequence already in flight")          \
    X(AG_CLASSIFY_E_SEQ_UNKNOWN, "seq_unknown", "later fragment of a sequence not in flight")      \
    X(AG_CLASSIFY_E_SEQ_FULL, "seq_full", "too many fragmented messages in flight")

enum ag_classify_result {
#define AG_X_ENUM(code, name, msg) code,
    AG_CLASSIFY_RESULTS(AG_X_ENUM)
#undef AG_X_ENUM
        AG_CLASSIFY__COUNT
};

/* Never NULL, static storage. */
const char *ag_classify_strerror(enum ag_classify_result r);
const char *ag_classify_result_name(enum ag_classify_result r);
const char *ag_barrier_name(enum ag_barrier_reason r);

struct ag_class {
    enum ag_pkt_kind kind;
    enum ag_lane lane;
    int op;                         /* control op; -1 for ticks and later fragments */
    enum ag_barrier_reason barrier; /* AG_BARRIER_NONE: key names the flow */
    uint64_t key;                   /* flow key, never 0 unless barrier or tick */
    size_t sender_off, sender_len;  /* the sender term inside the packet (0, 0 if none) */
    uint64_t seq_id, frag_id;       /* fragments */
};

struct ag_classify_seq; /* private */

struct ag_classify {
    struct ag_classify_seq *tab;
    uint32_t mask;     /* table slots - 1 */
    uint32_t max_seqs; /* sequences in flight at most */
    uint32_t n;        /* sequences in flight */
};

/* Allocates the table for max_seqs (1..1<<20) sequences in flight. 0, -EINVAL or -ENOMEM. */
int ag_classify_init(struct ag_classify *c, uint32_t max_seqs);
void ag_classify_fini(struct ag_classify *c);

/* Classifies one packet (pkt[0..len), after its 4-byte length) and updates the sequence
 * table. On AG_CLASSIFY_OK *out is set; on an error *out is zeroed and the table unchanged. */
enum ag_classify_result ag_classify_packet(struct ag_classify *c, const uint8_t *pkt, size_t len,
                                           struct ag_class *out);

/* The key of a sender term's bytes (what ag_classify_packet computes): FNV-1a 64, never 0. */
uint64_t ag_classify_key(const uint8_t *term, size_t len);

#ifdef __cplusplus
}
#endif

#endif
