/* The public API (include/dpdist/dpdist.h): argument checks and error reporting in front of
 * the runtime's modules.
 *
 * Every function checks its arguments before anything else and refuses what it cannot use
 * with a status (DD_EINVAL unless said otherwise) and the reason in dd_last_error(): NULL
 * pointers, empty or oversized names, pids and references whose node name is not
 * NUL-terminated, reference lengths outside 1..5, unknown flags and enum values, a mailbox
 * that is closing (DD_ECLOSED), a node that is stopping (DD_ECLOSED, refused under the
 * node's lock where a new mailbox or connection would otherwise escape dd_node_stop).
 * Functions that return a value return a neutral one (NULL, 0, DD_CARRIER_NONE, false, "")
 * and set the error the same way. What cannot be checked: a pointer used after
 * dd_mbox_close or dd_node_stop freed it (the contract in dpdist.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "control/nodename.h"
#include "dpdist/dpdist.h"
#include "runtime/api/dd_testing.h"
#include "runtime/core/conn.h"
#include "config/cfg.h"
#include "runtime/api/api_node_cfg.h"
#include "runtime/carrier_dpdk/dpc.h"
#include "runtime/carrier_tcp/tcpc.h"
#include "runtime/core/carrier.h"
#include "runtime/core/mbox.h"
#include "runtime/core/node.h"
#include "runtime/core/node_api.h"
#include "runtime/core/rcu.h"
#include "runtime/core/route.h"
#include "runtime/core/terms.h"

/* ---- status codes ------------------------------------------------------------------- */

const char *dd_strerror(int status)
{
    switch (status) {
#define DD_X_CASE(name, value, msg)                                                                \
    case value:                                                                                    \
        return msg;
        DD_STATUS_CODES(DD_X_CASE)
#undef DD_X_CASE
    default:
        return "unknown status";
    }
}

const char *dd_last_error(void)
{
    return lasterr_get();
}

const char *dd_version(void)
{
    return DPDIST_VERSION_STRING;
}

/* ---- argument checks ---------------------------------------------------------------- */

static int need_node(const dd_node *n)
{
    return n ? DD_OK : lasterr_set(DD_EINVAL, "node is NULL");
}

static int need_mbox(const dd_mbox *mb)
{
    if (!mb)
        return lasterr_set(DD_EINVAL, "mailbox is NULL");
    if (atomic_load(&mb->closed))
        return lasterr_set(DD_ECLOSED, "mailbox %u is closed", mb->pid.num);
    return DD_OK;
}

static int need_ptr(const void *p, const char *what)
{
    return p ? DD_OK : lasterr_set(DD_EINVAL, "%s is NULL", what);
}

/* A node name to look up or dial: 1..NODENAME_MAX_BYTES bytes. Whether it is a node name
 * is checked where it is used (conn_get_or_dial: DD_EINVAL). */
static int need_node_name(const char *s, const char *what)
{
    if (!s)
        return lasterr_set(DD_EINVAL, "%s is NULL", what);
    size_t len = strnlen(s, NODENAME_MAX_BYTES + 1);
    if (len == 0 || len > NODENAME_MAX_BYTES)
        return lasterr_set(DD_EINVAL, "%s must be 1..%d bytes", what, NODENAME_MAX_BYTES);
    return DD_OK;
}

/* An atom (a registered name): 1..255 characters of UTF-8, no NUL. */
static int need_atom(const char *s, const char *what)
{
    if (!s)
        return lasterr_set(DD_EINVAL, "%s is NULL", what);
    size_t len = strnlen(s, MAXATOMLEN_UTF8);
    size_t chars = 0;
    for (size_t i = 0; i < len; i++)
        chars += ((unsigned char)s[i] & 0xc0) != 0x80;
    if (len == 0 || len >= MAXATOMLEN_UTF8 || chars > MAXATOMLEN - 1)
        return lasterr_set(DD_EINVAL, "%s must be 1..%d characters", what, MAXATOMLEN - 1);
    return DD_OK;
}

/* The node name inside a pid or reference: NUL-terminated within its array, not empty. */
static int need_id_node(const char *node, size_t cap, const char *what)
{
    size_t len = strnlen(node, cap);
    if (len == 0 || len == cap)
        return lasterr_set(DD_EINVAL, "%s has no node name (empty or not NUL-terminated)", what);
    return DD_OK;
}

