"""bench-scripts/proxies: Ringway's proxy services against squid (HTTP CONNECT) and dante (SOCKS5).

Two figures per proxy, relays interleaved within each round, medians of the rounds:
  handshakes  tunnels opened per second by concurrent clients (connect, CONNECT or SOCKS5
              greeting+CONNECT in one write, wait for the success reply, close), and the proxy's
              CPU microseconds per tunnel;
  bulk        one tunnel, a backend streaming from a file with sendfile(2) for D seconds and the
              client reading it: Gbit/s through the tunnel and the proxy's CPU seconds per GB.
The same client code drives every proxy, so its cost is the same in every row; on this small box
it competes with the proxy for CPU, which is why CPU per tunnel and per GB are the figures to
compare. `tcp` (Ringway's tcp:// service, no handshake) shows what the relay path costs alone.
"""
import argparse
import asyncio
import datetime
import json
import os
import socket
import statistics
import struct
import sys
import tempfile
import threading
import time

from . import procs, tools

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(HERE)
PROXIES = ["ringway-http", "ringway-socks5", "ringway-tcp", "squid", "dante"]


class Backends:
    """A sink that accepts and closes (handshake targets) and a sendfile source (bulk)."""

    def __init__(self, ports, workdir):
        self.accept_port, self.stream_port = ports.take(), ports.take()
        self.payload = os.path.join(workdir, "payload.bin")
        with open(self.payload, "wb") as f:
            f.write(b"\0" * (64 << 20))
        self.stream_seconds = 5
        self._stop = False
        for port, target in ((self.accept_port, self._accept_loop), (self.stream_port, self._stream_loop)):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
            s.listen(4096)
            threading.Thread(target=target, args=(s,), daemon=True).start()

    def _accept_loop(self, listener):
        while not self._stop:
            try:
                conn, _ = listener.accept()
                conn.close()
            except OSError:
                return

    def _stream_loop(self, listener):
        while not self._stop:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=self._stream, args=(conn,), daemon=True).start()

    def _stream(self, conn):
        deadline = time.monotonic() + self.stream_seconds
        with open(self.payload, "rb") as f:
            try:
                while time.monotonic() < deadline:
                    offset = 0
                    while offset < (64 << 20) and time.monotonic() < deadline:
                        sent = os.sendfile(conn.fileno(), f.fileno(), offset, 8 << 20)
                        if sent <= 0:
                            break
                        offset += sent
            except OSError:
                pass
        conn.close()


def connect_request(kind, port):
    """The bytes a client sends to open a tunnel to 127.0.0.1:port, and the reply length to await."""
    if kind == "http":
        return f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode(), None
    if kind == "socks5":
        return bytes([5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1]) + struct.pack(">H", port), 2 + 10
    return b"", 0


async def _one_tunnel(kind, proxy_port, target_port):
    request, reply_length = connect_request(kind, target_port)
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy_port)
    try:
        if request:
            writer.write(request)
            if reply_length is None:
                head = await reader.readuntil(b"\r\n\r\n")
                if not head.startswith(b"HTTP/1.1 200") and not head.startswith(b"HTTP/1.0 200"):
                    raise RuntimeError(head[:40])
            else:
                reply = await reader.readexactly(reply_length)
                if reply[:2] != b"\x05\x00" or reply[3] != 0:
                    raise RuntimeError(reply)
    finally:
        writer.close()
    return True


async def _handshake_load(kind, proxy_port, target_port, seconds, concurrency):
    deadline = time.monotonic() + seconds
    done = 0
    failed = 0

    async def loop():
        nonlocal done, failed
        while time.monotonic() < deadline:
            try:
                await _one_tunnel(kind, proxy_port, target_port)
                done += 1
            except Exception:
                failed += 1
                await asyncio.sleep(0.01)

    await asyncio.gather(*(loop() for _ in range(concurrency)))
    return done, failed


def handshakes(kind, proxy_port, target_port, roots, seconds, concurrency):
    cpu0, t0 = procs.tree_cpu_seconds(roots), time.monotonic()
    done, failed = asyncio.run(_handshake_load(kind, proxy_port, target_port, seconds, concurrency))
    elapsed, cpu = time.monotonic() - t0, procs.tree_cpu_seconds(roots) - cpu0
    return {"tunnels_per_s": done / elapsed, "failed": failed,
            "cpu_us_per_tunnel": cpu / done * 1e6 if done else None}


