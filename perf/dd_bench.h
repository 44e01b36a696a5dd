/* dd-bench internals: options, the benchmark protocol's terms, the roles.
 *
 * The protocol is plain Erlang terms so that the same server and client speak to BEAM
 * (perf/dd_bench.erl implements both roles with the same terms):
 *   to `echo`:  {Pid, Bin}              -> Bin back to Pid
 *   to `sink`:  {sink_begin, Pid}       -> sink_ready; counters cleared, not measuring
 *               sink_mark               -> measuring from now on
 *               Bin                     -> counted while measuring (messages, bytes, last time)
 *               {sink_finish, Pid}      -> {sink_report, Msgs, Bytes, Ns}: Ns from the mark to
 *                                          the last binary
 *   to `pulse`: {pulse_begin, Pid}      -> pulse_ready; gaps cleared
 *               {pulse, Seq}            -> gap since the previous pulse recorded
 *               {pulse_finish, Pid}     -> {pulse_report, N, MaxGapNs, P99GapNs, P50GapNs,
 *                                           HeartbeatGapNs, RxGapNs}: the runtime's own largest
 *                                          gap between heartbeats from that peer, and between
 *                                          any data from it, since pulse_begin; -1 where the
 *                                          runtime cannot tell (see ddb_runtime_gaps)
 * Binaries carry a 64-bit big-endian sequence number in their first 8 bytes (rtt replies
 * are matched by it); the rest is zero.
 */
#ifndef DPDIST_PERF_DD_BENCH_H
#define DPDIST_PERF_DD_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dpdist/dpdist.h"
#include "perf/bench_stats.h"

#define DDB_VERSION_MAGIC    131 /* the external term format's version byte */
#define DDB_MAX_SIZES        16
#define DDB_MAX_PEERS        32
#define DDB_MAX_SAMPLES      (4u << 20)
#define DDB_REPLY_TIMEOUT_MS 15000

struct ddb_opts {
    const char *role; /* server, client */
    const char *test; /* client: rtt, stream, under-bulk, hbgap, connect, fanout, failure,
                       * survive */
    const char *peer;
    const char *peers[DDB_MAX_PEERS];
    int n_peers;
    size_t sizes[DDB_MAX_SIZES];
    int n_sizes;
    unsigned long count, warmup;
    double seconds;
    unsigned long warmup_ms;
    size_t bulk_size;
    unsigned long pulse_ms;
    const char *samples;
    enum dd_carrier_kind expect_carrier; /* DD_CARRIER_NONE: do not check */
    unsigned long timeout_s;
};

/* ---- terms (dd_bench_msg.c) ---------------------------------------------------------- */

/* An owned encoded term with a binary whose sequence number can be patched in place. */
struct ddb_term {
    char *buf;
    size_t len;
    size_t seq_off; /* offset of the binary's first byte (its sequence number) */
};

/* Bin alone (to a sink). 0 or -1 (out of memory). */
int ddb_term_bin(struct ddb_term *t, size_t size);
/* {Pid, Bin} (to an echo). */
int ddb_term_echo_req(struct ddb_term *t, const dd_pid *from, size_t size);
void ddb_term_free(struct ddb_term *t);
void ddb_term_set_seq(struct ddb_term *t, uint64_t seq);

/* Small control terms, sent straight away: Atom, {Atom, Pid}, {pulse, Seq}. */
int ddb_send_atom(dd_mbox *mb, const char *name, const char *node, const char *atom);
int ddb_send_tag_pid(dd_mbox *mb, const char *name, const char *node, const char *tag);
int ddb_send_pulse(dd_mbox *mb, const char *node, uint64_t seq);

/* A received binary: data and size; false if the term is not a binary. */
bool ddb_view_bin(const dd_msg *m, const char **data, size_t *size);
uint64_t ddb_bin_seq(const char *data, size_t size);
/* true if the message is the atom. */
bool ddb_is_atom(const dd_msg *m, const char *atom);
/* {Tag, I1, ..., In} with n integers: true and vals filled. */
bool ddb_decode_report(const dd_msg *m, const char *tag, int64_t *vals, int n);
/* {Tag, Pid}: true and *pid filled. */
bool ddb_decode_tag_pid(const dd_msg *m, const char *tag, dd_pid *pid);

/* Waits for a message satisfying match (others are dropped) until timeout_ms; the caller
 * frees it. NULL on timeout, a stop request, or a nodedown (mailboxes that monitor nodes
 * give up at once when a peer goes down, and say so on stderr). */
dd_msg *ddb_wait_for(dd_mbox *mb, bool (*match)(const dd_msg *m, void *arg), void *arg,
                     int timeout_ms);
/* Waits for the atom; false on timeout. */
bool ddb_wait_atom(dd_mbox *mb, const char *atom, int timeout_ms);
/* Waits for {Tag, I1..In}; false on timeout. */
bool ddb_wait_report(dd_mbox *mb, const char *tag, int64_t *vals, int n, int timeout_ms);

/* The runtime's view of peer since the previous call (dd_peer_stats resets its maximum):
 * *hb_gap = the largest gap between heartbeats received (DPDK carrier only: on TCP a tick is
 * sent only on an idle connection, so under load there are none to measure), *rx_gap = the
 * largest gap between any data received (no API yet: always -1). -1 = unknown. */
void ddb_runtime_gaps(dd_node *node, const char *peer, int64_t *hb_gap, int64_t *rx_gap);

/* ---- roles ---------------------------------------------------------------------------- */

int ddb_server(dd_node *node, const struct ddb_opts *o);
int ddb_client(dd_node *node, const struct ddb_opts *o);

/* Stop requested (SIGTERM/SIGINT, or ddb_request_stop): every loop and wait ends. */
bool ddb_stopping(void);
void ddb_request_stop(void);

#endif
