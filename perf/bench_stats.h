/* Latency samples, percentiles and the result lines shared by the benchmark programs
 * (dd-bench, raw-tcp, raw-memif). Slow path: allocation and stdio are fine here; nothing in
 * this file runs between a timestamp and the message it times, except bstat_add.
 *
 * Samples are kept raw (nanoseconds, one uint64_t each) up to a capacity fixed at init; a
 * run that produces more keeps counting the number and the maximum but stores no more, and
 * says so in its result line (`dropped=`). Percentiles use the nearest-rank method on the
 * sorted samples: pX is the smallest sample with at least X% of the samples at or below it.
 *
 * Result lines (stdout, one per measurement, parsed by perf/run):
 *   result kind=rtt size=B n=N p50_ns=.. p90_ns=.. p99_ns=.. p999_ns=.. max_ns=.. mean_ns=..
 *   result kind=stream size=B msgs=N bytes=N ns=N
 *   result kind=<other> key=value ...
 * Everything else a program prints is commentary for humans (prefixed "# ").
 */
#ifndef DPDIST_PERF_BENCH_STATS_H
#define DPDIST_PERF_BENCH_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* A stream keeps sending after its measured window until at least this many messages went
 * out after the mark, so that a sender starved by the machine still measures something. */
#define BSTAT_STREAM_MIN_MSGS 10
/* Likewise, a latency test under load goes on after its window until it has this many
 * samples (or BSTAT_OVERTIME_NS more has passed). */
#define BSTAT_MIN_SAMPLES 5
#define BSTAT_OVERTIME_NS (30 * 1000000000ull)

/* Whether a timed measuring loop that started measuring at mark goes on at now. */
#define BSTAT_GO_ON(now, end, samples)                                                             \
    ((now) < (end) || ((samples) < BSTAT_MIN_SAMPLES && (now) < (end) + BSTAT_OVERTIME_NS))

struct bstat_samples {
    uint64_t *v;
    size_t n; /* stored */
    size_t cap;
    size_t dropped; /* seen beyond cap (counted in max, not stored) */
    uint64_t max_dropped;
};

struct bstat_summary {
    size_t n; /* samples seen, stored or not */
    uint64_t min, p50, p90, p99, p999, max;
    double mean;
};

/* 0, or -1 when cap samples cannot be allocated. */
int bstat_init(struct bstat_samples *s, size_t cap);
void bstat_free(struct bstat_samples *s);
void bstat_reset(struct bstat_samples *s);

static inline void bstat_add(struct bstat_samples *s, uint64_t ns)
{
    if (s->n < s->cap) {
        s->v[s->n++] = ns;
        return;
    }
    s->dropped++;
    if (ns > s->max_dropped)
        s->max_dropped = ns;
}

/* Sorts the samples in place and fills out (all zero when there are none). */
void bstat_summarize(struct bstat_samples *s, struct bstat_summary *out);

/* Prints "result kind=KIND size=SIZE n=.. p50_ns=.. ... [extra]\n" and flushes. */
void bstat_print_latency(const char *kind, size_t size, const struct bstat_summary *sum,
                         const char *extra);

/* Prints "result kind=stream size=.. msgs=.. bytes=.. ns=.. [extra]\n" and flushes. */
void bstat_print_stream(size_t size, uint64_t msgs, uint64_t bytes, uint64_t ns, const char *extra);

/* Writes the (sorted) samples as microseconds, one per line, thinned evenly to at most
 * max_lines lines (the first and last sample always kept). 0 or -1 with errno. */
int bstat_write_samples(const char *path, const struct bstat_samples *s, size_t max_lines);

/* The end of a round-trip measurement at one size: summarizes s, prints its "rtt" result
 * line, and writes the samples to samples_path (thinned to 20,000 lines) unless it is NULL. */
void bstat_report_rtt(struct bstat_samples *s, size_t size, const char *samples_path);

/* Parses "64,1K,64K,1M,64M" (K/M/G binary suffixes) into sizes[]; returns the count, or -1
 * on a malformed list or more than max entries. */
int bstat_parse_sizes(const char *list, size_t *sizes, int max);
/* One size with an optional K/M/G suffix; false if malformed. */
bool bstat_parse_size(const char *s, size_t *out);
/* A decimal unsigned integer, the whole string; false if NULL, empty, malformed or out of
 * range. */
bool bstat_parse_ulong(const char *s, unsigned long *out);

/* CLOCK_MONOTONIC and CLOCK_REALTIME in nanoseconds. */
uint64_t bstat_now_ns(void);
uint64_t bstat_realtime_ns(void);

/* Sleeps for ns nanoseconds (restarting after signals). */
void bstat_sleep_ns(uint64_t ns);

#endif
