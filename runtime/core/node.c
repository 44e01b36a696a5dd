/* The node: start-up (name, cookie, listener, EPMD registration, data plane), the control
 * thread's event loop, node events, and shutdown.
 *
 * The control thread sleeps in epoll_wait on: the listener, every connection socket, the
 * EPMD registration socket (EPMD closing it ends our registration: logged), a wake eventfd
 * for work posted by other threads (node_post), and a periodic timer for ticks, handshake
 * deadlines and pending connections that got nowhere. It is a QSBR RCU reader only while it
 * processes events, offline while it sleeps.
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
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "control/cookie.h"
#include "control/distflags.h"
#include "control/epmd/epmd_client.h"
#include "runtime/core/carrier.h"
#include "runtime/core/conn.h"
#include "runtime/carrier_dpdk/dp_glue.h"
#include "runtime/carrier_tcp/hsio.h"
#include "runtime/core/mbox.h"
#include "runtime/core/node.h"
#include "runtime/core/node_api.h"
#include "runtime/core/rcu.h"
#include "runtime/carrier_tcp/rxbudget.h"
#include "runtime/carrier_tcp/tcpc.h"
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
#define NODE_TX_QUEUE_LIMIT       (8u << 20)
#define NODE_RX_UNCONSUMED_LIMIT  (64u << 20)
#define NODE_TIMER_MAX_MS         100
#define NODE_EPOLL_BATCH          64
#define NODE_LISTEN_ANY_DUAL      "::"      /* IPv6 and IPv4 (IPV6_V6ONLY off) */
#define NODE_LISTEN_ANY_V4        "0.0.0.0" /* a kernel without IPv6 */

static struct rt_item g_item_listener = {ITEM_LISTENER};
static struct rt_item g_item_wake = {ITEM_WAKE};
static struct rt_item g_item_timer = {ITEM_TIMER};
static struct rt_item g_item_epmd = {ITEM_EPMD};

uint64_t rt_now_ms(void)
{
    return clock_now_ms();
}

/* ---- identities ---------------------------------------------------------------------- */

bool rt_pid_is_local(const struct dd_node *n, const dd_pid *p)
{
    return p->creation == n->creation && strcmp(p->node, n->name) == 0;
}

