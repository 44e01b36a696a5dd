/* Dialling: an outgoing attempt's EPMD lookup and TCP connect, off the control thread (both
 * block, bounded by net_setuptime), then the handshake on the control thread (hsio.c).
 * dial_start from any thread; the rest as each function says. */
#include "runtime/carrier_tcp/dial.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "control/epmd/epmd_client.h"
#include "control/nodename.h"
#include "runtime/carrier_tcp/hsio.h"
#include "runtime/carrier_tcp/tcpc.h"
#include "runtime/core/conn.h"

/* One outgoing attempt's EPMD lookup and TCP connect, on a detached thread of its own (both
 * block, each bounded by net_setuptime, the name resolution by the resolver's own timeouts).
 *
 * Lifetime: shared by the thread and the node (refs, under mu). The thread reads only this
 * struct, never the node or the connection, except to post its result to the node's control
 * thread, which it does under mu and only while `node` is set. node_stop clears `node`
 * under mu (hsio_orphan_dials) for every attempt not yet posted, so a thread that outlives
 * its node (blocked in connect() toward a host that does not answer) finds it gone, closes
 * its socket and frees the struct alone. Before, the thread kept a plain pointer to the node
 * and used it after dd_node_stop had freed it: a crash whenever a node stopped while a
 * dial was blocked. */
struct dial {
    pthread_mutex_t mu;
    int refs;                       /* the thread's and the node's, under mu */
    struct dd_node *node;           /* NULL once orphaned, under mu */
    bool posted;                    /* dial_done is queued on the control thread, under mu */
    struct dial *next, *prev;  /* node->tcp->dials, under node->lock */
    /* Owned by the node side: the thread never touches it. */
    struct conn *conn;           /* a reference */
    unsigned gen;
    /* Copies for the thread. */
    char peer[HS_NAME_MAX + 1];
    uint16_t epmd_port;
    unsigned setuptime_ms;
    /* The thread's result, read by dial_done once posted. */
    int fd;
    int status;
    char why[2 * HS_NAME_MAX + 128];
    struct epmd_lookup lookup;
};

static void dial_put(struct dial *d)
{
    pthread_mutex_lock(&d->mu);
    bool last = --d->refs == 0;
    pthread_mutex_unlock(&d->mu);
    if (last) {
        pthread_mutex_destroy(&d->mu);
        free(d);
    }
}

/* Takes d off the node's list (node->lock held). */
static void dial_unlist(struct dd_node *n, struct dial *d)
{
    if (d->prev)
        d->prev->next = d->next;
    else
        n->tcp->dials = d->next;
    if (d->next)
        d->next->prev = d->prev;
    d->next = d->prev = NULL;
}

static void dial_done(struct dd_node *n, void *arg)
{
    struct dial *d = arg;
    struct conn *c = d->conn;
    pthread_mutex_lock(&n->lock);
    dial_unlist(n, d);
    bool wanted = atomic_load(&c->state) == CONN_PENDING && c->tcp->dial_gen == d->gen && !c->tcp->sock;
    pthread_mutex_unlock(&n->lock);
    if (!wanted) {
        DLOG_DBG(n->log_name, "dial to %s abandoned: %s", c->peer,
                 atomic_load(&c->state) == CONN_PENDING ? "simultaneous connect, the peer's wins"
                                                        : "no longer needed");
        if (d->fd >= 0)
            close(d->fd);
    } else if (d->fd < 0) {
        conn_down(c, d->status, d->why);
    } else {
        conn_peer_epmd_extra(c, d->lookup.extra, d->lookup.extra_len);
        hsio_dialled(n, d->fd, c);
    }
    conn_unref(c);
    dial_put(d);
}

