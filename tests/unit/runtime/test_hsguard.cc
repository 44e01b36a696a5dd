// Tests for runtime/carrier_tcp/hsguard.c, the handshake guard: its pure policy (delays, one attempt at a
// time, forgetting, table and log bounds; time passed in), then a node under a cookie-guessing
// raw peer (tests/unit/runtime/rt_test_util's RawPeer, a real handshake with a wrong cookie)
// from 127.0.0.1 while an honest peer connects from 127.0.0.2 (any 127/8 address reaches
// loopback, so the node sees two source addresses).
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "rt_test_util.h"
extern "C" {
#include "runtime/carrier_tcp/hsguard.h"
}

using namespace rt_test;
using Clock = std::chrono::steady_clock;

namespace
{

struct hsg_addr v4(const char *text)
{
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    inet_pton(AF_INET, text, &sa.sin_addr);
    struct hsg_addr a;
    EXPECT_TRUE(hsg_addr_from_sockaddr(&a, reinterpret_cast<sockaddr *>(&sa), sizeof(sa)));
    return a;
}

struct hsg_addr v6(const char *text)
{
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    inet_pton(AF_INET6, text, &sa.sin6_addr);
    struct hsg_addr a;
    EXPECT_TRUE(hsg_addr_from_sockaddr(&a, reinterpret_cast<sockaddr *>(&sa), sizeof(sa)));
    return a;
}

std::string str(const struct hsg_addr &a)
{
    char buf[64];
    return hsg_addr_str(&a, buf, sizeof(buf));
}

std::unique_ptr<struct hsg> guard(uint32_t base = 100, uint32_t max = 1600)
{
    auto g = std::make_unique<struct hsg>();
    struct hsg_params p = {};
    p.base_delay_ms = base;
    p.max_delay_ms = max;
    p.forget_ms = 60000;
    p.log_interval_ms = 10000;
    hsg_init(g.get(), &p);
    return g;
}

// ---- the policy ---------------------------------------------------------------------------

TEST(Hsg, DelayDoublesUpToTheMaximum)
{
    auto g = guard(100, 1600);
    const uint32_t want[] = {0, 100, 200, 400, 800, 1600, 1600, 1600};
    for (uint32_t k = 0; k < 8; k++)
        EXPECT_EQ(hsg_delay_ms(g.get(), k), want[k]) << k;
    EXPECT_EQ(hsg_delay_ms(g.get(), UINT32_MAX), 1600u);
    struct hsg d;
    hsg_init(&d, nullptr);
    EXPECT_EQ(hsg_delay_ms(&d, 1), uint32_t(HSG_DEFAULT_BASE_DELAY_MS));
    EXPECT_EQ(hsg_delay_ms(&d, 40), uint32_t(HSG_DEFAULT_MAX_DELAY_MS));
}

TEST(Hsg, AddressesWithoutFailuresAreNeverHeld)
{
    auto g = guard();
    struct hsg_addr a = v4("10.0.0.1");
    uint32_t token;
    uint64_t until;
    for (int i = 0; i < 100; i++) { // many at once: no record, no limit
        EXPECT_EQ(hsg_accept(g.get(), &a, 1000, &token, &until), HSG_ADMIT);
        EXPECT_EQ(token, 0u);
    }
}

TEST(Hsg, AfterAFailureOneAttemptAtATimeHeldUntilItsDelay)
{
    auto g = guard(100, 1600);
    struct hsg_addr a = v4("10.0.0.1"), other = v4("10.0.0.2");
    uint32_t token = 0, t2;
    uint64_t until = 0, now = 5000;
    EXPECT_TRUE(hsg_failed(g.get(), &a, now)); // failure 1: the next waits 100 ms
    ASSERT_EQ(hsg_accept(g.get(), &a, now + 10, &token, &until), HSG_HOLD);
    EXPECT_EQ(until, now + 100);
    EXPECT_NE(token, 0u);
    EXPECT_EQ(hsg_accept(g.get(), &a, now + 20, &t2, &until), HSG_REFUSE) << "one at a time";
    // Another address is not affected.
    EXPECT_EQ(hsg_accept(g.get(), &other, now + 20, &t2, &until), HSG_ADMIT);
    EXPECT_EQ(t2, 0u);
    // The held attempt fails too (failure 2 at now + 150): it gives its token back.
    hsg_done(g.get(), &a, token);
    hsg_failed(g.get(), &a, now + 150);
    ASSERT_EQ(hsg_accept(g.get(), &a, now + 200, &token, &until), HSG_HOLD);
    EXPECT_EQ(until, now + 150 + 200);
    hsg_done(g.get(), &a, token);
    // Once the hold is over: admitted, still one at a time.
    ASSERT_EQ(hsg_accept(g.get(), &a, now + 400, &token, &until), HSG_ADMIT);
    EXPECT_NE(token, 0u);
    EXPECT_EQ(hsg_accept(g.get(), &a, now + 400, &t2, &until), HSG_REFUSE);
    // A stale token does not free the current attempt's.
    hsg_done(g.get(), &a, token + 1000);
    EXPECT_EQ(hsg_accept(g.get(), &a, now + 401, &t2, &until), HSG_REFUSE);
    hsg_done(g.get(), &a, token);
    EXPECT_EQ(hsg_accept(g.get(), &a, now + 402, &t2, &until), HSG_ADMIT);
    EXPECT_EQ(g->refusals, 3u);
    EXPECT_EQ(g->held, 2u);
}

TEST(Hsg, SuccessOrForgetClearsTheRecord)
{
    auto g = guard(100, 1600);
    struct hsg_addr a = v4("10.0.0.1"), b = v4("10.0.0.9");
    uint32_t token;
    uint64_t until;
    for (int i = 0; i < 5; i++)
        hsg_failed(g.get(), &a, 1000);
    ASSERT_EQ(hsg_accept(g.get(), &a, 1001, &token, &until), HSG_HOLD);
    EXPECT_EQ(until, 1000u + 1600);
    hsg_succeeded(g.get(), &a); // the held attempt got in: it had the cookie
    hsg_done(g.get(), &a, token);
    EXPECT_EQ(hsg_accept(g.get(), &a, 1002, &token, &until), HSG_ADMIT);
    EXPECT_EQ(token, 0u);
    hsg_failed(g.get(), &b, 1000);
    EXPECT_EQ(hsg_accept(g.get(), &b, 1000 + 59999, &token, &until), HSG_ADMIT);
    EXPECT_NE(token, 0u) << "on record until forget_ms";
    hsg_done(g.get(), &b, token);
    EXPECT_EQ(hsg_accept(g.get(), &b, 1000 + 60000, &token, &until), HSG_ADMIT);
    EXPECT_EQ(token, 0u) << "forgotten";
}

TEST(Hsg, OffencesCountRacesAndOurOwnTroubleDoNot)
{
    EXPECT_TRUE(hsg_counts(HS_E_DIGEST));
    EXPECT_TRUE(hsg_counts(HS_E_TOO_LARGE));
    EXPECT_TRUE(hsg_counts(HS_E_TAG));
    EXPECT_TRUE(hsg_counts(HS_E_NAME_KIND));
    EXPECT_FALSE(hsg_counts(HS_E_STATUS_NOK));
    EXPECT_FALSE(hsg_counts(HS_E_STATUS_FALSE));
    EXPECT_FALSE(hsg_counts(HS_E_OUTPUT));
    EXPECT_FALSE(hsg_counts(HS_E_COOKIE));
}

TEST(Hsg, AddressKeys)
{
    EXPECT_EQ(str(v4("192.0.2.7")), "192.0.2.7");
    // IPv4 through a dual-stack socket is the same address.
    struct hsg_addr m = v6("::ffff:192.0.2.7"), p = v4("192.0.2.7");
    EXPECT_EQ(memcmp(&m, &p, sizeof(m)), 0);
    // IPv6: one /64 is one key.
    struct hsg_addr x = v6("2001:db8:1:2::1"), y = v6("2001:db8:1:2:ffff::9"),
                    z = v6("2001:db8:1:3::1");
    EXPECT_EQ(memcmp(&x, &y, sizeof(x)), 0);
    EXPECT_NE(memcmp(&x, &z, sizeof(x)), 0);
    EXPECT_EQ(str(x), "2001:db8:1:2::/64");
    struct sockaddr sa = {};
    sa.sa_family = AF_UNIX;
    struct hsg_addr u;
    EXPECT_FALSE(hsg_addr_from_sockaddr(&u, &sa, sizeof(sa)));
}

TEST(Hsg, TableStaysBounded)
{
    auto g = guard();
    char text[32];
    for (int i = 0; i < 3 * HSG_TABLE_SIZE; i++) {
        snprintf(text, sizeof(text), "10.1.%d.%d", i / 256, i % 256);
        struct hsg_addr a = v4(text);
        hsg_failed(g.get(), &a, 1000 + uint64_t(i));
    }
    EXPECT_EQ(g->evictions, uint64_t(2 * HSG_TABLE_SIZE));
    // The newest are on record, the oldest evicted.
    uint32_t token;
    uint64_t until;
    struct hsg_addr newest = v4("10.1.2.255"), oldest = v4("10.1.0.0");
    EXPECT_EQ(hsg_accept(g.get(), &newest, 1800, &token, &until), HSG_HOLD);
    EXPECT_EQ(hsg_accept(g.get(), &oldest, 1800, &token, &until), HSG_ADMIT);
    EXPECT_EQ(token, 0u);
}

// One address failing 1000 times in one interval: HSG_LOG_PER_ADDR lines, then one summary
// per interval while it goes on; many addresses: the node-wide budget, then one line for all.
TEST(Hsg, LogLinesAreBounded)
{
    auto g = guard(1, 1);
    struct hsg_addr a = v4("10.0.0.1");
    struct hsg_summary sum[HSG_LOG_LINES_MAX + 2];
    int logged = 0;
    for (int i = 0; i < 1000; i++)
        logged += hsg_failed(g.get(), &a, 1000 + uint64_t(i));
    EXPECT_EQ(logged, HSG_LOG_PER_ADDR);
    EXPECT_EQ(hsg_summaries(g.get(), 5000, sum, 4), 0u) << "not before the interval ends";
    ASSERT_EQ(hsg_summaries(g.get(), 11000, sum, 4), 1u);
    EXPECT_FALSE(sum[0].others);
    EXPECT_EQ(sum[0].failures, uint32_t(1000 - HSG_LOG_PER_ADDR));
    EXPECT_EQ(str(sum[0].addr), "10.0.0.1");
    // It goes on: nothing logged one by one any more, one summary per interval.
    logged = 0;
    for (int i = 0; i < 1000; i++)
        logged += hsg_failed(g.get(), &a, 11000 + uint64_t(i));
    EXPECT_EQ(logged, 0);
    EXPECT_EQ(hsg_summaries(g.get(), 15000, sum, 4), 0u);
    ASSERT_EQ(hsg_summaries(g.get(), 21000, sum, 4), 1u);
    EXPECT_EQ(sum[0].failures, 1000u);

    auto h = guard(1, 1);
    char text[32];
    logged = 0;
    for (int i = 0; i < 100; i++) {
        snprintf(text, sizeof(text), "10.2.0.%d", i);
        struct hsg_addr b = v4(text);
        logged += hsg_failed(h.get(), &b, 1000);
        logged += hsg_failed(h.get(), &b, 1000);
    }
    EXPECT_EQ(logged, HSG_LOG_LINES_MAX);
    size_t k = hsg_summaries(h.get(), 11000, sum, HSG_LOG_LINES_MAX + 2);
    ASSERT_GE(k, 1u);
    ASSERT_LE(k, size_t(HSG_LOG_LINES_MAX + 1));
    EXPECT_TRUE(sum[k - 1].others);
    uint32_t total = 0;
    for (size_t i = 0; i < k; i++)
        total += sum[i].failures;
    EXPECT_EQ(total + uint32_t(logged), 200u) << "every failure is logged or counted";
}

// ---- a node under a cookie-guessing peer -------------------------------------------------

class HandshakeGuard : public ::testing::Test
{
  protected:
    void SetUp() override
    {
        NodeOpts o;
        o.handshake_backoff_ms = 100;
        o.handshake_backoff_max_ms = 1600;
        alive_ = fresh_name("guarded");
        node_ = start_node(alive_, o);
        ASSERT_TRUE(node_);
    }
    void TearDown() override
    {
        if (node_)
            dd_node_stop(node_);
    }
    // One wrong-cookie attempt from `source`: true if the node answered it (sent its status,
    // i.e. read our name and went on with the handshake) before refusing the digest.
    bool guess(const char *source, const std::string &who = "guess")
    {
        RawPeer p;
        return p.connect_to(alive_, source) && guess_on(p, who);
    }
    bool guess_on(RawPeer &p, const std::string &who = "guess")
    {
        enum hs_status st = HS_STATUS_NONE;
        bool ok = p.handshake(who + "@" + short_host(), dd_node_name(node_), "wrong",
                              DISTFLAGS_ADVERTISED | DFLAG_PUBLISHED, &st);
        EXPECT_FALSE(ok);
        return st != HS_STATUS_NONE;
    }
    std::string alive_;
    dd_node *node_ = nullptr;
    LogCapture logs_;
};

// The k-th wrong-cookie attempt from one address is answered no sooner than the delay after
// the (k-1)-th failure (bounded below by the start of that attempt), and meanwhile an honest
// peer from another address completes its handshake at once, while an attempt of the guesser
// is still held. The guesser's failures get HSG_LOG_PER_ADDR lines, then a summary.
TEST_F(HandshakeGuard, WrongCookiesFromOneAddressWaitLongerEachTime)
{
    const long delay[] = {0, 100, 200, 400, 800};
    Clock::time_point prev_start;
    for (int k = 0; k < 5; k++) {
        auto start = Clock::now();
        ASSERT_TRUE(guess("127.0.0.1")) << "attempt " << k + 1 << " was not answered";
        auto end = Clock::now();
        if (k > 0) {
            long ms = long(
                std::chrono::duration_cast<std::chrono::milliseconds>(end - prev_start).count());
            EXPECT_GE(ms, delay[k]) << "attempt " << k + 1 << " came too soon";
        }
        prev_start = start;
    }
    // Five failures: the sixth attempt is held 1600 ms. Start it, then a second one from the
    // same address (refused at once, nothing answered), then an honest peer from 127.0.0.2.
    auto held_start = Clock::now();
    RawPeer first;
    ASSERT_TRUE(first.connect_to(alive_, "127.0.0.1")); // accepted before `second`
    Clock::time_point held_answered;
    bool held_ok = false;
    std::thread held([&] {
        held_ok = guess_on(first);
        held_answered = Clock::now();
    });
    RawPeer second, honest;
    bool second_closed = second.connect_to(alive_, "127.0.0.1");
    if (second_closed) {
        struct pollfd pf = {second.fd(), POLLIN, 0};
        char byte;
        second_closed = poll(&pf, 1, 1000) == 1 && recv(second.fd(), &byte, 1, 0) == 0;
    }
    bool honest_ok = honest.connect_to(alive_, "127.0.0.2");
    enum hs_status st = HS_STATUS_NONE;
    honest_ok =
        honest_ok && honest.handshake("honest@" + short_host(), dd_node_name(node_), "rtcookie",
                                      DISTFLAGS_ADVERTISED | DFLAG_PUBLISHED, &st);
    auto honest_done = Clock::now();
    held.join();
    EXPECT_TRUE(second_closed) << "a second attempt while one is held: closed, nothing answered";
    EXPECT_TRUE(honest_ok);
    EXPECT_EQ(st, HS_STATUS_OK);
    EXPECT_TRUE(held_ok);
    EXPECT_LT(honest_done, held_answered) << "the honest peer waited for the guesser";
    EXPECT_GE(
        std::chrono::duration_cast<std::chrono::milliseconds>(held_answered - held_start).count(),
        1600 - 100)
        << "held from its accept until 1600 ms after the fifth failure";

    EXPECT_EQ(logs_.count("Connection attempt from disallowed node guess@"),
              size_t(HSG_LOG_PER_ADDR));
    EXPECT_TRUE(logs_.wait_for("failed handshakes from 127.0.0.1 suppressed, 1 connections", 12000))
        << "the summary line after the log interval";
    EXPECT_EQ(logs_.count("disallowed node honest@"), 0u);
}

// Guessing as fast as it can from one address for two seconds: the answered attempts are at
// most those whose delays fit (answer k+1 >= answer k + delay(k): 0, 100, 300, 700, 1500 ms,
// the next at 3100), where the node answered hundreds before (1,000 in 0.2 s was measured).
TEST_F(HandshakeGuard, AGuesserGetsAFewAnswersNotThousands)
{
    const auto window = std::chrono::milliseconds(2000);
    auto t0 = Clock::now();
    int answered = 0, tries = 0;
    while (Clock::now() - t0 < window) {
        bool a = guess("127.0.0.1");
        tries++;
        if (a && Clock::now() - t0 < window)
            answered++;
    }
    EXPECT_LE(answered, 5) << tries << " tries";
    EXPECT_GE(answered, 1);
    // An honest peer from another address gets in meanwhile.
    RawPeer honest;
    ASSERT_TRUE(honest.connect_to(alive_, "127.0.0.2"));
    EXPECT_TRUE(honest.handshake("honest2@" + short_host(), dd_node_name(node_)));
    EXPECT_LE(logs_.count("Connection attempt from disallowed node"), size_t(HSG_LOG_PER_ADDR));
}

} // namespace
