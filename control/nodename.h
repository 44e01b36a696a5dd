/* Node names: building our own name the way `erl -sname/-name` does, validating names, and
 * telling short names from long ones.
 *
 * Owns: the nodename_ rules. Called by the runtime at start-up (nodename_from_arg) and by
 * the handshake for names it receives (nodename_parse with NODENAME_PEER). Everything except
 * nodename_from_arg / nodename_local_host is pure; those two ask the system for the host
 * name (gethostname, getaddrinfo, getifaddrs) and may block on the resolver.
 *
 * Rules (lib/kernel/src/net_kernel.erl create_name/valid_name_head/validate_hostname,
 * inet_tcp_dist.erl splitnode, dist_util.erl is_name_ok):
 *   - a full name is ALIVE@HOST: exactly one '@', both parts non-empty, UTF-8, at most 255
 *     characters in all (it is an atom);
 *   - our own ALIVE part: [0-9A-Za-z_-]+; our own HOST part: characters U+0021..U+00FF;
 *   - names received from peers are checked as OTP's handshake checks them (one '@', both
 *     parts non-empty), plus: valid UTF-8, no NUL, C0 control character or DEL;
 *   - a name is long if its host contains a '.' or is an IPv4/IPv6 address, else short.
 *     Our own long names must be long by that rule (erl accepts `-name foo@localhost`, but
 *     such a node cannot dial any dotless host, so dpdist refuses it up front).
 *     Short and long names never mix: erl refuses such connections ("System (NOT) running to
 *     use fully qualified hostnames"), and so does dpdist (compare nodename_kind()).
 * Thread-safe: no shared state.
 */
#ifndef DPDIST_CONTROL_NODENAME_H
#define DPDIST_CONTROL_NODENAME_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NODENAME_MAX_CHARS 255
/* 255 characters of at most 4 UTF-8 bytes each. */
#define NODENAME_MAX_BYTES (NODENAME_MAX_CHARS * 4)

#define NODENAME_ERRORS(X)                                                                         \
    X(NODENAME_OK, "ok")                                                                           \
    X(NODENAME_E_EMPTY, "node name is empty")                                                      \
    X(NODENAME_E_TOO_LONG, "node name is longer than 255 characters")                              \
    X(NODENAME_E_UTF8, "node name is not valid UTF-8")                                             \
    X(NODENAME_E_CONTROL, "node name contains a NUL, control character or DEL")                    \
    X(NODENAME_E_NO_AT, "node name has no '@' (expected name@host)")                               \
    X(NODENAME_E_MANY_AT, "node name has more than one '@'")                                       \
    X(NODENAME_E_ALIVE_EMPTY, "the part before '@' is empty")                                      \
    X(NODENAME_E_ALIVE_CHARS, "the part before '@' may only contain A-Z a-z 0-9 _ -")              \
    X(NODENAME_E_HOST_EMPTY, "the host part after '@' is empty")                                   \
    X(NODENAME_E_HOST_CHARS, "the host part may only contain the characters U+0021 to U+00FF")     \
    X(NODENAME_E_SHORT_DOT,                                                                        \
      "a short name (-sname) cannot have a host with a '.' or an IP address; use -name")           \
    X(NODENAME_E_LONG_NO_DOT,                                                                      \
      "a long name (-name) needs a host with a '.' or an IP address; use -sname")                  \
    X(NODENAME_E_HOSTNAME, "cannot determine this machine's host name")                            \
    X(NODENAME_E_NO_FQDN, "cannot determine a fully qualified host name or address for -name; "    \
                          "give the host explicitly (-name name@host.domain)")

enum nodename_result {
#define NODENAME_X_ENUM(code, msg) code,
    NODENAME_ERRORS(NODENAME_X_ENUM)
#undef NODENAME_X_ENUM
        NODENAME_E__COUNT
};

/* Message for a result code; never NULL, static storage. */
const char *nodename_strerror(enum nodename_result r);

enum nodename_kind {
    NODENAME_INVALID = 0,
    NODENAME_SHORT = 1, /* erl -sname */
    NODENAME_LONG = 2,  /* erl -name */
};

/* A parsed name. All strings NUL-terminated copies; the struct owns nothing else. */
struct nodename {
    char full[NODENAME_MAX_BYTES + 1];
    char alive[NODENAME_MAX_BYTES + 1];
    char host[NODENAME_MAX_BYTES + 1];
    enum nodename_kind kind;
};

/* nodename_parse flags */
#define NODENAME_PEER 0x1u /* lenient rules for names received from peers (see above) */

/* Validate a full name "alive@host" of len bytes (need not be NUL-terminated) and split it
 * into *out. Without NODENAME_PEER our own stricter rules apply. Pure. */
enum nodename_result nodename_parse(struct nodename *out, const char *name, size_t len,
                                    unsigned flags);

/* Kind of a host part (len bytes): NODENAME_LONG if it contains '.' or parses as an IPv4 or
 * IPv6 address, else NODENAME_SHORT. Pure. */
enum nodename_kind nodename_host_kind(const char *host, size_t len);

/* Kind of a full NUL-terminated name "alive@host" (the host after the last '@'), or
 * NODENAME_INVALID if it has no '@' or an empty host. Pure; the handshake and the runtime use
 * it to refuse short/long mixes. */
enum nodename_kind nodename_kind(const char *full);

/* Build our name from an -sname/-name argument as erl does. `arg` is "alive" or
 * "alive@host". Without a host, local_host is used: for NODENAME_SHORT the host name up to
 * its first '.', for NODENAME_LONG it must be a fully qualified name or an address
 * (NODENAME_E_NO_FQDN). A short name with a dotted host is refused (NODENAME_E_SHORT_DOT),
 * as erl does; a long name with a dotless host too (NODENAME_E_LONG_NO_DOT). Own-name rules
 * apply. *out is written only on success. Pure. */
enum nodename_result nodename_build(struct nodename *out, const char *arg, enum nodename_kind kind,
                                    const char *local_host);

/* This machine's host for a name of the given kind, into buf (cap bytes): short -> the host
 * name up to its first '.'; long -> the canonical name if it contains a '.', else the host
 * name if it does, else the first non-loopback IPv4 address. Does I/O (may block on DNS). */
enum nodename_result nodename_local_host(enum nodename_kind kind, char *buf, size_t cap);

/* nodename_build with nodename_local_host when arg has no host. Does I/O. */
enum nodename_result nodename_from_arg(struct nodename *out, const char *arg,
                                       enum nodename_kind kind);

#ifdef __cplusplus
}
#endif

#endif
