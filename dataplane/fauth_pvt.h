/* The backend seam of fauth.c: each backend (fauth_imb.c, fauth_ossl.c) implements AES-256-GCM
 * seal/open of one frame with the nonce already computed. Only fauth.c calls these; it has
 * checked the arguments (key ready, aad_len <= len <= FAUTH_LEN_MAX, mode gmac or gcm) and
 * done the FAUTH_NONE case and gmac's copy from src. Same thread rules as fauth.h.
 *
 * seal: AAD buf[0..aad_len); plaintext (src ? src : buf + aad_len)[0..len - aad_len),
 *       encrypted into buf + aad_len; tag. GMAC is the case aad_len == len.
 * open: the same AAD; decrypts buf + aad_len in place; compares the tag in constant time.
 */
#ifndef DPDIST_DATAPLANE_FAUTH_PVT_H
#define DPDIST_DATAPLANE_FAUTH_PVT_H

#include "dataplane/fauth.h"

/* Set by meson when intel-ipsec-mb was found (fauth_imb.c is then built). */
#ifndef FAUTH_HAVE_IMB
#define FAUTH_HAVE_IMB 0
#endif

/* Constant-time comparison of two tags: true when equal. */
bool fauth_tag_equal(const uint8_t a[FAUTH_TAG_LEN], const uint8_t b[FAUTH_TAG_LEN]);

#if FAUTH_HAVE_IMB
/* Fills k->imb_key (fauth_key_wipe erases it); FAUTH_OK or FAUTH_E_BACKEND (the library's manager
 * could not start). */
enum fauth_error fauth_imb_key_init(struct fauth_key *k, const uint8_t key[FAUTH_KEY_LEN]);
void fauth_imb_seal(const struct fauth_key *k, const uint8_t nonce[FAUTH_IV_LEN], uint8_t *buf,
                    size_t aad_len, size_t len, const uint8_t *src, uint8_t *tag);
enum fauth_error fauth_imb_open(const struct fauth_key *k, const uint8_t nonce[FAUTH_IV_LEN],
                                uint8_t *buf, size_t aad_len, size_t len, const uint8_t *tag);
const char *fauth_imb_name(void);
#endif

/* Allocates k->ossl_ctx; FAUTH_OK or FAUTH_E_BACKEND. */
enum fauth_error fauth_ossl_key_init(struct fauth_key *k, const uint8_t key[FAUTH_KEY_LEN]);
void fauth_ossl_key_wipe(struct fauth_key *k);
enum fauth_error fauth_ossl_seal(const struct fauth_key *k, const uint8_t nonce[FAUTH_IV_LEN],
                                 uint8_t *buf, size_t aad_len, size_t len, const uint8_t *src,
                                 uint8_t *tag);
enum fauth_error fauth_ossl_open(const struct fauth_key *k, const uint8_t nonce[FAUTH_IV_LEN],
                                 uint8_t *buf, size_t aad_len, size_t len, const uint8_t *tag);
const char *fauth_ossl_name(void);

#endif
