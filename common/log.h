/* Logging shared by every dpdist module (control plane, data plane slow path, tools).
 *
 * One process-wide level and sink. Lines look like
 *   2026-11-28T01:20:36.123Z dpdist-epmd[1234] debug epmd: got ALIVE2_REQ
 * Thread-safe: each line is formatted into a local buffer and written with one write(2).
 * Not for the data plane's fast path: nothing above debug is logged there, and debug
 * logging on the fast path is compiled in only where a file says so.
 */
#ifndef DPDIST_COMMON_LOG_H
#define DPDIST_COMMON_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum dlog_level {
    DLOG_ERROR = 0,
    DLOG_WARN = 1,
    DLOG_INFO = 2,
    DLOG_DEBUG = 3,
};

/* Process-wide threshold: lines above it are dropped. Default DLOG_INFO. */
void dlog_set_level(enum dlog_level level);
enum dlog_level dlog_get_level(void);
bool dlog_enabled(enum dlog_level level);

/* Name shown in every line (defaults to "dpdist"); the string is copied. */
void dlog_set_ident(const char *ident);

/* Send lines to syslog instead of stderr (daemons). */
void dlog_use_syslog(bool on);

/* Also call hook(level, line) for each line written (tests use it to capture logs).
 * The line has no trailing newline. Pass NULL to remove. */
typedef void (*dlog_hook_fn)(enum dlog_level level, const char *line, void *arg);
void dlog_set_hook(dlog_hook_fn hook, void *arg);

void dlog_write(enum dlog_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void dlog_vwrite(enum dlog_level level, const char *module, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#define DLOG_ERR(mod, ...) dlog_write(DLOG_ERROR, (mod), __VA_ARGS__)
#define DLOG_WARN(mod, ...) dlog_write(DLOG_WARN, (mod), __VA_ARGS__)
#define DLOG_INFO(mod, ...) dlog_write(DLOG_INFO, (mod), __VA_ARGS__)
#define DLOG_DBG(mod, ...)                                                                         \
    do {                                                                                           \
        if (dlog_enabled(DLOG_DEBUG))                                                              \
            dlog_write(DLOG_DEBUG, (mod), __VA_ARGS__);                                            \
    } while (0)

#endif
