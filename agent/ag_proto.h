/* ag_proto: the protocol between a BEAM VM and its host's agent, on the agent's Unix socket:
 * the link (REGISTER, offers, probes, stats) and the attach of a data socket (docs/agent.md
 * §6 is the specification; beam/src/dpdist_agent.erl is the other side).
 *
 * Owns: the ag_proto_ codec, struct ag_msg, the result and reason tables. Pure: bytes in, a
 * struct out and back; no I/O, no allocation. Thread-safe: no shared state. A decoded message
 * borrows its variable fields (names, trailers, texts) from the input buffer.
 *
 * Framing: every message is length(2) ‖ type(1) ‖ fields, big-endian ({packet,2} in Erlang).
 * Layouts are fixed per type; variable fields carry their own length. A message whose length
 * disagrees with its type's layout, an unknown type, a reserved byte that is not 0 or a field
 * out of range is refused as a whole (the receiver closes that socket). Versions: REGISTER and
 * WELCOME carry AG_PROTO_VERSION; the codec decodes any version so that the agent can answer
 * REFUSED(version) instead of closing.
 */
#ifndef DPDIST_AGENT_AG_PROTO_H
#define DPDIST_AGENT_AG_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "control/dptrailer.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AG_PROTO_VERSION   1
#define AG_PROTO_LEN_BYTES 2
/* Longest body this codec accepts or writes; larger declared lengths are refused from the
 * two length bytes alone (the longest real message, ATTACH, is 438 bytes). */
#define AG_PROTO_BODY_MAX   2048
#define AG_PROTO_MSG_MAX    (AG_PROTO_LEN_BYTES + AG_PROTO_BODY_MAX)
#define AG_PROTO_NAME_MAX   1023 /* node names: 255 characters of up to 4 UTF-8 bytes */
#define AG_PROTO_TEXT_MAX   1024
#define AG_PROTO_EXTRA_MAX  255
#define AG_PROTO_KEY_LEN    32
#define AG_PROTO_IV_LEN     12
#define AG_PROTO_TAG_LEN    16
#define AG_PROTO_TOKEN_LEN  DPTRAILER_TOKEN_LEN
#define AG_PROTO_X25519_LEN DPTRAILER_X25519_LEN

/* Message types: X(code, value, name). */
#define AG_PROTO_TYPES(X)                                                                          \
    X(AG_MSG_REGISTER, 1, "REGISTER")                                                              \
    X(AG_MSG_WELCOME, 2, "WELCOME")                                                                \
    X(AG_MSG_OFFER_OUT, 3, "OFFER_OUT")                                                            \
    X(AG_MSG_OFFER, 4, "OFFER")                                                                    \
    X(AG_MSG_OFFER_IN, 5, "OFFER_IN")                                                              \
    X(AG_MSG_ANSWER, 6, "ANSWER")                                                                  \
    X(AG_MSG_ATTACH, 7, "ATTACH")                                                                  \
    X(AG_MSG_ATTACHED, 8, "ATTACHED")                                                              \
    X(AG_MSG_REFUSED, 9, "REFUSED")                                                                \
    X(AG_MSG_PROBE, 10, "PROBE")                                                                   \
    X(AG_MSG_PROBE_ACK, 11, "PROBE_ACK")                                                           \
    X(AG_MSG_STATS, 12, "STATS")                                                                   \
    X(AG_MSG_STATS_REPLY, 13, "STATS_REPLY")                                                       \
    X(AG_MSG_CONN_DOWN, 14, "CONN_DOWN")

enum ag_msg_type {
#define AG_X_ENUM(code, value, name) code = value,
    AG_PROTO_TYPES(AG_X_ENUM)
#undef AG_X_ENUM
};
#define AG_MSG_TYPE_MAX 14

/* Why the agent refuses something or closes a connection (REFUSED, OFFER/ANSWER status,
 * CONN_DOWN, STATS_REPLY status): X(code, value, name, message). 0 is success. */
