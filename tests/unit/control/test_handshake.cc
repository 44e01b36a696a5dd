// Tests for control/handshake.c: both roles driven against each other in memory, and each
// role against hand-built messages for the malformed and refused cases.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "control/cookie.h"
#include "control/handshake.h"

namespace
{

using Bytes = std::vector<uint8_t>;

const uint64_t kFlags = DISTFLAGS_ADVERTISED | DFLAG_PUBLISHED;
// Without HANDSHAKE_23, and without MANDATORY_25_DIGEST, which would imply it (as in OTP).
const uint64_t kNo23 = kFlags & ~DFLAG_HANDSHAKE_23 & ~DFLAG_MANDATORY_25_DIGEST;

// Builds one handshake message body; frame() adds the 2-byte length.
struct Msg {
    Bytes b;
    Msg &u8(uint8_t v)
    {
        b.push_back(v);
        return *this;
    }
    Msg &u16(uint16_t v)
    {
        return u8(v >> 8).u8(v & 0xff);
    }
    Msg &u32(uint32_t v)
    {
        return u16(v >> 16).u16(v & 0xffff);
    }
    Msg &u64(uint64_t v)
    {
        return u32(v >> 32).u32(v & 0xffffffff);
    }
    Msg &str(const std::string &s)
    {
        b.insert(b.end(), s.begin(), s.end());
        return *this;
    }
    Msg &raw(const Bytes &r)
    {
        b.insert(b.end(), r.begin(), r.end());
        return *this;
    }
    Bytes frame() const
    {
        Bytes f;
        f.push_back(b.size() >> 8);
        f.push_back(b.size() & 0xff);
        f.insert(f.end(), b.begin(), b.end());
        return f;
    }
};

// One side of a handshake with its policy and receive buffer.
struct Endpoint {
    struct hs hs;
    struct hs_callbacks cb;
    std::string name, expected;
    std::string cookie = "secret";
    uint32_t challenge = 0;
    bool challenge_fails = false;
    bool no_cookie = false;
    enum hs_status admit_status = HS_STATUS_OK;
    bool alive_answer = true;
    std::string admitted_peer;
    uint64_t admitted_flags = 0;
    Bytes rx;
    enum hs_step step = HS_CONTINUE;
    size_t last_consumed = 0;

    static const char *cookie_cb(void *arg, const char *)
    {
        auto *e = static_cast<Endpoint *>(arg);
        return e->no_cookie ? nullptr : e->cookie.c_str();
    }
    static int challenge_cb(void *arg, uint32_t *out)
    {
        auto *e = static_cast<Endpoint *>(arg);
        if (e->challenge_fails)
            return -1;
        *out = e->challenge;
        return 0;
    }
    static enum hs_status admit_cb(void *arg, const char *peer, uint64_t flags)
    {
        auto *e = static_cast<Endpoint *>(arg);
        e->admitted_peer = peer;
        e->admitted_flags = flags;
        return e->admit_status;
    }
    static bool alive_cb(void *arg, const char *)
    {
        return static_cast<Endpoint *>(arg)->alive_answer;
    }

    Endpoint(enum hs_role role, std::string my_name, std::string expected_peer = "",
             uint32_t ch = 1000)
        : name(std::move(my_name)), expected(std::move(expected_peer)), challenge(ch)
    {
        cb.cookie = cookie_cb;
        cb.challenge = challenge_cb;
        cb.admit = admit_cb;
        cb.alive_answer = alive_cb;
        cfg.role = role;
        cfg.my_creation = role == HS_INITIATOR ? 0x11111111 : 0x22222222;
        cfg.my_flags = kFlags;
        cfg.cb = &cb;
        cfg.cb_arg = this;
    }
    struct hs_config cfg = {};

    enum hs_error start()
    {
        cfg.my_name = name.c_str();
        cfg.expected_peer = expected.empty() ? nullptr : expected.c_str();
        return hs_init(&hs, &cfg);
    }

    // Append bytes to the receive buffer and let the machine consume whole messages.
    enum hs_step deliver(const Bytes &bytes)
    {
        rx.insert(rx.end(), bytes.begin(), bytes.end());
        size_t consumed = 0;
        step = hs_feed(&hs, rx.data(), rx.size(), &consumed);
        EXPECT_LE(consumed, rx.size());
        last_consumed = consumed;
        rx.erase(rx.begin(), rx.begin() + consumed);
        return step;
    }

    Bytes take_output()
    {
        const uint8_t *p;
        size_t n = hs_output(&hs, &p);
        Bytes out(p, p + n);
        hs_output_consumed(&hs, n);
        return out;
    }

