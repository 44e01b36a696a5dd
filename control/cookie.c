/* Cookies: see cookie.h. File I/O only in cookie_read_file / cookie_get. */
#include "control/cookie.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

static const char *const cookie_messages[] = {
#define COOKIE_X_MSG(code, msg) msg,
    COOKIE_ERRORS(COOKIE_X_MSG)
#undef COOKIE_X_MSG
};

const char *cookie_strerror(enum cookie_result r)
{
    if ((unsigned)r >= COOKIE_E__COUNT)
        return "unknown error";
    return cookie_messages[r];
}

static bool printable(unsigned char c)
{
    return c >= 0x20 && c <= 0x7E;
}

enum cookie_result cookie_validate(const char *cookie, size_t len)
{
    if (len == 0)
        return COOKIE_E_TOO_SHORT;
    if (len > COOKIE_MAX_LEN)
        return COOKIE_E_TOO_LONG;
    for (size_t i = 0; i < len; i++)
        if (!printable((unsigned char)cookie[i]))
            return COOKIE_E_BAD_CHARS;
    return COOKIE_OK;
}

enum cookie_result cookie_parse_file_text(const char *text, size_t len, char *out, size_t cap)
{
    size_t run = 0;
    while (run < len && printable((unsigned char)text[run]))
        run++;
    for (size_t i = run; i < len; i++)
        if (text[i] != '\n' && text[i] != '\r' && text[i] != ' ')
            return COOKIE_E_BAD_CHARS;
    if (run == 0)
        return COOKIE_E_TOO_SHORT;
    if (run > COOKIE_MAX_LEN)
        return COOKIE_E_TOO_LONG;
    if (cap < run + 1)
        return COOKIE_E_BUFFER;
    memcpy(out, text, run);
    out[run] = '\0';
    return COOKIE_OK;
}

static enum cookie_result fail(enum cookie_result r, char *detail, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static enum cookie_result fail(enum cookie_result r, char *detail, size_t cap, const char *fmt, ...)
{
    if (detail != NULL && cap > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(detail, cap, fmt, ap);
        va_end(ap);
    }
    return r;
}

/* Uniform uppercase letters: bytes >= 234 (= 9 * 26) are rejected to avoid modulo bias. */
static enum cookie_result random_cookie(char out[COOKIE_GENERATED_LEN])
{
    size_t n = 0;
    while (n < COOKIE_GENERATED_LEN) {
        unsigned char bytes[64];
        if (RAND_bytes(bytes, (int)sizeof(bytes)) != 1)
            return COOKIE_E_RANDOM;
        for (size_t i = 0; i < sizeof(bytes) && n < COOKIE_GENERATED_LEN; i++)
            if (bytes[i] < 234)
                out[n++] = (char)('A' + bytes[i] % 26);
    }
    return COOKIE_OK;
}

/* Create path exclusively with mode 0400 and a fresh cookie. EEXIST (someone else created
 * it meanwhile) counts as success: the caller reads whatever is there. */
static enum cookie_result create_cookie_file(const char *path, char *detail, size_t detail_cap)
{
    char cookie[COOKIE_GENERATED_LEN];
    enum cookie_result r = random_cookie(cookie);
    if (r != COOKIE_OK)
        return fail(r, detail, detail_cap, "Failed to create cookie file '%s': %s", path,
                    cookie_strerror(r));
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0400);
    if (fd < 0) {
        if (errno == EEXIST)
            return COOKIE_OK;
        return fail(COOKIE_E_CREATE, detail, detail_cap, "Failed to create cookie file '%s': %s",
                    path, strerror(errno));
    }
    size_t off = 0;
    while (off < sizeof(cookie)) {
        ssize_t w = write(fd, cookie + off, sizeof(cookie) - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = w < 0 ? errno : EIO;
            close(fd);
            unlink(path);
            return fail(COOKIE_E_CREATE, detail, detail_cap,
                        "Failed to write to cookie file '%s': %s", path, strerror(e));
        }
        off += (size_t)w;
    }
    /* The umask can only narrow 0400; make it explicit anyway. */
    if (fchmod(fd, 0400) != 0) {
        int e = errno;
        close(fd);
        unlink(path);
        return fail(COOKIE_E_CREATE, detail, detail_cap, "Failed to change mode: %s", strerror(e));
    }
    if (close(fd) != 0)
        return fail(COOKIE_E_CREATE, detail, detail_cap, "Failed to write to cookie file '%s': %s",
                    path, strerror(errno));
    return COOKIE_OK;
}

static const char *file_type(mode_t m)
{
    if (S_ISDIR(m))
        return "directory";
    if (S_ISFIFO(m))
        return "fifo";
    if (S_ISSOCK(m))
        return "socket";
    if (S_ISCHR(m) || S_ISBLK(m))
        return "device";
    return "other";
}

