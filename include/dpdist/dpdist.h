/* dpdist public API: a C node of an Erlang cluster.
 *
 * A node (dd_node) has a name, a cookie and, optionally, a DPDK data plane. It hosts
 * mailboxes (dd_mbox): process-like endpoints with an Erlang pid, optionally registered under
 * a name. Mailboxes send and receive Erlang terms in the external term format (build and read
 * them with libei: ei_x_new_with_version / ei_decode_*), link to and monitor other processes,
 * and can subscribe to node up/down events. Real BEAM nodes see the node as an ordinary
 * (hidden or visible) node; two dpdist nodes with data planes move their traffic onto DPDK.
 *
 * Errors: functions return DD_OK (0) or a negative dd_status; the detailed message of the last
 * failed call on this thread is dd_last_error(). Nothing aborts the process.
 *
 * Arguments: every function refuses what it cannot use with DD_EINVAL (unless said
 * otherwise) and the reason in dd_last_error(), before doing anything: NULL pointers
 * (except where NULL is documented), empty names, node names over 1020 bytes, registered
 * names over 255 characters, pids and references whose node name is empty or not
 * NUL-terminated, references of other than 1..5 words, unknown flags or enum values. A
 * mailbox that is being closed gives DD_ECLOSED, as does a node once dd_node_stop has begun
 * (no new mailbox, connection or send). Functions that return something else than a status
 * return NULL, 0, DD_CARRIER_NONE, false or "" on such arguments and set the error too.
 * A pointer used after dd_mbox_close or dd_node_stop returned cannot be recognised: do not.
 *
 * Threads: a node is thread-safe. Any thread may send from any mailbox. Receiving from one
 * mailbox is serialised (two threads calling dd_recv on the same mailbox take turns).
 *
 * Ownership: strings and terms passed in are copied before the call returns. Messages
 * returned by dd_recv belong to the caller until dd_msg_free.
 */
#ifndef DPDIST_DPDIST_H
#define DPDIST_DPDIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <ei.h>

#include "dpdist/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Exported from libdpdist.so: the library is compiled with -fvisibility=hidden. DD_EXPORT
 * marks each function; the pragma makes every declaration of this header default-visible
 * too, so a function added here without the mark is still exported. */
#if defined(__GNUC__) || defined(__clang__)
#define DD_EXPORT __attribute__((visibility("default")))
#pragma GCC visibility push(default)
#else
#define DD_EXPORT
#endif

/* ---- status codes ------------------------------------------------------------------ */

#define DD_STATUS_CODES(X)                                                                         \
    X(DD_OK, 0, "ok")                                                                              \
    X(DD_EINVAL, -1, "invalid argument")                                                           \
    X(DD_ENOMEM, -2, "out of memory")                                                              \
    X(DD_ENAMEINUSE, -3, "name already in use")                                                    \
    X(DD_EEPMD, -4, "cannot register with EPMD")                                                   \
    X(DD_ENOCONN, -5, "no connection to that node")                                                \
    X(DD_ETIMEDOUT, -6, "timed out")                                                               \
    X(DD_EWOULDBLOCK, -7, "would block: queue full")                                               \
    X(DD_ECLOSED, -8, "closed")                                                                    \
    X(DD_ENOTFOUND, -9, "not found")                                                               \
    X(DD_ETOOBIG, -10, "message larger than the configured maximum")                               \
    X(DD_ECONFIG, -11, "invalid configuration")                                                    \
    X(DD_EBADTERM, -12, "not a well-formed external term")                                         \
    X(DD_EIO, -13, "system error")                                                                 \
    X(DD_ECOOKIE, -14, "cookie problem")                                                           \
    X(DD_ELIMIT, -15, "resource limit reached")

enum dd_status {
#define DD_X_ENUM(name, value, msg) name = value,
    DD_STATUS_CODES(DD_X_ENUM)
#undef DD_X_ENUM
};

/* Short message for a status code (static storage). */
const char *dd_strerror(int status);
/* Detailed message of the last failed dd_ call on this thread ("" if none). */
const char *dd_last_error(void);

/* ---- nodes ------------------------------------------------------------------------- */

typedef struct dd_node dd_node;
typedef struct dd_mbox dd_mbox;
typedef erlang_pid dd_pid;
typedef erlang_ref dd_ref;

