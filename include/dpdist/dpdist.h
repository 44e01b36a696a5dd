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
 *
 * Conventions of the function blocks below (as DPDK's): @param says whether NULL is
 * accepted and who owns what; @return lists every status the function can give beyond the
 * argument checks above (DD_EINVAL for a bad argument is always possible and not repeated);
 * "Thread safety" says which calls may run at the same time; "Blocks" says whether and how
 * long the call waits. A failing call sets dd_last_error(); a successful one may clear it.
 *
 * Dependencies: <ei.h> (Erlang's erl_interface). dd_pid and dd_ref are libei's erlang_pid
 * and erlang_ref, so the ABI of every function taking them follows libei's MAXATOMLEN_UTF8;
 * build against the erl_interface the library was built with (pkg-config dpdist names it).
 *
 * Linking: `pkg-config --cflags --libs dpdist` (shared, libdpdist.so.0) or dpdist-static.
 * The shared library exports exactly the functions of this header (DD_EXPORT).
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

/**
 * Short message for a status code.
 *
 * @param status  a dd_status (any int is accepted).
 * @return  a static string; "unknown status" for a value that is not a dd_status. Never NULL.
 * Thread safety: any thread. Blocks: no.
 */
DD_EXPORT const char *dd_strerror(int status);

/**
 * Detailed message of the last failed dd_ call on this thread.
 *
 * @return  a thread-local string, "" if none; valid until the next dd_ call on this thread.
 * Thread safety: thread-local. Blocks: no.
 */
DD_EXPORT const char *dd_last_error(void);

/**
 * Version of the library that runs (which may be newer than the headers a program was built
 * with: compare with DPDIST_VERSION_STRING of dpdist/version.h).
 *
 * @return  "MAJOR.MINOR.PATCH", static storage. Never NULL.
 * Thread safety: any thread. Blocks: no.
 */
DD_EXPORT const char *dd_version(void);

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

/**
 * Start a node: validate the name, read the cookie, listen, register with EPMD (the creation
 * EPMD returns goes into every pid and reference), start the control thread and, with a
 * config file that has a data plane, DPDK (EAL, the port, the poller).
 *
 * @param cfg  the configuration; read during the call only (strings are copied).
 * @param out  receives the node on DD_OK; untouched on failure.
 * @return
 *   - DD_OK
 *   - DD_EINVAL: a bad name, both or neither of sname/name, an unusable listen address
 *   - DD_ECOOKIE: the cookie (or $HOME/.erlang.cookie) is invalid, unreadable or too open
 *   - DD_ECONFIG: config_file cannot be read or is invalid (the line in dd_last_error())
 *   - DD_EIO: a socket, thread, EAL or port could not be set up
 *   - DD_EEPMD: EPMD cannot be reached or refuses the registration
 *   - DD_ENAMEINUSE: EPMD has the name already
 *   - DD_ENOMEM
 *   Everything started is undone on failure.
 * Thread safety: any thread; several nodes may run in one process, but one data plane per
 * process (EAL). Blocks: for the EPMD exchange and, with DPDK, EAL and port start-up
 * (seconds on real NICs).
 */
DD_EXPORT int dd_node_start(const struct dd_node_cfg *cfg, dd_node **out);

/**
 * Stop a node: close every mailbox (links and monitors get exit signals with reason
 * `shutdown`), close every connection, unregister from EPMD, stop DPDK, free everything.
 *
 * @param node  the node, or NULL (nothing happens). Invalid after the call, and so are its
 *   mailboxes; free every dd_msg before.
 * Thread safety: call once, when no other thread uses the node or any of its mailboxes
 * (in a call or after it). Blocks: until the control thread and the poller ended and
 * queued data was handed to the sockets (bounded by the connections' send timeouts).
 */
DD_EXPORT void dd_node_stop(dd_node *node);

/**
 * The node's full name ("name@host").
 *
 * @param node  the node (NULL: DD_EINVAL, returns NULL).
 * @return  a string owned by the node, valid until dd_node_stop; NULL for a NULL node.
 * Thread safety: any thread. Blocks: no.
 */
DD_EXPORT const char *dd_node_name(const dd_node *node);

/**
 * The creation EPMD gave the node (it is in every pid and reference of the node).
 *
 * @param node  the node (NULL: DD_EINVAL, returns 0).
 * @return  the creation; 0 for a NULL node.
 * Thread safety: any thread. Blocks: no.
 */
DD_EXPORT uint32_t dd_node_creation(const dd_node *node);

/**
 * Set the cookie for one peer (like erlang:set_cookie/2), or the node's default.
 *
 * @param node    the node.
 * @param peer    a node name, or NULL for the default cookie.
 * @param cookie  the cookie (copied): printable characters, as erl accepts.
 * @return  DD_OK; DD_ECOOKIE for an invalid cookie; DD_ENOMEM.
 *   It applies to handshakes that start afterwards.
 * Thread safety: any thread. Blocks: no (a lock held for a table update).
 */
DD_EXPORT int dd_set_cookie(dd_node *node, const char *peer, const char *cookie);

/**
 * Connect to a node now (like net_kernel:connect_node/1) and wait until the connection is up.
 *
 * @param node        the node.
 * @param peer        the peer's full node name.
 * @param timeout_ms  how long to wait; -1: one hour (not forever).
 * @return
 *   - DD_OK once the connection is up, or at once when peer is this node
 *   - DD_EINVAL: peer is not a node name
 *   - DD_ENOCONN: the node cannot be reached, refuses us, or uses the other kind of names
 *   - DD_ECOOKIE: the handshake failed on the cookie
 *   - DD_ETIMEDOUT
 *   - DD_ECLOSED: the node is stopping
 *   - DD_ENOMEM
 * Thread safety: any thread; concurrent calls for one peer share one connection attempt.
 * Blocks: up to timeout_ms.
 */
DD_EXPORT int dd_connect(dd_node *node, const char *peer, int timeout_ms);

/**
 * Like net_adm:ping/1: connect, then ask the peer's net_kernel whether it accepts us.
 *
 * @param node        the node.
 * @param peer        the peer's full node name.
 * @param timeout_ms  for the whole exchange; -1: 60 s.
 * @return  DD_OK (pong) or, for pang, what dd_connect returns, DD_ETIMEDOUT (no answer), or
 *   DD_ENOCONN (the answer was not yes). Also DD_ELIMIT/DD_ENOMEM for its temporary mailbox.
 * Thread safety: any thread. Blocks: up to timeout_ms.
 */
DD_EXPORT int dd_ping(dd_node *node, const char *peer, int timeout_ms);

enum dd_nodes_which {
    DD_NODES_VISIBLE = 1,   /* nodes() */
    DD_NODES_HIDDEN = 2,    /* nodes(hidden) */
    DD_NODES_CONNECTED = 3, /* nodes(connected): both */
};
/**
 * Names of the connected nodes (like nodes/1).
 *
 * @param node   the node.
 * @param which  DD_NODES_VISIBLE, DD_NODES_HIDDEN or DD_NODES_CONNECTED.
 * @param names  receives a NULL-terminated array owned by the caller (dd_nodes_free).
 * @param count  receives the number of names; may be NULL.
 * @return  DD_OK; DD_ENOMEM when the array cannot be allocated. Note: when memory runs out
 *   while copying the names, today the list ends early and DD_OK is returned.
 * Thread safety: any thread; a snapshot. Blocks: no.
 */
DD_EXPORT int dd_nodes(dd_node *node, enum dd_nodes_which which, char ***names, size_t *count);

/**
 * Free an array of dd_nodes.
 *
 * @param names  the array, or NULL (nothing happens).
 * Thread safety: any thread. Blocks: no.
 */
DD_EXPORT void dd_nodes_free(char **names);

enum dd_carrier_kind {
    DD_CARRIER_NONE = 0, /* not connected */
    DD_CARRIER_TCP = 1,
    DD_CARRIER_DPDK = 2,
};
/**
 * Which carrier moves data to a peer now (the upgrade to DPDK follows the TCP connection).
 *
 * @param node  the node.
 * @param peer  the peer's full node name.
 * @return  DD_CARRIER_TCP or DD_CARRIER_DPDK; DD_CARRIER_NONE when not connected, and for
 *   bad arguments (dd_last_error() is set then).
 * Thread safety: any thread; the answer may be stale when it returns. Blocks: no.
 */
DD_EXPORT enum dd_carrier_kind dd_node_carrier(dd_node *node, const char *peer);

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
    uint64_t rx_bad_tag; /* DPDK: frames for this peer's channel whose authentication tag did
                          * not verify (forged or damaged: dropped, no effect) */
    uint64_t rx_replay;  /* DPDK: frames whose packet number was seen before or is too old */
};
/**
 * Figures of one peer.
 *
 * @param node  the node.
 * @param peer  the peer's full node name.
 * @param out   receives the figures on DD_OK.
 * @return  DD_OK; DD_ENOTFOUND if not connected to peer.
 * Thread safety: any thread; reading resets the two gap maxima (so two readers share them).
 * Blocks: no.
 */
DD_EXPORT int dd_peer_stats(dd_node *node, const char *peer, struct dd_peer_stats *out);

/* The node's reassembly memory (dd_node_cfg.max_reassembly_bytes): what messages being
 * received hold now and at most, and how often a message had to wait for room. */
struct dd_reassembly_stats {
    uint64_t bytes;      /* reserved now: TCP fragmented messages and long packets, DPDK */
    uint64_t limit;      /* the cap */
    uint64_t high_water; /* the most reserved at once since the node started */
    uint64_t refusals;   /* starts that found no room (TCP retries and DPDK frames included) */
    uint64_t waiting;    /* TCP connections not read now because of it */
};
/**
 * The node's reassembly memory figures.
 *
 * @param node  the node.
 * @param out   receives the figures.
 * @return  DD_OK.
 * Thread safety: any thread; the figures are read one by one (not a snapshot). Blocks: no.
 */
DD_EXPORT int dd_node_reassembly(dd_node *node, struct dd_reassembly_stats *out);

/**
 * A short human summary of the node's data plane (port and channel counters), a
 * diagnostic. The full counters are in DPDK telemetry under /dpdist/ports, /dpdist/peers
 * and /dpdist/peer,SESSION.
 *
 * @param node  the node.
 * @param out   the stream to write to (not closed).
 * @return  DD_OK; DD_ENOTFOUND without a data plane.
 * Thread safety: any thread. Blocks: for the writes to out.
 */
DD_EXPORT int dd_dataplane_summary(dd_node *node, FILE *out);

/**
 * Disconnect from a node (erlang:disconnect_node/1): links and monitors across it fire.
 *
 * @param node  the node.
 * @param peer  the peer's full node name.
 * @return  DD_OK; DD_ENOTFOUND if not connected.
 * Thread safety: any thread. Blocks: no (the connection is closed by the control thread).
 */
DD_EXPORT int dd_disconnect(dd_node *node, const char *peer);

/**
 * A fresh reference of this node (unique within the node's creation).
 *
 * @param node  the node.
 * @param out   receives the reference.
 * @return  DD_OK.
 * Thread safety: any thread. Blocks: no.
 */
DD_EXPORT int dd_make_ref(dd_node *node, dd_ref *out);

/* ---- mailboxes --------------------------------------------------------------------- */

enum dd_mbox_flags {
    DD_MBOX_EXPRESS = 1, /* latency-critical: its messages use the express data lane */
};

/**
 * Open a mailbox: a new pid of the node, optionally registered under a name.
 *
 * @param node     the node.
 * @param regname  the registered name (an atom, copied), or NULL.
 * @param flags    0 or DD_MBOX_EXPRESS.
 * @param out      receives the mailbox on DD_OK.
 * @return  DD_OK; DD_ENAMEINUSE (regname taken); DD_ELIMIT (max_mailboxes open);
 *   DD_ECLOSED (the node is stopping); DD_ENOMEM.
 * Thread safety: any thread. Blocks: no.
 */
DD_EXPORT int dd_mbox_open(dd_node *node, const char *regname, unsigned flags, dd_mbox **out);

/**
 * Close a mailbox with reason `normal`: linked processes get an exit signal, monitors a
 * 'DOWN', its name is unregistered, messages not received are freed.
 *
 * @param mb  the mailbox, or NULL (nothing happens). Invalid after the call.
 * Thread safety: no other thread may be in a call on mb (dd_recv included) or make one
 * after; messages already received stay valid until dd_msg_free. Blocks: while the exit
 * signals are queued; a full TCP queue to a linked peer makes it wait for room.
 */
DD_EXPORT void dd_mbox_close(dd_mbox *mb);

/**
 * Close a mailbox with an exit reason, as dd_mbox_close otherwise.
 *
 * @param mb      the mailbox, or NULL (nothing happens). Invalid after the call.
 * @param reason  an encoded term with version byte (copied). One that is not a well-formed
 *   term is replaced by `normal`, silently.
 * @param len     its length.
 * Thread safety and blocking: as dd_mbox_close.
 */
DD_EXPORT void dd_mbox_close_reason(dd_mbox *mb, const void *reason, size_t len);

/**
 * The mailbox's pid.
 *
 * @param mb  the mailbox.
 * @return  the pid, owned by the mailbox and valid until it is closed; NULL for NULL.
 * Thread safety: any thread. Blocks: no.
 */
DD_EXPORT const dd_pid *dd_mbox_pid(const dd_mbox *mb);

/**
 * The mailbox's node.
 *
 * @param mb  the mailbox.
 * @return  the node; NULL for NULL.
 * Thread safety: any thread. Blocks: no.
 */
DD_EXPORT dd_node *dd_mbox_node(const dd_mbox *mb);

/* ---- sending ----------------------------------------------------------------------- */

enum dd_send_flags {
    DD_SEND_NONBLOCK = 1, /* return DD_EWOULDBLOCK instead of waiting for queue room */
};

/**
 * Send a term to a pid, like erlang:send/2: a message to an unreachable node is dropped,
 * not an error; the node is connected on demand; messages from one mailbox to one pid
 * arrive in order.
 *
 * @param from  the sending mailbox.
 * @param to    the destination pid (local or remote).
 * @param term  the message in external format with version byte (e.g. ei_x_buff.buff),
 *   copied (or handed to the NIC) before the call returns.
 * @param len   its length (ei_x_buff.index).
 * @return
 *   - DD_OK (also when the message was dropped: the node is unreachable or the pid dead)
 *   - DD_EINVAL: also for a node name that is not one
 *   - DD_ETOOBIG: len above max_message_bytes
 *   - DD_EBADTERM: not one well-formed term with version byte
 *   - DD_ECLOSED: from is being closed, or the node is stopping
 *   - DD_ENOMEM
 * Thread safety: any thread, also on the same mailbox. Blocks: while the connection's
 * queue is full, without a time limit (use dd_send_flags with DD_SEND_NONBLOCK to get
 * DD_EWOULDBLOCK instead).
 */
DD_EXPORT int dd_send(dd_mbox *from, const dd_pid *to, const void *term, size_t len);

/**
 * dd_send with flags.
 *
 * @param flags  0 or DD_SEND_NONBLOCK.
 * @return  as dd_send, and DD_EWOULDBLOCK with DD_SEND_NONBLOCK when the queue is full
 *   (nothing was sent).
 * Thread safety: as dd_send. Blocks: as dd_send without DD_SEND_NONBLOCK, never with it.
 */
DD_EXPORT int dd_send_flags(dd_mbox *from, const dd_pid *to, const void *term, size_t len,
                            unsigned flags);

/**
 * Send to a registered name on a node ({Name, Node} ! Term).
 *
 * @param name  the registered name (an atom).
 * @param node  the node's full name, or NULL for this node.
 * Other parameters, @return, thread safety, blocking: as dd_send. A name nobody registered
 * drops the message (DD_OK).
 */
DD_EXPORT int dd_send_reg(dd_mbox *from, const char *name, const char *node, const void *term,
                          size_t len);

/**
 * dd_send_reg with flags (0 or DD_SEND_NONBLOCK; @return as dd_send_flags).
 */
DD_EXPORT int dd_send_reg_flags(dd_mbox *from, const char *name, const char *node,
                                const void *term, size_t len, unsigned flags);

/**
 * Send to a process alias (a reference, as in a gen:call reply tag [alias | Ref]).
 *
 * @param alias  the alias reference.
 * Other parameters, @return, thread safety, blocking: as dd_send.
 */
DD_EXPORT int dd_send_alias(dd_mbox *from, const dd_ref *alias, const void *term, size_t len);

/**
 * exit(Pid, Reason): send an exit signal to a pid.
 *
 * @param from    the sending mailbox.
 * @param to      the target pid.
 * @param reason  the reason, an encoded term with version byte (copied).
 * @param len     its length.
 * @return  as dd_send.
 * Thread safety: any thread. Blocks: as dd_send.
 */
DD_EXPORT int dd_exit(dd_mbox *from, const dd_pid *to, const void *reason, size_t len);

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

/**
 * Receive the next message. Exit signals, monitor 'DOWN's and node events arrive as
 * messages of their own kinds (the mailbox traps exits).
 *
 * @param mb          the mailbox.
 * @param out         receives the message, owned by the caller until dd_msg_free.
 * @param timeout_ms  0: do not wait; -1: wait forever; else at most this long.
 * @return  DD_OK; DD_ETIMEDOUT (nothing within timeout_ms); DD_ECLOSED (mb is being closed).
 * Thread safety: any thread; receivers on one mailbox take turns (a second dd_recv waits
 * for the first, within its own timeout). Blocks: up to timeout_ms; with a data plane
 * polled inline, the waiting thread may poll the NIC meanwhile (docs/runtime.md).
 */
DD_EXPORT int dd_recv(dd_mbox *mb, dd_msg **out, int timeout_ms);

/**
 * Free a received message.
 *
 * @param msg  the message, or NULL (nothing happens).
 * Thread safety: any thread, also after its mailbox was closed (not after dd_node_stop).
 * Blocks: no.
 */
DD_EXPORT void dd_msg_free(dd_msg *msg);

/* ---- links and monitors ------------------------------------------------------------ */

/**
 * link(Pid): when either side exits, the other gets an exit signal (DD_MSG_EXIT here).
 *
 * @param mb   the mailbox.
 * @param pid  the pid to link to (a dead or unreachable one gives a DD_MSG_EXIT with
 *   noproc / noconnection).
 * @return  DD_OK; DD_ECLOSED; DD_ENOMEM; a send failure as dd_send.
 * Thread safety: any thread. Blocks: as dd_send.
 */
DD_EXPORT int dd_link(dd_mbox *mb, const dd_pid *pid);

/**
 * unlink(Pid).
 *
 * @return  DD_OK (also when not linked); DD_ECLOSED; DD_ENOMEM; a send failure as dd_send.
 * Thread safety: any thread. Blocks: as dd_send.
 */
DD_EXPORT int dd_unlink(dd_mbox *mb, const dd_pid *pid);

/**
 * Monitor a pid.
 *
 * @param ref  receives the monitor's reference ('DOWN' messages carry it).
 * @return  DD_OK; DD_ECLOSED; DD_ENOMEM; a send failure as dd_send.
 * Thread safety: any thread. Blocks: as dd_send.
 */
DD_EXPORT int dd_monitor(dd_mbox *mb, const dd_pid *pid, dd_ref *ref);

/**
 * Monitor a registered name on a node ({Name, Node}).
 *
 * @param name  the registered name (an atom).
 * @param node  the node's full name, or NULL for this node.
 * @param ref   receives the monitor's reference.
 * @return  as dd_monitor.
 */
DD_EXPORT int dd_monitor_name(dd_mbox *mb, const char *name, const char *node, dd_ref *ref);

/**
 * demonitor(Ref).
 *
 * @return  DD_OK (also for an unknown reference); DD_ECLOSED; a send failure as dd_send.
 * Thread safety: any thread. Blocks: as dd_send.
 */
DD_EXPORT int dd_demonitor(dd_mbox *mb, const dd_ref *ref);

/**
 * net_kernel:monitor_nodes(Flag): DD_MSG_NODEUP / DD_MSG_NODEDOWN messages to mb.
 *
 * @param on  true to subscribe, false to stop.
 * @return  DD_OK; DD_ECLOSED; DD_ENOMEM.
 * Thread safety: any thread. Blocks: no.
 */
DD_EXPORT int dd_monitor_nodes(dd_mbox *mb, bool on);

/* ---- helpers ------------------------------------------------------------------------ */

/**
 * Format a pid as <Node.Num.Serial> text.
 *
 * @param pid  the pid.
 * @param buf  the output, always NUL-terminated (truncated to cap).
 * @param cap  its size.
 * @return  buf; "" (static) when buf is NULL or cap 0.
 * Thread safety: any thread. Blocks: no.
 */
DD_EXPORT const char *dd_pid_str(const dd_pid *pid, char *buf, size_t cap);

/**
 * Pid equality (node, number, serial, creation).
 *
 * @return  true if equal; false when either side is NULL or not a valid pid.
 * Thread safety: any thread. Blocks: no.
 */
DD_EXPORT bool dd_pid_eq(const dd_pid *a, const dd_pid *b);

/**
 * Reference equality (node, creation, words).
 *
 * @return  true if equal; false when either side is NULL or not a valid reference.
 * Thread safety: any thread. Blocks: no.
 */
DD_EXPORT bool dd_ref_eq(const dd_ref *a, const dd_ref *b);

/**
 * Skip one encoded term (no version byte) at term[*idx], never reading past term[len).
 * Use it instead of libei's ei_skip_term on anything a peer sent: ei_skip_term recurses once
 * per nesting level, so a deeply nested term (a 10^6-deep list is 6 MB) overflows the stack;
 * this walk is iterative and bounded by len.
 *
 * @param term  the buffer.
 * @param len   its length.
 * @param idx   in: where the term starts; out on DD_OK: just after it.
 * @return  DD_OK; DD_EBADTERM (*idx unchanged).
 * Thread safety: any thread, no allocation. Blocks: no.
 */
DD_EXPORT int dd_term_skip(const char *term, size_t len, int *idx);

#if defined(__GNUC__) || defined(__clang__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif

#endif
