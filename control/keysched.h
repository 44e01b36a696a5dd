/* The data-plane key schedule: from what both ends of a distribution connection know (the
 * cookie, or the TLS exporter and the cookie; the handshake transcript; an X25519 exchange in
 * the handshake trailers) to the per-direction frame keys of dataplane/fauth.h, the channel
 * keys, the key confirmation tag and key updates. docs/security.md has the threat model, the
 * reasons and the published test vectors; DESIGN-16 §4 as amended by JOINT-15-16 §2.
 *
 *   th      = SHA-256(transcript)             hs_transcript(): every handshake message,
 *                                             2-byte length ‖ body, wire order, both ways
 *   ikm     = cookie                          (cookie handshake)
 *           | exporter ‖ cookie               (TLS: 32 bytes, label KS_TLS_EXPORTER_LABEL)
 *   prk     = HKDF-Extract(salt = th, ikm)
 *   dh      = X25519(own ephemeral private key, peer's public key from its trailer)
 *   s       = HKDF-Extract(salt = th, ikm = prk ‖ dh)
 *   sec_i>a = HKDF-Expand(s, "dpdist v2 traffic i>a", 32)    initiator -> acceptor
 *   sec_a>i = HKDF-Expand(s, "dpdist v2 traffic a>i", 32)    acceptor -> initiator
 *   csec    = HKDF-Expand(s, "dpdist v2 channel", 32)        the channel this connection
 *   csec_d  = HKDF-Expand(csec, "dpdist v2 traffic " d, 32)  creates; d = "i>a" | "a>i"
 *   key     = HKDF-Expand(sec, "dpdist v2 key", 32)          of any secret sec above
 *   iv      = HKDF-Expand(sec, "dpdist v2 iv", 12)
 *   update  : sec' = HKDF-Expand(sec, "dpdist v2 ku", 32), then key and iv again
 *   confirm = HMAC-SHA256(HKDF-Expand(sec_d, "dpdist v2 confirm", 32), th)[0..16)
 * HKDF is RFC 5869 with SHA-256; labels are the ASCII bytes shown (no length, no NUL).
 * Every direction has its own key and IV: fauth's packet numbers start at 1 in each
 * direction, so one key for both would repeat GCM nonces.
 *
 * Owns: ks_ functions and the error table. Pure over libcrypto (OpenSSL EVP, EVP_KDF, EVP_MAC,
 * EVP_PKEY): no I/O, no threads, no logging; it may allocate inside OpenSSL (slow path: the
 * control thread, once per connection and per key update). Thread-safe: the only shared
 * state is the HKDF and HMAC implementations, fetched once per process and never freed.
 * Secrets live in caller-owned structs; wipe them with the ks_*_wipe functions
 * (OPENSSL_cleanse); intermediate values are wiped before return.
 */
#ifndef DPDIST_CONTROL_KEYSCHED_H
#define DPDIST_CONTROL_KEYSCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/cookie.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KS_HASH_LEN     32 /* SHA-256 */
#define KS_SECRET_LEN   32
#define KS_KEY_LEN      32 /* = FAUTH_KEY_LEN */
#define KS_IV_LEN       12 /* = FAUTH_IV_LEN */
#define KS_X25519_LEN   32
#define KS_TAG_LEN      16 /* HMAC-SHA256 truncated */
#define KS_EXPORTER_LEN 32
/* SSL_export_keying_material label, no context (RFC 5705 "EXPERIMENTAL" private use). */
#define KS_TLS_EXPORTER_LABEL "EXPERIMENTAL dpdist v2"
/* Longest ikm: a TLS exporter and a cookie. */
#define KS_IKM_MAX (KS_EXPORTER_LEN + COOKIE_MAX_LEN)
/* RFC 5869: at most 255 blocks of output from one PRK. */
#define KS_HKDF_EXPAND_MAX (255 * KS_HASH_LEN)

