/* The distribution handshake state machine: see handshake.h for the messages and how to
 * drive it.
 *
 * Design. One state per message we wait for; each received message is handled by one
 * function that validates it completely before acting, then queues our answer(s) and moves
 * to the next state or fails. The sequence follows lib/kernel/src/dist_util.erl
 * (handshake_we_started / handshake_other_started):
 *
 *   initiator: queue N -> WAIT_STATUS
 *                 "ok" | "ok_simultaneous"           -> WAIT_CHALLENGE
 *                 "alive": ask alive_answer, queue "true" -> WAIT_CHALLENGE ("false": fail)
 *              WAIT_CHALLENGE --N, checks--> queue r -> WAIT_ACK --a, digest ok--> DONE
 *   acceptor:  WAIT_NAME --N or n, checks, admit--> queue status
 *                 ok | ok_simultaneous -> queue N -> WAIT_REPLY (WAIT_COMPLEMENT after 'n')
 *                 alive -> WAIT_ALIVE_REPLY --"true"--> queue N -> (as above)
 *              WAIT_COMPLEMENT --c--> WAIT_REPLY --r, digest ok--> queue a -> DONE
 *
 * Transcript: queue_msg appends what it queues, hs_feed what it hands to dispatch, so the
 * record is in the order this machine saw the messages; the handshake being lock-step (a side
 * sends only in answer to what it received), that is the wire order at both ends.
 *
 * Invariants: hs_feed consumes whole messages only and nothing after the message that ends
 * the handshake; a failed or finished object never changes again; nothing is read beyond a
 * message's declared length, and no declared length above HS_MSG_MAX is waited for. Refusals
 * the acceptor makes itself (NAME_ME, missing flags, name kind, admit's nok/not_allowed) are
 * announced with a status before failing, as dist_util does; malformed input just fails.
 */
#include "control/handshake.h"

#include <string.h>

#include <openssl/crypto.h>

#include "common/bytes.h"
#include "control/cookie.h"

enum hs_state {
    ST_FAILED = 0,
    ST_DONE,
    ST_I_WAIT_STATUS,
    ST_I_WAIT_CHALLENGE,
    ST_I_WAIT_ACK,
    ST_A_WAIT_NAME,
    ST_A_WAIT_ALIVE_REPLY,
    ST_A_WAIT_COMPLEMENT,
    ST_A_WAIT_REPLY,
};

/* Fixed parts of the messages (tag included). */
#define NAME_NEW_FIXED  15 /* 'N' Flags:64 Creation:32 Nlen:16 */
#define NAME_OLD_FIXED  7  /* 'n' Version:16 Flags:32 */
#define CHALLENGE_FIXED 19 /* 'N' Flags:64 Challenge:32 Creation:32 Nlen:16 */
#define COMPLEMENT_LEN  9  /* 'c' FlagsHigh:32 Creation:32 */
#define REPLY_LEN       21 /* 'r' Challenge:32 Digest:16 */
#define ACK_LEN         17 /* 'a' Digest:16 */

static const char *const hs_messages[] = {
#define HS_X_MSG(code, msg) msg,
    HS_ERRORS(HS_X_MSG)
#undef HS_X_MSG
};

const char *hs_strerror(enum hs_error e)
{
    if ((unsigned)e >= HS_E__COUNT)
        return "unknown error";
    return hs_messages[e];
}

static const char *const status_names[] = {
    [HS_STATUS_NONE] = "",
    [HS_STATUS_OK] = "ok",
    [HS_STATUS_OK_SIMULTANEOUS] = "ok_simultaneous",
    [HS_STATUS_NOK] = "nok",
    [HS_STATUS_NOT_ALLOWED] = "not_allowed",
    [HS_STATUS_ALIVE] = "alive",
};

const char *hs_status_name(enum hs_status s)
{
    if ((unsigned)s >= sizeof(status_names) / sizeof(status_names[0]))
        return "";
    return status_names[s];
}

/* --- small helpers ------------------------------------------------------------------- */

static enum hs_step fail(struct hs *hs, enum hs_error e)
{
    hs->state = ST_FAILED;
    hs->error = e;
    return HS_FAILED;
}

