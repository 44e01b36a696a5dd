// Shared helpers of the runtime suites (tests/unit/runtime/test_rt_*.cc): an EPMD daemon in a
// thread of the test process (one per process, on a port the kernel picks), in-process nodes
// registered with it, log capture through dlog_set_hook, term builders and a raw
// distribution peer that completes a real handshake with the control/handshake.h state
// machine and then speaks raw bytes.
#ifndef DPDIST_TESTS_RT_TEST_UTIL_H
#define DPDIST_TESTS_RT_TEST_UTIL_H

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <mutex>
#include <sys/types.h>
#include <string>
#include <thread>
#include <vector>

#include "control/handshake.h"
#include "dpdist/dpdist.h"
extern "C" {
#include "common/log.h"
struct epmd_server;
}

namespace rt_test
{

using Bytes = std::vector<uint8_t>;

// An EPMD daemon (control/epmd/epmd_server.c) in a thread of the test process, on loopback
// (127.0.0.1 and ::1, or 127.0.0.1 alone without IPv6) and a port the kernel picks.
class EpmdDaemon
{
  public:
    EpmdDaemon();
    ~EpmdDaemon();
    EpmdDaemon(const EpmdDaemon &) = delete;
    EpmdDaemon &operator=(const EpmdDaemon &) = delete;
    uint16_t port() const
    {
        return port_;
    }

  private:
    struct epmd_server *srv_ = nullptr;
    std::thread thread_;
    uint16_t port_ = 0;
};

// The process's EPMD (started on first use, stopped at exit).
uint16_t epmd_port();

// Short host name as nodes use it ("foo@HOST").
std::string short_host();

// A unique short alive name: prefix + a process-wide counter.
std::string fresh_name(const std::string &prefix);

struct NodeOpts {
    bool hidden = false;
    unsigned ticktime_s = 0;
    unsigned setuptime_ms = 0;
    size_t max_message_bytes = 0;
    size_t max_mailboxes = 0;
    size_t max_reassembly_bytes = 0;
    unsigned handshake_backoff_ms = 0;
    unsigned handshake_backoff_max_ms = 0;
    const char *cookie = "rtcookie";
    bool long_name = false; // alive@127.0.0.1 instead of alive@short_host()
    uint16_t epmd_port = 0; // 0: epmd_port()
};

// Starts a node registered with epmd_port(); nullptr (with a gtest failure) on error.
dd_node *start_node(const std::string &alive, const NodeOpts &o = NodeOpts());

// Owns a node and stops it when it goes out of scope.
struct Node {
    dd_node *n = nullptr;
    Node() = default;
    explicit Node(const std::string &alive, const NodeOpts &o = NodeOpts())
        : n(start_node(alive, o))
    {
    }
    ~Node()
    {
        if (n)
            dd_node_stop(n);
    }
    Node(const Node &) = delete;
    Node &operator=(const Node &) = delete;
    std::string name() const
    {
        return dd_node_name(n);
    }
};

// ---- terms ----------------------------------------------------------------------------

// Builds an external term (version byte included) with ei_x_* calls.
Bytes term(const std::function<void(ei_x_buff *)> &build);
Bytes atom_term(const std::string &a);
Bytes int_term(long v);
// {Tag, A, B} of small integers: used for ordering checks.
Bytes triple(const std::string &tag, long a, long b);
// A list nested depth levels deep, [[[...[]...]]] (6 bytes a level), with the version byte
// or without it (to embed in a larger term).
Bytes deep_list(size_t depth, bool version = true);
// Text of a term as ei prints it ("{'EXIT', #Pid<...>, noproc}", atoms unquoted).
std::string show(const char *term, size_t len);
std::string show(const dd_msg *m);
// Decodes {Tag, A, B} as built by triple(); false if it is not one.
bool untriple(const dd_msg *m, std::string *tag, long *a, long *b);

// ---- receiving ------------------------------------------------------------------------

// One message within timeout_ms (owned by the caller: dd_msg_free), or nullptr.
dd_msg *recv_one(dd_mbox *mb, int timeout_ms);
// Receives until a message of `kind` arrives (others are dropped) or the timeout.
dd_msg *recv_kind(dd_mbox *mb, enum dd_msg_kind kind, int timeout_ms);
// True if nothing arrives within timeout_ms (signals that become no message are fine).
bool recv_nothing(dd_mbox *mb, int timeout_ms);

// Waits until pred() holds (polling every 10 ms); false on timeout.
bool wait_until(const std::function<bool()> &pred, int timeout_ms);

// Connected nodes of n (which: DD_NODES_*), sorted.
std::vector<std::string> nodes_of(dd_node *n, enum dd_nodes_which which = DD_NODES_CONNECTED);

// ---- logs -----------------------------------------------------------------------------

// Captures every log line while alive (the node's lines still go to stderr too).
class LogCapture
{
  public:
    LogCapture();
    ~LogCapture();
    // Lines so far that contain the '*'-separated parts of pat, in order ("handshake*timed").
    size_t count(const std::string &pat);
    // Waits for such a line; true if seen within timeout_ms.
    bool wait_for(const std::string &pat, int timeout_ms);
    std::vector<std::string> lines();
    void clear();

