#!/usr/bin/python3
"""What every benchmark mode shares: the defaults of the mode interface
(bench.py calls start, scale, stop, client_cgroup, cpu_sources and
extra_figures), so that each mode file holds only what makes it different."""


class Mode:
    key = ""
    title = ""
    server_args = ()  # extra greeter_server.py arguments for this mode
    client_args = ()  # extra load_client.py arguments
    server_sees_client = True  # servers see the clients' own ports
    has_proxy = False  # a middle process whose CPU is reported as "proxy"

    def __init__(self, rig, target):
        self.rig = rig
        self.target = target

    def client_cgroup(self):
        return self.rig.cgroups["clients"]

    def cpu_sources(self):
        """Extra {role: callable returning CPU seconds} beyond the cgroups."""
        return {}

    def extra_figures(self):
        return {}
