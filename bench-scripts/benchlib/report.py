"""Metrics, medians, ratios, the printed table, CSV and JSON."""
import csv
import json
import statistics

# key, cell, field in the cell's result, label, unit, better, workload, scale
METRICS = [
    ("bulk_gbps", "bulk", "gbps", "bulk, 1 stream", "Gbit/s", "higher", "bulk", 1),
    ("bulk_rev_gbps", "bulk-R", "gbps", "bulk, 1 stream reverse (-R)", "Gbit/s", "higher", "bulk", 1),
    ("bulk_p4_gbps", "bulk-P4", "gbps", "bulk, 4 streams (-P 4)", "Gbit/s", "higher", "bulk", 1),
    ("close_rps", "close", "rps", "connection rate (Connection: close)", "req/s", "higher", "close", 1),
    ("close_p50_ms", "close", "p50_ms", "connection rate, latency p50", "ms", "lower", "close", 1),
    ("close_p99_ms", "close", "p99_ms", "connection rate, latency p99", "ms", "lower", "close", 1),
    ("ka_rps", "keepalive", "rps", "keep-alive small requests", "req/s", "higher", "keepalive", 1),
    ("ka_p50_ms", "keepalive", "p50_ms", "keep-alive, latency p50", "ms", "lower", "keepalive", 1),
    ("ka_p99_ms", "keepalive", "p99_ms", "keep-alive, latency p99", "ms", "lower", "keepalive", 1),
    ("idle_rss_per_conn", "idle", "rss_per_conn", "idle connection, RSS per connection", "bytes",
     "lower", "idle", 1),
    ("idle_pss_per_conn", "idle", "pss_per_conn", "idle connection, PSS per connection", "bytes",
     "lower", "idle", 1),
    ("cpu_s_per_gb", "bulk", "cpu_s_per_gb", "relay CPU per GB (bulk, 1 stream)", "CPU s/GB",
     "lower", "cpu", 1),
    ("cpu_ms_per_1k_conn", "close", "cpu_s_per_1k_conn", "relay CPU per 1,000 connections (close)",
     "CPU ms/1k conn", "lower", "cpu", 1000),
    ("cpu_us_per_req", "keepalive", "cpu_us_per_req", "relay CPU per request (keep-alive)", "CPU us/req",
     "lower", "cpu", 1),
]
META = {m[0]: m for m in METRICS}

# Short labels for the chart, per metric key
CHART = [("bulk_gbps", "BULK"), ("bulk_rev_gbps", "BULK -R"), ("bulk_p4_gbps", "BULK -P4"),
         ("close_rps", "CLOSE REQ/S"), ("close_p99_ms", "CLOSE P99"), ("ka_rps", "KA REQ/S"),
         ("ka_p99_ms", "KA P99"), ("idle_rss_per_conn", "IDLE RSS"),
         ("cpu_s_per_gb", "CPU/GB"), ("cpu_ms_per_1k_conn", "CPU/1K CONN"), ("cpu_us_per_req", "CPU/REQ")]


def cells_for(workloads):
    """Measurement cells in a fixed order; "cpu" is sampled during the bulk and close cells."""
    want = set()
    if "bulk" in workloads:
        want |= {"bulk", "bulk-R", "bulk-P4"}
    for w in ("close", "keepalive", "idle"):
        if w in workloads:
            want.add(w)
    if "cpu" in workloads:
        want |= {"bulk", "close"}
    return [c for c in ("bulk", "bulk-R", "bulk-P4", "close", "keepalive", "idle") if c in want]


def metrics_for(workloads):
    """The workloads' metrics, and the relay's CPU in every cell measured: it is sampled anyway,
    and CPU per unit is the figure that holds on a noisy machine."""
    cells = cells_for(workloads)
    return [m for m in METRICS if m[6] in workloads or (m[6] == "cpu" and m[1] in cells)]


def summarize(records, workers_list, relays, metrics):
    """-> list of rows: workers, metric, relay, median, min, max, n, n_err, values, errors, ratios."""
    rows = []
    for w in workers_list:
        for m in metrics:
            key, cell, field, *_, scale = m
            per = {}
            for r in relays:
                recs = [x for x in records if x["workers"] == w and x["relay"] == r and x["cell"] == cell]
                vals = [x["result"][field] * scale for x in recs
                        if x.get("result") and x["result"].get(field) is not None]
                errs = [x["error"] for x in recs if x.get("error")]
                per[r] = {"values": vals, "errors": errs, "median": statistics.median(vals) if vals else None}
            for r in relays:
                d = per[r]
                med = d["median"]
                row = {"workers": w, "metric": key, "unit": m[4], "better": m[5], "relay": r,
                       "median": med, "min": min(d["values"]) if d["values"] else None,
                       "max": max(d["values"]) if d["values"] else None,
                       "n": len(d["values"]), "n_err": len(d["errors"]),
                       "values": d["values"], "errors": d["errors"]}
                for ref in ("haproxy", "direct"):
                    base = per.get(ref, {}).get("median")
                    row[f"vs_{ref}"] = med / base if (med is not None and base) else None
                rows.append(row)
    return rows


