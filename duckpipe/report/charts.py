"""Charts of the report as inline SVG strings (matplotlib, Agg, no files, no network).

Text stays text (``svg.fonttype = none``): the SVG is a few kB instead of hundreds, and the
browser renders it with the page's own font. Every function takes plain Python data that the
report already fetched with SQL, and returns ``""`` when there is nothing to draw, so a
missing or empty table leaves a note in the report instead of an empty frame.
"""
from __future__ import annotations

import io
import itertools
import logging
import re
from collections.abc import Sequence
from datetime import date

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (backend must be chosen first)

log = logging.getLogger(__name__)

PALETTE = {"real": "#1f5f8b", "sim": "#e07b39", "cp": "#6a4c93", "g1": "#2e7d32", "g2": "#f9a825",
           "g3": "#9e9e9e", "neg": "#c62828", "grid": "#e3e7ec", "text": "#2b3440"}
_RC = {
    "svg.fonttype": "none", "svg.hashsalt": "duckpipe", "font.family": "sans-serif",
    "font.size": 9, "axes.edgecolor": "#b8c0ca", "axes.labelcolor": PALETTE["text"],
    "xtick.color": PALETTE["text"], "ytick.color": PALETTE["text"], "axes.spines.top": False,
    "axes.spines.right": False, "axes.grid": True, "grid.color": PALETTE["grid"],
    "axes.axisbelow": True, "legend.frameon": False, "figure.dpi": 96,
}


_IDS = itertools.count(1)


