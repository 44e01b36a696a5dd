"""The scenarios: what each measures, with which programs and settings.

A scenario function runs one repetition over one transport and returns measurements
{size, metric, value, unit, n} (n: the samples behind the value). failure_detection runs
its own repetitions (kill after kill) and returns lists of values instead.
"""
import os
import signal
import time
from dataclasses import dataclass, field

from .procs import BenchError
from .transports import parse_results

ORDER = ["rtt_small", "rtt_sizes", "throughput", "rtt_small_under_bulk",
         "heartbeat_gap_under_bulk", "failure_detection", "connect", "fanout"]

WHAT = {
    "rtt_small": "round trip of a 64-byte message (µs)",
    "rtt_sizes": "round trip of 1 KiB, 64 KiB and 1 MiB messages (µs)",
    "throughput": "one-way stream, 64 B to 1 MiB messages, rate at the receiver",
    "rtt_small_under_bulk": "64-byte round trip while another mailbox of the same node\n"
                            "   streams 64 MiB messages to the same peer (µs)",
    "heartbeat_gap_under_bulk": "largest gaps the receiver sees during that bulk stream (ms)",
    "failure_detection": "kill -9 / kill -STOP of the peer to nodedown (ms), at the shortest\n"
                         "   setting (s) that survived the bulk stream without a false nodedown",
    "connect": "connection set-up: EPMD lookup and handshake (and upgrade) (µs)",
    "fanout": "one node to 8 peers: 64-byte scatter/gather round (µs), 1 KiB stream round\n"
              "   robin (rate at the receivers)",
}

PERCENTILES = [("p50", "p50_ns"), ("p90", "p90_ns"), ("p99", "p99_ns"), ("p99.9", "p999_ns"),
               ("max", "max_ns")]


@dataclass
class Profile:
    name: str
    reps: dict
    rtt_count: int
    rtt_warmup: int
    sizes_count: dict
    sizes_warmup: int
    stream_seconds: float
    stream_warmup_ms: int
    bulk_seconds: float
    bulk_warmup_ms: int
    bulk_size: str
    hb_seconds: float
    pulse_ms: int
    fd_settings: list            # net_ticktime seconds to try, shortest first
    fd_dpdk_settings: list       # (hb_interval_us, hb_missed_limit) to try
    fd_trial_s: float            # shortest bulk trial per setting
    fd_trial_factor: float       # ... and at least this many detection windows
    fd_kill_runs: int
    fd_freeze_runs: int
    connect_count: int
    connect_warmup: int
    fanout_peers: int
    fanout_count: int
    fanout_warmup: int
    fanout_seconds: float
    extra: dict = field(default_factory=dict)


SIZES = [1024, 65536, 1048576]
STREAM_SIZES = [64, 1024, 65536, 1048576]
DPDK_HB = [(100, 10), (1000, 3), (1000, 10), (10000, 10), (100000, 10)]

PROFILES = {
    "full": Profile("full", reps={"default": 5, "heartbeat_gap_under_bulk": 3, "fanout": 3},
                    rtt_count=20000, rtt_warmup=2000,
                    sizes_count={1024: 5000, 65536: 2000, 1048576: 300}, sizes_warmup=100,
                    stream_seconds=0.6, stream_warmup_ms=200,
                    bulk_seconds=5.0, bulk_warmup_ms=500, bulk_size="64M",
                    hb_seconds=4.0, pulse_ms=10,
                    fd_settings=[1, 2, 3, 5, 8], fd_dpdk_settings=DPDK_HB, fd_trial_s=4.0,
                    fd_trial_factor=3,
                    fd_kill_runs=5, fd_freeze_runs=3,
                    connect_count=100, connect_warmup=5,
                    fanout_peers=8, fanout_count=2000, fanout_warmup=200, fanout_seconds=1.0),
    # quick: 2 repetitions of the latency scenarios, 1 of the others; 3 of everything when
    # at most 3 scenarios are chosen (--only), as the demo does.
    "quick": Profile("quick", reps={"default": 1, "rtt_small": 2, "rtt_small_under_bulk": 2,
                                    "few": 3},
                     rtt_count=5000, rtt_warmup=500,
                     sizes_count={1024: 1000, 65536: 500, 1048576: 100}, sizes_warmup=50,
                     stream_seconds=0.3, stream_warmup_ms=100,
                     bulk_seconds=1.0, bulk_warmup_ms=200, bulk_size="64M",
                     hb_seconds=1.5, pulse_ms=10,
                     fd_settings=[1, 2, 3, 5], fd_dpdk_settings=DPDK_HB, fd_trial_s=1.5,
                     fd_trial_factor=1.5,
                     fd_kill_runs=2, fd_freeze_runs=1,
                     connect_count=20, connect_warmup=2,
                     fanout_peers=8, fanout_count=300, fanout_warmup=30, fanout_seconds=0.3),
    # CI: checks structure, not figures; every count as small as still gives a result.
    "tiny": Profile("tiny", reps={"default": 1},
                    rtt_count=50, rtt_warmup=5,
                    sizes_count={1024: 20, 65536: 10, 1048576: 5}, sizes_warmup=2,
                    stream_seconds=0.1, stream_warmup_ms=20,
                    bulk_seconds=0.3, bulk_warmup_ms=50, bulk_size="4M",
                    hb_seconds=0.3, pulse_ms=10,
                    fd_settings=[1, 2], fd_dpdk_settings=DPDK_HB[2:], fd_trial_s=1.0,
                    fd_trial_factor=1,
                    fd_kill_runs=1, fd_freeze_runs=1,
                    connect_count=3, connect_warmup=1,
                    fanout_peers=2, fanout_count=10, fanout_warmup=2, fanout_seconds=0.1),
}


