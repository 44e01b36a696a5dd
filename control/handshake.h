/* The Erlang distribution handshake (erl_dist_protocol.md "Distribution Handshake", version 6
 * with DFLAG_HANDSHAKE_23) as a pure state machine: bytes in, bytes out. No I/O, no
 * logging, no clock, no allocation. Both roles.
 *
 * Owns: the hs_ state machine and its error table. Called by the TCP carrier/connection
 * manager of the runtime, one struct hs per connection being set up; tests and fuzzers drive
 * it directly. An object is used by one thread at a time; distinct objects are independent.
 *
 * Messages (each framed by a 2-byte big-endian length; A = initiator, B = acceptor):
 *   A->B  'N' Flags:64 Creation:32 Nlen:16 Name [our trailer]          send_name
 *        (or, from OTP 23/24 without epmd: 'n' Version:16=5 Flags:32 Name)
 *   B->A  's' Status ("ok" | "ok_simultaneous" | "nok" | "not_allowed" | "alive")
 *   A->B  's' "true" | "false"                         only after "alive"
 *   B->A  'N' Flags:64 Challenge:32 Creation:32 Nlen:16 Name [our trailer]
 *   A->B  'c' FlagsHigh:32 Creation:32                 only after an old 'n'
 *   A->B  'r' Challenge:32 Digest:16                   Digest = MD5(cookie ++ dec(B's challenge))
 *   B->A  'a' Digest:16                                Digest = MD5(cookie ++ dec(A's challenge))
 * Anything after the name in an 'N' message is the peer's trailer: BEAM sends none and ignores
 * ours; dpdist peers use it to advertise the data plane.
 *
 * Driving it:
 *   hs_init(); then loop { send hs_output() bytes (hs_output_consumed); read from the socket,
 *   append to a receive buffer and call hs_feed() on the whole buffer; drop the `consumed`
 *   bytes from its front } until hs_feed() returns HS_DONE or HS_FAILED.
 *   hs_feed() consumes whole 2-byte-framed messages only, so partial messages stay in the
 *   caller's buffer; a receive buffer of HS_RX_MAX bytes always suffices (a longer declared
 *   length fails at once with HS_E_TOO_LARGE). On HS_DONE the bytes after the last handshake
 *   message are left unconsumed: they already belong to the connected phase (4-byte framing).
 *   On HS_DONE (acceptor: the final 'a') and on some HS_FAILED (acceptor refusals: the status
 *   message; initiator: "false") output is still pending: send it before switching framing or
 *   closing.
 *
 * The machine keeps the transcript of the messages (hs_transcript) in a fixed array: no
 * allocation, no hashing here.
 *
 * Policy stays with the caller through callbacks: which cookie for which peer, the challenge
 * (random in production, fixed in tests), what status to answer (simultaneous connect, node
 * already up), and what to answer to "alive".
 */
#ifndef DPDIST_CONTROL_HANDSHAKE_H
#define DPDIST_CONTROL_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/distflags.h"
#include "control/nodename.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest node name in bytes (255 UTF-8 characters). */
#define HS_NAME_MAX NODENAME_MAX_BYTES
/* Longest trailer we append to our own 'N' message. */
#define HS_TRAILER_MAX 512
/* Longest handshake message body we accept (our largest 'N' is 19 + 1020 + 512 bytes). */
#define HS_MSG_MAX 2048
/* Receive buffer the caller needs at most: one maximal message and its length prefix. */
#define HS_RX_MAX (2 + HS_MSG_MAX)
/* Output queue: enough for everything one role can emit before the caller drains it. */
#define HS_OUT_CAP    (2 * HS_RX_MAX)
#define HS_DIGEST_LEN 16
/* The version the old 'n' send_name must carry. */
#define HS_OLD_NAME_VERSION 5
/* Messages one handshake can see, both directions: at most 4 received (acceptor: n, "true",
 * c, r) and 3 sent (status, N, a); every one at most 2 + HS_MSG_MAX bytes. */
#define HS_TRANSCRIPT_MSGS 7
#define HS_TRANSCRIPT_MAX  (HS_TRANSCRIPT_MSGS * HS_RX_MAX)

