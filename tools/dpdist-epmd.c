/* dpdist-epmd: an EPMD-compatible name server, and the client commands that query one.
 * Command line as the reference `epmd`; see `dpdist-epmd -help`. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "control/epmd/epmd_client.h"
#include "control/epmd/epmd_server.h"

#define CLIENT_TIMEOUT_MS 10000

static struct epmd_server *g_server;

static void usage(FILE *f)
{
    fputs("usage: dpdist-epmd [-d|-debug] [DbgExtra...] [-address List]\n"
          "                   [-port No] [-daemon] [-relaxed_command_check] [-systemd]\n"
          "       dpdist-epmd [-d|-debug] [-port No] [-names|-dump|-kill|-stop Name]\n"
          "\n"
          "Regular options\n"
          "    -address List           listen only on these comma-separated IPv4/IPv6\n"
          "                            addresses (loopback is always added); also\n"
          "                            ERL_EPMD_ADDRESS\n"
          "    -port No                port (default 4369; also ERL_EPMD_PORT)\n"
          "    -d, -debug              debug log on stderr (repeat for more); keeps only 5\n"
          "                            unused names, as the reference daemon does\n"
          "    -daemon                 detach; log to syslog\n"
          "    -relaxed_command_check  allow -kill with live nodes and -stop (also\n"
          "                            ERL_EPMD_RELAXED_COMMAND_CHECK)\n"
          "    -systemd                take the listening sockets from systemd\n"
          "DbgExtra options\n"
          "    -packet_timeout Seconds idle time before a request connection is closed (60);\n"
          "                            counted in whole seconds as the reference does, so a\n"
          "                            connection is closed after Seconds to Seconds+1\n"
          "    -delay_accept Seconds   simulate a busy server: sleep that long each time the\n"
          "                            daemon wakes up, before accepting or reading (every\n"
          "                            client waits, as with the reference)\n"
          "    -delay_write Seconds    simulate a busy server: sleep that long before each\n"
          "                            write of a reply (NAMES: the header and each line)\n"
          "    -max_conns N            connection limit (default: from RLIMIT_NOFILE)\n"
          "Interactive options\n"
          "    -names                  list names registered with the running daemon\n"
          "    -dump                   dump all state of the running daemon\n"
          "    -kill                   kill the running daemon (refused while names are\n"
          "                            registered unless it runs with -relaxed_command_check)\n"
          "    -stop Name              forcibly unregister Name (needs\n"
          "                            -relaxed_command_check on the daemon)\n",
          f);
}

static void on_signal(int sig)
{
    (void)sig;
    if (g_server)
        epmd_server_stop(g_server);
}

static bool parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v > max || s[0] == '-')
        return false;
    *out = v;
    return true;
}

/* The client commands print what the reference `epmd` prints, so scripts work with both. */
static int run_names(uint16_t port, bool dump)
{
    uint32_t eport;
    char *text;
    size_t len;
    int rc = epmd_client_names(NULL, port, dump, CLIENT_TIMEOUT_MS, &eport, &text, &len);
    if (rc == -ECONNREFUSED || rc == -ENETUNREACH || rc == -EADDRNOTAVAIL) {
        fprintf(stderr, "epmd: Cannot connect to local epmd\n");
        return 1;
    }
    if (rc < 0) {
        printf("epmd: no response from local epmd\n");
        return 1;
    }
    printf("epmd: up and running on port %u with data:\n", eport);
    fwrite(text, 1, len, stdout);
    free(text);
    return 0;
}

static int run_kill(uint16_t port)
{
    char reply[8];
    int rc = epmd_client_kill(NULL, port, CLIENT_TIMEOUT_MS, reply);
    if (rc == -ECONNREFUSED) {
        fprintf(stderr, "epmd: Cannot connect to local epmd\n");
        return 1;
    }
    if (rc < 0) {
        printf("epmd: failed to read answer from local epmd\n");
        return 1;
    }
    if (strcmp(reply, "OK") == 0) {
        printf("Killed\n");
        return 0;
    }
    if (strlen(reply) == 2) {
        printf("Killing not allowed - living nodes in database.\n");
        return 1;
    }
    printf("epmd: local epmd responded with <%s>\n", reply);
    return 1;
}

static int run_stop(uint16_t port, const char *name)
{
    char reply[8];
    if (strlen(name) > 1000) {
        printf("epmd: Name too long!\n");
        return 1;
    }
    int rc = epmd_client_stop(NULL, port, name, CLIENT_TIMEOUT_MS, reply);
    if (rc == -ECONNREFUSED) {
        fprintf(stderr, "epmd: Cannot connect to local epmd\n");
        return 1;
    }
    if (rc < 0) {
        printf("epmd: failed to read answer from local epmd\n");
        return 1;
    }
    if (strlen(reply) == 7) {
        printf("%s\n", reply);
        return 0;
    }
    printf("epmd: local epmd responded with <%s>\n", reply);
    return 1;
}

/* Sockets passed by systemd socket activation (sd_listen_fds protocol). */
static size_t systemd_fds(int *fds, size_t cap)
{
    const char *pid = getenv("LISTEN_PID"), *n = getenv("LISTEN_FDS");
    unsigned long p, count;
    if (!pid || !n || !parse_uint(pid, 0x7fffffff, &p) || (pid_t)p != getpid() ||
        !parse_uint(n, 64, &count))
        return 0;
    size_t k = 0;
    for (unsigned long i = 0; i < count && k < cap; i++) {
        fds[k] = 3 + (int)i;
        fcntl(fds[k], F_SETFD, FD_CLOEXEC);
        k++;
    }
    return k;
}

