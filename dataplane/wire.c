/* Fast path: no allocation, no locks, no logging. See wire.h. */
#include "dataplane/wire.h"

#include <string.h>

#include "common/bytes.h"

static const char *const wire_drop_names[] = {
#define WIRE_X_NAME(code, name, msg) name,
    WIRE_DROPS(WIRE_X_NAME)
#undef WIRE_X_NAME
};

static const char *const wire_drop_msgs[] = {
#define WIRE_X_MSG(code, name, msg) msg,
    WIRE_DROPS(WIRE_X_MSG)
#undef WIRE_X_MSG
};

const char *wire_drop_name(enum wire_drop d)
{
    if ((unsigned)d >= WIRE_DROP__COUNT)
        return "unknown";
    return wire_drop_names[d];
}

const char *wire_drop_str(enum wire_drop d)
{
    if ((unsigned)d >= WIRE_DROP__COUNT)
        return "unknown drop reason";
    return wire_drop_msgs[d];
}

/* Offsets inside the frame. */
#define OFF_ETH_TYPE 12
#define OFF_IP       WIRE_ETH_LEN
#define OFF_UDP      (OFF_IP + WIRE_IPV4_LEN)
#define OFF_DP       (OFF_UDP + WIRE_UDP_LEN)
_Static_assert(OFF_DP == WIRE_DP_OFF, "dpdist header offset");

void wire_put_dp_hdr(uint8_t *out, const struct wire_hdr *h)
{
    out[0] = DP_WIRE_VERSION;
    out[1] = h->type;
    out[2] = h->lane;
    out[3] = h->flags;
    be64_put(out + 4, h->session);
    be32_put(out + 12, h->seq);
    be16_put(out + 16, h->flow);
    be16_put(out + 18, 0);
    be32_put(out + 20, h->msg_seq);
    be32_put(out + 24, h->msg_len);
    be32_put(out + 28, h->frag_off);
    be64_put(out + WIRE_PN_OFF, h->pn);
    be32_put(out + 40, h->conn);
    be32_put(out + 44, 0);
}

void wire_get_dp_hdr(const uint8_t *in, struct wire_hdr *h)
{
    h->version = in[0];
    h->type = in[1];
    h->lane = in[2];
    h->flags = in[3];
    h->session = be64_get(in + 4);
    h->seq = be32_get(in + 12);
    h->flow = be16_get(in + 16);
    h->msg_seq = be32_get(in + 20);
    h->msg_len = be32_get(in + 24);
    h->frag_off = be32_get(in + 28);
    h->pn = be64_get(in + WIRE_PN_OFF);
    h->conn = be32_get(in + 40);
}

/* The reserved fields (u16 at 18, u32 at 44), which wire_hdr does not keep. */
static bool reserved_zero(const uint8_t *dp)
{
    return be16_get(dp + 18) == 0 && be32_get(dp + 44) == 0;
}

bool wire_dst_ok(const struct wire_rx *rx, const uint8_t local_mac[6], uint32_t local_ip)
{
    return memcmp(rx->dst_mac, local_mac, 6) == 0 && rx->dst_ip == local_ip;
}

uint16_t wire_ipv4_cksum(const uint8_t *ip)
{
    uint32_t sum = 0;
    for (int i = 0; i < WIRE_IPV4_LEN; i += 2) {
        if (i == 10)
            continue; /* the checksum field itself */
        sum += be16_get(ip + i);
    }
    while (sum >> 16)
        sum = (sum & 0xffffu) + (sum >> 16);
    return (uint16_t)~sum;
}

size_t wire_encode_headers(uint8_t *out, size_t cap, const struct wire_endpoints *ep,
                           const struct wire_hdr *h, size_t payload_len, unsigned flags)
{
    if (cap < WIRE_ALL_HDRS_LEN || payload_len > 65535 - WIRE_L3_HDRS_LEN)
        return 0;
    memcpy(out, ep->dst_mac, 6);
    memcpy(out + 6, ep->src_mac, 6);
    be16_put(out + OFF_ETH_TYPE, WIRE_ETHERTYPE_IPV4);

    uint8_t *ip = out + OFF_IP;
    ip[0] = 0x45; /* version 4, IHL 5 */
    ip[1] = ep->tos;
    be16_put(ip + 2, (uint16_t)(WIRE_L3_HDRS_LEN + payload_len));
    be16_put(ip + 4, 0);      /* identification: never fragmented */
    be16_put(ip + 6, 0x4000); /* DF */
    ip[8] = WIRE_IPV4_TTL;
    ip[9] = WIRE_IPPROTO_UDP;
    be16_put(ip + 10, 0);
    be32_put(ip + 12, ep->src_ip);
    be32_put(ip + 16, ep->dst_ip);
    if (!(flags & WIRE_ENC_IP_CSUM_OFFLOAD))
        be16_put(ip + 10, wire_ipv4_cksum(ip));

    uint8_t *udp = out + OFF_UDP;
    be16_put(udp, ep->src_port);
    be16_put(udp + 2, ep->dst_port);
    be16_put(udp + 4, (uint16_t)(WIRE_UDP_LEN + WIRE_DP_HDR_LEN + payload_len + WIRE_TAG_LEN));
    be16_put(udp + 6, 0);

    wire_put_dp_hdr(out + OFF_DP, h);
    return WIRE_ALL_HDRS_LEN;
}

size_t wire_put_ack(uint8_t *out, size_t cap, uint64_t credit_limit, const uint8_t *sack,
                    size_t sack_len)
{
    if (sack_len > WIRE_SACK_MAX_BYTES || cap < WIRE_ACK_FIXED_LEN + sack_len)
        return 0;
    be64_put(out, credit_limit);
    if (sack_len)
        memcpy(out + WIRE_ACK_FIXED_LEN, sack, sack_len);
    return WIRE_ACK_FIXED_LEN + sack_len;
}

