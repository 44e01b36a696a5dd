// Unit tests for control/epmd/epmd_codec.c: framing, request parsing (every malformed
// case the daemon must survive), response building (golden bytes) and client-side parsing.
#include <gtest/gtest.h>

#include <string>
#include <vector>

extern "C" {
#include "control/epmd/epmd_codec.h"
}

namespace {

using Bytes = std::vector<uint8_t>;

void put16(Bytes &b, unsigned v)
{
    b.push_back(uint8_t(v >> 8));
    b.push_back(uint8_t(v));
}

Bytes alive2_body(const std::string &name, const Bytes &extra = {}, unsigned port = 4370,
                  unsigned high = 6, unsigned low = 5)
{
    Bytes b{'x'};
    put16(b, port);
    b.push_back(77);
    b.push_back(0);
    put16(b, high);
    put16(b, low);
    put16(b, unsigned(name.size()));
    b.insert(b.end(), name.begin(), name.end());
    put16(b, unsigned(extra.size()));
    b.insert(b.end(), extra.begin(), extra.end());
    return b;
}

Bytes framed(const Bytes &body)
{
    Bytes b;
    put16(b, unsigned(body.size()));
    b.insert(b.end(), body.begin(), body.end());
    return b;
}

enum epmd_result parse(const Bytes &body, epmd_request *req)
{
    return epmd_parse_request(body.data(), body.size(), req);
}

} // namespace

TEST(EpmdFrame, NeedsTwoBytesForTheLength)
{
    size_t total = 0;
    uint8_t one[1] = {0};
    EXPECT_EQ(epmd_frame_check(one, 0, &total), EPMD_E_NEED_MORE);
    EXPECT_EQ(epmd_frame_check(one, 1, &total), EPMD_E_NEED_MORE);
}

TEST(EpmdFrame, CompleteIncompleteAndTrailing)
{
    Bytes f = framed(Bytes{'n'});
    size_t total = 0;
    EXPECT_EQ(epmd_frame_check(f.data(), 2, &total), EPMD_E_NEED_MORE);
    EXPECT_EQ(epmd_frame_check(f.data(), 3, &total), EPMD_OK);
    EXPECT_EQ(total, 3u);
    f.push_back('x');
    EXPECT_EQ(epmd_frame_check(f.data(), f.size(), &total), EPMD_E_TRAILING);
}

TEST(EpmdFrame, LengthTooSmallOrTooLarge)
{
    size_t total;
    uint8_t zero[2] = {0, 0};
    EXPECT_EQ(epmd_frame_check(zero, 2, &total), EPMD_E_SIZE);
    // The reference daemon accepts want = len + 2 < INBUF_SIZE (3060).
    Bytes ok;
    put16(ok, EPMD_INBUF_SIZE - 3);
    EXPECT_EQ(epmd_frame_check(ok.data(), 2, &total), EPMD_E_NEED_MORE);
    Bytes big;
    put16(big, EPMD_INBUF_SIZE - 2);
    EXPECT_EQ(epmd_frame_check(big.data(), 2, &total), EPMD_E_SIZE);
    Bytes huge{0xff, 0xff};
    EXPECT_EQ(epmd_frame_check(huge.data(), 2, &total), EPMD_E_SIZE);
}

TEST(EpmdParse, Alive2Fields)
{
    Bytes extra{'D', 'P', 'D', '1', 1, 2, 3};
    Bytes body = alive2_body("node1", extra, 4711, 6, 5);
    epmd_request req;
    ASSERT_EQ(parse(body, &req), EPMD_OK);
    EXPECT_EQ(req.code, EPMD_ALIVE2_REQ);
    EXPECT_EQ(req.u.alive2.port, 4711);
    EXPECT_EQ(req.u.alive2.node_type, 77);
    EXPECT_EQ(req.u.alive2.high_vsn, 6);
    EXPECT_EQ(req.u.alive2.low_vsn, 5);
    EXPECT_EQ(std::string((const char *)req.u.alive2.name, req.u.alive2.name_len), "node1");
    EXPECT_EQ(Bytes(req.u.alive2.extra, req.u.alive2.extra + req.u.alive2.extra_len), extra);
}

