// Bad input to a node (runtime/carrier_tcp/hsio.c, runtime/carrier_tcp/tcpc.c, runtime/core/dispatch.c): a raw TCP client
// sends garbage before the handshake, stalls in it, or sends a long name to a short-name
// node; after a real handshake (control/handshake.h as the client) it sends garbage packets,
// truncated frames, an oversized length, unknown control messages, terms that do not
// decode, messages to missing pids, and floods requests without reading the answers. Each
// case ends as it must (the connection closed with a log line, or the message dropped with
// one, or answered) while the node keeps serving another peer, and never crashes.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "control/distmsg.h"
#include "rt_test_util.h"

using namespace rt_test;
using Clock = std::chrono::steady_clock;

namespace
{

// The node under test with an echo service ({From, Term} -> Term back to From) run by a
// thread, and a well-behaved peer node whose round trips must keep working throughout.
class BadInput : public ::testing::Test
{
  protected:
    void SetUp() override
    {
        NodeOpts o;
        o.setuptime_ms = 500;
        o.max_message_bytes = 1 << 20;
        alive_ = fresh_name("victim");
        node_ = start_node(alive_, o);
        ASSERT_TRUE(node_);
        ASSERT_EQ(dd_mbox_open(node_, "echo", 0, &echo_), DD_OK);
        echo_thread_ = std::thread([this] { serve_echo(); });
        good_ = start_node(fresh_name("good"));
        ASSERT_TRUE(good_);
        ASSERT_EQ(dd_mbox_open(good_, nullptr, 0, &probe_), DD_OK);
        ASSERT_TRUE(round_trip());
    }

    void TearDown() override
    {
        stop_ = true;
        if (echo_thread_.joinable())
            echo_thread_.join();
        if (good_)
            dd_node_stop(good_);
        if (node_)
            dd_node_stop(node_);
    }

    void serve_echo()
    {
        while (!stop_) {
            dd_msg *m = recv_one(echo_, 50);
            if (!m)
                continue;
            int idx = 0, ver, arity;
            dd_pid from;
            if (m->kind == DD_MSG_MESSAGE && ei_decode_version(m->term, &idx, &ver) == 0 &&
                ei_decode_tuple_header(m->term, &idx, &arity) == 0 && arity == 2 &&
                ei_decode_pid(m->term, &idx, &from) == 0) {
                Bytes t{131};
                t.insert(t.end(), m->term + idx, m->term + m->len);
                dd_send(echo_, &from, t.data(), t.size());
            }
            dd_msg_free(m);
        }
    }

    // The good peer's round trip through the echo service.
    bool round_trip()
    {
        long n = ++rt_count_;
        Bytes t = term([&](ei_x_buff *x) {
            ei_x_encode_tuple_header(x, 2);
            ei_x_encode_pid(x, dd_mbox_pid(probe_));
            ei_x_encode_long(x, n);
        });
        if (dd_send_reg(probe_, "echo", dd_node_name(node_), t.data(), t.size()) != DD_OK)
            return false;
        dd_msg *m = recv_one(probe_, 3000);
        bool ok = m && show(m) == std::to_string(n);
        if (m)
            dd_msg_free(m);
        return ok;
    }

    // A raw peer with a completed handshake as `name`.
    void handshaken(RawPeer &p, const std::string &name)
    {
        ASSERT_TRUE(p.connect_to(alive_));
        ASSERT_TRUE(p.handshake(name + "@" + short_host(), dd_node_name(node_)));
    }