void rt_make_ref(struct dd_node *n, dd_ref *out)
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
        return rt_fail(DD_ECOOKIE, "invalid cookie: %s",
                       cookie ? cookie_strerror(cookie_validate(cookie, strlen(cookie)))
                              : "NULL");
    char *copy = strdup(cookie);
    if (!copy)
        return rt_fail(DD_ENOMEM, "out of memory");
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
                return rt_fail(DD_ENOMEM, "out of memory");
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
        struct rt_sig *s = rt_sig_new(SIG_READY);
        ei_x_buff x;
        if (!s || ei_x_new_with_version(&x) < 0) {
            rt_sig_free(s);
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

void node_wake(struct dd_node *n)
{
    uint64_t one = 1;
    ssize_t w = write(n->wake_fd, &one, sizeof(one));
    (void)w;
}

void node_post(struct dd_node *n, void (*fn)(struct dd_node *, void *), void *arg)
{
    struct rt_work *w = malloc(sizeof(*w));
    if (!w) {
        DLOG_ERR(n->log_name, "out of memory posting work to the control thread");
        return;
    }
    w->fn = fn;
    w->arg = arg;
    w->next = NULL;
    pthread_mutex_lock(&n->work_lock);
    struct rt_work **pp = &n->work;
    while (*pp)
        pp = &(*pp)->next;
    *pp = w;
    pthread_mutex_unlock(&n->work_lock);
    node_wake(n);
}

static void run_work(struct dd_node *n)
{
    pthread_mutex_lock(&n->work_lock);
    struct rt_work *w = n->work;
    n->work = NULL;
    pthread_mutex_unlock(&n->work_lock);
    while (w) {
        struct rt_work *next = w->next;
        w->fn(n, w->arg);
        free(w);
        w = next;
    }
}

/* ---- periodic work ------------------------------------------------------------------- */

static void periodic(struct dd_node *n, uint64_t now)
{
    hsio_reap(n, now);
    /* Reassembly memory given back on the poller (DPDK deliveries) or by freed connections
     * lets the connections that wait for it go on; refusals are logged here too. */
    rxb_periodic(n, now);
    /* Ticks and liveness of established connections; pending ones that got nowhere. */
    struct cds_lfht_iter it;
    struct dd_conn *c;
    /* Every connection, however many (a fixed batch left the rest without ticks). */
    size_t k = 0, cap = 256;
    struct dd_conn **batch = malloc(cap * sizeof(*batch));
    if (!batch)
        return;
    cds_lfht_for_each_entry(n->conns, &it, c, ht_node)
    {
        if (k == cap) {
            struct dd_conn **more = realloc(batch, 2 * cap * sizeof(*batch));
            if (!more)
                break;
            batch = more;
            cap *= 2;
        }
        conn_ref(c);
        batch[k++] = c;
    }
    for (size_t i = 0; i < k; i++) {
        c = batch[i];
        int st = atomic_load(&c->state);
        if (st == CONN_UP) {
            tcpc_tick(c, now);
        } else if (st == CONN_PENDING && !c->sock && !c->dialling &&
                   now > c->created_ms + 2ull * n->setuptime_ms) {
            conn_down(c, DD_ETIMEDOUT, "no connection came up within the set-up time");
        }
        conn_unref(c);
    }
    free(batch);
}

/* ---- the control thread -------------------------------------------------------------- */

static void *control_main(void *arg)
{
    struct dd_node *n = arg;
    struct epoll_event evs[NODE_EPOLL_BATCH];
    char tname[16];
    snprintf(tname, sizeof(tname), "dd-ctl");
    pthread_setname_np(pthread_self(), tname);
    /* With an inline data plane nobody else may be polling: keep its heartbeats and acks
     * going from here, a few times per heartbeat interval. */
    int wait_ms = NODE_TIMER_MAX_MS;
    if (dp_glue_inline(n)) {
        uint64_t hb_ms = dp_glue_hb_interval_ns(n) / 1000000u;
        wait_ms = hb_ms >= 4 ? (int)(hb_ms / 4) : 1;
    }
    while (!atomic_load(&n->stopping)) {
        int cnt = epoll_wait(n->ep, evs, NODE_EPOLL_BATCH, wait_ms);
        if (cnt < 0 && errno != EINTR) {
            DLOG_ERR(n->log_name, "epoll_wait: %s", strerror(errno));
            break;
        }
        rcu_rd_enter();
        uint64_t now = rt_now_ms();
        bool timer = cnt == 0;
        for (int i = 0; i < cnt; i++) {
            struct rt_item *it = evs[i].data.ptr;
            switch (it->kind) {
            case ITEM_LISTENER:
                hsio_accept(n);
                break;
            case ITEM_WAKE: {
                uint64_t v;
                ssize_t r = read(n->wake_fd, &v, sizeof(v));
                (void)r;
                break;
            }
            case ITEM_TIMER: {
                uint64_t v;
                ssize_t r = read(n->timer_fd, &v, sizeof(v));
                (void)r;
                timer = true;
                break;
            }
            case ITEM_EPMD: {
                char buf[64];
                ssize_t r = recv(n->epmd_fd, buf, sizeof(buf), MSG_DONTWAIT);
                if (r == 0 || (r < 0 && errno != EAGAIN)) {
                    DLOG_WARN(n->log_name,
                              "the EPMD connection closed: %s is no longer registered",
                              n->name);
                    epoll_ctl(n->ep, EPOLL_CTL_DEL, n->epmd_fd, NULL);
                    close(n->epmd_fd);
                    n->epmd_fd = -1;
                }
                break;
            }
            case ITEM_SOCK:
                hsio_on_event(n, (struct rt_sock *)it, evs[i].events);
                break;
            }
        }
        run_work(n);
        dp_glue_check_events(n);
        if (timer)
            periodic(n, now);
        hsio_bury(n);
        rcu_rd_leave();
        dp_glue_poll(n, 4);
    }
    return NULL;
}

/* ---- start-up ------------------------------------------------------------------------ */

/* Binds and listens on addr, on the first free port of lo..hi (any
 * port when lo is 0). Returns the socket, or -1 with errno and the message in err. */
static int listen_on(const char *addr, unsigned lo, unsigned hi, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(addr, "0", &hints, &res);
    if (gai != 0) {
        snprintf(err, errlen, "listen address %s: %s", addr, gai_strerror(gai));
        errno = EINVAL;
        return -1;
    }
    int fd = -1, e = 0;
    for (unsigned port = lo; port <= hi && fd < 0; port++) {
        fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
            e = errno;
            break;
        }
        int one = 1, zero = 0;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (res->ai_family == AF_INET6) /* "::" takes IPv4 too */
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
        struct sockaddr_storage ss;
        memcpy(&ss, res->ai_addr, res->ai_addrlen);
        if (ss.ss_family == AF_INET6)
            ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
        else
            ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
        if (bind(fd, (struct sockaddr *)&ss, res->ai_addrlen) < 0 || listen(fd, 128) < 0) {
            e = errno;
            close(fd);
            fd = -1;
            if (!lo || e != EADDRINUSE)
                break;
        }
        if (!lo)
            break;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        if (lo && e == EADDRINUSE)
            snprintf(err, errlen, "no free listen port on %s in %u..%u", addr, lo, hi);
        else
            snprintf(err, errlen, "cannot listen on %s: %s", addr, strerror(e));
        errno = e;
    }
    return fd;
}

