/* Connected-phase distribution traffic (erl_dist_protocol.md "Protocol between Connected
 * Nodes", erl_ext_dist.md "Distribution Header"): packet framing, distribution headers,
 * reassembly of fragmented messages, control message decoding and encoding.
 *
 * Owns: the distmsg_ codec and its error table. Called by the runtime's TCP carrier for
 * traffic with BEAM nodes, and by the runtime when it turns API calls into control messages.
 * Pure except for memory: the reassembler and the ei_x_buff encoders allocate (bounded).
 * Thread-safety: no shared state; one struct distmsg_reasm per connection, used by one thread
 * at a time. libei's encoders and decoders used here need no ei_init().
 *
 * Wire shapes handled:
 *   packet        [Length:32][Packet]; Length 0 is a tick (4 zero bytes).
 *   pass-through  [112 'p'] Control [Message]       each term with its own version byte 131
 *   normal        [131][68 'D'][0] Control [Message]  terms without version byte
 *   fragment 1st  [131][69 'E'][SeqId:64][FragId:64][0] Control [first part of Message]
 *   fragment nth  [131][70 'F'][SeqId:64][FragId:64] [next part of Message]
 * FragId counts down from the number of fragments to 1. We never negotiate the atom cache, so
 * NumberOfAtomCacheRefs must be 0 and ATOM_CACHE_REF terms are refused.
 *
 * Term spans. Decoded messages refer to encoded terms (reasons, payloads, trace tokens,
 * spawn options) as spans: offset and length inside the message body, pointing at the
 * term's tag byte. A span never includes a version byte, in both header kinds (for
 * pass-through bodies the 131 before the payload is skipped). To hand a span to
 * binary_to_term-style code, prepend 131. Every span has passed etf_skip() (control/etf.h),
 * so libei may decode inside it without reading past it.
 */
#ifndef DPDIST_CONTROL_DISTMSG_H
#define DPDIST_CONTROL_DISTMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ei.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DISTMSG_LEN_BYTES          4
#define DISTMSG_PASS_THROUGH       112 /* 'p' */
#define DISTMSG_VERSION            131
#define DISTMSG_HDR_NORMAL_TAG     68 /* 'D' */
#define DISTMSG_HDR_FRAG_START_TAG 69 /* 'E' */
#define DISTMSG_HDR_FRAG_CONT_TAG  70 /* 'F' */
/* [131]['D'][0]: the only normal header we send. */
#define DISTMSG_HDR_NORMAL_LEN     3
#define DISTMSG_HDR_FRAG_START_LEN 19
#define DISTMSG_HDR_FRAG_CONT_LEN  18
#define DISTMSG_HDR_FRAG_MAX_LEN   DISTMSG_HDR_FRAG_START_LEN

#define DISTMSG_ERRORS(X)                                                                          \
    X(DISTMSG_OK, "ok")                                                                            \
    X(DISTMSG_E_NEED_MORE, "packet incomplete, more bytes needed")                                 \
    X(DISTMSG_E_FRAME_SIZE, "packet longer than the configured maximum")                           \
    X(DISTMSG_E_EMPTY, "empty packet where a message was expected")                                \
    X(DISTMSG_E_HEADER, "unknown distribution header")                                             \
    X(DISTMSG_E_HEADER_SHORT, "distribution header truncated")                                     \
    X(DISTMSG_E_ATOM_CACHE, "atom cache references in a header (the cache is never negotiated)")   \
    X(DISTMSG_E_FRAG_ID, "fragment id 0")                                                          \
    X(DISTMSG_E_FRAG_SEQ_DUP, "fragment start for a sequence already in progress")                 \
    X(DISTMSG_E_FRAG_SEQ_UNKNOWN, "continuation fragment for an unknown sequence")                 \
    X(DISTMSG_E_FRAG_ORDER, "fragment id out of order")                                            \
    X(DISTMSG_E_REASM_SEQS, "too many fragmented messages in flight")                              \
    X(DISTMSG_E_REASM_BYTES, "fragmented messages exceed the reassembly memory bound")             \
    X(DISTMSG_E_REASM_SHARED,                                                                      \
      "the node's reassembly memory is at its cap: message start refused, nothing changed")        \
    X(DISTMSG_E_REASM_GROWTH,                                                                      \
      "fragments larger than their message announced, beyond the node's reassembly memory")        \
    X(DISTMSG_E_NOMEM, "out of memory")                                                            \
    X(DISTMSG_E_CONFIG, "invalid arguments")                                                       \
    X(DISTMSG_E_VERSION, "term without version byte 131 in a pass-through message")                \
    X(DISTMSG_E_TERM, "term does not decode")                                                      \
    X(DISTMSG_E_CONTROL, "control message is not a tuple starting with an integer op")             \
    X(DISTMSG_E_UNKNOWN_OP, "unknown control message op")                                          \
    X(DISTMSG_E_ARITY, "control tuple has the wrong size for its op")                              \
    X(DISTMSG_E_FIELD, "control tuple field has the wrong type")                                   \
    X(DISTMSG_E_NO_PAYLOAD, "message term missing after the control tuple")                        \
    X(DISTMSG_E_TRAILING, "bytes after the last term")                                             \
    X(DISTMSG_E_TOO_LARGE, "control message too large to decode")                                  \
    X(DISTMSG_E_ENCODE, "encoding failed (name too long or out of memory)")                        \
    X(DISTMSG_E_PAYLOAD, "payload is not exactly one term with version byte 131")

