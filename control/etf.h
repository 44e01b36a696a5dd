/* Bounded walker for the Erlang external term format (erl_ext_dist.md): finds where one
 * encoded term ends, never reading outside the buffer it is given.
 *
 * Owns: etf_skip. Exists because libei's decoders (ei_decode_*, ei_skip_term) take no buffer
 * length and trust the lengths inside the term: run on untrusted bytes they read past the end,
 * and ei_skip_term recurses once per nesting level. distmsg.c therefore checks every term
 * with etf_skip first and only then lets ei decode inside a checked span. Pure, no
 * allocation, thread-safe.
 *
 * What a term passing etf_skip guarantees (enough for ei's decoders to stay inside it):
 * every length and count fits the span; pids, ports and references carry a node that is an
 * atom (ATOM_EXT, SMALL_ATOM_EXT, ATOM_UTF8_EXT, SMALL_ATOM_UTF8_EXT); references have 1..5
 * id words (erlang_ref holds 5); NEW_FUN_EXT's Size matches its contents. Refused: atom cache
 * references (we never negotiate the cache), LOCAL_EXT and compressed terms (never valid in
 * distribution messages), unknown tags, and nesting of funs deeper than ETF_FUN_DEPTH_MAX.
 */
#ifndef DPDIST_CONTROL_ETF_H
#define DPDIST_CONTROL_ETF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ETF_VERSION       131 /* the byte before a standalone term */
#define ETF_FUN_DEPTH_MAX 8
#define ETF_REF_WORDS_MAX 5

/* Term tags (erl_ext_dist.md), named after the format's *_EXT names. */
enum etf_tag {
    ETF_TAG_NEW_FLOAT = 70,
    ETF_TAG_BIT_BINARY = 77,
    ETF_TAG_NEW_PID = 88,
    ETF_TAG_NEW_PORT = 89,
    ETF_TAG_NEWER_REFERENCE = 90,
    ETF_TAG_SMALL_INTEGER = 97,
    ETF_TAG_INTEGER = 98,
    ETF_TAG_FLOAT = 99,
    ETF_TAG_ATOM = 100,
    ETF_TAG_REFERENCE = 101,
    ETF_TAG_PORT = 102,
    ETF_TAG_PID = 103,
    ETF_TAG_SMALL_TUPLE = 104,
    ETF_TAG_LARGE_TUPLE = 105,
    ETF_TAG_NIL = 106,
    ETF_TAG_STRING = 107,
    ETF_TAG_LIST = 108,
    ETF_TAG_BINARY = 109,
    ETF_TAG_SMALL_BIG = 110,
    ETF_TAG_LARGE_BIG = 111,
    ETF_TAG_NEW_FUN = 112,
    ETF_TAG_EXPORT = 113,
    ETF_TAG_NEW_REFERENCE = 114,
    ETF_TAG_SMALL_ATOM = 115,
    ETF_TAG_MAP = 116,
    ETF_TAG_FUN = 117,
    ETF_TAG_ATOM_UTF8 = 118,
    ETF_TAG_SMALL_ATOM_UTF8 = 119,
    ETF_TAG_V4_PORT = 120,
};

#define ETF_ERRORS(X)                                                                              \
    X(ETF_OK, "ok")                                                                                \
    X(ETF_E_TRUNCATED, "term runs past the end of its buffer")                                     \
    X(ETF_E_TAG, "unknown or unsupported term tag")                                                \
    X(ETF_E_NODE, "pid, port or reference without an atom node name")                              \
    X(ETF_E_REF_LEN, "reference with no or more than 5 id words")                                  \
    X(ETF_E_FUN, "fun whose size does not match its contents")                                     \
    X(ETF_E_DEPTH, "funs nested too deeply")

enum etf_result {
#define ETF_X_ENUM(code, msg) code,
    ETF_ERRORS(ETF_X_ENUM)
#undef ETF_X_ENUM
        ETF_E__COUNT
};

const char *etf_strerror(enum etf_result r);

/* Walk the term starting at buf[off] (its tag; no version byte) inside buf[0..len). On
 * ETF_OK *end is the offset just after it. Time is linear in the term's size. */
enum etf_result etf_skip(const uint8_t *buf, size_t len, size_t off, size_t *end);

#ifdef __cplusplus
}
#endif

#endif
