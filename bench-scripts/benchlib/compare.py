"""bench-scripts/compare: Ringway against HAProxy, nginx stream and socat, in one run."""
import argparse
import datetime
import json
import os
import shlex
import sys
import time
import traceback

from . import backends, pngchart, procs, relays, report, tools, workloads

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # bench-scripts/
REPO = os.path.dirname(HERE)
WORKLOADS = ["bulk", "close", "keepalive", "idle", "cpu"]
MAX_IDLE = 6000  # haproxy maxconn 7000 (2 fds each, plus pipes with splice) within 20000 fds


def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog="compare",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Compare Ringway with HAProxy, HAProxy+splice, nginx stream, socat and a direct "
                    "connection on loopback,\nall in one run, and report medians and ratios.",
        epilog="""workloads:
  bulk       iperf3, one stream, one stream reverse (-R), four streams (-P 4): Gbit/s
  close      wrk with "Connection: close" (a new connection per request): req/s, p50, p99
  keepalive  wrk on persistent connections, 13-byte responses: req/s, p50, p99
  idle       N idle relayed connections: RSS (and PSS) of the relay's process tree per connection
  cpu        relay CPU seconds per GB (during bulk) and per 1,000 connections (during close);
             selecting it runs the bulk and close cells
Results go to bench-scripts/results/<timestamp>/ (table.txt, results.csv, results.json, chart.png).
See bench-scripts/README.md for the method and caveats.""")
    ap.add_argument("--relays",
                    help=f"comma list from {','.join(relays.NAMES)} (default: all; ringway-base only "
                         "with --baseline)")
    ap.add_argument("--workloads", default=",".join(WORKLOADS),
                    help=f"comma list from {','.join(WORKLOADS)} (default: all)")
    ap.add_argument("--workers", default="1,2", help="worker/thread/process counts (default 1,2)")
    ap.add_argument("--rounds", type=int, help="rounds per figure; the median is reported (default 3)")
    ap.add_argument("--duration", type=int, help="seconds per iperf3/wrk run (default 5)")
    ap.add_argument("--idle-connections", type=int, help="idle relayed connections (default 2000)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke test: 1 round, 2 s runs, 200 idle connections (explicit flags win)")
    ap.add_argument("--ringway", default=".build/release/ringway",
                    help="ringway binary; relative paths are tried from the current directory, "
                         "then from the repository root (default .build/release/ringway)")
    ap.add_argument("--baseline",
                    help="an earlier ringway binary, measured as relay ringway-base beside ringway in the "
                         "same run (before/after comparisons); same --ringway-args and --ringway-keys")
    ap.add_argument("--ringway-args", default="",
                    help="extra ringway options, e.g. \"--buffer-size 32768\" (default none)")
    ap.add_argument("--ringway-keys", default="",
                    help="keys appended to every ringway -L URL, e.g. \"splice=on\" (default none)")
    ap.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (default 1)")
    ap.add_argument("--wrk-connections", type=int, default=50, help="wrk connections (default 50)")
    ap.add_argument("--backend-workers", type=int, default=1,
                    help="worker_processes of the backend nginx HTTP server (default 1)")
    ap.add_argument("--out", help="results directory (default bench-scripts/results/<timestamp>)")
    ap.add_argument("--base-port", type=int, default=21000,
                    help="first loopback port to use; ports stay below 32000 (default 21000)")
    ap.add_argument("--no-install", action="store_true", help="never apt-get install missing tools")
    ap.add_argument("--report", metavar="DIR",
                    help="measure nothing: write DIR's tables, CSV and chart again from its results.json "
                         "(e.g. after a change to what the tables show)")
    a = ap.parse_args(argv)
    a.rounds = a.rounds or (1 if a.quick else 3)
    a.duration = a.duration or (2 if a.quick else 5)
    a.idle_connections = a.idle_connections or (200 if a.quick else 2000)
    if a.relays is None:
        a.relays = ",".join(r for r in relays.NAMES if r not in relays.OPTIONAL or a.baseline)
    a.relays = _list(ap, a.relays, relays.NAMES, "relay")
    a.workloads = _list(ap, a.workloads, WORKLOADS, "workload")
    try:
        a.workers = [int(x) for x in a.workers.split(",") if x.strip()]
    except ValueError:
        ap.error("--workers takes numbers, e.g. 1,2")
    if not a.workers or min(a.workers) < 1:
        ap.error("--workers needs at least one count >= 1")
    if a.rounds < 1 or a.duration < 1:
        ap.error("--rounds and --duration must be >= 1")
    if not 1024 <= a.base_port <= 31000:
        ap.error("--base-port must be 1024..31000 (ports stay below the ephemeral range)")
    if not 1 <= a.idle_connections <= MAX_IDLE:
        ap.error(f"--idle-connections must be 1..{MAX_IDLE}: the relay holds two descriptors per "
                 "connection within the 20000 file limit")
    a.ringway = _resolve(a.ringway)
    a.baseline = _resolve(a.baseline) if a.baseline else None
    return a


