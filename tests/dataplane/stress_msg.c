/* dd_stress test messages: building, checking, and the size distribution (see stress.h).
 *
 * Content: after the 32-byte header, 64-bit little-endian word w (w = 0, 1, ...) holds
 * key + (w + 1) * PHI, key = mix(salt, sender, seq). A fragment of another message, of
 * another offset, a repeated or a damaged fragment therefore never passes the check.
 *
 * The "mixed" size distribution (binary sizes; the term adds 6 bytes, the distribution
 * header about 40):
 *   90 %    uniform 64 B .. 512 B
 *    9 %    log-uniform 512 B .. 16 KiB
 *    0.9 %  log-uniform 16 KiB .. 256 KiB
 *    0.1 %  log-uniform 256 KiB .. max (4 MiB by default), one in eight exactly max
 * i.e. ~2.9 KB per message on average: 10^6 messages carry ~2.9 GB, a quarter of it in the
 * ~1000 messages of 256 KiB and more (~125 of them exactly 4 MiB), spread evenly through the
 * run by the generator.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/bytes.h"
#include "tests/dataplane/stress.h"

#define PHI 0x9E3779B97F4A7C15ull

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t pattern_key(const struct stress_hdr *h)
{
    return mix64(h->salt ^ mix64(((uint64_t)h->sender << 48) ^ h->seq ^ ((uint64_t)h->kind << 40)));
}

static void le64_put(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

size_t stress_build(uint8_t *buf, size_t size, const struct stress_hdr *h0)
{
    struct stress_hdr h = *h0;
    h.len = (uint32_t)size;
    buf[0] = 131;
    buf[1] = 109;
    be32_put(buf + 2, (uint32_t)size);
    uint8_t *b = buf + STRESS_TERM_HDR;
    be32_put(b, STRESS_MAGIC);
    be32_put(b + 4, h.sender);
    be64_put(b + 8, h.seq);
    be32_put(b + 16, h.len);
    be32_put(b + 20, h.kind);
    be64_put(b + 24, h.salt);
    uint64_t key = pattern_key(&h);
    size_t body = size - STRESS_HDR_LEN, words = body / 8;
    uint8_t *p = b + STRESS_HDR_LEN;
    uint64_t v = key;
    for (size_t w = 0; w < words; w++) {
        v += PHI;
        memcpy(p + 8 * w, &v, 8); /* little-endian host (x86-64) */
    }
    if (body % 8) {
        uint8_t tail[8];
        le64_put(tail, v + PHI);
        memcpy(p + 8 * words, tail, body % 8);
    }
    return size + STRESS_TERM_HDR;
}

int stress_parse(const char *term, size_t len, struct stress_hdr *h, bool *intact)
{
    const uint8_t *t = (const uint8_t *)term;
    if (len < STRESS_TERM_HDR + STRESS_HDR_LEN || t[0] != 131 || t[1] != 109)
        return 0;
    const uint8_t *b = t + STRESS_TERM_HDR;
    if (be32_get(b) != STRESS_MAGIC)
        return 0;
    uint32_t size = be32_get(t + 2);
    h->magic = STRESS_MAGIC;
    h->sender = be32_get(b + 4);
    h->seq = be64_get(b + 8);
    h->len = be32_get(b + 16);
    h->kind = be32_get(b + 20);
    h->salt = be64_get(b + 24);
    *intact = size == len - STRESS_TERM_HDR && h->len == size;
    if (!*intact)
        return 1;
    uint64_t v = pattern_key(h);
    size_t body = size - STRESS_HDR_LEN, words = body / 8;
    const uint8_t *p = b + STRESS_HDR_LEN;
    for (size_t w = 0; w < words; w++) {
        uint64_t got;
        v += PHI;
        memcpy(&got, p + 8 * w, 8);
        if (got != v) {
            *intact = false;
            return 1;
        }
    }
    if (body % 8) {
        uint8_t tail[8];
        le64_put(tail, v + PHI);
        *intact = memcmp(p + 8 * words, tail, body % 8) == 0;
    }
    return 1;
}

uint64_t stress_rand(uint64_t *s)
{
    *s += PHI;
    return mix64(*s);
}

static double unit(uint64_t *rng)
{
    return (double)(stress_rand(rng) >> 11) * (1.0 / 9007199254740992.0);
}

static uint32_t log_uniform(uint64_t *rng, double lo, double hi)
{
    return (uint32_t)exp(log(lo) + unit(rng) * (log(hi) - log(lo)));
}

int stress_dist_parse(const char *s, uint32_t max, struct stress_dist *d)
{
    memset(d, 0, sizeof(*d));
    d->max = max;
    if (!strcmp(s, "mixed")) {
        d->kind = DIST_MIXED;
        return max >= 256 * 1024 ? 0 : -1;
    }
    if (!strcmp(s, "small")) {
        d->kind = DIST_SMALL;
        return 0;
    }
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (end == s || *end || v < STRESS_MIN_SIZE || v > max)
        return -1;
    d->kind = DIST_FIXED;
    d->fixed = (uint32_t)v;
    return 0;
}

uint32_t stress_dist_next(const struct stress_dist *d, uint64_t *rng)
{
    switch (d->kind) {
    case DIST_FIXED:
        return d->fixed;
    case DIST_SMALL:
        return 64 + (uint32_t)(stress_rand(rng) % 449);
    case DIST_MIXED:
    default: {
        double r = unit(rng);
        if (r < 0.9)
            return 64 + (uint32_t)(stress_rand(rng) % 449);
        if (r < 0.99)
            return log_uniform(rng, 512, 16384);
        if (r < 0.999)
            return log_uniform(rng, 16384, 262144);
        if (stress_rand(rng) % 8 == 0)
            return d->max;
        uint32_t v = log_uniform(rng, 262144, d->max);
        return v > d->max ? d->max : v;
    }
    }
}
