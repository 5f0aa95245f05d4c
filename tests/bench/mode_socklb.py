"""Mode: socklb, default agent options (least-conn, rebalancing on).

The agent (socklb_agent.Agent: own pin path, runs in the root namespace)
is attached to the clients' cgroup only. Clients connect to the VIP, which
has no route in their namespaces: only the connect4 rewrite gets them
anywhere. Scaling rewrites the agent's config file and sends SIGHUP.
"""

import atexit
import os

from rig import PORT, VIP_IP
from socklb_agent import Agent, cleanup_pins

from cpu import proc_cpu_seconds
from mode_base import Mode


class SocklbMode(Mode):
    key = "socklb"
    title = "socklb (least-conn + rebalancing)"

    def __init__(self, rig):
        super().__init__(rig, f"{VIP_IP}:{PORT}")
        self.conf = os.path.join(rig.topo.workdir, "socklb.conf")
        self.agent = None

    def cpu_sources(self):
        return {"agent": lambda: proc_cpu_seconds(self.agent.proc.pid)}

    def start(self, pods):
        self._write_conf(pods)
        self.agent = Agent(self.rig.topo, self.client_cgroup(), config=self.conf)
        # A SIGKILLed harness must not leave pins behind.
        atexit.register(cleanup_pins, self.agent.pin_path)

    def scale(self, pods):
        self._write_conf(pods)
        self.agent.reload()

    # No extra figures: `socklb status` lists only backends still in the
    # service, so its ended-connection counters miss removed pods; the
    # connections figure (seen by the servers) counts moves instead.

    def stop(self):
        if self.agent:
            self.agent.stop()
            self.agent = None

    def _write_conf(self, pods):
        tmp = self.conf + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{self.target} = static:" + ",".join(p.addr for p in pods) + "\n")
        os.replace(tmp, self.conf)
