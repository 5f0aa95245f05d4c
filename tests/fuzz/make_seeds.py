#!/usr/bin/python3
"""Writes the fuzzers' seed corpora, tests/fuzz/corpus/<harness>/.

Realistic inputs only: the --service values and config file of the README,
the Kubernetes fixtures of tests/fixtures/k8s (watch streams cut as the
harness reads them), DNS answers in wire format as a server sends them
(built here with struct, compression pointers included), HTTP requests as
Prometheus and the kubelet send them.  The state file seed is not made
here: corpus/fuzz_state_file/agent-*.json were written by a running agent
(static, dns and k8s services, one failing) and are kept as they were.

Run it again after changing it; it rewrites only the files it makes.
"""

import struct
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
FIXTURES = HERE.parent / "fixtures" / "k8s"

SERVICES = [
    "10.96.0.10:8080=static:10.244.1.11:8080,10.244.2.7:8080",
    "[fd00:96::10]:8080=static:[fd00:244::11]:8080",
    "10.96.0.11:8080=dns:sample-service-grpc.default.svc.cluster.local:8080",
    "10.96.0.12:8080=static:",
    "k8s:default/sample-service-grpc:grpc",
    "10.96.0.13:9090=k8s:default/sample-service-grpc",
    "[fd00:96::11]:8080=dns:web.example.:8080",
]

CONFIG = """# /etc/socklb/services.conf
10.96.0.10:8080 = static:10.244.1.11:8080, 10.244.2.7:8080
[fd00:96::10]:8080 = static:[fd00:244::11]:8080
10.96.0.11:8080 = dns:sample-service-grpc.default.svc.cluster.local:8080
k8s:default/sample-service-grpc:grpc
"""

CONFIG_UNIT = ("10.96.0.10:8080=static:10.244.1.11:8080,10.244.1.12:8080\n"
               "# a comment\n"
               "10.96.0.11:80 = static:10.244.1.13:80 , 10.244.1.14:80  # two pods\n"
               "\t10.96.0.12:80\t=\tstatic:\r\n"
               "[fd00::10]:443=static:[fd00::1]:443,\t[fd00::2]:443\n"
               "\n"
               "10.96.0.13:80=static:10.244.1.15:80")

# fuzz_cli_values: mode byte (0 count, 1 count or zero, 2 duration, 3 --dns-server).
CLI_VALUES = [(0, "65536"), (1, "0"), (0, "262144"), (2, "250ms"), (2, "5s"), (2, "2m"),
              (2, "1h"), (2, "300s"), (3, "10.0.0.53"), (3, "10.0.0.53:5353"),
              (3, "[fd00::53]"), (3, "[fd00::53]:53"), (3, "fd00::53")]

HTTP = [
    "GET /metrics HTTP/1.1\r\nHost: 10.0.0.1:9090\r\nUser-Agent: Prometheus/2.45.0\r\n"
    "Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5\r\n"
    "Accept-Encoding: gzip\r\nX-Prometheus-Scrape-Timeout-Seconds: 10\r\n\r\n",
    "GET /healthz HTTP/1.1\r\nHost: 10.0.0.1:9090\r\nUser-Agent: kube-probe/1.28\r\n"
    "Accept: */*\r\nConnection: close\r\n\r\n",
    "HEAD /metrics HTTP/1.0\r\n\r\n",
    "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
    "GET /metrics?x=%2e%2e/ HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
]


def write(harness, name, data):
    d = CORPUS / harness
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def dns_name(name, pointers=None, at=0):
    """name in wire format; a suffix already written (pointers: suffix -> offset) is a pointer."""
    out = b""
    labels = name.rstrip(".").split(".")
    for i in range(len(labels)):
        suffix = ".".join(labels[i:])
        if pointers is not None and suffix in pointers:
            return out + struct.pack(">H", 0xC000 | pointers[suffix])
        if pointers is not None:
            pointers[suffix] = at + len(out)
        out += bytes([len(labels[i])]) + labels[i].encode()
    return out + b"\0"


def dns_message(qname, qtype, answers, rcode=0, flags=0x8180):
    """A response: question qname/qtype, answers [(name, type, ttl, rdata)]."""
    pointers = {}
    msg = struct.pack(">HHHHHH", 0x1234, flags | rcode, 1, len(answers), 0, 0)
    msg += dns_name(qname, pointers, len(msg)) + struct.pack(">HH", qtype, 1)
    for name, rtype, ttl, rdata in answers:
        msg += dns_name(name, pointers, len(msg))
        if rtype == 5:  # CNAME: its target compressed too
            rdata = dns_name(rdata, pointers, len(msg) + 10)
        msg += struct.pack(">HHIH", rtype, 1, ttl, len(rdata)) + rdata
    return msg


def ip4(text):
    return bytes(int(x) for x in text.split("."))


def ip6(text):
    import ipaddress
    return ipaddress.IPv6Address(text).packed


