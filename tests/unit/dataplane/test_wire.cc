// Unit tests for dataplane/wire.c: header encode/decode round trips, the IPv4 checksum
// against a known value, ACK/HEARTBEAT payloads, and every stateless drop reason.
#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <string>
#include <vector>

extern "C" {
#include "dataplane/wire.h"
}

namespace
{

using Bytes = std::vector<uint8_t>;

constexpr uint16_t kPort = 47000;

wire_endpoints endpoints()
{
    wire_endpoints ep{};
    const uint8_t src[6] = {0x02, 0, 0, 0, 0, 1}, dst[6] = {0x02, 0, 0, 0, 0, 2};
    memcpy(ep.src_mac, src, 6);
    memcpy(ep.dst_mac, dst, 6);
    ep.src_ip = 0x0a000001;
    ep.dst_ip = 0x0a000002;
    ep.src_port = 41000;
    ep.dst_port = kPort;
    return ep;
}

wire_hdr data_hdr(uint32_t frag_off, uint32_t len, uint32_t msg_len)
{
    wire_hdr h{};
    h.version = DP_WIRE_VERSION;
    h.type = WIRE_T_DATA;
    h.lane = WIRE_LANE_NORMAL;
    h.flags = (frag_off == 0 ? WIRE_F_FIRST : 0) | (frag_off + len == msg_len ? WIRE_F_LAST : 0);
    h.session = 0x1122334455667788ull;
    h.seq = 0xfffffffeu;
    h.flow = 7;
    h.msg_seq = 99;
    h.msg_len = msg_len;
    h.frag_off = frag_off;
    h.pn = 0x0102030405060708ull;
    h.conn = 0xa1b2c3d4u;
    return h;
}

Bytes frame(const wire_hdr &h, const Bytes &payload, unsigned flags = 0)
{
    Bytes f(WIRE_FRAME_OVERHEAD + payload.size());
    wire_endpoints ep = endpoints();
    EXPECT_EQ(size_t(WIRE_ALL_HDRS_LEN),
              wire_encode_headers(f.data(), f.size(), &ep, &h, payload.size(), flags));
    std::copy(payload.begin(), payload.end(), f.begin() + WIRE_ALL_HDRS_LEN);
    for (size_t i = 0; i < WIRE_TAG_LEN; i++) // a recognisable trailer (wire does not check it)
        f[WIRE_ALL_HDRS_LEN + payload.size() + i] = uint8_t(0xe0 + i);
    return f;
}

wire_drop parse(const Bytes &f, wire_rx *rx = nullptr, unsigned flags = WIRE_RX_VERIFY_IP_CSUM)
{
    wire_rx tmp;
    return wire_parse(f.data(), f.size(), kPort, flags, rx ? rx : &tmp);
}

TEST(Wire, HeaderSizes)
{
    EXPECT_EQ(48, WIRE_DP_HDR_LEN);
    EXPECT_EQ(16, WIRE_TAG_LEN);
    EXPECT_EQ(90, WIRE_ALL_HDRS_LEN);   // before the payload
    EXPECT_EQ(92, WIRE_L3_HDRS_LEN);    // MTU - payload
    EXPECT_EQ(106, WIRE_FRAME_OVERHEAD); // frame - payload
    EXPECT_EQ(1408, 1500 - WIRE_L3_HDRS_LEN);
}

TEST(Wire, DataRoundTrip)
{
    Bytes payload(100);
    for (size_t i = 0; i < payload.size(); i++)
        payload[i] = uint8_t(i * 3);
    wire_hdr h = data_hdr(200, 100, 300);
    Bytes f = frame(h, payload);
    wire_rx rx;
    ASSERT_EQ(WIRE_OK, parse(f, &rx));
    EXPECT_EQ(h.type, rx.hdr.type);
    EXPECT_EQ(h.lane, rx.hdr.lane);
    EXPECT_EQ(h.flags, rx.hdr.flags);
    EXPECT_EQ(WIRE_F_LAST, rx.hdr.flags);
    EXPECT_EQ(h.session, rx.hdr.session);
    EXPECT_EQ(h.seq, rx.hdr.seq);
    EXPECT_EQ(h.flow, rx.hdr.flow);
    EXPECT_EQ(h.msg_seq, rx.hdr.msg_seq);
    EXPECT_EQ(h.msg_len, rx.hdr.msg_len);
    EXPECT_EQ(h.frag_off, rx.hdr.frag_off);
    EXPECT_EQ(h.pn, rx.hdr.pn);
    EXPECT_EQ(h.conn, rx.hdr.conn);
    EXPECT_EQ(0x0a000001u, rx.src_ip);
    EXPECT_EQ(0x0a000002u, rx.dst_ip);
    EXPECT_EQ(f.data(), rx.dst_mac);
    EXPECT_EQ(rx.payload + 100, rx.tag);
    EXPECT_EQ(0xe0, rx.tag[0]);
    EXPECT_EQ(0xef, rx.tag[15]);
    EXPECT_EQ(41000, rx.src_port);
    ASSERT_EQ(100u, rx.payload_len);
    EXPECT_EQ(0, memcmp(rx.payload, payload.data(), 100));
}

TEST(Wire, DpHeaderGoldenBytes)
{
    wire_hdr h = data_hdr(0, 10, 10);
    h.version = 9; // ignored: always written as DP_WIRE_VERSION
    uint8_t out[WIRE_DP_HDR_LEN];
    wire_put_dp_hdr(out, &h);
    const uint8_t want[WIRE_DP_HDR_LEN] = {
        2,    1,    2,    3,                            // version, DATA, normal, FIRST|LAST
        0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, // session
        0xff, 0xff, 0xff, 0xfe,                         // seq
        0,    7,                                        // flow
        0,    0,                                        // reserved
        0,    0,    0,    99,                           // msg_seq
        0,    0,    0,    10,                           // msg_len
        0,    0,    0,    0,                            // frag_off
        1,    2,    3,    4,    5,    6,    7,    8,    // pn
        0xa1, 0xb2, 0xc3, 0xd4,                         // conn
        0,    0,    0,    0,                            // reserved2
    };
    EXPECT_EQ(0, memcmp(out, want, sizeof(want)));
}

TEST(Wire, OuterHeadersGolden)
{
    wire_hdr h = data_hdr(0, 4, 4);
    Bytes f = frame(h, Bytes(4, 0xab));
    // Ethernet
    EXPECT_EQ(0x02, f[0]);
    EXPECT_EQ(2, f[5]);
    EXPECT_EQ(1, f[11]);
    EXPECT_EQ(0x08, f[12]);
    EXPECT_EQ(0x00, f[13]);
    // IPv4: 45 00 len (20 + 8 + 48 + 4 + 16 = 96) id 0 DF ttl 64 udp
    const uint8_t *ip = f.data() + 14;
    EXPECT_EQ(0x45, ip[0]);
    EXPECT_EQ(96, ip[2] << 8 | ip[3]);
    EXPECT_EQ(0x40, ip[6]);
    EXPECT_EQ(64, ip[8]);
    EXPECT_EQ(17, ip[9]);
    EXPECT_EQ(wire_ipv4_cksum(ip), uint16_t(ip[10] << 8 | ip[11]));
    // UDP: ports, length 8 + 48 + 4 + 16 (the tag counts), checksum 0
    const uint8_t *udp = ip + 20;
    EXPECT_EQ(41000, udp[0] << 8 | udp[1]);
    EXPECT_EQ(kPort, udp[2] << 8 | udp[3]);
    EXPECT_EQ(76, udp[4] << 8 | udp[5]);
    EXPECT_EQ(0, udp[6] | udp[7]);
}

TEST(Wire, Ipv4ChecksumKnownValue)
{
    // The classic example header: 4500 0073 0000 4000 4011 [b861] c0a8 0001 c0a8 00c7
    const uint8_t ip[20] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                            0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
    EXPECT_EQ(0xb861, wire_ipv4_cksum(ip));
    uint8_t zeroed[20];
    memcpy(zeroed, ip, 20);
    zeroed[10] = zeroed[11] = 0;
    EXPECT_EQ(0xb861, wire_ipv4_cksum(zeroed));
}

TEST(Wire, ChecksumOffloadLeavesZero)
{
    Bytes f = frame(data_hdr(0, 4, 4), Bytes(4, 1), WIRE_ENC_IP_CSUM_OFFLOAD);
    EXPECT_EQ(0, f[14 + 10] | f[14 + 11]);
    EXPECT_EQ(WIRE_DROP_BAD_IP, parse(f));    // verified in software: wrong
    EXPECT_EQ(WIRE_OK, parse(f, nullptr, 0)); // the NIC checked it
}

TEST(Wire, EncodeRejectsShortBufferAndHugePayload)
{
    uint8_t buf[WIRE_ALL_HDRS_LEN];
    wire_endpoints ep = endpoints();
    wire_hdr h = data_hdr(0, 1, 1);
    EXPECT_EQ(0u, wire_encode_headers(buf, sizeof(buf) - 1, &ep, &h, 1, 0));
    EXPECT_EQ(0u, wire_encode_headers(buf, sizeof(buf), &ep, &h, 65535 - 92 + 1, 0));
    EXPECT_EQ(size_t(WIRE_ALL_HDRS_LEN),
              wire_encode_headers(buf, sizeof(buf), &ep, &h, 65535 - 92, 0));
}

TEST(Wire, AckPayload)
{
    uint8_t sack[3] = {0x05, 0x00, 0x80};
    wire_hdr h{};
    h.type = WIRE_T_ACK;
    h.lane = WIRE_LANE_PULSE;
    h.session = 1;
    h.seq = 1234;
    h.flow = 3;
    Bytes pl(WIRE_ACK_MAX_LEN);
    size_t n = wire_put_ack(pl.data(), pl.size(), 0x0102030405060708ull, sack, 3);
    ASSERT_EQ(11u, n);
    pl.resize(n);
    wire_rx rx;
    Bytes f = frame(h, pl); // rx points into it
    ASSERT_EQ(WIRE_OK, parse(f, &rx));
    uint64_t credit;
    const uint8_t *got;
    wire_get_ack(rx.payload, &credit, &got);
    EXPECT_EQ(0x0102030405060708ull, credit);
    EXPECT_EQ(0, memcmp(got, sack, 3));
    EXPECT_EQ(1234u, rx.hdr.seq);

    uint8_t small[8];
    EXPECT_EQ(0u, wire_put_ack(small, sizeof(small), 1, sack, 1));
    Bytes big(2000);
    EXPECT_EQ(0u, wire_put_ack(big.data(), big.size(), 1, big.data(), WIRE_SACK_MAX_BYTES + 1));
}

TEST(Wire, HeartbeatPayload)
{
    uint8_t pl[WIRE_HEARTBEAT_LEN];
    ASSERT_EQ(16u, wire_put_heartbeat(pl, sizeof(pl), 777, 888));
    wire_hdr h{};
    h.type = WIRE_T_HEARTBEAT;
    h.lane = WIRE_LANE_PULSE;
    h.seq = 5;
    wire_rx rx;
    Bytes f = frame(h, Bytes(pl, pl + 16));
    ASSERT_EQ(WIRE_OK, parse(f, &rx));
    uint64_t t, c;
    wire_get_heartbeat(rx.payload, &t, &c);
    EXPECT_EQ(777u, t);
    EXPECT_EQ(888u, c);
    EXPECT_EQ(0u, wire_put_heartbeat(pl, 15, 1, 1));
}

TEST(Wire, DropTableNames)
{
    std::set<std::string> names;
    for (int d = 0; d < WIRE_DROP__COUNT; d++) {
        names.insert(wire_drop_name(wire_drop(d)));
        EXPECT_STRNE("", wire_drop_str(wire_drop(d)));
    }
    EXPECT_EQ(size_t(WIRE_DROP__COUNT), names.size());
    EXPECT_STREQ("bad_ip", wire_drop_name(WIRE_DROP_BAD_IP));
    EXPECT_STREQ("unknown", wire_drop_name(wire_drop(WIRE_DROP__COUNT)));
}

// One test per stateless drop reason, each mutating a valid frame.
class WireDrop : public ::testing::Test
{
  protected:
    Bytes good = frame(data_hdr(0, 8, 8), Bytes(8, 0x5a));
    uint8_t *ip()
    {
        return good.data() + 14;
    }
    uint8_t *udp()
    {
        return good.data() + 34;
    }
    uint8_t *dp()
    {
        return good.data() + 42;
    }
    void refresh_csum()
    {
        uint16_t c = wire_ipv4_cksum(ip());
        ip()[10] = uint8_t(c >> 8);
        ip()[11] = uint8_t(c);
    }
};

TEST_F(WireDrop, Baseline)
{
    EXPECT_EQ(WIRE_OK, parse(good));
}

TEST_F(WireDrop, Short)
{
    EXPECT_EQ(WIRE_DROP_SHORT, parse(Bytes(good.begin(), good.begin() + 13)));
    EXPECT_EQ(WIRE_DROP_SHORT, parse(Bytes(good.begin(), good.begin() + 33)));
    EXPECT_EQ(WIRE_DROP_SHORT, parse(Bytes()));
    // a datagram whose UDP payload is shorter than the dpdist header and the tag
    Bytes f = frame(data_hdr(0, 8, 8), Bytes(8, 0));
    f.resize(14 + 20 + 8 + 63);
    uint8_t *fip = f.data() + 14;
    fip[2] = 0, fip[3] = 20 + 8 + 63;
    uint16_t c = wire_ipv4_cksum(fip);
    fip[10] = uint8_t(c >> 8), fip[11] = uint8_t(c);
    f[34 + 4] = 0, f[34 + 5] = 8 + 63;
    EXPECT_EQ(WIRE_DROP_SHORT, parse(f));
}

TEST_F(WireDrop, NotIpv4)
{
    good[12] = 0x86, good[13] = 0xdd;
    EXPECT_EQ(WIRE_DROP_NOT_IPV4, parse(good));
    good[12] = 0x81, good[13] = 0x00; // VLAN tags are not supported
    EXPECT_EQ(WIRE_DROP_NOT_IPV4, parse(good));
}

TEST_F(WireDrop, BadIp)
{
    Bytes orig = good;
    ip()[0] = 0x46; // options
    refresh_csum();
    EXPECT_EQ(WIRE_DROP_BAD_IP, parse(good));
    good = orig;
    ip()[0] = 0x65; // version 6
    refresh_csum();
    EXPECT_EQ(WIRE_DROP_BAD_IP, parse(good));
    good = orig;
    ip()[6] = 0x20; // MF
    refresh_csum();
    EXPECT_EQ(WIRE_DROP_BAD_IP, parse(good));
    good = orig;
    ip()[7] = 0x01; // fragment offset
    refresh_csum();
    EXPECT_EQ(WIRE_DROP_BAD_IP, parse(good));
    good = orig;
    ip()[9] = 6; // TCP
    refresh_csum();
    EXPECT_EQ(WIRE_DROP_BAD_IP, parse(good));
    good = orig;
    ip()[2] = 0x10; // total length beyond the frame
    refresh_csum();
    EXPECT_EQ(WIRE_DROP_BAD_IP, parse(good));
    good = orig;
    ip()[2] = 0, ip()[3] = 27; // shorter than IPv4 + UDP
    refresh_csum();
    EXPECT_EQ(WIRE_DROP_BAD_IP, parse(good));
    good = orig;
    ip()[11] ^= 1; // checksum
    EXPECT_EQ(WIRE_DROP_BAD_IP, parse(good));
}

TEST_F(WireDrop, BadUdp)
{
    Bytes orig = good;
    udp()[3] ^= 1; // destination port
    EXPECT_EQ(WIRE_DROP_BAD_UDP, parse(good));
    good = orig;
    udp()[5] -= 1; // UDP length != IPv4 payload length
    EXPECT_EQ(WIRE_DROP_BAD_UDP, parse(good));
}

TEST_F(WireDrop, EthernetPaddingIgnored)
{
    good.resize(good.size() + 20, 0);
    EXPECT_EQ(WIRE_OK, parse(good));
}

TEST_F(WireDrop, BadVersion)
{
    dp()[0] = 1; // wire version 1: unauthenticated frames
    EXPECT_EQ(WIRE_DROP_BAD_VERSION, parse(good));
    dp()[0] = 3;
    EXPECT_EQ(WIRE_DROP_BAD_VERSION, parse(good));
    dp()[0] = 0;
    EXPECT_EQ(WIRE_DROP_BAD_VERSION, parse(good));
}

TEST_F(WireDrop, BadHeader)
{
    Bytes orig = good;
    dp()[1] = 0; // type
    EXPECT_EQ(WIRE_DROP_BAD_HEADER, parse(good));
    dp()[1] = 5;
    EXPECT_EQ(WIRE_DROP_BAD_HEADER, parse(good));
    good = orig;
    dp()[2] = 0; // DATA on the pulse lane
    EXPECT_EQ(WIRE_DROP_BAD_HEADER, parse(good));
    dp()[2] = 3; // no such lane
    EXPECT_EQ(WIRE_DROP_BAD_HEADER, parse(good));
    good = orig;
    dp()[3] |= 0x04; // unknown flag
    EXPECT_EQ(WIRE_DROP_BAD_HEADER, parse(good));
    good = orig;
    dp()[19] = 1; // reserved u16 at 18
    EXPECT_EQ(WIRE_DROP_BAD_HEADER, parse(good));
    good = orig;
    dp()[44] = 0x80; // reserved2 u32 at 44
    EXPECT_EQ(WIRE_DROP_BAD_HEADER, parse(good));
    // pulse frames on a data lane
    wire_hdr h{};
    h.type = WIRE_T_CLOSE;
    h.lane = WIRE_LANE_EXPRESS;
    EXPECT_EQ(WIRE_DROP_BAD_HEADER, parse(frame(h, {})));
    h.type = WIRE_T_HEARTBEAT;
    EXPECT_EQ(WIRE_DROP_BAD_HEADER, parse(frame(h, Bytes(16))));
    h.type = WIRE_T_ACK;
    EXPECT_EQ(WIRE_DROP_BAD_HEADER, parse(frame(h, Bytes(8))));
}

TEST_F(WireDrop, BadLengthData)
{
    // FIRST without frag_off 0, frag_off 0 without FIRST, LAST mismatches, overrun, empty
    wire_hdr h = data_hdr(8, 8, 24);
    h.flags |= WIRE_F_FIRST;
    EXPECT_EQ(WIRE_DROP_BAD_LENGTH, parse(frame(h, Bytes(8))));
    h = data_hdr(0, 8, 24);
    h.flags = 0;
    EXPECT_EQ(WIRE_DROP_BAD_LENGTH, parse(frame(h, Bytes(8))));
    h = data_hdr(0, 8, 24);
    h.flags |= WIRE_F_LAST;
    EXPECT_EQ(WIRE_DROP_BAD_LENGTH, parse(frame(h, Bytes(8))));
    h = data_hdr(16, 8, 24);
    h.flags = 0;
    EXPECT_EQ(WIRE_DROP_BAD_LENGTH, parse(frame(h, Bytes(8))));
    h = data_hdr(20, 8, 24); // beyond msg_len
    h.flags = WIRE_F_LAST;
    EXPECT_EQ(WIRE_DROP_BAD_LENGTH, parse(frame(h, Bytes(8))));
    h = data_hdr(0xfffffff8u, 16, 24); // frag_off + len wraps 32 bits
    h.flags = 0;
    EXPECT_EQ(WIRE_DROP_BAD_LENGTH, parse(frame(h, Bytes(16))));
    h = data_hdr(0, 0, 0); // empty fragment of an empty message
    EXPECT_EQ(WIRE_DROP_BAD_LENGTH, parse(frame(h, {})));
    h = data_hdr(0, 8, 8);
    EXPECT_EQ(WIRE_OK, parse(frame(h, Bytes(8))));
}

TEST_F(WireDrop, BadLengthPulse)
{
    wire_hdr h{};
    h.lane = WIRE_LANE_PULSE;
    h.type = WIRE_T_ACK;
    h.flow = 2;
    EXPECT_EQ(WIRE_DROP_BAD_LENGTH, parse(frame(h, Bytes(9))));  // bitmap shorter than flow
    EXPECT_EQ(WIRE_DROP_BAD_LENGTH, parse(frame(h, Bytes(11)))); // longer
    EXPECT_EQ(WIRE_OK, parse(frame(h, Bytes(10))));
    h.flow = WIRE_SACK_MAX_BYTES + 1;
    EXPECT_EQ(WIRE_DROP_BAD_LENGTH, parse(frame(h, Bytes(8 + WIRE_SACK_MAX_BYTES + 1))));
    h.flow = 0;
    EXPECT_EQ(WIRE_DROP_BAD_LENGTH, parse(frame(h, Bytes(7))));
    h.type = WIRE_T_HEARTBEAT;
    EXPECT_EQ(WIRE_DROP_BAD_LENGTH, parse(frame(h, Bytes(15))));
    EXPECT_EQ(WIRE_DROP_BAD_LENGTH, parse(frame(h, Bytes(17))));
    h.type = WIRE_T_CLOSE;
    EXPECT_EQ(WIRE_DROP_BAD_LENGTH, parse(frame(h, Bytes(1))));
    EXPECT_EQ(WIRE_OK, parse(frame(h, {})));
}

TEST(Wire, SerialArithmetic)
{
    EXPECT_TRUE(wire_seq_lt(0xffffffffu, 0));
    EXPECT_TRUE(wire_seq_lt(0xfffffff0u, 0x10));
    EXPECT_FALSE(wire_seq_lt(0x10, 0xfffffff0u));
    EXPECT_TRUE(wire_seq_le(5, 5));
    EXPECT_FALSE(wire_seq_lt(5, 5));
}

} // namespace

TEST(Wire, DestinationCheck)
{
    wire_rx rx;
    Bytes f = frame(data_hdr(0, 8, 8), Bytes(8, 1));
    ASSERT_EQ(WIRE_OK, parse(f, &rx));
    const uint8_t ours[6] = {0x02, 0, 0, 0, 0, 2};
    EXPECT_TRUE(wire_dst_ok(&rx, ours, 0x0a000002));
    EXPECT_FALSE(wire_dst_ok(&rx, ours, 0x0a000003)); // another IPv4 address
    const uint8_t other[6] = {0x02, 0, 0, 0, 0, 3};
    EXPECT_FALSE(wire_dst_ok(&rx, other, 0x0a000002)); // another MAC
    const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    memcpy(f.data(), bcast, 6); // broadcast is not ours either
    ASSERT_EQ(WIRE_OK, parse(f, &rx));
    EXPECT_FALSE(wire_dst_ok(&rx, ours, 0x0a000002));
}
