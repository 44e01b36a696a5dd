/* Node names: see nodename.h. Pure except nodename_local_host / nodename_from_arg. */
#include "control/nodename.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/utf8.h"

static const char *const nodename_messages[] = {
#define NODENAME_X_MSG(code, msg) msg,
    NODENAME_ERRORS(NODENAME_X_MSG)
#undef NODENAME_X_MSG
};

const char *nodename_strerror(enum nodename_result r)
{
    if ((unsigned)r >= NODENAME_E__COUNT)
        return "unknown error";
    return nodename_messages[r];
}

static bool alive_char_ok(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
           c == '-';
}

/* net_kernel validate_hostname: every code point in U+0021..U+00FF. The input is already
 * known to be valid UTF-8, so a lead byte fixes the sequence length. */
static bool host_chars_ok(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        if (c < 0x80) {
            if (c < 0x21)
                return false;
            i++;
        } else if (c == 0xC2 || c == 0xC3) { /* U+0080..U+00FF */
            i += 2;
        } else {
            return false;
        }
    }
    return true;
}

enum nodename_kind nodename_host_kind(const char *host, size_t len)
{
    if (len == 0)
        return NODENAME_INVALID;
    if (memchr(host, '.', len))
        return NODENAME_LONG;
    /* A dotless host can still be an IPv6 literal. */
    char tmp[INET6_ADDRSTRLEN + 1];
    if (len < sizeof(tmp)) {
        struct in6_addr a6;
        memcpy(tmp, host, len);
        tmp[len] = '\0';
        if (inet_pton(AF_INET6, tmp, &a6) == 1)
            return NODENAME_LONG;
    }
    return NODENAME_SHORT;
}

enum nodename_kind nodename_kind(const char *full)
{
    if (full == NULL)
        return NODENAME_INVALID;
    const char *at = strrchr(full, '@');
    if (at == NULL)
        return NODENAME_INVALID;
    return nodename_host_kind(at + 1, strlen(at + 1));
}

enum nodename_result nodename_parse(struct nodename *out, const char *name, size_t len,
                                    unsigned flags)
{
    const unsigned char *s = (const unsigned char *)name;
    if (len == 0)
        return NODENAME_E_EMPTY;
    if (len > NODENAME_MAX_BYTES)
        return NODENAME_E_TOO_LONG;
    long chars = utf8_count_chars(s, len);
    if (chars < 0)
        return NODENAME_E_UTF8;
    if (chars > NODENAME_MAX_CHARS)
        return NODENAME_E_TOO_LONG;
    size_t at = len, ats = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < 0x20 || s[i] == 0x7F)
            return NODENAME_E_CONTROL;
        if (s[i] == '@') {
            ats++;
            at = i;
        }
    }
    if (ats == 0)
        return NODENAME_E_NO_AT;
    if (ats > 1)
        return NODENAME_E_MANY_AT;
    if (at == 0)
        return NODENAME_E_ALIVE_EMPTY;
    if (at == len - 1)
        return NODENAME_E_HOST_EMPTY;
    const unsigned char *host = s + at + 1;
    size_t host_len = len - at - 1;
    if (!(flags & NODENAME_PEER)) {
        for (size_t i = 0; i < at; i++)
            if (!alive_char_ok(s[i]))
                return NODENAME_E_ALIVE_CHARS;
        if (!host_chars_ok(host, host_len))
            return NODENAME_E_HOST_CHARS;
    }
    memcpy(out->full, name, len);
    out->full[len] = '\0';
    memcpy(out->alive, name, at);
    out->alive[at] = '\0';
    memcpy(out->host, host, host_len);
    out->host[host_len] = '\0';
    out->kind = nodename_host_kind((const char *)host, host_len);
    return NODENAME_OK;
}

