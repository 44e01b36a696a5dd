/* cfg peers: clashes between configurations meant to run on one host (cfg_check_peers,
 * see cfg.h). Pure: compares loaded configurations, reads nothing. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "config/cfg_pvt.h"

static void memif_socket(const struct cfg_file *cfg, char *sock, size_t slen, char *role, size_t rlen)
{
    char drv[64];
    sock[0] = '\0';
    snprintf(role, rlen, "server");
    if (cfg->port.kind != CFG_PORT_VDEV)
        return;
    cfg_vdev_driver(cfg->port.vdev, drv, sizeof(drv));
    if (strcmp(drv, "net_memif") != 0)
        return;
    if (!cfg_vdev_arg(cfg->port.vdev, "socket", sock, slen))
        snprintf(sock, slen, "/run/memif.sock"); /* DPDK's default */
    cfg_vdev_arg(cfg->port.vdev, "role", role, rlen);
}

static void peer_pair(const struct cfg_file *a, const struct cfg_file *b, struct cfg_diags *d)
{
    struct cfg_diag *g;
    if (cfg_node_name(a)[0] && strcmp(cfg_node_name(a), cfg_node_name(b)) == 0) {
        g = cfg_diag_key(d, CFG_SEV_ERROR, b, b->node.sname[0] ? CFG_K_NODE_SNAME : CFG_K_NODE_NAME,
                         "node name %s is also used by %s", cfg_node_name(b), a->path);
        cfg_diag_fix(g, "give each node its own name");
    }
    if (a->port.kind != CFG_PORT_NONE && b->port.kind != CFG_PORT_NONE) {
        if (strcmp(a->eal.file_prefix, b->eal.file_prefix) == 0) {
            g = cfg_diag_key(d, CFG_SEV_ERROR, b, CFG_K_EAL_FILE_PREFIX,
                             "file prefix %s is also used by %s", b->eal.file_prefix, a->path);
            cfg_diag_fix(g, "give each process on a host its own file_prefix");
        }
        if (a->port.kind == CFG_PORT_PCI && b->port.kind == CFG_PORT_PCI &&
            strcmp(a->port.pci, b->port.pci) == 0) {
            g = cfg_diag_key(d, CFG_SEV_ERROR, b, CFG_K_PORT_PCI,
                             "PCI device %s is also used by %s", b->port.pci, a->path);
            cfg_diag_fix(g, "give each node its own port");
        }
        if (a->port.ip.s_addr == b->port.ip.s_addr && a->port.udp_port == b->port.udp_port) {
            char text[INET_ADDRSTRLEN];
            inet_ntop(AF_INET, &b->port.ip, text, sizeof(text));
            g = cfg_diag_key(d, CFG_SEV_ERROR, b, CFG_K_PORT_IP,
                             "%s UDP port %u is also the data-plane address of %s", text,
                             b->port.udp_port, a->path);
            cfg_diag_fix(g, "give each node its own ip (or udp_port)");
        }
        char sa[CFG_STR_MAX], sb[CFG_STR_MAX], ra[16], rb[16];
        memif_socket(a, sa, sizeof(sa), ra, sizeof(ra));
        memif_socket(b, sb, sizeof(sb), rb, sizeof(rb));
        if (sa[0] && sb[0] && strcmp(sa, sb) == 0 && strcmp(ra, rb) == 0) {
            g = cfg_diag_key(d, CFG_SEV_ERROR, b, CFG_K_PORT_VDEV, "%s is also a memif %s on %s",
                             a->path, ra, sa);
            cfg_diag_fix(g, "one side is role=server, the other role=client");
        }
        for (unsigned i = 0; i < b->eal.lcores.n; i++) {
            if (cfg_cpus_has(&a->eal.lcores, b->eal.lcores.cpu[i])) {
                g = cfg_diag_key(d, CFG_SEV_WARNING, b, CFG_K_EAL_LCORES,
                                 "lcore %u is also used by %s: the two share the CPU",
                                 b->eal.lcores.cpu[i], a->path);
                cfg_diag_fix(g, "give each node its own CPUs where the machine has enough");
                break;
            }
        }
    }
}

int cfg_check_peers(const struct cfg_file *const *cfgs, size_t n, struct cfg_diags *d)
{
    unsigned errors_before = d->errors;
    for (size_t j = 1; j < n; j++)
        for (size_t i = 0; i < j; i++)
            peer_pair(cfgs[i], cfgs[j], d);
    return d->errors > errors_before ? -EINVAL : 0;
}
