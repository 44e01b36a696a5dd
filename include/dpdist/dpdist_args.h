/* dpdist public API: erl-style command-line flags for programs that run a node, and the
 * process's log level.
 *
 * The flags, as erl spells them:
 *   -sname NAME | -name NAME, -setcookie COOKIE, -hidden, -epmd_port PORT, -ticktime S,
 *   -setuptime MS, -listen_min PORT, -listen_max PORT, -config FILE,
 *   -loglevel error|warning|info|debug
 * They fill a struct dd_node_cfg for dd_node_start (a -config file's [node] section then
 * fills what the flags leave unset, in dd_node_start). Every other argument is left, in its
 * order, for the program.
 */
#ifndef DPDIST_DPDIST_ARGS_H
#define DPDIST_DPDIST_ARGS_H

#include "dpdist/dpdist.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Exit status of a program whose node refuses its configuration (dd_node_start returned
 * DD_ECONFIG): sysexits' EX_CONFIG, on which the dpdist systemd units do not restart. */
#define DD_EXIT_CONFIG 78

/* ---- logging ------------------------------------------------------------------------ */

enum dd_log_level {
    DD_LOG_ERROR = 0,
    DD_LOG_WARNING = 1,
    DD_LOG_INFO = 2, /* the default */
    DD_LOG_DEBUG = 3,
};

/**
 * Set the level of the lines the library logs (to stderr), for the whole process.
 *
 * @param level
 *   The most verbose level still logged.
 * @return
 *   DD_OK, or DD_EINVAL if level is not one of enum dd_log_level (the level is unchanged).
 * @note Thread-safe (an atomic store); lines logged after the call obey it.
 */
DD_EXPORT int dd_log_set_level(enum dd_log_level level);

/* ---- command-line flags ----------------------------------------------------------- */

struct dd_args {
    /* The node settings from the flags. Its strings point into the argv given to
     * dd_args_parse: keep argv while cfg is used. */
    struct dd_node_cfg cfg;
    int rest_argc;     /* the arguments that are not node flags, in order */
    char **rest_argv;  /* NULL-terminated; pointers into argv; freed by dd_args_free */
};

/**
 * Parse the node flags of a command line.
 *
 * argv[0] (the program) is skipped. A flag that takes a value consumes the next argument
 * whatever it looks like. -loglevel takes effect at once (dd_log_set_level). Neither a name
 * nor a cookie is required here: dd_node_start checks the settings (a -config file may
 * name the node).
 *
 * @param argc
 *   Number of arguments in argv (at least 1).
 * @param argv
 *   The arguments; not modified, and must outlive out.
 * @param out
 *   Filled on success; on failure left zeroed (nothing to free).
 * @return
 *   DD_OK, or:
 *   - DD_EINVAL: argv or out NULL, argc < 1, a flag without its value, a number that is not
 *     one or is out of range (ports 0..65535, -ticktime 1..86400, -setuptime 0..120000), an
 *     unknown -loglevel, or both -sname and -name; dd_last_error() names the flag.
 *   - DD_ENOMEM.
 * @note Thread-safe, except that -loglevel sets the process-wide level.
 */
DD_EXPORT int dd_args_parse(int argc, char **argv, struct dd_args *out);

/**
 * Release what dd_args_parse allocated (rest_argv) and zero args. NULL: nothing.
 * @note Thread-safe for distinct args.
 */
DD_EXPORT void dd_args_free(struct dd_args *args);

/**
 * The flags' help text: one line per flag, two-space indented, ending in a newline. A
 * static string. Thread-safe.
 */
DD_EXPORT const char *dd_args_usage(void);

#ifdef __cplusplus
}
#endif

#endif
