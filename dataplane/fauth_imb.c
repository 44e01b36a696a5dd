/* fauth backend: intel-ipsec-mb's direct AES-256-GCM API (Debian libipsec-mb-dev). The
 * default backend when the build finds the library: one call per frame, 29 ns for a 64-byte
 * frame and 76 ns for 1,408 bytes of MAC on the development machine, against ~160 ns of
 * OpenSSL EVP dispatch overhead alone (docs/security.md).
 * Fast path (seal/open): no allocation, no lock. The GCM context lives on the caller's stack;
 * the expanded key (struct gcm_key_data) is read-only after init, so any number of threads
 * may use one key at once.
 *
 * The library's manager (IMB_MGR: the function table chosen for this CPU) is made once per
 * process, on the first key init, and never freed; its direct-API functions keep no state in
 * it, so every thread shares it.
 */
#include <pthread.h>
#include <stdio.h>

/* Without this, the header also defines the pre-0.53 names (SHA1, ...) as macros, which
 * break <openssl/sha.h> in any file that includes both. */
#define NO_COMPAT_IMB_API_053
#include <intel-ipsec-mb.h>

#include "dataplane/fauth_pvt.h"

_Static_assert(sizeof(struct gcm_key_data) <= FAUTH_IMB_KEY_BYTES,
               "FAUTH_IMB_KEY_BYTES too small for ipsec-mb's gcm_key_data");
_Static_assert(FAUTH_IV_LEN == IMB_GCM_IV_DATA_LEN, "ipsec-mb's GCM IV is 12 bytes");

static IMB_MGR *imb_mgr;
static pthread_once_t imb_once = PTHREAD_ONCE_INIT;
static char imb_label[64];

static void imb_start(void)
{
    IMB_MGR *m = alloc_mb_mgr(0);
    if (m == NULL)
        return;
    IMB_ARCH arch = IMB_ARCH_NONE;
    init_mb_mgr_auto(m, &arch);
    if (imb_get_errno(m) != 0 || arch == IMB_ARCH_NONE) {
        free_mb_mgr(m);
        return;
    }
    static const char *const arch_names[] = {"none", "no-aesni", "sse", "avx", "avx2", "avx512"};
    snprintf(imb_label, sizeof(imb_label), "ipsec-mb %s (%s)", imb_get_version_str(),
             (unsigned)arch < sizeof(arch_names) / sizeof(arch_names[0]) ? arch_names[arch] : "?");
    imb_mgr = m;
}

static const struct gcm_key_data *key_data(const struct fauth_key *k)
{
    return (const struct gcm_key_data *)(const void *)k->imb_key;
}

enum fauth_error fauth_imb_key_init(struct fauth_key *k, const uint8_t key[FAUTH_KEY_LEN])
{
    pthread_once(&imb_once, imb_start);
    if (imb_mgr == NULL)
        return FAUTH_E_BACKEND;
    IMB_AES256_GCM_PRE(imb_mgr, key, (struct gcm_key_data *)(void *)k->imb_key);
    return FAUTH_OK;
}

const char *fauth_imb_name(void)
{
    pthread_once(&imb_once, imb_start);
    return imb_mgr != NULL ? imb_label : "ipsec-mb (failed to start)";
}

void fauth_imb_seal(const struct fauth_key *k, const uint8_t nonce[FAUTH_IV_LEN], uint8_t *buf,
                    size_t aad_len, size_t len, const uint8_t *src, uint8_t *tag)
{
    struct gcm_context_data ctx __attribute__((aligned(64)));
    uint8_t *payload = buf + aad_len;
    IMB_AES256_GCM_ENC(imb_mgr, key_data(k), &ctx, payload, src != NULL ? src : payload,
                       len - aad_len, nonce, buf, aad_len, tag, FAUTH_TAG_LEN);
}

enum fauth_error fauth_imb_open(const struct fauth_key *k, const uint8_t nonce[FAUTH_IV_LEN],
                                uint8_t *buf, size_t aad_len, size_t len, const uint8_t *tag)
{
    struct gcm_context_data ctx __attribute__((aligned(64)));
    uint8_t computed[FAUTH_TAG_LEN];
    uint8_t *payload = buf + aad_len;
    IMB_AES256_GCM_DEC(imb_mgr, key_data(k), &ctx, payload, payload, len - aad_len, nonce, buf,
                       aad_len, computed, FAUTH_TAG_LEN);
    return fauth_tag_equal(computed, tag) ? FAUTH_OK : FAUTH_E_BAD_TAG;
}
