/* Logging: see log.h. */
#include "common/log.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define DLOG_LINE_MAX 2048

static _Atomic int g_level = DLOG_INFO;
static _Atomic bool g_syslog;
static char g_ident[64] = "dpdist";
static dlog_hook_fn g_hook;
static void *g_hook_arg;
static pthread_mutex_t g_hook_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"error", "warning", "info", "debug"};

void dlog_set_level(enum dlog_level level)
{
    atomic_store(&g_level, (int)level);
}

enum dlog_level dlog_get_level(void)
{
    return (enum dlog_level)atomic_load(&g_level);
}

bool dlog_enabled(enum dlog_level level)
{
    return (int)level <= atomic_load_explicit(&g_level, memory_order_relaxed);
}

void dlog_set_ident(const char *ident)
{
    snprintf(g_ident, sizeof(g_ident), "%s", ident);
}

void dlog_use_syslog(bool on)
{
    if (on)
        openlog(g_ident, LOG_PID, LOG_DAEMON);
    atomic_store(&g_syslog, on);
}

void dlog_set_hook(dlog_hook_fn hook, void *arg)
{
    pthread_mutex_lock(&g_hook_lock);
    g_hook = hook;
    g_hook_arg = arg;
    pthread_mutex_unlock(&g_hook_lock);
}

void dlog_vwrite(enum dlog_level level, const char *module, const char *fmt, va_list ap)
{
    if (!dlog_enabled(level))
        return;
    char line[DLOG_LINE_MAX];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    /* "<time> <ident>[<pid>] " then "<level> <module>: <message>"; syslog gets the second
     * part only, since it stamps time and ident itself. */
    int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s[%d] ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, (int)(tv.tv_usec / 1000), g_ident, (int)getpid());
    size_t stamp = n > 0 && (size_t)n < sizeof(line) / 2 ? (size_t)n : 0;
    n = snprintf(line + stamp, sizeof(line) - stamp, "%s %s: ", level_names[level],
                 module ? module : "-");
    size_t head = stamp + (n > 0 ? (size_t)n : 0);
    if (head > sizeof(line) - 2)
        head = sizeof(line) - 2;
    int m = vsnprintf(line + head, sizeof(line) - head - 1, fmt, ap);
    size_t len = head + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    line[len] = '\0';

    pthread_mutex_lock(&g_hook_lock);
    if (g_hook)
        g_hook(level, line, g_hook_arg);
    pthread_mutex_unlock(&g_hook_lock);

    if (atomic_load(&g_syslog)) {
        static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
        syslog(prio[level], "%s", line + stamp);
        return;
    }
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

void dlog_write(enum dlog_level level, const char *module, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    dlog_vwrite(level, module, fmt, ap);
    va_end(ap);
}
