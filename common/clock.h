/* Monotonic time in nanoseconds and milliseconds (CLOCK_MONOTONIC), and wall-clock time
 * (CLOCK_REALTIME, comparable across processes and with `date +%s%N`). Slow-path clocks;
 * the data plane uses the TSC. */
#ifndef DPDIST_COMMON_CLOCK_H
#define DPDIST_COMMON_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t clock_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t clock_realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t clock_now_ms(void)
{
    return clock_now_ns() / 1000000u;
}

#endif
