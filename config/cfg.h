/* cfg: the node's configuration file (one INI file per node), its validation and what is
 * derived from it (the EAL argument vector, the effective configuration).
 *
 * Loading happens in two steps, both before anything touches a device:
 *   cfg_load()          reads the file (values through DPDK's rte_cfgfile, line numbers and
 *                       syntax from a light scan of our own) and checks types, ranges and the
 *                       rules between keys. Pure: reads only the file.
 *   cfg_check_system()  compares the configuration with this machine, through sysfs and
 *                       procfs only (no EAL, no device access): PCI device, its driver and
 *                       NUMA node, lcores, hugepages, local listeners, cookie file.
 * cfg_load_for_node() does both and logs every problem; the node runtime calls it before
 * rte_eal_init(). `dpdist-config check` runs the same steps, plus cfg_check_peers() across
 * the files given together.
 *
 * Every problem is collected into a struct cfg_diags (file, line, section, key, message,
 * fix), all at once, never only the first. Nothing here aborts on bad input.
 *
 * Thread safety: none needed; these are start-up and tool functions. A struct cfg_file is a
 * plain value (no pointers inside): copy it freely, nothing to free.
 */
#ifndef DPDIST_CONFIG_CFG_H
#define DPDIST_CONFIG_CFG_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CFG_MAX_LCORE     128  /* RTE_MAX_LCORE of Debian's DPDK 22.11 (checked in cfg_load.c) */
#define CFG_MAX_NUMA      32   /* RTE_MAX_NUMA_NODES */
#define CFG_NAMES_MAX     32   /* entries of a name list ([lanes] express) */
#define CFG_LIST_NAME_MAX 64   /* bytes of one such name, with the NUL */
#define CFG_STR_MAX       256  /* rte_cfgfile values are at most 255 bytes */
#define CFG_PATH_MAX      4096 /* the config file's own path */
#define CFG_FILE_MAX      (1u << 20) /* larger config files are refused */
/* [agent]: sun_path holds 108 bytes with the NUL; a connection id keeps its slot in 17 bits
 * (agent/ag_agent.c), so at most 2^17 - 1 connections. */
#define CFG_AGENT_SOCKET_MAX 107
#define CFG_AGENT_CONNS_MAX  131071

#include "config/cfg_keys.h"

enum cfg_section {
#define CFG_X_SEC(id, name, doc) CFG_SEC_##id,
    CFG_SECTIONS(CFG_X_SEC)
#undef CFG_X_SEC
        CFG_SEC__COUNT
};

enum cfg_key_id {
#define CFG_X_KEY(id, sec, key, type, field, def, min, max, choices, doc) CFG_K_##id,
    CFG_KEYS(CFG_X_KEY)
#undef CFG_X_KEY
        CFG_K__COUNT
};

/* Value types; the storage each uses in struct cfg_file is named after the arrow. */
enum cfg_type {
    CFG_T_STR,     /* text -> char[] */
    CFG_T_PATH,    /* absolute path or empty -> char[] */
    CFG_T_BOOL,    /* true/false, yes/no, on/off, 1/0 -> bool */
    CFG_T_UINT,    /* decimal -> uint16_t, uint32_t or uint64_t */
    CFG_T_SIZE,    /* bytes, suffix K/M/G (binary) -> uint64_t */
    CFG_T_RATE,    /* probability 0..1 -> double */
    CFG_T_ENUM,    /* one of the choices -> int (index of the choice) */
    CFG_T_FLAGS,   /* comma list of the choices, or none -> uint32_t (bit = choice index) */
    CFG_T_NAMES,   /* comma list of names -> struct cfg_names */
    CFG_T_CPUS,    /* CPU list `0-3,8` -> struct cfg_cpus */
    CFG_T_MEMLIST, /* MiB per NUMA node `1024,0` -> struct cfg_memlist */
    CFG_T_PCI,     /* PCI address -> char[16], normalised `0000:3b:00.0` */
    CFG_T_IPV4,    /* dotted quad -> struct in_addr */
    CFG_T_ADDR,    /* IPv4 or IPv6 literal -> char[64], normalised */
    CFG_T_MAC,     /* aa:bb:cc:dd:ee:ff -> uint8_t[6]; all zero: not set */
    CFG_T_MODE,    /* file permissions in octal `0660` -> uint32_t */
};

