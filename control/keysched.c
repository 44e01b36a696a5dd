/* The data-plane key schedule over OpenSSL 3 (EVP_KDF "HKDF", EVP_MAC "HMAC", EVP_PKEY X25519,
 * EVP_Digest): see keysched.h for the schedule and the rules. Slow path.
 *
 * Every secret intermediate (concatenations, derived secrets before they are copied out) is
 * on the stack and cleansed before return; on an error the outputs are cleansed too, so a
 * caller never holds half a key.
 */
#include "control/keysched.h"

#include <pthread.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

static const char *const ks_messages[] = {
#define KS_X_MSG(code, msg) msg,
    KS_ERRORS(KS_X_MSG)
#undef KS_X_MSG
};

const char *ks_strerror(enum ks_error e)
{
    if ((unsigned)e >= KS_E__COUNT)
        return "unknown error";
    return ks_messages[e];
}

/* --- primitives ------------------------------------------------------------------------ */

enum ks_error ks_sha256(const void *data, size_t len, uint8_t out[KS_HASH_LEN])
{
    unsigned int n = 0;
    if (data == NULL && len > 0)
        return KS_E_ARG;
    if (!EVP_Digest(len ? data : "", len, out, &n, EVP_sha256(), NULL) || n != KS_HASH_LEN)
        return KS_E_CRYPTO;
    return KS_OK;
}

/* The HKDF and HMAC implementations, fetched once (a fetch costs about as much as the
 * derivation) and kept for the life of the process. */
static EVP_KDF *hkdf_impl;
static EVP_MAC *hmac_impl;
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;

static void fetch_impls(void)
{
    hkdf_impl = EVP_KDF_fetch(NULL, "HKDF", NULL);
    hmac_impl = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

/* One HKDF call through EVP_KDF in the given mode. */
static enum ks_error hkdf(int mode, const uint8_t *salt, size_t salt_len, const uint8_t *key,
                          size_t key_len, const uint8_t *info, size_t info_len, uint8_t *out,
                          size_t out_len)
{
    pthread_once(&fetch_once, fetch_impls);
    EVP_KDF_CTX *ctx = hkdf_impl != NULL ? EVP_KDF_CTX_new(hkdf_impl) : NULL;
    if (ctx == NULL)
        return KS_E_CRYPTO;
    char digest[] = "SHA256";
    OSSL_PARAM params[6], *p = params;
    *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
    *p++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)key, key_len);
    if (salt_len > 0)
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len);
    if (info_len > 0)
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, info_len);
    *p = OSSL_PARAM_construct_end();
    int ok = EVP_KDF_derive(ctx, out, out_len, params);
    EVP_KDF_CTX_free(ctx);
    if (ok != 1) {
        OPENSSL_cleanse(out, out_len);
        return KS_E_CRYPTO;
    }
    return KS_OK;
}

enum ks_error ks_hkdf_extract(const uint8_t *salt, size_t salt_len, const uint8_t *ikm,
                              size_t ikm_len, uint8_t prk[KS_HASH_LEN])
{
    if ((salt == NULL && salt_len > 0) || (ikm == NULL && ikm_len > 0))
        return KS_E_ARG;
    /* EVP_KDF wants a key buffer even when the ikm is empty. */
    static const uint8_t empty[1];
    return hkdf(EVP_KDF_HKDF_MODE_EXTRACT_ONLY, salt, salt_len, ikm_len ? ikm : empty, ikm_len,
                NULL, 0, prk, KS_HASH_LEN);
}

enum ks_error ks_hkdf_expand(const uint8_t *prk, size_t prk_len, const uint8_t *info,
                             size_t info_len, uint8_t *out, size_t out_len)
{
    if (prk == NULL || prk_len < KS_HASH_LEN || (info == NULL && info_len > 0) || out == NULL ||
        out_len == 0 || out_len > KS_HKDF_EXPAND_MAX)
        return KS_E_ARG;
    return hkdf(EVP_KDF_HKDF_MODE_EXPAND_ONLY, NULL, 0, prk, prk_len, info, info_len, out, out_len);
}

