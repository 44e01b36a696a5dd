/* libFuzzer target: control/hsframe.c, the 4-byte <-> 2-byte handshake framing of TLS
 * distribution, feeding an acceptor hs_ machine as the TLS carrier will.
 *
 * Input: the bytes a TLS peer sends (4-byte-framed messages), delivered twice: all at once and
 * one byte at a time into a receive buffer of HSFRAME_TLS_MAX bytes; every converted message
 * goes to an acceptor (cookie "abc", fixed challenge) until it finishes.
 *
 * Invariants beyond "no crash": hsframe_from_tls consumes exactly 4 + body and writes exactly
 * 2 + body with the body unchanged; converting the result back with hsframe_to_tls gives the
 * input message again; E_TOO_LARGE exactly when the declared length exceeds HS_MSG_MAX, and it
 * is known from the 4 length bytes (the byte-by-byte run hits it without ever holding more
 * than 4 bytes of that message); the receive buffer never needs more than HSFRAME_TLS_MAX;
 * both deliveries end alike (step, error, transcript, bytes left, output).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control/hsframe.h"
#include "tests/fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *cb_cookie(void *arg, const char *peer)
{
    (void)arg;
    (void)peer;
    return "abc";
}

static int cb_challenge(void *arg, uint32_t *out)
{
    (void)arg;
    *out = 1234567890u;
    return 0;
}

static enum hs_status cb_admit(void *arg, const char *peer, uint64_t flags)
{
    (void)arg;
    (void)peer;
    (void)flags;
    return HS_STATUS_OK;
}

static bool cb_alive(void *arg, const char *peer)
{
    (void)arg;
    (void)peer;
    return true;
}

static const struct hs_callbacks callbacks = {cb_cookie, cb_challenge, cb_admit, cb_alive};

struct run {
    struct hs hs;
    enum hs_step step;
    enum hsframe_error last; /* last conversion result */
    uint8_t rx[HSFRAME_TLS_MAX];
    size_t have;   /* bytes in rx */
    size_t offset; /* input bytes delivered */
    size_t out_len;
    uint8_t out[4 * HSFRAME_TLS_MAX];
};

static void start(struct run *r)
{
    struct hs_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.role = HS_ACCEPTOR;
    cfg.my_name = "bob@host";
    cfg.my_creation = 7;
    cfg.my_flags = DISTFLAGS_ADVERTISED;
    cfg.cb = &callbacks;
    memset(r, 0, offsetof(struct run, rx));
    r->have = r->offset = r->out_len = 0;
    CHECK(hs_init(&r->hs, &cfg) == HS_OK);
    r->step = HS_CONTINUE;
    r->last = HSFRAME_PARTIAL;
}

/* Convert and feed the whole messages in rx; false once the run must stop. */
static bool drain(struct run *r)
{
    while (r->step == HS_CONTINUE) {
        uint8_t msg[HSFRAME_TCP_MAX], back[HSFRAME_TLS_MAX];
        size_t used = 7, n = 7;
        r->last = hsframe_from_tls(r->rx, r->have, &used, msg, sizeof(msg), &n);
        if (r->last != HSFRAME_OK) {
            CHECK(used == 0 && n == 0);
            CHECK(r->last == HSFRAME_PARTIAL || r->last == HSFRAME_E_TOO_LARGE);
            if (r->have >= 4) {
                uint32_t declared = (uint32_t)r->rx[0] << 24 | (uint32_t)r->rx[1] << 16 |
                                    (uint32_t)r->rx[2] << 8 | r->rx[3];
                CHECK((r->last == HSFRAME_E_TOO_LARGE) == (declared > HS_MSG_MAX));
            }
            return r->last == HSFRAME_PARTIAL;
        }
        CHECK(used >= 4 && n == used - 2 && n <= HSFRAME_TCP_MAX);
        CHECK(memcmp(msg + 2, r->rx + 4, n - 2) == 0);
        size_t used2 = 0, n2 = 0;
        CHECK(hsframe_to_tls(msg, n, &used2, back, sizeof(back), &n2) == HSFRAME_OK);
        CHECK(used2 == n && n2 == used && memcmp(back, r->rx, used) == 0);
        size_t fed = 0;
        r->step = hs_feed(&r->hs, msg, n, &fed);
        CHECK(fed == n || (fed == 0 && r->step != HS_CONTINUE));
        memmove(r->rx, r->rx + used, r->have - used);
        r->have -= used;
        const uint8_t *o;
        size_t on = hs_output(&r->hs, &o);
        CHECK(r->out_len + on <= sizeof(r->out));
        memcpy(r->out + r->out_len, o, on);
        r->out_len += on;
        hs_output_consumed(&r->hs, on);
    }
    return false;
}

static void deliver(struct run *r, const uint8_t *in, size_t n, size_t chunk)
{
    while (r->offset < n) {
        size_t add = n - r->offset < chunk ? n - r->offset : chunk;
        if (add > sizeof(r->rx) - r->have)
            add = sizeof(r->rx) - r->have;
        /* A full buffer that holds no whole message cannot happen: a message of at most
         * HS_MSG_MAX fits, a longer one fails on its length. */
        CHECK(add > 0);
        memcpy(r->rx + r->have, in + r->offset, add);
        r->have += add;
        r->offset += add;
        if (!drain(r))
            return;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct run whole, bytewise;
    start(&whole);
    start(&bytewise);
    deliver(&whole, data, size, HSFRAME_TLS_MAX);
    deliver(&bytewise, data, size, 1);
    CHECK(whole.step == bytewise.step);
    CHECK(hs_last_error(&whole.hs) == hs_last_error(&bytewise.hs));
    CHECK(whole.out_len == bytewise.out_len && memcmp(whole.out, bytewise.out, whole.out_len) == 0);
    if (whole.last == HSFRAME_E_TOO_LARGE || bytewise.last == HSFRAME_E_TOO_LARGE) {
        CHECK(whole.last == bytewise.last);
        CHECK(bytewise.have == 4); /* refused on its length, nothing of the body buffered */
    }
    const uint8_t *ta, *tb;
    size_t tla = hs_transcript(&whole.hs, &ta), tlb = hs_transcript(&bytewise.hs, &tb);
    CHECK(tla == tlb && memcmp(ta, tb, tla) == 0);
    return 0;
}