TEST(EpmdParse, Alive2TooShort)
{
    epmd_request req;
    Bytes body = alive2_body("");      // 13 bytes: no room for a name
    ASSERT_EQ(body.size(), 13u);
    EXPECT_EQ(parse(body, &req), EPMD_E_SHORT);
    EXPECT_EQ(parse(Bytes{'x', 0, 1}, &req), EPMD_E_SHORT);
}

TEST(EpmdParse, Alive2NameLengthBeyondPacket)
{
    epmd_request req;
    Bytes body = alive2_body("abc");
    body[9] = 0;
    body[10] = 200; // claims a 200-byte name
    EXPECT_EQ(parse(body, &req), EPMD_E_NAME_LEN);
}

TEST(EpmdParse, Alive2ExtraLengthBeyondPacket)
{
    epmd_request req;
    Bytes body = alive2_body("abc", Bytes{1, 2});
    body[11 + 3] = 0;
    body[12 + 3] = 9; // 9 extra bytes announced, 2 present
    EXPECT_EQ(parse(body, &req), EPMD_E_EXTRA_LEN);
}

TEST(EpmdParse, Alive2NulInName)
{
    epmd_request req;
    EXPECT_EQ(parse(alive2_body(std::string("ab\0c", 4)), &req), EPMD_E_NAME_NUL);
}

TEST(EpmdParse, Alive2BytesAfterExtraAreIgnoredLikeTheReference)
{
    epmd_request req;
    Bytes body = alive2_body("abc");
    body.push_back(0x55);
    EXPECT_EQ(parse(body, &req), EPMD_OK);
}

TEST(EpmdCheckName, Rules)
{
    auto check = [](const std::string &s) {
        return epmd_check_name((const uint8_t *)s.data(), s.size());
    };
    EXPECT_EQ(check("a"), EPMD_OK);
    EXPECT_EQ(check(""), EPMD_E_NAME_EMPTY);
    EXPECT_EQ(check(std::string("a\0b", 3)), EPMD_E_NAME_NUL);
    EXPECT_EQ(check("\xc3\x28"), EPMD_E_NAME_UTF8);       // bad continuation
    EXPECT_EQ(check("\xc0\xaf"), EPMD_E_NAME_UTF8);       // overlong
    EXPECT_EQ(check("\xed\xa0\x80"), EPMD_E_NAME_UTF8);   // surrogate
    EXPECT_EQ(check("\xf4\x90\x80\x80"), EPMD_E_NAME_UTF8); // above U+10FFFF
    EXPECT_EQ(check("\xe2\x82"), EPMD_E_NAME_UTF8);       // cut short
    EXPECT_EQ(check(std::string(255, 'a')), EPMD_OK);
    EXPECT_EQ(check(std::string(256, 'a')), EPMD_E_NAME_LONG);
    std::string euro255;
    for (int i = 0; i < 255; i++)
        euro255 += "\xe2\x82\xac"; // 255 characters, 765 bytes
    EXPECT_EQ(check(euro255), EPMD_OK);
    EXPECT_EQ(check(euro255 + "a"), EPMD_E_NAME_LONG);
}

TEST(EpmdParse, Port2StripsOneTrailingNul)
{
    epmd_request req;
    Bytes body{'z', 'a', 'b', 0};
    ASSERT_EQ(parse(body, &req), EPMD_OK);
    EXPECT_EQ(req.u.named.name_len, 2);
}

TEST(EpmdParse, Port2Malformed)
{
    epmd_request req;
    EXPECT_EQ(parse(Bytes{'z'}, &req), EPMD_E_SHORT);
    EXPECT_EQ(parse(Bytes{'z', 0}, &req), EPMD_E_SHORT);
    EXPECT_EQ(parse(Bytes{'z', 'a', 0, 'b'}, &req), EPMD_E_NAME_NUL);
    EXPECT_EQ(parse(Bytes{'z', 0xff}, &req), EPMD_E_NAME_UTF8);
    Bytes long_name{'z'};
    long_name.insert(long_name.end(), 256, 'n');
    EXPECT_EQ(parse(long_name, &req), EPMD_E_NAME_LONG);
}