/* Expand with an ASCII label as info. */
static enum ks_error expand_label(const uint8_t prk[KS_HASH_LEN], const char *label, uint8_t *out,
                                  size_t out_len)
{
    return ks_hkdf_expand(prk, KS_HASH_LEN, (const uint8_t *)label, strlen(label), out, out_len);
}

enum ks_error ks_hmac_sha256(const uint8_t *key, size_t key_len, const struct ks_part *parts,
                             size_t n_parts, uint8_t out[KS_HASH_LEN])
{
    if (key == NULL || key_len == 0 || (parts == NULL && n_parts > 0))
        return KS_E_ARG;
    pthread_once(&fetch_once, fetch_impls);
    EVP_MAC_CTX *ctx = hmac_impl != NULL ? EVP_MAC_CTX_new(hmac_impl) : NULL;
    if (ctx == NULL)
        return KS_E_CRYPTO;
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    bool ok = EVP_MAC_init(ctx, key, key_len, params) == 1;
    for (size_t i = 0; ok && i < n_parts; i++)
        ok = parts[i].len == 0 ||
             (parts[i].ptr != NULL && EVP_MAC_update(ctx, parts[i].ptr, parts[i].len) == 1);
    size_t n = 0;
    ok = ok && EVP_MAC_final(ctx, out, &n, KS_HASH_LEN) == 1 && n == KS_HASH_LEN;
    EVP_MAC_CTX_free(ctx);
    if (!ok) {
        OPENSSL_cleanse(out, KS_HASH_LEN);
        return KS_E_CRYPTO;
    }
    return KS_OK;
}

#define KS_TAG_PARTS_MAX 8

enum ks_error ks_tag(const uint8_t *key, size_t key_len, const char *label,
                     const struct ks_part *parts, size_t n_parts, uint8_t out[KS_TAG_LEN])
{
    if (label == NULL || n_parts >= KS_TAG_PARTS_MAX || (parts == NULL && n_parts > 0))
        return KS_E_ARG;
    struct ks_part all[KS_TAG_PARTS_MAX];
    all[0] = (struct ks_part){label, strlen(label)};
    for (size_t i = 0; i < n_parts; i++)
        all[i + 1] = parts[i];
    uint8_t full[KS_HASH_LEN];
    enum ks_error e = ks_hmac_sha256(key, key_len, all, n_parts + 1, full);
    if (e == KS_OK)
        memcpy(out, full, KS_TAG_LEN);
    OPENSSL_cleanse(full, sizeof(full));
    return e;
}

bool ks_tag_equal(const uint8_t a[KS_TAG_LEN], const uint8_t b[KS_TAG_LEN])
{
    return CRYPTO_memcmp(a, b, KS_TAG_LEN) == 0;
}

/* --- X25519 ------------------------------------------------------------------------------- */

/* Take pk as kp's key pair (wiping the previous one) and read its public key. */
static enum ks_error adopt_pkey(struct ks_x25519 *kp, EVP_PKEY *pk)
{
    ks_x25519_wipe(kp);
    size_t n = KS_X25519_LEN;
    if (pk == NULL || EVP_PKEY_get_raw_public_key(pk, kp->pub, &n) != 1 || n != KS_X25519_LEN) {
        EVP_PKEY_free(pk);
        ks_x25519_wipe(kp);
        return KS_E_CRYPTO;
    }
    kp->pkey = pk;
    return KS_OK;
}

enum ks_error ks_x25519_from_private(struct ks_x25519 *kp, const uint8_t priv[KS_X25519_LEN])
{
    return adopt_pkey(kp, EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, KS_X25519_LEN));
}

enum ks_error ks_x25519_keygen(struct ks_x25519 *kp)
{
    EVP_PKEY *pk = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "X25519", NULL);
    bool ok = ctx != NULL && EVP_PKEY_keygen_init(ctx) == 1 && EVP_PKEY_generate(ctx, &pk) == 1;
    EVP_PKEY_CTX_free(ctx);
    if (!ok) {
        EVP_PKEY_free(pk);
        ks_x25519_wipe(kp);
        return KS_E_RANDOM; /* the generation draws from the DRBG; nothing else can fail */
    }
    return adopt_pkey(kp, pk);
}

