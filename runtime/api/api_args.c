/* Command-line flags of programs that run a node (include/dpdist/dpdist_args.h), and the
 * process's log level. What tools/node_args.c did for the tools, now for every program. */
#include "dpdist/dpdist_args.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "runtime/core/lasterr.h"

_Static_assert(DD_LOG_ERROR == (int)DLOG_ERROR && DD_LOG_WARNING == (int)DLOG_WARN &&
                   DD_LOG_INFO == (int)DLOG_INFO && DD_LOG_DEBUG == (int)DLOG_DEBUG,
               "the public log levels are common/log.h's");

#define ARGS_PORT_MAX         65535ul
#define ARGS_TICKTIME_MAX_S   86400ul
#define ARGS_SETUPTIME_MAX_MS 120000ul

static const char *const g_level_names[] = {"error", "warning", "info", "debug"};

int dd_log_set_level(enum dd_log_level level)
{
    if ((unsigned)level > DD_LOG_DEBUG)
        return lasterr_set(DD_EINVAL, "log level %d: not one of enum dd_log_level", (int)level);
    dlog_set_level((enum dlog_level)level);
    return DD_OK;
}

const char *dd_args_usage(void)
{
    return "  -sname NAME | -name NAME   node name (short or long host names, as erl)\n"
           "  -setcookie COOKIE          cookie (default: $HOME/.erlang.cookie)\n"
           "  -hidden                    connect as a hidden node\n"
           "  -epmd_port PORT            EPMD port (default: $ERL_EPMD_PORT or 4369)\n"
           "  -ticktime SECONDS          net_ticktime (default 60)\n"
           "  -setuptime MS              net_setuptime per handshake step (default 7000)\n"
           "  -listen_min PORT -listen_max PORT   distribution listen port range\n"
           "  -config FILE               node config ([node] defaults, a DPDK data plane)\n"
           "  -loglevel LEVEL            error, warning, info (default) or debug\n";
}

/* v as a decimal number in min..max, else DD_EINVAL naming flag. */
static int number(const char *flag, const char *v, unsigned long min, unsigned long max,
                  unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long x = strtoul(v, &end, 10);
    if (errno || *end || end == v || v[0] == '-' || x < min || x > max)
        return lasterr_set(DD_EINVAL, "%s needs a number from %lu to %lu, got '%s'", flag, min,
                           max, v);
    *out = x;
    return DD_OK;
}

static int log_level(const char *v)
{
    for (unsigned k = 0; k < sizeof(g_level_names) / sizeof(g_level_names[0]); k++)
        if (!strcmp(v, g_level_names[k]))
            return dd_log_set_level((enum dd_log_level)k);
    return lasterr_set(DD_EINVAL, "-loglevel: error, warning, info or debug, got '%s'", v);
}

/* The flags that take a value (all but -hidden). */
static const char *const g_value_flags[] = {"-sname",     "-name",       "-setcookie",
                                            "-config",    "-loglevel",   "-epmd_port",
                                            "-listen_min", "-listen_max", "-ticktime",
                                            "-setuptime"};

static bool takes_value(const char *a)
{
    for (unsigned k = 0; k < sizeof(g_value_flags) / sizeof(g_value_flags[0]); k++)
        if (!strcmp(a, g_value_flags[k]))
            return true;
    return false;
}

static int port(const char *flag, const char *v, uint16_t *dst)
{
    unsigned long x;
    int rc = number(flag, v, 0, ARGS_PORT_MAX, &x);
    if (rc == DD_OK)
        *dst = (uint16_t)x;
    return rc;
}

/* Flag a (one of g_value_flags) with its value v into cfg: DD_OK or DD_EINVAL. */
static int value_flag(const char *a, const char *v, struct dd_node_cfg *cfg)
{
    unsigned long x;
    int rc = DD_OK;
    if (!strcmp(a, "-sname"))
        cfg->sname = v;
    else if (!strcmp(a, "-name"))
        cfg->name = v;
    else if (!strcmp(a, "-setcookie"))
        cfg->cookie = v;
    else if (!strcmp(a, "-config"))
        cfg->config_file = v;
    else if (!strcmp(a, "-loglevel"))
        rc = log_level(v);
    else if (!strcmp(a, "-epmd_port"))
        rc = port(a, v, &cfg->epmd_port);
    else if (!strcmp(a, "-listen_min"))
        rc = port(a, v, &cfg->listen_port_min);
    else if (!strcmp(a, "-listen_max"))
        rc = port(a, v, &cfg->listen_port_max);
    else if (!strcmp(a, "-ticktime") && (rc = number(a, v, 1, ARGS_TICKTIME_MAX_S, &x)) == DD_OK)
        cfg->ticktime_s = (unsigned)x;
    else if (!strcmp(a, "-setuptime") &&
             (rc = number(a, v, 0, ARGS_SETUPTIME_MAX_MS, &x)) == DD_OK)
        cfg->setuptime_ms = (unsigned)x;
    return rc;
}

int dd_args_parse(int argc, char **argv, struct dd_args *out)
{
    if (!out)
        return lasterr_set(DD_EINVAL, "out is NULL");
    memset(out, 0, sizeof(*out));
    if (!argv || argc < 1)
        return lasterr_set(DD_EINVAL, "argv is NULL or argc < 1");
    out->rest_argv = calloc((size_t)argc + 1, sizeof(char *));
    if (!out->rest_argv)
        return lasterr_set(DD_ENOMEM, "out of memory");
    int rc = DD_OK;
    for (int i = 1; i < argc && rc == DD_OK; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-hidden"))
            out->cfg.hidden = true;
        else if (!takes_value(a))
            out->rest_argv[out->rest_argc++] = argv[i];
        else if (i + 1 >= argc)
            rc = lasterr_set(DD_EINVAL, "%s needs a value", a);
        else
            rc = value_flag(a, argv[++i], &out->cfg);
    }
    if (rc == DD_OK && out->cfg.sname && out->cfg.name)
        rc = lasterr_set(DD_EINVAL, "-sname and -name cannot be used together");
    if (rc != DD_OK)
        dd_args_free(out);
    return rc;
}

void dd_args_free(struct dd_args *args)
{
    if (!args)
        return;
    free(args->rest_argv);
    memset(args, 0, sizeof(*args));
}
