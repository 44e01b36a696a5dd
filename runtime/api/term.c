/* Term helpers of the public API (dpdist.h "helpers"): bounded walks over external terms
 * for applications that read what peers send. Pure, thread-safe, no allocation. */
#include <limits.h>

#include "control/etf.h"
#include "dpdist/dpdist.h"

int dd_term_skip(const char *term, size_t len, int *idx)
{
    if (!term || !idx || *idx < 0 || len > INT_MAX)
        return DD_EBADTERM;
    size_t end;
    if (etf_skip((const uint8_t *)term, len, (size_t)*idx, &end) != ETF_OK)
        return DD_EBADTERM;
    *idx = (int)end;
    return DD_OK;
}
