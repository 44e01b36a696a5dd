/* dd-bench: helpers shared by the client files (dd_bench_client.c, dd_bench_load.c). */
#ifndef DPDIST_PERF_DD_BENCH_PVT_H
#define DPDIST_PERF_DD_BENCH_PVT_H

#include "perf/dd_bench.h"

/* dd_mbox_open + dd_monitor_nodes: waits on it give up when a peer goes down. */
int ddb_open_watching(dd_node *node, const char *regname, unsigned flags, dd_mbox **out);
/* dd_connect, then the carrier check of -expect-carrier; 0, -1 (printed), or DDB_WENT_DOWN
 * when the connection came up and went down again before the check. */
#define DDB_WENT_DOWN (-2)
int ddb_connect_peer(dd_node *node, const char *peer, const struct ddb_opts *o);
/* One {Pid, Bin} round trip to {echo, peer} with sequence number seq; 0 or -1. */
int ddb_round_trip(dd_mbox *mb, const char *peer, struct ddb_term *req, uint64_t seq, size_t size);
/* {sink_begin, Pid} and its sink_ready; 0 or -1 (printed). */
int ddb_sink_begin(dd_mbox *mb, const char *peer);
/* {sink_finish, Pid} and its report {Msgs, Bytes, Ns}; 0 or -1 (printed). */
int ddb_sink_finish(dd_mbox *mb, const char *peer, int64_t report[3]);

/* under-bulk, hbgap, failure, survive (dd_bench_load.c). */
int ddb_client_load(dd_node *node, const struct ddb_opts *o);

#endif
