"""What the benchmark ran on: figures are only comparable on the same
machine, so every report starts with it."""

import os
import platform
import re
import subprocess
import time

import grpc

import socklb_agent


def _first_line(argv):
    try:
        res = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (res.stdout or res.stderr).strip()
    return text.splitlines()[0] if text else None


def _version(argv, pattern):
    line = _first_line(argv) or ""
    m = re.search(pattern, line)
    return m.group(1) if m else line or None


def _proc_field(path, key, sep=":"):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key):
                    return line.split(sep, 1)[1].strip().strip('"')
    except OSError:
        pass
    return None


def describe():
    mem_kb = _proc_field("/proc/meminfo", "MemTotal")
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "cores": os.cpu_count(),
        "cpu": _proc_field("/proc/cpuinfo", "model name"),
        "memory_mb": int(mem_kb.split()[0]) // 1024 if mem_kb else None,
        "kernel": platform.release(),
        "os": _proc_field("/etc/os-release", "PRETTY_NAME", "=") or platform.platform(),
        "python": platform.python_version(),
        "grpcio": grpc.__version__,
        "socklb": _first_line([socklb_agent.SOCKLB, "--version"]),
        "socklb_binary": socklb_agent.SOCKLB,
        "nginx": _version(["nginx", "-v"], r"nginx/(\S+)"),
        "dnsmasq": _version(["dnsmasq", "--version"], r"version (\S+)"),
        "iptables": _version(["iptables", "-V"], r"v(\S+ \(\S+\))"),
        "load_average_at_start": os.getloadavg()[0],
    }
