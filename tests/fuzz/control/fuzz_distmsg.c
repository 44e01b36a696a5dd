/* libFuzzer target: connected-phase traffic (control/distmsg.c, control/distmsg_reasm.c,
 * control/etf.c). The input is a byte stream as received on a connection: 4-byte framed
 * packets (ticks included) go through the reassembler, and every complete message through the
 * control-message decoder.
 *
 * Each packet is copied to an exact-size heap buffer so ASan catches any read past it.
 * Invariants checked beyond "no crash": the reassembler stays within its bounds (sequences
 * and bytes) and within a node-wide budget smaller than its bound, whose use always equals
 * its reservations (all given back at the end); a fragment header that decodes re-encodes
 * to the same bytes (distmsg_frag_header_encode); a decoded message's spans lie inside its body
 * and are single well-formed terms; and messages the runtime could itself send round-trip:
 * re-encoding the decoded fields with the distmsg encoders and decoding again gives the same
 * fields.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/bigbuf.h"
#include "common/budget.h"
#include "control/distmsg.h"
#include "control/etf.h"
#include "tests/fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_PACKET 4096
#define MAX_SEQS   4
#define MAX_BYTES  3000

static void check_span(const struct distmsg_body *b, const struct distmsg_span *s)
{
    if (s->len == 0)
        return;
    CHECK(s->off < b->len && s->len <= b->len - s->off);
    size_t end;
    CHECK(etf_skip(b->data, s->off + s->len, s->off, &end) == ETF_OK && end == s->off + s->len);
}

static bool same_pid(const erlang_pid *a, const erlang_pid *b)
{
    return strcmp(a->node, b->node) == 0 && a->num == b->num && a->serial == b->serial &&
           a->creation == b->creation;
}

static bool same_ref(const erlang_ref *a, const erlang_ref *b)
{
    if (strcmp(a->node, b->node) != 0 || a->len != b->len || a->creation != b->creation)
        return false;
    for (int i = 0; i < a->len && i < 5; i++)
        if (a->n[i] != b->n[i])
            return false;
    return true;
}

/* Re-encode what the runtime can send, decode it again, compare. */
static void roundtrip(const struct distmsg_body *body, const struct distmsg_ctl *c)
{
    ei_x_buff x;
    if (ei_x_new(&x) != 0)
        return;
    enum distmsg_result r;
    switch (c->op) {
    case DISTMSG_OP_LINK:
        r = distmsg_encode_link(&x, &c->from, &c->to);
        break;
    case DISTMSG_OP_SEND_SENDER:
        r = distmsg_encode_send_sender(&x, &c->from, &c->to);
        break;
    case DISTMSG_OP_REG_SEND:
        r = distmsg_encode_reg_send(&x, &c->from, c->to_name);
        break;
    case DISTMSG_OP_ALIAS_SEND:
        r = distmsg_encode_alias_send(&x, &c->from, &c->ref);
        break;
    case DISTMSG_OP_UNLINK_ID:
        r = distmsg_encode_unlink_id(&x, c->unlink_id, &c->from, &c->to);
        break;
    case DISTMSG_OP_PAYLOAD_EXIT2:
        r = distmsg_encode_payload_exit2(&x, &c->from, &c->to);
        break;
    case DISTMSG_OP_MONITOR_P:
        r = distmsg_encode_monitor_p(&x, &c->from, c->to_is_name ? NULL : &c->to, c->to_name,
                                     &c->ref);
        break;
    case DISTMSG_OP_PAYLOAD_MONITOR_P_EXIT:
        r = distmsg_encode_payload_monitor_p_exit(&x, c->from_is_name ? NULL : &c->from,
                                                  c->from_name, &c->to, &c->ref);
        break;
    default:
        ei_x_free(&x);
        return;
    }
    if (r == DISTMSG_OK && c->has_payload) {
        /* The payload again, as a versioned term. */
        uint8_t *t = malloc(c->payload.len + 1);
        CHECK(t != NULL);
        t[0] = 131;
        memcpy(t + 1, body->data + c->payload.off, c->payload.len);
        r = distmsg_append_payload(&x, t, c->payload.len + 1);
        CHECK(r == DISTMSG_OK || r == DISTMSG_E_ENCODE);
        free(t);
    }
    /* Encoding may refuse what ei will not write (e.g. malformed UTF-8 in an atom). */
    if (r == DISTMSG_OK) {
        static struct distmsg_ctl again;
        CHECK(x.index >= DISTMSG_HDR_NORMAL_LEN);
        struct distmsg_body b2 = {(const uint8_t *)x.buff + DISTMSG_HDR_NORMAL_LEN,
                                  (size_t)x.index - DISTMSG_HDR_NORMAL_LEN, false};
        CHECK(distmsg_decode(&b2, &again) == DISTMSG_OK);
        CHECK(again.op == c->op);
        /* Fields an op does not have are zero in both decodes, so compare them all. */
        CHECK(again.from_is_name == c->from_is_name && again.to_is_name == c->to_is_name);
        CHECK(strcmp(again.from_name, c->from_name) == 0);
        CHECK(strcmp(again.to_name, c->to_name) == 0);
        CHECK(same_pid(&again.from, &c->from) && same_pid(&again.to, &c->to));
        CHECK(same_ref(&again.ref, &c->ref));
        CHECK(again.unlink_id == c->unlink_id);
        CHECK(again.has_payload == c->has_payload);
        if (c->has_payload)
            CHECK(again.payload.len == c->payload.len &&
                  memcmp(b2.data + again.payload.off, body->data + c->payload.off,
                         c->payload.len) == 0);
    }
    ei_x_free(&x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct distmsg_ctl ctl;
    struct distmsg_reasm ra;
    CHECK(distmsg_reasm_init(&ra, MAX_SEQS, MAX_BYTES) == DISTMSG_OK);
    /* A node-wide budget smaller than the connection's bound, so that starts are refused. */
    struct budget shared;
    budget_init(&shared, 2 * MAX_BYTES / 3);
    distmsg_reasm_share(&ra, &shared, 64);
    size_t off = 0;
    while (off < size) {
        struct distmsg_frame f;
        enum distmsg_result r = distmsg_frame_next(data + off, size - off, MAX_PACKET, &f);
        if (r != DISTMSG_OK) {
            CHECK(r == DISTMSG_E_NEED_MORE || r == DISTMSG_E_FRAME_SIZE);
            break;
        }
        CHECK(f.total == DISTMSG_LEN_BYTES + f.len && f.total <= size - off);
        off += f.total;
        if (f.len == 0)
            continue; /* tick */
        uint8_t *pkt = malloc(f.len);
        CHECK(pkt != NULL);
        memcpy(pkt, f.data, f.len);
        /* A fragment header that decodes re-encodes to the same bytes. */
        struct distmsg_hdr h;
        if (distmsg_header_decode(pkt, f.len, &h) == DISTMSG_OK &&
            (h.kind == DISTMSG_HDR_FRAG_START || h.kind == DISTMSG_HDR_FRAG_CONT)) {
            uint8_t re[DISTMSG_HDR_FRAG_MAX_LEN];
            size_t n = distmsg_frag_header_encode(re, sizeof(re), h.kind, h.seq_id, h.frag_id);
            CHECK(n == h.len && memcmp(re, pkt, n) == 0);
        }
        struct distmsg_body body;
        bool complete = false;
        /* Packets of odd length are placed (as the TCP carrier does with a fragment whose
         * body is still arriving), with part of the body at hand; the rest fed whole. */
        r = DISTMSG_E_CONFIG;
        if ((f.len & 1) && f.len >= DISTMSG_HDR_FRAG_MAX_LEN) {
            size_t have = DISTMSG_HDR_FRAG_MAX_LEN + pkt[f.len - 1] % 64;
            have = have < f.len ? have : f.len;
            struct distmsg_place pl;
            r = distmsg_reasm_place(&ra, pkt, have, f.len, &pl);
            if (r == DISTMSG_OK) {
                CHECK(pl.left == f.len - have);
                if (pl.left)
                    memcpy(pl.dst, pkt + have, pl.left);
                distmsg_reasm_placed(&ra, &body, &complete);
            }
        }
        if (r == DISTMSG_E_CONFIG)
            r = distmsg_reasm_feed(&ra, pkt, f.len, &body, &complete);
        CHECK(ra.placing == NULL);
        /* Some finished messages are taken over, as the TCP carrier delivers them. */
        void *taken = r == DISTMSG_OK && complete && (f.len & 2) ? distmsg_reasm_take(&ra) : NULL;
        CHECK(taken == NULL || taken == body.data);
        CHECK(ra.in_flight <= MAX_SEQS && ra.bytes <= MAX_BYTES);
        CHECK(budget_used(&shared) == ra.shared_bytes && ra.shared_bytes <= shared.cap);
        CHECK(ra.bytes <= ra.shared_bytes); /* capacity within the reservations */
        if (r == DISTMSG_OK && complete) {
            r = distmsg_decode(&body, &ctl);
            if (r == DISTMSG_OK) {
                check_span(&body, &ctl.reason);
                check_span(&body, &ctl.token);
                check_span(&body, &ctl.opts);
                check_span(&body, &ctl.result);
                check_span(&body, &ctl.payload);
                CHECK(ctl.has_payload == distmsg_op_has_payload(ctl.op));
                if (!body.versioned)
                    roundtrip(&body, &ctl);
            } else {
                CHECK(r < DISTMSG_E__COUNT && r != DISTMSG_E_NEED_MORE);
            }
        }
        bigbuf_free(taken);
        free(pkt);
    }
    distmsg_reasm_fini(&ra);
    CHECK(budget_used(&shared) == 0);
    return 0;
}
