"""The transports a scenario runs over, and how each starts its processes.

Every transport offers sessions: `with t.session(ctx, peers=1, setting=None) as s:` starts
the server side (pinned to core 0: dpdist or BEAM nodes, none for the raw tools), and
`s.client(test, opts)` runs one client (pinned to core 1) to completion and returns its
parsed result lines. The programs speak one protocol and print the same result lines
(perf/bench_stats.h), so a scenario is written once for all transports.

  raw_memif    perf/raw-memif server + client over net_memif (bare frames, the floor)
  dpdist_dpdk  perf/dd-bench nodes with -config (two memif configs made from
               configs/local-memif-{a,b}.ini): the DPDK data plane; with several peers
               (fanout) net_af_packet on veths to a Linux bridge, one network namespace
               per node (NetnsDpdkSession; needs root)
  dpdist_tcp   perf/dd-bench nodes, TCP carrier
  beam_tcp     two BEAM nodes running perf/dd_bench.erl, standard distribution
  raw_tcp      perf/raw-tcp on loopback, blocking sockets
  dpdist_beam  perf/dd-bench client -> BEAM node (dd_bench.erl) server
  raw_tcp_busy perf/raw-tcp with busy-polling receive (optional, not in the default set)
"""
import os
import re
import shutil
import subprocess
import time

from .procs import BenchError, Proc, stop_many

SERVER_CORE, CLIENT_CORE = 0, 1
SERVER_LIFETIME_S = 900  # servers stop by themselves after this, whatever happens
SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MEMIF_TEMPLATE = os.path.join(SRC, "configs/local-memif-a.ini")
MEMIF_KEEP_ARGS = ("bsize", "zero-copy", "rsize")  # vdev arguments the sessions keep


def memif_link(template=MEMIF_TEMPLATE):
    """The memif link of the shipped config, which dpdist_dpdk runs on and raw_memif copies:
    {"mtu", "frame" (bytes on the wire: mtu + 14), "bsize", "copy" ("copy" or "zero-copy"),
    "args" (the vdev arguments in MEMIF_KEEP_ARGS, as text)}."""
    section, mtu, vdev = None, 1500, ""
    with open(template) as f:
        for line in f:
            m = re.match(r"\s*\[(\w+)\]", line)
            if m:
                section = m.group(1)
                continue
            m = re.match(r"\s*(\w+)\s*=\s*(\S+)", line)
            if m and section == "port" and m.group(1) == "mtu":
                mtu = int(m.group(2))
            elif m and section == "port" and m.group(1) == "vdev":
                vdev = m.group(2)
    args = dict(a.split("=", 1) for a in vdev.split(",")[1:] if "=" in a)
    keep = [f"{k}={args[k]}" for k in MEMIF_KEEP_ARGS if k in args]
    return {"mtu": mtu, "frame": mtu + 14, "bsize": int(args.get("bsize", 2048)),
            "copy": "zero-copy" if args.get("zero-copy") == "yes" else "copy",
            "args": "".join("," + a for a in keep)}


def memif_what():
    link = memif_link()
    return (f"frames of at most {link['frame']} bytes (mtu {link['mtu']}), memif bsize "
            f"{link['bsize']}, {link['copy']} mode (from {os.path.relpath(MEMIF_TEMPLATE, SRC)})")


def parse_results(text):
    """The `result key=value ...` lines of a program's output, values as int/float/str."""
    out = []
    for line in text.splitlines():
        if not line.startswith("result "):
            continue
        rec = {}
        for field in line.split()[1:]:
            key, _, val = field.partition("=")
            for conv in (int, float):
                try:
                    val = conv(val)
                    break
                except ValueError:
                    pass
            rec[key] = val
        out.append(rec)
    return out


def opt_args(opts):
    """{'sizes': '64,1K', 'count': 10} -> ['-sizes', '64,1K', '-count', '10']"""
    args = []
    for key, val in opts.items():
        if val is None:
            continue
        args += ["-" + key.replace("_", "-"), str(val)]
    return args


