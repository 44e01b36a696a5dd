/* dd_stress: the data-plane test program; see stress.h for the roles and the output lines.
 *
 *   dd_stress [node flags as dpdist-echo] [-lazy] [-keep] ROLE [role options]
 *
 * The node starts (with its data plane when -config names a [port]), the `stress` mailbox is
 * served by its own thread, READY is printed, then the role runs and DONE is printed. With
 * -keep the process goes on serving until {stop} or SIGTERM (so that a peer that is still
 * sending to it is not cut off); -lazy makes every wait sleep in short steps instead of
 * polling the data plane busily (for nodes that share a CPU). The exit status is 0 when
 * the role could run (the scripts judge the RESULT lines), 1 when it could not (a node that
 * does not start, a peer that is unreachable), 2 for bad usage.
 */
#include <execinfo.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "tests/dataplane/stress.h"
#include "dpdist/dpdist_args.h"

struct stress_proc g_stress;
__thread bool t_stress_lazy;
volatile int g_stress_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stress_stop = 1;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: dd_stress [node flags] [-lazy] [-keep] ROLE [options]\n"
            "roles:\n"
            "  serve\n"
            "  source --to NODE [--senders N] [--count M] [--dist mixed|small|SIZE]\n"
            "         [--max BYTES] [--seed S] [--stall MS] [--recover M] [--warmup W]\n"
            "         [--timeout S]"
            " [--stop-peer 1] [--hog MS]\n"
            "  priority --to NODE [--big BYTES] [--bigs K]\n"
            "  watch --victim NODE --peer NODE [--duration S] [--ping-ms MS]\n"
            "  stream --to NODE [--size BYTES] [--senders N] [--duration S]\n"
            "node flags:\n%s",
            dd_args_usage());
}

/* A crash leaves its stack in the node's log (a rare SIGSEGV of a memif node at connect was
 * seen once in CI with nothing else to go on): async-signal-safe writes only, then the
 * default action. */
static void on_crash(int sig)
{
    static const char msg[] = "dd_stress: fatal signal; stack:\n";
    ssize_t w = write(STDERR_FILENO, msg, sizeof(msg) - 1);
    (void)w;
    void *frames[64];
    int n = backtrace(frames, 64);
    backtrace_symbols_fd(frames, n, STDERR_FILENO);
    signal(sig, SIG_DFL);
    raise(sig);
}

int main(int argc, char **argv)
{
    dlog_set_ident("dd_stress");
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct dd_args a;
    if (dd_args_parse(argc, argv, &a) != DD_OK) {
        fprintf(stderr, "dd_stress: %s\n", dd_last_error());
        usage();
        return 2;
    }
    int i = 0;
    bool keep = false;
    for (; i < a.rest_argc && a.rest_argv[i][0] == '-'; i++) {
        if (!strcmp(a.rest_argv[i], "-lazy")) {
            g_stress.lazy = true;
        } else if (!strcmp(a.rest_argv[i], "-keep")) {
            keep = true;
        } else {
            usage();
            return 2;
        }
    }
    if (i >= a.rest_argc) {
        usage();
        return 2;
    }
    const char *role = a.rest_argv[i++];
    int (*run)(int, char **) = NULL;
    if (!strcmp(role, "source"))
        run = stress_source_main;
    else if (!strcmp(role, "priority"))
        run = stress_prio_main;
    else if (!strcmp(role, "watch"))
        run = stress_watch_main;
    else if (!strcmp(role, "stream"))
        run = stress_stream_main;
    else if (strcmp(role, "serve") != 0) {
        usage();
        return 2;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    void *warm[1];
    backtrace(warm, 1); /* loads libgcc now, not inside the handler */
    struct sigaction crash = {.sa_handler = on_crash};
    sigaction(SIGSEGV, &crash, NULL);
    sigaction(SIGBUS, &crash, NULL);
    sigaction(SIGABRT, &crash, NULL);

    int rc = dd_node_start(&a.cfg, &g_stress.node);
    if (rc != DD_OK) {
        fprintf(stderr, "dd_stress: %s: %s\n", dd_strerror(rc), dd_last_error());
        return 1;
    }
    if (stress_serve_start() != DD_OK) {
        dd_node_stop(g_stress.node);
        return 1;
    }
    printf("READY %s\n", dd_node_name(g_stress.node));
    int status = 0;
    if (run) {
        t_stress_lazy = true;
        status = run(a.rest_argc - i, a.rest_argv + i);
        printf("DONE status=%d\n", status);
        if (!keep)
            g_stress_stop = 1;
    }
    stress_serve_wait();
    dd_node_stop(g_stress.node);
    dd_args_free(&a);
    return status;
}
