/* Frame authentication: argument checks, the nonce, mode names, backend dispatch, and the
 * anti-replay window. The AES-GCM work is in fauth_imb.c / fauth_ossl.c. See fauth.h.
 * Fast path (fauth_seal, fauth_open, fauth_replay_*, fauth_accept): no allocation, no lock,
 * no logging.
 *
 * Replay window. Algorithm: RFC 6479's ring of bitmap words, without a separate bitmap shift.
 * State: top (highest pn accepted, 0 before the first) and FAUTH_REPLAY_WORDS 64-bit words;
 * pn's bit is bits[(pn / 64) % WORDS] bit (pn % 64).
 *   check: pn == 0 or pn > FAUTH_PN_MAX  -> PN_RANGE
 *          pn > top                       -> new
 *          top - pn >= DEPTH (960)        -> TOO_OLD
 *          bit set                        -> REPLAY, else new
 *   mark:  check again (the authoritative verdict); if pn > top, clear the words after
 *          top's word up to pn's word (all of them when pn jumps >= WORDS words), top = pn;
 *          set pn's bit.
 * Invariants: (1) the ring words hold exactly the bits of the pns in words
 * top/64 - (WORDS-1) .. top/64; every pn with top - pn < DEPTH lies in those words, because
 * DEPTH = (WORDS - 1) * 64 leaves the slack of top's own partial word; (2) a word is cleared
 * only when top moves into or past the block that reuses it, so no bit of a pn inside the
 * window is ever lost; (3) r changes only in mark, and only for a pn that check accepts, so a
 * pn behind the window can never set a bit that now stands for a newer pn.
 * Bounds: O(1) per call, at most WORDS words cleared; 136 bytes per direction.
 * Why mark re-checks: the receive loop may check a whole burst before verifying it; two
 * copies of one frame in the burst both pass check, and only the first mark succeeds.
 */
#include "dataplane/fauth.h"

#include <string.h>

#include "dataplane/fauth_pvt.h"

static const char *const fauth_messages[] = {
#define FAUTH_X_MSG(code, msg) msg,
    FAUTH_ERRORS(FAUTH_X_MSG)
#undef FAUTH_X_MSG
};

const char *fauth_strerror(enum fauth_error e)
{
    if ((unsigned)e >= FAUTH_E__COUNT)
        return "unknown error";
    return fauth_messages[e];
}

static const char *const mode_names[] = {
    [FAUTH_NONE] = "none",
    [FAUTH_GMAC] = "gmac",
    [FAUTH_GCM] = "gcm",
};

const char *fauth_mode_name(enum fauth_mode m)
{
    if ((unsigned)m >= sizeof(mode_names) / sizeof(mode_names[0]))
        return "?";
    return mode_names[m];
}

int fauth_mode_parse(const char *name, enum fauth_mode *out)
{
    for (unsigned m = 0; name != NULL && m < sizeof(mode_names) / sizeof(mode_names[0]); m++) {
        if (strcmp(name, mode_names[m]) == 0) {
            *out = (enum fauth_mode)m;
            return 0;
        }
    }
    return -1;
}

enum fauth_mode fauth_mode_stronger(enum fauth_mode a, enum fauth_mode b)
{
    /* The numbering is the strength order. */
    return a > b ? a : b;
}

size_t fauth_tag_len(enum fauth_mode m)
{
    return m == FAUTH_NONE ? 0 : FAUTH_TAG_LEN;
}

bool fauth_backend_available(enum fauth_backend b)
{
    switch (b) {
    case FAUTH_BACKEND_DEFAULT:
    case FAUTH_BACKEND_OSSL:
        return true;
    case FAUTH_BACKEND_IMB:
        return FAUTH_HAVE_IMB;
    }
    return false;
}

enum fauth_backend fauth_backend_default(void)
{
    return FAUTH_HAVE_IMB ? FAUTH_BACKEND_IMB : FAUTH_BACKEND_OSSL;
}

