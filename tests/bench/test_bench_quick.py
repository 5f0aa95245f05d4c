#!/usr/bin/python3
"""CI check that the benchmark harness still works (tests/e2e/runner.py):

    /usr/bin/python3 tests/e2e/runner.py tests/bench/test_bench_quick.py

Runs `bench.py --quick` once and checks that every mode and every
micro-benchmark produced its figures (present and numeric): the scale
story, latency, connect cycles, the connect4 hook beside the minimal hook,
sockops per callback for balanced and non-balanced connects, BPF map
memory, the memory of held connections, the graceful-moves cells and
cluster-wide balance over simulated nodes; and that results.json,
results.md and the plot exist. No timing or balance is
asserted: quick runs are too short for that, and CI machines vary.
Set SOCKLB_BENCH_OUT=DIR to keep the output; otherwise a temporary
directory is used and removed.
"""

import atexit
import json
import numbers
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent / "bench.py"
sys.path.insert(0, str(BENCH.parent))
from config import QUICK  # noqa: E402  (needs the path above)
PYTHON = "/usr/bin/python3"
# The quick profile takes about 5 minutes (the cluster cases 2, the time-fair ones 1.5);
# make bench-test gives the runner --timeout 660.
TIMEOUT = 600
MODES = ("kube-proxy", "dns-rr", "nginx", "socklb")
PATHS = ("direct", "dnat", "socklb")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

_cache = {}


def out_dir():
    if "out" not in _cache:
        keep = os.environ.get("SOCKLB_BENCH_OUT")
        _cache["out"] = keep or tempfile.mkdtemp(prefix="socklb-bench-quick-")
        if not keep:
            atexit.register(shutil.rmtree, _cache["out"], True)
    return _cache["out"]


