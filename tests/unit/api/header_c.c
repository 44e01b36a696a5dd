/* The public header compiles as ISO C99 (-std=c99 -pedantic) with only include/ and ei's
 * include directory, and its functions link from libdpdist.so. See header_check.h. */
#include <stdio.h>

#include "header_check.h"

int main(void)
{
    int fails = header_check();
    printf("%s - public header as C99: %d failed checks\n", fails ? "not ok 1" : "ok 1", fails);
    return fails ? 1 : 0;
}
