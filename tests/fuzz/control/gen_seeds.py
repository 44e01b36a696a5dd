#!/usr/bin/env python3
"""Writes the seed corpora of the control fuzz targets (corpus/handshake, corpus/distmsg,
corpus/dpctl, corpus/hsframe).

The seeds are real message shapes: handshake exchanges with valid digests for the fixed cookie
"abc" and challenge 1234567890 that fuzz_handshake.c uses, and distribution packets built with
a minimal external-term-format encoder below (the same shapes OTP 25 sends: NEW_PID_EXT,
NEWER_REFERENCE_EXT, UTF-8 atoms). Run from anywhere; it rewrites the seed files in place:
    python3 tests/fuzz/control/gen_seeds.py
"""
import hashlib
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

# --- handshake ------------------------------------------------------------------------------

DFLAG = dict(PUBLISHED=0x1, EXTENDED_REFERENCES=0x4, DIST_MONITOR=0x8, FUN_TAGS=0x10,
             DIST_MONITOR_NAME=0x20, NEW_FUN_TAGS=0x80, EXTENDED_PIDS_PORTS=0x100,
             EXPORT_PTR_TAG=0x200, BIT_BINARIES=0x400, NEW_FLOATS=0x800, UNICODE_IO=0x1000,
             SMALL_ATOM_TAGS=0x4000, UTF8_ATOMS=0x10000, MAP_TAG=0x20000, BIG_CREATION=0x40000,
             SEND_SENDER=0x80000, BIG_SEQTRACE_LABELS=0x100000, EXIT_PAYLOAD=0x400000,
             FRAGMENTS=0x800000, HANDSHAKE_23=0x1000000, UNLINK_ID=0x2000000,
             MANDATORY_25_DIGEST=0x4000000, SPAWN=1 << 32, NAME_ME=2 << 32, V4_NC=4 << 32,
             ALIAS=8 << 32)
FLAGS = sum(v for k, v in DFLAG.items() if k != 'NAME_ME')
OTP25_FLAGS = 0xd07df7fbd  # what a real OTP 25 node sent in our interop probe
DIGEST = hashlib.md5(b"abc1234567890").digest()  # both directions: same cookie, challenge

# Set-up byte of fuzz_handshake.c: bit 0 acceptor, bits 1-2 admit status (0 ok,
# 1 ok_simultaneous, 2 alive, 3 not_allowed) or, for the initiator, bit 1 = answer false to
# alive; bit 3 cookie refused; bit 4 challenge fails; bit 5 trailer.
INI, ACC, ADMIT_SIM, ADMIT_ALIVE, ADMIT_NOT_ALLOWED, ALIVE_FALSE, TRAILER = \
    0x00, 0x01, 0x02, 0x04, 0x06, 0x02, 0x20


def frame2(body):
    return struct.pack(">H", len(body)) + body


def send_name(name, flags=FLAGS, creation=0x10203, trailer=b""):
    return frame2(b"N" + struct.pack(">QIH", flags, creation, len(name)) + name + trailer)


def old_send_name(name, flags=FLAGS, version=5):
    return frame2(b"n" + struct.pack(">HI", version, flags & 0xffffffff) + name)


def complement(flags=FLAGS, creation=0x10203):
    return frame2(b"c" + struct.pack(">II", flags >> 32, creation))


def status(word):
    return frame2(b"s" + word)


def challenge(name, flags=FLAGS, ch=1234567890, creation=0x40506, trailer=b""):
    return frame2(b"N" + struct.pack(">QIIH", flags, ch, creation, len(name)) + name + trailer)


def reply(ch=1234567890, digest=DIGEST):
    return frame2(b"r" + struct.pack(">I", ch) + digest)


def ack(digest=DIGEST):
    return frame2(b"a" + digest)


TICK = b"\0\0\0\0"
A, B = b"alice@host", b"bob@host"

