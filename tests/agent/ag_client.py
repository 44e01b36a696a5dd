#!/usr/bin/env python3
"""A VM's side of the agent protocol (docs/agent.md §6) for tests/agent/agent_daemon.sh: talks to
a running dpdist-agent over its Unix socket and prints `PASS what` / `FAIL what` lines, which
the shell test turns into TAP. Messages are built by tests/vectors/gen_ag_proto.py's encoders
and the hostile input comes from its `bad` vectors (tests/vectors/ag_proto.txt).

    ag_client.py SOCKET protocol | many N | limit N | garbage | silent MS | denied | hold FILE
    ag_client.py SOCKET offers MAC IPV4 PORT MAX_CONNS TTL_MS | offers-without-port
"""
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "vectors"))
import gen_ag_proto as ag  # noqa: E402

VECTORS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "vectors",
                       "ag_proto.txt")
REPLY_S = 3.0
FAILS = 0


def check(ok, what):
    global FAILS
    print(("PASS " if ok else "FAIL ") + what, flush=True)
    if not ok:
        FAILS += 1


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(REPLY_S)
    s.connect(path)
    return s


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        part = s.recv(n - len(b))
        if not part:
            return None
        b += part
    return b


def recv_msg(s, answer_probes=True):
    """The next message other than a PROBE (answered): (type, fields), or None at EOF."""
    while True:
        try:
            head = recv_exact(s, 2)
        except (socket.timeout, ConnectionResetError):
            return None
        if head is None:
            return None
        body = recv_exact(s, struct.unpack(">H", head)[0])
        if body is None:
            return None
        if body[0] == 10 and answer_probes:  # PROBE: the agent's liveness check of this VM
            s.sendall(ag.msg(11, body[1:5]))
            continue
        return body[0], body[1:]


def idle(s, seconds):
    """Waits, answering the agent's probes (a VM that does not is closed)."""
    end = time.time() + seconds
    while time.time() < end:
        s.settimeout(max(0.01, end - time.time()))
        try:
            head = recv_exact(s, 2)
        except socket.timeout:
            continue
        if head is None:
            return
        body = recv_exact(s, struct.unpack(">H", head)[0])
        if body and body[0] == 10:
            s.sendall(ag.msg(11, body[1:5]))
    s.settimeout(REPLY_S)


def closed_without_reply(s, wait=REPLY_S):
    """True when the agent closes s within wait, having written nothing but PROBEs."""
    s.settimeout(wait)
    try:
        while True:
            m = recv_msg(s)
            if m is None:
                return True
            return False
    except OSError:
        return True


def register(path, name):
    s = connect(path)
    s.sendall(ag.register(name=name.encode(), pid=os.getpid()))
    return s, recv_msg(s)


def welcome_fields(m):
    version, mode, vm_id, endpoint, max_conns, pi, pt = struct.unpack(">BBIQIII", m[1])
    return {"version": version, "mode": mode, "vm_id": vm_id, "endpoint": endpoint,
            "max_conns": max_conns, "probe_interval": pi, "probe_timeout": pt}


