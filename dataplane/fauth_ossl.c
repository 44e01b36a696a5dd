/* fauth backend: OpenSSL EVP AES-256-GCM. Always built: the portable fallback when the build
 * has no intel-ipsec-mb, and the reference the tests hold the other backend to. It costs
 * ~160 ns per frame more than ipsec-mb (EVP's provider dispatch, not AES: docs/security.md).
 * Fast path (seal/open): no allocation (the EVP_CIPHER_CTX is made at key init and only
 * re-armed with the nonce per frame), no lock; the context is modified by every call, so one
 * thread at a time per key.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "dataplane/fauth_pvt.h"

enum fauth_error fauth_ossl_key_init(struct fauth_key *k, const uint8_t key[FAUTH_KEY_LEN])
{
    EVP_CIPHER *cipher = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    /* The context keeps its own reference to the cipher; the nonce comes per frame. */
    bool ok = cipher != NULL && ctx != NULL && EVP_CipherInit_ex(ctx, cipher, NULL, key, NULL, 1);
    EVP_CIPHER_free(cipher);
    if (!ok) {
        EVP_CIPHER_CTX_free(ctx);
        return FAUTH_E_BACKEND;
    }
    k->ossl_ctx = ctx;
    return FAUTH_OK;
}

void fauth_ossl_key_wipe(struct fauth_key *k)
{
    EVP_CIPHER_CTX_free(k->ossl_ctx); /* cleanses the expanded key */
    k->ossl_ctx = NULL;
}

static pthread_once_t name_once = PTHREAD_ONCE_INIT;
static char name[48];

static void make_name(void)
{
    snprintf(name, sizeof(name), "openssl %s", OpenSSL_version(OPENSSL_VERSION_STRING));
}

const char *fauth_ossl_name(void)
{
    pthread_once(&name_once, make_name);
    return name;
}

/* Arm ctx for one frame (direction enc) and feed the AAD and the payload. */
static bool run(EVP_CIPHER_CTX *ctx, int enc, const uint8_t nonce[FAUTH_IV_LEN], uint8_t *buf,
                size_t aad_len, size_t len, const uint8_t *src)
{
    int out_len;
    if (!EVP_CipherInit_ex(ctx, NULL, NULL, NULL, nonce, enc))
        return false;
    if (aad_len > 0 && !EVP_CipherUpdate(ctx, NULL, &out_len, buf, (int)aad_len))
        return false;
    if (len > aad_len && !EVP_CipherUpdate(ctx, buf + aad_len, &out_len,
                                           src != NULL ? src : buf + aad_len, (int)(len - aad_len)))
        return false;
    return true;
}

enum fauth_error fauth_ossl_seal(const struct fauth_key *k, const uint8_t nonce[FAUTH_IV_LEN],
                                 uint8_t *buf, size_t aad_len, size_t len, const uint8_t *src,
                                 uint8_t *tag)
{
    EVP_CIPHER_CTX *ctx = k->ossl_ctx;
    uint8_t final_block[16];
    int out_len;
    if (!run(ctx, 1, nonce, buf, aad_len, len, src) ||
        !EVP_CipherFinal_ex(ctx, final_block, &out_len) ||
        !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, FAUTH_TAG_LEN, tag))
        return FAUTH_E_BACKEND;
    return FAUTH_OK;
}

enum fauth_error fauth_ossl_open(const struct fauth_key *k, const uint8_t nonce[FAUTH_IV_LEN],
                                 uint8_t *buf, size_t aad_len, size_t len, const uint8_t *tag)
{
    EVP_CIPHER_CTX *ctx = k->ossl_ctx;
    uint8_t expected[FAUTH_TAG_LEN], final_block[16];
    int out_len;
    memcpy(expected, tag, FAUTH_TAG_LEN); /* the ctrl takes a non-const pointer */
    if (!run(ctx, 0, nonce, buf, aad_len, len, NULL) ||
        !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, FAUTH_TAG_LEN, expected))
        return FAUTH_E_BACKEND;
    /* Final compares the tags (constant time inside OpenSSL); <= 0 = mismatch. */
    return EVP_CipherFinal_ex(ctx, final_block, &out_len) > 0 ? FAUTH_OK : FAUTH_E_BAD_TAG;
}
