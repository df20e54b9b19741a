"""perf script output -> folded stacks -> flame graph SVG. Self-written, standard library only."""
import html
import re
import shutil
import subprocess
import zlib

_OFFSET = re.compile(r"\+0x[0-9a-fA-F]+$")


def _frame(line):
    """'  7f12ab sym+0x1f (/usr/lib/x.so)' -> 'sym' (or '[x.so]' when perf has no symbol)."""
    parts = line.strip().split(None, 1)
    if len(parts) < 2:
        return None
    rest = parts[1]
    dso = ""
    i = rest.rfind(" (")
    if i >= 0 and rest.endswith(")"):
        dso = rest[i + 2:-1]
        rest = rest[:i]
    sym = _OFFSET.sub("", rest.strip())
    if not sym or sym == "[unknown]":
        sym = f"[{dso.rsplit('/', 1)[-1].strip('[]') or 'unknown'}]"
    if "kernel.kallsyms" in dso or dso.startswith("[kernel"):
        sym += "_[k]"
    return sym


def fold(perf_script_text):
    """Count identical stacks. A sample is a header line (comm ...) followed by indented frames,
    innermost first, ended by a blank line. Returns {"comm;outer;...;inner": samples}."""
    stacks = {}
    comm, frames = None, []

    def flush():
        if comm is not None:
            chain = []
            for f in reversed(frames):  # fold runs of one unresolved frame (a broken unwind)
                if not (chain and f == chain[-1] and f.startswith("[")):
                    chain.append(f.replace(";", ":"))
            key = ";".join([comm] + chain)
            stacks[key] = stacks.get(key, 0) + 1
    for line in perf_script_text.splitlines():
        if not line.strip():
            flush()
            comm, frames = None, []
        elif line[0] in " \t":
            f = _frame(line)
            if f and comm is not None:
                frames.append(f)
        else:
            flush()
            # the comm may contain spaces; it ends where the pid/tid column starts
            m = re.match(r"^(.*?)\s+\d+(/\d+)?\s", line)
            comm, frames = (m.group(1).strip() if m else line.split()[0]).replace(";", ":"), []
    flush()
    return stacks


def demangle_names(names):
    """Swift symbols ($s..., _$s...) to readable names with swift-demangle, if installed."""
    tool = shutil.which("swift-demangle")
    argv = [tool] if tool else ([shutil.which("swift"), "demangle"] if shutil.which("swift") else None)
    mangled = sorted({n for n in names if n.startswith(("$s", "_$s", "$S", "_$S", "_T0"))})
    if not argv or not mangled:
        return {}
    try:
        p = subprocess.run(argv + ["--simplified", "--compact"], input="\n".join(mangled).encode(),
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return {}
    out = p.stdout.decode(errors="replace").splitlines()
    if len(out) != len(mangled):
        return {}
    return {m: d.replace(";", ":") for m, d in zip(mangled, out)}


def demangle_stacks(stacks):
    names = {f for k in stacks for f in k.split(";")}
    table = demangle_names({n[:-4] if n.endswith("_[k]") else n for n in names})
    if not table:
        return stacks
    out = {}
    for k, v in stacks.items():
        nk = ";".join(table.get(f, f) for f in k.split(";"))
        out[nk] = out.get(nk, 0) + v
    return out


def demangle_text(text):
    """Demangle Swift symbols inside free text (perf report output)."""
    tool = shutil.which("swift-demangle")
    argv = [tool, "--simplified"] if tool else (
        [shutil.which("swift"), "demangle", "--simplified"] if shutil.which("swift") else None)
    if not argv:
        return text
    try:
        p = subprocess.run(argv, input=text.encode(), stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, timeout=60)
        return p.stdout.decode(errors="replace") if p.returncode == 0 else text
    except (OSError, subprocess.TimeoutExpired):
        return text


def write_folded(path, stacks):
    with open(path, "w") as f:
        for k, v in sorted(stacks.items()):
            f.write(f"{k} {v}\n")


# ------------------------------------------------------------------ SVG

class _Node:
    __slots__ = ("name", "value", "kids")

    def __init__(self, name):
        self.name, self.value, self.kids = name, 0, {}


def _tree(stacks):
    root = _Node("all")
    for k, v in stacks.items():
        node = root
        node.value += v
        for f in k.split(";"):
            node = node.kids.setdefault(f, _Node(f))
            node.value += v
    return root


def _color(name):
    h = zlib.crc32(name.encode())
    if name.endswith("_[k]"):
        return f"rgb({225 + h % 30},{150 + (h >> 8) % 50},{40 + (h >> 16) % 40})"   # kernel: orange
    if name.startswith("[") or name == "all":
        return "rgb(190,190,190)"
    return f"rgb({215 + h % 40},{70 + (h >> 8) % 60},{70 + (h >> 16) % 40})"       # user: red


def render_svg(stacks, title, width=1200, frame_h=17, min_px=0.3):
    root = _tree(stacks)
    total = root.value or 1
    rects = []
    depth_max = 0

    def walk(node, x, depth):
        nonlocal depth_max
        w = node.value / total * (width - 20)
        if w < min_px:
            return
        depth_max = max(depth_max, depth)
        rects.append((x, depth, w, node))
        cx = x
        for kid in sorted(node.kids.values(), key=lambda n: n.name):
            walk(kid, cx, depth + 1)
            cx += kid.value / total * (width - 20)
    walk(root, 10, 0)
    top = 40
    height = top + (depth_max + 1) * frame_h + 30
    out = [f'<?xml version="1.0" standalone="no"?>',
           f'<svg version="1.1" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="monospace" font-size="11">',
           f'<rect x="0" y="0" width="{width}" height="{height}" fill="rgb(250,250,245)"/>',
           f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="15">{html.escape(title)}</text>',
           f'<text x="10" y="{height - 10}" fill="rgb(90,90,90)">{total} samples. Width = share of '
           f'samples; bottom = outermost frame; hover a frame for its count. _[k] = kernel.</text>']
    for x, depth, w, node in rects:
        y = height - 30 - (depth + 1) * frame_h
        pct = node.value * 100.0 / total
        label = html.escape(node.name)
        out.append(f'<g><title>{label} ({node.value} samples, {pct:.2f}%)</title>'
                   f'<rect x="{x:.2f}" y="{y}" width="{max(w - 0.5, 0.1):.2f}" height="{frame_h - 1}" '
                   f'fill="{_color(node.name)}" rx="2"/>')
        chars = int((w - 6) / 6.6)
        if chars >= 3:
            text = node.name if len(node.name) <= chars else node.name[:chars - 2] + ".."
            out.append(f'<text x="{x + 3:.2f}" y="{y + frame_h - 5}">{html.escape(text)}</text>')
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"
