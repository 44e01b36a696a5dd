/* The dpdist handshake trailer, version 2: the bytes a dpdist endpoint appends after the node
 * name of its 'N' handshake message to offer a data-plane connection (the initiator's name
 * message) or to accept one (the acceptor's challenge). BEAM ignores bytes after the name, so
 * a plain BEAM peer never notices; a peer that sends none, or one this codec refuses, is a
 * TCP-only peer. docs/agent.md §2 is the specification; this header is its C codec.
 *
 * Owns: the dptrailer_ codec. Pure: bytes in, a struct out and back; no I/O, no allocation.
 * Thread-safe: no shared state. Called by libdpdist's handshake transport hooks and by the
 * agent; beam/src/dpdist_trailer.erl is the same codec in Erlang, and both are held to the
 * golden vectors of tests/vectors/dptrailer.txt.
 *
 * Layout (big-endian), DPTRAILER_HDR_LEN + body_len bytes, nothing after it:
 *   off len
 *   0   6   "DPDIST"
 *   6   1   version      the data-plane protocol version: DPTRAILER_VERSION (2)
 *   7   1   kind         1 offer (initiator), 2 answer (acceptor)
 *   8   2   body_len     DPTRAILER_BODY_V2_LEN..DPTRAILER_BODY_MAX
 *   10      body:
 *     0   8  endpoint_id     random per agent / libdpdist engine start; never 0
 *     8   6  mac             the endpoint's data-plane MAC; unicast, not 0
 *     14  4  ipv4            its data-plane IPv4 address; not 0.x.x.x, not 224.0.0.0 and up
 *     18  2  udp_port        its data-plane UDP port; not 0
 *     20  2  mtu             DPTRAILER_MTU_MIN..DPTRAILER_MTU_MAX
 *     22  2  hb_missed       DPTRAILER_HB_MISSED_MIN..DPTRAILER_HB_MISSED_MAX
 *     24  4  window_frames   DPTRAILER_WINDOW_FRAMES_MIN..DPTRAILER_WINDOW_FRAMES_MAX
 *     28  4  conn_rx_window  bytes; at least DPTRAILER_CONN_RX_WINDOW_MIN_BYTES
 *     32  8  hb_interval_ns  DPTRAILER_HB_INTERVAL_NS_MIN..DPTRAILER_HB_INTERVAL_NS_MAX
 *     40  8  rx_session      the sender endpoint's receive session toward this peer; never 0
 *     48  4  conn_rx_id      the sender endpoint's id for this connection (wire v2 `conn`); never 0
 *     52  16 token           random: binds the offer to the sender VM's later ATTACH
 *     68  1  mode            frame authentication: 0 none, 1 gmac, 2 gcm (the stronger wins)
 *     69  32 x25519_pub      the sender's ephemeral X25519 public key; not all zeros
 *     101    extension       later revisions of version 2 append fields here; ignored
 *
 * Versioning: the version byte is the data-plane protocol version; an endpoint speaks exactly
 * one, so another version is refused (DPTRAILER_E_VERSION, with the version seen for the log
 * line) and the pair stays on TCP. Within a version, fields are only ever appended: body_len
 * may exceed DPTRAILER_BODY_V2_LEN, and this codec keeps the bytes past the fields it knows
 * (ext) without reading them. Every trailer byte is in the handshake transcript, which keys
 * the connection (docs/agent.md §5), so a changed byte anywhere, extension included, fails
 * the key confirmation.
 *
 * Bad input: a malformed trailer is no trailer. The parse checks everything above before the
 * caller sees any field and says what was wrong (one result per counter); the caller stays on
 * TCP and counts it.
 */
#ifndef DPDIST_CONTROL_DPTRAILER_H
#define DPDIST_CONTROL_DPTRAILER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DPTRAILER_MAGIC       "DPDIST"
#define DPTRAILER_MAGIC_LEN   6
#define DPTRAILER_VERSION     2
#define DPTRAILER_HDR_LEN     10
#define DPTRAILER_BODY_V2_LEN 101
/* Longest body accepted: room for appended fields, far below the handshake's own limit on
 * what it appends (HS_TRAILER_MAX in control/handshake.h, checked in dptrailer.c). */
#define DPTRAILER_BODY_MAX 256
#define DPTRAILER_MAX_LEN  (DPTRAILER_HDR_LEN + DPTRAILER_BODY_MAX)

#define DPTRAILER_TOKEN_LEN  16
#define DPTRAILER_X25519_LEN 32

/* Ranges every version-2 endpoint accepts; each side then takes the smaller (MTU, window)
 * or larger (heartbeat interval) of both offers against its own configuration. */
#define DPTRAILER_MTU_MIN            576
#define DPTRAILER_MTU_MAX            9600
#define DPTRAILER_WINDOW_FRAMES_MIN  8
#define DPTRAILER_WINDOW_FRAMES_MAX  8192
#define DPTRAILER_HB_INTERVAL_NS_MIN 100000ull      /* 100 µs */
#define DPTRAILER_HB_INTERVAL_NS_MAX 10000000000ull /* 10 s */
#define DPTRAILER_HB_MISSED_MIN      2
#define DPTRAILER_HB_MISSED_MAX      1000
/* A connection's receive window must hold one whole BEAM fragment (64 KiB) or it stalls. */
#define DPTRAILER_CONN_RX_WINDOW_MIN_BYTES 65536u

