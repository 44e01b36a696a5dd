// Tests for control/cookie.c: the cookie file (in a temporary HOME), cookie text rules, the
// digest and the challenge.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

#include "control/cookie.h"

namespace
{

class CookieFile : public ::testing::Test
{
  protected:
    std::string home;
    std::string path;
    char out[COOKIE_MAX_LEN + 1];
    char detail[512];

    void SetUp() override
    {
        char tmpl[] = "/tmp/dpdist-cookie-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        home = tmpl;
        path = home + "/.erlang.cookie";
    }
    void TearDown() override
    {
        chmod(path.c_str(), 0600);
        unlink(path.c_str());
        rmdir(path.c_str());
        rmdir(home.c_str());
    }
    void write_file(const std::string &text, mode_t mode)
    {
        unlink(path.c_str());
        int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        ASSERT_GE(fd, 0);
        ASSERT_EQ(write(fd, text.data(), text.size()), (ssize_t)text.size());
        close(fd);
        ASSERT_EQ(chmod(path.c_str(), mode), 0);
    }
    enum cookie_result get()
    {
        return cookie_get(nullptr, home.c_str(), out, sizeof(out), detail, sizeof(detail));
    }
};

TEST_F(CookieFile, CreatedWhenAbsentWithMode0400)
{
    ASSERT_EQ(get(), COOKIE_OK) << detail;
    struct stat st;
    ASSERT_EQ(stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0400u);
    ASSERT_EQ(strlen(out), (size_t)COOKIE_GENERATED_LEN);
    for (size_t i = 0; i < COOKIE_GENERATED_LEN; i++)
        EXPECT_TRUE(out[i] >= 'A' && out[i] <= 'Z') << out;
    // Read back the same cookie next time.
    std::string first = out;
    ASSERT_EQ(get(), COOKIE_OK);
    EXPECT_EQ(first, out);
}

TEST_F(CookieFile, UsesHomeFromEnvironment)
{
    const char *old = getenv("HOME");
    std::string saved = old ? old : "";
    setenv("HOME", home.c_str(), 1);
    enum cookie_result r = cookie_get(nullptr, nullptr, out, sizeof(out), detail, sizeof(detail));
    if (old)
        setenv("HOME", saved.c_str(), 1);
    else
        unsetenv("HOME");
    EXPECT_EQ(r, COOKIE_OK) << detail;
    EXPECT_EQ(access(path.c_str(), F_OK), 0);
}

TEST_F(CookieFile, TooOpenPermissionsRefused)
{
    for (mode_t mode : {0440, 0404, 0600 | 0010, 0640, 0444}) {
        write_file("SECRET", mode);
        EXPECT_EQ(get(), COOKIE_E_PERMISSIONS) << std::oct << mode;
        EXPECT_EQ(std::string(detail), "Cookie file " + path + " must be accessible by owner only");
    }
    write_file("SECRET", 0600);
    EXPECT_EQ(get(), COOKIE_OK);
    EXPECT_STREQ(out, "SECRET");
}

TEST_F(CookieFile, FileTextRulesAsErl)
{
    write_file("SECRET\n", 0400);
    ASSERT_EQ(get(), COOKIE_OK);
    EXPECT_STREQ(out, "SECRET");
    write_file("with space \r\n  \n", 0400); // inner and trailing spaces before \r are kept
    ASSERT_EQ(get(), COOKIE_OK);
    EXPECT_STREQ(out, "with space ");
    write_file("", 0400);
    EXPECT_EQ(get(), COOKIE_E_TOO_SHORT);
    write_file("\n", 0400);
    EXPECT_EQ(get(), COOKIE_E_TOO_SHORT);
    write_file("two\nlines", 0400);
    EXPECT_EQ(get(), COOKIE_E_BAD_CHARS);
    write_file("tab\tinside", 0400);
    EXPECT_EQ(get(), COOKIE_E_BAD_CHARS);
    write_file(std::string(COOKIE_MAX_LEN, 'C'), 0400); // at the limit
    EXPECT_EQ(get(), COOKIE_OK);
    write_file(std::string(COOKIE_MAX_LEN + 1, 'C'), 0400);
    EXPECT_EQ(get(), COOKIE_E_TOO_LONG);
    write_file("LIMIT" + std::string(COOKIE_FILE_MAX - 5, '\n'), 0400); // file at the limit
    EXPECT_EQ(get(), COOKIE_OK);
    EXPECT_STREQ(out, "LIMIT");
    write_file("LIMIT" + std::string(COOKIE_FILE_MAX - 4, '\n'), 0400);
    EXPECT_EQ(get(), COOKIE_E_FILE_TOO_LONG);
}

TEST_F(CookieFile, UnreadableRefused)
{
    // A path through a regular file cannot be opened, whoever we are.
    std::string file_home = home + "/plainfile";
    int fd = open(file_home.c_str(), O_WRONLY | O_CREAT, 0600);
    ASSERT_GE(fd, 0);
    close(fd);
    EXPECT_EQ(cookie_get(nullptr, file_home.c_str(), out, sizeof(out), detail, sizeof(detail)),
              COOKIE_E_READ);
    EXPECT_NE(strstr(detail, "Error when reading"), nullptr) << detail;
    unlink(file_home.c_str());
    // Permission denied: only meaningful when not root.
    if (geteuid() != 0) {
        write_file("SECRET", 0000);
        EXPECT_EQ(get(), COOKIE_E_READ);
    }
}

TEST_F(CookieFile, NotARegularFile)
{
    ASSERT_EQ(mkdir(path.c_str(), 0700), 0);
    EXPECT_EQ(get(), COOKIE_E_NOT_REGULAR);
    EXPECT_EQ(std::string(detail), "Cookie file " + path + " is of type directory");
}

TEST_F(CookieFile, CannotCreate)
{
    std::string missing = home + "/does/not/exist";
    EXPECT_EQ(cookie_get(nullptr, missing.c_str(), out, sizeof(out), detail, sizeof(detail)),
              COOKIE_E_CREATE);
    EXPECT_NE(strstr(detail, "Failed to create cookie file"), nullptr) << detail;
}

TEST(Cookie, ExplicitCookie)
{
    char out[COOKIE_MAX_LEN + 1];
    char detail[256];
    ASSERT_EQ(cookie_get("mycookie", "/nonexistent", out, sizeof(out), detail, sizeof(detail)),
              COOKIE_OK);
    EXPECT_STREQ(out, "mycookie");
    EXPECT_EQ(cookie_get("", nullptr, out, sizeof(out), detail, sizeof(detail)),
              COOKIE_E_TOO_SHORT);
    EXPECT_EQ(cookie_get("bad\x01", nullptr, out, sizeof(out), detail, sizeof(detail)),
              COOKIE_E_BAD_CHARS);
    char small[4];
    EXPECT_EQ(cookie_get("toolong", nullptr, small, sizeof(small), nullptr, 0), COOKIE_E_BUFFER);
}

TEST(Cookie, NoHome)
{
    const char *old = getenv("HOME");
    std::string saved = old ? old : "";
    unsetenv("HOME");
    char out[COOKIE_MAX_LEN + 1];
    EXPECT_EQ(cookie_get(nullptr, nullptr, out, sizeof(out), nullptr, 0), COOKIE_E_NO_HOME);
    if (old)
        setenv("HOME", saved.c_str(), 1);
}

TEST(Cookie, Validate)
{
    EXPECT_EQ(cookie_validate("a", 1), COOKIE_OK);
    EXPECT_EQ(cookie_validate(" ~", 2), COOKIE_OK);
    EXPECT_EQ(cookie_validate("", 0), COOKIE_E_TOO_SHORT);
    EXPECT_EQ(cookie_validate("a\x7f", 2), COOKIE_E_BAD_CHARS);
    EXPECT_EQ(cookie_validate("\xc3\xa9", 2), COOKIE_E_BAD_CHARS);
    std::string max(COOKIE_MAX_LEN, 'x');
    EXPECT_EQ(cookie_validate(max.data(), max.size()), COOKIE_OK);
    EXPECT_EQ(cookie_validate((max + "x").data(), max.size() + 1), COOKIE_E_TOO_LONG);
}

TEST(Cookie, DigestKnownValues)
{
    // dist_util:gen_digest(1234567890, abc) = erlang:md5("abc1234567890")
    const uint8_t expected[16] = {0x57, 0x04, 0x1f, 0x8f, 0x7d, 0xff, 0x9b, 0x67,
                                  0xe3, 0xf9, 0x7d, 0x7f, 0xac, 0xba, 0xf8, 0xd3};
    uint8_t d[16];
    ASSERT_EQ(cookie_digest("abc", 1234567890u, d), COOKIE_OK);
    EXPECT_EQ(0, memcmp(d, expected, 16));
    // Challenge 0 and the largest challenge print as "0" and "4294967295".
    uint8_t d0[16], dmax[16], e0[16];
    ASSERT_EQ(cookie_digest("abc", 0, d0), COOKIE_OK);
    ASSERT_EQ(cookie_digest("abc0", 0, e0), COOKIE_OK); // md5("abc00") differs
    EXPECT_NE(0, memcmp(d0, e0, 16));
    ASSERT_EQ(cookie_digest("abc", 4294967295u, dmax), COOKIE_OK);
    EXPECT_NE(0, memcmp(d0, dmax, 16));
    // md5("abc0") as known: 577571be4de9dcce85a041ba0410f29f
    const uint8_t md5_abc0[16] = {0x57, 0x75, 0x71, 0xbe, 0x4d, 0xe9, 0xdc, 0xce,
                                  0x85, 0xa0, 0x41, 0xba, 0x04, 0x10, 0xf2, 0x9f};
    EXPECT_EQ(0, memcmp(d0, md5_abc0, 16));
}

TEST(Cookie, ChallengeIsRandom)
{
    uint32_t a = 0, b = 0, c = 0;
    ASSERT_EQ(cookie_challenge(&a), COOKIE_OK);
    ASSERT_EQ(cookie_challenge(&b), COOKIE_OK);
    ASSERT_EQ(cookie_challenge(&c), COOKIE_OK);
    EXPECT_FALSE(a == b && b == c);
}

TEST(Cookie, ParseFileTextBuffer)
{
    char small[3];
    EXPECT_EQ(cookie_parse_file_text("abc", 3, small, sizeof(small)), COOKIE_E_BUFFER);
    char ok[4];
    EXPECT_EQ(cookie_parse_file_text("abc", 3, ok, sizeof(ok)), COOKIE_OK);
    EXPECT_STREQ(ok, "abc");
}

TEST(Cookie, Strings)
{
    for (int r = 0; r < COOKIE_E__COUNT; r++)
        EXPECT_STRNE(cookie_strerror((enum cookie_result)r), "");
    EXPECT_STREQ(cookie_strerror((enum cookie_result) - 1), "unknown error");
}

} // namespace