/* The distribution listener. Without a listen address: "::" with IPV6_V6ONLY off (IPv4 and
 * IPv6 peers alike), or 0.0.0.0 on a kernel without IPv6 (ipv6.disable=1: no AF_INET6
 * sockets). With net.ipv6.conf.*.disable_ipv6 set, "::" still binds and takes IPv4. */
static int open_listener(struct dd_node *n, const struct dd_node_cfg *cfg, char *err,
                         size_t errlen)
{
    unsigned lo = cfg->listen_port_min, hi = cfg->listen_port_max;
    if (lo && !hi)
        hi = lo;
    if (hi < lo) {
        snprintf(err, errlen, "listen port range %u..%u is empty", lo, hi);
        return -1;
    }
    const char *addr = cfg->listen_address;
    int fd;
    if (addr) {
        fd = listen_on(addr, lo, hi, err, errlen);
    } else {
        addr = NODE_LISTEN_ANY_DUAL;
        fd = listen_on(addr, lo, hi, err, errlen);
        if (fd < 0 && errno == EAFNOSUPPORT) {
            DLOG_INFO(n->log_name, "this kernel has no IPv6: listening on IPv4 only");
            addr = NODE_LISTEN_ANY_V4;
            fd = listen_on(addr, lo, hi, err, errlen);
        }
    }
    if (fd < 0)
        return -1;
    struct sockaddr_storage got;
    socklen_t gl = sizeof(got);
    getsockname(fd, (struct sockaddr *)&got, &gl);
    n->listen_port = ntohs(got.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&got)->sin6_port
                                                     : ((struct sockaddr_in *)&got)->sin_port);
    snprintf(n->listen_address, sizeof(n->listen_address), "%s", addr);
    n->listen_fd = fd;
    return 0;
}

static int register_epmd(struct dd_node *n, const char *alive, char *err, size_t errlen)
{
    uint8_t extra[EPMD_EXTRA_MAX];
    size_t elen = dp_glue_epmd_extra(n, extra, sizeof(extra));
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
    if (n->listen_fd >= 0)
        close(n->listen_fd);
    if (n->epmd_fd >= 0)
        close(n->epmd_fd);
    if (n->ep >= 0)
        close(n->ep);
    if (n->wake_fd >= 0)
        close(n->wake_fd);
    if (n->timer_fd >= 0)
        close(n->timer_fd);
    if (n->conns)
        cds_lfht_destroy(n->conns, NULL);
    if (n->names)
        cds_lfht_destroy(n->names, NULL);
    if (n->tick)
        obuf_unref(n->tick);
    free(n->slots);
    free(n->slot_serial);
    free(n->free_slots);
    free(n->node_monitors);
    free(n->hsguard);
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
        return rt_fail(DD_EINVAL, "ticktime_s %u is above %u", cfg->ticktime_s,
                       NODE_MAX_TICKTIME_S);
    if (cfg->setuptime_ms > NODE_MAX_SETUPTIME_MS)
        return rt_fail(DD_EINVAL, "setuptime_ms %u is above %u", cfg->setuptime_ms,
                       NODE_MAX_SETUPTIME_MS);
    if (cfg->max_message_bytes > NODE_MAX_MSG)
        return rt_fail(DD_EINVAL, "max_message_bytes %zu is above %zu (4-byte packet lengths)",
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
            return rt_fail(DD_EINVAL, "%s must be 1..%zu bytes (NULL for the default)",
                           strs[i].what, strs[i].max);
    }
    if (cfg->listen_port_max && cfg->listen_port_max < cfg->listen_port_min)
        return rt_fail(DD_EINVAL, "listen port range %u..%u is empty", cfg->listen_port_min,
                       cfg->listen_port_max);
    return DD_OK;
}

