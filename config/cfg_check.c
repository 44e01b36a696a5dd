/* cfg system checks: does this machine fit the configuration? Reads sysfs and procfs
 * (under roots that tests can point at a fake tree) and stats files; never initialises the
 * EAL, opens a device or changes anything. See cfg.h. The clashes between
 * configurations of one host are in cfg_peers.c. */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/cfg_pvt.h"

#define SYS_MAX_CPUS  4096 /* CPUs this check can describe; larger ids count as absent */
#define SYS_MAX_NODES 64

struct cpuset {
    uint64_t bits[SYS_MAX_CPUS / 64];
};

struct sys {
    const char *sys, *proc;
    const struct cfg_file *cfg;
    struct cfg_diags *d;
    int cpu_node[SYS_MAX_CPUS]; /* -1: unknown */
};

#define ERR(k, ...)  cfg_diag_key(s->d, CFG_SEV_ERROR, s->cfg, CFG_K_##k, __VA_ARGS__)
#define WARN(k, ...) cfg_diag_key(s->d, CFG_SEV_WARNING, s->cfg, CFG_K_##k, __VA_ARGS__)

/* --- reading sysfs and procfs --------------------------------------------------------- */

/* Reads root/rel (at most len-1 bytes, trailing whitespace removed). Bytes or -errno. */
static int read_text(const char *root, const char *rel, char *buf, size_t len)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, len - 1);
    int e = errno;
    close(fd);
    if (n < 0)
        return -e;
    while (n > 0 && isspace((unsigned char)buf[n - 1]))
        n--;
    buf[n] = '\0';
    return (int)n;
}

static bool path_exists(const char *root, const char *rel)
{
    char path[PATH_MAX];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    return stat(path, &st) == 0;
}

