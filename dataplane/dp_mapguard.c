/* dp_mapguard: see dp_mapguard.h for why.
 *
 * Algorithm: every engine owns a slot whose `in_burst` flag its poller raises around each port
 * burst (dp_mapguard_enter/leave). This file defines munmap(2) for the process: the executable
 * that links the data plane exports the symbol (libraries linked with it reference munmap, so
 * the linker puts it in the dynamic symbol table), and the dynamic linker binds every
 * library's munmap to it, drivers loaded with dlopen included. Called on EAL's interrupt
 * thread (rte_thread_is_intr), it first waits until no slot is in a burst, then unmaps through
 * the next definition (libc's, or a sanitizer's interceptor). Other threads go straight
 * through. The drivers' interrupt-thread teardowns are the unmaps that can race with a burst:
 * memif_disconnect clears its "connected" flag, closes the queue eventfds, then unmaps region
 * after region and frees their descriptors; the first unmap waits, so no descriptor is freed
 * while a burst can still read it.
 *
 * Invariants:
 *  - A burst that passed the driver's "connected" check holds its slot's flag until it returns;
 *    an unmap on the interrupt thread does not start before every flag was seen at 0 after a
 *    process-wide memory barrier (membarrier(2) PRIVATE_EXPEDITED; without it the pollers fence
 *    themselves, dp_mapguard_poller_fence). A burst that starts after the barrier sees the
 *    driver's disconnected state and returns without touching the regions.
 *  - Nothing here allocates, locks or logs: it runs inside munmap, possibly under malloc.
 *
 * Bounds: the wait lasts as long as a burst (microseconds, or a scheduler slice when the
 * poller was preempted inside it), at most DP_MAPGUARD_WAIT_MAX_NS: a poller stuck longer is
 * broken anyway, and the interrupt thread must go on (counted: dp_mapguard_timeouts).
 *
 * Threads: slots are taken and freed by the control thread; munmap runs on any thread.
 */
#include <dlfcn.h>
#include <errno.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <rte_interrupts.h>
#include <rte_pause.h>

#include "dataplane/dp_mapguard.h"

#define DP_MAPGUARD_WAIT_MAX_NS (10ull * 1000000000ull)
#define DP_MAPGUARD_SPINS       1000  /* rte_pause() rounds before sleeping between looks */
#define DP_MAPGUARD_NAP_NS      20000 /* sleep between looks after that */

struct dp_mapguard_slot dp_mapguard_slots[DP_MAPGUARD_SLOTS];
_Atomic bool dp_mapguard_poller_fence;

static _Atomic unsigned g_slots_used;
static _Atomic bool g_membarrier_tried;
static _Atomic uint64_t g_waits, g_max_wait_ns, g_timeouts;

static uint64_t mapguard_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static long membarrier(int cmd)
{
    return syscall(SYS_membarrier, cmd, 0, 0);
}

int dp_mapguard_slot_get(void)
{
    if (!atomic_exchange(&g_membarrier_tried, true) &&
        membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) != 0 &&
        membarrier(MEMBARRIER_CMD_QUERY) < 0)
        atomic_store(&dp_mapguard_poller_fence, true); /* no membarrier at all */
    for (int i = 0; i < DP_MAPGUARD_SLOTS; i++) {
        bool expected = false;
        if (atomic_compare_exchange_strong(&dp_mapguard_slots[i].used, &expected, true)) {
            atomic_store(&dp_mapguard_slots[i].in_burst, 0);
            atomic_fetch_add(&g_slots_used, 1);
            return i;
        }
    }
    return -1;
}

void dp_mapguard_slot_put(int slot)
{
    if (slot < 0 || slot >= DP_MAPGUARD_SLOTS)
        return;
    atomic_store(&dp_mapguard_slots[slot].in_burst, 0);
    atomic_store(&dp_mapguard_slots[slot].used, false);
    atomic_fetch_sub(&g_slots_used, 1);
}

uint64_t dp_mapguard_waits(void)
{
    return atomic_load(&g_waits);
}

uint64_t dp_mapguard_max_wait_ns(void)
{
    return atomic_load(&g_max_wait_ns);
}

uint64_t dp_mapguard_timeouts(void)
{
    return atomic_load(&g_timeouts);
}

/* A full barrier on every thread of the process (or a fence here when the pollers fence
 * themselves): after it, a poller's raised flag is visible, or its next loads see ours. */
static void barrier_all_threads(void)
{
    if (atomic_load_explicit(&dp_mapguard_poller_fence, memory_order_relaxed) ||
        (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0 &&
         membarrier(MEMBARRIER_CMD_GLOBAL) != 0))
        atomic_thread_fence(memory_order_seq_cst);
}

/* Waits until no engine's poller is inside a burst (bounded). */
static void wait_for_pollers(void)
{
    if (atomic_load(&g_slots_used) == 0)
        return;
    barrier_all_threads();
    uint64_t t0 = 0;
    for (int i = 0; i < DP_MAPGUARD_SLOTS; i++) {
        unsigned spins = 0;
        while (atomic_load_explicit(&dp_mapguard_slots[i].in_burst, memory_order_acquire)) {
            if (t0 == 0)
                t0 = mapguard_now_ns();
            if (spins++ < DP_MAPGUARD_SPINS) {
                rte_pause();
                continue;
            }
            if (mapguard_now_ns() - t0 > DP_MAPGUARD_WAIT_MAX_NS) {
                atomic_fetch_add(&g_timeouts, 1);
                break;
            }
            struct timespec nap = {0, DP_MAPGUARD_NAP_NS};
            nanosleep(&nap, NULL);
        }
    }
    if (t0 == 0)
        return;
    uint64_t waited = mapguard_now_ns() - t0, max = atomic_load(&g_max_wait_ns);
    atomic_fetch_add(&g_waits, 1);
    while (waited > max && !atomic_compare_exchange_weak(&g_max_wait_ns, &max, waited))
        ;
}

typedef int (*munmap_fn)(void *, size_t);
static _Atomic(munmap_fn) g_next_munmap;

static int next_munmap(void *addr, size_t len)
{
    munmap_fn next = atomic_load_explicit(&g_next_munmap, memory_order_relaxed);
    if (!next) {
        next = (munmap_fn)dlsym(RTLD_NEXT, "munmap");
        if (next)
            atomic_store_explicit(&g_next_munmap, next, memory_order_relaxed);
    }
    if (next)
        return next(addr, len);
    long rc = syscall(SYS_munmap, addr, len);
    return rc == 0 ? 0 : -1; /* syscall() set errno */
}

/* The process's munmap (see the top of this file). Default visibility: the project compiles
 * with -fvisibility=hidden, and a hidden definition would neither be exported by an executable
 * nor by libdpdist.so (whose version script leaves it unversioned, so that the references of
 * other libraries, bound to munmap@GLIBC_2.2.5, accept it: see runtime/api/libdpdist.map). */
__attribute__((visibility("default"))) int munmap(void *addr, size_t len)
{
    if (rte_thread_is_intr())
        wait_for_pollers();
    return next_munmap(addr, len);
}
