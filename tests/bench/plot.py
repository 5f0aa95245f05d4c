"""Calls per pod over time, one panel per mode, as a PNG made by gnuplot
(Debian's gnuplot-nox: pngcairo, or the libgd png terminal). Scale events
are dashed vertical lines labelled with the new pod count."""

import os
import subprocess

GNUPLOT_TIMEOUT = 60
PANEL_HEIGHT = 280
# matplotlib's tab10: ten pods, ten colours that stay apart.
COLORS = "#1f77b4 #ff7f0e #2ca02c #d62728 #9467bd #8c564b #e377c2 #7f7f7f #bcbd22 #17becf"


def write_timeline(path, pods, rows, duration):
    """Whitespace table with a header row (gnuplot's columnheader). The last
    bin is repeated at `duration`: `steps` draws a bin up to the next row."""
    with open(path, "w") as f:
        f.write("t " + " ".join(pods) + "\n")
        for row in rows + ([[duration] + rows[-1][1:]] if rows else []):
            f.write(" ".join(str(v) for v in row) + "\n")


def _terminal():
    res = subprocess.run(["gnuplot", "-e", "set terminal"], capture_output=True, text=True,
                         timeout=GNUPLOT_TIMEOUT)
    return "pngcairo" if "pngcairo" in res.stdout + res.stderr else "png"


def _panel(title, dat, events, n_pods, duration):
    lines = [f'set title "{title}"', "unset arrow", "unset label",
             f"set xrange [0:{duration}]"]
    for ev in events[1:]:
        x = ev["t"]
        lines.append(f'set arrow from {x}, graph 0 to {x}, graph 1 nohead dt 2 lc rgb "black"')
        lines.append(f'set label "{len(ev["pods"])} pods" at {x}, graph 0.95 offset 0.5,0')
    lines.append(f"plot for [i=2:{n_pods + 1}] '{dat}' using 1:i with steps lw 1.5 "
                 "lc rgb word(colors, (i - 2) % 10 + 1) title columnheader(i)")
    return lines


def preamble(png, height, n_panels, title=None):
    """The terminal, the output and a multiplot of n_panels rows (noenhanced: a name
    like "round_robin" must not become a subscript)."""
    layout = f"set multiplot layout {n_panels},1" + (f' title "{title}"' if title else "")
    return [f'set terminal {_terminal()} noenhanced size 1200,{height} font "sans,9"',
            f"set output '{png}'", f'colors = "{COLORS}"', layout, "set key outside right",
            "set offsets 0, 0, graph 0.15, 0"]  # headroom: a line at the top stays visible


def run_script(script, gp):
    """Writes the gnuplot script to gp and runs it (ending the multiplot)."""
    with open(gp, "w") as f:
        f.write("\n".join(script + ["unset multiplot"]) + "\n")
    subprocess.run(["gnuplot", gp], check=True, capture_output=True, text=True,
                   timeout=GNUPLOT_TIMEOUT)


def render(png, panels, datadir):
    """panels: [{"key", "title", "rows", "pods", "events", "duration"}], one
    per mode; the data files and the script stay in datadir. Returns png."""
    script = preamble(png, PANEL_HEIGHT * len(panels) + 40, len(panels),
                      "calls per pod per second (1 s bins); dashed: the service's pod set "
                      "changed") + [
        "set yrange [0:*]", 'set ylabel "calls/s"',
        'set xlabel "seconds since steady load began"']
    for p in panels:
        dat = os.path.join(datadir, f"timeline-{p['key']}.dat")
        write_timeline(dat, p["pods"], p["rows"], p["duration"])
        script += _panel(p["title"], dat, p["events"], len(p["pods"]), p["duration"])
    run_script(script, os.path.join(datadir, "calls_per_pod.gp"))
    return png
