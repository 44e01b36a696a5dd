/* The upgrade of a connection between two dpdist nodes from TCP to the data plane, over the
 * authenticated TCP connection, as REG_SENDs to '$dpdist' (their bytes: control/dpctl.h):
 *   initiator: {dpdist_upgrade_req, 2, SessionA, Mac, Ip, Port, Mtu, Window, HbNs, HbMissed,
 *               Auth}
 *   acceptor:  {dpdist_upgrade_ack, 2, SessionB, Mac, Ip, Port, Mtu, Window, HbNs, HbMissed,
 *               Auth}  or {dpdist_upgrade_nak, Reason}
 *   each side, after adding its channel: {dpdist_switch, Confirm} ({dpdist_switch} when frames
 *   are not authenticated) as its last message on TCP, then every later message of that
 *   direction goes over DPDK (conn_switch_carrier).
 * Frame authentication: the stronger of both Auth values (the node's [security] frame_auth),
 * keys from the handshake's key schedule and both offers (dpc_keys.c). Each side checks the
 * peer's Confirm against its own keys (on_switch): a mismatch means an offer was altered on
 * the way (or a broken peer), and the connection is closed with a log line.
 * A side accepts DPDK frames only after it has read the peer's {dpdist_switch} from TCP;
 * frames that arrive earlier are not acknowledged and come again. So messages of one sender
 * never overtake each other across the switch. The TCP connection stays as the control
 * channel: ticks keep flowing on it, and its loss is the peer's loss.
 * Negotiated: MTU and window the smaller of both, heartbeat interval the larger.
 * One handler per message kind (on_req, on_ack, on_nak), as control/handshake.c has one per
 * state; they run on the control thread (they touch the engine's slow path), in stream order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>

#include "common/clock.h"
#include "common/log.h"
#include "control/distmsg.h"
#include "control/dpctl.h"
#include "dataplane/dp.h"
#include "dataplane/fauth.h"
#include "runtime/carrier_dpdk/dpc.h"
#include "runtime/core/conn.h"
#include "runtime/core/mbox.h"
#include "runtime/core/mesh.h"
#include "runtime/core/node.h"
#include "runtime/core/route.h"


static uint64_t random_session(void)
{
    uint64_t v = 0;
    while (v == 0)
        if (getrandom(&v, sizeof(v), 0) != sizeof(v))
            v = (uint64_t)clock_now_ms() * 0x9E3779B97F4A7C15ull;
    return v;
}

/* Sends m to the peer's '$dpdist'. The upgrade's messages always use TCP (conn_send would
 * follow the carrier, which is still TCP here). */
static void send_ctl_msg(struct conn *c, const struct dpctl_msg *m)
{
    uint8_t term[DPCTL_ATOM_MAX + 128];
    size_t len = dpctl_encode(m, term, sizeof(term));
    if (len)
        route_send_reg(c->node->system, MESH_NAME, c->peer, term, len, false);
}

/* Our offer with our receive session for c's channel. */
static void fill_offer(struct conn *c, uint64_t session, struct dpctl_offer *o)
{
    struct dpc_node *dp = c->node->dp;
    const struct dp_engine_params *p = dp_engine_params(dp->engine);
    memset(o, 0, sizeof(*o));
    dp_engine_endpoint(dp->engine, o->mac, &o->ip, &o->port);
    o->session = session;
    o->mtu = dp_engine_mtu(dp->engine);
    o->window = p->chan.window_frames;
    o->hb_ns = p->chan.hb_interval_ns;
    o->hb_missed = p->chan.hb_missed_limit;
    o->auth = (uint8_t)dp->cfg.security.frame_auth;
}

static void send_offer(struct conn *c, enum dpctl_kind kind, const struct dpctl_offer *o)
{
    struct dpctl_msg m = {.kind = kind, .offer = *o};
    send_ctl_msg(c, &m);
}

/* The keys of c's channel in the mode both offers agree on (the stronger of the two): into
 * *auth and c->dp; false (logged) when they cannot be derived. */
static bool channel_keys(struct conn *c, const struct dpctl_offer *req,
                         const struct dpctl_offer *ack, struct dp_chan_auth *auth)
{
    c->dp->auth_mode = (uint8_t)fauth_mode_stronger(req->auth, ack->auth);
    enum ks_error rc = dpc_keys_derive(c, req, ack, c->dp->auth_mode, auth);
    if (rc != KS_OK) {
        DLOG_WARN(c->node->log_name, "data-plane keys for %s not derived (%s): staying on TCP",
                  c->peer, ks_strerror(rc));
        return false;
    }
    return true;
}

