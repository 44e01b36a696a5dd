// Tests for runtime/api/term.c: dd_term_skip, the public bounded walk that applications (and
// dpdist-echo) use on terms from peers instead of libei's recursive ei_skip_term; and for
// runtime/core/terms.c, the constant atoms the runtime sends as exit and 'DOWN' reasons.
#include <gtest/gtest.h>

#include <climits>
#include <string>

#include "dpdist/dpdist.h"
#include "tests/unit/runtime/rt_test_util.h"

extern "C" {
#include "runtime/core/terms.h"
}

namespace
{

using rt_test::Bytes;
using rt_test::deep_list;

TEST(Term, SkipsWhatEiSkips)
{
    ei_x_buff x;
    ei_x_new_with_version(&x);
    ei_x_encode_tuple_header(&x, 2);
    ei_x_encode_atom(&x, "hello");
    ei_x_encode_list_header(&x, 2);
    ei_x_encode_long(&x, 1);
    ei_x_encode_binary(&x, "abc", 3);
    ei_x_encode_empty_list(&x);
    ei_x_encode_atom(&x, "next");
    int idx = 1, ei_idx = 1;
    ASSERT_EQ(dd_term_skip(x.buff, size_t(x.index), &idx), DD_OK);
    ASSERT_EQ(ei_skip_term(x.buff, &ei_idx), 0);
    EXPECT_EQ(idx, ei_idx);
    ASSERT_EQ(dd_term_skip(x.buff, size_t(x.index), &idx), DD_OK); // 'next'
    EXPECT_EQ(idx, x.index);
    ei_x_free(&x);
}

TEST(Term, DeepTermNeedsNoStack)
{
    // 10^6 levels: ei_skip_term recurses once per level and overflows an 8 MB stack here.
    Bytes t = deep_list(1000000);
    int idx = 1;
    ASSERT_EQ(dd_term_skip((const char *)t.data(), t.size(), &idx), DD_OK);
    EXPECT_EQ(size_t(idx), t.size());
}

TEST(Term, RefusesWhatDoesNotFitAndLeavesIdx)
{
    Bytes t = deep_list(1000);
    int idx = 1;
    EXPECT_EQ(dd_term_skip((const char *)t.data(), t.size() - 1, &idx), DD_EBADTERM);
    EXPECT_EQ(idx, 1);
    idx = 0; // the version byte is not a term tag
    EXPECT_EQ(dd_term_skip((const char *)t.data(), t.size(), &idx), DD_EBADTERM);
    idx = -1;
    EXPECT_EQ(dd_term_skip((const char *)t.data(), t.size(), &idx), DD_EBADTERM);
    idx = int(t.size());
    EXPECT_EQ(dd_term_skip((const char *)t.data(), t.size(), &idx), DD_EBADTERM);
    idx = 1;
    EXPECT_EQ(dd_term_skip(nullptr, t.size(), &idx), DD_EBADTERM);
    EXPECT_EQ(dd_term_skip((const char *)t.data(), t.size(), nullptr), DD_EBADTERM);
    EXPECT_EQ(dd_term_skip((const char *)t.data(), size_t(INT_MAX) + 1, &idx), DD_EBADTERM);
}

// Each constant is exactly what ei encodes for that atom, with its version byte.
TEST(Terms, ConstantAtomsAreWhatEiEncodes)
{
    struct {
        const uint8_t *bytes;
        size_t len;
        const char *atom;
    } atoms[] = {{term_noconnection, term_noconnection_len, "noconnection"},
                 {term_noproc, term_noproc_len, "noproc"},
                 {term_normal, term_normal_len, "normal"},
                 {term_shutdown, term_shutdown_len, "shutdown"}};
    for (const auto &a : atoms) {
        ei_x_buff x;
        ASSERT_EQ(ei_x_new_with_version(&x), 0);
        ASSERT_EQ(ei_x_encode_atom(&x, a.atom), 0);
        EXPECT_EQ(Bytes(a.bytes, a.bytes + a.len), Bytes(x.buff, x.buff + x.index)) << a.atom;
        ei_x_free(&x);
    }
}

} // namespace