class Unavailable(Exception):
    """The transport cannot run on this build or machine; the message says why."""


class Transport:
    name = ""
    what = ""
    # scenario -> why it does not apply (not measurable by construction)
    not_applicable = {}

    def why_not(self, ctx, scenario):
        """None when the scenario can run over this transport, else the reason for n/a."""
        if scenario in self.not_applicable:
            return "not applicable: " + self.not_applicable[scenario]
        return None

    def session(self, ctx, peers=1, setting=None):
        raise NotImplementedError


class Session:
    def __init__(self, ctx, transport):
        self.ctx = ctx
        self.t = transport
        self.servers = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        stop_many(self.servers)

    def client(self, test, opts, timeout, hidden=False):
        proc = self.client_start(test, opts, hidden=hidden)
        rc = proc.wait(timeout)
        text = proc.text()
        res = parse_results(text)
        if rc != 0 or not res:
            raise BenchError(f"{self.t.name} client {test} failed (status {rc}): {proc.tail()}")
        return res

    def client_start(self, test, opts, hidden=False):
        raise NotImplementedError


# ---- dpdist and BEAM nodes ---------------------------------------------------------------

def dd_node_args(ctx, name, setting=None, config=None, hidden=False):
    args = ["-sname", name, "-setcookie", ctx.cookie, "-epmd_port", str(ctx.epmd_port)]
    if setting is not None and config is None:
        args += ["-ticktime", str(setting)]
    if config:
        args += ["-config", config]
    if hidden:
        args.append("-hidden")
    return args


def erl_args(ctx, name, setting=None, hidden=False, busy_wait=True):
    """A BEAM node with one scheduler (it owns one core). busy_wait=False when several VMs
    share a core (fanout's servers): BEAM's schedulers spin before sleeping, and 8 spinning
    VMs on one core starve each other for seconds, which would measure the spinning."""
    args = ["erl", "-sname", name, "-setcookie", ctx.cookie, "-start_epmd", "false",
            "-noshell", "-noinput", "+S", "1:1", "+SDcpu", "1:1", "+SDio", "1",
            "-pa", ctx.ebin]
    if not busy_wait:
        args += ["+sbwt", "none", "+sbwtdcpu", "none", "+sbwtdio", "none"]
    if setting is not None:
        args += ["-kernel", "net_ticktime", str(setting)]
    if hidden:
        args.append("-hidden")
    return args + ["-run", "dd_bench", "main", "-extra"]


class NodeSession(Session):
    """Servers and clients that are Erlang-distribution nodes (dpdist or BEAM)."""

    server_kind = "dd"  # dd or beam
    client_kind = "dd"

    def __init__(self, ctx, transport, peers, setting):
        super().__init__(ctx, transport)
        self.setting = setting
        self.shared_core = peers > 1
        self.peer_names = []
        for i in range(peers):
            name = ctx.unique("s")
            self.peer_names.append(f"{name}@{ctx.host}")
            self.servers.append(self._start_server(name, i))
        for srv in self.servers:
            srv.wait_line(r"server .* ready", 30)

    def server_config(self, name, index):
        return None

    def client_config(self, name):
        return None

    def _start_server(self, name, index):
        ctx = self.ctx
        log = ctx.log_path(f"{self.t.name}-{name}")
        if self.server_kind == "beam":
            argv = erl_args(ctx, name, self.setting, busy_wait=not self.shared_core) + [
                "server", "-timeout", str(SERVER_LIFETIME_S)]
        else:
            argv = [ctx.tool("perf/dd-bench"), "server"] + dd_node_args(
                ctx, name, self.setting, self.server_config(name, index)) + [
                "-timeout", str(SERVER_LIFETIME_S)]
        return Proc(name, argv, SERVER_CORE, log, env=ctx.env, cwd=ctx.run_dir)

    def client_start(self, test, opts, hidden=False):
        ctx = self.ctx
        name = ctx.unique("c")
        log = ctx.log_path(f"{self.t.name}-{name}-{test}")
        opts = dict(opts)
        if "peers" in opts:
            opts["peers"] = ",".join(self.peer_names[:opts["peers"]])
        else:
            opts["peer"] = self.peer_names[0]
        if self.client_kind == "beam":
            argv = erl_args(ctx, name, self.setting, hidden) + ["client", "-test", test]
            opts.pop("expect_carrier", None)
        else:
            argv = [ctx.tool("perf/dd-bench"), "client"] + dd_node_args(
                ctx, name, self.setting, self.client_config(name), hidden) + ["-test", test]
        argv += opt_args(opts)
        return Proc(name, argv, CLIENT_CORE, log, env=ctx.env, cwd=ctx.run_dir)


