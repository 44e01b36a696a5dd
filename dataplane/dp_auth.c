/* Fast path (dp_auth_seal, dp_auth_rx): no locks, no allocation, no logging. See dp_auth.h. */
#include "dataplane/dp_auth.h"

#include <stdio.h>
#include <string.h>

#include "common/bytes.h"
#include "dataplane/chan.h"
#include "dataplane/dp_pvt.h"
#include "dataplane/fauth.h"

int dp_auth_chan_init(struct dp_chan *ch, const struct dp_chan_auth *a, char *err, size_t errlen)
{
    ch->auth_mode = FAUTH_NONE;
    for (int i = 0; i < 2; i++) {
        ch->tx_pn[i] = 0;
        fauth_replay_init(&ch->replay[i]);
    }
    if (a->mode == FAUTH_NONE)
        return 0;
    if (a->mode != FAUTH_GMAC && a->mode != FAUTH_GCM) {
        snprintf(err, errlen, "frame authentication mode %u unknown", (unsigned)a->mode);
        return -1;
    }
    enum fauth_error fe = fauth_key_init(&ch->tx_key, (enum fauth_mode)a->mode, a->tx_key, a->tx_iv);
    if (fe == FAUTH_OK)
        fe = fauth_key_init(&ch->rx_key, (enum fauth_mode)a->mode, a->rx_key, a->rx_iv);
    if (fe != FAUTH_OK) {
        dp_auth_chan_wipe(ch);
        snprintf(err, errlen, "frame keys: %s", fauth_strerror(fe));
        return -1;
    }
    ch->auth_mode = a->mode;
    return 0;
}

void dp_auth_chan_wipe(struct dp_chan *ch)
{
    fauth_key_wipe(&ch->tx_key);
    fauth_key_wipe(&ch->rx_key);
}

bool dp_auth_seal(struct dp_chan *ch, uint8_t *frame, size_t payload_len)
{
    uint8_t *dp = frame + WIRE_DP_OFF;
    uint8_t *tag = dp + WIRE_DP_HDR_LEN + payload_len;
    bool pulse = dp[2] == WIRE_LANE_PULSE;
    uint64_t pn = ++ch->tx_pn[pulse] | (pulse ? WIRE_PN_PULSE_BIT : 0);
    be64_put(dp + WIRE_PN_OFF, pn);
    if (ch->auth_mode == FAUTH_NONE) {
        memset(tag, 0, WIRE_TAG_LEN);
        return true;
    }
    return fauth_seal(&ch->tx_key, pn, dp, WIRE_DP_HDR_LEN, WIRE_DP_HDR_LEN + payload_len, NULL,
                      tag) == FAUTH_OK;
}

enum wire_drop dp_auth_rx(struct dp_engine *e, uint8_t *frame, const struct wire_rx *rx,
                          struct dp_chan **out)
{
    if (unlikely(!wire_dst_ok(rx, e->mac, e->p.ip)))
        return WIRE_DROP_WRONG_DESTINATION;
    struct dp_chan *ch = peertab_lookup(e->peers, rx->hdr.session);
    if (unlikely(!ch))
        return WIRE_DROP_UNKNOWN_SESSION;
    if (unlikely(rx->src_ip != ch->cfg.peer_ip || rx->src_port != ch->cfg.peer_port))
        return WIRE_DROP_WRONG_SOURCE;
    *out = ch;
    if (ch->auth_mode == FAUTH_NONE)
        return WIRE_OK;
    bool pulse = rx->hdr.lane == WIRE_LANE_PULSE;
    if (unlikely(((rx->hdr.pn & WIRE_PN_PULSE_BIT) != 0) != pulse))
        return WIRE_DROP_BAD_HEADER; /* a packet number from the other lane's space */
    enum wire_drop d;
    switch (fauth_accept(&ch->rx_key, &ch->replay[pulse], rx->hdr.pn, frame + WIRE_DP_OFF,
                         WIRE_DP_HDR_LEN, WIRE_DP_HDR_LEN + rx->payload_len, rx->tag)) {
    case FAUTH_OK:
        return WIRE_OK;
    case FAUTH_E_REPLAY:
    case FAUTH_E_TOO_OLD:
    case FAUTH_E_PN_RANGE:
        d = WIRE_DROP_REPLAY;
        break;
    default:
        d = WIRE_DROP_BAD_TAG;
        break;
    }
    chan_count_drop(ch->c, d); /* the peer's figure too (dd_peer_stats, telemetry) */
    return d;
}
