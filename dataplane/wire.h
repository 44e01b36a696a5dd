/* Fast path: no allocation, no locks, no logging.
 *
 * wire: the data plane's frame format (docs/dataplane.md §1) on plain byte buffers.
 * Ethernet (14) | IPv4 (20, no options) | UDP (8) | dpdist header (48) | payload | tag (16).
 * Wire version 2: the header carries the packet number `pn` (under the tag: anti-replay) and
 * the connection `conn`; the 16-byte trailer is the frame's authentication tag
 * (dataplane/fauth.h over header ‖ payload; 16 zero bytes when the channel runs
 * frame_auth = none). Sealing and verifying are dp_auth.c's; wire only places the bytes.
 *
 * Owns: header encode/decode, the IPv4 header checksum, the ACK and HEARTBEAT payloads,
 * stateless receive validation, and the one table of drop reasons every data-plane layer
 * counts with (stateless ones decided here, stateful ones by chan/reasm/the engine).
 * Pure functions: any thread may call them.
 */
#ifndef DPDIST_DATAPLANE_WIRE_H
#define DPDIST_DATAPLANE_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DP_WIRE_VERSION 2

#define WIRE_ETH_LEN      14
#define WIRE_IPV4_LEN     20
#define WIRE_UDP_LEN      8
#define WIRE_DP_HDR_LEN   48
#define WIRE_TAG_LEN      16 /* = FAUTH_TAG_LEN: the trailer after the payload */
/* 92: what a frame spends of the MTU besides its payload (IPv4, UDP, dpdist header, tag). */
#define WIRE_L3_HDRS_LEN  (WIRE_IPV4_LEN + WIRE_UDP_LEN + WIRE_DP_HDR_LEN + WIRE_TAG_LEN)
/* 90: the bytes before the payload (wire_encode_headers writes them). */
#define WIRE_ALL_HDRS_LEN (WIRE_ETH_LEN + WIRE_IPV4_LEN + WIRE_UDP_LEN + WIRE_DP_HDR_LEN)
/* 106: a whole frame is WIRE_FRAME_OVERHEAD + payload bytes. */
#define WIRE_FRAME_OVERHEAD (WIRE_ALL_HDRS_LEN + WIRE_TAG_LEN)
/* Offset of the dpdist header in a whole frame, and of its pn field. */
#define WIRE_DP_OFF    (WIRE_ETH_LEN + WIRE_IPV4_LEN + WIRE_UDP_LEN)
#define WIRE_PN_OFF    32 /* inside the dpdist header */
/* Packet numbers come from two counters per direction, one per receive queue: pulse-lane
 * frames (ACK, HEARTBEAT, CLOSE) have this bit set, data frames not. The receiver reads its
 * pulse queue ahead of a data queue that may hold a thousand frames, so one counter would
 * push queued data behind the replay window (dp_auth.c). Disjoint spaces: no nonce repeats. */
#define WIRE_PN_PULSE_BIT (UINT64_C(1) << 61)
/* Offset of the dpdist header's `lane` byte in a whole frame (the engine sorts the frames it
 * built onto the port's pulse or data queue by it). */
#define WIRE_LANE_OFF (WIRE_ETH_LEN + WIRE_IPV4_LEN + WIRE_UDP_LEN + 2)

#define WIRE_ETHERTYPE_IPV4 0x0800
#define WIRE_IPPROTO_UDP    17
#define WIRE_IPV4_TTL       64

/* Frame types (header byte 1). */
enum wire_type {
    WIRE_T_DATA = 1,
    WIRE_T_ACK = 2,
    WIRE_T_HEARTBEAT = 3,
    WIRE_T_CLOSE = 4,
};

/* Lanes (header byte 2). */
enum wire_lane {
    WIRE_LANE_PULSE = 0,
    WIRE_LANE_EXPRESS = 1,
    WIRE_LANE_NORMAL = 2,
};
#define WIRE_LANES 3

/* DATA flags (header byte 3); other bits must be 0. */
#define WIRE_F_FIRST 0x01u /* frag_off == 0 */
#define WIRE_F_LAST  0x02u /* fragment ends the message */

/* ACK payload: credit_limit (8) + SACK bitmap (header `flow` bytes, at most this many). */
#define WIRE_ACK_FIXED_LEN  8
#define WIRE_SACK_MAX_BYTES 1024
#define WIRE_ACK_MAX_LEN    (WIRE_ACK_FIXED_LEN + WIRE_SACK_MAX_BYTES)
#define WIRE_HEARTBEAT_LEN  16 /* tx_time_ns (8) + credit_limit (8) */