/* Basename of the symlink root/rel's target into buf; false if it is not a link. */
static bool read_link_base(const char *root, const char *rel, char *buf, size_t len)
{
    char path[PATH_MAX], target[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    ssize_t n = readlink(path, target, sizeof(target) - 1);
    if (n <= 0)
        return false;
    target[n] = '\0';
    const char *slash = strrchr(target, '/');
    cfg_copy(buf, len, slash ? slash + 1 : target);
    return true;
}

static void cpuset_add(struct cpuset *c, unsigned cpu)
{
    if (cpu < SYS_MAX_CPUS)
        c->bits[cpu / 64] |= 1ull << (cpu % 64);
}

static bool cpuset_has(const struct cpuset *c, unsigned cpu)
{
    return cpu < SYS_MAX_CPUS && (c->bits[cpu / 64] >> (cpu % 64) & 1);
}

/* A sysfs CPU list ("0-3,8"). */
static int read_cpuset(const char *root, const char *rel, struct cpuset *c)
{
    char text[4096];
    memset(c, 0, sizeof(*c));
    int n = read_text(root, rel, text, sizeof(text));
    if (n < 0)
        return n;
    for (char *p = text; *p;) {
        char *end;
        unsigned long a = strtoul(p, &end, 10), b = a;
        if (end == p)
            return -EINVAL;
        if (*end == '-') {
            p = end + 1;
            b = strtoul(p, &end, 10);
            if (end == p)
                return -EINVAL;
        }
        for (unsigned long x = a; x <= b && x < SYS_MAX_CPUS; x++)
            cpuset_add(c, (unsigned)x);
        p = *end == ',' ? end + 1 : end;
        if (*end && *end != ',')
            return -EINVAL;
    }
    return 0;
}

static void format_cpuset(const struct cpuset *c, char *buf, size_t len)
{
    struct cfg_cpus list = {0};
    for (unsigned cpu = 0; cpu < SYS_MAX_CPUS && list.n < CFG_MAX_LCORE; cpu++)
        if (cpuset_has(c, cpu))
            list.cpu[list.n++] = (uint16_t)cpu;
    cfg_format_cpus(&list, buf, len);
}

/* The NUMA node of every CPU, from devices/system/node/node<N>/cpulist. */
static void load_cpu_nodes(struct sys *s)
{
    for (unsigned i = 0; i < SYS_MAX_CPUS; i++)
        s->cpu_node[i] = -1;
    for (int node = 0; node < SYS_MAX_NODES; node++) {
        char rel[96];
        struct cpuset c;
        snprintf(rel, sizeof(rel), "devices/system/node/node%d/cpulist", node);
        if (read_cpuset(s->sys, rel, &c) < 0)
            continue;
        for (unsigned cpu = 0; cpu < SYS_MAX_CPUS; cpu++)
            if (cpuset_has(&c, cpu))
                s->cpu_node[cpu] = node;
    }
}

/* --- lcores --------------------------------------------------------------------------- */

static void check_lcores(struct sys *s)
{
    const struct cfg_cpus *lc = &s->cfg->eal.lcores;
    struct cpuset present, online;
    char list[256];
    if (read_cpuset(s->sys, "devices/system/cpu/present", &present) < 0 ||
        read_cpuset(s->sys, "devices/system/cpu/online", &online) < 0) {
        struct cfg_diag *g = WARN(EAL_LCORES,
                                  "cannot read %s/devices/system/cpu: lcores not "
                                  "checked",
                                  s->sys);
        cfg_diag_fix(g, "run the check where sysfs is mounted");
        return;
    }
    format_cpuset(&online, list, sizeof(list));
    struct cfg_cpus absent = {0}, offline = {0};
    for (unsigned i = 0; i < lc->n; i++) {
        unsigned cpu = lc->cpu[i];
        if (!cpuset_has(&present, cpu))
            absent.cpu[absent.n++] = (uint16_t)cpu;
        else if (!cpuset_has(&online, cpu))
            offline.cpu[offline.n++] = (uint16_t)cpu;
    }
    char bad[256];
    struct cfg_diag *g;
    if (absent.n) {
        cfg_format_cpus(&absent, bad, sizeof(bad));
        g = ERR(EAL_LCORES, "CPU%s %s do%s not exist on this machine (online: %s)",
                absent.n > 1 ? "s" : "", bad, absent.n > 1 ? "" : "es", list);
        cfg_diag_fix(g, "choose lcores among %s", list);
    }
    if (offline.n) {
        cfg_format_cpus(&offline, bad, sizeof(bad));
        g = ERR(EAL_LCORES, "CPU%s %s %s offline", offline.n > 1 ? "s" : "", bad,
                offline.n > 1 ? "are" : "is");
        cfg_diag_fix(g,
                     "bring %s online (echo 1 > /sys/devices/system/cpu/cpu%u/online), or "
                     "choose among %s",
                     offline.n > 1 ? "them" : "it", offline.cpu[0], list);
    }
}

/* --- the PCI device ------------------------------------------------------------------- */

static const char *required_driver(int drv)
{
    switch (drv) {
    case CFG_DRV_VFIO_PCI:
        return "vfio-pci";
    case CFG_DRV_UIO_PCI_GENERIC:
        return "uio_pci_generic";
    case CFG_DRV_IGB_UIO:
        return "igb_uio";
    case CFG_DRV_KERNEL:
        return "mlx5_core";
    }
    return "?";
}

/* The first network interface of the device and whether it is up. */
static bool pci_netdev(const struct sys *s, const char *dev, char *ifname, size_t len, bool *up)
{
    char path[PATH_MAX], rel[PATH_MAX], state[32];
    snprintf(path, sizeof(path), "%s/%s/net", s->sys, dev);
    DIR *dir = opendir(path);
    if (!dir)
        return false;
    struct dirent *e;
    bool found = false;
    while ((e = readdir(dir))) {
        if (e->d_name[0] == '.')
            continue;
        cfg_copy(ifname, len, e->d_name);
        found = true;
        break;
    }
    closedir(dir);
    if (found) {
        snprintf(rel, sizeof(rel), "%s/net/%s/operstate", dev, ifname);
        *up = read_text(s->sys, rel, state, sizeof(state)) > 0 && strcmp(state, "down") != 0;
    }
    return found;
}

/* A kernel interface the port sends through (af_packet, af_xdp, a bifurcated NIC) drops
 * frames above its own MTU: it must take [port] mtu. rel is the interface's sysfs directory;
 * nothing is said when it is not readable here (another network namespace, not created yet). */
static void check_iface_mtu(struct sys *s, const char *rel, const char *ifname)
{
    char path[PATH_MAX], text[32];
    snprintf(path, sizeof(path), "%s/mtu", rel);
    if (read_text(s->sys, path, text, sizeof(text)) <= 0)
        return;
    unsigned long have = strtoul(text, NULL, 10);
    if (have >= s->cfg->port.mtu)
        return;
    struct cfg_diag *g = ERR(PORT_MTU,
                             "interface %s has MTU %lu: the kernel drops the data plane's frames "
                             "of mtu %u",
                             ifname, have, s->cfg->port.mtu);
    cfg_diag_fix(g, "`ip link set %s mtu %u` (and on every link to the peers), or mtu = %lu",
                 ifname, s->cfg->port.mtu, have);
}

static void check_vdev_iface(struct sys *s)
{
    char drv[64], ifname[64], rel[128];
    cfg_vdev_driver(s->cfg->port.vdev, drv, sizeof(drv));
    if ((strcmp(drv, "net_af_packet") && strcmp(drv, "net_af_xdp")) ||
        !cfg_vdev_arg(s->cfg->port.vdev, "iface", ifname, sizeof(ifname)) || !ifname[0] ||
        strchr(ifname, '/'))
        return;
    snprintf(rel, sizeof(rel), "class/net/%s", ifname);
    check_iface_mtu(s, rel, ifname);
}

/* Checks the device; returns its NUMA node, or -1 (unknown or absent). */
static int check_pci(struct sys *s)
{
    const struct cfg_file *cfg = s->cfg;
    char dev[64], rel[128], text[64], bound[64] = "", ifname[64] = "";
    struct cfg_diag *g;
    snprintf(dev, sizeof(dev), "bus/pci/devices/%s", cfg->port.pci);
    if (!path_exists(s->sys, dev)) {
        g = ERR(PORT_PCI, "no PCI device %s on this machine", cfg->port.pci);
        cfg_diag_fix(g, "find the port with `dpdk-devbind.py --status` or `lspci -D`");
        return -1;
    }
    snprintf(rel, sizeof(rel), "%s/vendor", dev);
    unsigned long vendor =
        read_text(s->sys, rel, text, sizeof(text)) > 0 ? strtoul(text, NULL, 16) : 0;
    bool mlx = vendor == CFG_VENDOR_MELLANOX;
    snprintf(rel, sizeof(rel), "%s/numa_node", dev);
    int node = read_text(s->sys, rel, text, sizeof(text)) > 0 ? atoi(text) : -1;
    snprintf(rel, sizeof(rel), "%s/driver", dev);
    bool has_driver = read_link_base(s->sys, rel, bound, sizeof(bound));
    bool up = false;
    bool has_if = pci_netdev(s, dev, ifname, sizeof(ifname), &up);

    int want = cfg->port.driver == CFG_DRV_AUTO ? (mlx ? CFG_DRV_KERNEL : CFG_DRV_VFIO_PCI)
                                                : cfg->port.driver;
    const char *need = required_driver(want);
    if (want == CFG_DRV_KERNEL && !mlx) {
        g = ERR(PORT_DRIVER, "%s is not a Mellanox device; only mlx5 keeps its kernel driver",
                cfg->port.pci);
        cfg_diag_fix(g, "set driver = vfio-pci (or auto)");
    } else if (want != CFG_DRV_KERNEL && mlx) {
        g = ERR(PORT_DRIVER,
                "%s is a Mellanox device: the mlx5 driver works with the kernel "
                "driver kept (bifurcated), not with %s",
                cfg->port.pci, need);
        cfg_diag_fix(g, "set driver = kernel (or auto) and bind it back to mlx5_core");
    } else if (!has_driver) {
        g = ERR(PORT_PCI, "%s is not bound to any driver; it needs %s", cfg->port.pci, need);
        cfg_diag_fix(g, "%s",
                     want == CFG_DRV_KERNEL ? "load mlx5_core (modprobe mlx5_core)"
                                            : "run configs/setup-host with this file, or "
                                              "dpdk-devbind.py -b <driver> <pci>");
    } else if (strcmp(bound, need) != 0) {
        g = ERR(PORT_PCI, "%s is bound to %s, another driver; it needs %s%s%s%s", cfg->port.pci,
                bound, need, has_if ? " (interface " : "", has_if ? ifname : "",
                has_if ? (up ? ", up)" : ")") : "");
        if (up)
            cfg_diag_fix(g,
                         "make sure nothing uses %s (is it your SSH link?), `ip link set %s "
                         "down`, then `dpdk-devbind.py -b %s %s` or configs/setup-host",
                         ifname, ifname, need, cfg->port.pci);
        else
            cfg_diag_fix(g, "`dpdk-devbind.py -b %s %s`, or run configs/setup-host with this file",
                         need, cfg->port.pci);
    } else if (want == CFG_DRV_KERNEL && has_if && !up) {
        g = WARN(PORT_PCI, "interface %s of the bifurcated port is down", ifname);
        cfg_diag_fix(g, "ip link set %s up", ifname);
    }
    if (want == CFG_DRV_KERNEL && has_if) {
        snprintf(rel, sizeof(rel), "%s/net/%s", dev, ifname);
        check_iface_mtu(s, rel, ifname);
    }
    if (want == CFG_DRV_VFIO_PCI && !mlx) {
        snprintf(rel, sizeof(rel), "%s/iommu_group", dev);
        if (!path_exists(s->sys, rel)) {
            g = WARN(PORT_PCI, "%s has no IOMMU group, which vfio-pci needs", cfg->port.pci);
            cfg_diag_fix(g, "boot with intel_iommu=on iommu=pt (or amd_iommu=on), or load vfio "
                            "with enable_unsafe_noiommu_mode=1 on trusted machines");
        }
    }
    return node;
}

/* Polling lcores and socket_mem on the NIC's node. */
static void check_numa(struct sys *s, int nic_node)
{
    const struct cfg_file *cfg = s->cfg;
    uint16_t poll[CFG_MAX_LCORE];
    unsigned n = cfg_poll_lcores(cfg, poll, CFG_MAX_LCORE);
    struct cpuset local = {{0}};
    char list[256];
    for (unsigned cpu = 0; cpu < SYS_MAX_CPUS; cpu++)
        if (s->cpu_node[cpu] == nic_node)
            cpuset_add(&local, cpu);
    format_cpuset(&local, list, sizeof(list));
    struct cfg_cpus away = {0};
    int away_node = -1;
    bool mixed = false;
    for (unsigned i = 0; i < n && i < CFG_MAX_LCORE; i++) {
        int node = s->cpu_node[poll[i]];
        if (node < 0 || node == nic_node)
            continue;
        mixed = mixed || (away_node >= 0 && node != away_node);
        away_node = node;
        away.cpu[away.n++] = poll[i];
    }
    if (away.n) {
        char cpus[256], where[32] = "other NUMA nodes";
        cfg_format_cpus(&away, cpus, sizeof(cpus));
        if (!mixed)
            snprintf(where, sizeof(where), "NUMA node %d", away_node);
        struct cfg_diag *g = ERR(EAL_LCORES, "polling lcore%s %s %s on %s, the NIC %s on node %d",
                                 away.n > 1 ? "s" : "", cpus, away.n > 1 ? "are" : "is", where,
                                 cfg->port.pci, nic_node);
        cfg_diag_fix(g, "poll from CPUs of node %d: %s", nic_node, list);
    }
    const struct cfg_memlist *m = &cfg->eal.socket_mem;
    if (m->n && !cfg->eal.no_huge && ((unsigned)nic_node >= m->n || m->mb[nic_node] == 0)) {
        struct cfg_diag *g =
            ERR(EAL_SOCKET_MEM, "no memory on NUMA node %d, where the NIC is", nic_node);
        cfg_diag_fix(g, "give node %d the memory (socket_mem lists node 0 first)", nic_node);
    }
}

/* --- hugepages ------------------------------------------------------------------------ */

/* Free hugepage memory in MiB under root/rel (a directory of hugepages-<N>kB). */
static uint64_t free_huge_mb(const char *root, const char *rel, bool *found)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    DIR *dir = opendir(path);
    uint64_t mb = 0;
    *found = dir != NULL;
    if (!dir)
        return 0;
    struct dirent *e;
    while ((e = readdir(dir))) {
        unsigned long kb;
        char text[32], sub[PATH_MAX];
        if (sscanf(e->d_name, "hugepages-%lukB", &kb) != 1)
            continue;
        snprintf(sub, sizeof(sub), "%s/%s/free_hugepages", rel, e->d_name);
        if (read_text(root, sub, text, sizeof(text)) > 0)
            mb += strtoull(text, NULL, 10) * kb / 1024;
    }
    closedir(dir);
    return mb;
}

