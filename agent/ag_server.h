/* ag_server: the agent's Unix socket (docs/agent.md §6): who may connect, the VMs' links and
 * their data sockets, the agent protocol's messages in and out (agent/ag_proto does the
 * bytes; this room does the sockets and the rules).
 *
 * Owns: the listening socket (created, its mode and group set, unlinked at close), every
 * accepted socket and its struct ag_client, the counters. Threads: one, the agent's main
 * thread, calls every function here; nothing is shared.
 *
 * Rules kept (each refusal is counted, logged and closes that socket):
 * - SO_PEERCRED of every accepted socket is checked against allow_uids/allow_gids before a
 *   byte is read (both lists empty: whoever can open the socket).
 * - The first message on a socket decides what it is: REGISTER makes it a VM's link (one per
 *   VM, at most max_vms), ATTACH makes it a data socket (it must come from the pid of a live
 *   link, and name a pending offer of that VM). Anything else closes it.
 * - Every message is decoded by ag_proto before it has an effect; a message that does not
 *   decode, or that a VM may not send, closes its socket. Input is read into a fixed
 *   AG_PROTO_MSG_MAX buffer per socket (no growth); replies are written whole or the socket
 *   is closed (a VM that does not read its link is broken).
 * - The agent probes every link each probe_interval_ms; a link that answered none for
 *   probe_timeout_ms is closed with its VM's data sockets.
 *
 * Offers: with a data-plane endpoint, OFFER_OUT/OFFER_IN get a v2 trailer (agent/ag_offer),
 * pending until the VM's ATTACH names its token, its link closes, or attach_timeout_ms
 * passes; without one, status `unreachable`.
 * Not yet: an ATTACH that names a pending offer is refused `unreachable` (the channel to the
 * peer's agent is not built), so no connection reaches the data plane; docs/agent.md §9.
 */
#ifndef DPDIST_AGENT_AG_SERVER_H
#define DPDIST_AGENT_AG_SERVER_H

#include <stdint.h>
#include <sys/types.h>

#include "agent/ag_offer.h"

#define AG_SERVER_IDS_MAX 64 /* = CFG_NAMES_MAX: ids in allow_uids / allow_gids */

struct ag_server_cfg {
    const char *socket; /* absolute path; a stale socket there is replaced */
    mode_t socket_mode; /* e.g. 0660 */
    gid_t socket_gid;   /* (gid_t)-1: the agent's own group */
    uint32_t allow_uids[AG_SERVER_IDS_MAX], n_uids;
    uint32_t allow_gids[AG_SERVER_IDS_MAX], n_gids;
    uint32_t max_vms, max_conns;
    uint32_t probe_interval_ms, probe_timeout_ms;
    uint32_t attach_timeout_ms; /* how long an issued offer waits for its ATTACH */
    uint8_t frame_auth;         /* WELCOME's mode */
    uint64_t endpoint_id;       /* WELCOME's endpoint_id, ≠ 0 */
    /* The data-plane endpoint the trailers describe; NULL without a port (then every offer
     * is answered `unreachable`; ag_server_set_endpoint sets it later). Copied. */
    const struct ag_endpoint *endpoint;
};

/* Counters: X(field, what it counts). */
#define AG_SERVER_COUNTERS(X)                                                                      \
    X(accepted, "sockets accepted")                                                                \
    X(refused_cred, "sockets refused by SO_PEERCRED (allow_uids/allow_gids)")                      \
    X(refused_limit, "sockets or links refused at max_vms/max_conns")                              \
    X(refused_version, "REGISTER of another protocol version")                                     \
    X(bad_message, "sockets closed for a message that does not decode or is not allowed")          \
    X(links, "links registered")                                                                   \
    X(attach_refused, "ATTACH refused (no live link of that pid, no pending offer)")               \
    X(offers_issued, "offers and answers issued (pending until ATTACH or expiry)")                 \
    X(offers_refused, "OFFER_OUT/OFFER_IN answered with a status")                                 \
    X(offers_expired, "issued offers that no ATTACH named in attach_timeout_ms")                   \
    X(probe_timeouts, "links closed for unanswered probes")                                        \
    X(tx_full, "sockets closed because a reply did not fit in the kernel buffer")                  \
    X(closed_by_vm, "sockets the VM closed")

struct ag_server_counters {
#define AG_X_FIELD(f, what) uint64_t f;
    AG_SERVER_COUNTERS(AG_X_FIELD)
#undef AG_X_FIELD
};

struct ag_server;

/* Binds and listens on cfg->socket (umask 0177 around bind, then socket_mode and
 * socket_gid). Refuses, with err: a path that is not a socket, a socket another process
 * answers on (another agent). Returns the server or NULL (nothing left behind). cfg is
 * copied. */
struct ag_server *ag_server_open(const struct ag_server_cfg *cfg, char *err, size_t errlen);

/* The data-plane endpoint the offers describe, once the port is up (copied). */
void ag_server_set_endpoint(struct ag_server *s, const struct ag_endpoint *ep);

/* An epoll descriptor that is readable when ag_server_step has work. */
int ag_server_fd(const struct ag_server *s);

/* Accepts, reads and answers whatever is ready (never blocks), then runs the probe timers
 * at now_ms (CLOCK_MONOTONIC). Returns the number of sockets that had work. */
unsigned ag_server_step(struct ag_server *s, uint64_t now_ms);

/* Milliseconds until the next probe timer (for the caller's wait), at most 1000. */
uint64_t ag_server_next_timer_ms(const struct ag_server *s, uint64_t now_ms);

/* Links open now. */
unsigned ag_server_links(const struct ag_server *s);

void ag_server_counters(const struct ag_server *s, struct ag_server_counters *out);

/* Tells every link REFUSED(shutting_down), closes every socket, unlinks the socket path and
 * frees s. NULL is ignored. */
void ag_server_close(struct ag_server *s);

#endif
