/* The node: start-up (name, cookie, tables, the control thread, the carriers' transports,
 * EPMD registration), identities, cookies, node events, and shutdown. Its control thread is
 * runtime/core/ctl.c; the node's own socket there is the EPMD registration (EPMD closing it
 * ends our registration: logged); the carriers register theirs (e.g. the TCP listener).
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "control/cookie.h"
#include "control/distflags.h"
#include "control/epmd/epmd_client.h"
#include "runtime/core/carrier.h"
#include "runtime/core/conn.h"
#include "runtime/core/mbox.h"
#include "runtime/core/node.h"
#include "runtime/core/node_api.h"
#include "runtime/core/rcu.h"
#include "runtime/core/terms.h"

#define NODE_DEFAULT_TICKTIME_S   60
#define NODE_DEFAULT_SETUPTIME_MS 7000
#define NODE_DEFAULT_MAX_MSG      (256u << 20)
#define NODE_DEFAULT_REASM_BYTES  (512u << 20) /* two of the largest messages */
#define NODE_DEFAULT_MAILBOXES    32768
#define NODE_MAX_MAILBOXES        (1u << 15) /* pid numbers: 15 bits */
#define NODE_MAX_TICKTIME_S       65535      /* as the config's [node] ticktime */
#define NODE_MAX_SETUPTIME_MS     3600000u
#define NODE_MAX_MSG              0xffffffffu /* 4-byte distribution packet lengths */

/* ---- identities ---------------------------------------------------------------------- */

bool node_pid_is_local(const struct dd_node *n, const dd_pid *p)
{
    return p->creation == n->creation && strcmp(p->node, n->name) == 0;
}

bool node_pid_eq(const dd_pid *a, const dd_pid *b)
{
    return a->num == b->num && a->serial == b->serial && a->creation == b->creation &&
           strcmp(a->node, b->node) == 0;
}

bool node_ref_eq(const dd_ref *a, const dd_ref *b)
{
    if (a->len != b->len || a->creation != b->creation || strcmp(a->node, b->node) != 0)
        return false;
    for (int i = 0; i < a->len && i < 5; i++)
        if (a->n[i] != b->n[i])
            return false;
    return true;
}

void node_make_ref(struct dd_node *n, dd_ref *out)
{
    uint64_t v = atomic_fetch_add(&n->ref_counter, 1);
    memset(out, 0, sizeof(*out));
    snprintf(out->node, sizeof(out->node), "%s", n->name);
    out->len = 3;
    out->n[0] = (unsigned)(v & 0x3ffff);
    out->n[1] = (unsigned)(v >> 18);
    out->n[2] = (unsigned)(v >> 50);
    out->creation = n->creation;
}

/* ---- cookies ------------------------------------------------------------------------- */

const char *node_cookie_for(struct dd_node *n, const char *peer, char *buf, size_t cap)
{
    pthread_mutex_lock(&n->cookie_lock);
    const char *c = n->cookie;
    for (struct rt_cookie *k = n->cookies; k; k = k->next)
        if (peer && strcmp(k->peer, peer) == 0) {
            c = k->cookie;
            break;
        }
    snprintf(buf, cap, "%s", c);
    pthread_mutex_unlock(&n->cookie_lock);
    return buf;
}

int node_set_cookie(struct dd_node *n, const char *peer, const char *cookie)
{
    if (!cookie || cookie_validate(cookie, strlen(cookie)) != COOKIE_OK)
        return lasterr_set(DD_ECOOKIE, "invalid cookie: %s",
                       cookie ? cookie_strerror(cookie_validate(cookie, strlen(cookie)))
                              : "NULL");
    char *copy = strdup(cookie);
    if (!copy)
        return lasterr_set(DD_ENOMEM, "out of memory");
    pthread_mutex_lock(&n->cookie_lock);
    if (!peer) {
        free(n->cookie);
        n->cookie = copy;
    } else {
        struct rt_cookie *k;
        for (k = n->cookies; k; k = k->next)
            if (strcmp(k->peer, peer) == 0)
                break;
        if (!k) {
            k = calloc(1, sizeof(*k));
            if (!k || !(k->peer = strdup(peer))) {
                free(k);
                pthread_mutex_unlock(&n->cookie_lock);
                free(copy);
                return lasterr_set(DD_ENOMEM, "out of memory");
            }
            k->next = n->cookies;
            n->cookies = k;
        }
        free(k->cookie);
        k->cookie = copy;
    }
    pthread_mutex_unlock(&n->cookie_lock);
    return DD_OK;
}

