/* dd_stress: the data-plane test program (tests/dataplane, tests/fault).
 *
 * One process = one dpdist node (flags as dpdist-echo: -config FILE -setcookie C ...) with a
 * mailbox registered as `stress`, served by its own thread (stress_serve.c): it verifies the
 * test messages it receives (per-sender sequence numbers, exactly once, content) and answers
 * requests. A role then drives the test from the main thread:
 *   serve                 only the `stress` mailbox, until {stop} or SIGTERM
 *   source   (source.c)   N sender mailboxes stream messages of a size distribution to a peer
 *                         (optionally with a stalled receiver, or with faults turned off
 *                         afterwards to check recovery), then compare with the peer's report
 *   priority (prio.c)     one mailbox streams 64 MiB messages, another sends small probes
 *                         mid-stream; the peer logs the arrival order
 *   watch    (watch.c)    links to and monitors a victim node, pings another peer, and logs
 *                         node events with wall-clock times (kill -9 / SIGSTOP tests)
 *   stream   (stream.c)   streams fixed-size messages to a peer until its nodedown (a peer
 *                         killed under the stream: tests/fault/kill_memif.sh)
 * Every role prints machine-readable lines: `RESULT <what> key=value ...` (the scripts check
 * them), `EVENT ...`, `PRIO ...`, and `READY`/`ARMED` when the script may go on.
 *
 * Test messages are one Erlang binary: a 32-byte header (struct stress_hdr, big-endian) and a
 * pattern derived from (run, sender, seq, offset), so any lost, repeated, reordered, misplaced
 * or damaged fragment shows. Requests are tuples (see stress_serve.c).
 */
#ifndef DPDIST_TESTS_STRESS_H
#define DPDIST_TESTS_STRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dpdist/dpdist.h"
#include "runtime/api/dd_testing.h"

#define STRESS_MAGIC       0x44445354u /* "DDST" */
#define STRESS_HDR_LEN     32u
#define STRESS_MIN_SIZE    STRESS_HDR_LEN
#define STRESS_NAME        "stress"
#define STRESS_MAX_SENDERS 64
#define STRESS_TERM_HDR    6u /* 131, 109 (BINARY_EXT), 4-byte length */

enum stress_kind {
    STRESS_DATA = 0,  /* ordinary stream message */
    STRESS_BIG = 1,   /* priority test: a large message */
    STRESS_PROBE = 2, /* priority test: a small message sent mid-stream */
};

struct stress_hdr {
    uint32_t magic;
    uint32_t sender; /* the sending mailbox's index in its process */
    uint64_t seq;    /* per sender, from 0 */
    uint32_t len;    /* binary size, header included */
    uint32_t kind;   /* enum stress_kind */
    uint64_t salt;   /* the source's run salt (pattern key) */
};

/* ---- process-wide state (stress_main.c) ---------------------------------------------- */

struct stress_proc {
    dd_node *node;
    bool lazy; /* every thread waits with short sleeps instead of busy polling in dd_recv */
};
extern struct stress_proc g_stress;
/* This thread waits lazily even when the process does not (the roles' main threads: the
 * serve thread is the process's poller). */
extern __thread bool t_stress_lazy;

/* ---- messages (stress_msg.c) ---------------------------------------------------------- */

/* Builds a test message as a complete external term into buf (cap >= size + 6): returns the
 * term's length. size is the binary size (>= STRESS_MIN_SIZE). */
size_t stress_build(uint8_t *buf, size_t size, const struct stress_hdr *h);
/* Parses a received term: 1 = a test message (header in *h, content checked: *intact),
 * 0 = not a test message (a request). */
int stress_parse(const char *term, size_t len, struct stress_hdr *h, bool *intact);

/* Size distribution "mixed" (documented in stress_msg.c), "small" (64..512), or a fixed
 * size; deterministic from the generator state. */
struct stress_dist {
    enum { DIST_MIXED, DIST_SMALL, DIST_FIXED } kind;
    uint32_t fixed;
    uint32_t max; /* cap for mixed */
};
int stress_dist_parse(const char *s, uint32_t max, struct stress_dist *d);
uint32_t stress_dist_next(const struct stress_dist *d, uint64_t *rng);
uint64_t stress_rand(uint64_t *state);

/* ---- helpers (stress_util.c) ------------------------------------------------------------ */

uint64_t stress_now_ns(void);  /* CLOCK_MONOTONIC */
uint64_t stress_wall_ns(void); /* CLOCK_REALTIME, comparable with `date +%s%N` */
uint64_t stress_rss_kb(void);  /* this process's resident set */
/* dd_recv that busy-polls (inline data plane) or, with g_stress.lazy, sleeps between tries. */
int stress_recv(dd_mbox *mb, dd_msg **out, int timeout_ms);
/* Waits until the carrier to peer is DPDK; false after timeout_ms. */
bool stress_wait_dpdk(const char *peer, int timeout_ms);
/* Port rx frames of this node's data plane (parsed from dd_dataplane_summary); 0 if none. */
uint64_t stress_port_rx_frames(void);
/* Frames this node's fault injection dropped, duplicated, reordered so far (all 0 if none). */
void stress_fault_counts(uint64_t out[3]);
/* The watchdog poller's counters from the summary: out = {wake-ups, runs, busy us}; all 0
 * without a watchdog. */
void stress_watchdog_counts(uint64_t out[3]);
/* Sends {Tag, SelfPid, Arg...} style requests: tuple with an atom tag, the mailbox's pid and
 * up to two integers (nargs 0..2). */
int stress_request(dd_mbox *mb, const char *node, const char *tag, int nargs, long a, long b);
/* Receives the next message whose first tuple element is the atom tag (others are passed to
 * other(), which may be NULL); the caller frees it. NULL on timeout. */
dd_msg *stress_await(dd_mbox *mb, const char *tag, int timeout_ms,
                     void (*other)(dd_msg *m, void *arg), void *arg);
/* The value of `key=` in a report text (0 if absent). */
uint64_t stress_field(const char *text, const char *key);
/* Text of a {report, Binary} message into buf. */
bool stress_report_text(const dd_msg *m, char *buf, size_t cap);

/* ---- roles ---------------------------------------------------------------------------- */

int stress_serve_start(void); /* starts the `stress` mailbox thread */
void stress_serve_wait(void); /* until {stop} or a signal */
int stress_source_main(int argc, char **argv);
int stress_prio_main(int argc, char **argv);
int stress_watch_main(int argc, char **argv);
int stress_stream_main(int argc, char **argv);

/* Set by SIGTERM/SIGINT. */
extern volatile int g_stress_stop;

#endif
