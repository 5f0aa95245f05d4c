#!/usr/bin/python3
"""Real HTTP/2 servers in front of the fake API server (which speaks
HTTP/1.1), in the "api" host: the agent talks HTTP/2 to them as it would
to kube-apiserver or to a proxy before it.

- Nginx: nginx from Debian, `listen ... ssl http2`, proxy_pass to the fake,
  with proxy_read_timeout as given (an idle timeout shorter than a watch);
  its access log names the TCP connection of every request ($connection).
- H2Front: a Go net/http HTTP/2 server like kube-apiserver's
  (peers/go/src/socklbpeers/h2front), built here in GOPATH mode, std lib only.

Both listen on the API address with the test's API server certificate; the
fake listens on 127.0.0.1 of the same host behind them.
"""

import json
import os
import subprocess
import threading
import time
from pathlib import Path

from topology import PEERS_DIR, wait_for_line

REPO = Path(__file__).resolve().parents[2]
UPSTREAM = "127.0.0.1:7443"
H2FRONT = REPO / "build" / "peers" / "h2front"


class Nginx:
    def __init__(self, topo, host, certs, read_timeout="3s", port=6443):
        self.dir = os.path.join(topo.workdir, "nginx")
        os.makedirs(self.dir, exist_ok=True)
        self.access = os.path.join(self.dir, "access.log")
        conf = os.path.join(self.dir, "nginx.conf")
        d = self.dir
        with open(conf, "w") as f:
            f.write(f"""
worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 1024; }}
http {{
    log_format conns '$msec $connection $connection_requests $server_protocol $status '
                     '$request_time "$request_uri"';
    access_log {d}/access.log conns;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    server {{
        listen {host.ip}:{port} ssl http2;
        ssl_certificate {certs["cert"]};
        ssl_certificate_key {certs["key"]};
        location / {{
            proxy_pass https://{UPSTREAM};
            proxy_http_version 1.1;
            proxy_buffering off;
            proxy_read_timeout {read_timeout};
            proxy_ssl_verify off;
        }}
    }}
}}
""")
        self.proc = host.popen(["nginx", "-c", conf, "-e", f"{d}/error.log"])
        deadline = time.monotonic() + 10
        while not os.path.exists(f"{d}/nginx.pid") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert os.path.exists(f"{d}/nginx.pid"), open(f"{d}/error.log").read()
        self.topo = topo

    def requests(self):
        """[(time, connection, protocol, status, request_time, uri)]"""
        out = []
        if not os.path.exists(self.access):
            return out
        for line in open(self.access):
            t, conn, _, proto, status, rt, uri = line.split(" ", 6)
            out.append((float(t), int(conn), proto, int(status), float(rt), uri.strip()[1:-1]))
        return out

    def stop(self):
        self.topo.stop(self.proc)


def build_h2front():
    """go build of the front (GOPATH mode, offline); the binary's path."""
    src = PEERS_DIR / "go" / "src" / "socklbpeers" / "h2front"
    if H2FRONT.exists() and H2FRONT.stat().st_mtime >= (src / "main.go").stat().st_mtime:
        return H2FRONT
    H2FRONT.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, GO111MODULE="off", GOPATH=str(PEERS_DIR / "go"), GOFLAGS="",
               GOPROXY="off", GOCACHE=str(H2FRONT.parent / ".gocache"))
    subprocess.run(["go", "build", "-o", str(H2FRONT), "."], cwd=src, env=env, check=True,
                   capture_output=True, timeout=300)
    return H2FRONT


class H2Front:
    def __init__(self, topo, host, certs, port=6443):
        argv = [str(build_h2front()), "-listen", f"{host.ip}:{port}", "-cert", certs["cert"],
                "-key", certs["key"], "-upstream", f"https://{UPSTREAM}"]
        self.proc = host.popen(argv)
        self.log, self.lock = [], threading.Lock()
        wait_for_line(self.proc, r'"kind":"ready"', 10)
        threading.Thread(target=self._pump, daemon=True).start()
        self.topo = topo

    def _pump(self):
        from topology import _reader
        reader = _reader(self.proc)
        while True:
            line = reader.next_line(3600)
            if line is None:
                return
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            with self.lock:
                self.log.append(msg)

    def requests(self):
        with self.lock:
            return list(self.log)

    def stop(self):
        self.topo.stop(self.proc)
