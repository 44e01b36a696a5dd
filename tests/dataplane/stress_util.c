/* dd_stress helpers: clocks, waiting, requests and report texts (see stress.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "tests/dataplane/stress.h"

uint64_t stress_now_ns(void)
{
    return clock_now_ns();
}

uint64_t stress_wall_ns(void)
{
    return clock_realtime_ns();
}

uint64_t stress_rss_kb(void)
{
    unsigned long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return 0;
    if (fscanf(f, "%lu %lu", &size, &resident) != 2)
        resident = 0;
    fclose(f);
    return (uint64_t)resident * (uint64_t)(sysconf(_SC_PAGESIZE) / 1024);
}

int stress_recv(dd_mbox *mb, dd_msg **out, int timeout_ms)
{
    if (!g_stress.lazy && !t_stress_lazy)
        return dd_recv(mb, out, timeout_ms);
    uint64_t end = stress_now_ns() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms) * 1000000ull;
    for (;;) {
        int rc = dd_recv(mb, out, 0);
        if (rc != DD_ETIMEDOUT)
            return rc;
        if (timeout_ms >= 0 && stress_now_ns() >= end)
            return DD_ETIMEDOUT;
        usleep(300);
    }
}

bool stress_wait_dpdk(const char *peer, int timeout_ms)
{
    uint64_t end = stress_now_ns() + (uint64_t)timeout_ms * 1000000ull;
    while (stress_now_ns() < end) {
        if (dd_node_carrier(g_stress.node, peer) == DD_CARRIER_DPDK)
            return true;
        usleep(2000);
    }
    return false;
}

/* dd_dataplane_summary as a string (caller frees), or NULL. */
static char *summary_text(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return NULL;
    int rc = dd_dataplane_summary(g_stress.node, f);
    fclose(f);
    if (rc != DD_OK) {
        free(text);
        return NULL;
    }
    return text;
}

uint64_t stress_port_rx_frames(void)
{
    char *text = summary_text();
    unsigned long long v = 0;
    const char *p = text ? strstr(text, "port: rx ") : NULL;
    if (p)
        sscanf(p, "port: rx %llu frames", &v);
    free(text);
    return v;
}

void stress_fault_counts(uint64_t out[3])
{
    char *text = summary_text();
    unsigned long long d = 0, u = 0, r = 0;
    const char *p = text ? strstr(text, "fault injection: ") : NULL;
    if (p)
        sscanf(p, "fault injection: dropped %llu, duplicated %llu, reordered %llu", &d, &u, &r);
    free(text);
    out[0] = d;
    out[1] = u;
    out[2] = r;
}

void stress_watchdog_counts(uint64_t out[3])
{
    char *text = summary_text();
    unsigned long long runs = 0, iters = 0, wakes = 0, capped = 0, busy = 0;
    const char *p = text ? strstr(text, "watchdog poller (") : NULL;
    p = p ? strstr(p, "): ") : NULL;
    if (p)
        sscanf(p, "): %llu runs, %llu iterations, %llu wake-ups, %llu held back by the duty "
                  "cap, busy %llu us",
               &runs, &iters, &wakes, &capped, &busy);
    free(text);
    out[0] = wakes;
    out[1] = runs;
    out[2] = busy;
}

int stress_request(dd_mbox *mb, const char *node, const char *tag, int nargs, long a, long b)
{
    ei_x_buff x;
    ei_x_new_with_version(&x);
    ei_x_encode_tuple_header(&x, 2 + nargs);
    ei_x_encode_atom(&x, tag);
    ei_x_encode_pid(&x, dd_mbox_pid(mb));
    if (nargs > 0)
        ei_x_encode_long(&x, a);
    if (nargs > 1)
        ei_x_encode_long(&x, b);
    int rc = dd_send_reg(mb, STRESS_NAME, node, x.buff, (size_t)x.index);
    ei_x_free(&x);
    return rc;
}

/* The atom that starts the tuple of m, or "" */
static void first_atom(const dd_msg *m, char *atom)
{
    int idx = 0, ver, arity;
    atom[0] = '\0';
    if (ei_decode_version(m->term, &idx, &ver) < 0 ||
        ei_decode_tuple_header(m->term, &idx, &arity) < 0 || arity < 1 ||
        ei_decode_atom(m->term, &idx, atom) < 0)
        atom[0] = '\0';
}

dd_msg *stress_await(dd_mbox *mb, const char *tag, int timeout_ms,
                     void (*other)(dd_msg *m, void *arg), void *arg)
{
    uint64_t end = stress_now_ns() + (uint64_t)timeout_ms * 1000000ull;
    for (;;) {
        uint64_t now = stress_now_ns();
        if (now >= end)
            return NULL;
        dd_msg *m;
        int rc = stress_recv(mb, &m, (int)((end - now) / 1000000ull) + 1);
        if (rc != DD_OK)
            continue;
        char atom[MAXATOMLEN_UTF8];
        first_atom(m, atom);
        if (m->kind == DD_MSG_MESSAGE && !strcmp(atom, tag))
            return m;
        if (other)
            other(m, arg);
        dd_msg_free(m);
    }
}

uint64_t stress_field(const char *text, const char *key)
{
    size_t kl = strlen(key);
    for (const char *p = text; (p = strstr(p, key)) != NULL; p += kl) {
        if ((p == text || p[-1] == ' ') && p[kl] == '=')
            return strtoull(p + kl + 1, NULL, 10);
    }
    return 0;
}

bool stress_report_text(const dd_msg *m, char *buf, size_t cap)
{
    int idx = 0, ver, arity, type, size;
    char atom[MAXATOMLEN_UTF8];
    long blen;
    if (ei_decode_version(m->term, &idx, &ver) < 0 ||
        ei_decode_tuple_header(m->term, &idx, &arity) < 0 || arity != 2 ||
        ei_decode_atom(m->term, &idx, atom) < 0 || ei_get_type(m->term, &idx, &type, &size) < 0 ||
        type != ERL_BINARY_EXT || (size_t)size >= cap ||
        ei_decode_binary(m->term, &idx, buf, &blen) < 0)
        return false;
    buf[blen] = '\0';
    return true;
}
