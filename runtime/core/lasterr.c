/* The per-thread last error: see lasterr.h. */
#include "runtime/core/lasterr.h"

#include <stdarg.h>
#include <stdio.h>

#include "dpdist/dpdist.h"

static __thread char t_last_error[LASTERR_MSG_MAX];
static __thread int t_last_status;

int lasterr_set(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t_last_error, sizeof(t_last_error), fmt, ap);
    va_end(ap);
    t_last_status = status;
    return status;
}

void lasterr_clear(void)
{
    t_last_error[0] = '\0';
    t_last_status = DD_OK;
}

int lasterr_status(void)
{
    return t_last_status;
}

const char *lasterr_get(void)
{
    return t_last_error;
}
