/* Signals: see sig.h. */
#include "runtime/core/sig.h"

#include <stdlib.h>
#include <string.h>

#include "control/etf.h"
#include "runtime/core/conn.h"

struct sig *sig_new(enum sig_kind kind)
{
    struct sig *s = malloc(sizeof(*s));
    if (s) {
        memset(s, 0, offsetof(struct sig, msg.from));
        s->kind = kind;
    }
    return s;
}

void sig_free(struct sig *s)
{
    if (!s)
        return;
    if (s->free_fn)
        s->free_fn(s->free_arg);
    if (s->acct_bytes && s->conn && s->consumed_fn)
        s->consumed_fn(s->conn, s->acct_bytes);
    if (s->conn)
        conn_unref(s->conn);
    free(s->name);
    free(s);
}

bool sig_set_term_copy(struct sig *s, const uint8_t *term, size_t len)
{
    if (len <= sizeof(s->small)) {
        memcpy(s->small, term, len);
        s->msg.term = s->small;
        s->msg.len = len;
        return true;
    }
    char *p = malloc(len ? len : 1);
    if (!p)
        return false;
    memcpy(p, term, len);
    s->msg.term = p;
    s->msg.len = len;
    s->free_fn = free;
    s->free_arg = p;
    return true;
}

/* Takes over x's buffer as the signal's term. */
static void sig_take_xbuf(struct sig *s, ei_x_buff *x)
{
    s->msg.term = x->buff;
    s->msg.len = (size_t)x->index;
    s->free_fn = free; /* ei_x_buff buffers are malloc'd */
    s->free_arg = x->buff;
    x->buff = NULL;
}

/* Appends an encoded term given with its version byte. */
static int x_append_term(ei_x_buff *x, const uint8_t *term, size_t len)
{
    if (len < 2 || term[0] != ETF_VERSION)
        return -1;
    return ei_x_append_buf(x, (const char *)term + 1, (int)(len - 1));
}

bool sig_make_exit_term(struct sig *s, const dd_pid *from, const uint8_t *reason, size_t reason_len)
{
    ei_x_buff x;
    if (ei_x_new_with_version(&x) < 0)
        return false;
    if (ei_x_encode_tuple_header(&x, 3) < 0 || ei_x_encode_atom(&x, "EXIT") < 0 ||
        ei_x_encode_pid(&x, from) < 0 || x_append_term(&x, reason, reason_len) < 0) {
        ei_x_free(&x);
        return false;
    }
    s->msg.kind = DD_MSG_EXIT;
    s->msg.has_from = true;
    s->msg.from = *from;
    sig_take_xbuf(s, &x);
    return true;
}

bool sig_make_down_term(struct sig *s, const dd_ref *ref, const dd_pid *pid, const char *name,
                        const char *node, const uint8_t *reason, size_t reason_len)
{
    ei_x_buff x;
    if (ei_x_new_with_version(&x) < 0)
        return false;
    int rc = ei_x_encode_tuple_header(&x, 5) | ei_x_encode_atom(&x, "DOWN") |
             ei_x_encode_ref(&x, ref) | ei_x_encode_atom(&x, "process");
    if (pid) {
        rc |= ei_x_encode_pid(&x, pid);
    } else {
        rc |= ei_x_encode_tuple_header(&x, 2) | ei_x_encode_atom(&x, name) |
              ei_x_encode_atom(&x, node);
    }
    if (rc < 0 || x_append_term(&x, reason, reason_len) < 0) {
        ei_x_free(&x);
        return false;
    }
    s->msg.kind = DD_MSG_DOWN;
    if (pid) {
        s->msg.has_from = true;
        s->msg.from = *pid;
    }
    sig_take_xbuf(s, &x);
    return true;
}
