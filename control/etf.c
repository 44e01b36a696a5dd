/* Bounded external-term-format walker: see etf.h.
 *
 * Design: instead of recursing per nesting level, the walker keeps one count of terms still
 * to read. A tuple, list or map adds its element count; a leaf subtracts one. Every term takes
 * at least one byte, so a count larger than the bytes left is already a truncation: that
 * keeps the count bounded and the walk linear. The only recursion is into NEW_FUN_EXT, whose
 * Size field must match its contents exactly, so its inside is walked as a bounded sub-buffer
 * (depth-limited by ETF_FUN_DEPTH_MAX).
 */
#include "control/etf.h"

#include <stdbool.h>

#include "common/bytes.h"

/* NEW_FUN_EXT after its tag: Size:4 Arity:1 Uniq:16 Index:4 NumFree:4 */
#define NEW_FUN_FIXED 29

static const char *const etf_messages[] = {
#define ETF_X_MSG(code, msg) msg,
    ETF_ERRORS(ETF_X_MSG)
#undef ETF_X_MSG
};

const char *etf_strerror(enum etf_result r)
{
    if ((unsigned)r >= ETF_E__COUNT)
        return "unknown error";
    return etf_messages[r];
}

/* true if n more bytes exist at off */
static inline bool have(size_t len, size_t off, uint64_t n)
{
    return off <= len && n <= len - off;
}

/* A node name: one of the four atom encodings. Advances *off past it. */
static enum etf_result node_atom(const uint8_t *b, size_t len, size_t *off)
{
    size_t o = *off;
    if (!have(len, o, 1))
        return ETF_E_TRUNCATED;
    uint64_t n;
    switch (b[o]) {
    case ETF_TAG_ATOM:
    case ETF_TAG_ATOM_UTF8:
        if (!have(len, o, 3))
            return ETF_E_TRUNCATED;
        n = 3 + (uint64_t)be16_get(b + o + 1);
        break;
    case ETF_TAG_SMALL_ATOM:
    case ETF_TAG_SMALL_ATOM_UTF8:
        if (!have(len, o, 2))
            return ETF_E_TRUNCATED;
        n = 2 + (uint64_t)b[o + 1];
        break;
    default:
        return ETF_E_NODE;
    }
    if (!have(len, o, n))
        return ETF_E_TRUNCATED;
    *off = o + (size_t)n;
    return ETF_OK;
}

static enum etf_result walk(const uint8_t *b, size_t len, size_t off, uint64_t count, int depth,
                            size_t *end);

/* NEW_FUN_EXT; *off is just after the tag. */
static enum etf_result new_fun(const uint8_t *b, size_t len, size_t *off, int depth)
{
    size_t o = *off;
    if (!have(len, o, NEW_FUN_FIXED))
        return ETF_E_TRUNCATED;
    uint64_t size = be32_get(b + o); /* counts itself */
    if (size < NEW_FUN_FIXED)
        return ETF_E_FUN;
    if (!have(len, o, size))
        return ETF_E_TRUNCATED;
    if (depth >= ETF_FUN_DEPTH_MAX)
        return ETF_E_DEPTH;
    uint64_t num_free = be32_get(b + o + 25);
    size_t fun_end = o + (size_t)size, inner_end;
    /* Module, OldIndex, OldUniq, Pid, then the free variables. */
    enum etf_result r = walk(b, fun_end, o + NEW_FUN_FIXED, 4 + num_free, depth + 1, &inner_end);
    if (r != ETF_OK)
        return r == ETF_E_TRUNCATED ? ETF_E_FUN : r;
    if (inner_end != fun_end)
        return ETF_E_FUN;
    *off = fun_end;
    return ETF_OK;
}

