/* dpdist-agent: the host's agent for BEAM nodes (docs/agent.md). Loads an agent file (one
 * with [agent]), starts the data plane on its [port] through the engine start that nodes use
 * (runtime/carrier_dpdk/dpc_engine.h), listens on its Unix socket (agent/ag_server.h), prints
 * a line with `ready` on stdout, and serves until SIGTERM or SIGINT.
 *
 * One thread: it waits on the socket and a signalfd; with an inline engine (one lcore) it
 * also polls the port every AGENT_POLL_MS. Exit status: 0 after a signal, 78 (EX_CONFIG) for
 * a bad configuration or flag, 1 when the port or the socket cannot be set up. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>
#include <urcu/urcu-qsbr.h>

#include "agent/ag_server.h"
#include "common/log.h"
#include "config/cfg.h"
#include "runtime/carrier_dpdk/dpc_engine.h"

enum { EXIT_STOPPED = 0, EXIT_SETUP = 1, EXIT_USAGE = 2, EXIT_CONFIG = 78 };
#define AGENT_POLL_MS   1 /* the inline engine's poll period while idle */
#define AGENT_REASM_MAX (64ull << 20)

static void usage(FILE *f)
{
    fputs("usage: dpdist-agent -config FILE [-socket PATH] [-epmd_port N]\n"
          "\n"
          "Carries the distribution connections of the BEAM nodes on this host (docs/agent.md).\n"
          "FILE is an agent configuration (it has [agent]; see configs/agent-memif-a.ini).\n"
          "-socket     the Unix socket the VMs connect to (overrides [agent] socket)\n"
          "-epmd_port  the name server's port, where the agent finds other hosts' endpoints\n"
          "            (default 4369, or ERL_EPMD_PORT)\n"
          "Prints a line containing `ready` once it accepts BEAM nodes; stops on SIGTERM.\n",
          f);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int parse_port(const char *s, uint16_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || !*s || *end || v == 0 || v > 65535)
        return -EINVAL;
    *out = (uint16_t)v;
    return 0;
}

/* Loads FILE, applies the flags, checks it as `dpdist-config check` would (the diagnostics
 * go to stderr). Returns 0 or an exit status. */
static int load_config(const char *path, const char *socket, struct cfg_file *cfg)
{
    struct cfg_diags d;
    cfg_diags_init(&d);
    int rc = cfg_load(path, cfg, &d);
    if (rc == 0 && !cfg_is_agent(cfg)) {
        fprintf(stderr,
                "dpdist-agent: %s has no [agent] section: it configures a node, not an "
                "agent (see configs/agent-memif-a.ini)\n",
                path);
        cfg_diags_free(&d);
        return EXIT_CONFIG;
    }
    if (rc == 0 && socket) {
        if (socket[0] != '/' || strlen(socket) > CFG_AGENT_SOCKET_MAX) {
            fprintf(stderr, "dpdist-agent: -socket %s: an absolute path of at most %d bytes\n",
                    socket, CFG_AGENT_SOCKET_MAX);
            cfg_diags_free(&d);
            return EXIT_CONFIG;
        }
        snprintf(cfg->agent.socket, sizeof(cfg->agent.socket), "%s", socket);
    }
    if (rc == 0)
        rc = cfg_check_system(cfg, NULL, &d);
    cfg_diags_sort(&d);
    cfg_diags_print(&d, stderr);
    cfg_diags_free(&d);
    if (rc != 0) {
        fprintf(stderr,
                "dpdist-agent: %s: bad configuration (the errors above); nothing "
                "started\n",
                path);
        return EXIT_CONFIG;
    }
    return 0;
}

