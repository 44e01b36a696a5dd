/* The frame keys of an upgraded connection's channel (docs/security.md "Keys"), on the control
 * thread. A subset of JOINT-15-16 §2: no X25519 yet; the upgrade offers take its place in the
 * schedule, so the keys are bound to the exact handshake and to both offers:
 *   th, prk  = control/keysched's ks_conn_init(cookie, transcript)     (at handshake time)
 *   uh       = SHA-256(offer(REQ) ‖ offer(ACK))   offer(): the 40 canonical bytes below
 *   s        = HKDF-Extract(salt = th, ikm = prk ‖ uh)                 (ks_conn_mix_dh)
 *   i>a, a>i = ks_traffic_derive(s): per-direction key and IV for dataplane/fauth
 *   confirm  = ks_confirm_tag(direction's secret, th): sent in {dpdist_switch, Confirm}
 * An observer without the cookie cannot derive them; a peer or an attacker that altered an
 * offer ends up with other keys, so its frames fail (bad_tag) and its confirmation does not
 * match (the connection is closed, dpc_upgrade.c on_switch).
 */
#include <string.h>

#include "common/bytes.h"
#include "control/keysched.h"
#include "runtime/carrier_dpdk/dpc.h"
#include "runtime/carrier_dpdk/dpc_keys.h"

/* kind | session | mac | ip | port | mtu | window | hb_ns | hb_missed | auth, big-endian. */
#define OFFER_BYTES 40

static void offer_bytes(uint8_t kind, const struct dpctl_offer *o, uint8_t *out)
{
    out[0] = kind;
    be64_put(out + 1, o->session);
    memcpy(out + 9, o->mac, 6);
    be32_put(out + 15, o->ip);
    be16_put(out + 19, o->port);
    be16_put(out + 21, o->mtu);
    be32_put(out + 23, o->window);
    be64_put(out + 27, o->hb_ns);
    be32_put(out + 35, o->hb_missed);
    out[39] = o->auth;
}

enum ks_error dpc_keys_from(struct ks_conn *hs, bool initiator, const struct dpctl_offer *req,
                            const struct dpctl_offer *ack, uint8_t mode,
                            struct dp_chan_auth *auth, uint8_t confirm_tx[DPCTL_CONFIRM_LEN],
                            uint8_t confirm_rx[DPCTL_CONFIRM_LEN])
{
    memset(auth, 0, sizeof(*auth));
    if (mode == 0)
        return KS_OK;
    uint8_t offers[2 * OFFER_BYTES], uh[KS_HASH_LEN];
    offer_bytes(DPCTL_REQ, req, offers);
    offer_bytes(DPCTL_ACK, ack, offers + OFFER_BYTES);
    struct ks_traffic i2a = {0}, a2i = {0};
    enum ks_error rc = ks_sha256(offers, sizeof(offers), uh);
    if (rc == KS_OK)
        rc = ks_conn_mix_dh(hs, uh);
    if (rc == KS_OK)
        rc = ks_traffic_derive(hs, &i2a, &a2i);
    const struct ks_traffic *tx = initiator ? &i2a : &a2i;
    const struct ks_traffic *rx = initiator ? &a2i : &i2a;
    if (rc == KS_OK)
        rc = ks_confirm_tag(tx, hs, confirm_tx);
    if (rc == KS_OK)
        rc = ks_confirm_tag(rx, hs, confirm_rx);
    if (rc == KS_OK) {
        auth->mode = mode;
        memcpy(auth->tx_key, tx->key, sizeof(auth->tx_key));
        memcpy(auth->tx_iv, tx->iv, sizeof(auth->tx_iv));
        memcpy(auth->rx_key, rx->key, sizeof(auth->rx_key));
        memcpy(auth->rx_iv, rx->iv, sizeof(auth->rx_iv));
    }
    ks_traffic_wipe(&i2a);
    ks_traffic_wipe(&a2i);
    return rc;
}

enum ks_error dpc_keys_derive(struct conn *c, const struct dpctl_offer *req,
                              const struct dpctl_offer *ack, uint8_t mode, struct dp_chan_auth *auth)
{
    memset(auth, 0, sizeof(*auth));
    if (mode == 0)
        return KS_OK;
    if (!c->hs_keys_ok)
        return KS_E_STATE;
    enum ks_error rc = dpc_keys_from(&c->hs_keys, c->initiator, req, ack, mode, auth,
                                     c->dp->confirm_tx, c->dp->confirm_rx);
    ks_conn_wipe(&c->hs_keys); /* one upgrade per connection: nothing else needs it */
    c->hs_keys_ok = false;
    return rc;
}
