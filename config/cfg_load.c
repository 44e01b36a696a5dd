/* cfg: loading a node configuration. See cfg.h for the steps; the scan (line numbers,
 * syntax) is in cfg_scan.c, values in cfg_keys.c, rules between keys in
 * cfg_rules.c, machine checks in cfg_check.c, derived output in cfg_out.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cfgfile.h>
#include <rte_config.h>

#include "common/log.h"
#include "config/cfg_pvt.h"

_Static_assert(CFG_MAX_LCORE == RTE_MAX_LCORE, "CFG_MAX_LCORE must match DPDK's RTE_MAX_LCORE");
_Static_assert(CFG_MAX_NUMA == RTE_MAX_NUMA_NODES, "CFG_MAX_NUMA must match RTE_MAX_NUMA_NODES");
_Static_assert(CFG_MBUF_HEADROOM == RTE_PKTMBUF_HEADROOM, "mbuf headroom");
_Static_assert(CFG_RTE_NAME_MAX + 1 == CFG_NAME_LEN, "rte_cfgfile name length");
_Static_assert(CFG_RTE_VALUE_MAX + 1 == CFG_VALUE_LEN, "rte_cfgfile value length");
_Static_assert(CFG_LINE_MAX == CFG_NAME_LEN + CFG_VALUE_LEN + 2, "rte_cfgfile line length");

void cfg_defaults(struct cfg_file *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    char why[8], fix[8];
    for (unsigned i = 0; i < CFG_K__COUNT; i++) {
        const struct cfg_key *k = &cfg_key_table[i];
        if (k->def[0])
            cfg_parse_value(k, k->def, cfg, why, sizeof(why), fix, sizeof(fix));
    }
    /* derived defaults, as cfg_rules() sets them for a loaded file */
    cfg->eal.main_lcore = cfg->eal.lcores.n ? cfg->eal.lcores.cpu[0] : 0;
    cfg->node.listen_port_max = cfg->node.listen_port_min;
    cfg->port.kind = CFG_PORT_NONE;
}

/* --- unknown sections and keys, with suggestions -------------------------------------- */

static void unknown_section(const struct cfg_file *cfg, const char *name, unsigned line,
                            struct cfg_diags *d)
{
    int best = -1;
    unsigned best_dist = cfg_typo_threshold(strlen(name)) + 1;
    for (int s = 0; s < CFG_SEC__COUNT; s++) {
        unsigned dist = cfg_edit_distance(name, cfg_section_name((enum cfg_section)s));
        if (dist < best_dist) {
            best_dist = dist;
            best = s;
        }
    }
    struct cfg_diag *g;
    if (best >= 0) {
        g = cfg_diag_add(d, CFG_SEV_ERROR, cfg->path, line, name, NULL,
                         "unknown section; did you mean [%s]?",
                         cfg_section_name((enum cfg_section)best));
        cfg_diag_fix(g, "rename it to [%s]", cfg_section_name((enum cfg_section)best));
        return;
    }
    char all[128] = "";
    for (int s = 0; s < CFG_SEC__COUNT; s++) {
        size_t used = strlen(all);
        snprintf(all + used, sizeof(all) - used, "%s[%s]", s ? ", " : "",
                 cfg_section_name((enum cfg_section)s));
    }
    g = cfg_diag_add(d, CFG_SEV_ERROR, cfg->path, line, name, NULL, "unknown section");
    cfg_diag_fix(g, "the sections are %s", all);
}