/* Append one framed message (2-byte length included) to the transcript. */
static void transcript_add(struct hs *hs, const uint8_t *framed, size_t len)
{
    if (hs->transcript_overflow || len > sizeof(hs->transcript) - hs->transcript_len) {
        hs->transcript_overflow = true;
        return;
    }
    memcpy(hs->transcript + hs->transcript_len, framed, len);
    hs->transcript_len += len;
}

/* Queue one message: 2-byte length, then up to three parts (NULL/0 for none). */
static bool queue_msg(struct hs *hs, const void *a, size_t a_len, const void *b, size_t b_len,
                      const void *c, size_t c_len)
{
    size_t body = a_len + b_len + c_len;
    if (hs->out_head > 0) { /* keep the free space in one piece */
        memmove(hs->out, hs->out + hs->out_head, hs->out_len);
        hs->out_head = 0;
    }
    if (body > UINT16_MAX || hs->out_len + 2 + body > sizeof(hs->out))
        return false;
    uint8_t *p = hs->out + hs->out_len;
    be16_put(p, (uint16_t)body);
    p += 2;
    if (a_len)
        memcpy(p, a, a_len);
    if (b_len)
        memcpy(p + a_len, b, b_len);
    if (c_len)
        memcpy(p + a_len + b_len, c, c_len);
    transcript_add(hs, p - 2, 2 + body);
    hs->out_len += 2 + body;
    return true;
}

static bool queue_status(struct hs *hs, const char *word)
{
    return queue_msg(hs, "s", 1, word, strlen(word), NULL, 0);
}

/* Queue a refusal status, then fail with e. The status is best effort. */
static enum hs_step refuse(struct hs *hs, enum hs_error e)
{
    queue_status(hs, "not_allowed");
    return fail(hs, e);
}

static bool status_is(const uint8_t *s, size_t len, const char *word)
{
    return len == strlen(word) && memcmp(s, word, len) == 0;
}

/* Flags a peer must have but lacks; for an old 'n' only the low 32 bits are known yet. */
static uint64_t missing_flags(const struct hs *hs, uint64_t peer_flags, bool low_only)
{
    uint64_t need = hs->required;
    if (low_only)
        need &= UINT64_C(0xffffffff);
    return need & ~peer_flags;
}

/* Common checks of the peer's flags; HS_OK or the error. */
static enum hs_error check_flags(const struct hs *hs, uint64_t peer_flags, bool low_only)
{
    if (!(peer_flags & DFLAG_HANDSHAKE_23))
        return HS_E_NO_HANDSHAKE_23;
    if (missing_flags(hs, peer_flags, low_only))
        return HS_E_FLAGS_MISSING;
    return HS_OK;
}

/* Validate a peer's name and store it in the result. */
static enum hs_error take_peer_name(struct hs *hs, const uint8_t *name, size_t len)
{
    struct nodename nn;
    if (len > HS_NAME_MAX || nodename_parse(&nn, (const char *)name, len, NODENAME_PEER) != 0)
        return HS_E_PEER_NAME;
    memcpy(hs->res.peer_name, name, len);
    hs->res.peer_name[len] = '\0';
    return HS_OK;
}

static void take_trailer(struct hs *hs, const uint8_t *p, size_t len)
{
    /* len < HS_MSG_MAX always: the message holds a fixed part before it. */
    memcpy(hs->res.peer_trailer, p, len);
    hs->res.peer_trailer_len = len;
}

static void set_peer_flags(struct hs *hs, uint64_t raw)
{
    hs->res.peer_flags = dflags_expand(raw);
    hs->res.flags = hs->cfg.my_flags & hs->res.peer_flags;
}

