/* cfg rules: defaults derived from other keys, and the checks that involve more than one
 * key (names, memory, port and queues, mbufs, windows, timers). Pure: looks at the
 * configuration only; the machine is cfg_check.c's business.
 *
 * A key whose value did not parse keeps its default and is marked bad; a rule that needs a
 * bad key is skipped, so one typo gives one error, not a cascade. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/dp_devargs.h"
#include "dataplane/dp_portlim.h"
#include "config/cfg_pvt.h"

struct rules {
    struct cfg_file *cfg;
    const bool *bad;
    struct cfg_diags *d;
};

#define BAD(k)       (r->bad[CFG_K_##k])
#define SET(k)       (r->cfg->key_line[CFG_K_##k] != 0)
#define ERR(k, ...)  cfg_diag_key(r->d, CFG_SEV_ERROR, r->cfg, CFG_K_##k, __VA_ARGS__)
#define WARN(k, ...) cfg_diag_key(r->d, CFG_SEV_WARNING, r->cfg, CFG_K_##k, __VA_ARGS__)
/* a rule between two keys: reported at the first unless only the second is in the file */
#define ERR2(k, o, ...)                                                                            \
    cfg_diag_key2(r->d, CFG_SEV_ERROR, r->cfg, CFG_K_##k, CFG_K_##o, __VA_ARGS__)
#define WARN2(k, o, ...)                                                                           \
    cfg_diag_key2(r->d, CFG_SEV_WARNING, r->cfg, CFG_K_##k, CFG_K_##o, __VA_ARGS__)

#define MIB (1024ull * 1024)

/* --- helpers shared with the other cfg files ------------------------------------------ */

void cfg_vdev_driver(const char *vdev, char *buf, size_t len)
{
    size_t n = strcspn(vdev, ",");
    while (n && isdigit((unsigned char)vdev[n - 1]))
        n--; /* instance number: net_memif0 -> net_memif */
    snprintf(buf, len, "%.*s", (int)n, vdev);
}

bool cfg_vdev_arg(const char *vdev, const char *name, char *buf, size_t len)
{
    return dp_devargs_get(vdev, name, buf, len); /* as the driver will read it */
}

const char *cfg_node_name(const struct cfg_file *cfg)
{
    return cfg->node.sname[0] ? cfg->node.sname : cfg->node.name;
}

void cfg_node_alive(const struct cfg_file *cfg, char *buf, size_t len)
{
    const char *name = cfg_node_name(cfg);
    snprintf(buf, len, "%.*s", (int)strcspn(name, "@"), name);
}

bool cfg_port_shares_kernel(const struct cfg_file *cfg)
{
    char drv[64];
    if (cfg->port.kind == CFG_PORT_PCI)
        return cfg->port.driver == CFG_DRV_KERNEL;
    if (cfg->port.kind != CFG_PORT_VDEV)
        return false;
    cfg_vdev_driver(cfg->port.vdev, drv, sizeof(drv));
    return !strcmp(drv, "net_af_packet") || !strcmp(drv, "net_af_xdp") || !strcmp(drv, "net_tap");
}

/* --- [node] --------------------------------------------------------------------------- */

static bool alive_ok(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
            return false;
    return true;
}

static void check_node_name(struct rules *r, enum cfg_key_id key, const char *name, bool longname)
{
    size_t alive = strcspn(name, "@");
    const char *host = name[alive] ? name + alive + 1 : NULL;
    struct cfg_diag *g;
    if (!alive_ok(name, alive)) {
        g = cfg_diag_key(r->d, CFG_SEV_ERROR, r->cfg, key,
                         "the part before '@' must be letters, digits, '_' or '-'");
        cfg_diag_fix(g, "e.g. %s = mynode%s", cfg_key_table[key].name,
                     longname ? "@host.example.com" : "");
        return;
    }
    if (host && (!*host || strchr(host, '@'))) {
        g = cfg_diag_key(r->d, CFG_SEV_ERROR, r->cfg, key, "`%s` has a malformed host part", name);
        cfg_diag_fix(g, "write alive@host, or only alive to use this machine's host name");
        return;
    }
    if (!longname && host && strchr(host, '.')) {
        g = cfg_diag_key(r->d, CFG_SEV_ERROR, r->cfg, key,
                         "a short name's host has no dots, `%s` has", host);
        cfg_diag_fix(g, "use name = %s for a long name, or drop the domain", r->cfg->node.sname);
    }
    if (longname && host && !strchr(host, '.') && !strchr(host, ':')) {
        g = cfg_diag_key(r->d, CFG_SEV_ERROR, r->cfg, key,
                         "a long name needs a fully qualified host or an IP address, `%s` is "
                         "neither",
                         host);
        cfg_diag_fix(g, "use sname = %s, or write the host with its domain", r->cfg->node.name);
    }
}

static void rules_node(struct rules *r)
{
    struct cfg_file *cfg = r->cfg;
    bool has_s = SET(NODE_SNAME) || BAD(NODE_SNAME), has_l = SET(NODE_NAME) || BAD(NODE_NAME);
    if (has_s && has_l) {
        struct cfg_diag *g =
            ERR(NODE_NAME, "both sname and name are set (line %u); a node has one name",
                cfg->key_line[CFG_K_NODE_SNAME]);
        cfg_diag_fix(g, "keep sname for a short name or name for a long one, not both");
    } else if (!has_s && !has_l) {
        struct cfg_diag *g = ERR(NODE_SNAME, "the node has no name");
        cfg_diag_fix(g, "add `sname = mynode` (or `name = mynode@host.domain`) under [node]");
    }
    if (SET(NODE_SNAME))
        check_node_name(r, CFG_K_NODE_SNAME, cfg->node.sname, false);
    if (SET(NODE_NAME))
        check_node_name(r, CFG_K_NODE_NAME, cfg->node.name, true);

    if (!BAD(NODE_HANDSHAKE_BACKOFF_MS) && !BAD(NODE_HANDSHAKE_BACKOFF_MAX_MS) &&
        cfg->node.handshake_backoff_max_ms < cfg->node.handshake_backoff_ms) {
        struct cfg_diag *g = ERR(NODE_HANDSHAKE_BACKOFF_MAX_MS,
                                 "handshake_backoff_max_ms %u is below handshake_backoff_ms %u",
                                 cfg->node.handshake_backoff_max_ms, cfg->node.handshake_backoff_ms);
        cfg_diag_fix(g, "make handshake_backoff_max_ms at least handshake_backoff_ms");
    }
    if (!BAD(NODE_MAX_MESSAGE_BYTES) && !BAD(NODE_MAX_REASSEMBLY_BYTES) &&
        cfg->node.max_reassembly_bytes < cfg->node.max_message_bytes) {
        struct cfg_diag *g =
            ERR2(NODE_MAX_REASSEMBLY_BYTES, NODE_MAX_MESSAGE_BYTES,
                 "max_reassembly_bytes %llu cannot hold a message of max_message_bytes %llu",
                 (unsigned long long)cfg->node.max_reassembly_bytes,
                 (unsigned long long)cfg->node.max_message_bytes);
        cfg_diag_fix(g, "make max_reassembly_bytes at least max_message_bytes");
    }
    if (!SET(NODE_LISTEN_PORT_MAX) && !BAD(NODE_LISTEN_PORT_MAX))
        cfg->node.listen_port_max = cfg->node.listen_port_min;
    if (BAD(NODE_LISTEN_PORT_MIN) || BAD(NODE_LISTEN_PORT_MAX))
        return;
    if (SET(NODE_LISTEN_PORT_MAX) && cfg->node.listen_port_min == 0 &&
        cfg->node.listen_port_max != 0) {
        struct cfg_diag *g = ERR(NODE_LISTEN_PORT_MAX, "listen_port_max without listen_port_min");
        cfg_diag_fix(g, "set listen_port_min too (the range is min..max)");
    } else if (cfg->node.listen_port_min > cfg->node.listen_port_max) {
        struct cfg_diag *g =
            ERR(NODE_LISTEN_PORT_MAX, "listen_port_max %u is below listen_port_min %u",
                cfg->node.listen_port_max, cfg->node.listen_port_min);
        cfg_diag_fix(g, "make listen_port_max at least %u", cfg->node.listen_port_min);
    } else if (cfg->node.listen_port_min && cfg->node.epmd_port >= cfg->node.listen_port_min &&
               cfg->node.epmd_port <= cfg->node.listen_port_max && !BAD(NODE_EPMD_PORT)) {
        struct cfg_diag *g =
            ERR(NODE_LISTEN_PORT_MIN, "the listen range %u-%u includes epmd_port %u",
                cfg->node.listen_port_min, cfg->node.listen_port_max, cfg->node.epmd_port);
        cfg_diag_fix(g, "choose a range that leaves out the EPMD port");
    }
}

/* --- [eal] ---------------------------------------------------------------------------- */

/* EAL options the keys generate, which extra_args must not repeat. */
static const struct {
    const char *opt;
    enum cfg_key_id key;
} generated_opts[] = {
    {"-l", CFG_K_EAL_LCORES},
    {"-c", CFG_K_EAL_LCORES},
    {"--lcores", CFG_K_EAL_LCORES},
    {"--main-lcore", CFG_K_EAL_MAIN_LCORE},
    {"--master-lcore", CFG_K_EAL_MAIN_LCORE},
    {"-m", CFG_K_EAL_MEM_MB},
    {"--socket-mem", CFG_K_EAL_SOCKET_MEM},
    {"--no-huge", CFG_K_EAL_NO_HUGE},
    {"--file-prefix", CFG_K_EAL_FILE_PREFIX},
    {"-a", CFG_K_PORT_PCI},
    {"--allow", CFG_K_PORT_PCI},
    {"-w", CFG_K_PORT_PCI},
    {"--pci-whitelist", CFG_K_PORT_PCI},
    {"-b", CFG_K_PORT_PCI},
    {"--block", CFG_K_PORT_PCI},
    {"--no-pci", CFG_K_PORT_PCI},
    {"--vdev", CFG_K_PORT_VDEV},
    {"--no-telemetry", CFG_K_TELEMETRY_ENABLED},
};

static bool opt_matches(const char *tok, const char *opt)
{
    size_t n = strlen(opt);
    if (opt[1] != '-') /* short option, maybe with its value attached: -l0-3 */
        return tok[0] == '-' && tok[1] == opt[1];
    return strncmp(tok, opt, n) == 0 && (tok[n] == '\0' || tok[n] == '=');
}

static void rules_extra_args(struct rules *r, bool memif)
{
    const char *args = r->cfg->eal.extra_args;
    if (strpbrk(args, "\"'")) {
        struct cfg_diag *g = ERR(EAL_EXTRA_ARGS, "quotes are not supported");
        cfg_diag_fix(g, "arguments are split at spaces; write them without quotes");
        return;
    }
    char tok[CFG_STR_MAX];
    for (const char *p = args; *p;) {
        while (isspace((unsigned char)*p))
            p++;
        size_t n = strcspn(p, " \t");
        if (!n)
            break;
        snprintf(tok, sizeof(tok), "%.*s", (int)n, p);
        p += n;
        for (size_t i = 0; i < sizeof(generated_opts) / sizeof(generated_opts[0]); i++) {
            if (!opt_matches(tok, generated_opts[i].opt))
                continue;
            const struct cfg_key *k = &cfg_key_table[generated_opts[i].key];
            struct cfg_diag *g = ERR(EAL_EXTRA_ARGS, "`%s` is generated from [%s] %s",
                                     generated_opts[i].opt, cfg_section_name(k->section), k->name);
            cfg_diag_fix(g, "set [%s] %s instead", cfg_section_name(k->section), k->name);
            break;
        }
        if (memif && strcmp(tok, "--in-memory") == 0) {
            struct cfg_diag *g = ERR(EAL_EXTRA_ARGS, "memif needs EAL's multi-process support, "
                                                     "which --in-memory turns off");
            cfg_diag_fix(g, "remove --in-memory; give each process its own file_prefix");
        }
    }
}

/* Memory the EAL gets, in MiB, or 0 when it grows as needed. */
static uint64_t eal_budget_mb(const struct cfg_file *cfg)
{
    if (cfg->eal.no_huge)
        return cfg->eal.mem_mb ? cfg->eal.mem_mb : CFG_NO_HUGE_DEFAULT_MB;
    if (cfg->eal.socket_mem.n) {
        uint64_t sum = 0;
        for (unsigned i = 0; i < cfg->eal.socket_mem.n; i++)
            sum += cfg->eal.socket_mem.mb[i];
        return sum;
    }
    return cfg->eal.mem_mb;
}

static void rules_eal(struct rules *r)
{
    struct cfg_file *cfg = r->cfg;
    struct cfg_diag *g;
    char list[512];
    if (!SET(EAL_MAIN_LCORE) && !BAD(EAL_MAIN_LCORE))
        cfg->eal.main_lcore = cfg->eal.lcores.cpu[0];
    if (!BAD(EAL_MAIN_LCORE) && !BAD(EAL_LCORES) &&
        !cfg_cpus_has(&cfg->eal.lcores, cfg->eal.main_lcore)) {
        cfg_format_cpus(&cfg->eal.lcores, list, sizeof(list));
        g = ERR2(EAL_MAIN_LCORE, EAL_LCORES, "main_lcore %u is not one of lcores (%s)",
                 cfg->eal.main_lcore, list);
        cfg_diag_fix(g, "pick one of %s, or add %u to lcores", list, cfg->eal.main_lcore);
    }

    if (cfg->eal.no_huge && cfg->eal.socket_mem.n) {
        g = ERR(EAL_SOCKET_MEM, "socket_mem asks for hugepages, but no_huge is true");
        cfg_diag_fix(g, "with no_huge, size the memory with mem_mb");
    } else if (cfg->eal.socket_mem.n && cfg->eal.mem_mb) {
        g = ERR(EAL_MEM_MB, "both mem_mb and socket_mem are set");
        cfg_diag_fix(g, "keep socket_mem (per NUMA node) or mem_mb (any node), not both");
    }
    if (cfg->eal.socket_mem.n && eal_budget_mb(cfg) == 0) {
        g = ERR(EAL_SOCKET_MEM, "socket_mem gives no memory to any NUMA node");
        cfg_diag_fix(g, "give the NIC's node some MiB, e.g. 1024,0");
    }

    if (SET(EAL_FILE_PREFIX)) {
        for (const char *p = cfg->eal.file_prefix; *p; p++) {
            if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' && *p != '.') {
                g = ERR(EAL_FILE_PREFIX,
                        "`%s` has characters other than letters, digits, "
                        "'_', '-' and '.'",
                        cfg->eal.file_prefix);
                cfg_diag_fix(g, "it names a directory under /var/run/dpdk; keep it simple");
                break;
            }
        }
    } else if (cfg_is_agent(cfg)) {
        snprintf(cfg->eal.file_prefix, sizeof(cfg->eal.file_prefix), "dpdist-agent");
    } else {
        char alive[CFG_STR_MAX];
        cfg_node_alive(cfg, alive, sizeof(alive));
        snprintf(cfg->eal.file_prefix, sizeof(cfg->eal.file_prefix), "dpdist-%.50s",
                 alive_ok(alive, strlen(alive)) ? alive : "node");
    }
}

/* --- [port] --------------------------------------------------------------------------- */

static const char *const known_vdevs[] = {
    "net_memif", "net_af_packet", "net_af_xdp", "net_tap", "net_ring", "net_null", "net_pcap",
};

/* af_packet: the kernel's receive slots (framesz) hold the frame at an offset and truncate
 * it beyond (dp_portlim.h); the driver copies a whole slot's data area into one mbuf and
 * refuses to set up a receive queue whose mbufs are smaller. */
static void rules_afpacket_frame(struct rules *r)
{
    struct cfg_file *cfg = r->cfg;
    struct cfg_diag *g;
    struct dp_portlim lim = dp_portlim_of(cfg->port.vdev);
    unsigned frame = cfg->port.mtu + CFG_ETH_HDR_BYTES;
    if (lim.frame_max_bytes == 0) {
        g = ERR(PORT_VDEV, "af_packet framesz must be a number of bytes above %u",
                DP_AFPACKET_RX_MAC_OFF_BYTES);
        cfg_diag_fix(g, "remove framesz (2048), or write framesz=%u for mtu %u",
                     dp_portlim_devarg_for(&lim, frame), cfg->port.mtu);
        return;
    }
    if (!BAD(PORT_MTU) && lim.frame_max_bytes < frame) {
        g = ERR(PORT_VDEV,
                "af_packet slots of framesz %u hold frames of at most %u bytes, not a %u-byte "
                "frame (mtu %u): the kernel truncates larger ones",
                lim.devarg_value, lim.frame_max_bytes, frame, cfg->port.mtu);
        cfg_diag_fix(g, "add framesz=%u to the vdev, or lower mtu",
                     dp_portlim_devarg_for(&lim, frame));
    }
    unsigned slot_data = lim.devarg_value - DP_AFPACKET_TX_DATA_OFF_BYTES;
    if (!BAD(MEMPOOL_DATA_ROOM) && cfg->mempool.data_room < slot_data + CFG_MBUF_HEADROOM) {
        g = ERR2(MEMPOOL_DATA_ROOM, PORT_VDEV,
                 "af_packet framesz %u needs mbufs of %u data bytes, but data_room %u holds %u; "
                 "the driver refuses the receive queue",
                 lim.devarg_value, slot_data, cfg->mempool.data_room,
                 cfg->mempool.data_room - CFG_MBUF_HEADROOM);
        cfg_diag_fix(g, "set [mempool] data_room = %u or more", slot_data + CFG_MBUF_HEADROOM);
    }
}

static void rules_vdev(struct rules *r)
{
    struct cfg_file *cfg = r->cfg;
    const char *vdev = cfg->port.vdev;
    char drv[64], v[CFG_STR_MAX];
    struct cfg_diag *g;
    cfg_vdev_driver(vdev, drv, sizeof(drv));
    bool known = false;
    for (size_t i = 0; i < sizeof(known_vdevs) / sizeof(known_vdevs[0]); i++)
        known = known || strcmp(drv, known_vdevs[i]) == 0;
    if (strncmp(drv, "net_", 4) != 0 || strlen(drv) == 4) {
        g = ERR(PORT_VDEV, "`%s` is not a network vdev name", drv);
        cfg_diag_fix(g, "start with the driver and an instance number, e.g. net_memif0,...");
        return;
    }
    if (!known) {
        g = WARN(PORT_VDEV, "dpdist has not been tested with %s", drv);
        cfg_diag_fix(g, "net_memif, net_af_packet and PCI ports are the tested ones");
    }
    /* every argument is key=value */
    for (const char *p = strchr(vdev, ','); p; p = strchr(p + 1, ',')) {
        size_t n = strcspn(p + 1, ",");
        const char *eq = memchr(p + 1, '=', n);
        if (!eq || eq == p + 1) {
            g = ERR(PORT_VDEV, "the argument `%.*s` is not key=value", (int)n, p + 1);
            cfg_diag_fix(g, "write driver0,key=value,key=value");
            return;
        }
    }
    if (!strcmp(drv, "net_af_packet") || !strcmp(drv, "net_af_xdp")) {
        if (!cfg_vdev_arg(vdev, "iface", v, sizeof(v)) || !v[0]) {
            g = ERR(PORT_VDEV, "%s needs the interface to attach to", drv);
            cfg_diag_fix(g, "add iface=NAME, e.g. %s0,iface=eth1", drv);
        }
        unsigned qpairs = 1;
        if (cfg_vdev_arg(vdev, !strcmp(drv, "net_af_xdp") ? "queue_count" : "qpairs", v, sizeof(v)))
            qpairs = (unsigned)strtoul(v, NULL, 10);
        unsigned want =
            DP_PORT_RX_QUEUES > DP_PORT_TX_QUEUES ? DP_PORT_RX_QUEUES : DP_PORT_TX_QUEUES;
        const char *qkey = !strcmp(drv, "net_af_xdp") ? "queue_count" : "qpairs";
        if (qpairs < DP_PORT_QUEUES_MIN) {
            g = ERR(PORT_VDEV, "the device has %u queue pairs, the engine needs %u", qpairs,
                    DP_PORT_QUEUES_MIN);
            cfg_diag_fix(g, "add %s=%u to the vdev", qkey, want);
        } else if (qpairs < want) {
            /* it runs, but heartbeats and acks queue behind data (docs/dataplane.md §7) */
            g = WARN(PORT_VDEV,
                     "the device has %u queue pair%s: the pulse lane shares the data queue "
                     "(the engine uses %u: data and pulse)",
                     qpairs, qpairs == 1 ? "" : "s", want);
            cfg_diag_fix(g, "write %s=%u in the vdev", qkey, want);
        }
    }
    if (!strcmp(drv, "net_af_packet"))
        rules_afpacket_frame(r);
    if (!strcmp(drv, "net_memif")) {
        char role[16] = "server";
        bool has_role = cfg_vdev_arg(vdev, "role", role, sizeof(role));
        if (has_role && strcmp(role, "server") && strcmp(role, "client")) {
            g = ERR(PORT_VDEV, "memif role `%s` is neither server nor client", role);
            cfg_diag_fix(g, "write role=server on one side and role=client on the other");
        }
        if (cfg_vdev_arg(vdev, "socket", v, sizeof(v))) {
            char abs[8] = "yes";
            cfg_vdev_arg(vdev, "socket-abstract", abs, sizeof(abs));
            if (v[0] != '/') {
                g = ERR(PORT_VDEV, "the memif socket `%s` is not an absolute path", v);
                cfg_diag_fix(g, "write socket=/run/dpdist/NAME.sock");
            } else if (strcmp(abs, "no") != 0) {
                g = WARN(PORT_VDEV,
                         "DPDK 22.11 makes memif sockets abstract by default, so no "
                         "file %s will appear",
                         v);
                cfg_diag_fix(g, "add socket-abstract=no to use the socket file");
            }
        }
        struct dp_portlim lim = dp_portlim_of(vdev);
        unsigned frame = cfg->port.mtu + CFG_ETH_HDR_BYTES;
        if (lim.devarg_value == 0 || lim.devarg_value > DP_MEMIF_BSIZE_MAX_BYTES) {
            g = ERR(PORT_VDEV, "memif bsize must be a number of bytes from 1 to %u",
                    DP_MEMIF_BSIZE_MAX_BYTES);
            cfg_diag_fix(g, "write bsize=9216 for jumbo frames, or remove it (2048)");
        } else if (!BAD(PORT_MTU) && lim.frame_max_bytes < frame) {
            g = ERR(PORT_VDEV,
                    "memif buffers of %u bytes cannot hold a %u-byte frame (mtu %u); "
                    "chained frames are lost under load in DPDK 22.11",
                    lim.devarg_value, frame, cfg->port.mtu);
            cfg_diag_fix(g, "add bsize=%u to the vdev, or lower mtu", frame <= 9216 ? 9216 : frame);
        }
        if (cfg_vdev_arg(vdev, "zero-copy", v, sizeof(v)) && !strcmp(v, "yes") &&
            strcmp(role, "client") != 0) {
            g = ERR(PORT_VDEV, "memif zero-copy works on the client side only");
            cfg_diag_fix(g, "remove zero-copy=yes, or use it with role=client");
        }
    }
    if (SET(PORT_DRIVER) && cfg->port.driver != CFG_DRV_AUTO) {
        g = WARN(PORT_DRIVER, "driver applies to PCI ports; a vdev has none to bind");
        cfg_diag_fix(g, "remove the line");
    }
}

static uint64_t pool_mb(const struct cfg_file *cfg)
{
    uint64_t bytes = (uint64_t)cfg->mempool.mbuf_count *
                     ((uint64_t)cfg->mempool.data_room + CFG_MBUF_OVERHEAD_BYTES);
    return (bytes + MIB - 1) / MIB;
}

static void rules_port(struct rules *r)
{
    struct cfg_file *cfg = r->cfg;
    struct cfg_diag *g;
    bool pci = SET(PORT_PCI) || BAD(PORT_PCI), vdev = SET(PORT_VDEV) || BAD(PORT_VDEV);
    if (pci && vdev) {
        g = ERR(PORT_VDEV, "both pci and vdev are set (pci at line %u)",
                cfg->key_line[CFG_K_PORT_PCI]);
        cfg_diag_fix(g, "a node has one port: keep pci for a NIC or vdev for a virtual device");
    } else if (!pci && !vdev) {
        g = cfg_diag_add(r->d, CFG_SEV_ERROR, cfg->path, cfg->section_line[CFG_SEC_PORT], "port",
                         NULL, "the port has neither pci nor vdev");
        cfg_diag_fix(g, "add `pci = 0000:3b:00.0` or `vdev = ...`, or remove [port] for TCP only");
    }
    cfg->port.kind = SET(PORT_PCI) ? CFG_PORT_PCI : SET(PORT_VDEV) ? CFG_PORT_VDEV : CFG_PORT_NONE;
    if (!SET(PORT_IP) && !BAD(PORT_IP)) {
        g = ERR(PORT_IP, "the data plane has no IPv4 address");
        cfg_diag_fix(g, "add `ip = 10.0.0.1` (the address peers send to) under [port]");
    }
    if (SET(PORT_VDEV) && !SET(PORT_PCI))
        rules_vdev(r);
    if (SET(PORT_PCI) && cfg->eal.no_huge) {
        g = WARN(EAL_NO_HUGE, "a NIC that does DMA should use hugepages");
        cfg_diag_fix(g, "set no_huge = false and reserve hugepages (configs/setup-host)");
    }

    unsigned frame = cfg->port.mtu + CFG_ETH_HDR_BYTES;
    if (!BAD(PORT_MTU) && !BAD(MEMPOOL_DATA_ROOM) &&
        cfg->mempool.data_room < frame + CFG_MBUF_HEADROOM) {
        g = ERR2(MEMPOOL_DATA_ROOM, PORT_MTU,
                 "mtu %u makes %u-byte frames, but an mbuf of data_room %u holds only %u",
                 cfg->port.mtu, frame, cfg->mempool.data_room,
                 cfg->mempool.data_room - CFG_MBUF_HEADROOM);
        cfg_diag_fix(g, "set [mempool] data_room = %u or more", frame + CFG_MBUF_HEADROOM);
    }

    if (!BAD(PORT_RX_DESC) && cfg->port.rx_desc % 32) {
        g = ERR(PORT_RX_DESC, "%u is not a multiple of 32", cfg->port.rx_desc);
        cfg_diag_fix(g, "use %u", (cfg->port.rx_desc + 31) / 32 * 32);
    }
    if (!BAD(PORT_TX_DESC) && cfg->port.tx_desc % 32) {
        g = ERR(PORT_TX_DESC, "%u is not a multiple of 32", cfg->port.tx_desc);
        cfg_diag_fix(g, "use %u", (cfg->port.tx_desc + 31) / 32 * 32);
    }

    /* mbufs: every descriptor of the queues the engine sets up may hold one, every lcore
     * cache some, plus a burst in hand */
    uint64_t need = (uint64_t)cfg->port.rx_desc + cfg->port.tx_desc +
                    (uint64_t)(DP_PORT_RX_QUEUES - 1) * DP_PULSE_DESC +
                    (uint64_t)(DP_PORT_TX_QUEUES - 1) * DP_PULSE_DESC +
                    (uint64_t)cfg->eal.lcores.n * cfg->mempool.cache_size + 64;
    if (!BAD(MEMPOOL_MBUF_COUNT) && cfg->mempool.mbuf_count < need) {
        uint64_t fit = 1;
        while (fit - 1 < need)
            fit <<= 1;
        g = ERR(MEMPOOL_MBUF_COUNT, "%u mbufs are fewer than the rings and caches hold (%llu)",
                cfg->mempool.mbuf_count, (unsigned long long)need);
        cfg_diag_fix(g, "set mbuf_count = %llu", (unsigned long long)(fit - 1));
    }
    if (!BAD(MEMPOOL_CACHE_SIZE) &&
        (uint64_t)cfg->mempool.cache_size * 3 / 2 > cfg->mempool.mbuf_count) {
        g = ERR(MEMPOOL_CACHE_SIZE, "a cache of %u needs at least %u mbufs in the pool",
                cfg->mempool.cache_size, cfg->mempool.cache_size * 3 / 2);
        cfg_diag_fix(g, "lower cache_size or raise mbuf_count");
    }
    uint64_t budget = eal_budget_mb(cfg), pool = pool_mb(cfg);
    if (budget && pool > budget) {
        g = cfg_diag_key2(r->d, CFG_SEV_ERROR, cfg, CFG_K_MEMPOOL_MBUF_COUNT,
                          cfg->eal.socket_mem.n ? CFG_K_EAL_SOCKET_MEM : CFG_K_EAL_MEM_MB,
                          "the packet pool needs %llu MiB, the EAL gets %llu MiB",
                          (unsigned long long)pool, (unsigned long long)budget);
        cfg_diag_fix(g, "give the EAL more memory ([eal] %s) or use fewer mbufs",
                     cfg->eal.socket_mem.n ? "socket_mem" : "mem_mb");
    } else if (budget && pool + CFG_EAL_OVERHEAD_MB > budget) {
        g = WARN(MEMPOOL_MBUF_COUNT,
                 "the packet pool needs %llu of the EAL's %llu MiB, leaving "
                 "little for rings and the EAL itself",
                 (unsigned long long)pool, (unsigned long long)budget);
        cfg_diag_fix(g, "give the EAL at least %llu MiB",
                     (unsigned long long)(pool + CFG_EAL_OVERHEAD_MB));
    }
}

/* --- what the engine honours --------------------------------------------------------- */

/* Settings the data-plane engine would not honour: more polling lcores than it runs
 * (DP_POLL_LCORES), queue counts other than those it sets up (DP_PORT_RX_QUEUES,
 * DP_PORT_TX_QUEUES, dataplane/dp_limits.h), offloads it does not use
 * (CFG_OFFLOADS_HONOURED). The node runs all the same, so these are warnings, each at the
 * line that asks, with the value that says what happens. */
static void rules_engine(struct rules *r)
{
    struct cfg_file *cfg = r->cfg;
    struct cfg_diag *g;
    char a[256], b[256], h[256];
    struct cfg_cpus poll = {0};
    poll.n = cfg_poll_lcores(cfg, poll.cpu, CFG_MAX_LCORE);
    if (!BAD(EAL_LCORES) && !BAD(EAL_MAIN_LCORE) && poll.n > DP_POLL_LCORES &&
        cfg_cpus_has(&cfg->eal.lcores, cfg->eal.main_lcore)) {
        struct cfg_cpus used = {0}, idle = {0}, keep = {0};
        for (unsigned i = 0; i < poll.n; i++) {
            if (i < DP_POLL_LCORES)
                used.cpu[used.n++] = poll.cpu[i];
            else
                idle.cpu[idle.n++] = poll.cpu[i];
        }
        for (unsigned i = 0; i < cfg->eal.lcores.n; i++)
            if (cfg->eal.lcores.cpu[i] == cfg->eal.main_lcore ||
                cfg_cpus_has(&used, cfg->eal.lcores.cpu[i]))
                keep.cpu[keep.n++] = cfg->eal.lcores.cpu[i];
        cfg_format_cpus(&used, a, sizeof(a));
        cfg_format_cpus(&idle, b, sizeof(b));
        g = WARN(EAL_LCORES,
                 "%u lcores would poll the port, but the engine runs %u poller (lcore %s): "
                 "lcore%s %s would stay idle",
                 poll.n, DP_POLL_LCORES, a, idle.n > 1 ? "s" : "", b);
        cfg_format_cpus(&keep, a, sizeof(a));
        cfg_diag_fix(g, "lcores = %s", a);
    }
    if (!BAD(PORT_RX_QUEUES) && cfg->port.rx_queues != DP_PORT_RX_QUEUES) {
        g = WARN(PORT_RX_QUEUES, "rx_queues = %u is not honoured: the engine sets up %u",
                 cfg->port.rx_queues, DP_PORT_RX_QUEUES);
        cfg_diag_fix(g, "remove the line (or write rx_queues = %u)", DP_PORT_RX_QUEUES);
    }
    if (!BAD(PORT_TX_QUEUES) && cfg->port.tx_queues != DP_PORT_TX_QUEUES) {
        g = WARN(PORT_TX_QUEUES, "tx_queues = %u is not honoured: the engine sets up %u",
                 cfg->port.tx_queues, DP_PORT_TX_QUEUES);
        cfg_diag_fix(g, "remove the line (or write tx_queues = %u)", DP_PORT_TX_QUEUES);
    }
    const char *choices = cfg_key_table[CFG_K_PORT_OFFLOADS].choices;
    uint32_t unused = cfg->port.offloads & ~(uint32_t)CFG_OFFLOADS_HONOURED;
    if (!BAD(PORT_OFFLOADS) && unused) {
        cfg_format_flags(choices, unused, a, sizeof(a));
        cfg_format_flags(choices, CFG_OFFLOADS_HONOURED, h, sizeof(h));
        cfg_format_flags(choices, cfg->port.offloads & CFG_OFFLOADS_HONOURED, b, sizeof(b));
        g = WARN(PORT_OFFLOADS, "the engine does not use %s (it asks the port for %s only)", a, h);
        cfg_diag_fix(g, "offloads = %s", b);
    }
}

/* --- [lanes], [fault], [telemetry], unused sections ----------------------------------- */

static void rules_lanes(struct rules *r)
{
    struct cfg_file *cfg = r->cfg;
    struct cfg_diag *g;
    char a[32], b[32];
    const struct cfg_key *kmax = &cfg_key_table[CFG_K_LANES_MAX_MSG_BYTES];
    if (!BAD(LANES_MAX_MSG_BYTES)) {
        cfg_format_value(kmax, cfg, a, sizeof(a));
        if (!BAD(LANES_RX_WINDOW_BYTES) && cfg->lanes.rx_window_bytes < cfg->lanes.max_msg_bytes) {
            cfg_format_value(&cfg_key_table[CFG_K_LANES_RX_WINDOW_BYTES], cfg, b, sizeof(b));
            g = ERR2(LANES_RX_WINDOW_BYTES, LANES_MAX_MSG_BYTES,
                     "rx_window_bytes = %s cannot receive a message of max_msg_bytes = %s", b, a);
            cfg_diag_fix(g, "set rx_window_bytes to at least %s", a);
        }
        if (!BAD(LANES_TX_QUEUE_BYTES) && cfg->lanes.tx_queue_bytes < cfg->lanes.max_msg_bytes) {
            cfg_format_value(&cfg_key_table[CFG_K_LANES_TX_QUEUE_BYTES], cfg, b, sizeof(b));
            g = ERR2(LANES_TX_QUEUE_BYTES, LANES_MAX_MSG_BYTES,
                     "tx_queue_bytes = %s cannot take a message of max_msg_bytes = %s", b, a);
            cfg_diag_fix(g, "set tx_queue_bytes to at least %s", a);
        }
        if (!BAD(NODE_MAX_REASSEMBLY_BYTES) &&
            cfg->node.max_reassembly_bytes < cfg->lanes.max_msg_bytes) {
            cfg_format_value(&cfg_key_table[CFG_K_NODE_MAX_REASSEMBLY_BYTES], cfg, b, sizeof(b));
            g = ERR2(NODE_MAX_REASSEMBLY_BYTES, LANES_MAX_MSG_BYTES,
                     "max_reassembly_bytes = %s cannot hold a message of max_msg_bytes = %s", b, a);
            cfg_diag_fix(g, "set [node] max_reassembly_bytes to at least %s", a);
        }
    }
    uint32_t w = cfg->lanes.window_frames;
    if (!BAD(LANES_WINDOW_FRAMES) && (w & (w - 1))) {
        uint32_t lo = 1;
        while (lo * 2 <= w)
            lo *= 2;
        g = ERR(LANES_WINDOW_FRAMES, "%u is not a power of two", w);
        cfg_diag_fix(g, "use %u or %u", lo, lo * 2 > 8192 ? lo : lo * 2);
    }
    if (!BAD(LANES_MIN_RTO_US) && !BAD(LANES_MAX_RTO_US) &&
        cfg->lanes.min_rto_us > cfg->lanes.max_rto_us) {
        g = ERR2(LANES_MAX_RTO_US, LANES_MIN_RTO_US, "max_rto_us %u is below min_rto_us %u",
                 cfg->lanes.max_rto_us, cfg->lanes.min_rto_us);
        cfg_diag_fix(g, "make max_rto_us at least %u", cfg->lanes.min_rto_us);
    }
    uint64_t detect = (uint64_t)cfg->lanes.hb_interval_us * cfg->lanes.hb_missed_limit;
    if (!BAD(LANES_MAX_RTO_US) && !BAD(LANES_HB_INTERVAL_US) && !BAD(LANES_HB_MISSED_LIMIT) &&
        cfg->lanes.max_rto_us >= detect) {
        g = WARN2(LANES_MAX_RTO_US, LANES_HB_INTERVAL_US,
                  "a retransmission can wait max_rto_us = %u us, longer than the %llu us after "
                  "which a silent peer is down",
                  cfg->lanes.max_rto_us, (unsigned long long)detect);
        cfg_diag_fix(g, "keep max_rto_us below hb_interval_us x hb_missed_limit");
    }
}

static void rules_fault(struct rules *r)
{
    struct cfg_file *cfg = r->cfg;
    cfg->fault.enabled = cfg->section_line[CFG_SEC_FAULT] &&
                         (cfg->fault.drop_rate > 0 || cfg->fault.dup_rate > 0 ||
                          cfg->fault.reorder_rate > 0 || cfg->fault.delay_rate > 0);
    if (!cfg->fault.enabled)
        return;
    struct cfg_diag *g =
        cfg_diag_add(r->d, CFG_SEV_WARNING, cfg->path, cfg->section_line[CFG_SEC_FAULT], "fault",
                     NULL, "fault injection is on: this configuration is for tests");
    cfg_diag_fix(g, "remove [fault] for production");
    if (cfg->fault.delay_rate > 0 && cfg->fault.delay_us == 0) {
        g = WARN(FAULT_DELAY_US, "delay_rate is set but frames are delayed by 0 us");
        cfg_diag_fix(g, "set delay_us");
    }
}

static void rules_security(struct rules *r)
{
    struct cfg_file *cfg = r->cfg;
    if (cfg->port.kind == CFG_PORT_NONE || cfg->security.frame_auth != CFG_AUTH_NONE)
        return;
    struct cfg_diag *g = WARN(SECURITY_FRAME_AUTH,
                              "data-plane frames are not authenticated: anyone on the L2 segment "
                              "can inject messages, acknowledgements and closes (unless the peer "
                              "asks for gmac or gcm)");
    cfg_diag_fix(g, "remove frame_auth (default gmac) outside benchmarks");
}

static void rules_unused(struct rules *r)
{
    static const enum cfg_section data_plane_only[] = {
        CFG_SEC_LANES, CFG_SEC_MEMPOOL, CFG_SEC_FAULT, CFG_SEC_TELEMETRY, CFG_SEC_DATAPLANE,
        CFG_SEC_SECURITY};
    for (size_t i = 0; i < sizeof(data_plane_only) / sizeof(data_plane_only[0]); i++) {
        enum cfg_section s = data_plane_only[i];
        bool any = false;
        for (unsigned k = 0; k < CFG_K__COUNT && !any; k++)
            any = cfg_key_table[k].section == s && (r->cfg->key_line[k] || r->bad[k]);
        if (!any)
            continue;
        struct cfg_diag *g = cfg_diag_add(r->d, CFG_SEV_WARNING, r->cfg->path,
                                          r->cfg->section_line[s], cfg_section_name(s), NULL,
                                          "not used: the file has no [port], so no data plane");
        cfg_diag_fix(g, "add a [port] section, or remove [%s]", cfg_section_name(s));
    }
}

void cfg_rules(struct cfg_file *cfg, const bool *bad, struct cfg_diags *d)
{
    struct rules rr = {cfg, bad, d}, *r = &rr;
    if (cfg_is_agent(cfg))
        cfg_agent_rules(cfg, bad, d); /* an agent has no [node] */
    else
        rules_node(r);
    rules_eal(r);
    char drv[64] = "";
    cfg_vdev_driver(cfg->port.vdev, drv, sizeof(drv));
    if (cfg->eal.extra_args[0])
        rules_extra_args(r, strcmp(drv, "net_memif") == 0);
    if (cfg->section_line[CFG_SEC_PORT]) {
        rules_port(r);
        rules_engine(r);
        rules_lanes(r);
    } else {
        cfg->port.kind = CFG_PORT_NONE;
        rules_unused(r);
    }
    rules_fault(r);
    rules_security(r);
    if (SET(TELEMETRY_SOCKET_PATH) && !cfg->telemetry.enabled) {
        struct cfg_diag *g = WARN(TELEMETRY_SOCKET_PATH, "telemetry is disabled, so no socket");
        cfg_diag_fix(g, "remove socket_path or set enabled = true");
    }
}
