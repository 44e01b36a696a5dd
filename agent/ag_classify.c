/* Classification of distribution packets for the agent's lanes: see ag_classify.h.
 *
 * Algorithm: the header is control/distmsg.c's decoder; the control tuple is walked element
 * by element with control/etf.c's bounded walker up to the sender element of the op (table
 * below), whose bytes are hashed into the flow key. Fragment sequences live in an open-
 * addressing table keyed by SeqId (linear probing, deletion by backward shift so that no
 * tombstones accumulate).
 *
 * Invariants: the table holds at most max_seqs entries and has at least twice as many
 * slots, so a probe always ends at an empty slot. A later fragment never changes the key its
 * sequence started with. An error leaves the table as it was.
 */
#include "agent/ag_classify.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/bytes.h"
#include "common/hash.h"
#include "control/distmsg.h"
#include "control/etf.h"

#define AG_CLASSIFY_MAX_SEQS (1u << 20)

struct ag_classify_seq {
    uint64_t seq_id;
    uint64_t key; /* 0: the sequence began as a barrier */
    bool used;
};

/* Element (1-based) of the control tuple that names the sender, by op; SENDER_NONE for the
 * ops without one (barriers), 0 for ops this agent does not know. */
#define SENDER_NONE 1
static const uint8_t sender_element[] = {
    [DISTMSG_OP_LINK] = 2,
    [DISTMSG_OP_SEND] = SENDER_NONE,
    [DISTMSG_OP_EXIT] = 2,
    [DISTMSG_OP_UNLINK] = 2,
    [DISTMSG_OP_REG_SEND] = 2,
    [DISTMSG_OP_GROUP_LEADER] = 2,
    [DISTMSG_OP_EXIT2] = 2,
    [DISTMSG_OP_SEND_TT] = SENDER_NONE,
    [DISTMSG_OP_EXIT_TT] = 2,
    [DISTMSG_OP_REG_SEND_TT] = 2,
    [DISTMSG_OP_EXIT2_TT] = 2,
    [DISTMSG_OP_MONITOR_P] = 2,
    [DISTMSG_OP_DEMONITOR_P] = 2,
    [DISTMSG_OP_MONITOR_P_EXIT] = 2,
    [DISTMSG_OP_SEND_SENDER] = 2,
    [DISTMSG_OP_SEND_SENDER_TT] = 2,
    [DISTMSG_OP_PAYLOAD_EXIT] = 2,
    [DISTMSG_OP_PAYLOAD_EXIT_TT] = 2,
    [DISTMSG_OP_PAYLOAD_EXIT2] = 2,
    [DISTMSG_OP_PAYLOAD_EXIT2_TT] = 2,
    [DISTMSG_OP_PAYLOAD_MONITOR_P_EXIT] = 2,
    [DISTMSG_OP_SPAWN_REQUEST] = 3,
    [DISTMSG_OP_SPAWN_REQUEST_TT] = 3,
    [DISTMSG_OP_SPAWN_REPLY] = 5,
    [DISTMSG_OP_SPAWN_REPLY_TT] = 5,
    [DISTMSG_OP_ALIAS_SEND] = 2,
    [DISTMSG_OP_ALIAS_SEND_TT] = 2,
    [DISTMSG_OP_UNLINK_ID] = 3,
    [DISTMSG_OP_UNLINK_ID_ACK] = 3,
};
#define SENDER_OPS (sizeof(sender_element) / sizeof(sender_element[0]))

static const char *const result_names[] = {
#define AG_X_NAME(code, name, msg) name,
    AG_CLASSIFY_RESULTS(AG_X_NAME)
#undef AG_X_NAME
};
static const char *const result_msgs[] = {
#define AG_X_MSG(code, name, msg) msg,
    AG_CLASSIFY_RESULTS(AG_X_MSG)
#undef AG_X_MSG
};
static const char *const barrier_names[] = {
#define AG_X_NAME(code, name, msg) name,
    AG_BARRIER_REASONS(AG_X_NAME)
#undef AG_X_NAME
};

const char *ag_classify_strerror(enum ag_classify_result r)
{
    return (unsigned)r < AG_CLASSIFY__COUNT ? result_msgs[r] : "unknown result";
}