def fmt(v, unit=""):
    if v is None:
        return "-"
    if unit == "bytes" or abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    if abs(v) >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


def table(rows, workers_list, relays, metrics, skipped):
    out = []
    for w in workers_list:
        out.append(f"\n=== {w} worker{'s' if w > 1 else ''} (threads/processes) per relay ===")
        for m in metrics:
            key, _, _, label, unit, better = m[:6]
            out.append(f"\n{label} [{unit}, {better} is better]")
            out.append(f"  {'relay':<16}{'median':>12}  {'min..max':>21}  {'ok':>5}  "
                       f"{'x haproxy':>9}  {'x direct':>8}")
            for r in relays:
                if r in skipped:
                    continue
                row = next(x for x in rows if x["workers"] == w and x["metric"] == key and x["relay"] == r)
                total = row["n"] + row["n_err"]
                if row["median"] is None:
                    if row["n_err"]:
                        out.append(f"  {r:<16}FAILED: {row['errors'][0][:90]}")
                    else:
                        out.append(f"  {r:<16}{'n/a':>12}")
                    continue
                rng = f"{fmt(row['min'], unit)}..{fmt(row['max'], unit)}"
                line = (f"  {r:<16}{fmt(row['median'], unit):>12}  {rng:>21}  {row['n']:>2}/{total:<2}  "
                        f"{fmt(row['vs_haproxy']):>9}  {fmt(row['vs_direct']):>8}")
                if row["n_err"]:
                    line += f"  ({row['n_err']} failed: {row['errors'][0][:60]})"
                out.append(line)
    return "\n".join(out) + "\n"


SHORT = {"bulk_gbps": "bulk", "bulk_rev_gbps": "bulk -R", "bulk_p4_gbps": "bulk -P 4",
         "close_rps": "close", "close_p50_ms": "close p50", "close_p99_ms": "close p99",
         "ka_rps": "keep-alive", "ka_p50_ms": "keep-alive p50", "ka_p99_ms": "keep-alive p99",
         "idle_rss_per_conn": "idle RSS/conn", "idle_pss_per_conn": "idle PSS/conn",
         "cpu_s_per_gb": "CPU per GB", "cpu_ms_per_1k_conn": "CPU per 1k conn",
         "cpu_us_per_req": "CPU per req"}


def matrix(rows, workers_list, relays, metrics, skipped):
    """Compact overview: one line per metric, 'median (x haproxy)' per relay."""
    shown = [r for r in relays if r not in skipped]
    out = []
    for w in workers_list:
        out.append(f"\n=== overview, {w} worker{'s' if w > 1 else ''}: median (x haproxy) ===")
        out.append(f"{'metric':<16}{'unit':<15}" + "".join(f"{r:>19}" for r in shown))
        for m in metrics:
            cells = []
            for r in shown:
                row = next(x for x in rows if x["workers"] == w and x["metric"] == m[0] and x["relay"] == r)
                if row["median"] is None:
                    cells.append("FAILED" if row["n_err"] else "-")
                else:
                    v = row["vs_haproxy"]
                    ratio = "" if v is None else f" ({v:.2f})" if v < 10 else f" ({v:.1f})" if v < 100 \
                        else f" ({v:.0f})"
                    cells.append(fmt(row["median"], m[4]) + ratio)
            out.append(f"{SHORT.get(m[0], m[0]):<16}{m[4]:<15}" + "".join(f"{c:>19}" for c in cells))
    return "\n".join(out) + "\n"


def write_csv(path, rows):
    cols = ["workers", "metric", "unit", "better", "relay", "median", "min", "max", "n", "n_err",
            "vs_haproxy", "vs_direct", "values", "errors"]
    with open(path, "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(cols)
        for r in rows:
            wr.writerow([";".join(f"{v:.6g}" for v in r[c]) if c == "values"
                         else " | ".join(r[c]) if c == "errors"
                         else ("" if r[c] is None else (f"{r[c]:.6g}" if isinstance(r[c], float) else r[c]))
                         for c in cols])


def write_json(path, doc):
    with open(path, "w") as f:
        json.dump(doc, f, indent=1, default=str)
        f.write("\n")
