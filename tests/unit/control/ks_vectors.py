#!/usr/bin/env python3
"""The published key-schedule test vectors (docs/security.md), recomputed on a path that
shares no code with control/keysched.c: HKDF and HMAC from Python's hmac/hashlib, X25519 as
a plain Montgomery ladder written here (RFC 7748 §5), the handshake transcript built message
by message from the distribution protocol's layout. Both helpers are first checked against
RFC 5869 case 1 and RFC 7748 §6.1.

    ks_vectors.py DOC      compare the vector block of DOC (docs/security.md) with a fresh
                           computation; exit 1 on any difference (a meson test)
    ks_vectors.py --print  print the block (to paste into the doc when the schedule changes)

The C side (tests/unit/control/test_keysched.cc) checks the same figures with OpenSSL and
that a real pair of hs_ state machines produces exactly this transcript.
"""
import hashlib
import hmac
import re
import struct
import sys

# --- HKDF-SHA256 (RFC 5869) -----------------------------------------------------------------


def hkdf_extract(salt, ikm):
    return hmac.new(salt if salt else bytes(32), ikm, hashlib.sha256).digest()


def hkdf_expand(prk, info, length):
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


# --- X25519 (RFC 7748 §5) -------------------------------------------------------------------

P = 2**255 - 19
A24 = 121665


def x25519(scalar, u_bytes):
    k = bytearray(scalar)
    k[0] &= 248
    k[31] &= 127
    k[31] |= 64
    k = int.from_bytes(k, "little")
    u = int.from_bytes(u_bytes, "little") & ((1 << 255) - 1)
    x1, x2, z2, x3, z3, swap = u, 1, 0, u, 1, 0
    for t in reversed(range(255)):
        bit = (k >> t) & 1
        swap ^= bit
        if swap:
            x2, x3, z2, z3 = x3, x2, z3, z2
        swap = bit
        a, b = (x2 + z2) % P, (x2 - z2) % P
        aa, bb = a * a % P, b * b % P
        e = (aa - bb) % P
        c, d = (x3 + z3) % P, (x3 - z3) % P
        da, cb = d * a % P, c * b % P
        x3, z3 = (da + cb) ** 2 % P, x1 * (da - cb) ** 2 % P
        x2, z2 = aa * bb % P, e * (aa + A24 * e) % P
    if swap:
        x2, z2 = x3, z3
    return (x2 * pow(z2, P - 2, P) % P).to_bytes(32, "little")


BASE = (9).to_bytes(32, "little")


