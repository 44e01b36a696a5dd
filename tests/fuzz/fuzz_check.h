/* CHECK(cond) for the libFuzzer targets: an invariant that does not hold aborts, which
 * libFuzzer reports as a crash with the input that caused it. */
#ifndef DPDIST_TESTS_FUZZ_FUZZ_CHECK_H
#define DPDIST_TESTS_FUZZ_FUZZ_CHECK_H

#include <stdlib.h>

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

#endif
