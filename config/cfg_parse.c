/* cfg values, parsing: text -> the field of struct cfg_file, one parser per value type
 * (enum cfg_type), each explaining a failure with a reason and a fix. The formatters that
 * write values back are in cfg_format.c. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfg_pvt.h"

/* --- small helpers -------------------------------------------------------------------- */

#define KIB 1024ull
#define MIB (1024ull * 1024)
#define GIB (1024ull * 1024 * 1024)

static void *field_of(struct cfg_file *cfg, const struct cfg_key *k)
{
    return (char *)cfg + k->offset;
}

static void store_uint(void *field, size_t size, uint64_t v)
{
    if (size == 2) {
        uint16_t x = (uint16_t)v;
        memcpy(field, &x, 2);
    } else if (size == 4) {
        uint32_t x = (uint32_t)v;
        memcpy(field, &x, 4);
    } else {
        memcpy(field, &v, 8);
    }
}

/* Decimal digits only, no sign, no overflow. *end gets the first byte after the digits. */
static bool parse_digits(const char *s, uint64_t *out, const char **end)
{
    uint64_t v = 0;
    const char *p = s;
    if (!isdigit((unsigned char)*p))
        return false;
    for (; isdigit((unsigned char)*p); p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    *end = p;
    return true;
}

/* "a, b or c" for messages. */
static void choices_text(const char *choices, char *buf, size_t len)
{
    char c[64];
    size_t used = 0;
    buf[0] = '\0';
    for (unsigned i = 0; cfg_choice(choices, i, c, sizeof(c)); i++) {
        bool last = !cfg_choice(choices, i + 1, (char[64]){0}, 64);
        int n = snprintf(buf + used, len - used, "%s%s", i == 0 ? "" : last ? " or " : ", ", c);
        if (n < 0 || (size_t)n >= len - used)
            return;
        used += (size_t)n;
    }
}

/* Index of `word` among the choices, or -1; *near gets the closest choice for a hint. */
static int choice_index(const char *choices, const char *word, char *near, size_t nearlen)
{
    char c[64];
    unsigned best = 1000;
    near[0] = '\0';
    for (unsigned i = 0; cfg_choice(choices, i, c, sizeof(c)); i++) {
        if (strcmp(c, word) == 0)
            return (int)i;
        unsigned dist = cfg_edit_distance(c, word);
        if (dist < best && dist <= cfg_typo_threshold(strlen(word))) {
            best = dist;
            snprintf(near, nearlen, "%s", c);
        }
    }
    return -1;
}

/* Copies the comma-separated item starting at *p (trimmed) into buf; advances *p past the
 * comma. false at the end of the list. */
static bool next_item(const char **p, char *buf, size_t len, bool *too_long)
{
    const char *s = *p;
    if (!s)
        return false;
    const char *comma = strchr(s, ',');
    size_t n = comma ? (size_t)(comma - s) : strlen(s);
    while (n && isspace((unsigned char)*s)) {
        s++;
        n--;
    }
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    *too_long = n >= len;
    snprintf(buf, len, "%.*s", (int)(n >= len ? len - 1 : n), s);
    *p = comma ? comma + 1 : NULL;
    return true;
}

static void range_fix(const struct cfg_key *k, char *fix, size_t fixlen)
{
    char lo[32], hi[32];
    if (k->type == CFG_T_SIZE) {
        cfg_format_size(k->min, lo, sizeof(lo));
        cfg_format_size(k->max, hi, sizeof(hi));
    } else {
        snprintf(lo, sizeof(lo), "%llu", (unsigned long long)k->min);
        snprintf(hi, sizeof(hi), "%llu", (unsigned long long)k->max);
    }
    if (k->def[0])
        snprintf(fix, fixlen, "use a value from %s to %s (default %s)", lo, hi, k->def);
    else
        snprintf(fix, fixlen, "use a value from %s to %s", lo, hi);
}

/* --- CPU lists ------------------------------------------------------------------------ */

bool cfg_cpus_has(const struct cfg_cpus *cpus, unsigned cpu)
{
    for (unsigned i = 0; i < cpus->n; i++)
        if (cpus->cpu[i] == cpu)
            return true;
    return false;
}

/* Adds cpu keeping the list sorted and unique. */
static void cpus_add(struct cfg_cpus *cpus, unsigned cpu)
{
    unsigned i = 0;
    while (i < cpus->n && cpus->cpu[i] < cpu)
        i++;
    if (i < cpus->n && cpus->cpu[i] == cpu)
        return;
    memmove(&cpus->cpu[i + 1], &cpus->cpu[i], (cpus->n - i) * sizeof(cpus->cpu[0]));
    cpus->cpu[i] = (uint16_t)cpu;
    cpus->n++;
}

int cfg_parse_cpulist(const char *text, struct cfg_cpus *out, unsigned max_cpu)
{
    struct cfg_cpus c = {0};
    const char *p = text;
    char item[32];
    bool too_long;
    while (isspace((unsigned char)*p))
        p++;
    if (!*p) { /* sysfs writes an empty line for an empty set */
        *out = c;
        return 0;
    }
    while (next_item(&p, item, sizeof(item), &too_long)) {
        uint64_t a, b;
        const char *end;
        if (too_long || !parse_digits(item, &a, &end))
            return -EINVAL;
        b = a;
        if (*end == '-') {
            if (!parse_digits(end + 1, &b, &end))
                return -EINVAL;
        }
        if (*end || a > b || b > max_cpu || max_cpu >= CFG_MAX_LCORE)
            return -EINVAL;
        for (uint64_t x = a; x <= b; x++)
            cpus_add(&c, (unsigned)x);
    }
    *out = c;
    return 0;
}

/* --- parsers, one per type ------------------------------------------------------------ */

struct why {
    char *why, *fix;
    size_t whylen, fixlen;
};

#define WHY(w, ...) snprintf((w)->why, (w)->whylen, __VA_ARGS__)
#define FIX(w, ...) snprintf((w)->fix, (w)->fixlen, __VA_ARGS__)

static int parse_str(const struct cfg_key *k, const char *s, void *field, struct why *w)
{
    size_t n = strlen(s);
    size_t max = k->size - 1 < k->max ? k->size - 1 : k->max;
    if (n > max) {
        WHY(w, "the value is %zu bytes long, at most %zu are allowed", n, max);
        FIX(w, "shorten it");
        return -EINVAL;
    }
    for (const char *p = s; *p; p++) {
        if (iscntrl((unsigned char)*p)) {
            WHY(w, "the value contains a control character");
            FIX(w, "remove it");
            return -EINVAL;
        }
    }
    if (k->type == CFG_T_PATH && n && s[0] != '/') {
        WHY(w, "`%s` is not an absolute path", s);
        FIX(w, "write the full path, starting with /");
        return -EINVAL;
    }
    memcpy(field, s, n + 1);
    return 0;
}

static int parse_bool(const char *s, void *field, struct why *w)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (unsigned i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0 || strcasecmp(s, no[i]) == 0) {
            bool v = strcasecmp(s, yes[i]) == 0;
            memcpy(field, &v, sizeof(v));
            return 0;
        }
    }
    WHY(w, "`%s` is not a boolean", s);
    FIX(w, "write true or false");
    return -EINVAL;
}

