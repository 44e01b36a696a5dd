// Helpers of the runtime suites: see rt_test_util.h.
#include "rt_test_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>

#include "control/cookie.h"
#include "control/distmsg.h"
extern "C" {
#include "control/epmd/epmd_client.h"
#include "control/epmd/epmd_server.h"
}

namespace rt_test
{

// ---- the EPMD ---------------------------------------------------------------------------

EpmdDaemon::EpmdDaemon()
{
    struct epmd_server_cfg cfg;
    epmd_server_cfg_defaults(&cfg);
    cfg.port = 0;
    cfg.addresses = "127.0.0.1,::1";
    char err[256] = "";
    bool in_use = false;
    srv_ = epmd_server_new(&cfg, err, sizeof(err), &in_use);
    if (!srv_) { // no IPv6 here (netns_run.sh noipv6, RuntimeNode)
        cfg.addresses = "127.0.0.1";
        srv_ = epmd_server_new(&cfg, err, sizeof(err), &in_use);
    }
    if (!srv_) {
        fprintf(stderr, "test EPMD: %s\n", err);
        abort();
    }
    port_ = epmd_server_port(srv_);
    thread_ = std::thread([this] { epmd_server_run(srv_); });
}

EpmdDaemon::~EpmdDaemon()
{
    epmd_server_stop(srv_);
    thread_.join();
    epmd_server_free(srv_);
}

namespace
{

EpmdDaemon &the_epmd()
{
    static EpmdDaemon e;
    return e;
}

std::atomic<unsigned> g_counter{0};

} // namespace

uint16_t epmd_port()
{
    return the_epmd().port();
}

std::string short_host()
{
    char h[256] = "";
    gethostname(h, sizeof(h) - 1);
    char *dot = strchr(h, '.');
    if (dot)
        *dot = '\0';
    return h;
}

std::string fresh_name(const std::string &prefix)
{
    return prefix + std::to_string(g_counter.fetch_add(1));
}

dd_node *start_node(const std::string &alive, const NodeOpts &o)
{
    struct dd_node_cfg cfg = {};
    std::string long_name = alive + "@127.0.0.1";
    if (o.long_name)
        cfg.name = long_name.c_str();
    else
        cfg.sname = alive.c_str();
    cfg.cookie = o.cookie;
    cfg.hidden = o.hidden;
    cfg.ticktime_s = o.ticktime_s;
    cfg.setuptime_ms = o.setuptime_ms;
    cfg.epmd_port = o.epmd_port ? o.epmd_port : epmd_port();
    cfg.max_message_bytes = o.max_message_bytes;
    cfg.max_mailboxes = o.max_mailboxes;
    cfg.max_reassembly_bytes = o.max_reassembly_bytes;
    cfg.handshake_backoff_ms = o.handshake_backoff_ms;
    cfg.handshake_backoff_max_ms = o.handshake_backoff_max_ms;
    dd_node *n = nullptr;
    int rc = dd_node_start(&cfg, &n);
    EXPECT_EQ(rc, DD_OK) << "starting " << alive << ": " << dd_last_error();
    return rc == DD_OK ? n : nullptr;
}

// ---- terms ------------------------------------------------------------------------------

Bytes term(const std::function<void(ei_x_buff *)> &build)
{
    ei_x_buff x;
    ei_x_new_with_version(&x);
    build(&x);
    Bytes b(x.buff, x.buff + x.index);
    ei_x_free(&x);
    return b;
}

Bytes atom_term(const std::string &a)
{
    return term([&](ei_x_buff *x) { ei_x_encode_atom(x, a.c_str()); });
}

Bytes int_term(long v)
{
    return term([&](ei_x_buff *x) { ei_x_encode_long(x, v); });
}

Bytes deep_list(size_t depth, bool version)
{
    Bytes t;
    t.reserve(depth * 6 + 2);
    if (version)
        t.push_back(131);
    for (size_t i = 0; i < depth; i++)
        t.insert(t.end(), {108, 0, 0, 0, 1});
    t.push_back(106);
    t.insert(t.end(), depth, uint8_t(106));
    return t;
}

Bytes triple(const std::string &tag, long a, long b)
{
    return term([&](ei_x_buff *x) {
        ei_x_encode_tuple_header(x, 3);
        ei_x_encode_atom(x, tag.c_str());
        ei_x_encode_long(x, a);
        ei_x_encode_long(x, b);
    });
}

std::string show(const char *t, size_t len)
{
    if (!t || len < 1)
        return "<none>";
    int idx = 0, ver;
    if (ei_decode_version(t, &idx, &ver) < 0)
        idx = 0;
    char *s = nullptr;
    if (ei_s_print_term(&s, t, &idx) < 0) {
        free(s);
        return "<undecodable>";
    }
    std::string out(s);
    free(s);
    return out;
}

std::string show(const dd_msg *m)
{
    return m ? show(m->term, m->len) : "<no message>";
}

bool untriple(const dd_msg *m, std::string *tag, long *a, long *b)
{
    int idx = 0, ver, arity;
    char atom[MAXATOMLEN_UTF8];
    if (!m || ei_decode_version(m->term, &idx, &ver) < 0 ||
        ei_decode_tuple_header(m->term, &idx, &arity) < 0 || arity != 3 ||
        ei_decode_atom(m->term, &idx, atom) < 0 || ei_decode_long(m->term, &idx, a) < 0 ||
        ei_decode_long(m->term, &idx, b) < 0)
        return false;
    *tag = atom;
    return true;
}

// ---- receiving --------------------------------------------------------------------------

dd_msg *recv_one(dd_mbox *mb, int timeout_ms)
{
    dd_msg *m = nullptr;
    return dd_recv(mb, &m, timeout_ms) == DD_OK ? m : nullptr;
}

dd_msg *recv_kind(dd_mbox *mb, enum dd_msg_kind kind, int timeout_ms)
{
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now())
                        .count();
        if (left < 0)
            return nullptr;
        dd_msg *m = recv_one(mb, int(left));
        if (!m)
            return nullptr;
        if (m->kind == kind)
            return m;
        dd_msg_free(m);
    }
}

