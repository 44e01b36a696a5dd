/* Cookies: finding a node's cookie as erl does, checking cookie text, and the handshake's
 * cryptography (challenge and digest).
 *
 * Owns: the cookie_ rules. Called by the runtime at start-up (cookie_get) and by the
 * handshake (cookie_digest; cookie_challenge through the runtime's challenge callback).
 * cookie_get / cookie_read_file do file I/O; the rest is pure computation over libcrypto.
 * Thread-safe: no shared state (libcrypto 3 is thread-safe without set-up).
 *
 * The cookie file follows lib/kernel/src/auth.erl:
 *   - $HOME/.erlang.cookie; absent -> created with 20 random uppercase letters, mode 0400;
 *   - refused unless a regular file, and refused if any group/other permission bit is set,
 *     with erl's message "Cookie file NAME must be accessible by owner only";
 *   - the text is the leading run of printable ASCII (space to '~'); after it only '\n',
 *     '\r' and ' ' may follow ("Bad characters in cookie"); an empty run is "Too short cookie
 *     string".
 * Cookies are at most COOKIE_MAX_LEN characters (an Erlang atom's limit).
 */
#ifndef DPDIST_CONTROL_COOKIE_H
#define DPDIST_CONTROL_COOKIE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define COOKIE_MAX_LEN       255
#define COOKIE_GENERATED_LEN 20
#define COOKIE_FILE_NAME     ".erlang.cookie"
/* A cookie file longer than this is refused without reading it all. */
#define COOKIE_FILE_MAX   4096
#define COOKIE_DIGEST_LEN 16

#define COOKIE_ERRORS(X)                                                                           \
    X(COOKIE_OK, "ok")                                                                             \
    X(COOKIE_E_NO_HOME, "No home for cookie file (HOME is not set)")                               \
    X(COOKIE_E_PATH, "cookie file path is too long")                                               \
    X(COOKIE_E_NOT_REGULAR, "Cookie file is not a regular file")                                   \
    X(COOKIE_E_PERMISSIONS, "Cookie file must be accessible by owner only")                        \
    X(COOKIE_E_READ, "Error when reading cookie file")                                             \
    X(COOKIE_E_CREATE, "Failed to create cookie file")                                             \
    X(COOKIE_E_FILE_TOO_LONG, "cookie file is too long")                                           \
    X(COOKIE_E_BAD_CHARS, "Bad characters in cookie")                                              \
    X(COOKIE_E_TOO_SHORT, "Too short cookie string")                                               \
    X(COOKIE_E_TOO_LONG, "cookie is longer than 255 characters")                                   \
    X(COOKIE_E_RANDOM, "the random number generator failed")                                       \
    X(COOKIE_E_CRYPTO, "MD5 digest computation failed")                                            \
    X(COOKIE_E_BUFFER, "output buffer too small")

enum cookie_result {
#define COOKIE_X_ENUM(code, msg) code,
    COOKIE_ERRORS(COOKIE_X_ENUM)
#undef COOKIE_X_ENUM
        COOKIE_E__COUNT
};

/* Message for a result code; never NULL, static storage. */
const char *cookie_strerror(enum cookie_result r);

/* Check cookie text (len bytes): 1..COOKIE_MAX_LEN characters, each printable ASCII
 * (0x20..0x7E). Returns COOKIE_OK, COOKIE_E_TOO_SHORT, COOKIE_E_TOO_LONG or
 * COOKIE_E_BAD_CHARS. Pure. */
enum cookie_result cookie_validate(const char *cookie, size_t len);

/* Extract the cookie from a cookie file's contents (len bytes) by auth.erl's rule (see
 * above) into out (cap bytes, NUL-terminated). Pure. */
enum cookie_result cookie_parse_file_text(const char *text, size_t len, char *out, size_t cap);

/* Read the cookie file at path, creating it if absent (see above). detail (detail_cap
 * bytes, may be NULL) receives a complete message naming the file, as erl words it, e.g.
 * "Cookie file /home/u/.erlang.cookie must be accessible by owner only". Does file I/O. */
enum cookie_result cookie_read_file(const char *path, char *out, size_t cap, char *detail,
                                    size_t detail_cap);

/* The node's cookie: explicit_cookie if not NULL (validated), else the cookie file in home
 * (NULL: $HOME). Output and detail as cookie_read_file. Does file I/O. */
enum cookie_result cookie_get(const char *explicit_cookie, const char *home, char *out, size_t cap,
                              char *detail, size_t detail_cap);

/* Handshake digest: MD5(cookie ++ decimal(challenge)), as dist_util:gen_digest/2.
 * cookie is NUL-terminated. Returns COOKIE_OK or COOKIE_E_CRYPTO. Pure. */
enum cookie_result cookie_digest(const char *cookie, uint32_t challenge,
                                 uint8_t out[COOKIE_DIGEST_LEN]);

/* A 32-bit challenge from the cryptographic generator (RAND_bytes). Returns COOKIE_OK or
 * COOKIE_E_RANDOM (then *out is unchanged). */
enum cookie_result cookie_challenge(uint32_t *out);

#ifdef __cplusplus
}
#endif

#endif