/* Choices of the ENUM and FLAGS keys, in the order of their "a|b|c" strings. */
/* [security] frame_auth: the index of its choice, equal to dataplane/fauth.h's enum fauth_mode. */
enum cfg_frame_auth {
    CFG_AUTH_NONE = 0,
    CFG_AUTH_GMAC = 1,
    CFG_AUTH_GCM = 2,
};

enum cfg_port_driver {
    CFG_DRV_AUTO,
    CFG_DRV_VFIO_PCI,
    CFG_DRV_UIO_PCI_GENERIC,
    CFG_DRV_IGB_UIO,
    CFG_DRV_KERNEL,
};
enum cfg_fault_direction { CFG_FAULT_BOTH, CFG_FAULT_RX, CFG_FAULT_TX };
#define CFG_OFFLOAD_IPV4_CKSUM (1u << 0)
#define CFG_OFFLOAD_UDP_CKSUM  (1u << 1)
#define CFG_OFFLOAD_RSS        (1u << 2)
#define CFG_OFFLOAD_FAST_FREE  (1u << 3)
/* The offloads the data-plane engine asks the port for (dataplane/dp_engine.c setup_port):
 * it leaves UDP checksums 0 (docs/dataplane.md), its one queue needs no RSS, and it does not
 * set fast_free. `dpdist-config check` warns about the others (cfg_rules.c). */
#define CFG_OFFLOADS_HONOURED CFG_OFFLOAD_IPV4_CKSUM

struct cfg_cpus {
    unsigned n;
    uint16_t cpu[CFG_MAX_LCORE]; /* ascending, no duplicates */
};

struct cfg_memlist {
    unsigned n;
    uint32_t mb[CFG_MAX_NUMA]; /* mb[i]: MiB on NUMA node i */
};

struct cfg_names {
    unsigned n;
    char name[CFG_NAMES_MAX][CFG_LIST_NAME_MAX];
};

enum cfg_port_kind { CFG_PORT_NONE, CFG_PORT_PCI, CFG_PORT_VDEV };

struct cfg_file {
    char path[CFG_PATH_MAX]; /* the file it came from */

    struct {
        char sname[CFG_STR_MAX];
        char name[CFG_STR_MAX];
        char cookie_file[CFG_STR_MAX];
        bool hidden;
        uint32_t ticktime_s;
        char epmd_host[CFG_STR_MAX];
        uint16_t epmd_port;
        char listen_address[64];
        uint16_t listen_port_min;
        uint16_t listen_port_max;
        uint32_t handshake_backoff_ms;
        uint32_t handshake_backoff_max_ms;
        uint64_t max_message_bytes;
        uint64_t max_reassembly_bytes;
    } node;

    struct {
        struct cfg_cpus lcores;
        uint32_t main_lcore;
        struct cfg_memlist socket_mem;
        uint32_t mem_mb;
        bool no_huge;
        char file_prefix[64];
        char extra_args[CFG_STR_MAX];
        uint32_t busy_poll_us;
        uint32_t idle_sleep_us;
    } eal;

    struct {
        enum cfg_port_kind kind; /* derived: NONE when the file has no [port] */
        char pci[16];
        char vdev[CFG_STR_MAX];
        int driver; /* enum cfg_port_driver */
        struct in_addr ip;
        uint16_t udp_port;
        uint8_t mac[6];
        uint16_t mtu;
        uint16_t rx_queues;
        uint16_t tx_queues;
        uint16_t rx_desc;
        uint16_t tx_desc;
        uint32_t offloads; /* CFG_OFFLOAD_* */
        uint64_t tx_data_ahead; /* bytes; 0: no bound */
    } port;

    struct {
        uint32_t hb_interval_us;
        uint32_t hb_missed_limit;
        uint32_t express_weight;
        uint32_t normal_weight;
        uint64_t max_msg_bytes;
        uint64_t rx_window_bytes;
        uint32_t window_frames;
        uint64_t tx_queue_bytes;
        uint32_t max_flows;
        uint32_t min_rto_us;
        uint32_t max_rto_us;
        struct cfg_names express;
    } lanes;

    struct {
        uint32_t mbuf_count;
        uint32_t cache_size;
        uint32_t data_room;
    } mempool;