bool recv_nothing(dd_mbox *mb, int timeout_ms)
{
    dd_msg *m = recv_one(mb, timeout_ms);
    if (!m)
        return true;
    ADD_FAILURE() << "unexpected message: " << show(m);
    dd_msg_free(m);
    return false;
}

bool wait_until(const std::function<bool()> &pred, int timeout_ms)
{
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
        if (pred())
            return true;
        if (std::chrono::steady_clock::now() > deadline)
            return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

std::vector<std::string> nodes_of(dd_node *n, enum dd_nodes_which which)
{
    char **names = nullptr;
    size_t count = 0;
    std::vector<std::string> out;
    if (dd_nodes(n, which, &names, &count) != DD_OK)
        return out;
    for (size_t i = 0; i < count; i++)
        out.push_back(names[i]);
    dd_nodes_free(names);
    std::sort(out.begin(), out.end());
    return out;
}

// ---- logs -------------------------------------------------------------------------------

LogCapture::LogCapture()
{
    dlog_set_hook(&LogCapture::hook, this);
}

LogCapture::~LogCapture()
{
    dlog_set_hook(nullptr, nullptr);
}

void LogCapture::hook(enum dlog_level, const char *line, void *arg)
{
    auto *self = static_cast<LogCapture *>(arg);
    std::lock_guard<std::mutex> g(self->mu_);
    self->lines_.emplace_back(line);
}

// The '*'-separated parts of pat appear in line in that order.
static bool glob_match(const std::string &line, const std::string &pat)
{
    size_t pos = 0, start = 0;
    for (;;) {
        size_t star = pat.find('*', start);
        std::string part = pat.substr(start, star == std::string::npos ? star : star - start);
        size_t at = line.find(part, pos);
        if (at == std::string::npos)
            return false;
        pos = at + part.size();
        if (star == std::string::npos)
            return true;
        start = star + 1;
    }
}

size_t LogCapture::count(const std::string &pat)
{
    std::lock_guard<std::mutex> g(mu_);
    return size_t(std::count_if(lines_.begin(), lines_.end(),
                                [&](const std::string &l) { return glob_match(l, pat); }));
}

bool LogCapture::wait_for(const std::string &pat, int timeout_ms)
{
    return wait_until([&] { return count(pat) > 0; }, timeout_ms);
}

std::vector<std::string> LogCapture::lines()
{
    std::lock_guard<std::mutex> g(mu_);
    return lines_;
}

void LogCapture::clear()
{
    std::lock_guard<std::mutex> g(mu_);
    lines_.clear();
}

// ---- the raw peer -----------------------------------------------------------------------

RawPeer::~RawPeer()
{
    if (fd_ >= 0)
        close(fd_);
}

bool RawPeer::connect_to(const std::string &alive, const char *source)
{
    struct epmd_lookup l;
    if (epmd_client_port_please(nullptr, epmd_port(), alive.c_str(), 2000, &l) < 0 || !l.found)
        return false;
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (source) {
        sockaddr_in src{};
        src.sin_family = AF_INET;
        if (inet_pton(AF_INET, source, &src.sin_addr) != 1 ||
            bind(fd_, reinterpret_cast<sockaddr *>(&src), sizeof(src)) < 0)
            return false;
    }
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(l.port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd_, reinterpret_cast<sockaddr *>(&sa), sizeof(sa)) < 0)
        return false;
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return true;
}