/* Adds the channel for c from the peer's offer; rx blocked until its {dpdist_switch}. auth
 * (the channel's keys) is wiped. */
static bool add_channel(struct conn *c, uint64_t local_session, const struct dpctl_offer *o,
                        struct dp_chan_auth *auth)
{
    struct dpc_node *dp = c->node->dp;
    const struct dp_engine_params *p = dp_engine_params(dp->engine);
    struct dp_chan_cfg cc = {
        .local_session = local_session,
        .peer_session = o->session,
        .peer_ip = o->ip,
        .peer_port = o->port,
        .mtu = o->mtu < dp_engine_mtu(dp->engine) ? o->mtu : dp_engine_mtu(dp->engine),
        .window_frames = o->window < p->chan.window_frames ? o->window : p->chan.window_frames,
        .hb_interval_ns = o->hb_ns > p->chan.hb_interval_ns ? o->hb_ns : p->chan.hb_interval_ns,
        .hb_missed_limit = p->chan.hb_missed_limit,
        .deliver = dpc_on_deliver,
        .down = dpc_on_down,
        .ctx = c,
        .rx_blocked = !atomic_load(&c->dp->peer_switched),
        .auth = *auth,
    };
    OPENSSL_cleanse(auth, sizeof(*auth));
    memcpy(cc.peer_mac, o->mac, 6);
    if (!c->dp->ctl && !(c->dp->ctl = malloc(sizeof(*c->dp->ctl))))
        return false;
    char err[DP_ERR_LEN];
    conn_ref(c); /* the channel's reference, dropped when it is retired */
    struct dp_chan *ch = dp_chan_add(dp->engine, &cc, err, sizeof(err));
    OPENSSL_cleanse(&cc.auth, sizeof(cc.auth));
    if (!ch) {
        conn_unref(c);
        DLOG_WARN(c->node->log_name, "data-plane channel to %s not created: %s; staying on TCP",
                  c->peer, err);
        return false;
    }
    c->dp->chan = ch;
    atomic_store(&c->dp->send_chan, ch);
    return true;
}

/* Sends {dpdist_switch} as our last TCP message and moves our sends to DPDK. */
static void switch_carrier(struct conn *c)
{
    uint8_t term[64];
    struct dpctl_msg m = {.kind = DPCTL_SWITCH, .has_confirm = c->dp->auth_mode != 0};
    memcpy(m.confirm, c->dp->confirm_tx, sizeof(m.confirm));
    size_t len = dpctl_encode(&m, term, sizeof(term));
    ei_x_buff ctl;
    ei_x_new(&ctl);
    if (len && distmsg_encode_reg_send(&ctl, &c->node->system->pid, MESH_NAME) == DISTMSG_OK) {
        struct obuf *b = obuf_build(&ctl, term, len, 0, RT_LANE_EXPRESS);
        if (b) {
            conn_switch_carrier(c, b, &dpc_carrier);
            obuf_unref(b);
        }
    }
    ei_x_free(&ctl);
    DLOG_INFO(c->node->log_name, "%s: traffic to %s moves to the DPDK data plane (frames: %s)",
              c->node->name, c->peer, fauth_mode_name(c->dp->auth_mode));
}

/* c is up: the initiator of a connection between two dpdist nodes offers the upgrade. */
void dpc_conn_up(struct conn *c)
{
    struct dd_node *n = c->node;
    if (!c->initiator || !c->peer_dpdist)
        return;
    if (!n->dp || !c->dp->peer_has_dp) {
        DLOG_INFO(n->log_name, "%s stays on TCP: %s has no data plane", c->peer,
                  !n->dp ? "this node" : "the peer");
        return;
    }
    c->dp->local_session = random_session();
    fill_offer(c, c->dp->local_session, &c->dp->req);
    send_offer(c, DPCTL_REQ, &c->dp->req);
}

static void send_nak(struct conn *c, const char *why)
{
    struct dpctl_msg m = {.kind = DPCTL_NAK};
    snprintf(m.reason, sizeof(m.reason), "%s", why);
    send_ctl_msg(c, &m);
    DLOG_INFO(c->node->log_name, "%s stays on TCP: %s", c->peer, why);
}

/* An upgrade message from the peer, decoded (rc: dpctl_decode's result). */
struct upgrade_work {
    struct conn *c;
    enum dpctl_result rc;
    struct dpctl_msg m;
};