/* The server's settings from the file. Names were checked by cfg_check_system. */
static int server_cfg(const struct cfg_file *cfg, struct ag_server_cfg *sc)
{
    memset(sc, 0, sizeof(*sc));
    sc->socket = cfg->agent.socket;
    sc->socket_mode = (mode_t)cfg->agent.socket_mode;
    sc->socket_gid = (gid_t)-1;
    uint32_t id;
    if (cfg->agent.socket_group[0]) {
        if (cfg_resolve_gid(cfg->agent.socket_group, &id) != 0)
            return -ENOENT;
        sc->socket_gid = (gid_t)id;
    }
    _Static_assert(AG_SERVER_IDS_MAX >= CFG_NAMES_MAX, "every listed id fits");
    for (unsigned i = 0; i < cfg->agent.allow_uids.n; i++)
        if (cfg_resolve_uid(cfg->agent.allow_uids.name[i], &sc->allow_uids[sc->n_uids++]) != 0)
            return -ENOENT;
    for (unsigned i = 0; i < cfg->agent.allow_gids.n; i++)
        if (cfg_resolve_gid(cfg->agent.allow_gids.name[i], &sc->allow_gids[sc->n_gids++]) != 0)
            return -ENOENT;
    sc->max_vms = cfg->agent.max_vms;
    sc->max_conns = cfg->agent.max_conns;
    sc->probe_interval_ms = cfg->agent.vm_probe_interval_ms;
    sc->probe_timeout_ms = cfg->agent.vm_probe_timeout_ms;
    sc->attach_timeout_ms = cfg->agent.attach_timeout_ms;
    sc->frame_auth = 0; /* [security] frame_auth arrives with issue 16 */
    do {
        if (getrandom(&sc->endpoint_id, sizeof(sc->endpoint_id), 0) != sizeof(sc->endpoint_id))
            return -EIO;
    } while (sc->endpoint_id == 0);
    return 0;
}

/* What the agent's trailers say of its port: the engine's address and channel parameters. */
static void set_endpoint(struct ag_server *srv, struct dp_engine *e, const struct cfg_file *cfg,
                         uint64_t endpoint_id)
{
    const struct dp_engine_params *p = dp_engine_params(e);
    struct ag_endpoint ep = {
        .endpoint_id = endpoint_id,
        .mtu = dp_engine_mtu(e),
        .hb_missed = (uint16_t)p->chan.hb_missed_limit,
        .window_frames = p->chan.window_frames,
        .conn_rx_window = cfg->agent.conn_rx_window > UINT32_MAX
                              ? UINT32_MAX
                              : (uint32_t)cfg->agent.conn_rx_window,
        .hb_interval_ns = p->chan.hb_interval_ns,
        .mode = 0, /* [security] frame_auth arrives with issue 16 */
    };
    dp_engine_endpoint(e, ep.mac, &ep.ipv4, &ep.udp_port);
    ag_server_set_endpoint(srv, &ep);
}

