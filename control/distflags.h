/* Distribution capability flags (erl_dist_protocol.md "Distribution Flags"), as 64-bit values.
 *
 * Owns: the DFLAG_* constants, the sets OTP treats as mandatory, and the sets dpdist
 * advertises and requires. Header-only; used by the handshake (control/handshake.c), the
 * control-message codec (control/distmsg.c) and the runtime when it checks a negotiated
 * connection's flags.
 *
 * Values follow erts/emulator/beam/dist.h, not the documentation text where they differ:
 * DFLAG_MANDATORY_25_DIGEST is bit 26 (0x4000000) in dist.h, dist_util.erl and ei.
 */
#ifndef DPDIST_CONTROL_DISTFLAGS_H
#define DPDIST_CONTROL_DISTFLAGS_H

#include <stdint.h>

#define DFLAG_PUBLISHED           UINT64_C(0x1)
#define DFLAG_ATOM_CACHE          UINT64_C(0x2) /* obsolete */
#define DFLAG_EXTENDED_REFERENCES UINT64_C(0x4)
#define DFLAG_DIST_MONITOR        UINT64_C(0x8)
#define DFLAG_FUN_TAGS            UINT64_C(0x10)
#define DFLAG_DIST_MONITOR_NAME   UINT64_C(0x20)
#define DFLAG_HIDDEN_ATOM_CACHE   UINT64_C(0x40) /* obsolete */
#define DFLAG_NEW_FUN_TAGS        UINT64_C(0x80)
#define DFLAG_EXTENDED_PIDS_PORTS UINT64_C(0x100)
#define DFLAG_EXPORT_PTR_TAG      UINT64_C(0x200)
#define DFLAG_BIT_BINARIES        UINT64_C(0x400)
#define DFLAG_NEW_FLOATS          UINT64_C(0x800)
#define DFLAG_UNICODE_IO          UINT64_C(0x1000)
#define DFLAG_DIST_HDR_ATOM_CACHE UINT64_C(0x2000)
#define DFLAG_SMALL_ATOM_TAGS     UINT64_C(0x4000)
#define DFLAG_ETS_COMPRESSED      UINT64_C(0x8000) /* ERTS-internal, never on the wire */
#define DFLAG_UTF8_ATOMS          UINT64_C(0x10000)
#define DFLAG_MAP_TAG             UINT64_C(0x20000)
#define DFLAG_BIG_CREATION        UINT64_C(0x40000)
#define DFLAG_SEND_SENDER         UINT64_C(0x80000)
#define DFLAG_BIG_SEQTRACE_LABELS UINT64_C(0x100000)
#define DFLAG_PENDING_CONNECT     UINT64_C(0x200000) /* ERTS-internal */
#define DFLAG_EXIT_PAYLOAD        UINT64_C(0x400000)
#define DFLAG_FRAGMENTS           UINT64_C(0x800000)
#define DFLAG_HANDSHAKE_23        UINT64_C(0x1000000)
#define DFLAG_UNLINK_ID           UINT64_C(0x2000000)
#define DFLAG_MANDATORY_25_DIGEST UINT64_C(0x4000000)
#define DFLAG_MULTISEND           UINT64_C(0x8000000) /* newer ERTS */
#define DFLAG_RESERVED            UINT64_C(0xf8000000)
/* The old 'n' send_name carries only the low 32 bits; the rest come in the 'c' message. */
#define DFLAG_SPAWN      (UINT64_C(0x1) << 32)
#define DFLAG_NAME_ME    (UINT64_C(0x2) << 32)
#define DFLAG_V4_NC      (UINT64_C(0x4) << 32)
#define DFLAG_ALIAS      (UINT64_C(0x8) << 32)
#define DFLAG_LOCAL_EXT  (UINT64_C(0x10) << 32) /* ERTS-internal */
#define DFLAG_ALTACT_SIG (UINT64_C(0x20) << 32) /* OTP 27+ */

/* What OTP 25 requires of a peer (dist.h DFLAG_DIST_MANDATORY_25). A peer that sets
 * DFLAG_MANDATORY_25_DIGEST is taken to have all of these (dist_util expand_mandatory_25_flag). */
#define DFLAG_DIST_MANDATORY_25                                                                    \
    (DFLAG_EXTENDED_REFERENCES | DFLAG_FUN_TAGS | DFLAG_EXTENDED_PIDS_PORTS | DFLAG_UTF8_ATOMS |   \
     DFLAG_NEW_FUN_TAGS | DFLAG_BIG_CREATION | DFLAG_NEW_FLOATS | DFLAG_MAP_TAG |                  \
     DFLAG_EXPORT_PTR_TAG | DFLAG_BIT_BINARIES | DFLAG_HANDSHAKE_23)
/* Added by OTP 26 (dist.h DFLAG_DIST_MANDATORY_26). */
#define DFLAG_DIST_MANDATORY_26 (DFLAG_V4_NC | DFLAG_UNLINK_ID)
#define DFLAG_DIST_MANDATORY    (DFLAG_DIST_MANDATORY_25 | DFLAG_DIST_MANDATORY_26)

/* Exactly what dpdist implements, without DFLAG_PUBLISHED: the runtime adds DFLAG_PUBLISHED
 * unless the node is hidden. No atom cache (we never send or accept cache references) and no
 * DFLAG_NAME_ME (we never ask for, nor hand out, dynamic names). */
#define DISTFLAGS_ADVERTISED                                                                        \
    (DFLAG_EXTENDED_REFERENCES | DFLAG_DIST_MONITOR | DFLAG_FUN_TAGS | DFLAG_DIST_MONITOR_NAME |   \
     DFLAG_NEW_FUN_TAGS | DFLAG_EXTENDED_PIDS_PORTS | DFLAG_EXPORT_PTR_TAG | DFLAG_BIT_BINARIES |  \
     DFLAG_NEW_FLOATS | DFLAG_UNICODE_IO | DFLAG_SMALL_ATOM_TAGS | DFLAG_UTF8_ATOMS |              \
     DFLAG_MAP_TAG | DFLAG_BIG_CREATION | DFLAG_SEND_SENDER | DFLAG_BIG_SEQTRACE_LABELS |          \
     DFLAG_EXIT_PAYLOAD | DFLAG_FRAGMENTS | DFLAG_HANDSHAKE_23 | DFLAG_UNLINK_ID |                 \
     DFLAG_MANDATORY_25_DIGEST | DFLAG_SPAWN | DFLAG_V4_NC | DFLAG_ALIAS)

/* What a peer must have for dpdist to talk to it: OTP 26's mandatory set (pids, ports and
 * references in the V4 formats, the new link protocol, the version 6 handshake). The
 * handshake always requires these, plus whatever hs_config.required_flags adds. */
#define DISTFLAGS_MANDATORY DFLAG_DIST_MANDATORY

/* What dpdist's runtime requires of a peer on top of DISTFLAGS_MANDATORY: what its encoders
 * assume (SEND_SENDER for every message, payloads in exits, the link protocol with ids). */
#define DISTFLAGS_REQUIRED_DPDIST (DFLAG_SEND_SENDER | DFLAG_EXIT_PAYLOAD | DFLAG_UNLINK_ID)

/* The peer's flags as OTP reads them: DFLAG_MANDATORY_25_DIGEST stands for all of OTP 25's
 * mandatory flags. */
static inline uint64_t dflags_expand(uint64_t peer_flags)
{
    if (peer_flags & DFLAG_MANDATORY_25_DIGEST)
        peer_flags |= DFLAG_DIST_MANDATORY_25;
    return peer_flags;
}

#endif
