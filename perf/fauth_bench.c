/* fauth-bench: the CPU cost of data-plane frame authentication (dataplane/fauth.h) per frame,
 * by backend, mode, operation and payload size. A benchmark, not a test: it prints figures and
 * compares them with nothing (perf/README.md; the figures of record are in docs/security.md).
 *
 *   fauth-bench [--tiny] [--sizes 64,1024,1408,8960] [--reps N] [--burst N]
 *
 * A frame is a 48-byte header + payload (the tag goes to a separate 16-byte trailer), sealed
 * and opened in place in a burst of `burst` distinct buffers; one repetition times one pass
 * over the burst (prepared untimed before: fresh plaintext for seal, sealed frames for open,
 * since gcm's open decrypts in place). Reported per frame: the minimum over the repetitions
 * (the CPU cost; what a shared machine disturbs least) and the median. Reference rows: a
 * memcpy of header + payload (what building a frame costs today) and the replay window's
 * check + mark. Every open must verify, else the program fails (exit 1).
 *
 * Output: "result kind=fauth backend=B mode=M op=seal|open size=P ns_min=.. ns_p50=..", and a
 * table on lines starting with "# ".
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/fauth.h"
#include "perf/bench_stats.h"

#define HDR_BYTES 48
#define MAX_SIZES 16
#define MAX_ROWS  32
#define FIRST_PN  1000

struct opts {
    size_t sizes[MAX_SIZES];
    int n_sizes;
    unsigned long reps, burst;
};

struct row {
    char label[64];
    double ns_min[MAX_SIZES], ns_p50[MAX_SIZES];
};

static struct row rows[MAX_ROWS];
static int n_rows;

static uint8_t *frames; /* burst x (HDR_BYTES + max payload), 64-aligned */
static uint8_t (*tags)[FAUTH_TAG_LEN];
static uint8_t *copy_dst;
static size_t frame_stride;

static uint64_t pattern_seed = 0x16;
static void fill_pattern(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        pattern_seed = pattern_seed * 6364136223846793005ull + 1442695040888963407ull;
        p[i] = (uint8_t)(pattern_seed >> 56);
    }
}

static struct row *new_row(const char *label)
{
    if (n_rows == MAX_ROWS) {
        fprintf(stderr, "fauth-bench: too many rows\n");
        exit(2);
    }
    struct row *r = &rows[n_rows++];
    snprintf(r->label, sizeof(r->label), "%s", label);
    return r;
}

/* Per-frame min and median over the repetitions' totals, into the row and a result line. */
static void report(struct row *r, int si, struct bstat_samples *totals, const char *backend,
                   const char *mode, const char *op, size_t size, unsigned long burst)
{
    struct bstat_summary sum;
    bstat_summarize(totals, &sum);
    r->ns_min[si] = (double)sum.min / (double)burst;
    r->ns_p50[si] = (double)sum.p50 / (double)burst;
    printf("result kind=fauth backend=\"%s\" mode=%s op=%s size=%zu n=%zu ns_min=%.1f "
           "ns_p50=%.1f\n",
           backend, mode, op, size, sum.n, r->ns_min[si], r->ns_p50[si]);
    bstat_reset(totals);
}

static void prepare_plain(size_t len, unsigned long burst)
{
    for (unsigned long i = 0; i < burst; i++)
        fill_pattern(frames + i * frame_stride, len);
}

