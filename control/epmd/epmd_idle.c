/* The idle rule of request connections: see epmd_idle.h. */
#include "control/epmd/epmd_idle.h"

#define MS_PER_S  1000
#define NS_PER_MS 1000000
#define NS_PER_S  1000000000LL

void epmd_idle_touch(struct epmd_idle_stamp *s, const struct epmd_idle_now *now)
{
    s->mono_ms = now->mono_ms;
    s->wall_s = (int64_t)(now->wall_ns / NS_PER_S);
}

bool epmd_idle_expired(const struct epmd_idle_stamp *last, const struct epmd_idle_now *now,
                       unsigned timeout_s)
{
    uint64_t silent_ms = now->mono_ms > last->mono_ms ? now->mono_ms - last->mono_ms : 0;
    uint64_t timeout_ms = (uint64_t)timeout_s * MS_PER_S;
    if (silent_ms <= timeout_ms)
        return false; /* bound: never before more than timeout seconds of silence */
    if (silent_ms >= timeout_ms + MS_PER_S)
        return true; /* bound: never kept after timeout + 1 seconds */
    /* The reference's rule, in whole seconds of the wall clock. */
    return last->wall_s + (int64_t)timeout_s < (int64_t)(now->wall_ns / NS_PER_S);
}

uint64_t epmd_idle_due_ms(const struct epmd_idle_stamp *last, const struct epmd_idle_now *now,
                          unsigned timeout_s)
{
    if (epmd_idle_expired(last, now, timeout_s))
        return 0;
    int64_t timeout_ms = (int64_t)timeout_s * MS_PER_S;
    int64_t since = (int64_t)last->mono_ms - (int64_t)now->mono_ms; /* <= 0 */
    int64_t lower = since + timeout_ms + 1;                         /* first ms past timeout */
    int64_t upper = since + timeout_ms + MS_PER_S;
    int64_t tick_ns = (last->wall_s + (int64_t)timeout_s + 1) * NS_PER_S - (int64_t)now->wall_ns;
    int64_t tick = tick_ns <= 0 ? 0 : (tick_ns + NS_PER_MS - 1) / NS_PER_MS;
    int64_t due = tick > lower ? tick : lower;
    if (due > upper)
        due = upper;
    return due < 1 ? 1 : (uint64_t)due;
}
