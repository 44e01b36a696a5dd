// Tests of control/epmd/epmd_idle.c: the reference daemon's idle rule (whole seconds of the
// wall clock, `stamp + timeout < now`) and our monotonic bounds, with synthetic clocks.
#include <gtest/gtest.h>

extern "C" {
#include "control/epmd/epmd_idle.h"
}

namespace
{

constexpr uint64_t kNsPerMs = 1000000;
constexpr uint64_t kWallBaseS = 1700000000; // some second of the wall clock

// Both clocks at an instant `ms` after a wall-clock second boundary (no step).
epmd_idle_now at(uint64_t ms)
{
    return {100000 + ms, kWallBaseS * 1000000000ull + ms * kNsPerMs};
}

// The same instant with the wall clock stepped by step_s seconds.
epmd_idle_now stepped(uint64_t ms, int64_t step_s)
{
    epmd_idle_now n = at(ms);
    n.wall_ns = uint64_t(int64_t(n.wall_ns) + step_s * 1000000000ll);
    return n;
}

epmd_idle_stamp touched(const epmd_idle_now &n)
{
    epmd_idle_stamp s;
    epmd_idle_touch(&s, &n);
    return s;
}

bool expired(const epmd_idle_stamp &last, const epmd_idle_now &now, unsigned timeout_s)
{
    return epmd_idle_expired(&last, &now, timeout_s);
}

uint64_t due_ms(const epmd_idle_stamp &last, const epmd_idle_now &now, unsigned timeout_s)
{
    return epmd_idle_due_ms(&last, &now, timeout_s);
}

} // namespace

// The case of issue 10 item 15: -packet_timeout 1 and one byte a second. Whatever the phase
// of the byte in its second, a gap of one second never reaches the second tick after it.
TEST(EpmdIdle, OneByteASecondIsKeptAtAnyPhase)
{
    for (uint64_t phase = 0; phase < 1000; phase += 7) {
        epmd_idle_stamp last = touched(at(phase));
        for (uint64_t gap = 1; gap <= 1000; gap++)
            ASSERT_FALSE(expired(last, at(phase + gap), 1))
                << "phase " << phase << " ms, " << gap << " ms after the last byte";
    }
}

// A silent connection is closed at the wall clock's tick stamp + timeout + 1: after 1.9 s
// when it spoke at .100, after 1.1 s when it spoke at .900 (the reference's window).
TEST(EpmdIdle, SilentConnectionClosedAtTheSecondTickAfterTimeout)
{
    epmd_idle_stamp early = touched(at(100));
    EXPECT_FALSE(expired(early, at(1999), 1));
    EXPECT_TRUE(expired(early, at(2000), 1));
    epmd_idle_stamp late = touched(at(900));
    EXPECT_FALSE(expired(late, at(1999), 1));
    EXPECT_TRUE(expired(late, at(2000), 1));
    // Longer timeouts: the same rule, timeout + 1 ticks later.
    epmd_idle_stamp s60 = touched(at(500));
    EXPECT_FALSE(expired(s60, at(60999), 60));
    EXPECT_TRUE(expired(s60, at(61000), 60));
}

// A wall-clock step forward would close everything at once by the reference's rule alone;
// the monotonic bound keeps a connection until it has been silent for more than timeout.
TEST(EpmdIdle, WallClockStepForwardClosesNothingEarly)
{
    epmd_idle_stamp last = touched(at(100));
    EXPECT_FALSE(expired(last, stepped(600, 3600), 1));
    EXPECT_FALSE(expired(last, stepped(1100, 3600), 1));
    EXPECT_TRUE(expired(last, stepped(1101, 3600), 1));
}

// A step backward would keep connections for as long as the step; the bound closes them
// after timeout + 1 seconds of silence.
TEST(EpmdIdle, WallClockStepBackwardKeepsNothingLong)
{
    epmd_idle_stamp last = touched(at(100));
    EXPECT_FALSE(expired(last, stepped(2099, -3600), 1));
    EXPECT_TRUE(expired(last, stepped(2100, -3600), 1));
}

// epmd_idle_due_ms() is what the loop waits for: it must never wake before the rule holds
// (that would spin) and never after it (a connection would be kept too long).
TEST(EpmdIdle, DueTimeIsExactlyWhenTheRuleStartsToHold)
{
    for (unsigned timeout : {1u, 2u, 60u})
        for (uint64_t phase = 0; phase < 1000; phase += 13) {
            epmd_idle_stamp last = touched(at(phase));
            for (uint64_t later = 0; later < (timeout + 2) * 1000ull; later += 97) {
                epmd_idle_now now = at(phase + later);
                uint64_t due = due_ms(last, now, timeout);
                if (due == 0) {
                    ASSERT_TRUE(expired(last, now, timeout));
                    continue;
                }
                ASSERT_FALSE(expired(last, at(phase + later + due - 1), timeout))
                    << "timeout " << timeout << " phase " << phase << " later " << later;
                ASSERT_TRUE(expired(last, at(phase + later + due), timeout))
                    << "timeout " << timeout << " phase " << phase << " later " << later;
            }
        }
    // After a step backward the due time is the monotonic bound.
    epmd_idle_stamp last = touched(at(100));
    EXPECT_EQ(due_ms(last, stepped(600, -3600), 1), 1500u);
}
