/* The config file's [node] section applied to a node's start settings (api_node_cfg.c).
 * Internal to the API room: dd_node_start calls it after loading the file once. */
#ifndef DPDIST_RUNTIME_API_API_NODE_CFG_H
#define DPDIST_RUNTIME_API_API_NODE_CFG_H

#include <stddef.h>

#include "config/cfg.h"
#include "dpdist/dpdist.h"

/* eff = user, with every field the caller left unset (NULL, 0, false) taken from file's
 * [node] section: explicit > $ERL_EPMD_PORT (epmd_port) > the file > the library's default.
 * Keys whose default would be indistinguishable from "unset" count only when written in the
 * file (ticktime, epmd_port, listen_address: key_line). The name is taken from the file only
 * when the caller gave neither sname nor name. With no explicit cookie and a cookie_file,
 * the cookie is read from that file into cookie (cap bytes).
 * The strings of eff point into user, file and cookie: keep them while eff is used.
 * Returns DD_OK, or DD_ECONFIG with err (errlen bytes) when cookie_file cannot be used.
 * Thread-safe (reads only its arguments and the environment). */
int node_cfg_apply_file(const struct dd_node_cfg *user, const struct cfg_file *file,
                        struct dd_node_cfg *eff, char *cookie, size_t cap, char *err,
                        size_t errlen);

#endif