static bool hugetlbfs_mounted(const struct sys *s)
{
    char path[PATH_MAX], line[1024];
    snprintf(path, sizeof(path), "%s/mounts", s->proc);
    FILE *f = fopen(path, "re");
    bool found = false;
    if (!f)
        return false;
    while (!found && fgets(line, sizeof(line), f)) {
        char dev[256], dir[512], type[64];
        found =
            sscanf(line, "%255s %511s %63s", dev, dir, type) == 3 && strcmp(type, "hugetlbfs") == 0;
    }
    fclose(f);
    return found;
}

static void check_hugepages(struct sys *s)
{
    const struct cfg_file *cfg = s->cfg;
    struct cfg_diag *g;
    bool found;
    enum cfg_key_id key = cfg->eal.socket_mem.n ? CFG_K_EAL_SOCKET_MEM : CFG_K_EAL_MEM_MB;
    if (!hugetlbfs_mounted(s)) {
        g = cfg_diag_key(s->d, CFG_SEV_ERROR, cfg, key, "no hugetlbfs is mounted");
        cfg_diag_fix(g, "run configs/setup-host, or `mount -t hugetlbfs nodev /dev/hugepages`; "
                        "or set no_huge = true for a vdev");
    }
    if (cfg->eal.socket_mem.n) {
        for (unsigned i = 0; i < cfg->eal.socket_mem.n; i++) {
            uint32_t want = cfg->eal.socket_mem.mb[i];
            char rel[96];
            if (!want)
                continue;
            snprintf(rel, sizeof(rel), "devices/system/node/node%u", i);
            if (!path_exists(s->sys, rel)) {
                g = ERR(EAL_SOCKET_MEM, "NUMA node %u does not exist on this machine", i);
                cfg_diag_fix(g, "list MiB only for the machine's nodes (see lscpu)");
                continue;
            }
            snprintf(rel, sizeof(rel), "devices/system/node/node%u/hugepages", i);
            uint64_t free_mb = free_huge_mb(s->sys, rel, &found);
            if (free_mb < want) {
                g = ERR(EAL_SOCKET_MEM,
                        "NUMA node %u has %llu MiB of free hugepages, %u are "
                        "asked for",
                        i, (unsigned long long)free_mb, want);
                cfg_diag_fix(g,
                             "reserve %llu more 2 MiB pages on node %u: configs/setup-host, or "
                             "/sys/devices/system/node/node%u/hugepages/hugepages-2048kB/"
                             "nr_hugepages",
                             (unsigned long long)((want - free_mb + 1) / 2), i, i);
            }
        }
        return;
    }
    uint64_t free_mb = free_huge_mb(s->sys, "kernel/mm/hugepages", &found);
    uint64_t want = cfg->eal.mem_mb;
    bool pool_only = want == 0;
    if (pool_only)
        want = ((uint64_t)cfg->mempool.mbuf_count *
                    ((uint64_t)cfg->mempool.data_room + CFG_MBUF_OVERHEAD_BYTES) +
                (1u << 20) - 1) >>
               20;
    if (free_mb < want) {
        g = cfg_diag_key(s->d, CFG_SEV_ERROR, cfg, CFG_K_EAL_MEM_MB,
                         "%llu MiB of hugepages are free, %s %llu MiB", (unsigned long long)free_mb,
                         pool_only ? "the packet pool alone needs" : "mem_mb asks for",
                         (unsigned long long)want);
        cfg_diag_fix(g,
                     "reserve %llu more 2 MiB pages (configs/setup-host), or set no_huge = "
                     "true for a vdev",
                     (unsigned long long)((want - free_mb + 1) / 2));
    }
}