    const struct hs_result &res() const
    {
        return *hs_result(&hs);
    }
    enum hs_error err() const
    {
        return hs_last_error(&hs);
    }
};

// Shuttle bytes between the two until neither makes progress. byte_at_a_time delivers one
// byte per hs_feed call. mutate_to_a may alter bytes on their way to A. wire, if given,
// receives every byte exchanged in wire order (the handshake is lock-step: in a round at most
// one side has something to say).
void run(Endpoint &a, Endpoint &b, bool byte_at_a_time = false,
         void (*mutate_to_a)(Bytes &) = nullptr, Bytes *wire = nullptr)
{
    for (int round = 0; round < 20; round++) {
        Bytes ab = a.take_output();
        Bytes ba = b.take_output();
        if (mutate_to_a != nullptr)
            mutate_to_a(ba);
        if (ab.empty() && ba.empty())
            return;
        if (wire != nullptr) {
            EXPECT_TRUE(ab.empty() || ba.empty()) << "both sides spoke in round " << round;
            wire->insert(wire->end(), ab.begin(), ab.end());
            wire->insert(wire->end(), ba.begin(), ba.end());
        }
        if (byte_at_a_time) {
            for (uint8_t c : ab)
                b.deliver(Bytes{c});
            for (uint8_t c : ba)
                a.deliver(Bytes{c});
        } else {
            if (!ab.empty())
                b.deliver(ab);
            if (!ba.empty())
                a.deliver(ba);
        }
    }
    FAIL() << "handshake did not settle";
}

struct Pair {
    Endpoint a{HS_INITIATOR, "alice@host", "bob@host", 0xA1A2A3A4};
    Endpoint b{HS_ACCEPTOR, "bob@host", "", 1234567890};
    void start()
    {
        ASSERT_EQ(a.start(), HS_OK);
        ASSERT_EQ(b.start(), HS_OK);
    }
};

void expect_done(const Pair &p)
{
    EXPECT_EQ(p.a.step, HS_DONE) << hs_strerror(p.a.err());
    EXPECT_EQ(p.b.step, HS_DONE) << hs_strerror(p.b.err());
    EXPECT_STREQ(p.a.res().peer_name, "bob@host");
    EXPECT_STREQ(p.b.res().peer_name, "alice@host");
    EXPECT_EQ(p.a.res().peer_creation, 0x22222222u);
    EXPECT_EQ(p.b.res().peer_creation, 0x11111111u);
    EXPECT_EQ(p.a.res().flags, kFlags);
    EXPECT_EQ(p.b.res().flags, kFlags);
    EXPECT_TRUE(p.a.rx.empty());
    EXPECT_TRUE(p.b.rx.empty());
}

TEST(Handshake, StatusOk)
{
    Pair p;
    p.start();
    run(p.a, p.b);
    expect_done(p);
    EXPECT_EQ(p.a.res().status, HS_STATUS_OK);
    EXPECT_EQ(p.b.res().status, HS_STATUS_OK);
    EXPECT_FALSE(p.b.res().alive_true);
    EXPECT_EQ(p.b.admitted_peer, "alice@host");
    EXPECT_EQ(p.b.admitted_flags, kFlags);
    EXPECT_FALSE(p.b.res().peer_used_old_name);
}

TEST(Handshake, StatusOkSimultaneous)
{
    Pair p;
    p.b.admit_status = HS_STATUS_OK_SIMULTANEOUS;
    p.start();
    run(p.a, p.b);
    expect_done(p);
    EXPECT_EQ(p.a.res().status, HS_STATUS_OK_SIMULTANEOUS);
    EXPECT_EQ(p.b.res().status, HS_STATUS_OK_SIMULTANEOUS);
}

TEST(Handshake, StatusNok)
{
    Pair p;
    p.b.admit_status = HS_STATUS_NOK;
    p.start();
    run(p.a, p.b);
    EXPECT_EQ(p.b.step, HS_FAILED);
    EXPECT_EQ(p.b.err(), HS_E_STATUS_NOK);
    EXPECT_EQ(p.a.step, HS_FAILED);
    EXPECT_EQ(p.a.err(), HS_E_STATUS_NOK);
    EXPECT_EQ(p.a.res().status, HS_STATUS_NOK);
}

TEST(Handshake, StatusNotAllowed)
{
    Pair p;
    p.b.admit_status = HS_STATUS_NOT_ALLOWED;
    p.start();
    run(p.a, p.b);
    EXPECT_EQ(p.b.err(), HS_E_STATUS_NOT_ALLOWED);
    EXPECT_EQ(p.a.err(), HS_E_STATUS_NOT_ALLOWED);
    EXPECT_EQ(p.a.res().status, HS_STATUS_NOT_ALLOWED);
    // The refusing side still knows whom it refused (for its log line).
    EXPECT_STREQ(p.b.res().peer_name, "alice@host");
}

TEST(Handshake, StatusAliveTrue)
{
    Pair p;
    p.b.admit_status = HS_STATUS_ALIVE;
    p.a.alive_answer = true;
    p.start();
    run(p.a, p.b);
    expect_done(p);
    EXPECT_EQ(p.a.res().status, HS_STATUS_ALIVE);
    EXPECT_EQ(p.b.res().status, HS_STATUS_ALIVE);
    EXPECT_TRUE(p.b.res().alive_true);
    EXPECT_TRUE(p.a.res().alive_true);
}

TEST(Handshake, StatusAliveFalse)
{
    Pair p;
    p.b.admit_status = HS_STATUS_ALIVE;
    p.a.alive_answer = false;
    p.start();
    run(p.a, p.b);
    EXPECT_EQ(p.a.err(), HS_E_STATUS_FALSE);
    EXPECT_EQ(p.b.err(), HS_E_STATUS_FALSE);
    EXPECT_FALSE(p.b.res().alive_true);
}

TEST(Handshake, AliveReplyUnknownWord)
{
    Endpoint b(HS_ACCEPTOR, "bob@host");
    b.admit_status = HS_STATUS_ALIVE;
    ASSERT_EQ(b.start(), HS_OK);
    Endpoint a(HS_INITIATOR, "alice@host", "bob@host");
    ASSERT_EQ(a.start(), HS_OK);
    EXPECT_EQ(b.deliver(a.take_output()), HS_CONTINUE);
    EXPECT_EQ(b.deliver(Msg().str("smaybe").frame()), HS_FAILED);
    EXPECT_EQ(b.err(), HS_E_STATUS_UNKNOWN);
}

TEST(Handshake, ByteAtATime)
{
    for (auto st : {HS_STATUS_OK, HS_STATUS_ALIVE}) {
        Pair p;
        p.b.admit_status = st;
        p.start();
        run(p.a, p.b, true);
        expect_done(p);
    }
}

TEST(Handshake, TrailersExchanged)
{
    Pair p;
    const uint8_t ta[] = {1, 2, 3};
    Bytes tb(HS_TRAILER_MAX, 0x5a); // at the limit
    p.a.cfg.trailer = ta;
    p.a.cfg.trailer_len = sizeof(ta);
    p.b.cfg.trailer = tb.data();
    p.b.cfg.trailer_len = tb.size();
    p.start();
    run(p.a, p.b);
    expect_done(p);
    ASSERT_EQ(p.b.res().peer_trailer_len, sizeof(ta));
    EXPECT_EQ(0, memcmp(p.b.res().peer_trailer, ta, sizeof(ta)));
    ASSERT_EQ(p.a.res().peer_trailer_len, tb.size());
    EXPECT_EQ(0, memcmp(p.a.res().peer_trailer, tb.data(), tb.size()));
}

TEST(Handshake, WrongDigestSeenByAcceptor)
{
    Pair p;
    p.a.cookie = "one";
    p.b.cookie = "other";
    p.start();
    run(p.a, p.b);
    EXPECT_EQ(p.b.step, HS_FAILED);
    EXPECT_EQ(p.b.err(), HS_E_DIGEST);
    // No ack goes out, so the initiator is left waiting (the acceptor closes).
    EXPECT_EQ(p.a.step, HS_CONTINUE);
    EXPECT_STREQ(p.b.res().peer_name, "alice@host");
}

TEST(Handshake, WrongDigestSeenByInitiator)
{
    Pair p;
    p.start();
    // Corrupt the acceptor's 'a' digest on the wire.
    run(p.a, p.b, false, [](Bytes &to_a) {
        if (to_a.size() == 19 && to_a[2] == 'a')
            to_a[10] ^= 0x01;
    });
    EXPECT_EQ(p.b.step, HS_DONE);
    EXPECT_EQ(p.a.step, HS_FAILED);
    EXPECT_EQ(p.a.err(), HS_E_DIGEST);
}

TEST(Handshake, PerPeerCookieCallbackRefuses)
{
    Pair p;
    p.b.no_cookie = true;
    p.start();
    run(p.a, p.b);
    EXPECT_EQ(p.b.err(), HS_E_COOKIE);
}

TEST(Handshake, ChallengeFailure)
{
    Pair p;
    p.b.challenge_fails = true;
    p.start();
    run(p.a, p.b);
    EXPECT_EQ(p.b.err(), HS_E_RANDOM);
    Pair q;
    q.a.challenge_fails = true;
    q.start();
    run(q.a, q.b);
    EXPECT_EQ(q.a.err(), HS_E_RANDOM);
}

TEST(Handshake, TrailingBytesAfterAckLeftUnconsumed)
{
    Pair p;
    p.start();
    // Drive until the acceptor has queued its 'a', then deliver it with a tick behind it.
    for (int i = 0; i < 10 && p.b.step == HS_CONTINUE; i++) {
        p.b.deliver(p.a.take_output());
        if (p.b.step != HS_CONTINUE)
            break;
        p.a.deliver(p.b.take_output());
    }
    ASSERT_EQ(p.b.step, HS_DONE);
    Bytes ack = p.b.take_output();
    ASSERT_EQ(ack.size(), 19u);
    Bytes wire = ack;
    const Bytes tick = {0, 0, 0, 0, 0, 0, 0, 5, 131};
    wire.insert(wire.end(), tick.begin(), tick.end());
    EXPECT_EQ(p.a.deliver(wire), HS_DONE);
    EXPECT_EQ(p.a.last_consumed, 19u);
    EXPECT_EQ(p.a.rx, tick);
    // Once done, nothing more is consumed.
    size_t consumed = 99;
    EXPECT_EQ(hs_feed(&p.a.hs, p.a.rx.data(), p.a.rx.size(), &consumed), HS_DONE);
    EXPECT_EQ(consumed, 0u);
}

TEST(Handshake, AcceptorLeavesBytesAfterReply)
{
    Pair p;
    p.start();
    p.b.deliver(p.a.take_output());
    p.a.deliver(p.b.take_output());
    Bytes reply = p.a.take_output();
    ASSERT_EQ(reply.size(), 23u);
    reply.push_back(0);
    reply.push_back(0);
    EXPECT_EQ(p.b.deliver(reply), HS_DONE);
    EXPECT_EQ(p.b.last_consumed, 23u);
    EXPECT_EQ(p.b.rx.size(), 2u);
}

// --- golden bytes --------------------------------------------------------------------

TEST(Handshake, GoldenInitiatorNameMessage)
{
    Endpoint a(HS_INITIATOR, "a@host", "b@host");
    a.cfg.my_creation = 0x11223344;
    const uint8_t trailer[] = {'X', 'Y'};
    a.cfg.trailer = trailer;
    a.cfg.trailer_len = 2;
    ASSERT_EQ(a.start(), HS_OK);
    // DISTFLAGS_ADVERTISED | PUBLISHED, spelled out bit by bit in distflags.h.
    const Bytes expected = {0x00, 0x17, 'N',  0x00, 0x00, 0x00, 0x0D, 0x07, 0xDF,
                            0x5F, 0xBD, 0x11, 0x22, 0x33, 0x44, 0x00, 0x06, 'a',
                            '@',  'h',  'o',  's',  't',  'X',  'Y'};
    EXPECT_EQ(a.take_output(), expected);
}

TEST(Handshake, GoldenAcceptorChallengeAndDigest)
{
    Endpoint b(HS_ACCEPTOR, "b@host", "", 1234567890);
    b.cookie = "abc";
    b.cfg.my_creation = 7;
    ASSERT_EQ(b.start(), HS_OK);
    b.deliver(Msg().u8('N').u64(kFlags).u32(5).u16(6).str("a@host").frame());
    const Bytes expected_status = {0, 3, 's', 'o', 'k'};
    Bytes out = b.take_output();
    ASSERT_EQ(out.size(), 5u + 2 + 19 + 6);
    EXPECT_EQ(Bytes(out.begin(), out.begin() + 5), expected_status);
    const Bytes expected_challenge = {0x00, 0x19, 'N',  0x00, 0x00, 0x00, 0x0D, 0x07, 0xDF,
                                      0x5F, 0xBD, 0x49, 0x96, 0x02, 0xD2, 0x00, 0x00, 0x00,
                                      0x07, 0x00, 0x06, 'b',  '@',  'h',  'o',  's',  't'};
    EXPECT_EQ(Bytes(out.begin() + 5, out.end()), expected_challenge);
    // md5("abc1234567890") is what the initiator must prove; answer with it.
    const Bytes digest = {0x57, 0x04, 0x1f, 0x8f, 0x7d, 0xff, 0x9b, 0x67,
                          0xe3, 0xf9, 0x7d, 0x7f, 0xac, 0xba, 0xf8, 0xd3};
    EXPECT_EQ(b.deliver(Msg().u8('r').u32(42).raw(digest).frame()), HS_DONE);
    uint8_t ack42[16];
    ASSERT_EQ(cookie_digest("abc", 42, ack42), COOKIE_OK);
    Bytes ack = b.take_output();
    ASSERT_EQ(ack.size(), 19u);
    EXPECT_EQ(ack[2], 'a');
    EXPECT_EQ(0, memcmp(ack.data() + 3, ack42, 16));
}

// --- acceptor against hand-built messages ---------------------------------------------

struct AcceptorCase {
    Endpoint b{HS_ACCEPTOR, "bob@host", "", 77};
    AcceptorCase()
    {
        EXPECT_EQ(b.start(), HS_OK);
    }
    static Bytes name_msg(uint64_t flags, const std::string &name, const Bytes &trailer = {})
    {
        return Msg().u8('N').u64(flags).u32(9).u16(name.size()).str(name).raw(trailer).frame();
    }
    std::string status_sent()
    {
        Bytes out = b.take_output();
        if (out.size() < 3 || out[2] != 's')
            return "";
        size_t len = (out[0] << 8) | out[1];
        return std::string(out.begin() + 3, out.begin() + 2 + len);
    }
};

TEST(HandshakeAcceptor, MissingHandshake23)
{
    AcceptorCase c;
    EXPECT_EQ(c.b.deliver(c.name_msg(kNo23, "a@host")), HS_FAILED);
    EXPECT_EQ(c.b.err(), HS_E_NO_HANDSHAKE_23);
    EXPECT_EQ(c.status_sent(), "not_allowed");
}

TEST(HandshakeAcceptor, MissingMandatoryFlag)
{
    for (uint64_t drop : {DFLAG_UNLINK_ID, DFLAG_V4_NC, DFLAG_BIG_CREATION}) {
        AcceptorCase c;
        uint64_t flags = (kFlags & ~drop & ~DFLAG_MANDATORY_25_DIGEST);
        EXPECT_EQ(c.b.deliver(c.name_msg(flags, "a@host")), HS_FAILED);
        EXPECT_EQ(c.b.err(), HS_E_FLAGS_MISSING);
        EXPECT_EQ(c.status_sent(), "not_allowed");
    }
}

TEST(HandshakeAcceptor, Mandatory25DigestStandsForTheOtp25Set)
{
    // dist_util expand_mandatory_25_flag: the digest flag implies OTP 25's whole mandatory set,
    // HANDSHAKE_23 included.
    AcceptorCase c;
    uint64_t flags = DFLAG_MANDATORY_25_DIGEST | DFLAG_DIST_MANDATORY_26;
    EXPECT_EQ(c.b.deliver(c.name_msg(flags, "a@host")), HS_CONTINUE);
    EXPECT_EQ(c.b.res().peer_flags & DFLAG_DIST_MANDATORY, DFLAG_DIST_MANDATORY);
}

TEST(HandshakeAcceptor, RequiredFlagsFromConfig)
{
    Endpoint b(HS_ACCEPTOR, "bob@host");
    b.cfg.required_flags = DFLAG_ALIAS;
    ASSERT_EQ(b.start(), HS_OK);
    EXPECT_EQ(b.deliver(AcceptorCase::name_msg(kFlags & ~DFLAG_ALIAS, "a@host")), HS_FAILED);
    EXPECT_EQ(b.err(), HS_E_FLAGS_MISSING);
}

TEST(HandshakeAcceptor, NameMeRefused)
{
    AcceptorCase c;
    EXPECT_EQ(c.b.deliver(c.name_msg(kFlags | DFLAG_NAME_ME, "host")), HS_FAILED);
    EXPECT_EQ(c.b.err(), HS_E_NAME_ME);
    EXPECT_EQ(c.status_sent(), "not_allowed");
}

TEST(HandshakeAcceptor, ShortLongMixRefused)
{
    AcceptorCase c;
    EXPECT_EQ(c.b.deliver(c.name_msg(kFlags, "a@host.example.com")), HS_FAILED);
    EXPECT_EQ(c.b.err(), HS_E_NAME_KIND);
    EXPECT_EQ(c.status_sent(), "not_allowed");
    Endpoint lb(HS_ACCEPTOR, "bob@10.0.0.1");
    ASSERT_EQ(lb.start(), HS_OK);
    EXPECT_EQ(lb.deliver(AcceptorCase::name_msg(kFlags, "a@host")), HS_FAILED);
    EXPECT_EQ(lb.err(), HS_E_NAME_KIND);
}

TEST(HandshakeAcceptor, BadPeerNames)
{
    for (std::string bad :
         std::vector<std::string>{"nohost", "a@", "@host", "a@b@c", std::string("a\0b@host", 8)}) {
        AcceptorCase c;
        EXPECT_EQ(c.b.deliver(c.name_msg(kFlags, bad)), HS_FAILED) << bad;
        EXPECT_EQ(c.b.err(), HS_E_PEER_NAME);
        EXPECT_EQ(c.status_sent(), "");
    }
}

TEST(HandshakeAcceptor, NameLengthLimit)
{
    std::string at_limit = std::string(250, 'x') + "@host"; // 255 characters
    AcceptorCase ok;
    EXPECT_EQ(ok.b.deliver(ok.name_msg(kFlags, at_limit)), HS_CONTINUE);
    EXPECT_STREQ(ok.b.res().peer_name, at_limit.c_str());
    AcceptorCase bad;
    EXPECT_EQ(bad.b.deliver(bad.name_msg(kFlags, "y" + at_limit)), HS_FAILED);
    EXPECT_EQ(bad.b.err(), HS_E_PEER_NAME);
}

TEST(HandshakeAcceptor, TruncatedName)
{
    AcceptorCase c1; // shorter than the fixed part
    EXPECT_EQ(c1.b.deliver(Msg().u8('N').u64(kFlags).u32(1).u8(0).frame()), HS_FAILED);
    EXPECT_EQ(c1.b.err(), HS_E_TRUNCATED);
    AcceptorCase c2; // Nlen beyond the message
    EXPECT_EQ(c2.b.deliver(Msg().u8('N').u64(kFlags).u32(1).u16(20).str("a@host").frame()),
              HS_FAILED);
    EXPECT_EQ(c2.b.err(), HS_E_TRUNCATED);
    AcceptorCase c3; // empty message
    EXPECT_EQ(c3.b.deliver(Bytes{0, 0}), HS_FAILED);
    EXPECT_EQ(c3.b.err(), HS_E_TRUNCATED);
    AcceptorCase c4; // old form shorter than its fixed part
    EXPECT_EQ(c4.b.deliver(Msg().u8('n').u16(5).u16(0).frame()), HS_FAILED);
    EXPECT_EQ(c4.b.err(), HS_E_TRUNCATED);
}

TEST(HandshakeAcceptor, WrongTag)
{
    AcceptorCase c;
    EXPECT_EQ(c.b.deliver(Msg().u8('r').u32(1).raw(Bytes(16)).frame()), HS_FAILED);
    EXPECT_EQ(c.b.err(), HS_E_TAG);
}

TEST(HandshakeAcceptor, OversizedMessageRefusedFromItsLength)
{
    AcceptorCase c;
    uint16_t too_big = HS_MSG_MAX + 1;
    // Only the two length bytes are needed to refuse it.
    EXPECT_EQ(c.b.deliver(Bytes{uint8_t(too_big >> 8), uint8_t(too_big & 0xff)}), HS_FAILED);
    EXPECT_EQ(c.b.err(), HS_E_TOO_LARGE);
    EXPECT_EQ(c.b.last_consumed, 0u);
}

TEST(HandshakeAcceptor, MessageAtSizeLimitAccepted)
{
    AcceptorCase c;
    std::string name = "a@host";
    Bytes trailer(HS_MSG_MAX - 15 - name.size(), 0xee);
    Bytes m = c.name_msg(kFlags, name, trailer);
    ASSERT_EQ(m.size(), 2u + HS_MSG_MAX);
    // Not complete until the last byte.
    Bytes head(m.begin(), m.end() - 1);
    EXPECT_EQ(c.b.deliver(head), HS_CONTINUE);
    EXPECT_EQ(c.b.last_consumed, 0u);
    EXPECT_EQ(c.b.deliver(Bytes{m.back()}), HS_CONTINUE);
    EXPECT_EQ(c.b.last_consumed, m.size());
    EXPECT_EQ(c.b.res().peer_trailer_len, trailer.size());
}

TEST(HandshakeAcceptor, ReplyWrongSizes)
{
    for (int extra : {-1, 1}) {
        AcceptorCase c;
        ASSERT_EQ(c.b.deliver(c.name_msg(kFlags, "a@host")), HS_CONTINUE);
        EXPECT_EQ(c.b.deliver(Msg().u8('r').u32(1).raw(Bytes(16 + extra)).frame()), HS_FAILED);
        EXPECT_EQ(c.b.err(), extra < 0 ? HS_E_TRUNCATED : HS_E_LENGTH);
    }
}

TEST(HandshakeAcceptor, FeedAfterFailureConsumesNothing)
{
    AcceptorCase c;
    EXPECT_EQ(c.b.deliver(Bytes{0, 0}), HS_FAILED);
    Bytes more = c.name_msg(kFlags, "a@host");
    size_t consumed = 5;
    EXPECT_EQ(hs_feed(&c.b.hs, more.data(), more.size(), &consumed), HS_FAILED);
    EXPECT_EQ(consumed, 0u);
    EXPECT_EQ(c.b.err(), HS_E_TRUNCATED);
}

// The old 'n' send_name and 'c' complement of OTP 23/24 nodes not using epmd.
TEST(HandshakeAcceptor, OldNameAndComplement)
{
    AcceptorCase c;
    c.b.cookie = "abc";
    uint64_t flags = kFlags;
    EXPECT_EQ(c.b.deliver(Msg().u8('n').u16(5).u32(flags & 0xffffffff).str("a@host").frame()),
              HS_CONTINUE);
    EXPECT_EQ(c.status_sent(), "ok");
    EXPECT_TRUE(c.b.res().peer_used_old_name);
    // 'c' carries the high flag bits and the creation.
    EXPECT_EQ(c.b.deliver(Msg().u8('c').u32(flags >> 32).u32(0xC0FFEE).frame()), HS_CONTINUE);
    uint8_t digest[16];
    ASSERT_EQ(cookie_digest("abc", 77, digest), COOKIE_OK);
    EXPECT_EQ(c.b.deliver(Msg().u8('r').u32(5).raw(Bytes(digest, digest + 16)).frame()), HS_DONE);
    EXPECT_EQ(c.b.res().peer_creation, 0xC0FFEEu);
    EXPECT_EQ(c.b.res().peer_flags, kFlags);
    EXPECT_EQ(c.b.res().flags, kFlags);
}

TEST(HandshakeAcceptor, OldNameChecks)
{
    AcceptorCase v; // version must be 5
    EXPECT_EQ(v.b.deliver(Msg().u8('n').u16(6).u32(kFlags & 0xffffffff).str("a@host").frame()),
              HS_FAILED);
    EXPECT_EQ(v.b.err(), HS_E_OLD_VERSION);
    AcceptorCase h; // must include HANDSHAKE_23
    EXPECT_EQ(h.b.deliver(Msg().u8('n').u16(5).u32(kNo23 & 0xffffffff).str("a@host").frame()),
              HS_FAILED);
    EXPECT_EQ(h.b.err(), HS_E_NO_HANDSHAKE_23);
    AcceptorCase m; // high mandatory bits missing from 'c'
    ASSERT_EQ(m.b.deliver(Msg().u8('n').u16(5).u32(kFlags & 0xffffffff).str("a@host").frame()),
              HS_CONTINUE);
    EXPECT_EQ(m.b.deliver(Msg().u8('c').u32(0).u32(1).frame()), HS_FAILED);
    EXPECT_EQ(m.b.err(), HS_E_FLAGS_MISSING);
    AcceptorCase t; // 'c' expected, 'r' given
    ASSERT_EQ(t.b.deliver(Msg().u8('n').u16(5).u32(kFlags & 0xffffffff).str("a@host").frame()),
              HS_CONTINUE);
    EXPECT_EQ(t.b.deliver(Msg().u8('r').u32(1).raw(Bytes(16)).frame()), HS_FAILED);
    EXPECT_EQ(t.b.err(), HS_E_TAG);
    AcceptorCase s; // 'c' of the wrong size
    ASSERT_EQ(s.b.deliver(Msg().u8('n').u16(5).u32(kFlags & 0xffffffff).str("a@host").frame()),
              HS_CONTINUE);
    EXPECT_EQ(s.b.deliver(Msg().u8('c').u32(0).u32(1).u8(0).frame()), HS_FAILED);
    EXPECT_EQ(s.b.err(), HS_E_LENGTH);
}

// --- initiator against hand-built messages --------------------------------------------

struct InitiatorCase {
    Endpoint a{HS_INITIATOR, "alice@host", "bob@host", 55};
    InitiatorCase()
    {
        EXPECT_EQ(a.start(), HS_OK);
        a.take_output();
    }
    static Bytes status(const std::string &s)
    {
        return Msg().u8('s').str(s).frame();
    }
    static Bytes challenge(uint64_t flags, const std::string &name, uint32_t ch = 9)
    {
        return Msg().u8('N').u64(flags).u32(ch).u32(3).u16(name.size()).str(name).frame();
    }
};

TEST(HandshakeInitiator, UnknownStatus)
{
    for (std::string s : {"", "okay", "named:", "true"}) {
        InitiatorCase c;
        EXPECT_EQ(c.a.deliver(c.status(s)), HS_FAILED) << s;
        EXPECT_EQ(c.a.err(), HS_E_STATUS_UNKNOWN);
    }
}

TEST(HandshakeInitiator, ChallengeBeforeStatusIsWrongTag)
{
    InitiatorCase c;
    EXPECT_EQ(c.a.deliver(c.challenge(kFlags, "bob@host")), HS_FAILED);
    EXPECT_EQ(c.a.err(), HS_E_TAG);
}

TEST(HandshakeInitiator, NameMismatch)
{
    InitiatorCase c;
    ASSERT_EQ(c.a.deliver(c.status("ok")), HS_CONTINUE);
    EXPECT_EQ(c.a.deliver(c.challenge(kFlags, "carol@host")), HS_FAILED);
    EXPECT_EQ(c.a.err(), HS_E_NAME_MISMATCH);
}

TEST(HandshakeInitiator, PeerLacksMandatoryFlags)
{
    InitiatorCase c;
    ASSERT_EQ(c.a.deliver(c.status("ok")), HS_CONTINUE);
    EXPECT_EQ(c.a.deliver(c.challenge(kFlags & ~DFLAG_V4_NC, "bob@host")), HS_FAILED);
    EXPECT_EQ(c.a.err(), HS_E_FLAGS_MISSING);
    InitiatorCase d;
    ASSERT_EQ(d.a.deliver(d.status("ok")), HS_CONTINUE);
    EXPECT_EQ(d.a.deliver(d.challenge(kNo23, "bob@host")), HS_FAILED);
    EXPECT_EQ(d.a.err(), HS_E_NO_HANDSHAKE_23);
}

TEST(HandshakeInitiator, TruncatedChallengeAndAck)
{
    InitiatorCase c;
    ASSERT_EQ(c.a.deliver(c.status("ok")), HS_CONTINUE);
    EXPECT_EQ(c.a.deliver(Msg().u8('N').u64(kFlags).u32(1).u32(1).u8(0).frame()), HS_FAILED);
    EXPECT_EQ(c.a.err(), HS_E_TRUNCATED);
    for (int extra : {-1, 1}) {
        InitiatorCase d;
        ASSERT_EQ(d.a.deliver(d.status("ok")), HS_CONTINUE);
        ASSERT_EQ(d.a.deliver(d.challenge(kFlags, "bob@host")), HS_CONTINUE);
        EXPECT_EQ(d.a.deliver(Msg().u8('a').raw(Bytes(16 + extra)).frame()), HS_FAILED);
        EXPECT_EQ(d.a.err(), extra < 0 ? HS_E_TRUNCATED : HS_E_LENGTH);
    }
}

TEST(HandshakeInitiator, ShortLongMixRefusedAtInit)
{
    Endpoint a(HS_INITIATOR, "alice@host", "bob@host.example.com");
    EXPECT_EQ(a.start(), HS_E_NAME_KIND);
    Bytes in = {0, 3, 's', 'o', 'k'};
    size_t consumed = 1;
    EXPECT_EQ(hs_feed(&a.hs, in.data(), in.size(), &consumed), HS_FAILED);
    EXPECT_EQ(consumed, 0u);
    const uint8_t *p;
    EXPECT_EQ(hs_output(&a.hs, &p), 0u);
}

TEST(HandshakeInitiator, ReplyCarriesDigestOfAcceptorChallenge)
{
    InitiatorCase c;
    c.a.cookie = "abc";
    ASSERT_EQ(c.a.deliver(c.status("ok")), HS_CONTINUE);
    ASSERT_EQ(c.a.deliver(c.challenge(kFlags, "bob@host", 1234567890)), HS_CONTINUE);
    const Bytes expected = {0,    21,   'r',  0,    0,    0,    55,   0x57, 0x04, 0x1f, 0x8f, 0x7d,
                            0xff, 0x9b, 0x67, 0xe3, 0xf9, 0x7d, 0x7f, 0xac, 0xba, 0xf8, 0xd3};
    EXPECT_EQ(c.a.take_output(), expected);
}

// --- configuration ---------------------------------------------------------------------

TEST(HandshakeConfig, Refusals)
{
    {
        Endpoint a(HS_INITIATOR, "alice@host", "bob@host");
        Bytes t(HS_TRAILER_MAX + 1);
        a.cfg.trailer = t.data();
        a.cfg.trailer_len = t.size();
        EXPECT_EQ(a.start(), HS_E_CONFIG);
    }
    {
        Endpoint a(HS_INITIATOR, "alice@host"); // no expected peer
        EXPECT_EQ(a.start(), HS_E_CONFIG);
    }
    {
        Endpoint a(HS_INITIATOR, "alice", "bob@host"); // bad own name
        EXPECT_EQ(a.start(), HS_E_CONFIG);
    }
    {
        Endpoint b(HS_ACCEPTOR, "bob@host");
        b.cfg.my_flags &= ~DFLAG_HANDSHAKE_23;
        EXPECT_EQ(b.start(), HS_E_CONFIG);
    }
    {
        Endpoint b(HS_ACCEPTOR, "bob@host");
        b.cb.admit = nullptr;
        EXPECT_EQ(b.start(), HS_E_CONFIG);
    }
    {
        Endpoint b(HS_ACCEPTOR, "bob@host");
        b.cfg.my_flags |= DFLAG_NAME_ME;
        EXPECT_EQ(b.start(), HS_E_CONFIG);
    }
    static struct hs h;
    EXPECT_EQ(hs_init(&h, nullptr), HS_E_CONFIG);
}

TEST(HandshakeConfig, StringsAndNames)
{
    for (int e = 0; e < HS_E__COUNT; e++)
        EXPECT_STRNE(hs_strerror((enum hs_error)e), "");
    EXPECT_STREQ(hs_strerror((enum hs_error)999), "unknown error");
    EXPECT_STREQ(hs_status_name(HS_STATUS_OK_SIMULTANEOUS), "ok_simultaneous");
    EXPECT_STREQ(hs_status_name(HS_STATUS_NOT_ALLOWED), "not_allowed");
}

TEST(HandshakeOutput, PartialConsumption)
{
    Endpoint a(HS_INITIATOR, "alice@host", "bob@host");
    ASSERT_EQ(a.start(), HS_OK);
    const uint8_t *p;
    size_t n = hs_output(&a.hs, &p);
    ASSERT_GT(n, 3u);
    Bytes all(p, p + n);
    hs_output_consumed(&a.hs, 3);
    size_t m = hs_output(&a.hs, &p);
    EXPECT_EQ(m, n - 3);
    EXPECT_EQ(Bytes(p, p + m), Bytes(all.begin() + 3, all.end()));
    hs_output_consumed(&a.hs, 1000); // clamps
    EXPECT_EQ(hs_output(&a.hs, &p), 0u);
}

// --- the transcript (hs_transcript) -------------------------------------------------------

Bytes transcript(const Endpoint &e)
{
    const uint8_t *p = nullptr;
    size_t n = hs_transcript(&e.hs, &p);
    return n ? Bytes(p, p + n) : Bytes();
}

// The message tags of a transcript, in order ("Ns" + "Nra" ...), checking its framing.
std::string tags_of(const Bytes &t)
{
    std::string tags;
    size_t off = 0;
    while (off < t.size()) {
        EXPECT_GE(t.size() - off, 3u);
        size_t len = (size_t)t[off] << 8 | t[off + 1];
        EXPECT_LE(off + 2 + len, t.size());
        tags += (char)t[off + 2];
        off += 2 + len;
    }
    return tags;
}

// Both ends of a real pair hold the same transcript, and it is exactly the bytes that crossed
// the wire: for every status path that completes, with trailers on both sides, whole and byte
// by byte.
TEST(HandshakeTranscript, BothEndsEqualTheWire)
{
    struct Case {
        const char *name;
        enum hs_status admit;
        bool trailers, bytewise;
        const char *tags;
    } cases[] = {
        {"ok", HS_STATUS_OK, false, false, "NsNra"},
        {"ok_simultaneous", HS_STATUS_OK_SIMULTANEOUS, false, false, "NsNra"},
        {"alive/true", HS_STATUS_ALIVE, false, false, "NssNra"},
        {"trailers", HS_STATUS_OK, true, false, "NsNra"},
        {"alive/true, trailers, byte at a time", HS_STATUS_ALIVE, true, true, "NssNra"},
    };
    const uint8_t ta[] = {'D', 'P', 'D', 'I', 'S', 'T', 2, 1, 0, 3, 0xa, 0xb, 0xc};
    Bytes tb(HS_TRAILER_MAX, 0x5b);
    for (const Case &c : cases) {
        SCOPED_TRACE(c.name);
        Pair p;
        p.b.admit_status = c.admit;
        p.a.alive_answer = true;
        if (c.trailers) {
            p.a.cfg.trailer = ta;
            p.a.cfg.trailer_len = sizeof(ta);
            p.b.cfg.trailer = tb.data();
            p.b.cfg.trailer_len = tb.size();
        }
        p.start();
        Bytes wire;
        run(p.a, p.b, c.bytewise, nullptr, &wire);
        expect_done(p);
        Bytes t = transcript(p.a);
        EXPECT_EQ(t, transcript(p.b));
        EXPECT_EQ(t, wire);
        EXPECT_EQ(tags_of(t), c.tags);
        if (c.trailers) {
            EXPECT_NE(std::search(t.begin(), t.end(), ta, ta + sizeof(ta)), t.end());
            EXPECT_NE(std::search(t.begin(), t.end(), tb.begin(), tb.end()), t.end());
        }
    }
}

// Transcripts differ when anything differs: another challenge, another trailer byte.
TEST(HandshakeTranscript, DependsOnEveryMessage)
{
    Pair p1, p2, p3;
    p2.b.challenge ^= 1;
    const uint8_t t1[] = {1, 2, 3}, t3[] = {1, 2, 4};
    p1.a.cfg.trailer = p2.a.cfg.trailer = t1;
    p3.a.cfg.trailer = t3;
    p1.a.cfg.trailer_len = p2.a.cfg.trailer_len = p3.a.cfg.trailer_len = 3;
    for (Pair *p : {&p1, &p2, &p3}) {
        p->start();
        run(p->a, p->b);
        expect_done(*p);
    }
    EXPECT_NE(transcript(p1.a), transcript(p2.a));
    EXPECT_NE(transcript(p1.a), transcript(p3.a));
}

// An OTP 23/24 initiator without epmd: 'n', then 'c' before 'r'. The acceptor's transcript
// is the exchange as it crossed the wire.
TEST(HandshakeTranscript, OldNameAndComplement)
{
    AcceptorCase c;
    c.b.cookie = "abc";
    Bytes wire, m;
    m = Msg().u8('n').u16(5).u32(kFlags & 0xffffffff).str("a@host").frame();
    wire.insert(wire.end(), m.begin(), m.end());
    ASSERT_EQ(c.b.deliver(m), HS_CONTINUE);
    m = c.b.take_output(); // status "ok" and the challenge
    wire.insert(wire.end(), m.begin(), m.end());
    m = Msg().u8('c').u32(kFlags >> 32).u32(0xC0FFEE).frame();
    wire.insert(wire.end(), m.begin(), m.end());
    ASSERT_EQ(c.b.deliver(m), HS_CONTINUE);
    uint8_t digest[16];
    ASSERT_EQ(cookie_digest("abc", 77, digest), COOKIE_OK);
    m = Msg().u8('r').u32(5).raw(Bytes(digest, digest + 16)).frame();
    wire.insert(wire.end(), m.begin(), m.end());
    // Connected-phase bytes after the last message are not part of the transcript.
    Bytes with_tick = m;
    with_tick.insert(with_tick.end(), {0, 0, 0, 0});
    ASSERT_EQ(c.b.deliver(with_tick), HS_DONE);
    m = c.b.take_output(); // the ack
    wire.insert(wire.end(), m.begin(), m.end());
    EXPECT_EQ(transcript(c.b), wire);
    EXPECT_EQ(tags_of(transcript(c.b)), "nsNcra");
}

// A long handshake with a message at the size limit is recorded whole: an 'N' of HS_MSG_MAX
// bytes, the alive/"true" exchange, the challenge, the reply and the ack.
TEST(HandshakeTranscript, MessageAtTheSizeLimitRecorded)
{
    AcceptorCase c;
    c.b.cookie = "abc";
    c.b.admit_status = HS_STATUS_ALIVE;
    Bytes big = c.name_msg(kFlags, "a@host", Bytes(HS_MSG_MAX - 15 - 6, 0x77));
    ASSERT_EQ(big.size(), (size_t)HS_RX_MAX);
    size_t total = big.size();
    ASSERT_EQ(c.b.deliver(big), HS_CONTINUE);
    total += c.b.take_output().size();
    Bytes yes = Msg().str("strue").frame();
    ASSERT_EQ(c.b.deliver(yes), HS_CONTINUE);
    total += yes.size() + c.b.take_output().size();
    uint8_t digest[16];
    ASSERT_EQ(cookie_digest("abc", 77, digest), COOKIE_OK);
    Bytes r = Msg().u8('r').u32(5).raw(Bytes(digest, digest + 16)).frame();
    ASSERT_EQ(c.b.deliver(r), HS_DONE);
    total += r.size() + c.b.take_output().size();
    EXPECT_EQ(transcript(c.b).size(), total);
    EXPECT_EQ(tags_of(transcript(c.b)), "NssNra");
    EXPECT_LE(total, (size_t)HS_TRANSCRIPT_MAX);
}

} // namespace
