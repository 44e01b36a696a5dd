/* Fast path (except flowtab_create/destroy): no allocation, no locks, no logging.
 *
 * flowtab — open addressing (linear probing, backward-shift deletion) from tag to slot,
 * plus per-slot state: FREE slots on a stack, IDLE slots on an LRU list (doubly linked,
 * oldest at the head), BUSY slots on neither. Every operation is O(1) expected.
 * Invariants: a tag is in the hash iff its slot is BUSY or IDLE; the hash has at least
 * twice as many cells as slots, so probe chains stay short and always end.
 */
#include "dataplane/flowtab.h"

#include <errno.h>
#include <stdlib.h>

enum { SLOT_FREE = 0, SLOT_BUSY, SLOT_IDLE };

#define NIL UINT32_MAX

struct flowtab {
    uint32_t max_flows;
    uint32_t busy;
    uint32_t hash_mask;
    uint32_t *hash; /* slot + 1, 0 = empty */
    uint64_t *tag;  /* per slot */
    uint8_t *state; /* per slot */
    uint32_t *prev; /* idle list links */
    uint32_t *next;
    uint32_t idle_head; /* least recently idled */
    uint32_t idle_tail;
    uint32_t *free_stack;
    uint32_t free_top;
};

static inline uint32_t home_of(const struct flowtab *ft, uint64_t tag)
{
    uint64_t h = tag * UINT64_C(0x9E3779B97F4A7C15);
    h ^= h >> 29;
    return (uint32_t)(h >> 32) & ft->hash_mask;
}

struct flowtab *flowtab_create(uint32_t max_flows)
{
    if (max_flows == 0 || max_flows > FLOWTAB_MAX_FLOWS) {
        errno = EINVAL;
        return NULL;
    }
    struct flowtab *ft = calloc(1, sizeof(*ft));
    if (!ft) {
        errno = ENOMEM;
        return NULL;
    }
    uint32_t hsize = 4;
    while (hsize < 2 * max_flows)
        hsize <<= 1;
    ft->max_flows = max_flows;
    ft->hash_mask = hsize - 1;
    ft->hash = calloc(hsize, sizeof(*ft->hash));
    ft->tag = calloc(max_flows, sizeof(*ft->tag));
    ft->state = calloc(max_flows, sizeof(*ft->state));
    ft->prev = calloc(max_flows, sizeof(*ft->prev));
    ft->next = calloc(max_flows, sizeof(*ft->next));
    ft->free_stack = calloc(max_flows, sizeof(*ft->free_stack));
    if (!ft->hash || !ft->tag || !ft->state || !ft->prev || !ft->next || !ft->free_stack) {
        flowtab_destroy(ft);
        errno = ENOMEM;
        return NULL;
    }
    /* hand out low slots first */
    for (uint32_t i = 0; i < max_flows; i++)
        ft->free_stack[i] = max_flows - 1 - i;
    ft->free_top = max_flows;
    ft->idle_head = ft->idle_tail = NIL;
    return ft;
}

void flowtab_destroy(struct flowtab *ft)
{
    if (!ft)
        return;
    free(ft->hash);
    free(ft->tag);
    free(ft->state);
    free(ft->prev);
    free(ft->next);
    free(ft->free_stack);
    free(ft);
}

int flowtab_lookup(const struct flowtab *ft, uint64_t tag)
{
    for (uint32_t i = home_of(ft, tag);; i = (i + 1) & ft->hash_mask) {
        uint32_t v = ft->hash[i];
        if (v == 0)
            return -1;
        if (ft->tag[v - 1] == tag)
            return (int)(v - 1);
    }
}

static void hash_insert(struct flowtab *ft, uint32_t slot)
{
    uint32_t i = home_of(ft, ft->tag[slot]);
    while (ft->hash[i])
        i = (i + 1) & ft->hash_mask;
    ft->hash[i] = slot + 1;
}

static void hash_remove(struct flowtab *ft, uint32_t slot)
{
    uint32_t i = home_of(ft, ft->tag[slot]);
    while (ft->hash[i] != slot + 1)
        i = (i + 1) & ft->hash_mask;
    uint32_t hole = i;
    for (uint32_t j = (hole + 1) & ft->hash_mask; ft->hash[j]; j = (j + 1) & ft->hash_mask) {
        uint32_t home = home_of(ft, ft->tag[ft->hash[j] - 1]);
        if (((j - home) & ft->hash_mask) >= ((j - hole) & ft->hash_mask)) {
            ft->hash[hole] = ft->hash[j];
            hole = j;
        }
    }
    ft->hash[hole] = 0;
}

static void idle_unlink(struct flowtab *ft, uint32_t s)
{
    if (ft->prev[s] != NIL)
        ft->next[ft->prev[s]] = ft->next[s];
    else
        ft->idle_head = ft->next[s];
    if (ft->next[s] != NIL)
        ft->prev[ft->next[s]] = ft->prev[s];
    else
        ft->idle_tail = ft->prev[s];
}

int flowtab_acquire(struct flowtab *ft, uint64_t tag, bool *reused)
{
    if (reused)
        *reused = false;
    int found = flowtab_lookup(ft, tag);
    if (found >= 0) {
        uint32_t s = (uint32_t)found;
        if (ft->state[s] == SLOT_IDLE) {
            idle_unlink(ft, s);
            ft->state[s] = SLOT_BUSY;
            ft->busy++;
        }
        return found;
    }
    uint32_t s;
    if (ft->free_top) {
        s = ft->free_stack[--ft->free_top];
    } else if (ft->idle_head != NIL) {
        s = ft->idle_head;
        idle_unlink(ft, s);
        hash_remove(ft, s);
        if (reused)
            *reused = true;
    } else {
        return -ENOSPC;
    }
    ft->tag[s] = tag;
    ft->state[s] = SLOT_BUSY;
    ft->busy++;
    hash_insert(ft, s);
    return (int)s;
}

void flowtab_set_idle(struct flowtab *ft, uint32_t s)
{
    if (s >= ft->max_flows || ft->state[s] != SLOT_BUSY)
        return;
    ft->state[s] = SLOT_IDLE;
    ft->busy--;
    ft->next[s] = NIL;
    ft->prev[s] = ft->idle_tail;
    if (ft->idle_tail != NIL)
        ft->next[ft->idle_tail] = s;
    else
        ft->idle_head = s;
    ft->idle_tail = s;
}

bool flowtab_is_busy(const struct flowtab *ft, uint32_t slot)
{
    return slot < ft->max_flows && ft->state[slot] == SLOT_BUSY;
}

uint64_t flowtab_tag(const struct flowtab *ft, uint32_t slot)
{
    return slot < ft->max_flows && ft->state[slot] != SLOT_FREE ? ft->tag[slot] : 0;
}

uint32_t flowtab_busy_count(const struct flowtab *ft)
{
    return ft->busy;
}

uint32_t flowtab_max_flows(const struct flowtab *ft)
{
    return ft->max_flows;
}