def _list(ap, text, allowed, what):
    items = [x.strip() for x in text.split(",") if x.strip()]
    bad = [x for x in items if x not in allowed]
    if bad or not items:
        ap.error(f"unknown {what}(s) {bad or text!r}; choose from {','.join(allowed)}")
    return [x for x in allowed if x in items]  # canonical order


def _resolve(path):
    if os.path.isabs(path) or os.path.exists(path):
        return os.path.abspath(path)
    return os.path.join(REPO, path)


def placement_note(nginx_workers):
    return (f"Placement: nothing is pinned. Load generators (iperf3 client, wrk, idle client), "
            f"backends (iperf3 server, nginx HTTP with {nginx_workers} worker(s), idle server) and the "
            f"relay share all {os.cpu_count()} CPUs under the normal scheduler. The generators and "
            f"backends compete with the relay for CPU in the same way for every relay; 'direct' shows "
            f"what they reach with no relay in between.")


def header(env, args, skipped):
    v = env["versions"]
    lines = [
        f"Ringway comparison, {datetime.datetime.now().isoformat(timespec='seconds')}",
        f"kernel {env['kernel']}; {env['cpus_online']} x {env['cpu']}; {env['memory']}; "
        f"fd limit {env['fd_limit'][0]}; somaxconn {env['somaxconn']}; "
        f"io_uring_disabled {env['io_uring_disabled']}",
        *[f"  {k}: {val}" for k, val in v.items()],
        f"load average {env['loadavg'][0]:.2f} {env['loadavg'][1]:.2f} {env['loadavg'][2]:.2f}",
    ]
    for share, pid, comm in env.get("busy", []):
        lines.append(f"  busy: pid {pid} ({comm}) {share * 100:.0f}% of a CPU")
    if env["loadavg"][0] > 0.5 or env.get("busy"):
        lines.append("WARNING: the machine is not quiet (load average > 0.5 or a busy process): "
                     "figures will be noisy and lower; compare only within this run.")
    lines.append(placement_note(args.backend_workers))
    lines.append(f"rounds {args.rounds} (median reported, relays interleaved within each round and "
                 f"rotated between rounds); {args.duration} s per iperf3/wrk run; wrk -t "
                 f"{args.wrk_threads} -c {args.wrk_connections}; {args.idle_connections} idle connections")
    lines.append("workers per relay: " + "; ".join(
        f"{r}: {relays.WORKER_MEANING[r]}" for r in args.relays))
    if args.ringway_args or args.ringway_keys:
        lines.append(f"ringway options: {args.ringway_args or '(none)'}; URL keys: {args.ringway_keys or '(none)'}")
    for r, why in skipped.items():
        lines.append(f"SKIPPED {r}: {why}")
    return "\n".join(lines)


def run_cell(cell, inst, args, workdir):
    port_kind = "bulk" if cell.startswith("bulk") else "idle" if cell == "idle" else "http"
    port = inst.ports[port_kind]
    if cell in workloads.BULK_CELLS:
        return workloads.bulk(cell, port, inst.roots, args.duration)
    if cell in ("close", "keepalive"):
        return workloads.http_load(cell, port, inst.roots, args.duration, args.wrk_threads,
                                   args.wrk_connections)
    if cell == "idle":
        return workloads.idle(port, inst.roots, args.idle_connections,
                              max(30, args.idle_connections / 50), workdir)
    raise ValueError(cell)