bool RawPeer::send_bytes(const Bytes &b)
{
    size_t off = 0;
    while (off < b.size()) {
        ssize_t w = send(fd_, b.data() + off, b.size() - off, MSG_NOSIGNAL);
        if (w <= 0)
            return false;
        off += size_t(w);
    }
    return true;
}

bool RawPeer::send_packet(const Bytes &body)
{
    Bytes b(4);
    distmsg_frame_put_len(b.data(), uint32_t(body.size()));
    b.insert(b.end(), body.begin(), body.end());
    return send_bytes(b);
}

// Reads what is available within timeout_ms into rx: 1 = some bytes, 0 = timeout, -1 = EOF.
static int fill(int fd, Bytes &rx, int timeout_ms)
{
    struct pollfd p = {fd, POLLIN, 0};
    int r = poll(&p, 1, timeout_ms);
    if (r == 0)
        return 0;
    uint8_t buf[65536];
    ssize_t got = recv(fd, buf, sizeof(buf), 0);
    if (got <= 0)
        return -1;
    rx.insert(rx.end(), buf, buf + got);
    return 1;
}

namespace
{

struct HsPolicy {
    std::string cookie;
    bool alive_answer;
    static const char *cookie_cb(void *arg, const char *)
    {
        return static_cast<HsPolicy *>(arg)->cookie.c_str();
    }
    static int challenge_cb(void *, uint32_t *out)
    {
        return cookie_challenge(out) == COOKIE_OK ? 0 : -1;
    }
    static enum hs_status admit_cb(void *, const char *, uint64_t)
    {
        return HS_STATUS_NOT_ALLOWED; // initiator only
    }
    static bool alive_cb(void *arg, const char *)
    {
        return static_cast<HsPolicy *>(arg)->alive_answer;
    }
};

} // namespace

bool RawPeer::handshake(const std::string &my_name, const std::string &peer,
                        const std::string &cookie, uint64_t flags, enum hs_status *status,
                        bool alive_answer)
{
    name_ = my_name;
    HsPolicy pol{cookie, alive_answer};
    struct hs_callbacks cb = {HsPolicy::cookie_cb, HsPolicy::challenge_cb, HsPolicy::admit_cb,
                              HsPolicy::alive_cb};
    struct hs_config cfg = {};
    cfg.role = HS_INITIATOR;
    cfg.my_name = name_.c_str();
    cfg.my_creation = creation_;
    cfg.my_flags = flags;
    cfg.expected_peer = peer.c_str();
    cfg.cb = &cb;
    cfg.cb_arg = &pol;
    auto hs = std::make_unique<struct hs>();
    if (hs_init(hs.get(), &cfg) != HS_OK)
        return false;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    for (;;) {
        const uint8_t *p;
        size_t n;
        while ((n = hs_output(hs.get(), &p)) > 0) {
            if (!send_bytes(Bytes(p, p + n)))
                return false;
            hs_output_consumed(hs.get(), n);
        }
        size_t used = 0;
        enum hs_step st = hs_feed(hs.get(), rx_.data(), rx_.size(), &used);
        rx_.erase(rx_.begin(), rx_.begin() + long(used));
        if (status)
            *status = hs_result(hs.get())->status;
        if (st == HS_FAILED) {
            while ((n = hs_output(hs.get(), &p)) > 0) { // e.g. our "false" to "alive"
                if (!send_bytes(Bytes(p, p + n)))
                    break;
                hs_output_consumed(hs.get(), n);
            }
            return false;
        }
        if (st == HS_DONE) {
            while ((n = hs_output(hs.get(), &p)) > 0) {
                if (!send_bytes(Bytes(p, p + n)))
                    return false;
                hs_output_consumed(hs.get(), n);
            }
            return true;
        }
        if (used > 0)
            continue;
        if (std::chrono::steady_clock::now() > deadline || fill(fd_, rx_, 1000) < 0)
            return false;
    }
}