static int bench_crypto(const struct opts *o, enum fauth_backend b, enum fauth_mode mode,
                        struct bstat_samples *totals)
{
    static const uint8_t key[FAUTH_KEY_LEN] = {1, 2, 3}, iv[FAUTH_IV_LEN] = {4, 5, 6};
    struct fauth_key *k = aligned_alloc(64, sizeof(*k));
    if (k == NULL)
        return -1;
    memset(k, 0, sizeof(*k));
    if (fauth_key_init_backend(k, b, mode, key, iv) != FAUTH_OK) {
        fprintf(stderr, "fauth-bench: key init failed for %s\n", fauth_backend_name(b));
        free(k);
        return -1;
    }
    const char *bname = fauth_backend_name(b), *mname = fauth_mode_name(mode);
    char label[64];
    snprintf(label, sizeof(label), "%.30s %s seal", bname, mname);
    struct row *seal_row = new_row(label);
    snprintf(label, sizeof(label), "%.30s %s open", bname, mname);
    struct row *open_row = new_row(label);
    int failures = 0;
    for (int si = 0; si < o->n_sizes; si++) {
        size_t len = HDR_BYTES + o->sizes[si];
        for (unsigned long rep = 0; rep < o->reps; rep++) {
            prepare_plain(len, o->burst);
            uint64_t t0 = bstat_now_ns();
            for (unsigned long i = 0; i < o->burst; i++)
                fauth_seal(k, FIRST_PN + i, frames + i * frame_stride, HDR_BYTES, len, NULL,
                           tags[i]);
            bstat_add(totals, bstat_now_ns() - t0);
        }
        report(seal_row, si, totals, bname, mname, "seal", o->sizes[si], o->burst);
        for (unsigned long rep = 0; rep < o->reps; rep++) {
            prepare_plain(len, o->burst);
            for (unsigned long i = 0; i < o->burst; i++)
                fauth_seal(k, FIRST_PN + i, frames + i * frame_stride, HDR_BYTES, len, NULL,
                           tags[i]);
            unsigned long bad = 0;
            uint64_t t0 = bstat_now_ns();
            for (unsigned long i = 0; i < o->burst; i++)
                bad += fauth_open(k, FIRST_PN + i, frames + i * frame_stride, HDR_BYTES, len,
                                  tags[i]) != FAUTH_OK;
            bstat_add(totals, bstat_now_ns() - t0);
            failures += bad != 0;
        }
        report(open_row, si, totals, bname, mname, "open", o->sizes[si], o->burst);
    }
    fauth_key_wipe(k);
    free(k);
    if (failures) {
        fprintf(stderr, "fauth-bench: %s %s: %d repetitions had frames that did not verify\n",
                bname, mname, failures);
        return -1;
    }
    return 0;
}

static void bench_memcpy(const struct opts *o, struct bstat_samples *totals)
{
    struct row *r = new_row("memcpy header+payload (reference)");
    for (int si = 0; si < o->n_sizes; si++) {
        size_t len = HDR_BYTES + o->sizes[si];
        for (unsigned long rep = 0; rep < o->reps; rep++) {
            prepare_plain(len, o->burst);
            uint64_t t0 = bstat_now_ns();
            for (unsigned long i = 0; i < o->burst; i++) {
                memcpy(copy_dst, frames + i * frame_stride, len);
                __asm__ volatile("" : : "r"(copy_dst) : "memory");
            }
            bstat_add(totals, bstat_now_ns() - t0);
        }
        report(r, si, totals, "-", "-", "memcpy", o->sizes[si], o->burst);
    }
}

static void bench_replay(const struct opts *o, struct bstat_samples *totals)
{
    struct fauth_replay w;
    fauth_replay_init(&w);
    uint64_t pn = 1;
    unsigned long dropped = 0;
    for (unsigned long rep = 0; rep < o->reps; rep++) {
        uint64_t t0 = bstat_now_ns();
        for (unsigned long i = 0; i < o->burst; i++, pn++)
            if (fauth_replay_check(&w, pn) != FAUTH_OK || fauth_replay_mark(&w, pn) != FAUTH_OK)
                dropped++;
        bstat_add(totals, bstat_now_ns() - t0);
    }
    struct bstat_summary sum;
    bstat_summarize(totals, &sum);
    printf("result kind=fauth_replay n=%zu ns_min=%.2f ns_p50=%.2f dropped=%lu\n", sum.n,
           (double)sum.min / (double)o->burst, (double)sum.p50 / (double)o->burst, dropped);
    printf("# replay window check + mark, in order: %.2f ns (min), %.2f ns (median)\n",
           (double)sum.min / (double)o->burst, (double)sum.p50 / (double)o->burst);
    bstat_reset(totals);
}

