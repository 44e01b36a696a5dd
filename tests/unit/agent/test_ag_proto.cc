// Tests for agent/ag_proto.c: the golden messages of tests/vectors/ag_proto.txt (shared with
// the Erlang codec's EUnit test), every truncation and extension, field rules on encode and
// decode alike, framing.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "agent/ag_proto.h"
#include "tests/lib/hex.h"

#ifndef DPDIST_VECTORS_DIR
#error "DPDIST_VECTORS_DIR must name tests/vectors"
#endif

namespace
{

using Bytes = std::vector<uint8_t>;

struct Vector {
    bool ok;
    std::string result, name;
    Bytes bytes;
};

std::vector<Vector> load()
{
    std::ifstream in(std::string(DPDIST_VECTORS_DIR) + "/ag_proto.txt");
    std::vector<Vector> out;
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#')
            continue;
        std::istringstream ls(line);
        Vector v;
        std::string kind, hex;
        ls >> kind;
        v.ok = kind == "ok";
        if (!v.ok)
            ls >> v.result;
        ls >> v.name >> hex;
        v.bytes = testhex::bytes(hex);
        out.push_back(v);
    }
    return out;
}

const char *result_name(ag_proto_result r)
{
    switch (r) {
    case AG_PROTO_E_LENGTH:
        return "length";
    case AG_PROTO_E_FIELD:
        return "field";
    case AG_PROTO_E_TYPE:
        return "type";
    case AG_PROTO_E_TOO_LONG:
        return "too_long";
    default:
        return ag_proto_strerror(r);
    }
}

// frame + decode of a whole message
ag_proto_result parse(const Bytes &b, ag_msg *m)
{
    const uint8_t *body;
    size_t body_len, total;
    ag_proto_result r = ag_proto_frame(b.data(), b.size(), &body, &body_len, &total);
    if (r != AG_PROTO_OK)
        return r;
    EXPECT_EQ(total, b.size());
    return ag_proto_decode(body, body_len, m);
}

Bytes encode(const ag_msg &m, ag_proto_result *r = nullptr)
{
    uint8_t buf[AG_PROTO_MSG_MAX];
    size_t len = 0;
    ag_proto_result rr = ag_proto_encode(&m, buf, sizeof(buf), &len);
    if (r)
        *r = rr;
    return rr == AG_PROTO_OK ? Bytes(buf, buf + len) : Bytes();
}

TEST(AgProto, GoldenMessagesBothWays)
{
    std::vector<Vector> vs = load();
    ASSERT_GT(vs.size(), 30u);
    for (const Vector &v : vs) {
        SCOPED_TRACE(v.name);
        ag_msg m;
        ag_proto_result r = parse(v.bytes, &m);
        if (!v.ok) {
            EXPECT_STREQ(result_name(r), v.result.c_str());
            continue;
        }
        ASSERT_EQ(r, AG_PROTO_OK);
        EXPECT_EQ(encode(m), v.bytes);
        uint8_t small[AG_PROTO_MSG_MAX];
        size_t len;
        EXPECT_EQ(ag_proto_encode(&m, small, v.bytes.size() - 1, &len), AG_PROTO_E_SPACE);
    }
}

TEST(AgProto, GoldenFields)
{
    for (const Vector &v : load()) {
        if (!v.ok)
            continue;
        ag_msg m;
        ASSERT_EQ(parse(v.bytes, &m), AG_PROTO_OK);
        if (v.name == "register") {
            EXPECT_EQ(m.u.reg.version, 1);
            EXPECT_EQ(m.u.reg.os_pid, 4242u);
            EXPECT_EQ(std::string((const char *)m.u.reg.name, m.u.reg.name_len), "a@host");
        } else if (v.name == "welcome") {
            EXPECT_EQ(m.u.welcome.vm_id, 3u);
            EXPECT_EQ(m.u.welcome.endpoint_id, 0x0102030405060708u);
            EXPECT_EQ(m.u.welcome.max_conns, 65536u);
            EXPECT_EQ(m.u.welcome.probe_interval_ms, 10u);
            EXPECT_EQ(m.u.welcome.probe_timeout_ms, 1000u);
        } else if (v.name == "offer_out") {
            EXPECT_EQ(m.u.offer_out.req, 7u);
            EXPECT_EQ(m.u.offer_out.x25519_pub[0], 32);
            EXPECT_EQ(std::string((const char *)m.u.offer_out.extra, m.u.offer_out.extra_len),
                      std::string("DPA1\x02"));
            EXPECT_EQ(std::string((const char *)m.u.offer_out.name, m.u.offer_out.name_len),
                      "b@host");
        } else if (v.name == "attach") {
            EXPECT_EQ(m.u.attach.role, AG_ROLE_INITIATOR);
            EXPECT_EQ(m.u.attach.token[15], 15);
            EXPECT_EQ(m.u.attach.tx_key[0], 100);
            EXPECT_EQ(m.u.attach.tx_iv[11], 12);
            EXPECT_EQ(m.u.attach.rx_key[31], 171);
            EXPECT_EQ(m.u.attach.rx_iv[0], 13);
            EXPECT_EQ(m.u.attach.channel_key[0], 180);
            EXPECT_EQ(m.u.attach.confirm_tx[0], 212);
            EXPECT_EQ(m.u.attach.confirm_rx[15], 243);
            EXPECT_EQ(m.u.attach.len, 111);
            EXPECT_EQ(v.bytes.size(), 2u + 1 + 1 + 16 + 3 * 32 + 2 * 12 + 2 * 16 + 2 + 111);
            dptrailer t;
            EXPECT_EQ(dptrailer_parse(m.u.attach.peer_trailer, m.u.attach.len, DPTRAILER_OFFER, &t),
                      DPTRAILER_OK);
        } else if (v.name == "stats_reply") {
            const ag_stats &s = m.u.stats_reply;
            EXPECT_EQ(s.req, 11u);
            EXPECT_EQ(s.mtu, 1500);
            EXPECT_EQ(s.rtt_us, 25u);
            EXPECT_EQ(s.retransmits, 1000u);
            EXPECT_EQ(s.reordered, 1003u);
            EXPECT_EQ(s.normal_rx_bytes, 1015u);
        } else if (v.name == "refused") {
            EXPECT_EQ(m.u.refused.reason, AG_REASON_NOT_ALLOWED);
            EXPECT_STREQ(ag_reason_name(m.u.refused.reason), "not_allowed");
        }
    }
}

