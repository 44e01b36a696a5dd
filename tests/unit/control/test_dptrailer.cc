// Tests for control/dptrailer.c: the golden vectors of tests/vectors/dptrailer.txt (shared
// with the Erlang codec's EUnit test), kinds, truncations, canonical encoding, refusals.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "control/dptrailer.h"
#include "tests/lib/hex.h"

#ifndef DPDIST_VECTORS_DIR
#error "DPDIST_VECTORS_DIR must name tests/vectors (set by tests/unit/control/meson.build)"
#endif

namespace
{

using Bytes = std::vector<uint8_t>;

struct Vector {
    std::string name, expect;
    Bytes bytes;
    std::map<std::string, std::string> fields;
};

// "-" stands for no bytes in the vector file.
Bytes from_hex(const std::string &hex)
{
    return hex == "-" ? Bytes{} : testhex::bytes(hex);
}

std::vector<Vector> load_vectors()
{
    std::ifstream in(std::string(DPDIST_VECTORS_DIR) + "/dptrailer.txt");
    std::vector<Vector> out;
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#')
            continue;
        std::istringstream ls(line);
        Vector v;
        std::string hex, kv;
        ls >> v.name >> v.expect >> hex;
        v.bytes = from_hex(hex);
        while (ls >> kv) {
            size_t eq = kv.find('=');
            v.fields[kv.substr(0, eq)] = kv.substr(eq + 1);
        }
        out.push_back(v);
    }
    return out;
}

const std::vector<Vector> &vectors()
{
    static const std::vector<Vector> v = load_vectors();
    return v;
}

uint64_t num(const Vector &v, const char *key)
{
    return std::stoull(v.fields.at(key));
}

// The struct the fields of an ok vector describe (ext points into storage).
struct dptrailer from_fields(const Vector &v, Bytes &storage)
{
    struct dptrailer t;
    memset(&t, 0, sizeof(t));
    t.version = DPTRAILER_VERSION;
    t.kind = v.fields.at("kind") == "offer" ? DPTRAILER_OFFER : DPTRAILER_ANSWER;
    const std::string &mode = v.fields.at("mode");
    t.mode = mode == "none"   ? DPTRAILER_MODE_NONE
             : mode == "gmac" ? DPTRAILER_MODE_GMAC
                              : DPTRAILER_MODE_GCM;
    t.endpoint_id = num(v, "endpoint_id");
    Bytes mac = from_hex(v.fields.at("mac"));
    memcpy(t.mac, mac.data(), sizeof(t.mac));
    struct in_addr a;
    EXPECT_EQ(inet_pton(AF_INET, v.fields.at("ipv4").c_str(), &a), 1);
    t.ipv4 = ntohl(a.s_addr);
    t.udp_port = (uint16_t)num(v, "udp_port");
    t.mtu = (uint16_t)num(v, "mtu");
    t.hb_missed = (uint16_t)num(v, "hb_missed");
    t.window_frames = (uint32_t)num(v, "window_frames");
    t.conn_rx_window = (uint32_t)num(v, "conn_rx_window");
    t.hb_interval_ns = num(v, "hb_interval_ns");
    t.rx_session = num(v, "rx_session");
    t.conn_rx_id = (uint32_t)num(v, "conn_rx_id");
    Bytes token = from_hex(v.fields.at("token"));
    memcpy(t.token, token.data(), sizeof(t.token));
    Bytes key = from_hex(v.fields.at("x25519_pub"));
    memcpy(t.x25519_pub, key.data(), sizeof(t.x25519_pub));
    storage = from_hex(v.fields.at("ext"));
    t.ext = storage.empty() ? nullptr : storage.data();
    t.ext_len = storage.size();
    return t;
}

void expect_same(const struct dptrailer &a, const struct dptrailer &b)
{
    EXPECT_EQ(a.version, b.version);
    EXPECT_EQ(a.kind, b.kind);
    EXPECT_EQ(a.mode, b.mode);
    EXPECT_EQ(a.endpoint_id, b.endpoint_id);
    EXPECT_EQ(memcmp(a.mac, b.mac, sizeof(a.mac)), 0);
    EXPECT_EQ(a.ipv4, b.ipv4);
    EXPECT_EQ(a.udp_port, b.udp_port);
    EXPECT_EQ(a.mtu, b.mtu);
    EXPECT_EQ(a.hb_missed, b.hb_missed);
    EXPECT_EQ(a.window_frames, b.window_frames);
    EXPECT_EQ(a.conn_rx_window, b.conn_rx_window);
    EXPECT_EQ(a.hb_interval_ns, b.hb_interval_ns);
    EXPECT_EQ(a.rx_session, b.rx_session);
    EXPECT_EQ(a.conn_rx_id, b.conn_rx_id);
    EXPECT_EQ(memcmp(a.token, b.token, sizeof(a.token)), 0);
    EXPECT_EQ(memcmp(a.x25519_pub, b.x25519_pub, sizeof(a.x25519_pub)), 0);
    ASSERT_EQ(a.ext_len, b.ext_len);
    if (a.ext_len) {
        EXPECT_EQ(memcmp(a.ext, b.ext, a.ext_len), 0);
    }
}

