/* libFuzzer target: the handshake state machine (control/handshake.c), either role, fed the
 * peer's bytes from the input.
 *
 * Input: byte 0 chooses the set-up (bit 0 role, bits 1-2 admit status / alive answer, bit 3
 * cookie refused, bit 4 challenge fails, bit 5 trailer); the rest is what the peer sends.
 * Cookie "abc" and challenge 1234567890 are fixed, so seeds can carry valid digests.
 *
 * Invariants checked beyond "no crash": the machine is run twice, once with all bytes at once
 * and once a byte at a time (accumulating, as the runtime does), and both runs must agree on
 * the outcome, the error, the output and the results; hs_feed only consumes whole frames;
 * output is always well-framed; a finished machine consumes nothing more; on HS_DONE the
 * results are coherent (valid peer name, negotiated = ours & theirs, required flags present);
 * the transcript never overflows its fixed array and is the same both ways.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control/handshake.h"
#include "tests/fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct setup {
    uint8_t sel;
};

static const char *cb_cookie(void *arg, const char *peer)
{
    const struct setup *s = arg;
    CHECK(peer != NULL && peer[0] != '\0');
    return (s->sel & 0x08) ? NULL : "abc";
}

static int cb_challenge(void *arg, uint32_t *out)
{
    const struct setup *s = arg;
    if (s->sel & 0x10)
        return -1;
    *out = 1234567890u;
    return 0;
}

static enum hs_status cb_admit(void *arg, const char *peer, uint64_t flags)
{
    const struct setup *s = arg;
    (void)flags;
    CHECK(peer != NULL && peer[0] != '\0');
    static const enum hs_status st[4] = {HS_STATUS_OK, HS_STATUS_OK_SIMULTANEOUS, HS_STATUS_ALIVE,
                                         HS_STATUS_NOT_ALLOWED};
    return st[(s->sel >> 1) & 3];
}

static bool cb_alive(void *arg, const char *peer)
{
    const struct setup *s = arg;
    CHECK(peer != NULL);
    return ((s->sel >> 1) & 1) == 0;
}

static const struct hs_callbacks callbacks = {cb_cookie, cb_challenge, cb_admit, cb_alive};

/* A buffer of whole frames? */
static bool whole_frames(const uint8_t *p, size_t n)
{
    size_t off = 0;
    while (off < n) {
        if (n - off < 2)
            return false;
        size_t len = (size_t)p[off] << 8 | p[off + 1];
        if (n - off - 2 < len)
            return false;
        off += 2 + len;
    }
    return true;
}

struct run {
    struct hs hs;
    enum hs_step step;
    uint8_t out[16384];
    size_t out_len;
    size_t left; /* input bytes not consumed */
};

static void drain(struct run *r)
{
    const uint8_t *p;
    size_t n = hs_output(&r->hs, &p);
    CHECK(n <= HS_OUT_CAP);
    CHECK(r->out_len + n <= sizeof(r->out));
    memcpy(r->out + r->out_len, p, n);
    r->out_len += n;
    hs_output_consumed(&r->hs, n);
}

static void start(struct run *r, struct setup *s)
{
    static const uint8_t trailer[] = {'d', 'p', 1, 2, 3};
    struct hs_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    bool acceptor = s->sel & 1;
    cfg.role = acceptor ? HS_ACCEPTOR : HS_INITIATOR;
    cfg.my_name = acceptor ? "bob@host" : "alice@host";
    cfg.expected_peer = acceptor ? NULL : "bob@host";
    cfg.my_creation = 0x01020304;
    cfg.my_flags = DISTFLAGS_ADVERTISED | DFLAG_PUBLISHED;
    if (s->sel & 0x20) {
        cfg.trailer = trailer;
        cfg.trailer_len = sizeof(trailer);
    }
    cfg.cb = &callbacks;
    cfg.cb_arg = s;
    memset(r, 0, offsetof(struct run, out));
    r->out_len = 0;
    CHECK(hs_init(&r->hs, &cfg) == HS_OK);
    r->step = HS_CONTINUE;
    drain(r);
}