static void *dial_thread(void *arg)
{
    struct dial *d = arg;
    const char *at = strrchr(d->peer, '@');
    char alive[NODENAME_MAX_BYTES + 1];
    size_t alen = at ? (size_t)(at - d->peer) : 0;
    memcpy(alive, d->peer, alen);
    alive[alen] = '\0';
    const char *host = at + 1;
    int rc = epmd_client_port_please(host, d->epmd_port, alive, (int)d->setuptime_ms,
                                     &d->lookup);
    if (rc < 0) {
        d->status = DD_ENOCONN;
        snprintf(d->why, sizeof(d->why), "cannot ask EPMD on %s:%u: %s", host, d->epmd_port,
                 strerror(-rc));
    } else if (!d->lookup.found) {
        d->status = DD_ENOCONN;
        snprintf(d->why, sizeof(d->why), "no node named %s registered with EPMD on %s", alive,
                 host);
    } else if (d->lookup.high_vsn < 6) {
        d->status = DD_ENOCONN;
        snprintf(d->why, sizeof(d->why), "%s speaks distribution version %u only (need 6)",
                 d->peer, d->lookup.high_vsn);
    } else {
        d->fd = epmd_client_connect(host, d->lookup.port, (int)d->setuptime_ms);
        if (d->fd < 0) {
            d->status = DD_ENOCONN;
            snprintf(d->why, sizeof(d->why), "cannot connect to %s port %u: %s", host,
                     d->lookup.port, strerror(-d->fd));
            d->fd = -1;
        } else {
            int fl = 1;
            setsockopt(d->fd, IPPROTO_TCP, TCP_NODELAY, &fl, sizeof(fl));
            fl = fcntl(d->fd, F_GETFL, 0);
            fcntl(d->fd, F_SETFL, fl | O_NONBLOCK);
        }
    }
    pthread_mutex_lock(&d->mu);
    bool orphaned = d->node == NULL;
    if (!orphaned) {
        d->posted = true;
        ctl_post(d->node, dial_done, d);
    }
    pthread_mutex_unlock(&d->mu);
    if (orphaned && d->fd >= 0)
        close(d->fd);
    dial_put(d);
    return NULL;
}

void dial_start(struct dd_node *n, struct conn *c)
{
    struct dial *d = calloc(1, sizeof(*d));
    if (!d) {
        conn_down(c, DD_ENOMEM, "out of memory");
        return;
    }
    pthread_mutex_init(&d->mu, NULL);
    d->refs = 2;
    d->node = n;
    d->conn = c;
    d->fd = -1;
    snprintf(d->peer, sizeof(d->peer), "%s", c->peer);
    d->epmd_port = n->epmd_port;
    d->setuptime_ms = n->setuptime_ms;
    conn_ref(c);
    pthread_mutex_lock(&n->lock);
    d->gen = c->tcp->dial_gen;
    d->next = n->tcp->dials;
    if (n->tcp->dials)
        n->tcp->dials->prev = d;
    n->tcp->dials = d;
    pthread_mutex_unlock(&n->lock);
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    if (pthread_create(&t, &attr, dial_thread, d) != 0) {
        pthread_mutex_lock(&n->lock);
        dial_unlist(n, d);
        pthread_mutex_unlock(&n->lock);
        pthread_mutex_destroy(&d->mu);
        free(d);
        conn_down(c, DD_EIO, "cannot start a dialler thread");
        conn_unref(c);
    }
    pthread_attr_destroy(&attr);
}

void dial_orphan_all(struct dd_node *n)
{
    pthread_mutex_lock(&n->lock);
    struct dial *d = n->tcp->dials, *orphans = NULL;
    while (d) {
        struct dial *next = d->next;
        pthread_mutex_lock(&d->mu);
        bool posted = d->posted;
        if (!posted)
            d->node = NULL; /* its thread finishes alone */
        pthread_mutex_unlock(&d->mu);
        if (!posted) { /* else dial_done, queued, still needs it */
            dial_unlist(n, d);
            d->next = orphans;
            orphans = d;
        }
        d = next;
    }
    pthread_mutex_unlock(&n->lock);
    while (orphans) {
        d = orphans;
        orphans = d->next;
        conn_unref(d->conn);
        dial_put(d); /* the node's reference */
    }
}