enum dptrailer_result parse(const Bytes &b, struct dptrailer *out,
                            enum dptrailer_kind expect = DPTRAILER_KIND_ANY)
{
    // An exact-size heap copy, so that ASan sees any read past the end.
    std::unique_ptr<uint8_t[]> copy(new uint8_t[b.size() + 1]);
    memcpy(copy.get(), b.data(), b.size());
    enum dptrailer_result r = dptrailer_parse(copy.get(), b.size(), expect, out);
    out->ext = nullptr; // points into the copy, gone now
    return r;
}

const Vector &vector_named(const char *name)
{
    for (const Vector &v : vectors())
        if (v.name == name)
            return v;
    throw std::runtime_error(std::string("no vector ") + name);
}

TEST(Dptrailer, VectorFileIsThere)
{
    ASSERT_GE(vectors().size(), 40u) << "tests/vectors/dptrailer.txt missing or short";
    size_t ok = 0;
    for (const Vector &v : vectors())
        ok += v.expect == "ok";
    EXPECT_GE(ok, 5u);
}

TEST(Dptrailer, GoldenVectorsParse)
{
    for (const Vector &v : vectors()) {
        SCOPED_TRACE(v.name);
        struct dptrailer got;
        Bytes copy = v.bytes;
        enum dptrailer_result r =
            dptrailer_parse(copy.data(), copy.size(), DPTRAILER_KIND_ANY, &got);
        EXPECT_STREQ(dptrailer_result_name(r), v.expect.c_str());
        if (v.expect == "ok") {
            Bytes storage;
            struct dptrailer want = from_fields(v, storage);
            expect_same(got, want);
        } else if (v.fields.count("version")) {
            EXPECT_EQ(got.version, num(v, "version"));
        }
    }
}

TEST(Dptrailer, GoldenVectorsEncode)
{
    for (const Vector &v : vectors()) {
        if (v.expect != "ok")
            continue;
        SCOPED_TRACE(v.name);
        Bytes storage;
        struct dptrailer t = from_fields(v, storage);
        uint8_t buf[DPTRAILER_MAX_LEN];
        size_t len = 0;
        ASSERT_EQ(dptrailer_encode(&t, buf, sizeof(buf), &len), DPTRAILER_OK);
        EXPECT_EQ(len, dptrailer_encoded_len(&t));
        EXPECT_EQ(Bytes(buf, buf + len), v.bytes);
    }
}

TEST(Dptrailer, KindMustBeTheOneDue)
{
    struct dptrailer t;
    const Vector &offer = vector_named("offer_gmac");
    EXPECT_EQ(parse(offer.bytes, &t, DPTRAILER_OFFER), DPTRAILER_OK);
    EXPECT_EQ(parse(offer.bytes, &t, DPTRAILER_ANSWER), DPTRAILER_E_KIND);
    const Vector &answer = vector_named("answer_gcm_minimums");
    EXPECT_EQ(parse(answer.bytes, &t, DPTRAILER_ANSWER), DPTRAILER_OK);
    EXPECT_EQ(parse(answer.bytes, &t, DPTRAILER_OFFER), DPTRAILER_E_KIND);
}

// A trailer cut anywhere is refused, never read past, and leaves *out zeroed.
TEST(Dptrailer, EveryPrefixIsRefused)
{
    for (const Vector &v : vectors()) {
        if (v.expect != "ok")
            continue;
        SCOPED_TRACE(v.name);
        for (size_t n = 0; n < v.bytes.size(); n++) {
            struct dptrailer t;
            memset(&t, 0xa5, sizeof(t));
            enum dptrailer_result r = parse(Bytes(v.bytes.begin(), v.bytes.begin() + n), &t);
            EXPECT_NE(r, DPTRAILER_OK) << "prefix of " << n << " bytes";
            EXPECT_EQ(t.mtu, 0) << "prefix of " << n << " bytes";
            EXPECT_EQ(t.version, n > DPTRAILER_MAGIC_LEN ? DPTRAILER_VERSION : 0);
        }
    }
}