static int daemonize(void)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid > 0)
        _exit(0);
    setsid();
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid > 0)
        _exit(0);
    if (chdir("/") < 0)
        return -1;
    umask(022);
    int fd = open("/dev/null", O_RDWR);
    if (fd >= 0) {
        dup2(fd, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        if (fd > 2)
            close(fd);
    }
    dlog_use_syslog(true);
    return 0;
}

int main(int argc, char **argv)
{
    struct epmd_server_cfg cfg;
    epmd_server_cfg_defaults(&cfg);
    dlog_set_ident("dpdist-epmd");
    dlog_set_level(DLOG_WARN);

    unsigned long v;
    const char *env = getenv("ERL_EPMD_PORT");
    if (env && *env) {
        if (!parse_uint(env, 65535, &v) || v == 0) {
            fprintf(stderr, "dpdist-epmd: ERL_EPMD_PORT is not a port number: %s\n", env);
            return 1;
        }
        cfg.port = (uint16_t)v;
    }
    cfg.addresses = getenv("ERL_EPMD_ADDRESS");
    cfg.relaxed = getenv("ERL_EPMD_RELAXED_COMMAND_CHECK") != NULL;

    int debug = 0;
    bool daemon_mode = false, systemd = false;
    enum { RUN_SERVER, RUN_NAMES, RUN_DUMP, RUN_KILL, RUN_STOP } mode = RUN_SERVER;
    const char *stop_name = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-d") || !strcmp(a, "-debug")) {
            debug++;
        } else if (!strcmp(a, "-daemon")) {
            daemon_mode = true;
        } else if (!strcmp(a, "-relaxed_command_check")) {
            cfg.relaxed = true;
        } else if (!strcmp(a, "-systemd")) {
            systemd = true;
        } else if (!strcmp(a, "-names")) {
            mode = RUN_NAMES;
        } else if (!strcmp(a, "-dump")) {
            mode = RUN_DUMP;
        } else if (!strcmp(a, "-kill")) {
            mode = RUN_KILL;
        } else if (!strcmp(a, "-stop") && val) {
            mode = RUN_STOP;
            stop_name = val;
            i++;
        } else if (!strcmp(a, "-port") && val) {
            if (!parse_uint(val, 65535, &v) || v == 0) {
                fprintf(stderr, "dpdist-epmd: -port needs a port number, got '%s'\n", val);
                return 1;
            }
            cfg.port = (uint16_t)v;
            i++;
        } else if (!strcmp(a, "-address") && val) {
            cfg.addresses = val;
            i++;
        } else if (!strcmp(a, "-packet_timeout") && val) {
            if (!parse_uint(val, 86400, &v) || v == 0) {
                fprintf(stderr, "dpdist-epmd: -packet_timeout needs seconds, got '%s'\n", val);
                return 1;
            }
            cfg.packet_timeout_s = (unsigned)v;
            i++;
        } else if ((!strcmp(a, "-delay_accept") || !strcmp(a, "-delay_write")) && val) {
            /* 0 is refused, as by the reference (it would mean no delay at all) */
            if (!parse_uint(val, 86400, &v) || v == 0) {
                fprintf(stderr, "dpdist-epmd: %s needs seconds, got '%s'\n", a, val);
                return 1;
            }
            *(!strcmp(a, "-delay_accept") ? &cfg.delay_accept_s : &cfg.delay_write_s) =
                (unsigned)v;
            i++;
        } else if (!strcmp(a, "-max_conns") && val) {
            if (!parse_uint(val, 1000000, &v) || v == 0) {
                fprintf(stderr, "dpdist-epmd: -max_conns needs a count, got '%s'\n", val);
                return 1;
            }
            cfg.max_conns = (unsigned)v;
            i++;
        } else if (!strcmp(a, "-help") || !strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "dpdist-epmd: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            return 1;
        }
    }
    if (debug)
        dlog_set_level(DLOG_DEBUG);

    switch (mode) {
    case RUN_NAMES:
        return run_names(cfg.port, false);
    case RUN_DUMP:
        return run_names(cfg.port, true);
    case RUN_KILL:
        return run_kill(cfg.port);
    case RUN_STOP:
        return run_stop(cfg.port, stop_name);
    case RUN_SERVER:
        break;
    }

    if (debug)
        cfg.max_unreg = 5;
    int fds[16];
    if (systemd) {
        cfg.n_listen_fds = systemd_fds(fds, 16);
        if (cfg.n_listen_fds == 0) {
            fprintf(stderr, "dpdist-epmd: systemd provides no sockets\n");
            return 1;
        }
        cfg.listen_fds = fds;
    }
    signal(SIGPIPE, SIG_IGN);
    char err[256];
    bool in_use;
    g_server = epmd_server_new(&cfg, err, sizeof(err), &in_use);
    if (!g_server) {
        fprintf(stderr, "dpdist-epmd: %s\n", err);
        return in_use ? 0 : 1; /* as the reference daemon: another one is serving */
    }
    if (daemon_mode && daemonize() < 0) {
        fprintf(stderr, "dpdist-epmd: cannot detach: %s\n", strerror(errno));
        return 1;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    DLOG_DBG("epmd", "entering the main loop on port %u", cfg.port);
    epmd_server_run(g_server);
    epmd_server_free(g_server);
    g_server = NULL;
    return 0;
}