const char *fauth_backend_name(enum fauth_backend b)
{
    if (b == FAUTH_BACKEND_DEFAULT)
        b = fauth_backend_default();
#if FAUTH_HAVE_IMB
    if (b == FAUTH_BACKEND_IMB)
        return fauth_imb_name();
#endif
    if (b == FAUTH_BACKEND_OSSL)
        return fauth_ossl_name();
    return "unavailable";
}

bool fauth_tag_equal(const uint8_t a[FAUTH_TAG_LEN], const uint8_t b[FAUTH_TAG_LEN])
{
    uint8_t diff = 0;
    for (unsigned i = 0; i < FAUTH_TAG_LEN; i++)
        diff |= (uint8_t)(a[i] ^ b[i]);
    /* The compiler may not turn the loop into an early exit: diff is read once, at the end. */
    __asm__ volatile("" : "+r"(diff));
    return diff == 0;
}

/* --- keys ------------------------------------------------------------------------------ */

void fauth_key_wipe(struct fauth_key *k)
{
    if (k->ossl_ctx != NULL)
        fauth_ossl_key_wipe(k);
    explicit_bzero(k, sizeof(*k));
}

enum fauth_error fauth_key_init_backend(struct fauth_key *k, enum fauth_backend b,
                                        enum fauth_mode mode, const uint8_t *key, const uint8_t *iv)
{
    if (k == NULL)
        return FAUTH_E_ARG;
    if (k->ready)
        fauth_key_wipe(k);
    memset(k, 0, offsetof(struct fauth_key, imb_key));
    if (mode != FAUTH_NONE && mode != FAUTH_GMAC && mode != FAUTH_GCM)
        return FAUTH_E_ARG;
    if (b == FAUTH_BACKEND_DEFAULT)
        b = fauth_backend_default();
    if (!fauth_backend_available(b))
        return FAUTH_E_BACKEND;
    k->mode = (uint8_t)mode;
    k->backend = (uint8_t)b;
    if (mode == FAUTH_NONE) {
        k->ready = 1;
        return FAUTH_OK;
    }
    if (key == NULL || iv == NULL)
        return FAUTH_E_ARG;
    enum fauth_error e = FAUTH_E_BACKEND;
#if FAUTH_HAVE_IMB
    if (b == FAUTH_BACKEND_IMB)
        e = fauth_imb_key_init(k, key);
#endif
    if (b == FAUTH_BACKEND_OSSL)
        e = fauth_ossl_key_init(k, key);
    if (e != FAUTH_OK) {
        fauth_key_wipe(k);
        return e;
    }
    memcpy(k->iv, iv, FAUTH_IV_LEN);
    k->ready = 1;
    return FAUTH_OK;
}

enum fauth_error fauth_key_init(struct fauth_key *k, enum fauth_mode mode, const uint8_t *key,
                                const uint8_t *iv)
{
    return fauth_key_init_backend(k, FAUTH_BACKEND_DEFAULT, mode, key, iv);
}

void fauth_nonce(const uint8_t iv[FAUTH_IV_LEN], uint64_t pn, uint8_t out[FAUTH_IV_LEN])
{
    memcpy(out, iv, 4);
    for (unsigned i = 0; i < 8; i++)
        out[4 + i] = (uint8_t)(iv[4 + i] ^ (uint8_t)(pn >> (56 - 8 * i)));
}

/* --- seal / open ----------------------------------------------------------------------- */

static bool frame_args_ok(const struct fauth_key *k, const uint8_t *buf, size_t hdr_len, size_t len)
{
    return k->ready && hdr_len <= len && len <= FAUTH_LEN_MAX && (buf != NULL || len == 0);
}

