/* Connections to other nodes (runtime/core/conn.c): table, references, dialling, registry,
 * nodedown. See the design comment in conn.c. */
#ifndef DPDIST_RUNTIME_CORE_CONN_H
#define DPDIST_RUNTIME_CORE_CONN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <urcu/rculfhash.h>
#include <urcu/urcu-qsbr.h>

#include "control/handshake.h"
#include "control/keysched.h"
#include "runtime/core/carrier.h"
#include "runtime/core/node.h"

struct dpc_conn;  /* the DPDK carrier's part (runtime/carrier_dpdk/dpc.h), NULL without one */
struct tcpc_conn; /* the TCP carrier's part (runtime/carrier_tcp/tcpc.h) */
struct rel;

enum rt_conn_state {
    CONN_PENDING = 1, /* dialling or handshaking; messages queue up */
    CONN_UP,
    CONN_DOWN, /* gone: unlinked from the table, freed after a grace period */
};

/* A connection to another node. The table holds one reference, and so does everyone who
 * keeps the pointer past an RCU read section (conn_ref/conn_unref); the memory goes after
 * the last one and a grace period. Fields read on every send come first. */
struct conn {
    /* The carrier data goes through (TCP until a data-plane upgrade); changed only by
     * conn_switch_carrier (under the old carrier's own lock), read without a lock (a send
     * that finds it changed meanwhile is redirected by that carrier). */
    const struct rt_carrier_ops *_Atomic carrier;
    _Atomic int state; /* enum rt_conn_state */
    struct dd_node *node;
    _Atomic int refs;
    struct tcpc_conn *tcp; /* the carriers' parts: theirs alone (conn_init/conn_fini) */
    struct dpc_conn *dp;

    struct cds_lfht_node ht_node; /* node->conns, keyed by peer name */
    struct rcu_head rcu;
    char peer[HS_NAME_MAX + 1];
    uint64_t created_ms;
    /* An outgoing attempt is in progress (set when a send creates the connection, cleared
     * by the carrier that dials when it ends): under node->lock. */
    bool dialling;

    /* Set by the carrier that connected when the handshake completes (control thread,
     * before conn_set_up). */
    uint64_t flags; /* negotiated distribution flags */
    uint32_t peer_creation;
    bool peer_published;
    bool peer_dpdist; /* the peer sent the dpdist trailer */
    bool initiator;   /* we dialled (the upgrade is offered by the initiator) */
    /* The start of the data-plane key schedule (control/keysched.h): th and prk from the
     * cookie and the handshake transcript, which both ends share; hs_keys_ok when set. The
     * upgrade (carrier_dpdk/dpc_upgrade.c) derives the channel's keys from it. Secret: wiped
     * by the upgrade after use and when c is freed. */
    struct ks_conn hs_keys;
    bool hs_keys_ok;

    /* Links and monitors with processes on the peer (runtime/core/rel.h). */
    pthread_mutex_t reg_lock;
    struct rel *rels;

    /* Waiters in dd_connect: state changes to UP and DOWN are made under up_lock. */
    pthread_mutex_t up_lock;
    pthread_cond_t up_cond;
    int fail_status;    /* why it went down (DD_E*), under up_lock */
    char fail_why[256]; /* ... in words, for dd_connect's error (under up_lock) */
};

/* The connection to peer (PENDING or UP), no reference taken: caller in an RCU section. */
struct conn *conn_lookup(struct dd_node *n, const char *peer);
/* A referenced connection for sending: the existing one or a new one being dialled.
 * NULL with the error set: DD_EINVAL (not a node name, or this node), DD_ENOCONN (short and
 * long names), DD_ECLOSED (the node is stopping), DD_ENOMEM. */
struct conn *conn_get_or_dial(struct dd_node *n, const char *peer);
/* A referenced connection that is not DOWN (PENDING or UP), or NULL: for signals that only
 * make sense on the connection their relation lives on (dropped, not a reason to dial). */
struct conn *conn_get_live(struct dd_node *n, const char *peer);
/* A new PENDING connection in the table (node->lock held), referenced for the caller; if
 * one exists already, *existed and that one (referenced); one that is DOWN but not yet out of
 * the table does not count (it is taken out, so a new attempt never joins a failed one). NULL when out of memory or when
 * the node is stopping (node->closing). */
struct conn *conn_insert_new(struct dd_node *n, const char *peer, bool *existed);
void conn_ref(struct conn *c);
void conn_unref(struct conn *c);

/* Send on the current carrier (queues while PENDING). DD_OK, DD_EWOULDBLOCK, DD_ENOCONN. */
int conn_send(struct conn *c, struct obuf *b, bool nonblock);
/* Queues marker as the last message on c's current carrier and moves c's sends to next
 * (the current carrier's switch_to; a no-op if it is next already). */
void conn_switch_carrier(struct conn *c, struct obuf *marker, const struct rt_carrier_ops *next);
/* The kind of c's current carrier. Any thread. */
enum dd_carrier_kind conn_carrier_kind(struct conn *c);

/* What the handshake told about the peer (control thread, before conn_set_up): its trailer
 * (sets peer_dpdist, and tells the transports), its EPMD Extra field (initiator). */
void conn_peer_trailer(struct conn *c, const uint8_t *t, size_t len);
void conn_peer_epmd_extra(struct conn *c, const uint8_t *extra, size_t len);
/* A '$dpdist' message for the transports (runtime/core/mesh.c decodes it). */
void conn_peer_msg(struct conn *c, const struct dpctl_msg *m, enum dpctl_result rc);

/* Handshake done: UP. Control thread. */
void conn_set_up(struct conn *c);
/* Tear down with nodedown semantics. Any thread; idempotent. */
void conn_down(struct conn *c, int status, const char *why);
void conn_down_all(struct dd_node *n, const char *why);
/* Wait until c is UP (DD_OK) or DOWN / timeout (error set). */
int conn_wait_up(struct conn *c, int timeout_ms);


#endif
