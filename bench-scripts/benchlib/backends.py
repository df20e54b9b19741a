"""Backends on loopback: iperf3 server, nginx HTTP server with a tiny body, idle-hold server."""
import os
import sys

from . import procs

BODY = b"hello, world\n"
IDLE_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "idle.py")


def nginx_http_conf(prefix, port, workers):
    return f"""# backend for bench-scripts/compare (never the system nginx config)
worker_processes {workers};
daemon off;
master_process on;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log error;
worker_rlimit_nofile 20000;
events {{
    worker_connections 8192;
}}
http {{
    access_log off;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    keepalive_requests 100000000;
    keepalive_timeout 120s;
    server {{
        listen 127.0.0.1:{port} reuseport backlog=4096;
        default_type text/plain;
        location / {{
            return 200 "hello, world\\n";
        }}
    }}
}}
"""


class Backends:
    """Starts and restarts the three backends; ports may change after a restart."""

    def __init__(self, workdir, ports, nginx_workers=1, need=("bulk", "http", "idle")):
        self.workdir = workdir
        self.ports_alloc = ports
        self.nginx_workers = nginx_workers
        self.need = need
        self.procs = {}
        self.port = {}

    def start(self):
        if "http" in self.need:
            self._start_nginx()
        if "bulk" in self.need:
            self._start_iperf()
        if "idle" in self.need:
            self._start_idle()

    def _start_nginx(self):
        port = self.ports_alloc.take()
        prefix = os.path.join(self.workdir, f"backend-nginx-{port}")
        os.makedirs(prefix, exist_ok=True)
        conf = os.path.join(prefix, "nginx.conf")
        with open(conf, "w") as f:
            f.write(nginx_http_conf(prefix, port, self.nginx_workers))
        p = procs.Proc("backend nginx", ["nginx", "-p", prefix, "-e", f"{prefix}/error.log", "-c", conf],
                       os.path.join(self.workdir, "logs", "backend-nginx.log"))
        procs.wait_listening([port], procs=[p])
        procs.check_relays_http(port, BODY)
        self.procs["http"], self.port["http"] = p, port

    def _start_iperf(self):
        port = self.ports_alloc.take()
        p = procs.Proc("backend iperf3", ["iperf3", "-s", "-B", "127.0.0.1", "-p", port,
                                          "--rcv-timeout", "10000"],
                       os.path.join(self.workdir, "logs", "backend-iperf3.log"))
        procs.wait_listening([port], procs=[p])
        self.procs["bulk"], self.port["bulk"] = p, port

    def _start_idle(self):
        port = self.ports_alloc.take()
        p = procs.Proc("backend idle", [sys.executable, IDLE_SCRIPT, "server", "--port", port],
                       os.path.join(self.workdir, "logs", "backend-idle.log"))
        procs.wait_listening([port], procs=[p])
        self.procs["idle"], self.port["idle"] = p, port

    def restart(self, kind):
        """After a failed test a backend may be stuck (iperf3 serves one test at a time)."""
        old = self.procs.pop(kind, None)
        if old:
            old.stop()
        {"http": self._start_nginx, "bulk": self._start_iperf, "idle": self._start_idle}[kind]()

    def healthy(self, kind):
        p = self.procs.get(kind)
        return p is not None and p.alive()

    def stop(self):
        for p in self.procs.values():
            p.stop()
        self.procs.clear()

    def pids(self):
        return [p.pid for p in self.procs.values()]