static enum etf_result walk(const uint8_t *b, size_t len, size_t off, uint64_t count, int depth,
                            size_t *end)
{
    while (count > 0) {
        if (off > len || count > len - off)
            return ETF_E_TRUNCATED;
        count--;
        uint8_t tag = b[off++];
        uint64_t skip = 0; /* fixed bytes after the tag (and after a node atom) */
        enum etf_result r;
        switch (tag) {
        case ETF_TAG_SMALL_INTEGER:
            skip = 1;
            break;
        case ETF_TAG_INTEGER:
            skip = 4;
            break;
        case ETF_TAG_NEW_FLOAT:
            skip = 8;
            break;
        case ETF_TAG_FLOAT:
            skip = 31;
            break;
        case ETF_TAG_NIL:
            break;
        case ETF_TAG_ATOM:
        case ETF_TAG_ATOM_UTF8:
        case ETF_TAG_STRING:
            if (!have(len, off, 2))
                return ETF_E_TRUNCATED;
            skip = 2 + (uint64_t)be16_get(b + off);
            break;
        case ETF_TAG_SMALL_ATOM:
        case ETF_TAG_SMALL_ATOM_UTF8:
            if (!have(len, off, 1))
                return ETF_E_TRUNCATED;
            skip = 1 + (uint64_t)b[off];
            break;
        case ETF_TAG_BINARY:
            if (!have(len, off, 4))
                return ETF_E_TRUNCATED;
            skip = 4 + (uint64_t)be32_get(b + off);
            break;
        case ETF_TAG_BIT_BINARY:
            if (!have(len, off, 5))
                return ETF_E_TRUNCATED;
            skip = 5 + (uint64_t)be32_get(b + off);
            break;
        case ETF_TAG_SMALL_BIG:
            if (!have(len, off, 1))
                return ETF_E_TRUNCATED;
            skip = 2 + (uint64_t)b[off];
            break;
        case ETF_TAG_LARGE_BIG:
            if (!have(len, off, 4))
                return ETF_E_TRUNCATED;
            skip = 5 + (uint64_t)be32_get(b + off);
            break;
        case ETF_TAG_SMALL_TUPLE:
            if (!have(len, off, 1))
                return ETF_E_TRUNCATED;
            count += b[off];
            skip = 1;
            break;
        case ETF_TAG_LARGE_TUPLE:
            if (!have(len, off, 4))
                return ETF_E_TRUNCATED;
            count += be32_get(b + off);
            skip = 4;
            break;
        case ETF_TAG_LIST: /* elements, then the tail */
            if (!have(len, off, 4))
                return ETF_E_TRUNCATED;
            count += (uint64_t)be32_get(b + off) + 1;
            skip = 4;
            break;
        case ETF_TAG_MAP:
            if (!have(len, off, 4))
                return ETF_E_TRUNCATED;
            count += 2 * (uint64_t)be32_get(b + off);
            skip = 4;
            break;
        case ETF_TAG_EXPORT: /* Module, Function, Arity */
            count += 3;
            break;
        case ETF_TAG_FUN: /* NumFree:4, then Pid, Module, Index, Uniq and the free variables */
            if (!have(len, off, 4))
                return ETF_E_TRUNCATED;
            count += 4 + (uint64_t)be32_get(b + off);
            skip = 4;
            break;
        case ETF_TAG_NEW_FUN:
            r = new_fun(b, len, &off, depth);
            if (r != ETF_OK)
                return r;
            break;
        case ETF_TAG_PID:
        case ETF_TAG_NEW_PID:
        case ETF_TAG_PORT:
        case ETF_TAG_NEW_PORT:
        case ETF_TAG_V4_PORT:
        case ETF_TAG_REFERENCE:
            r = node_atom(b, len, &off);
            if (r != ETF_OK)
                return r;
            skip = tag == ETF_TAG_PID        ? 9
                   : tag == ETF_TAG_NEW_PID  ? 12
                   : tag == ETF_TAG_PORT     ? 5
                   : tag == ETF_TAG_NEW_PORT ? 8
                   : tag == ETF_TAG_V4_PORT  ? 12
                                             : 5; /* REFERENCE */
            break;
        case ETF_TAG_NEW_REFERENCE:
        case ETF_TAG_NEWER_REFERENCE: {
            if (!have(len, off, 2))
                return ETF_E_TRUNCATED;
            unsigned words = be16_get(b + off);
            if (words == 0 || words > ETF_REF_WORDS_MAX)
                return ETF_E_REF_LEN;
            off += 2;
            r = node_atom(b, len, &off);
            if (r != ETF_OK)
                return r;
            skip = (tag == ETF_TAG_NEW_REFERENCE ? 1 : 4) + 4 * (uint64_t)words;
            break;
        }
        default:
            return ETF_E_TAG;
        }
        if (!have(len, off, skip))
            return ETF_E_TRUNCATED;
        off += (size_t)skip;
    }
    *end = off;
    return ETF_OK;
}

enum etf_result etf_skip(const uint8_t *buf, size_t len, size_t off, size_t *end)
{
    return walk(buf, len, off, 1, 0, end);
}