/* ---- node events and work ------------------------------------------------------------ */

void node_notify_nodes(struct dd_node *n, const char *peer, bool up, bool visible)
{
    (void)visible; /* dd_monitor_nodes reports every node type */
    pthread_mutex_lock(&n->lock);
    rcu_rd_enter();
    for (size_t i = 0; i < n->n_node_monitors; i++) {
        struct sig *s = sig_new(SIG_READY);
        ei_x_buff x;
        if (!s || ei_x_new_with_version(&x) < 0) {
            sig_free(s);
            continue;
        }
        ei_x_encode_tuple_header(&x, 2);
        ei_x_encode_atom(&x, up ? "nodeup" : "nodedown");
        ei_x_encode_atom(&x, peer);
        s->msg.kind = up ? DD_MSG_NODEUP : DD_MSG_NODEDOWN;
        s->msg.term = x.buff;
        s->msg.len = (size_t)x.index;
        s->free_fn = free;
        s->free_arg = x.buff;
        mbox_push(n->node_monitors[i], s);
    }
    rcu_rd_leave();
    pthread_mutex_unlock(&n->lock);
}


/* ---- events of the node's own sockets --------------------------------------------- */

/* EPMD closed our registration connection: logged, the node stays up unregistered. */
static void epmd_event(struct ctl_item *it, uint32_t events)
{
    (void)events;
    struct dd_node *n = (struct dd_node *)((char *)it - offsetof(struct dd_node, epmd_item));
    char buf[64];
    ssize_t r = recv(n->epmd_fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (r == 0 || (r < 0 && errno != EAGAIN)) {
        DLOG_WARN(n->log_name, "the EPMD connection closed: %s is no longer registered",
                  n->name);
        ctl_del_fd(n, n->epmd_fd);
        close(n->epmd_fd);
        n->epmd_fd = -1;
    }
}

/* ---- start-up ------------------------------------------------------------------------ */

static int register_epmd(struct dd_node *n, const char *alive, char *err, size_t errlen)
{
    uint8_t extra[EPMD_EXTRA_MAX];
    size_t elen = 0;
    RT_FOR_EACH_TRANSPORT(n, t)
    {
        if (!elen && t->epmd_extra)
            elen = t->epmd_extra(n, extra, sizeof(extra));
    }
    struct epmd_node_rec rec = {
        .port = n->listen_port,
        .node_type = n->hidden ? EPMD_NODE_TYPE_HIDDEN : EPMD_NODE_TYPE_NORMAL,
        .protocol = EPMD_PROTO_TCP_IPV4,
        .high_vsn = 6,
        .low_vsn = 6,
        .name = (const uint8_t *)alive,
        .name_len = (uint16_t)strlen(alive),
        .extra = extra,
        .extra_len = (uint16_t)elen,
    };
    uint8_t result = 0;
    int rc = epmd_client_register(n->epmd_host_set ? n->epmd_host : NULL, n->epmd_port, &rec,
                                  10000, &n->epmd_fd, &result, &n->creation);
    if (rc < 0) {
        snprintf(err, errlen, "cannot register with EPMD on port %u: %s", n->epmd_port,
                 strerror(-rc));
        return DD_EEPMD;
    }
    if (result != 0) {
        snprintf(err, errlen, "name already in use: EPMD on port %u refused '%s' (result %u)",
                 n->epmd_port, alive, result);
        return DD_ENAMEINUSE;
    }
    return DD_OK;
}

static uint16_t default_epmd_port(void)
{
    const char *e = getenv("ERL_EPMD_PORT");
    if (e && *e) {
        char *end;
        long v = strtol(e, &end, 10);
        if (*end == '\0' && v > 0 && v < 65536)
            return (uint16_t)v;
    }
    return EPMD_DEFAULT_PORT;
}

static unsigned long ht_hash_ptr(const void *p)
{
    return (unsigned long)(uintptr_t)p;
}

static struct cds_lfht *new_table(void)
{
    (void)ht_hash_ptr;
    return cds_lfht_new_flavor(64, 64, 0, CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING,
                               &urcu_qsbr_flavor, NULL);
}

static void node_free(struct dd_node *n)
{
    if (!n)
        return;
    if (n->epmd_fd >= 0)
        close(n->epmd_fd);
    ctl_fini(&n->ctl);
    if (n->conns)
        cds_lfht_destroy(n->conns, NULL);
    if (n->names)
        cds_lfht_destroy(n->names, NULL);
    free(n->slots);
    free(n->slot_serial);
    free(n->free_slots);
    free(n->node_monitors);
    while (n->cookies) {
        struct rt_cookie *k = n->cookies;
        n->cookies = k->next;
        free(k->peer);
        free(k->cookie);
        free(k);
    }
    free(n->cookie);
    free(n);
}

/* What dd_node_start refuses before it touches anything (the name and the cookie are
 * checked where they are read). */
static int check_cfg(const struct dd_node_cfg *cfg)
{
    if (cfg->ticktime_s > NODE_MAX_TICKTIME_S)
        return lasterr_set(DD_EINVAL, "ticktime_s %u is above %u", cfg->ticktime_s,
                       NODE_MAX_TICKTIME_S);
    if (cfg->setuptime_ms > NODE_MAX_SETUPTIME_MS)
        return lasterr_set(DD_EINVAL, "setuptime_ms %u is above %u", cfg->setuptime_ms,
                       NODE_MAX_SETUPTIME_MS);
    if (cfg->max_message_bytes > NODE_MAX_MSG)
        return lasterr_set(DD_EINVAL, "max_message_bytes %zu is above %zu (4-byte packet lengths)",
                       cfg->max_message_bytes, (size_t)NODE_MAX_MSG);
    struct {
        const char *what, *value;
        size_t max;
    } strs[] = {
        {"epmd_host", cfg->epmd_host, sizeof(((struct dd_node *)0)->epmd_host) - 1},
        {"listen_address", cfg->listen_address, sizeof(((struct dd_node *)0)->listen_address) - 1},
        {"config_file", cfg->config_file, 4095},
    };
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        if (!strs[i].value)
            continue;
        size_t len = strnlen(strs[i].value, strs[i].max + 1);
        if (len == 0 || len > strs[i].max)
            return lasterr_set(DD_EINVAL, "%s must be 1..%zu bytes (NULL for the default)",
                           strs[i].what, strs[i].max);
    }
    if (cfg->listen_port_max && cfg->listen_port_max < cfg->listen_port_min)
        return lasterr_set(DD_EINVAL, "listen port range %u..%u is empty", cfg->listen_port_min,
                       cfg->listen_port_max);
    return DD_OK;
}