struct dd_node_cfg {
    /* Exactly one of sname ("foo" or "foo@host", short host) and name ("foo", "foo@host.dom"
     * or "foo@1.2.3.4", long names), as erl's -sname and -name. */
    const char *sname;
    const char *name;
    /* Cookie; NULL: $HOME/.erlang.cookie (created if absent, refused if too open). */
    const char *cookie;
    bool hidden;             /* connect as a hidden node; never propagate in the mesh */
    unsigned ticktime_s;     /* net_ticktime; 0: 60 */
    unsigned setuptime_ms;   /* net_setuptime, per handshake step; 0: 7000 */
    const char *epmd_host;   /* NULL: this host */
    uint16_t epmd_port;      /* 0: $ERL_EPMD_PORT, else 4369 */
    const char *listen_address; /* NULL: all addresses, IPv4 and IPv6 ("::"), or
                                 * 0.0.0.0 on a kernel without IPv6 */
    uint16_t listen_port_min;   /* inet_dist_listen_min/max; 0: any port */
    uint16_t listen_port_max;
    const char *config_file;    /* INI config with a [port] section: DPDK data plane.
                                 * NULL: TCP only. */
    size_t max_message_bytes;   /* largest message sent or accepted; 0: 256 MiB */
    size_t max_mailboxes;       /* 0: 32768 */
    /* Memory for messages being received, for all peers together: fragmented messages and
     * long packets on TCP, message buffers on DPDK. At the cap, a peer starting another
     * message waits (TCP: its socket is not read; DPDK: the fragment is dropped and sent
     * again). At least max_message_bytes (and the data plane's max_msg_bytes). */
    size_t max_reassembly_bytes; /* 0: 512 MiB */
    /* A source address whose handshake failed (wrong cookie, malformed messages) waits this
     * long before its next attempt is answered, doubling with each further failure up to
     * the maximum; one attempt at a time meanwhile. Other addresses are not slowed. */
    unsigned handshake_backoff_ms;     /* 0: 50 */
    unsigned handshake_backoff_max_ms; /* 0: 10000 */
};

/* Start a node: validate the name, read the cookie, listen, register with EPMD (the creation
 * EPMD returns goes into every pid and reference), start the control thread and, with a
 * config file that has a data plane, DPDK. DD_ENAMEINUSE if EPMD has the name already. */
int dd_node_start(const struct dd_node_cfg *cfg, dd_node **out);
/* Close every mailbox (links and monitors get exit signals with reason `shutdown`), close
 * every connection, unregister from EPMD, free everything. The pointer is invalid after, and
 * so are the node's mailboxes. NULL: nothing. */
void dd_node_stop(dd_node *node);

/* The node's full name (NULL for a NULL node) and creation (0 for a NULL node). */
const char *dd_node_name(const dd_node *node);
uint32_t dd_node_creation(const dd_node *node);

/* Cookie for one peer (like erlang:set_cookie/2), or the node's default when peer is NULL. */
int dd_set_cookie(dd_node *node, const char *peer, const char *cookie);

/* Connect to a node now (like net_kernel:connect_node/1). 0 once the connection is up (or
 * peer is this node); DD_EINVAL if peer is not a node name; DD_ENOCONN if the node cannot be
 * reached, refuses us or uses the other kind of names; DD_ETIMEDOUT. */
int dd_connect(dd_node *node, const char *peer, int timeout_ms);

/* Like net_adm:ping/1: 0 (pong) or a negative status (pang). */
int dd_ping(dd_node *node, const char *peer, int timeout_ms);

enum dd_nodes_which {
    DD_NODES_VISIBLE = 1,   /* nodes() */
    DD_NODES_HIDDEN = 2,    /* nodes(hidden) */
    DD_NODES_CONNECTED = 3, /* nodes(connected): both */
};
/* Connected node names; *names is a NULL-terminated array the caller frees with
 * dd_nodes_free(). */
int dd_nodes(dd_node *node, enum dd_nodes_which which, char ***names, size_t *count);
void dd_nodes_free(char **names);

enum dd_carrier_kind {
    DD_CARRIER_NONE = 0, /* not connected */
    DD_CARRIER_TCP = 1,
    DD_CARRIER_DPDK = 2,
};
/* Which carrier moves the data to peer now (DD_CARRIER_NONE also for bad arguments). */
enum dd_carrier_kind dd_node_carrier(dd_node *node, const char *peer);

