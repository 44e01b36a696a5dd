/* ag_offer: the agent's pending offers (docs/agent.md §6, "Rules the agent keeps"): the v2
 * trailers it issues for its VMs' handshakes (OFFER_OUT -> an offer, OFFER_IN -> an answer to
 * the peer's offer), each remembered until the VM's ATTACH names its token or it expires.
 *
 * Owns: struct ag_offers (one fixed array of max_conns slots and a free stack, allocated by
 * ag_offers_init, never grown). Pure: no I/O, no clock (now_ms is passed in), no randomness
 * of its own (the caller passes fresh random bytes). Thread-safety: one thread (the agent's).
 *
 * Bounds: at most cap offers pending (then AG_REASON_LIMIT: offers come before the peer is
 * authenticated, so they are counted and expire after ttl_ms); issue and expire are O(1) and
 * O(cap); take is O(cap) (a linear scan for the token: ATTACH is once per connection).
 * A pending offer's conn_rx_id keeps its slot in the low AG_OFFER_SLOT_BITS bits and a
 * generation above them, so a reused slot gives another id.
 */
#ifndef DPDIST_AGENT_AG_OFFER_H
#define DPDIST_AGENT_AG_OFFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/ag_proto.h"
#include "control/dptrailer.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AG_OFFER_SLOT_BITS  17                        /* cfg.h: CFG_AGENT_CONNS_MAX = 2^17 - 1 */
#define AG_OFFER_RANDOM_LEN (8 + DPTRAILER_TOKEN_LEN) /* rx_session, token */

/* What this agent's trailers say of its endpoint (from its engine and its file). */
struct ag_endpoint {
    uint64_t endpoint_id;
    uint8_t mac[6];
    uint32_t ipv4; /* host order */
    uint16_t udp_port;
    uint16_t mtu;
    uint16_t hb_missed;
    uint32_t window_frames;
    uint32_t conn_rx_window;
    uint64_t hb_interval_ns;
    uint8_t mode; /* enum dptrailer_mode */
};

struct ag_pending {
    bool used;
    enum dptrailer_kind kind; /* the kind of the trailer issued */
    uint32_t vm_id;
    uint32_t conn_rx_id;
    uint64_t rx_session;
    uint64_t expires_ms;
    uint8_t token[DPTRAILER_TOKEN_LEN];
};

struct ag_offers {
    struct ag_pending *slot;
    uint32_t *free_stack;
    uint32_t cap, n_free;
    uint32_t generation;
};

/* 0, or -ENOMEM / -EINVAL (cap 0 or above 2^AG_OFFER_SLOT_BITS - 1). */
int ag_offers_init(struct ag_offers *t, uint32_t cap);
void ag_offers_fini(struct ag_offers *t);
uint32_t ag_offers_pending(const struct ag_offers *t);

/* Issues a trailer for VM vm_id: an offer when peer_offer is NULL, else an answer to the
 * peer's offer (which must parse as a v2 offer). The VM's X25519 key goes in the trailer.
 * random: AG_OFFER_RANDOM_LEN fresh bytes. Returns AG_REASON_OK with the trailer in
 * out[0..*out_len) (cap >= DPTRAILER_MAX_LEN), AG_REASON_LIMIT when cap offers are pending,
 * AG_REASON_BAD_TRAILER when the peer's offer does not parse (*why says how),
 * AG_REASON_BAD_MESSAGE when the VM's key is all zeros. Nothing is kept on failure. */
enum ag_reason ag_offers_issue(struct ag_offers *t, const struct ag_endpoint *ep, uint32_t vm_id,
                               const uint8_t x25519_pub[DPTRAILER_X25519_LEN],
                               const uint8_t *peer_offer, size_t peer_len,
                               const uint8_t random[AG_OFFER_RANDOM_LEN], uint64_t now_ms,
                               uint32_t ttl_ms, uint8_t *out, size_t cap, size_t *out_len,
                               enum dptrailer_result *why);

/* The pending offer of VM vm_id with this token, removed into *out: true; false if none. */
bool ag_offers_take(struct ag_offers *t, uint32_t vm_id, const uint8_t token[DPTRAILER_TOKEN_LEN],
                    struct ag_pending *out);

/* Frees every offer expired at now_ms (expire), or every offer of VM vm_id (drop_vm: its link
 * closed). Return how many were freed. */
uint32_t ag_offers_expire(struct ag_offers *t, uint64_t now_ms);
uint32_t ag_offers_drop_vm(struct ag_offers *t, uint32_t vm_id);

#ifdef __cplusplus
}
#endif

#endif
