// Unit tests for common/hash.h: FNV-1a 64 against the known answers of the FNV
// specification's test vectors, the string and seeded variants agreeing with the plain one.
// (The two copies this header replaced used a basis with its last digit lost,
// 1469598103934665603: every value below differed.)
#include <gtest/gtest.h>

#include <cstring>

extern "C" {
#include "common/hash.h"
}

namespace {

TEST(Hash, Fnv1a64KnownAnswers)
{
    EXPECT_EQ(hash_fnv1a64("", 0), 0xcbf29ce484222325ull);
    EXPECT_EQ(hash_fnv1a64("a", 1), 0xaf63dc4c8601ec8cull);
    EXPECT_EQ(hash_fnv1a64("foobar", 6), 0x85944171f73967e8ull);
}

TEST(Hash, StringVariantEqualsBytes)
{
    for (const char *s : {"", "a", "foobar", "node@host.example", "\xc3\xa9t\xc3\xa9"})
        EXPECT_EQ(hash_fnv1a64_str(s), hash_fnv1a64(s, strlen(s))) << s;
    EXPECT_EQ(hash_fnv1a64_str("foobar"), 0x85944171f73967e8ull);
}

TEST(Hash, SeedZeroIsPlainAndSeedChangesTheHash)
{
    EXPECT_EQ(hash_fnv1a64_seeded("foobar", 6, 0), hash_fnv1a64("foobar", 6));
    EXPECT_NE(hash_fnv1a64_seeded("foobar", 6, 0x1234), hash_fnv1a64("foobar", 6));
    // The seed goes into the basis: an empty key hashes to basis ^ seed.
    EXPECT_EQ(hash_fnv1a64_seeded("", 0, 0x1234), 0xcbf29ce484222325ull ^ 0x1234);
}

} // namespace