/* Our 'N' message. The acceptor's carries the challenge; the initiator's does not. */
static bool queue_our_n(struct hs *hs, bool with_challenge)
{
    uint8_t fixed[CHALLENGE_FIXED];
    size_t n = 0;
    size_t name_len = strlen(hs->cfg.my_name);
    fixed[n++] = 'N';
    be64_put(fixed + n, hs->cfg.my_flags);
    n += 8;
    if (with_challenge) {
        be32_put(fixed + n, hs->my_challenge);
        n += 4;
    }
    be32_put(fixed + n, hs->cfg.my_creation);
    n += 4;
    be16_put(fixed + n, (uint16_t)name_len);
    n += 2;
    return queue_msg(hs, fixed, n, hs->cfg.my_name, name_len, hs->cfg.trailer, hs->cfg.trailer_len);
}

static const char *peer_cookie(struct hs *hs, const char *peer)
{
    const char *c = hs->cfg.cb->cookie(hs->cfg.cb_arg, peer);
    return (c != NULL && c[0] != '\0') ? c : NULL;
}

/* --- acceptor ------------------------------------------------------------------------- */

/* Draw our challenge and queue the challenge message; next state after it. */
static enum hs_step send_challenge(struct hs *hs)
{
    if (hs->cfg.cb->challenge(hs->cfg.cb_arg, &hs->my_challenge) != 0)
        return fail(hs, HS_E_RANDOM);
    if (!queue_our_n(hs, true))
        return fail(hs, HS_E_OUTPUT);
    hs->state = hs->res.peer_used_old_name ? ST_A_WAIT_COMPLEMENT : ST_A_WAIT_REPLY;
    return HS_CONTINUE;
}

static enum hs_step on_name(struct hs *hs, const uint8_t *m, size_t len)
{
    uint64_t flags;
    uint32_t creation = 0;
    const uint8_t *name;
    size_t name_len;
    size_t trailer_off;
    bool old = m[0] == 'n';
    if (m[0] == 'N') {
        if (len < NAME_NEW_FIXED)
            return fail(hs, HS_E_TRUNCATED);
        flags = be64_get(m + 1);
        creation = be32_get(m + 9);
        name_len = be16_get(m + 13);
        if (NAME_NEW_FIXED + name_len > len)
            return fail(hs, HS_E_TRUNCATED);
        name = m + NAME_NEW_FIXED;
        trailer_off = NAME_NEW_FIXED + name_len;
    } else if (old) {
        if (len < NAME_OLD_FIXED)
            return fail(hs, HS_E_TRUNCATED);
        if (be16_get(m + 1) != HS_OLD_NAME_VERSION)
            return fail(hs, HS_E_OLD_VERSION);
        flags = be32_get(m + 3);
        name = m + NAME_OLD_FIXED;
        name_len = len - NAME_OLD_FIXED;
        trailer_off = len;
    } else {
        return fail(hs, HS_E_TAG);
    }
    /* With NAME_ME the "name" is only a host: refuse before reading it as a name. */
    if (flags & DFLAG_NAME_ME)
        return refuse(hs, HS_E_NAME_ME);
    enum hs_error e = take_peer_name(hs, name, name_len);
    if (e != HS_OK)
        return fail(hs, e);
    e = check_flags(hs, dflags_expand(flags), old);
    if (e != HS_OK)
        return refuse(hs, e);
    if (nodename_kind(hs->res.peer_name) != hs->my_kind)
        return refuse(hs, HS_E_NAME_KIND);
    set_peer_flags(hs, flags);
    hs->res.peer_creation = creation;
    hs->res.peer_used_old_name = old;
    take_trailer(hs, m + trailer_off, len - trailer_off);

    enum hs_status st = hs->cfg.cb->admit(hs->cfg.cb_arg, hs->res.peer_name, hs->res.peer_flags);
    hs->res.status = st;
    switch (st) {
    case HS_STATUS_OK:
    case HS_STATUS_OK_SIMULTANEOUS:
        if (!queue_status(hs, hs_status_name(st)))
            return fail(hs, HS_E_OUTPUT);
        return send_challenge(hs);
    case HS_STATUS_ALIVE:
        if (!queue_status(hs, "alive"))
            return fail(hs, HS_E_OUTPUT);
        hs->state = ST_A_WAIT_ALIVE_REPLY;
        return HS_CONTINUE;
    case HS_STATUS_NOK:
        queue_status(hs, "nok");
        return fail(hs, HS_E_STATUS_NOK);
    case HS_STATUS_NOT_ALLOWED:
        return refuse(hs, HS_E_STATUS_NOT_ALLOWED);
    default:
        hs->res.status = HS_STATUS_NONE;
        return refuse(hs, HS_E_CONFIG);
    }
}

