#!/usr/bin/python3
"""The fake Kubernetes API server (peers/fake_kube_apiserver.py) as tests
drive it: certificates for it, the server in a test host with its control
pipe, and the recorded v1.28 objects of tests/fixtures/k8s/ shaped as a test
needs them.  Shared by the k8s: source's tests, the multi-node cluster rig
and the benchmark."""

import copy
import json
import os
import queue
import subprocess
import threading
import time
from pathlib import Path

from topology import PEERS_DIR, PYTHON

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "k8s"
FAKE_API = str(PEERS_DIR / "fake_kube_apiserver.py")
API_IP = "10.244.1.60"
API_URL = f"https://{API_IP}:6443"
NAME = "sample-service-grpc"


# ------------------------------------------------------------ certificates

def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


def make_ca(d, name):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.crt", "-days", "1",
            "-subj", f"/CN={name}", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    return os.path.join(d, f"{name}.crt")


def make_certs(workdir, api_ip=API_IP):
    """A CA, the API server's certificate for IP:api_ip signed by it, and a
    second CA that did not sign it.  Returns a dict of paths."""
    d = os.path.join(workdir, "pki")
    os.makedirs(d, exist_ok=True)
    ca = make_ca(d, "test-cluster-ca")
    other = make_ca(d, "some-other-ca")
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write(f"subjectAltName=IP:{api_ip}\nextendedKeyUsage=serverAuth\n"
                "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", "apiserver.key", "-out", "apiserver.csr", "-subj", "/CN=kube-apiserver",
            cwd=d)
    openssl("x509", "-req", "-in", "apiserver.csr", "-CA", "test-cluster-ca.crt",
            "-CAkey", "test-cluster-ca.key", "-CAcreateserial", "-out", "apiserver.crt",
            "-days", "1", "-extfile", "ext.cnf", cwd=d)
    return {"ca": ca, "other_ca": other, "cert": os.path.join(d, "apiserver.crt"),
            "key": os.path.join(d, "apiserver.key")}


def write_token(path, token):
    """Replaced whole, as the kubelet rotates a projected token."""
    with open(path + ".tmp", "w") as f:
        f.write(token + "\n")
    os.rename(path + ".tmp", path)


# ---------------------------------------------------------- fake API server

class FakeApi:
    """The fake API server in `host`, driven through its stdin."""

    def __init__(self, topo, host, certs, start_rv=1000, tokens=None, listen=None,
                 compacted_rv=None):
        """listen: where it listens (default: the host's API address, :6443);
        compacted_rv: watches from below it get 410 (default: start_rv)."""
        self.topo, self.host = topo, host
        argv = [PYTHON, FAKE_API, "--listen", listen or f"{host.ip}:6443", "--cert", certs["cert"],
                "--key", certs["key"], "--fixtures", str(FIXTURES), "--start-rv", str(start_rv)]
        if compacted_rv is not None:
            argv += ["--compacted-rv", str(compacted_rv)]
        if tokens:
            argv += ["--tokens", ",".join(tokens)]
        self.proc = host.popen(argv)
        self.replies = queue.Queue()
        self.log = []
        self.lock = threading.Lock()
        self.ready = threading.Event()
        threading.Thread(target=self._pump, daemon=True).start()
        assert self.ready.wait(15), "fake API server did not start"

    def _pump(self):
        try:
            for line in self.proc.stdout:
                msg = json.loads(line)
                if msg["kind"] == "ready":
                    self.ready.set()
                elif msg["kind"] == "reply":
                    self.replies.put(msg)
                else:
                    with self.lock:
                        self.log.append(msg)
        except (OSError, ValueError):
            pass

    def cmd(self, op, **kw):
        self.proc.stdin.write(json.dumps({"op": op, **kw}) + "\n")
        self.proc.stdin.flush()
        reply = self.replies.get(timeout=10)
        assert "error" not in reply, reply
        return reply

    def put(self, resource, obj):
        return self.cmd("put", resource=resource, object=obj)

    def delete(self, resource, name, namespace="default"):
        return self.cmd("delete", resource=resource, name=name, namespace=namespace)

    def entries(self, kind=None, since=0.0):
        with self.lock:
            return [m for m in self.log if (kind is None or m["kind"] == kind) and m["t"] >= since]

    def wait_entry(self, pred, timeout, kind=None, since=0.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            hits = [m for m in self.entries(kind, since) if pred(m)]
            if hits:
                return hits
            time.sleep(0.05)
        return []

    def sent_time(self, rv):
        """Wall-clock time the server started writing the event with that
        resourceVersion to a watch."""
        hits = self.wait_entry(lambda m: m["rv"] == rv, 5, kind="sent")
        assert hits, f"event rv={rv} was never sent to a watch"
        return hits[0]["t_start"]

    def stop(self):
        self.topo.stop(self.proc)


# ------------------------------------------------------------------ objects

def fixture(name):
    return json.loads((FIXTURES / name).read_text())


def service_obj(name=NAME, cluster_ips=("10.96.0.10", "fd00:96::10"), annotated=None,
                ports=None):
    svc = fixture("service-sample-service-grpc.json")
    svc["metadata"]["name"] = name
    svc["spec"]["clusterIPs"] = list(cluster_ips)
    svc["spec"]["clusterIP"] = cluster_ips[0]
    svc["spec"]["ipFamilies"] = ["IPv6" if ":" in ip else "IPv4" for ip in cluster_ips]
    if len(cluster_ips) == 1:
        svc["spec"]["ipFamilyPolicy"] = "SingleStack"
    if annotated is not None:
        svc["metadata"]["annotations"]["socklb.io/enabled"] = annotated
    if ports is not None:
        svc["spec"]["ports"] = ports
    return svc


def slice_obj(pods, family=4, name=None, service=NAME, not_ready=(), ready_missing=()):
    """An EndpointSlice of `service` with one endpoint per pod (recorded shape)."""
    s = fixture(f"endpointslice-sample-service-grpc-ipv{family}.json")
    s["metadata"]["name"] = name or f"{service}-ipv{family}"
    s["metadata"]["labels"]["kubernetes.io/service-name"] = service
    s["metadata"]["ownerReferences"][0]["name"] = service
    template = s["endpoints"][0]
    s["endpoints"] = []
    for pod in pods:
        e = copy.deepcopy(template)
        e["addresses"] = [pod.host.ip if family == 4 else pod.host.ip6]
        e["targetRef"]["name"] = f"{service}-6d5f7c9b8-{pod.name}"
        ready = pod not in not_ready
        e["conditions"] = {"ready": ready, "serving": ready, "terminating": False}
        if pod in ready_missing:
            del e["conditions"]["ready"]
        s["endpoints"].append(e)
    return s
