"""The cluster-wide balance figure (cluster.py's results) as one PNG by
gnuplot, three panels: the story's cluster-wide max and min connections per
pod over time with the floor/ceil of the fair share, per view; the spread
(max − min per pod) at the end of every placement and scale-out trial, per
view; the SocklbNode writes per second of the write budget's nodes."""

import os

from plot import preamble, run_script

VIEWS = ("cluster", "per_node")


def write_rows(path, header, rows):
    with open(path, "w") as f:
        f.write(" ".join(header) + "\n")
        for row in rows:
            f.write(" ".join(str(v) for v in row) + "\n")
    return path


def story_rows(story, n_conns):
    """[t, max, min, floor, ceil] for every sample of every step."""
    rows = []
    for st in story["steps"]:
        lo, hi = n_conns // st["pods"], -(-n_conns // st["pods"])
        rows += [[t, max(c), min(c), lo, hi] for t, c in st["samples"] if c]
    return rows


def step_arrows(steps):
    out = []
    for st in steps[1:]:
        out.append(f'set arrow from {st["t"]}, graph 0 to {st["t"]}, graph 1 nohead dt 2 '
                   'lc rgb "black"')
        out.append(f'set label "{st["pods"]} pods" at {st["t"]}, graph 0.95 offset 0.5,0')
    return out


def story_panel(c, datadir):
    s = c["views"]["cluster"]["story"]
    n_conns = s["nodes"] * s["clients_per_node"]
    dats = {v: write_rows(os.path.join(datadir, f"cluster-story-{v}.dat"),
                          ["t", "max", "min", "floor", "ceil"],
                          story_rows(c["views"][v]["story"], n_conns)) for v in VIEWS}
    return [f'set title "{s["nodes"]} nodes x {s["clients_per_node"]} clients, story: '
            'cluster-wide connections per pod (max and min over the pods)"',
            "unset arrow", "unset label", 'set xlabel "seconds since the story began"',
            'set ylabel "connections"', "set yrange [0:*]"] + step_arrows(s["steps"]) + [
        f"plot '{dats['cluster']}' using 1:4 with steps lw 6 lc rgb '#cccccc' "
        "title 'floor and ceil of the fair share', "
        "'' using 1:5 with steps lw 6 lc rgb '#cccccc' notitle, "
        f"'' using 1:2 with steps lw 2 lc rgb word(colors, 1) title 'cluster view: max', "
        f"'' using 1:3 with steps lw 2 lc rgb word(colors, 3) title 'cluster view: min', "
        f"'{dats['per_node']}' using 1:2 with steps dt 2 lw 1.5 lc rgb word(colors, 4) "
        "title 'per-node view: max', "
        f"'' using 1:3 with steps dt 2 lw 1.5 lc rgb word(colors, 5) title 'per-node view: min'"]


def trials_panel(c, datadir):
    one = c["views"]["cluster"]["one_each"]
    series = []
    for v in VIEWS:
        for case in ("placement", "scale_out"):
            runs = c["views"][v]["one_each"][case]["runs"]
            dat = write_rows(os.path.join(datadir, f"cluster-{case}-{v}.dat"),
                             ["trial", "gap"],
                             [[i + 1 + 0.06 * (len(series) - 1.5), r["max"] - r["min"]]
                              for i, r in enumerate(runs)])
            series.append(f"'{dat}' using 1:2 with linespoints pt 7 ps 1.2 lw 1.5 "
                          f"{'dt 2 ' if v == 'per_node' else ''}"
                          f"lc rgb word(colors, {len(series) + 1}) "
                          f"title '{v.replace('_', '-')} view, {case.replace('_', '-')}'")
    return [f'set title "{one["nodes"]} nodes x 1 connection, {one["pods"]} pods: max - min '
            'connections per pod at the end of each trial (0 = exact)"',
            "unset arrow", "unset label", 'set xlabel "trial"', 'set ylabel "max - min"',
            f"set xrange [0.5:{len(runs) + 0.5}]", "set xtics 1", "set yrange [-0.5:*]",
            "plot " + ", ".join(series), "set xrange [*:*]", "set xtics autofreq"]


def write_bins(budget, bin_s=1.0):
    """[t, writes in [t, t + bin_s)] over the steady and the scale-out windows."""
    steady, scale = budget["steady"], budget["scale_out_1_to_10"]
    times = steady["write_times"] + [t + scale["t0"] - steady["t0"]
                                     for t in scale["write_times"]]
    end = scale["t0"] - steady["t0"] + scale["seconds"]
    return [[i * bin_s, sum(i * bin_s <= t < (i + 1) * bin_s for t in times)]
            for i in range(int(end / bin_s) + 1)]


def budget_panel(c, datadir):
    b = c["views"]["cluster"]["write_budget"]
    dat = write_rows(os.path.join(datadir, "cluster-writes.dat"), ["t", "writes"],
                     write_bins(b))
    x = round(b["scale_out_1_to_10"]["t0"] - b["steady"]["t0"], 2)
    return [f'set title "{b["nodes"]} nodes: SocklbNode writes per second, all nodes '
            '(cluster view)"', "unset arrow", "unset label",
            f'set arrow from {x}, graph 0 to {x}, graph 1 nohead dt 2 lc rgb "black"',
            f'set label "1 -> 10 pods" at {x}, graph 0.95 offset 0.5,0',
            'set xlabel "seconds since the steady window began"', 'set ylabel "writes/s"',
            "set yrange [0:*]",
            f"plot '{dat}' using 1:2 with steps lw 2 lc rgb word(colors, 1) title 'writes/s'"]


def render(png, c, datadir):
    """The panels the results have (story and write budget only if they ran)."""
    panels = [trials_panel(c, datadir)]
    if "story" in c["views"]["cluster"]:
        panels.insert(0, story_panel(c, datadir))
    if "write_budget" in c["views"]["cluster"]:
        panels.append(budget_panel(c, datadir))
    script = preamble(png, 300 * len(panels) + 40, len(panels))
    for p in panels:
        script += p
    run_script(script, os.path.join(datadir, "cluster.gp"))
    return png
