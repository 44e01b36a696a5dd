/* dd-bench: the benchmark protocol's terms (see dd_bench.h), built once and patched in place
 * so that timing loops only write 8 bytes and call dd_send. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perf/dd_bench.h"

#define DDB_BIN_HDR 5 /* BINARY_EXT tag + 32-bit length */

static void put_be32(char *p, uint32_t v)
{
    p[0] = (char)(v >> 24);
    p[1] = (char)(v >> 16);
    p[2] = (char)(v >> 8);
    p[3] = (char)v;
}

/* prefix (an encoded term start with the version byte) followed by a zeroed binary. */
static int term_with_bin(struct ddb_term *t, const char *prefix, size_t prefix_len, size_t size)
{
    memset(t, 0, sizeof(*t));
    if (size > UINT32_MAX || size < 8)
        return -1;
    t->len = prefix_len + DDB_BIN_HDR + size;
    t->buf = calloc(1, t->len);
    if (!t->buf)
        return -1;
    memcpy(t->buf, prefix, prefix_len);
    t->buf[prefix_len] = ERL_BINARY_EXT;
    put_be32(t->buf + prefix_len + 1, (uint32_t)size);
    t->seq_off = prefix_len + DDB_BIN_HDR;
    return 0;
}

int ddb_term_bin(struct ddb_term *t, size_t size)
{
    const char version = (char)DDB_VERSION_MAGIC;
    return term_with_bin(t, &version, 1, size);
}

int ddb_term_echo_req(struct ddb_term *t, const dd_pid *from, size_t size)
{
    ei_x_buff x;
    ei_x_new_with_version(&x);
    ei_x_encode_tuple_header(&x, 2);
    ei_x_encode_pid(&x, from);
    int rc = term_with_bin(t, x.buff, (size_t)x.index, size);
    ei_x_free(&x);
    return rc;
}

void ddb_term_free(struct ddb_term *t)
{
    free(t->buf);
    memset(t, 0, sizeof(*t));
}

void ddb_term_set_seq(struct ddb_term *t, uint64_t seq)
{
    for (int i = 0; i < 8; i++)
        t->buf[t->seq_off + (size_t)i] = (char)(seq >> (56 - 8 * i));
}

static int send_x(dd_mbox *mb, const char *name, const char *node, ei_x_buff *x)
{
    int rc = dd_send_reg(mb, name, node, x->buff, (size_t)x->index);
    ei_x_free(x);
    return rc;
}

int ddb_send_atom(dd_mbox *mb, const char *name, const char *node, const char *atom)
{
    ei_x_buff x;
    ei_x_new_with_version(&x);
    ei_x_encode_atom(&x, atom);
    return send_x(mb, name, node, &x);
}

int ddb_send_tag_pid(dd_mbox *mb, const char *name, const char *node, const char *tag)
{
    ei_x_buff x;
    ei_x_new_with_version(&x);
    ei_x_encode_tuple_header(&x, 2);
    ei_x_encode_atom(&x, tag);
    ei_x_encode_pid(&x, dd_mbox_pid(mb));
    return send_x(mb, name, node, &x);
}

int ddb_send_pulse(dd_mbox *mb, const char *node, uint64_t seq)
{
    ei_x_buff x;
    ei_x_new_with_version(&x);
    ei_x_encode_tuple_header(&x, 2);
    ei_x_encode_atom(&x, "pulse");
    ei_x_encode_ulonglong(&x, seq);
    return send_x(mb, "pulse", node, &x);
}

bool ddb_view_bin(const dd_msg *m, const char **data, size_t *size)
{
    if (m->kind != DD_MSG_MESSAGE || m->len < 1 + DDB_BIN_HDR || m->term[1] != ERL_BINARY_EXT)
        return false;
    const unsigned char *p = (const unsigned char *)m->term + 2;
    size_t n = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
    if (n != m->len - 1 - DDB_BIN_HDR)
        return false;
    *data = m->term + 1 + DDB_BIN_HDR;
    *size = n;
    return true;
}

uint64_t ddb_bin_seq(const char *data, size_t size)
{
    uint64_t seq = 0;
    for (size_t i = 0; i < 8 && i < size; i++)
        seq = seq << 8 | (unsigned char)data[i];
    return seq;
}

