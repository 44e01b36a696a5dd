/* cfg agent: what is particular to the file of a dpdist-agent ([agent], docs/agent.md):
 * the rules between its keys (pure, called by cfg_rules) and its system checks (the socket's
 * directory, the users and groups it names; called by cfg_check_system), and the resolution
 * of user and group names that the agent itself uses, so that the check and the agent agree.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config/cfg_pvt.h"

bool cfg_is_agent(const struct cfg_file *cfg)
{
    return cfg->section_line[CFG_SEC_AGENT] != 0;
}

/* A decimal id: all digits, below 2^32 - 1 (that value means "no id" to the kernel). */
static bool numeric_id(const char *s, uint32_t *id)
{
    char *end;
    if (!*s || strspn(s, "0123456789") != strlen(s))
        return false;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || v >= UINT32_MAX)
        return false;
    *id = (uint32_t)v;
    return true;
}

int cfg_resolve_uid(const char *name, uint32_t *uid)
{
    if (!name || !*name)
        return -EINVAL;
    if (numeric_id(name, uid))
        return 0;
    struct passwd pw, *found = NULL;
    char buf[4096];
    if (getpwnam_r(name, &pw, buf, sizeof(buf), &found) != 0 || !found)
        return -ENOENT;
    *uid = (uint32_t)found->pw_uid;
    return 0;
}

int cfg_resolve_gid(const char *name, uint32_t *gid)
{
    if (!name || !*name)
        return -EINVAL;
    if (numeric_id(name, gid))
        return 0;
    struct group gr, *found = NULL;
    char buf[8192];
    if (getgrnam_r(name, &gr, buf, sizeof(buf), &found) != 0 || !found)
        return -ENOENT;
    *gid = (uint32_t)found->gr_gid;
    return 0;
}

#define BAD(k) (bad[CFG_K_##k])

void cfg_agent_rules(struct cfg_file *cfg, const bool *bad, struct cfg_diags *d)
{
    struct cfg_diag *g;
    if (cfg->section_line[CFG_SEC_NODE]) {
        g = cfg_diag_add(d, CFG_SEV_ERROR, cfg->path, cfg->section_line[CFG_SEC_NODE], "node", NULL,
                         "an agent is not a node: it registers nothing and has no name");
        cfg_diag_fix(g, "remove [node]; the VMs that use the agent have their own names");
    }
    if (!BAD(AGENT_CONN_RX_WINDOW) && !BAD(AGENT_MAX_PACKET) &&
        cfg->agent.conn_rx_window < cfg->agent.max_packet) {
        g = cfg_diag_key2(d, CFG_SEV_ERROR, cfg, CFG_K_AGENT_CONN_RX_WINDOW, CFG_K_AGENT_MAX_PACKET,
                          "conn_rx_window %llu cannot hold a packet of max_packet %llu",
                          (unsigned long long)cfg->agent.conn_rx_window,
                          (unsigned long long)cfg->agent.max_packet);
        cfg_diag_fix(g, "make conn_rx_window at least max_packet");
    }
    if (!BAD(AGENT_VM_PROBE_INTERVAL_MS) && !BAD(AGENT_VM_PROBE_TIMEOUT_MS) &&
        cfg->agent.vm_probe_timeout_ms <= cfg->agent.vm_probe_interval_ms) {
        g = cfg_diag_key2(d, CFG_SEV_ERROR, cfg, CFG_K_AGENT_VM_PROBE_TIMEOUT_MS,
                          CFG_K_AGENT_VM_PROBE_INTERVAL_MS,
                          "vm_probe_timeout_ms %u is not above vm_probe_interval_ms %u: every "
                          "VM would miss its deadline",
                          cfg->agent.vm_probe_timeout_ms, cfg->agent.vm_probe_interval_ms);
        cfg_diag_fix(g, "give the timeout several intervals, e.g. vm_probe_timeout_ms = %u",
                     cfg->agent.vm_probe_interval_ms * 10);
    }
    if (!BAD(AGENT_SOCKET) && cfg->agent.socket[0] != '/') {
        g = cfg_diag_key(d, CFG_SEV_ERROR, cfg, CFG_K_AGENT_SOCKET, "the socket has no path");
        cfg_diag_fix(g, "socket = /run/dpdist/agent.sock");
    }
    if (!BAD(AGENT_SOCKET_MODE) && (cfg->agent.socket_mode & 0002)) {
        g = cfg_diag_key(d, CFG_SEV_WARNING, cfg, CFG_K_AGENT_SOCKET_MODE,
                         "mode %04o lets every user connect; then only allow_uids and allow_gids "
                         "keep strangers out",
                         (unsigned)cfg->agent.socket_mode);
        cfg_diag_fix(g, "socket_mode = 0660 with socket_group = the VMs' group");
    }
}

static void check_ids(const struct cfg_file *cfg, struct cfg_diags *d, enum cfg_key_id key,
                      const struct cfg_names *names, bool users)
{
    for (unsigned i = 0; i < names->n; i++) {
        uint32_t id;
        int rc =
            users ? cfg_resolve_uid(names->name[i], &id) : cfg_resolve_gid(names->name[i], &id);
        if (rc == 0)
            continue;
        struct cfg_diag *g = cfg_diag_key(d, CFG_SEV_ERROR, cfg, key, "there is no %s `%s` here",
                                          users ? "user" : "group", names->name[i]);
        cfg_diag_fix(g, "write a %s that exists (getent %s), or its number",
                     users ? "user" : "group", users ? "passwd" : "group");
    }
}

void cfg_agent_check_system(const struct cfg_file *cfg, struct cfg_diags *d)
{
    struct cfg_diag *g;
    char dir[CFG_AGENT_SOCKET_MAX + 1];
    snprintf(dir, sizeof(dir), "%s", cfg->agent.socket);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir)
        *slash = '\0';
    else if (slash)
        dir[1] = '\0';
    struct stat st;
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        g = cfg_diag_key(d, CFG_SEV_ERROR, cfg, CFG_K_AGENT_SOCKET,
                         "the socket's directory %s does not exist", dir);
        cfg_diag_fix(g, "create it (the agent's service unit does: RuntimeDirectory=dpdist)");
    } else if ((st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX)) {
        g = cfg_diag_key(d, CFG_SEV_ERROR, cfg, CFG_K_AGENT_SOCKET,
                         "the socket's directory %s is writable by every user (mode %04o), who "
                         "could put their own socket there",
                         dir, (unsigned)(st.st_mode & 07777));
        cfg_diag_fix(g, "chmod o-w %s, or choose a directory only the agent writes", dir);
    }
    check_ids(cfg, d, CFG_K_AGENT_ALLOW_UIDS, &cfg->agent.allow_uids, true);
    check_ids(cfg, d, CFG_K_AGENT_ALLOW_GIDS, &cfg->agent.allow_gids, false);
    uint32_t gid;
    if (cfg->agent.socket_group[0] && cfg_resolve_gid(cfg->agent.socket_group, &gid) != 0) {
        g = cfg_diag_key(d, CFG_SEV_ERROR, cfg, CFG_K_AGENT_SOCKET_GROUP,
                         "there is no group `%s` here", cfg->agent.socket_group);
        cfg_diag_fix(g, "write a group that exists (getent group), or its number");
    }
}