/* The one unwind path of node_start, and the end of node_stop: closes the system mailbox if
 * it opened, stops the transports that started (reverse order), waits for what they and the
 * connections handed to call_rcu (conn_fini uses n->transports), and frees n with every fd
 * and table that exists (node_free checks each). Idempotent parts only: safe at any stage. */
static void node_teardown(struct dd_node *n)
{
    if (n->system) {
        mbox_close(n->system, term_normal, term_normal_len);
        n->system = NULL;
    }
    for (unsigned i = n->n_transports; i-- > 0;)
        if (n->transport_started[i] && n->transports[i]->node_stop)
            n->transports[i]->node_stop(n);
    urcu_qsbr_barrier();
    node_free(n);
}

/* Starts the transports in order; the trailer they advertise. */
static int start_transports(struct dd_node *n, const struct rt_start *st, char *err,
                            size_t errlen)
{
    uint8_t caps = 0;
    for (unsigned i = 0; i < n->n_transports; i++) {
        const struct rt_transport *t = n->transports[i];
        if (t->node_start) {
            int rc = t->node_start(n, st, err, errlen);
            if (rc != DD_OK)
                return rc;
        }
        n->transport_started[i] = true;
        if (t->trailer_caps)
            caps |= t->trailer_caps(n);
    }
    n->trailer_len = dpctl_trailer_encode(n->trailer, sizeof(n->trailer), caps);
    return DD_OK;
}

/* The struct with its locks, transports and every fd at -1: what node_teardown can always
 * undo. NULL when out of memory. */
static struct dd_node *node_alloc(const struct rt_transport *const *transports,
                                  unsigned n_transports)
{
    struct dd_node *n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    n->epmd_fd = -1;
    ctl_preinit(&n->ctl);
    for (unsigned i = 0; i < n_transports && i < RT_TRANSPORTS_MAX; i++) {
        n->transports[n->n_transports++] = transports[i];
        if (transports[i]->dial)
            n->dialler = transports[i];
    }
    pthread_mutex_init(&n->lock, NULL);
    pthread_mutex_init(&n->cookie_lock, NULL);
    return n;
}