enum distmsg_result {
#define DISTMSG_X_ENUM(code, msg) code,
    DISTMSG_ERRORS(DISTMSG_X_ENUM)
#undef DISTMSG_X_ENUM
        DISTMSG_E__COUNT
};

/* Message for a result code; never NULL, static storage. */
const char *distmsg_strerror(enum distmsg_result r);

/* --- framing --------------------------------------------------------------------------- */

struct distmsg_frame {
    const uint8_t *data; /* the packet after its length; points into the input */
    size_t len;          /* 0 = tick */
    size_t total;        /* DISTMSG_LEN_BYTES + len: bytes to drop from the input */
};

/* The next packet at the front of buf[0..len). DISTMSG_OK (*f set), DISTMSG_E_NEED_MORE, or
 * DISTMSG_E_FRAME_SIZE when the declared length exceeds max_packet (decided from the 4 length
 * bytes alone, so the caller never buffers more than DISTMSG_LEN_BYTES + max_packet). */
enum distmsg_result distmsg_frame_next(const uint8_t *buf, size_t len, size_t max_packet,
                                       struct distmsg_frame *f);

/* Write the 4-byte length of a packet of len bytes (len <= UINT32_MAX). */
void distmsg_frame_put_len(uint8_t out[DISTMSG_LEN_BYTES], uint32_t len);

/* --- distribution header ---------------------------------------------------------------- */

enum distmsg_hdr_kind {
    DISTMSG_HDR_PASS_THROUGH = 1,
    DISTMSG_HDR_NORMAL,
    DISTMSG_HDR_FRAG_START,
    DISTMSG_HDR_FRAG_CONT,
};

struct distmsg_hdr {
    enum distmsg_hdr_kind kind;
    uint64_t seq_id;  /* fragments only */
    uint64_t frag_id; /* fragments only; >= 1 */
    size_t len;       /* header bytes; the body starts at packet + len */
};

/* Decode the header of a (non-empty) packet. Errors: DISTMSG_E_EMPTY, DISTMSG_E_HEADER,
 * DISTMSG_E_HEADER_SHORT, DISTMSG_E_ATOM_CACHE, DISTMSG_E_FRAG_ID. */
enum distmsg_result distmsg_header_decode(const uint8_t *pkt, size_t len, struct distmsg_hdr *h);

/* Write the header of a fragment, the encoder beside distmsg_header_decode: kind
 * DISTMSG_HDR_FRAG_START writes 131 'E' SequenceId FragmentId 0 (NumberOfAtomCacheRefs; 19
 * bytes), DISTMSG_HDR_FRAG_CONT 131 'F' SequenceId FragmentId (18 bytes). Returns the bytes
 * written, or 0 (nothing written) when cap is too small, frag_id is 0 or kind is not a
 * fragment kind. */
size_t distmsg_frag_header_encode(uint8_t *out, size_t cap, enum distmsg_hdr_kind kind,
                                  uint64_t seq_id, uint64_t frag_id);

/* Whether pkt (a packet after its length) starts with 131 'D' 0: the normal header without
 * atom cache references that every message we build has (what a message needs to be sent
 * in fragments: its header is replaced by the fragment headers). Inline: the TCP carrier
 * asks it on every send. */
static inline bool distmsg_is_plain_normal_header(const uint8_t *pkt, size_t len)
{
    return len >= DISTMSG_HDR_NORMAL_LEN && pkt[0] == DISTMSG_VERSION &&
           pkt[1] == DISTMSG_HDR_NORMAL_TAG && pkt[2] == 0;
}

/* --- message bodies and reassembly ------------------------------------------------------ */

/* A complete message: control term then the optional message term. */
struct distmsg_body {
    const uint8_t *data;
    size_t len;
    bool versioned; /* pass-through: each term starts with 131 */
};