def _to_svg(fig: plt.Figure) -> str:
    """Serialise a figure as a responsive inline <svg>: no XML prolog, no fixed size, no
    namespace URLs or RDF metadata (HTML5 needs none), ids unique across the page's charts."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})   # constrained layout: one draw
    plt.close(fig)
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"\s*<metadata>.*?</metadata>", "", svg, count=1, flags=re.S)
    svg = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", svg)
    svg = re.sub(r'\s+version="[^"]*"', "", svg, count=1)
    # Let CSS size the chart: drop the fixed pt width/height, keep the viewBox.
    svg = re.sub(r'(<svg[^>]*?)\s+width="[^"]+"\s+height="[^"]+"', r"\1", svg, count=1)
    prefix = f"c{next(_IDS)}-"
    svg = re.sub(r'\bid="', f'id="{prefix}', svg)
    svg = svg.replace("url(#", f"url(#{prefix}").replace('href="#', f'href="#{prefix}')
    return svg.replace("<svg ", '<svg class="chart" role="img" ', 1)


def _figure(width: float = 6.4, height: float = 3.0) -> tuple[plt.Figure, plt.Axes]:
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(width, height), layout="constrained")
    return fig, ax


def cost_histogram(bins: dict[str, list[int]], lo: float, hi: float) -> str:
    """Overlaid histograms of arrival cost (bps), real versus simulated, from SQL bin counts."""
    if not bins or not any(sum(v) for v in bins.values()):
        return ""
    with plt.rc_context(_RC):
        fig, ax = _figure(12.5, 3.6)
        n = max(len(v) for v in bins.values())
        width = (hi - lo) / n if hi > lo else 1.0
        edges = [lo + i * width for i in range(n)]
        for key, label, colour in (("real", "Real (executed sweeps)", PALETTE["real"]),
                                   ("simulated", "Simulated (dark set A)", PALETTE["sim"])):
            counts = bins.get(key)
            if counts:
                ax.bar(edges, counts, width=width, align="edge", alpha=0.55, color=colour,
                       edgecolor=colour, linewidth=0.6, label=f"{label}, n={sum(counts):,}")
        ax.axvline(0, color=PALETTE["text"], linewidth=0.8, linestyle=":")
        ax.set_xlabel("Arrival cost (bps; positive = worse for the trader; 1st–99th pct range)")
        ax.set_ylabel("Sweeps")
        ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=2)
        return _to_svg(fig)


def fill_ratio_by_group(rows: Sequence[tuple[str, float | None, int]],
                        sim: tuple[float | None, int] | None = None) -> str:
    """Bars of mean fill ratio (%) per group, with the simulated dark fill ratio beside them."""
    items = [(g, v, n) for g, v, n in rows if v is not None]
    if sim and sim[0] is not None:
        items.append(("Dark sim\n(qualifying)", sim[0], sim[1]))
    if not items:
        return ""
    with plt.rc_context(_RC):
        fig, ax = _figure(5.6, 2.8)
        colours = [PALETTE.get(g.lower(), PALETTE["sim"]) for g, _, _ in items]
        bars = ax.bar([g for g, _, _ in items], [100 * v for _, v, _ in items], color=colours,
                      width=0.6)
        for bar, (_, v, n) in zip(bars, items):
            ax.annotate(f"{100 * v:.1f}%\nn={n:,}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        ha="center", va="bottom", fontsize=8, xytext=(0, 2), textcoords="offset points")
        ax.set_ylim(0, 118)
        ax.set_ylabel("Mean fill ratio (%)")
        ax.grid(axis="x", visible=False)
        return _to_svg(fig)


def savings_by_scenario(rows: Sequence[tuple[str, float | None, float | None, int]]) -> str:
    """Mean savings (bps) per scenario with a 95% normal interval (mean ± 1.96 sd/√n)."""
    items = [(s, m, sd, n) for s, m, sd, n in rows if m is not None]
    if not items:
        return ""
    with plt.rc_context(_RC):
        fig, ax = _figure(5.6, 2.8)
        errs = [1.96 * sd / n ** 0.5 if sd is not None and n > 1 else 0.0 for _, _, sd, n in items]
        colours = [PALETTE["real"] if m >= 0 else PALETTE["neg"] for _, m, _, _ in items]
        ax.bar([s for s, *_ in items], [m for _, m, _, _ in items], yerr=errs, color=colours,
               width=0.55, capsize=4, error_kw={"elinewidth": 0.9, "ecolor": PALETTE["text"]})
        ax.axhline(0, color=PALETTE["text"], linewidth=0.8)
        ax.set_ylabel("Mean savings (bps, ±95% CI)")
        ax.grid(axis="x", visible=False)
        return _to_svg(fig)


def daily_series(days: Sequence[date], bars: Sequence[float | None], bar_label: str,
                 line: Sequence[float | None] | None = None, line_label: str = "") -> str:
    """Per-day bars (activity) with an optional line on a second axis (a cost or ratio)."""
    if not days:
        return ""
    with plt.rc_context(_RC):
        fig, ax = _figure(6.8, 2.8)
        x = list(range(len(days)))
        ax.bar(x, [b or 0 for b in bars], color=PALETTE["real"], alpha=0.8, width=0.7, label=bar_label)
        ax.set_ylabel(bar_label)
        step = max(1, len(days) // 12)
        ax.set_xticks(x[::step], [d.isoformat() if hasattr(d, "isoformat") else str(d)
                                  for d in days][::step], rotation=30, ha="right")
        ax.grid(axis="x", visible=False)
        if line is not None and any(v is not None for v in line):
            ax2 = ax.twinx()
            ax2.plot(x, [float("nan") if v is None else v for v in line], color=PALETTE["sim"],
                     marker="o", markersize=3, linewidth=1.4, label=line_label)
            ax2.set_ylabel(line_label)
            ax2.grid(False)
            ax2.spines["right"].set_visible(True)
            h1, l1 = ax.get_legend_handles_labels()
            h2, l2 = ax2.get_legend_handles_labels()
            ax.legend(h1 + h2, l1 + l2, loc="lower left", bbox_to_anchor=(0, 1.0), ncol=2, fontsize=8)
        return _to_svg(fig)


def hourly_heatmap(dates: Sequence[date], hours: Sequence[int],
                   values: dict[tuple[date, int], float], label: str, tz_label: str = "local") -> str:
    """Date x hour-of-day (local time, ``tz_label``) grid of one measure; readable for one day or a year."""
    if not dates or not hours:
        return ""
    with plt.rc_context(_RC):
        height = min(6.0, 1.2 + 0.22 * len(dates))
        fig, ax = _figure(6.8, height)
        grid = [[values.get((d, h), float("nan")) for h in hours] for d in dates]
        # pcolormesh stays vector (imshow would embed a PNG in the SVG).
        img = ax.pcolormesh(grid, cmap="Blues", edgecolors="white", linewidth=0.5)
        ax.invert_yaxis()
        ax.set_xticks([i + 0.5 for i in range(len(hours))], [f"{h:02d}" for h in hours])
        step = max(1, len(dates) // 15)
        ax.set_yticks([i + 0.5 for i in range(0, len(dates), step)], [str(d) for d in dates][::step])
        ax.set_xlabel(f"Hour of day ({tz_label})")
        ax.grid(False)
        cbar = fig.colorbar(img, ax=ax, fraction=0.04, pad=0.02)
        cbar.set_label(label)
        return _to_svg(fig)


def hourly_profile(hours: Sequence[int], values: Sequence[float | None], label: str,
                   line: Sequence[float | None] | None = None, line_label: str = "") -> str:
    """Bars by hour of day (all dates together), optional line on a second axis."""
    return daily_series([f"{h:02d}:00" for h in hours], values, label, line, line_label)  # type: ignore[arg-type]


def markout_curves(series: Sequence[tuple[str, str, Sequence[tuple[int, float | None, float | None,
                                                                   float | None, int]]]]) -> str:
    """Markout curves (SPEC §5.10): volume-weighted mean bps per horizon on a log axis, with 95%
    intervals; ``series`` = (label, palette key, [(horizon_s, mean, ci_low, ci_high, fills)])."""
    items = [(label, key, [p for p in pts if p[1] is not None]) for label, key, pts in series]
    items = [it for it in items if it[2]]
    if not items:
        return ""
    with plt.rc_context(_RC):
        fig, ax = _figure(6.4, 3.2)
        nudge = {i: 1.0 + 0.06 * (i - (len(items) - 1) / 2) for i in range(len(items))}  # keep bars apart
        for i, (label, key, pts) in enumerate(items):
            xs = [h * nudge[i] for h, *_ in pts]
            ys = [m for _, m, *_ in pts]
            lo = [m - l if l is not None else 0.0 for _, m, l, _, _ in pts]
            hi = [u - m if u is not None else 0.0 for _, m, _, u, _ in pts]
            n = max(f for *_, f in pts)
            ax.errorbar(xs, ys, yerr=[lo, hi], color=PALETTE.get(key, key), marker="o", markersize=4,
                        linewidth=1.4, capsize=3, elinewidth=0.9, label=f"{label} (≤{n:,} fills)")
        ax.set_xscale("log")
        hs = sorted({h for _, _, pts in items for h, *_ in pts})
        ax.set_xticks(hs, [f"{h:g} s" for h in hs])
        ax.minorticks_off()
        ax.axhline(0, color=PALETTE["text"], linewidth=0.8, linestyle=":")
        ax.set_xlabel("Horizon after the fill (log scale)")
        ax.set_ylabel("Markout (bps, vol.-weighted, ±95% CI)")
        ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=3, fontsize=8)
        return _to_svg(fig)
