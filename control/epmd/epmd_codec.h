/* EPMD wire codec: requests and responses of the EPMD protocol (OTP erl_dist_protocol,
 * "EPMD Protocol"), as pure functions over byte buffers. No I/O, no allocation.
 *
 * Used by the server (control/epmd/epmd_server.c), the client (epmd_client.c) and the
 * node runtime's registration. All integers on the wire are big-endian. Every request is
 * preceded by a 2-byte length; responses are not.
 */
#ifndef DPDIST_CONTROL_EPMD_CODEC_H
#define DPDIST_CONTROL_EPMD_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EPMD_DEFAULT_PORT 4369

/* Request and response codes (one byte, ASCII letters on the wire). */
enum epmd_code {
    EPMD_ALIVE2_REQ = 'x',   /* 120 */
    EPMD_PORT2_REQ = 'z',    /* 122, PORT_PLEASE2_REQ */
    EPMD_NAMES_REQ = 'n',    /* 110 */
    EPMD_DUMP_REQ = 'd',     /* 100 */
    EPMD_KILL_REQ = 'k',     /* 107 */
    EPMD_STOP_REQ = 's',     /* 115 */
    EPMD_ALIVE2_RESP = 'y',  /* 121, 16-bit creation */
    EPMD_ALIVE2_X_RESP = 'v', /* 118, 32-bit creation */
    EPMD_PORT2_RESP = 'w',   /* 119 */
};

/* Limits of the reference daemon (erts/epmd/src/epmd_int.h). A node name is an atom:
 * at most 255 characters of UTF-8, so at most 255*4 bytes. */
#define EPMD_NAME_MAX_CHARS 255
#define EPMD_MAXSYMLEN (255 * 4)
#define EPMD_EXTRA_MAX EPMD_MAXSYMLEN
/* A whole request including its 2-byte length must be shorter than this. */
#define EPMD_INBUF_SIZE (3 * EPMD_MAXSYMLEN)
/* Largest PORT2_RESP: 14 fixed bytes + name + extra. */
#define EPMD_PORT2_RESP_MAX (14 + EPMD_MAXSYMLEN + EPMD_EXTRA_MAX)
#define EPMD_ALIVE2_FIXED 13 /* code..namelen (11) + extralen (2) */

/* Node types in ALIVE2 and PORT2 records. */
#define EPMD_NODE_TYPE_NORMAL 77 /* 'M', published */
#define EPMD_NODE_TYPE_HIDDEN 72 /* 'H', hidden / C node */
#define EPMD_PROTO_TCP_IPV4 0

/* Codec results: 0 for success, and one error per distinct malformation, so the server
 * can log precisely and tests can assert exactly which rule fired. */
#define EPMD_ERRORS(X)                                                                             \
    X(EPMD_OK, "ok")                                                                               \
    X(EPMD_E_NEED_MORE, "request incomplete, more bytes needed")                                  \
    X(EPMD_E_SIZE, "invalid packet size")                                                          \
    X(EPMD_E_TRAILING, "bytes after the request")                                                  \
    X(EPMD_E_EMPTY, "empty request")                                                               \
    X(EPMD_E_UNKNOWN, "unknown request code")                                                      \
    X(EPMD_E_SHORT, "request too short for its type")                                              \
    X(EPMD_E_NAME_LEN, "node name length does not fit the packet")                                 \
    X(EPMD_E_EXTRA_LEN, "extra field length does not fit the packet")                              \
    X(EPMD_E_NAME_EMPTY, "node name is empty")                                                     \
    X(EPMD_E_NAME_NUL, "node name contains a NUL byte")                                            \
    X(EPMD_E_NAME_UTF8, "node name is not valid UTF-8")                                            \
    X(EPMD_E_NAME_LONG, "node name is longer than 255 characters")                                 \
    X(EPMD_E_EXTRA_LONG, "extra field is longer than allowed")                                     \
    X(EPMD_E_BUFFER, "output buffer too small")                                                    \
    X(EPMD_E_RESP, "malformed response")

enum epmd_result {
#define EPMD_X_ENUM(code, msg) code,
    EPMD_ERRORS(EPMD_X_ENUM)
#undef EPMD_X_ENUM
        EPMD_E__COUNT
};

const char *epmd_strerror(enum epmd_result r);

/* A node record, as registered by ALIVE2_REQ and returned by PORT2_RESP. name and extra
 * point into the parsed buffer (not NUL-terminated) until copied by the caller. */
