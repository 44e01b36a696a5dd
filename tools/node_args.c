#include "tools/node_args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

const char *node_args_usage(void)
{
    return "  -sname NAME | -name NAME   node name (short or long host names, as erl)\n"
           "  -setcookie COOKIE          cookie (default: $HOME/.erlang.cookie)\n"
           "  -hidden                    connect as a hidden node\n"
           "  -epmd_port PORT            EPMD port (default: $ERL_EPMD_PORT or 4369)\n"
           "  -ticktime SECONDS          net_ticktime (default 60)\n"
           "  -setuptime MS              net_setuptime per handshake step (default 7000)\n"
           "  -listen_min PORT -listen_max PORT   distribution listen port range\n"
           "  -config FILE               node config with a DPDK data plane\n"
           "  -loglevel LEVEL            error, warning, info (default) or debug\n";
}

static int number(const char *flag, const char *v, unsigned long max, unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long x = v ? strtoul(v, &end, 10) : 0;
    if (!v || errno || *end || end == v || x > max) {
        fprintf(stderr, "%s needs a number up to %lu, got '%s'\n", flag, max, v ? v : "");
        return -1;
    }
    *out = x;
    return 0;
}

int node_args_parse(int argc, char **argv, struct node_args *out)
{
    memset(out, 0, sizeof(*out));
    out->rest_argv = calloc((size_t)argc + 1, sizeof(char *));
    if (!out->rest_argv)
        return -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        unsigned long x;
        if (!strcmp(a, "-sname") && v) {
            out->cfg.sname = v;
            i++;
        } else if (!strcmp(a, "-name") && v) {
            out->cfg.name = v;
            i++;
        } else if (!strcmp(a, "-setcookie") && v) {
            out->cfg.cookie = v;
            i++;
        } else if (!strcmp(a, "-hidden")) {
            out->cfg.hidden = true;
        } else if (!strcmp(a, "-config") && v) {
            out->cfg.config_file = v;
            i++;
        } else if (!strcmp(a, "-epmd_port")) {
            if (number(a, v, 65535, &x) < 0)
                return -1;
            out->cfg.epmd_port = (uint16_t)x;
            i++;
        } else if (!strcmp(a, "-ticktime")) {
            if (number(a, v, 86400, &x) < 0 || x == 0)
                return -1;
            out->cfg.ticktime_s = (unsigned)x;
            i++;
        } else if (!strcmp(a, "-setuptime")) {
            if (number(a, v, 120000, &x) < 0)
                return -1;
            out->cfg.setuptime_ms = (unsigned)x;
            i++;
        } else if (!strcmp(a, "-listen_min")) {
            if (number(a, v, 65535, &x) < 0)
                return -1;
            out->cfg.listen_port_min = (uint16_t)x;
            i++;
        } else if (!strcmp(a, "-listen_max")) {
            if (number(a, v, 65535, &x) < 0)
                return -1;
            out->cfg.listen_port_max = (uint16_t)x;
            i++;
        } else if (!strcmp(a, "-loglevel") && v) {
            static const char *const lv[] = {"error", "warning", "info", "debug"};
            int k;
            for (k = 0; k < 4 && strcmp(v, lv[k]); k++)
                ;
            if (k == 4) {
                fprintf(stderr, "-loglevel: error, warning, info or debug\n");
                return -1;
            }
            dlog_set_level((enum dlog_level)k);
            i++;
        } else {
            out->rest_argv[out->rest_argc++] = argv[i];
        }
    }
    /* With -config, the name may come from the file's [node] (dd_node_start applies it). */
    if (!out->cfg.sname && !out->cfg.name && !out->cfg.config_file) {
        fprintf(stderr, "give -sname NAME or -name NAME\n");
        return -1;
    }
    if (out->cfg.sname && out->cfg.name) {
        fprintf(stderr, "-sname and -name cannot be used together\n");
        return -1;
    }
    return 0;
}