def run_bench():
    """bench.py --quick, once per test run; returns results.json."""
    if "results" in _cache:
        return _cache["results"]
    proc = subprocess.Popen([PYTHON, str(BENCH), "--quick", "--out", out_dir()],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        output, _ = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:  # timed out (or the runner's alarm fired)
            proc.terminate()  # bench.py cleans up on SIGTERM
            try:
                proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 0, f"bench.py --quick rc={proc.returncode}:\n{output[-4000:]}"
    with open(os.path.join(out_dir(), "results.json")) as f:
        _cache["results"] = json.load(f)
    return _cache["results"]


def is_num(v):
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and v == v  # not NaN


def assert_nums(d, keys, where):
    for k in keys:
        assert is_num(d.get(k)), f"{where}: {k} = {d.get(k)!r} is not a number"


def num_or_none(v):
    return v is None or is_num(v)


# ------------------------------------------------------------------ tests

def test_quick_bench_runs_and_writes_every_file():
    res = run_bench()
    out = out_dir()
    for name in ("results.json", "results.md", "calls_per_pod.png"):
        path = os.path.join(out, name)
        assert os.path.getsize(path) > 0, f"{name} is empty"
    with open(os.path.join(out, "calls_per_pod.png"), "rb") as f:
        assert f.read(8) == PNG_MAGIC, "calls_per_pod.png is not a PNG"
    md = open(os.path.join(out, "results.md")).read()
    for key in MODES:
        assert res["modes"][key]["title"] in md, f"{key} missing from results.md"
    assert_nums(res["machine"], ("cores",), "machine")
    assert res["machine"]["kernel"]


def test_every_mode_has_scale_story_figures():
    res = run_bench()
    for key in MODES:
        sc = res["modes"][key]["scenario"]
        where = f"{key} scenario"
        assert_nums(sc, ("calls", "calls_ok", "failed", "cpu_total_s", "machine_busy_s"), where)
        assert sc["calls_ok"] > 0, f"{where}: no call succeeded"
        assert isinstance(sc["failed_by_status"], dict)
        assert_nums(sc["cpu_s"], ("clients", "servers"), where + " cpu")
        assert set(sc["balance"]) == {"5_pods", "10_pods", "3_pods"}, sc["balance"].keys()
        for phase, b in sc["balance"].items():
            assert_nums(b, ("max", "min", "cv"), f"{where} balance {phase}")
        assert set(sc["time_to_fair_share"]) == {"1->5", "5->10"}
        for step, t in sc["time_to_fair_share"].items():
            assert t["per_pod_s"] and all(num_or_none(v) for v in t["per_pod_s"].values()), t
            assert isinstance(t["all_reached"], bool)
        assert_nums(sc["removed_pods"]["10->3"], ("calls", "of_calls"), where + " removed")
        assert_nums(sc["latency_steady"], ("p50_us", "p90_us", "p99_us"), where + " latency")
        rows = res["modes"][key]["timeline"]["rows"]
        assert rows and all(all(is_num(v) for v in row) for row in rows), where + " timeline"


def test_every_mode_has_latency_and_throughput():
    res = run_bench()
    runs = {key: res["modes"][key]["latency"] for key in MODES}
    runs["direct"] = res["direct"]["latency"]
    for key, by_concurrency in runs.items():
        assert by_concurrency, f"{key}: no closed-loop run"
        for c, fig in by_concurrency.items():
            assert_nums(fig, ("p50_us", "p90_us", "p99_us", "calls_per_s"),
                        f"{key} concurrency {c}")
            assert fig["calls_per_s"] > 0


def test_micro_benchmarks_have_figures():
    res = run_bench()
    micro = res["micro"]["services"]
    assert micro, "no micro-benchmark ran"
    for n, m in micro.items():
        where = f"micro {n} services"
        for path in PATHS:
            assert_nums(m["cycle_us"][path], ("median",), f"{where} cycle {path}")
        assert_nums(m["hook"], ("connect4_ns", "sockops_ns_per_connection"), where + " hook")
        assert_nums(m["agent"], ("ready_s", "rss_kb", "idle_cpu_percent", "busy_cpu_percent",
                                 "stop_s"),
                    where + " agent")
    first = next(iter(micro.values()))
    for path in PATHS:
        assert_nums(first["bulk"][path], ("mb_per_s",), f"bulk {path}")
    assert_nums(first["hook_non_service"], ("connect4_ns",), "hook, non-service connect")


def assert_spread(sp, where):
    """A stats.spread: numeric median, min <= median <= max, one run per repeat."""
    assert isinstance(sp, dict), f"{where}: {sp!r} is not a spread"
    assert_nums(sp, ("median", "min", "max"), where)
    assert sp["min"] <= sp["median"] <= sp["max"], f"{where}: {sp}"
    assert sp["runs"] and all(num_or_none(v) for v in sp["runs"]), f"{where}: runs {sp['runs']}"


def test_connect4_beside_the_minimal_hook():
    res = run_bench()
    repeats = res["profile"]["micro_repeats"]
    services = res["micro"]["services"]
    assert set(services) == {"1", "1000"}, services.keys()
    assert res["micro"]["backends_per_service"] == 5
    for n, m in services.items():
        where = f"micro {n} services"
        assert_spread(m["hook"]["connect4_ns_spread"], where + " socklb connect4")
        assert_spread(m["minimal_hook"]["connect4_ns_spread"], where + " minimal connect4")
        assert_spread(m["hook_vs_minimal"], where + " socklb / minimal")
        assert_spread(m["hook_minus_minimal_ns"], where + " socklb - minimal")
        assert len(m["hook_vs_minimal"]["runs"]) == repeats, m["hook_vs_minimal"]
        assert_nums(m["minimal_hook"], ("connect4_ns",), where + " minimal")
        # Every minimal run saw its program run once per connect.
        for run in m["hook_runs"]["minimal"]:
            assert run["min_connect4"]["runs_per_connect"] == 1.0, run
    md = open(os.path.join(out_dir(), "results.md")).read()
    assert "socklb / minimal" in md and "## Data path costs" in md


def test_sockops_costs_balanced_and_not():
    res = run_bench()
    services = res["micro"]["services"]
    first = next(iter(services.values()))
    for label, h in [(f"balanced {n}", m["hook"]) for n, m in services.items()] + \
            [("non-balanced", first["hook_non_service"])]:
        assert_nums(h, ("sockops_ns_per_callback", "sockops_callbacks_per_connection",
                        "sockops_ns_per_connection"), f"sockops {label}")
        assert_spread(h["sockops_ns_per_callback_spread"], f"sockops {label} per callback")
        assert h["sockops_callbacks_per_connection"] > 0, f"sockops {label}: no callback"


def test_bpf_map_memory_and_agent_rss():
    res = run_bench()
    for n, m in res["micro"]["services"].items():
        maps = m["bpf_maps"]
        where = f"maps {n} services"
        assert_nums(maps, ("total_bytes",), where)
        names = {x["name"] for x in maps["maps"]}
        assert {"services", "backends", "backend_stats", "sock_state"} <= names, names
        for x in maps["maps"]:
            assert_nums(x, ("bytes_memlock",), f"{where} {x['name']}")
        assert maps["total_bytes"] == sum(x["bytes_memlock"] for x in maps["maps"])
        assert_nums(m["agent"], ("rss_kb",), where + " agent")


def test_held_connections_memory():
    res = run_bench()
    conns = res["micro"]["connections"]
    assert_nums(conns, ("agent_rss_kb_at_rest", "fds_per_process", "holders", "hold_sinks"),
                "connections")
    assert set(conns["counts"]) == {"1000"}, conns["counts"].keys()
    c = conns["counts"]["1000"]
    for kind in ("baseline", "socklb"):
        where = f"1000 connections {kind}"
        assert c[kind]["held"]["median"] == 1000, f"{where}: {c[kind]['held']}"
        for key in ("bytes_per_connection", "unreclaimable_bytes_per_connection",
                    "slab_bytes_per_connection"):
            assert_spread(c[kind][key], f"{where} {key}")
    assert_spread(c["socklb"]["agent_rss_kb"], "1000 connections agent RSS")
    assert_spread(c["socklb_adds"]["unreclaimable_bytes_per_connection"], "socklb adds")
    assert isinstance(c["socklb_adds"]["caches"], dict)
    assert all(is_num(v) for v in c["socklb"]["tracked_live"]), c["socklb"]["tracked_live"]
    exp = conns["sk_storage_expected"]
    assert exp is None or is_num(exp["kmalloc_bytes"]), exp
    md = open(os.path.join(out_dir(), "results.md")).read()
    assert "Held connections" in md


def cluster_views():
    views = run_bench()["cluster"]["views"]
    assert set(views) == {"cluster", "per_node"}, views.keys()
    return views


def test_cluster_wide_balance_has_figures():
    for view, v in cluster_views().items():
        one = v["one_each"]
        assert one["nodes"] >= 2 and one["pods"] >= 2, one
        for case in ("placement", "scale_out"):
            t = one[case]
            assert t["runs"], f"cluster {view} {case}: no trial"
            assert num_or_none(t["seconds"]["median"]), t
            assert is_num(t["gap"]["median"]) and is_num(t["exact_trials"]), t
            assert is_num(t["failed"]) and is_num(t["calls"]) and t["calls"] > 0, t
        assert is_num(one["scale_out"]["moved"]["median"]), one["scale_out"]
        assert is_num(one["scale_out"]["on_new_pods"]["median"]), one["scale_out"]
    md = open(os.path.join(out_dir(), "results.md")).read()
    assert "## Cluster-wide balance" in md, md[:2000]
    assert os.path.getsize(os.path.join(out_dir(), "cluster.png")) > 0


def test_cluster_story_and_write_budget_have_figures():
    for view, v in cluster_views().items():
        steps = v["story"]["steps"]
        assert [s["pods"] for s in steps] == [p for p, _ in QUICK.cluster_story_phases], steps
        for s in steps:
            assert s["samples"] and is_num(s["moved"]) and is_num(s["fewest_moves"]), s
            assert isinstance(s["within_at_end"], bool), s
        for key in ("steady", "scale_out_1_to_10"):
            w = v["write_budget"][key]
            assert is_num(w["writes_per_node_per_s"]) and is_num(w["agents_cpu_s"]), w
            assert is_num(w["most_writes_by_one_node_in_1s"]), w


def test_graceful_moves_have_figures():
    g = run_bench()["graceful"]
    assert g["cells"], g
    for key, cell in g["cells"].items():
        assert_nums(cell["steady"], ("calls", "failed"), f"graceful {key} steady")
        assert_nums(cell["moves"], ("calls", "failed", "goaway", "delivered", "destroyed"),
                    f"graceful {key}")
        assert cell["moves"]["delivered"] >= 1, f"graceful {key}: no GOAWAY delivered"
        assert num_or_none(cell["moves"]["close_ms_median"]), key
        assert num_or_none(cell["moves"]["verdict_ns_per_skb"]), key


def test_time_fair_cases_have_figures():
    tf = run_bench()["time_fair"]
    assert set(tf) == {"notebook", "8on5-go"}, tf.keys()
    for key, case in tf.items():
        for side in ("time_fair", "counts_only"):
            assert_nums(case[side], ("worst_deviation", "min_share", "calls", "failed",
                                     "moves", "agent_cpu_pct"), f"time-fair {key} {side}")
            assert case[side]["calls"] > 0, (key, side)
        # Read from the agent either way: --time-fair off must rotate nothing.
        assert case["counts_only"]["moves"] == 0, key
        assert case["counts_only"]["last_pass_ms"] is None, case["counts_only"]
    # The notebook's case: counts alone leave every call on one pod; rotated, each gets some.
    nb = tf["notebook"]
    assert nb["counts_only"]["min_share"] == 0, nb["counts_only"]
    assert nb["time_fair"]["moves"] >= 1, nb["time_fair"]
    assert nb["time_fair"]["pods_without_calls"] == 0, nb["time_fair"]
    md = open(os.path.join(out_dir(), "results.md")).read()
    assert "## Time-fair rotation" in md, md[:2000]