enum nodename_result nodename_build(struct nodename *out, const char *arg, enum nodename_kind kind,
                                    const char *local_host)
{
    if (arg == NULL || arg[0] == '\0')
        return NODENAME_E_EMPTY;
    if (kind != NODENAME_SHORT && kind != NODENAME_LONG)
        return NODENAME_E_EMPTY;
    size_t arg_len = strlen(arg);
    char buf[NODENAME_MAX_BYTES + 2];
    const char *full = arg;
    size_t full_len = arg_len;
    if (memchr(arg, '@', arg_len) == NULL) {
        if (local_host == NULL || local_host[0] == '\0')
            return NODENAME_E_HOSTNAME;
        size_t host_len = strlen(local_host);
        if (kind == NODENAME_SHORT) {
            /* erl uses the host name without its domain (inet_db:gethostname). */
            const char *dot = memchr(local_host, '.', host_len);
            if (dot != NULL)
                host_len = (size_t)(dot - local_host);
        } else if (nodename_host_kind(local_host, host_len) != NODENAME_LONG) {
            return NODENAME_E_NO_FQDN;
        }
        if (host_len == 0)
            return NODENAME_E_HOSTNAME;
        if (arg_len + 1 + host_len > NODENAME_MAX_BYTES)
            return NODENAME_E_TOO_LONG;
        memcpy(buf, arg, arg_len);
        buf[arg_len] = '@';
        memcpy(buf + arg_len + 1, local_host, host_len);
        full = buf;
        full_len = arg_len + 1 + host_len;
    }
    struct nodename tmp_out;
    enum nodename_result r = nodename_parse(&tmp_out, full, full_len, 0);
    if (r != NODENAME_OK)
        return r;
    if (kind == NODENAME_SHORT && tmp_out.kind != NODENAME_SHORT)
        return NODENAME_E_SHORT_DOT;
    if (kind == NODENAME_LONG && tmp_out.kind != NODENAME_LONG)
        return NODENAME_E_LONG_NO_DOT;
    *out = tmp_out;
    return NODENAME_OK;
}

static bool copy_host(char *buf, size_t cap, const char *s, size_t len)
{
    if (len == 0 || len >= cap)
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    return true;
}

/* First non-loopback IPv4 address of an interface that is up. */
static bool first_ipv4(char *buf, size_t cap)
{
    struct ifaddrs *ifs = NULL;
    if (getifaddrs(&ifs) != 0)
        return false;
    bool found = false;
    for (struct ifaddrs *i = ifs; i != NULL && !found; i = i->ifa_next) {
        if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET)
            continue;
        const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)i->ifa_addr;
        if ((ntohl(sin->sin_addr.s_addr) >> 24) == 127)
            continue;
        char tmp[INET_ADDRSTRLEN];
        if (inet_ntop(AF_INET, &sin->sin_addr, tmp, sizeof(tmp)) != NULL)
            found = copy_host(buf, cap, tmp, strlen(tmp));
    }
    freeifaddrs(ifs);
    return found;
}

enum nodename_result nodename_local_host(enum nodename_kind kind, char *buf, size_t cap)
{
    char host[NODENAME_MAX_BYTES + 1];
    if (gethostname(host, sizeof(host)) != 0)
        return NODENAME_E_HOSTNAME;
    host[sizeof(host) - 1] = '\0';
    size_t len = strlen(host);
    if (len == 0)
        return NODENAME_E_HOSTNAME;
    if (kind == NODENAME_SHORT) {
        const char *dot = strchr(host, '.');
        if (dot != NULL)
            len = (size_t)(dot - host);
        return copy_host(buf, cap, host, len) ? NODENAME_OK : NODENAME_E_HOSTNAME;
    }
    if (strchr(host, '.') != NULL)
        return copy_host(buf, cap, host, len) ? NODENAME_OK : NODENAME_E_NO_FQDN;
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_flags = AI_CANONNAME;
    if (getaddrinfo(host, NULL, &hints, &res) == 0) {
        bool ok = res != NULL && res->ai_canonname != NULL &&
                  strchr(res->ai_canonname, '.') != NULL &&
                  copy_host(buf, cap, res->ai_canonname, strlen(res->ai_canonname));
        freeaddrinfo(res);
        if (ok)
            return NODENAME_OK;
    }
    return first_ipv4(buf, cap) ? NODENAME_OK : NODENAME_E_NO_FQDN;
}

enum nodename_result nodename_from_arg(struct nodename *out, const char *arg,
                                       enum nodename_kind kind)
{
    if (arg != NULL && strchr(arg, '@') != NULL)
        return nodename_build(out, arg, kind, NULL);
    char host[NODENAME_MAX_BYTES + 1];
    enum nodename_result r = nodename_local_host(kind, host, sizeof(host));
    if (r != NODENAME_OK)
        return r;
    return nodename_build(out, arg, kind, host);
}
