"""Processes of a benchmark run: started pinned to a core, in their own process group,
with their output in a log file; all of them stopped when the run ends, however it ends.

Nothing here kills by name: every process is known by the pid (and process group) it was
started with. A process that outlives its timeout is killed and reported as an error.
"""
import os
import re
import signal
import socket
import subprocess
import time


class BenchError(Exception):
    """A benchmark step failed; the message says what and where the log is."""


_LIVE = {}  # pid -> Proc, every process not yet reaped


class Proc:
    def __init__(self, name, argv, core, log, env=None, cwd=None):
        self.name = name
        self.log = log
        self.argv = (["taskset", "-c", str(core)] if core is not None else []) + list(argv)
        self._out = open(log, "wb")
        stamp = time.strftime("%H:%M:%S") + f".{int(time.time() * 1000) % 1000:03d}"
        self._out.write(f"# {stamp} started: {' '.join(self.argv)}\n".encode())
        self._out.flush()
        self.p = subprocess.Popen(self.argv, stdout=self._out, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, env=env, cwd=cwd,
                                  start_new_session=True)
        self.pid = self.p.pid
        _LIVE[self.pid] = self

    def text(self):
        try:
            with open(self.log, "r", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def alive(self):
        return not self._exited()

    def _exited(self):
        """True once the process has exited, without reaping it: while it is a zombie its
        pid and process group cannot be reused, so signalling the group stays safe."""
        if self.p.returncode is not None:
            return True
        try:
            return os.waitid(os.P_PID, self.pid,
                             os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
        except ChildProcessError:
            return True

    def wait_line(self, pattern, timeout):
        """Waits until the log has a line matching pattern; BenchError if the process exits
        first or the time runs out."""
        rx = re.compile(pattern, re.M)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if rx.search(self.text()):
                return
            if not self.alive():
                raise BenchError(f"{self.name} exited before /{pattern}/: {self.tail()}")
            time.sleep(0.02)
        raise BenchError(f"{self.name}: no /{pattern}/ within {timeout} s: {self.tail()}")

    def wait(self, timeout):
        """Waits for the exit and returns the status; kills the group and raises BenchError
        after timeout s."""
        end = time.monotonic() + timeout
        while not self._exited():
            if time.monotonic() > end:
                self.kill()
                raise BenchError(f"{self.name} did not finish within {timeout} s: {self.tail()}")
            time.sleep(0.01)
        self._reap()
        return self.p.returncode

    def signal(self, sig):
        """Sends sig to the process itself (not its group), unless it has exited."""
        if not self._exited():
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def stop(self, grace=2.0):
        """SIGTERM, then SIGKILL to the whole group after grace seconds."""
        if self.p.returncode is None:
            self._group(signal.SIGCONT)
            self._group(signal.SIGTERM)
            end = time.monotonic() + grace
            while not self._exited() and time.monotonic() < end:
                time.sleep(0.02)
        self.kill()

    def kill(self):
        self._reap()

    def tail(self, lines=6):
        t = self.text().strip().splitlines()
        return " | ".join(t[-lines:]) + f" (log {self.log})"

    def _group(self, sig):
        if self.p.returncode is not None:
            return  # reaped: the group id may belong to someone else by now
        try:
            os.killpg(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def _reap(self):
        """Kills what is left of the group (BEAM's erl_child_setup, a stopped process), then
        reaps the leader."""
        self._group(signal.SIGKILL)
        if self.p.returncode is None:
            try:
                self.p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        _LIVE.pop(self.pid, None)
        if not self._out.closed:
            self._out.close()


def stop_many(procs, grace=1.0):
    """Stops the processes together: SIGTERM to each group, SIGKILL after grace seconds."""
    procs = list(procs)
    for proc in procs:
        proc._group(signal.SIGCONT)
        proc._group(signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(p.alive() for p in procs):
        time.sleep(0.02)
    for proc in procs:
        proc.kill()


def stop_all():
    """Stops every process of the run still running."""
    stop_many(_LIVE.values())


def port_in_use(port):
    for family, addr in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        s = socket.socket(family, socket.SOCK_STREAM)
        try:
            s.bind((addr, port))
        except OSError:
            return True
        finally:
            s.close()
    return False


_GIVEN = set()


def free_port():
    """A TCP port free now (v4 and v6), outside the ephemeral range, not given out before
    in this run."""
    import random
    for _ in range(500):
        p = random.randint(20000, 31999)
        if p not in _GIVEN and not port_in_use(p):
            _GIVEN.add(p)
            return p
    raise BenchError("no free TCP port in 20000..31999")
