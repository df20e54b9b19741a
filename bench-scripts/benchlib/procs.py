"""Child processes, cleanup by PID, port handling and /proc accounting.

Every process the harness starts goes through `Proc`: it runs in its own session (so its process
group id equals its PID), its output goes to a log file, and it is registered for cleanup. Cleanup
signals exactly those process groups -- never anything found by name.
"""
import atexit
import os
import signal
import socket
import subprocess
import sys
import time

_LIVE = []  # Proc objects not yet stopped


class Proc:
    """One child process group started by the harness."""

    def __init__(self, name, argv, log_path, cwd=None, env=None, stdin=None, stdout=None):
        self.name = name
        self.argv = [str(a) for a in argv]
        self.log_path = log_path
        os.makedirs(os.path.dirname(log_path), exist_ok=True)
        self._log = open(log_path, "ab")
        self._log.write(("$ " + " ".join(self.argv) + "\n").encode())
        self._log.flush()
        self.popen = subprocess.Popen(
            self.argv,
            cwd=cwd,
            env=env,
            stdin=stdin if stdin is not None else subprocess.DEVNULL,
            stdout=stdout if stdout is not None else self._log,
            stderr=self._log,
            start_new_session=True,
        )
        self.pid = self.popen.pid
        _LIVE.append(self)

    def alive(self):
        return self.popen.poll() is None

    def log_tail(self, lines=8):
        """The last lines of the process's output, without the command line and notices."""
        try:
            with open(self.log_path, "rb") as f:
                data = f.read()[-4000:].decode(errors="replace")
        except OSError:
            return ""
        keep = [ln for ln in data.strip().splitlines()
                if ln.strip() and not ln.startswith("$ ") and "[NOTICE]" not in ln]
        return "\n".join(keep[-lines:])

    def stop(self, grace=5.0):
        """SIGTERM the group, wait, then SIGKILL it. Safe to call twice."""
        if self not in _LIVE:
            return
        _signal_group(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if self.popen.poll() is not None and not _group_has_members(self.pid):
                break
            time.sleep(0.02)
        if self.popen.poll() is None or _group_has_members(self.pid):
            _signal_group(self.pid, signal.SIGKILL)
            try:
                self.popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        _LIVE.remove(self)
        try:
            self._log.close()
        except OSError:
            pass


def _signal_group(pgid, sig):
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _group_has_members(pgid):
    """True while any process still has process group `pgid` (e.g. socat's forked children)."""
    for pid in _all_pids():
        st = read_stat(pid)
        if st and st["pgrp"] == pgid and st["state"] != "Z":
            return True
    return False


def cleanup_all():
    for p in list(reversed(_LIVE)):
        try:
            p.stop(grace=3.0)
        except Exception as e:  # keep cleaning the others
            print(f"cleanup of {p.name} (pid {p.pid}) failed: {e}", file=sys.stderr)


def _on_signal(signum, _frame):
    # Turn SIGTERM/SIGHUP into an exception so `finally` blocks and atexit run; SIGINT already is.
    raise KeyboardInterrupt(f"signal {signum}")


def install_cleanup():
    atexit.register(cleanup_all)
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, _on_signal)


def raise_fd_limit():
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


# ---------------------------------------------------------------- ports

class PortAllocator:
    """Hands out loopback TCP ports below the ephemeral range, in turn, so a port is reused late.

    Ports from the ephemeral range (32768+) could be taken as a source port by a load generator
    between our probe and the relay's bind, so we stay under it.
    """

    def __init__(self, base=21000, limit=32000):
        self.base = self.next = base
        self.limit = limit

    def take(self):
        """The next free port; after the last one it starts again at the base (a stopped relay's
        ports are free again: every listener here uses SO_REUSEADDR)."""
        for _ in range(self.limit - self.base):
            if self.next >= self.limit:
                self.next = self.base
            port = self.next
            self.next += 1
            if port_is_free(port):
                return port
        raise RuntimeError(f"no free loopback port in {self.base}..{self.limit - 1}")