TEST(AgProto, EveryTruncationAndExtensionIsRefused)
{
    for (const Vector &v : load()) {
        if (!v.ok)
            continue;
        SCOPED_TRACE(v.name);
        const Bytes body(v.bytes.begin() + 2, v.bytes.end());
        for (size_t cut = 0; cut < body.size(); cut++) {
            ag_msg m;
            ag_proto_result r = ag_proto_decode(body.data(), cut, &m);
            EXPECT_TRUE(r == AG_PROTO_E_LENGTH || (cut == 0 && r == AG_PROTO_E_TYPE)) << cut;
            // a refused decode leaves nothing behind
            ag_msg zero;
            memset(&zero, 0, sizeof(zero));
            EXPECT_EQ(memcmp(&m, &zero, sizeof(m)), 0);
        }
        Bytes longer = body;
        longer.push_back(0);
        ag_msg m;
        EXPECT_EQ(ag_proto_decode(longer.data(), longer.size(), &m), AG_PROTO_E_LENGTH);
    }
}

TEST(AgProto, EncodeRefusesWhatDecodeRefuses)
{
    ag_msg m;
    memset(&m, 0, sizeof(m));
    ag_proto_result r;
    m.type = AG_MSG_ATTACH;
    m.u.attach.role = 3;
    uint8_t t[10] = {1};
    m.u.attach.peer_trailer = t;
    m.u.attach.len = sizeof(t);
    encode(m, &r);
    EXPECT_EQ(r, AG_PROTO_E_FIELD);
    m.u.attach.role = AG_ROLE_ACCEPTOR;
    EXPECT_EQ(encode(m, &r).size(), 2u + 172 + 10); // ATTACH: 172 bytes and the trailer
    m.u.attach.len = DPTRAILER_MAX_LEN + 1;
    encode(m, &r);
    EXPECT_EQ(r, AG_PROTO_E_FIELD);

    memset(&m, 0, sizeof(m));
    m.type = AG_MSG_OFFER;
    m.u.offer.status = AG_REASON_UNREACHABLE;
    EXPECT_EQ(encode(m, &r).size(), 2u + 9);
    m.u.offer.len = 1;
    m.u.offer.trailer = t;
    encode(m, &r);
    EXPECT_EQ(r, AG_PROTO_E_FIELD);

    memset(&m, 0, sizeof(m));
    m.type = (ag_msg_type)15;
    encode(m, &r);
    EXPECT_EQ(r, AG_PROTO_E_TYPE);

    memset(&m, 0, sizeof(m));
    m.type = AG_MSG_REFUSED;
    m.u.refused.reason = AG_REASON_MAX + 1;
    encode(m, &r);
    EXPECT_EQ(r, AG_PROTO_E_FIELD);
    m.u.refused.reason = AG_REASON_LIMIT;
    EXPECT_EQ(encode(m, &r).size(), 2u + 9);
}

TEST(AgProto, Framing)
{
    const uint8_t *body;
    size_t n, total;
    uint8_t two[3] = {0, 1, 10};
    EXPECT_EQ(ag_proto_frame(two, 0, &body, &n, &total), AG_PROTO_NEED_MORE);
    EXPECT_EQ(ag_proto_frame(two, 1, &body, &n, &total), AG_PROTO_NEED_MORE);
    EXPECT_EQ(ag_proto_frame(two, 2, &body, &n, &total), AG_PROTO_NEED_MORE);
    ASSERT_EQ(ag_proto_frame(two, 3, &body, &n, &total), AG_PROTO_OK);
    EXPECT_EQ(n, 1u);
    EXPECT_EQ(total, 3u);
    EXPECT_EQ(body, two + 2);
    uint8_t big[2] = {0x08, 0x01}; // 2049: refused from the length alone
    EXPECT_EQ(ag_proto_frame(big, 2, &body, &n, &total), AG_PROTO_E_TOO_LONG);
    EXPECT_STREQ(ag_proto_type_name(7), "ATTACH");
    EXPECT_STREQ(ag_proto_type_name(99), "unknown");
    EXPECT_STREQ(ag_reason_name(99), "unknown");
}

} // namespace