/* Name, flags and limits from cfg (checked by check_cfg). */
static int node_settings(struct dd_node *n, const struct dd_node_cfg *cfg, struct nodename *nn)
{
    enum nodename_kind kind = cfg->sname ? NODENAME_SHORT : NODENAME_LONG;
    const char *arg = cfg->sname ? cfg->sname : cfg->name;
    enum nodename_result nr = nodename_from_arg(nn, arg, kind);
    if (nr != NODENAME_OK)
        return lasterr_set(DD_EINVAL, "node name '%s': %s", arg, nodename_strerror(nr));
    snprintf(n->name, sizeof(n->name), "%s", nn->full);
    snprintf(n->log_name, sizeof(n->log_name), "%.*s", (int)sizeof(n->log_name) - 1, nn->full);
    n->kind = kind;
    n->hidden = cfg->hidden;
    n->flags = DISTFLAGS_ADVERTISED | (cfg->hidden ? 0 : DFLAG_PUBLISHED);
    unsigned tt = cfg->ticktime_s ? cfg->ticktime_s : NODE_DEFAULT_TICKTIME_S;
    n->ticktime_ms = tt * 1000;
    n->tick_interval_ms = n->ticktime_ms / 4;
    n->setuptime_ms = cfg->setuptime_ms ? cfg->setuptime_ms : NODE_DEFAULT_SETUPTIME_MS;
    n->max_msg = cfg->max_message_bytes ? cfg->max_message_bytes : NODE_DEFAULT_MAX_MSG;
    n->mbox_spin_ns = mbox_spin_ns_for_this_process();
    n->max_mailboxes = cfg->max_mailboxes ? cfg->max_mailboxes : NODE_DEFAULT_MAILBOXES;
    if (n->max_mailboxes >= NODE_MAX_MAILBOXES)
        n->max_mailboxes = NODE_MAX_MAILBOXES - 1;
    size_t reasm_cap =
        cfg->max_reassembly_bytes ? cfg->max_reassembly_bytes : NODE_DEFAULT_REASM_BYTES;
    if (reasm_cap < n->max_msg)
        return lasterr_set(DD_EINVAL,
                           "max_reassembly_bytes (%zu) must be at least max_message_bytes (%zu): "
                           "the largest message must fit",
                           reasm_cap, n->max_msg);
    budget_init(&n->reasm_budget, reasm_cap);
    n->epmd_port = cfg->epmd_port ? cfg->epmd_port : default_epmd_port();
    if (cfg->epmd_host) {
        snprintf(n->epmd_host, sizeof(n->epmd_host), "%s", cfg->epmd_host);
        n->epmd_host_set = true;
    }
    return DD_OK;
}

static int node_cookie_init(struct dd_node *n, const struct dd_node_cfg *cfg)
{
    char cookie[256], err[512];
    err[0] = '\0';
    enum cookie_result cr = cookie_get(cfg->cookie, NULL, cookie, sizeof(cookie), err, sizeof(err));
    if (cr != COOKIE_OK)
        return lasterr_set(DD_ECOOKIE, "%s", err[0] ? err : cookie_strerror(cr));
    n->cookie = strdup(cookie);
    explicit_bzero(cookie, sizeof(cookie));
    return n->cookie ? DD_OK : lasterr_set(DD_ENOMEM, "out of memory");
}

/* Mailbox slots (slot 1 handed out first), the connection and name tables. */
static int node_tables_init(struct dd_node *n)
{
    n->slots = calloc(n->max_mailboxes + 1, sizeof(*n->slots));
    n->slot_serial = calloc(n->max_mailboxes + 1, sizeof(*n->slot_serial));
    n->free_slots = calloc(n->max_mailboxes, sizeof(*n->free_slots));
    n->conns = new_table();
    n->names = new_table();
    if (!n->slots || !n->slot_serial || !n->free_slots || !n->conns || !n->names)
        return lasterr_set(DD_ENOMEM, "out of memory");
    for (size_t i = 0; i < n->max_mailboxes; i++)
        n->free_slots[i] = (uint32_t)(n->max_mailboxes - i);
    n->n_free = n->max_mailboxes;
    atomic_init(&n->ref_counter, 1);
    return DD_OK;
}

/* Algorithm: each stage acquires one kind of resource and records it in n (fds >= 0, tables,
 * transport_started[], n->system); any failure sets the thread's last error and jumps to the
 * single unwind path, node_teardown, which releases exactly what exists. Order: settings
 * and cookie (nothing to release), tables, the control loop's fds, the transports (data
 * plane, then the TCP listener), EPMD registration, the system mailbox, the control
 * thread (after it runs, a failure can no longer happen). */
