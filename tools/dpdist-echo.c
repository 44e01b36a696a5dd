/* dpdist-echo: a node with a mailbox registered as `echo` that serves
 *   {From, Term}             From a pid: sends Term back to From
 *   {link, From}             links echo to From, replies {linked, EchoPid}
 *   {monitor, Target, From}  monitors Target (a pid or {Name, Node}), replies {monitoring, Ref}
 *   {subscribe, From}        forwards every node event, 'EXIT' and 'DOWN' to From as
 *                            {dpdist_event, Event}
 *   {send_to, Dest, Term}    sends Term to Dest (a pid or {Name, Node})
 *   {nodes, From}            replies {nodes, Visible, Hidden} (lists of node names)
 *   {stats, Peer, From}      replies {stats, Carrier, TxMsgs, RxMsgs, Retransmits, MaxHbGapNs}
 *                            (Carrier: tcp | dpdk | none)
 *   {reassembly, From}       replies {reassembly, Bytes, Limit, HighWater, Refusals, Waiting}
 *                            (dd_node_reassembly: the node's memory for messages in transit)
 * Terms come from peers: they are walked with dd_term_skip (bounded, iterative), never with
 * libei's recursive ei_skip_term, so a deeply nested term cannot overflow the stack.
 * SIGUSR1 prints the data plane's summary on stderr.
 * Runs until killed (SIGTERM/SIGINT stop it cleanly); logs to stderr. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "dpdist/dpdist.h"
#include "dpdist/dpdist_args.h"

static volatile sig_atomic_t g_stop, g_summary;

static void on_usr1(int sig)
{
    (void)sig;
    g_summary = 1;
}

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

struct echo {
    dd_mbox *mb;
    dd_pid subscribers[64];
    int n_subscribers;
};

static void send_x(struct echo *e, const dd_pid *to, ei_x_buff *x)
{
    int rc = dd_send(e->mb, to, x->buff, (size_t)x->index);
    if (rc != DD_OK)
        DLOG_WARN("echo", "send failed: %s", dd_last_error());
}

/* Decodes a destination (pid or {Name, Node}) at *idx and sends the raw term bytes. */
static void send_to(struct echo *e, const char *buf, int *idx, const char *term, size_t tlen)
{
    int type, size, arity;
    ei_get_type(buf, idx, &type, &size);
    if (type == ERL_PID_EXT || type == ERL_NEW_PID_EXT) {
        dd_pid p;
        if (ei_decode_pid(buf, idx, &p) == 0)
            dd_send(e->mb, &p, term, tlen);
        return;
    }
    char name[MAXATOMLEN_UTF8], node[MAXATOMLEN_UTF8];
    if (ei_decode_tuple_header(buf, idx, &arity) == 0 && arity == 2 &&
        ei_decode_atom(buf, idx, name) == 0 && ei_decode_atom(buf, idx, node) == 0)
        dd_send_reg(e->mb, name, node, term, tlen);
}

/* The term at buf[start..end) as a standalone external term in x. */
static void slice_term(ei_x_buff *x, const char *buf, int start, int end)
{
    ei_x_new_with_version(x);
    ei_x_append_buf(x, buf + start, end - start);
}

static void forward_event(struct echo *e, const dd_msg *m)
{
    for (int i = 0; i < e->n_subscribers; i++) {
        ei_x_buff x;
        ei_x_new_with_version(&x);
        ei_x_encode_tuple_header(&x, 2);
        ei_x_encode_atom(&x, "dpdist_event");
        ei_x_append_buf(&x, m->term + 1, (int)m->len - 1);
        send_x(e, &e->subscribers[i], &x);
        ei_x_free(&x);
    }
}

