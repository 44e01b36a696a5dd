/* Internals of the cfg module, shared by the config/cfg_*.c files and nothing else. */
#ifndef DPDIST_CONFIG_CFG_PVT_H
#define DPDIST_CONFIG_CFG_PVT_H

#include "config/cfg.h"

/* rte_cfgfile's limits (rte_cfgfile.h): names keep 63 bytes, values 255; a line longer than
 * CFG_LINE_MAX characters makes rte_cfgfile_load() fail the whole file. */
#define CFG_RTE_NAME_MAX  63
#define CFG_RTE_VALUE_MAX 255
#define CFG_LINE_MAX      322
#define CFG_COMMENT_CHAR  '#'

/* Headroom DPDK reserves in every mbuf (RTE_PKTMBUF_HEADROOM; checked in cfg_load.c) and the
 * Ethernet header in front of the IP packet. */
#define CFG_MBUF_HEADROOM 128
#define CFG_ETH_HDR_BYTES 14
/* Per-mbuf memory besides the data room (struct rte_mbuf and mempool object header). */
#define CFG_MBUF_OVERHEAD_BYTES 192
/* EAL's own memory use besides the packet pool, for the "little memory left" warning. */
#define CFG_EAL_OVERHEAD_MB 32
/* EAL's heap with --no-huge and no -m. */
#define CFG_NO_HUGE_DEFAULT_MB 64
#define CFG_VENDOR_MELLANOX    0x15b3

/* --- diagnostics (cfg_diag.c) ------------------------------------------------------ */

/* Copies src into dst[cap], cut short if needed, always terminated (src NULL: ""). */
void cfg_copy(char *dst, size_t cap, const char *src);

/* Adds a diagnostic; returns it (to add a fix) or NULL when the list is full or out of
 * memory (then only counted). section/key may be NULL. */
struct cfg_diag *cfg_diag_add(struct cfg_diags *d, enum cfg_severity sev, const char *file,
                              unsigned line, const char *section, const char *key, const char *fmt,
                              ...) __attribute__((format(printf, 7, 8)));
