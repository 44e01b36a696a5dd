/* Status codes and the per-thread last error. */
#include <stdarg.h>
#include <stdio.h>

#include "runtime/core/node.h"

static __thread char t_last_error[512];
static __thread int t_last_status;

const char *dd_strerror(int status)
{
    switch (status) {
#define DD_X_CASE(name, value, msg)                                                                \
    case value:                                                                                    \
        return msg;
        DD_STATUS_CODES(DD_X_CASE)
#undef DD_X_CASE
    default:
        return "unknown status";
    }
}

const char *dd_last_error(void)
{
    return t_last_error;
}

int rt_fail(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t_last_error, sizeof(t_last_error), fmt, ap);
    va_end(ap);
    t_last_status = status;
    return status;
}

void rt_clear_error(void)
{
    t_last_error[0] = '\0';
    t_last_status = DD_OK;
}

int rt_last_status(void)
{
    return t_last_status;
}