/* The fragment size BEAM cuts messages into (ERTS_DIST_FRAGMENT_SIZE, 64 KiB; it sends
 * data_size / 64 KiB + 1 fragments) and dpdist too (tcpc.c): the estimate a shared
 * reassembly budget reserves per fragment. */
#define DISTMSG_FRAG_EST_BYTES (64u * 1024)

struct distmsg_reasm_seq; /* private */
struct budget;            /* common/budget.h */

/* Reassembly of fragmented messages from one connection.
 *
 * Fragments of different senders interleave; fragments of one sequence arrive in order with
 * ids counting down to 1. Several sequences may be in flight, at most max_seqs, and their
 * buffers together hold at most max_bytes (capacity, not just contents). A violation is an
 * error (the offending sequence is dropped; the runtime should close the connection), never
 * growth. Lookup is linear in max_seqs, which is meant to be small (tens).
 *
 * Shared budget (distmsg_reasm_share): the node's reassembly memory, common to all its
 * connections. A start fragment ('E', FragmentId N) reserves its message's whole size from
 * it, estimated as N times the larger of its own body and frag_est (BEAM and dpdist cut
 * fragments of 64 KiB, so N * 64 KiB covers the message; capped at what max_bytes leaves of
 * the connection's reservations, so a budget of at least max_bytes always has room for the
 * messages of a connection when no other holds any). When the
 * budget has no room the start is refused with DISTMSG_E_REASM_SHARED and nothing changes:
 * the caller may feed the same packet again later. Messages in progress never need more
 * unless their fragments outgrow the estimate (a dishonest sender): that growth is taken from
 * the budget too, and DISTMSG_E_REASM_GROWTH drops the sequence when there is none. */
struct distmsg_reasm {
    struct distmsg_reasm_seq *seqs; /* max_seqs slots */
    size_t max_seqs;
    size_t max_bytes;
    size_t bytes;                   /* buffer capacity held */
    size_t in_flight;               /* sequences started, not finished */
    struct distmsg_reasm_seq *done; /* finished; freed by the next call */
    struct budget *shared;          /* NULL: none */
    size_t frag_est;                /* estimated fragment size for reservations */
    size_t shared_bytes;            /* taken from shared, for all sequences held */
    struct distmsg_reasm_seq *placing; /* the fragment being placed (distmsg_reasm_place) */
    size_t placing_len;                /* its body bytes */
};

/* Where the rest of a fragment's body goes (distmsg_reasm_place). */
struct distmsg_place {
    uint8_t *dst; /* inside the message's buffer; valid until distmsg_reasm_placed */
    size_t left;  /* bytes to write there */
};

/* Set up with its bounds (both >= 1). DISTMSG_OK, DISTMSG_E_CONFIG or DISTMSG_E_NOMEM. */
enum distmsg_result distmsg_reasm_init(struct distmsg_reasm *r, size_t max_seqs, size_t max_bytes);

/* Free everything (and give back what the shared budget lent); r may be re-initialised. */
void distmsg_reasm_fini(struct distmsg_reasm *r);

/* Draw from a shared budget from now on (before the first feed; shared outlives r). */
void distmsg_reasm_share(struct distmsg_reasm *r, struct budget *shared, size_t frag_est);

/* Frees the last finished message now instead of at the next feed (its body is no longer
 * used), giving its memory back. */
void distmsg_reasm_release(struct distmsg_reasm *r);

/* Feed one non-tick packet (after its length). On DISTMSG_OK, *complete tells whether *out
 * now holds a whole message: for unfragmented packets and single-fragment messages it points
 * into pkt; for reassembled ones into r, valid until the next call on r. Errors: those of
 * distmsg_header_decode and DISTMSG_E_FRAG_*, DISTMSG_E_REASM_*, DISTMSG_E_NOMEM. */
enum distmsg_result distmsg_reasm_feed(struct distmsg_reasm *r, const uint8_t *pkt, size_t len,
                                       struct distmsg_body *out, bool *complete);

/* Direct placement of a fragment whose body is still arriving: pkt holds its first `have`
 * bytes (the whole distribution header at least) of a packet of len bytes (after its
 * length). Checks it as distmsg_reasm_feed would (same errors; DISTMSG_E_REASM_SHARED
 * changes nothing), makes room for the whole body, copies the part at hand and tells where
 * the other p->left bytes go; nothing else may be fed until distmsg_reasm_placed. A packet
 * that is not a piece of a sequence (no fragment header, or a start with FragmentId 1) is
 * refused with DISTMSG_E_CONFIG, nothing changed: feed it whole. */