    struct {
        bool enabled; /* derived: the file has a [fault] section with a non-zero rate */
        double drop_rate;
        double dup_rate;
        double reorder_rate;
        double delay_rate;
        uint32_t delay_us;
        uint64_t seed;
        int direction; /* enum cfg_fault_direction */
    } fault;

    struct {
        bool enabled;
        char socket_path[CFG_STR_MAX];
    } telemetry;

    struct {
        bool promiscuous;
    } dataplane;

    struct {
        int frame_auth; /* enum cfg_frame_auth = enum fauth_mode */
    } security;

    struct { /* a file with [agent] configures dpdist-agent (cfg_is_agent) */
        char socket[CFG_AGENT_SOCKET_MAX + 1];
        uint32_t socket_mode;
        char socket_group[64];
        struct cfg_names allow_uids;
        struct cfg_names allow_gids;
        uint32_t max_vms;
        uint32_t max_conns;
        uint32_t attach_timeout_ms;
        uint32_t vm_probe_interval_ms;
        uint32_t vm_probe_timeout_ms;
        uint64_t conn_tx_bytes;
        uint64_t conn_rx_window;
        uint64_t sndbuf;
        uint32_t busy_poll_us;
        uint32_t max_frag_seqs;
        uint64_t max_packet;
    } agent;

    /* Where each value came from: the file's line, or 0 for a default / derived value. */
    uint32_t key_line[CFG_K__COUNT];
    uint32_t section_line[CFG_SEC__COUNT];
};

/* --- diagnostics ---------------------------------------------------------------------- */

enum cfg_severity { CFG_SEV_ERROR, CFG_SEV_WARNING };

struct cfg_diag {
    enum cfg_severity severity;
    char *file;    /* owned by the list; "" when not about a file */
    unsigned line; /* 0: not about one line */
    char section[32];
    char key[64]; /* "" when about the section or the file */
    char message[320];
    char fix[320]; /* "" when there is nothing to suggest */
};

#define CFG_DIAG_MAX 1000 /* later problems are counted in `dropped`, not stored */

struct cfg_diags {
    struct cfg_diag *v;
    size_t n, cap;
    unsigned errors, warnings; /* including dropped ones */
    size_t dropped;
    bool oom; /* an allocation failed: some problems are missing (counted as an error) */
};

void cfg_diags_init(struct cfg_diags *d);
void cfg_diags_free(struct cfg_diags *d);
/* Stable sort by file (in order of first appearance) then line. */
void cfg_diags_sort(struct cfg_diags *d);
/* "FILE:LINE: error: [section] key: message. fix: fix" (parts left out when empty), like
 * snprintf: returns the length it needed. */
int cfg_diag_format(const struct cfg_diag *diag, char *buf, size_t len);
/* Every diagnostic, one per line, and "N errors, M warnings" details when dropped/oom. */
void cfg_diags_print(const struct cfg_diags *d, FILE *out);

/* --- loading and checking ------------------------------------------------------------- */

/* Fills in every default. The result is not a valid node configuration by itself (it has
 * no node name). */
void cfg_defaults(struct cfg_file *cfg);

/* Loads and validates one file: syntax, unknown sections and keys (with suggestions), types,
 * ranges, and the rules between keys. *cfg always ends up initialised (defaults, plus what
 * could be read). Returns 0 if this call added no error, -EINVAL if it did, or -errno when
 * the file cannot be read (also reported as a diagnostic). Warnings do not fail. */
int cfg_load(const char *path, struct cfg_file *cfg, struct cfg_diags *diags);

/* Where cfg_check_system() reads the machine. NULL members: from the environment
 * (DPDIST_SYSFS_ROOT, DPDIST_PROCFS_ROOT) or else "/sys" and "/proc". Tests point them at a
 * fake tree. */
struct cfg_sysroot {
    const char *sys;
    const char *proc;
};

/* Checks a configuration loaded without errors against this machine: PCI device present,
 * bound to the driver it needs, on the NUMA node of the polling lcores; lcores present and
 * online; free hugepages and a hugetlbfs mount for the requested memory; the data-plane
 * UDP port and the listen ports free of local listeners; the cookie file; vdev interfaces.
 * Reads sysfs/procfs and stats files; changes nothing. Returns 0, or -EINVAL if it added
 * an error. */
