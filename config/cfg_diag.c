/* cfg diagnostics: the bounded list of problems, their one-line format, and the edit
 * distance behind "did you mean" suggestions. See cfg.h. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfg_pvt.h"

void cfg_diags_init(struct cfg_diags *d)
{
    memset(d, 0, sizeof(*d));
}

void cfg_diags_free(struct cfg_diags *d)
{
    for (size_t i = 0; i < d->n; i++)
        free(d->v[i].file);
    free(d->v);
    cfg_diags_init(d);
}

static void count(struct cfg_diags *d, enum cfg_severity sev)
{
    if (sev == CFG_SEV_ERROR)
        d->errors++;
    else
        d->warnings++;
}

void cfg_copy(char *dst, size_t cap, const char *src)
{
    if (!cap)
        return;
    size_t n = src ? strnlen(src, cap - 1) : 0;
    memcpy(dst, src ? src : "", n);
    dst[n] = '\0';
}

static struct cfg_diag *diag_vadd(struct cfg_diags *d, enum cfg_severity sev, const char *file,
                                  unsigned line, const char *section, const char *key,
                                  const char *fmt, va_list ap)
{
    count(d, sev);
    if (d->n == CFG_DIAG_MAX) {
        d->dropped++;
        return NULL;
    }
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 16;
        if (cap > CFG_DIAG_MAX)
            cap = CFG_DIAG_MAX;
        struct cfg_diag *v = realloc(d->v, cap * sizeof(*v));
        if (!v) {
            d->oom = true;
            d->dropped++;
            return NULL;
        }
        d->v = v;
        d->cap = cap;
    }
    char *f = strdup(file ? file : "");
    if (!f) {
        d->oom = true;
        d->dropped++;
        return NULL;
    }
    struct cfg_diag *g = &d->v[d->n++];
    memset(g, 0, sizeof(*g));
    g->severity = sev;
    g->file = f;
    g->line = line;
    cfg_copy(g->section, sizeof(g->section), section);
    cfg_copy(g->key, sizeof(g->key), key);
    vsnprintf(g->message, sizeof(g->message), fmt, ap);
    return g;
}

struct cfg_diag *cfg_diag_add(struct cfg_diags *d, enum cfg_severity sev, const char *file,
                              unsigned line, const char *section, const char *key, const char *fmt,
                              ...)
{
    va_list ap;
    va_start(ap, fmt);
    struct cfg_diag *g = diag_vadd(d, sev, file, line, section, key, fmt, ap);
    va_end(ap);
    return g;
}

void cfg_diag_fix(struct cfg_diag *diag, const char *fmt, ...)
{
    if (!diag)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(diag->fix, sizeof(diag->fix), fmt, ap);
    va_end(ap);
}

/* A diagnostic at key `at`'s line, or its section's line when the key is not in the file. */
static struct cfg_diag *diag_vat_key(struct cfg_diags *d, enum cfg_severity sev,
                                     const struct cfg_file *cfg, enum cfg_key_id at,
                                     const char *fmt, va_list ap)
{
    const struct cfg_key *k = &cfg_key_table[at];
    unsigned line = cfg->key_line[at] ? cfg->key_line[at] : cfg->section_line[k->section];
    return diag_vadd(d, sev, cfg->path, line, cfg_section_name(k->section), k->name, fmt, ap);
}

struct cfg_diag *cfg_diag_key(struct cfg_diags *d, enum cfg_severity sev, const struct cfg_file *cfg,
                              enum cfg_key_id key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    struct cfg_diag *g = diag_vat_key(d, sev, cfg, key, fmt, ap);
    va_end(ap);
    return g;
}

struct cfg_diag *cfg_diag_key2(struct cfg_diags *d, enum cfg_severity sev, const struct cfg_file *cfg,
                               enum cfg_key_id key, enum cfg_key_id other, const char *fmt, ...)
{
    enum cfg_key_id at = !cfg->key_line[key] && cfg->key_line[other] ? other : key;
    va_list ap;
    va_start(ap, fmt);
    struct cfg_diag *g = diag_vat_key(d, sev, cfg, at, fmt, ap);
    va_end(ap);
    return g;
}