int node_start(const struct rt_start *st, const struct rt_transport *const *transports,
               unsigned n_transports, struct dd_node **out)
{
    const struct dd_node_cfg *cfg = st ? st->cfg : NULL;
    if (!cfg || !out)
        return lasterr_set(DD_EINVAL, "cfg and out are required");
    if ((cfg->sname != NULL) == (cfg->name != NULL))
        return lasterr_set(DD_EINVAL, "give exactly one of sname and name");
    int rc = check_cfg(cfg);
    if (rc != DD_OK)
        return rc;
    struct dd_node *n = node_alloc(transports, n_transports);
    if (!n)
        return lasterr_set(DD_ENOMEM, "out of memory");

    char err[512];
    struct nodename nn;
    if ((rc = node_settings(n, cfg, &nn)) != DD_OK || (rc = node_cookie_init(n, cfg)) != DD_OK ||
        (rc = node_tables_init(n)) != DD_OK)
        goto fail;
    /* the timer: twice per tick interval (ticks are due every tick interval) */
    int erc = ctl_init(n, n->tick_interval_ms / 2);
    if (erc < 0) {
        rc = lasterr_set(DD_EIO, "cannot create the event loop: %s", strerror(-erc));
        goto fail;
    }
    if ((rc = start_transports(n, st, err, sizeof(err))) != DD_OK ||
        (rc = register_epmd(n, nn.alive, err, sizeof(err))) != DD_OK) {
        lasterr_set(rc, "%s", err);
        goto fail;
    }
    n->epmd_item.on_event = epmd_event;
    erc = ctl_add_fd(n, n->epmd_fd, EPOLLIN | EPOLLRDHUP, &n->epmd_item);
    if (erc < 0) {
        rc = lasterr_set(DD_EIO, "cannot poll the EPMD connection: %s", strerror(-erc));
        goto fail;
    }
    if (mbox_open(n, NULL, 0, &n->system) != DD_OK) {
        n->system = NULL;
        rc = lasterr_set(DD_ENOMEM, "cannot open the system mailbox");
        goto fail;
    }
    if (ctl_start(n) != 0) {
        rc = lasterr_set(DD_EIO, "cannot start the control thread");
        goto fail;
    }
    DLOG_INFO(n->log_name, "node %s started: listening on %s port %u, creation %u, %s",
              n->name, n->listen_address, n->listen_port, n->creation,
              n->hidden ? "hidden" : "visible");
    *out = n;
    return DD_OK;
fail:
    node_teardown(n);
    return rc;
}

void node_stop(struct dd_node *n)
{
    if (!n)
        return;
    DLOG_INFO(n->log_name, "node %s stopping", n->name);
    /* From here on no mailbox opens and no connection starts (mbox_open, conn_insert_new):
     * the loops below would miss them. */
    pthread_mutex_lock(&n->lock);
    n->closing = true;
    pthread_mutex_unlock(&n->lock);
    /* Mailboxes first: their exit signals still go out on live connections. */
    for (size_t i = 1; i <= n->max_mailboxes; i++) {
        struct dd_mbox *mb = atomic_load(&n->slots[i]);
        if (mb && mb != n->system)
            mbox_close(mb, term_shutdown, term_shutdown_len);
    }
    /* Give the control thread a moment to flush those signals. */
    for (int i = 0; i < 50; i++) {
        bool busy = false;
        struct cds_lfht_iter it;
        struct conn *c;
        rcu_rd_enter();
        cds_lfht_for_each_entry(n->conns, &it, c, ht_node)
        {
            RT_FOR_EACH_TRANSPORT(n, t)
            {
                if (t->conn_busy)
                    busy |= t->conn_busy(c);
            }
        }
        rcu_rd_leave();
        if (!busy)
            break;
        usleep(10000);
    }
    conn_down_all(n, "node stopping");
    mbox_close(n->system, term_normal, term_normal_len);
    ctl_stop(n);
    /* What would still post to the control thread lets go (e.g. blocked diallers finish
     * alone); what was posted runs below. */
    RT_FOR_EACH_TRANSPORT(n, t)
    {
        if (t->node_halt)
            t->node_halt(n);
    }
    /* Work posted by conn_down (closing sockets) runs here, on this thread, including what
     * that work posts in turn. */
    rcu_rd_enter();
    ctl_drain(n);
    rcu_rd_leave();
    n->system = NULL; /* closed above */
    node_teardown(n); /* the transports stop in reverse order */
}