bool ddb_is_atom(const dd_msg *m, const char *atom)
{
    int idx = 0, ver;
    char a[MAXATOMLEN_UTF8];
    return m->kind == DD_MSG_MESSAGE && ei_decode_version(m->term, &idx, &ver) == 0 &&
           ei_decode_atom(m->term, &idx, a) == 0 && strcmp(a, atom) == 0;
}

bool ddb_decode_report(const dd_msg *m, const char *tag, int64_t *vals, int n)
{
    int idx = 0, ver, arity;
    char a[MAXATOMLEN_UTF8];
    if (m->kind != DD_MSG_MESSAGE || ei_decode_version(m->term, &idx, &ver) < 0 ||
        ei_decode_tuple_header(m->term, &idx, &arity) < 0 || arity != n + 1 ||
        ei_decode_atom(m->term, &idx, a) < 0 || strcmp(a, tag) != 0)
        return false;
    for (int i = 0; i < n; i++) {
        long long v;
        if (ei_decode_longlong(m->term, &idx, &v) < 0)
            return false;
        vals[i] = v;
    }
    return true;
}

bool ddb_decode_tag_pid(const dd_msg *m, const char *tag, dd_pid *pid)
{
    int idx = 0, ver, arity;
    char a[MAXATOMLEN_UTF8];
    return m->kind == DD_MSG_MESSAGE && ei_decode_version(m->term, &idx, &ver) == 0 &&
           ei_decode_tuple_header(m->term, &idx, &arity) == 0 && arity == 2 &&
           ei_decode_atom(m->term, &idx, a) == 0 && strcmp(a, tag) == 0 &&
           ei_decode_pid(m->term, &idx, pid) == 0;
}

dd_msg *ddb_wait_for(dd_mbox *mb, bool (*match)(const dd_msg *m, void *arg), void *arg,
                     int timeout_ms)
{
    uint64_t deadline = bstat_now_ns() + (uint64_t)timeout_ms * 1000000u;
    for (;;) {
        uint64_t now = bstat_now_ns();
        if (now >= deadline || ddb_stopping())
            return NULL;
        int left = (int)((deadline - now) / 1000000u);
        dd_msg *m;
        if (dd_recv(mb, &m, left > 200 ? 200 : left + 1) != DD_OK)
            continue;
        if (match(m, arg))
            return m;
        if (m->kind == DD_MSG_NODEDOWN) {
            /* a mailbox that monitors nodes: nothing will come from that peer any more */
            int idx = 1, arity;
            char tag[MAXATOMLEN_UTF8], peer[MAXATOMLEN_UTF8] = "?";
            if (ei_decode_tuple_header(m->term, &idx, &arity) == 0 &&
                ei_decode_atom(m->term, &idx, tag) == 0)
                ei_decode_atom(m->term, &idx, peer);
            fprintf(stderr, "dd-bench: nodedown of %s during the test\n", peer);
            dd_msg_free(m);
            return NULL;
        }
        dd_msg_free(m);
    }
}

static bool match_atom(const dd_msg *m, void *arg)
{
    return ddb_is_atom(m, arg);
}

bool ddb_wait_atom(dd_mbox *mb, const char *atom, int timeout_ms)
{
    dd_msg *m = ddb_wait_for(mb, match_atom, (void *)atom, timeout_ms);
    dd_msg_free(m);
    return m != NULL;
}

struct report_want {
    const char *tag;
    int64_t *vals;
    int n;
};

static bool match_report(const dd_msg *m, void *arg)
{
    struct report_want *w = arg;
    return ddb_decode_report(m, w->tag, w->vals, w->n);
}

bool ddb_wait_report(dd_mbox *mb, const char *tag, int64_t *vals, int n, int timeout_ms)
{
    struct report_want w = {tag, vals, n};
    dd_msg *m = ddb_wait_for(mb, match_report, &w, timeout_ms);
    dd_msg_free(m);
    return m != NULL;
}

void ddb_runtime_gaps(dd_node *node, const char *peer, int64_t *hb_gap, int64_t *rx_gap)
{
    struct dd_peer_stats st;
    *hb_gap = -1;
    *rx_gap = -1;
    if (dd_peer_stats(node, peer, &st) != DD_OK)
        return;
    if (st.carrier == DD_CARRIER_DPDK)
        *hb_gap = (int64_t)st.max_heartbeat_gap_ns;
    *rx_gap = (int64_t)st.max_rx_gap_ns;
}
