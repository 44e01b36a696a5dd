/* ag_server: the agent's Unix socket and the VMs' links (ag_server.h). Slow path, one
 * thread: it may allocate (one struct per accepted socket, bounded by max_vms + max_conns)
 * and log. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/ag_proto.h"
#include "agent/ag_server.h"
#include "common/log.h"

#define LOG_MOD            "agent"
#define AG_EPOLL_BATCH     64
#define AG_TIMER_MAX_MS    1000
#define AG_EXPIRE_EVERY_MS 100 /* pending offers are swept this often (O(max_conns)) */

enum ag_client_kind { AG_CLIENT_NEW, AG_CLIENT_LINK, AG_CLIENT_DATA };

struct ag_client {
    struct ag_client *prev, *next; /* next stays as it was when a client is unlinked */
    struct ag_client *dead_next;   /* the graveyard's list */
    int fd;
    enum ag_client_kind kind;
    pid_t pid;
    uid_t uid;
    gid_t gid;
    uint32_t vm_id;         /* links */
    char name[64];          /* the VM's node name, cut, for logs */
    uint64_t last_ack_ms;   /* links: last PROBE_ACK (or REGISTER) */
    uint64_t next_probe_ms; /* links */
    uint32_t probe_seq;     /* links: the last PROBE sent */
    size_t in_len;
    uint8_t in[AG_PROTO_MSG_MAX];
};

struct ag_server {
    struct ag_server_cfg cfg;
    int listen_fd, epfd;
    struct ag_client *clients;   /* every accepted socket */
    struct ag_client *graveyard; /* closed this step, freed at its end (events may name them) */
    unsigned n_clients, n_links;
    uint32_t next_vm_id;
    struct ag_endpoint endpoint; /* valid when has_endpoint */
    bool has_endpoint;
    struct ag_offers offers;
    uint64_t last_expire_ms;
    struct ag_server_counters ctr;
};

/* ---- the listening socket -------------------------------------------------------------- */

/* A socket at path that accepts a connection: another agent is running there. */
static bool socket_answers(const struct sockaddr_un *sa)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    bool up = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0;
    close(fd);
    return up;
}

static int listen_on(const struct ag_server_cfg *cfg, char *err, size_t errlen)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(cfg->socket) >= sizeof(sa.sun_path)) {
        snprintf(err, errlen, "socket path %s is longer than %zu bytes", cfg->socket,
                 sizeof(sa.sun_path) - 1);
        return -1;
    }
    memcpy(sa.sun_path, cfg->socket, strlen(cfg->socket) + 1);
    struct stat st;
    if (lstat(cfg->socket, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            snprintf(err, errlen, "%s exists and is not a socket: not replacing it", cfg->socket);
            return -1;
        }
        if (socket_answers(&sa)) {
            snprintf(err, errlen, "another agent answers on %s", cfg->socket);
            return -1;
        }
        unlink(cfg->socket); /* stale: its agent is gone */
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    mode_t old = umask(0177); /* never more open than 0600 before the chmod below */
    int rc = bind(fd, (const struct sockaddr *)&sa, sizeof(sa));
    int bind_errno = errno;
    umask(old);
    if (rc < 0) {
        snprintf(err, errlen, "bind %s: %s", cfg->socket, strerror(bind_errno));
        close(fd);
        return -1;
    }
    const char *step = NULL;
    if (cfg->socket_gid != (gid_t)-1 && chown(cfg->socket, (uid_t)-1, cfg->socket_gid) < 0)
        step = "chown";
    else if (chmod(cfg->socket, cfg->socket_mode) < 0)
        step = "chmod";
    else if (listen(fd, 128) < 0)
        step = "listen";
    if (step) {
        snprintf(err, errlen, "%s %s: %s", step, cfg->socket, strerror(errno));
        close(fd);
        unlink(cfg->socket);
        return -1;
    }
    return fd;
}