/* Acceptor: the initiator's offer. */
static void on_req(struct conn *c, const struct upgrade_work *w)
{
    if (c->initiator)
        return;
    if (!c->node->dp) {
        send_nak(c, "no_data_plane");
    } else if (c->dp->chan) {
        return;
    } else if (w->rc != DPCTL_OK) {
        DLOG_DBG(c->node->log_name, "upgrade offer from %s: %s", c->peer, dpctl_strerror(w->rc));
        send_nak(c, "bad_offer");
    } else {
        c->dp->local_session = random_session();
        c->dp->req = w->m.offer;
        struct dpctl_offer ack;
        struct dp_chan_auth auth;
        fill_offer(c, c->dp->local_session, &ack);
        if (!channel_keys(c, &w->m.offer, &ack, &auth)) {
            send_nak(c, "no_keys");
        } else if (!add_channel(c, c->dp->local_session, &w->m.offer, &auth)) {
            send_nak(c, "channel_failed");
        } else {
            send_offer(c, DPCTL_ACK, &ack);
            switch_carrier(c);
        }
    }
}

/* Initiator: the acceptor's offer in answer to ours. */
static void on_ack(struct conn *c, const struct upgrade_work *w)
{
    if (!c->initiator || !c->node->dp || c->dp->chan)
        return;
    struct dp_chan_auth auth;
    if (w->rc == DPCTL_OK && channel_keys(c, &c->dp->req, &w->m.offer, &auth) &&
        add_channel(c, c->dp->local_session, &w->m.offer, &auth))
        switch_carrier(c);
    else
        DLOG_WARN(c->node->log_name, "upgrade answer from %s unusable (%s): staying on TCP",
                  c->peer, w->rc == DPCTL_OK ? "no channel" : dpctl_strerror(w->rc));
}

static void on_nak(struct conn *c, const struct upgrade_work *w)
{
    DLOG_INFO(c->node->log_name, "%s declined the data-plane upgrade (%s): staying on TCP",
              c->peer, w->rc == DPCTL_OK ? w->m.reason : "?");
}

/* Either side: the peer's {dpdist_switch}, after the channel was added (stream order): its
 * key confirmation must be ours for its direction. */
static void on_switch(struct conn *c, const struct upgrade_work *w)
{
    if (!c->dp->chan || c->dp->auth_mode == 0)
        return;
    if (w->m.has_confirm && ks_tag_equal(w->m.confirm, c->dp->confirm_rx))
        return;
    DLOG_ERR(c->node->log_name,
             "data-plane keys with %s did not match (%s): an upgrade message was altered on "
             "the way, or the peer is broken; closing the connection",
             c->peer, w->m.has_confirm ? "wrong key confirmation" : "no key confirmation");
    conn_down(c, DD_ENOCONN, "data-plane key confirmation failed");
}

static void upgrade_handle(struct upgrade_work *w)
{
    struct conn *c = w->c;
    if (atomic_load(&c->state) == CONN_UP) {
        switch (w->m.kind) {
        case DPCTL_REQ:
            on_req(c, w);
            break;
        case DPCTL_ACK:
            on_ack(c, w);
            break;
        case DPCTL_NAK:
            on_nak(c, w);
            break;
        case DPCTL_SWITCH:
            on_switch(c, w);
            break;
        default:
            break;
        }
    }
    conn_unref(c);
}

static void upgrade_on_control(struct dd_node *n, void *arg)
{
    (void)n;
    upgrade_handle(arg);
    free(arg);
}

void dpc_peer_msg(struct conn *c, const struct dpctl_msg *m, enum dpctl_result rc)
{
    if (m->kind == DPCTL_SWITCH) {
        if (rc != DPCTL_OK || !c->dp)
            return;
        /* In order with the TCP stream: everything the peer sent on TCP before is in. The
         * channel may not exist yet (its creation can lag behind on the control thread):
         * then it is created unblocked. */
        atomic_store(&c->dp->peer_switched, true);
        if (c->dp->chan)
            dp_chan_unblock_rx(c->dp->chan);
        /* Its key confirmation is checked below, on the control thread, after the ACK or REQ
         * that came before it created the channel (frames are verified meanwhile anyway: with
         * other keys none of them has an effect). */
    }
    /* The rest touches the engine's slow path: on the control thread, in stream order. */
    if (ctl_is_control_thread(c->node)) {
        struct upgrade_work now = {.c = c, .rc = rc, .m = *m};
        conn_ref(c);
        upgrade_handle(&now);
        return;
    }
    struct upgrade_work *w = malloc(sizeof(*w));
    if (!w)
        return;
    w->c = c;
    w->rc = rc;
    w->m = *m;
    conn_ref(c);
    ctl_post(c->node, upgrade_on_control, w);
}

