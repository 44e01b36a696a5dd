/* dd-bench: a dpdist node in one role of the benchmark suite (perf/run drives it).
 *
 *   dd-bench server [node flags] [-timeout S]
 *   dd-bench client [node flags] -test TEST [-peer NODE | -peers N1,N2,..] [options]
 *
 * Node flags are dpdist-echo's (-sname, -setcookie, -epmd_port, -ticktime, -config, ...).
 * Tests (client):
 *   rtt         round trips of {Pid, Bin} to {echo, Peer}, per -sizes: -warmup, then -count
 *   stream      Bin to {sink, Peer} as fast as dd_send takes them, per -sizes: -warmup-ms,
 *               then -seconds measured by the sink
 *   under-bulk  64-byte rtt for -seconds while a second mailbox of this node streams
 *               -bulk-size binaries to {sink, Peer} over the same connection
 *   hbgap       like under-bulk, but instead of round trips a third mailbox sends
 *               {pulse, Seq} every -pulse-ms to {pulse, Peer}, which records the gaps
 *   connect     -warmup + -count times: dd_connect (and, with -expect-carrier dpdk, the
 *               upgrade), then dd_disconnect
 *   fanout      to every -peers node: 64-byte scatter/gather rounds (-count), then a
 *               round-robin stream of -sizes[0] binaries for -seconds
 *   failure     connect, monitor nodes, print "armed", wait (-timeout) for the peer's
 *               nodedown and print its CLOCK_REALTIME (perf/run kills the peer)
 *   survive     connect, stream -bulk-size binaries for -seconds, report nodedowns
 * -expect-carrier tcp|dpdk: fail unless the connection to the peer uses that carrier.
 * Results: "result kind=..." lines (perf/bench_stats.h); anything else starts with "#". */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "perf/dd_bench.h"
#include "dpdist/dpdist_args.h"

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

bool ddb_stopping(void)
{
    return g_stop != 0;
}

void ddb_request_stop(void)
{
    g_stop = 1;
}

static int usage(void)
{
    fprintf(stderr,
            "usage: dd-bench server [node flags] [-timeout S]\n"
            "       dd-bench client [node flags] -test rtt|stream|under-bulk|hbgap|connect|\n"
            "                fanout|failure|survive [-peer NODE] [-peers N1,N2,..]\n"
            "                [-sizes LIST] [-count N] [-warmup N] [-seconds S] [-warmup-ms MS]\n"
            "                [-bulk-size SIZE] [-pulse-ms MS] [-samples FILE]\n"
            "                [-expect-carrier tcp|dpdk] [-timeout S]\n"
            "node flags:\n%s",
            dd_args_usage());
    return 2;
}

static bool parse_peers(char *list, struct ddb_opts *o)
{
    o->n_peers = 0;
    for (char *save = NULL, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (o->n_peers == DDB_MAX_PEERS)
            return false;
        o->peers[o->n_peers++] = t;
    }
    return o->n_peers > 0;
}

static bool valid_test(const char *t)
{
    static const char *const tests[] = {"rtt",     "stream", "under-bulk", "hbgap",
                                        "connect", "fanout", "failure",    "survive"};
    for (size_t i = 0; t && i < sizeof(tests) / sizeof(tests[0]); i++)
        if (!strcmp(t, tests[i]))
            return true;
    return false;
}

/* One option at argv[i] with its value v; false if unknown or malformed. */
static bool parse_opt(const char *a, char *v, struct ddb_opts *o)
{
    if (!v)
        return false;
    if (!strcmp(a, "-test")) {
        o->test = v;
        return valid_test(v);
    }
    if (!strcmp(a, "-peer")) {
        o->peer = v;
        return true;
    }
    if (!strcmp(a, "-peers"))
        return parse_peers(v, o);
    if (!strcmp(a, "-sizes"))
        return (o->n_sizes = bstat_parse_sizes(v, o->sizes, DDB_MAX_SIZES)) > 0;
    if (!strcmp(a, "-count"))
        return bstat_parse_ulong(v, &o->count) && o->count > 0;
    if (!strcmp(a, "-warmup"))
        return bstat_parse_ulong(v, &o->warmup);
    if (!strcmp(a, "-seconds"))
        return (o->seconds = atof(v)) > 0;
    if (!strcmp(a, "-warmup-ms"))
        return bstat_parse_ulong(v, &o->warmup_ms);
    if (!strcmp(a, "-bulk-size"))
        return bstat_parse_size(v, &o->bulk_size) && o->bulk_size >= 8;
    if (!strcmp(a, "-pulse-ms"))
        return bstat_parse_ulong(v, &o->pulse_ms) && o->pulse_ms > 0;
    if (!strcmp(a, "-samples")) {
        o->samples = v;
        return true;
    }
    if (!strcmp(a, "-timeout"))
        return bstat_parse_ulong(v, &o->timeout_s) && o->timeout_s > 0;
    if (!strcmp(a, "-expect-carrier")) {
        o->expect_carrier = !strcmp(v, "dpdk")  ? DD_CARRIER_DPDK
                            : !strcmp(v, "tcp") ? DD_CARRIER_TCP
                                                : DD_CARRIER_NONE;
        return o->expect_carrier != DD_CARRIER_NONE;
    }
    return false;
}

static int parse_opts(int argc, char **argv, const char *role, struct ddb_opts *o)
{
    *o = (struct ddb_opts){.role = role,
                           .count = 10000,
                           .warmup = 1000,
                           .seconds = 1,
                           .warmup_ms = 200,
                           .bulk_size = 64u << 20,
                           .pulse_ms = 10,
                           .timeout_s = 600};
    o->sizes[0] = 64;
    o->n_sizes = 1;
    for (int i = 0; i < argc; i++) {
        if (!parse_opt(argv[i], i + 1 < argc ? argv[i + 1] : NULL, o)) {
            fprintf(stderr, "dd-bench: bad option %s %s\n", argv[i],
                    i + 1 < argc ? argv[i + 1] : "");
            return -1;
        }
        i++;
    }
    for (int i = 0; i < o->n_sizes; i++)
        if (o->sizes[i] < 8) {
            fprintf(stderr, "dd-bench: sizes start at 8 bytes (the sequence number)\n");
            return -1;
        }
    if (!strcmp(o->role, "client")) {
        if (!o->test || (!o->peer && !o->n_peers)) {
            fprintf(stderr, "dd-bench: client needs -test and -peer (or -peers)\n");
            return -1;
        }
        if (!o->peer)
            o->peer = o->peers[0];
    }
    return 0;
}

int main(int argc, char **argv)
{
    dlog_set_ident("dd-bench");
    dlog_set_level(DLOG_WARN);
    if (argc < 2 || (strcmp(argv[1], "server") && strcmp(argv[1], "client")))
        return usage();
    struct dd_args a;
    if (dd_args_parse(argc - 1, argv + 1, &a) != DD_OK) {
        fprintf(stderr, "dd-bench: %s\n", dd_last_error());
        return usage();
    }
    const char *role = argv[1];
    struct ddb_opts o;
    if (parse_opts(a.rest_argc, a.rest_argv, role, &o) < 0)
        return usage();
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    dd_node *node;
    int rc = dd_node_start(&a.cfg, &node);
    if (rc != DD_OK) {
        fprintf(stderr, "dd-bench: cannot start the node: %s: %s\n", dd_strerror(rc),
                dd_last_error());
        return 3;
    }
    int status = !strcmp(role, "server") ? ddb_server(node, &o) : ddb_client(node, &o);
    dd_node_stop(node);
    dd_args_free(&a); /* after the run: o points into rest_argv's strings (argv) */
    return status;
}