struct epmd_node_rec {
    uint16_t port;
    uint8_t node_type;
    uint8_t protocol;
    uint16_t high_vsn;
    uint16_t low_vsn;
    const uint8_t *name;
    uint16_t name_len;
    const uint8_t *extra;
    uint16_t extra_len;
};

struct epmd_request {
    enum epmd_code code;
    union {
        struct epmd_node_rec alive2; /* EPMD_ALIVE2_REQ */
        struct {                     /* EPMD_PORT2_REQ, EPMD_STOP_REQ */
            const uint8_t *name;
            uint16_t name_len;
        } named;
    } u;
};

/* --- framing ------------------------------------------------------------------------- */

/* Given the first `got` bytes received on a connection (length prefix included), decide:
 * EPMD_E_NEED_MORE (keep reading), EPMD_OK (*total set to the full request size including
 * the prefix; got == *total), EPMD_E_SIZE (declared length < 1 or the request would not fit
 * EPMD_INBUF_SIZE), EPMD_E_TRAILING (more bytes than the declared length). */
enum epmd_result epmd_frame_check(const uint8_t *buf, size_t got, size_t *total);

/* --- requests (server side) ---------------------------------------------------------- */

/* Parse the request body (after the 2-byte length). Validation follows the reference
 * daemon: structural errors and a bad name make the server close the connection; for
 * ALIVE2 only the structure is checked here, the name rules by epmd_check_name(). */
enum epmd_result epmd_parse_request(const uint8_t *body, size_t len, struct epmd_request *out);

/* Name rules shared by ALIVE2, PORT2 and STOP: 1..255 UTF-8 characters, no NUL. */
enum epmd_result epmd_check_name(const uint8_t *name, size_t len);

/* --- responses (server side); each returns the bytes written or 0 if cap is short --- */

/* 'v' + result + 32-bit creation when the node's highest version is >= 6, else
 * 'y' + result + 16-bit creation. */
size_t epmd_build_alive2_resp(uint8_t *out, size_t cap, uint16_t high_vsn, uint8_t result,
                              uint32_t creation);
/* Success record; rec->name/extra are copied. */
size_t epmd_build_port2_resp(uint8_t *out, size_t cap, const struct epmd_node_rec *rec);
/* The 2-byte error reply [119, 1]. */
size_t epmd_build_port2_error(uint8_t *out, size_t cap);
/* NAMES/DUMP responses start with the daemon's port as 32 bits. */
size_t epmd_build_port_header(uint8_t *out, size_t cap, uint32_t epmd_port);
/* "name <name> at port <port>\n" */
size_t epmd_build_names_line(uint8_t *out, size_t cap, const uint8_t *name, size_t name_len,
                             uint16_t port);
/* "active name     <<name>> at port <port>, fd = <fd>\n\0" (the NUL is part of it, as in
 * the reference daemon). */
size_t epmd_build_dump_active(uint8_t *out, size_t cap, const uint8_t *name, size_t name_len,
                              uint16_t port, int fd);
/* "old/unused name <<name>>, port = <port>, fd = <fd> \n\0" */
size_t epmd_build_dump_unused(uint8_t *out, size_t cap, const uint8_t *name, size_t name_len,
                              uint16_t port, int fd);

/* --- requests (client side); each returns the bytes written (prefix included) or 0 ---- */

size_t epmd_build_alive2_req(uint8_t *out, size_t cap, const struct epmd_node_rec *rec);
size_t epmd_build_port2_req(uint8_t *out, size_t cap, const uint8_t *name, size_t name_len);
size_t epmd_build_simple_req(uint8_t *out, size_t cap, enum epmd_code code);
size_t epmd_build_stop_req(uint8_t *out, size_t cap, const uint8_t *name, size_t name_len);

/* --- responses (client side) --------------------------------------------------------- */

/* ALIVE2 reply: EPMD_E_NEED_MORE until complete; then *result and *creation. *used is the
 * number of bytes the reply occupies. */
enum epmd_result epmd_parse_alive2_resp(const uint8_t *buf, size_t len, uint8_t *result,
                                        uint32_t *creation, size_t *used);
/* PORT2 reply: EPMD_E_NEED_MORE until complete; *found = false for the error form. */
enum epmd_result epmd_parse_port2_resp(const uint8_t *buf, size_t len, bool *found,
                                       struct epmd_node_rec *rec, size_t *used);

#endif