/* --- local listeners ------------------------------------------------------------------ */

/* Whether proc/net/<file> has a socket on `port` in `state` (-1: any) that an address
 * clashes with: want NULL means any address; else sockets on the wildcard address or on
 * *want (IPv4, or IPv4-mapped IPv6) clash. */
static bool proc_has_socket(const struct sys *s, const char *file, int state,
                            const struct in_addr *want, uint16_t port)
{
    char path[PATH_MAX], line[512];
    snprintf(path, sizeof(path), "%s/net/%s", s->proc, file);
    FILE *f = fopen(path, "re");
    bool hit = false;
    if (!f)
        return false;
    while (!hit && fgets(line, sizeof(line), f)) {
        char local[64];
        unsigned lport, st;
        if (sscanf(line, " %*[0-9]: %63[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%*x %x", local, &lport, &st) !=
            3)
            continue;
        if ((state >= 0 && st != (unsigned)state) || lport != port)
            continue;
        size_t n = strlen(local);
        const char *v4 = NULL;
        if (n == 8)
            v4 = local;
        else if (n == 32 && strncmp(local, "0000000000000000FFFF0000", 24) == 0)
            v4 = local + 24;
        if (!want || strspn(local, "0") == n) {
            hit = true; /* any address wanted, or a wildcard socket */
        } else if (v4) {
            /* procfs prints the network-order word as the host reads it: same as s_addr */
            hit = (uint32_t)strtoul(v4, NULL, 16) == want->s_addr;
        }
    }
    fclose(f);
    return hit;
}

