#!/usr/bin/env python3
"""Draws scimwatch's dashboards from real query results, for the README.

Grafana cannot run where scimwatch is built, so this draws each dashboard's
panels, in their layout, from the results `go run ./dashboards/export` wrote
(every panel query run on ClickHouse and Prometheus as Grafana would), with
matplotlib, in Grafana's dark look. It is a picture of the data, not of
Grafana.

    python3 dashboards/render.py /tmp/panels/activity.json dashboards/pictures/activity.png
"""
import json
import sys
from collections import defaultdict
from datetime import datetime

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

BG, PANEL, TEXT, GRID = "#111217", "#181b1f", "#ccccdc", "#2c3235"
COLORS = ["#73bf69", "#f2cc0c", "#8ab8ff", "#ff780a", "#f2495c", "#5794f2", "#b877d9", "#fade2a", "#96d98d", "#ffb357"]
WIDTH = {"timeseries": 12, "heatmap": 12, "table": 8, "barchart": 8, "stat": 8}


def parse_time(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def style(ax, title):
    ax.set_facecolor(PANEL)
    ax.set_title(title, color=TEXT, fontsize=10, loc="left", pad=6)
    ax.tick_params(colors=TEXT, labelsize=7)
    for s in ax.spines.values():
        s.set_color(GRID)
    ax.grid(color=GRID, linewidth=0.5)


def timeseries(ax, p):
    cols, rows = p["columns"], p["rows"]
    series = defaultdict(list)
    if len(cols) == 3 and rows and isinstance(rows[0][1], str):
        for t, name, v in rows:
            series[name].append((parse_time(t), float(v)))
    else:
        for r in rows:
            for i, name in enumerate(cols[1:], 1):
                series[name].append((parse_time(r[0]), float(r[i])))
    for i, (name, pts) in enumerate(sorted(series.items())):
        pts.sort()
        ax.plot([a for a, _ in pts], [b for _, b in pts], color=COLORS[i % len(COLORS)], linewidth=1.2, marker="o", markersize=2, label=name[:40])
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d %H:%M"))
    ax.xaxis.set_major_locator(mdates.AutoDateLocator(maxticks=6, interval_multiples=False))
    if series:
        ax.legend(fontsize=6, facecolor=PANEL, edgecolor=GRID, labelcolor=TEXT, ncol=2, loc="upper left")


def heatmap(ax, p):
    grid = [[0] * 24 for _ in range(7)]
    for weekday, hour, n in p["rows"]:
        grid[int(weekday) - 1][int(hour)] = int(n)
    ax.imshow(grid, aspect="auto", cmap="YlOrRd", interpolation="nearest")
    ax.set_yticks(range(7), ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])
    ax.set_xticks(range(0, 24, 3))
    ax.grid(False)


def table(ax, p):
    ax.axis("off")
    rows = [[str(v)[:28] for v in r] for r in p["rows"][:10]]
    if not rows:
        ax.text(0.5, 0.5, "No data", color=TEXT, ha="center", va="center")
        return
    t = ax.table(cellText=rows, colLabels=p["columns"], loc="upper center", cellLoc="left")
    t.auto_set_font_size(False)
    t.set_fontsize(6.5)
    for (r, _), cell in t.get_celld().items():
        cell.set_facecolor(PANEL if r else "#22252b")
        cell.set_edgecolor(GRID)
        cell.get_text().set_color(TEXT)


def barchart(ax, p):
    rows = p["rows"][:10]
    labels = [str(r[0])[:30] for r in rows][::-1]
    values = [float(r[1]) for r in rows][::-1]
    ax.barh(labels, values, color=COLORS[2])


def stat(ax, p):
    ax.axis("off")
    if not p["rows"]:
        return
    row, cols = p["rows"][0], p["columns"]
    for i, (name, v) in enumerate(zip(cols, row)):
        x = (i + 0.5) / len(cols)
        size = 22 if len(cols) <= 3 else 16
        ax.text(x, 0.55, f"{v}", color=COLORS[i % len(COLORS)], fontsize=size, ha="center", weight="bold")
        ax.text(x, 0.2, name.replace("_", " "), color=TEXT, fontsize=7, ha="center")


DRAW = {"timeseries": timeseries, "heatmap": heatmap, "table": table, "barchart": barchart, "stat": stat}


def main(src, dst):
    with open(src) as f:
        d = json.load(f)
    panels = d["panels"]
    # Grafana's 24-column grid, rows of panels.
    rows, row, used = [], [], 0
    for p in panels:
        # The panel's own width when the export gives it (older exports: by type).
        w = p.get("w") or (24 if p["type"] == "stat" and d["uid"] == "scimwatch-hygiene" else WIDTH.get(p["type"], 12))
        if used + w > 24:
            rows.append(row)
            row, used = [], 0
        row.append((p, w))
        used += w
    rows.append(row)
    height = 3.4 * len(rows) + 0.6
    fig = plt.figure(figsize=(16, height), facecolor=BG)
    fig.suptitle(d["title"], color=TEXT, fontsize=14, x=0.01, y=1 - 0.15 / height, ha="left", va="top")
    gs = fig.add_gridspec(len(rows), 24, hspace=0.55, wspace=1.2, left=0.05, right=0.99, top=1 - 0.75 / height, bottom=0.05)
    for y, row in enumerate(rows):
        x = 0
        for p, w in row:
            ax = fig.add_subplot(gs[y, x:x + w])
            style(ax, p["title"])
            if p.get("error"):
                ax.text(0.5, 0.5, p["error"][:80], color="#f2495c", ha="center", va="center", fontsize=7, wrap=True)
            elif not p["rows"]:
                ax.text(0.5, 0.5, "No data", color=TEXT, ha="center", va="center")
            else:
                DRAW.get(p["type"], table)(ax, p)
            x += w
    fig.savefig(dst, dpi=80, facecolor=BG)


def terminal(src, dst, lines=34):
    """Draws a terminal's text (the demo's output) as a picture."""
    with open(src) as f:
        text = [line.rstrip("\n") for line in f][:lines]
    fig = plt.figure(figsize=(14, 0.22 * len(text) + 0.4), facecolor="#1e1e1e")
    for i, line in enumerate(text):
        color = "#d4d4d4"
        if line.lstrip().startswith("!!"):
            color = "#f2495c" if "CRITICAL" in line or "HIGH" in line else "#f2cc0c"
        elif line.lstrip().startswith(">>"):
            color = "#8ab8ff"
        elif line.lstrip().startswith("--"):
            color = "#73bf69"
        fig.text(0.01, 1 - (i + 1) / (len(text) + 1), line, color=color, family="monospace", fontsize=8.5, va="center")
    fig.savefig(dst, dpi=80, facecolor="#1e1e1e")


if __name__ == "__main__":
    if sys.argv[1] == "--terminal":
        terminal(sys.argv[2], sys.argv[3])
    else:
        main(sys.argv[1], sys.argv[2])
