/* The public API (include/dpdist/dpdist.h): argument checks and error reporting in front of
 * the runtime's modules. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "dpdist/dpdist.h"
#include "runtime/conn.h"
#include "runtime/dp_glue.h"
#include "runtime/mbox.h"
#include "runtime/node.h"
#include "runtime/node_api.h"
#include "runtime/rcu.h"
#include "runtime/route.h"

int dd_node_start(const struct dd_node_cfg *cfg, dd_node **out)
{
    rt_clear_error();
    return node_start(cfg, out);
}

void dd_node_stop(dd_node *node)
{
    node_stop(node);
}

const char *dd_node_name(const dd_node *node)
{
    return node->name;
}

uint32_t dd_node_creation(const dd_node *node)
{
    return node->creation;
}

int dd_set_cookie(dd_node *node, const char *peer, const char *cookie)
{
    if (!node)
        return rt_fail(DD_EINVAL, "node is NULL");
    return node_set_cookie(node, peer, cookie);
}

int dd_connect(dd_node *node, const char *peer, int timeout_ms)
{
    if (!node || !peer)
        return rt_fail(DD_EINVAL, "node and peer are required");
    struct dd_conn *c = conn_get_or_dial(node, peer);
    if (!c)
        return strcmp(peer, node->name) == 0 ? DD_OK : DD_ENOCONN;
    int rc = conn_wait_up(c, timeout_ms);
    conn_unref(c);
    return rc;
}

int dd_ping(dd_node *node, const char *peer, int timeout_ms)
{
    if (!node || !peer)
        return rt_fail(DD_EINVAL, "node and peer are required");
    if (strcmp(peer, node->name) == 0)
        return DD_OK;
    uint64_t deadline = clock_now_ms() + (uint64_t)(timeout_ms < 0 ? 60000 : timeout_ms);
    int rc = dd_connect(node, peer, timeout_ms);
    if (rc != DD_OK)
        return rc;
    dd_mbox *mb;
    rc = mbox_open(node, NULL, 0, &mb);
    if (rc != DD_OK)
        return rc;
    /* {'$gen_call', {Self, Tag}, {is_auth, node()}} to net_kernel, as net_adm:ping/1. */
    dd_ref tag;
    rt_make_ref(node, &tag);
    ei_x_buff x;
    ei_x_new_with_version(&x);
    ei_x_encode_tuple_header(&x, 3);
    ei_x_encode_atom(&x, "$gen_call");
    ei_x_encode_tuple_header(&x, 2);
    ei_x_encode_pid(&x, &mb->pid);
    ei_x_encode_ref(&x, &tag);
    ei_x_encode_tuple_header(&x, 2);
    ei_x_encode_atom(&x, "is_auth");
    ei_x_encode_atom(&x, node->name);
    rc = route_send_reg(mb, "net_kernel", peer, x.buff, (size_t)x.index, false);
    ei_x_free(&x);
    bool pong = false;
    while (rc == DD_OK && !pong) {
        uint64_t now = clock_now_ms();
        if (now >= deadline) {
            rc = rt_fail(DD_ETIMEDOUT, "no answer from %s", peer);
            break;
        }
        dd_msg *m;
        rc = mbox_recv(mb, &m, (int)(deadline - now));
        if (rc != DD_OK)
            break;
        int idx = 0, ver, arity;
        dd_ref got;
        char atom[MAXATOMLEN_UTF8];
        if (m->kind == DD_MSG_MESSAGE && ei_decode_version(m->term, &idx, &ver) == 0 &&
            ei_decode_tuple_header(m->term, &idx, &arity) == 0 && arity == 2 &&
            ei_decode_ref(m->term, &idx, &got) == 0 && dd_ref_eq(&got, &tag) &&
            ei_decode_atom(m->term, &idx, atom) == 0)
            pong = strcmp(atom, "yes") == 0;
        mbox_msg_free(m); /* anything else (a stray message) is skipped */
    }
    mbox_close(mb, rt_term_normal, rt_term_normal_len);
    if (!pong && rc == DD_OK)
        rc = rt_fail(DD_ENOCONN, "%s did not answer yes", peer);
    return pong ? DD_OK : rc;
}

