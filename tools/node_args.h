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

/* Returns 0; -1 after printing an error for a malformed flag; NODE_ARGS_CONFIG_ERROR after
 * printing the problems of the -config file. */
#define NODE_ARGS_CONFIG_ERROR (-2)
int node_args_parse(int argc, char **argv, struct node_args *out);

/* Exit status of a node that refuses its configuration (sysexits EX_CONFIG): the systemd
 * unit does not restart on it. */
#define NODE_EXIT_CONFIG 78
const char *node_args_usage(void);

#endif
