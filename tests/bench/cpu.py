"""CPU time and memory of the processes a mode runs.

Roles (clients, servers, proxy) each live in their own cgroup, so their CPU
is read from cgroup v2 `cpu.stat` (usage_usec counts every process that
ever ran there, including exited nginx workers and client processes). The
socklb agent is one process: /proc/PID/stat covers all its threads.
"""

import os

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cgroup_cpu_seconds(path):
    with open(os.path.join(path, "cpu.stat")) as f:
        for line in f:
            key, value = line.split()
            if key == "usage_usec":
                return int(value) / 1e6
    raise RuntimeError(f"no usage_usec in {path}/cpu.stat")


def proc_cpu_seconds(pid):
    """utime + stime of a live process (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        # The command name may hold spaces: fields start after its ")".
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_busy_seconds():
    """Non-idle CPU time of the whole machine, all cores (/proc/stat). With
    tick-based accounting (this kernel's TICK_CPU_ACCOUNTING) it is sampled
    at each tick, unlike cgroup usage_usec: a gauge, not an exact figure."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal (guest is inside user).
    return (sum(fields[:8]) - fields[3] - fields[4]) / CLK_TCK


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


class CpuMeter:
    """CPU seconds per role between two snapshots. sources: {role: function
    returning cumulative seconds}; roles a mode does not have map to None."""

    def __init__(self, sources):
        self.sources = sources

    def snapshot(self):
        return {role: (read() if read else None) for role, read in self.sources.items()}

    @staticmethod
    def delta(before, after):
        return {role: (None if before[role] is None else round(after[role] - before[role], 3))
                for role in before}