/* Sets the fix of a diagnostic returned by cfg_diag_add (NULL is ignored). */
void cfg_diag_fix(struct cfg_diag *diag, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A diagnostic about a key of a loaded configuration, at the key's line, or at its
 * section's line when the key is not in the file. */
struct cfg_diag *cfg_diag_key(struct cfg_diags *d, enum cfg_severity sev, const struct cfg_file *cfg,
                              enum cfg_key_id key, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* The same for a rule between two keys: at `key` if the file sets it or does not set
 * `other`, else at `other` (the one the user wrote is the one to point at). */
struct cfg_diag *cfg_diag_key2(struct cfg_diags *d, enum cfg_severity sev, const struct cfg_file *cfg,
                               enum cfg_key_id key, enum cfg_key_id other, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* Optimal string alignment distance (Levenshtein with transpositions), ignoring case and
 * treating '-' as '_'. Strings longer than 64 bytes compare as far apart. */
unsigned cfg_edit_distance(const char *a, const char *b);
/* Largest distance that still counts as a typo of a word of this length. */
unsigned cfg_typo_threshold(size_t len);

/* --- values (cfg_parse.c, cfg_format.c; choices in cfg_keys.c) ------------------ */

/* Parses text into the key's field of cfg. On failure returns -EINVAL and explains in
 * why/fix (each may be truncated); the field is then unchanged. */
int cfg_parse_value(const struct cfg_key *k, const char *text, struct cfg_file *cfg, char *why,
                    size_t whylen, char *fix, size_t fixlen);
/* Formats the key's value as a file would hold it. -ENODATA when not set, -ENOSPC when
 * buf is too short, else the length. */
int cfg_format_value(const struct cfg_key *k, const struct cfg_file *cfg, char *buf, size_t len);
/* The i-th choice of "a|b|c" into buf; false past the end. */
bool cfg_choice(const char *choices, unsigned i, char *buf, size_t len);
/* The choices whose bits are set in mask, as a FLAGS key writes them ("a,c"; "none"). */
void cfg_format_flags(const char *choices, uint32_t mask, char *buf, size_t len);
/* A byte count as a file writes it: 64M, 4K, 3000. */
void cfg_format_size(uint64_t v, char *buf, size_t len);
/* "0-3,8" for a CPU list. */
void cfg_format_cpus(const struct cfg_cpus *cpus, char *buf, size_t len);
/* Parses a CPU list ("0-3,8", also as sysfs writes it with a newline) of CPUs up to max_cpu
 * (< CFG_MAX_LCORE); -EINVAL if malformed or out of range. */
int cfg_parse_cpulist(const char *text, struct cfg_cpus *out, unsigned max_cpu);
bool cfg_cpus_has(const struct cfg_cpus *cpus, unsigned cpu);

/* --- virtual devices (cfg_rules.c) ------------------------------------------------- */

/* The driver part of a vdev string ("net_memif" of "net_memif0,role=server"). */
void cfg_vdev_driver(const char *vdev, char *buf, size_t len);
/* The value of argument `name` in a vdev string, read as the driver reads it (rte_kvargs,
 * dataplane/dp_devargs.h); false if absent. */
bool cfg_vdev_arg(const char *vdev, const char *name, char *buf, size_t len);
/* The alive part of the node name ("a" of "a@host"). */
void cfg_node_alive(const struct cfg_file *cfg, char *buf, size_t len);
/* The full node name as written (sname or name), or "". */
const char *cfg_node_name(const struct cfg_file *cfg);
/* Data-plane ports whose frames the kernel also sees (af_packet, af_xdp, tap, bifurcated
 * mlx5): kernel sockets on the same address and port then clash. */
bool cfg_port_shares_kernel(const struct cfg_file *cfg);

/* --- the load steps ------------------------------------------------------------------- */

/* One accepted `key = value` line of the scan. */
struct cfg_scan_entry {
    unsigned line;
    int sec; /* index in cfg_scan.sec, -1 before the first section */
    char key[CFG_RTE_NAME_MAX + 1];
    char value[CFG_RTE_VALUE_MAX + 1];
};

struct cfg_scan_sec {
    unsigned line;
    bool duplicate; /* the name appeared before: rte_cfgfile reads only the first */
    char name[CFG_RTE_NAME_MAX + 1];
};

struct cfg_scan {
    struct cfg_scan_sec *sec;
    size_t n_sec;
    struct cfg_scan_entry *ent;
    size_t n_ent;
    bool rte_rejects; /* rte_cfgfile_load() would fail the whole file */
};

/* Reads the file and reports its syntax problems (cfg_scan.c): lines that are neither
 * comment, section header nor `key = value`; duplicates; what rte_cfgfile would silently
 * truncate, ignore or refuse. Returns 0, or -errno when the file cannot be read. */
int cfg_scan_file(const char *path, struct cfg_scan *s, struct cfg_diags *d);
void cfg_scan_free(struct cfg_scan *s);
/* Line of the first `key` in the first section `section` (key NULL: the section's header);
 * 0 if absent. */
unsigned cfg_scan_line(const struct cfg_scan *s, const char *section, const char *key);

/* Derives the dependent defaults and checks the rules between keys (cfg_rules.c).
 * bad[k] marks keys whose value failed to parse: rules that need them are skipped. */
void cfg_rules(struct cfg_file *cfg, const bool *bad, struct cfg_diags *d);

/* The rules of an agent's file (cfg_agent.c): no [node], limits that fit together. */
void cfg_agent_rules(struct cfg_file *cfg, const bool *bad, struct cfg_diags *d);
/* The agent's system checks: its socket's directory, the users and groups it names. */
void cfg_agent_check_system(const struct cfg_file *cfg, struct cfg_diags *d);

#endif