  private:
    static void hook(enum dlog_level level, const char *line, void *arg);
    std::mutex mu_;
    std::vector<std::string> lines_;
};

// ---- a real BEAM node ----------------------------------------------------------------

// A real BEAM node (Debian's erl -name NAME@127.0.0.1) registered with the test EPMD, running
// expr; its output lines are collected. Killed when the object goes.
class Beam
{
  public:
    Beam(const std::string &alive, const std::string &expr);
    ~Beam();
    Beam(const Beam &) = delete;
    Beam &operator=(const Beam &) = delete;
    // Waits for the exact line; true if seen within timeout_ms.
    bool wait_for(const std::string &line, int timeout_ms);
    std::vector<std::string> lines();

  private:
    pid_t pid_ = -1;
    int fd_ = -1;
    std::thread reader_;
    std::mutex mu_;
    std::vector<std::string> lines_;
};

// Whether erl is on PATH (tests that need it skip without).
bool have_erl();

// ---- a raw distribution peer ----------------------------------------------------------

// A TCP client speaking the distribution protocol byte by byte. Connects to a node's listen
// port (looked up in the EPMD), optionally completes a real handshake as `my_name`, and then
// sends hand-made packets. Blocking socket with timeouts.
class RawPeer
{
  public:
    ~RawPeer();
    // TCP connect to the listen port of `alive` (as registered with the test EPMD), from
    // the loopback address `source` (any of 127/8) when given.
    bool connect_to(const std::string &alive, const char *source = nullptr);
    // Handshake as initiator (after connect_to). peer = the node's full name.
    // *status (if given) receives the status the node answered ("ok", "alive", ...);
    // alive_answer is what we say to "alive".
    bool handshake(const std::string &my_name, const std::string &peer,
                   const std::string &cookie = "rtcookie",
                   uint64_t flags = DISTFLAGS_ADVERTISED | DFLAG_PUBLISHED,
                   enum hs_status *status = nullptr, bool alive_answer = true);
    bool send_bytes(const Bytes &b);
    // A packet: 4-byte length + body.
    bool send_packet(const Bytes &body);
    // Next non-tick packet body within timeout_ms: 1 = got one, 0 = timeout, -1 = closed.
    // With ticks, a tick is a packet too (an empty body).
    int read_packet(Bytes *body, int timeout_ms, bool ticks = false);
    // True if the node closes the connection within timeout_ms (data before is skipped).
    bool wait_closed(int timeout_ms);
    // A pid of this peer (for replies addressed to it).
    erlang_pid pid(unsigned num) const;
    const std::string &name() const
    {
        return name_;
    }
    int fd() const
    {
        return fd_;
    }

  private:
    int fd_ = -1;
    Bytes rx_;
    std::string name_;
    uint32_t creation_ = 0x5eed;
};

// A message body to send to a registered name on the node: [131,'D',0] {6, From, '', Name}
// followed by the payload term (with its version byte stripped).
Bytes reg_send_body(const erlang_pid &from, const std::string &name, const Bytes &payload);

// A body like reg_send_body's cut into fragment packets of frag_bytes of data each, as BEAM
// and dpdist send a large message: [131,'E',SeqId,N,0] + data, then [131,'F',SeqId,N-1] ...
std::vector<Bytes> fragment_body(const Bytes &body, uint64_t seq_id, size_t frag_bytes = 64 * 1024);

} // namespace rt_test

#endif
