#!/usr/bin/env python3
"""Captures the distribution packets two real OTP nodes exchange, and writes them as the
golden vectors of agent/ag_classify.c (and its fuzz seeds), with the classification this
script computes on its own (a second, independent reading of DESIGN-15 §3.1).

    DPDIST_BUILD=build tests/vectors/capture_dist.py        # rewrites both; commit the result

Starts: a fake EPMD (in this script) on a free port, a TCP relay (in this script) between
the two nodes, and two real `erl` nodes with build/beam/dpdist.args (so the atom cache is
rejected, as with an agent) running tests/vectors/capture_peer.erl. A looks B up in the fake
EPMD, which answers with the relay's port; the relay forwards both ways, follows the
handshake ({packet,2}) and records every packet of the connected phase ({packet,4}) per
connection and direction. Everything stops by itself within a minute.

Output: tests/vectors/ag_classify.txt, one packet per line (format in its header), and
tests/fuzz/agent/corpus/ag_classify/<n> (one packet each, without its length).
"""
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, "..", ".."))
OUT = os.path.join(HERE, "ag_classify.txt")
CORPUS = os.path.join(SRC, "tests", "fuzz", "agent", "corpus", "ag_classify")
# Packets longer than this are stored cut to it (with their real length): a fragment's
# payload is 64 KiB of message bytes that the classification never reads.
KEEP_BYTES = 256
COOKIE = "capturecookie"

# --- external term format: just enough to walk a control tuple ------------------------------


def skip_node(b, o):
    t = b[o]
    if t in (100, 118):
        return o + 3 + struct.unpack(">H", b[o + 1:o + 3])[0]
    if t in (115, 119):
        return o + 2 + b[o + 1]
    raise ValueError("node is not an atom")


def skip(b, o):
    """Offset just after the term at b[o] (its tag). Raises on anything malformed."""
    if o >= len(b):
        raise ValueError("truncated")
    t = b[o]
    o += 1
    if t == 97:
        n = o + 1
    elif t == 98:
        n = o + 4
    elif t == 70:
        n = o + 8
    elif t == 99:
        n = o + 31
    elif t in (100, 118, 107):
        n = o + 2 + struct.unpack(">H", b[o:o + 2])[0]
    elif t in (115, 119):
        n = o + 1 + b[o]
    elif t == 104:
        n = o + 1
        for _ in range(b[o]):
            n = skip(b, n)
    elif t == 105:
        n = o + 4
        for _ in range(struct.unpack(">I", b[o:o + 4])[0]):
            n = skip(b, n)
    elif t == 106:
        n = o
    elif t == 108:
        n = o + 4
        for _ in range(struct.unpack(">I", b[o:o + 4])[0]):
            n = skip(b, n)
        n = skip(b, n)
    elif t == 109:
        n = o + 4 + struct.unpack(">I", b[o:o + 4])[0]
    elif t == 77:
        n = o + 5 + struct.unpack(">I", b[o:o + 4])[0]
    elif t == 110:
        n = o + 2 + b[o]
    elif t == 111:
        n = o + 5 + struct.unpack(">I", b[o:o + 4])[0]
    elif t == 88:
        n = skip_node(b, o) + 12
    elif t == 103:
        n = skip_node(b, o) + 9
    elif t == 89:
        n = skip_node(b, o) + 8
    elif t == 120:
        n = skip_node(b, o) + 12
    elif t == 102:
        n = skip_node(b, o) + 5
    elif t == 90:
        words = struct.unpack(">H", b[o:o + 2])[0]
        n = skip_node(b, o + 2) + 4 + 4 * words
    elif t == 114:
        words = struct.unpack(">H", b[o:o + 2])[0]
        n = skip_node(b, o + 2) + 1 + 4 * words
    elif t == 116:
        n = o + 4
        for _ in range(2 * struct.unpack(">I", b[o:o + 4])[0]):
            n = skip(b, n)
    elif t == 112:
        n = o + struct.unpack(">I", b[o:o + 4])[0]
    elif t == 113:
        n = skip(b, skip(b, skip(b, o)))
    else:
        raise ValueError("tag %d" % t)
    if n > len(b):
        raise ValueError("truncated")
    return n


# The sender element of each op (DESIGN-15 §3.1); 1: none (a barrier).
SENDER = {1: 2, 2: 1, 3: 2, 4: 2, 6: 2, 7: 2, 8: 2, 12: 1, 13: 2, 16: 2, 18: 2, 19: 2, 20: 2,
          21: 2, 22: 2, 23: 2, 24: 2, 25: 2, 26: 2, 27: 2, 28: 2, 29: 3, 30: 3, 31: 5, 32: 5,
          33: 2, 34: 2, 35: 3, 36: 3}
PIDS_PORTS = (88, 103, 89, 102, 120)
ATOMS = (100, 115, 118, 119)