struct ag_server *ag_server_open(const struct ag_server_cfg *cfg, char *err, size_t errlen)
{
    struct ag_server *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->cfg = *cfg;
    s->cfg.socket = NULL; /* borrowed strings are not kept; the path is needed at close */
    s->cfg.endpoint = NULL;
    if (cfg->endpoint) {
        s->endpoint = *cfg->endpoint;
        s->has_endpoint = true;
    }
    if (ag_offers_init(&s->offers, cfg->max_conns) != 0) {
        snprintf(err, errlen, "cannot allocate %u pending offers (max_conns)", cfg->max_conns);
        free(s);
        return NULL;
    }
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (s->epfd < 0) {
        snprintf(err, errlen, "epoll_create1: %s", strerror(errno));
        ag_offers_fini(&s->offers);
        free(s);
        return NULL;
    }
    s->listen_fd = listen_on(cfg, err, errlen);
    if (s->listen_fd < 0) {
        close(s->epfd);
        ag_offers_fini(&s->offers);
        free(s);
        return NULL;
    }
    s->cfg.socket = strdup(cfg->socket);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (!s->cfg.socket || epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->listen_fd, &ev) < 0) {
        snprintf(err, errlen, "cannot watch the socket: %s", strerror(errno ? errno : ENOMEM));
        unlink(cfg->socket);
        close(s->listen_fd);
        close(s->epfd);
        free((char *)s->cfg.socket);
        ag_offers_fini(&s->offers);
        free(s);
        return NULL;
    }
    s->next_vm_id = 1;
    return s;
}

void ag_server_set_endpoint(struct ag_server *s, const struct ag_endpoint *ep)
{
    s->endpoint = *ep;
    s->has_endpoint = true;
}

int ag_server_fd(const struct ag_server *s)
{
    return s->epfd;
}

unsigned ag_server_links(const struct ag_server *s)
{
    return s->n_links;
}

void ag_server_counters(const struct ag_server *s, struct ag_server_counters *out)
{
    *out = s->ctr;
}

/* ---- clients --------------------------------------------------------------------------- */

static const char *kind_name(const struct ag_client *c)
{
    return c->kind == AG_CLIENT_LINK   ? "link"
           : c->kind == AG_CLIENT_DATA ? "data socket"
                                       : "socket";
}

/* Closes c's socket and unlinks it; the struct is freed at the end of the step (bury_dead):
 * an event already returned for it, or a loop that holds its next, finds fd -1. */
static void client_free(struct ag_server *s, struct ag_client *c)
{
    epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (c->kind == AG_CLIENT_LINK)
        s->n_links--;
    s->n_clients--;
    c->dead_next = s->graveyard;
    s->graveyard = c;
}

static void bury_dead(struct ag_server *s)
{
    while (s->graveyard) {
        struct ag_client *c = s->graveyard;
        s->graveyard = c->dead_next;
        free(c);
    }
}

/* Closes c; a link takes its VM's data sockets with it (docs/agent.md §6). */
static void client_close(struct ag_server *s, struct ag_client *c)
{
    if (c->kind == AG_CLIENT_LINK) {
        DLOG_INFO(LOG_MOD, "VM %u (%s, pid %d) unlinked", c->vm_id, c->name, (int)c->pid);
        ag_offers_drop_vm(&s->offers, c->vm_id);
        for (struct ag_client *d = s->clients, *next; d; d = next) {
            next = d->next;
            if (d->kind == AG_CLIENT_DATA && d->fd >= 0 && d->pid == c->pid)
                client_free(s, d);
        }
    }
    client_free(s, c);
}

/* Writes one message whole, or closes c (returns false). */
static bool client_send(struct ag_server *s, struct ag_client *c, const struct ag_msg *m)
{
    uint8_t buf[AG_PROTO_MSG_MAX];
    size_t len;
    enum ag_proto_result r = ag_proto_encode(m, buf, sizeof(buf), &len);
    if (r != AG_PROTO_OK) { /* our own message: a bug, not the VM's fault */
        DLOG_ERR(LOG_MOD, "cannot encode %s: %s", ag_proto_type_name(m->type),
                 ag_proto_strerror(r));
        client_close(s, c);
        return false;
    }
    ssize_t n = send(c->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n == (ssize_t)len)
        return true;
    if (n >= 0 || errno == EAGAIN || errno == EWOULDBLOCK) {
        s->ctr.tx_full++;
        DLOG_WARN(LOG_MOD, "%s of pid %d does not read its replies: closed", kind_name(c),
                  (int)c->pid);
    }
    client_close(s, c);
    return false;
}