enum fauth_error fauth_seal(const struct fauth_key *k, uint64_t pn, uint8_t *buf, size_t hdr_len,
                            size_t len, const uint8_t *src, uint8_t *tag)
{
    if (!frame_args_ok(k, buf, hdr_len, len))
        return FAUTH_E_ARG;
    if (pn == 0 || pn > FAUTH_PN_MAX)
        return FAUTH_E_PN_RANGE;
    if (k->mode != FAUTH_GCM && src != NULL && len > hdr_len)
        memcpy(buf + hdr_len, src, len - hdr_len);
    if (k->mode == FAUTH_NONE)
        return FAUTH_OK;
    uint8_t nonce[FAUTH_IV_LEN];
    fauth_nonce(k->iv, pn, nonce);
    const uint8_t *gcm_src = k->mode == FAUTH_GCM ? src : NULL;
    /* GMAC is GCM with everything as AAD: the backends see hdr_len = len. */
    size_t aad_len = k->mode == FAUTH_GCM ? hdr_len : len;
#if FAUTH_HAVE_IMB
    if (k->backend == FAUTH_BACKEND_IMB) {
        fauth_imb_seal(k, nonce, buf, aad_len, len, gcm_src, tag);
        return FAUTH_OK;
    }
#endif
    return fauth_ossl_seal(k, nonce, buf, aad_len, len, gcm_src, tag);
}

enum fauth_error fauth_open(const struct fauth_key *k, uint64_t pn, uint8_t *buf, size_t hdr_len,
                            size_t len, const uint8_t *tag)
{
    if (!frame_args_ok(k, buf, hdr_len, len))
        return FAUTH_E_ARG;
    if (k->mode == FAUTH_NONE)
        return FAUTH_OK;
    uint8_t nonce[FAUTH_IV_LEN];
    fauth_nonce(k->iv, pn, nonce);
    size_t aad_len = k->mode == FAUTH_GCM ? hdr_len : len;
#if FAUTH_HAVE_IMB
    if (k->backend == FAUTH_BACKEND_IMB)
        return fauth_imb_open(k, nonce, buf, aad_len, len, tag);
#endif
    return fauth_ossl_open(k, nonce, buf, aad_len, len, tag);
}

/* --- replay window --------------------------------------------------------------------- */

void fauth_replay_init(struct fauth_replay *r)
{
    memset(r, 0, sizeof(*r));
}

static inline uint64_t *replay_word(struct fauth_replay *r, uint64_t pn)
{
    return &r->bits[(pn / 64) % FAUTH_REPLAY_WORDS];
}

enum fauth_error fauth_replay_check(const struct fauth_replay *r, uint64_t pn)
{
    if (pn == 0 || pn > FAUTH_PN_MAX)
        return FAUTH_E_PN_RANGE;
    if (pn > r->top)
        return FAUTH_OK;
    if (r->top - pn >= FAUTH_REPLAY_DEPTH)
        return FAUTH_E_TOO_OLD;
    uint64_t word = r->bits[(pn / 64) % FAUTH_REPLAY_WORDS];
    return (word >> (pn % 64)) & 1 ? FAUTH_E_REPLAY : FAUTH_OK;
}

enum fauth_error fauth_replay_mark(struct fauth_replay *r, uint64_t pn)
{
    enum fauth_error e = fauth_replay_check(r, pn);
    if (e != FAUTH_OK)
        return e;
    if (pn > r->top) {
        uint64_t from = r->top / 64 + 1, to = pn / 64;
        if (to - from + 1 >= FAUTH_REPLAY_WORDS) {
            memset(r->bits, 0, sizeof(r->bits));
        } else {
            for (uint64_t w = from; w <= to; w++)
                r->bits[w % FAUTH_REPLAY_WORDS] = 0;
        }
        r->top = pn;
    }
    *replay_word(r, pn) |= UINT64_C(1) << (pn % 64);
    return FAUTH_OK;
}

enum fauth_error fauth_accept(const struct fauth_key *k, struct fauth_replay *r, uint64_t pn,
                              uint8_t *buf, size_t hdr_len, size_t len, const uint8_t *tag)
{
    enum fauth_error e = fauth_replay_check(r, pn);
    if (e != FAUTH_OK)
        return e;
    e = fauth_open(k, pn, buf, hdr_len, len, tag);
    if (e != FAUTH_OK)
        return e;
    return fauth_replay_mark(r, pn);
}