def latency(res, size, n_key="n"):
    """p50..max in µs from a latency result line."""
    out = []
    for metric, key in PERCENTILES:
        out.append(dict(size=size, metric=metric, value=res[key] / 1000.0, unit="us",
                        n=res[n_key]))
    return out


def rates(res, size):
    ns = res["ns"]
    if ns <= 0 or res["msgs"] <= 0:
        raise BenchError(f"no messages measured at {size} B: {res}")
    return [dict(size=size, metric="msgs_per_s", value=res["msgs"] * 1e9 / ns, unit="msg/s",
                 n=res["msgs"]),
            dict(size=size, metric="gbit_per_s", value=res["bytes"] * 8 / ns, unit="Gbit/s",
                 n=res["msgs"])]


def find(results, kind, size=None):
    for r in results:
        if r.get("kind") == kind and (size is None or r.get("size") == size):
            return r
    raise BenchError(f"no '{kind}' result (size {size}) in {results}")


def client_timeout(seconds):
    """How long a client may take for about `seconds` of measuring: generous (the machine may
    be loaded), but bounded so that a stuck client costs a minute, not the run."""
    return 30 + seconds * 3


def rtt_small(ctx, t, rep):
    P = ctx.profile
    with t.session(ctx) as s:
        res = s.client("rtt", dict(sizes=64, count=P.rtt_count, warmup=P.rtt_warmup),
                       timeout=client_timeout(P.rtt_count * 0.002))
    return latency(find(res, "rtt", 64), 64)


def rtt_sizes(ctx, t, rep):
    P = ctx.profile
    out = []
    with t.session(ctx) as s:
        for size in SIZES:
            count = P.sizes_count[size]
            res = s.client("rtt", dict(sizes=size, count=count, warmup=P.sizes_warmup),
                           timeout=client_timeout(count * size / 1e8))
            out += latency(find(res, "rtt", size), size)
    return out


def throughput(ctx, t, rep):
    P = ctx.profile
    with t.session(ctx) as s:
        res = s.client("stream", dict(sizes=",".join(map(str, STREAM_SIZES)),
                                      seconds=P.stream_seconds, warmup_ms=P.stream_warmup_ms),
                       timeout=client_timeout(len(STREAM_SIZES) * (P.stream_seconds + 1)))
    out = []
    for size in STREAM_SIZES:
        out += rates(find(res, "stream", size), size)
    return out


def bulk_rate(res):
    if res.get("bulk_ns", 0) <= 0:
        return []
    return [dict(size=int(res["bulk_size"]), metric="bulk_gbit_per_s",
                 value=res["bulk_bytes"] * 8 / res["bulk_ns"], unit="Gbit/s",
                 n=res["bulk_msgs"])]


