#include "common/utf8.h"

/* Length of the sequence starting with lead byte b, 0 if b cannot start one. */
static int seq_len(uint8_t b)
{
    if (b < 0x80)
        return 1;
    if (b >= 0xC2 && b <= 0xDF)
        return 2;
    if (b >= 0xE0 && b <= 0xEF)
        return 3;
    if (b >= 0xF0 && b <= 0xF4)
        return 4;
    return 0;
}

long utf8_count_chars(const uint8_t *s, size_t len)
{
    long chars = 0;
    size_t i = 0;
    while (i < len) {
        int n = seq_len(s[i]);
        if (n == 0 || len - i < (size_t)n)
            return -1;
        for (int k = 1; k < n; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                return -1;
        if (n == 3) {
            if (s[i] == 0xE0 && s[i + 1] < 0xA0) /* overlong */
                return -1;
            if (s[i] == 0xED && s[i + 1] >= 0xA0) /* surrogate */
                return -1;
        } else if (n == 4) {
            if (s[i] == 0xF0 && s[i + 1] < 0x90) /* overlong */
                return -1;
            if (s[i] == 0xF4 && s[i + 1] >= 0x90) /* above U+10FFFF */
                return -1;
        }
        i += (size_t)n;
        chars++;
    }
    return chars;
}
