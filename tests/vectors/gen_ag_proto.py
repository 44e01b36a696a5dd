#!/usr/bin/env python3
"""Writes the golden vectors of the VM <-> agent protocol (docs/agent.md §6) and the seed
corpus of its fuzz target, from this script's own encoder (a third writing of the layouts:
agent/ag_proto.c and beam/src/dpdist_agent.erl must both agree with these bytes).

    tests/vectors/gen_ag_proto.py            # rewrites both; commit the result

Output: tests/vectors/ag_proto.txt and tests/fuzz/agent/corpus/ag_proto/<name>.
Lines: `ok NAME HEX` (a message both codecs decode and encode back to HEX) and
`bad RESULT NAME HEX` (refused with RESULT: length, field, type, too_long).
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "ag_proto.txt")
CORPUS = os.path.join(HERE, "..", "fuzz", "agent", "corpus", "ag_proto")

# a v2 offer (the codec carries trailers as bytes; the agent parses them)
TRAILER = bytes.fromhex(
    "44504449535402010065"
    "0102030405060708" "020000000001" "0a000001" "1112" "05dc" "000a" "00000400"
    "00800000" "0000000000989680" "1122334455667788" "00000007"
    "000102030405060708090a0b0c0d0e0f" "01"
    "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
assert len(TRAILER) == 111
PUB = bytes(range(32, 64))


def msg(t, body):
    b = bytes([t]) + body
    return struct.pack(">H", len(b)) + b


def register(name=b"a@host", version=1, reserved=0, pid=4242):
    return msg(1, struct.pack(">BBIH", version, reserved, pid, len(name)) + name)


def welcome(mode=1):
    return msg(2, struct.pack(">BBIQIII", 1, mode, 3, 0x0102030405060708, 65536, 10, 1000))


def offer_out(extra=b"DPA1\x02", name=b"b@host"):
    return msg(3, struct.pack(">I", 7) + PUB + bytes([len(extra)]) + extra +
               struct.pack(">H", len(name)) + name)


def offer(t=4, status=0, trailer=TRAILER):
    return msg(t, struct.pack(">IHH", 7, status, len(trailer)) + trailer)


def offer_in(trailer=TRAILER):
    return msg(5, struct.pack(">I", 9) + PUB + struct.pack(">H", len(trailer)) + trailer)


def attach(role=1, trailer=TRAILER):
    keys = bytes(range(16)) + bytes(range(100, 132)) + bytes(range(1, 13)) + \
        bytes(range(140, 172)) + bytes(range(13, 25)) + bytes(range(180, 212)) + \
        bytes(range(212, 228)) + bytes(range(228, 244))
    return msg(7, bytes([role]) + keys + struct.pack(">H", len(trailer)) + trailer)


def refused(t=9, reason=1, text=b"uid 65534 is not in allow_uids"):
    return msg(t, struct.pack(">IHH", 0, reason, len(text)) + text)


def stats_reply(status=0):
    return msg(13, struct.pack(">IHQHII", 11, status, 0x0102030405060708, 1500, 25, 10000) +
               b"".join(struct.pack(">Q", 1000 + i) for i in range(16)))


VECTORS = [
    ("ok", "register", register()),
    ("ok", "register_version_9", register(version=9)),
    ("ok", "welcome", welcome()),
    ("ok", "welcome_gcm", welcome(mode=2)),
    ("ok", "offer_out", offer_out()),
    ("ok", "offer_out_no_extra", offer_out(extra=b"")),
    ("ok", "offer", offer()),
    ("ok", "offer_refused", offer(status=6, trailer=b"")),
    ("ok", "offer_in", offer_in()),
    ("ok", "answer", offer(t=6)),
    ("ok", "attach", attach()),
    ("ok", "attach_acceptor", attach(role=2)),
    ("ok", "attached", msg(8, struct.pack(">I", 0x00020001))),
    ("ok", "refused", refused()),
    ("ok", "refused_no_text", refused(reason=3, text=b"")),
    ("ok", "probe", msg(10, struct.pack(">I", 17))),
    ("ok", "probe_ack", msg(11, struct.pack(">I", 17))),
    ("ok", "stats", msg(12, struct.pack(">II", 11, 0x00020001))),
    ("ok", "stats_reply", stats_reply()),
    ("ok", "stats_reply_unknown", stats_reply(status=15)),
    ("ok", "conn_down", refused(t=14, reason=13, text=b"probe")),
    ("bad length", "register_short", msg(1, register()[3:-1])),
    ("bad length", "register_long", msg(1, register()[3:] + b"x")),
    ("bad field", "register_reserved", register(reserved=1)),
    ("bad field", "register_no_name", register(name=b"")),
    ("bad field", "register_name_1024", register(name=b"n" * 1024)),
    ("bad field", "welcome_mode_3", welcome(mode=3)),
    ("bad field", "offer_status_with_trailer", offer(status=6)),
    ("bad field", "offer_ok_without_trailer", offer(trailer=b"")),
    ("bad field", "offer_status_99", offer(status=99, trailer=b"")),
    ("bad field", "offer_in_267", offer_in(trailer=b"x" * 267)),
    ("bad field", "attach_role_3", attach(role=3)),
    ("bad field", "attach_no_trailer", attach(trailer=b"")),
    ("bad field", "attached_0", msg(8, struct.pack(">I", 0))),
    ("bad field", "refused_reason_0", refused(reason=0)),
    ("bad field", "refused_text_1025", refused(text=b"t" * 1025)),
    ("bad length", "attach_cut", msg(7, attach()[3:-5])),
    ("bad length", "probe_5", msg(10, b"\0\0\0\1\2")),
    ("bad length", "stats_reply_short", msg(13, stats_reply()[3:-8])),
    ("bad type", "type_0", msg(0, b"")),
    ("bad type", "type_15", msg(15, b"\0\0\0\0")),
    ("bad type", "empty", struct.pack(">H", 0)),
    ("bad too_long", "too_long", struct.pack(">H", 2049) + b"\x0a" * 2049),
]


def main():
    with open(OUT, "w") as f:
        f.write("# VM <-> agent protocol (docs/agent.md §6): golden messages, written by\n"
                "# tests/vectors/gen_ag_proto.py; read by tests/unit/agent/test_ag_proto.cc and\n"
                "# beam/test/dpdist_agent_tests.erl. `ok NAME HEX`: decodes and encodes back\n"
                "# to HEX; `bad RESULT NAME HEX`: refused (RESULT: length, field, type,\n"
                "# too_long). HEX is the whole message, its 2-byte length included.\n")
        for kind, name, b in VECTORS:
            f.write("%s %s %s\n" % (kind, name, b.hex()))
    os.makedirs(CORPUS, exist_ok=True)
    for old in os.listdir(CORPUS):
        os.unlink(os.path.join(CORPUS, old))
    for kind, name, b in VECTORS:
        with open(os.path.join(CORPUS, name), "wb") as f:
            f.write(b)


if __name__ == "__main__":
    main()
