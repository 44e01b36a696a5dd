#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_fauth.c (corpus/fauth/). Run from anywhere:
    python3 tests/fuzz/dataplane/gen_seeds.py
A record is ctl u8 | hdr u8 | pn u64 | len u16 | tag 16 | frame; ctl bit 0 = seal with the
target's test key first, bit 1 = flip one bit after sealing (frame byte (ctl >> 2) % len).
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
NONE, GMAC, GCM = 0, 1, 2
SEAL, FLIP = 1, 2


def rec(pn, payload=b"", ctl=SEAL, hdr=48, tag=bytes(16)):
    frame = bytes(range(hdr % 256))[:hdr] + payload
    return struct.pack(">BBQH", ctl, hdr, pn, len(frame)) + tag + frame


def stream(mode, *records):
    return bytes([mode]) + b"".join(records)


SEEDS = {
    "gmac_in_order": stream(GMAC, *[rec(pn, b"x" * 16) for pn in range(1, 9)]),
    "gcm_in_order": stream(GCM, *[rec(pn, bytes(range(64))) for pn in range(1, 6)]),
    "gmac_duplicate": stream(GMAC, rec(1), rec(2), rec(2), rec(1)),
    "gmac_jump_and_late": stream(GMAC, rec(1), rec(5000), rec(4100), rec(4040), rec(4041)),
    "gmac_flipped": stream(GMAC, rec(1, b"abc", SEAL | FLIP | (7 << 2)), rec(1, b"abc")),
    "gcm_forged_high_pn": stream(GCM, rec(1), rec(1 << 40, ctl=0), rec(2)),
    "gmac_tag_flip_empty": stream(GMAC, rec(3, hdr=0, ctl=SEAL | FLIP | (5 << 4))),
    "gcm_pn_range": stream(GCM, rec(0), rec(1 << 62), rec((1 << 62) + 1)),
    "none_replay": stream(NONE, rec(1), rec(1), rec(2000), rec(5)),
    "gcm_jumbo": stream(GCM, rec(1, bytes(2000)), rec(2, b"\xff" * 1400, hdr=20)),
}


def main():
    out = os.path.join(HERE, "corpus", "fauth")
    os.makedirs(out, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
