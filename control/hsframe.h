/* Handshake framing over TLS: a pure adapter between the 4-byte message lengths that TLS
 * distribution uses during the handshake and the 2-byte lengths of control/handshake.h.
 *
 * OTP's inet_tls_dist sends the same handshake messages as TCP distribution (N, s, N, r, a,
 * bodies identical) but each with a 4-byte big-endian length (`{packet,4}` from the start);
 * a 2-byte framing makes BEAM close at once (DESIGN-16 §6, measured against OTP 25). So that
 * the hs_ state machine stays untouched by TLS, the TLS carrier converts every message:
 *   in:  bytes read from TLS -> hsframe_from_tls -> one 2-byte-framed message -> hs_feed
 *   out: hs_output()         -> hsframe_to_tls   -> one 4-byte-framed message -> one write
 *        (one TLS record per message, as BEAM does), then hs_output_consumed(consumed).
 * One message per call, from the front of the buffer: after the message that ends the
 * handshake (hs_feed returns HS_DONE) the following bytes are the connected phase, already
 * 4-byte framed, and must not be converted; the caller stops converting there.
 *
 * A declared length above HS_MSG_MAX is refused as soon as its 4 length bytes are there,
 * before any of the body is waited for, so the caller's receive buffer never needs more
 * than HSFRAME_TLS_MAX bytes. The transcript (hs_transcript) records the 2-byte framing on
 * both TCP and TLS.
 *
 * Owns: hsframe_ functions and the error table. Pure: no I/O, no allocation, no state;
 * thread-safe.
 */
#ifndef DPDIST_CONTROL_HSFRAME_H
#define DPDIST_CONTROL_HSFRAME_H

#include <stddef.h>
#include <stdint.h>

#include "control/handshake.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HSFRAME_TLS_LEN_BYTES 4
#define HSFRAME_TCP_LEN_BYTES 2
/* The longest 4-byte-framed handshake message: the receive buffer a TLS caller needs. */
#define HSFRAME_TLS_MAX (HSFRAME_TLS_LEN_BYTES + HS_MSG_MAX)
/* The longest 2-byte-framed one (= HS_RX_MAX): what hsframe_from_tls may write. */
#define HSFRAME_TCP_MAX (HSFRAME_TCP_LEN_BYTES + HS_MSG_MAX)

#define HSFRAME_ERRORS(X)                                                                          \
    X(HSFRAME_OK, "one message converted")                                                         \
    X(HSFRAME_PARTIAL, "no whole message at the front yet: read more")                             \
    X(HSFRAME_E_TOO_LARGE, "handshake message longer than HS_MSG_MAX")                             \
    X(HSFRAME_E_SPACE, "output buffer too small for the message")

enum hsframe_error {
#define HSFRAME_X_ENUM(code, msg) code,
    HSFRAME_ERRORS(HSFRAME_X_ENUM)
#undef HSFRAME_X_ENUM
        HSFRAME_E__COUNT
};

/* Message for an error code; never NULL, static storage. */
const char *hsframe_strerror(enum hsframe_error e);

/* Convert the 4-byte-framed message at the front of in[0..len) to 2-byte framing in
 * out[0..out_cap) (at most HSFRAME_TCP_MAX bytes are needed). Returns HSFRAME_OK
 * (*consumed = 4 + body, *out_len = 2 + body), HSFRAME_PARTIAL (not all of it is there yet),
 * HSFRAME_E_TOO_LARGE (declared length > HS_MSG_MAX: a protocol error, close) or
 * HSFRAME_E_SPACE. On anything but HSFRAME_OK, *consumed and *out_len are 0 and out is not
 * written. */
enum hsframe_error hsframe_from_tls(const uint8_t *in, size_t len, size_t *consumed, uint8_t *out,
                                    size_t out_cap, size_t *out_len);

/* Convert the 2-byte-framed message at the front of in[0..len) (our hs_output) to 4-byte
 * framing in out[0..out_cap) (at most HSFRAME_TLS_MAX bytes are needed). Same results as
 * hsframe_from_tls, with *consumed = 2 + body and *out_len = 4 + body. */
enum hsframe_error hsframe_to_tls(const uint8_t *in, size_t len, size_t *consumed, uint8_t *out,
                                  size_t out_cap, size_t *out_len);

#ifdef __cplusplus
}
#endif

#endif
