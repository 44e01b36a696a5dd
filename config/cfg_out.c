/* cfg output: what is derived from a loaded configuration — the EAL argument vector, the
 * polling lcores, the effective configuration (`dpdist-config show`) and the schema
 * (`dpdist-config schema`, embedded in configs/README.md). See cfg.h. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfg_pvt.h"

unsigned cfg_poll_lcores(const struct cfg_file *cfg, uint16_t *out, unsigned cap)
{
    const struct cfg_cpus *lc = &cfg->eal.lcores;
    unsigned n = 0;
    for (unsigned i = 0; i < lc->n; i++) {
        if (lc->n > 1 && lc->cpu[i] == cfg->eal.main_lcore)
            continue;
        if (n < cap)
            out[n] = lc->cpu[i];
        n++;
    }
    return n;
}

/* --- EAL arguments -------------------------------------------------------------------- */

#define ARGV_MAX 160 /* fixed options + extra_args (255 bytes: at most 128 words) */

struct argv_build {
    const char *arg[ARGV_MAX];
    char store[4096];
    size_t used;
    int n;
    bool full;
};

static void arg_add(struct argv_build *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void arg_add(struct argv_build *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(b->store + b->used, sizeof(b->store) - b->used, fmt, ap);
    va_end(ap);
    if (len < 0 || (size_t)len >= sizeof(b->store) - b->used || b->n == ARGV_MAX) {
        b->full = true;
        return;
    }
    b->arg[b->n++] = b->store + b->used;
    b->used += (size_t)len + 1;
}

static bool extra_has(const char *extra, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = strstr(extra, word); p; p = strstr(p + 1, word))
        if ((p == extra || isspace((unsigned char)p[-1])) &&
            (p[n] == '\0' || isspace((unsigned char)p[n])))
            return true;
    return false;
}

int cfg_eal_argv(const struct cfg_file *cfg, const char *prog, char ***argv, int *argc)
{
    struct argv_build *b = calloc(1, sizeof(*b));
    char text[512];
    if (!b)
        return -ENOMEM;
    arg_add(b, "%s", prog && *prog ? prog : "dpdist");
    cfg_format_cpus(&cfg->eal.lcores, text, sizeof(text));
    arg_add(b, "-l");
    arg_add(b, "%s", text);
    arg_add(b, "--main-lcore");
    arg_add(b, "%u", cfg->eal.main_lcore);
    if (cfg->eal.no_huge) {
        arg_add(b, "--no-huge");
        arg_add(b, "-m");
        arg_add(b, "%u", cfg->eal.mem_mb ? cfg->eal.mem_mb : CFG_NO_HUGE_DEFAULT_MB);
    } else if (cfg->eal.socket_mem.n) {
        cfg_format_value(&cfg_key_table[CFG_K_EAL_SOCKET_MEM], cfg, text, sizeof(text));
        arg_add(b, "--socket-mem");
        arg_add(b, "%s", text);
    } else if (cfg->eal.mem_mb) {
        arg_add(b, "-m");
        arg_add(b, "%u", cfg->eal.mem_mb);
    }
    arg_add(b, "--file-prefix");
    arg_add(b, "%s", cfg->eal.file_prefix);
    if (cfg->port.kind == CFG_PORT_PCI) {
        arg_add(b, "-a");
        arg_add(b, "%s", cfg->port.pci);
    } else {
        /* a vdev or no port: never probe the machine's PCI devices */
        arg_add(b, "--no-pci");
        /* A crossed ring pair (net_ring...,pair=) is built by the engine itself; EAL would
         * only make a ring port that loops back to itself. */
        if (cfg->port.kind == CFG_PORT_VDEV &&
            !(strncmp(cfg->port.vdev, "net_ring", 8) == 0 && strstr(cfg->port.vdev, "pair="))) {
            arg_add(b, "--vdev");
            arg_add(b, "%s", cfg->port.vdev);
        }
    }
    if (!cfg->telemetry.enabled)
        arg_add(b, "--no-telemetry");
    char drv[64], zc[8];
    cfg_vdev_driver(cfg->port.vdev, drv, sizeof(drv));
    if (cfg->port.kind == CFG_PORT_VDEV && strcmp(drv, "net_memif") == 0 &&
        cfg_vdev_arg(cfg->port.vdev, "zero-copy", zc, sizeof(zc)) && strcmp(zc, "yes") == 0 &&
        !extra_has(cfg->eal.extra_args, "--single-file-segments"))
        arg_add(b, "--single-file-segments"); /* memif zero-copy maps the hugepage files */
    for (const char *p = cfg->eal.extra_args; *p;) {
        while (isspace((unsigned char)*p))
            p++;
        size_t n = strcspn(p, " \t");
        if (n)
            arg_add(b, "%.*s", (int)n, p);
        p += n;
    }
    if (b->full) {
        free(b);
        return -E2BIG;
    }
    size_t ptrs = (size_t)(b->n + 1) * sizeof(char *);
    char **v = malloc(ptrs + b->used);
    if (!v) {
        free(b);
        return -ENOMEM;
    }
    char *strings = (char *)v + ptrs;
    memcpy(strings, b->store, b->used);
    for (int i = 0; i < b->n; i++)
        v[i] = strings + (b->arg[i] - b->store);
    v[b->n] = NULL;
    *argv = v;
    *argc = b->n;
    free(b);
    return 0;
}

