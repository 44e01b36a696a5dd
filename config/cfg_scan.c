/* cfg scan: a light line-by-line reading of the configuration file, next to rte_cfgfile.
 *
 * rte_cfgfile gives values but no line numbers, and it is lenient in ways that hide
 * mistakes: a line without '=' is skipped, a repeated section or key is kept but only the
 * first is ever read, long names and values are cut short. It also fails the whole file,
 * printing to stderr, for a line longer than 322 characters or a '[' without ']'. This scan
 * follows rte_cfgfile_load()'s rules (comment at the first unescaped '#', whitespace
 * stripped, the value is everything after the first '=', "\#" stands for '#') so that it
 * sees the same sections and keys, records the line of each, and reports all of the above
 * as errors with their line. When it finds a line rte_cfgfile would refuse, it says so
 * (rte_rejects) and the loader builds the rte_cfgfile from the scan's entries instead, so
 * the rest of the file is still checked.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/cfg_pvt.h"

/* Strips whitespace at both ends in place; returns the new start. */
static char *strip(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

static int read_all(const char *path, char **out, size_t *len, struct cfg_diags *d)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        struct cfg_diag *g = cfg_diag_add(d, CFG_SEV_ERROR, path, 0, NULL, NULL,
                                          "cannot open the file: %s", strerror(e));
        cfg_diag_fix(g, e == ENOENT ? "check the path" : "check its permissions");
        return -e;
    }
    struct stat st;
    int stat_rc = fstat(fd, &st);
    if (stat_rc < 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)CFG_FILE_MAX) {
        int e = stat_rc < 0 ? errno : 0;
        bool big = stat_rc == 0 && S_ISREG(st.st_mode);
        close(fd);
        struct cfg_diag *g = cfg_diag_add(d, CFG_SEV_ERROR, path, 0, NULL, NULL, "%s",
                                          e     ? strerror(e)
                                          : big ? "the file is larger than 1 MiB"
                                                : "not a regular file");
        cfg_diag_fix(g, "give the path of a node configuration file");
        return e ? -e : big ? -EFBIG : -EINVAL;
    }
    size_t cap = (size_t)st.st_size;
    char *buf = malloc(cap + 1);
    if (!buf) {
        close(fd);
        cfg_diag_add(d, CFG_SEV_ERROR, path, 0, NULL, NULL, "out of memory");
        return -ENOMEM;
    }
    size_t got = 0;
    while (got < cap) {
        ssize_t r = read(fd, buf + got, cap - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    buf[got] = '\0';
    *out = buf;
    *len = got;
    return 0;
}

static int push_sec(struct cfg_scan *s, size_t *cap, const struct cfg_scan_sec *v)
{
    if (s->n_sec == *cap) {
        size_t n = *cap ? *cap * 2 : 8;
        struct cfg_scan_sec *p = realloc(s->sec, n * sizeof(*p));
        if (!p)
            return -ENOMEM;
        s->sec = p;
        *cap = n;
    }
    s->sec[s->n_sec++] = *v;
    return 0;
}

static int push_ent(struct cfg_scan *s, size_t *cap, const struct cfg_scan_entry *v)
{
    if (s->n_ent == *cap) {
        size_t n = *cap ? *cap * 2 : 32;
        struct cfg_scan_entry *p = realloc(s->ent, n * sizeof(*p));
        if (!p)
            return -ENOMEM;
        s->ent = p;
        *cap = n;
    }
    s->ent[s->n_ent++] = *v;
    return 0;
}

/* First section index with this name, or -1. */
static int find_sec(const struct cfg_scan *s, const char *name)
{
    for (size_t i = 0; i < s->n_sec; i++)
        if (strcmp(s->sec[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* The value as rte_cfgfile stores it: "\#" becomes "#". */
static void unescape(char *v)
{
    char *o = v;
    for (char *p = v; *p; p++) {
        if (*p == '\\' && p[1] == CFG_COMMENT_CHAR)
            continue;
        *o++ = *p;
    }
    *o = '\0';
}

static void scan_section(struct cfg_scan *s, char *line, unsigned lineno, const char *path,
                         size_t *cap, struct cfg_diags *d)
{
    char *end = strchr(line, ']');
    if (!end) {
        struct cfg_diag *g = cfg_diag_add(d, CFG_SEV_ERROR, path, lineno, NULL, NULL,
                                          "section header without a closing ']'");
        cfg_diag_fix(g, "write it as [name]");
        s->rte_rejects = true;
        return;
    }
    *end = '\0';
    char *name = strip(line + 1);
    char *rest = strip(end + 1);
    if (*rest) {
        struct cfg_diag *g = cfg_diag_add(d, CFG_SEV_ERROR, path, lineno, name, NULL,
                                          "text after the section header: `%s`", rest);
        cfg_diag_fix(g, "put keys on their own lines, comments after '#'");
    }
    if (!*name || strlen(name) > CFG_RTE_NAME_MAX) {
        struct cfg_diag *g = cfg_diag_add(d, CFG_SEV_ERROR, path, lineno, NULL, NULL,
                                          "the section name is %s", *name ? "too long" : "empty");
        cfg_diag_fix(g, "use one of the sections in configs/README.md");
    }
    struct cfg_scan_sec sec = {.line = lineno};
    snprintf(sec.name, sizeof(sec.name), "%s", name);
    int first = find_sec(s, sec.name);
    if (first >= 0) {
        sec.duplicate = true;
        struct cfg_diag *g = cfg_diag_add(
            d, CFG_SEV_ERROR, path, lineno, sec.name, NULL,
            "the section appears again (first at line %u); only the first one would be read",
            s->sec[first].line);
        cfg_diag_fix(g, "merge the two into one [%s] section", sec.name);
    }
    if (push_sec(s, cap, &sec) < 0)
        d->oom = true;
}

static void scan_entry(struct cfg_scan *s, char *line, unsigned lineno, const char *path,
                       size_t *cap, struct cfg_diags *d)
{
    char *eq = strchr(line, '=');
    *eq = '\0';
    char *key = strip(line), *value = strip(eq + 1);
    unescape(value);
    int sec = s->n_sec ? (int)s->n_sec - 1 : -1;
    const char *secname = sec >= 0 ? s->sec[sec].name : NULL;
    if (!*key) {
        struct cfg_diag *g =
            cfg_diag_add(d, CFG_SEV_ERROR, path, lineno, secname, NULL, "a value without a key");
        cfg_diag_fix(g, "write key = value");
        return;
    }
    if (sec < 0) {
        struct cfg_diag *g = cfg_diag_add(d, CFG_SEV_ERROR, path, lineno, NULL, key,
                                          "the key comes before the first [section]");
        cfg_diag_fix(g, "move it under its section, e.g. [node]");
        return;
    }
    if (strlen(key) > CFG_RTE_NAME_MAX) {
        struct cfg_diag *g = cfg_diag_add(d, CFG_SEV_ERROR, path, lineno, secname, NULL,
                                          "a key name longer than %d characters", CFG_RTE_NAME_MAX);
        cfg_diag_fix(g, "use the keys listed in configs/README.md");
        return;
    }
    if (strlen(value) > CFG_RTE_VALUE_MAX) {
        struct cfg_diag *g = cfg_diag_add(d, CFG_SEV_ERROR, path, lineno, secname, key,
                                          "the value is %zu characters long; only %d would be read",
                                          strlen(value), CFG_RTE_VALUE_MAX);
        cfg_diag_fix(g, "shorten it");
        return;
    }
    if (s->sec[sec].duplicate)
        return; /* rte_cfgfile never reads it; the section is reported */
    for (size_t i = 0; i < s->n_ent; i++) {
        if (s->ent[i].sec == sec && strcmp(s->ent[i].key, key) == 0) {
            struct cfg_diag *g = cfg_diag_add(
                d, CFG_SEV_ERROR, path, lineno, secname, key,
                "the key appears again (first at line %u); only the first value would be read",
                s->ent[i].line);
            cfg_diag_fix(g, "keep one of the two lines");
            return;
        }
    }
    struct cfg_scan_entry e = {.line = lineno, .sec = sec};
    snprintf(e.key, sizeof(e.key), "%s", key);
    snprintf(e.value, sizeof(e.value), "%s", value);
    if (push_ent(s, cap, &e) < 0)
        d->oom = true;
}

int cfg_scan_file(const char *path, struct cfg_scan *s, struct cfg_diags *d)
{
    memset(s, 0, sizeof(*s));
    char *buf = NULL;
    size_t len = 0;
    int rc = read_all(path, &buf, &len, d);
    if (rc < 0)
        return rc;
    if (memchr(buf, '\0', len)) {
        struct cfg_diag *g = cfg_diag_add(d, CFG_SEV_ERROR, path, 0, NULL, NULL,
                                          "the file contains NUL bytes: not a text file");
        cfg_diag_fix(g, "give the path of a node configuration file");
        free(buf);
        return -EINVAL;
    }
    size_t sec_cap = 0, ent_cap = 0;
    unsigned lineno = 0;
    char *start = buf;
    if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0) {
        /* rte_cfgfile would take the mark for part of the first line */
        struct cfg_diag *g = cfg_diag_add(d, CFG_SEV_ERROR, path, 1, NULL, NULL,
                                          "the file starts with a UTF-8 byte order mark");
        cfg_diag_fix(g, "save it without the mark (plain UTF-8 or ASCII)");
        s->rte_rejects = true;
        start += 3;
    }
    for (char *line = start; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        lineno++;
        size_t raw = strlen(line);
        /* rte_cfgfile's comment rule: the first '#', unless escaped (then none) */
        char *hash = strchr(line, CFG_COMMENT_CHAR);
        if (hash && (hash == line || hash[-1] != '\\'))
            *hash = '\0';
        char *text = strip(line);
        if (raw > CFG_LINE_MAX) {
            struct cfg_diag *g = cfg_diag_add(
                d, CFG_SEV_ERROR, path, lineno, NULL, NULL,
                "the line is %zu characters long; rte_cfgfile reads at most %d", raw, CFG_LINE_MAX);
            cfg_diag_fix(g, "shorten it (comments count too)");
            s->rte_rejects = true;
        } else if (!*text) {
            /* blank or comment */
        } else if (text[0] == '[') {
            scan_section(s, text, lineno, path, &sec_cap, d);
        } else if (strchr(text, '=')) {
            scan_entry(s, text, lineno, path, &ent_cap, d);
        } else {
            int sec = s->n_sec ? (int)s->n_sec - 1 : -1;
            struct cfg_diag *g =
                cfg_diag_add(d, CFG_SEV_ERROR, path, lineno, sec >= 0 ? s->sec[sec].name : NULL,
                             NULL, "`%s` is not `key = value`; it would be ignored", text);
            if (text[0] == ';')
                cfg_diag_fix(g, "comments start with '#'");
            else
                cfg_diag_fix(g, "write key = value, a [section], or a comment after '#'");
        }
        line = nl ? nl + 1 : NULL;
    }
    free(buf);
    return 0;
}

void cfg_scan_free(struct cfg_scan *s)
{
    free(s->sec);
    free(s->ent);
    memset(s, 0, sizeof(*s));
}

unsigned cfg_scan_line(const struct cfg_scan *s, const char *section, const char *key)
{
    int sec = find_sec(s, section);
    if (sec < 0)
        return 0;
    if (!key)
        return s->sec[sec].line;
    for (size_t i = 0; i < s->n_ent; i++)
        if (s->ent[i].sec == sec && strcmp(s->ent[i].key, key) == 0)
            return s->ent[i].line;
    return 0;
}