/* Every reason a received frame is dropped, in one table: the engine keeps one counter
 * per entry. "stateless" ones come from wire_parse(); the rest from the engine (session,
 * source), chan (window, credit, liveness) and reasm (message consistency, bounds). */
#define WIRE_DROPS(X)                                                                              \
    X(WIRE_OK, "ok", "accepted")                                                                   \
    X(WIRE_DROP_SHORT, "short", "frame ends before the end of the dpdist header")                  \
    X(WIRE_DROP_NOT_IPV4, "not_ipv4", "Ethernet type is not IPv4")                                 \
    X(WIRE_DROP_BAD_IP, "bad_ip", "IPv4 header malformed, fragmented, not UDP or bad checksum")    \
    X(WIRE_DROP_BAD_UDP, "bad_udp", "UDP destination port not ours or UDP length wrong")           \
    X(WIRE_DROP_BAD_VERSION, "bad_version", "dpdist header version is not 2")                      \
    X(WIRE_DROP_BAD_HEADER, "bad_header",                                                          \
      "unknown type, lane, flags, flow out of range, or a reserved field not 0")                   \
    X(WIRE_DROP_WRONG_DESTINATION, "wrong_destination",                                            \
      "destination MAC or IPv4 address is not this port's")                                       \
    X(WIRE_DROP_BAD_LENGTH, "bad_length", "payload length or fragment fields inconsistent")        \
    X(WIRE_DROP_UNKNOWN_SESSION, "unknown_session", "session id not in the peer table")            \
    X(WIRE_DROP_WRONG_SOURCE, "wrong_source", "IPv4/UDP source is not the channel's peer")         \
    X(WIRE_DROP_REPLAY, "replay", "packet number already received or older than the window")       \
    X(WIRE_DROP_BAD_TAG, "bad_tag", "authentication tag does not verify under the channel key")    \
    X(WIRE_DROP_CLOSED, "closed", "channel is down")                                               \
    X(WIRE_DROP_OUT_OF_WINDOW, "out_of_window", "sequence number outside the receive window")      \
    X(WIRE_DROP_DUPLICATE, "duplicate", "sequence number already received")                        \
    X(WIRE_DROP_NO_CREDIT, "no_credit", "message beyond the credit granted to the peer")           \
    X(WIRE_DROP_BAD_FRAGMENT, "bad_fragment", "fragment contradicts earlier fragments")            \
    X(WIRE_DROP_STALE_MSG, "stale_msg", "message number already delivered or too far ahead")       \
    X(WIRE_DROP_REASM_FULL, "reasm_full", "too many partial or pending messages")                  \
    X(WIRE_DROP_NO_MEMORY, "no_memory", "message buffer allocation failed")                        \
    X(WIRE_DROP_BAD_ACK, "bad_ack", "ACK for frames never sent")                                   \
    X(WIRE_DROP_NODE_BUDGET, "node_budget",                                                        \
      "the node's reassembly memory is at its cap (not acknowledged: it comes again)")

enum wire_drop {
#define WIRE_X_ENUM(code, name, msg) code,
    WIRE_DROPS(WIRE_X_ENUM)
#undef WIRE_X_ENUM
        WIRE_DROP__COUNT
};

/* Short counter name ("bad_ip") and a sentence; "unknown" outside the table. */
const char *wire_drop_name(enum wire_drop d);
const char *wire_drop_str(enum wire_drop d);

/* The dpdist header, decoded (host byte order). Field meanings per type: dataplane.md §1.1. */
struct wire_hdr {
    uint8_t version;
    uint8_t type;  /* enum wire_type */
    uint8_t lane;  /* enum wire_lane */
    uint8_t flags; /* WIRE_F_* for DATA */
    uint64_t session;
    uint32_t seq;
    uint16_t flow; /* DATA: flow slot; ACK: SACK bitmap bytes */
    uint32_t msg_seq;
    uint32_t msg_len;
    uint32_t frag_off;
    uint64_t pn;   /* packet number: every frame, per direction (written by the seal) */
    uint32_t conn; /* connection inside the channel (0: one connection per channel) */
};

/* Addresses of one direction of a channel (host byte order; MACs as on the wire). */
struct wire_endpoints {
    uint8_t src_mac[6];
    uint8_t dst_mac[6];
    uint32_t src_ip;
    uint32_t dst_ip;
    uint16_t src_port;
    uint16_t dst_port;
    uint8_t tos; /* IPv4 DSCP/ECN byte */
};