static void handle(struct echo *e, const dd_msg *m)
{
    const char *buf = m->term;
    int idx = 0, ver, arity, type, size;
    char atom[MAXATOMLEN_UTF8];
    if (m->kind != DD_MSG_MESSAGE) {
        char s[128];
        DLOG_INFO("echo", "event: %s",
                  m->kind == DD_MSG_EXIT       ? "'EXIT'"
                  : m->kind == DD_MSG_DOWN     ? "'DOWN'"
                  : m->kind == DD_MSG_NODEUP   ? "nodeup"
                  : m->kind == DD_MSG_NODEDOWN ? "nodedown"
                                               : (snprintf(s, sizeof(s), "%d", m->kind), s));
        forward_event(e, m);
        return;
    }
    if (ei_decode_version(buf, &idx, &ver) < 0 || ei_decode_tuple_header(buf, &idx, &arity) < 0)
        return;
    int first = idx;
    ei_get_type(buf, &idx, &type, &size);
    if (arity == 2 && (type == ERL_PID_EXT || type == ERL_NEW_PID_EXT)) {
        dd_pid from;
        ei_decode_pid(buf, &idx, &from);
        ei_x_buff x;
        int start = idx;
        if (dd_term_skip(buf, m->len, &idx) != DD_OK)
            return;
        slice_term(&x, buf, start, idx);
        send_x(e, &from, &x);
        ei_x_free(&x);
        return;
    }
    if (ei_decode_atom(buf, &idx, atom) < 0)
        return;
    (void)first;
    dd_pid from;
    if (!strcmp(atom, "link") && arity == 2 && ei_decode_pid(buf, &idx, &from) == 0) {
        dd_link(e->mb, &from);
        ei_x_buff x;
        ei_x_new_with_version(&x);
        ei_x_encode_tuple_header(&x, 2);
        ei_x_encode_atom(&x, "linked");
        ei_x_encode_pid(&x, dd_mbox_pid(e->mb));
        send_x(e, &from, &x);
        ei_x_free(&x);
    } else if (!strcmp(atom, "monitor") && arity == 3) {
        int tstart = idx;
        dd_ref ref;
        int rc;
        ei_get_type(buf, &idx, &type, &size);
        if (type == ERL_PID_EXT || type == ERL_NEW_PID_EXT) {
            dd_pid target;
            ei_decode_pid(buf, &idx, &target);
            rc = dd_monitor(e->mb, &target, &ref);
        } else {
            char name[MAXATOMLEN_UTF8], node[MAXATOMLEN_UTF8];
            if (ei_decode_tuple_header(buf, &idx, &arity) < 0 || arity != 2 ||
                ei_decode_atom(buf, &idx, name) < 0 || ei_decode_atom(buf, &idx, node) < 0)
                return;
            rc = dd_monitor_name(e->mb, name, node, &ref);
        }
        (void)tstart;
        if (rc != DD_OK || ei_decode_pid(buf, &idx, &from) < 0)
            return;
        ei_x_buff x;
        ei_x_new_with_version(&x);
        ei_x_encode_tuple_header(&x, 2);
        ei_x_encode_atom(&x, "monitoring");
        ei_x_encode_ref(&x, &ref);
        send_x(e, &from, &x);
        ei_x_free(&x);
    } else if (!strcmp(atom, "subscribe") && arity == 2 && ei_decode_pid(buf, &idx, &from) == 0) {
        if (e->n_subscribers < 64)
            e->subscribers[e->n_subscribers++] = from;
        DLOG_INFO("echo", "subscriber added (%d)", e->n_subscribers);
    } else if (!strcmp(atom, "nodes") && arity == 2 && ei_decode_pid(buf, &idx, &from) == 0) {
        ei_x_buff x;
        ei_x_new_with_version(&x);
        ei_x_encode_tuple_header(&x, 3);
        ei_x_encode_atom(&x, "nodes");
        for (int which = DD_NODES_VISIBLE; which <= DD_NODES_HIDDEN; which++) {
            char **names;
            size_t count;
            if (dd_nodes(dd_mbox_node(e->mb), (enum dd_nodes_which)which, &names, &count) != DD_OK)
                count = 0, names = NULL;
            for (size_t i = 0; i < count; i++) {
                ei_x_encode_list_header(&x, 1);
                ei_x_encode_atom(&x, names[i]);
            }
            ei_x_encode_empty_list(&x);
            dd_nodes_free(names);
        }
        send_x(e, &from, &x);
        ei_x_free(&x);
    } else if (!strcmp(atom, "stats") && arity == 3) {
        char peer[MAXATOMLEN_UTF8];
        if (ei_decode_atom(buf, &idx, peer) < 0 || ei_decode_pid(buf, &idx, &from) < 0)
            return;
        struct dd_peer_stats st;
        int rc = dd_peer_stats(dd_mbox_node(e->mb), peer, &st);
        ei_x_buff x;
        ei_x_new_with_version(&x);
        ei_x_encode_tuple_header(&x, 6);
        ei_x_encode_atom(&x, "stats");
        ei_x_encode_atom(&x, rc != DD_OK                     ? "none"
                             : st.carrier == DD_CARRIER_DPDK ? "dpdk"
                                                             : "tcp");
        ei_x_encode_ulonglong(&x, st.tx_msgs);
        ei_x_encode_ulonglong(&x, st.rx_msgs);
        ei_x_encode_ulonglong(&x, st.retransmits);
        ei_x_encode_ulonglong(&x, st.max_heartbeat_gap_ns);
        send_x(e, &from, &x);
        ei_x_free(&x);
    } else if (!strcmp(atom, "reassembly") && arity == 2 && ei_decode_pid(buf, &idx, &from) == 0) {
        struct dd_reassembly_stats st;
        if (dd_node_reassembly(dd_mbox_node(e->mb), &st) != DD_OK)
            return;
        ei_x_buff x;
        ei_x_new_with_version(&x);
        ei_x_encode_tuple_header(&x, 6);
        ei_x_encode_atom(&x, "reassembly");
        ei_x_encode_ulonglong(&x, st.bytes);
        ei_x_encode_ulonglong(&x, st.limit);
        ei_x_encode_ulonglong(&x, st.high_water);
        ei_x_encode_ulonglong(&x, st.refusals);
        ei_x_encode_ulonglong(&x, st.waiting);
        send_x(e, &from, &x);
        ei_x_free(&x);
    } else if (!strcmp(atom, "send_to") && arity == 3) {
        int dest = idx;
        if (dd_term_skip(buf, m->len, &idx) != DD_OK)
            return;
        int tstart = idx;
        if (dd_term_skip(buf, m->len, &idx) != DD_OK)
            return;
        ei_x_buff x;
        slice_term(&x, buf, tstart, idx);
        send_to(e, buf, &dest, x.buff, (size_t)x.index);
        ei_x_free(&x);
    }
}

