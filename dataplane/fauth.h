/* Frame authentication for the data plane: seal and open a frame (header ‖ payload) under a
 * per-connection, per-direction AES-256 key with a 16-byte tag, the per-frame nonce, and the
 * anti-replay window. Design and measurements: docs/security.md (DESIGN-16 §2-§3).
 *
 * Owns: fauth_ keys, seal/open, the replay window and the error table. Pure: no DPDK, no
 * clock, no threads of its own, no logging. Fast path: fauth_seal, fauth_open,
 * fauth_replay_*, fauth_accept never allocate, block or lock. fauth_key_init (slow path)
 * may allocate inside the OpenSSL backend; fauth_key_wipe frees that.
 *
 * Modes (a key has one; the values are the ones sent in the connection offer):
 *   FAUTH_NONE  no tag (tag length 0); seal/open only copy/accept. The benchmark baseline.
 *   FAUTH_GMAC  tag = AES-256-GCM(key, nonce, AAD = buf[0..len), no plaintext): GMAC over
 *               header and payload; the payload travels in clear.
 *   FAUTH_GCM   AAD = buf[0..hdr_len) (the header), payload buf[hdr_len..len) encrypted.
 * nonce = iv XOR (0^32 ‖ pn as 64-bit big-endian): the TLS 1.3 construction. A packet number
 * pn is used at most once per key (the sender counts from 1, every frame type); pn 0 and
 * pn > FAUTH_PN_MAX are refused.
 *
 * Receiving a frame (the order matters; fauth_accept does all three):
 *   fauth_replay_check  cheap rejection of duplicates and stale pns before any crypto;
 *   fauth_open          the tag (gcm: decrypts in place in the same pass);
 *   fauth_replay_mark   only after the tag verified, so a forged frame with a high pn cannot
 *                       move the window; it checks again and is the authoritative verdict
 *                       (two copies of one frame in a burst: the second mark fails).
 *
 * Backends, chosen per key: intel-ipsec-mb's direct GCM API (when the build found it; the
 * default then) and OpenSSL EVP (always built: the portable fallback and the reference).
 * fauth_key_init uses the build's default; fauth_key_init_backend names one (tests, bench).
 *
 * Threads: a key is written only by fauth_key_init* / fauth_key_wipe; publish it to other
 * threads after init (release), wipe it after the last user is gone. An ipsec-mb key is
 * read-only afterwards: any number of threads may seal/open with it at once. An OpenSSL key
 * holds an EVP_CIPHER_CTX that every call modifies: one thread at a time per key (a transmit
 * key on the thread that builds the channel's frames, a receive key on its poller). A replay
 * window belongs to one thread (the receiving poller).
 */
#ifndef DPDIST_DATAPLANE_FAUTH_H
#define DPDIST_DATAPLANE_FAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FAUTH_KEY_LEN 32 /* AES-256 */
#define FAUTH_IV_LEN  12
#define FAUTH_TAG_LEN 16 /* not truncated (SP 800-38D: short GCM tags weaken faster) */
/* Highest packet number a key may seal; the sender stops (closes the channel) there. */
#define FAUTH_PN_MAX (UINT64_C(1) << 62)
/* Longest header + payload per call (a UDP datagram's bound). */
#define FAUTH_LEN_MAX 65535u
/* Replay window: a ring of 64-bit words; a pn this far or farther behind the highest pn
 * received is too old (one word of the ring is kept as slack for clearing ahead). */
#define FAUTH_REPLAY_BITS  1024u
#define FAUTH_REPLAY_WORDS (FAUTH_REPLAY_BITS / 64u)
#define FAUTH_REPLAY_DEPTH (FAUTH_REPLAY_BITS - 64u) /* 960 */
/* Room for ipsec-mb's expanded key (struct gcm_key_data; checked in fauth_imb.c). */
#define FAUTH_IMB_KEY_BYTES 1024u

#define FAUTH_ERRORS(X)                                                                            \
    X(FAUTH_OK, "ok")                                                                              \
    X(FAUTH_E_ARG, "invalid argument: mode, lengths, or a key not initialised")                    \
    X(FAUTH_E_BACKEND, "crypto backend unavailable in this build or failed")                       \
    X(FAUTH_E_PN_RANGE, "packet number 0 or above FAUTH_PN_MAX")                                   \
    X(FAUTH_E_BAD_TAG, "authentication tag does not verify")                                       \
    X(FAUTH_E_REPLAY, "packet number already received (replay)")                                   \
    X(FAUTH_E_TOO_OLD, "packet number behind the replay window")

enum fauth_error {
#define FAUTH_X_ENUM(code, msg) code,
    FAUTH_ERRORS(FAUTH_X_ENUM)
#undef FAUTH_X_ENUM
        FAUTH_E__COUNT
};

/* Message for an error code; never NULL, static storage. */
const char *fauth_strerror(enum fauth_error e);

enum fauth_mode {
    FAUTH_NONE = 0,
    FAUTH_GMAC = 1,
    FAUTH_GCM = 2,
};

enum fauth_backend {
    FAUTH_BACKEND_DEFAULT = 0, /* the build's choice: ipsec-mb when found, else OpenSSL */
    FAUTH_BACKEND_IMB = 1,
    FAUTH_BACKEND_OSSL = 2,
};

/* "none" | "gmac" | "gcm"; "?" for other values. */
const char *fauth_mode_name(enum fauth_mode m);
/* Parse a mode name into *out: 0, or -1 for an unknown name. */
int fauth_mode_parse(const char *name, enum fauth_mode *out);
/* Negotiation: the stronger of two modes (gcm > gmac > none). */
enum fauth_mode fauth_mode_stronger(enum fauth_mode a, enum fauth_mode b);
/* Tag bytes a frame carries in mode m: 0 for FAUTH_NONE, else FAUTH_TAG_LEN. */
size_t fauth_tag_len(enum fauth_mode m);

