/* dpctl: dpdist's own protocol bytes between dpdist nodes, as a pure codec.
 *
 * Owns (prefix dpctl_):
 * - the handshake trailer: what our 'N' messages carry after the node name (BEAM ignores
 *   it): "DPDIST" | version (1) | capabilities (1);
 * - the EPMD Extra field we register: "DPD1" | MAC (6) | IPv4 (4) | UDP port (2) | version (1);
 * - the messages to the reserved name '$dpdist' (sent as REG_SEND on the TCP connection):
 *     {dpdist_upgrade_req, 2, Session, Mac, Ip, Port, Mtu, Window, HbNs, HbMissed, Auth}
 *     {dpdist_upgrade_ack, 2, Session, Mac, Ip, Port, Mtu, Window, HbNs, HbMissed, Auth}
 *     {dpdist_upgrade_nak, Reason}
 *     {dpdist_switch} | {dpdist_switch, Confirm}   (Confirm: a 16-byte binary)
 *     {dpdist_mesh, [Node]}
 *   (their meaning: runtime/carrier_dpdk/dpc_upgrade.c for the upgrade, runtime/core/mesh.c
 *   for the mesh).
 *
 * The encoder writes exactly the bytes libei wrote for these terms before (golden vectors in
 * tests/unit/control/test_dpctl.cc), so a node with this codec upgrades with an older one.
 * The decoder is a flat, bounded, non-recursive reader of exactly these shapes, for bytes
 * from a peer: small tuples, the four atom encodings, SMALL_INTEGER/INTEGER/SMALL_BIG for
 * the integers, BINARY for the MAC, proper lists of atoms (a list's tail may be another list
 * cell, as our encoder writes them: read iteratively), at most DPCTL_MESH_MAX nodes (none of
 * them ''), and the offer's range checks. Anything else is refused with a dpctl_result; nothing is allocated,
 * nothing logged. Pure, thread-safe. Fuzzed by tests/fuzz/control/fuzz_dpctl.c.
 */
#ifndef DPDIST_CONTROL_DPCTL_H
#define DPDIST_CONTROL_DPCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DPCTL_VERSION 1 /* of the trailer and the Extra field */
/* Of the upgrade offers: 2 added Auth (frame authentication mode, 0 none, 1 gmac, 2 gcm) and
 * the key confirmation in {dpdist_switch, Confirm}; a version-1 offer is refused
 * (DPCTL_E_VERSION: the pair stays on TCP, with a log line). */
#define DPCTL_OFFER_VERSION 2
#define DPCTL_AUTH_MAX      2
#define DPCTL_CONFIRM_LEN   16

#define DPCTL_ERRORS(X)                                                                            \
    X(DPCTL_OK, "ok")                                                                              \
    X(DPCTL_E_TRUNCATED, "message ends inside a term")                                             \
    X(DPCTL_E_TAG, "unexpected term type")                                                         \
    X(DPCTL_E_UNKNOWN, "not one of dpdist's messages")                                             \
    X(DPCTL_E_ARITY, "tuple of the wrong size for its message")                                    \
    X(DPCTL_E_VERSION, "unsupported protocol version")                                             \
    X(DPCTL_E_RANGE, "offer field out of range")                                                   \
    X(DPCTL_E_TRAILING, "bytes after the message")                                                 \
    X(DPCTL_E_TOO_MANY, "mesh list longer than DPCTL_MESH_MAX")                                    \
    X(DPCTL_E_SPACE, "output buffer too small")

enum dpctl_result {
#define DPCTL_X_ENUM(code, msg) code,
    DPCTL_ERRORS(DPCTL_X_ENUM)
#undef DPCTL_X_ENUM
        DPCTL_E__COUNT
};

/* Message for a result code; never NULL, static storage. */
const char *dpctl_strerror(enum dpctl_result r);

/* Longest atom text (255 characters of up to 4 UTF-8 bytes): buffers hold this + 1. */
#define DPCTL_ATOM_MAX 1020
/* Most nodes a mesh list may name (a longer one is refused whole). */
#define DPCTL_MESH_MAX 4096

/* ---- the handshake trailer ----------------------------------------------------------- */

#define DPCTL_TRAILER_MAGIC     "DPDIST"
#define DPCTL_TRAILER_MAGIC_LEN 6
#define DPCTL_TRAILER_LEN       (DPCTL_TRAILER_MAGIC_LEN + 2) /* + version + capabilities */
#define DPCTL_CAP_DATA_PLANE    0x01 /* the node has a data plane: it may be upgraded */

struct dpctl_trailer {
    uint8_t version;
    uint8_t caps; /* 0 when the peer sent no capability byte */
};

/* Writes our trailer (DPCTL_TRAILER_LEN bytes) with caps; 0 if cap is too small. */
size_t dpctl_trailer_encode(uint8_t *out, size_t cap, uint8_t caps);
/* A peer's trailer: DPCTL_OK for a dpdist node's ("DPDIST" and a version byte, of any
 * version; the capability byte may be missing), DPCTL_E_UNKNOWN for anything else. */
enum dpctl_result dpctl_trailer_parse(const uint8_t *t, size_t len, struct dpctl_trailer *out);
/* Whether the peer of that trailer can be upgraded: our version, data plane capability. */
bool dpctl_trailer_has_data_plane(const struct dpctl_trailer *t);

/* ---- the EPMD Extra field ------------------------------------------------------------ */

#define DPCTL_EXTRA_MAGIC       "DPD1"
#define DPCTL_EXTRA_MAGIC_LEN   4
#define DPCTL_EXTRA_OFF_MAC     4
#define DPCTL_EXTRA_OFF_IP      10
#define DPCTL_EXTRA_OFF_PORT    14
#define DPCTL_EXTRA_OFF_VERSION 16
#define DPCTL_EXTRA_LEN         17