static void unknown_key(const struct cfg_file *cfg, enum cfg_section sec, const char *key,
                        unsigned line, struct cfg_diags *d)
{
    const char *secname = cfg_section_name(sec);
    const struct cfg_key *best_here = NULL, *best_any = NULL, *elsewhere = NULL;
    unsigned limit = cfg_typo_threshold(strlen(key));
    unsigned dist_here = limit + 1, dist_any = limit + 1;
    for (unsigned i = 0; i < CFG_K__COUNT; i++) {
        const struct cfg_key *k = &cfg_key_table[i];
        unsigned dist = cfg_edit_distance(key, k->name);
        if (k->section == sec && dist < dist_here) {
            dist_here = dist;
            best_here = k;
        }
        if (k->section != sec && dist == 0 && !elsewhere)
            elsewhere = k;
        if (k->section != sec && dist < dist_any) {
            dist_any = dist;
            best_any = k;
        }
    }
    struct cfg_diag *g;
    if (best_here && (dist_here == 0 || !elsewhere)) {
        g = cfg_diag_add(d, CFG_SEV_ERROR, cfg->path, line, secname, key,
                         "unknown key; did you mean `%s`?", best_here->name);
        cfg_diag_fix(g, "rename it to %s", best_here->name);
    } else if (elsewhere) {
        g = cfg_diag_add(d, CFG_SEV_ERROR, cfg->path, line, secname, key,
                         "the key belongs to [%s], not [%s]", cfg_section_name(elsewhere->section),
                         secname);
        cfg_diag_fix(g, "move the line to [%s]", cfg_section_name(elsewhere->section));
    } else if (best_any) {
        g = cfg_diag_add(d, CFG_SEV_ERROR, cfg->path, line, secname, key,
                         "unknown key; did you mean `%s` in [%s]?", best_any->name,
                         cfg_section_name(best_any->section));
        cfg_diag_fix(g, "write %s under [%s]", best_any->name, cfg_section_name(best_any->section));
    } else {
        char all[CFG_STR_MAX] = "";
        for (unsigned i = 0; i < CFG_K__COUNT; i++) {
            if (cfg_key_table[i].section != sec)
                continue;
            size_t used = strlen(all);
            snprintf(all + used, sizeof(all) - used, "%s%s", used ? ", " : "",
                     cfg_key_table[i].name);
        }
        g = cfg_diag_add(d, CFG_SEV_ERROR, cfg->path, line, secname, key, "unknown key");
        cfg_diag_fix(g, "remove it; [%s] has %s", secname, all);
    }
}

/* --- reading through rte_cfgfile ------------------------------------------------------ */

/* The scan's entries as an rte_cfgfile, for files rte_cfgfile_load() would refuse. */
static struct rte_cfgfile *cfgfile_from_scan(const struct cfg_scan *s)
{
    struct rte_cfgfile *c = rte_cfgfile_create(CFG_FLAG_EMPTY_VALUES);
    if (!c)
        return NULL;
    for (size_t i = 0; i < s->n_sec; i++)
        if (!s->sec[i].duplicate && rte_cfgfile_add_section(c, s->sec[i].name) < 0)
            goto fail;
    for (size_t i = 0; i < s->n_ent; i++) {
        const struct cfg_scan_entry *e = &s->ent[i];
        if (rte_cfgfile_add_entry(c, s->sec[e->sec].name, e->key, e->value) < 0)
            goto fail;
    }
    return c;
fail:
    rte_cfgfile_close(c);
    return NULL;
}

/* Reports sections and keys that are not in the table (the first of each duplicated
 * section only: the scan reported the repeats). */
static void report_unknown(struct rte_cfgfile *c, const struct cfg_scan *s,
                           const struct cfg_file *cfg, bool skip_global, struct cfg_diags *d)
{
    int nsec = rte_cfgfile_num_sections(c, "", 0);
    for (int i = skip_global ? 1 : 0; i < nsec; i++) {
        char name[CFG_NAME_LEN];
        int n = rte_cfgfile_section_num_entries_by_index(c, name, i);
        bool seen = false;
        for (int j = skip_global ? 1 : 0; j < i && !seen; j++) {
            char other[CFG_NAME_LEN];
            rte_cfgfile_section_num_entries_by_index(c, other, j);
            seen = strcmp(other, name) == 0;
        }
        if (seen || n < 0)
            continue;
        int sec = cfg_section_lookup(name);
        if (sec < 0) {
            unknown_section(cfg, name, cfg_scan_line(s, name, NULL), d);
            continue;
        }
        struct rte_cfgfile_entry *ents = calloc((size_t)n + 1, sizeof(*ents));
        if (!ents) {
            d->oom = true;
            continue;
        }
        int got = rte_cfgfile_section_entries_by_index(c, i, name, ents, n);
        for (int e = 0; e < got; e++)
            if (!cfg_key_lookup((enum cfg_section)sec, ents[e].name))
                unknown_key(cfg, (enum cfg_section)sec, ents[e].name,
                            cfg_scan_line(s, name, ents[e].name), d);
        free(ents);
    }
}

