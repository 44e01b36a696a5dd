/* EPMD client: blocking calls with a deadline, used by the dpdist-epmd command line
 * (-names, -dump, -kill, -stop) and by nodes (registration, PORT_PLEASE2 lookups).
 * Works against dpdist-epmd and the reference epmd alike. Thread-safe (no shared state).
 * Functions return 0 or a negative errno (-ETIMEDOUT, -ECONNREFUSED, -EPROTO for a reply
 * that does not parse, ...). */
#ifndef DPDIST_CONTROL_EPMD_CLIENT_H
#define DPDIST_CONTROL_EPMD_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/epmd/epmd_codec.h"

/* host: a name or address; NULL means this host (::1, then 127.0.0.1). Returns a connected
 * blocking socket or a negative errno. */
int epmd_client_connect(const char *host, uint16_t port, int timeout_ms);

/* NAMES_REQ or DUMP_REQ: *text receives the lines (malloc'd, NUL-terminated, caller frees),
 * *epmd_port the port the daemon reports. */
int epmd_client_names(const char *host, uint16_t port, bool dump, int timeout_ms,
                      uint32_t *epmd_port, char **text, size_t *text_len);

/* Result of a PORT_PLEASE2 lookup; name/extra copied. */
struct epmd_lookup {
    bool found;
    uint16_t port;
    uint8_t node_type, protocol;
    uint16_t high_vsn, low_vsn;
    char name[EPMD_MAXSYMLEN + 1];
    uint8_t extra[EPMD_EXTRA_MAX];
    uint16_t extra_len;
};
int epmd_client_port_please(const char *host, uint16_t port, const char *name, int timeout_ms,
                            struct epmd_lookup *out);

/* ALIVE2_REQ. On success *fd is the registration socket: the registration lasts until the
 * caller closes it. *result is the daemon's result byte (0 = registered; anything else means
 * the name is taken or invalid), *creation the creation it assigned. */
int epmd_client_register(const char *host, uint16_t port, const struct epmd_node_rec *rec,
                         int timeout_ms, int *fd, uint8_t *result, uint32_t *creation);

/* KILL_REQ / STOP_REQ: reply holds what the daemon answered (up to 7 bytes, NUL-terminated;
 * empty if it closed without answering). */
int epmd_client_kill(const char *host, uint16_t port, int timeout_ms, char reply[8]);
int epmd_client_stop(const char *host, uint16_t port, const char *name, int timeout_ms,
                     char reply[8]);

#endif