def self_check():
    ikm, salt, info = bytes([0x0B] * 22), bytes(range(13)), bytes(range(0xF0, 0xFA))
    prk = hkdf_extract(salt, ikm)
    assert prk.hex() == "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5"
    assert hkdf_expand(prk, info, 42).hex() == (
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")
    a, b = bytes.fromhex(ALICE_PRIV), bytes.fromhex(BOB_PRIV)
    assert x25519(a, BASE).hex() == "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
    assert x25519(b, BASE).hex() == "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"
    assert x25519(a, x25519(b, BASE)).hex() == (
        "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")


# --- the vector's inputs ----------------------------------------------------------------------

COOKIE = b"DPDISTTESTCOOKIE"
FLAGS = 0xD07DF7FBD  # what an OTP 25 node sends
NAME_I, NAME_A = b"a@vm", b"b@vm"
CREATION_I, CREATION_A = 0x11111111, 0x22222222
CHALLENGE_I, CHALLENGE_A = 0x0A0B0C0D, 0x01020304
ALICE_PRIV = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"  # RFC 7748 §6.1
BOB_PRIV = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"
EXPORTER = bytes(range(32))
FRAME_HDR, FRAME_PAYLOAD = bytes(range(0x00, 0x30)), bytes(range(0x30, 0x70))


def framed(body):
    return struct.pack(">H", len(body)) + body


def digest(challenge):
    return hashlib.md5(COOKIE + str(challenge).encode()).digest()


def trailer(kind, pub):
    # A stand-in for the v2 offer (issue 15 defines it): magic, version, kind, public key.
    return b"DPDIST" + bytes([2, kind]) + pub


def compute():
    priv_i, priv_a = bytes.fromhex(ALICE_PRIV), bytes.fromhex(BOB_PRIV)
    pub_i, pub_a = x25519(priv_i, BASE), x25519(priv_a, BASE)
    msgs = [
        framed(b"N" + struct.pack(">QIH", FLAGS, CREATION_I, len(NAME_I)) + NAME_I
               + trailer(1, pub_i)),
        framed(b"sok"),
        framed(b"N" + struct.pack(">QIIH", FLAGS, CHALLENGE_A, CREATION_A, len(NAME_A)) + NAME_A
               + trailer(2, pub_a)),
        framed(b"r" + struct.pack(">I", CHALLENGE_I) + digest(CHALLENGE_A)),
        framed(b"a" + digest(CHALLENGE_I)),
    ]
    transcript = b"".join(msgs)
    th = hashlib.sha256(transcript).digest()
    dh = x25519(priv_i, pub_a)
    assert dh == x25519(priv_a, pub_i)
    v = [("cookie", COOKIE.hex())]
    for i, m in enumerate(msgs, 1):
        v.append(("msg%d" % i, m.hex()))
    v += [("x25519_pub_i", pub_i.hex()), ("x25519_pub_a", pub_a.hex()), ("dh", dh.hex()),
          ("th", th.hex())]

    def schedule(ikm, prefix):
        prk = hkdf_extract(th, ikm)
        s = hkdf_extract(th, prk + dh)
        out = [(prefix + "prk", prk.hex()), (prefix + "s", s.hex())]
        secrets = {}
        for d in ("i>a", "a>i"):
            sec = hkdf_expand(s, b"dpdist v2 traffic " + d.encode(), 32)
            secrets[d] = sec
            out += [(prefix + "sec_" + d, sec.hex()),
                    (prefix + "key_" + d, hkdf_expand(sec, b"dpdist v2 key", 32).hex()),
                    (prefix + "iv_" + d, hkdf_expand(sec, b"dpdist v2 iv", 12).hex())]
        return out, s, secrets

    out, s, secrets = schedule(COOKIE, "")
    v += out
    for d in ("i>a", "a>i"):
        ck = hkdf_expand(secrets[d], b"dpdist v2 confirm", 32)
        v.append(("confirm_" + d, hmac.new(ck, th, hashlib.sha256).digest()[:16].hex()))
    csec = hkdf_expand(s, b"dpdist v2 channel", 32)
    v.append(("csec", csec.hex()))
    for d in ("i>a", "a>i"):
        sec = hkdf_expand(csec, b"dpdist v2 traffic " + d.encode(), 32)
        v += [("csec_" + d, sec.hex()),
              ("ckey_" + d, hkdf_expand(sec, b"dpdist v2 key", 32).hex()),
              ("civ_" + d, hkdf_expand(sec, b"dpdist v2 iv", 12).hex())]
    ku = hkdf_expand(secrets["i>a"], b"dpdist v2 ku", 32)
    v += [("ku1_sec_i>a", ku.hex()), ("ku1_key_i>a", hkdf_expand(ku, b"dpdist v2 key", 32).hex()),
          ("ku1_iv_i>a", hkdf_expand(ku, b"dpdist v2 iv", 12).hex())]
    v.append(("tls_exporter", EXPORTER.hex()))
    out, _, _ = schedule(EXPORTER + COOKIE, "tls_")
    v += out
    return v


BEGIN, END = "<!-- ks-vectors:begin -->", "<!-- ks-vectors:end -->"


def doc_block(path):
    text = open(path, encoding="utf-8").read()
    m = re.search(re.escape(BEGIN) + r"\s*```[a-z]*\n(.*?)```\s*" + re.escape(END), text, re.S)
    if not m:
        raise SystemExit("%s: no vector block between %s and %s" % (path, BEGIN, END))
    return [tuple(line.split()) for line in m.group(1).splitlines() if line.strip()]


def main():
    self_check()
    vectors = compute()
    if sys.argv[1:] == ["--print"]:
        for name, value in vectors:
            print("%-14s %s" % (name, value))
        return 0
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    published = doc_block(sys.argv[1])
    bad = 0
    for want, got in zip(vectors, published):
        if want != got:
            print("mismatch: computed %s %s, published %s" % (want[0], want[1], " ".join(got)))
            bad += 1
    if len(vectors) != len(published):
        print("computed %d lines, published %d" % (len(vectors), len(published)))
        bad += 1
    print("%d vectors checked against %s: %s" % (len(vectors), sys.argv[1],
                                                 "MISMATCH" if bad else "ok"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
