/* The checks header_c.c and header_cxx.cc run: the public header alone (no include path of
 * this tree but include/, and ei's) declares a usable API. Both programs link the shared
 * libdpdist, so they also see what a program of the installed library sees. */
#include <string.h>

#include <dpdist/dpdist.h>

static int header_check(void)
{
    int fails = 0;
    /* the library that runs is the one these headers describe */
    if (strcmp(dd_version(), DPDIST_VERSION_STRING) != 0)
        fails++;
    /* every status of the X-macro table has its message, and the table is complete */
#define HC_X(name, value, msg)                                                                     \
    if (strcmp(dd_strerror(name), msg) != 0)                                                       \
        fails++;
    DD_STATUS_CODES(HC_X)
#undef HC_X
    if (strcmp(dd_strerror(1), "unknown status") != 0)
        fails++;
    /* argument checks reach the library through the exported symbols */
    if (dd_node_name(NULL) != NULL || dd_last_error()[0] == '\0')
        fails++;
    return fails;
}