static int need_pid(const dd_pid *p, const char *what)
{
    if (!p)
        return lasterr_set(DD_EINVAL, "%s is NULL", what);
    return need_id_node(p->node, sizeof(p->node), what);
}

static int need_ref(const dd_ref *r, const char *what)
{
    if (!r)
        return lasterr_set(DD_EINVAL, "%s is NULL", what);
    if (r->len < 1 || r->len > (int)(sizeof(r->n) / sizeof(r->n[0])))
        return lasterr_set(DD_EINVAL, "%s has %d words (1..5)", what, r->len);
    return need_id_node(r->node, sizeof(r->node), what);
}

/* A term to send: not above the node's maximum (before walking it), then well-formed. */
static int need_term(const dd_node *n, const void *term, size_t len)
{
    if (len > n->max_msg)
        return lasterr_set(DD_ETOOBIG, "message of %zu bytes is above the maximum of %zu", len,
                       n->max_msg);
    return route_check_term(term, len);
}

/* ---- nodes --------------------------------------------------------------------------- */

/* The carriers a node runs, in start order: the data plane first (its config is checked
 * whole before anything listens), then TCP (it connects, and stays the control channel). */
static const struct rt_transport *const g_transports[] = {&dpc_transport, &tcpc_transport};

/* The config file is loaded here, once, and checked whole (the machine too) before anything
 * starts; its [node] section fills what cfg leaves unset (api_node_cfg.c); the transports get
 * the loaded file (the DPDK carrier starts the data plane from its [port]). */
int dd_node_start(const struct dd_node_cfg *cfg, dd_node **out)
{
    if (!cfg || !out)
        return lasterr_set(DD_EINVAL, "cfg and out are required");
    struct rt_start st = {.cfg = cfg};
    const unsigned n_transports = sizeof(g_transports) / sizeof(g_transports[0]);
    if (!cfg->config_file || !cfg->config_file[0]) /* "": refused by the core's checks */
        return node_start(&st, g_transports, n_transports, out);

    struct cfg_file *file = malloc(sizeof(*file));
    if (!file)
        return lasterr_set(DD_ENOMEM, "out of memory");
    if (cfg_load_for_node(cfg->config_file, file) != 0) {
        free(file);
        return lasterr_set(DD_ECONFIG, "invalid configuration %s (see the messages above)",
                           cfg->config_file);
    }
    struct dd_node_cfg eff;
    char cookie[256], err[768];
    int rc = node_cfg_apply_file(cfg, file, &eff, cookie, sizeof(cookie), err, sizeof(err));
    if (rc == DD_OK) {
        st = (struct rt_start){.cfg = &eff, .file = file};
        rc = node_start(&st, g_transports, n_transports, out);
    } else {
        lasterr_set(rc, "%s", err);
    }
    explicit_bzero(cookie, sizeof(cookie));
    free(file);
    return rc;
}

void dd_node_stop(dd_node *node)
{
    node_stop(node);
}

const char *dd_node_name(const dd_node *node)
{
    return need_node(node) == DD_OK ? node->name : NULL;
}

uint32_t dd_node_creation(const dd_node *node)
{
    return need_node(node) == DD_OK ? node->creation : 0;
}

int dd_set_cookie(dd_node *node, const char *peer, const char *cookie)
{
    int rc;
    if ((rc = need_node(node)) || (peer && (rc = need_node_name(peer, "peer"))) ||
        (rc = need_ptr(cookie, "cookie")))
        return rc;
    return node_set_cookie(node, peer, cookie);
}

int dd_connect(dd_node *node, const char *peer, int timeout_ms)
{
    int rc;
    if ((rc = need_node(node)) || (rc = need_node_name(peer, "peer")))
        return rc;
    if (strcmp(peer, node->name) == 0)
        return DD_OK; /* connected to itself: a success that sets no error */
    struct conn *c = conn_get_or_dial(node, peer);
    if (!c)
        return lasterr_status();
    rc = conn_wait_up(c, timeout_ms);
    conn_unref(c);
    return rc;
}