int node_start(const struct dd_node_cfg *cfg, struct dd_node **out)
{
    char err[512];
    if (!cfg || !out)
        return rt_fail(DD_EINVAL, "cfg and out are required");
    if ((cfg->sname != NULL) == (cfg->name != NULL))
        return rt_fail(DD_EINVAL, "give exactly one of sname and name");
    int bad = check_cfg(cfg);
    if (bad != DD_OK)
        return bad;
    struct dd_node *n = calloc(1, sizeof(*n));
    if (!n)
        return rt_fail(DD_ENOMEM, "out of memory");
    n->listen_fd = n->epmd_fd = n->ep = n->wake_fd = n->timer_fd = -1;
    pthread_mutex_init(&n->lock, NULL);
    pthread_mutex_init(&n->copy_lock, NULL);
    pthread_mutex_init(&n->cookie_lock, NULL);
    pthread_mutex_init(&n->work_lock, NULL);

    struct nodename nn;
    enum nodename_kind kind = cfg->sname ? NODENAME_SHORT : NODENAME_LONG;
    enum nodename_result nr = nodename_from_arg(&nn, cfg->sname ? cfg->sname : cfg->name, kind);
    if (nr != NODENAME_OK) {
        node_free(n);
        return rt_fail(DD_EINVAL, "node name '%s': %s", cfg->sname ? cfg->sname : cfg->name,
                       nodename_strerror(nr));
    }
    snprintf(n->name, sizeof(n->name), "%s", nn.full);
    snprintf(n->log_name, sizeof(n->log_name), "%.*s", (int)sizeof(n->log_name) - 1, nn.full);
    n->kind = kind;
    n->hidden = cfg->hidden;
    n->flags = DISTFLAGS_ADVERTISED | (cfg->hidden ? 0 : DFLAG_PUBLISHED);
    unsigned tt = cfg->ticktime_s ? cfg->ticktime_s : NODE_DEFAULT_TICKTIME_S;
    n->ticktime_ms = tt * 1000;
    n->tick_interval_ms = n->ticktime_ms / 4;
    n->setuptime_ms = cfg->setuptime_ms ? cfg->setuptime_ms : NODE_DEFAULT_SETUPTIME_MS;
    n->max_msg = cfg->max_message_bytes ? cfg->max_message_bytes : NODE_DEFAULT_MAX_MSG;
    n->max_mailboxes = cfg->max_mailboxes ? cfg->max_mailboxes : NODE_DEFAULT_MAILBOXES;
    if (n->max_mailboxes >= NODE_MAX_MAILBOXES)
        n->max_mailboxes = NODE_MAX_MAILBOXES - 1;
    n->tx_queue_limit = NODE_TX_QUEUE_LIMIT;
    n->rx_unconsumed_limit = NODE_RX_UNCONSUMED_LIMIT;
    size_t reasm_cap =
        cfg->max_reassembly_bytes ? cfg->max_reassembly_bytes : NODE_DEFAULT_REASM_BYTES;
    if (reasm_cap < n->max_msg) {
        size_t max_msg = n->max_msg;
        node_free(n);
        return rt_fail(DD_EINVAL,
                       "max_reassembly_bytes (%zu) must be at least max_message_bytes (%zu): "
                       "the largest message must fit",
                       reasm_cap, max_msg);
    }
    budget_init(&n->reasm_budget, reasm_cap);
    n->hsguard = malloc(sizeof(*n->hsguard));
    if (!n->hsguard) {
        node_free(n);
        return rt_fail(DD_ENOMEM, "out of memory");
    }
    hsg_init(n->hsguard, &(struct hsg_params){.base_delay_ms = cfg->handshake_backoff_ms,
                                              .max_delay_ms = cfg->handshake_backoff_max_ms});
    n->epmd_port = cfg->epmd_port ? cfg->epmd_port : default_epmd_port();
    if (cfg->epmd_host) {
        snprintf(n->epmd_host, sizeof(n->epmd_host), "%s", cfg->epmd_host);
        n->epmd_host_set = true;
    }

    char cookie[256];
    enum cookie_result cr = cookie_get(cfg->cookie, NULL, cookie, sizeof(cookie), err, sizeof(err));
    if (cr != COOKIE_OK) {
        node_free(n);
        return rt_fail(DD_ECOOKIE, "%s", err[0] ? err : cookie_strerror(cr));
    }
    n->cookie = strdup(cookie);

    n->slots = calloc(n->max_mailboxes + 1, sizeof(*n->slots));
    n->slot_serial = calloc(n->max_mailboxes + 1, sizeof(*n->slot_serial));
    n->free_slots = calloc(n->max_mailboxes, sizeof(*n->free_slots));
    n->conns = new_table();
    n->names = new_table();
    static const uint8_t no_bytes[1];
    /* memcpy of 0 bytes still wants a pointer */
    n->tick = obuf_from_bytes(no_bytes, 0, 0, RT_LANE_PULSE);
    if (!n->cookie || !n->slots || !n->slot_serial || !n->free_slots || !n->conns ||
        !n->names || !n->tick) {
        node_free(n);
        return rt_fail(DD_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n->max_mailboxes; i++)
        n->free_slots[i] = (uint32_t)(n->max_mailboxes - i); /* slot 1 first */
    n->n_free = n->max_mailboxes;
    atomic_init(&n->ref_counter, 1);

    int rc = dp_glue_start(n, cfg->config_file, err, sizeof(err));
    if (rc != DD_OK) {
        node_free(n);
        return rt_fail(rc, "%s", err);
    }
    n->trailer_len = dp_glue_trailer(n, n->trailer, sizeof(n->trailer));
    if (open_listener(n, cfg, err, sizeof(err)) < 0) {
        dp_glue_stop(n);
        node_free(n);
        return rt_fail(DD_EIO, "%s", err);
    }
    rc = register_epmd(n, nn.alive, err, sizeof(err));
    if (rc != DD_OK) {
        dp_glue_stop(n);
        node_free(n);
        return rt_fail(rc, "%s", err);
    }
    for (size_t i = 0; i < n->max_mailboxes + 1; i++)
        n->slot_serial[i] = 0;

    n->ep = epoll_create1(EPOLL_CLOEXEC);
    n->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    n->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (n->ep < 0 || n->wake_fd < 0 || n->timer_fd < 0) {
        dp_glue_stop(n);
        node_free(n);
        return rt_fail(DD_EIO, "cannot create the event loop: %s", strerror(errno));
    }
    unsigned period = n->tick_interval_ms / 2;
    if (period > NODE_TIMER_MAX_MS || period == 0)
        period = NODE_TIMER_MAX_MS;
    struct itimerspec its = {.it_interval = {0, (long)period * 1000000},
                             .it_value = {0, (long)period * 1000000}};
    timerfd_settime(n->timer_fd, 0, &its, NULL);
    struct epoll_event e = {.events = EPOLLIN};
    e.data.ptr = &g_item_listener;
    epoll_ctl(n->ep, EPOLL_CTL_ADD, n->listen_fd, &e);
    e.data.ptr = &g_item_wake;
    epoll_ctl(n->ep, EPOLL_CTL_ADD, n->wake_fd, &e);
    e.data.ptr = &g_item_timer;
    epoll_ctl(n->ep, EPOLL_CTL_ADD, n->timer_fd, &e);
    e.data.ptr = &g_item_epmd;
    e.events = EPOLLIN | EPOLLRDHUP;
    epoll_ctl(n->ep, EPOLL_CTL_ADD, n->epmd_fd, &e);

    if (mbox_open(n, NULL, 0, &n->system) != DD_OK) {
        dp_glue_stop(n);
        node_free(n);
        return rt_fail(DD_ENOMEM, "cannot open the system mailbox");
    }
    if (pthread_create(&n->thread, NULL, control_main, n) != 0) {
        mbox_close(n->system, term_normal, term_normal_len);
        dp_glue_stop(n);
        node_free(n);
        return rt_fail(DD_EIO, "cannot start the control thread");
    }
    DLOG_INFO(n->log_name, "node %s started: listening on %s port %u, creation %u, %s%s",
              n->name, n->listen_address, n->listen_port, n->creation,
              n->hidden ? "hidden" : "visible",
              n->dp ? ", DPDK data plane" : "");
    *out = n;
    return DD_OK;
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
        struct dd_conn *c;
        rcu_rd_enter();
        cds_lfht_for_each_entry(n->conns, &it, c, ht_node)
        {
            pthread_mutex_lock(&c->tx_lock);
            busy |= c->txq_head != NULL && atomic_load(&c->state) == CONN_UP;
            pthread_mutex_unlock(&c->tx_lock);
        }
        rcu_rd_leave();
        if (!busy)
            break;
        usleep(10000);
    }
    conn_down_all(n, "node stopping");
    mbox_close(n->system, term_normal, term_normal_len);
    atomic_store(&n->stopping, true);
    node_wake(n);
    pthread_join(n->thread, NULL);
    /* Diallers still blocked finish alone; those that posted their result are run below. */
    hsio_orphan_dials(n);
    /* Work posted by conn_down (closing sockets) runs here, on this thread, including what
     * that work posts in turn. */
    rcu_rd_enter();
    while (n->work)
        run_work(n);
    rxb_resume(n); /* connections left waiting for reassembly memory (all down): let go */
    while (n->handshaking)
        hsio_sock_free(n, n->handshaking);
    hsio_bury(n);
    rcu_rd_leave();
    dp_glue_stop(n);
    urcu_qsbr_barrier(); /* conns freed by call_rcu */
    node_free(n);
}