static int parse_uint(const struct cfg_key *k, const char *s, void *field, struct why *w)
{
    uint64_t v;
    const char *end;
    if (!parse_digits(s, &v, &end) || *end) {
        WHY(w, "`%s` is not a whole number", s);
        range_fix(k, w->fix, w->fixlen);
        return -EINVAL;
    }
    if (v < k->min || v > k->max) {
        WHY(w, "%llu is %s the %s %llu", (unsigned long long)v, v < k->min ? "below" : "above",
            v < k->min ? "minimum" : "maximum", (unsigned long long)(v < k->min ? k->min : k->max));
        range_fix(k, w->fix, w->fixlen);
        return -EINVAL;
    }
    store_uint(field, k->size, v);
    return 0;
}

static int parse_size(const struct cfg_key *k, const char *s, void *field, struct why *w)
{
    uint64_t v, mul = 1;
    const char *end;
    bool ok = parse_digits(s, &v, &end);
    if (ok && *end) {
        switch (toupper((unsigned char)*end)) {
        case 'K':
            mul = KIB;
            break;
        case 'M':
            mul = MIB;
            break;
        case 'G':
            mul = GIB;
            break;
        default:
            ok = false;
        }
        end++;
        if (ok && (strcmp(end, "iB") == 0 || strcmp(end, "B") == 0))
            end += strlen(end);
        ok = ok && *end == '\0';
    }
    if (!ok || v > UINT64_MAX / mul) {
        WHY(w, "`%s` is not a size", s);
        FIX(w, "write bytes as a number, optionally with K, M or G (1024-based), e.g. %s",
            k->def[0] ? k->def : "64M");
        return -EINVAL;
    }
    v *= mul;
    if (v < k->min || v > k->max) {
        char lim[32];
        cfg_format_size(v < k->min ? k->min : k->max, lim, sizeof(lim));
        WHY(w, "%s is %s the %s %s", s, v < k->min ? "below" : "above",
            v < k->min ? "minimum" : "maximum", lim);
        range_fix(k, w->fix, w->fixlen);
        return -EINVAL;
    }
    memcpy(field, &v, sizeof(v));
    return 0;
}