int dd_nodes(dd_node *node, enum dd_nodes_which which, char ***names, size_t *count)
{
    if (!node || !names)
        return rt_fail(DD_EINVAL, "node and names are required");
    size_t cap = 16, k = 0;
    char **out = malloc(cap * sizeof(*out));
    if (!out)
        return rt_fail(DD_ENOMEM, "out of memory");
    struct cds_lfht_iter it;
    struct dd_conn *c;
    rcu_rd_enter();
    cds_lfht_for_each_entry(node->conns, &it, c, ht_node)
    {
        if (atomic_load(&c->state) != CONN_UP)
            continue;
        bool visible = c->peer_published && !node->hidden;
        if ((which == DD_NODES_VISIBLE && !visible) || (which == DD_NODES_HIDDEN && visible))
            continue;
        if (k + 1 >= cap) {
            char **p = realloc(out, cap * 2 * sizeof(*out));
            if (!p)
                break;
            out = p;
            cap *= 2;
        }
        out[k++] = strdup(c->peer);
    }
    rcu_rd_leave();
    out[k] = NULL;
    *names = out;
    if (count)
        *count = k;
    return DD_OK;
}

void dd_nodes_free(char **names)
{
    if (!names)
        return;
    for (char **p = names; *p; p++)
        free(*p);
    free(names);
}

enum dd_carrier_kind dd_node_carrier(dd_node *node, const char *peer)
{
    enum dd_carrier_kind k = DD_CARRIER_NONE;
    rcu_rd_enter();
    struct dd_conn *c = conn_lookup(node, peer);
    if (c && atomic_load(&c->state) == CONN_UP)
        k = dp_glue_carrier_kind(c);
    rcu_rd_leave();
    return k;
}

int dd_peer_stats(dd_node *node, const char *peer, struct dd_peer_stats *out)
{
    if (!node || !peer || !out)
        return rt_fail(DD_EINVAL, "node, peer and out are required");
    memset(out, 0, sizeof(*out));
    rcu_rd_enter();
    struct dd_conn *c = conn_lookup(node, peer);
    if (c)
        conn_ref(c);
    rcu_rd_leave();
    if (!c || atomic_load(&c->state) != CONN_UP) {
        if (c)
            conn_unref(c);
        return rt_fail(DD_ENOTFOUND, "not connected to %s", peer);
    }
    out->carrier = dp_glue_carrier_kind(c);
    if (out->carrier == DD_CARRIER_DPDK)
        dp_glue_peer_stats(c, out);
    else {
        out->max_heartbeat_gap_ns = atomic_exchange(&c->max_tick_gap_ns, 0);
        out->max_rx_gap_ns = atomic_exchange(&c->max_rx_gap_ns, 0);
    }
    conn_unref(c);
    return DD_OK;
}

int dd_dataplane_summary(dd_node *node, FILE *out)
{
    if (!node || !out)
        return rt_fail(DD_EINVAL, "node and out are required");
    return dp_glue_summary(node, out);
}

int dd_dataplane_fault(dd_node *node, bool enable)
{
    if (!node)
        return rt_fail(DD_EINVAL, "node is required");
    return dp_glue_fault(node, enable);
}

int dd_disconnect(dd_node *node, const char *peer)
{
    rcu_rd_enter();
    struct dd_conn *c = conn_lookup(node, peer);
    if (c)
        conn_ref(c);
    rcu_rd_leave();
    if (!c)
        return rt_fail(DD_ENOTFOUND, "not connected to %s", peer);
    conn_down(c, DD_ECLOSED, "disconnected by the application");
    conn_unref(c);
    return DD_OK;
}

int dd_make_ref(dd_node *node, dd_ref *out)
{
    rt_make_ref(node, out);
    return DD_OK;
}

int dd_mbox_open(dd_node *node, const char *regname, unsigned flags, dd_mbox **out)
{
    if (!node || !out)
        return rt_fail(DD_EINVAL, "node and out are required");
    return mbox_open(node, regname, flags, out);
}

void dd_mbox_close(dd_mbox *mb)
{
    if (mb)
        mbox_close(mb, rt_term_normal, rt_term_normal_len);
}

void dd_mbox_close_reason(dd_mbox *mb, const void *reason, size_t len)
{
    if (!mb)
        return;
    if (route_check_term(reason, len) != DD_OK) {
        mbox_close(mb, rt_term_normal, rt_term_normal_len);
        return;
    }
    mbox_close(mb, reason, len);
}

const dd_pid *dd_mbox_pid(const dd_mbox *mb)
{
    return &mb->pid;
}

dd_node *dd_mbox_node(const dd_mbox *mb)
{
    return mb->node;
}

int dd_send_flags(dd_mbox *from, const dd_pid *to, const void *term, size_t len, unsigned flags)
{
    if (!from || !to)
        return rt_fail(DD_EINVAL, "from and to are required");
    int rc = route_check_term(term, len);
    return rc ? rc : route_send_pid(from, to, term, len, flags & DD_SEND_NONBLOCK);
}

int dd_send(dd_mbox *from, const dd_pid *to, const void *term, size_t len)
{
    return dd_send_flags(from, to, term, len, 0);
}