/* Per-peer figures. Counters are cumulative; max_heartbeat_gap_ns is the largest gap
 * between consecutive heartbeats received from the peer (DPDK: data-plane heartbeats; TCP:
 * ticks) since the previous call, which resets it. */
struct dd_peer_stats {
    enum dd_carrier_kind carrier;
    uint64_t tx_msgs;       /* DPDK: messages fully acknowledged by the peer */
    uint64_t rx_msgs;       /* DPDK: messages delivered */
    uint64_t retransmits;   /* DPDK: frames sent again */
    uint64_t srtt_ns;       /* DPDK: smoothed round-trip time of the channel */
    uint64_t heartbeats_rx; /* DPDK */
    uint64_t credit_stalls; /* DPDK: times a message waited for the receiver's credit */
    uint64_t rx_unconsumed; /* DPDK: bytes delivered and not yet freed by the application */
    uint64_t rx_window;     /* DPDK: the bound on rx_unconsumed (rx_window_bytes) */
    uint64_t max_heartbeat_gap_ns;
    uint64_t max_rx_gap_ns; /* largest gap between two arrivals of anything from the peer
                             * (any valid frame; TCP: any packet, ticks included), reset
                             * like max_heartbeat_gap_ns */
};
int dd_peer_stats(dd_node *node, const char *peer, struct dd_peer_stats *out);

/* The node's reassembly memory (dd_node_cfg.max_reassembly_bytes): what messages being
 * received hold now and at most, and how often a message had to wait for room. */
struct dd_reassembly_stats {
    uint64_t bytes;      /* reserved now: TCP fragmented messages and long packets, DPDK */
    uint64_t limit;      /* the cap */
    uint64_t high_water; /* the most reserved at once since the node started */
    uint64_t refusals;   /* starts that found no room (TCP retries and DPDK frames included) */
    uint64_t waiting;    /* TCP connections not read now because of it */
};
int dd_node_reassembly(dd_node *node, struct dd_reassembly_stats *out);

/* A short human summary of the node's data plane (port and channel counters) on out.
 * DD_ENOTFOUND without a data plane. The full counters are in DPDK telemetry under
 * /dpdist/ports, /dpdist/peers and /dpdist/peer,SESSION. */
int dd_dataplane_summary(dd_node *node, FILE *out);

/* Turn the data plane's fault injection ([fault] in the config) off or back on, for tests
 * that check recovery. DD_ENOTFOUND without a data plane or without a [fault] section. */
int dd_dataplane_fault(dd_node *node, bool enable);

/* Disconnect from a node (erlang:disconnect_node/1). DD_ENOTFOUND if not connected. */
int dd_disconnect(dd_node *node, const char *peer);

/* A fresh reference of this node. */
int dd_make_ref(dd_node *node, dd_ref *out);

/* ---- mailboxes --------------------------------------------------------------------- */

enum dd_mbox_flags {
    DD_MBOX_EXPRESS = 1, /* latency-critical: its messages use the express data lane */
};

/* Open a mailbox, registered under regname unless NULL (DD_ENAMEINUSE if taken). */
int dd_mbox_open(dd_node *node, const char *regname, unsigned flags, dd_mbox **out);
/* Close with reason `normal`: linked processes get an exit signal, monitors a 'DOWN'. */
void dd_mbox_close(dd_mbox *mb);
/* Close with an exit reason (an encoded term with version byte; one that is not: `normal`).
 * Both: NULL does nothing; the pointer is invalid after. */
void dd_mbox_close_reason(dd_mbox *mb, const void *reason, size_t len);

/* The mailbox's pid and node (NULL for a NULL mailbox). */
const dd_pid *dd_mbox_pid(const dd_mbox *mb);
dd_node *dd_mbox_node(const dd_mbox *mb);

/* ---- sending ----------------------------------------------------------------------- */

enum dd_send_flags {
    DD_SEND_NONBLOCK = 1, /* return DD_EWOULDBLOCK instead of waiting for queue room */
};

