// Unit tests for dataplane/flowtab.c: tag -> slot mapping, idle slots kept for their tag,
// reuse of the least recently idled slot, "no free slot" as a normal result, and a
// randomised comparison against a reference map.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

extern "C" {
#include "dataplane/flowtab.h"
}

namespace
{

TEST(Flowtab, CreateLimits)
{
    EXPECT_EQ(nullptr, flowtab_create(0));
    EXPECT_EQ(nullptr, flowtab_create(FLOWTAB_MAX_FLOWS + 1));
    flowtab *ft = flowtab_create(FLOWTAB_MAX_FLOWS);
    ASSERT_NE(nullptr, ft);
    flowtab_destroy(ft);
    flowtab_destroy(nullptr);
}

TEST(Flowtab, AcquireLookupIdleReuse)
{
    flowtab *ft = flowtab_create(3);
    bool reused;
    EXPECT_EQ(-1, flowtab_lookup(ft, 100));
    EXPECT_EQ(0, flowtab_acquire(ft, 100, &reused));
    EXPECT_FALSE(reused);
    EXPECT_EQ(0, flowtab_acquire(ft, 100, &reused)); // same tag, same slot
    EXPECT_EQ(1, flowtab_acquire(ft, 0, &reused));   // tag 0 is an ordinary tag
    EXPECT_EQ(2, flowtab_acquire(ft, ~0ull, &reused));
    EXPECT_EQ(3u, flowtab_busy_count(ft));
    EXPECT_EQ(-ENOSPC, flowtab_acquire(ft, 5, &reused)); // every slot busy: backpressure
    EXPECT_EQ(-1, flowtab_lookup(ft, 5));

    flowtab_set_idle(ft, 1);
    flowtab_set_idle(ft, 0);
    EXPECT_FALSE(flowtab_is_busy(ft, 0));
    EXPECT_EQ(0, flowtab_lookup(ft, 100));           // idle slots keep their tag
    EXPECT_EQ(0, flowtab_acquire(ft, 100, &reused)); // and give it back
    EXPECT_FALSE(reused);
    EXPECT_TRUE(flowtab_is_busy(ft, 0));
    // a new tag takes the least recently idled slot (1, tag 0), which forgets its tag
    EXPECT_EQ(1, flowtab_acquire(ft, 5, &reused));
    EXPECT_TRUE(reused);
    EXPECT_EQ(-1, flowtab_lookup(ft, 0));
    EXPECT_EQ(5u, flowtab_tag(ft, 1));
    EXPECT_EQ(-ENOSPC, flowtab_acquire(ft, 6, nullptr));
    flowtab_set_idle(ft, 2);
    flowtab_set_idle(ft, 2); // idempotent
    EXPECT_EQ(2u, flowtab_busy_count(ft));
    EXPECT_EQ(2, flowtab_acquire(ft, 6, nullptr));
    flowtab_destroy(ft);
}

TEST(Flowtab, RandomisedAgainstReference)
{
    const uint32_t n = 64;
    flowtab *ft = flowtab_create(n);
    std::mt19937_64 rng(7);
    std::map<uint64_t, int> tag2slot;
    std::map<int, uint64_t> slot2tag;
    std::set<int> busy;
    for (int step = 0; step < 200000; step++) {
        uint64_t tag = rng() % 300; // collisions on purpose
        if (rng() % 3) {
            int s = flowtab_acquire(ft, tag, nullptr);
            auto it = tag2slot.find(tag);
            if (it != tag2slot.end()) {
                ASSERT_EQ(it->second, s);
            } else if (busy.size() == n) {
                ASSERT_EQ(-ENOSPC, s);
                continue;
            } else {
                ASSERT_GE(s, 0);
                ASSERT_FALSE(busy.count(s)) << "handed out a busy slot";
                if (slot2tag.count(s))
                    tag2slot.erase(slot2tag[s]);
                slot2tag[s] = tag;
                tag2slot[tag] = s;
            }
            busy.insert(s);
        } else if (!busy.empty()) {
            auto it = busy.begin();
            std::advance(it, rng() % busy.size());
            flowtab_set_idle(ft, uint32_t(*it));
            busy.erase(it);
        }
        ASSERT_EQ(busy.size(), flowtab_busy_count(ft));
        int look = flowtab_lookup(ft, tag);
        auto it = tag2slot.find(tag);
        ASSERT_EQ(it == tag2slot.end() ? -1 : it->second, look);
    }
    flowtab_destroy(ft);
}

} // namespace
