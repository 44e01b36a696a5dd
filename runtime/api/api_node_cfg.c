/* The config file's [node] section applied to a node's start settings: what used to happen
 * in the tools only (tools/node_args), so that every program giving dd_node_start a
 * config_file gets the same node. The rules are in api_node_cfg.h. */
#include "runtime/api/api_node_cfg.h"

#include <stdio.h>
#include <stdlib.h>

#include "control/cookie.h"

int node_cfg_apply_file(const struct dd_node_cfg *user, const struct cfg_file *file,
                        struct dd_node_cfg *eff, char *cookie, size_t cap, char *err,
                        size_t errlen)
{
    const typeof(file->node) *f = &file->node;
    *eff = *user;
    if (!eff->sname && !eff->name) {
        if (f->sname[0])
            eff->sname = f->sname;
        if (f->name[0])
            eff->name = f->name;
    }
    if (!eff->hidden)
        eff->hidden = f->hidden;
    if (!eff->ticktime_s && file->key_line[CFG_K_NODE_TICKTIME])
        eff->ticktime_s = f->ticktime_s;
    if (!eff->epmd_port && file->key_line[CFG_K_NODE_EPMD_PORT] && !getenv("ERL_EPMD_PORT"))
        eff->epmd_port = f->epmd_port;
    if (!eff->listen_port_min && f->listen_port_min) {
        eff->listen_port_min = f->listen_port_min;
        eff->listen_port_max = f->listen_port_max;
    }
    if (!eff->handshake_backoff_ms)
        eff->handshake_backoff_ms = f->handshake_backoff_ms;
    if (!eff->handshake_backoff_max_ms)
        eff->handshake_backoff_max_ms = f->handshake_backoff_max_ms;
    if (!eff->max_message_bytes)
        eff->max_message_bytes = (size_t)f->max_message_bytes;
    if (!eff->max_reassembly_bytes)
        eff->max_reassembly_bytes = (size_t)f->max_reassembly_bytes;
    if (!eff->listen_address && file->key_line[CFG_K_NODE_LISTEN_ADDRESS])
        eff->listen_address = f->listen_address;
    if (!eff->cookie && f->cookie_file[0]) {
        char detail[512];
        if (cookie_read_file(f->cookie_file, cookie, cap, detail, sizeof(detail)) != COOKIE_OK) {
            snprintf(err, errlen, "%s: [node] cookie_file: %s", file->path, detail);
            return DD_ECONFIG;
        }
        eff->cookie = cookie;
    }
    return DD_OK;
}