static void print_table(const struct opts *o)
{
    printf("# ns per frame, min / median over %lu repetitions of a burst of %lu frames "
           "(payload bytes; + %d-byte header)\n",
           o->reps, o->burst, HDR_BYTES);
    printf("# %-40s", "");
    for (int si = 0; si < o->n_sizes; si++)
        printf(" %15zu", o->sizes[si]);
    printf("\n");
    for (int r = 0; r < n_rows; r++) {
        printf("# %-40s", rows[r].label);
        for (int si = 0; si < o->n_sizes; si++) {
            char cell[32];
            snprintf(cell, sizeof(cell), "%.1f / %.1f", rows[r].ns_min[si], rows[r].ns_p50[si]);
            printf(" %15s", cell);
        }
        printf("\n");
    }
}

static void usage(FILE *f)
{
    fprintf(f, "usage: fauth-bench [--tiny] [--sizes LIST] [--reps N] [--burst N]\n"
               "  --tiny      3 repetitions of 8 frames: checks that it runs, figures mean "
               "nothing\n"
               "  --sizes     payload sizes (default 64,1024,1408,8960)\n"
               "  --reps      repetitions per case (default 300)\n"
               "  --burst     frames per repetition (default 256)\n");
}

int main(int argc, char **argv)
{
    struct opts o = {.reps = 300, .burst = 256};
    o.n_sizes = bstat_parse_sizes("64,1024,1408,8960", o.sizes, MAX_SIZES);
    static const struct option long_opts[] = {
        {"tiny", no_argument, NULL, 't'},       {"sizes", required_argument, NULL, 's'},
        {"reps", required_argument, NULL, 'r'}, {"burst", required_argument, NULL, 'b'},
        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
        switch (c) {
        case 't':
            o.reps = 3;
            o.burst = 8;
            break;
        case 's':
            o.n_sizes = bstat_parse_sizes(optarg, o.sizes, MAX_SIZES);
            break;
        case 'r':
            if (!bstat_parse_ulong(optarg, &o.reps) || o.reps == 0)
                o.n_sizes = -1;
            break;
        case 'b':
            if (!bstat_parse_ulong(optarg, &o.burst) || o.burst == 0 || o.burst > 65536)
                o.n_sizes = -1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    size_t max_payload = 0;
    for (int si = 0; si < o.n_sizes; si++) {
        if (o.sizes[si] > FAUTH_LEN_MAX - HDR_BYTES)
            o.n_sizes = -1;
        else if (o.sizes[si] > max_payload)
            max_payload = o.sizes[si];
    }
    if (optind != argc || o.n_sizes <= 0) {
        usage(stderr);
        return 2;
    }
    frame_stride = (HDR_BYTES + max_payload + 63) / 64 * 64;
    frames = aligned_alloc(64, frame_stride * o.burst);
    tags = malloc(o.burst * sizeof(*tags));
    copy_dst = aligned_alloc(64, frame_stride);
    struct bstat_samples totals;
    if (frames == NULL || tags == NULL || copy_dst == NULL || bstat_init(&totals, o.reps) != 0) {
        fprintf(stderr, "fauth-bench: out of memory\n");
        return 1;
    }
    printf("# fauth-bench: default backend %s\n", fauth_backend_name(FAUTH_BACKEND_DEFAULT));
    int rc = 0;
    bench_memcpy(&o, &totals);
    for (enum fauth_backend b = FAUTH_BACKEND_IMB; b <= FAUTH_BACKEND_OSSL; b++) {
        if (!fauth_backend_available(b)) {
            printf("# backend %d not built in: skipped\n", (int)b);
            continue;
        }
        for (enum fauth_mode m = FAUTH_GMAC; m <= FAUTH_GCM; m++)
            if (bench_crypto(&o, b, m, &totals) != 0)
                rc = 1;
    }
    bench_replay(&o, &totals);
    print_table(&o);
    bstat_free(&totals);
    free(frames);
    free(tags);
    free(copy_dst);
    return rc;
}
