/* Constant terms: see terms.h. Each atom is laid out as its encoding, built from the named
 * tag constants (control/etf.h) and the text, so no byte of it is written by hand. */
#include "runtime/core/terms.h"

#include "control/etf.h"

/* An atom of up to 255 bytes as a standalone term: var (the bytes) and var##_len. The struct
 * has only byte members: no padding, its bytes are the encoding. */
#define TERM_ATOM(var, text)                                                                       \
    _Static_assert(sizeof(text) - 1 <= 255, "a SMALL_ATOM_UTF8_EXT holds 255 bytes");              \
    static const struct {                                                                          \
        uint8_t head[3];                                                                           \
        char chars[sizeof(text) - 1];                                                              \
    } var##_enc = {{ETF_VERSION, ETF_TAG_SMALL_ATOM_UTF8, sizeof(text) - 1}, text};                \
    const uint8_t *const var = (const uint8_t *)&var##_enc;                                        \
    const size_t var##_len = sizeof(var##_enc)

TERM_ATOM(term_noconnection, "noconnection");
TERM_ATOM(term_noproc, "noproc");
TERM_ATOM(term_normal, "normal");
TERM_ATOM(term_shutdown, "shutdown");