/* --- show ----------------------------------------------------------------------------- */

#define SHOW_WIDTH 92 /* comment lines stay far below rte_cfgfile's line limit */

/* Writes text as "# " comment lines of at most SHOW_WIDTH characters. */
static void comment_wrapped(FILE *out, const char *lead, const char *text)
{
    size_t width = SHOW_WIDTH - strlen(lead);
    while (*text) {
        size_t n = strlen(text);
        if (n > width) {
            n = width;
            while (n > 0 && text[n] != ' ')
                n--;
            if (n == 0)
                n = width;
        }
        fprintf(out, "%s%.*s\n", lead, (int)n, text);
        text += n;
        while (*text == ' ')
            text++;
    }
}

static void describe_default(const struct cfg_key *k, char *buf, size_t len)
{
    char choices[160] = "";
    if (k->choices) {
        snprintf(choices, sizeof(choices), ": %s", k->choices);
        for (char *p = choices; *p; p++)
            if (*p == '|')
                *p = ',';
    }
    if (k->def[0])
        snprintf(buf, len, "%s%s; default %s", cfg_type_name(k->type), choices, k->def);
    else
        snprintf(buf, len, "%s%s; no default", cfg_type_name(k->type), choices);
}

/* Sections printed commented out: they are not in effect. */
static bool section_inactive(const struct cfg_file *cfg, enum cfg_section s)
{
    switch (s) {
    case CFG_SEC_PORT:
    case CFG_SEC_LANES:
    case CFG_SEC_MEMPOOL:
    case CFG_SEC_TELEMETRY:
    case CFG_SEC_DATAPLANE:
    case CFG_SEC_SECURITY:
        return cfg->port.kind == CFG_PORT_NONE;
    case CFG_SEC_FAULT:
        return cfg->port.kind == CFG_PORT_NONE || !cfg->section_line[CFG_SEC_FAULT];
    case CFG_SEC_NODE:
        return cfg_is_agent(cfg);
    case CFG_SEC_AGENT:
        return !cfg_is_agent(cfg);
    default:
        return false;
    }
}

int cfg_show(const struct cfg_file *cfg, FILE *out)
{
    char value[CFG_STR_MAX * 2], desc[256];
    fprintf(out, "# Effective configuration of %s\n", cfg->path[0] ? cfg->path : "(defaults)");
    fprintf(out, "# (dpdist-config show: every key, defaults filled in; unset keys and unused\n"
                 "# sections are commented out. It loads back to the same values.)\n");
    for (int s = 0; s < CFG_SEC__COUNT; s++) {
        bool off = section_inactive(cfg, (enum cfg_section)s);
        const char *lead = off ? "# " : "";
        fprintf(out, "\n%s[%s]\n", lead, cfg_section_name((enum cfg_section)s));
        comment_wrapped(out, "# ", cfg_section_doc((enum cfg_section)s));
        if (off && s == CFG_SEC_PORT)
            fprintf(out, "# (not configured: this node runs TCP distribution only)\n");
        for (unsigned i = 0; i < CFG_K__COUNT; i++) {
            const struct cfg_key *k = &cfg_key_table[i];
            if (k->section != (enum cfg_section)s)
                continue;
            fprintf(out, "\n");
            comment_wrapped(out, "# ", k->doc);
            describe_default(k, desc, sizeof(desc));
            fprintf(out, "# (%s)\n", desc);
            int n = cfg_format_value(k, cfg, value, sizeof(value));
            if (n < 0)
                fprintf(out, "# %s =\n", k->name);
            else
                fprintf(out, "%s%s = %s\n", lead, k->name, value);
        }
    }
    return ferror(out) ? -EIO : 0;
}

