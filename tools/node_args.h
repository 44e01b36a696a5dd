/* erl-style command-line flags shared by the dpdist node executables:
 *   -sname N | -name N, -setcookie C, -hidden, -epmd_port P, -ticktime S, -config FILE,
 *   -setuptime MS, -listen_min P, -listen_max P, -loglevel error|warning|info|debug
 * Unrecognised arguments are left for the tool (in order). */
#ifndef DPDIST_TOOLS_NODE_ARGS_H
#define DPDIST_TOOLS_NODE_ARGS_H

#include "dpdist/dpdist.h"

struct node_args {
    struct dd_node_cfg cfg;
    int rest_argc;      /* arguments not consumed */
    char **rest_argv;
};

/* Returns 0; -1 after printing an error for a malformed flag. The -config file is read by
 * dd_node_start (its [node] section fills what the flags leave unset). */
int node_args_parse(int argc, char **argv, struct node_args *out);

/* Exit status of a node that refuses its configuration (sysexits EX_CONFIG): the systemd
 * unit does not restart on it. */
#define NODE_EXIT_CONFIG 78
const char *node_args_usage(void);

#endif