TEST(EpmdParse, SimpleRequestsAndUnknown)
{
    epmd_request req;
    EXPECT_EQ(parse(Bytes{'n'}, &req), EPMD_OK);
    EXPECT_EQ(req.code, EPMD_NAMES_REQ);
    EXPECT_EQ(parse(Bytes{'d'}, &req), EPMD_OK);
    EXPECT_EQ(parse(Bytes{'k'}, &req), EPMD_OK);
    EXPECT_EQ(parse(Bytes{'s', 'n', 'o'}, &req), EPMD_OK);
    EXPECT_EQ(parse(Bytes{'s'}, &req), EPMD_E_SHORT);
    EXPECT_EQ(parse(Bytes{'Q'}, &req), EPMD_E_UNKNOWN);
    EXPECT_EQ(parse(Bytes{0}, &req), EPMD_E_UNKNOWN);
    EXPECT_EQ(epmd_parse_request(nullptr, 0, &req), EPMD_E_EMPTY);
}

TEST(EpmdBuild, Alive2RespVersions)
{
    uint8_t out[8];
    ASSERT_EQ(epmd_build_alive2_resp(out, sizeof(out), 6, 0, 0x01020304), 6u);
    EXPECT_EQ(Bytes(out, out + 6), (Bytes{'v', 0, 1, 2, 3, 4}));
    ASSERT_EQ(epmd_build_alive2_resp(out, sizeof(out), 5, 1, 99), 4u);
    EXPECT_EQ(Bytes(out, out + 4), (Bytes{'y', 1, 0, 99}));
    EXPECT_EQ(epmd_build_alive2_resp(out, 5, 6, 0, 1), 0u);
}

TEST(EpmdBuild, Port2RespRoundTrip)
{
    Bytes extra{9, 8, 7};
    epmd_node_rec rec{};
    rec.port = 4242;
    rec.node_type = 72;
    rec.protocol = 0;
    rec.high_vsn = 6;
    rec.low_vsn = 5;
    rec.name = (const uint8_t *)"nm";
    rec.name_len = 2;
    rec.extra = extra.data();
    rec.extra_len = 3;
    uint8_t out[64];
    size_t n = epmd_build_port2_resp(out, sizeof(out), &rec);
    Bytes expect{'w', 0, 0x10, 0x92, 72, 0, 0, 6, 0, 5, 0, 2, 'n', 'm', 0, 3, 9, 8, 7};
    ASSERT_EQ(Bytes(out, out + n), expect);
    bool found = false;
    size_t used = 0;
    epmd_node_rec back{};
    for (size_t cut = 0; cut < n; cut++)
        EXPECT_EQ(epmd_parse_port2_resp(out, cut, &found, &back, &used), EPMD_E_NEED_MORE) << cut;
    ASSERT_EQ(epmd_parse_port2_resp(out, n, &found, &back, &used), EPMD_OK);
    EXPECT_TRUE(found);
    EXPECT_EQ(used, n);
    EXPECT_EQ(back.port, 4242);
    EXPECT_EQ(Bytes(back.extra, back.extra + back.extra_len), extra);
    EXPECT_EQ(epmd_build_port2_resp(out, n - 1, &rec), 0u);
}