def control_sender(b, o):
    """(op, sender bytes or 'barrier:REASON') of the control tuple at b[o]."""
    try:
        if b[o] == 104:
            arity, o = b[o + 1], o + 2
        elif b[o] == 105:
            arity, o = struct.unpack(">I", b[o + 1:o + 5])[0], o + 5
        else:
            return -1, "barrier:control"
        if arity < 1 or b[o] != 97:
            return -1, "barrier:control"
        op = b[o + 1]
        want = SENDER.get(op)
        if want is None:
            return op, "barrier:unknown_op"
        if want == 1:
            return op, "barrier:no_sender"
        if arity < want:
            return op, "barrier:control"
        for _ in range(want - 1):
            o = skip(b, o)
        end = skip(b, o)
    except (ValueError, IndexError, struct.error):
        return -1, "barrier:control"
    if b[o] in PIDS_PORTS:
        return op, b[o:end].hex()
    if b[o] in ATOMS:
        return op, "barrier:named"
    return op, "barrier:not_pid"


def classify(pkt, seqs):
    """kind op lane sender for one packet; seqs: this direction's SeqId -> sender."""
    if not pkt:
        return "tick", "-", "pulse", "-"
    if pkt[0] == 112:
        op, sender = control_sender(pkt, 2)
        return "whole", str(op), "express", sender
    if pkt[0] != 131 or len(pkt) < 3:
        raise ValueError("not a distribution packet: %s" % pkt[:8].hex())
    if pkt[1] == ord("D"):
        assert pkt[2] == 0, "atom cache references"
        op, sender = control_sender(pkt, 3)
        return "whole", str(op), "express", sender
    seq, frag = struct.unpack(">QQ", pkt[2:18])
    if pkt[1] == ord("E"):
        assert pkt[18] == 0, "atom cache references"
        op, sender = control_sender(pkt, 19)
        if frag > 1:
            seqs[seq] = sender
        return "first", str(op), "normal", sender
    if pkt[1] == ord("F"):
        sender = seqs[seq]
        if frag == 1:
            del seqs[seq]
        if sender.startswith("barrier:"):
            sender = "barrier:fragment"
        return "cont", "-", "normal", sender
    raise ValueError("unknown header %d" % pkt[1])


# --- the fake EPMD and the relay -------------------------------------------------------------


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        chunk = s.recv(n - len(b))
        if not chunk:
            raise EOFError
        b += chunk
    return b


class Capture:
    def __init__(self):
        self.lock = threading.Lock()
        self.registered = {}  # name -> port
        self.packets = []  # (conn, direction, bytes)
        self.conns = 0
        self.target = None  # the name whose lookups go to the relay
        self.epmd = self.listener(self.epmd_conn)
        self.relay = self.listener(self.relay_conn)

    def listener(self, handler):
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", 0))
        ls.listen(16)
        ls.settimeout(1.0)

        def loop():
            while not self.done:
                try:
                    c, _ = ls.accept()
                except socket.timeout:
                    continue
                threading.Thread(target=handler, args=(c,), daemon=True).start()
        threading.Thread(target=loop, daemon=True).start()
        return ls.getsockname()[1]

    done = False

    def epmd_conn(self, c):
        try:
            n = struct.unpack(">H", recv_exact(c, 2))[0]
            req = recv_exact(c, n)
            if req[0] == ord("x"):
                port, _ntype, _proto, high, _low, nlen = struct.unpack(">HBBHHH", req[1:11])
                name = req[11:11 + nlen].decode()
                with self.lock:
                    self.registered[name] = port
                c.sendall(b"v\0" + struct.pack(">I", 1) if high >= 6 else b"y\0\0\1")
                while c.recv(64):
                    pass
                with self.lock:
                    self.registered.pop(name, None)
            elif req[0] == ord("z"):
                name = req[1:].decode()
                with self.lock:
                    port = self.relay if name == self.target else self.registered.get(name)
                if port is None:
                    c.sendall(b"w\1")
                else:
                    nb = name.encode()
                    c.sendall(b"w\0" + struct.pack(">HBBHHH", port, 77, 0, 6, 5, len(nb)) + nb +
                              b"\0\0")
        except (EOFError, OSError):
            pass
        finally:
            c.close()

    def relay_conn(self, c):
        with self.lock:
            port = self.registered.get(self.target)
            self.conns += 1
            conn = self.conns
        s = socket.create_connection(("127.0.0.1", port))
        # initiator -> acceptor: 'N' then 'r'; acceptor -> initiator: 's', 'N', 'a'
        for src, dst, d, last in ((c, s, "a>b", ord("r")), (s, c, "b>a", ord("a"))):
            threading.Thread(target=self.pump, args=(src, dst, conn, d, last), daemon=True).start()

    def pump(self, src, dst, conn, direction, last_hs):
        buf, handshake = b"", True
        try:
            while True:
                chunk = src.recv(1 << 16)
                if not chunk:
                    break
                dst.sendall(chunk)
                buf += chunk
                while True:
                    hlen = 2 if handshake else 4
                    if len(buf) < hlen:
                        break
                    n = int.from_bytes(buf[:hlen], "big")
                    if len(buf) < hlen + n:
                        break
                    msg, buf = buf[hlen:hlen + n], buf[hlen + n:]
                    if handshake:
                        handshake = not (msg and msg[0] == last_hs)
                    else:
                        with self.lock:
                            self.packets.append((conn, direction, msg))
        except OSError:
            pass
        finally:
            for x in (src, dst):
                try:
                    x.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def erl(build, ebin, name, epmd_port, expr):
    env = dict(os.environ, ERL_EPMD_PORT=str(epmd_port))
    return subprocess.Popen(
        ["erl", "-args_file", os.path.join(build, "beam", "dpdist.args"), "-sname", name,
         "-setcookie", COOKIE, "-start_epmd", "false", "-noshell", "-noinput",
         "-kernel", "net_ticktime", "4", "-kernel", "connect_all", "false", "-pa", ebin,
         "-eval", expr], env=env)


