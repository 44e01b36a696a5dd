/* dp_auth: the engine's frame authentication (docs/dataplane.md §1.3, docs/security.md):
 * seals every frame a channel sends and decides, for every frame received, whether it may
 * have any effect. The crypto is dataplane/fauth.h's; this file owns the per-channel state
 * (keys, transmit packet number, replay window) and the receive order of checks.
 *
 * Receive order (each failure a counted drop; stateless parsing came before, wire_parse):
 *   destination MAC and IPv4 are this port's     wrong_destination  (port counter)
 *   session id is a channel's                    unknown_session    (port counter)
 *   IPv4/UDP source is the channel's peer        wrong_source       (port counter)
 *   pn in its lane's space (WIRE_PN_PULSE_BIT)    bad_header         (port counter)
 *   pn new for its space's replay window         replay             (port and channel)
 *   tag verifies under the channel's rx key      bad_tag            (port and channel)
 *   pn marked in the window (only now: a forged high pn cannot move it)
 * In mode none the last three are skipped (no key: the benchmark baseline, v1's guarantees).
 *
 * Threads: dp_auth_chan_init/wipe on the control thread before the channel is published /
 * after it is retired; dp_auth_seal and dp_auth_rx on the poller only (the channel's tx_pn and
 * replay window are the poller's). Fast path: no locks, no allocation, no logging.
 */
#ifndef DPDIST_DATAPLANE_DP_AUTH_H
#define DPDIST_DATAPLANE_DP_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "dataplane/dp.h"
#include "dataplane/wire.h"

struct dp_chan;
struct dp_engine;

/* Keys of a channel from cfg->auth (copied into fauth keys; the caller wipes cfg). 0, or -1
 * with err (unknown mode, backend failure). */
int dp_auth_chan_init(struct dp_chan *ch, const struct dp_chan_auth *a, char *err, size_t errlen);
/* Erase the channel's keys (safe twice, and on a channel whose init failed). */
void dp_auth_chan_wipe(struct dp_chan *ch);

/* Seal one built frame of ch: frame[0..WIRE_FRAME_OVERHEAD + payload_len) with the headers
 * (wire_encode_headers) and the payload in place. Writes the channel's next packet number
 * into the header and the tag after the payload (16 zero bytes in mode none). Returns false
 * if the frame cannot be sealed (packet numbers exhausted, backend error): drop it. */
bool dp_auth_seal(struct dp_chan *ch, uint8_t *frame, size_t payload_len);

/* The checks after wire_parse for one received frame (rx from wire_parse over frame, which
 * is writable: mode gcm decrypts the payload in place). WIRE_OK with *out = the channel the
 * frame is for, or the drop reason to count. */
enum wire_drop dp_auth_rx(struct dp_engine *e, uint8_t *frame, const struct wire_rx *rx,
                          struct dp_chan **out);

#endif
