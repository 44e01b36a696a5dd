/* UTF-8 validation as Erlang atoms and EPMD names need it. */
#ifndef DPDIST_COMMON_UTF8_H
#define DPDIST_COMMON_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Number of code points in s[0..len) if it is well-formed UTF-8 (no overlong forms, no
 * surrogates, nothing above U+10FFFF), else -1. NUL bytes count as characters: callers
 * that forbid them check separately. */
long utf8_count_chars(const uint8_t *s, size_t len);

#endif