def bulk(kind, proxy_port, stream_port, roots, seconds):
    request, reply_length = connect_request(kind, stream_port)
    s = socket.create_connection(("127.0.0.1", proxy_port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    if request:
        s.sendall(request)
        got = b""
        want = reply_length
        while (want is None and b"\r\n\r\n" not in got) or (want is not None and len(got) < want):
            chunk = s.recv(1 if want is None else want - len(got))
            if not chunk:
                raise RuntimeError("proxy closed during the handshake")
            got += chunk
    buffer = bytearray(4 << 20)
    view = memoryview(buffer)
    total = 0
    cpu0, t0 = procs.tree_cpu_seconds(roots), time.monotonic()
    while True:
        n = s.recv_into(view)
        if n == 0:
            break
        total += n
    elapsed, cpu = time.monotonic() - t0, procs.tree_cpu_seconds(roots) - cpu0
    s.close()
    gb = total / 1e9
    return {"gbps": total * 8 / elapsed / 1e9, "cpu_s_per_gb": cpu / gb if gb else None}


def start_proxy(name, port, workdir, ringway, workers, log):
    if name.startswith("ringway"):
        url = {"ringway-http": f"http://127.0.0.1:{port}", "ringway-socks5": f"socks5://127.0.0.1:{port}",
               "ringway-tcp": None}[name]
        if url is None:
            return None
        return procs.Proc(name, [ringway, "-L", url, "--workers", str(workers), "--log-level", "warn"], log)
    if name == "squid":
        cache = os.path.join(workdir, f"squid-{port}")
        os.makedirs(cache, exist_ok=True)
        os.chmod(cache, 0o777)
        conf = os.path.join(cache, "squid.conf")
        with open(conf, "w") as f:
            f.write(f"""http_port 127.0.0.1:{port}
acl loopback src 127.0.0.0/8
http_access allow loopback
http_access deny all
cache deny all
access_log none
cache_log {cache}/cache.log
pid_filename {cache}/squid.pid
coredump_dir {cache}
shutdown_lifetime 0 seconds
max_filedescriptors 16384
""")
        return procs.Proc(name, [tools.which("squid"), "-N", "-f", conf], log)
    if name == "dante":
        conf = os.path.join(workdir, f"danted-{port}.conf")
        with open(conf, "w") as f:
            f.write(f"""logoutput: {workdir}/danted-{port}.log
internal: 127.0.0.1 port = {port}
external: 127.0.0.1
clientmethod: none
socksmethod: none
user.privileged: root
user.unprivileged: nobody
client pass {{ from: 127.0.0.0/8 to: 0.0.0.0/0 }}
socks pass {{ from: 127.0.0.0/8 to: 0.0.0.0/0 command: connect }}
""")
        return procs.Proc(name, [tools.which("danted"), "-f", conf, "-N", str(workers)], log)
    raise ValueError(name)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="proxies", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--proxies", default=",".join(PROXIES), help=f"comma list from {','.join(PROXIES)}")
    ap.add_argument("--workers", type=int, default=1, help="ringway --workers, dante -N (default 1; squid: 1)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5, help="seconds per measurement (default 5)")
    ap.add_argument("--concurrency", type=int, default=32, help="concurrent handshake clients (default 32)")
    ap.add_argument("--ringway", default=os.path.join(REPO, ".build/release/ringway"))
    ap.add_argument("--base-port", type=int, default=23000)
    ap.add_argument("--out", help="results directory (default bench-scripts/results/proxies-<timestamp>)")
    args = ap.parse_args(sys.argv[1:] if argv is None else argv)
    names = [n for n in PROXIES if n in args.proxies.split(",")]
    procs.install_cleanup()
    procs.raise_fd_limit()
    missing = tools.ensure_tools([b for n, b in (("squid", "squid"), ("dante", "danted")) if n in names])
    if missing:
        sys.exit("proxies: missing " + "; ".join(missing.values()))
    out = os.path.abspath(args.out or os.path.join(HERE, "results", "proxies-" + datetime.datetime.now().strftime("%Y%m%d-%H%M%S")))
    workdir = os.path.join(out, "work")
    os.makedirs(workdir, exist_ok=True)
    os.chmod(workdir, 0o777)
    ports = procs.PortAllocator(args.base_port)
    backends = Backends(ports, workdir)
    backends.stream_seconds = args.duration
    running, kinds = {}, {}
    for name in names:
        port = ports.take()
        kind = "http" if name in ("ringway-http", "squid") else "socks5" if name in ("ringway-socks5", "dante") else "tcp"
        if name == "ringway-tcp":
            proc = procs.Proc(name, [args.ringway, "-L", f"tcp://127.0.0.1:{port}/127.0.0.1:{backends.stream_port}",
                                     "--workers", str(args.workers), "--log-level", "warn"],
                              os.path.join(workdir, f"{name}.log"))
        else:
            proc = start_proxy(name, port, workdir, args.ringway, args.workers, os.path.join(workdir, f"{name}.log"))
        running[name] = (proc, port)
        kinds[name] = kind
    procs.wait_listening([p for _, p in running.values()], timeout=20, procs=[p for p, _ in running.values()])
    results = {n: {"tunnels_per_s": [], "cpu_us_per_tunnel": [], "gbps": [], "cpu_s_per_gb": []} for n in names}
    for round_ in range(args.rounds):
        order = names[round_ % len(names):] + names[:round_ % len(names)]
        for name in order:
            proc, port = running[name]
            roots = [proc.pid]
            if kinds[name] != "tcp":
                h = handshakes(kinds[name], port, backends.accept_port, roots, args.duration, args.concurrency)
                results[name]["tunnels_per_s"].append(h["tunnels_per_s"])
                if h["cpu_us_per_tunnel"] is not None:
                    results[name]["cpu_us_per_tunnel"].append(h["cpu_us_per_tunnel"])
                print(f"round {round_ + 1} {name} handshakes: {h}", flush=True)
                time.sleep(1)
            b = bulk(kinds[name], port, backends.stream_port, roots, args.duration)
            results[name]["gbps"].append(b["gbps"])
            if b["cpu_s_per_gb"] is not None:
                results[name]["cpu_s_per_gb"].append(b["cpu_s_per_gb"])
            print(f"round {round_ + 1} {name} bulk: {b}", flush=True)
            time.sleep(1)
    for proc, _ in running.values():
        proc.stop()
    med = {n: {k: (statistics.median(v) if v else None) for k, v in r.items()} for n, r in results.items()}
    env = tools.environment(args.ringway)
    lines = [f"Proxy comparison, {datetime.datetime.now().isoformat(timespec='seconds')}; "
             f"{env['cpus_online']} CPUs; load average {env['loadavg'][0]:.2f}",
             f"rounds {args.rounds} (median), {args.duration} s per figure, {args.concurrency} concurrent "
             f"handshake clients, ringway --workers {args.workers}, dante -N {args.workers}, squid 1 process",
             "", f"{'proxy':16} {'tunnels/s':>10} {'CPU us/tunnel':>14} {'Gbit/s':>8} {'CPU s/GB':>9}"]
    for n in names:
        m = med[n]
        fmt = lambda v, f: (f.format(v) if v is not None else "-")
        lines.append(f"{n:16} {fmt(m['tunnels_per_s'], '{:10,.0f}'):>10} {fmt(m['cpu_us_per_tunnel'], '{:14.1f}'):>14} "
                     f"{fmt(m['gbps'], '{:8.2f}'):>8} {fmt(m['cpu_s_per_gb'], '{:9.3f}'):>9}")
    def ratio(a, b, key, invert=False):
        if a in med and b in med and med[a][key] and med[b][key]:
            value = med[b][key] / med[a][key] if invert else med[a][key] / med[b][key]
            return f"{value:.2f}x"
        return "-"
    lines += ["", "ratios (Ringway / peer; for CPU, peer / Ringway, so > 1 means Ringway uses less):",
              f"  HTTP CONNECT vs squid: tunnels/s {ratio('ringway-http', 'squid', 'tunnels_per_s')}, "
              f"CPU per tunnel {ratio('ringway-http', 'squid', 'cpu_us_per_tunnel', invert=True)}, "
              f"Gbit/s {ratio('ringway-http', 'squid', 'gbps')}, CPU per GB {ratio('ringway-http', 'squid', 'cpu_s_per_gb', invert=True)}",
              f"  SOCKS5 vs dante:       tunnels/s {ratio('ringway-socks5', 'dante', 'tunnels_per_s')}, "
              f"CPU per tunnel {ratio('ringway-socks5', 'dante', 'cpu_us_per_tunnel', invert=True)}, "
              f"Gbit/s {ratio('ringway-socks5', 'dante', 'gbps')}, CPU per GB {ratio('ringway-socks5', 'dante', 'cpu_s_per_gb', invert=True)}",
              f"  tunnel vs tcp://:      HTTP Gbit/s {ratio('ringway-http', 'ringway-tcp', 'gbps')}, "
              f"SOCKS5 Gbit/s {ratio('ringway-socks5', 'ringway-tcp', 'gbps')}, "
              f"HTTP CPU per GB {ratio('ringway-http', 'ringway-tcp', 'cpu_s_per_gb', invert=True)}"]
    table = "\n".join(lines)
    print("\n" + table)
    with open(os.path.join(out, "table.txt"), "w") as f:
        f.write(table + "\n")
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({"median": med, "rounds": results}, f, indent=1)
    print(f"\nresults in {out}")
    return 0
