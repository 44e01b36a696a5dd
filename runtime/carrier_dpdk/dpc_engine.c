/* dpc_engine: EAL and a DPDK engine from a configuration file (dpc_engine.h). Used by the
 * node's DPDK carrier (dpc_start.c) and by dpdist-agent; knows nothing of nodes. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"
#include "dataplane/dp_devargs.h"
#include "dataplane/dp_limits.h"
#include "runtime/carrier_dpdk/dpc_engine.h"

void dpc_engine_params(const struct cfg_file *cfg, const struct dpc_engine_hooks *h,
                       struct dp_engine_params *p)
{
    memset(p, 0, sizeof(*p));
    p->name = h->name;
    p->port = cfg->port.kind == CFG_PORT_PCI ? cfg->port.pci : cfg->port.vdev;
    memcpy(p->mac, cfg->port.mac, 6);
    p->ip = ntohl(cfg->port.ip.s_addr);
    p->udp_port = cfg->port.udp_port;
    p->mtu = cfg->port.mtu;
    p->rx_desc = cfg->port.rx_desc;
    p->tx_desc = cfg->port.tx_desc;
    p->mbufs = cfg->mempool.mbuf_count;
    p->mbuf_cache = cfg->mempool.cache_size;
    p->data_room = cfg->mempool.data_room;
    p->want_ipv4_cksum_offload = (cfg->port.offloads & CFG_OFFLOAD_IPV4_CKSUM) != 0;
    p->want_udp_cksum_offload = (cfg->port.offloads & CFG_OFFLOAD_UDP_CKSUM) != 0;
    p->promiscuous = cfg->dataplane.promiscuous;
    /* A polling lcore besides the main one: a dedicated poller (DP_POLL_LCORES: the first;
     * `dpdist-config check` warns about the others). Just one lcore: the node's application
     * threads poll (inline). */
    _Static_assert(DP_POLL_LCORES == 1, "the engine takes one poll_lcore");
    uint16_t lcores[8];
    unsigned npoll = cfg_poll_lcores(cfg, lcores, 8);
    p->poll_lcore = npoll > 0 && lcores[0] != cfg->eal.main_lcore ? lcores[0] : -1;
    chan_params_default(&p->chan);
    p->chan.window_frames = cfg->lanes.window_frames;
    p->chan.rx_window_bytes = cfg->lanes.rx_window_bytes;
    p->chan.max_msg_bytes = (uint32_t)cfg->lanes.max_msg_bytes;
    p->chan.max_flows = cfg->lanes.max_flows;
    p->chan.hb_interval_ns = (uint64_t)cfg->lanes.hb_interval_us * 1000;
    p->chan.hb_missed_limit = cfg->lanes.hb_missed_limit;
    p->chan.min_rto_ns = (uint64_t)cfg->lanes.min_rto_us * 1000;
    p->chan.max_rto_ns = (uint64_t)cfg->lanes.max_rto_us * 1000;
    if (p->chan.initial_rto_ns < p->chan.min_rto_ns)
        p->chan.initial_rto_ns = p->chan.min_rto_ns;
    if (p->chan.initial_rto_ns > p->chan.max_rto_ns)
        p->chan.initial_rto_ns = p->chan.max_rto_ns;
    p->chan.reasm_budget = h->reasm_budget;
    p->chan.express_weight = cfg->lanes.express_weight;
    p->chan.normal_weight = cfg->lanes.normal_weight;
    if (p->chan.max_pending_msgs < p->chan.window_frames)
        p->chan.max_pending_msgs = p->chan.window_frames;
    p->tx_queue_bytes = cfg->lanes.tx_queue_bytes;
    p->tx_data_ahead_bytes = cfg->port.tx_data_ahead;
    p->fault_on = cfg->fault.enabled;
    p->fault.drop_rate = cfg->fault.drop_rate;
    p->fault.dup_rate = cfg->fault.dup_rate;
    p->fault.reorder_rate = cfg->fault.reorder_rate;
    p->fault.delay_rate = cfg->fault.delay_rate;
    p->fault.delay_us = cfg->fault.delay_us;
    p->fault.seed = cfg->fault.seed;
    p->fault.on_rx = cfg->fault.direction != CFG_FAULT_TX;
    p->fault.on_tx = cfg->fault.direction != CFG_FAULT_RX;
    p->poller_init = h->poller_init;
    p->poller_arg = h->poller_arg;
    p->notify = h->notify;
    p->notify_arg = h->notify_arg;
}

