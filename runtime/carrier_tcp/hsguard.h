/* Handshake guard (runtime/carrier_tcp/hsguard.c): slows down repeated failed handshakes from one source
 * address, so a peer guessing cookies gets a few guesses a minute instead of thousands a
 * second, and keeps the log lines of those failures bounded.
 *
 * Owns: the per-address failure table and its log budget. Pure: time comes in as an argument,
 * no I/O, no allocation after hsg_init (the table is inside struct hsg). Not thread-safe: one
 * per node, used by the control thread only (runtime/carrier_tcp/hsio.c calls it on accept, on a failed
 * handshake, on a successful one, and from its periodic reap for summary lines).
 *
 * Policy, per source address (IPv4 /32, IPv6 /64; an IPv4-mapped IPv6 address is IPv4):
 * - after its k-th counted failure the next attempt is held, unanswered and unread, until
 *   base_delay_ms * 2^(k-1) (at most max_delay_ms) after that failure;
 * - while it has failures on record, one attempt at a time: a second connection while one is
 *   held or handshaking is closed at once (refused);
 * - a successful handshake clears the record; so does forget_ms without a failure.
 * Addresses without failures on record are never delayed or limited.
 */
#ifndef DPDIST_RUNTIME_CARRIER_TCP_HSGUARD_H
#define DPDIST_RUNTIME_CARRIER_TCP_HSGUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "control/handshake.h"

#define HSG_TABLE_SIZE              256   /* addresses with failures on record */
#define HSG_DEFAULT_BASE_DELAY_MS   50    /* hold after the first failure */
#define HSG_DEFAULT_MAX_DELAY_MS    10000 /* hold after many */
#define HSG_DEFAULT_FORGET_MS       600000
#define HSG_DEFAULT_LOG_INTERVAL_MS 10000
#define HSG_LOG_LINES_MAX           16 /* per interval: failure lines, then summary lines */
#define HSG_LOG_PER_ADDR            3  /* failure lines per address per interval */

/* A source address as the table keys it: IPv4 as ::ffff:a.b.c.d, IPv6 its /64 prefix. */
struct hsg_addr {
    uint8_t b[16];
};

struct hsg_params {
    uint32_t base_delay_ms; /* >= 1 */
    uint32_t max_delay_ms;  /* >= base_delay_ms */
    uint32_t forget_ms;
    uint32_t log_interval_ms;
};

struct hsg_entry {
    struct hsg_addr addr;
    bool used;
    uint32_t token;    /* != 0: the one attempt in progress (held or handshaking) */
    uint32_t failures; /* counted failures since the record began */
    uint64_t last_failure_ms;
    uint64_t until_ms; /* the next attempt is held until then */
    /* Log budget: failures and refusals not logged one by one, for the next summary. */
    uint64_t quiet_until_ms; /* end of the address's current log interval */
    uint32_t logged;         /* failure lines in it */
    uint32_t unlogged_failures, refused;
};

struct hsg {
    struct hsg_params p;
    struct hsg_entry e[HSG_TABLE_SIZE];
    uint32_t next_token;
    uint64_t window_ms; /* start of the current log interval */
    uint32_t lines;     /* lines granted in it */
    /* Failures and refusals whose address got no line of its own in an interval. */
    uint32_t other_failures, other_refused;
    uint64_t others_quiet_until_ms; /* their next line */
    /* Counters (cumulative). */
    uint64_t held, refusals, failures, evictions;
};

/* Defaults (the HSG_DEFAULT_* values) where p's fields are 0; max below base is raised. */
void hsg_init(struct hsg *g, const struct hsg_params *p);

/* The key of a peer's address; false for families other than IPv4/IPv6. */
bool hsg_addr_from_sockaddr(struct hsg_addr *out, const struct sockaddr *sa, socklen_t len);
/* Text of a key ("127.0.0.1", "2001:db8:1:2::/64"), NUL-terminated in buf. */
const char *hsg_addr_str(const struct hsg_addr *a, char *buf, size_t cap);

enum hsg_verdict {
    HSG_ADMIT = 1, /* handshake now */
    HSG_HOLD,      /* handshake from *until_ms on: leave the socket unread until then */
    HSG_REFUSE,    /* close at once: an attempt from this address is already in progress */
};

/* A new connection from a. *token (0 if none) identifies the attempt for hsg_done; *until_ms
 * is set for HSG_HOLD. */
enum hsg_verdict hsg_accept(struct hsg *g, const struct hsg_addr *a, uint64_t now_ms,
                            uint32_t *token, uint64_t *until_ms);

/* The attempt with this token ended (any outcome); token 0 is a no-op. */
void hsg_done(struct hsg *g, const struct hsg_addr *a, uint32_t token);

/* Whether a handshake failure is a peer's offence (wrong cookie, malformed or refused
 * messages) rather than a race between honest nodes, a timeout or our own trouble. */
bool hsg_counts(enum hs_error e);

/* A counted failure from a. Returns true if it should be logged now, false if it only goes
 * into the address's next summary line. */
bool hsg_failed(struct hsg *g, const struct hsg_addr *a, uint64_t now_ms);

/* A successful handshake from a: its record goes. */
void hsg_succeeded(struct hsg *g, const struct hsg_addr *a);

/* The hold after `failures` counted failures (0 for none). */
uint32_t hsg_delay_ms(const struct hsg *g, uint32_t failures);

/* A line to log: failures and refusals of one address (others false) or of every address
 * that had no line of its own (others true), since its last line. */
struct hsg_summary {
    bool others;
    struct hsg_addr addr;
    uint32_t failures, refused;
    uint32_t next_delay_ms; /* addr's current hold */
};

/* Summaries due at now_ms, at most cap; call periodically. */
size_t hsg_summaries(struct hsg *g, uint64_t now_ms, struct hsg_summary *out, size_t cap);

#endif