int cfg_load(const char *path, struct cfg_file *cfg, struct cfg_diags *d)
{
    cfg_defaults(cfg);
    snprintf(cfg->path, sizeof(cfg->path), "%s", path);
    unsigned errors_before = d->errors;

    struct cfg_scan scan;
    int rc = cfg_scan_file(path, &scan, d);
    if (rc < 0)
        return rc;

    struct rte_cfgfile *c = NULL;
    bool skip_global = false;
    if (!scan.rte_rejects) {
        struct rte_cfgfile_parameters params = {.comment_character = CFG_COMMENT_CHAR};
        /* GLOBAL: keys before the first section do not fail the file (the scan reports
         * them); EMPTY_VALUES: `key =` means "not set" for keys without a default. */
        c = rte_cfgfile_load_with_params(path, CFG_FLAG_GLOBAL_SECTION | CFG_FLAG_EMPTY_VALUES,
                                         &params);
        skip_global = c != NULL;
    }
    if (!c)
        c = cfgfile_from_scan(&scan);
    if (!c) {
        cfg_diag_add(d, CFG_SEV_ERROR, path, 0, NULL, NULL, "rte_cfgfile could not read the file");
        cfg_scan_free(&scan);
        return -EINVAL;
    }

    for (int s = 0; s < CFG_SEC__COUNT; s++)
        cfg->section_line[s] = cfg_scan_line(&scan, cfg_section_name((enum cfg_section)s), NULL);
    report_unknown(c, &scan, cfg, skip_global, d);

    bool bad[CFG_K__COUNT] = {false};
    for (unsigned i = 0; i < CFG_K__COUNT; i++) {
        const struct cfg_key *k = &cfg_key_table[i];
        const char *secname = cfg_section_name(k->section);
        const char *value = rte_cfgfile_get_entry(c, secname, k->name);
        if (!value)
            continue;
        unsigned line = cfg_scan_line(&scan, secname, k->name);
        if (!value[0]) {
            if (k->def[0]) {
                struct cfg_diag *g = cfg_diag_add(d, CFG_SEV_ERROR, path, line, secname, k->name,
                                                  "the value is empty");
                cfg_diag_fix(g, "give a value, or remove the line for the default (%s)", k->def);
                bad[i] = true;
            }
            continue; /* empty: not set */
        }
        char why[CFG_STR_MAX], fix[CFG_STR_MAX];
        if (cfg_parse_value(k, value, cfg, why, sizeof(why), fix, sizeof(fix)) < 0) {
            struct cfg_diag *g =
                cfg_diag_add(d, CFG_SEV_ERROR, path, line, secname, k->name, "%s", why);
            cfg_diag_fix(g, "%s", fix);
            bad[i] = true;
            continue;
        }
        cfg->key_line[i] = line ? line : 1;
    }
    rte_cfgfile_close(c);
    cfg_scan_free(&scan);

    cfg_rules(cfg, bad, d);
    return d->errors > errors_before || d->oom ? -EINVAL : 0;
}

int cfg_load_for_node(const char *path, struct cfg_file *cfg)
{
    struct cfg_diags d;
    cfg_diags_init(&d);
    int rc = cfg_load(path, cfg, &d);
    if (rc == 0)
        rc = cfg_check_system(cfg, NULL, &d);
    cfg_diags_sort(&d);
    char line[CFG_PATH_MAX + 1024];
    for (size_t i = 0; i < d.n; i++) {
        cfg_diag_format(&d.v[i], line, sizeof(line));
        if (d.v[i].severity == CFG_SEV_ERROR)
            DLOG_ERR("config", "%s", line);
        else
            DLOG_WARN("config", "%s", line);
    }
    if (d.dropped)
        DLOG_ERR("config", "%s: %zu more problems not shown", path, d.dropped);
    if (rc < 0 && rc != -EINVAL)
        DLOG_ERR("config", "%s: cannot be read; the node does not start", path);
    else if (rc < 0)
        DLOG_ERR("config", "%s: %u errors; the node does not start", path, d.errors);
    cfg_diags_free(&d);
    return rc;
}

int cfg_get(const struct cfg_file *cfg, const char *section_dot_key, char *buf, size_t len)
{
    const char *dot = strchr(section_dot_key, '.');
    if (!dot || (size_t)(dot - section_dot_key) >= 32)
        return -ENOENT;
    char sec[32];
    snprintf(sec, sizeof(sec), "%.*s", (int)(dot - section_dot_key), section_dot_key);
    int s = cfg_section_lookup(sec);
    if (s < 0)
        return -ENOENT;
    const struct cfg_key *k = cfg_key_lookup((enum cfg_section)s, dot + 1);
    if (!k)
        return -ENOENT;
    return cfg_format_value(k, cfg, buf, len);
}