int cfg_check_system(const struct cfg_file *cfg, const struct cfg_sysroot *root,
                     struct cfg_diags *diags);

/* Clashes between configurations meant to run on one host: node name, file prefix, PCI
 * device, data-plane IP and UDP port, memif socket roles (errors), shared lcores
 * (warning). Reported against the later file. Returns 0 or -EINVAL. */
int cfg_check_peers(const struct cfg_file *const *cfgs, size_t n, struct cfg_diags *diags);

/* What a node does first, before rte_eal_init(): cfg_load() then cfg_check_system() (with
 * the environment's roots), logging every diagnostic through dlog with the same text as
 * `dpdist-config check`. Returns 0 (warnings allowed), -EINVAL for a bad configuration,
 * -errno if the file cannot be read; the node should then exit with status 78 (EX_CONFIG)
 * having touched nothing. */
int cfg_load_for_node(const char *path, struct cfg_file *cfg);

/* --- derived -------------------------------------------------------------------------- */

/* The EAL argument vector for this configuration: prog, -l, --main-lcore, memory options,
 * --file-prefix, the port (-a PCI; or --no-pci, plus --vdev for a vdev), --no-telemetry if
 * disabled, --single-file-segments for a zero-copy memif, then extra_args. *argv is one
 * allocation (array and strings; rte_eal_init() may permute it), NULL-terminated; the
 * caller frees it with free(), not before rte_eal_cleanup() (EAL may keep pointers into
 * it). Returns 0, -ENOMEM, or -E2BIG (cannot happen with values that passed cfg_load). */
int cfg_eal_argv(const struct cfg_file *cfg, const char *prog, char ***argv, int *argc);

/* The lcores that poll the port: all but the main lcore, or the main lcore alone when it
 * is the only one. Returns the count (up to cap stored in out). */
unsigned cfg_poll_lcores(const struct cfg_file *cfg, uint16_t *out, unsigned cap);

/* The effective configuration as an INI file that loads back to the same values: every
 * key with a comment, defaults filled in, unset keys commented out. */
int cfg_show(const struct cfg_file *cfg, FILE *out);

/* The schema of every section and key as markdown tables (configs/README.md embeds it). */
int cfg_schema_markdown(FILE *out);

/* One effective value as `show` writes it, by "section.key". Returns the length, or -ENOENT
 * for an unknown key, -ENODATA when it is not set, -ENOSPC if buf is too small. */
int cfg_get(const struct cfg_file *cfg, const char *section_dot_key, char *buf, size_t len);

/* --- the agent ([agent], docs/agent.md) --------------------------------------------- */

/* Whether the file configures dpdist-agent (it has an [agent] section) rather than a node. */
bool cfg_is_agent(const struct cfg_file *cfg);

/* A user or group of allow_uids / allow_gids / socket_group: a number, or a name looked up
 * in the system's databases (getpwnam_r, getgrnam_r). 0, or -ENOENT when there is no such
 * name, -EINVAL for an empty string. The agent and `dpdist-config check` both use these, so
 * what the check accepts is what the agent enforces. */
int cfg_resolve_uid(const char *name, uint32_t *uid);
int cfg_resolve_gid(const char *name, uint32_t *gid);

/* --- the key table (config/cfg_keys.h) -------------------------------------------- */

struct cfg_key {
    enum cfg_key_id id;
    enum cfg_section section;
    const char *name;
    enum cfg_type type;
    size_t offset, size; /* of the field in struct cfg_file */
    const char *def;     /* as written in a file; "" = not set / derived */
    uint64_t min, max;
    const char *choices; /* ENUM, FLAGS: "a|b|c" */
    const char *doc;
};

extern const struct cfg_key cfg_key_table[CFG_K__COUNT];
const char *cfg_section_name(enum cfg_section sec);
const char *cfg_section_doc(enum cfg_section sec);
/* The section with this name, or -1. */
int cfg_section_lookup(const char *name);
/* The key, or NULL. */
const struct cfg_key *cfg_key_lookup(enum cfg_section sec, const char *name);
/* A short name of the type ("integer", "CPU list", ...). */
const char *cfg_type_name(enum cfg_type type);

#ifdef __cplusplus
}
#endif

#endif