#define KS_LABEL_TRAFFIC_I2A "dpdist v2 traffic i>a"
#define KS_LABEL_TRAFFIC_A2I "dpdist v2 traffic a>i"
#define KS_LABEL_CHANNEL     "dpdist v2 channel"
#define KS_LABEL_KEY         "dpdist v2 key"
#define KS_LABEL_IV          "dpdist v2 iv"
#define KS_LABEL_UPDATE      "dpdist v2 ku"
#define KS_LABEL_CONFIRM     "dpdist v2 confirm"

#define KS_ERRORS(X)                                                                               \
    X(KS_OK, "ok")                                                                                 \
    X(KS_E_ARG, "invalid argument: NULL, empty or too long input")                                 \
    X(KS_E_CRYPTO, "libcrypto call failed")                                                        \
    X(KS_E_RANDOM, "no random bytes for an X25519 private key")                                    \
    X(KS_E_LOW_ORDER, "X25519 result is zero: the peer's public key is of low order")              \
    X(KS_E_STATE, "the connection secret has no X25519 result mixed in yet")

enum ks_error {
#define KS_X_ENUM(code, msg) code,
    KS_ERRORS(KS_X_ENUM)
#undef KS_X_ENUM
        KS_E__COUNT
};

/* Message for an error code; never NULL, static storage. */
const char *ks_strerror(enum ks_error e);

/* --- primitives ------------------------------------------------------------------------ */

/* SHA-256 of data[0..len). */
enum ks_error ks_sha256(const void *data, size_t len, uint8_t out[KS_HASH_LEN]);

/* HKDF-Extract (RFC 5869 §2.2) with SHA-256; an empty salt means HashLen zero bytes. */
enum ks_error ks_hkdf_extract(const uint8_t *salt, size_t salt_len, const uint8_t *ikm,
                              size_t ikm_len, uint8_t prk[KS_HASH_LEN]);

/* HKDF-Expand (RFC 5869 §2.3) with SHA-256: out_len (1..KS_HKDF_EXPAND_MAX) bytes from prk
 * (>= KS_HASH_LEN bytes) and info (may be empty). */
enum ks_error ks_hkdf_expand(const uint8_t *prk, size_t prk_len, const uint8_t *info,
                             size_t info_len, uint8_t *out, size_t out_len);

/* A piece of a message fed to the MACs below. */
struct ks_part {
    const void *ptr;
    size_t len;
};

/* HMAC-SHA256(key, parts[0] ‖ parts[1] ‖ ...). */
enum ks_error ks_hmac_sha256(const uint8_t *key, size_t key_len, const struct ks_part *parts,
                             size_t n_parts, uint8_t out[KS_HASH_LEN]);

/* HMAC-SHA256(key, label ‖ parts...) truncated to KS_TAG_LEN bytes. */
enum ks_error ks_tag(const uint8_t *key, size_t key_len, const char *label,
                     const struct ks_part *parts, size_t n_parts, uint8_t out[KS_TAG_LEN]);

/* Constant-time comparison of two tags: true when equal. */
bool ks_tag_equal(const uint8_t a[KS_TAG_LEN], const uint8_t b[KS_TAG_LEN]);

/* --- X25519 (RFC 7748) ------------------------------------------------------------------- */

/* An ephemeral key pair: the public key, and the private key inside OpenSSL (an EVP_PKEY,
 * owned; kept so that ks_x25519_derive costs one scalar multiplication, not two). Start from
 * a zeroed struct; ks_x25519_wipe frees and erases it (after the derive). */
struct ks_x25519 {
    uint8_t pub[KS_X25519_LEN];
    void *pkey;
};

/* A fresh key pair from OpenSSL's DRBG (KS_E_RANDOM if it fails). A key pair already in kp
 * is wiped first. */
enum ks_error ks_x25519_keygen(struct ks_x25519 *kp);
/* The key pair of a given private key (test vectors); wipes a previous one. */
enum ks_error ks_x25519_from_private(struct ks_x25519 *kp, const uint8_t priv[KS_X25519_LEN]);
/* The shared secret with the peer's public key; KS_E_LOW_ORDER for a public key of small
 * order (the result would be all zero: RFC 7748 §6.1's check); KS_E_ARG without a key pair. */
