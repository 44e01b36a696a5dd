#include "tools/node_args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "control/cookie.h"
#include "config/cfg.h"

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

/* Node settings from the config file's [node] section, where the command line gave none.
 * The node checks the whole file again (and the machine) when it starts. */
static int node_args_from_config(struct node_args *a)
{
    static struct cfg_file cfg; /* the strings below point into it */
    struct cfg_diags d;
    cfg_diags_init(&d);
    int rc = cfg_load(a->cfg.config_file, &cfg, &d);
    if (rc != 0 || d.errors) {
        cfg_diags_print(&d, stderr);
        cfg_diags_free(&d);
        fprintf(stderr, "%s: invalid configuration\n", a->cfg.config_file);
        return -1;
    }
    cfg_diags_free(&d);
    bool named = a->cfg.sname || a->cfg.name;
    if (!named && cfg.node.sname[0])
        a->cfg.sname = cfg.node.sname;
    if (!named && cfg.node.name[0])
        a->cfg.name = cfg.node.name;
    if (!a->cfg.hidden)
        a->cfg.hidden = cfg.node.hidden;
    if (!a->cfg.ticktime_s && cfg.key_line[CFG_K_NODE_TICKTIME])
        a->cfg.ticktime_s = cfg.node.ticktime_s;
    if (!a->cfg.epmd_port && cfg.key_line[CFG_K_NODE_EPMD_PORT] && !getenv("ERL_EPMD_PORT"))
        a->cfg.epmd_port = cfg.node.epmd_port;
    if (!a->cfg.listen_port_min && cfg.node.listen_port_min) {
        a->cfg.listen_port_min = cfg.node.listen_port_min;
        a->cfg.listen_port_max = cfg.node.listen_port_max;
    }
    if (!a->cfg.handshake_backoff_ms)
        a->cfg.handshake_backoff_ms = cfg.node.handshake_backoff_ms;
    if (!a->cfg.handshake_backoff_max_ms)
        a->cfg.handshake_backoff_max_ms = cfg.node.handshake_backoff_max_ms;
    if (!a->cfg.max_message_bytes)
        a->cfg.max_message_bytes = (size_t)cfg.node.max_message_bytes;
    if (!a->cfg.max_reassembly_bytes)
        a->cfg.max_reassembly_bytes = (size_t)cfg.node.max_reassembly_bytes;
    if (!a->cfg.listen_address && cfg.key_line[CFG_K_NODE_LISTEN_ADDRESS])
        a->cfg.listen_address = cfg.node.listen_address;
    if (!a->cfg.cookie && cfg.node.cookie_file[0]) {
        static char cookie[256];
        char detail[512];
        if (cookie_read_file(cfg.node.cookie_file, cookie, sizeof(cookie), detail,
                             sizeof(detail)) != COOKIE_OK) {
            fprintf(stderr, "%s\n", detail);
            return -1;
        }
        a->cfg.cookie = cookie;
    }
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
    if (out->cfg.config_file && node_args_from_config(out) < 0)
        return NODE_ARGS_CONFIG_ERROR;
    if (!out->cfg.sname && !out->cfg.name) {
        fprintf(stderr, "give -sname NAME or -name NAME\n");
        return -1;
    }
    if (out->cfg.sname && out->cfg.name) {
        fprintf(stderr, "-sname and -name cannot be used together\n");
        return -1;
    }
    return 0;
}