#define HS_ERRORS(X)                                                                               \
    X(HS_OK, "ok")                                                                                 \
    X(HS_E_CONFIG, "invalid handshake configuration or callback result")                           \
    X(HS_E_TOO_LARGE, "handshake message longer than HS_MSG_MAX")                                  \
    X(HS_E_TRUNCATED, "handshake message too short for its fields")                                \
    X(HS_E_LENGTH, "handshake message has bytes beyond its fixed size")                            \
    X(HS_E_TAG, "unexpected handshake message tag for this state")                                 \
    X(HS_E_OLD_VERSION, "old send_name ('n') with a version other than 5")                         \
    X(HS_E_NO_HANDSHAKE_23, "peer lacks DFLAG_HANDSHAKE_23 (handshake before OTP 23)")             \
    X(HS_E_FLAGS_MISSING, "peer lacks mandatory distribution flags")                               \
    X(HS_E_NAME_ME, "peer asks for a dynamic node name (DFLAG_NAME_ME): not supported")            \
    X(HS_E_PEER_NAME, "peer node name is malformed")                                               \
    X(HS_E_NAME_MISMATCH, "the node answering is not the node dialled")                            \
    X(HS_E_NAME_KIND, "short and long node names cannot be mixed")                                 \
    X(HS_E_STATUS_NOK, "status nok: the other side's own connection attempt wins")                 \
    X(HS_E_STATUS_NOT_ALLOWED, "status not_allowed: connection refused")                           \
    X(HS_E_STATUS_FALSE, "alive answered false: the existing connection stays")                    \
    X(HS_E_STATUS_UNKNOWN, "unknown or unexpected status")                                         \
    X(HS_E_DIGEST, "wrong digest: the nodes do not share a cookie")                                \
    X(HS_E_COOKIE, "no cookie for this peer")                                                      \
    X(HS_E_RANDOM, "no challenge could be drawn")                                                  \
    X(HS_E_CRYPTO, "digest computation failed")                                                    \
    X(HS_E_OUTPUT, "output queue full")

/* For HS_E_DIGEST, OTP 25 logs "** Connection attempt from node NAME rejected. Invalid
 * challenge reply. **" (acceptor) or "** Connection attempt to node NAME cancelled. Invalid
 * challenge ack. **" (initiator); hs_result()->peer_name holds NAME for such lines. */
enum hs_error {
#define HS_X_ENUM(code, msg) code,
    HS_ERRORS(HS_X_ENUM)
#undef HS_X_ENUM
        HS_E__COUNT
};

/* Message for an error code; never NULL, static storage. */
const char *hs_strerror(enum hs_error e);

enum hs_role {
    HS_INITIATOR = 1, /* "A": we dialled */
    HS_ACCEPTOR = 2,  /* "B": we accepted */
};

/* recv_status values. */
enum hs_status {
    HS_STATUS_NONE = 0,
    HS_STATUS_OK,
    HS_STATUS_OK_SIMULTANEOUS, /* go on; the acceptor drops its own attempt */
    HS_STATUS_NOK,             /* stop; the acceptor's own attempt wins */
    HS_STATUS_NOT_ALLOWED,     /* stop; refused */
    HS_STATUS_ALIVE,           /* already connected: the initiator answers true/false */
};

/* Status word as sent on the wire ("ok", ...); "" for HS_STATUS_NONE. */
const char *hs_status_name(enum hs_status s);

enum hs_step {
    HS_CONTINUE = 0,
    HS_DONE,
    HS_FAILED,
};

/* Called synchronously from hs_init/hs_feed, on the caller's thread. */
struct hs_callbacks {
    /* Cookie to use with peer_name (both directions), or NULL to refuse (HS_E_COOKIE). The
     * string is only read during the call. Both roles. */
    const char *(*cookie)(void *arg, const char *peer_name);
    /* A fresh 32-bit challenge into *out; nonzero return = failure (HS_E_RANDOM). Both roles;
     * production uses cookie_challenge(). */
    int (*challenge)(void *arg, uint32_t *out);
    /* Acceptor: the status to answer to peer_name (flags as expanded by dflags_expand), after
     * the name, flags and name kind passed the checks. HS_STATUS_NOT_ALLOWED for a node that
     * may not connect (the runtime logs "Connection attempt from disallowed node NAME"). */
    enum hs_status (*admit)(void *arg, const char *peer_name, uint64_t peer_flags);
    /* Initiator: answer to status "alive": true = our old connection to peer_name is gone,
     * go on; false = stop. */
    bool (*alive_answer)(void *arg, const char *peer_name);
};