def describe(cell, res):
    if res is None:
        return "n/a"
    if cell.startswith("bulk"):
        s = f"{res['gbps']:.2f} Gbit/s"
        return s + (f", {res['cpu_s_per_gb']:.3f} CPU s/GB" if res.get("cpu_s_per_gb") is not None else "")
    if cell in ("close", "keepalive"):
        s = f"{res['rps']:,.0f} req/s p50 {res.get('p50_ms', 0):.2f} ms p99 {res.get('p99_ms', 0):.2f} ms"
        if res.get("cpu_s_per_1k_conn") is not None:
            s += f", {res['cpu_s_per_1k_conn'] * 1000:.1f} CPU ms/1k conn"
        if res.get("cpu_us_per_req") is not None:
            s += f", {res['cpu_us_per_req']:.1f} CPU us/req"
        return s
    if cell == "idle":
        return f"{res['rss_per_conn']:,.0f} B RSS/conn ({res['pss_per_conn']:,.0f} B PSS)"
    return str(res)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.report:
        return report_again(args.report)
    procs.install_cleanup()
    procs.raise_fd_limit()
    cells = report.cells_for(args.workloads)
    metrics = report.metrics_for(args.workloads)

    need = ["nginx"]  # the HTTP backend also serves the pre-measurement check
    if any(c.startswith("bulk") for c in cells):
        need.append("iperf3")
    if "close" in cells or "keepalive" in cells:
        need.append("wrk")
    for r, b in (("haproxy", "haproxy"), ("haproxy-splice", "haproxy"), ("socat", "socat")):
        if r in args.relays and b not in need:
            need.append(b)
    missing = tools.ensure_tools(need, need_stream="nginx" in args.relays, allow_install=not args.no_install)
    hard = [m for b, m in missing.items() if b in ("nginx", "iperf3", "wrk")]
    if hard:
        sys.exit("compare: cannot measure without: " + "; ".join(hard))

    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = os.path.abspath(args.out or os.path.join(HERE, "results", stamp))
    workdir = os.path.join(out, "work")
    os.makedirs(workdir, exist_ok=True)
    ports = procs.PortAllocator(args.base_port)
    rl = relays.Relays(workdir, ports, args.ringway, shlex.split(args.ringway_args), args.ringway_keys,
                       args.baseline)
    skipped = {r: why for r in args.relays if (why := rl.unavailable(r))}
    active = [r for r in args.relays if r not in skipped]

    env = tools.environment(args.ringway)
    env["busy"] = procs.busy_processes(exclude={os.getpid()})
    head = header(env, args, skipped)
    print(head, flush=True)
    n_runs = args.rounds * len(args.workers) * len(cells) * len(active)
    per = {"bulk": args.duration, "bulk-R": args.duration, "bulk-P4": args.duration,
           "close": args.duration, "keepalive": args.duration, "idle": 2 + args.idle_connections / 1000}
    est = args.rounds * len(args.workers) * len(active) * sum(per[c] + 2.2 for c in cells)
    print(f"\n{n_runs} measurements, about {est / 60:.0f} min; results in {out}\n", flush=True)

    records = []
    started = datetime.datetime.now().isoformat(timespec="seconds")
    be = backends.Backends(workdir, ports, args.backend_workers)
    try:
        be.start()
        for rnd in range(args.rounds):
            order = active[rnd % len(active):] + active[:rnd % len(active)] if active else []
            for w in args.workers:
                for cell in cells:
                    for r in order:
                        records.append(measure(rl, be, r, w, cell, rnd, args, workdir))
    except KeyboardInterrupt:
        print("\ninterrupted: writing what was measured so far", file=sys.stderr)
    finally:
        be.stop()
        procs.cleanup_all()

    doc = {"started": started, "finished": datetime.datetime.now().isoformat(timespec="seconds"),
           "argv": sys.argv, "config": vars(args), "environment": env,
           "placement": placement_note(args.backend_workers), "worker_meaning": relays.WORKER_MEANING,
           "skipped": skipped, "records": records}
    write_results(out, head, doc, args)
    return 0