def protocol(path):
    s, m = register(path, "proto@host")
    check(m is not None and m[0] == 2, "REGISTER is answered with WELCOME")
    if m is None or m[0] != 2:
        return
    w = welcome_fields(m)
    check(w["version"] == 1 and w["vm_id"] != 0 and w["endpoint"] != 0,
          "WELCOME: version 1, a vm_id, an endpoint id (%r)" % w)
    s.sendall(ag.msg(10, struct.pack(">I", 77)))
    m = recv_msg(s)
    check(m == (11, struct.pack(">I", 77)), "PROBE 77 is answered with PROBE_ACK 77")
    s.sendall(ag.msg(12, struct.pack(">II", 5, 1)))
    m = recv_msg(s)
    check(m is not None and m[0] == 13 and struct.unpack(">IH", m[1][:6]) == (5, 15),
          "STATS of a connection it does not own: STATS_REPLY unknown_conn")
    d = connect(path)
    d.sendall(ag.attach())
    m = recv_msg(d, answer_probes=False)
    check(m is not None and m[0] == 9 and struct.unpack(">IH", m[1][:6]) == (0, 4),
          "ATTACH naming no pending offer: REFUSED unknown_token")
    check(closed_without_reply(d), "... and that data socket is closed")
    s2, m = register(path, "twice@host")
    check(m is not None and m[0] == 9 and struct.unpack(">IH", m[1][:6]) == (0, 3),
          "a second link of the same pid: REFUSED limit")
    s.sendall(ag.register(pid=os.getpid()))
    check(closed_without_reply(s), "REGISTER on a link that has registered: the link closes")
    d = connect(path)
    d.sendall(ag.attach())
    m = recv_msg(d, answer_probes=False)
    check(m is not None and m[0] == 9 and struct.unpack(">IH", m[1][:6]) == (0, 7),
          "ATTACH from a pid without a live link: REFUSED no_link")
    s3 = connect(path)
    s3.sendall(ag.register(version=2, pid=os.getpid()))
    m = recv_msg(s3)
    check(m is not None and m[0] == 9 and struct.unpack(">IH", m[1][:6]) == (0, 2),
          "REGISTER of protocol version 2: REFUSED version")


TRAILER_FIELDS = ("endpoint_id", "mac", "ipv4", "udp_port", "mtu", "hb_missed", "window_frames",
                  "conn_rx_window", "hb_interval_ns", "rx_session", "conn_rx_id", "token",
                  "mode", "x25519_pub")


def trailer_fields(t):
    """A v2 trailer's header and fields (docs/agent.md §2), or None if it is not one."""
    if len(t) < 10:
        return None
    magic, version, kind, body_len = struct.unpack(">6sBBH", t[:10])
    if magic != b"DPDIST" or body_len != len(t) - 10 or body_len < 101:
        return None
    f = dict(zip(TRAILER_FIELDS, struct.unpack(">Q6s4sHHHIIQQI16sB32s", t[10:111])))
    f.update(version=version, kind=kind)
    return f


def offer_reply(m):
    req, status, n = struct.unpack(">IHH", m[1][:8])
    return req, status, m[1][8:8 + n]


def offers(path, mac, ipv4, port, max_conns, ttl_ms):
    """An agent with a port issues v2 trailers for its VM's handshakes."""
    s, m = register(path, "offers@host")
    w = welcome_fields(m)
    pub = bytes(range(32, 64))
    s.sendall(ag.offer_out())
    m = recv_msg(s)
    req, status, t = offer_reply(m)
    f = trailer_fields(t)
    check(m[0] == 4 and req == 7 and status == 0 and f is not None,
          "OFFER_OUT: OFFER req 7, status ok, a v2 trailer (%d bytes)" % len(t))
    if f is None:
        return
    check(f["version"] == 2 and f["kind"] == 1, "... version 2, kind offer")
    check(f["endpoint_id"] == w["endpoint"], "... the endpoint id of WELCOME")
    check(f["mac"].hex(":") == mac and socket.inet_ntoa(f["ipv4"]) == ipv4 and
          f["udp_port"] == port,
          "... the agent's port: %s %s:%d" % (f["mac"].hex(":"), socket.inet_ntoa(f["ipv4"]),
                                              f["udp_port"]))
    check(f["x25519_pub"] == pub, "... the VM's X25519 key")
    check(f["rx_session"] != 0 and f["conn_rx_id"] != 0 and f["mtu"] >= 576,
          "... a receive session, a connection id, an MTU (%d)" % f["mtu"])
    s.sendall(ag.offer_out())
    f2 = trailer_fields(offer_reply(recv_msg(s))[2])
    check(f2 is not None and f2["token"] != f["token"] and f2["conn_rx_id"] != f["conn_rx_id"],
          "a second offer has its own token and connection id")
    s.sendall(ag.offer_in(trailer=t))
    m = recv_msg(s)
    req, status, a = offer_reply(m)
    fa = trailer_fields(a)
    check(m[0] == 6 and req == 9 and status == 0 and fa is not None and fa["kind"] == 2,
          "OFFER_IN with a v2 offer: ANSWER req 9, status ok, kind answer")
    bad = bytearray(t)
    bad[0] ^= 0xff
    s.sendall(ag.offer_in(trailer=bytes(bad)))
    check(offer_reply(recv_msg(s))[1:] == (9, b""),
          "OFFER_IN with a broken offer: ANSWER status bad_trailer, no trailer")
    s.sendall(ag.msg(3, struct.pack(">I", 8) + bytes(32) + b"\0" + struct.pack(">H", 1) + b"b"))
    check(offer_reply(recv_msg(s))[:2] == (8, 5),
          "OFFER_OUT with an all-zero key: status bad_message")
    # pending: f, f2, fa (3); fill up to max_conns, then one more is refused
    for _ in range(max_conns - 3):
        s.sendall(ag.offer_out())
        recv_msg(s)
    s.sendall(ag.offer_out())
    check(offer_reply(recv_msg(s))[1:] == (3, b""),
          "offer %d with max_conns %d pending: status limit" % (max_conns + 1, max_conns))
    d = connect(path)
    d.sendall(ag.attach(trailer=t)[:4] + f["token"] + ag.attach(trailer=t)[20:])
    m = recv_msg(d, answer_probes=False)
    check(m is not None and m[0] == 9 and struct.unpack(">IH", m[1][:6]) == (0, 6) and
          b"does not carry" in m[1],
          "ATTACH naming an issued offer: REFUSED unreachable, saying the channel is not built")
    d = connect(path)
    d.sendall(ag.attach(trailer=t)[:4] + f["token"] + ag.attach(trailer=t)[20:])
    m = recv_msg(d, answer_probes=False)
    check(m is not None and m[0] == 9 and struct.unpack(">IH", m[1][:6]) == (0, 4),
          "the same token again: unknown_token (an offer binds once)")
    idle(s, ttl_ms / 1000.0 + 0.5)
    s.sendall(ag.offer_out())
    m = recv_msg(s)
    check(m is not None and offer_reply(m)[1] == 0,
          "after attach_timeout_ms the pending offers expired: a new one is issued")