static enum hs_step on_alive_reply(struct hs *hs, const uint8_t *m, size_t len)
{
    if (m[0] != 's')
        return fail(hs, HS_E_TAG);
    if (status_is(m + 1, len - 1, "true")) {
        hs->res.alive_true = true;
        return send_challenge(hs);
    }
    if (status_is(m + 1, len - 1, "false"))
        return fail(hs, HS_E_STATUS_FALSE);
    return fail(hs, HS_E_STATUS_UNKNOWN);
}

static enum hs_step on_complement(struct hs *hs, const uint8_t *m, size_t len)
{
    if (m[0] != 'c')
        return fail(hs, HS_E_TAG);
    if (len < COMPLEMENT_LEN)
        return fail(hs, HS_E_TRUNCATED);
    if (len > COMPLEMENT_LEN)
        return fail(hs, HS_E_LENGTH);
    uint64_t flags = (hs->res.peer_flags & UINT64_C(0xffffffff)) | (uint64_t)be32_get(m + 1) << 32;
    if (flags & DFLAG_NAME_ME)
        return fail(hs, HS_E_NAME_ME);
    enum hs_error e = check_flags(hs, dflags_expand(flags), false);
    if (e != HS_OK)
        return fail(hs, e);
    set_peer_flags(hs, flags);
    hs->res.peer_creation = be32_get(m + 5);
    hs->state = ST_A_WAIT_REPLY;
    return HS_CONTINUE;
}

static enum hs_step on_reply(struct hs *hs, const uint8_t *m, size_t len)
{
    if (m[0] != 'r')
        return fail(hs, HS_E_TAG);
    if (len < REPLY_LEN)
        return fail(hs, HS_E_TRUNCATED);
    if (len > REPLY_LEN)
        return fail(hs, HS_E_LENGTH);
    const char *cookie = peer_cookie(hs, hs->res.peer_name);
    if (cookie == NULL)
        return fail(hs, HS_E_COOKIE);
    uint8_t expected[HS_DIGEST_LEN], ack[1 + HS_DIGEST_LEN];
    if (cookie_digest(cookie, hs->my_challenge, expected) != COOKIE_OK)
        return fail(hs, HS_E_CRYPTO);
    if (CRYPTO_memcmp(expected, m + 5, HS_DIGEST_LEN) != 0)
        return fail(hs, HS_E_DIGEST);
    ack[0] = 'a';
    if (cookie_digest(cookie, be32_get(m + 1), ack + 1) != COOKIE_OK)
        return fail(hs, HS_E_CRYPTO);
    if (!queue_msg(hs, ack, sizeof(ack), NULL, 0, NULL, 0))
        return fail(hs, HS_E_OUTPUT);
    hs->state = ST_DONE;
    return HS_DONE;
}

/* --- initiator ------------------------------------------------------------------------ */

static enum hs_step on_status(struct hs *hs, const uint8_t *m, size_t len)
{
    if (m[0] != 's')
        return fail(hs, HS_E_TAG);
    const uint8_t *w = m + 1;
    size_t wl = len - 1;
    if (status_is(w, wl, "ok")) {
        hs->res.status = HS_STATUS_OK;
    } else if (status_is(w, wl, "ok_simultaneous")) {
        hs->res.status = HS_STATUS_OK_SIMULTANEOUS;
    } else if (status_is(w, wl, "nok")) {
        hs->res.status = HS_STATUS_NOK;
        return fail(hs, HS_E_STATUS_NOK);
    } else if (status_is(w, wl, "not_allowed")) {
        hs->res.status = HS_STATUS_NOT_ALLOWED;
        return fail(hs, HS_E_STATUS_NOT_ALLOWED);
    } else if (status_is(w, wl, "alive")) {
        hs->res.status = HS_STATUS_ALIVE;
        bool go_on = hs->cfg.cb->alive_answer(hs->cfg.cb_arg, hs->cfg.expected_peer);
        if (!queue_status(hs, go_on ? "true" : "false"))
            return fail(hs, HS_E_OUTPUT);
        if (!go_on)
            return fail(hs, HS_E_STATUS_FALSE);
        hs->res.alive_true = true;
    } else {
        /* Includes "named:", which answers a DFLAG_NAME_ME we never send. */
        return fail(hs, HS_E_STATUS_UNKNOWN);
    }
    hs->state = ST_I_WAIT_CHALLENGE;
    return HS_CONTINUE;
}

