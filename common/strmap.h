/* strmap: a hash map from byte-string keys to pointers, for the slow path (EPMD registry,
 * node registries). Chained buckets, doubled when the load factor passes 1, so lookups stay
 * O(1) at any size. Keys are copied; values are the caller's. Not thread-safe: the owner
 * serialises access. */
#ifndef DPDIST_COMMON_STRMAP_H
#define DPDIST_COMMON_STRMAP_H

#include <stddef.h>

struct strmap;

/* NULL when out of memory. */
struct strmap *strmap_new(void);
/* free_val (may be NULL) is called on each value. */
void strmap_free(struct strmap *m, void (*free_val)(void *val));

void *strmap_get(const struct strmap *m, const void *key, size_t klen);
/* 0, -EEXIST if the key is present (the map is unchanged), -ENOMEM. */
int strmap_put(struct strmap *m, const void *key, size_t klen, void *val);
/* The removed value, or NULL if absent. */
void *strmap_remove(struct strmap *m, const void *key, size_t klen);
size_t strmap_count(const struct strmap *m);

/* Calls fn for each entry until fn returns non-zero (that value is returned). fn must not
 * modify the map. */
int strmap_foreach(const struct strmap *m,
                   int (*fn)(const void *key, size_t klen, void *val, void *arg), void *arg);

#endif