static void check_listeners(struct sys *s)
{
    const struct cfg_file *cfg = s->cfg;
    struct cfg_diag *g;
    if (cfg->port.kind != CFG_PORT_NONE && cfg_port_shares_kernel(cfg)) {
        if (proc_has_socket(s, "udp", -1, &cfg->port.ip, cfg->port.udp_port) ||
            proc_has_socket(s, "udp6", -1, &cfg->port.ip, cfg->port.udp_port)) {
            char text[INET_ADDRSTRLEN];
            inet_ntop(AF_INET, &cfg->port.ip, text, sizeof(text));
            g = ERR(PORT_UDP_PORT,
                    "a local socket already uses UDP port %u on %s, and the kernel "
                    "sees this port's frames too",
                    cfg->port.udp_port, text);
            cfg_diag_fix(g,
                         "choose another udp_port, or stop that program (ss -ulpn 'sport = "
                         ":%u')",
                         cfg->port.udp_port);
        }
    }
    unsigned lo = cfg->node.listen_port_min, hi = cfg->node.listen_port_max;
    if (!lo || hi < lo)
        return;
    /* a specific IPv4 address clashes with listeners on it or on the wildcard; the wildcard
     * and IPv6 addresses (checked coarsely) with any listener on the port */
    struct in_addr la;
    const struct in_addr *want = NULL;
    if (inet_pton(AF_INET, cfg->node.listen_address, &la) == 1 && la.s_addr != 0)
        want = &la;
    for (unsigned p = lo; p <= hi; p++)
        if (!proc_has_socket(s, "tcp", 0x0a, want, (uint16_t)p) &&
            !proc_has_socket(s, "tcp6", 0x0a, want, (uint16_t)p))
            return;
    g = ERR(NODE_LISTEN_PORT_MIN, "every TCP port from %u to %u already has a listener", lo, hi);
    cfg_diag_fix(g, "widen or move the range, or stop what listens there (ss -ltnp)");
}

