/* Latency samples, percentiles and result lines: see bench_stats.h. */
#include "perf/bench_stats.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"

int bstat_init(struct bstat_samples *s, size_t cap)
{
    memset(s, 0, sizeof(*s));
    s->v = malloc((cap ? cap : 1) * sizeof(*s->v));
    if (!s->v)
        return -1;
    s->cap = cap;
    return 0;
}

void bstat_free(struct bstat_samples *s)
{
    free(s->v);
    memset(s, 0, sizeof(*s));
}

void bstat_reset(struct bstat_samples *s)
{
    s->n = 0;
    s->dropped = 0;
    s->max_dropped = 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest rank: the smallest sample with at least per_mille/1000 of them at or below it. */
static uint64_t rank(const struct bstat_samples *s, unsigned per_tenthousand)
{
    size_t k = (s->n * per_tenthousand + 9999) / 10000;
    if (k == 0)
        k = 1;
    return s->v[k - 1];
}

void bstat_summarize(struct bstat_samples *s, struct bstat_summary *out)
{
    memset(out, 0, sizeof(*out));
    out->n = s->n + s->dropped;
    if (s->n == 0)
        return;
    qsort(s->v, s->n, sizeof(*s->v), cmp_u64);
    double sum = 0;
    for (size_t i = 0; i < s->n; i++)
        sum += (double)s->v[i];
    out->mean = sum / (double)s->n;
    out->min = s->v[0];
    out->p50 = rank(s, 5000);
    out->p90 = rank(s, 9000);
    out->p99 = rank(s, 9900);
    out->p999 = rank(s, 9990);
    out->max = s->v[s->n - 1] > s->max_dropped ? s->v[s->n - 1] : s->max_dropped;
}

void bstat_print_latency(const char *kind, size_t size, const struct bstat_summary *sum,
                         const char *extra)
{
    printf("result kind=%s size=%zu n=%zu min_ns=%llu p50_ns=%llu p90_ns=%llu p99_ns=%llu "
           "p999_ns=%llu max_ns=%llu mean_ns=%.0f%s%s\n",
           kind, size, sum->n, (unsigned long long)sum->min, (unsigned long long)sum->p50,
           (unsigned long long)sum->p90, (unsigned long long)sum->p99,
           (unsigned long long)sum->p999, (unsigned long long)sum->max, sum->mean, extra ? " " : "",
           extra ? extra : "");
    fflush(stdout);
}

void bstat_print_stream(size_t size, uint64_t msgs, uint64_t bytes, uint64_t ns, const char *extra)
{
    printf("result kind=stream size=%zu msgs=%llu bytes=%llu ns=%llu%s%s\n", size,
           (unsigned long long)msgs, (unsigned long long)bytes, (unsigned long long)ns,
           extra ? " " : "", extra ? extra : "");
    fflush(stdout);
}

int bstat_write_samples(const char *path, const struct bstat_samples *s, size_t max_lines)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    if (max_lines < 2)
        max_lines = 2;
    size_t lines = s->n < max_lines ? s->n : max_lines;
    for (size_t i = 0; i < lines; i++) {
        size_t k = lines > 1 ? i * (s->n - 1) / (lines - 1) : 0;
        fprintf(f, "%.3f\n", (double)s->v[k] / 1000.0);
    }
    int err = ferror(f);
    if (fclose(f) != 0 || err) {
        errno = errno ? errno : EIO;
        return -1;
    }
    return 0;
}

bool bstat_parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return false;
    unsigned shift = 0;
    switch (*end) {
    case 'K':
    case 'k':
        shift = 10, end++;
        break;
    case 'M':
    case 'm':
        shift = 20, end++;
        break;
    case 'G':
    case 'g':
        shift = 30, end++;
        break;
    default:
        break;
    }
    if (*end != '\0' || v > (1ull << 40) >> shift)
        return false;
    *out = (size_t)(v << shift);
    return true;
}

int bstat_parse_sizes(const char *list, size_t *sizes, int max)
{
    char buf[512];
    if (!list || strlen(list) >= sizeof(buf))
        return -1;
    strcpy(buf, list);
    int n = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (n == max || !bstat_parse_size(t, &sizes[n]))
            return -1;
        n++;
    }
    return n > 0 ? n : -1;
}

bool bstat_parse_ulong(const char *s, unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long x = s ? strtoul(s, &end, 10) : 0;
    if (!s || errno || *end || end == s)
        return false;
    *out = x;
    return true;
}

uint64_t bstat_now_ns(void)
{
    return clock_now_ns();
}

uint64_t bstat_realtime_ns(void)
{
    return clock_realtime_ns();
}

void bstat_sleep_ns(uint64_t ns)
{
    struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000u),
                          .tv_nsec = (long)(ns % 1000000000u)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

void bstat_report_rtt(struct bstat_samples *s, size_t size, const char *samples_path)
{
    struct bstat_summary sum;
    bstat_summarize(s, &sum);
    bstat_print_latency("rtt", size, &sum, NULL);
    if (samples_path)
        bstat_write_samples(samples_path, s, 20000);
}
