/* Handshake guard: see hsguard.h for the policy.
 *
 * Algorithm
 *   A fixed table of HSG_TABLE_SIZE entries, one per address with failures on record, found
 *   by linear scan (accepts are rare next to messages; 256 compares of 16 bytes). A counted
 *   failure creates or updates the entry: failures + 1, hold until now + delay(failures),
 *   delay(k) = base * 2^(k-1) capped at max. hsg_accept on an address with an entry takes the
 *   entry's single token (refusing when it is taken) and holds the attempt until the entry's
 *   time. The caller returns the token when that attempt ends, whatever the outcome.
 *   Logging: in each log interval of an address (log_interval_ms from its first failure after
 *   the previous one ended) its first HSG_LOG_PER_ADDR failures are logged, as the node-wide
 *   line budget allows; later failures and refusals are counted and reported by one summary
 *   line when the interval ends (hsg_summaries), which starts the next interval. What gets no
 *   line of its own (budget spent, entry evicted or forgotten) goes into one line for all
 *   other addresses, at most once per interval.
 *
 * Invariants
 *   - an entry with token != 0 is never forgotten; hsg_done clears a token only if it matches,
 *     so a token from an evicted or recreated entry cannot free another attempt's token;
 *   - until_ms == last_failure_ms + delay(failures) for every used entry.
 *
 * Bounds
 *   HSG_TABLE_SIZE entries (a full table evicts the entry with the oldest failure, preferring
 *   one without an attempt in progress); log lines per interval: per address at most
 *   HSG_LOG_PER_ADDR failures and one summary, node-wide HSG_LOG_LINES_MAX for failures and
 *   summaries together, plus one line for all other addresses. Held
 *   sockets: at most one per entry.
 */
#include "runtime/carrier_tcp/hsguard.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#define HSG_SHIFT_MAX 31

static const uint8_t v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

void hsg_init(struct hsg *g, const struct hsg_params *p)
{
    memset(g, 0, sizeof(*g));
    if (p)
        g->p = *p;
    if (!g->p.base_delay_ms)
        g->p.base_delay_ms = HSG_DEFAULT_BASE_DELAY_MS;
    if (!g->p.max_delay_ms)
        g->p.max_delay_ms = HSG_DEFAULT_MAX_DELAY_MS;
    if (g->p.max_delay_ms < g->p.base_delay_ms)
        g->p.max_delay_ms = g->p.base_delay_ms;
    if (!g->p.forget_ms)
        g->p.forget_ms = HSG_DEFAULT_FORGET_MS;
    if (!g->p.log_interval_ms)
        g->p.log_interval_ms = HSG_DEFAULT_LOG_INTERVAL_MS;
}

bool hsg_addr_from_sockaddr(struct hsg_addr *out, const struct sockaddr *sa, socklen_t len)
{
    memset(out, 0, sizeof(*out));
    if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        memcpy(out->b, v4_mapped_prefix, sizeof(v4_mapped_prefix));
        memcpy(out->b + 12, &in->sin_addr, 4);
        return true;
    }
    if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        if (memcmp(in6->sin6_addr.s6_addr, v4_mapped_prefix, sizeof(v4_mapped_prefix)) == 0)
            memcpy(out->b, in6->sin6_addr.s6_addr, 16); /* IPv4 over a dual-stack socket */
        else
            memcpy(out->b, in6->sin6_addr.s6_addr, 8); /* the /64: one host or one site */
        return true;
    }
    return false;
}

const char *hsg_addr_str(const struct hsg_addr *a, char *buf, size_t cap)
{
    char text[INET6_ADDRSTRLEN];
    if (memcmp(a->b, v4_mapped_prefix, sizeof(v4_mapped_prefix)) == 0) {
        inet_ntop(AF_INET, a->b + 12, text, sizeof(text));
        snprintf(buf, cap, "%s", text);
    } else {
        inet_ntop(AF_INET6, a->b, text, sizeof(text));
        snprintf(buf, cap, "%s/64", text);
    }
    return buf;
}

uint32_t hsg_delay_ms(const struct hsg *g, uint32_t failures)
{
    if (failures == 0)
        return 0;
    uint32_t shift = failures - 1 < HSG_SHIFT_MAX ? failures - 1 : HSG_SHIFT_MAX;
    uint64_t d = (uint64_t)g->p.base_delay_ms << shift;
    return d < g->p.max_delay_ms ? (uint32_t)d : g->p.max_delay_ms;
}

bool hsg_counts(enum hs_error e)
{
    switch (e) {
    case HS_E_TOO_LARGE:
    case HS_E_TRUNCATED:
    case HS_E_LENGTH:
    case HS_E_TAG:
    case HS_E_OLD_VERSION:
    case HS_E_NO_HANDSHAKE_23:
    case HS_E_FLAGS_MISSING:
    case HS_E_NAME_ME:
    case HS_E_PEER_NAME:
    case HS_E_NAME_KIND:
    case HS_E_STATUS_NOT_ALLOWED:
    case HS_E_STATUS_UNKNOWN:
    case HS_E_DIGEST:
        return true;
    default: /* simultaneous-connect outcomes, our own failures (cookie, random, output) */
        return false;
    }
}

/* Moves an entry's unreported counts to the "other addresses" line and frees it. */
static void entry_clear(struct hsg *g, struct hsg_entry *e)
{
    g->other_failures += e->unlogged_failures;
    g->other_refused += e->refused;
    memset(e, 0, sizeof(*e));
}