int dd_ping(dd_node *node, const char *peer, int timeout_ms)
{
    int rc;
    if ((rc = need_node(node)) || (rc = need_node_name(peer, "peer")))
        return rc;
    if (strcmp(peer, node->name) == 0)
        return DD_OK;
    uint64_t deadline = clock_now_ms() + (uint64_t)(timeout_ms < 0 ? 60000 : timeout_ms);
    rc = dd_connect(node, peer, timeout_ms);
    if (rc != DD_OK)
        return rc;
    dd_mbox *mb;
    rc = mbox_open(node, NULL, 0, &mb);
    if (rc != DD_OK)
        return rc;
    /* {'$gen_call', {Self, Tag}, {is_auth, node()}} to net_kernel, as net_adm:ping/1. */
    dd_ref tag;
    node_make_ref(node, &tag);
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
            rc = lasterr_set(DD_ETIMEDOUT, "no answer from %s", peer);
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
    mbox_close(mb, term_normal, term_normal_len);
    if (!pong && rc == DD_OK)
        rc = lasterr_set(DD_ENOCONN, "%s did not answer yes", peer);
    return pong ? DD_OK : rc;
}

int dd_nodes(dd_node *node, enum dd_nodes_which which, char ***names, size_t *count)
{
    int rc;
    if ((rc = need_node(node)) || (rc = need_ptr(names, "names")))
        return rc;
    if (which != DD_NODES_VISIBLE && which != DD_NODES_HIDDEN && which != DD_NODES_CONNECTED)
        return lasterr_set(DD_EINVAL, "which must be DD_NODES_VISIBLE, _HIDDEN or _CONNECTED");
    size_t cap = 16, k = 0;
    bool oom = false;
    char **out = malloc(cap * sizeof(*out));
    if (!out)
        return lasterr_set(DD_ENOMEM, "out of memory");
    struct cds_lfht_iter it;
    struct conn *c;
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
            if (!p) {
                oom = true;
                break;
            }
            out = p;
            cap *= 2;
        }
        if (!(out[k] = strdup(c->peer))) {
            oom = true;
            break;
        }
        k++;
    }
    rcu_rd_leave();
    out[k] = NULL;
    if (oom) { /* a partial list would pass for the whole one */
        dd_nodes_free(out);
        return lasterr_set(DD_ENOMEM, "out of memory");
    }
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
    if (need_node(node) || need_node_name(peer, "peer"))
        return k;
    rcu_rd_enter();
    struct conn *c = conn_lookup(node, peer);
    if (c && atomic_load(&c->state) == CONN_UP)
        k = conn_carrier_kind(c);
    rcu_rd_leave();
    return k;
}

int dd_peer_stats(dd_node *node, const char *peer, struct dd_peer_stats *out)
{
    int rc;
    if ((rc = need_node(node)) || (rc = need_node_name(peer, "peer")) ||
        (rc = need_ptr(out, "out")))
        return rc;
    memset(out, 0, sizeof(*out));
    rcu_rd_enter();
    struct conn *c = conn_lookup(node, peer);
    if (c)
        conn_ref(c);
    rcu_rd_leave();
    if (!c || atomic_load(&c->state) != CONN_UP) {
        if (c)
            conn_unref(c);
        return lasterr_set(DD_ENOTFOUND, "not connected to %s", peer);
    }
    const struct rt_carrier_ops *carrier = atomic_load(&c->carrier);
    out->carrier = carrier->kind;
    if (carrier->peer_stats)
        carrier->peer_stats(c, out);
    conn_unref(c);
    return DD_OK;
}

int dd_dataplane_summary(dd_node *node, FILE *out)
{
    int rc;
    if ((rc = need_node(node)) || (rc = need_ptr(out, "out")))
        return rc;
    RT_FOR_EACH_TRANSPORT(node, t)
    {
        if (t->summary && (rc = t->summary(node, out)) != DD_ENOTFOUND)
            return rc;
    }
    return lasterr_set(DD_ENOTFOUND, "%s has no data plane", node->name);
}

int dd_dataplane_fault(dd_node *node, bool enable)
{
    int rc;
    if ((rc = need_node(node)))
        return rc;
    RT_FOR_EACH_TRANSPORT(node, t)
    {
        if (t->fault && (rc = t->fault(node, enable)) != DD_ENOTFOUND)
            return rc;
    }
    return lasterr_set(DD_ENOTFOUND, "%s has no fault injection configured", node->name);
}

int dd_testing_mbox_spin(const dd_node *node, uint64_t *spin_ns, bool *yields)
{
    if (!node || !spin_ns || !yields)
        return lasterr_set(DD_EINVAL, "NULL argument");
    *yields = node->mbox_spin_ns & MBOX_SPIN_YIELD;
    *spin_ns = node->mbox_spin_ns & ~MBOX_SPIN_YIELD;
    return DD_OK;
}

