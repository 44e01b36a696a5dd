/* ag_offer: the agent's pending offers (ag_offer.h). Pure; one thread. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/ag_offer.h"

int ag_offers_init(struct ag_offers *t, uint32_t cap)
{
    memset(t, 0, sizeof(*t));
    if (cap == 0 || cap >= (1u << AG_OFFER_SLOT_BITS))
        return -EINVAL;
    t->slot = calloc(cap, sizeof(*t->slot));
    t->free_stack = malloc((size_t)cap * sizeof(*t->free_stack));
    if (!t->slot || !t->free_stack) {
        ag_offers_fini(t);
        return -ENOMEM;
    }
    t->cap = cap;
    for (uint32_t i = 0; i < cap; i++)
        t->free_stack[i] = cap - 1 - i; /* slot 0 is handed out first */
    t->n_free = cap;
    return 0;
}

void ag_offers_fini(struct ag_offers *t)
{
    free(t->slot);
    free(t->free_stack);
    memset(t, 0, sizeof(*t));
}

uint32_t ag_offers_pending(const struct ag_offers *t)
{
    return t->cap - t->n_free;
}

static bool all_zero(const uint8_t *b, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= b[i];
    return acc == 0;
}

static uint64_t load_be64(const uint8_t *b)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | b[i];
    return v;
}

static void release(struct ag_offers *t, uint32_t i)
{
    memset(&t->slot[i], 0, sizeof(t->slot[i]));
    t->free_stack[t->n_free++] = i;
}

enum ag_reason ag_offers_issue(struct ag_offers *t, const struct ag_endpoint *ep, uint32_t vm_id,
                               const uint8_t x25519_pub[DPTRAILER_X25519_LEN],
                               const uint8_t *peer_offer, size_t peer_len,
                               const uint8_t random[AG_OFFER_RANDOM_LEN], uint64_t now_ms,
                               uint32_t ttl_ms, uint8_t *out, size_t cap, size_t *out_len,
                               enum dptrailer_result *why)
{
    *why = DPTRAILER_OK;
    if (all_zero(x25519_pub, DPTRAILER_X25519_LEN))
        return AG_REASON_BAD_MESSAGE;
    struct dptrailer peer;
    if (peer_offer) {
        *why = dptrailer_parse(peer_offer, peer_len, DPTRAILER_OFFER, &peer);
        if (*why != DPTRAILER_OK)
            return AG_REASON_BAD_TRAILER;
    }
    if (t->n_free == 0)
        return AG_REASON_LIMIT;
    uint32_t i = t->free_stack[t->n_free - 1];
    struct ag_pending p = {
        .used = true,
        .kind = peer_offer ? DPTRAILER_ANSWER : DPTRAILER_OFFER,
        .vm_id = vm_id,
        .conn_rx_id = (t->generation << AG_OFFER_SLOT_BITS) | (i + 1),
        .rx_session = load_be64(random),
        .expires_ms = now_ms + ttl_ms,
    };
    if (p.rx_session == 0)
        p.rx_session = 1; /* never 0 on the wire; one value in 2^64 loses its randomness */
    memcpy(p.token, random + 8, DPTRAILER_TOKEN_LEN);
    struct dptrailer tr = {
        .kind = p.kind,
        .mode = (enum dptrailer_mode)ep->mode,
        .endpoint_id = ep->endpoint_id,
        .ipv4 = ep->ipv4,
        .udp_port = ep->udp_port,
        .mtu = ep->mtu,
        .hb_missed = ep->hb_missed,
        .window_frames = ep->window_frames,
        .conn_rx_window = ep->conn_rx_window,
        .hb_interval_ns = ep->hb_interval_ns,
        .rx_session = p.rx_session,
        .conn_rx_id = p.conn_rx_id,
    };
    memcpy(tr.mac, ep->mac, sizeof(tr.mac));
    memcpy(tr.token, p.token, sizeof(tr.token));
    memcpy(tr.x25519_pub, x25519_pub, sizeof(tr.x25519_pub));
    *why = dptrailer_encode(&tr, out, cap, out_len);
    if (*why != DPTRAILER_OK)
        return AG_REASON_BAD_MESSAGE; /* our own endpoint's values: the caller logs *why */
    t->n_free--;
    t->generation = (t->generation + 1) & ((1u << (32 - AG_OFFER_SLOT_BITS)) - 1);
    t->slot[i] = p;
    return AG_REASON_OK;
}

bool ag_offers_take(struct ag_offers *t, uint32_t vm_id, const uint8_t token[DPTRAILER_TOKEN_LEN],
                    struct ag_pending *out)
{
    for (uint32_t i = 0; i < t->cap; i++) {
        struct ag_pending *p = &t->slot[i];
        if (p->used && p->vm_id == vm_id && memcmp(p->token, token, DPTRAILER_TOKEN_LEN) == 0) {
            *out = *p;
            release(t, i);
            return true;
        }
    }
    return false;
}

uint32_t ag_offers_expire(struct ag_offers *t, uint64_t now_ms)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < t->cap && t->n_free < t->cap; i++)
        if (t->slot[i].used && t->slot[i].expires_ms <= now_ms) {
            release(t, i);
            n++;
        }
    return n;
}

uint32_t ag_offers_drop_vm(struct ag_offers *t, uint32_t vm_id)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < t->cap && t->n_free < t->cap; i++)
        if (t->slot[i].used && t->slot[i].vm_id == vm_id) {
            release(t, i);
            n++;
        }
    return n;
}
