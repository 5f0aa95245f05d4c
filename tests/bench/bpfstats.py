"""The kernel's own accounting of BPF program run time.

A connect hook costs far less than the run-to-run noise of a whole connect
(see facts.md), so its cost is read from the kernel: while run-time stats
are on, every program run adds its duration to run_time_ns and one to
run_cnt (`bpftool prog show`).

Stats are turned on with the BPF_ENABLE_STATS command rather than the
kernel.bpf_stats_enabled sysctl: they stay on only while our file
descriptor is open, so a crashed harness cannot leave them on, and a value
someone else set is never overwritten.
"""

import ctypes
import json
import os
import platform
import subprocess

BPF_ENABLE_STATS = 32
BPF_STATS_RUN_TIME = 0
BPF_ATTR_SIZE = 128  # the command reads only `type`; the rest must be zero
SYS_BPF = {"x86_64": 321, "aarch64": 280}
SYSCTL = "/proc/sys/kernel/bpf_stats_enabled"


class RunTimeStats:
    """Context manager: BPF run-time stats are on inside the block."""

    def __init__(self):
        self._fd = None
        self._sysctl_old = None

    def __enter__(self):
        try:
            self._fd = _enable_stats_fd()
        except OSError:
            self._sysctl_old = _sysctl_enable()  # older kernels: fall back
        return self

    def __exit__(self, *exc):
        if self._fd is not None:
            os.close(self._fd)
        elif self._sysctl_old is not None:
            _write(SYSCTL, self._sysctl_old)
        return False


def _enable_stats_fd():
    nr = SYS_BPF.get(platform.machine())
    if nr is None:
        raise OSError("bpf syscall number unknown for this machine")
    libc = ctypes.CDLL(None, use_errno=True)
    attr = ctypes.create_string_buffer(BPF_ATTR_SIZE)
    ctypes.c_uint32.from_buffer(attr).value = BPF_STATS_RUN_TIME
    fd = libc.syscall(nr, BPF_ENABLE_STATS, attr, BPF_ATTR_SIZE)
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return fd


def _sysctl_enable():
    old = open(SYSCTL).read().strip()
    _write(SYSCTL, "1")
    return old


def _write(path, text):
    with open(path, "w") as f:
        f.write(text)


def _bpftool_json(args):
    res = subprocess.run(["bpftool", "-j", *args], capture_output=True, text=True,
                         timeout=10, check=True)
    return json.loads(res.stdout.strip() or "[]")


def cgroup_programs(cgroup, effective=False):
    """{program name: id} of the programs attached to cgroup (or, with
    effective, also inherited from its ancestors)."""
    args = ["cgroup", "show", cgroup] + (["effective"] if effective else [])
    return {p.get("name", ""): p["id"] for p in _bpftool_json(args)}


def run_stats(prog_id):
    """(run_time_ns, run_cnt) of one program; zeros while stats are off."""
    info = _bpftool_json(["prog", "show", "id", str(prog_id)])
    return info.get("run_time_ns", 0), info.get("run_cnt", 0)


def ns_per_run(before, after):
    """Mean run time over the runs between two run_stats readings."""
    runs = after[1] - before[1]
    return (after[0] - before[0]) / runs if runs > 0 else None