enum distmsg_result distmsg_reasm_place(struct distmsg_reasm *r, const uint8_t *pkt,
                                        size_t have, size_t len, struct distmsg_place *p);

/* The placed body is all written: as distmsg_reasm_feed's *out / *complete. */
void distmsg_reasm_placed(struct distmsg_reasm *r, struct distmsg_body *out, bool *complete);

/* The buffer of the message just completed (reassembled in r), or NULL: it becomes the
 * caller's (release it with bigbuf_free, common/bigbuf.h), and its memory is given back to
 * r's bound and the shared budget. The body handed out by the feed stays valid until the
 * caller frees it. */
void *distmsg_reasm_take(struct distmsg_reasm *r);

/* --- control messages ------------------------------------------------------------------- */

/* Operations (erl_dist_protocol.md; enum dop in erts dist.h). */
enum distmsg_op {
    DISTMSG_OP_LINK = 1,
    DISTMSG_OP_SEND = 2,
    DISTMSG_OP_EXIT = 3,
    DISTMSG_OP_UNLINK = 4,
    DISTMSG_OP_REG_SEND = 6,
    DISTMSG_OP_GROUP_LEADER = 7,
    DISTMSG_OP_EXIT2 = 8,
    DISTMSG_OP_SEND_TT = 12,
    DISTMSG_OP_EXIT_TT = 13,
    DISTMSG_OP_REG_SEND_TT = 16,
    DISTMSG_OP_EXIT2_TT = 18,
    DISTMSG_OP_MONITOR_P = 19,
    DISTMSG_OP_DEMONITOR_P = 20,
    DISTMSG_OP_MONITOR_P_EXIT = 21,
    DISTMSG_OP_SEND_SENDER = 22,
    DISTMSG_OP_SEND_SENDER_TT = 23,
    DISTMSG_OP_PAYLOAD_EXIT = 24,
    DISTMSG_OP_PAYLOAD_EXIT_TT = 25,
    DISTMSG_OP_PAYLOAD_EXIT2 = 26,
    DISTMSG_OP_PAYLOAD_EXIT2_TT = 27,
    DISTMSG_OP_PAYLOAD_MONITOR_P_EXIT = 28,
    DISTMSG_OP_SPAWN_REQUEST = 29,
    DISTMSG_OP_SPAWN_REQUEST_TT = 30,
    DISTMSG_OP_SPAWN_REPLY = 31,
    DISTMSG_OP_SPAWN_REPLY_TT = 32,
    DISTMSG_OP_ALIAS_SEND = 33,
    DISTMSG_OP_ALIAS_SEND_TT = 34,
    DISTMSG_OP_UNLINK_ID = 35,
    DISTMSG_OP_UNLINK_ID_ACK = 36,
};

/* SPAWN_REPLY flags */
#define DISTMSG_SPAWN_FLAG_LINK    1
#define DISTMSG_SPAWN_FLAG_MONITOR 2

struct distmsg_span {
    size_t off; /* into the body */
    size_t len;
};

/* A decoded control message. Which fields are meaningful depends on op (see the table in
 * erl_dist_protocol.md); the others are zero or empty strings (only the first byte of an
 * unused name buffer is cleared). About 8 KB: keep one per connection rather than on a
 * small stack. */
struct distmsg_ctl {
    enum distmsg_op op;
    erlang_pid from;   /* FromPid; SPAWN_REQUEST: From */
    erlang_pid to;     /* ToPid; SPAWN_REPLY: To */
    bool from_is_name; /* MONITOR_P_EXIT / PAYLOAD_MONITOR_P_EXIT: FromProc an atom */
    char from_name[MAXATOMLEN_UTF8];
    bool to_is_name; /* REG_SEND(_TT): ToName; (DE)MONITOR_P: ToProc an atom */
    char to_name[MAXATOMLEN_UTF8];
    erlang_ref ref;            /* monitor Ref; ALIAS_SEND: Alias; SPAWN_*: ReqId */
    uint64_t unlink_id;        /* UNLINK_ID(_ACK) */
    erlang_pid group_leader;   /* SPAWN_REQUEST */
    char mod[MAXATOMLEN_UTF8]; /* SPAWN_REQUEST {M, F, A} */
    char fun[MAXATOMLEN_UTF8];
    long arity;
    struct distmsg_span opts;   /* SPAWN_REQUEST OptList */
    long spawn_flags;           /* SPAWN_REPLY Flags */
    struct distmsg_span result; /* SPAWN_REPLY Result (pid or error atom) */
    bool has_token;
    struct distmsg_span token; /* *_TT: the trace token, not interpreted */
    bool has_reason;
    struct distmsg_span reason; /* EXIT, EXIT2, MONITOR_P_EXIT (+_TT): Reason in the tuple */
    bool has_payload;
    struct distmsg_span payload; /* the term after the control tuple: Message (SEND*,
                                  * REG_SEND*, ALIAS_SEND*), Reason (PAYLOAD_*), ArgList
                                  * (SPAWN_REQUEST*) */
};