static struct hsg_entry *find(struct hsg *g, const struct hsg_addr *a, uint64_t now_ms)
{
    for (size_t i = 0; i < HSG_TABLE_SIZE; i++) {
        struct hsg_entry *e = &g->e[i];
        if (!e->used || memcmp(&e->addr, a, sizeof(*a)) != 0)
            continue;
        if (!e->token && now_ms >= e->last_failure_ms + g->p.forget_ms) {
            entry_clear(g, e);
            return NULL;
        }
        return e;
    }
    return NULL;
}

static struct hsg_entry *insert(struct hsg *g, const struct hsg_addr *a)
{
    struct hsg_entry *victim = NULL;
    for (size_t i = 0; i < HSG_TABLE_SIZE; i++) {
        struct hsg_entry *e = &g->e[i];
        if (!e->used) {
            victim = e;
            break;
        }
        /* The oldest failure, preferring entries with no attempt in progress. */
        if (!victim || (victim->token && !e->token) ||
            (!victim->token == !e->token && e->last_failure_ms < victim->last_failure_ms))
            victim = e;
    }
    if (victim->used) {
        g->evictions++;
        entry_clear(g, victim);
    }
    victim->used = true;
    victim->addr = *a;
    return victim;
}

/* Starts a new log interval when the current one is over. */
static void log_window(struct hsg *g, uint64_t now_ms)
{
    if (now_ms >= g->window_ms + g->p.log_interval_ms) {
        g->window_ms = now_ms;
        g->lines = 0;
    }
}

enum hsg_verdict hsg_accept(struct hsg *g, const struct hsg_addr *a, uint64_t now_ms,
                            uint32_t *token, uint64_t *until_ms)
{
    *token = 0;
    struct hsg_entry *e = find(g, a, now_ms);
    if (!e)
        return HSG_ADMIT;
    if (e->token) {
        e->refused++;
        g->refusals++;
        return HSG_REFUSE;
    }
    if (++g->next_token == 0)
        g->next_token = 1;
    e->token = *token = g->next_token;
    if (now_ms < e->until_ms) {
        *until_ms = e->until_ms;
        g->held++;
        return HSG_HOLD;
    }
    return HSG_ADMIT;
}

void hsg_done(struct hsg *g, const struct hsg_addr *a, uint32_t token)
{
    if (!token)
        return;
    for (size_t i = 0; i < HSG_TABLE_SIZE; i++) {
        struct hsg_entry *e = &g->e[i];
        if (e->used && e->token == token && memcmp(&e->addr, a, sizeof(*a)) == 0) {
            e->token = 0;
            return;
        }
    }
}

bool hsg_failed(struct hsg *g, const struct hsg_addr *a, uint64_t now_ms)
{
    g->failures++;
    struct hsg_entry *e = find(g, a, now_ms);
    if (!e)
        e = insert(g, a);
    if (e->failures < UINT32_MAX)
        e->failures++;
    e->last_failure_ms = now_ms;
    e->until_ms = now_ms + hsg_delay_ms(g, e->failures);
    log_window(g, now_ms);
    if (now_ms >= e->quiet_until_ms) { /* a new log interval for this address */
        e->quiet_until_ms = now_ms + g->p.log_interval_ms;
        e->logged = 0;
    }
    if (e->logged >= HSG_LOG_PER_ADDR) {
        e->unlogged_failures++;
        return false;
    }
    if (g->lines >= HSG_LOG_LINES_MAX) {
        g->other_failures++;
        return false;
    }
    g->lines++;
    e->logged++;
    return true;
}

void hsg_succeeded(struct hsg *g, const struct hsg_addr *a)
{
    for (size_t i = 0; i < HSG_TABLE_SIZE; i++) {
        struct hsg_entry *e = &g->e[i];
        if (e->used && memcmp(&e->addr, a, sizeof(*a)) == 0) {
            entry_clear(g, e);
            return;
        }
    }
}

size_t hsg_summaries(struct hsg *g, uint64_t now_ms, struct hsg_summary *out, size_t cap)
{
    size_t k = 0;
    log_window(g, now_ms);
    for (size_t i = 0; i < HSG_TABLE_SIZE && k < cap; i++) {
        struct hsg_entry *e = &g->e[i];
        if (!e->used || (!e->unlogged_failures && !e->refused) || now_ms < e->quiet_until_ms)
            continue;
        if (g->lines >= HSG_LOG_LINES_MAX) {
            g->other_failures += e->unlogged_failures;
            g->other_refused += e->refused;
        } else {
            g->lines++;
            out[k++] = (struct hsg_summary){
                .addr = e->addr,
                .failures = e->unlogged_failures,
                .refused = e->refused,
                .next_delay_ms = hsg_delay_ms(g, e->failures),
            };
            /* The next interval starts now; while failures go on, they are summarised. */
            e->quiet_until_ms = now_ms + g->p.log_interval_ms;
            e->logged = HSG_LOG_PER_ADDR;
        }
        e->unlogged_failures = e->refused = 0;
    }
    /* Everything without a line of its own: one line per interval. */
    if (k < cap && (g->other_failures || g->other_refused) && now_ms >= g->others_quiet_until_ms) {
        g->others_quiet_until_ms = now_ms + g->p.log_interval_ms;
        out[k++] = (struct hsg_summary){
            .others = true,
            .failures = g->other_failures,
            .refused = g->other_refused,
        };
        g->other_failures = g->other_refused = 0;
    }
    return k;
}