/* Feed in[0..n) as the runtime would: keep unconsumed bytes, add `chunk` bytes per call. */
static void feed(struct run *r, const uint8_t *in, size_t n, size_t chunk)
{
    uint8_t *buf = malloc(n ? n : 1);
    CHECK(buf != NULL);
    size_t have = 0, next = 0;
    while (r->step == HS_CONTINUE && next < n) {
        size_t add = n - next < chunk ? n - next : chunk;
        memcpy(buf + have, in + next, add);
        have += add;
        next += add;
        /* An exact-size copy so ASan sees any read past the bytes given. */
        uint8_t *exact = malloc(have ? have : 1);
        CHECK(exact != NULL);
        memcpy(exact, buf, have);
        size_t consumed = 0;
        r->step = hs_feed(&r->hs, exact, have, &consumed);
        free(exact);
        CHECK(consumed <= have);
        CHECK(whole_frames(buf, consumed));
        memmove(buf, buf + consumed, have - consumed);
        have -= consumed;
        CHECK(have <= HS_RX_MAX || r->step != HS_CONTINUE);
        drain(r);
    }
    r->left = have + (n - next);
    /* Finished machines never move again. */
    if (r->step != HS_CONTINUE && have > 0) {
        size_t consumed = 1;
        CHECK(hs_feed(&r->hs, buf, have, &consumed) == r->step);
        CHECK(consumed == 0);
    }
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct setup s = {data[0]};
    static struct run whole, bytewise;
    start(&whole, &s);
    start(&bytewise, &s);
    feed(&whole, data + 1, size - 1, size);
    feed(&bytewise, data + 1, size - 1, 1);

    CHECK(whole.step == bytewise.step);
    CHECK(hs_last_error(&whole.hs) == hs_last_error(&bytewise.hs));
    CHECK(whole.left == bytewise.left);
    CHECK(whole.out_len == bytewise.out_len && memcmp(whole.out, bytewise.out, whole.out_len) == 0);
    CHECK(whole_frames(whole.out, whole.out_len));
    CHECK((whole.step == HS_FAILED) == (hs_last_error(&whole.hs) != HS_OK));

    const uint8_t *ta, *tb;
    size_t tla = hs_transcript(&whole.hs, &ta), tlb = hs_transcript(&bytewise.hs, &tb);
    CHECK(ta != NULL && tb != NULL && tla == tlb && memcmp(ta, tb, tla) == 0);
    CHECK(whole_frames(ta, tla) && tla <= HS_TRANSCRIPT_MAX);

    const struct hs_result *a = hs_result(&whole.hs), *b = hs_result(&bytewise.hs);
    CHECK(strcmp(a->peer_name, b->peer_name) == 0);
    CHECK(a->peer_flags == b->peer_flags && a->peer_creation == b->peer_creation);
    CHECK(a->status == b->status && a->alive_true == b->alive_true);
    CHECK(a->peer_trailer_len == b->peer_trailer_len && a->peer_trailer_len < HS_MSG_MAX);
    CHECK(memchr(a->peer_name, '\0', sizeof(a->peer_name)) != NULL);
    if (whole.step == HS_DONE) {
        struct nodename nn;
        CHECK(nodename_parse(&nn, a->peer_name, strlen(a->peer_name), NODENAME_PEER) ==
              NODENAME_OK);
        CHECK(a->flags == ((DISTFLAGS_ADVERTISED | DFLAG_PUBLISHED) & a->peer_flags));
        CHECK((a->peer_flags & DISTFLAGS_MANDATORY) == DISTFLAGS_MANDATORY);
        CHECK(a->status == HS_STATUS_OK || a->status == HS_STATUS_OK_SIMULTANEOUS ||
              a->status == HS_STATUS_ALIVE);
        CHECK(a->alive_true == (a->status == HS_STATUS_ALIVE));
        if (!(s.sel & 1))
            CHECK(strcmp(a->peer_name, "bob@host") == 0);
    }
    return 0;
}