/* --- schema --------------------------------------------------------------------------- */

static void md_cell(FILE *out, const char *text)
{
    for (const char *p = text; *p; p++) {
        if (*p == '|')
            fputc('\\', out);
        fputc(*p, out);
    }
}

static void values_text(const struct cfg_key *k, char *buf, size_t len)
{
    char lo[32], hi[32];
    switch (k->type) {
    case CFG_T_UINT:
        snprintf(buf, len, "%llu..%llu", (unsigned long long)k->min, (unsigned long long)k->max);
        return;
    case CFG_T_SIZE: {
        struct cfg_file *tmp = calloc(1, sizeof(*tmp));
        if (!tmp) {
            buf[0] = '\0';
            return;
        }
        uint64_t *f = (uint64_t *)((char *)tmp + k->offset);
        *f = k->min;
        cfg_format_value(k, tmp, lo, sizeof(lo));
        *f = k->max;
        cfg_format_value(k, tmp, hi, sizeof(hi));
        free(tmp);
        snprintf(buf, len, "%s..%s", lo, hi);
        return;
    }
    case CFG_T_STR:
    case CFG_T_PATH:
        snprintf(buf, len, "up to %llu bytes", (unsigned long long)k->max);
        return;
    case CFG_T_BOOL:
        snprintf(buf, len, "true, false");
        return;
    case CFG_T_RATE:
        snprintf(buf, len, "0..1");
        return;
    case CFG_T_ENUM:
    case CFG_T_FLAGS: {
        size_t used = 0;
        char c[64];
        buf[0] = '\0';
        for (unsigned i = 0; cfg_choice(k->choices, i, c, sizeof(c)); i++) {
            int n = snprintf(buf + used, len - used, "%s`%s`", i ? ", " : "", c);
            if (n > 0 && (size_t)n < len - used)
                used += (size_t)n;
        }
        if (k->type == CFG_T_FLAGS)
            snprintf(buf + used, len - used, ", `none`");
        return;
    }
    case CFG_T_NAMES:
        snprintf(buf, len, "up to %llu names", (unsigned long long)k->max);
        return;
    case CFG_T_CPUS:
        snprintf(buf, len, "CPUs 0..%d", CFG_MAX_LCORE - 1);
        return;
    case CFG_T_MEMLIST:
        snprintf(buf, len, "up to %llu nodes", (unsigned long long)k->max);
        return;
    case CFG_T_MODE:
        snprintf(buf, len, "%04llo..%04llo", (unsigned long long)k->min,
                 (unsigned long long)k->max);
        return;
    default:
        buf[0] = '\0';
        return;
    }
}

int cfg_schema_markdown(FILE *out)
{
    char values[256];
    fprintf(out, "<!-- generated by `dpdist-config schema` from config/cfg_keys.h -->\n");
    for (int s = 0; s < CFG_SEC__COUNT; s++) {
        fprintf(out, "\n### [%s]\n\n%s\n\n", cfg_section_name((enum cfg_section)s),
                cfg_section_doc((enum cfg_section)s));
        fprintf(out, "| key | type | default | values | meaning |\n");
        fprintf(out, "|---|---|---|---|---|\n");
        for (unsigned i = 0; i < CFG_K__COUNT; i++) {
            const struct cfg_key *k = &cfg_key_table[i];
            if (k->section != (enum cfg_section)s)
                continue;
            values_text(k, values, sizeof(values));
            fprintf(out, "| `%s` | %s | ", k->name, cfg_type_name(k->type));
            if (k->def[0]) {
                fputc('`', out);
                md_cell(out, k->def);
                fputc('`', out);
            } else {
                fputs("-", out);
            }
            fputs(" | ", out);
            md_cell(out, values);
            fputs(" | ", out);
            md_cell(out, k->doc);
            fputs(" |\n", out);
        }
    }
    return ferror(out) ? -EIO : 0;
}
