/* dd_echo_example: a node written against the installed public API only (<dpdist/dpdist.h>
 * and libei), built by `cc dd_echo_example.c $(pkg-config --cflags --libs dpdist)`.
 *
 *   dd_echo_example -sname NAME [-cookie C] [-config FILE] [-peer NODE] [-seconds S]
 *
 * The node opens a mailbox registered as `echo` that answers {From, Term} with Term, like
 * dpdist-echo and the echo of tests/interop. With -peer it sends {Self, {hello, I}} to `echo`
 * on that node (a dpdist-echo, another dd_echo_example or an Erlang node with such a
 * process), checks that {hello, I} comes back, and prints "carrier=tcp ok" or
 * "carrier=dpdk ok" (with -config, it waits for the connection to move onto the data plane
 * first). Without -peer it serves for S seconds (default 30), or until it receives `stop`.
 * Exit status: 0 on success, 1 on failure (the reason on stderr), 64 on bad usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <dpdist/dpdist.h>
#include <ei.h>

#define EX_USAGE_CODE 64
#define REPLY_TIMEOUT_MS 10000
#define UPGRADE_WAIT_MS 20000
#define UPGRADE_POLL_MS 100

static int fail(const char *what, int rc)
{
    fprintf(stderr, "dd_echo_example: %s: %s (%s)\n", what, dd_strerror(rc), dd_last_error());
    return 1;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Serve {From, Term} -> Term until the deadline or a `stop` message. */
static int serve(dd_mbox *mb, int seconds)
{
    long long end = now_ms() + (long long)seconds * 1000;
    for (;;) {
        long long left = end - now_ms();
        if (left <= 0)
            return 0;
        dd_msg *m;
        int rc = dd_recv(mb, &m, (int)left);
        if (rc == DD_ETIMEDOUT)
            return 0;
        if (rc != DD_OK)
            return fail("dd_recv", rc);
        int idx = 1, arity = 0, type, size;
        char atom[MAXATOMLEN_UTF8];
        erlang_pid from;
        bool stop = false;
        if (m->kind == DD_MSG_MESSAGE && ei_get_type(m->term, &idx, &type, &size) == 0 &&
            (type == ERL_ATOM_EXT || type == ERL_SMALL_ATOM_UTF8_EXT || type == ERL_ATOM_UTF8_EXT)) {
            stop = ei_decode_atom(m->term, &idx, atom) == 0 && strcmp(atom, "stop") == 0;
        } else if (m->kind == DD_MSG_MESSAGE &&
                   ei_decode_tuple_header(m->term, &idx, &arity) == 0 && arity == 2 &&
                   ei_decode_pid(m->term, &idx, &from) == 0) {
            /* the rest of the message is Term: walk it with dd_term_skip (bounded) */
            int start = idx;
            if (dd_term_skip(m->term, m->len, &idx) == DD_OK && (size_t)idx == m->len) {
                ei_x_buff x;
                ei_x_new_with_version(&x);
                ei_x_append_buf(&x, m->term + start, idx - start);
                rc = dd_send(mb, &from, x.buff, (size_t)x.index);
                ei_x_free(&x);
                if (rc != DD_OK)
                    fprintf(stderr, "dd_echo_example: reply: %s\n", dd_strerror(rc));
            }
        }
        dd_msg_free(m);
        if (stop)
            return 0;
    }
}

/* Wait until the carrier to peer is DPDK (the upgrade follows the TCP connection). */
static enum dd_carrier_kind wait_dpdk(dd_node *node, const char *peer)
{
    long long end = now_ms() + UPGRADE_WAIT_MS;
    enum dd_carrier_kind k = dd_node_carrier(node, peer);
    while (k != DD_CARRIER_DPDK && now_ms() < end) {
        struct timespec nap = {0, UPGRADE_POLL_MS * 1000000L};
        nanosleep(&nap, NULL);
        k = dd_node_carrier(node, peer);
    }
    return k;
}

/* One round trip: {Self, {hello, I}} to echo on peer, {hello, I} expected back. */
static int ping_echo(dd_mbox *mb, const char *peer, long i)
{
    ei_x_buff x;
    ei_x_new_with_version(&x);
    ei_x_encode_tuple_header(&x, 2);
    ei_x_encode_pid(&x, dd_mbox_pid(mb));
    ei_x_encode_tuple_header(&x, 2);
    ei_x_encode_atom(&x, "hello");
    ei_x_encode_long(&x, i);
    int rc = dd_send_reg(mb, "echo", peer, x.buff, (size_t)x.index);
    ei_x_free(&x);
    if (rc != DD_OK)
        return fail("dd_send_reg", rc);
    dd_msg *m;
    rc = dd_recv(mb, &m, REPLY_TIMEOUT_MS);
    if (rc != DD_OK)
        return fail("waiting for the echo", rc);
    int idx = 1, arity = 0;
    char atom[MAXATOMLEN_UTF8];
    long got = -1;
    bool ok = m->kind == DD_MSG_MESSAGE && ei_decode_tuple_header(m->term, &idx, &arity) == 0 &&
              arity == 2 && ei_decode_atom(m->term, &idx, atom) == 0 &&
              strcmp(atom, "hello") == 0 && ei_decode_long(m->term, &idx, &got) == 0 && got == i;
    int kind = (int)m->kind;
    dd_msg_free(m);
    if (!ok) {
        fprintf(stderr, "dd_echo_example: unexpected reply (kind %d)\n", kind);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct dd_node_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    const char *peer = NULL;
    int seconds = 30;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            goto usage;
        if (!strcmp(argv[i], "-sname"))
            cfg.sname = v;
        else if (!strcmp(argv[i], "-name"))
            cfg.name = v;
        else if (!strcmp(argv[i], "-cookie"))
            cfg.cookie = v;
        else if (!strcmp(argv[i], "-config"))
            cfg.config_file = v;
        else if (!strcmp(argv[i], "-peer"))
            peer = v;
        else if (!strcmp(argv[i], "-seconds"))
            seconds = atoi(v);
        else
            goto usage;
        i++;
    }
    if (!cfg.sname && !cfg.name)
        goto usage;

    dd_node *node;
    int rc = dd_node_start(&cfg, &node);
    if (rc != DD_OK)
        return fail("dd_node_start", rc);
    dd_mbox *mb;
    rc = dd_mbox_open(node, "echo", 0, &mb);
    if (rc != DD_OK) {
        dd_node_stop(node);
        return fail("dd_mbox_open", rc);
    }
    printf("%s ready\n", dd_node_name(node));
    fflush(stdout);
    int status;
    if (!peer) {
        status = serve(mb, seconds);
    } else {
        status = ping_echo(mb, peer, 1);
        enum dd_carrier_kind k = dd_node_carrier(node, peer);
        if (status == 0 && cfg.config_file) {
            k = wait_dpdk(node, peer);
            status = ping_echo(mb, peer, 2); /* and once more over the data plane */
            k = dd_node_carrier(node, peer);
        }
        if (status == 0)
            printf("carrier=%s ok\n", k == DD_CARRIER_DPDK ? "dpdk" : k == DD_CARRIER_TCP ? "tcp" : "none");
    }
    dd_mbox_close(mb);
    dd_node_stop(node);
    return status;

usage:
    fprintf(stderr, "usage: dd_echo_example -sname NAME | -name NAME [-cookie C] [-config FILE] "
                    "[-peer NODE] [-seconds S]\n");
    return EX_USAGE_CODE;
}