def offers_without_port(path):
    s, m = register(path, "noport@host")
    s.sendall(ag.offer_out())
    m = recv_msg(s)
    check(m is not None and m[0] == 4 and struct.unpack(">IHH", m[1]) == (7, 6, 0),
          "no port: OFFER_OUT gets OFFER status unreachable, no trailer")
    s.sendall(ag.offer_in())
    m = recv_msg(s)
    check(m is not None and m[0] == 6 and struct.unpack(">IHH", m[1]) == (9, 6, 0),
          "no port: OFFER_IN gets ANSWER status unreachable")


def hold_link(path, name, out_fd, hold_s):
    s, m = register(path, name)
    vm = welcome_fields(m)["vm_id"] if m and m[0] == 2 else 0
    os.write(out_fd, struct.pack(">I", vm))
    end = time.time() + hold_s
    s.settimeout(0.05)
    alive = True
    while time.time() < end and alive:
        try:
            head = recv_exact(s, 2)
            if head is None:
                alive = False
                break
            body = recv_exact(s, struct.unpack(">H", head)[0])
            if body and body[0] == 10:
                s.sendall(ag.msg(11, body[1:5]))
        except socket.timeout:
            pass
    os.write(out_fd, b"A" if alive else b"D")
    os._exit(0)


def many(path, n, hold_s=2.0):
    """n VMs (n processes: one link per pid) register at once and keep answering probes."""
    r, w = os.pipe()
    kids = []
    for i in range(n):
        pid = os.fork()
        if pid == 0:
            os.close(r)
            hold_link(path, "vm%d@host" % i, w, hold_s)
        kids.append(pid)
    os.close(w)
    data = b""
    while True:
        part = os.read(r, 4096)
        if not part:
            break
        data += part
    for pid in kids:
        os.waitpid(pid, 0)
    ids = []
    alive = 0
    i = 0
    while i < len(data):  # each child writes its id (4 bytes), later one status byte
        if data[i:i + 1] in (b"A", b"D"):
            alive += data[i:i + 1] == b"A"
            i += 1
        else:
            ids.append(struct.unpack(">I", data[i:i + 4])[0])
            i += 4
    return ids, alive