/* wire_encode_headers() flags. */
#define WIRE_ENC_IP_CSUM_OFFLOAD 0x1u /* leave the IPv4 checksum 0: the NIC fills it */

/* The 48-byte dpdist header alone (version written as DP_WIRE_VERSION, reserved fields 0). */
void wire_put_dp_hdr(uint8_t *out, const struct wire_hdr *h);
void wire_get_dp_hdr(const uint8_t *in, struct wire_hdr *h);

/* Write Ethernet + IPv4 + UDP + dpdist headers (WIRE_ALL_HDRS_LEN bytes) for a frame whose
 * payload of `payload_len` bytes and then the WIRE_TAG_LEN-byte tag follow (the IPv4 and UDP
 * lengths count both; the caller writes the payload and seals, dp_auth_seal). h->version is written as DP_WIRE_VERSION and the
 * reserved field as 0 whatever the struct holds. UDP checksum 0, IPv4 identification 0 with
 * DF set. Returns WIRE_ALL_HDRS_LEN, or 0 if cap is short or the datagram would exceed
 * 65535 bytes. */
size_t wire_encode_headers(uint8_t *out, size_t cap, const struct wire_endpoints *ep,
                           const struct wire_hdr *h, size_t payload_len, unsigned flags);

/* One's-complement checksum of a 20-byte IPv4 header (its checksum field taken as 0),
 * ready to store big-endian at offset 10. */
uint16_t wire_ipv4_cksum(const uint8_t *ip_hdr);

/* --- type payloads ---------------------------------------------------------------- */

/* ACK: writes credit_limit and `sack_len` bitmap bytes; returns bytes written, 0 if
 * cap is short or sack_len > WIRE_SACK_MAX_BYTES. The caller puts sack_len in hdr.flow. */
size_t wire_put_ack(uint8_t *out, size_t cap, uint64_t credit_limit, const uint8_t *sack,
                    size_t sack_len);
/* ACK payload of a validated frame (wire_parse checked its length against hdr.flow). */
void wire_get_ack(const uint8_t *payload, uint64_t *credit_limit, const uint8_t **sack);

size_t wire_put_heartbeat(uint8_t *out, size_t cap, uint64_t tx_time_ns, uint64_t credit_limit);
void wire_get_heartbeat(const uint8_t *payload, uint64_t *tx_time_ns, uint64_t *credit_limit);

/* --- receive ---------------------------------------------------------------------- */

/* wire_parse() flags. */
#define WIRE_RX_VERIFY_IP_CSUM 0x1u /* check the IPv4 checksum (no NIC offload) */

struct wire_rx {
    struct wire_hdr hdr;
    uint32_t src_ip;   /* host order */
    uint32_t dst_ip;   /* host order */
    uint16_t src_port; /* host order */
    const uint8_t *dst_mac; /* into the frame */
    const uint8_t *payload;
    uint32_t payload_len;
    const uint8_t *tag; /* WIRE_TAG_LEN bytes right after the payload */
};

/* Validate a received Ethernet frame of `len` bytes for the local UDP port and decode it.
 * Applies every stateless rule of dataplane.md §1.2 in the order listed there, plus the
 * per-type payload rules (DATA fragment rules, ACK bitmap length, HEARTBEAT/CLOSE sizes).
 * Returns WIRE_OK with *out filled, or the drop reason (*out then undefined). Ethernet
 * padding after the IPv4 datagram is ignored. */
enum wire_drop wire_parse(const uint8_t *frame, size_t len, uint16_t local_port, unsigned flags,
                          struct wire_rx *out);

/* The dpdist-level rules alone, for a header already decoded and its payload length
 * (wire_parse ends with this; the engine may call it when a NIC parsed the outer headers). */
enum wire_drop wire_check_dp(const struct wire_hdr *h, uint32_t payload_len);

/* Is the frame for this port: destination MAC ours (or broadcast/multicast when
 * accept_group: never today, the engine joins no group) and destination IPv4 ours? */
bool wire_dst_ok(const struct wire_rx *rx, const uint8_t local_mac[6], uint32_t local_ip);

/* Serial-number comparison of 32-bit sequence numbers (RFC 1982 style). */
static inline bool wire_seq_lt(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) < 0;
}

static inline bool wire_seq_le(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) <= 0;
}

#endif