def port_is_free(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def listening_ports():
    """Local ports in LISTEN state, read from /proc/net/tcp{,6} (no probe connection needed:
    a bare connect would upset iperf3's server)."""
    ports = set()
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    if len(parts) > 3 and parts[3] == "0A":
                        ports.add(int(parts[1].rsplit(":", 1)[1], 16))
        except OSError:
            pass
    return ports


def wait_listening(ports, timeout=10.0, procs=()):
    """Poll until every port listens. Fails early, with the log tail, if a process died."""
    deadline = time.monotonic() + timeout
    ports = set(ports)
    while True:
        missing = ports - listening_ports()
        if not missing:
            return
        for p in procs:
            if not p.alive():
                raise RuntimeError(
                    f"{p.name} exited with status {p.popen.returncode} before listening: "
                    + p.log_tail(2))
        if time.monotonic() > deadline:
            raise RuntimeError(f"ports {sorted(missing)} not listening after {timeout:.0f}s")
        time.sleep(0.02)


def http_get(port, timeout=5.0, path="/"):
    """One HTTP/1.1 GET with Connection: close; returns (status_line, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        chunks = []
        while True:
            b = s.recv(65536)
            if not b:
                break
            chunks.append(b)
    data = b"".join(chunks)
    head, _, body = data.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].decode(errors="replace")
    return status, body


def check_relays_http(port, expected_body, timeout=10.0):
    """Retry one GET until it returns the expected body (a relay may accept before it forwards)."""
    deadline = time.monotonic() + timeout
    last = "no attempt"
    while time.monotonic() < deadline:
        try:
            status, body = http_get(port, timeout=3.0)
            if " 200 " in status + " " and body == expected_body:
                return
            last = f"got {status!r} body {body[:40]!r}"
        except OSError as e:
            last = f"{type(e).__name__}: {e}"
        time.sleep(0.1)
    raise RuntimeError(f"GET through port {port} did not return the backend's body: {last}")


# ---------------------------------------------------------------- /proc accounting

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def _all_pids():
    for name in os.listdir("/proc"):
        if name.isdigit():
            yield int(name)


def read_stat(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    comm = s[s.index("(") + 1:s.rindex(")")]
    rest = s[s.rindex(")") + 2:].split()
    # rest[i] is field i+3 of proc(5)
    return {
        "pid": pid,
        "comm": comm,
        "state": rest[0],
        "ppid": int(rest[1]),
        "pgrp": int(rest[2]),
        "ticks": int(rest[11]) + int(rest[12]),          # utime + stime
        "child_ticks": int(rest[13]) + int(rest[14]),    # cutime + cstime (reaped children)
        "rss": int(rest[21]) * PAGE,
    }


def tree_stats(roots):
    """Stats of the processes in the trees under `roots` (the roots included)."""
    stats = {}
    for pid in _all_pids():
        st = read_stat(pid)
        if st:
            stats[pid] = st
    children = {}
    for st in stats.values():
        children.setdefault(st["ppid"], []).append(st["pid"])
    out, todo = [], [r for r in roots if r in stats]
    seen = set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        out.append(stats[pid])
        todo.extend(children.get(pid, []))
    return out


def tree_cpu_seconds(roots):
    """utime+stime of every live process in the trees, plus the time of children they reaped
    (cutime+cstime): a socat child that exits during the test still counts, through its parent."""
    return sum(st["ticks"] + st["child_ticks"] for st in tree_stats(roots)) / CLK_TCK


def tree_rss_bytes(roots):
    return sum(st["rss"] for st in tree_stats(roots) if st["state"] != "Z")


def tree_pss_bytes(roots):
    total = 0
    for st in tree_stats(roots):
        try:
            with open(f"/proc/{st['pid']}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
        except OSError:
            pass
    return total


def busy_processes(interval=1.0, threshold=0.10, exclude=()):
    """Processes using more than `threshold` of one CPU over `interval` seconds."""
    def snap():
        d = {}
        for pid in _all_pids():
            st = read_stat(pid)
            if st:
                d[pid] = st
        return d
    a = snap()
    time.sleep(interval)
    b = snap()
    busy = []
    for pid, st in b.items():
        if pid in exclude or pid not in a:
            continue
        share = (st["ticks"] - a[pid]["ticks"]) / CLK_TCK / interval
        if share >= threshold:
            busy.append((share, pid, st["comm"]))
    return sorted(busy, reverse=True)
