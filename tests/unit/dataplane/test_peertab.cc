// Unit tests for dataplane/peertab.c: the RCU peer table. Single-threaded semantics, then
// reader threads (registered QSBR readers announcing a quiescent state per iteration, as
// the lcores do) looking up and dereferencing channels while the writer adds and removes
// them with both reclamation styles. A reclaimed object is poisoned before it is freed,
// so a reader that could still see it fails the check; under -Db_sanitize=address the
// free itself would be reported as a use-after-free.
#include <gtest/gtest.h>

#include <chrono>

#include <atomic>
#include <random>
#include <thread>
#include <vector>

extern "C" {
#include <urcu/urcu-qsbr.h>

#include "dataplane/peertab.h"
}

namespace
{

constexpr uint64_t LIVE = 0x11fe11fe11fe11feull;
constexpr uint64_t DEAD = 0xdeaddeaddeaddeadull;

struct Obj {
    std::atomic<uint64_t> magic{LIVE};
    uint64_t session;
    explicit Obj(uint64_t s) : session(s)
    {
    }
};

std::atomic<long> g_live{0};
std::atomic<long> g_reclaimed{0};

void reclaim(void *chan, void *arg)
{
    auto *o = static_cast<Obj *>(chan);
    EXPECT_EQ(reinterpret_cast<void *>(0x5eed), arg);
    o->magic.store(DEAD);
    delete o;
    g_live--;
    g_reclaimed++;
}

Obj *make(uint64_t s)
{
    g_live++;
    return new Obj(s);
}

// The gtest thread is the writer: registered and online for the whole test.
class Peertab : public ::testing::Test
{
  protected:
    void SetUp() override
    {
        urcu_qsbr_register_thread();
    }
    void TearDown() override
    {
        urcu_qsbr_unregister_thread();
    }
};

TEST_F(Peertab, AddLookupRemove)
{
    peertab *pt = peertab_create(0);
    ASSERT_NE(nullptr, pt);
    EXPECT_EQ(nullptr, peertab_create(3)); // not a power of two
    Obj *a = make(1), *b = make(0xffffffffffffffffull);
    EXPECT_EQ(0, peertab_add(pt, 1, a));
    EXPECT_EQ(0, peertab_add(pt, b->session, b));
    EXPECT_EQ(-EEXIST, peertab_add(pt, 1, b));
    EXPECT_EQ(-EINVAL, peertab_add(pt, 2, nullptr));
    EXPECT_EQ(2ul, peertab_count(pt));
    urcu_qsbr_read_lock();
    EXPECT_EQ(a, peertab_lookup(pt, 1));
    EXPECT_EQ(b, peertab_lookup(pt, b->session));
    EXPECT_EQ(nullptr, peertab_lookup(pt, 2));
    urcu_qsbr_read_unlock();

    EXPECT_EQ(a, peertab_remove_sync(pt, 1)); // grace period passed: ours to free
    EXPECT_EQ(nullptr, peertab_remove_sync(pt, 1));
    delete a;
    g_live--;
    EXPECT_EQ(0, peertab_remove(pt, b->session, reclaim, reinterpret_cast<void *>(0x5eed)));
    EXPECT_EQ(-ENOENT, peertab_remove(pt, b->session, reclaim, nullptr));
    EXPECT_EQ(0ul, peertab_count(pt));
    EXPECT_EQ(0, peertab_destroy(pt, nullptr, nullptr)); // waits for b's reclaim
    EXPECT_EQ(0, g_live.load());
    EXPECT_EQ(0, peertab_destroy(nullptr, nullptr, nullptr));
}

TEST_F(Peertab, DestroyReclaimsRemaining)
{
    peertab *pt = peertab_create(4);
    long before = g_reclaimed;
    for (uint64_t s = 100; s < 1100; s++)
        ASSERT_EQ(0, peertab_add(pt, s, make(s))); // grows past 4 buckets
    urcu_qsbr_read_lock();
    for (uint64_t s = 100; s < 1100; s++)
        ASSERT_EQ(s, static_cast<Obj *>(peertab_lookup(pt, s))->session);
    urcu_qsbr_read_unlock();
    EXPECT_EQ(0, peertab_destroy(pt, reclaim, reinterpret_cast<void *>(0x5eed)));
    EXPECT_EQ(1000, g_reclaimed - before);
    EXPECT_EQ(0, g_live.load());
}

TEST_F(Peertab, ConcurrentReadersNoUseAfterFree)
{
    constexpr int kReaders = 2;
    constexpr uint64_t kKeys = 64;
    peertab *pt = peertab_create(8);
    std::atomic<bool> stop{false};
    std::atomic<long> passes{0}; // reader loop turns: the writer goes on until they ran
    std::atomic<long> hits{0}, misses{0}, bad{0};

    std::vector<std::thread> readers;
    for (int r = 0; r < kReaders; r++) {
        readers.emplace_back([&, r] {
            urcu_qsbr_register_thread();
            std::mt19937_64 rng(r + 1);
            long h = 0, m = 0;
            while (!stop.load(std::memory_order_relaxed)) {
                urcu_qsbr_read_lock();
                for (int i = 0; i < 16; i++) {
                    uint64_t key = rng() % kKeys;
                    auto *o = static_cast<Obj *>(peertab_lookup(pt, key));
                    if (!o) {
                        m++;
                        continue;
                    }
                    // dereference while in the critical section: must still be alive
                    if (o->magic.load() != LIVE || o->session != key)
                        bad++;
                    h++;
                }
                urcu_qsbr_read_unlock();
                urcu_qsbr_quiescent_state(); // one poll-loop iteration
                passes.fetch_add(1, std::memory_order_relaxed);
            }
            hits += h;
            misses += m;
            urcu_qsbr_unregister_thread();
        });
    }

    std::mt19937_64 rng(99);
    long adds = 0, removes = 0, sync_removes = 0;
    // At least 30000 operations, and on until the readers have run a while alongside (on a
    // loaded machine they may not be scheduled at all during the first ones); bounded.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    for (int op = 0; op < 30000 || (passes.load() < 2000 &&
                                    std::chrono::steady_clock::now() < deadline);
         op++) {
        uint64_t key = rng() % kKeys;
        int what = int(rng() % 10);
        if (what < 5) {
            Obj *o = make(key);
            if (peertab_add(pt, key, o) == 0) {
                adds++;
            } else {
                delete o; // never published
                g_live--;
            }
        } else if (what < 9) {
            if (peertab_remove(pt, key, reclaim, reinterpret_cast<void *>(0x5eed)) == 0)
                removes++;
        } else if (auto *o = static_cast<Obj *>(peertab_remove_sync(pt, key))) {
            o->magic.store(DEAD);
            delete o;
            g_live--;
            sync_removes++;
        }
    }
    stop = true;
    for (auto &t : readers)
        t.join();
    EXPECT_EQ(0, peertab_destroy(pt, reclaim, reinterpret_cast<void *>(0x5eed)));
    EXPECT_EQ(0, bad.load());
    EXPECT_EQ(0, g_live.load());
    EXPECT_GT(hits.load(), 0);
    EXPECT_GT(removes, 1000);
    EXPECT_GT(sync_removes, 100);
    printf("[ peertab  ] %ld adds, %ld call_rcu removes, %ld sync removes; readers %ld hits, "
           "%ld misses\n",
           adds, removes, sync_removes, hits.load(), misses.load());
}

} // namespace