void wire_get_ack(const uint8_t *payload, uint64_t *credit_limit, const uint8_t **sack)
{
    *credit_limit = be64_get(payload);
    *sack = payload + WIRE_ACK_FIXED_LEN;
}

size_t wire_put_heartbeat(uint8_t *out, size_t cap, uint64_t tx_time_ns, uint64_t credit_limit)
{
    if (cap < WIRE_HEARTBEAT_LEN)
        return 0;
    be64_put(out, tx_time_ns);
    be64_put(out + 8, credit_limit);
    return WIRE_HEARTBEAT_LEN;
}

void wire_get_heartbeat(const uint8_t *payload, uint64_t *tx_time_ns, uint64_t *credit_limit)
{
    *tx_time_ns = be64_get(payload);
    *credit_limit = be64_get(payload + 8);
}

enum wire_drop wire_check_dp(const struct wire_hdr *h, uint32_t len)
{
    if (h->version != DP_WIRE_VERSION)
        return WIRE_DROP_BAD_VERSION;
    switch (h->type) {
    case WIRE_T_DATA: {
        if (h->lane != WIRE_LANE_EXPRESS && h->lane != WIRE_LANE_NORMAL)
            return WIRE_DROP_BAD_HEADER;
        if (h->flags & ~(WIRE_F_FIRST | WIRE_F_LAST))
            return WIRE_DROP_BAD_HEADER;
        uint64_t end = (uint64_t)h->frag_off + len;
        if (len == 0 || end > h->msg_len)
            return WIRE_DROP_BAD_LENGTH;
        if (!(h->flags & WIRE_F_FIRST) != (h->frag_off != 0))
            return WIRE_DROP_BAD_LENGTH;
        if (!(h->flags & WIRE_F_LAST) != (end != h->msg_len))
            return WIRE_DROP_BAD_LENGTH;
        return WIRE_OK;
    }
    case WIRE_T_ACK:
        if (h->lane != WIRE_LANE_PULSE || h->flags)
            return WIRE_DROP_BAD_HEADER;
        if (h->flow > WIRE_SACK_MAX_BYTES || len != WIRE_ACK_FIXED_LEN + (uint32_t)h->flow)
            return WIRE_DROP_BAD_LENGTH;
        return WIRE_OK;
    case WIRE_T_HEARTBEAT:
        if (h->lane != WIRE_LANE_PULSE || h->flags)
            return WIRE_DROP_BAD_HEADER;
        if (len != WIRE_HEARTBEAT_LEN)
            return WIRE_DROP_BAD_LENGTH;
        return WIRE_OK;
    case WIRE_T_CLOSE:
        if (h->lane != WIRE_LANE_PULSE || h->flags)
            return WIRE_DROP_BAD_HEADER;
        if (len != 0)
            return WIRE_DROP_BAD_LENGTH;
        return WIRE_OK;
    default:
        return WIRE_DROP_BAD_HEADER;
    }
}

enum wire_drop wire_parse(const uint8_t *f, size_t len, uint16_t local_port, unsigned flags,
                          struct wire_rx *out)
{
    if (len < WIRE_ETH_LEN)
        return WIRE_DROP_SHORT;
    if (be16_get(f + OFF_ETH_TYPE) != WIRE_ETHERTYPE_IPV4)
        return WIRE_DROP_NOT_IPV4;
    if (len < OFF_UDP)
        return WIRE_DROP_SHORT;

    const uint8_t *ip = f + OFF_IP;
    if (ip[0] != 0x45)
        return WIRE_DROP_BAD_IP; /* not version 4 or has options */
    if (be16_get(ip + 6) & 0x3fffu)
        return WIRE_DROP_BAD_IP; /* MF or a fragment offset */
    if (ip[9] != WIRE_IPPROTO_UDP)
        return WIRE_DROP_BAD_IP;
    size_t ip_total = be16_get(ip + 2);
    if (ip_total > len - WIRE_ETH_LEN || ip_total < WIRE_IPV4_LEN + WIRE_UDP_LEN)
        return WIRE_DROP_BAD_IP;
    if ((flags & WIRE_RX_VERIFY_IP_CSUM) && be16_get(ip + 10) != wire_ipv4_cksum(ip))
        return WIRE_DROP_BAD_IP;

    const uint8_t *udp = f + OFF_UDP;
    if (be16_get(udp + 2) != local_port)
        return WIRE_DROP_BAD_UDP;
    size_t udp_len = be16_get(udp + 4);
    if (udp_len != ip_total - WIRE_IPV4_LEN)
        return WIRE_DROP_BAD_UDP;
    if (udp_len < WIRE_UDP_LEN + WIRE_DP_HDR_LEN + WIRE_TAG_LEN)
        return WIRE_DROP_SHORT;

    wire_get_dp_hdr(f + OFF_DP, &out->hdr);
    if (out->hdr.version == DP_WIRE_VERSION && !reserved_zero(f + OFF_DP))
        return WIRE_DROP_BAD_HEADER;
    out->payload = f + OFF_DP + WIRE_DP_HDR_LEN;
    out->payload_len = (uint32_t)(udp_len - WIRE_UDP_LEN - WIRE_DP_HDR_LEN - WIRE_TAG_LEN);
    out->tag = out->payload + out->payload_len;
    out->src_ip = be32_get(ip + 12);
    out->dst_ip = be32_get(ip + 16);
    out->src_port = be16_get(udp);
    out->dst_mac = f;
    return wire_check_dp(&out->hdr, out->payload_len);
}