#define AG_PROTO_REASONS(X)                                                                        \
    X(AG_REASON_OK, 0, "ok", "ok")                                                                 \
    X(AG_REASON_NOT_ALLOWED, 1, "not_allowed", "this uid/gid may not use the agent")               \
    X(AG_REASON_VERSION, 2, "version", "unsupported protocol version")                             \
    X(AG_REASON_LIMIT, 3, "limit", "the agent is at a limit (VMs, connections, pending offers)")   \
    X(AG_REASON_UNKNOWN_TOKEN, 4, "unknown_token", "no pending offer of this VM has that token")   \
    X(AG_REASON_BAD_MESSAGE, 5, "bad_message", "malformed or unexpected message")                  \
    X(AG_REASON_UNREACHABLE, 6, "unreachable", "the peer's endpoint cannot be reached")            \
    X(AG_REASON_NO_LINK, 7, "no_link", "the VM has no live link to the agent")                     \
    X(AG_REASON_SHUTTING_DOWN, 8, "shutting_down", "the agent is stopping")                        \
    X(AG_REASON_BAD_TRAILER, 9, "bad_trailer", "the peer's trailer does not decode or match")      \
    X(AG_REASON_KEYS, 10, "keys", "the data-plane keys of the two ends did not match")             \
    X(AG_REASON_TIMEOUT, 11, "timeout", "the peer did not attach in time")                         \
    X(AG_REASON_PEER_CLOSED, 12, "peer_closed", "the peer closed the connection")                  \
    X(AG_REASON_PROBE, 13, "probe", "a probe went unanswered past its deadline")                   \
    X(AG_REASON_PROTOCOL, 14, "protocol", "the VM wrote something that is no distribution packet") \
    X(AG_REASON_UNKNOWN_CONN, 15, "unknown_conn", "no such connection of this VM")

enum ag_reason {
#define AG_X_ENUM(code, value, name, msg) code = value,
    AG_PROTO_REASONS(AG_X_ENUM)
#undef AG_X_ENUM
};
#define AG_REASON_MAX 15

#define AG_PROTO_RESULTS(X)                                                                        \
    X(AG_PROTO_OK, "ok")                                                                           \
    X(AG_PROTO_NEED_MORE, "message incomplete, more bytes needed")                                 \
    X(AG_PROTO_E_TOO_LONG, "declared length above the longest message")                            \
    X(AG_PROTO_E_TYPE, "unknown message type")                                                     \
    X(AG_PROTO_E_LENGTH, "length disagrees with the type's layout")                                \
    X(AG_PROTO_E_FIELD, "a field is out of range or a reserved byte is not 0")                     \
    X(AG_PROTO_E_SPACE, "output buffer too small")

enum ag_proto_result {
#define AG_X_ENUM(code, msg) code,
    AG_PROTO_RESULTS(AG_X_ENUM)
#undef AG_X_ENUM
        AG_PROTO__COUNT
};

/* Never NULL, static storage. */
const char *ag_proto_strerror(enum ag_proto_result r);
const char *ag_proto_type_name(unsigned type);
const char *ag_reason_name(unsigned reason);
const char *ag_reason_text(unsigned reason);

enum ag_role { AG_ROLE_INITIATOR = 1, AG_ROLE_ACCEPTOR = 2 };

/* STATS_REPLY: one connection as its agent sees it. Lanes: tx is what this VM wrote, rx what
 * was written to it. For the loopback channel, mtu/rtt/hb/retransmits/drops are 0. */
struct ag_stats {
    uint32_t req;
    uint16_t status;        /* enum ag_reason: 0, or unknown_conn */
    uint64_t peer_endpoint; /* the endpoint at the other end of the channel */
    uint16_t mtu;
    uint32_t rtt_us;
    uint32_t hb_interval_us;
    uint64_t retransmits;
    uint64_t drops;
    uint64_t barriers;  /* barrier packets this VM wrote */
    uint64_t reordered; /* packets sent ahead of earlier arrivals (other senders passed) */
    uint64_t pulse_tx_frames, pulse_rx_frames, ticks_tx, ticks_rx;
    uint64_t express_tx_msgs, express_tx_bytes, express_rx_msgs, express_rx_bytes;
    uint64_t normal_tx_msgs, normal_tx_bytes, normal_rx_msgs, normal_rx_bytes;
};