int main(int argc, char **argv)
{
    dlog_set_ident("dpdist-echo");
    struct dd_args a;
    int prc = dd_args_parse(argc, argv, &a);
    if (prc != DD_OK)
        fprintf(stderr, "dpdist-echo: %s\n", dd_last_error());
    bool extra = prc == DD_OK && a.rest_argc != 0;
    if (prc != DD_OK || extra) {
        dd_args_free(&a); /* echo takes no arguments of its own */
        fprintf(stderr, "usage: dpdist-echo [options]\n%s", dd_args_usage());
        return 2;
    }
    dd_node *node;
    int rc = dd_node_start(&a.cfg, &node);
    if (rc != DD_OK) {
        fprintf(stderr, "dpdist-echo: %s: %s\n", dd_strerror(rc), dd_last_error());
        dd_args_free(&a);
        return rc == DD_ECONFIG ? DD_EXIT_CONFIG : 1;
    }
    struct echo e = {0};
    rc = dd_mbox_open(node, "echo", 0, &e.mb);
    if (rc != DD_OK) {
        fprintf(stderr, "dpdist-echo: %s\n", dd_last_error());
        dd_node_stop(node);
        return 1;
    }
    dd_monitor_nodes(e.mb, true);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    struct sigaction su = {.sa_handler = on_usr1};
    sigaction(SIGUSR1, &su, NULL);
    printf("dpdist-echo %s ready\n", dd_node_name(node));
    fflush(stdout);
    while (!g_stop) {
        dd_msg *m;
        if (g_summary) {
            g_summary = 0;
            if (dd_dataplane_summary(node, stderr) != DD_OK)
                fprintf(stderr, "no data plane\n");
        }
        rc = dd_recv(e.mb, &m, 200);
        if (rc == DD_ETIMEDOUT)
            continue;
        if (rc != DD_OK)
            break;
        handle(&e, m);
        dd_msg_free(m);
    }
    dd_node_stop(node);
    return 0;
}