int cfg_diag_format(const struct cfg_diag *g, char *buf, size_t len)
{
    char where[CFG_PATH_MAX + 32] = "";
    if (g->file[0] && g->line)
        snprintf(where, sizeof(where), "%s:%u: ", g->file, g->line);
    else if (g->file[0])
        snprintf(where, sizeof(where), "%s: ", g->file);
    char what[128] = "";
    if (g->section[0] && g->key[0])
        snprintf(what, sizeof(what), "[%s] %s: ", g->section, g->key);
    else if (g->section[0])
        snprintf(what, sizeof(what), "[%s]: ", g->section);
    else if (g->key[0])
        snprintf(what, sizeof(what), "%s: ", g->key);
    const char *sev = g->severity == CFG_SEV_ERROR ? "error" : "warning";
    size_t ml = strlen(g->message);
    const char *stop = ml && strchr(".?!", g->message[ml - 1]) ? "" : ".";
    if (g->fix[0])
        return snprintf(buf, len, "%s%s: %s%s%s fix: %s", where, sev, what, g->message, stop,
                        g->fix);
    return snprintf(buf, len, "%s%s: %s%s%s", where, sev, what, g->message, stop);
}

/* Insertion sort: stable, and the list is short (at most CFG_DIAG_MAX). */
void cfg_diags_sort(struct cfg_diags *d)
{
    /* rank of each diagnostic's file = index of its first appearance */
    size_t *rank = malloc(d->n * sizeof(*rank) + 1);
    if (!rank)
        return;
    for (size_t i = 0; i < d->n; i++) {
        rank[i] = i;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(d->v[j].file, d->v[i].file) == 0) {
                rank[i] = rank[j];
                break;
            }
        }
    }
    for (size_t i = 1; i < d->n; i++) {
        struct cfg_diag g = d->v[i];
        size_t r = rank[i];
        size_t j = i;
        while (j > 0 && (rank[j - 1] > r || (rank[j - 1] == r && d->v[j - 1].line > g.line))) {
            d->v[j] = d->v[j - 1];
            rank[j] = rank[j - 1];
            j--;
        }
        d->v[j] = g;
        rank[j] = r;
    }
    free(rank);
}

void cfg_diags_print(const struct cfg_diags *d, FILE *out)
{
    char line[CFG_PATH_MAX + 1024];
    for (size_t i = 0; i < d->n; i++) {
        cfg_diag_format(&d->v[i], line, sizeof(line));
        fprintf(out, "%s\n", line);
    }
    if (d->dropped)
        fprintf(out, "... and %zu more problems not shown%s\n", d->dropped,
                d->oom ? " (out of memory)" : "");
}

static int norm_char(int c)
{
    c = tolower((unsigned char)c);
    return c == '-' ? '_' : c;
}

#define EDIT_MAX_LEN 64

unsigned cfg_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > EDIT_MAX_LEN || lb > EDIT_MAX_LEN)
        return 1000;
    /* three rows of the dynamic programme; row k lives in rows[k % 3] */
    unsigned rows[3][EDIT_MAX_LEN + 1];
    for (size_t j = 0; j <= lb; j++)
        rows[0][j] = (unsigned)j;
    for (size_t i = 1; i <= la; i++) {
        const unsigned *prev = rows[(i - 1) % 3], *prev2 = rows[(i + 1) % 3];
        unsigned *cur = rows[i % 3];
        cur[0] = (unsigned)i;
        for (size_t j = 1; j <= lb; j++) {
            int ca = norm_char(a[i - 1]), cb = norm_char(b[j - 1]);
            unsigned v = prev[j - 1] + (ca == cb ? 0 : 1);
            if (prev[j] + 1 < v)
                v = prev[j] + 1;
            if (cur[j - 1] + 1 < v)
                v = cur[j - 1] + 1;
            if (i > 1 && j > 1 && ca == norm_char(b[j - 2]) && norm_char(a[i - 2]) == cb &&
                prev2[j - 2] + 1 < v)
                v = prev2[j - 2] + 1;
            cur[j] = v;
        }
    }
    return rows[la % 3][lb];
}

unsigned cfg_typo_threshold(size_t len)
{
    if (len <= 4)
        return 1;
    if (len <= 8)
        return 2;
    return 3;
}