static void send_refused_text(struct ag_server *s, struct ag_client *c, uint32_t req,
                              enum ag_reason reason, const char *text)
{
    struct ag_msg m = {.type = AG_MSG_REFUSED};
    m.u.refused.req = req;
    m.u.refused.reason = (uint16_t)reason;
    m.u.refused.text_len = (uint16_t)strlen(text);
    m.u.refused.text = (const uint8_t *)text;
    client_send(s, c, &m);
}

static void send_refused(struct ag_server *s, struct ag_client *c, uint32_t req,
                         enum ag_reason reason)
{
    send_refused_text(s, c, req, reason, ag_reason_text(reason));
}

static bool id_listed(const uint32_t *ids, uint32_t n, uint32_t id)
{
    for (uint32_t i = 0; i < n; i++)
        if (ids[i] == id)
            return true;
    return false;
}

static bool cred_allowed(const struct ag_server_cfg *cfg, uid_t uid, gid_t gid)
{
    if (cfg->n_uids == 0 && cfg->n_gids == 0)
        return true;
    return id_listed(cfg->allow_uids, cfg->n_uids, (uint32_t)uid) ||
           id_listed(cfg->allow_gids, cfg->n_gids, (uint32_t)gid);
}

static void accept_one(struct ag_server *s, uint64_t now_ms)
{
    int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return; /* EAGAIN, or the peer left already */
    struct ucred cred;
    socklen_t cl = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 || cl != sizeof(cred)) {
        DLOG_WARN(LOG_MOD, "SO_PEERCRED: %s: connection closed", strerror(errno));
        s->ctr.refused_cred++;
        close(fd);
        return;
    }
    if (!cred_allowed(&s->cfg, cred.uid, cred.gid)) {
        s->ctr.refused_cred++;
        DLOG_WARN(LOG_MOD,
                  "refused pid %d: uid %u gid %u may not use this agent (allow_uids, "
                  "allow_gids); %llu refused so far",
                  (int)cred.pid, (unsigned)cred.uid, (unsigned)cred.gid,
                  (unsigned long long)s->ctr.refused_cred);
        close(fd); /* before a byte is read or written */
        return;
    }
    if (s->n_clients >= s->cfg.max_vms + s->cfg.max_conns) {
        s->ctr.refused_limit++;
        DLOG_WARN(LOG_MOD, "refused pid %d: %u sockets open (max_vms + max_conns)", (int)cred.pid,
                  s->n_clients);
        close(fd);
        return;
    }
    struct ag_client *c = calloc(1, sizeof(*c));
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
    if (!c || epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        DLOG_WARN(LOG_MOD, "refused pid %d: %s", (int)cred.pid, c ? strerror(errno) : "no memory");
        free(c);
        close(fd);
        return;
    }
    c->fd = fd;
    c->kind = AG_CLIENT_NEW;
    c->pid = cred.pid;
    c->uid = cred.uid;
    c->gid = cred.gid;
    c->last_ack_ms = now_ms;
    c->next = s->clients;
    if (s->clients)
        s->clients->prev = c;
    s->clients = c;
    s->n_clients++;
    s->ctr.accepted++;
}

static struct ag_client *live_link_of(struct ag_server *s, pid_t pid)
{
    for (struct ag_client *c = s->clients; c; c = c->next)
        if (c->kind == AG_CLIENT_LINK && c->pid == pid)
            return c;
    return NULL;
}

/* ---- messages -------------------------------------------------------------------------- */

