/* hash: FNV-1a (64-bit), the one copy for the whole tree.
 *
 * Fowler–Noll–Vo 1a: for each byte, h = (h XOR byte) * prime, from the offset basis. Fast on
 * short keys (node names, registered names) and good enough for the hash tables that key on
 * them (runtime connections and names: liburcu's lock-free table; common/strmap.c, which
 * mixes in a per-map random seed so an outsider cannot pick colliding keys ahead).
 * Constants from the FNV specification (64-bit parameters). Pure, any thread, inline: it
 * runs on the delivery path (registered-name lookups).
 */
#ifndef DPDIST_COMMON_HASH_H
#define DPDIST_COMMON_HASH_H

#include <stddef.h>
#include <stdint.h>

#define HASH_FNV1A64_BASIS UINT64_C(0xcbf29ce484222325) /* 14695981039346656037 */
#define HASH_FNV1A64_PRIME UINT64_C(0x100000001b3)      /* 1099511628211 */

/* FNV-1a of len bytes at p, starting from basis XOR seed (seed 0: plain FNV-1a). */
static inline uint64_t hash_fnv1a64_seeded(const void *p, size_t len, uint64_t seed)
{
    const unsigned char *b = (const unsigned char *)p;
    uint64_t h = HASH_FNV1A64_BASIS ^ seed;
    for (size_t i = 0; i < len; i++) {
        h ^= b[i];
        h *= HASH_FNV1A64_PRIME;
    }
    return h;
}

static inline uint64_t hash_fnv1a64(const void *p, size_t len)
{
    return hash_fnv1a64_seeded(p, len, 0);
}

/* FNV-1a of a NUL-terminated string (without its NUL). */
static inline uint64_t hash_fnv1a64_str(const char *s)
{
    uint64_t h = HASH_FNV1A64_BASIS;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= HASH_FNV1A64_PRIME;
    }
    return h;
}

#endif