static enum hs_step on_challenge(struct hs *hs, const uint8_t *m, size_t len)
{
    if (m[0] != 'N')
        return fail(hs, HS_E_TAG);
    if (len < CHALLENGE_FIXED)
        return fail(hs, HS_E_TRUNCATED);
    uint64_t flags = be64_get(m + 1);
    uint32_t peer_challenge = be32_get(m + 9);
    uint32_t creation = be32_get(m + 13);
    size_t name_len = be16_get(m + 17);
    if (CHALLENGE_FIXED + name_len > len)
        return fail(hs, HS_E_TRUNCATED);
    const uint8_t *name = m + CHALLENGE_FIXED;
    enum hs_error e = take_peer_name(hs, name, name_len);
    if (e != HS_OK)
        return fail(hs, e);
    if (strcmp(hs->res.peer_name, hs->cfg.expected_peer) != 0)
        return fail(hs, HS_E_NAME_MISMATCH);
    if (nodename_kind(hs->res.peer_name) != hs->my_kind)
        return fail(hs, HS_E_NAME_KIND);
    e = check_flags(hs, dflags_expand(flags), false);
    if (e != HS_OK)
        return fail(hs, e);
    set_peer_flags(hs, flags);
    hs->res.peer_creation = creation;
    take_trailer(hs, m + CHALLENGE_FIXED + name_len, len - CHALLENGE_FIXED - name_len);

    if (hs->cfg.cb->challenge(hs->cfg.cb_arg, &hs->my_challenge) != 0)
        return fail(hs, HS_E_RANDOM);
    const char *cookie = peer_cookie(hs, hs->res.peer_name);
    if (cookie == NULL)
        return fail(hs, HS_E_COOKIE);
    uint8_t reply[REPLY_LEN];
    reply[0] = 'r';
    be32_put(reply + 1, hs->my_challenge);
    if (cookie_digest(cookie, peer_challenge, reply + 5) != COOKIE_OK ||
        cookie_digest(cookie, hs->my_challenge, hs->expected_ack) != COOKIE_OK)
        return fail(hs, HS_E_CRYPTO);
    if (!queue_msg(hs, reply, sizeof(reply), NULL, 0, NULL, 0))
        return fail(hs, HS_E_OUTPUT);
    hs->state = ST_I_WAIT_ACK;
    return HS_CONTINUE;
}

static enum hs_step on_ack(struct hs *hs, const uint8_t *m, size_t len)
{
    if (m[0] != 'a')
        return fail(hs, HS_E_TAG);
    if (len < ACK_LEN)
        return fail(hs, HS_E_TRUNCATED);
    if (len > ACK_LEN)
        return fail(hs, HS_E_LENGTH);
    if (CRYPTO_memcmp(hs->expected_ack, m + 1, HS_DIGEST_LEN) != 0)
        return fail(hs, HS_E_DIGEST);
    hs->state = ST_DONE;
    return HS_DONE;
}

/* --- public --------------------------------------------------------------------------- */

static bool name_ok(const char *name)
{
    struct nodename nn;
    return name != NULL && nodename_parse(&nn, name, strlen(name), NODENAME_PEER) == NODENAME_OK;
}

