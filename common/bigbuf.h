/* bigbuf: message buffers whose allocation and release never stall a polling thread.
 *
 * A 64 MiB message costs milliseconds to map (page faults as it fills) and to unmap (munmap)
 * — long enough to delay heartbeats when it happens on the data plane's poller. Buffers of
 * BIGBUF_MIN bytes or more therefore come from a small cache of buffers already faulted in,
 * go back to it when freed, and are unmapped by a background reaper thread when the cache is
 * full or a buffer has not been reused for a while. Smaller buffers are plain malloc.
 *
 * Bounds: the cache holds at most BIGBUF_CACHE_MAX buffers and BIGBUF_CACHE_MAX_BYTES; a
 * cached buffer unused for BIGBUF_IDLE_MS is released.
 * Threads: any. bigbuf_alloc(.., false) and bigbuf_free never block (they only try the
 * cache lock; on contention they allocate fresh or hand the buffer to the reaper).
 */
#ifndef DPDIST_COMMON_BIGBUF_H
#define DPDIST_COMMON_BIGBUF_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BIGBUF_MIN             (256u * 1024)
#define BIGBUF_CACHE_MAX       8
#define BIGBUF_CACHE_MAX_BYTES ((size_t)512 << 20)
#define BIGBUF_IDLE_MS         2000

/* A buffer of at least len bytes, or NULL. may_block: the caller may wait for the cache
 * lock (application threads); pollers pass false. */
void *bigbuf_alloc(size_t len, bool may_block);
/* Releases a buffer from bigbuf_alloc (NULL is a no-op). Never blocks. */
void bigbuf_free(void *p);

struct bigbuf_stats {
    unsigned long allocs, cache_hits, fresh, cached_now, reaped;
    size_t cached_bytes;
};
void bigbuf_get_stats(struct bigbuf_stats *out);

#ifdef __cplusplus
}
#endif

#endif