def write_results(out, head, doc, args):
    """Tables (printed and table.txt), results.csv, results.json and chart.png from the records."""
    metrics = report.metrics_for(args.workloads)
    records, skipped = doc["records"], doc["skipped"]
    rows = report.summarize(records, args.workers, args.relays, metrics)
    text = report.table(rows, args.workers, args.relays, metrics, skipped)
    text += report.matrix(rows, args.workers, args.relays, metrics, skipped)
    loads = [r["load1"] for r in records]
    if loads:
        text += (f"\nload average (1 min) at the measurements: min {min(loads):.2f}, max {max(loads):.2f}"
                 f" (the run itself adds about 1-2 on {os.cpu_count()} CPUs)\n")
    print(text)
    with open(os.path.join(out, "table.txt"), "w") as f:
        f.write(head + "\n" + text)
    report.write_csv(os.path.join(out, "results.csv"), rows)
    report.write_json(os.path.join(out, "results.json"), {**doc, "summary": rows})
    draw_chart(os.path.join(out, "chart.png"), rows, args, metrics)
    print(f"results: {out}/ (table.txt results.csv results.json chart.png; logs and configs in work/)")


def report_again(directory):
    """--report: the tables of an earlier run, from its records, under its original header."""
    path = os.path.join(directory, "results.json")
    try:
        with open(path) as f:
            doc = json.load(f)
        args = argparse.Namespace(**doc["config"])
        with open(os.path.join(directory, "table.txt")) as f:
            head = f.read().split("\n\n=== ", 1)[0]
    except (OSError, ValueError, KeyError, TypeError) as e:
        sys.exit(f"compare: --report {directory}: cannot read an earlier run there ({e})")
    write_results(os.path.abspath(directory), head, doc, args)
    return 0


def measure(rl, be, relay, workers, cell, rnd, args, workdir):
    rec = {"round": rnd + 1, "workers": workers, "relay": relay, "cell": cell,
           "time": datetime.datetime.now().isoformat(timespec="seconds"),
           "load1": float(tools.read_first("/proc/loadavg", "0").split()[0]), "result": None, "error": None}
    tag = f"[round {rnd + 1}/{args.rounds} workers {workers}] {cell:<9} {relay:<15}"
    if cell == "idle" and relay == "direct":
        return rec  # nothing to measure without a relay
    inst = None
    try:
        inst = rl.start(relay, workers, dict(be.port))
        procs.check_relays_http(inst.ports["http"], backends.BODY)
        rec["result"] = run_cell(cell, inst, args, workdir)
        if not inst.alive():
            raise RuntimeError("relay exited during the measurement")
        print(f"{tag} {describe(cell, rec['result'])}", flush=True)
    except KeyboardInterrupt:
        raise
    except Exception as e:
        rec["result"] = None
        rec["error"] = f"{e}".strip().replace("\n", " / ")[:400] or type(e).__name__
        if not isinstance(e, RuntimeError):
            rec["traceback"] = traceback.format_exc()
        print(f"{tag} FAILED: {rec['error']}", flush=True)
    finally:
        if inst:
            inst.stop()
    # A failed test can leave iperf3's one-test-at-a-time server stuck; others must be up.
    for kind in list(be.port):
        if not be.healthy(kind) or (rec["error"] and cell.startswith("bulk") and kind == "bulk"):
            be.restart(kind)
    time.sleep(0.2)
    return rec


def draw_chart(path, rows, args, metrics):
    keys = [m[0] for m in metrics]
    groups = [(k, lab) for k, lab in report.CHART if k in keys]
    if not groups:
        return
    panels = []
    for w in args.workers:
        gl = []
        for key, lab in groups:
            d = {}
            for r in args.relays:
                row = next((x for x in rows if x["workers"] == w and x["metric"] == key and x["relay"] == r), None)
                v = row and row["vs_haproxy"]
                if v:
                    v = v if row["better"] == "higher" else 1.0 / v
                d[r] = v or None
            gl.append((lab, d))
        panels.append((f"{w} WORKER{'S' if w > 1 else ''} PER RELAY", gl))
    pngchart.bar_chart(
        path, "RELATIVE TO HAPROXY, HIGHER IS BETTER (MEDIANS OF ONE RUN)",
        "THROUGHPUT AND REQ/S: X / HAPROXY.  LATENCY, RSS, CPU: HAPROXY / X.  DASHED LINE = HAPROXY.  "
        "N/A = NOT MEASURED OR FAILED.", panels, args.relays)
