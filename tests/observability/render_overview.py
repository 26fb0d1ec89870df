"""Render the overview dashboard's panels from real data: docs/dashboard-overview.png.

    python -m tests.observability.render_overview [OUT.png] [--seconds 60]

There is no Grafana here.  This runs the same stack as the live dashboard
test (two engines trading with faults, a real Prometheus scraping them every
second), asks Prometheus every query of ``fixplus-overview.json`` over the
run (``$__rate_interval`` = 10 s), draws each panel as SVG in an HTML page laid
out by the panels' gridPos, and has headless Chromium (Debian's
``chromium``) take the screenshot.  Needs FIXPLUS_PROMETHEUS (or prometheus
on PATH) and chromium on PATH.
"""

from __future__ import annotations

import html
import math
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.observability.harness import Stack, load_dashboards, substitute, tools
from tests.realparts import REPO

PALETTE = ["#73bf69", "#f2cc0c", "#8ab8ff", "#ff780a", "#f2495c", "#5794f2", "#b877d9",
           "#705da0", "#37872d", "#fade2a", "#ff9830", "#c4162a"]
COL = 64  # pixels per grid column (24 columns)
ROW = 34  # pixels per grid row


def _legend(fmt: str, labels: dict[str, str]) -> str:
    if fmt in ("", "__auto"):
        return ", ".join(f"{k}={v}" for k, v in labels.items() if k != "__name__") or "value"
    out = fmt
    for k, v in labels.items():
        out = out.replace("{{" + k + "}}", v)
    return out.replace("FIX.4.4:", "")


def _fmt(value: float, unit: str) -> str:
    if math.isnan(value):
        return "-"
    if unit == "s":
        return f"{value * 1000:.3g} ms" if value < 1 else f"{value:.3g} s"
    if unit == "bytes":
        return f"{value / 2**20:.1f} MiB"
    if unit in ("reqps", "ops"):
        return f"{value:,.0f}/s" if value >= 10 else f"{value:.2g}/s"
    return f"{value:.3g}" if value != int(value) else f"{int(value)}"


def _series(stack: Stack, panel: dict[str, Any], start: float, end: float
            ) -> list[tuple[str, list[tuple[float, float]]]]:
    out = []
    for target in panel["targets"]:
        expr = substitute(target["expr"], rate_interval="10s")
        for s in stack.query_range(expr, start, end):
            points = [(float(t), float(v)) for t, v in s["values"]]
            out.append((_legend(target.get("legendFormat", ""), s["metric"]), points))
    return out


def _timeseries(series: list[tuple[str, list[tuple[float, float]]]], unit: str,
                w: int, h: int, start: float, end: float) -> str:
    plot_w, plot_h = w - 290, h - 40
    finite = [v for _, pts in series for _, v in pts if math.isfinite(v)]
    top = max(finite, default=1.0) or 1.0
    parts = [f'<svg width="{w - 16}" height="{h}" xmlns="http://www.w3.org/2000/svg">']
    for i in range(5):
        y = 8 + plot_h * i / 4
        parts.append(f'<line x1="56" x2="{56 + plot_w}" y1="{y:.1f}" y2="{y:.1f}" '
                     'stroke="#2c3235"/>')
        parts.append(f'<text x="52" y="{y + 4:.1f}" fill="#9fa7b3" font-size="10" '
                     f'text-anchor="end">{html.escape(_fmt(top * (4 - i) / 4, unit))}</text>')
    for i in range(4):
        t = start + (end - start) * i / 3
        x = 56 + plot_w * i / 3
        parts.append(f'<text x="{x:.1f}" y="{plot_h + 24}" fill="#9fa7b3" font-size="10" '
                     f'text-anchor="middle">{time.strftime("%H:%M:%S", time.gmtime(t))}</text>')
    legend_y = 14
    for n, (name, pts) in enumerate(series[:12]):
        color = PALETTE[n % len(PALETTE)]
        coords = [(56 + plot_w * (t - start) / (end - start), 8 + plot_h * (1 - v / top))
                  for t, v in pts if math.isfinite(v)]
        if coords:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{color}" '
                         'stroke-width="1.6"/>')
        last = next((v for _, v in reversed(pts) if math.isfinite(v)), float("nan"))
        parts.append(f'<rect x="{plot_w + 66}" y="{legend_y - 8}" width="10" height="3" '
                     f'fill="{color}"/><text x="{plot_w + 80}" y="{legend_y - 3}" '
                     f'fill="#ccccdc" font-size="10">{html.escape(name[:34])} '
                     f'<tspan fill="#9fa7b3">{html.escape(_fmt(last, unit))}</tspan></text>')
        legend_y += 14
    parts.append("</svg>")
    return "".join(parts)