// Parsing is canonical: a changed byte is refused, or parses to fields that encode back to
// exactly the changed bytes (so no two encodings mean the same offer).
TEST(Dptrailer, EveryFlippedBitIsRefusedOrCanonical)
{
    for (const Vector &v : vectors()) {
        if (v.expect != "ok")
            continue;
        SCOPED_TRACE(v.name);
        for (size_t i = 0; i < v.bytes.size() * 8; i++) {
            Bytes b = v.bytes;
            b[i / 8] ^= (uint8_t)(1u << (i % 8));
            struct dptrailer t;
            if (dptrailer_parse(b.data(), b.size(), DPTRAILER_KIND_ANY, &t) != DPTRAILER_OK)
                continue;
            uint8_t buf[DPTRAILER_MAX_LEN];
            size_t len = 0;
            ASSERT_EQ(dptrailer_encode(&t, buf, sizeof(buf), &len), DPTRAILER_OK);
            EXPECT_EQ(Bytes(buf, buf + len), b) << "bit " << i;
        }
    }
}

TEST(Dptrailer, EncodeRefusesWhatParseRefuses)
{
    Bytes storage;
    const struct dptrailer good = from_fields(vector_named("offer_gmac"), storage);
    uint8_t buf[DPTRAILER_MAX_LEN];
    size_t len = 12345;
    struct dptrailer t = good;
    t.kind = DPTRAILER_KIND_ANY;
    EXPECT_EQ(dptrailer_encode(&t, buf, sizeof(buf), &len), DPTRAILER_E_KIND);
    t = good;
    t.mode = (enum dptrailer_mode)3;
    EXPECT_EQ(dptrailer_encode(&t, buf, sizeof(buf), &len), DPTRAILER_E_MODE);
    t = good;
    t.conn_rx_id = 0;
    EXPECT_EQ(dptrailer_encode(&t, buf, sizeof(buf), &len), DPTRAILER_E_ID);
    t = good;
    t.udp_port = 0;
    EXPECT_EQ(dptrailer_encode(&t, buf, sizeof(buf), &len), DPTRAILER_E_ADDRESS);
    t = good;
    t.mtu = DPTRAILER_MTU_MAX + 1;
    EXPECT_EQ(dptrailer_encode(&t, buf, sizeof(buf), &len), DPTRAILER_E_PARAM);
    t = good;
    memset(t.x25519_pub, 0, sizeof(t.x25519_pub));
    EXPECT_EQ(dptrailer_encode(&t, buf, sizeof(buf), &len), DPTRAILER_E_KEY);
    t = good;
    uint8_t ext[DPTRAILER_BODY_MAX] = {0};
    t.ext = ext;
    t.ext_len = DPTRAILER_BODY_MAX - DPTRAILER_BODY_V2_LEN + 1;
    EXPECT_EQ(dptrailer_encode(&t, buf, sizeof(buf), &len), DPTRAILER_E_LENGTH);
    t.ext = nullptr;
    t.ext_len = 1;
    EXPECT_EQ(dptrailer_encode(&t, buf, sizeof(buf), &len), DPTRAILER_E_LENGTH);
    EXPECT_EQ(len, 12345u) << "a refused encode reports no length";
}

TEST(Dptrailer, EncodeIntoTooSmallBufferWritesNothing)
{
    Bytes storage;
    const struct dptrailer t = from_fields(vector_named("offer_with_extension"), storage);
    size_t need = dptrailer_encoded_len(&t);
    Bytes buf(need, 0xee);
    size_t len = 0;
    EXPECT_EQ(dptrailer_encode(&t, buf.data(), need - 1, &len), DPTRAILER_E_SPACE);
    EXPECT_EQ(buf, Bytes(need, 0xee));
    EXPECT_EQ(dptrailer_encode(&t, buf.data(), need, &len), DPTRAILER_OK);
    EXPECT_EQ(len, need);
}

TEST(Dptrailer, ResultNamesAndMessages)
{
    for (int r = 0; r < DPTRAILER_RESULT__COUNT; r++) {
        EXPECT_STRNE(dptrailer_strerror((enum dptrailer_result)r), "unknown result");
        EXPECT_STRNE(dptrailer_result_name((enum dptrailer_result)r), "unknown");
    }
    EXPECT_STREQ(dptrailer_result_name(DPTRAILER_E_VERSION), "version");
    EXPECT_STREQ(dptrailer_strerror(DPTRAILER_RESULT__COUNT), "unknown result");
    EXPECT_STREQ(dptrailer_result_name((enum dptrailer_result) - 1), "unknown");
}

} // namespace