static void on_register(struct ag_server *s, struct ag_client *c, const struct ag_msg *m,
                        uint64_t now_ms)
{
    if (m->u.reg.version != AG_PROTO_VERSION) {
        s->ctr.refused_version++;
        DLOG_WARN(LOG_MOD, "refused pid %d: protocol version %u (this agent speaks %u)",
                  (int)c->pid, m->u.reg.version, AG_PROTO_VERSION);
        send_refused(s, c, 0, AG_REASON_VERSION);
        return;
    }
    if (s->n_links >= s->cfg.max_vms || live_link_of(s, c->pid)) {
        s->ctr.refused_limit++;
        DLOG_WARN(LOG_MOD, "refused a link of pid %d: %s", (int)c->pid,
                  s->n_links >= s->cfg.max_vms ? "max_vms links open" : "it has one already");
        send_refused(s, c, 0, AG_REASON_LIMIT);
        return;
    }
    c->kind = AG_CLIENT_LINK;
    c->vm_id = s->next_vm_id++;
    if (s->next_vm_id == 0)
        s->next_vm_id = 1;
    size_t n = m->u.reg.name_len < sizeof(c->name) ? m->u.reg.name_len : sizeof(c->name) - 1;
    for (size_t i = 0; i < n; i++) /* for logs: printable ASCII only */
        c->name[i] =
            m->u.reg.name[i] >= 0x20 && m->u.reg.name[i] < 0x7f ? (char)m->u.reg.name[i] : '?';
    c->name[n] = '\0';
    c->last_ack_ms = now_ms;
    c->next_probe_ms = now_ms + s->cfg.probe_interval_ms;
    s->n_links++;
    s->ctr.links++;
    struct ag_msg w = {.type = AG_MSG_WELCOME};
    w.u.welcome.version = AG_PROTO_VERSION;
    w.u.welcome.mode = s->cfg.frame_auth;
    w.u.welcome.vm_id = c->vm_id;
    w.u.welcome.endpoint_id = s->cfg.endpoint_id;
    w.u.welcome.max_conns = s->cfg.max_conns;
    w.u.welcome.probe_interval_ms = s->cfg.probe_interval_ms;
    w.u.welcome.probe_timeout_ms = s->cfg.probe_timeout_ms;
    if (client_send(s, c, &w))
        DLOG_INFO(LOG_MOD, "VM %u linked: %s, pid %d, uid %u", c->vm_id, c->name, (int)c->pid,
                  (unsigned)c->uid);
}

static void on_attach(struct ag_server *s, struct ag_client *c, const struct ag_msg *m)
{
    s->ctr.attach_refused++;
    const struct ag_client *link = live_link_of(s, c->pid);
    struct ag_pending p;
    if (link && ag_offers_take(&s->offers, link->vm_id, m->u.attach.token, &p)) {
        /* The offer was ours; the channel that would carry it is not built yet. */
        static const char text[] = "this agent does not carry connections over its data plane "
                                   "yet (docs/agent.md §9)";
        DLOG_WARN(LOG_MOD, "ATTACH of VM %u (conn %u): %s", link->vm_id, p.conn_rx_id, text);
        send_refused_text(s, c, 0, AG_REASON_UNREACHABLE, text);
        return;
    }
    enum ag_reason why = link ? AG_REASON_UNKNOWN_TOKEN : AG_REASON_NO_LINK;
    DLOG_WARN(LOG_MOD, "refused an ATTACH of pid %d: %s", (int)c->pid, ag_reason_text(why));
    send_refused(s, c, 0, why);
}