/* The EAL argument vector (and its permuted copy) of the call that initialised EAL, kept for
 * the process's life as EAL needs; written once, before EAL runs. */
static char **volatile eal_argv_kept; /* volatile: stores a compiler would drop as unread */
static char **volatile eal_argv_copy_kept;

/* A memif server's socket file left by a process that died (kill -9 leaves it; DPDK's memif
 * server then fails with EADDRINUSE and the port never comes up): removed when it is a socket
 * nobody accepts on. A live server's socket answers and is kept (the port then fails to come
 * up with the driver's own message). Abstract sockets leave no file. */
static void remove_stale_memif_socket(const struct cfg_file *cfg)
{
    const char *dev = cfg->port.vdev;
    char role[16], abstract[8], path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    if (cfg->port.kind == CFG_PORT_PCI || strncmp(dev, "net_memif", 9) != 0 ||
        !dp_devargs_get(dev, "role", role, sizeof(role)) || strcmp(role, "server") != 0 ||
        !dp_devargs_get(dev, "socket-abstract", abstract, sizeof(abstract)) ||
        strcmp(abstract, "no") != 0 || !dp_devargs_get(dev, "socket", path, sizeof(path)))
        return;
    struct stat st;
    if (lstat(path, &st) != 0 || !S_ISSOCK(st.st_mode))
        return;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    int rc = connect(fd, (const struct sockaddr *)&sa, sizeof(sa));
    int connect_errno = errno;
    close(fd);
    if (rc != 0 && connect_errno == ECONNREFUSED && unlink(path) == 0)
        DLOG_INFO("dataplane", "removed the memif socket %s: its server is gone", path);
}

struct dp_engine *dpc_engine_start(const struct cfg_file *cfg, const struct dpc_engine_hooks *h,
                                   int *rc, char *err, size_t errlen)
{
    remove_stale_memif_socket(cfg);
    char **argv;
    int argc;
    *rc = cfg_eal_argv(cfg, "dpdist", &argv, &argc);
    if (*rc != 0) {
        snprintf(err, errlen, "cannot build the EAL arguments (%s)", strerror(-*rc));
        *rc = *rc == -ENOMEM ? -ENOMEM : -EINVAL;
        return NULL;
    }
    char **eal_argv = malloc(((size_t)argc + 1) * sizeof(char *));
    if (!eal_argv) {
        free(argv);
        snprintf(err, errlen, "out of memory");
        *rc = -ENOMEM;
        return NULL;
    }
    memcpy(eal_argv, argv, ((size_t)argc + 1) * sizeof(char *));
    /* EAL keeps pointers into argv for the process's life: leak it on purpose (one per
     * process), and the copy too since rte_eal_init permutes it. A second engine in the
     * process finds EAL up: its arguments were not used. */
    int eal = dp_eal_init(argc, eal_argv, err, errlen);
    if (eal < 0) {
        *rc = -EIO;
        return NULL;
    }
    if (eal > 0) {
        free(eal_argv);
        free(argv);
    } else {
        eal_argv_kept = argv; /* reachable: not a leak to LeakSanitizer */
        eal_argv_copy_kept = eal_argv;
    }
    struct dp_engine_params p;
    dpc_engine_params(cfg, h, &p);
    struct dp_engine *e = dp_engine_create(&p, err, errlen);
    if (!e) {
        dp_eal_release();
        *rc = -EIO;
        return NULL;
    }
    *rc = 0;
    return e;
}

void dpc_engine_stop(struct dp_engine *e)
{
    dp_engine_destroy(e);
    dp_eal_release();
}
