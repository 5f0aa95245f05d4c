"""The minimal connect hook socklb's connect4 is measured against.

tests/bench/bpf/minimal_connect4.bpf.c (built by the Makefile into
build/bench/): one array lookup of {VIP, port, backend, port}, one compare,
the rewrite, allow. Loaded and attached with bpftool, to a cgroup the
harness made for it, and configured with one map update; its program and
map are pinned under a directory of their own in the BPF filesystem, which
close() (and, should the harness die first, the next run) removes.
"""

import atexit
import ipaddress
import json
import os
import re
import shutil
import socket
import struct
import subprocess
from pathlib import Path

from socklb_agent import BPFFS, REPO, ensure_bpffs

OBJECT = REPO / "build" / "bench" / "minimal_connect4.bpf.o"
PROG_NAME = "min_connect4"  # as the kernel names it (at most 15 characters)
MAP_NAME = "minimal_cfg"
PIN_PREFIX = "slbbench-minimal-"


def _bpftool(args, json_out=False):
    argv = ["bpftool"] + (["-j"] if json_out else []) + [str(a) for a in args]
    res = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {res.stderr.strip() or res.stdout.strip()}")
    return json.loads(res.stdout.strip() or "null") if json_out else res.stdout


def _hex_bytes(data):
    return [f"{b:02x}" for b in data]


def config_value(vip, vip_port, backend_ip, backend_port):
    """struct minimal_cfg as the program reads it: addresses in network byte
    order, ports in network byte order in the low 16 bits of a u32 (the
    context's user_port)."""
    def port(p):
        return struct.pack("!H", p) + b"\0\0"
    return (socket.inet_aton(vip) + port(vip_port) + socket.inet_aton(backend_ip)
            + port(backend_port))


def cleanup_stale():
    """Pins of earlier runs that died (their pid is in the directory name)."""
    if not os.path.isdir(BPFFS):
        return
    for name in os.listdir(BPFFS):
        m = re.fullmatch(re.escape(PIN_PREFIX) + r"(\d+)", name)
        if m and not os.path.exists(f"/proc/{m.group(1)}"):
            shutil.rmtree(os.path.join(BPFFS, name), ignore_errors=True)


class MinimalHook:
    """The minimal connect4 program attached to `cgroup`, balancing
    vip:vip_port to backend (one address and port)."""

    def __init__(self, cgroup, vip, vip_port, backend_ip, backend_port, obj=OBJECT):
        if not Path(obj).exists():
            raise RuntimeError(f"{obj} not built: run 'make bench' (or make {obj})")
        ensure_bpffs()
        cleanup_stale()
        self.cgroup = cgroup
        self.pin_dir = os.path.join(BPFFS, f"{PIN_PREFIX}{os.getpid()}")
        self.prog_pin = os.path.join(self.pin_dir, "prog")
        self.maps_dir = os.path.join(self.pin_dir, "maps")
        self._attached = False
        os.makedirs(self.maps_dir, exist_ok=True)
        atexit.register(self.close)
        try:
            _bpftool(["prog", "load", obj, self.prog_pin, "type", "cgroup/connect4",
                      "pinmaps", self.maps_dir])
            ipaddress.IPv4Address(vip)  # bad input fails before the map update
            value = config_value(vip, vip_port, backend_ip, backend_port)
            _bpftool(["map", "update", "pinned", os.path.join(self.maps_dir, MAP_NAME),
                      "key", "hex", "00", "00", "00", "00", "value", "hex", *_hex_bytes(value)])
            _bpftool(["cgroup", "attach", cgroup, "connect4", "pinned", self.prog_pin])
            self._attached = True
            self.prog_id = _bpftool(["prog", "show", "pinned", self.prog_pin], True)["id"]
        except BaseException:
            self.close()
            raise

    def close(self):
        """Detach, unpin; idempotent. (Removing the cgroup would detach it too.)"""
        if self._attached:
            try:
                _bpftool(["cgroup", "detach", self.cgroup, "connect4", "pinned", self.prog_pin])
            except (RuntimeError, subprocess.TimeoutExpired):
                pass  # the cgroup is gone already
            self._attached = False
        shutil.rmtree(self.pin_dir, ignore_errors=True)
        atexit.unregister(self.close)
