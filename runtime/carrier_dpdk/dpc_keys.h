/* The frame keys of an upgraded connection's channel (dpc_keys.c; docs/security.md §4.5).
 * Pure over control/keysched: no connection, no I/O; the control thread calls it once per
 * upgrade. The caller wipes *auth after handing it to dp_chan_add. */
#ifndef DPDIST_RUNTIME_CARRIER_DPDK_DPC_KEYS_H
#define DPDIST_RUNTIME_CARRIER_DPDK_DPC_KEYS_H

#include <stdbool.h>
#include <stdint.h>

#include "control/dpctl.h"
#include "control/keysched.h"
#include "dataplane/dp.h"

/* From hs (th and prk of the handshake; s is mixed in here, so hs is consumed: the caller
 * wipes it) and both offers: the keys of our side (initiator: tx = i>a) in mode (0: none,
 * *auth zeroed, nothing else done), and the key confirmations we send and expect.
 * KS_OK or the keysched error. */
enum ks_error dpc_keys_from(struct ks_conn *hs, bool initiator, const struct dpctl_offer *req,
                            const struct dpctl_offer *ack, uint8_t mode,
                            struct dp_chan_auth *auth, uint8_t confirm_tx[DPCTL_CONFIRM_LEN],
                            uint8_t confirm_rx[DPCTL_CONFIRM_LEN]);

#endif