/* --- files and interfaces ------------------------------------------------------------- */

static void check_files(struct sys *s)
{
    const struct cfg_file *cfg = s->cfg;
    struct cfg_diag *g;
    struct stat st;
    const char *cookie = cfg->node.cookie_file;
    if (cookie[0]) {
        if (stat(cookie, &st) < 0) {
            g = ERR(NODE_COOKIE_FILE, "cannot read %s: %s", cookie, strerror(errno));
            cfg_diag_fix(g, "create it with the cluster's cookie and `chmod 400 %s`", cookie);
        } else if (!S_ISREG(st.st_mode)) {
            g = ERR(NODE_COOKIE_FILE, "%s is not a regular file", cookie);
            cfg_diag_fix(g, "point cookie_file at the file holding the cookie");
        } else if (st.st_mode & 077) {
            g = ERR(NODE_COOKIE_FILE,
                    "%s can be read by others (mode %03o); erl refuses such "
                    "cookie files",
                    cookie, (unsigned)(st.st_mode & 0777));
            cfg_diag_fix(g, "chmod 400 %s", cookie);
        }
    }
    char parent[CFG_STR_MAX];
    if (cfg->telemetry.enabled && cfg->telemetry.socket_path[0]) {
        snprintf(parent, sizeof(parent), "%s", cfg->telemetry.socket_path);
        char *slash = strrchr(parent, '/');
        if (slash && slash != parent)
            *slash = '\0';
        if (stat(parent, &st) < 0 || !S_ISDIR(st.st_mode)) {
            g = WARN(TELEMETRY_SOCKET_PATH, "the directory %s does not exist", parent);
            cfg_diag_fix(g, "create it, or change socket_path");
        }
    }
    if (cfg->port.kind != CFG_PORT_VDEV)
        return;
    char drv[64], v[CFG_STR_MAX], rel[CFG_STR_MAX + 16];
    cfg_vdev_driver(cfg->port.vdev, drv, sizeof(drv));
    if ((!strcmp(drv, "net_af_packet") || !strcmp(drv, "net_af_xdp")) &&
        cfg_vdev_arg(cfg->port.vdev, "iface", v, sizeof(v)) && v[0]) {
        snprintf(rel, sizeof(rel), "class/net/%s", v);
        if (!path_exists(s->sys, rel)) {
            g = WARN(PORT_VDEV, "there is no interface %s (here: in this network namespace)", v);
            cfg_diag_fix(g, "create it before starting the node, or check iface=");
        }
    }
    if (!strcmp(drv, "net_memif") && cfg_vdev_arg(cfg->port.vdev, "socket", v, sizeof(v)) &&
        v[0] == '/') {
        char *slash = strrchr(v, '/');
        if (slash != v)
            *slash = '\0';
        if (stat(v, &st) < 0 || !S_ISDIR(st.st_mode)) {
            g = WARN(PORT_VDEV, "the memif socket's directory %s does not exist", v);
            cfg_diag_fix(g, "create it (the service unit's RuntimeDirectory=dpdist does)");
        }
    }
}

