/* dpdist-epmd's daemon: an EPMD-compatible name server on TCP (IPv4 and IPv6).
 *
 * One thread, one epoll loop, non-blocking sockets. Semantics follow the reference daemon
 * (erts/epmd): a registration lives exactly as long as its connection, and any further byte
 * on it unregisters; names are unique (a second ALIVE2 for a live name is refused with
 * result 1); creation numbers change on every re-registration and skip 0..3; ALIVE2, DUMP,
 * KILL and STOP are served to local peers only; KILL answers "NO" while names are
 * registered and STOP is ignored unless relaxed_command_check; connections that are not
 * registrations are closed after one request or when silent for packet_timeout, counted
 * as the reference counts it (whole seconds: see epmd_idle.h).
 *
 * Testing flags of the reference (delay_accept_s, delay_write_s) simulate a busy server: the
 * loop sleeps, so every client waits, exactly where the reference sleeps (docs/epmd.md).
 *
 * Bounds: at most max_conns connections (default: what RLIMIT_NOFILE allows). When full, a
 * new connection evicts the longest-idle connection that is not a registration, so a flood of
 * silent clients cannot lock out real ones; if every connection is a registration the new one
 * is closed. At most max_unreg forgotten names are remembered for their creation counters.
 */
#ifndef DPDIST_CONTROL_EPMD_SERVER_H
#define DPDIST_CONTROL_EPMD_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct epmd_server_cfg {
    uint16_t port;             /* 4369 unless set; 0: any free port (tests) */
    const char *addresses;     /* "a,b c" list; NULL/empty: any address (v4 and v6) */
    bool relaxed;              /* -relaxed_command_check */
    unsigned packet_timeout_s; /* idle timeout of non-registration connections (60) */
    unsigned delay_accept_s;   /* -delay_accept: sleep when woken, before accepting (0: off) */
    unsigned delay_write_s;    /* -delay_write: sleep before each write of a reply (0: off) */
    unsigned max_conns;        /* 0: derived from RLIMIT_NOFILE */
    unsigned max_unreg;        /* remembered unregistered names (1000) */
    const int *listen_fds;     /* already-bound listening sockets (systemd), or NULL */
    size_t n_listen_fds;
};

void epmd_server_cfg_defaults(struct epmd_server_cfg *cfg);

struct epmd_server;

/* Binds and listens. NULL on failure with a message in err; *in_use set when the port is
 * already taken by another daemon (the reference daemon then exits 0). */
struct epmd_server *epmd_server_new(const struct epmd_server_cfg *cfg, char *err, size_t errlen,
                                    bool *in_use);

/* The port listened on (useful when cfg.port was 0: the kernel chose it). */
uint16_t epmd_server_port(const struct epmd_server *srv);

/* Runs the loop until KILL_REQ is accepted or epmd_server_stop() is called. Returns 0.
 * While the loop sleeps for a testing delay, epmd_server_get_stats() may wait too. */
int epmd_server_run(struct epmd_server *srv);

/* Thread- and signal-safe: makes epmd_server_run() return soon. */
void epmd_server_stop(struct epmd_server *srv);

/* Closes every socket and frees everything. */
void epmd_server_free(struct epmd_server *srv);

/* Introspection for tests and the debug log. */
struct epmd_server_stats {
    size_t registered;    /* live names */
    size_t unregistered;  /* remembered old names */
    size_t connections;   /* open client connections */
    uint64_t evictions;   /* idle connections closed to make room */
    uint64_t refused;     /* connections closed at once because every slot was a registration */
    uint64_t bad_requests;
};
void epmd_server_get_stats(struct epmd_server *srv, struct epmd_server_stats *out);

#endif
