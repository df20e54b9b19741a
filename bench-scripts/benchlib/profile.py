"""bench-scripts/profile: one workload against ringway under `perf record -g`, flame graph + top symbols."""
import argparse
import datetime
import os
import signal
import subprocess
import sys
import time

from . import backends, flamegraph, procs, relays, tools, workloads
from .compare import HERE, _resolve


def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog="profile", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run one workload against ringway under perf record and write a flame graph "
                    "(flame.svg),\nthe folded stacks and the top 30 symbols (perf report --no-children).",
        epilog="""workloads: bulk (iperf3, 1 stream), close (wrk, Connection: close), keepalive (wrk).
Needs perf (Debian package linux-perf) and permission to use it: root, or
kernel.perf_event_paranoid <= 1 (kernel symbols also need kernel.kptr_restrict = 0).
Results go to bench-scripts/results/profile-<timestamp>-<workload>/.""")
    ap.add_argument("--workload", "-w", default="bulk", choices=["bulk", "close", "keepalive"])
    ap.add_argument("--ringway", default=".build/release/ringway",
                    help="ringway binary (default .build/release/ringway, from the repository root)")
    ap.add_argument("--workers", type=int, default=1, help="ringway --workers (default 1)")
    ap.add_argument("--duration", type=int, default=10, help="seconds of load (default 10)")
    ap.add_argument("--call-graph", default="fp", choices=["fp", "dwarf"],
                    help="fp: frame pointers (default; the release build keeps them); dwarf: unwind "
                         "from stack copies (bigger, slower, works without frame pointers)")
    ap.add_argument("--freq", type=int, default=999, help="samples per second per CPU (default 999)")
    ap.add_argument("--wrk-threads", type=int, default=1)
    ap.add_argument("--wrk-connections", type=int, default=50)
    ap.add_argument("--out", help="results directory")
    ap.add_argument("--no-install", action="store_true", help="never apt-get install missing tools")
    # Escape hatches for checking the pipeline without a ringway binary (not in --help):
    ap.add_argument("--relay", default="ringway", choices=relays.NAMES[:-1], help=argparse.SUPPRESS)
    ap.add_argument("--pid", type=int, help=argparse.SUPPRESS)   # attach to this running process tree
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)  # ... whose clients connect to this port
    a = ap.parse_args(argv)
    if (a.pid is None) != (a.port is None):
        ap.error("--pid and --port go together")
    if a.duration < 1 or a.freq < 1 or a.workers < 1:
        ap.error("--duration, --freq and --workers must be >= 1")
    a.ringway = _resolve(a.ringway)
    return a