class DpdistTcp(Transport):
    name = "dpdist_tcp"
    what = "two dpdist nodes (dd-bench), TCP carrier"

    def session(self, ctx, peers=1, setting=None):
        return NodeSession(ctx, self, peers, setting)


class BeamSession(NodeSession):
    server_kind = "beam"
    client_kind = "beam"


class BeamTcp(Transport):
    name = "beam_tcp"
    what = "two BEAM nodes (perf/dd_bench.erl), standard distribution over TCP"

    def session(self, ctx, peers=1, setting=None):
        return BeamSession(ctx, self, peers, setting)


class DpdistBeamSession(NodeSession):
    server_kind = "beam"
    client_kind = "dd"


class DpdistBeam(Transport):
    name = "dpdist_beam"
    what = "dd-bench client node -> BEAM server node (dd_bench.erl), TCP"

    def session(self, ctx, peers=1, setting=None):
        return DpdistBeamSession(ctx, self, peers, setting)


# ---- the DPDK data plane -----------------------------------------------------------------

def rewrite_ini(template, changes):
    """The INI text of template with changes {section: {key: value}} applied: keys replaced
    where they are, added at the end of their section otherwise."""
    out, section, seen = [], None, set()

    def flush(sec):
        for key, val in changes.get(sec, {}).items():
            if (sec, key) not in seen:
                out.append(f"{key} = {val}")

    with open(template) as f:
        lines = f.read().splitlines()
    for line in lines:
        m = re.match(r"\s*\[(\w+)\]", line)
        if m:
            if section:
                flush(section)
            section = m.group(1)
            out.append(line)
            continue
        m = re.match(r"\s*(\w+)\s*=", line)
        if m and section in changes and m.group(1) in changes[section]:
            key = m.group(1)
            seen.add((section, key))
            out.append(f"{key} = {changes[section][key]}")
            continue
        out.append(line)
    if section:
        flush(section)
    for sec, kv in changes.items():
        if not any(re.match(rf"\s*\[{sec}\]", line) for line in lines):
            out.append(f"[{sec}]")
            out += [f"{k} = {v}" for k, v in kv.items()]
    return "\n".join(out) + "\n"