struct hs_config {
    enum hs_role role;
    const char *my_name;       /* full name, NUL-terminated */
    uint32_t my_creation;      /* from EPMD */
    uint64_t my_flags;         /* usually DISTFLAGS_ADVERTISED (| DFLAG_PUBLISHED) */
    uint64_t required_flags;   /* required of the peer on top of DISTFLAGS_MANDATORY */
    const char *expected_peer; /* initiator: the node dialled; the challenge must name it */
    const uint8_t *trailer;    /* appended after the name in our 'N' message; may be NULL */
    size_t trailer_len;        /* <= HS_TRAILER_MAX */
    const struct hs_callbacks *cb;
    void *cb_arg;
};

/* What the handshake learnt. Fields fill in as they become known (peer_name as soon as the
 * peer's name passed its checks, so a failure can still be logged with it); complete on
 * HS_DONE. */
struct hs_result {
    char peer_name[HS_NAME_MAX + 1]; /* "" until known */
    uint64_t peer_flags;             /* as sent, expanded by dflags_expand() */
    uint64_t flags;                  /* negotiated: my_flags & peer_flags */
    uint32_t peer_creation;
    uint8_t peer_trailer[HS_MSG_MAX]; /* bytes after the name in the peer's 'N' message */
    size_t peer_trailer_len;
    enum hs_status status;   /* status exchanged (acceptor: sent; initiator: received) */
    bool alive_true;         /* status alive and the initiator answered true: the runtime
                              * must drop the old connection to this peer */
    bool peer_used_old_name; /* acceptor: the peer sent 'n' + 'c' (OTP 23/24) */
};

/* One handshake. Caller-allocated (it is about 23 KB, no pointers to free); all fields are
 * private to handshake.c: use the functions below. */
struct hs {
    struct hs_config cfg; /* the strings, trailer and callbacks must outlive the handshake */
    int state;
    enum hs_error error;
    uint64_t required;
    enum nodename_kind my_kind;
    uint32_t my_challenge;
    uint8_t expected_ack[HS_DIGEST_LEN]; /* initiator */
    struct hs_result res;
    size_t transcript_len;
    bool transcript_overflow; /* cannot happen within the bounds above; kept as a guard */
    size_t out_head, out_len;
    uint8_t out[HS_OUT_CAP];
    uint8_t transcript[HS_TRANSCRIPT_MAX];
};

/* Start a handshake. The initiator queues its send_name at once. Returns HS_OK, or
 * HS_E_CONFIG (missing callbacks or names, trailer too long, my_flags without
 * DFLAG_HANDSHAKE_23 or with DFLAG_NAME_ME, invalid names) or HS_E_NAME_KIND (initiator: short
 * name dialling a long one or the reverse); then the object is failed. */
enum hs_error hs_init(struct hs *hs, const struct hs_config *cfg);

/* Process the whole messages at the front of data[0..len). *consumed = bytes used (whole
 * messages only, never past the message that ended the handshake). Returns HS_CONTINUE
 * (need more input; check the output), HS_DONE or HS_FAILED (hs_last_error() says why). Once
 * done or failed, further calls consume nothing and return the same step. */
enum hs_step hs_feed(struct hs *hs, const uint8_t *data, size_t len, size_t *consumed);

/* Bytes waiting to be sent: *ptr and the count (0 = nothing). Valid until the next call
 * that takes a non-const hs. */
size_t hs_output(const struct hs *hs, const uint8_t **ptr);

/* Mark n output bytes as sent (n <= what hs_output returned). */
void hs_output_consumed(struct hs *hs, size_t n);

/* HS_OK unless failed. */
enum hs_error hs_last_error(const struct hs *hs);

/* Results so far (see struct hs_result); owned by hs. */
const struct hs_result *hs_result(const struct hs *hs);

/* The handshake transcript: every handshake message this machine sent or received, each as
 * on the wire (2-byte big-endian length, then the body), in wire order, both directions
 * interleaved. The handshake is lock-step, so on HS_DONE both ends hold the same bytes (what
 * the data-plane key schedule hashes: control/keysched.h, docs/security.md); the old 'n' and
 * its 'c', the alive/"true" exchange and the trailers are included as sent. Bytes after the
 * message that ended the handshake are not (they belong to the connected phase). Sets *ptr
 * and returns the length; *ptr is owned by hs, valid until the next call that takes a
 * non-const hs. Returns 0 (and *ptr NULL) if the transcript did not fit, which the bounds of
 * HS_TRANSCRIPT_MAX exclude. */
size_t hs_transcript(const struct hs *hs, const uint8_t **ptr);

#ifdef __cplusplus
}
#endif

#endif
