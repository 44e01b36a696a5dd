#!/usr/bin/env python3
"""Writes the golden vectors of the dpdist v2 handshake trailer (docs/agent.md §2) and the
seed corpus of its fuzz target, from this script's own encoder (a third, independent writing of
the layout: the C and the Erlang codecs must both agree with these bytes).

    tests/vectors/gen_dptrailer.py            # rewrites both; commit the result

Output: tests/vectors/dptrailer.txt and tests/fuzz/control/corpus/dptrailer/<name>.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "dptrailer.txt")
CORPUS = os.path.join(HERE, "..", "fuzz", "control", "corpus", "dptrailer")

KINDS = {"offer": 1, "answer": 2}
MODES = {"none": 0, "gmac": 1, "gcm": 2}
FIELD_ORDER = ["kind", "mode", "endpoint_id", "mac", "ipv4", "udp_port", "mtu", "hb_missed",
               "window_frames", "conn_rx_window", "hb_interval_ns", "rx_session", "conn_rx_id",
               "token", "x25519_pub", "ext"]


def ipv4_bytes(dotted):
    return bytes(int(x) for x in dotted.split("."))


def body(f):
    b = struct.pack(">Q", f["endpoint_id"]) + bytes.fromhex(f["mac"]) + ipv4_bytes(f["ipv4"])
    b += struct.pack(">HHHIIQQI", f["udp_port"], f["mtu"], f["hb_missed"], f["window_frames"],
                     f["conn_rx_window"], f["hb_interval_ns"], f["rx_session"], f["conn_rx_id"])
    b += bytes.fromhex(f["token"]) + bytes([f["mode_byte"]]) + bytes.fromhex(f["x25519_pub"])
    assert len(b) == 101, len(b)
    return b + bytes.fromhex(f["ext"])


def trailer(f, version=2, kind=None, body_len=None, extra=b""):
    bd = body(f)
    k = KINDS[f["kind"]] if kind is None else kind
    n = len(bd) if body_len is None else body_len
    return b"DPDIST" + bytes([version, k]) + struct.pack(">H", n) + bd + extra


BASE = {
    "kind": "offer", "mode": "gmac", "mode_byte": 1,
    "endpoint_id": 0x0123456789abcdef,
    "mac": "02005e100001", "ipv4": "10.0.0.1", "udp_port": 7400,
    "mtu": 1500, "hb_missed": 10, "window_frames": 4096, "conn_rx_window": 8 << 20,
    "hb_interval_ns": 1000000, "rx_session": 0x1122334455667788, "conn_rx_id": 1,
    "token": bytes(range(16)).hex(),
    "x25519_pub": bytes(range(0x20, 0x40)).hex(),
    "ext": "",
}


def v(**changes):
    f = dict(BASE)
    f.update(changes)
    if "mode" in changes and "mode_byte" not in changes:
        f["mode_byte"] = MODES[changes["mode"]]
    return f


def fields_text(f):
    out = []
    for k in FIELD_ORDER:
        out.append(f"{k}={f[k]}")
    return " ".join(out)


def main():
    ok = [
        ("offer_gmac", v()),
        ("answer_gcm_minimums", v(kind="answer", mode="gcm", mtu=576, hb_missed=2,
                                  window_frames=8, conn_rx_window=65536,
                                  hb_interval_ns=100000, endpoint_id=1, rx_session=1,
                                  conn_rx_id=1, mac="020000000001", ipv4="1.0.0.1",
                                  udp_port=1, token="00" * 16, x25519_pub="00" * 31 + "01")),
        ("offer_none_maximums", v(mode="none", mtu=9600, hb_missed=1000, window_frames=8192,
                                  conn_rx_window=0xffffffff, hb_interval_ns=10_000_000_000,
                                  endpoint_id=2**64 - 1, rx_session=2**64 - 1,
                                  conn_rx_id=2**32 - 1, mac="fefefefefefe",
                                  ipv4="223.255.255.255", udp_port=65535, token="ff" * 16,
                                  x25519_pub="ff" * 32)),
        ("offer_with_extension", v(ext="0102030405")),
        ("answer_longest_extension", v(kind="answer", ext="a5" * (256 - 101))),
    ]
    good = trailer(v())
    bad = [
        # (name, expect, bytes, version reported)
        ("empty", "none", b"", None),
        ("not_ours", "magic", b"XPDIST" + good[6:], None),
        ("two_bytes_not_ours", "magic", b"ab", None),
        ("magic_prefix_only", "short", b"DPD", None),
        ("magic_only", "short", b"DPDIST", None),
        ("header_cut", "short", b"DPDIST\x02\x01", None),
        ("v1_dpdist_0_1", "version", b"DPDIST\x01\x00", 1),
        ("v1_with_dataplane", "version", b"DPDIST\x01\x01", 1),
        ("v3_future", "version", trailer(v(), version=3), 3),
        ("version_0", "version", trailer(v(), version=0), 0),
        ("kind_0", "kind", trailer(v(), kind=0), None),
        ("kind_3", "kind", trailer(v(), kind=3), None),
        ("body_100", "length", trailer(v())[:-1][:8] + struct.pack(">H", 100)
         + trailer(v())[10:-1], None),
        ("length_field_too_big", "length", trailer(v(), body_len=102), None),
        ("length_field_too_small", "length", trailer(v(ext="00"), body_len=101), None),
        ("byte_after_body", "length", trailer(v(), extra=b"\x00"), None),
        ("body_257", "length", trailer(v(ext="00" * 156)), None),
        ("cut_in_body", "length", good[:60], None),
        ("cut_last_byte", "length", good[:-1], None),
        ("mode_3", "mode", trailer(v(mode_byte=3)), None),
        ("mode_255", "mode", trailer(v(mode_byte=255)), None),
        ("endpoint_id_0", "id", trailer(v(endpoint_id=0)), None),
        ("rx_session_0", "id", trailer(v(rx_session=0)), None),
        ("conn_rx_id_0", "id", trailer(v(conn_rx_id=0)), None),
        ("mac_multicast", "address", trailer(v(mac="01005e000001")), None),
        ("mac_zero", "address", trailer(v(mac="000000000000")), None),
        ("ipv4_0_net", "address", trailer(v(ipv4="0.1.2.3")), None),
        ("ipv4_multicast", "address", trailer(v(ipv4="224.0.0.1")), None),
        ("ipv4_broadcast", "address", trailer(v(ipv4="255.255.255.255")), None),
        ("udp_port_0", "address", trailer(v(udp_port=0)), None),
        ("mtu_575", "param", trailer(v(mtu=575)), None),
        ("mtu_9601", "param", trailer(v(mtu=9601)), None),
        ("window_7", "param", trailer(v(window_frames=7)), None),
        ("window_8193", "param", trailer(v(window_frames=8193)), None),
        ("hb_interval_too_short", "param", trailer(v(hb_interval_ns=99999)), None),
        ("hb_interval_too_long", "param", trailer(v(hb_interval_ns=10_000_000_001)), None),
        ("hb_missed_1", "param", trailer(v(hb_missed=1)), None),
        ("hb_missed_1001", "param", trailer(v(hb_missed=1001)), None),
        ("conn_rx_window_65535", "param", trailer(v(conn_rx_window=65535)), None),
        ("x25519_zero", "key", trailer(v(x25519_pub="00" * 32)), None),
    ]
    lines = [
        "# Golden vectors of the dpdist version-2 handshake trailer (docs/agent.md §2).",
        "# Written by tests/vectors/gen_dptrailer.py; read by tests/unit/control/test_dptrailer.cc",
        "# (control/dptrailer.c) and beam/test/dpdist_trailer_tests.erl (dpdist_trailer.erl).",
        "# One vector per line: NAME EXPECT HEX [FIELD=VALUE ...], parsed with either kind allowed.",
        "#   EXPECT  ok, or the result name of the refusal (dptrailer.h DPTRAILER_RESULTS)",
        "#   HEX     the trailer bytes, '-' for none",
        "#   fields  ok: every field (byte strings in hex, ipv4 dotted, integers in decimal);",
        "#           the encoder must give back exactly HEX from them.",
        "#           version: the version byte the refusal reports.",
    ]
    os.makedirs(CORPUS, exist_ok=True)
    for name, f in ok:
        b = trailer(f)
        lines.append(f"{name} ok {b.hex()} {fields_text(f)}")
        with open(os.path.join(CORPUS, name), "wb") as fh:
            fh.write(b)
    for name, expect, b, version in bad:
        line = f"{name} {expect} {b.hex() if b else '-'}"
        if version is not None:
            line += f" version={version}"
        lines.append(line)
        with open(os.path.join(CORPUS, name), "wb") as fh:
            fh.write(b)
    with open(OUT, "w") as fh:
        fh.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