/* Result codes: X(code, name, message). The name is the short word the golden vectors, the
 * Erlang codec ({error, Name}) and the counters use. */
#define DPTRAILER_RESULTS(X)                                                                       \
    X(DPTRAILER_OK, "ok", "ok")                                                                    \
    X(DPTRAILER_NONE, "none", "no trailer (BEAM sends none)")                                      \
    X(DPTRAILER_E_MAGIC, "magic", "trailer does not start with \"DPDIST\"")                        \
    X(DPTRAILER_E_SHORT, "short", "trailer shorter than its header")                               \
    X(DPTRAILER_E_VERSION, "version", "trailer of another data-plane protocol version")            \
    X(DPTRAILER_E_KIND, "kind", "trailer is neither an offer nor an answer, or not the one due")   \
    X(DPTRAILER_E_LENGTH, "length",                                                                \
      "trailer length field disagrees with its bytes, or the body is too short or too long")       \
    X(DPTRAILER_E_MODE, "mode", "unknown frame authentication mode")                               \
    X(DPTRAILER_E_ID, "id", "endpoint id, receive session or connection id is 0")                  \
    X(DPTRAILER_E_ADDRESS, "address", "data-plane MAC, IPv4 address or UDP port is not usable")    \
    X(DPTRAILER_E_PARAM, "param",                                                                  \
      "MTU, window, heartbeat interval, missed heartbeats or receive window out of range")         \
    X(DPTRAILER_E_KEY, "key", "X25519 public key is all zeros")                                    \
    X(DPTRAILER_E_SPACE, "space", "output buffer too small for the trailer")

enum dptrailer_result {
#define DPTRAILER_X_ENUM(code, name, msg) code,
    DPTRAILER_RESULTS(DPTRAILER_X_ENUM)
#undef DPTRAILER_X_ENUM
        DPTRAILER_RESULT__COUNT
};

/* Message for a result; never NULL, static storage. */
const char *dptrailer_strerror(enum dptrailer_result r);
/* Short name of a result ("ok", "magic", ...); never NULL, static storage. */
const char *dptrailer_result_name(enum dptrailer_result r);

enum dptrailer_kind {
    DPTRAILER_KIND_ANY = 0, /* dptrailer_parse: accept either kind */
    DPTRAILER_OFFER = 1,    /* in the initiator's name message */
    DPTRAILER_ANSWER = 2,   /* in the acceptor's challenge, only in reply to a valid offer */
};

enum dptrailer_mode {
    DPTRAILER_MODE_NONE = 0,
    DPTRAILER_MODE_GMAC = 1,
    DPTRAILER_MODE_GCM = 2,
};

struct dptrailer {
    uint8_t version; /* parse: the version byte seen; encode: ignored (DPTRAILER_VERSION) */
    enum dptrailer_kind kind;
    enum dptrailer_mode mode;
    uint64_t endpoint_id;
    uint8_t mac[6];
    uint32_t ipv4; /* host byte order: 10.0.0.1 is 0x0a000001 */
    uint16_t udp_port;
    uint16_t mtu;
    uint16_t hb_missed;
    uint32_t window_frames;
    uint32_t conn_rx_window;
    uint64_t hb_interval_ns;
    uint64_t rx_session;
    uint32_t conn_rx_id;
    uint8_t token[DPTRAILER_TOKEN_LEN];
    uint8_t x25519_pub[DPTRAILER_X25519_LEN];
    /* Appended fields of later revisions: parse points into its input (borrowed, valid as
     * long as that buffer); encode copies ext_len bytes from ext (NULL when 0). */
    const uint8_t *ext;
    size_t ext_len;
};

/* Parses the trailer of len bytes at buf (the bytes after the name in a peer's 'N' message;
 * len 0 gives DPTRAILER_NONE). expect: the kind due here, or DPTRAILER_KIND_ANY. Returns
 * DPTRAILER_OK with every field of *out set, or the first thing found wrong, checked in the
 * order of the result table (magic, version, kind, length, then the fields); then *out is
 * zeroed except out->version, which holds the version byte if the trailer got that far (the
 * log line of a DPTRAILER_E_VERSION names it). Pure. */
enum dptrailer_result dptrailer_parse(const uint8_t *buf, size_t len, enum dptrailer_kind expect,
                                      struct dptrailer *out);

/* Bytes dptrailer_encode writes for t. Pure. */
size_t dptrailer_encoded_len(const struct dptrailer *t);

/* Writes t as a version-2 trailer into buf (cap bytes), its length into *len. Refuses what
 * dptrailer_parse would refuse (same results; kind must be OFFER or ANSWER, ext_len at most
 * DPTRAILER_BODY_MAX - DPTRAILER_BODY_V2_LEN), and DPTRAILER_E_SPACE when cap is too small;
 * nothing is written then. Pure. */
enum dptrailer_result dptrailer_encode(const struct dptrailer *t, uint8_t *buf, size_t cap,
                                       size_t *len);

#ifdef __cplusplus
}
#endif

#endif
