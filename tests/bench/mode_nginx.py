"""Mode: an L7 proxy, nginx with grpc_pass, as an NGINX ingress with
backend-protocol GRPC is.

nginx runs in its own namespace; clients connect to it (pick_first, one
HTTP/2 connection per channel) and it spreads calls over the pods per call
(upstream round robin, keepalive connections to the pods). Settings follow
ingress-nginx's defaults where they matter: worker_processes auto,
320 upstream keepalive connections, 10 000 requests per connection on
both sides (nginx's own default of 1 000 would make clients reconnect
every 1 000 calls). Scaling rewrites the upstream and sends SIGHUP: new
workers use the new set, old ones finish their connections and exit.
"""

import os
import signal

from rig import PORT, PROXY_IP, wait_listening
from mode_base import Mode

CONF = """\
worker_processes auto;
daemon off;
master_process on;
user root;
pid {wd}/nginx.pid;
error_log {wd}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {wd}/ngx-body;
    proxy_temp_path {wd}/ngx-proxy;
    fastcgi_temp_path {wd}/ngx-fcgi;
    uwsgi_temp_path {wd}/ngx-uwsgi;
    scgi_temp_path {wd}/ngx-scgi;
    keepalive_requests 10000;
    upstream pods {{
{servers}
        keepalive 320;
        keepalive_requests 10000;
    }}
    server {{
        listen {ip}:{port} http2;
        location / {{ grpc_pass grpc://pods; }}
    }}
}}
"""


class NginxMode(Mode):
    key = "nginx"
    title = "nginx grpc_pass (L7 proxy)"
    has_proxy = True
    server_sees_client = False  # servers see nginx's upstream connections

    def __init__(self, rig):
        super().__init__(rig, f"{PROXY_IP}:{PORT}")
        self.workdir = rig.topo.workdir
        self.conf = os.path.join(self.workdir, "nginx.conf")
        self.proc = None

    def start(self, pods):
        self._write_conf(pods)
        self.rig.proxy.run(["nginx", "-t", "-q", "-c", self.conf, "-p", self.workdir],
                           check=True)
        self.proc = self.rig.proxy.popen(["nginx", "-c", self.conf, "-p", self.workdir],
                                         cgroup=self.rig.cgroups["proxy"])
        wait_listening(self.rig.proxy, PORT)

    def scale(self, pods):
        self._write_conf(pods)
        self.proc.send_signal(signal.SIGHUP)  # what `nginx -s reload` sends

    def stop(self):
        if self.proc:
            self.rig.topo.stop(self.proc)
            self.proc = None

    def _write_conf(self, pods):
        servers = "\n".join(f"        server {pod.addr};" for pod in pods)
        text = CONF.format(wd=self.workdir, servers=servers, ip=PROXY_IP, port=PORT)
        tmp = self.conf + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, self.conf)