enum ks_error ks_x25519_derive(const struct ks_x25519 *own, const uint8_t peer_pub[KS_X25519_LEN],
                               uint8_t out[KS_X25519_LEN]);
void ks_x25519_wipe(struct ks_x25519 *kp);

/* --- the connection's schedule ------------------------------------------------------------ */

/* ikm for a connection made over TLS: exporter ‖ cookie into out[KS_IKM_MAX]; *out_len. */
enum ks_error ks_ikm_tls(const uint8_t exporter[KS_EXPORTER_LEN], const char *cookie,
                         uint8_t out[KS_IKM_MAX], size_t *out_len);

/* The secrets of one connection (both ends compute the same). Secret: wipe with
 * ks_conn_wipe. */
struct ks_conn {
    uint8_t th[KS_HASH_LEN];  /* SHA-256 of the transcript (not secret) */
    uint8_t prk[KS_HASH_LEN]; /* from ikm alone */
    uint8_t s[KS_HASH_LEN];   /* prk mixed with the X25519 result */
    bool have_s;
};

/* th and prk from ikm (1..KS_IKM_MAX bytes) and the transcript (non-empty). */
enum ks_error ks_conn_init(struct ks_conn *c, const uint8_t *ikm, size_t ikm_len,
                           const uint8_t *transcript, size_t transcript_len);
/* s = HKDF-Extract(th, prk ‖ dh). */
enum ks_error ks_conn_mix_dh(struct ks_conn *c, const uint8_t dh[KS_X25519_LEN]);
/* All of it: init, X25519 with own and peer_pub, mix. The usual entry point. */
enum ks_error ks_conn_establish(struct ks_conn *c, const uint8_t *ikm, size_t ikm_len,
                                const uint8_t *transcript, size_t transcript_len,
                                const struct ks_x25519 *own, const uint8_t peer_pub[KS_X25519_LEN]);
void ks_conn_wipe(struct ks_conn *c);

/* One direction's traffic secret and the frame key and IV derived from it. The engine gets
 * key and iv (fauth_key_init); the control thread keeps secret for key updates. */
struct ks_traffic {
    uint8_t secret[KS_SECRET_LEN];
    uint8_t key[KS_KEY_LEN];
    uint8_t iv[KS_IV_LEN];
    uint32_t generation; /* 0, +1 per update */
};

/* key and iv from a secret (generation 0): for the traffic and channel secrets below, and for
 * a channel secret that comes from elsewhere ([dataplane] secret_file, JOINT-15-16 §3). */
enum ks_error ks_traffic_from_secret(const uint8_t secret[KS_SECRET_LEN], struct ks_traffic *t);
/* The connection's traffic keys, both directions (needs ks_conn_mix_dh: KS_E_STATE). */
enum ks_error ks_traffic_derive(const struct ks_conn *c, struct ks_traffic *i2a,
                                struct ks_traffic *a2i);
/* The keys of the channel this connection creates, both directions (KS_E_STATE as above). */
enum ks_error ks_channel_derive(const struct ks_conn *c, struct ks_traffic *i2a,
                                struct ks_traffic *a2i);
/* Key update: secret' = HKDF-Expand(secret, "dpdist v2 ku", 32), new key and iv. */
enum ks_error ks_traffic_update(struct ks_traffic *t);
/* The key confirmation tag the sender of direction t puts in its first CTRL message; the
 * receiver computes it from its own copy and compares with ks_tag_equal. Uses t's secret as
 * derived (generation 0: confirm before any update; KS_E_STATE otherwise). */
enum ks_error ks_confirm_tag(const struct ks_traffic *t, const struct ks_conn *c,
                             uint8_t out[KS_TAG_LEN]);
void ks_traffic_wipe(struct ks_traffic *t);

#ifdef __cplusplus
}
#endif

#endif