class DpdkSession(NodeSession):
    """dd-bench nodes with memif configs: the server is the memif server on lcore 0, each
    client the memif client on lcore 1, made from configs/local-memif-{a,b}.ini. setting, for
    failure detection, is (hb_interval_us, hb_missed_limit). One memif port pairs two
    processes: every client after the first gets a fresh server (and socket)."""

    def __init__(self, ctx, transport, peers, setting):
        self.memif_socket = os.path.join(ctx.run_dir, ctx.unique("m") + ".memif")
        self.clients = 0
        super().__init__(ctx, transport, peers, setting)

    def _fresh_server(self):
        stop_many(self.servers)
        self.memif_socket = os.path.join(self.ctx.run_dir, self.ctx.unique("m") + ".memif")
        name = self.ctx.unique("s")
        self.peer_names = [f"{name}@{self.ctx.host}"]
        self.servers = [self._start_server(name, 0)]
        self.servers[0].wait_line(r"server .* ready", 30)

    def _config(self, name, template, lcore, prefix):
        ctx = self.ctx
        role = "server" if lcore == SERVER_CORE else "client"
        changes = {
            "node": {"sname": name, "epmd_port": ctx.epmd_port},
            "eal": {"lcores": lcore, "file_prefix": prefix},
            "port": {"vdev": f"net_memif0,role={role},id=0,socket={self.memif_socket},"
                             f"socket-abstract=no{memif_link(template)['args']}"},
            # A 64 MiB binary is 64 MiB + ~50 bytes of distribution header: above the
            # default max_msg_bytes = 64M, so the bulk scenarios need a little more.
            "lanes": {"express": "ping,echo,pulse", "max_msg_bytes": "72M"},
            # frame authentication (docs/security.md): the transport's mode on both nodes
            "security": {"frame_auth": self.t.frame_auth},
        }
        if self.setting is not None:
            hb_us, missed = self.setting
            # retransmission back-off must stay below the detection time (config rule)
            max_rto = max(100, hb_us * missed // 2)
            changes["lanes"].update(hb_interval_us=hb_us, hb_missed_limit=missed,
                                    max_rto_us=max_rto, min_rto_us=min(1000, max_rto))
        path = os.path.join(ctx.run_dir, f"{name}.ini")
        with open(path, "w") as f:
            f.write(rewrite_ini(template, changes))
        ctx.dpdk_prefixes.append(prefix)
        return path

    def server_config(self, name, index):
        if index:
            raise BenchError("one memif port pairs two processes: one server per session")
        return self._config(name, self.ctx.src_path("configs/local-memif-a.ini"), SERVER_CORE,
                            f"ddp-{name}")

    def client_config(self, name):
        return self._config(name, self.ctx.src_path("configs/local-memif-b.ini"), CLIENT_CORE,
                            f"ddp-{name}")

    def client_start(self, test, opts, hidden=False):
        if self.clients:
            self._fresh_server()
        self.clients += 1
        opts = dict(opts)
        opts.setdefault("expect_carrier", "dpdk")
        return super().client_start(test, opts, hidden)


class NetnsDpdkSession(Session):
    """dd-bench nodes that reach each other through a switch: every node in a network
    namespace of its own (its own EPMD, the same port number in each), a veth `eth0` whose
    other end sits in a Linux bridge in one more namespace; the data plane is net_af_packet on
    eth0 (kernel addresses 10.67.1.i for TCP, data-plane addresses 10.67.2.i that no kernel
    has). Servers on SERVER_CORE, the client on CLIENT_CORE. The nodes wait with short
    sleeps, not spins, once idle (FANOUT_BUSY_POLL_US, FANOUT_IDLE_SLEEP_US): 9 processes share 2
    cores. Everything goes with the session: processes, then the namespaces (their links and
    the bridge with them), then the EAL directories (ctx.dpdk_prefixes)."""

    NET, DP_NET = "10.67.1", "10.67.2"
    # Spin 1 us after traffic, then poll in 20 us naps: af_packet has no Rx interrupt to
    # sleep on, and with 8 servers on one core every microsecond one of them spins is taken
    # from the others. --quick, loaded machine: 64 B round p50 14.3 ms with busy_poll_us = 0
    # (always spin), 4.2 ms at 200, 2.0 ms at 50, 1.4 ms at 20, 1.0 ms at 1 (docs/dataplane.md).
    FANOUT_BUSY_POLL_US = 1
    FANOUT_IDLE_SLEEP_US = 20

    def __init__(self, ctx, transport, peers, setting):
        super().__init__(ctx, transport)
        self.setting = setting
        self.namespaces = []
        self.epmds = []
        tag = ctx.unique("f")
        self.ns_sw = f"ddpf{tag}sw"
        self.peer_names = []
        try:
            self._ip("netns", "add", self.ns_sw)
            self.namespaces.append(self.ns_sw)
            self._ip("-n", self.ns_sw, "link", "add", "br0", "type", "bridge")
            self._ip("-n", self.ns_sw, "link", "set", "br0", "up")
            for i in range(1, peers + 2):  # peers servers, then the client
                self._host(i, tag)
            for i in range(1, peers + 1):
                name = f"s{i}{tag}"
                self.peer_names.append(f"{name}@{self.NET}.{i}")
                self.servers.append(self._node(i, name, "server", SERVER_CORE,
                                               ["-timeout", str(SERVER_LIFETIME_S)]))
            for srv in self.servers:
                srv.wait_line(r"server .* ready", 60)
            self.client_host = peers + 1
        except BaseException:
            self.__exit__(None, None, None)
            raise

    def _ip(self, *args):
        r = subprocess.run(["ip"] + list(args), capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise BenchError(f"ip {' '.join(args)}: {r.stderr.strip()}")

    def _ns(self, i):
        return self.namespaces[i]  # namespaces[0] is the switch

    def _host(self, i, tag):
        ns = f"ddpf{tag}h{i}"
        self._ip("netns", "add", ns)
        self.namespaces.append(ns)
        self._ip("link", "add", f"ddpf{i}x{os.getpid() % 10000}", "netns", ns, "type", "veth",
                 "peer", "name", f"p{i}", "netns", self.ns_sw)
        self._ip("-n", self.ns_sw, "link", "set", f"p{i}", "master", "br0", "up")
        self._ip("-n", ns, "link", "set", "lo", "up")
        self._ip("-n", ns, "link", "set", f"ddpf{i}x{os.getpid() % 10000}", "name", "eth0")
        self._ip("-n", ns, "addr", "add", f"{self.NET}.{i}/24", "dev", "eth0")
        self._ip("-n", ns, "link", "set", "eth0", "up")
        ctx = self.ctx
        epmd = Proc(f"epmd-{ns}", ["ip", "netns", "exec", ns, ctx.tool("tools/dpdist-epmd"),
                                   "-port", str(ctx.epmd_port)], SERVER_CORE,
                    ctx.log_path(f"{self.t.name}-epmd-{ns}"), env=ctx.env, cwd=ctx.run_dir)
        self.epmds.append(epmd)
        end = time.monotonic() + 20
        while True:
            r = subprocess.run(["ip", "netns", "exec", ns, "ss", "-Hltn",
                                f"( sport = :{ctx.epmd_port} )"], capture_output=True,
                               text=True, timeout=10)
            if r.stdout.strip():
                return
            if not epmd.alive() or time.monotonic() > end:
                raise BenchError(f"dpdist-epmd in {ns} did not start: {epmd.tail()}")
            time.sleep(0.05)

    def _config(self, i, name, core):
        ctx = self.ctx
        prefix = f"ddp-{name}"
        lines = [
            "[node]", f"name = {name}@{self.NET}.{i}", f"listen_address = {self.NET}.{i}",
            f"epmd_port = {ctx.epmd_port}",
            "[eal]", f"lcores = {core}", "no_huge = true", "mem_mb = 256",
            f"file_prefix = {prefix}", f"busy_poll_us = {self.FANOUT_BUSY_POLL_US}",
            f"idle_sleep_us = {self.FANOUT_IDLE_SLEEP_US}",
            "[port]", "vdev = net_af_packet0,iface=eth0,qpairs=2", f"ip = {self.DP_NET}.{i}",
            "udp_port = 4370",
            "[mempool]", "mbuf_count = 16383",
            "[lanes]", "express = ping,echo,pulse",
        ]
        path = os.path.join(ctx.run_dir, f"{name}.ini")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        ctx.dpdk_prefixes.append(prefix)
        return path

    def _node(self, i, name, role, core, extra):
        ctx = self.ctx
        argv = ["ip", "netns", "exec", self._ns(i), ctx.tool("perf/dd-bench"), role,
                "-setcookie", ctx.cookie, "-config", self._config(i, name, core)] + extra
        return Proc(name, argv, core, ctx.log_path(f"{self.t.name}-{name}"), env=ctx.env,
                    cwd=ctx.run_dir)

    def client_start(self, test, opts, hidden=False):
        opts = dict(opts)
        opts["peers"] = ",".join(self.peer_names[:opts["peers"]])
        opts.setdefault("expect_carrier", "dpdk")
        name = self.ctx.unique("c")
        extra = ["-hidden"] if hidden else []
        return self._node(self.client_host, name, "client", CLIENT_CORE,
                          extra + ["-test", test] + opt_args(opts))

    def __exit__(self, *exc):
        stop_many(self.servers + self.epmds)
        for ns in reversed(self.namespaces):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)
        self.namespaces = []


class DpdistDpdk(Transport):
    name = "dpdist_dpdk"
    what = ("two dpdist nodes (dd-bench -config), DPDK data plane over net_memif, "
            + memif_what() + "; fanout: net_af_packet on veths to a Linux bridge, a "
            "network namespace per node")
    frame_auth = "gmac"  # [security] frame_auth of both nodes: the default

    def __init__(self):
        self._probed = False
        self._probe = None

    def why_not(self, ctx, scenario):
        reason = super().why_not(ctx, scenario)
        if reason:
            return reason
        if scenario == "fanout":
            if os.geteuid() != 0:
                return "not available: fanout needs root (network namespaces, a bridge)"
            if not shutil.which("ip"):
                return "not available: fanout needs ip(8) (iproute2)"
        if not self._probed:
            self._probe = self.probe(ctx)
            self._probed = True
        return self._probe

    def probe(self, ctx):
        """None if a dd-bench node starts with a memif config, else why not (its error)."""
        try:
            with self.session(ctx):
                return None
        except BenchError as e:
            msg = str(e)
            m = re.search(r"cannot start the node: ([^|]*)", msg)
            why = m.group(1).strip() if m else msg
            why = re.sub(r" \(config [^)]*\)", "", why)
            return f"not available: {why}"

    def session(self, ctx, peers=1, setting=None):
        if peers > 1:
            return NetnsDpdkSession(ctx, self, peers, setting)
        return DpdkSession(ctx, self, peers, setting)


class DpdistDpdkNoAuth(DpdistDpdk):
    name = "dpdist_dpdk_noauth"
    what = "dpdist_dpdk with frame_auth = none on both nodes: the cost of frame authentication"
    frame_auth = "none"


class DpdistDpdkGcm(DpdistDpdk):
    name = "dpdist_dpdk_gcm"
    what = "dpdist_dpdk with frame_auth = gcm on both nodes (payload encrypted)"
    frame_auth = "gcm"


# ---- raw tools ---------------------------------------------------------------------------

class RawSession(Session):
    """A raw tool's server serves one client: each client() starts a fresh pair."""

    def client_start(self, test, opts, hidden=False):
        raise BenchError("raw transports run clients through client()")

    def client(self, test, opts, timeout, hidden=False):
        server, argv_client = self.t.start_pair(self.ctx, test, opts)
        self.servers.append(server)
        try:
            name = os.path.basename(server.log).replace("server", "client")
            proc = Proc(name, argv_client, CLIENT_CORE,
                        server.log.replace("server", "client"), env=self.ctx.env,
                        cwd=self.ctx.run_dir)
            rc = proc.wait(timeout)
            res = parse_results(proc.text())
            if rc != 0 or not res:
                raise BenchError(f"{self.t.name} client {test} failed (status {rc}): "
                                 f"{proc.tail()} / server: {server.tail()}")
            return res
        finally:
            server.stop()
            self.servers.remove(server)


class RawTcp(Transport):
    name = "raw_tcp"
    what = "bare TCP on loopback (perf/raw-tcp), blocking sockets"
    busy_poll = False
    not_applicable = {
        "heartbeat_gap_under_bulk": "bare TCP has no heartbeats or ticks",
        "failure_detection": "bare TCP has no liveness protocol",
        "connect": "no handshake to time (a bare TCP connect is not a node connection)",
        "fanout": "the floor is measured point to point only",
    }

    def session(self, ctx, peers=1, setting=None):
        return RawSession(ctx, self)

    def start_pair(self, ctx, test, opts):
        port = ctx.free_port()
        name = ctx.unique("t")
        flags = ["-busy-poll"] if self.busy_poll else []
        server = Proc(name, [ctx.tool("perf/raw-tcp"), "server", "-port", str(port),
                             "-timeout", "60"] + flags, SERVER_CORE,
                      ctx.log_path(f"{self.name}-{name}-server"), env=ctx.env, cwd=ctx.run_dir)
        server.wait_line("ready", 10)
        client = [ctx.tool("perf/raw-tcp"), "client", "-port", str(port), "-test", test] + \
            flags + opt_args(opts)
        return server, client


class RawTcpBusy(RawTcp):
    name = "raw_tcp_busy"
    what = "bare TCP on loopback (perf/raw-tcp -busy-poll), busy-polling receive"
    busy_poll = True


class RawMemif(Transport):
    name = "raw_memif"
    what = "bare DPDK frames over net_memif (perf/raw-memif), the floor, " + memif_what()
    not_applicable = {
        "heartbeat_gap_under_bulk": "bare frames have no heartbeats",
        "failure_detection": "bare frames have no liveness protocol",
        "connect": "no handshake to time",
        "fanout": "one memif port pairs two processes; the floor is point to point",
    }

    def session(self, ctx, peers=1, setting=None):
        return RawSession(ctx, self)

    def start_pair(self, ctx, test, opts):
        name = ctx.unique("r")
        sock = os.path.join(ctx.run_dir, name + ".memif")
        link = memif_link()  # the frame size and buffers dpdist_dpdk runs on
        common = ["-socket", sock, "-frame", str(link["frame"]), "-bsize", str(link["bsize"])]
        if link["copy"] != "copy":
            raise BenchError(f"raw-memif has no {link['copy']} mode: it would not measure "
                             "what dpdist_dpdk runs on")
        sp, cp = f"ddp-{name}-s", f"ddp-{name}-c"
        ctx.dpdk_prefixes += [sp, cp]
        server = Proc(name, [ctx.tool("perf/raw-memif"), "server", "-lcore", str(SERVER_CORE),
                             "-prefix", sp, "-timeout", "120"] + common, SERVER_CORE,
                      ctx.log_path(f"{self.name}-{name}-server"), env=ctx.env, cwd=ctx.run_dir)
        end = time.monotonic() + 20
        while not os.path.exists(sock):  # the server's socket must exist before the client
            if not server.alive() or time.monotonic() > end:
                raise BenchError(f"raw-memif server did not create its socket: {server.tail()}")
            time.sleep(0.02)
        client = [ctx.tool("perf/raw-memif"), "client", "-lcore", str(CLIENT_CORE), "-prefix",
                  cp, "-test", test] + common + opt_args(opts)
        return server, client


ALL = [RawMemif(), DpdistDpdk(), DpdistTcp(), BeamTcp(), RawTcp(), DpdistBeam()]
OPTIONAL = [RawTcpBusy(), DpdistDpdkNoAuth(), DpdistDpdkGcm()]
BY_NAME = {t.name: t for t in ALL + OPTIONAL}


def cleanup_dpdk(prefixes):
    """Removes the EAL runtime directories of our file prefixes (only ours)."""
    for prefix in prefixes:
        for root in ("/var/run/dpdk", os.path.join(os.environ.get("XDG_RUNTIME_DIR", "/tmp"),
                                                   "dpdk")):
            path = os.path.join(root, prefix)
            if os.path.isdir(path):
                shutil.rmtree(path, ignore_errors=True)
