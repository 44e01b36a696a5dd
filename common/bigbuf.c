/* bigbuf: see bigbuf.h.
 *
 * Every buffer has a header (its capacity, 0 for a small malloc'd one) 64 bytes before the
 * pointer handed out. Large buffers are anonymous mappings. The cache is a list under a
 * mutex that pollers only ever try-lock. Buffers to unmap go on a lock-free stack (producers
 * push with compare-and-swap; the single reaper takes the whole stack with one exchange, so
 * there is no ABA problem); the reaper runs every BIGBUF_REAP_MS and also trims idle cache
 * entries.
 */
#include "common/bigbuf.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define BIGBUF_HDR     64
#define BIGBUF_REAP_MS 20

struct bb_hdr {
    size_t cap; /* usable bytes; 0: small, malloc'd */
    struct bb_hdr *next;
    uint64_t idle_since_ms;
};

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static struct bb_hdr *g_cache; /* under g_lock */
static unsigned g_cached;
static size_t g_cached_bytes;
static struct bb_hdr *_Atomic g_doomed; /* to unmap, by the reaper */
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static _Atomic unsigned long g_allocs, g_hits, g_fresh, g_reaped;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void unmap(struct bb_hdr *h)
{
    munmap(h, BIGBUF_HDR + h->cap);
    atomic_fetch_add(&g_reaped, 1);
}

static void doom(struct bb_hdr *h)
{
    struct bb_hdr *head = atomic_load(&g_doomed);
    do
        h->next = head;
    while (!atomic_compare_exchange_weak(&g_doomed, &head, h));
}

static void *reaper(void *arg)
{
    (void)arg;
    for (;;) {
        struct timespec ts = {0, BIGBUF_REAP_MS * 1000000L};
        nanosleep(&ts, NULL);
        struct bb_hdr *h = atomic_exchange(&g_doomed, NULL);
        while (h) {
            struct bb_hdr *next = h->next;
            unmap(h);
            h = next;
        }
        /* Cached buffers nobody reused for a while go back to the system. */
        uint64_t now = now_ms();
        pthread_mutex_lock(&g_lock);
        struct bb_hdr **pp = &g_cache;
        while (*pp) {
            if (now - (*pp)->idle_since_ms > BIGBUF_IDLE_MS) {
                struct bb_hdr *old = *pp;
                *pp = old->next;
                g_cached--;
                g_cached_bytes -= old->cap;
                doom(old);
            } else {
                pp = &(*pp)->next;
            }
        }
        pthread_mutex_unlock(&g_lock);
    }
    return NULL;
}

static void start_reaper(void)
{
    pthread_t t;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&a, 64 * 1024);
    if (pthread_create(&t, &a, reaper, NULL) == 0)
        pthread_setname_np(t, "dd-reaper");
    pthread_attr_destroy(&a);
}

void *bigbuf_alloc(size_t len, bool may_block)
{
    atomic_fetch_add_explicit(&g_allocs, 1, memory_order_relaxed);
    if (len < BIGBUF_MIN) {
        struct bb_hdr *h = malloc(BIGBUF_HDR + len);
        if (!h)
            return NULL;
        h->cap = 0;
        return (char *)h + BIGBUF_HDR;
    }
    pthread_once(&g_once, start_reaper);
    if (may_block ? pthread_mutex_lock(&g_lock) == 0 : pthread_mutex_trylock(&g_lock) == 0) {
        /* The smallest cached buffer that fits and wastes at most half. */
        struct bb_hdr **best = NULL;
        for (struct bb_hdr **pp = &g_cache; *pp; pp = &(*pp)->next)
            if ((*pp)->cap >= len && (*pp)->cap / 2 <= len &&
                (!best || (*pp)->cap < (*best)->cap))
                best = pp;
        struct bb_hdr *h = NULL;
        if (best) {
            h = *best;
            *best = h->next;
            g_cached--;
            g_cached_bytes -= h->cap;
        }
        pthread_mutex_unlock(&g_lock);
        if (h) {
            atomic_fetch_add_explicit(&g_hits, 1, memory_order_relaxed);
            return (char *)h + BIGBUF_HDR;
        }
    }
    atomic_fetch_add_explicit(&g_fresh, 1, memory_order_relaxed);
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t cap = (BIGBUF_HDR + len + page - 1) / page * page - BIGBUF_HDR;
    void *p = mmap(NULL, BIGBUF_HDR + cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    struct bb_hdr *h = p;
    h->cap = cap;
    return (char *)h + BIGBUF_HDR;
}

void bigbuf_free(void *ptr)
{
    if (!ptr)
        return;
    struct bb_hdr *h = (struct bb_hdr *)((char *)ptr - BIGBUF_HDR);
    if (h->cap == 0) {
        free(h);
        return;
    }
    h->idle_since_ms = now_ms();
    if (pthread_mutex_trylock(&g_lock) == 0) {
        if (g_cached < BIGBUF_CACHE_MAX && g_cached_bytes + h->cap <= BIGBUF_CACHE_MAX_BYTES) {
            h->next = g_cache;
            g_cache = h;
            g_cached++;
            g_cached_bytes += h->cap;
            pthread_mutex_unlock(&g_lock);
            return;
        }
        pthread_mutex_unlock(&g_lock);
    }
    doom(h);
}

void bigbuf_get_stats(struct bigbuf_stats *out)
{
    out->allocs = atomic_load(&g_allocs);
    out->cache_hits = atomic_load(&g_hits);
    out->fresh = atomic_load(&g_fresh);
    out->reaped = atomic_load(&g_reaped);
    pthread_mutex_lock(&g_lock);
    out->cached_now = g_cached;
    out->cached_bytes = g_cached_bytes;
    pthread_mutex_unlock(&g_lock);
}
