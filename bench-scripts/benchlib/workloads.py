"""The measurements: bulk (iperf3), connection rate and keep-alive (wrk), idle connections.

Each function gets the client-facing port and the relay's root PIDs (empty for "direct"), runs one
bounded measurement and returns {metric: value} plus raw details, or raises RuntimeError.
"""
import json
import os
import re
import select
import subprocess
import sys
import time

from . import procs
from .backends import IDLE_SCRIPT

SETTLE = 0.3  # seconds after a load ends before the "after" CPU sample (children get reaped)

# cell name -> iperf3 extra arguments
BULK_CELLS = {"bulk": [], "bulk-R": ["-R"], "bulk-P4": ["-P", "4"]}


class Cpu:
    """CPU seconds of a relay's process tree between start() and stop(); None for direct."""

    def __init__(self, roots):
        self.roots = roots
        self.before = procs.tree_cpu_seconds(roots) if roots else None
        self.t0 = time.monotonic()

    def stop(self):
        if not self.roots:
            return None, time.monotonic() - self.t0
        time.sleep(SETTLE)
        return procs.tree_cpu_seconds(self.roots) - self.before, time.monotonic() - self.t0 - SETTLE


def bulk(cell, port, roots, duration):
    argv = ["iperf3", "-c", "127.0.0.1", "-p", str(port), "-t", str(duration), "-J",
            "--connect-timeout", "5000"] + BULK_CELLS[cell]
    cpu = Cpu(roots)
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           stdin=subprocess.DEVNULL, timeout=duration + 30)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"iperf3 did not finish within {duration + 30}s")
    cpu_s, wall = cpu.stop()
    try:
        doc = json.loads(p.stdout.decode(errors="replace") or "{}")
    except json.JSONDecodeError:
        doc = {}
    if doc.get("error") or p.returncode != 0:
        msg = doc.get("error") or p.stderr.decode(errors="replace").strip() or f"exit {p.returncode}"
        raise RuntimeError(f"iperf3: {msg}")
    recv = doc["end"]["sum_received"]
    nbytes = recv["bytes"]
    out = {"gbps": recv["bits_per_second"] / 1e9, "bytes": nbytes, "seconds": recv["seconds"],
           "retransmits": doc["end"].get("sum_sent", {}).get("retransmits")}
    if cpu_s is not None:
        out["cpu_s"] = cpu_s
        out["cpu_s_per_gb"] = cpu_s / (nbytes / 1e9) if nbytes else None
        out["cpu_util"] = cpu_s / wall if wall > 0 else None
    return out


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def _ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if not m:
        raise ValueError(f"unparsable wrk duration {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_wrk(text):
    """requests/s, total requests, p50/p90/p99 latency (ms) and error counts from `wrk --latency`."""
    out = {}
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if not m:
        raise RuntimeError("wrk printed no Requests/sec: " + text.strip()[-300:])
    out["rps"] = float(m.group(1))
    m = re.search(r"(\d+) requests in ([\d.]+\w+)", text)
    out["requests"] = int(m.group(1)) if m else None
    for pct in ("50", "75", "90", "99"):
        m = re.search(rf"^\s+{pct}%\s+(\S+)\s*$", text, re.M)
        if m:
            out[f"p{pct}_ms"] = _ms(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    out["socket_errors"] = dict(zip(("connect", "read", "write", "timeout"),
                                    map(int, m.groups()))) if m else {}
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    out["non2xx"] = int(m.group(1)) if m else 0
    return out


def http_load(cell, port, roots, duration, threads, connections):
    argv = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration}s",
            "--latency", "--timeout", "5s"]
    if cell == "close":
        argv += ["-H", "Connection: close"]
    argv.append(f"http://127.0.0.1:{port}/")
    cpu = Cpu(roots)
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           stdin=subprocess.DEVNULL, timeout=duration + 30)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"wrk did not finish within {duration + 30}s")
    cpu_s, wall = cpu.stop()
    text = p.stdout.decode(errors="replace")
    out = parse_wrk(text)
    n = out["requests"] or 0
    if n == 0:
        raise RuntimeError("wrk completed no request: " + text.strip()[-300:])
    errors = sum(out["socket_errors"].values()) + out["non2xx"]
    out["errors"] = errors
    # A few read errors can happen when a close races the next request; many mean a broken relay.
    if errors > max(10, n // 100):
        raise RuntimeError(f"wrk saw {errors} errors in {n} requests: "
                           f"{out['socket_errors']}, non-2xx {out['non2xx']}")
    if cpu_s is not None:
        out["cpu_s"] = cpu_s
        out["cpu_util"] = cpu_s / wall if wall > 0 else None
        if cell == "close":
            out["cpu_s_per_1k_conn"] = cpu_s / (n / 1000.0)
        else:
            out["cpu_us_per_req"] = cpu_s / n * 1e6
    return out


def idle(port, roots, count, timeout, workdir):
    """RSS added to the relay's process tree per idle relayed connection."""
    if not roots:
        raise RuntimeError("no relay process to measure")
    time.sleep(0.2)
    rss0, pss0 = procs.tree_rss_bytes(roots), procs.tree_pss_bytes(roots)
    client = procs.Proc("idle client",
                        [sys.executable, IDLE_SCRIPT, "client", "--port", port, "--count", count],
                        os.path.join(workdir, "logs", "idle-client.log"),
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        line = _read_line(client, timeout)
        if not line.startswith("READY"):
            raise RuntimeError(f"idle client: {line or 'no answer'} {client.log_tail(3)}".strip())
        time.sleep(0.3)  # let the relay finish any bookkeeping after the last byte
        rss1, pss1 = procs.tree_rss_bytes(roots), procs.tree_pss_bytes(roots)
        nprocs = len(procs.tree_stats(roots))
        client.popen.stdin.write(b"close\n")
        client.popen.stdin.flush()
        done = _read_line(client, 30)
        if done != "DONE":
            raise RuntimeError(f"idle client did not close cleanly: {done!r}")
    finally:
        client.stop()
    return {"rss_per_conn": (rss1 - rss0) / count, "pss_per_conn": (pss1 - pss0) / count,
            "rss_before": rss0, "rss_after": rss1, "connections": count, "processes": nprocs}


def _read_line(proc, timeout):
    deadline = time.monotonic() + timeout
    buf = b""
    fd = proc.popen.stdout.fileno()
    while time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            buf += chunk
            if b"\n" in buf:
                return buf.split(b"\n", 1)[0].decode(errors="replace").strip()
        elif not proc.alive():
            break
    if not buf:
        raise RuntimeError(f"idle client gave no answer within {timeout:.0f}s")
    return buf.decode(errors="replace").strip()