HANDSHAKE = {
    "acc_ok": bytes([ACC]) + send_name(A) + reply() + TICK,
    "acc_ok_otp25_flags": bytes([ACC]) + send_name(A, OTP25_FLAGS) + reply(),
    "acc_simultaneous": bytes([ACC | ADMIT_SIM]) + send_name(A) + reply(),
    "acc_alive_true": bytes([ACC | ADMIT_ALIVE]) + send_name(A) + status(b"true") + reply(),
    "acc_alive_false": bytes([ACC | ADMIT_ALIVE]) + send_name(A) + status(b"false"),
    "acc_not_allowed": bytes([ACC | ADMIT_NOT_ALLOWED]) + send_name(A),
    "acc_old_name": bytes([ACC]) + old_send_name(A) + complement() + reply(),
    "acc_name_me": bytes([ACC]) + send_name(b"host", FLAGS | DFLAG["NAME_ME"]),
    "acc_trailer": bytes([ACC | TRAILER]) + send_name(A, trailer=b"dp\x01\x02") + reply(),
    "acc_oversize": bytes([ACC]) + b"\x08\x01" + b"N" * 16,
    "ini_ok": bytes([INI]) + status(b"ok") + challenge(B) + ack() + TICK,
    "ini_alive": bytes([INI]) + status(b"alive") + challenge(B, OTP25_FLAGS) + ack(),
    "ini_alive_false": bytes([INI | ALIVE_FALSE]) + status(b"alive"),
    "ini_nok": bytes([INI]) + status(b"nok"),
    "ini_not_allowed": bytes([INI]) + status(b"not_allowed"),
    "ini_named": bytes([INI]) + frame2(b"snamed:" + struct.pack(">H", 10) + A + b"\0\0\0\1"),
    "ini_trailer": bytes([INI | TRAILER]) + status(b"ok_simultaneous") +
    challenge(B, trailer=b"DPDIST") + ack(),
}

# --- distribution packets -----------------------------------------------------------------


def atom(s):
    b = s.encode()
    return bytes([119, len(b)]) + b if len(b) < 256 else bytes([118]) + struct.pack(">H", len(b)) + b


