"""Where a relay's CPU goes, from folded stacks (folded.txt of `profile`, or any perf script
output folded by flamegraph.fold): each sample is put in one layer, the first that matches
from the top of this list, so the TCP work that io_uring or a system call starts counts as TCP."""
import argparse
import collections
import gzip
import sys

# (layer, test on the sample's frames, without the "_[k]" kernel marks)
NETWORK_PREFIXES = ("tcp_", "__tcp_", "inet_", "__inet_", "inet6_", "ip_", "__ip_", "ipv6_", "ip6_",
                    "sock_", "__sock_", "sk_", "__sk_", "skb_", "__skb_", "__sys_socket", "__sys_connect",
                    "__sys_accept", "__sys_shutdown", "__sys_sendto", "__sys_recvfrom", "__sys_setsockopt",
                    "__sys_getsockopt", "__sys_getpeername", "__sys_getsockname", "do_sock_", "net_rx_action",
                    "__netif_", "netif_", "process_backlog", "__dev_queue_xmit", "dev_hard_start_xmit",
                    "loopback_xmit", "bbr_", "__napi_", "napi_")
LAYERS = (
    ("TCP/IP and sockets", lambda fs: any(f.startswith(NETWORK_PREFIXES) for f in fs)),
    ("io_uring", lambda fs: any(f.startswith(("io_", "__io_")) or "io_uring" in f for f in fs)),
    ("epoll", lambda fs: any("epoll" in f for f in fs)),
    ("scheduler", lambda fs: any(f in ("schedule", "__schedule", "finish_task_switch.isra.0") for f in fs)),
    ("other kernel", lambda fs: any(f.endswith("_[k]") for f in fs)),
    ("user space", lambda fs: True),
)


def shares(folded_lines):
    counts = collections.Counter()
    for line in folded_lines:
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")[1:]  # the first is the thread's name
        plain = [f[:-4] if f.endswith("_[k]") else f for f in frames]
        for layer, matches in LAYERS:
            if matches(frames if layer == "other kernel" else plain):
                counts[layer] += int(count)
                break
    return counts


def main(argv=None):
    ap = argparse.ArgumentParser(prog="shares", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folded", nargs="+", help="folded stacks, one file per profile (.gz is read as gzip)")
    ap.add_argument("--per-unit", type=float, action="append",
                    help="the profiled relay's CPU per unit (e.g. us per request), once per file: each "
                         "layer is also given in that unit")
    args = ap.parse_args(argv)
    if args.per_unit and len(args.per_unit) != len(args.folded):
        ap.error("give --per-unit once per file, or not at all")
    for index, path in enumerate(args.folded):
        try:
            with (gzip.open(path, "rt") if path.endswith(".gz") else open(path)) as f:
                counts = shares(f)
        except (OSError, EOFError) as e:
            sys.exit(f"shares: {path}: {e}")
        total = sum(counts.values())
        print(f"{path}: {total} samples")
        if not total:
            continue
        for layer, _ in LAYERS:
            share = counts[layer] / total
            unit = f"  {share * args.per_unit[index]:8.2f}" if args.per_unit else ""
            print(f"  {layer:<20} {share * 100:5.1f}%{unit}")
    return 0