const char *ag_classify_result_name(enum ag_classify_result r)
{
    return (unsigned)r < AG_CLASSIFY__COUNT ? result_names[r] : "unknown";
}

const char *ag_barrier_name(enum ag_barrier_reason r)
{
    return (unsigned)r < AG_BARRIER__COUNT ? barrier_names[r] : "unknown";
}

uint64_t ag_classify_key(const uint8_t *term, size_t len)
{
    uint64_t h = hash_fnv1a64(term, len);
    return h ? h : 1;
}

int ag_classify_init(struct ag_classify *c, uint32_t max_seqs)
{
    memset(c, 0, sizeof(*c));
    if (max_seqs == 0 || max_seqs > AG_CLASSIFY_MAX_SEQS)
        return -EINVAL;
    uint32_t slots = 4;
    while (slots < 2 * max_seqs)
        slots <<= 1;
    c->tab = calloc(slots, sizeof(*c->tab));
    if (!c->tab)
        return -ENOMEM;
    c->mask = slots - 1;
    c->max_seqs = max_seqs;
    return 0;
}

void ag_classify_fini(struct ag_classify *c)
{
    free(c->tab);
    memset(c, 0, sizeof(*c));
}

/* --- the sequence table ------------------------------------------------------------------ */

static uint32_t seq_home(const struct ag_classify *c, uint64_t seq_id)
{
    /* Fibonacci hashing: SeqIds are process-local counters, close together */
    return (uint32_t)((seq_id * UINT64_C(0x9e3779b97f4a7c15)) >> 32) & c->mask;
}

/* The slot holding seq_id, or the empty slot where it would go. */
static uint32_t seq_find(const struct ag_classify *c, uint64_t seq_id)
{
    uint32_t i = seq_home(c, seq_id);
    while (c->tab[i].used && c->tab[i].seq_id != seq_id)
        i = (i + 1) & c->mask;
    return i;
}

/* Removes slot i, moving later entries of its probe run back (no tombstones). */
static void seq_remove(struct ag_classify *c, uint32_t i)
{
    uint32_t j = i;
    c->tab[i].used = false;
    for (;;) {
        j = (j + 1) & c->mask;
        if (!c->tab[j].used)
            break;
        uint32_t home = seq_home(c, c->tab[j].seq_id);
        /* entry j may move to the hole i unless its home lies cyclically in (i, j] */
        bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (stays)
            continue;
        c->tab[i] = c->tab[j];
        c->tab[j].used = false;
        i = j;
    }
    c->n--;
}

/* --- the control message ----------------------------------------------------------------- */

/* Finds the sender of the control tuple at pkt[off]; sets key/sender span or a barrier. */
static void classify_control(const uint8_t *pkt, size_t len, size_t off, struct ag_class *out)
{
    uint64_t arity;
    if (off < len && pkt[off] == ETF_TAG_SMALL_TUPLE && len - off >= 2) {
        arity = pkt[off + 1];
        off += 2;
    } else if (off < len && pkt[off] == ETF_TAG_LARGE_TUPLE && len - off >= 5) {
        arity = be32_get(pkt + off + 1);
        off += 5;
    } else {
        out->barrier = AG_BARRIER_CONTROL;
        return;
    }
    if (arity < 1 || off >= len || pkt[off] != ETF_TAG_SMALL_INTEGER || len - off < 2) {
        out->barrier = AG_BARRIER_CONTROL;
        return;
    }
    out->op = pkt[off + 1];
    off += 2;
    unsigned want = (unsigned)out->op < SENDER_OPS ? sender_element[out->op] : 0;
    if (want == 0) {
        out->barrier = AG_BARRIER_UNKNOWN_OP;
        return;
    }
    if (want == SENDER_NONE) {
        out->barrier = AG_BARRIER_NO_SENDER;
        return;
    }
    if (arity < want) {
        out->barrier = AG_BARRIER_CONTROL;
        return;
    }
    for (unsigned el = 2; el < want; el++)
        if (etf_skip(pkt, len, off, &off) != ETF_OK) {
            out->barrier = AG_BARRIER_CONTROL;
            return;
        }
    size_t end;
    if (etf_skip(pkt, len, off, &end) != ETF_OK) {
        out->barrier = AG_BARRIER_CONTROL;
        return;
    }
    switch (pkt[off]) {
    case ETF_TAG_NEW_PID:
    case ETF_TAG_PID:
    case ETF_TAG_NEW_PORT:
    case ETF_TAG_PORT:
    case ETF_TAG_V4_PORT:
        out->sender_off = off;
        out->sender_len = end - off;
        out->key = ag_classify_key(pkt + off, end - off);
        return;
    case ETF_TAG_ATOM:
    case ETF_TAG_SMALL_ATOM:
    case ETF_TAG_ATOM_UTF8:
    case ETF_TAG_SMALL_ATOM_UTF8:
        out->barrier = AG_BARRIER_NAMED;
        return;
    default:
        out->barrier = AG_BARRIER_NOT_PID;
        return;
    }
}