static int parse_rate(const char *s, void *field, struct why *w)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v) || isspace((unsigned char)*s)) {
        WHY(w, "`%s` is not a number", s);
        FIX(w, "write a probability from 0 to 1, e.g. 0.01");
        return -EINVAL;
    }
    if (v < 0 || v > 1) {
        WHY(w, "%s is not a probability", s);
        FIX(w, "write a value from 0 to 1 (0.01 = 1%% of the frames)");
        return -EINVAL;
    }
    memcpy(field, &v, sizeof(v));
    return 0;
}

static int parse_enum(const struct cfg_key *k, const char *s, void *field, struct why *w)
{
    char near[64], all[160];
    int idx = choice_index(k->choices, s, near, sizeof(near));
    if (idx < 0) {
        choices_text(k->choices, all, sizeof(all));
        if (near[0]) {
            WHY(w, "`%s` is not a valid choice; did you mean `%s`?", s, near);
        } else {
            WHY(w, "`%s` is not a valid choice", s);
        }
        FIX(w, "write %s", all);
        return -EINVAL;
    }
    memcpy(field, &idx, sizeof(idx));
    return 0;
}

static int parse_flags(const struct cfg_key *k, const char *s, void *field, struct why *w)
{
    uint32_t v = 0;
    char item[64], near[64], all[160];
    bool too_long, none = false;
    const char *p = s;
    unsigned items = 0;
    while (next_item(&p, item, sizeof(item), &too_long)) {
        items++;
        if (strcmp(item, "none") == 0) {
            none = true;
            continue;
        }
        int idx = too_long ? -1 : choice_index(k->choices, item, near, sizeof(near));
        if (idx < 0) {
            choices_text(k->choices, all, sizeof(all));
            if (near[0])
                WHY(w, "`%s` is not a known name; did you mean `%s`?", item, near);
            else
                WHY(w, "`%s` is not a known name", item);
            FIX(w, "list names from %s, separated by commas, or write none", all);
            return -EINVAL;
        }
        v |= 1u << idx;
    }
    if (none && items > 1) {
        WHY(w, "`none` cannot be combined with other names");
        FIX(w, "write either none or a list");
        return -EINVAL;
    }
    memcpy(field, &v, sizeof(v));
    return 0;
}

static bool name_char_ok(char c)
{
    return isgraph((unsigned char)c) && c != ',' && c != '#';
}

static int parse_names(const struct cfg_key *k, const char *s, void *field, struct why *w)
{
    struct cfg_names *out = field, v;
    char item[CFG_LIST_NAME_MAX + 1];
    bool too_long;
    const char *p = s;
    memset(&v, 0, sizeof(v));
    if (!*s) {
        *out = v;
        return 0;
    }
    while (next_item(&p, item, sizeof(item), &too_long)) {
        if (too_long || strlen(item) >= CFG_LIST_NAME_MAX) {
            WHY(w, "a name is longer than %d bytes", CFG_LIST_NAME_MAX - 1);
            FIX(w, "shorten it");
            return -EINVAL;
        }
        if (!item[0]) {
            WHY(w, "the list has an empty entry");
            FIX(w, "remove the extra comma");
            return -EINVAL;
        }
        for (const char *c = item; *c; c++) {
            if (!name_char_ok(*c)) {
                WHY(w, "`%s` contains a space or control character", item);
                FIX(w, "separate names with commas; names themselves have no spaces");
                return -EINVAL;
            }
        }
        for (unsigned i = 0; i < v.n; i++) {
            if (strcmp(v.name[i], item) == 0) {
                WHY(w, "`%s` is listed twice", item);
                FIX(w, "remove the duplicate");
                return -EINVAL;
            }
        }
        if (v.n == k->max || v.n == CFG_NAMES_MAX) {
            WHY(w, "more than %llu names", (unsigned long long)k->max);
            FIX(w, "list at most %llu", (unsigned long long)k->max);
            return -EINVAL;
        }
        snprintf(v.name[v.n++], CFG_LIST_NAME_MAX, "%s", item);
    }
    *out = v;
    return 0;
}