int cfg_check_system(const struct cfg_file *cfg, const struct cfg_sysroot *root, struct cfg_diags *d)
{
    struct sys *s = calloc(1, sizeof(*s));
    if (!s) {
        d->oom = true;
        d->errors++;
        return -ENOMEM;
    }
    const char *env_sys = getenv("DPDIST_SYSFS_ROOT"), *env_proc = getenv("DPDIST_PROCFS_ROOT");
    s->sys = root && root->sys ? root->sys : env_sys && *env_sys ? env_sys : "/sys";
    s->proc = root && root->proc ? root->proc : env_proc && *env_proc ? env_proc : "/proc";
    s->cfg = cfg;
    s->d = d;
    unsigned errors_before = d->errors;

    check_files(s);
    check_listeners(s);
    if (cfg_is_agent(cfg))
        cfg_agent_check_system(cfg, d);
    if (cfg->port.kind != CFG_PORT_NONE) { /* only a data plane starts the EAL */
        load_cpu_nodes(s);
        check_lcores(s);
        if (cfg->port.kind == CFG_PORT_PCI) {
            int node = check_pci(s);
            if (node >= 0)
                check_numa(s, node);
        } else {
            check_vdev_iface(s);
        }
        if (!cfg->eal.no_huge)
            check_hugepages(s);
    }
    free(s);
    return d->errors > errors_before ? -EINVAL : 0;
}
