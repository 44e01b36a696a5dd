/* dpdist's control messages between dpdist nodes, on the reserved name '$dpdist':
 *
 *   {dpdist_mesh, [Node]}          "these are the published dpdist nodes I am connected to"
 *   {dpdist_upgrade, ...}          the data-plane upgrade (runtime/dp_glue.c)
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
#include <string.h>

#include "common/log.h"
#include "runtime/conn.h"
#include "runtime/dp_glue.h"
#include "runtime/mesh.h"
#include "runtime/node.h"
#include "runtime/rcu.h"
#include "runtime/route.h"

#define MESH_MAX_NODES 4096

/* A visible BEAM peer's global: we are in sync with it (see above). */
static void mesh_global_in_sync(struct dd_conn *c)
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

static bool mesh_eligible(const struct dd_conn *c)
{
    return c->peer_dpdist && c->peer_published && atomic_load(&c->state) == CONN_UP;
}

void mesh_on_up(struct dd_conn *c)
{
    struct dd_node *n = c->node;
    if (c->peer_dpdist)
        dp_glue_maybe_upgrade(c);
    if (!n->hidden && c->peer_published && !c->peer_dpdist)
        mesh_global_in_sync(c);
    if (n->hidden || !mesh_eligible(c))
        return;
    ei_x_buff x;
    if (ei_x_new_with_version(&x) < 0)
        return;
    ei_x_encode_tuple_header(&x, 2);
    ei_x_encode_atom(&x, "dpdist_mesh");
    struct cds_lfht_iter it;
    struct dd_conn *o;
    rcu_rd_enter();
    cds_lfht_for_each_entry(n->conns, &it, o, ht_node)
    {
        if (o != c && mesh_eligible(o)) {
            ei_x_encode_list_header(&x, 1);
            ei_x_encode_atom(&x, o->peer);
        }
    }
    rcu_rd_leave();
    ei_x_encode_empty_list(&x);
    route_send_reg(n->system, MESH_NAME, c->peer, x.buff, (size_t)x.index, true);
    ei_x_free(&x);
}

static void mesh_list(struct dd_conn *c, const char *buf, int *idx)
{
    struct dd_node *n = c->node;
    if (n->hidden || !c->peer_published)
        return;
    char peer[MAXATOMLEN_UTF8];
    int len, ty;
    for (int count = 0; count < MESH_MAX_NODES; count++) {
        if (ei_get_type(buf, idx, &ty, &len) < 0)
            return;
        if (ty == ERL_NIL_EXT)
            return;
        if (ei_decode_list_header(buf, idx, &len) < 0 || len != 1 ||
            ei_decode_atom(buf, idx, peer) < 0)
            return;
        if (strcmp(peer, n->name) == 0)
            continue;
        rcu_rd_enter();
        bool known = conn_lookup(n, peer) != NULL;
        rcu_rd_leave();
        if (!known) {
            DLOG_INFO(n->log_name, "mesh: %s knows %s, connecting", c->peer, peer);
            struct dd_conn *nc = conn_get_or_dial(n, peer);
            if (nc)
                conn_unref(nc);
        }
    }
}

void mesh_receive(struct dd_conn *c, const char *term, size_t len)
{
    /* term has no version byte; ei decodes from index 0. Bounds were checked by distmsg. */
    int idx = 0, arity;
    char tag[MAXATOMLEN_UTF8];
    if (!c->peer_dpdist || ei_decode_tuple_header(term, &idx, &arity) < 0 || arity < 1 ||
        ei_decode_atom(term, &idx, tag) < 0)
        return;
    if (strcmp(tag, "dpdist_mesh") == 0 && arity == 2)
        mesh_list(c, term, &idx);
    else if (strncmp(tag, "dpdist_upgrade", 14) == 0 || strcmp(tag, "dpdist_switch") == 0)
        dp_glue_upgrade_msg(c, term, len);
}
