// Tests for control/nodename.c: parsing, own-name rules, peer rules, kinds, erl-like building.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "control/nodename.h"

namespace
{

enum nodename_result parse(const std::string &s, unsigned flags = 0, struct nodename *out = nullptr)
{
    static struct nodename scratch;
    return nodename_parse(out ? out : &scratch, s.data(), s.size(), flags);
}

TEST(Nodename, ParseSplitsAndClassifies)
{
    struct nodename n;
    ASSERT_EQ(parse("foo@host", 0, &n), NODENAME_OK);
    EXPECT_STREQ(n.full, "foo@host");
    EXPECT_STREQ(n.alive, "foo");
    EXPECT_STREQ(n.host, "host");
    EXPECT_EQ(n.kind, NODENAME_SHORT);
    ASSERT_EQ(parse("a_b-C9@host.example.com", 0, &n), NODENAME_OK);
    EXPECT_EQ(n.kind, NODENAME_LONG);
    ASSERT_EQ(parse("x@10.1.2.3", 0, &n), NODENAME_OK);
    EXPECT_EQ(n.kind, NODENAME_LONG);
    ASSERT_EQ(parse("x@::1", 0, &n), NODENAME_OK); // IPv6 literal: long without a dot
    EXPECT_EQ(n.kind, NODENAME_LONG);
    ASSERT_EQ(parse("x@fe80::1", 0, &n), NODENAME_OK);
    EXPECT_EQ(n.kind, NODENAME_LONG);
}

TEST(Nodename, StructuralErrors)
{
    EXPECT_EQ(parse(""), NODENAME_E_EMPTY);
    EXPECT_EQ(parse("foo"), NODENAME_E_NO_AT);
    EXPECT_EQ(parse("a@b@c"), NODENAME_E_MANY_AT);
    EXPECT_EQ(parse("@host"), NODENAME_E_ALIVE_EMPTY);
    EXPECT_EQ(parse("foo@"), NODENAME_E_HOST_EMPTY);
    EXPECT_EQ(parse(std::string("fo\0o@host", 9)), NODENAME_E_CONTROL);
    EXPECT_EQ(parse("foo@ho\nst"), NODENAME_E_CONTROL);
    EXPECT_EQ(parse("foo@ho\x7fst"), NODENAME_E_CONTROL);
    EXPECT_EQ(parse("foo@h\xc3"), NODENAME_E_UTF8);         // cut sequence
    EXPECT_EQ(parse("foo@h\xc0\xaf"), NODENAME_E_UTF8);     // overlong
    EXPECT_EQ(parse("foo@h\xed\xa0\x80"), NODENAME_E_UTF8); // surrogate
}

TEST(Nodename, OwnNameCharacterRules)
{
    EXPECT_EQ(parse("foo.bar@host"), NODENAME_E_ALIVE_CHARS);
    EXPECT_EQ(parse("f\xc3\xb6o@host"), NODENAME_E_ALIVE_CHARS); // ö in the alive part
    EXPECT_EQ(parse("foo@h\xc3\xb6st"), NODENAME_OK);            // U+00F6 allowed in host
    EXPECT_EQ(parse("foo@h\xc4\x80st"), NODENAME_E_HOST_CHARS);  // U+0100 not
    EXPECT_EQ(parse("foo@ho st"), NODENAME_E_HOST_CHARS);        // space not
    EXPECT_EQ(parse("foo@!~"), NODENAME_OK);                     // range ends
}

TEST(Nodename, PeerRulesAreOtpsHandshakeRules)
{
    // OTP's dist_util:is_name_ok only wants name@host, both non-empty.
    EXPECT_EQ(parse("foo.bar@host", NODENAME_PEER), NODENAME_OK);
    EXPECT_EQ(parse("f\xc3\xb6o@h\xc4\x80st", NODENAME_PEER), NODENAME_OK);
    EXPECT_EQ(parse("foo@ho st", NODENAME_PEER), NODENAME_OK);
    EXPECT_EQ(parse("foo", NODENAME_PEER), NODENAME_E_NO_AT);
    EXPECT_EQ(parse("a@b@c", NODENAME_PEER), NODENAME_E_MANY_AT);
    EXPECT_EQ(parse("foo@h\tx", NODENAME_PEER), NODENAME_E_CONTROL);
}

TEST(Nodename, LengthLimitIs255Characters)
{
    std::string host = "@h";
    std::string ok = std::string(253, 'a') + host; // 255 characters
    EXPECT_EQ(parse(ok), NODENAME_OK);
    EXPECT_EQ(parse("a" + ok), NODENAME_E_TOO_LONG);
    // Characters, not bytes: 255 two-byte characters are fine for a peer name.
    std::string wide;
    for (int i = 0; i < 253; i++)
        wide += "\xc3\xa9";
    EXPECT_EQ(parse(wide + host, NODENAME_PEER), NODENAME_OK);
    EXPECT_EQ(parse("\xc3\xa9" + wide + host, NODENAME_PEER), NODENAME_E_TOO_LONG);
    // More bytes than any 255-character name can have.
    EXPECT_EQ(parse(std::string(NODENAME_MAX_BYTES + 1, 'a') + host, NODENAME_PEER),
              NODENAME_E_TOO_LONG);
}

TEST(Nodename, KindOfFullNames)
{
    EXPECT_EQ(nodename_kind("a@host"), NODENAME_SHORT);
    EXPECT_EQ(nodename_kind("a@host.dom"), NODENAME_LONG);
    EXPECT_EQ(nodename_kind("a@127.0.0.1"), NODENAME_LONG);
    EXPECT_EQ(nodename_kind("a@"), NODENAME_INVALID);
    EXPECT_EQ(nodename_kind("a"), NODENAME_INVALID);
    EXPECT_EQ(nodename_kind(nullptr), NODENAME_INVALID);
    EXPECT_NE(nodename_kind("a@host"), nodename_kind("b@host.dom")); // never mix
}

TEST(Nodename, BuildLikeErl)
{
    struct nodename n;
    // -sname foo -> foo@<short host>
    ASSERT_EQ(nodename_build(&n, "foo", NODENAME_SHORT, "myhost.example.com"), NODENAME_OK);
    EXPECT_STREQ(n.full, "foo@myhost");
    EXPECT_EQ(n.kind, NODENAME_SHORT);
    ASSERT_EQ(nodename_build(&n, "foo", NODENAME_SHORT, "myhost"), NODENAME_OK);
    EXPECT_STREQ(n.full, "foo@myhost");
    // -name foo -> foo@<fqdn or address>
    ASSERT_EQ(nodename_build(&n, "foo", NODENAME_LONG, "myhost.example.com"), NODENAME_OK);
    EXPECT_STREQ(n.full, "foo@myhost.example.com");
    EXPECT_EQ(n.kind, NODENAME_LONG);
    ASSERT_EQ(nodename_build(&n, "foo", NODENAME_LONG, "192.168.1.5"), NODENAME_OK);
    EXPECT_STREQ(n.full, "foo@192.168.1.5");
    EXPECT_EQ(nodename_build(&n, "foo", NODENAME_LONG, "myhost"), NODENAME_E_NO_FQDN);
    EXPECT_EQ(nodename_build(&n, "foo", NODENAME_SHORT, nullptr), NODENAME_E_HOSTNAME);
    // Given hosts are taken as they are, within the mode's rules.
    ASSERT_EQ(nodename_build(&n, "foo@host.dom", NODENAME_LONG, nullptr), NODENAME_OK);
    EXPECT_STREQ(n.full, "foo@host.dom");
    ASSERT_EQ(nodename_build(&n, "foo@other", NODENAME_SHORT, "ignored"), NODENAME_OK);
    EXPECT_STREQ(n.full, "foo@other");
    EXPECT_EQ(nodename_build(&n, "foo@host.dom", NODENAME_SHORT, nullptr), NODENAME_E_SHORT_DOT);
    EXPECT_EQ(nodename_build(&n, "foo@localhost", NODENAME_LONG, nullptr), NODENAME_E_LONG_NO_DOT);
    EXPECT_EQ(nodename_build(&n, "", NODENAME_SHORT, "h"), NODENAME_E_EMPTY);
    EXPECT_EQ(nodename_build(&n, "bad.name", NODENAME_SHORT, "h"), NODENAME_E_ALIVE_CHARS);
    // The combined name obeys the 255-character limit.
    EXPECT_EQ(nodename_build(&n, std::string(253, 'a').c_str(), NODENAME_SHORT, "h"), NODENAME_OK);
    EXPECT_EQ(nodename_build(&n, std::string(254, 'a').c_str(), NODENAME_SHORT, "h"),
              NODENAME_E_TOO_LONG);
}

TEST(Nodename, LocalHost)
{
    char buf[NODENAME_MAX_BYTES + 1];
    ASSERT_EQ(nodename_local_host(NODENAME_SHORT, buf, sizeof(buf)), NODENAME_OK);
    EXPECT_EQ(strchr(buf, '.'), nullptr);
    struct nodename n;
    ASSERT_EQ(nodename_from_arg(&n, "probe", NODENAME_SHORT), NODENAME_OK);
    EXPECT_EQ(n.kind, NODENAME_SHORT);
    // A long name may or may not be derivable on a test machine; if it is, it is long.
    if (nodename_from_arg(&n, "probe", NODENAME_LONG) == NODENAME_OK) {
        EXPECT_EQ(n.kind, NODENAME_LONG);
    }
}

TEST(Nodename, Strings)
{
    for (int r = 0; r < NODENAME_E__COUNT; r++)
        EXPECT_STRNE(nodename_strerror((enum nodename_result)r), "");
    EXPECT_STREQ(nodename_strerror((enum nodename_result) - 1), "unknown error");
}

} // namespace