def rtt_small_under_bulk(ctx, t, rep):
    P = ctx.profile
    samples = os.path.join(ctx.samples_dir, f"under_bulk-{t.name}-{rep}.txt")
    with t.session(ctx) as s:
        res = s.client("under-bulk", dict(seconds=P.bulk_seconds, warmup_ms=P.bulk_warmup_ms,
                                          bulk_size=P.bulk_size, samples=samples),
                       timeout=client_timeout(P.bulk_seconds + 10))
    r = find(res, "rtt_under_bulk")
    if r["n"] == 0:
        raise BenchError("no round trip completed under bulk")
    return latency(r, 64) + bulk_rate(r)


HB_GAP_NA = ("TCP has no heartbeats under load: a tick is sent only on an idle connection "
             "and any data counts as a sign of life (see max_gap_liveness)")
RX_GAP_NA = "the receiver reported no gap between received data (fewer than two arrivals)"


def heartbeat_gap_under_bulk(ctx, t, rep):
    """Three views of the receiver during the bulk stream: the runtime's heartbeat gap
    (DPDK), the largest gap without any received data (liveness: BEAM receivers sample
    their distribution socket; dpdist reads max_rx_gap_ns of dd_peer_stats), and the gaps between application
    pulses sent every pulse_ms on the same connection (all node transports)."""
    P = ctx.profile
    with t.session(ctx) as s:
        res = s.client("hbgap", dict(seconds=P.hb_seconds, warmup_ms=P.bulk_warmup_ms,
                                     bulk_size=P.bulk_size, pulse_ms=P.pulse_ms),
                       timeout=client_timeout(P.hb_seconds + 10))
    r = find(res, "hbgap")
    if r["pulses"] < 1:
        raise BenchError(f"no pulse gaps recorded: {r}")
    out = []
    for metric, key, na in (("max_gap_heartbeat", "hb_gap_ns", HB_GAP_NA),
                            ("max_gap_liveness", "rx_gap_ns", RX_GAP_NA)):
        if r[key] >= 0:
            out.append(dict(size=None, metric=metric, value=r[key] / 1e6, unit="ms", n=1))
        else:
            if t.name == "dpdist_dpdk" and key == "hb_gap_ns":
                na = "dd_peer_stats reported no heartbeat gap for the peer"
            out.append(dict(size=None, metric=metric, value=None, unit="ms", na=na))
    out += [dict(size=None, metric="max_gap_app_pulse", value=r["max_gap_ns"] / 1e6, unit="ms",
                 n=r["pulses"]),
            dict(size=None, metric="p99_gap_app_pulse", value=r["p99_gap_ns"] / 1e6, unit="ms",
                 n=r["pulses"])]
    return out + bulk_rate(r)


def connect(ctx, t, rep):
    P = ctx.profile
    with t.session(ctx) as s:
        # Hidden connections: without `global` syncing (BEAM would reconnect on its own
        # right after a disconnect), so each sample is one clean connection set-up.
        res = s.client("connect", dict(count=P.connect_count, warmup=P.connect_warmup),
                       timeout=client_timeout(P.connect_count * 0.2), hidden=True)
    out = latency(find(res, "connect"), None)
    up = [r for r in res if r.get("kind") == "connect_upgrade"]
    if up:
        for m in latency(up[0], None):
            m["metric"] = "upgrade_" + m["metric"]
            out.append(m)
    return out


def fanout(ctx, t, rep):
    P = ctx.profile
    with t.session(ctx, peers=P.fanout_peers) as s:
        # A hidden client: one node to many peers, without BEAM's `global` meshing the
        # servers with each other behind the measurement (and racing our connects).
        res = s.client("fanout", dict(peers=P.fanout_peers, sizes="64,1024",
                                      count=P.fanout_count, warmup=P.fanout_warmup,
                                      seconds=P.fanout_seconds,
                                      warmup_ms=P.stream_warmup_ms),
                       timeout=client_timeout(P.fanout_count * 0.01 + P.fanout_seconds),
                       hidden=True)
    st = find(res, "fanout_stream")
    return latency(find(res, "fanout_rtt", 64), 64) + rates(st, 1024)


# ---- failure detection ---------------------------------------------------------------------

def _settings(ctx, t):
    if t.name == "dpdist_dpdk":
        return ctx.profile.fd_dpdk_settings
    return ctx.profile.fd_settings


def _setting_seconds(setting):
    if isinstance(setting, tuple):
        return setting[0] * setting[1] / 1e6
    return float(setting)