enum ks_error ks_x25519_derive(const struct ks_x25519 *own, const uint8_t peer_pub[KS_X25519_LEN],
                               uint8_t out[KS_X25519_LEN])
{
    if (own->pkey == NULL)
        return KS_E_ARG;
    EVP_PKEY *peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, peer_pub, KS_X25519_LEN);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, own->pkey, NULL);
    enum ks_error e = KS_E_CRYPTO;
    if (peer != NULL && ctx != NULL && EVP_PKEY_derive_init(ctx) == 1 &&
        EVP_PKEY_derive_set_peer(ctx, peer) == 1) {
        /* With the keys set up, OpenSSL refuses only an all-zero result (a low-order peer
         * key); the check below covers a library that would not. */
        size_t n = KS_X25519_LEN;
        e = EVP_PKEY_derive(ctx, out, &n) == 1 && n == KS_X25519_LEN ? KS_OK : KS_E_LOW_ORDER;
        static const uint8_t zero[KS_X25519_LEN];
        if (e == KS_OK && CRYPTO_memcmp(out, zero, KS_X25519_LEN) == 0)
            e = KS_E_LOW_ORDER;
    }
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(peer);
    if (e != KS_OK)
        OPENSSL_cleanse(out, KS_X25519_LEN);
    return e;
}

void ks_x25519_wipe(struct ks_x25519 *kp)
{
    EVP_PKEY_free(kp->pkey); /* cleanses the private key */
    OPENSSL_cleanse(kp, sizeof(*kp));
}

/* --- the connection's schedule ------------------------------------------------------------ */

enum ks_error ks_ikm_tls(const uint8_t exporter[KS_EXPORTER_LEN], const char *cookie,
                         uint8_t out[KS_IKM_MAX], size_t *out_len)
{
    size_t cl = cookie != NULL ? strlen(cookie) : 0;
    if (exporter == NULL || cl == 0 || cl > COOKIE_MAX_LEN)
        return KS_E_ARG;
    memcpy(out, exporter, KS_EXPORTER_LEN);
    memcpy(out + KS_EXPORTER_LEN, cookie, cl);
    *out_len = KS_EXPORTER_LEN + cl;
    return KS_OK;
}

enum ks_error ks_conn_init(struct ks_conn *c, const uint8_t *ikm, size_t ikm_len,
                           const uint8_t *transcript, size_t transcript_len)
{
    OPENSSL_cleanse(c, sizeof(*c));
    if (ikm == NULL || ikm_len == 0 || ikm_len > KS_IKM_MAX || transcript == NULL ||
        transcript_len == 0)
        return KS_E_ARG;
    enum ks_error e = ks_sha256(transcript, transcript_len, c->th);
    if (e == KS_OK)
        e = ks_hkdf_extract(c->th, KS_HASH_LEN, ikm, ikm_len, c->prk);
    if (e != KS_OK)
        ks_conn_wipe(c);
    return e;
}

enum ks_error ks_conn_mix_dh(struct ks_conn *c, const uint8_t dh[KS_X25519_LEN])
{
    uint8_t ikm[KS_HASH_LEN + KS_X25519_LEN];
    memcpy(ikm, c->prk, KS_HASH_LEN);
    memcpy(ikm + KS_HASH_LEN, dh, KS_X25519_LEN);
    enum ks_error e = ks_hkdf_extract(c->th, KS_HASH_LEN, ikm, sizeof(ikm), c->s);
    OPENSSL_cleanse(ikm, sizeof(ikm));
    c->have_s = e == KS_OK;
    return e;
}

enum ks_error ks_conn_establish(struct ks_conn *c, const uint8_t *ikm, size_t ikm_len,
                                const uint8_t *transcript, size_t transcript_len,
                                const struct ks_x25519 *own, const uint8_t peer_pub[KS_X25519_LEN])
{
    uint8_t dh[KS_X25519_LEN];
    enum ks_error e = ks_conn_init(c, ikm, ikm_len, transcript, transcript_len);
    if (e == KS_OK)
        e = ks_x25519_derive(own, peer_pub, dh);
    if (e == KS_OK)
        e = ks_conn_mix_dh(c, dh);
    OPENSSL_cleanse(dh, sizeof(dh));
    if (e != KS_OK)
        ks_conn_wipe(c);
    return e;
}