static enum ag_classify_result header_error(enum distmsg_result r)
{
    switch (r) {
    case DISTMSG_E_HEADER_SHORT:
        return AG_CLASSIFY_E_SHORT;
    case DISTMSG_E_ATOM_CACHE:
        return AG_CLASSIFY_E_ATOM_CACHE;
    case DISTMSG_E_FRAG_ID:
        return AG_CLASSIFY_E_FRAG_ID;
    default:
        return AG_CLASSIFY_E_HEADER;
    }
}

enum ag_classify_result ag_classify_packet(struct ag_classify *c, const uint8_t *pkt, size_t len,
                                           struct ag_class *out)
{
    memset(out, 0, sizeof(*out));
    out->op = -1;
    if (len == 0) {
        out->kind = AG_PKT_TICK;
        out->lane = AG_LANE_PULSE;
        return AG_CLASSIFY_OK;
    }
    struct distmsg_hdr h;
    enum distmsg_result hr = distmsg_header_decode(pkt, len, &h);
    if (hr != DISTMSG_OK) {
        memset(out, 0, sizeof(*out));
        return header_error(hr);
    }
    uint32_t slot;
    switch (h.kind) {
    case DISTMSG_HDR_PASS_THROUGH:
        out->kind = AG_PKT_WHOLE;
        out->lane = AG_LANE_EXPRESS;
        if (len > h.len && pkt[h.len] == DISTMSG_VERSION)
            classify_control(pkt, len, h.len + 1, out);
        else
            out->barrier = AG_BARRIER_CONTROL;
        return AG_CLASSIFY_OK;
    case DISTMSG_HDR_NORMAL:
        out->kind = AG_PKT_WHOLE;
        out->lane = AG_LANE_EXPRESS;
        classify_control(pkt, len, h.len, out);
        return AG_CLASSIFY_OK;
    case DISTMSG_HDR_FRAG_START:
        slot = seq_find(c, h.seq_id);
        if (c->tab[slot].used) {
            memset(out, 0, sizeof(*out));
            return AG_CLASSIFY_E_SEQ_DUP;
        }
        if (h.frag_id > 1 && c->n >= c->max_seqs) {
            memset(out, 0, sizeof(*out));
            return AG_CLASSIFY_E_SEQ_FULL;
        }
        out->kind = AG_PKT_FRAG_FIRST;
        out->lane = AG_LANE_NORMAL;
        out->seq_id = h.seq_id;
        out->frag_id = h.frag_id;
        classify_control(pkt, len, h.len, out);
        if (h.frag_id > 1) { /* more fragments follow: remember the key */
            c->tab[slot].used = true;
            c->tab[slot].seq_id = h.seq_id;
            c->tab[slot].key = out->key;
            c->n++;
        }
        return AG_CLASSIFY_OK;
    case DISTMSG_HDR_FRAG_CONT:
        slot = seq_find(c, h.seq_id);
        if (!c->tab[slot].used) {
            memset(out, 0, sizeof(*out));
            return AG_CLASSIFY_E_SEQ_UNKNOWN;
        }
        out->kind = AG_PKT_FRAG_CONT;
        out->lane = AG_LANE_NORMAL;
        out->seq_id = h.seq_id;
        out->frag_id = h.frag_id;
        out->key = c->tab[slot].key;
        if (!out->key)
            out->barrier = AG_BARRIER_FRAGMENT;
        if (h.frag_id == 1)
            seq_remove(c, slot);
        return AG_CLASSIFY_OK;
    }
    memset(out, 0, sizeof(*out));
    return AG_CLASSIFY_E_HEADER;
}