    // {Self, Term} to echo from a raw peer; true if Term comes back on that connection.
    bool raw_echo(RawPeer &p, long n)
    {
        erlang_pid me = p.pid(1);
        Bytes t = term([&](ei_x_buff *x) {
            ei_x_encode_tuple_header(x, 2);
            ei_x_encode_pid(x, &me);
            ei_x_encode_long(x, n);
        });
        if (!p.send_packet(reg_send_body(me, "echo", t)))
            return false;
        auto deadline = Clock::now() + std::chrono::seconds(3);
        while (Clock::now() < deadline) {
            Bytes body;
            if (p.read_packet(&body, 500) < 0)
                return false;
            struct distmsg_body b = {body.data(), body.size(), false};
            struct distmsg_ctl ctl;
            struct distmsg_hdr h;
            if (body.empty() || distmsg_header_decode(body.data(), body.size(), &h) != DISTMSG_OK)
                continue;
            b.data = body.data() + h.len;
            b.len = body.size() - h.len;
            if (distmsg_decode(&b, &ctl) != DISTMSG_OK || !ctl.has_payload)
                continue;
            Bytes t{131};
            t.insert(t.end(), b.data + ctl.payload.off, b.data + ctl.payload.off + ctl.payload.len);
            std::string got = show(reinterpret_cast<const char *>(t.data()), t.size());
            if (got == std::to_string(n))
                return true;
        }
        return false;
    }

    static Bytes header_d()
    {
        return Bytes{131, 'D', 0};
    }