def _state_timeline(series: list[tuple[str, list[tuple[float, float]]]], w: int, h: int,
                    start: float, end: float) -> str:
    rows = sorted(series)
    lane = min(28.0, (h - 30) / max(1, len(rows)))
    label_w = 150
    plot_w = w - label_w - 30
    parts = [f'<svg width="{w - 16}" height="{h}" xmlns="http://www.w3.org/2000/svg">']
    for i, (name, pts) in enumerate(rows):
        y = 4 + i * lane
        parts.append(f'<text x="{label_w - 6}" y="{y + lane / 2 + 4:.1f}" fill="#ccccdc" '
                     f'font-size="11" text-anchor="end">{html.escape(name)}</text>')
        for (t0, v), (t1, _) in zip(pts, [*pts[1:], (end, 0.0)], strict=False):
            x0 = label_w + plot_w * (t0 - start) / (end - start)
            x1 = label_w + plot_w * (t1 - start) / (end - start)
            color = "#73bf69" if v >= 1 else "#f2495c"
            parts.append(f'<rect x="{x0:.1f}" y="{y:.1f}" width="{max(x1 - x0, 0.5):.1f}" '
                         f'height="{lane - 4:.1f}" fill="{color}"/>')
    parts.append("</svg>")
    return "".join(parts)


def render_html(stack: Stack, start: float, end: float) -> str:
    board = load_dashboards()["fixplus-overview.json"]
    cells = []
    height = 0
    for panel in board["panels"]:
        pos = panel["gridPos"]
        x, y, w, h = pos["x"] * COL, pos["y"] * ROW, pos["w"] * COL, pos["h"] * ROW
        height = max(height, y + h)
        style = f"left:{x + 4}px;top:{y + 4}px;width:{w - 8}px;height:{h - 8}px"
        if panel["type"] == "row":
            cells.append(f'<div class="row" style="{style}">{html.escape(panel["title"])}</div>')
            continue
        unit = panel["fieldConfig"]["defaults"].get("unit", "short")
        series = _series(stack, panel, start, end)
        if panel["type"] == "stat":
            vals = [v for _, pts in series for _, v in pts[-1:] if math.isfinite(v)]
            value = sum(vals) if vals else float("nan")
            steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
            color = steps[0]["color"]
            for step in steps[1:]:
                if value >= step["value"]:
                    color = step["color"]
            body = f'<div class="stat" style="background:{color}">{_fmt(value, unit)}</div>'
        elif panel["type"] == "state-timeline":
            body = _state_timeline(series, w - 8, h - 40, start, end)
        else:
            body = _timeseries(series, unit, w - 8, h - 40, start, end)
        cells.append(f'<div class="panel" style="{style}"><div class="title">'
                     f'{html.escape(panel["title"])}</div>{body}</div>')
    return f"""<!doctype html><html><head><meta charset="utf-8"><style>
body {{ margin:0; background:#111217; font-family:'DejaVu Sans',sans-serif; }}
.head {{ color:#ccccdc; font-size:18px; padding:10px 12px; }}
.head span {{ color:#9fa7b3; font-size:12px; margin-left:12px; }}
.grid {{ position:relative; width:{24 * COL}px; height:{height + 8}px; }}
.panel {{ position:absolute; background:#181b1f; border:1px solid #2c3235; border-radius:3px;
         overflow:hidden; }}
.title {{ color:#ccccdc; font-size:13px; padding:6px 8px; font-weight:600; }}
.row {{ position:absolute; color:#ccccdc; font-size:15px; font-weight:600; padding-top:6px; }}
.stat {{ margin:0 8px; height:calc(100% - 42px); display:flex; align-items:center;
        justify-content:center; color:#fff; font-size:34px; font-weight:600; border-radius:2px; }}
</style></head><body>
<div class="head">{html.escape(board["title"])}<span>rendered from a real Prometheus
scraping tests/observability/loadpair.py ({(end - start):.0f} s: 2 sessions trading, 1 cut,
2 stalls, rejects, 1 session that cannot connect)</span></div>
<div class="grid">{"".join(cells)}</div></body></html>"""


def screenshot(page: Path, out: Path, width: int, height: int) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise SystemExit("chromium not found: apt-get install chromium")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                        "--hide-scrollbars", f"--user-data-dir={profile}",
                        f"--window-size={width},{height}", f"--screenshot={out}",
                        page.as_uri()], check=True, capture_output=True, timeout=120)


def main(argv: list[str]) -> int:
    out = Path(next((a for a in argv if a.endswith(".png")),
                    REPO / "docs" / "dashboard-overview.png")).resolve()
    seconds = float(argv[argv.index("--seconds") + 1]) if "--seconds" in argv else 60.0
    prometheus = tools()[0]
    if prometheus is None:
        raise SystemExit("prometheus not found: bash tests/env/40-prometheus.sh")
    with Stack(prometheus, seconds) as stack:
        begin = time.time()
        stack.wait_for("COVERED", seconds)
        stack.wait_for("DONE", seconds + 30)
        end = time.time()
        page = stack.dir / "overview.html"
        text = render_html(stack, begin - 2, end)
        page.write_text(text)
        board = load_dashboards()["fixplus-overview.json"]
        height = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in board["panels"]) * ROW + 60
        screenshot(page, out, 24 * COL, height)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