enum hs_error hs_init(struct hs *hs, const struct hs_config *cfg)
{
    memset(hs, 0, offsetof(struct hs, out));
    hs->state = ST_FAILED;
    hs->error = HS_E_CONFIG;
    if (cfg == NULL)
        return HS_E_CONFIG;
    hs->cfg = *cfg;
    const struct hs_callbacks *cb = cfg->cb;
    bool initiator = cfg->role == HS_INITIATOR;
    if ((cfg->role != HS_INITIATOR && cfg->role != HS_ACCEPTOR) || cb == NULL ||
        cb->cookie == NULL || cb->challenge == NULL ||
        (initiator ? cb->alive_answer == NULL : cb->admit == NULL) || !name_ok(cfg->my_name) ||
        (initiator && !name_ok(cfg->expected_peer)) || cfg->trailer_len > HS_TRAILER_MAX ||
        (cfg->trailer_len && cfg->trailer == NULL) || !(cfg->my_flags & DFLAG_HANDSHAKE_23) ||
        (cfg->my_flags & DFLAG_NAME_ME))
        return HS_E_CONFIG;
    hs->required = DISTFLAGS_MANDATORY | cfg->required_flags;
    hs->my_kind = nodename_kind(cfg->my_name);
    if (initiator && nodename_kind(cfg->expected_peer) != hs->my_kind) {
        hs->error = HS_E_NAME_KIND;
        return HS_E_NAME_KIND;
    }
    hs->error = HS_OK;
    if (initiator) {
        if (!queue_our_n(hs, false)) {
            fail(hs, HS_E_OUTPUT);
            return HS_E_OUTPUT;
        }
        hs->state = ST_I_WAIT_STATUS;
    } else {
        hs->state = ST_A_WAIT_NAME;
    }
    return HS_OK;
}

static enum hs_step dispatch(struct hs *hs, const uint8_t *m, size_t len)
{
    if (len == 0)
        return fail(hs, HS_E_TRUNCATED);
    switch (hs->state) {
    case ST_I_WAIT_STATUS:
        return on_status(hs, m, len);
    case ST_I_WAIT_CHALLENGE:
        return on_challenge(hs, m, len);
    case ST_I_WAIT_ACK:
        return on_ack(hs, m, len);
    case ST_A_WAIT_NAME:
        return on_name(hs, m, len);
    case ST_A_WAIT_ALIVE_REPLY:
        return on_alive_reply(hs, m, len);
    case ST_A_WAIT_COMPLEMENT:
        return on_complement(hs, m, len);
    case ST_A_WAIT_REPLY:
        return on_reply(hs, m, len);
    default:
        return fail(hs, HS_E_CONFIG);
    }
}

enum hs_step hs_feed(struct hs *hs, const uint8_t *data, size_t len, size_t *consumed)
{
    size_t off = 0;
    enum hs_step step = HS_CONTINUE;
    if (hs->state == ST_FAILED)
        step = HS_FAILED;
    else if (hs->state == ST_DONE)
        step = HS_DONE;
    while (step == HS_CONTINUE && len - off >= 2) {
        size_t mlen = be16_get(data + off);
        if (mlen > HS_MSG_MAX) {
            step = fail(hs, HS_E_TOO_LARGE);
            break;
        }
        if (len - off - 2 < mlen)
            break;
        const uint8_t *m = data + off + 2;
        transcript_add(hs, data + off, 2 + mlen);
        off += 2 + mlen;
        step = dispatch(hs, m, mlen);
    }
    if (consumed != NULL)
        *consumed = off;
    return step;
}

size_t hs_output(const struct hs *hs, const uint8_t **ptr)
{
    *ptr = hs->out + hs->out_head;
    return hs->out_len;
}

void hs_output_consumed(struct hs *hs, size_t n)
{
    if (n > hs->out_len)
        n = hs->out_len;
    hs->out_head += n;
    hs->out_len -= n;
    if (hs->out_len == 0)
        hs->out_head = 0;
}

enum hs_error hs_last_error(const struct hs *hs)
{
    return hs->error;
}

const struct hs_result *hs_result(const struct hs *hs)
{
    return &hs->res;
}

size_t hs_transcript(const struct hs *hs, const uint8_t **ptr)
{
    if (hs->transcript_overflow) {
        *ptr = NULL;
        return 0;
    }
    *ptr = hs->transcript;
    return hs->transcript_len;
}