/* Read an existing cookie file; *absent is set when it does not exist. */
static enum cookie_result read_existing(const char *path, char *out, size_t cap, bool *absent,
                                        char *detail, size_t detail_cap)
{
    *absent = false;
    /* O_NONBLOCK: a FIFO at the path must not hang us; it is refused below anyway. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT) {
            *absent = true;
            return COOKIE_E_READ;
        }
        return fail(COOKIE_E_READ, detail, detail_cap, "Error when reading %s: %s", path,
                    strerror(errno));
    }
    struct stat st;
    enum cookie_result r = COOKIE_OK;
    if (fstat(fd, &st) != 0) {
        r = fail(COOKIE_E_READ, detail, detail_cap, "Error when reading %s: %s", path,
                 strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        r = fail(COOKIE_E_NOT_REGULAR, detail, detail_cap, "Cookie file %s is of type %s", path,
                 file_type(st.st_mode));
    } else if (st.st_mode & 077) {
        r = fail(COOKIE_E_PERMISSIONS, detail, detail_cap,
                 "Cookie file %s must be accessible by owner only", path);
    } else if (st.st_size > COOKIE_FILE_MAX) {
        r = fail(COOKIE_E_FILE_TOO_LONG, detail, detail_cap,
                 "Cookie file %s is longer than %d bytes", path, COOKIE_FILE_MAX);
    }
    if (r != COOKIE_OK) {
        close(fd);
        return r;
    }
    char text[COOKIE_FILE_MAX + 1];
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, text + len, sizeof(text) - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            return fail(COOKIE_E_READ, detail, detail_cap, "Error when reading %s: %s", path,
                        strerror(e));
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len == sizeof(text)) { /* grew after fstat */
            close(fd);
            return fail(COOKIE_E_FILE_TOO_LONG, detail, detail_cap,
                        "Cookie file %s is longer than %d bytes", path, COOKIE_FILE_MAX);
        }
    }
    close(fd);
    r = cookie_parse_file_text(text, len, out, cap);
    if (r != COOKIE_OK)
        return fail(r, detail, detail_cap, "%s in %s", cookie_strerror(r), path);
    return COOKIE_OK;
}

enum cookie_result cookie_read_file(const char *path, char *out, size_t cap, char *detail,
                                    size_t detail_cap)
{
    if (detail != NULL && detail_cap > 0)
        detail[0] = '\0';
    /* At most: absent -> create -> read. A file deleted between the two is not chased. */
    for (int attempt = 0; attempt < 2; attempt++) {
        bool absent;
        enum cookie_result r = read_existing(path, out, cap, &absent, detail, detail_cap);
        if (!absent)
            return r;
        if (attempt == 0) {
            r = create_cookie_file(path, detail, detail_cap);
            if (r != COOKIE_OK)
                return r;
        }
    }
    return fail(COOKIE_E_READ, detail, detail_cap, "Error when reading %s: %s", path,
                strerror(ENOENT));
}

enum cookie_result cookie_get(const char *explicit_cookie, const char *home, char *out, size_t cap,
                              char *detail, size_t detail_cap)
{
    if (detail != NULL && detail_cap > 0)
        detail[0] = '\0';
    if (explicit_cookie != NULL) {
        size_t len = strlen(explicit_cookie);
        enum cookie_result r = cookie_validate(explicit_cookie, len);
        if (r != COOKIE_OK)
            return fail(r, detail, detail_cap, "%s (explicit cookie)", cookie_strerror(r));
        if (cap < len + 1)
            return COOKIE_E_BUFFER;
        memcpy(out, explicit_cookie, len + 1);
        return COOKIE_OK;
    }
    if (home == NULL)
        home = getenv("HOME");
    if (home == NULL || home[0] == '\0')
        return fail(COOKIE_E_NO_HOME, detail, detail_cap, "%s", cookie_strerror(COOKIE_E_NO_HOME));
    char path[4096];
    int n = snprintf(path, sizeof(path), "%s/%s", home, COOKIE_FILE_NAME);
    if (n < 0 || (size_t)n >= sizeof(path))
        return fail(COOKIE_E_PATH, detail, detail_cap, "%s", cookie_strerror(COOKIE_E_PATH));
    return cookie_read_file(path, out, cap, detail, detail_cap);
}

enum cookie_result cookie_digest(const char *cookie, uint32_t challenge,
                                 uint8_t out[COOKIE_DIGEST_LEN])
{
    char dec[16];
    int dec_len = snprintf(dec, sizeof(dec), "%" PRIu32, challenge);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL)
        return COOKIE_E_CRYPTO;
    unsigned int out_len = 0;
    bool ok = EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1 &&
              EVP_DigestUpdate(ctx, cookie, strlen(cookie)) == 1 &&
              EVP_DigestUpdate(ctx, dec, (size_t)dec_len) == 1 &&
              EVP_DigestFinal_ex(ctx, out, &out_len) == 1 && out_len == COOKIE_DIGEST_LEN;
    EVP_MD_CTX_free(ctx);
    return ok ? COOKIE_OK : COOKIE_E_CRYPTO;
}

enum cookie_result cookie_challenge(uint32_t *out)
{
    unsigned char b[4];
    if (RAND_bytes(b, (int)sizeof(b)) != 1)
        return COOKIE_E_RANDOM;
    *out = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    return COOKIE_OK;
}