static int parse_cpus(const char *s, void *field, struct why *w)
{
    if (strpbrk(s, "@()")) {
        WHY(w, "lcore-to-CPU maps (`@`, `()`) are not supported");
        FIX(w, "list CPUs only, e.g. 0-3; each lcore runs on the CPU of the same number");
        return -EINVAL;
    }
    struct cfg_cpus c;
    if (cfg_parse_cpulist(s, &c, CFG_MAX_LCORE - 1) < 0 || c.n == 0) {
        WHY(w, "`%s` is not a CPU list", s);
        FIX(w, "write CPU numbers below %d and ranges, separated by commas, e.g. 0-3,8",
            CFG_MAX_LCORE);
        return -EINVAL;
    }
    memcpy(field, &c, sizeof(c));
    return 0;
}

static int parse_memlist(const struct cfg_key *k, const char *s, void *field, struct why *w)
{
    struct cfg_memlist m;
    char item[32];
    bool too_long;
    const char *p = s;
    memset(&m, 0, sizeof(m));
    while (next_item(&p, item, sizeof(item), &too_long)) {
        uint64_t v;
        const char *end;
        if (too_long || !parse_digits(item, &v, &end) || *end || v > 1048576) {
            WHY(w, "`%s` is not a number of MiB", item);
            FIX(w, "write MiB per NUMA node, node 0 first, e.g. 1024,0");
            return -EINVAL;
        }
        if (m.n == k->max) {
            WHY(w, "more than %llu NUMA nodes", (unsigned long long)k->max);
            FIX(w, "list one value per NUMA node of this machine");
            return -EINVAL;
        }
        m.mb[m.n++] = (uint32_t)v;
    }
    memcpy(field, &m, sizeof(m));
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* n hex digits at s; -1 if any is not. */
static long hexn(const char *s, unsigned n)
{
    long v = 0;
    for (unsigned i = 0; i < n; i++) {
        int h = hexval(s[i]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

static int parse_pci(const char *s, void *field, struct why *w)
{
    size_t n = strlen(s);
    long dom = 0, bus, dev, fn;
    const char *p = s;
    if (n == 12 && s[4] == ':') {
        dom = hexn(s, 4);
        p = s + 5;
        n -= 5;
    }
    bool ok = n == 7 && p[2] == ':' && p[5] == '.' && dom >= 0;
    if (ok) {
        bus = hexn(p, 2);
        dev = hexn(p + 3, 2);
        fn = hexn(p + 6, 1);
        ok = bus >= 0 && dev >= 0 && dev <= 0x1f && fn >= 0 && fn <= 7;
    }
    if (!ok) {
        WHY(w, "`%s` is not a PCI address", s);
        FIX(w, "write domain:bus:device.function, e.g. 0000:3b:00.0 (see `dpdk-devbind.py "
               "--status` or `lspci -D`)");
        return -EINVAL;
    }
    char text[64];
    snprintf(text, sizeof(text), "%04lx:%02lx:%02lx.%lx", dom, bus, dev, fn);
    cfg_copy(field, 16, text);
    return 0;
}

static int parse_ipv4(const char *s, void *field, struct why *w)
{
    struct in_addr a;
    if (inet_pton(AF_INET, s, &a) != 1) {
        WHY(w, "`%s` is not an IPv4 address", s);
        FIX(w, "write a dotted quad, e.g. 10.0.0.1");
        return -EINVAL;
    }
    uint32_t h = ntohl(a.s_addr);
    if (h == 0 || h == 0xffffffffu || (h >> 28) >= 0xe || (h >> 24) == 127) {
        WHY(w, "%s is not a unicast address of a network interface", s);
        FIX(w, "use the address the data plane answers on, e.g. 10.0.0.1");
        return -EINVAL;
    }
    memcpy(field, &a, sizeof(a));
    return 0;
}

static int parse_addr(const char *s, void *field, struct why *w)
{
    unsigned char buf[sizeof(struct in6_addr)];
    char text[INET6_ADDRSTRLEN];
    if (inet_pton(AF_INET, s, buf) == 1)
        inet_ntop(AF_INET, buf, text, sizeof(text));
    else if (inet_pton(AF_INET6, s, buf) == 1)
        inet_ntop(AF_INET6, buf, text, sizeof(text));
    else {
        WHY(w, "`%s` is not an IP address", s);
        FIX(w, "write an IPv4 or IPv6 address, e.g. 0.0.0.0 or ::");
        return -EINVAL;
    }
    snprintf(field, INET6_ADDRSTRLEN, "%s", text);
    return 0;
}

static int parse_mac(const char *s, void *field, struct why *w)
{
    uint8_t mac[6];
    bool ok = strlen(s) == 17;
    for (unsigned i = 0; ok && i < 6; i++) {
        long b = hexn(s + 3 * i, 2);
        char sep = s[3 * i + 2];
        ok = b >= 0 && (i == 5 || sep == ':' || sep == '-');
        mac[i] = (uint8_t)b;
    }
    if (!ok) {
        WHY(w, "`%s` is not a MAC address", s);
        FIX(w, "write six hex bytes, e.g. 02:00:00:00:00:01");
        return -EINVAL;
    }
    static const uint8_t zero[6];
    if ((mac[0] & 1) || memcmp(mac, zero, 6) == 0) {
        WHY(w, "%s is not a unicast address", s);
        FIX(w, "clear the lowest bit of the first byte; 02:xx:... are free to use locally");
        return -EINVAL;
    }
    memcpy(field, mac, 6);
    return 0;
}

/* Octal permission bits, as chmod takes them: `0660` or `660`. */
static int parse_mode(const struct cfg_key *k, const char *s, void *field, struct why *w)
{
    uint32_t v = 0;
    size_t n = strlen(s);
    bool ok = n >= 1 && n <= 5;
    for (const char *p = s; ok && *p; p++) {
        ok = *p >= '0' && *p <= '7';
        v = v * 8 + (uint32_t)(*p - '0');
    }
    if (!ok || v > k->max) {
        WHY(w, "`%s` is not an octal mode of at most %04llo", s, (unsigned long long)k->max);
        FIX(w, "write it as chmod does, e.g. 0660 (owner and group read and write)");
        return -EINVAL;
    }
    memcpy(field, &v, sizeof(v));
    return 0;
}

int cfg_parse_value(const struct cfg_key *k, const char *text, struct cfg_file *cfg, char *why,
                    size_t whylen, char *fix, size_t fixlen)
{
    struct why w = {why, fix, whylen, fixlen};
    void *field = field_of(cfg, k);
    why[0] = fix[0] = '\0';
    switch (k->type) {
    case CFG_T_STR:
    case CFG_T_PATH:
        return parse_str(k, text, field, &w);
    case CFG_T_BOOL:
        return parse_bool(text, field, &w);
    case CFG_T_UINT:
        return parse_uint(k, text, field, &w);
    case CFG_T_SIZE:
        return parse_size(k, text, field, &w);
    case CFG_T_RATE:
        return parse_rate(text, field, &w);
    case CFG_T_ENUM:
        return parse_enum(k, text, field, &w);
    case CFG_T_FLAGS:
        return parse_flags(k, text, field, &w);
    case CFG_T_NAMES:
        return parse_names(k, text, field, &w);
    case CFG_T_CPUS:
        return parse_cpus(text, field, &w);
    case CFG_T_MEMLIST:
        return parse_memlist(k, text, field, &w);
    case CFG_T_PCI:
        return parse_pci(text, field, &w);
    case CFG_T_IPV4:
        return parse_ipv4(text, field, &w);
    case CFG_T_ADDR:
        return parse_addr(text, field, &w);
    case CFG_T_MAC:
        return parse_mac(text, field, &w);
    case CFG_T_MODE:
        return parse_mode(k, text, field, &w);
    }
    WHY(&w, "internal: unknown type");
    return -EINVAL;
}
