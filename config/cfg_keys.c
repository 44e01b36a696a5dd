/* cfg key table: the table built from CFG_KEYS (cfg_keys.h), the names of sections and
 * types, lookups. Values are parsed in cfg_parse.c and formatted in cfg_format.c. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "config/cfg_pvt.h"

/* --- the table ------------------------------------------------------------------------ */

#define FIELD_SIZE(field) sizeof(((struct cfg_file *)0)->field)

#define CFG_X_KEY(id_, sec_, key_, type_, field_, def_, min_, max_, choices_, doc_)                \
    [CFG_K_##id_] = {.id = CFG_K_##id_,                                                            \
                     .section = CFG_SEC_##sec_,                                                    \
                     .name = key_,                                                                 \
                     .type = CFG_T_##type_,                                                        \
                     .offset = offsetof(struct cfg_file, field_),                                    \
                     .size = FIELD_SIZE(field_),                                                   \
                     .def = def_,                                                                  \
                     .min = (uint64_t)(min_),                                                      \
                     .max = (uint64_t)(max_),                                                      \
                     .choices = choices_,                                                          \
                     .doc = doc_},
const struct cfg_key cfg_key_table[CFG_K__COUNT] = {CFG_KEYS(CFG_X_KEY)};
#undef CFG_X_KEY

/* Each type's storage, checked at compile time for every key of the table. */
#define SIZE_OK_STR(s)     ((s) > 1)
#define SIZE_OK_PATH(s)    ((s) > 1)
#define SIZE_OK_BOOL(s)    ((s) == sizeof(bool))
#define SIZE_OK_UINT(s)    ((s) == 2 || (s) == 4 || (s) == 8)
#define SIZE_OK_SIZE(s)    ((s) == sizeof(uint64_t))
#define SIZE_OK_RATE(s)    ((s) == sizeof(double))
#define SIZE_OK_ENUM(s)    ((s) == sizeof(int))
#define SIZE_OK_FLAGS(s)   ((s) == sizeof(uint32_t))
#define SIZE_OK_NAMES(s)   ((s) == sizeof(struct cfg_names))
#define SIZE_OK_CPUS(s)    ((s) == sizeof(struct cfg_cpus))
#define SIZE_OK_MEMLIST(s) ((s) == sizeof(struct cfg_memlist))
#define SIZE_OK_PCI(s)     ((s) >= 13)
#define SIZE_OK_IPV4(s)    ((s) == sizeof(struct in_addr))
#define SIZE_OK_ADDR(s)    ((s) >= INET6_ADDRSTRLEN)
#define SIZE_OK_MAC(s)     ((s) == 6)
#define SIZE_OK_MODE(s)    ((s) == sizeof(uint32_t))
#define CFG_X_CHECK(id_, sec_, key_, type_, field_, def_, min_, max_, choices_, doc_)              \
    _Static_assert(SIZE_OK_##type_(FIELD_SIZE(field_)), "storage of [" #sec_ "] " key_);
CFG_KEYS(CFG_X_CHECK)
#undef CFG_X_CHECK

static const char *const section_names[CFG_SEC__COUNT] = {
#define CFG_X_SEC(id, name, doc) [CFG_SEC_##id] = name,
    CFG_SECTIONS(CFG_X_SEC)
#undef CFG_X_SEC
};

static const char *const section_docs[CFG_SEC__COUNT] = {
#define CFG_X_SEC(id, name, doc) [CFG_SEC_##id] = doc,
    CFG_SECTIONS(CFG_X_SEC)
#undef CFG_X_SEC
};

const char *cfg_section_name(enum cfg_section sec)
{
    return (unsigned)sec < CFG_SEC__COUNT ? section_names[sec] : "?";
}

const char *cfg_section_doc(enum cfg_section sec)
{
    return (unsigned)sec < CFG_SEC__COUNT ? section_docs[sec] : "";
}

int cfg_section_lookup(const char *name)
{
    for (int s = 0; s < CFG_SEC__COUNT; s++)
        if (strcmp(section_names[s], name) == 0)
            return s;
    return -1;
}

const struct cfg_key *cfg_key_lookup(enum cfg_section sec, const char *name)
{
    for (unsigned i = 0; i < CFG_K__COUNT; i++)
        if (cfg_key_table[i].section == sec && strcmp(cfg_key_table[i].name, name) == 0)
            return &cfg_key_table[i];
    return NULL;
}

const char *cfg_type_name(enum cfg_type type)
{
    switch (type) {
    case CFG_T_STR:
        return "string";
    case CFG_T_PATH:
        return "path";
    case CFG_T_BOOL:
        return "boolean";
    case CFG_T_UINT:
        return "integer";
    case CFG_T_SIZE:
        return "bytes";
    case CFG_T_RATE:
        return "probability";
    case CFG_T_ENUM:
        return "one of";
    case CFG_T_FLAGS:
        return "list of";
    case CFG_T_NAMES:
        return "name list";
    case CFG_T_CPUS:
        return "CPU list";
    case CFG_T_MEMLIST:
        return "MiB per NUMA node";
    case CFG_T_PCI:
        return "PCI address";
    case CFG_T_IPV4:
        return "IPv4 address";
    case CFG_T_ADDR:
        return "IP address";
    case CFG_T_MAC:
        return "MAC address";
    case CFG_T_MODE:
        return "octal mode";
    }
    return "?";
}

/* --- choices ----------------------------------------------------------------------- */

bool cfg_choice(const char *choices, unsigned i, char *buf, size_t len)
{
    const char *p = choices;
    for (unsigned k = 0; p && k < i; k++) {
        p = strchr(p, '|');
        if (p)
            p++;
    }
    if (!p || !*p)
        return false;
    size_t n = strcspn(p, "|");
    snprintf(buf, len, "%.*s", (int)n, p);
    return true;
}