def dns_seeds():
    name = "sample-service-grpc.default.svc.cluster.local"
    a, aaaa, cname = 1, 28, 5
    pods = ["10.244.1.11", "10.244.1.12", "10.244.2.7"]
    seeds = {
        "a-three-pods": (4, dns_message(name, a, [(name, a, 30, ip4(p)) for p in pods])),
        "a-one": (4, dns_message(name, a, [(name, a, 5, ip4("10.244.1.11"))])),
        "a-repeated": (4, dns_message(name, a, [(name, a, 30, ip4("10.244.1.11"))] * 2)),
        "aaaa-two": (6, dns_message(name, aaaa, [(name, aaaa, 30, ip6("fd00:5a1b::b")),
                                                (name, aaaa, 10, ip6("fd00:5a1b::c"))])),
        "a-cname-chain": (4, dns_message("web.example.com", a, [
            ("web.example.com", cname, 300, "lb.example.net"),
            ("lb.example.net", a, 60, ip4("192.0.2.10")),
            ("lb.example.net", a, 60, ip4("192.0.2.11"))])),
        "a-cname-only": (4, dns_message("web.example.com", a, [
            ("web.example.com", cname, 300, "lb.example.net")])),
        "nxdomain": (4, dns_message(name, a, [], rcode=3)),
        "nodata": (6, dns_message(name, aaaa, [])),
        "servfail": (4, dns_message(name, a, [], rcode=2)),
        "truncated": (4, dns_message(name, a, [(name, a, 30, ip4(p)) for p in pods],
                                     flags=0x8380)[:40]),
    }
    for seed, (family, msg) in seeds.items():
        write("fuzz_dns_answer", seed, bytes([0 if family == 4 else 1]) + msg)


def watch_seeds():
    """The recorded watch, one event per seed and whole, cut in pieces of 1..256 bytes."""
    stream = (FIXTURES / "watch-endpointslices.jsonl").read_bytes()
    cuts = [bytes([255] * 8), bytes([0, 1, 2, 3, 7, 15, 31, 63]), bytes([100] * 8)]
    for i, cut in enumerate(cuts):
        write("fuzz_k8s_watch", f"watch-endpointslices-{i}", cut + stream)
    for i, line in enumerate(stream.splitlines(keepends=True)):
        write("fuzz_k8s_watch", f"event-{i}", cuts[i % len(cuts)] + line)
    svc = (FIXTURES / "service-sample-service-grpc.json").read_bytes().strip()
    event = b'{"type":"MODIFIED","object":' + svc.replace(b"\n", b"") + b"}\r\n\n"
    write("fuzz_k8s_watch", "service-modified-crlf", cuts[1] + event)


def cluster_seeds():
    """SocklbNode objects as nodes write them (the fixture, variants), and lists of them."""
    import json
    node = json.loads((FIXTURES / "socklbnode-kind-worker.json").read_text())
    write("fuzz_cluster_node", "socklbnode-kind-worker", b"\0" + json.dumps(node).encode())

    def variant(name, heartbeat, services, publish=1000, beat=30000):
        obj = {"apiVersion": "socklb.io/v1alpha1", "kind": "SocklbNode",
               "metadata": {"name": name, "resourceVersion": "7"},
               "spec": {"heartbeatTime": heartbeat, "publishIntervalMilliseconds": publish,
                        "heartbeatIntervalMilliseconds": beat, "services": services}}
        return obj
    svc = [{"vip": "10.96.0.10:8080",
            "backends": [{"address": f"10.244.{n}.{p}:8080", "connections": p}
                         for n in (1, 2) for p in (11, 12, 13)]}]
    nodes = [variant("node-1", "2023-11-14T22:13:19.000001Z", svc),
             variant("node-2", "2023-11-14T22:13:20Z", [], publish=250, beat=2000),
             variant("node-3", "2023-11-14T22:12:00.5Z",
                     [{"vip": "[fd00:96::10]:8080",
                       "backends": [{"address": "[fd00:244::11]:8080", "connections": 4}]}]),
             variant("kind-worker", "2023-11-14T22:13:19.9Z", svc)]
    for n in nodes:
        write("fuzz_cluster_node", n["metadata"]["name"], b"\0" + json.dumps(n).encode())
    lst = {"apiVersion": "socklb.io/v1alpha1", "kind": "SocklbNodeList",
           "metadata": {"resourceVersion": "48213"}, "items": nodes + [node]}
    write("fuzz_cluster_node", "socklbnodelist", b"\1" + json.dumps(lst, indent=1).encode())
    write("fuzz_cluster_node", "socklbnodelist-empty",
          b'\1{"kind":"SocklbNodeList","apiVersion":"socklb.io/v1alpha1",'
          b'"metadata":{"resourceVersion":"1"},"items":[]}')


def main():
    for i, spec in enumerate(SERVICES):
        write("fuzz_service_spec", f"readme-{i}", spec)
    write("fuzz_service_spec", "readme-all", "\n".join(SERVICES))
    write("fuzz_config_file", "readme", CONFIG)
    write("fuzz_config_file", "unit-test", CONFIG_UNIT)
    for i, (mode, value) in enumerate(CLI_VALUES):
        write("fuzz_cli_values", f"value-{i}", bytes([mode]) + value.encode())
    for i, req in enumerate(HTTP):
        write("fuzz_metrics_http", f"request-{i}", b"\1" + req.encode())
    write("fuzz_metrics_http", "route-metrics", b"\0GET /metrics")
    fixtures = {
        "fuzz_k8s_service": ["service-sample-service-grpc.json"],
        "fuzz_k8s_slice": ["endpointslice-sample-service-grpc-ipv4.json",
                           "endpointslice-sample-service-grpc-ipv6.json"],
        "fuzz_k8s_list": ["servicelist-all-namespaces.json",
                          "endpointslicelist-sample-service-grpc.json",
                          "status-410-expired.json", "status-401-unauthorized.json",
                          "status-404-not-found.json"],
    }
    for harness, files in fixtures.items():
        for f in files:
            write(harness, f, (FIXTURES / f).read_bytes())
    watch_seeds()
    dns_seeds()
    cluster_seeds()


if __name__ == "__main__":
    main()