int main(int argc, char **argv)
{
    const char *config = NULL, *socket = NULL;
    uint16_t epmd_port = 4369;
    const char *env_port = getenv("ERL_EPMD_PORT");
    if (env_port && parse_port(env_port, &epmd_port) != 0) {
        fprintf(stderr, "dpdist-agent: ERL_EPMD_PORT=%s is no port number\n", env_port);
        return EXIT_USAGE;
    }
    for (int i = 1; i < argc; i++) {
        bool has_value = i + 1 < argc;
        if (!strcmp(argv[i], "-config") && has_value) {
            config = argv[++i];
        } else if (!strcmp(argv[i], "-socket") && has_value) {
            socket = argv[++i];
        } else if (!strcmp(argv[i], "-epmd_port") && has_value) {
            if (parse_port(argv[++i], &epmd_port) != 0) {
                fprintf(stderr, "dpdist-agent: -epmd_port %s: a port number 1..65535\n", argv[i]);
                return EXIT_USAGE;
            }
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "dpdist-agent: unknown or incomplete argument `%s`\n", argv[i]);
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (!config) {
        usage(stderr);
        return EXIT_USAGE;
    }
    dlog_set_ident("dpdist-agent");
    static struct cfg_file cfg; /* large: not on the stack */
    int rc = load_config(config, socket, &cfg);
    if (rc != 0)
        return rc;
    struct ag_server_cfg sc;
    if (server_cfg(&cfg, &sc) != 0) {
        fprintf(stderr, "dpdist-agent: cannot resolve the users and groups of [agent], or no "
                        "random endpoint id\n");
        return EXIT_CONFIG;
    }

    /* Signals are taken through a signalfd; blocked before EAL starts its threads, so that
     * they inherit the mask and none of them takes SIGTERM. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    int sigfd = signalfd(-1, &stop, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sigfd < 0) {
        fprintf(stderr, "dpdist-agent: signalfd: %s\n", strerror(errno));
        return EXIT_SETUP;
    }

    /* The socket first: a second agent on a live socket is refused before it touches the
     * port (its EAL would fail on the first one's files, with a less clear message). VMs
     * that connect meanwhile wait in the backlog until the loop below. */
    char err[DP_ERR_LEN] = "";
    struct ag_server *srv = ag_server_open(&sc, err, sizeof(err));
    if (!srv) {
        fprintf(stderr, "dpdist-agent: cannot listen: %s\n", err);
        return EXIT_SETUP;
    }
    urcu_qsbr_register_thread(); /* the engine's inline poller is this thread */
    struct dp_engine *engine = NULL;
    static struct budget reasm_budget;
    budget_init(&reasm_budget, AGENT_REASM_MAX);
    if (cfg.port.kind != CFG_PORT_NONE) {
        struct dpc_engine_hooks h = {.name = "dpdist-agent", .reasm_budget = &reasm_budget};
        engine = dpc_engine_start(&cfg, &h, &rc, err, sizeof(err));
        if (!engine) {
            fprintf(stderr, "dpdist-agent: cannot start the data plane on %s: %s\n",
                    cfg.port.kind == CFG_PORT_PCI ? cfg.port.pci : cfg.port.vdev, err);
            ag_server_close(srv);
            urcu_qsbr_unregister_thread();
            return EXIT_SETUP;
        }
        set_endpoint(srv, engine, &cfg, sc.endpoint_id);
    }
    bool inline_poll = engine && dp_engine_inline(engine);
    printf("dpdist-agent: ready on %s (endpoint %016llx, %s, name server port %u)\n",
           cfg.agent.socket, (unsigned long long)sc.endpoint_id,
           engine ? (inline_poll ? "data plane polled inline" : "data plane on its lcore")
                  : "no [port]: no data plane",
           epmd_port);
    fflush(stdout);

    struct pollfd pfd[2] = {{.fd = ag_server_fd(srv), .events = POLLIN},
                            {.fd = sigfd, .events = POLLIN}};
    for (;;) {
        uint64_t t = now_ms();
        uint64_t wait = ag_server_next_timer_ms(srv, t);
        if (inline_poll && wait > AGENT_POLL_MS)
            wait = AGENT_POLL_MS;
        urcu_qsbr_thread_offline(); /* asleep: no grace period waits for this thread */
        int n = poll(pfd, 2, (int)wait);
        urcu_qsbr_thread_online();
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "dpdist-agent: poll: %s\n", strerror(errno));
            break;
        }
        if (n > 0 && (pfd[1].revents & POLLIN)) {
            struct signalfd_siginfo si;
            if (read(sigfd, &si, sizeof(si)) == sizeof(si)) {
                DLOG_INFO("agent", "signal %u: stopping", si.ssi_signo);
                break;
            }
        }
        ag_server_step(srv, now_ms());
        if (inline_poll)
            dp_engine_poll(engine, 1);
        urcu_qsbr_quiescent_state();
    }

    struct ag_server_counters ctr;
    ag_server_counters(srv, &ctr);
    ag_server_close(srv);
    if (engine) {
        urcu_qsbr_thread_offline();
        urcu_qsbr_barrier();
        urcu_qsbr_thread_online();
        dpc_engine_stop(engine);
    }
    urcu_qsbr_unregister_thread();
    close(sigfd);
#define AG_X_PRINT(f, what)                                                                        \
    fprintf(stderr, "  %-16s %llu  (%s)\n", #f, (unsigned long long)ctr.f, what);
    fprintf(stderr, "dpdist-agent: stopped; counters:\n");
    AG_SERVER_COUNTERS(AG_X_PRINT)
#undef AG_X_PRINT
    return EXIT_STOPPED;
}
