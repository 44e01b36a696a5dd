/* When dpdist-epmd closes a silent request connection (-packet_timeout): the rule of the
 * reference daemon (erts/epmd/src/epmd_srv.c), as a pure function of the times passed in.
 *
 * The reference rule: time is counted in whole seconds of the wall clock (time()); a
 * connection is stamped when it is accepted and after every read that returned bytes; it is
 * closed once `stamp + timeout < now`. A connection is therefore closed after between
 * timeout and timeout + 1 seconds of silence, at the wall clock's second tick
 * stamp + timeout + 1: a client that writes one byte a second with -packet_timeout 1 is
 * kept, because no gap of one second spans two ticks.
 *
 * What we add: bounds on the monotonic clock, so that a step of the wall clock (date -s,
 * an NTP step) can neither close a connection before it has been silent for more than
 * timeout seconds nor keep it after timeout + 1 seconds. Without a step they never decide:
 * the wall-clock rule alone already closes inside that window.
 *
 * Invariant used by the server's LRU scan: for connections stamped in time order, if the
 * oldest is not expired then none is (without a wall-clock step); after a step the scan
 * still closes every connection within the window, because a younger connection is never
 * more than timeout + 1 s silent while the oldest is kept.
 *
 * Pure and thread-compatible: no clock is read here, no state is kept.
 */
#ifndef DPDIST_CONTROL_EPMD_IDLE_H
#define DPDIST_CONTROL_EPMD_IDLE_H

#include <stdbool.h>
#include <stdint.h>

/* The two clocks read once by the caller: CLOCK_MONOTONIC in ms, CLOCK_REALTIME in ns. */
struct epmd_idle_now {
    uint64_t mono_ms;
    uint64_t wall_ns;
};

/* A connection's last activity. */
struct epmd_idle_stamp {
    uint64_t mono_ms;
    int64_t wall_s; /* whole seconds, as the reference's time() */
};

void epmd_idle_touch(struct epmd_idle_stamp *s, const struct epmd_idle_now *now);

/* True if a request connection last active at *last must be closed at *now. */
bool epmd_idle_expired(const struct epmd_idle_stamp *last, const struct epmd_idle_now *now,
                       unsigned timeout_s);

/* Milliseconds from *now until epmd_idle_expired() becomes true: 0 if it is already,
 * otherwise at least 1 and rounded up, so a wait of that length never wakes too early. */
uint64_t epmd_idle_due_ms(const struct epmd_idle_stamp *last, const struct epmd_idle_now *now,
                          unsigned timeout_s);

#endif