void ks_conn_wipe(struct ks_conn *c)
{
    OPENSSL_cleanse(c, sizeof(*c));
}

enum ks_error ks_traffic_from_secret(const uint8_t secret[KS_SECRET_LEN], struct ks_traffic *t)
{
    if (t->secret != secret)
        memcpy(t->secret, secret, KS_SECRET_LEN);
    t->generation = 0;
    enum ks_error e = expand_label(t->secret, KS_LABEL_KEY, t->key, KS_KEY_LEN);
    if (e == KS_OK)
        e = expand_label(t->secret, KS_LABEL_IV, t->iv, KS_IV_LEN);
    if (e != KS_OK)
        ks_traffic_wipe(t);
    return e;
}

/* Both directions' traffic from one secret: base_i2a/base_a2i = Expand(base, label), then the
 * key and iv of each. */
static enum ks_error derive_pair(const uint8_t base[KS_HASH_LEN], struct ks_traffic *i2a,
                                 struct ks_traffic *a2i)
{
    uint8_t sec[KS_SECRET_LEN];
    enum ks_error e = expand_label(base, KS_LABEL_TRAFFIC_I2A, sec, sizeof(sec));
    if (e == KS_OK)
        e = ks_traffic_from_secret(sec, i2a);
    if (e == KS_OK)
        e = expand_label(base, KS_LABEL_TRAFFIC_A2I, sec, sizeof(sec));
    if (e == KS_OK)
        e = ks_traffic_from_secret(sec, a2i);
    OPENSSL_cleanse(sec, sizeof(sec));
    if (e != KS_OK) {
        ks_traffic_wipe(i2a);
        ks_traffic_wipe(a2i);
    }
    return e;
}

enum ks_error ks_traffic_derive(const struct ks_conn *c, struct ks_traffic *i2a,
                                struct ks_traffic *a2i)
{
    if (!c->have_s)
        return KS_E_STATE;
    return derive_pair(c->s, i2a, a2i);
}

enum ks_error ks_channel_derive(const struct ks_conn *c, struct ks_traffic *i2a,
                                struct ks_traffic *a2i)
{
    if (!c->have_s)
        return KS_E_STATE;
    uint8_t csec[KS_SECRET_LEN];
    enum ks_error e = expand_label(c->s, KS_LABEL_CHANNEL, csec, sizeof(csec));
    if (e == KS_OK)
        e = derive_pair(csec, i2a, a2i);
    OPENSSL_cleanse(csec, sizeof(csec));
    return e;
}

enum ks_error ks_traffic_update(struct ks_traffic *t)
{
    uint8_t next[KS_SECRET_LEN];
    uint32_t generation = t->generation;
    enum ks_error e = expand_label(t->secret, KS_LABEL_UPDATE, next, sizeof(next));
    if (e == KS_OK)
        e = ks_traffic_from_secret(next, t);
    OPENSSL_cleanse(next, sizeof(next));
    if (e != KS_OK)
        return e; /* t was wiped */
    t->generation = generation + 1;
    return KS_OK;
}

enum ks_error ks_confirm_tag(const struct ks_traffic *t, const struct ks_conn *c,
                             uint8_t out[KS_TAG_LEN])
{
    if (t->generation != 0)
        return KS_E_STATE;
    uint8_t ck[KS_HASH_LEN], full[KS_HASH_LEN];
    enum ks_error e = expand_label(t->secret, KS_LABEL_CONFIRM, ck, sizeof(ck));
    struct ks_part th = {c->th, KS_HASH_LEN};
    if (e == KS_OK)
        e = ks_hmac_sha256(ck, sizeof(ck), &th, 1, full);
    if (e == KS_OK)
        memcpy(out, full, KS_TAG_LEN);
    OPENSSL_cleanse(ck, sizeof(ck));
    OPENSSL_cleanse(full, sizeof(full));
    return e;
}

void ks_traffic_wipe(struct ks_traffic *t)
{
    OPENSSL_cleanse(t, sizeof(*t));
}