def garbage(path):
    bad = [line.split() for line in open(VECTORS) if line.startswith("bad ")]
    closed = 0
    for _, result, name, hexmsg in bad:
        s = connect(path)
        s.sendall(bytes.fromhex(hexmsg))
        if closed_without_reply(s):
            closed += 1
        else:
            check(False, "bad vector %s (%s) closes the socket without a reply" % (name, result))
        s.close()
    check(closed == len(bad) and len(bad) > 10,
          "every bad vector of ag_proto.txt (%d) closes its socket without a reply" % len(bad))
    s = connect(path)
    s.sendall(os.urandom(4096))
    check(closed_without_reply(s), "4 KiB of random bytes: the socket closes")
    s = connect(path)
    s.sendall(ag.register(pid=os.getpid())[:7])
    s.close()  # half a message, then gone
    s, m = register(path, "link@host")
    s.sendall(b"\xff\xff" + b"\x0a" * 64)
    check(m is not None and m[0] == 2 and closed_without_reply(s),
          "a link that declares a 65535-byte message is closed")
    s, m = register(path, "link2@host")
    s.sendall(ag.welcome())
    check(m is not None and m[0] == 2 and closed_without_reply(s),
          "a link that sends an agent's message (WELCOME) is closed")
    s, m = register(path, "after@host")
    check(m is not None and m[0] == 2, "after all that, a new VM still gets WELCOME")


def silent(path, timeout_ms):
    s, m = register(path, "frozen@host")
    t0 = time.time()
    s.settimeout((timeout_ms / 1000.0) * 5 + 2)
    probes = 0
    try:
        while True:
            head = recv_exact(s, 2)
            if head is None:
                break
            body = recv_exact(s, struct.unpack(">H", head)[0])
            probes += body is not None and body[0] == 10
    except socket.timeout:
        pass
    dt = (time.time() - t0) * 1000
    check(m is not None and m[0] == 2 and probes > 0 and timeout_ms * 0.8 <= dt < timeout_ms * 5 + 1000,
          "a VM that answers no probe (%d seen) is closed after %.0f ms (timeout %d ms)"
          % (probes, dt, timeout_ms))


def denied(path):
    try:
        s = connect(path)
    except OSError as e:
        print("REFUSED at connect: %s" % e.strerror, flush=True)
        return
    try:
        s.sendall(ag.register(pid=os.getpid()))
    except OSError:
        pass
    check(closed_without_reply(s), "uid %d: closed without a reply" % os.getuid())


def hold(path, out):
    """Registers and answers probes until the agent goes; writes what ended it to out."""
    s, m = register(path, "held@host")
    s.settimeout(30)
    with open(out, "w") as f:
        f.write("welcome\n" if m and m[0] == 2 else "no welcome\n")
        f.flush()
        m = recv_msg(s)
        if m and m[0] == 9:
            f.write("refused %d\n" % struct.unpack(">IH", m[1][:6])[1])
        else:
            f.write("ended %r\n" % (m,))


def main():
    path, mode = sys.argv[1], sys.argv[2]
    if mode == "protocol":
        protocol(path)
    elif mode == "many":
        n = int(sys.argv[3])
        ids, alive = many(path, n)
        check(len(ids) == n and 0 not in ids and len(set(ids)) == n,
              "%d VMs at once: each got WELCOME with its own vm_id" % n)
        check(alive == n, "all %d links stayed up while the others came and went" % n)
    elif mode == "limit":
        n = int(sys.argv[3])
        ids, _ = many(path, n + 1)
        check(len(ids) == n + 1 and sorted(ids).count(0) == 1,
              "%d VMs at max_vms %d: exactly one is refused" % (n + 1, n))
    elif mode == "offers":
        offers(path, sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6]),
               int(sys.argv[7]))
    elif mode == "offers-without-port":
        offers_without_port(path)
    elif mode == "garbage":
        garbage(path)
    elif mode == "silent":
        silent(path, int(sys.argv[3]))
    elif mode == "denied":
        denied(path)
    elif mode == "hold":
        hold(path, sys.argv[3])
        return 0
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
