// Unit tests for common/bigbuf.c: small buffers are plain allocations, large ones are reused
// from the cache (already faulted in), the cache keeps its bounds, a contended cache never
// blocks alloc(.., false) or free, and the reaper releases what is idle or over the bounds.
#include <gtest/gtest.h>

#include <chrono>
#include <atomic>
#include <cstring>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

extern "C" {
#include "common/bigbuf.h"
}

namespace {

bigbuf_stats stats()
{
    bigbuf_stats s;
    bigbuf_get_stats(&s);
    return s;
}

bool wait_until(const std::function<bool()> &cond, int ms)
{
    for (int i = 0; i < ms / 10; i++) {
        if (cond())
            return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return cond();
}

} // namespace

TEST(Bigbuf, SmallBuffersAreUsableAndFreed)
{
    char *p = static_cast<char *>(bigbuf_alloc(100, false));
    ASSERT_NE(p, nullptr);
    memset(p, 0xab, 100);
    bigbuf_free(p);
    bigbuf_free(nullptr);
}

TEST(Bigbuf, LargeBufferIsReusedFromTheCache)
{
    const size_t len = 4u << 20;
    char *a = static_cast<char *>(bigbuf_alloc(len, true));
    ASSERT_NE(a, nullptr);
    memset(a, 1, len); // every page written
    bigbuf_free(a);
    auto before = stats();
    char *b = static_cast<char *>(bigbuf_alloc(len - 1000, false));
    auto after = stats();
    EXPECT_EQ(b, a) << "the cached buffer comes back";
    EXPECT_EQ(after.cache_hits, before.cache_hits + 1);
    EXPECT_EQ(after.fresh, before.fresh);
    bigbuf_free(b);
}

TEST(Bigbuf, ABufferMuchLargerThanAskedIsNotHandedOut)
{
    char *big = static_cast<char *>(bigbuf_alloc(16u << 20, true));
    ASSERT_NE(big, nullptr);
    bigbuf_free(big);
    char *small = static_cast<char *>(bigbuf_alloc(BIGBUF_MIN, true));
    EXPECT_NE(small, big) << "a 16 MiB buffer is not wasted on a 256 KiB request";
    bigbuf_free(small);
}

TEST(Bigbuf, CacheKeepsItsBounds)
{
    std::vector<void *> v;
    for (int i = 0; i < BIGBUF_CACHE_MAX + 4; i++)
        v.push_back(bigbuf_alloc(1u << 20, true));
    for (void *p : v)
        bigbuf_free(p);
    auto s = stats();
    EXPECT_LE(s.cached_now, unsigned(BIGBUF_CACHE_MAX));
    EXPECT_LE(s.cached_bytes, BIGBUF_CACHE_MAX_BYTES);
    // The ones that did not fit go to the reaper, which unmaps them soon.
    unsigned long reaped0 = s.reaped;
    EXPECT_TRUE(wait_until([&] { return stats().reaped >= reaped0; }, 1000));
}

TEST(Bigbuf, NeverBlocksWhileAnotherThreadHoldsTheCache)
{
    // Many threads allocate and free large buffers at once; alloc(.., false) and free must
    // finish even when they find the cache lock taken (they fall back, they do not wait).
    std::vector<std::thread> ts;
    std::atomic<int> done{0};
    for (int t = 0; t < 4; t++)
        ts.emplace_back([&] {
            for (int i = 0; i < 200; i++) {
                char *p = static_cast<char *>(bigbuf_alloc(300u << 10, false));
                ASSERT_NE(p, nullptr);
                p[0] = p[(300u << 10) - 1] = 1;
                bigbuf_free(p);
            }
            done++;
        });
    for (auto &t : ts)
        t.join();
    EXPECT_EQ(done.load(), 4);
}

TEST(Bigbuf, IdleCachedBuffersAreReleased)
{
    void *p = bigbuf_alloc(2u << 20, true);
    ASSERT_NE(p, nullptr);
    bigbuf_free(p);
    EXPECT_GE(stats().cached_now, 1u);
    EXPECT_TRUE(wait_until([] { return stats().cached_now == 0; }, BIGBUF_IDLE_MS + 2000))
        << "nothing reused it for " << BIGBUF_IDLE_MS << " ms";
}
