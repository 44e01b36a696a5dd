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

/* Returns 0, or -1 after printing an error for a malformed flag. */
int node_args_parse(int argc, char **argv, struct node_args *out);
const char *node_args_usage(void);

#endif