int RawPeer::read_packet(Bytes *body, int timeout_ms, bool ticks)
{
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
        struct distmsg_frame f;
        enum distmsg_result r = distmsg_frame_next(rx_.data(), rx_.size(), 1u << 30, &f);
        if (r == DISTMSG_OK) {
            Bytes got(f.data, f.data + f.len);
            rx_.erase(rx_.begin(), rx_.begin() + long(f.total));
            if (f.len == 0 && !ticks)
                continue; // tick
            *body = got;
            return 1;
        }
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now())
                        .count();
        if (left <= 0)
            return 0;
        int f2 = fill(fd_, rx_, int(left));
        if (f2 < 0)
            return -1;
    }
}

bool RawPeer::wait_closed(int timeout_ms)
{
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now())
                        .count();
        if (left <= 0)
            return false;
        int r = fill(fd_, rx_, int(left));
        if (r < 0)
            return true;
        rx_.clear();
    }
}

erlang_pid RawPeer::pid(unsigned num) const
{
    erlang_pid p{};
    snprintf(p.node, sizeof(p.node), "%s", name_.c_str());
    p.num = num;
    p.serial = 0;
    p.creation = creation_;
    return p;
}

Bytes reg_send_body(const erlang_pid &from, const std::string &name, const Bytes &payload)
{
    ei_x_buff x;
    ei_x_new(&x);
    distmsg_encode_reg_send(&x, &from, name.c_str());
    distmsg_append_payload(&x, payload.data(), payload.size());
    Bytes b(x.buff, x.buff + x.index);
    ei_x_free(&x);
    return b;
}

std::vector<Bytes> fragment_body(const Bytes &body, uint64_t seq_id, size_t frag_bytes)
{
    std::vector<Bytes> out;
    const size_t hdr = DISTMSG_HDR_NORMAL_LEN; // [131,'D',0]
    size_t data = body.size() - hdr, n = (data + frag_bytes - 1) / frag_bytes;
    auto be64 = [](Bytes &b, uint64_t v) {
        for (int sh = 56; sh >= 0; sh -= 8)
            b.push_back(uint8_t(v >> sh));
    };
    for (size_t i = 0; i < n; i++) {
        Bytes p{131, uint8_t(i == 0 ? 'E' : 'F')};
        be64(p, seq_id);
        be64(p, n - i);
        if (i == 0)
            p.push_back(0); // no atom cache references
        size_t off = hdr + i * frag_bytes, len = std::min(frag_bytes, body.size() - off);
        p.insert(p.end(), body.begin() + long(off), body.begin() + long(off + len));
        out.push_back(std::move(p));
    }
    return out;
}

// ---- a real BEAM node ----------------------------------------------------------------

Beam::Beam(const std::string &alive, const std::string &expr)
{
    int out[2];
    if (pipe(out) < 0)
        return;
    std::string name = alive + "@127.0.0.1", port = std::to_string(epmd_port());
    pid_ = fork();
    if (pid_ == 0) {
        dup2(out[1], 1);
        dup2(out[1], 2);
        close(out[0]);
        setenv("ERL_EPMD_PORT", port.c_str(), 1);
        execlp("erl", "erl", "-name", name.c_str(), "-setcookie", "rtcookie", "-start_epmd",
               "false", "-noshell", "-noinput", "-eval", expr.c_str(), (char *)nullptr);
        _exit(127);
    }
    close(out[1]);
    fd_ = out[0];
    reader_ = std::thread([this] {
        std::string line;
        char c;
        while (read(fd_, &c, 1) == 1) {
            if (c != '\n') {
                line += c;
                continue;
            }
            std::lock_guard<std::mutex> g(mu_);
            lines_.push_back(line);
            line.clear();
        }
    });
}

Beam::~Beam()
{
    if (pid_ > 0) {
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
    }
    if (reader_.joinable())
        reader_.join();
    if (fd_ >= 0)
        close(fd_);
}

bool Beam::wait_for(const std::string &line, int timeout_ms)
{
    return wait_until(
        [&] {
            std::lock_guard<std::mutex> g(mu_);
            return std::find(lines_.begin(), lines_.end(), line) != lines_.end();
        },
        timeout_ms);
}

std::vector<std::string> Beam::lines()
{
    std::lock_guard<std::mutex> g(mu_);
    return lines_;
}

bool have_erl()
{
    return system("command -v erl >/dev/null 2>&1") == 0;
}

} // namespace rt_test