/* One message. Pointers borrow from the decoded buffer (decode) or are read (encode). */
struct ag_msg {
    enum ag_msg_type type;
    union {
        struct {
            uint8_t version;
            uint32_t os_pid;
            uint16_t name_len; /* 1..AG_PROTO_NAME_MAX */
            const uint8_t *name;
        } reg;
        struct {
            uint8_t version;
            uint8_t mode; /* enum dptrailer_mode */
            uint32_t vm_id;
            uint64_t endpoint_id;
            uint32_t max_conns;
            uint32_t probe_interval_ms;
            uint32_t probe_timeout_ms;
        } welcome;
        struct {
            uint32_t req;
            uint8_t x25519_pub[AG_PROTO_X25519_LEN];
            uint8_t extra_len;
            const uint8_t *extra; /* the peer's EPMD Extra */
            uint16_t name_len;    /* 1..AG_PROTO_NAME_MAX */
            const uint8_t *name;  /* the peer's node name */
        } offer_out;
        struct { /* OFFER and ANSWER */
            uint32_t req;
            uint16_t status; /* enum ag_reason; 0: trailer follows, else len 0 */
            uint16_t len;    /* 0, or 1..DPTRAILER_MAX_LEN */
            const uint8_t *trailer;
        } offer;
        struct {
            uint32_t req;
            uint8_t x25519_pub[AG_PROTO_X25519_LEN];
            uint16_t len; /* 1..DPTRAILER_MAX_LEN */
            const uint8_t *offer;
        } offer_in;
        struct {
            uint8_t role; /* enum ag_role */
            uint8_t token[AG_PROTO_TOKEN_LEN];
            uint8_t tx_key[AG_PROTO_KEY_LEN], tx_iv[AG_PROTO_IV_LEN];
            uint8_t rx_key[AG_PROTO_KEY_LEN], rx_iv[AG_PROTO_IV_LEN];
            uint8_t channel_key[AG_PROTO_KEY_LEN];
            uint8_t confirm_tx[AG_PROTO_TAG_LEN], confirm_rx[AG_PROTO_TAG_LEN];
            uint16_t len; /* 1..DPTRAILER_MAX_LEN */
            const uint8_t *peer_trailer;
        } attach;
        struct {
            uint32_t conn_id;
        } attached;
        struct { /* REFUSED and CONN_DOWN (conn_id in req's place) */
            uint32_t req;
            uint16_t reason;
            uint16_t text_len; /* 0..AG_PROTO_TEXT_MAX */
            const uint8_t *text;
        } refused;
        struct { /* PROBE and PROBE_ACK */
            uint32_t seq;
        } probe;
        struct {
            uint32_t req;
            uint32_t conn_id;
        } stats;
        struct ag_stats stats_reply;
    } u;
};

/* The next message at the front of buf[0..len): AG_PROTO_OK with *body and *body_len (after the
 * length) and *total (bytes to drop), AG_PROTO_NEED_MORE, or AG_PROTO_E_TOO_LONG when the
 * declared length exceeds AG_PROTO_BODY_MAX (decided from the length bytes alone). */
enum ag_proto_result ag_proto_frame(const uint8_t *buf, size_t len, const uint8_t **body,
                                    size_t *body_len, size_t *total);

/* Decodes a message body (type byte first). On error *m is zeroed. */
enum ag_proto_result ag_proto_decode(const uint8_t *body, size_t len, struct ag_msg *m);

/* Writes m with its 2-byte length into buf (cap bytes); *len gets the bytes written.
 * Refuses what decode would refuse (AG_PROTO_E_FIELD, AG_PROTO_E_TYPE) and AG_PROTO_E_SPACE
 * when cap is too small; nothing is written then. */
enum ag_proto_result ag_proto_encode(const struct ag_msg *m, uint8_t *buf, size_t cap, size_t *len);

#ifdef __cplusplus
}
#endif

#endif