def main():
    build = os.environ.get("DPDIST_BUILD", os.path.join(SRC, "build"))
    tmp = tempfile.mkdtemp(prefix="dpdist-capture.")
    subprocess.run(["erlc", "-o", tmp, os.path.join(HERE, "capture_peer.erl")], check=True)
    host = socket.gethostname().split(".")[0]
    tag = "%05d" % (os.getpid() % 100000)
    cap = Capture()
    cap.target = "capb" + tag
    b = erl(build, tmp, cap.target, cap.epmd, "capture_peer:serve().")
    for _ in range(200):
        with cap.lock:
            if cap.target in cap.registered:
                break
        time.sleep(0.05)
    a = erl(build, tmp, "capa" + tag, cap.epmd,
            "capture_peer:run('%s@%s')." % (cap.target, host))
    rc = 1
    try:
        rc = a.wait(timeout=60)
        b.wait(timeout=15)
    except subprocess.TimeoutExpired:
        pass
    for p in (a, b):
        if p.poll() is None:
            p.kill()
            p.wait()
    cap.done = True
    time.sleep(0.3)
    if rc != 0:
        sys.exit("capture: node A exited %s" % rc)
    write(cap.packets)


def write(packets):
    lines, seqs, seen = [], {}, {}
    for conn, d, pkt in packets:
        kind, op, lane, sender = classify(pkt, seqs.setdefault((conn, d), {}))
        key = (kind, op, sender if sender.startswith("barrier") or sender == "-" else "pid")
        seen[key] = seen.get(key, 0) + 1
        keep = pkt[:KEEP_BYTES]
        lines.append("%d %s %s %s %s %s %d %s" % (conn, d, kind, op, lane, sender, len(pkt),
                                                   keep.hex() or "-"))
    with open(OUT, "w") as f:
        f.write("# Distribution packets of two real OTP %s nodes (dpdist.args: no atom cache),\n"
                % subprocess.run(["erl", "-noshell", "-eval",
                                  "io:format(\"~s\", [erlang:system_info(otp_release)]), "
                                  "halt()."], capture_output=True, text=True).stdout)
        f.write("# captured by tests/vectors/capture_dist.py (which also classified them) and\n"
                "# read by tests/unit/agent/test_ag_classify.cc. One packet per line, in the\n"
                "# order each direction of each connection carried them:\n"
                "#   conn dir kind op lane sender length hex\n"
                "# conn: connection number; dir: a>b (initiator to acceptor) or b>a; kind: tick,\n"
                "# whole, first ('E'), cont ('F'); op: the control op or -; lane: pulse,\n"
                "# express, normal; sender: the hex of the sender term (the flow key's input),\n"
                "# barrier:REASON, or - (tick); length: the packet's real length; hex: its\n"
                "# first %d bytes (- for a tick): what follows is message payload.\n"
                % KEEP_BYTES)
        for line in lines:
            f.write(line + "\n")
    os.makedirs(CORPUS, exist_ok=True)
    for name in os.listdir(CORPUS):
        os.unlink(os.path.join(CORPUS, name))
    for i, (_, _, pkt) in enumerate(packets):
        if len(pkt) <= 4096:
            with open(os.path.join(CORPUS, "pkt%04d" % i), "wb") as f:
                f.write(pkt)
    print("capture: %d packets, %d connections" % (len(packets), len({p[0] for p in packets})))
    for key in sorted(seen, key=str):
        print("  %-6s op %-3s %-20s %d" % (key[0], key[1], key[2], seen[key]))


if __name__ == "__main__":
    main()