unsigned dd_testing_mbox_spin_skip_after(bool spun, bool ready, bool busy)
{
    return mbox_spin_skip_after(spun, ready, busy);
}

int dd_disconnect(dd_node *node, const char *peer)
{
    int rc;
    if ((rc = need_node(node)) || (rc = need_node_name(peer, "peer")))
        return rc;
    rcu_rd_enter();
    struct conn *c = conn_lookup(node, peer);
    if (c)
        conn_ref(c);
    rcu_rd_leave();
    if (!c)
        return lasterr_set(DD_ENOTFOUND, "not connected to %s", peer);
    conn_down(c, DD_ECLOSED, "disconnected by the application");
    conn_unref(c);
    return DD_OK;
}

int dd_make_ref(dd_node *node, dd_ref *out)
{
    int rc;
    if ((rc = need_node(node)) || (rc = need_ptr(out, "out")))
        return rc;
    node_make_ref(node, out);
    return DD_OK;
}

/* ---- mailboxes ----------------------------------------------------------------------- */

int dd_mbox_open(dd_node *node, const char *regname, unsigned flags, dd_mbox **out)
{
    int rc;
    if ((rc = need_node(node)) || (rc = need_ptr(out, "out")) ||
        (regname && (rc = need_atom(regname, "registered name"))))
        return rc;
    if (flags & ~(unsigned)DD_MBOX_EXPRESS)
        return lasterr_set(DD_EINVAL, "unknown mailbox flags 0x%x", flags & ~(unsigned)DD_MBOX_EXPRESS);
    return mbox_open(node, regname, flags, out);
}

void dd_mbox_close(dd_mbox *mb)
{
    if (mb)
        mbox_close(mb, term_normal, term_normal_len);
}

void dd_mbox_close_reason(dd_mbox *mb, const void *reason, size_t len)
{
    if (!mb)
        return;
    if (route_check_term(reason, len) != DD_OK) {
        mbox_close(mb, term_normal, term_normal_len);
        return;
    }
    mbox_close(mb, reason, len);
}

const dd_pid *dd_mbox_pid(const dd_mbox *mb)
{
    return need_ptr(mb, "mailbox") == DD_OK ? &mb->pid : NULL;
}

dd_node *dd_mbox_node(const dd_mbox *mb)
{
    return need_ptr(mb, "mailbox") == DD_OK ? mb->node : NULL;
}

/* ---- sending ------------------------------------------------------------------------- */

static int need_send_flags(unsigned flags)
{
    if (flags & ~(unsigned)DD_SEND_NONBLOCK)
        return lasterr_set(DD_EINVAL, "unknown send flags 0x%x", flags & ~(unsigned)DD_SEND_NONBLOCK);
    return DD_OK;
}

int dd_send_flags(dd_mbox *from, const dd_pid *to, const void *term, size_t len, unsigned flags)
{
    int rc;
    if ((rc = need_mbox(from)) || (rc = need_pid(to, "to")) || (rc = need_send_flags(flags)) ||
        (rc = need_term(from->node, term, len)))
        return rc;
    return route_send_pid(from, to, term, len, flags & DD_SEND_NONBLOCK);
}

int dd_send(dd_mbox *from, const dd_pid *to, const void *term, size_t len)
{
    return dd_send_flags(from, to, term, len, 0);
}

int dd_send_reg_flags(dd_mbox *from, const char *name, const char *node, const void *term,
                      size_t len, unsigned flags)
{
    int rc;
    if ((rc = need_mbox(from)) || (rc = need_atom(name, "name")) ||
        (node && (rc = need_node_name(node, "node"))) || (rc = need_send_flags(flags)) ||
        (rc = need_term(from->node, term, len)))
        return rc;
    return route_send_reg(from, name, node, term, len, flags & DD_SEND_NONBLOCK);
}

int dd_send_reg(dd_mbox *from, const char *name, const char *node, const void *term, size_t len)
{
    return dd_send_reg_flags(from, name, node, term, len, 0);
}

int dd_send_alias(dd_mbox *from, const dd_ref *alias, const void *term, size_t len)
{
    int rc;
    if ((rc = need_mbox(from)) || (rc = need_ref(alias, "alias")) ||
        (rc = need_term(from->node, term, len)))
        return rc;
    return route_send_alias(from, alias, term, len);
}