/* OFFER_OUT or OFFER_IN: a trailer for the VM's handshake, or a status. */
static bool on_offer(struct ag_server *s, struct ag_client *c, const struct ag_msg *m,
                     uint64_t now_ms)
{
    bool out = m->type == AG_MSG_OFFER_OUT;
    struct ag_msg r = {.type = out ? AG_MSG_OFFER : AG_MSG_ANSWER};
    r.u.offer.req = out ? m->u.offer_out.req : m->u.offer_in.req;
    uint8_t trailer[DPTRAILER_MAX_LEN];
    size_t len = 0;
    enum ag_reason status = AG_REASON_UNREACHABLE;
    enum dptrailer_result why = DPTRAILER_OK;
    uint8_t rnd[AG_OFFER_RANDOM_LEN];
    if (s->has_endpoint) {
        if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
            status = AG_REASON_LIMIT; /* no randomness now: try later */
        else
            status = ag_offers_issue(&s->offers, &s->endpoint, c->vm_id,
                                     out ? m->u.offer_out.x25519_pub : m->u.offer_in.x25519_pub,
                                     out ? NULL : m->u.offer_in.offer, out ? 0 : m->u.offer_in.len,
                                     rnd, now_ms, s->cfg.attach_timeout_ms, trailer,
                                     sizeof(trailer), &len, &why);
    }
    if (status == AG_REASON_OK) {
        s->ctr.offers_issued++;
        r.u.offer.len = (uint16_t)len;
        r.u.offer.trailer = trailer;
    } else {
        s->ctr.offers_refused++;
        if (why != DPTRAILER_OK)
            DLOG_WARN(LOG_MOD, "VM %u (%s): no %s: %s (%s)", c->vm_id, c->name,
                      out ? "offer" : "answer", ag_reason_text(status), dptrailer_strerror(why));
    }
    r.u.offer.status = (uint16_t)status;
    return client_send(s, c, &r);
}

/* One message on a link. Returns false when c was closed. */
static bool on_link_msg(struct ag_server *s, struct ag_client *c, const struct ag_msg *m,
                        uint64_t now_ms)
{
    struct ag_msg r = {0};
    switch (m->type) {
    case AG_MSG_PROBE:
        r.type = AG_MSG_PROBE_ACK;
        r.u.probe.seq = m->u.probe.seq;
        return client_send(s, c, &r);
    case AG_MSG_PROBE_ACK:
        if (m->u.probe.seq == c->probe_seq)
            c->last_ack_ms = now_ms;
        return true;
    case AG_MSG_OFFER_OUT:
    case AG_MSG_OFFER_IN:
        return on_offer(s, c, m, now_ms);
    case AG_MSG_STATS:
        r.type = AG_MSG_STATS_REPLY;
        r.u.stats_reply.req = m->u.stats.req;
        r.u.stats_reply.status = AG_REASON_UNKNOWN_CONN;
        return client_send(s, c, &r);
    default:
        s->ctr.bad_message++;
        DLOG_WARN(LOG_MOD, "VM %u (%s) sent %s on its link: closed", c->vm_id, c->name,
                  ag_proto_type_name(m->type));
        client_close(s, c);
        return false;
    }
}

/* One message. Returns false when c was closed. */
static bool on_msg(struct ag_server *s, struct ag_client *c, const struct ag_msg *m,
                   uint64_t now_ms)
{
    if (c->kind == AG_CLIENT_LINK)
        return on_link_msg(s, c, m, now_ms);
    if (c->kind == AG_CLIENT_NEW && m->type == AG_MSG_REGISTER) {
        on_register(s, c, m, now_ms);
        if (c->kind != AG_CLIENT_LINK) { /* refused: the VM reads why, then the socket closes */
            client_close(s, c);
            return false;
        }
        return true;
    }
    if (c->kind == AG_CLIENT_NEW && m->type == AG_MSG_ATTACH) {
        on_attach(s, c, m);
        client_close(s, c);
        return false;
    }
    s->ctr.bad_message++;
    DLOG_WARN(LOG_MOD, "pid %d sent %s first on a %s: closed", (int)c->pid,
              ag_proto_type_name(m->type), kind_name(c));
    client_close(s, c);
    return false;
}