TEST(EpmdBuild, Port2ErrorAndLines)
{
    uint8_t out[128];
    ASSERT_EQ(epmd_build_port2_error(out, sizeof(out)), 2u);
    EXPECT_EQ(Bytes(out, out + 2), (Bytes{'w', 1}));
    bool found = true;
    size_t used = 0;
    epmd_node_rec rec{};
    EXPECT_EQ(epmd_parse_port2_resp(out, 2, &found, &rec, &used), EPMD_OK);
    EXPECT_FALSE(found);

    size_t n = epmd_build_names_line(out, sizeof(out), (const uint8_t *)"foo", 3, 4711);
    EXPECT_EQ(std::string((char *)out, n), "name foo at port 4711\n");
    n = epmd_build_dump_active(out, sizeof(out), (const uint8_t *)"foo", 3, 4711, 7);
    EXPECT_EQ(std::string((char *)out, n), std::string("active name     <foo> at port 4711, fd = 7\n\0", 44));
    n = epmd_build_dump_unused(out, sizeof(out), (const uint8_t *)"foo", 3, 4711, -1);
    EXPECT_EQ(std::string((char *)out, n),
              std::string("old/unused name <foo>, port = 4711, fd = -1 \n\0", 46));
    EXPECT_EQ(epmd_build_names_line(out, 10, (const uint8_t *)"foo", 3, 1), 0u);
    n = epmd_build_port_header(out, sizeof(out), 4369);
    EXPECT_EQ(Bytes(out, out + n), (Bytes{0, 0, 0x11, 0x11}));
}

TEST(EpmdClientSide, RequestsRoundTripThroughTheServerParser)
{
    Bytes extra{1, 2, 3, 4};
    epmd_node_rec rec{};
    rec.port = 5555;
    rec.node_type = 77;
    rec.high_vsn = 6;
    rec.low_vsn = 6;
    rec.name = (const uint8_t *)"peer";
    rec.name_len = 4;
    rec.extra = extra.data();
    rec.extra_len = 4;
    uint8_t out[EPMD_INBUF_SIZE];
    size_t n = epmd_build_alive2_req(out, sizeof(out), &rec);
    size_t total = 0;
    ASSERT_EQ(epmd_frame_check(out, n, &total), EPMD_OK);
    epmd_request req;
    ASSERT_EQ(epmd_parse_request(out + 2, n - 2, &req), EPMD_OK);
    EXPECT_EQ(req.u.alive2.port, 5555);
    EXPECT_EQ(req.u.alive2.extra_len, 4);

    n = epmd_build_port2_req(out, sizeof(out), (const uint8_t *)"peer", 4);
    EXPECT_EQ(Bytes(out, out + n), (Bytes{0, 5, 'z', 'p', 'e', 'e', 'r'}));
    n = epmd_build_stop_req(out, sizeof(out), (const uint8_t *)"peer", 4);
    EXPECT_EQ(Bytes(out, out + n), (Bytes{0, 5, 's', 'p', 'e', 'e', 'r'}));
    n = epmd_build_simple_req(out, sizeof(out), EPMD_NAMES_REQ);
    EXPECT_EQ(Bytes(out, out + n), (Bytes{0, 1, 'n'}));
}

TEST(EpmdClientSide, Alive2Responses)
{
    uint8_t result = 9;
    uint32_t creation = 0;
    size_t used = 0;
    Bytes v{'v', 0, 0, 0, 1, 0};
    EXPECT_EQ(epmd_parse_alive2_resp(v.data(), 5, &result, &creation, &used), EPMD_E_NEED_MORE);
    ASSERT_EQ(epmd_parse_alive2_resp(v.data(), 6, &result, &creation, &used), EPMD_OK);
    EXPECT_EQ(result, 0);
    EXPECT_EQ(creation, 256u);
    Bytes y{'y', 1, 0, 99};
    ASSERT_EQ(epmd_parse_alive2_resp(y.data(), 4, &result, &creation, &used), EPMD_OK);
    EXPECT_EQ(result, 1);
    EXPECT_EQ(creation, 99u);
    Bytes bad{'?'};
    EXPECT_EQ(epmd_parse_alive2_resp(bad.data(), 1, &result, &creation, &used), EPMD_E_RESP);
}

TEST(EpmdErrors, EveryCodeHasAMessage)
{
    for (int i = 0; i < EPMD_E__COUNT; i++)
        EXPECT_STRNE(epmd_strerror(epmd_result(i)), "unknown error");
    EXPECT_STREQ(epmd_strerror(epmd_result(EPMD_E__COUNT)), "unknown error");
}
