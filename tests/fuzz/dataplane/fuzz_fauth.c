/* libFuzzer target: the receive decision of dataplane/fauth.c (fauth_accept = replay check,
 * fauth_open, replay mark) over a stream of frames, on every backend built in at once, against
 * a reference model of the replay window.
 *
 * Input: byte 0 selects the mode (0 none, 1 gmac, 2 gcm: value % 3); then records
 *   ctl u8 | hdr u8 | pn u64 BE | len u16 BE | tag 16 | len bytes (the frame)
 * ctl bit 0: seal the frame with the test key first (its tag replaces the record's), so the
 * code past the MAC is reached; bit 1: then flip one bit (frame byte (ctl >> 2) % len, or the
 * tag when the frame is empty). hdr_len = min(hdr, len). A record cut short ends the input.
 *
 * Invariants beyond "no crash": every backend gives exactly the model's verdict: out of
 * range, too old, replay (the replay check runs before the MAC), else new for a frame that is
 * intact (sealed, not flipped) and FAUTH_E_BAD_TAG for any other (mode none has no tag: the
 * model alone decides); an accepted intact frame reads back as sealed (gcm: decrypted), the
 * same on every backend; the window moves only on acceptance, never on a refusal.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/fauth.h"
#include "tests/fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REC_FIXED   28 /* ctl, hdr, pn, len, tag */
#define MAX_ACCEPTS 512

/* The model: the highest pn taken and every pn taken (few per input). */
struct model {
    uint64_t top;
    uint64_t taken[MAX_ACCEPTS];
    size_t n;
};

static enum fauth_error model_verdict(const struct model *m, uint64_t pn)
{
    if (pn == 0 || pn > FAUTH_PN_MAX)
        return FAUTH_E_PN_RANGE;
    if (pn > m->top)
        return FAUTH_OK;
    if (m->top - pn >= FAUTH_REPLAY_DEPTH)
        return FAUTH_E_TOO_OLD;
    for (size_t i = 0; i < m->n; i++)
        if (m->taken[i] == pn)
            return FAUTH_E_REPLAY;
    return FAUTH_OK;
}

static uint64_t get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

struct side {
    enum fauth_backend backend;
    struct fauth_key *key;
    struct fauth_replay win;
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t key[FAUTH_KEY_LEN] = {0x16, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07};
    static const uint8_t iv[FAUTH_IV_LEN] = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5};
    static struct fauth_key *tx;
    static struct side sides[2];
    static size_t n_sides;
    static uint8_t frame[FAUTH_LEN_MAX], plain[FAUTH_LEN_MAX], out[2][FAUTH_LEN_MAX];
    static struct model m;

    if (size < 1)
        return 0;
    enum fauth_mode mode = (enum fauth_mode)(data[0] % 3);
    if (tx == NULL) {
        tx = aligned_alloc(64, sizeof(*tx));
        CHECK(tx != NULL);
        memset(tx, 0, sizeof(*tx));
        const enum fauth_backend all[2] = {FAUTH_BACKEND_IMB, FAUTH_BACKEND_OSSL};
        for (int i = 0; i < 2; i++) {
            if (!fauth_backend_available(all[i]))
                continue;
            struct side *s = &sides[n_sides++];
            s->backend = all[i];
            s->key = aligned_alloc(64, sizeof(*s->key));
            CHECK(s->key != NULL);
            memset(s->key, 0, sizeof(*s->key));
        }
    }
    CHECK(fauth_key_init(tx, mode, key, iv) == FAUTH_OK);
    for (size_t i = 0; i < n_sides; i++) {
        CHECK(fauth_key_init_backend(sides[i].key, sides[i].backend, mode, key, iv) == FAUTH_OK);
        fauth_replay_init(&sides[i].win);
    }
    memset(&m, 0, sizeof(m));

    size_t off = 1;
    while (size - off >= REC_FIXED) {
        const uint8_t *r = data + off;
        uint8_t ctl = r[0];
        uint64_t pn = get_be64(r + 2);
        size_t len = (size_t)r[10] << 8 | r[11];
        uint8_t tag[FAUTH_TAG_LEN];
        memcpy(tag, r + 12, FAUTH_TAG_LEN);
        if (size - off - REC_FIXED < len)
            break;
        size_t hdr = r[1] < len ? r[1] : len;
        memcpy(frame, r + REC_FIXED, len);
        off += REC_FIXED + len;

        /* sealed: our tag; intact: and not flipped afterwards. */
        bool sealed = false, intact = false;
        if (ctl & 1) {
            memcpy(plain, frame, len);
            enum fauth_error se = fauth_seal(tx, pn, frame, hdr, len, NULL, tag);
            CHECK(se == FAUTH_OK || se == FAUTH_E_PN_RANGE);
            sealed = intact = se == FAUTH_OK;
            if (sealed && (ctl & 2) && len > 0) {
                frame[(ctl >> 2) % len] ^= 1;
                intact = false;
            } else if (sealed && (ctl & 2) && mode != FAUTH_NONE) {
                tag[ctl >> 4] ^= 1;
                intact = false;
            }
        }

        enum fauth_error want = model_verdict(&m, pn);
        /* Without a tag nothing is detected: the model decides alone. A frame that is not
         * intact never passes a tag. */
        if (want == FAUTH_OK && mode != FAUTH_NONE && !intact)
            want = FAUTH_E_BAD_TAG;
        for (size_t i = 0; i < n_sides; i++) {
            struct fauth_replay before = sides[i].win;
            memcpy(out[i], frame, len);
            enum fauth_error got =
                fauth_accept(sides[i].key, &sides[i].win, pn, out[i], hdr, len, tag);
            CHECK(got == want);
            if (got != FAUTH_OK) {
                CHECK(memcmp(&before, &sides[i].win, sizeof(before)) == 0);
                continue;
            }
            CHECK(sides[i].win.top >= pn);
            if (intact)
                CHECK(memcmp(out[i], plain, len) == 0);
            if (i > 0)
                CHECK(memcmp(out[i], out[0], len) == 0);
        }
        if (want == FAUTH_OK) {
            if (pn > m.top)
                m.top = pn;
            if (m.n == MAX_ACCEPTS)
                break; /* the model is full: stop here */
            m.taken[m.n++] = pn;
        }
    }
    return 0;
}
