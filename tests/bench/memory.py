"""Memory figures: the agent's BPF maps, and the kernel's own memory.

BPF maps: bytes_memlock of every map the agent uses (`bpftool map show`),
found from its pin path (maps pinned by name) and from its programs' map
ids (the .bss / .rodata maps, which are not pinned). Since Linux 6.4
bytes_memlock is the map's own estimate of what it uses (map_mem_usage):
hash maps without preallocation count the entries they hold, arrays their
whole size; socket-local storage counts only the map itself, not the
storage each socket carries.

Kernel memory: /proc/meminfo (Slab, split into reclaimable and not) and the
bytes in use in every slab cache (/sys/kernel/slab/*/objects × object_size),
read before and after a number of connections is opened, so that the
difference with and without socklb gives what socklb adds per connection;
and, as a check, what the kernel's BTF says socket-local storage allocates.
"""

import json
import os
import subprocess

SLAB_SYSFS = "/sys/kernel/slab"


def bpftool_json(args):
    res = subprocess.run(["bpftool", "-j", *args], capture_output=True, text=True, timeout=30)
    if res.returncode != 0:
        return None
    return json.loads(res.stdout.strip() or "null")


def agent_map_ids(pin_path, prog_ids):
    """Ids of the maps pinned under pin_path plus those the programs use."""
    ids = set()
    for root, _, files in os.walk(pin_path):
        for name in files:
            info = bpftool_json(["map", "show", "pinned", os.path.join(root, name)])
            if isinstance(info, dict) and "id" in info:
                ids.add(info["id"])
    for pid in prog_ids:
        info = bpftool_json(["prog", "show", "id", str(pid)])
        if isinstance(info, dict):
            ids.update(info.get("map_ids", []))
    return ids


def map_memory(pin_path, prog_ids):
    """{"maps": [{name, type, max_entries, bytes_memlock}...] largest first,
    "total_bytes": sum}."""
    maps = []
    for mid in sorted(agent_map_ids(pin_path, prog_ids)):
        info = bpftool_json(["map", "show", "id", str(mid)])
        if not isinstance(info, dict):
            continue
        maps.append({"name": info.get("name", ""), "type": info.get("type", ""),
                     "max_entries": info.get("max_entries"),
                     "bytes_memlock": int(info.get("bytes_memlock", 0))})
    maps.sort(key=lambda m: -m["bytes_memlock"])
    return {"maps": maps, "total_bytes": sum(m["bytes_memlock"] for m in maps)}


def meminfo_kb():
    out = {}
    with open("/proc/meminfo") as f:
        for line in f:
            key, rest = line.split(":", 1)
            out[key] = int(rest.split()[0])
    return out


def slab_caches():
    """{cache: (bytes of objects in use, reclaimable)} over every slab cache
    (a merged cache's aliases are symlinks: counted once)."""
    out = {}
    try:
        names = os.listdir(SLAB_SYSFS)
    except OSError:
        return None
    for name in names:
        path = os.path.join(SLAB_SYSFS, name)
        if os.path.islink(path):
            continue
        try:
            with open(os.path.join(path, "objects")) as f:
                objects = int(f.read().split()[0])
            with open(os.path.join(path, "object_size")) as f:
                size = int(f.read())
            with open(os.path.join(path, "reclaim_account")) as f:
                reclaimable = f.read().strip() == "1"
        except (OSError, ValueError, IndexError):
            continue
        out[name] = (objects * size, reclaimable)
    return out


def slab_object_bytes():
    caches = slab_caches()
    return None if caches is None else sum(b for b, _ in caches.values())


def kernel_snapshot():
    """The kernel memory figures a connection can move, in bytes: meminfo's
    Slab (whole slabs) and the objects in use per slab cache."""
    mi = meminfo_kb()
    return {"slab": 1024 * mi.get("Slab", 0), "slab_unreclaimable": 1024 * mi.get("SUnreclaim", 0),
            "mem_available": 1024 * mi.get("MemAvailable", 0), "caches": slab_caches()}


def delta(before, after):
    """after - before: the meminfo figures, and per slab cache the objects
    in use ("caches": {cache: bytes}); totals in "slab_objects" and
    "slab_objects_unreclaimable" (None without /sys/kernel/slab)."""
    out = {k: after[k] - before[k] for k in ("slab", "slab_unreclaimable", "mem_available")}
    b, a = before["caches"], after["caches"]
    if a is None or b is None:
        out.update(caches={}, slab_objects=None, slab_objects_unreclaimable=None)
        return out
    caches = {name: a.get(name, (0, r))[0] - b.get(name, (0, r))[0]
              for name, (_, r) in {**b, **a}.items()}
    out["caches"] = {k: v for k, v in caches.items() if v}
    out["slab_objects"] = sum(caches.values())
    out["slab_objects_unreclaimable"] = sum(
        v for k, v in caches.items() if not {**b, **a}[k][1])
    return out


KMALLOC_SIZES = (8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192)


def kmalloc_size(n):
    return next((k for k in KMALLOC_SIZES if k >= n), n)


def btf_struct_sizes(names):
    """{struct name: size} from the kernel's BTF (bpftool), for the names found."""
    res = subprocess.run(["bpftool", "btf", "dump", "file", "/sys/kernel/btf/vmlinux",
                          "format", "raw"], capture_output=True, text=True, timeout=30)
    out = {}
    for line in res.stdout.splitlines():
        if " STRUCT '" not in line:
            continue
        name = line.split("'")[1]
        if name in names and "size=" in line:
            out[name] = int(line.split("size=")[1].split()[0])
    return out


def sk_storage_expected(value_size):
    """What the kernel allocates for one socket's first socket-local storage
    of value_size bytes: the element (struct bpf_local_storage_elem, the
    value following it) and the socket's storage head (struct
    bpf_local_storage), each rounded up to its kmalloc size. None if the
    BTF does not say."""
    sizes = btf_struct_sizes({"bpf_local_storage_elem", "bpf_local_storage"})
    if len(sizes) < 2:
        return None
    elem = sizes["bpf_local_storage_elem"] + value_size
    head = sizes["bpf_local_storage"]
    return {"elem_bytes": elem, "storage_bytes": head, "value_size": value_size,
            "kmalloc_bytes": kmalloc_size(elem) + kmalloc_size(head)}


def mem_total_bytes():
    return 1024 * meminfo_kb()["MemTotal"]