def perf_check():
    """Returns the sampling event to use, or exits with a clear reason."""
    paranoid = tools.read_first("/proc/sys/kernel/perf_event_paranoid", "?")
    st, out = tools.run(["perf", "stat", "-e", "cpu-clock", "true"], timeout=30)
    if st != 0:
        hint = ""
        if os.geteuid() != 0 and paranoid not in ("?", "-1", "0", "1"):
            hint = (f"\nkernel.perf_event_paranoid is {paranoid}: run as root, or "
                    f"`sysctl kernel.perf_event_paranoid=1`.")
        sys.exit(f"profile: perf cannot sample here (perf stat -e cpu-clock true exited {st}):\n"
                 f"{out.strip()[-600:]}{hint}\n(A container may also block perf_event_open with seccomp.)")
    _, out = tools.run(["perf", "stat", "-e", "cycles", "true"], timeout=30)
    event = "cycles" if ("cycles" in out and "not supported" not in out and "<not counted>" not in out) \
        else "cpu-clock"
    if event == "cpu-clock":
        print("profile: no hardware cycle counter here (a VM?): sampling the cpu-clock software event")
    if os.geteuid() != 0 and paranoid not in ("-1", "0", "1"):
        print(f"profile: perf_event_paranoid={paranoid}: only user-space frames of your own processes")
    return event


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    procs.install_cleanup()
    procs.raise_fd_limit()
    if args.pid is None:
        why = relays.Relays(None, None, args.ringway).unavailable(args.relay)
        if why:
            sys.exit(f"profile: {args.relay}: {why}")
    need = ["perf", "nginx"] + (["iperf3"] if args.workload == "bulk" else ["wrk"])
    missing = tools.ensure_tools(need, allow_install=not args.no_install)
    if missing:
        sys.exit("profile: " + "; ".join(missing.values()))
    event = perf_check()

    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = os.path.abspath(args.out or os.path.join(HERE, "results", f"profile-{stamp}-{args.workload}"))
    workdir = os.path.join(out, "work")
    os.makedirs(workdir, exist_ok=True)
    ports = procs.PortAllocator(21500)
    rl = relays.Relays(workdir, ports, args.ringway)

    be = backends.Backends(workdir, ports, 1, need=("http", "bulk") if args.workload == "bulk" else ("http",))
    inst = perf = None
    try:
        if args.pid is None:
            be.start()
            inst = rl.start(args.relay, args.workers, dict(be.port))
            procs.check_relays_http(inst.ports["http"], backends.BODY)
            roots, port = inst.roots, inst.ports["bulk" if args.workload == "bulk" else "http"]
        else:
            if not os.path.exists(f"/proc/{args.pid}"):
                sys.exit(f"profile: no process {args.pid}")
            roots, port = [args.pid], args.port
        pids = [st["pid"] for st in procs.tree_stats(roots)]
        data = os.path.join(out, "perf.data")
        cg = "fp" if args.call_graph == "fp" else "dwarf,16384"
        perf = procs.Proc("perf record", ["perf", "record", "-e", event, "-F", args.freq, "-g",
                                          "--call-graph", cg, "-p", ",".join(map(str, pids)), "-o", data],
                          os.path.join(workdir, "logs", "perf-record.log"))
        _wait_file(data, perf)
        print(f"profiling pids {pids} ({args.relay if args.pid is None else 'attached'}) "
              f"for {args.duration} s of {args.workload} ...", flush=True)
        if args.workload == "bulk":
            res = workloads.bulk("bulk", port, roots, args.duration)
            summary = f"{res['gbps']:.2f} Gbit/s"
        else:
            res = workloads.http_load(args.workload, port, roots, args.duration,
                                      args.wrk_threads, args.wrk_connections)
            summary = f"{res['rps']:,.0f} req/s, p99 {res.get('p99_ms', 0):.2f} ms"
        if res.get("cpu_util") is not None:
            summary += f", relay CPU {res['cpu_util'] * 100:.0f}% of one core"
        perf.popen.send_signal(signal.SIGINT)
        try:
            perf.popen.wait(timeout=120)
        except subprocess.TimeoutExpired:
            pass
        if perf.popen.returncode not in (0, -signal.SIGINT, 130):
            sys.exit(f"profile: perf record failed:\n{perf.log_tail()}")
    finally:
        for p in (perf,):
            if p:
                p.stop()
        if inst:
            inst.stop()
        be.stop()

    report(out, data, args, summary, event)
    return 0


def _wait_file(path, proc, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path) and os.path.getsize(path) > 0:
            time.sleep(0.3)
            return
        if not proc.alive():
            sys.exit(f"profile: perf record exited at once:\n{proc.log_tail()}")
        time.sleep(0.05)
    sys.exit("profile: perf record did not start writing within 15 s")


def report(out, data, args, summary, event):
    st, rep = tools.run(["perf", "report", "-i", data, "--stdio", "--no-children", "-F", "overhead,sample,sym,dso",
                         "-g", "none", "--percent-limit", "0"], timeout=600)
    if st != 0:
        print(f"perf report failed: {rep.strip()[-400:]}", file=sys.stderr)
    lines = rep.splitlines()
    top = [ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")][:30]
    head = [ln for ln in lines if ln.startswith("#") and ("Samples" in ln or "Overhead" in ln or "...." in ln)]
    text = flamegraph.demangle_text("\n".join(head + [""] + top) + "\n")
    with open(os.path.join(out, "top-symbols.txt"), "w") as f:
        f.write(f"# workload {args.workload}: {summary}\n{text}")
    try:
        p = subprocess.run(["perf", "script", "-i", data, "-F", "comm,tid,ip,sym,dso"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=900)
        script = p.stdout.decode(errors="replace")
    except subprocess.TimeoutExpired:
        sys.exit("profile: perf script took longer than 15 min")
    stacks = flamegraph.demangle_stacks(flamegraph.fold(script))
    flamegraph.write_folded(os.path.join(out, "folded.txt"), stacks)
    title = (f"{args.relay if args.pid is None else 'pid ' + str(args.pid)} - {args.workload} "
             f"({summary}); perf {event}, call graph {args.call_graph}")
    with open(os.path.join(out, "flame.svg"), "w") as f:
        f.write(flamegraph.render_svg(stacks, title))
    print(f"\n{args.workload}: {summary}")
    print("\n".join(top[:15]))
    print(f"\nresults: {out}/ (flame.svg top-symbols.txt folded.txt perf.data)")