/* A data-plane endpoint: where a node's DPDK port takes frames. */
struct dpctl_endpoint {
    uint8_t mac[6];
    uint32_t ip; /* host order */
    uint16_t port;
    uint8_t version; /* DPCTL_VERSION when encoding */
};

/* Writes the Extra field for ep (DPCTL_EXTRA_LEN bytes; ep->version ignored: ours); 0 if cap
 * is too small. */
size_t dpctl_extra_encode(uint8_t *out, size_t cap, const struct dpctl_endpoint *ep);
/* A peer's Extra field: DPCTL_OK with *ep, DPCTL_E_UNKNOWN when it is not ours. */
enum dpctl_result dpctl_extra_parse(const uint8_t *extra, size_t len, struct dpctl_endpoint *ep);

/* ---- the messages to '$dpdist' -------------------------------------------------------- */

enum dpctl_kind {
    DPCTL_NONE = 0,
    DPCTL_REQ,    /* initiator: an offer */
    DPCTL_ACK,    /* acceptor: its offer in answer */
    DPCTL_NAK,    /* acceptor: no upgrade, and why */
    DPCTL_SWITCH, /* a side's last message on TCP */
    DPCTL_MESH,   /* the published dpdist nodes the sender is connected to */
};

/* A side's data-plane parameters (REQ, ACK). Ranges checked by dpctl_decode: session != 0,
 * port 1..65535, mtu DPCTL_MTU_MIN..MAX, window DPCTL_WINDOW_MIN..MAX, hb_ns > 0,
 * hb_missed 1..UINT32_MAX, auth 0..DPCTL_AUTH_MAX. */
struct dpctl_offer {
    uint64_t session; /* the sender's receive session for this channel */
    uint8_t mac[6];
    uint32_t ip; /* host order */
    uint16_t port;
    uint16_t mtu;
    uint32_t window;   /* frames */
    uint64_t hb_ns;    /* heartbeat interval */
    uint32_t hb_missed; /* heartbeats missed before the channel is down */
    uint8_t auth;       /* frame authentication the sender wants: 0..DPCTL_AUTH_MAX */
};

#define DPCTL_MTU_MIN    576
#define DPCTL_MTU_MAX    9600
#define DPCTL_WINDOW_MIN 8
#define DPCTL_WINDOW_MAX 8192

struct dpctl_msg {
    enum dpctl_kind kind;
    struct dpctl_offer offer;          /* REQ, ACK */
    char reason[DPCTL_ATOM_MAX + 1];   /* NAK: the reason atom as UTF-8 */
    bool has_confirm;                  /* SWITCH: carries a key confirmation */
    uint8_t confirm[DPCTL_CONFIRM_LEN];
    /* MESH (after decoding): where the list starts in the term and how many nodes it has;
     * read them with dpctl_mesh_next. */
    size_t mesh_off;
    unsigned mesh_count;
};

/* Decodes one message. term is the term itself (its tag first, no version byte: as it is
 * in a distribution message's payload), exactly len bytes. On DPCTL_OK, *m is the message.
 * On an error, m->kind tells which message it was, when that much was read (a REQ with a
 * bad offer: DPCTL_REQ and DPCTL_E_RANGE), else DPCTL_NONE. */
enum dpctl_result dpctl_decode(const uint8_t *term, size_t len, struct dpctl_msg *m);

/* Writes m (REQ, ACK, NAK, SWITCH; not MESH: see below) as a standalone term, version byte
 * first, into out. Returns the length, or 0 when cap is too small or m cannot be encoded
 * (another kind, a reason longer than DPCTL_ATOM_MAX). No allocation. */
size_t dpctl_encode(const struct dpctl_msg *m, uint8_t *out, size_t cap);

/* Mesh lists. Reading: a decoded DPCTL_MESH message's nodes, in order, from the same term
 * bytes it was decoded from. */
struct dpctl_mesh_iter {
    const uint8_t *term;
    size_t len, off;
    uint32_t left;       /* elements left in the current list cell */
    unsigned remaining; /* nodes not yet returned */
};
void dpctl_mesh_iter_init(struct dpctl_mesh_iter *it, const uint8_t *term, size_t len,
                          const struct dpctl_msg *m);
/* The next node's name (UTF-8, NUL-terminated, at most DPCTL_ATOM_MAX bytes: name holds
 * DPCTL_ATOM_MAX + 1); false after the last one. */
bool dpctl_mesh_next(struct dpctl_mesh_iter *it, char *name);

/* Writing: {dpdist_mesh, [Node...]} into a caller's buffer, one node at a time. */
struct dpctl_mesh_writer {
    uint8_t *out;
    size_t cap, len;
    unsigned count;
    bool ok; /* the head fitted */
};
void dpctl_mesh_writer_init(struct dpctl_mesh_writer *w, uint8_t *out, size_t cap);
/* Appends a node; false (nothing appended) when it does not fit, the list has
 * DPCTL_MESH_MAX nodes, or the name is empty or longer than DPCTL_ATOM_MAX. */
bool dpctl_mesh_add(struct dpctl_mesh_writer *w, const char *node);
/* Ends the list: the term's length, or 0 when not even the empty list fitted. */
size_t dpctl_mesh_finish(struct dpctl_mesh_writer *w);
/* Bytes one node of name_len bytes takes in the list. */
#define DPCTL_MESH_NODE_BYTES(name_len) (5 + ((name_len) < 256 ? 2 : 3) + (name_len))
/* Bytes of the message without nodes (version byte to the final empty list). */
#define DPCTL_MESH_HEAD_BYTES 17

#ifdef __cplusplus
}
#endif

#endif
