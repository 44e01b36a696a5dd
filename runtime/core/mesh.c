/* dpdist's control messages between dpdist nodes, on the reserved name '$dpdist':
 *
 *   {dpdist_mesh, [Node]}          "these are the published dpdist nodes I am connected to"
 *   {dpdist_upgrade, ...}          the data-plane upgrade (its transport's peer_msg hook)
 * (their bytes: control/dpctl.h, a pure codec; ei is not used for them).
 *
 * The mesh: when two published dpdist nodes connect, each sends the other its list; a
 * receiver connects to every node on it that it is not connected to yet. Every new
 * connection repeats this, so the closure is reached: A-B and C-D, then A meets C, ends with
 * all four connected, as Erlang's global does it for BEAM nodes. Hidden nodes neither send
 * nor act on lists, and are never on them. BEAM peers are never sent these messages.
 *
 * OTP's global, toward BEAM peers that see us as a visible node: a BEAM node's
 * global_name_server opens a sync with every new visible node (init_connect, then a lock
 * and a name exchange) and global:sync() waits until each one is done. A node that does not
 * run global would leave that sync, and every global:sync() on that BEAM node, waiting
 * forever. So, once the connection is up, we send the peer's global_name_server the
 * message global itself uses to say "this node is in sync with you":
 *
 *   {'$gen_cast', {in_sync, OurNode, true}}
 *
 * Its global then counts us as synced (global:sync() returns), ends its pending sync with us
 * (the resolver goes), and never makes us a member of its name space: we hold no global
 * names, are never asked to lock or register (those calls go to the nodes global has synced
 * names with), and a lost connection to us warns nobody about overlapping partitions. Its
 * init_connect to us is dropped like any message to a name we do not have. Details and the
 * evidence: docs/runtime.md.
 */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "control/dpctl.h"
#include "runtime/core/conn.h"
#include "runtime/core/mesh.h"
#include "runtime/core/node.h"
#include "runtime/core/rcu.h"
#include "runtime/core/route.h"

/* A visible BEAM peer's global: we are in sync with it (see above). */
static void mesh_global_in_sync(struct conn *c)
{
    struct dd_node *n = c->node;
    ei_x_buff x;
    if (ei_x_new_with_version(&x) < 0)
        return;
    ei_x_encode_tuple_header(&x, 2);
    ei_x_encode_atom(&x, "$gen_cast");
    ei_x_encode_tuple_header(&x, 3);
    ei_x_encode_atom(&x, "in_sync");
    ei_x_encode_atom(&x, n->name);
    ei_x_encode_atom(&x, "true");
    route_send_reg(n->system, "global_name_server", c->peer, x.buff, (size_t)x.index, true);
    ei_x_free(&x);
}

static bool mesh_eligible(const struct conn *c)
{
    return c->peer_dpdist && c->peer_published && atomic_load(&c->state) == CONN_UP;
}

void mesh_on_up(struct conn *c)
{
    struct dd_node *n = c->node;
    if (!n->hidden && c->peer_published && !c->peer_dpdist)
        mesh_global_in_sync(c);
    if (n->hidden || !mesh_eligible(c))
        return;
    /* {dpdist_mesh, [Node]} (control/dpctl.h): sized by a first pass, written by a second
     * in the same read section (a node that came up in between may be left out: it sends
     * its own list when it is up). */
    struct cds_lfht_iter it;
    struct conn *o;
    rcu_rd_enter();
    size_t cap = DPCTL_MESH_HEAD_BYTES;
    cds_lfht_for_each_entry(n->conns, &it, o, ht_node)
    {
        if (o != c && mesh_eligible(o))
            cap += DPCTL_MESH_NODE_BYTES(strlen(o->peer));
    }
    uint8_t *buf = malloc(cap);
    struct dpctl_mesh_writer w;
    dpctl_mesh_writer_init(&w, buf, buf ? cap : 0);
    cds_lfht_for_each_entry(n->conns, &it, o, ht_node)
    {
        if (buf && o != c && mesh_eligible(o))
            dpctl_mesh_add(&w, o->peer);
    }
    rcu_rd_leave();
    size_t len = dpctl_mesh_finish(&w);
    if (len)
        route_send_reg(n->system, MESH_NAME, c->peer, buf, len, true);
    else
        DLOG_WARN(n->log_name, "out of memory: no mesh list sent to %s", c->peer);
    free(buf);
}

static void mesh_list(struct conn *c, const uint8_t *term, size_t len,
                      const struct dpctl_msg *m)
{
    struct dd_node *n = c->node;
    if (n->hidden || !c->peer_published)
        return;
    char peer[DPCTL_ATOM_MAX + 1];
    struct dpctl_mesh_iter it;
    dpctl_mesh_iter_init(&it, term, len, m);
    while (dpctl_mesh_next(&it, peer)) {
        if (strcmp(peer, n->name) == 0)
            continue;
        rcu_rd_enter();
        bool known = conn_lookup(n, peer) != NULL;
        rcu_rd_leave();
        if (!known) {
            DLOG_INFO(n->log_name, "mesh: %s knows %s, connecting", c->peer, peer);
            struct conn *nc = conn_get_or_dial(n, peer);
            if (nc)
                conn_unref(nc);
        }
    }
}

void mesh_receive(struct conn *c, const uint8_t *term, size_t len)
{
    if (!c->peer_dpdist)
        return;
    struct dpctl_msg m;
    enum dpctl_result rc = dpctl_decode(term, len, &m);
    switch (m.kind) {
    case DPCTL_MESH:
        if (rc == DPCTL_OK)
            mesh_list(c, term, len, &m);
        else
            DLOG_WARN(c->node->log_name, "mesh list from %s dropped: %s", c->peer,
                      dpctl_strerror(rc));
        break;
    case DPCTL_REQ:
    case DPCTL_ACK:
    case DPCTL_NAK:
    case DPCTL_SWITCH:
        conn_peer_msg(c, &m, rc); /* the upgrade: the data-plane carrier's */
        break;
    case DPCTL_NONE:
        break; /* not ours: dropped, as a message to an unknown name */
    }
}