/* Send a term (external format with version byte, e.g. ei_x_buff.buff/.index) to a pid.
 * Like erlang:send/2: a message to an unreachable node is dropped, not an error; the node
 * is connected on demand. DD_ETOOBIG, DD_EBADTERM, DD_EWOULDBLOCK (with DD_SEND_NONBLOCK),
 * DD_EINVAL (also for a node name that is not one), DD_ECLOSED (node stopping). */
int dd_send(dd_mbox *from, const dd_pid *to, const void *term, size_t len);
int dd_send_flags(dd_mbox *from, const dd_pid *to, const void *term, size_t len, unsigned flags);
/* Send to a registered name on a node (node NULL: this node). */
int dd_send_reg(dd_mbox *from, const char *name, const char *node, const void *term, size_t len);
int dd_send_reg_flags(dd_mbox *from, const char *name, const char *node, const void *term,
                      size_t len, unsigned flags);
/* Send to a process alias (a reference, as in a gen:call reply tag [alias | Ref]). */
int dd_send_alias(dd_mbox *from, const dd_ref *alias, const void *term, size_t len);
/* exit(Pid, Reason) */
int dd_exit(dd_mbox *from, const dd_pid *to, const void *reason, size_t len);

/* ---- receiving --------------------------------------------------------------------- */

enum dd_msg_kind {
    DD_MSG_MESSAGE = 1,  /* an ordinary message */
    DD_MSG_EXIT = 2,     /* {'EXIT', From, Reason}: a linked process exited, or exit/2 */
    DD_MSG_DOWN = 3,     /* {'DOWN', Ref, process, Object, Reason} */
    DD_MSG_NODEUP = 4,   /* {nodeup, Node} (dd_monitor_nodes) */
    DD_MSG_NODEDOWN = 5, /* {nodedown, Node} */
};

typedef struct dd_msg {
    enum dd_msg_kind kind;
    bool has_from;
    const char *term;  /* the message as an external term, with version byte 131 */
    size_t len;
    dd_pid from;       /* the sender, when has_from (SEND_SENDER, REG_SEND, exits) */
} dd_msg;

/* Wait up to timeout_ms (0: poll, -1: forever) for the next message. Exit signals,
 * monitor 'DOWN's and node events arrive as messages of their own kinds (the mailbox traps
 * exits). DD_ETIMEDOUT, DD_ECLOSED. */
int dd_recv(dd_mbox *mb, dd_msg **out, int timeout_ms);
void dd_msg_free(dd_msg *msg);

/* ---- links and monitors ------------------------------------------------------------ */

int dd_link(dd_mbox *mb, const dd_pid *pid);
int dd_unlink(dd_mbox *mb, const dd_pid *pid);
/* Monitor a pid; *ref identifies the monitor ('DOWN' messages carry it). */
int dd_monitor(dd_mbox *mb, const dd_pid *pid, dd_ref *ref);
/* Monitor a registered name on a node ({Name, Node}). */
int dd_monitor_name(dd_mbox *mb, const char *name, const char *node, dd_ref *ref);
int dd_demonitor(dd_mbox *mb, const dd_ref *ref);
/* net_kernel:monitor_nodes(Flag): {nodeup, Node} / {nodedown, Node} messages. */
int dd_monitor_nodes(dd_mbox *mb, bool on);

/* ---- helpers ------------------------------------------------------------------------ */

/* Format a pid as <Node.Num.Serial> text into buf (always NUL-terminated; "" returned when
 * buf is NULL or cap 0). Equality: false when either side is not a valid pid / ref. */
const char *dd_pid_str(const dd_pid *pid, char *buf, size_t cap);
bool dd_pid_eq(const dd_pid *a, const dd_pid *b);
bool dd_ref_eq(const dd_ref *a, const dd_ref *b);

/* Skip one encoded term (no version byte) at term[*idx], never reading past term[len).
 * DD_OK with *idx just after it, or DD_EBADTERM (*idx unchanged). Use it instead of libei's
 * ei_skip_term on anything a peer sent: ei_skip_term recurses once per nesting level, so a
 * deeply nested term (a 10^6-deep list is 6 MB) overflows the stack; this walk is iterative
 * and bounded by len. Thread-safe, no allocation. */
int dd_term_skip(const char *term, size_t len, int *idx);

#if defined(__GNUC__) || defined(__clang__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif

#endif
