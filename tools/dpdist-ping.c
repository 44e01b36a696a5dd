/* dpdist-ping NODE: like net_adm:ping/1 from a fresh node. Prints pong and exits 0, or
 * prints pang and exits 1 (2 for a usage or start-up error). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "dpdist/dpdist.h"
#include "dpdist/dpdist_args.h"

int main(int argc, char **argv)
{
    dlog_set_ident("dpdist-ping");
    dlog_set_level(DLOG_WARN);
    struct dd_args a;
    char auto_name[64];
    char **av = NULL;
    bool named = false;
    for (int i = 1; i < argc; i++)
        named |= !strcmp(argv[i], "-sname") || !strcmp(argv[i], "-name");
    if (!named) {
        /* A fresh short name, as `erl -sname` would need one. */
        snprintf(auto_name, sizeof(auto_name), "dpdist_ping_%d", (int)getpid());
        av = calloc((size_t)argc + 3, sizeof(char *));
        if (!av)
            return 2;
        for (int i = 0; i < argc; i++)
            av[i] = argv[i];
        av[argc] = "-sname";
        av[argc + 1] = auto_name;
        argv = av;
        argc += 2;
    }
    int prc = dd_args_parse(argc, argv, &a);
    if (prc != DD_OK)
        fprintf(stderr, "dpdist-ping: %s\n", dd_last_error());
    if (prc != DD_OK || a.rest_argc != 1) {
        fprintf(stderr, "usage: dpdist-ping [options] NODE\n%s", dd_args_usage());
        dd_args_free(&a);
        free(av);
        return 2;
    }
    const char *target = a.rest_argv[0];
    dd_node *node;
    int rc = dd_node_start(&a.cfg, &node);
    if (rc != DD_OK) {
        fprintf(stderr, "dpdist-ping: %s: %s\n", dd_strerror(rc), dd_last_error());
        dd_args_free(&a);
        free(av);
        return rc == DD_ECONFIG ? DD_EXIT_CONFIG : 2;
    }
    rc = dd_ping(node, target, 10000);
    if (rc == DD_OK)
        printf("pong\n");
    else {
        printf("pang\n");
        fprintf(stderr, "dpdist-ping: %s: %s\n", dd_strerror(rc), dd_last_error());
    }
    fflush(stdout);
    dd_node_stop(node);
    free(av);
    dd_args_free(&a);
    return rc == DD_OK ? 0 : 1;
}