int dd_exit(dd_mbox *from, const dd_pid *to, const void *reason, size_t len)
{
    int rc;
    if ((rc = need_mbox(from)) || (rc = need_pid(to, "to")) ||
        (rc = need_term(from->node, reason, len)))
        return rc;
    route_exit_signal(from->node, &from->pid, to, reason, len, false);
    return DD_OK;
}

/* ---- receiving ----------------------------------------------------------------------- */

int dd_recv(dd_mbox *mb, dd_msg **out, int timeout_ms)
{
    int rc;
    if ((rc = need_mbox(mb)) || (rc = need_ptr(out, "out")))
        return rc;
    return mbox_recv(mb, out, timeout_ms);
}

void dd_msg_free(dd_msg *msg)
{
    mbox_msg_free(msg);
}

/* ---- links and monitors -------------------------------------------------------------- */

int dd_link(dd_mbox *mb, const dd_pid *pid)
{
    int rc;
    if ((rc = need_mbox(mb)) || (rc = need_pid(pid, "pid")))
        return rc;
    return route_link(mb, pid);
}

int dd_unlink(dd_mbox *mb, const dd_pid *pid)
{
    int rc;
    if ((rc = need_mbox(mb)) || (rc = need_pid(pid, "pid")))
        return rc;
    return route_unlink(mb, pid);
}

int dd_monitor(dd_mbox *mb, const dd_pid *pid, dd_ref *ref)
{
    int rc;
    if ((rc = need_mbox(mb)) || (rc = need_pid(pid, "pid")) || (rc = need_ptr(ref, "ref")))
        return rc;
    return route_monitor(mb, pid, NULL, NULL, ref);
}

int dd_monitor_name(dd_mbox *mb, const char *name, const char *node, dd_ref *ref)
{
    int rc;
    if ((rc = need_mbox(mb)) || (rc = need_atom(name, "name")) ||
        (node && (rc = need_node_name(node, "node"))) || (rc = need_ptr(ref, "ref")))
        return rc;
    return route_monitor(mb, NULL, name, node, ref);
}

int dd_demonitor(dd_mbox *mb, const dd_ref *ref)
{
    int rc;
    if ((rc = need_mbox(mb)) || (rc = need_ref(ref, "ref")))
        return rc;
    return route_demonitor_ref(mb, ref);
}

int dd_monitor_nodes(dd_mbox *mb, bool on)
{
    int rc;
    if ((rc = need_mbox(mb)))
        return rc;
    struct dd_node *n = mb->node;
    pthread_mutex_lock(&n->lock);
    if (atomic_load(&mb->closed)) { /* mbox_close removes subscribers under this lock */
        pthread_mutex_unlock(&n->lock);
        return lasterr_set(DD_ECLOSED, "mailbox %u is closed", mb->pid.num);
    }
    size_t i;
    for (i = 0; i < n->n_node_monitors && n->node_monitors[i] != mb; i++)
        ;
    bool present = i < n->n_node_monitors;
    rc = DD_OK;
    if (on && !present) {
        if (n->n_node_monitors == n->cap_node_monitors) {
            size_t cap = n->cap_node_monitors ? n->cap_node_monitors * 2 : 8;
            struct dd_mbox **p = realloc(n->node_monitors, cap * sizeof(*p));
            if (!p)
                rc = lasterr_set(DD_ENOMEM, "out of memory");
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

/* ---- helpers ------------------------------------------------------------------------- */

const char *dd_pid_str(const dd_pid *pid, char *buf, size_t cap)
{
    if (!buf || cap == 0) {
        lasterr_set(DD_EINVAL, "buf is NULL or has no room");
        return "";
    }
    if (!pid) {
        lasterr_set(DD_EINVAL, "pid is NULL");
        buf[0] = '\0';
        return buf;
    }
    snprintf(buf, cap, "<%.*s.%u.%u>", (int)strnlen(pid->node, sizeof(pid->node)), pid->node,
             pid->num, pid->serial);
    return buf;
}

bool dd_pid_eq(const dd_pid *a, const dd_pid *b)
{
    if (need_pid(a, "a") || need_pid(b, "b"))
        return false;
    return node_pid_eq(a, b);
}

bool dd_ref_eq(const dd_ref *a, const dd_ref *b)
{
    if (need_ref(a, "a") || need_ref(b, "b"))
        return false;
    return node_ref_eq(a, b);
}