/* Whether backend b is built in (FAUTH_BACKEND_DEFAULT: always true). */
bool fauth_backend_available(enum fauth_backend b);
/* What the build's default resolves to (FAUTH_BACKEND_IMB or FAUTH_BACKEND_OSSL). */
enum fauth_backend fauth_backend_default(void);
/* "ipsec-mb 1.3.0", "openssl 3.0.19", ...: for logs and the benchmark; static storage. */
const char *fauth_backend_name(enum fauth_backend b);

/* One direction's key. Caller-owned, 64-byte aligned (embed it, or allocate with
 * aligned_alloc/new); about 1.1 KiB. Fields are private to fauth*.c. */
struct fauth_key {
    uint8_t ready;   /* set by init, cleared by wipe */
    uint8_t mode;    /* enum fauth_mode */
    uint8_t backend; /* enum fauth_backend, resolved */
    uint8_t iv[FAUTH_IV_LEN];
    void *ossl_ctx; /* OpenSSL backend: EVP_CIPHER_CTX (owned) */
    uint8_t imb_key[FAUTH_IMB_KEY_BYTES] __attribute__((aligned(64)));
} __attribute__((aligned(64)));

/* Prepare k for mode with key[FAUTH_KEY_LEN] and iv[FAUTH_IV_LEN] (both copied; the caller
 * wipes its copies). FAUTH_NONE ignores key and iv (they may be NULL). Returns FAUTH_OK,
 * FAUTH_E_ARG (mode, NULL k, key or iv) or FAUTH_E_BACKEND (not built in, or the library failed);
 * on error k is wiped. k must be zero-filled, wiped, or initialised before (then it is wiped
 * first). Slow path. */
enum fauth_error fauth_key_init(struct fauth_key *k, enum fauth_mode mode, const uint8_t *key,
                                const uint8_t *iv);
enum fauth_error fauth_key_init_backend(struct fauth_key *k, enum fauth_backend b,
                                        enum fauth_mode mode, const uint8_t *key,
                                        const uint8_t *iv);
/* Erase the key material and free what init allocated; k is then unusable until init again.
 * Safe on a zeroed or already wiped key. */
void fauth_key_wipe(struct fauth_key *k);

/* The nonce of packet number pn: iv XOR (0^32 ‖ pn big-endian). */
void fauth_nonce(const uint8_t iv[FAUTH_IV_LEN], uint64_t pn, uint8_t out[FAUTH_IV_LEN]);

/* Seal one frame: buf[0..hdr_len) is the header, buf[hdr_len..len) the payload. With src
 * != NULL the payload is taken from src[0..len-hdr_len) and written to buf+hdr_len (copied,
 * or encrypted in FAUTH_GCM: the encryption is the copy); with src == NULL it is already in
 * buf (FAUTH_GCM encrypts it in place). src must not overlap buf partially. tag receives
 * fauth_tag_len(mode) bytes (nothing in FAUTH_NONE) and must not overlap buf[0..len).
 * Returns FAUTH_OK, FAUTH_E_ARG (key not ready, hdr_len > len, len > FAUTH_LEN_MAX),
 * FAUTH_E_PN_RANGE or FAUTH_E_BACKEND. */
enum fauth_error fauth_seal(const struct fauth_key *k, uint64_t pn, uint8_t *buf, size_t hdr_len,
                            size_t len, const uint8_t *src, uint8_t *tag);

/* Verify one frame sealed with pn (same layout; tag = the received tag). FAUTH_GCM decrypts
 * the payload in place in the same pass: on FAUTH_OK it is plaintext; on any error the
 * payload bytes are unspecified and the frame must be dropped. Returns FAUTH_OK,
 * FAUTH_E_BAD_TAG, FAUTH_E_ARG or FAUTH_E_BACKEND. Constant time in the tag comparison. */
enum fauth_error fauth_open(const struct fauth_key *k, uint64_t pn, uint8_t *buf, size_t hdr_len,
                            size_t len, const uint8_t *tag);

/* Anti-replay window of one receive direction (RFC 6479 style): top = highest pn accepted,
 * bit pn % FAUTH_REPLAY_BITS of the ring set = pn accepted, for pns within
 * FAUTH_REPLAY_DEPTH of top. 136 bytes; zero-initialised is the same as fauth_replay_init. */
struct fauth_replay {
    uint64_t top;
    uint64_t bits[FAUTH_REPLAY_WORDS];
};

void fauth_replay_init(struct fauth_replay *r);

/* May pn be new? FAUTH_OK (above top, or inside the window and not seen), FAUTH_E_REPLAY,
 * FAUTH_E_TOO_OLD (top - pn >= FAUTH_REPLAY_DEPTH) or FAUTH_E_PN_RANGE. Does not change r. */
enum fauth_error fauth_replay_check(const struct fauth_replay *r, uint64_t pn);

/* Record pn as received (call only after its tag verified): checks again and returns the
 * same codes as fauth_replay_check; FAUTH_OK means pn was new and is now marked (the frame
 * may be accepted), anything else means it must be dropped and r did not change. Moving top
 * forward clears the ring words it passes over. */
enum fauth_error fauth_replay_mark(struct fauth_replay *r, uint64_t pn);

/* The whole receive decision for one frame: check, open, mark. FAUTH_OK = accept (and, in
 * FAUTH_GCM, the payload is decrypted); otherwise the reason to count. */
enum fauth_error fauth_accept(const struct fauth_key *k, struct fauth_replay *r, uint64_t pn,
                              uint8_t *buf, size_t hdr_len, size_t len, const uint8_t *tag);

#ifdef __cplusplus
}
#endif

#endif
