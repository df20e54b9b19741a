"""External tools: find them, install missing ones from Debian, describe the environment."""
import os
import platform
import re
import shutil
import subprocess
import sys

# haproxy and nginx live in /usr/sbin, which a non-root PATH may lack; children inherit this.
for _d in ("/usr/sbin", "/sbin"):
    if _d not in os.environ.get("PATH", "").split(":"):
        os.environ["PATH"] = os.environ.get("PATH", "") + ":" + _d

# binary -> Debian package that provides it
PACKAGES = {
    "haproxy": "haproxy",
    "nginx": "nginx",
    "socat": "socat",
    "iperf3": "iperf3",
    "wrk": "wrk",
    "perf": "linux-perf",
    "squid": "squid",
    "danted": "dante-server",
}
NGINX_STREAM_PACKAGE = "libnginx-mod-stream"
NGINX_STREAM_PATHS = ("/usr/lib/nginx/modules/ngx_stream_module.so",
                      "/usr/share/nginx/modules/ngx_stream_module.so")


def run(argv, timeout=20):
    """Run a short command; returns (status, combined output). Never raises for a missing tool."""
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           stdin=subprocess.DEVNULL, timeout=timeout)
        return p.returncode, p.stdout.decode(errors="replace")
    except FileNotFoundError:
        return 127, f"{argv[0]}: not found"
    except subprocess.TimeoutExpired:
        return 124, f"{argv[0]}: timed out after {timeout}s"


def which(name):
    return shutil.which(name)


def nginx_stream_module():
    """'static' if nginx has stream built in, the .so path if dynamic and installed, else None."""
    _, out = run([which("nginx") or "nginx", "-V"])
    if "--with-stream" in out and "--with-stream=dynamic" not in out:
        return "static"
    for p in NGINX_STREAM_PATHS:
        if os.path.exists(p):
            return p
    return None


def ensure_tools(binaries, need_stream=False, allow_install=True):
    """Install what is missing with apt-get (root only). Returns {binary: reason} still missing."""
    missing = [b for b in binaries if not which(b)]
    pkgs = [PACKAGES[b] for b in missing]
    if need_stream and (which("nginx") or "nginx" in missing) and nginx_stream_module() is None:
        pkgs.append(NGINX_STREAM_PACKAGE)
    if pkgs and allow_install:
        if os.geteuid() == 0 and which("apt-get"):
            print(f"installing missing Debian packages: {' '.join(pkgs)}", flush=True)
            env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
            for argv in (["apt-get", "update"],
                         ["apt-get", "install", "-y", "--no-install-recommends"] + pkgs):
                try:
                    subprocess.run(argv, env=env, timeout=600, check=False,
                                   stdout=sys.stderr, stdin=subprocess.DEVNULL)
                except subprocess.TimeoutExpired:
                    print(f"{' '.join(argv)} timed out", file=sys.stderr)
        else:
            print(f"cannot install {' '.join(pkgs)}: not root or no apt-get", file=sys.stderr)
    still = {}
    for b in binaries:
        if not which(b):
            still[b] = f"{b} not installed (Debian package {PACKAGES[b]})"
    if need_stream and which("nginx") and nginx_stream_module() is None:
        still["nginx-stream"] = f"nginx stream module missing (Debian package {NGINX_STREAM_PACKAGE})"
    return still


def first_line(text):
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def versions(ringway_path=None):
    v = {}
    _, out = run(["haproxy", "-v"]); v["haproxy"] = first_line(out)
    _, out = run(["nginx", "-v"]); v["nginx"] = first_line(out)
    _, out = run(["iperf3", "-v"]); v["iperf3"] = first_line(out)
    _, out = run(["wrk", "-v"]); v["wrk"] = first_line(out)
    _, out = run(["socat", "-V"])
    m = re.search(r"socat version \S+", out)
    v["socat"] = m.group(0) if m else first_line(out)
    if ringway_path and os.path.exists(ringway_path):
        st, out = run([ringway_path, "--version"], timeout=5)
        v["ringway"] = first_line(out) if st == 0 else f"(no --version; {ringway_path})"
    return v


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def mem_total():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def read_first(path, default="?"):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return default


def environment(ringway_path=None):
    import resource
    load = read_first("/proc/loadavg", "0 0 0").split()[:3]
    return {
        "kernel": platform.release(),
        "cpu": cpu_model(),
        "cpus_online": os.cpu_count(),
        "memory": mem_total(),
        "fd_limit": resource.getrlimit(resource.RLIMIT_NOFILE),
        "loadavg": [float(x) for x in load],
        "somaxconn": read_first("/proc/sys/net/core/somaxconn"),
        "ip_local_port_range": read_first("/proc/sys/net/ipv4/ip_local_port_range").split(),
        "io_uring_disabled": read_first("/proc/sys/kernel/io_uring_disabled", "n/a"),
        "python": platform.python_version(),
        "versions": versions(ringway_path),
    }