def _survives(ctx, t, setting):
    """Streams the bulk load for a while at this setting; True if no nodedown."""
    P = ctx.profile
    secs = max(P.fd_trial_s, P.fd_trial_factor * _setting_seconds(setting))
    with t.session(ctx, setting=setting) as s:
        res = s.client("survive", dict(seconds=secs, bulk_size=P.bulk_size),
                       timeout=client_timeout(secs + 10))
    r = find(res, "survive")
    ctx.note(f"failure_detection {t.name}: setting {setting}: {r['nodedowns']} nodedown(s) in "
             f"{r['seconds']} s of bulk")
    return r["nodedowns"] == 0


def _detect_once(ctx, t, setting, sig):
    """Kills (or freezes) the server and returns the ms until the client saw nodedown. A
    session that fails before the watcher is armed (a connection that did not come up) is
    tried once more, with a note: it measures nothing about detection. So is a session whose
    nodedown came before the signal (a false nodedown of a loaded machine at a short setting:
    it would print a negative detection time), up to twice more."""
    for attempt in range(3):
        try:
            return _detect(ctx, t, setting, sig)
        except SetupError as e:
            if attempt == 2:
                raise
            ctx.note(f"failure_detection {t.name}: set-up failed, tried again: {e}")
        except FalseNodedown as e:
            if attempt == 2:
                raise BenchError(f"{e}, three times in a row")
            ctx.note(f"failure_detection {t.name}: {e}; tried again")


class SetupError(BenchError):
    pass


class FalseNodedown(BenchError):
    pass


def _detect(ctx, t, setting, sig):
    limit = int(_setting_seconds(setting) * 3) + 20
    with t.session(ctx, setting=setting) as s:
        client = s.client_start("failure", dict(timeout=limit))
        try:
            client.wait_line(r"^armed", 30)
        except BenchError as e:
            raise SetupError(str(e))
        time.sleep(0.2)
        victim = s.servers[0]
        t_kill = time.time_ns()
        victim.signal(sig)
        rc = client.wait(limit + 10)
        res = [r for r in parse_results(client.text()) if r.get("kind") == "nodedown"]
        if sig == signal.SIGSTOP:
            victim.kill()
        if rc != 0 or not res or "realtime_ns" not in res[0]:
            raise BenchError(f"no nodedown after {sig.name}: {client.tail()}")
        if res[0]["realtime_ns"] < t_kill:
            raise FalseNodedown(f"nodedown {(t_kill - res[0]['realtime_ns']) / 1e6:.1f} ms "
                                f"before the {sig.name} at setting {setting}")
        return (res[0]["realtime_ns"] - t_kill) / 1e6


def failure_detection(ctx, t, rep):
    """Shortest setting that survives the bulk stream, then kill -9 and kill -STOP of the
    peer to nodedown at that setting."""
    P = ctx.profile
    chosen = None
    for setting in _settings(ctx, t):
        if _survives(ctx, t, setting):
            chosen = setting
            break
    if chosen is None:
        raise BenchError(f"every setting tried ({_settings(ctx, t)}) had a false nodedown "
                         "under bulk")
    kills = [_detect_once(ctx, t, chosen, signal.SIGKILL) for _ in range(P.fd_kill_runs)]
    freezes = [_detect_once(ctx, t, chosen, signal.SIGSTOP) for _ in range(P.fd_freeze_runs)]
    if isinstance(chosen, tuple):
        note = f"hb_interval_us={chosen[0]} hb_missed_limit={chosen[1]}"
    else:
        note = f"net_ticktime={chosen}"
    # setting: the detection window of the chosen setting (net_ticktime, or heartbeat
    # interval x missed limit), in seconds; the exact setting is in the note.
    return [dict(size=None, metric="setting", values=[_setting_seconds(chosen)], unit="s",
                 note=note),
        dict(size=None, metric="detect_kill9", values=kills, unit="ms"),
        dict(size=None, metric="detect_freeze", values=freezes, unit="ms"),
    ]


RUNNERS = {
    "rtt_small": rtt_small,
    "rtt_sizes": rtt_sizes,
    "throughput": throughput,
    "rtt_small_under_bulk": rtt_small_under_bulk,
    "heartbeat_gap_under_bulk": heartbeat_gap_under_bulk,
    "failure_detection": failure_detection,
    "connect": connect,
    "fanout": fanout,
}

# Scenarios that do their own repetitions.
SELF_REPEATING = {"failure_detection"}