int dd_send_reg_flags(dd_mbox *from, const char *name, const char *node, const void *term,
                      size_t len, unsigned flags)
{
    if (!from || !name || !*name)
        return rt_fail(DD_EINVAL, "from and name are required");
    int rc = route_check_term(term, len);
    return rc ? rc : route_send_reg(from, name, node, term, len, flags & DD_SEND_NONBLOCK);
}

int dd_send_reg(dd_mbox *from, const char *name, const char *node, const void *term, size_t len)
{
    return dd_send_reg_flags(from, name, node, term, len, 0);
}

int dd_send_alias(dd_mbox *from, const dd_ref *alias, const void *term, size_t len)
{
    if (!from || !alias)
        return rt_fail(DD_EINVAL, "from and alias are required");
    int rc = route_check_term(term, len);
    return rc ? rc : route_send_alias(from, alias, term, len);
}

int dd_exit(dd_mbox *from, const dd_pid *to, const void *reason, size_t len)
{
    if (!from || !to)
        return rt_fail(DD_EINVAL, "from and to are required");
    int rc = route_check_term(reason, len);
    if (rc)
        return rc;
    route_exit_signal(from->node, &from->pid, to, reason, len, false);
    return DD_OK;
}

int dd_recv(dd_mbox *mb, dd_msg **out, int timeout_ms)
{
    if (!mb || !out)
        return rt_fail(DD_EINVAL, "mb and out are required");
    return mbox_recv(mb, out, timeout_ms);
}

void dd_msg_free(dd_msg *msg)
{
    mbox_msg_free(msg);
}

int dd_link(dd_mbox *mb, const dd_pid *pid)
{
    if (!mb || !pid)
        return rt_fail(DD_EINVAL, "mb and pid are required");
    return route_link(mb, pid);
}

int dd_unlink(dd_mbox *mb, const dd_pid *pid)
{
    if (!mb || !pid)
        return rt_fail(DD_EINVAL, "mb and pid are required");
    return route_unlink(mb, pid);
}

int dd_monitor(dd_mbox *mb, const dd_pid *pid, dd_ref *ref)
{
    if (!mb || !pid || !ref)
        return rt_fail(DD_EINVAL, "mb, pid and ref are required");
    return route_monitor(mb, pid, NULL, NULL, ref);
}

int dd_monitor_name(dd_mbox *mb, const char *name, const char *node, dd_ref *ref)
{
    if (!mb || !name || !*name || !ref)
        return rt_fail(DD_EINVAL, "mb, name and ref are required");
    return route_monitor(mb, NULL, name, node, ref);
}

int dd_demonitor(dd_mbox *mb, const dd_ref *ref)
{
    if (!mb || !ref)
        return rt_fail(DD_EINVAL, "mb and ref are required");
    return route_demonitor_ref(mb, ref);
}

int dd_monitor_nodes(dd_mbox *mb, bool on)
{
    if (!mb)
        return rt_fail(DD_EINVAL, "mb is required");
    struct dd_node *n = mb->node;
    pthread_mutex_lock(&n->lock);
    size_t i;
    for (i = 0; i < n->n_node_monitors && n->node_monitors[i] != mb; i++)
        ;
    bool present = i < n->n_node_monitors;
    int rc = DD_OK;
    if (on && !present) {
        if (n->n_node_monitors == n->cap_node_monitors) {
            size_t cap = n->cap_node_monitors ? n->cap_node_monitors * 2 : 8;
            struct dd_mbox **p = realloc(n->node_monitors, cap * sizeof(*p));
            if (!p)
                rc = rt_fail(DD_ENOMEM, "out of memory");
            else {
                n->node_monitors = p;
                n->cap_node_monitors = cap;
            }
        }
        if (rc == DD_OK)
            n->node_monitors[n->n_node_monitors++] = mb;
    } else if (!on && present) {
        n->node_monitors[i] = n->node_monitors[--n->n_node_monitors];
    }
    pthread_mutex_unlock(&n->lock);
    return rc;
}

const char *dd_pid_str(const dd_pid *pid, char *buf, size_t cap)
{
    snprintf(buf, cap, "<%s.%u.%u>", pid->node, pid->num, pid->serial);
    return buf;
}

bool dd_pid_eq(const dd_pid *a, const dd_pid *b)
{
    return a->num == b->num && a->serial == b->serial && a->creation == b->creation &&
           strcmp(a->node, b->node) == 0;
}

bool dd_ref_eq(const dd_ref *a, const dd_ref *b)
{
    if (a->len != b->len || a->creation != b->creation || strcmp(a->node, b->node) != 0)
        return false;
    for (int i = 0; i < a->len && i < 5; i++)
        if (a->n[i] != b->n[i])
            return false;
    return true;
}