/* Reads what c has and handles every whole message. */
static void client_readable(struct ag_server *s, struct ag_client *c, uint64_t now_ms)
{
    ssize_t n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        s->ctr.closed_by_vm++;
        client_close(s, c);
        return;
    }
    if (n < 0)
        return;
    c->in_len += (size_t)n;
    size_t off = 0;
    for (;;) {
        const uint8_t *body;
        size_t body_len, total;
        enum ag_proto_result r =
            ag_proto_frame(c->in + off, c->in_len - off, &body, &body_len, &total);
        if (r == AG_PROTO_NEED_MORE)
            break;
        struct ag_msg m;
        if (r == AG_PROTO_OK)
            r = ag_proto_decode(body, body_len, &m);
        if (r != AG_PROTO_OK) {
            s->ctr.bad_message++;
            DLOG_WARN(LOG_MOD,
                      "pid %d sent a message that does not decode (%s) on its %s: "
                      "closed; %llu so far",
                      (int)c->pid, ag_proto_strerror(r), kind_name(c),
                      (unsigned long long)s->ctr.bad_message);
            client_close(s, c);
            return;
        }
        if (!on_msg(s, c, &m, now_ms))
            return;
        off += total;
    }
    memmove(c->in, c->in + off, c->in_len - off); /* a partial message, < AG_PROTO_MSG_MAX */
    c->in_len -= off;
}

/* ---- the loop's step --------------------------------------------------------------------- */

static void run_probes(struct ag_server *s, uint64_t now_ms)
{
    for (struct ag_client *c = s->clients, *next; c; c = next) {
        next = c->next;
        if (c->kind != AG_CLIENT_LINK || c->fd < 0) /* fd -1: closed by an earlier one */
            continue;
        if (now_ms - c->last_ack_ms > s->cfg.probe_timeout_ms) {
            s->ctr.probe_timeouts++;
            DLOG_WARN(LOG_MOD, "VM %u (%s, pid %d) answered no probe for %llu ms: closed", c->vm_id,
                      c->name, (int)c->pid, (unsigned long long)(now_ms - c->last_ack_ms));
            client_close(s, c);
            continue;
        }
        if (now_ms >= c->next_probe_ms) {
            c->next_probe_ms = now_ms + s->cfg.probe_interval_ms;
            struct ag_msg p = {.type = AG_MSG_PROBE};
            p.u.probe.seq = ++c->probe_seq;
            client_send(s, c, &p); /* closes c on failure; next was taken before */
        }
    }
}

unsigned ag_server_step(struct ag_server *s, uint64_t now_ms)
{
    struct epoll_event ev[AG_EPOLL_BATCH];
    int n = epoll_wait(s->epfd, ev, AG_EPOLL_BATCH, 0);
    for (int i = 0; i < n; i++) {
        if (!ev[i].data.ptr) {
            accept_one(s, now_ms);
            continue;
        }
        /* A client closed earlier in this batch (a link's data socket) has fd -1: epoll_ctl
         * DEL does not recall events already returned. */
        struct ag_client *c = ev[i].data.ptr;
        if (c->fd >= 0)
            client_readable(s, c, now_ms);
    }
    run_probes(s, now_ms);
    if (ag_offers_pending(&s->offers) && now_ms - s->last_expire_ms >= AG_EXPIRE_EVERY_MS) {
        s->last_expire_ms = now_ms;
        s->ctr.offers_expired += ag_offers_expire(&s->offers, now_ms);
    }
    bury_dead(s);
    return n > 0 ? (unsigned)n : 0;
}

uint64_t ag_server_next_timer_ms(const struct ag_server *s, uint64_t now_ms)
{
    uint64_t wait = AG_TIMER_MAX_MS;
    for (const struct ag_client *c = s->clients; c; c = c->next) {
        if (c->kind != AG_CLIENT_LINK)
            continue;
        uint64_t t = c->next_probe_ms > now_ms ? c->next_probe_ms - now_ms : 0;
        if (t < wait)
            wait = t;
    }
    return wait;
}

void ag_server_close(struct ag_server *s)
{
    if (!s)
        return;
    while (s->clients) {
        struct ag_client *c = s->clients;
        if (c->kind == AG_CLIENT_LINK) {
            send_refused(s, c, 0, AG_REASON_SHUTTING_DOWN); /* may close c itself */
            if (c->fd < 0)
                continue;
        }
        client_free(s, c);
    }
    close(s->listen_fd);
    unlink(s->cfg.socket);
    close(s->epfd);
    free((char *)s->cfg.socket);
    bury_dead(s);
    ag_offers_fini(&s->offers);
    free(s);
}