    std::string alive_;
    dd_node *node_ = nullptr, *good_ = nullptr;
    dd_mbox *echo_ = nullptr, *probe_ = nullptr;
    std::thread echo_thread_;
    std::atomic<bool> stop_{false};
    long rt_count_ = 0;
    LogCapture logs_;
};

// ---- before the handshake -----------------------------------------------------------------

TEST_F(BadInput, GarbageBeforeHandshakeIsClosedWithLogLine)
{
    RawPeer http;
    ASSERT_TRUE(http.connect_to(alive_));
    ASSERT_TRUE(http.send_bytes(Bytes{'G', 'E', 'T', ' ', '/', ' ', 'H', 'T', 'T', 'P', '/', '1',
                                      '.', '0', '\r', '\n', '\r', '\n'}));
    EXPECT_TRUE(http.wait_closed(2000));
    EXPECT_TRUE(logs_.wait_for("handshake from * failed: handshake message longer", 1000));

    RawPeer tag; // a well-framed message with a tag that is no handshake message
    ASSERT_TRUE(tag.connect_to(alive_));
    ASSERT_TRUE(tag.send_bytes(Bytes{0, 3, 'x', 'y', 'z'}));
    EXPECT_TRUE(tag.wait_closed(2000));
    EXPECT_TRUE(logs_.wait_for("handshake from * failed: unexpected handshake message tag", 1000));
    EXPECT_TRUE(round_trip());
}

TEST_F(BadInput, StalledHandshakeIsDroppedAfterSetupTime)
{
    RawPeer silent, trickle;
    ASSERT_TRUE(silent.connect_to(alive_));
    ASSERT_TRUE(trickle.connect_to(alive_));
    auto t0 = Clock::now();
    // The trickler sends a byte of a send_name every 200 ms: progress in bytes, never a
    // message. net_setuptime bounds each handshake step, not each byte.
    std::atomic<bool> closed{false};
    std::thread drip([&] {
        const Bytes part{0, 40, 'N', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
        for (size_t i = 0; i < part.size() && !closed; i++) {
            if (!trickle.send_bytes(Bytes{part[i]}))
                break;
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
    });
    EXPECT_TRUE(silent.wait_closed(3000));
    auto silent_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
    EXPECT_TRUE(trickle.wait_closed(3000)) << "a byte now and then keeps a handshake open";
    auto trickle_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
    closed = true;
    drip.join();
    EXPECT_GE(silent_ms.count(), 450);
    EXPECT_LT(silent_ms.count(), 2000);
    EXPECT_LT(trickle_ms.count(), 2000);
    EXPECT_TRUE(logs_.wait_for("handshake from * timed out", 1000));
    // One line per dropped handshake, and it does not claim a malformed message.
    EXPECT_EQ(logs_.count("handshake from * timed out"), 2u);
    EXPECT_EQ(logs_.count("too short"), 0u);
    EXPECT_TRUE(round_trip());
}

TEST_F(BadInput, LongNameToShortNameNodeIsRefused)
{
    // Our handshake machine refuses to send this, so the send_name is made by hand:
    // 'N' Flags:64 Creation:32 Nlen:16 Name.
    const std::string name = "evil@host.example.com";
    const uint64_t flags = DISTFLAGS_ADVERTISED | DFLAG_PUBLISHED;
    Bytes msg{'N'};
    for (int sh = 56; sh >= 0; sh -= 8)
        msg.push_back(uint8_t(flags >> sh));
    msg.insert(msg.end(), {0, 0, 0x12, 0x34, 0, uint8_t(name.size())});
    msg.insert(msg.end(), name.begin(), name.end());
    Bytes framed{uint8_t(msg.size() >> 8), uint8_t(msg.size())};
    framed.insert(framed.end(), msg.begin(), msg.end());
    RawPeer p;
    ASSERT_TRUE(p.connect_to(alive_));
    ASSERT_TRUE(p.send_bytes(framed));
    EXPECT_TRUE(p.wait_closed(2000));
    EXPECT_TRUE(logs_.wait_for("Connection attempt from node evil@host.example.com refused*"
                               "short and long",
                               1000));
    EXPECT_TRUE(round_trip());
}

TEST_F(BadInput, WrongCookieIsRefused)
{
    RawPeer p;
    ASSERT_TRUE(p.connect_to(alive_));
    EXPECT_FALSE(p.handshake("cookieless@" + short_host(), dd_node_name(node_), "wrong"));
    EXPECT_TRUE(p.wait_closed(2000));
    EXPECT_TRUE(logs_.wait_for("Connection attempt from disallowed node cookieless@", 1000));
    EXPECT_TRUE(round_trip());
}

// The status answers of the acceptor (recv_status), as OTP uses them.
TEST_F(BadInput, HandshakeStatuses)
{
    // ok: a new node.
    RawPeer first;
    enum hs_status st = HS_STATUS_NONE;
    ASSERT_TRUE(first.connect_to(alive_));
    ASSERT_TRUE(first.handshake("twin@" + short_host(), dd_node_name(node_), "rtcookie",
                                DISTFLAGS_ADVERTISED | DFLAG_PUBLISHED, &st));
    EXPECT_EQ(st, HS_STATUS_OK);
    EXPECT_TRUE(raw_echo(first, 10));

    // alive: that node is connected already. Answering false keeps the old connection.
    RawPeer keep;
    ASSERT_TRUE(keep.connect_to(alive_));
    EXPECT_FALSE(keep.handshake("twin@" + short_host(), dd_node_name(node_), "rtcookie",
                                DISTFLAGS_ADVERTISED | DFLAG_PUBLISHED, &st, false));
    EXPECT_EQ(st, HS_STATUS_ALIVE);
    EXPECT_TRUE(keep.wait_closed(2000));
    EXPECT_TRUE(raw_echo(first, 11)) << "the existing connection must stay";

    // alive, answered true (the node restarted and its old connection is dead): the new
    // connection replaces the old one.
    RawPeer second;
    ASSERT_TRUE(second.connect_to(alive_));
    ASSERT_TRUE(second.handshake("twin@" + short_host(), dd_node_name(node_), "rtcookie",
                                 DISTFLAGS_ADVERTISED | DFLAG_PUBLISHED, &st, true));
    EXPECT_EQ(st, HS_STATUS_ALIVE);
    EXPECT_TRUE(first.wait_closed(2000)) << "the old connection should go";
    EXPECT_TRUE(raw_echo(second, 12));
    EXPECT_TRUE(logs_.wait_for("node twin@* down: replaced by a new connection", 1000));

    // not_allowed: a peer claiming the node's own name.
    RawPeer self;
    ASSERT_TRUE(self.connect_to(alive_));
    EXPECT_FALSE(self.handshake(dd_node_name(node_), dd_node_name(node_), "rtcookie",
                                DISTFLAGS_ADVERTISED | DFLAG_PUBLISHED, &st));
    EXPECT_EQ(st, HS_STATUS_NOT_ALLOWED);
    EXPECT_TRUE(self.wait_closed(2000));
    EXPECT_TRUE(logs_.wait_for(
        "Connection attempt from node " + std::string(dd_node_name(node_)) + " refused", 1000));
    EXPECT_TRUE(round_trip());
}

// ---- after the handshake -----------------------------------------------------------------

TEST_F(BadInput, RawPeerWorksWhenWellBehaved)
{
    RawPeer p;
    handshaken(p, "polite");
    EXPECT_TRUE(raw_echo(p, 7));
    EXPECT_TRUE(raw_echo(p, 8));
}

TEST_F(BadInput, GarbagePacketClosesTheConnection)
{
    RawPeer p;
    handshaken(p, "garbage");
    ASSERT_TRUE(p.send_packet(Bytes{'x', 'y', 'z', 'z', 'y'}));
    EXPECT_TRUE(p.wait_closed(2000));
    EXPECT_TRUE(
        logs_.wait_for("closing connection to garbage@* unknown distribution header", 1000));
    EXPECT_TRUE(round_trip());
}

TEST_F(BadInput, TruncatedFrames)
{
    // A dist header cut short: the connection is closed.
    {
        RawPeer p;
        handshaken(p, "trunc1");
        ASSERT_TRUE(p.send_packet(Bytes{131, 'D'}));
        EXPECT_TRUE(p.wait_closed(2000));
        EXPECT_TRUE(logs_.wait_for("closing connection to trunc1@* header truncated", 1000));
    }
    // A control tuple cut short inside a whole packet: the message is dropped, the
    // connection stays.
    {
        RawPeer p;
        handshaken(p, "trunc2");
        Bytes body = header_d();
        body.insert(body.end(), {104, 4, 97, 6, 103}); // {6, <pid cut short
        ASSERT_TRUE(p.send_packet(body));
        EXPECT_TRUE(logs_.wait_for("message from trunc2@* dropped", 1000));
        EXPECT_TRUE(raw_echo(p, 1)) << "the connection should stay up";
    }
    // A packet cut short on the wire, then the peer goes away: a nodedown, nothing else.
    {
        RawPeer p;
        handshaken(p, "trunc3");
        Bytes part{0, 0, 0, 100, 131, 'D', 0, 104};
        ASSERT_TRUE(p.send_bytes(part));
        shutdown(p.fd(), SHUT_RDWR);
        EXPECT_TRUE(logs_.wait_for("node trunc3@* down", 2000));
    }
    EXPECT_TRUE(round_trip());
}

TEST_F(BadInput, OversizedLengthClosesTheConnection)
{
    for (const Bytes &len : {Bytes{0xff, 0xff, 0xff, 0xff}, Bytes{0, 0x20, 0, 1}}) {
        RawPeer p;
        handshaken(p, "huge" + std::to_string(len[0]));
        ASSERT_TRUE(p.send_bytes(len)); // 4 GiB, then 2 MiB + 1 (the node's limit is 1 MiB)
        EXPECT_TRUE(p.wait_closed(2000));
    }
    EXPECT_EQ(logs_.count("closing connection to huge* packet longer than the configured"), 2u);
    EXPECT_TRUE(round_trip());
}

TEST_F(BadInput, UnknownControlMessageIsDropped)
{
    RawPeer p;
    handshaken(p, "unknownop");
    Bytes body = header_d();
    Bytes ctl = term([](ei_x_buff *x) {
        ei_x_encode_tuple_header(x, 3);
        ei_x_encode_long(x, 99);
        ei_x_encode_atom(x, "what");
        ei_x_encode_atom(x, "ever");
    });
    body.insert(body.end(), ctl.begin() + 1, ctl.end());
    ASSERT_TRUE(p.send_packet(body));
    EXPECT_TRUE(
        logs_.wait_for("message from unknownop@* dropped: unknown control message op", 1000));
    EXPECT_TRUE(raw_echo(p, 2));
    EXPECT_TRUE(round_trip());
}

TEST_F(BadInput, UndecodableTermsAreDropped)
{
    RawPeer p;
    handshaken(p, "badterm");
    erlang_pid me = p.pid(1);
    // REG_SEND to echo whose message is not a term (tag 255).
    Bytes body = reg_send_body(me, "echo", atom_term("x"));
    body.resize(body.size() - 3);
    body.push_back(255);
    body.push_back(1);
    ASSERT_TRUE(p.send_packet(body));
    EXPECT_TRUE(logs_.wait_for("message from badterm@* dropped", 1000));
    // A message term with a byte after it.
    logs_.clear();
    body = reg_send_body(me, "echo", atom_term("x"));
    body.push_back(97);
    ASSERT_TRUE(p.send_packet(body));
    EXPECT_TRUE(logs_.wait_for("message from badterm@* dropped: bytes after the last term", 1000));
    EXPECT_TRUE(raw_echo(p, 3));
    EXPECT_TRUE(round_trip());
}

TEST_F(BadInput, MessagesToMissingProcessesAreDropped)
{
    RawPeer p;
    handshaken(p, "missing");
    erlang_pid me = p.pid(1);
    dd_pid ghost = *dd_mbox_pid(echo_);
    ghost.num = 9999;
    ei_x_buff x;
    ei_x_new(&x);
    distmsg_encode_send_sender(&x, &me, &ghost);
    Bytes payload = atom_term("lost");
    distmsg_append_payload(&x, payload.data(), payload.size());
    ASSERT_TRUE(p.send_packet(Bytes(x.buff, x.buff + x.index)));
    ei_x_free(&x);
    ASSERT_TRUE(p.send_packet(reg_send_body(me, "nobody_here", payload)));
    // A link to the missing pid is answered: an exit signal noproc comes back.
    ei_x_new(&x);
    distmsg_encode_link(&x, &me, &ghost);
    ASSERT_TRUE(p.send_packet(Bytes(x.buff, x.buff + x.index)));
    ei_x_free(&x);
    bool noproc = false;
    for (int i = 0; i < 10 && !noproc; i++) {
        Bytes body;
        if (p.read_packet(&body, 1000) <= 0)
            break;
        std::string text(body.begin(), body.end());
        noproc = text.find("noproc") != std::string::npos;
    }
    EXPECT_TRUE(noproc);
    EXPECT_TRUE(raw_echo(p, 4));
    EXPECT_TRUE(round_trip());
}

// A peer that floods requests needing an answer (monitors of a missing process, each answered
// with a 'DOWN' noproc) and never reads: the node must not stall behind it.
TEST_F(BadInput, PeerThatNeverReadsDoesNotStallTheNode)
{
    RawPeer p;
    handshaken(p, "deaf");
    int fl = fcntl(p.fd(), F_GETFL);
    fcntl(p.fd(), F_SETFL, fl | O_NONBLOCK);
    erlang_pid me = p.pid(1);
    dd_pid ghost = *dd_mbox_pid(echo_);
    ghost.num = 9999;
    Bytes batch;
    for (int i = 0; i < 2000; i++) {
        ei_x_buff x;
        ei_x_new(&x);
        erlang_ref ref = {};
        snprintf(ref.node, sizeof(ref.node), "%s", p.name().c_str());
        ref.len = 3;
        ref.n[0] = unsigned(i);
        ref.creation = 1;
        distmsg_encode_monitor_p(&x, &me, &ghost, nullptr, &ref);
        uint8_t len[4];
        distmsg_frame_put_len(len, uint32_t(x.index));
        batch.insert(batch.end(), len, len + 4);
        batch.insert(batch.end(), x.buff, x.buff + x.index);
        ei_x_free(&x);
    }
    // Write as long as the node takes it (up to ~200 MB of requests, ~8 s at most).
    size_t written = 0;
    auto t0 = Clock::now();
    int stuck_rounds = 0;
    while (written < (200u << 20) && Clock::now() - t0 < std::chrono::seconds(8) &&
           stuck_rounds < 20) {
        ssize_t w = send(p.fd(), batch.data(), batch.size(), MSG_NOSIGNAL);
        if (w > 0) {
            written += size_t(w);
            stuck_rounds = 0;
            if (size_t(w) < batch.size())
                std::this_thread::sleep_for(std::chrono::milliseconds(5));
        } else if (errno == EAGAIN) {
            stuck_rounds++;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        } else {
            break; // the node closed us: fine
        }
        if (!round_trip()) {
            ADD_FAILURE() << "the node stopped serving its other peer after " << written
                          << " bytes of requests";
            break;
        }
    }
    EXPECT_TRUE(round_trip());
}

} // namespace
