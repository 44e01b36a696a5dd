/* cfg values, formatting: the field of struct cfg_file -> text as a file holds it, which
 * cfg_parse.c reads back to the same value (`show`, `get`, messages). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfg_pvt.h"

#define KIB 1024ull
#define MIB (1024ull * 1024)
#define GIB (1024ull * 1024 * 1024)

static const void *cfield_of(const struct cfg_file *cfg, const struct cfg_key *k)
{
    return (const char *)cfg + k->offset;
}
static uint64_t load_uint(const void *field, size_t size)
{
    if (size == 2) {
        uint16_t x;
        memcpy(&x, field, 2);
        return x;
    }
    if (size == 4) {
        uint32_t x;
        memcpy(&x, field, 4);
        return x;
    }
    uint64_t x;
    memcpy(&x, field, 8);
    return x;
}
void cfg_format_size(uint64_t v, char *buf, size_t len)
{
    if (v && v % GIB == 0)
        snprintf(buf, len, "%lluG", (unsigned long long)(v / GIB));
    else if (v && v % MIB == 0)
        snprintf(buf, len, "%lluM", (unsigned long long)(v / MIB));
    else if (v && v % KIB == 0)
        snprintf(buf, len, "%lluK", (unsigned long long)(v / KIB));
    else
        snprintf(buf, len, "%llu", (unsigned long long)v);
}
void cfg_format_flags(const char *choices, uint32_t mask, char *buf, size_t len)
{
    char c[64];
    size_t used = 0;
    if (len)
        buf[0] = '\0';
    for (unsigned i = 0; i < 32 && cfg_choice(choices, i, c, sizeof(c)); i++) {
        if (mask & (1u << i)) {
            int n = snprintf(buf + used, len - used, "%s%s", used ? "," : "", c);
            if (n > 0 && (size_t)n < len - used)
                used += (size_t)n;
        }
    }
    if (!used)
        snprintf(buf, len, "none");
}

void cfg_format_cpus(const struct cfg_cpus *cpus, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (unsigned i = 0; i < cpus->n;) {
        unsigned j = i;
        while (j + 1 < cpus->n && cpus->cpu[j + 1] == cpus->cpu[j] + 1)
            j++;
        int n;
        if (j == i)
            n = snprintf(buf + used, len - used, "%s%u", used ? "," : "", cpus->cpu[i]);
        else
            n = snprintf(buf + used, len - used, "%s%u-%u", used ? "," : "", cpus->cpu[i],
                         cpus->cpu[j]);
        if (n < 0 || (size_t)n >= len - used)
            return;
        used += (size_t)n;
        i = j + 1;
    }
}
/* --- formatters ----------------------------------------------------------------------- */

/* A string value as a file holds it: the comment character escaped. */
static int format_text(const char *s, char *buf, size_t len)
{
    size_t o = 0;
    for (; *s; s++) {
        if (*s == CFG_COMMENT_CHAR) {
            if (o + 1 < len)
                buf[o] = '\\';
            o++;
        }
        if (o + 1 < len)
            buf[o] = *s;
        o++;
    }
    if (len)
        buf[o < len ? o : len - 1] = '\0';
    return o >= len ? -ENOSPC : (int)o;
}

static void format_rate(double v, char *buf, size_t len)
{
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

int cfg_format_value(const struct cfg_key *k, const struct cfg_file *cfg, char *buf, size_t len)
{
    const void *field = cfield_of(cfg, k);
    char tmp[CFG_STR_MAX * 2];
    tmp[0] = '\0';
    switch (k->type) {
    case CFG_T_STR:
    case CFG_T_PATH:
    case CFG_T_PCI:
    case CFG_T_ADDR:
        if (!((const char *)field)[0])
            return -ENODATA;
        return format_text(field, buf, len);
    case CFG_T_BOOL: {
        bool v;
        memcpy(&v, field, sizeof(v));
        snprintf(tmp, sizeof(tmp), "%s", v ? "true" : "false");
        break;
    }
    case CFG_T_UINT:
        snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)load_uint(field, k->size));
        break;
    case CFG_T_SIZE: {
        uint64_t v;
        memcpy(&v, field, sizeof(v));
        cfg_format_size(v, tmp, sizeof(tmp));
        break;
    }
    case CFG_T_RATE: {
        double v;
        memcpy(&v, field, sizeof(v));
        format_rate(v, tmp, sizeof(tmp));
        break;
    }
    case CFG_T_ENUM: {
        int v;
        memcpy(&v, field, sizeof(v));
        if (v < 0 || !cfg_choice(k->choices, (unsigned)v, tmp, sizeof(tmp)))
            return -ENODATA;
        break;
    }
    case CFG_T_FLAGS: {
        uint32_t v;
        memcpy(&v, field, sizeof(v));
        cfg_format_flags(k->choices, v, tmp, sizeof(tmp));
        break;
    }
    case CFG_T_NAMES: {
        const struct cfg_names *v = field;
        size_t used = 0;
        if (!v->n)
            return -ENODATA;
        for (unsigned i = 0; i < v->n; i++) {
            int n = snprintf(tmp + used, sizeof(tmp) - used, "%s%s", i ? "," : "", v->name[i]);
            if (n > 0 && (size_t)n < sizeof(tmp) - used)
                used += (size_t)n;
        }
        return format_text(tmp, buf, len);
    }
    case CFG_T_CPUS:
        cfg_format_cpus(field, tmp, sizeof(tmp));
        break;
    case CFG_T_MEMLIST: {
        const struct cfg_memlist *m = field;
        size_t used = 0;
        if (!m->n)
            return -ENODATA;
        for (unsigned i = 0; i < m->n; i++) {
            int n = snprintf(tmp + used, sizeof(tmp) - used, "%s%u", i ? "," : "", m->mb[i]);
            if (n > 0 && (size_t)n < sizeof(tmp) - used)
                used += (size_t)n;
        }
        break;
    }
    case CFG_T_IPV4: {
        struct in_addr a;
        memcpy(&a, field, sizeof(a));
        if (a.s_addr == 0)
            return -ENODATA;
        inet_ntop(AF_INET, &a, tmp, sizeof(tmp));
        break;
    }
    case CFG_T_MODE: {
        uint32_t v;
        memcpy(&v, field, sizeof(v));
        snprintf(tmp, sizeof(tmp), "%04o", (unsigned)v);
        break;
    }
    case CFG_T_MAC: {
        const uint8_t *m = field;
        static const uint8_t zero[6];
        if (memcmp(m, zero, 6) == 0)
            return -ENODATA;
        snprintf(tmp, sizeof(tmp), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4],
                 m[5]);
        break;
    }
    }
    size_t n = strlen(tmp);
    if (n >= len)
        return -ENOSPC;
    memcpy(buf, tmp, n + 1);
    return (int)n;
}