/* Decode a complete message body. Checks the whole body: the control tuple, its fields for
 * the op, and that exactly the expected terms follow (a message term for the ops that carry
 * one, nothing otherwise). Errors: DISTMSG_E_VERSION, _TERM, _CONTROL, _UNKNOWN_OP, _ARITY,
 * _FIELD, _NO_PAYLOAD, _TRAILING, _TOO_LARGE. Never reads outside body. */
enum distmsg_result distmsg_decode(const struct distmsg_body *body, struct distmsg_ctl *ctl);

/* Whether an op is followed by a message term. */
bool distmsg_op_has_payload(enum distmsg_op op);

/* --- encoders ----------------------------------------------------------------------------
 * Each appends [131]['D'][0] and the control tuple (no version byte) to x, which the caller
 * created (ei_x_new) and frees (ei_x_free). For ops followed by a message term, the caller
 * then appends that term with distmsg_append_payload(). The packet to send is x->buff[0..
 * x->index) after a 4-byte length (distmsg_frame_put_len). Pids and references are encoded
 * by ei (NEW_PID_EXT, NEWER_REFERENCE_EXT); atoms as UTF-8. All return DISTMSG_OK or
 * DISTMSG_E_ENCODE (x may then hold a partial message: discard it). */

enum distmsg_result distmsg_encode_send(ei_x_buff *x, const erlang_pid *to);
enum distmsg_result distmsg_encode_send_sender(ei_x_buff *x, const erlang_pid *from,
                                               const erlang_pid *to);
enum distmsg_result distmsg_encode_reg_send(ei_x_buff *x, const erlang_pid *from,
                                            const char *to_name);
enum distmsg_result distmsg_encode_alias_send(ei_x_buff *x, const erlang_pid *from,
                                              const erlang_ref *alias);
enum distmsg_result distmsg_encode_link(ei_x_buff *x, const erlang_pid *from, const erlang_pid *to);
enum distmsg_result distmsg_encode_unlink_id(ei_x_buff *x, uint64_t id, const erlang_pid *from,
                                             const erlang_pid *to);
enum distmsg_result distmsg_encode_unlink_id_ack(ei_x_buff *x, uint64_t id, const erlang_pid *from,
                                                 const erlang_pid *to);
/* Exit signals with the reason as the payload (DFLAG_EXIT_PAYLOAD). */
enum distmsg_result distmsg_encode_payload_exit(ei_x_buff *x, const erlang_pid *from,
                                                const erlang_pid *to);
enum distmsg_result distmsg_encode_payload_exit2(ei_x_buff *x, const erlang_pid *from,
                                                 const erlang_pid *to);
/* Monitor target: to_pid, or (to_pid NULL) the registered name to_name on the peer. */
enum distmsg_result distmsg_encode_monitor_p(ei_x_buff *x, const erlang_pid *from,
                                             const erlang_pid *to_pid, const char *to_name,
                                             const erlang_ref *ref);
enum distmsg_result distmsg_encode_demonitor_p(ei_x_buff *x, const erlang_pid *from,
                                               const erlang_pid *to_pid, const char *to_name,
                                               const erlang_ref *ref);
/* The monitored process: from_pid, or (from_pid NULL) the name it was monitored by. The
 * reason follows as payload. */
enum distmsg_result distmsg_encode_payload_monitor_p_exit(ei_x_buff *x, const erlang_pid *from_pid,
                                                          const char *from_name,
                                                          const erlang_pid *to,
                                                          const erlang_ref *ref);
/* SPAWN_REPLY with an error atom as Result (e.g. "notsup", "badarg"). */
enum distmsg_result distmsg_encode_spawn_reply_error(ei_x_buff *x, const erlang_ref *req_id,
                                                     const erlang_pid *to, long flags,
                                                     const char *error);

/* Append a message term given in the external format (term[0] == 131, as term_to_binary or
 * ei_x_new_with_version produce) without its version byte, as terms after a 'D' header must
 * be. Checks that term[0..len) is exactly one well-formed term: DISTMSG_E_PAYLOAD otherwise,
 * DISTMSG_E_ENCODE if appending fails. */
enum distmsg_result distmsg_append_payload(ei_x_buff *x, const uint8_t *term, size_t len);

#ifdef __cplusplus
}
#endif

#endif