def integer(v):
    if 0 <= v < 256:
        return bytes([97, v])
    if -2**31 <= v < 2**31:
        return bytes([98]) + struct.pack(">i", v)
    mag = abs(v).to_bytes((abs(v).bit_length() + 7) // 8, "little")
    return bytes([110, len(mag), 1 if v < 0 else 0]) + mag


def tup(*elems):
    return bytes([104, len(elems)]) + b"".join(elems)


def lst(*elems, tail=b"\x6a"):
    if not elems:
        return b"\x6a"
    return bytes([108]) + struct.pack(">I", len(elems)) + b"".join(elems) + tail


def binary(b):
    return bytes([109]) + struct.pack(">I", len(b)) + b


def string(s):
    return bytes([107]) + struct.pack(">H", len(s)) + s


def pid(node, num, serial=0, creation=0x6a4b1c2d):
    return bytes([88]) + atom(node) + struct.pack(">III", num, serial, creation)


def ref(node, *ids, creation=0x6a4b1c2d):
    return bytes([90]) + struct.pack(">H", len(ids)) + atom(node) + \
        struct.pack(">I", creation) + b"".join(struct.pack(">I", i) for i in ids)


def frame4(pkt):
    return struct.pack(">I", len(pkt)) + pkt


def normal(*terms):
    return frame4(bytes([131, 68, 0]) + b"".join(terms))


def pass_through(*terms):
    return frame4(bytes([112]) + b"".join(b"\x83" + t for t in terms))


def frag_start(seq, fid, *terms):
    return frame4(bytes([131, 69]) + struct.pack(">QQ", seq, fid) + b"\0" + b"".join(terms))


def frag_cont(seq, fid, chunk):
    return frame4(bytes([131, 70]) + struct.pack(">QQ", seq, fid) + chunk)


P1 = pid("pinger@vm", 9)
P2 = pid("dd@vm", 1)
R1 = ref("pinger@vm", 1, 2, 3)
ALIAS = ref("pinger@vm", 4, 5, 6, 7)
TOKEN = tup(integer(0), atom("label"), integer(7), P1, integer(6))
GEN_CALL = tup(atom("$gen_call"), tup(P1, lst(atom("alias"), tail=R1)),
               tup(atom("is_auth"), atom("pinger@vm")))
BIG_MSG = tup(atom("data"), binary(bytes(range(256)) * 4))

DISTMSG = {
    "ping_exchange": normal(tup(integer(19), P1, atom("net_kernel"), R1)) +
    normal(tup(integer(6), P1, atom(""), atom("net_kernel")), GEN_CALL) +
    normal(tup(integer(20), P1, atom("net_kernel"), R1)) + TICK,
    "link_unlink": normal(tup(integer(1), P1, P2)) +
    normal(tup(integer(35), integer(2**40), P1, P2)) +
    normal(tup(integer(36), integer(2**40), P2, P1)),
    "send_family": normal(tup(integer(2), atom(""), P2), atom("hello")) +
    normal(tup(integer(22), P1, P2), tup(atom("ok"), integer(-5))) +
    normal(tup(integer(23), P1, P2, TOKEN), string(b"traced")),
    "exits": normal(tup(integer(3), P1, P2, atom("killed"))) +
    normal(tup(integer(8), P1, P2, tup(atom("shutdown"), atom("x")))) +
    normal(tup(integer(13), P1, P2, TOKEN, atom("normal"))) +
    normal(tup(integer(18), P1, P2, TOKEN, atom("kill"))),
    "payload_exits": normal(tup(integer(24), P1, P2), atom("normal")) +
    normal(tup(integer(26), P1, P2), tup(atom("badarg"), lst(atom("x")))) +
    normal(tup(integer(25), P1, P2, TOKEN), atom("noproc")) +
    normal(tup(integer(27), P1, P2, TOKEN), atom("noproc")),
    "monitor_exits": normal(tup(integer(21), P1, P2, R1, atom("normal"))) +
    normal(tup(integer(21), atom("reg"), P2, R1, atom("noproc"))) +
    normal(tup(integer(28), atom("reg"), P2, R1), atom("noproc")),
    "spawn": normal(tup(integer(29), R1, P1, P1, tup(atom("erlang"), atom("apply"), integer(2)),
                        lst(atom("link"))), lst(atom("m"), lst())) +
    normal(tup(integer(30), R1, P1, P1, tup(atom("m"), atom("f"), integer(0)), lst(), TOKEN),
           lst()) +
    normal(tup(integer(31), R1, P1, integer(2), atom("notsup"))),
    "alias_send": normal(tup(integer(33), P1, ALIAS), tup(lst(atom("alias"), tail=R1),
                                                          atom("yes"))) +
    normal(tup(integer(34), P1, ALIAS, TOKEN), atom("yes")),
    "group_leader_reg_send_tt": normal(tup(integer(7), P1, P2)) +
    normal(tup(integer(16), P1, atom(""), atom("rex"), TOKEN), atom("x")) +
    normal(tup(integer(12), atom(""), P2, TOKEN), atom("x")),
    "pass_through": pass_through(tup(integer(22), P1, P2), atom("old_style")),
    "one_fragment": frag_start(77, 1, tup(integer(22), P1, P2), atom("whole")),
}

# A big message in three fragments, interleaved with another sender's two and a tick.
_ctl = tup(integer(22), P1, P2)
_a, _b = BIG_MSG[:400], BIG_MSG[400:800]
_c = BIG_MSG[800:]
DISTMSG["fragments_interleaved"] = (
    frag_start(1, 3, _ctl, _a) + frag_start(2, 2, tup(integer(26), P2, P1), atom("par")[:2]) +
    TICK + frag_cont(1, 2, _b) + frag_cont(2, 1, atom("par")[2:]) + frag_cont(1, 1, _c))
DISTMSG["fragments_bad_order"] = frag_start(5, 3, _ctl, _a) + frag_cont(5, 1, _b)
DISTMSG["atom_cache_header"] = frame4(bytes([131, 68, 1, 0x08, 0, 5]) + b"hello" +
                                      bytes([104, 1, 82, 0]))
DISTMSG["garbage"] = frame4(bytes(range(40))) + frame4(b"\x83D\x00" + b"\xff" * 10)

# Deeply nested terms (a 10^6-deep list killed nodes through libei's recursive ei_skip_term):
# a '$gen_call' whose tag is a 1000-deep list, a SEND_SENDER of a 2000-deep tuple, a REG_SEND
# of a 400-deep map, an exit reason nested through improper-list tails. Under max_len (8192).


def nest(depth, wrap, core=b"\x6a"):
    t = core
    for _ in range(depth):
        t = wrap(t)
    return t


DISTMSG["deep_gen_call_tag"] = normal(
    tup(integer(6), P1, atom(""), atom("net_kernel")),
    tup(atom("$gen_call"), tup(P1, nest(1000, lambda t: lst(t))),
        tup(atom("is_auth"), atom("pinger@vm"))))
DISTMSG["deep_tuple_payload"] = normal(tup(integer(22), P1, P2), nest(2000, lambda t: tup(t)))
DISTMSG["deep_map_payload"] = normal(
    tup(integer(6), P1, atom(""), atom("echo")),
    nest(400, lambda t: bytes([116]) + struct.pack(">I", 1) + atom("k") + t))
DISTMSG["deep_improper_reason"] = normal(
    tup(integer(26), P1, P2), nest(1000, lambda t: lst(integer(1), tail=t)))


# --- dpdist's own messages (control/dpctl.c): terms without version byte ----------------


def ulong(v):
    """As libei's ei_x_encode_ulonglong: INTEGER_EXT only up to 2^27 - 1."""
    if v < 256:
        return bytes([97, v])
    if v < 2**27:
        return bytes([98]) + struct.pack(">i", v)
    mag = v.to_bytes((v.bit_length() + 7) // 8, "little")
    return bytes([110, len(mag), 0]) + mag


def offer(tag, session, mac, ip, port, mtu, window, hb_ns, missed):
    return tup(atom(tag), ulong(1), ulong(session), binary(mac), ulong(ip), ulong(port),
               ulong(mtu), ulong(window), ulong(hb_ns), ulong(missed))


def mesh_cells(*nodes):
    """{dpdist_mesh, [Node]} as runtime/core/mesh.c writes it: one list cell per node."""
    t = b"\x6a"
    for n in reversed(nodes):
        t = bytes([108]) + struct.pack(">I", 1) + atom(n) + t
    return tup(atom("dpdist_mesh"), t)


MAC = bytes([0x02, 0xdd, 0x63, 0, 0, 1])
DPCTL = {
    "req": offer("dpdist_upgrade_req", 0x0123456789abcdef, MAC, 0x0a630001, 4370, 1500, 256,
                 1000000, 100),
    "ack_limits": offer("dpdist_upgrade_ack", 1, bytes(range(0xfa, 0x100)), 0xffffffff, 65535,
                        9600, 8192, 2**27, 2**27 - 1),
    "nak": tup(atom("dpdist_upgrade_nak"), atom("bad_offer")),
    "switch": tup(atom("dpdist_switch")),
    "mesh": mesh_cells("a@h1", "bee@host.example"),
    "mesh_beam_list": tup(atom("dpdist_mesh"), lst(atom("a@h"), atom("b@h"))),
    "mesh_empty": tup(atom("dpdist_mesh"), b"\x6a"),
    "trailer": b"DPDIST\x01\x01",
    "extra": b"DPD1" + MAC + struct.pack(">IHB", 0x0a630001, 4370, 1),
}


def write(kind, seeds):
    d = os.path.join(HERE, "corpus", kind)
    os.makedirs(d, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


# --- hsframe: the acceptor exchanges as a TLS peer sends them (4-byte lengths) ---------------


def reframe4(stream):
    """2-byte-framed messages -> 4-byte-framed; a trailing partial message is kept as is."""
    out, off = b"", 0
    while len(stream) - off >= 2:
        n = struct.unpack(">H", stream[off:off + 2])[0]
        if len(stream) - off - 2 < n:
            break
        out += struct.pack(">I", n) + stream[off + 2:off + 2 + n]
        off += 2 + n
    return out + stream[off:]


HSFRAME = {name: reframe4(seed[1:]) for name, seed in HANDSHAKE.items()
           if seed[0] == ACC and name != "acc_oversize"}
HSFRAME["oversize_length"] = struct.pack(">I", 2049) + b"N" * 16
HSFRAME["max_length_partial"] = struct.pack(">I", 2048) + b"N" * 100

write("handshake", HANDSHAKE)
write("distmsg", DISTMSG)
write("dpctl", DPCTL)
write("hsframe", HSFRAME)
print(f"{len(HANDSHAKE)} handshake seeds, {len(DISTMSG)} distmsg seeds, "
      f"{len(DPCTL)} dpctl seeds, {len(HSFRAME)} hsframe seeds")
