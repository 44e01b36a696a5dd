// The data plane's telemetry commands (dataplane/dp_telemetry.c) through DPDK's real telemetry
// socket (<runtime dir>/dpdk_telemetry.v2: SOCK_SEQPACKET, a JSON greeting, then one JSON reply
// per command), while the control thread opens and closes channels between two engines over a
// crossed net_ring pair (engine_pair.h). This suite's EAL has telemetry on (DD_EAL_TELEMETRY).
//
// Checks: every reply of /dpdist/ports, /dpdist/peers and /dpdist/peer,SESSION (for sessions
// open, closing and gone) is valid JSON with the expected fields; a session that does not
// exist answers null; nothing crashes or reads freed memory (run under ASan too) while channels
// come and go.
#include "tests/unit/dataplane/engine_pair.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <cinttypes>
#include <map>
#include <memory>
#include <thread>

extern "C" {
#include <rte_eal.h>
}

namespace
{

using namespace engine_pair;

// ---- a small JSON reader: validates and keeps the tree (test input is our own, small) ----

struct Json {
    enum Kind { NUL, BOOL, NUM, STR, ARR, OBJ } kind = NUL;
    std::string str;
    std::map<std::string, std::unique_ptr<Json>> obj;
    std::vector<std::unique_ptr<Json>> arr;
    const Json *at(const std::string &k) const
    {
        auto it = obj.find(k);
        return it == obj.end() ? nullptr : it->second.get();
    }
};

struct JsonParser {
    const std::string &s;
    size_t i = 0;
    void ws()
    {
        while (i < s.size() && isspace((unsigned char)s[i]))
            i++;
    }
    bool lit(const char *w)
    {
        size_t n = strlen(w);
        if (s.compare(i, n, w) != 0)
            return false;
        i += n;
        return true;
    }
    bool string(std::string &out)
    {
        if (i >= s.size() || s[i] != '"')
            return false;
        for (i++; i < s.size(); i++) {
            char c = s[i];
            if (c == '"') {
                i++;
                return true;
            }
            if ((unsigned char)c < 0x20)
                return false;
            if (c == '\\') {
                if (++i >= s.size() || !strchr("\"\\/bfnrtu", s[i]))
                    return false;
                if (s[i] == 'u') {
                    if (i + 4 >= s.size())
                        return false;
                    for (int k = 1; k <= 4; k++)
                        if (!isxdigit((unsigned char)s[i + k]))
                            return false;
                    i += 4;
                }
                out += '?';
                continue;
            }
            out += c;
        }
        return false;
    }
    bool number()
    {
        size_t start = i;
        if (i < s.size() && s[i] == '-')
            i++;
        while (i < s.size() && (isdigit((unsigned char)s[i]) || strchr(".eE+-", s[i])))
            i++;
        return i > start && isdigit((unsigned char)s[i - 1]);
    }
    bool value(Json &v, int depth)
    {
        if (depth > 16)
            return false;
        ws();
        if (i >= s.size())
            return false;
        char c = s[i];
        if (c == '{') {
            v.kind = Json::OBJ;
            i++;
            ws();
            if (i < s.size() && s[i] == '}')
                return ++i, true;
            for (;;) {
                ws();
                std::string k;
                if (!string(k))
                    return false;
                ws();
                if (i >= s.size() || s[i++] != ':')
                    return false;
                auto child = std::make_unique<Json>();
                if (!value(*child, depth + 1) || v.obj.count(k))
                    return false;
                v.obj[k] = std::move(child);
                ws();
                if (i < s.size() && s[i] == ',') {
                    i++;
                    continue;
                }
                return i < s.size() && s[i++] == '}';
            }
        }
        if (c == '[') {
            v.kind = Json::ARR;
            i++;
            ws();
            if (i < s.size() && s[i] == ']')
                return ++i, true;
            for (;;) {
                auto child = std::make_unique<Json>();
                if (!value(*child, depth + 1))
                    return false;
                v.arr.push_back(std::move(child));
                ws();
                if (i < s.size() && s[i] == ',') {
                    i++;
                    continue;
                }
                return i < s.size() && s[i++] == ']';
            }
        }
        if (c == '"')
            return v.kind = Json::STR, string(v.str);
        if (lit("null"))
            return v.kind = Json::NUL, true;
        if (lit("true") || lit("false"))
            return v.kind = Json::BOOL, true;
        return v.kind = Json::NUM, number();
    }
};

bool parse_json(const std::string &text, Json &out)
{
    JsonParser p{text};
    if (!p.value(out, 0))
        return false;
    p.ws();
    return p.i == text.size();
}

// ---- a telemetry client ----------------------------------------------------------------

struct TeleClient {
    int fd = -1;
    std::string greeting;
    bool connect_to(const std::string &path)
    {
        fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
        sockaddr_un sun = {};
        sun.sun_family = AF_UNIX;
        snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path.c_str());
        if (fd < 0 || connect(fd, (sockaddr *)&sun, sizeof(sun)) != 0)
            return false;
        timeval tv = {5, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        return read_msg(greeting);
    }
    bool read_msg(std::string &out)
    {
        std::vector<char> buf(
            1 << 20); // a reply fits one packet (the library's own limit is 16 KiB)
        ssize_t n = recv(fd, buf.data(), buf.size(), 0);
        if (n <= 0)
            return false;
        out.assign(buf.data(), size_t(n));
        return true;
    }
    bool query(const std::string &cmd, std::string &reply)
    {
        return send(fd, cmd.data(), cmd.size(), 0) == ssize_t(cmd.size()) && read_msg(reply);
    }
    ~TeleClient()
    {
        if (fd >= 0)
            close(fd);
    }
};

std::string telemetry_socket()
{
    return std::string(rte_eal_get_runtime_dir()) + "/dpdk_telemetry.v2";
}

class Telemetry : public EnginePair
{
};

TEST_F(Telemetry, EveryCommandAnswersValidJsonWhileChannelsComeAndGo)
{
    TeleClient cl;
    ASSERT_TRUE(cl.connect_to(telemetry_socket())) << telemetry_socket() << ": " << strerror(errno);
    Json g;
    ASSERT_TRUE(parse_json(cl.greeting, g)) << cl.greeting;

    std::string reply;
    ASSERT_TRUE(cl.query("/", reply));
    for (const char *cmd : {"/dpdist/ports", "/dpdist/peers", "/dpdist/peer"})
        EXPECT_NE(reply.find(cmd), std::string::npos) << cmd << " not listed in " << reply;

    // Sessions come and go on the control (test) thread while a client thread queries.
    std::atomic<uint64_t> live_session{0}, gone_session{0};
    std::atomic<bool> stop{false};
    std::atomic<unsigned> replies{0}, bad{0}, peer_found{0}, peer_null{0}, peers_listed{0};
    std::string first_bad;
    std::thread client([&] {
        TeleClient c;
        if (!c.connect_to(telemetry_socket())) {
            bad++;
            return;
        }
        auto check = [&](const std::string &cmd, const std::function<bool(const Json &)> &ok) {
            std::string r;
            Json j;
            if (!c.query(cmd, r) || !parse_json(r, j) || j.kind != Json::OBJ) {
                if (!bad++)
                    first_bad = cmd + " -> " + r;
                return;
            }
            std::string key = cmd.substr(0, cmd.find(','));
            const Json *v = j.at(key);
            if (!v || !ok(*v)) {
                if (!bad++)
                    first_bad = cmd + " -> " + r;
            }
            replies++;
        };
        while (!stop) {
            check("/dpdist/ports", [](const Json &v) {
                const Json *p = v.kind == Json::OBJ ? v.at("port0") : nullptr;
                return p && p->at("rx_frames") && p->at("tx_frames") && p->at("mbufs_in_use") &&
                       p->at("drop_unknown_session") && p->at("name");
            });
            check("/dpdist/peers", [&](const Json &v) {
                if (v.kind != Json::OBJ)
                    return false;
                for (auto &kv : v.obj) {
                    const Json &p = *kv.second;
                    if (p.kind != Json::OBJ || !p.at("peer") || !p.at("state") ||
                        !p.at("srtt_ns") || !p.at("tx_msgs"))
                        return false;
                }
                if (!v.obj.empty())
                    peers_listed++;
                return true;
            });
            for (uint64_t s : {live_session.load(), gone_session.load(), uint64_t(0x1234)}) {
                char cmd[64];
                snprintf(cmd, sizeof(cmd), "/dpdist/peer,%" PRIx64, s);
                check(cmd, [&](const Json &v) {
                    if (v.kind == Json::NUL) {
                        peer_null++;
                        return true;
                    }
                    const Json *n = v.at("normal"), *d = v.at("drops");
                    bool ok = v.kind == Json::OBJ && v.at("pulse") && n && n->at("tx_frames") &&
                              d && d->at("duplicate") && v.at("srtt_ns") &&
                              v.at("max_heartbeat_gap_ns") && v.at("tx_queued_bytes");
                    if (ok)
                        peer_found++;
                    return ok;
                });
            }
        }
    });

    const unsigned ROUNDS = 150;
    for (unsigned r = 0; r < ROUNDS; r++) {
        auto [sa, sb] = add_pair(r);
        live_session = 0xa000000000000000ull + r + 1;
        for (uint64_t k = 0; k < 20; k++) {
            dp_msg *m = make_msg(k, 512);
            EXPECT_EQ(dp_chan_send(sa->ch, m), 0);
            dp_msg_unref(m);
        }
        // Open until the client has seen it once (or a moment has passed), polled meanwhile.
        unsigned found0 = peer_found;
        poll_until([&] { return peer_found > found0; }, std::chrono::milliseconds(200), [&] {
            poll(a);
            poll(b);
        });
        dp_chan_close(sa->ch, on_retired, sa);
        dp_chan_close(sb->ch, on_retired, sb);
        gone_session = live_session.load();
        // The handles go as the runtime lets them go: after their retirement (an RCU grace
        // period later), with the telemetry thread still asking about them.
        while (!sa->retired || !sb->retired) {
            poll(a);
            poll(b);
            urcu_qsbr_quiescent_state();
            usleep(100);
        }
        for (Side *s : {sa, sb}) {
            dp_chan_free(s->ch);
            s->ch = nullptr;
        }
    }
    stop = true;
    client.join();
    EXPECT_EQ(bad.load(), 0u) << "first bad reply: " << first_bad;
    EXPECT_GT(replies.load(), 100u);
    EXPECT_GT(peer_found.load(), 0u) << "no query found a live channel";
    EXPECT_GT(peer_null.load(), 0u) << "no query asked for a channel that was gone";
    EXPECT_GT(peers_listed.load(), 0u);
}

} // namespace
