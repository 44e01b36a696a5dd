#include "common/strmap.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/hash.h"

struct strmap_entry {
    struct strmap_entry *next;
    uint64_t hash;
    void *val;
    size_t klen;
    unsigned char key[];
};

struct strmap {
    struct strmap_entry **buckets;
    size_t nbuckets; /* power of two */
    size_t count;
    uint64_t seed;
};

#define STRMAP_INITIAL_BUCKETS 64

/* FNV-1a over a per-map random seed, so an outsider cannot pick colliding keys ahead. */
static uint64_t strmap_hash(uint64_t seed, const void *key, size_t klen)
{
    uint64_t h = hash_fnv1a64_seeded(key, klen, seed);
    return h ^ (h >> 29);
}

struct strmap *strmap_new(void)
{
    struct strmap *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->nbuckets = STRMAP_INITIAL_BUCKETS;
    m->buckets = calloc(m->nbuckets, sizeof(*m->buckets));
    if (!m->buckets) {
        free(m);
        return NULL;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    m->seed = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ULL ^ (uint64_t)(uintptr_t)m;
    return m;
}

void strmap_free(struct strmap *m, void (*free_val)(void *val))
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nbuckets; i++) {
        struct strmap_entry *e = m->buckets[i];
        while (e) {
            struct strmap_entry *next = e->next;
            if (free_val)
                free_val(e->val);
            free(e);
            e = next;
        }
    }
    free(m->buckets);
    free(m);
}

static struct strmap_entry **strmap_slot(const struct strmap *m, uint64_t h, const void *key,
                                         size_t klen)
{
    struct strmap_entry **pp = &m->buckets[h & (m->nbuckets - 1)];
    for (; *pp; pp = &(*pp)->next)
        if ((*pp)->hash == h && (*pp)->klen == klen && memcmp((*pp)->key, key, klen) == 0)
            break;
    return pp;
}

void *strmap_get(const struct strmap *m, const void *key, size_t klen)
{
    struct strmap_entry *e = *strmap_slot(m, strmap_hash(m->seed, key, klen), key, klen);
    return e ? e->val : NULL;
}

static void strmap_grow(struct strmap *m)
{
    size_t n = m->nbuckets * 2;
    struct strmap_entry **b = calloc(n, sizeof(*b));
    if (!b)
        return; /* keep working at a higher load factor */
    for (size_t i = 0; i < m->nbuckets; i++) {
        struct strmap_entry *e = m->buckets[i];
        while (e) {
            struct strmap_entry *next = e->next;
            e->next = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
            e = next;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->nbuckets = n;
}

int strmap_put(struct strmap *m, const void *key, size_t klen, void *val)
{
    uint64_t h = strmap_hash(m->seed, key, klen);
    struct strmap_entry **pp = strmap_slot(m, h, key, klen);
    if (*pp)
        return -EEXIST;
    struct strmap_entry *e = malloc(sizeof(*e) + klen);
    if (!e)
        return -ENOMEM;
    e->next = NULL;
    e->hash = h;
    e->val = val;
    e->klen = klen;
    memcpy(e->key, key, klen);
    *pp = e;
    if (++m->count > m->nbuckets)
        strmap_grow(m);
    return 0;
}

void *strmap_remove(struct strmap *m, const void *key, size_t klen)
{
    struct strmap_entry **pp = strmap_slot(m, strmap_hash(m->seed, key, klen), key, klen);
    struct strmap_entry *e = *pp;
    if (!e)
        return NULL;
    *pp = e->next;
    void *val = e->val;
    free(e);
    m->count--;
    return val;
}

size_t strmap_count(const struct strmap *m)
{
    return m->count;
}

int strmap_foreach(const struct strmap *m,
                   int (*fn)(const void *key, size_t klen, void *val, void *arg), void *arg)
{
    for (size_t i = 0; i < m->nbuckets; i++)
        for (struct strmap_entry *e = m->buckets[i]; e; e = e->next) {
            int r = fn(e->key, e->klen, e->val, arg);
            if (r)
                return r;
        }
    return 0;
}
