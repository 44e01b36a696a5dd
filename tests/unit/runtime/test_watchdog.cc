// Tests for the watchdog poller's schedule (runtime/carrier_dpdk/dpc_watchdog.c), the pure
// part: when it runs next after a run or a wake-up. The behaviour on a node (no wake-up while
// an application thread polls; heartbeats and acks while its threads hog the core) is
// tests/fault/hog.sh.
#include <gtest/gtest.h>

#include <cstdint>

extern "C" {
// runtime/carrier_dpdk/dpc.h (not includable from C++: C11 atomics)
uint64_t dpc_watchdog_rest_until(uint64_t end_ns, uint64_t ran_ns);
uint64_t dpc_watchdog_next_run(uint64_t end_ns, uint64_t ran_ns, bool flowing, uint64_t due,
                               uint64_t slack_ns, uint64_t backstop_ns);
}

namespace
{
constexpr uint64_t kUs = 1000, kMs = 1000 * kUs;
constexpr uint64_t kSlack = 350 * kUs, kBackstop = 5 * kMs;

// A flood (every run ends with traffic still flowing): run back to back as the schedule
// says for a simulated second and add up the share of the core the watchdog took.
TEST(Watchdog, AFloodGetsAtMostTheDutyCycleCap)
{
    const uint64_t run = 200 * kUs; // DPC_WATCHDOG_RUN_MAX_NS: each run hits it
    uint64_t t = 0, busy = 0;
    while (t < 1000 * kMs) {
        uint64_t end = t + run;
        busy += run;
        uint64_t next = dpc_watchdog_next_run(end, run, true, 0, kSlack, kBackstop);
        ASSERT_GT(next, end) << "no rest after a run under a flood";
        t = next;
    }
    double share = double(busy) / double(t);
    EXPECT_LE(share, 0.25 + 1e-9) << "the watchdog took " << share * 100 << "% of the core";
    EXPECT_GE(share, 0.24) << "the cap is 25 %: a flood gets that much";
}

TEST(Watchdog, RestIsThreeTimesTheRunAtTheCap)
{
    EXPECT_EQ(dpc_watchdog_rest_until(10 * kMs, 100 * kUs), 10 * kMs + 300 * kUs);
    EXPECT_EQ(dpc_watchdog_rest_until(10 * kMs, 0), 10 * kMs);
}

TEST(Watchdog, IdleItWakesForTheNextDeadlinePlusTheSlack)
{
    uint64_t now = 100 * kMs, due = now + 5 * kMs; // next heartbeat one interval away
    EXPECT_EQ(dpc_watchdog_next_run(now, 0, false, due, kSlack, kBackstop), due + kSlack);
    // a deadline just passed: still its slack (somebody else may be doing it); long
    // passed: now
    EXPECT_EQ(dpc_watchdog_next_run(now, 0, false, now - 100 * kUs, kSlack, kBackstop),
              now - 100 * kUs + kSlack);
    EXPECT_EQ(dpc_watchdog_next_run(now, 0, false, now - kMs, kSlack, kBackstop), now);
}

TEST(Watchdog, WithoutADeadlineItWakesAfterTheBackstop)
{
    uint64_t now = 100 * kMs;
    EXPECT_EQ(dpc_watchdog_next_run(now, 0, false, UINT64_MAX, kSlack, kBackstop),
              now + kBackstop);
    EXPECT_EQ(dpc_watchdog_next_run(now, 0, false, now + 50 * kMs, kSlack, kBackstop),
              now + kBackstop);
}

TEST(Watchdog, TheCapHoldsOffEvenADueHeartbeat)
{
    uint64_t end = 100 * kMs, ran = 200 * kUs;
    EXPECT_EQ(dpc_watchdog_next_run(end, ran, false, end, 0, kBackstop), end + 3 * ran);
}
} // namespace
