"""Figures of a run, drawn from its saved :class:`~optbench.results.Results` alone.

One function per figure, each returning a :class:`Plot` that holds a matplotlib ``Figure`` (the
object-oriented API on the Agg canvas: no global pyplot state), a stable file name and a caption
that says how to read it:

* :func:`paths_figure`: paths over the function's contour lines (the book's figures 8.1-8.6),
  one per panel of the config, or per function with each optimizer's best setting;
* :func:`gaps_figure`: ``f - f*`` against the step, on a log axis, for the paths of a panel;
* :func:`sweep_figure`: steps to target against a swept hyperparameter, one line per optimizer,
  diverged and unfinished settings as markers along the top of the axes;
* :func:`map_figure`: a two-hyperparameter sweep as a heatmap of steps to target, diverged and
  unfinished cells in their own colours;
* :func:`ecdf_figure`: COCO's data profile (ECDF of runtimes over the target ladder) of each
  optimizer's best setting, across functions;
* :func:`profile_figure`: the Dolan–Moré performance profile of the same best settings.

Colours are the Okabe-Ito palette, which stays distinguishable under the common colour-vision
deficiencies (Okabe & Ito, "Color Universal Design", 2008); failures also differ by marker shape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LogNorm, to_rgba
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from .. import plugins
from ..config import MAX_PANEL_PATHS, format_value, setting_matches
from ..functions import FUNCTIONS, make_function
from ..metrics import best_settings, ecdf, performance_profile
from ..results import Results
from ..runner import CONVERGED, DIVERGED, UNFINISHED
from .tables import MAX_SETTING_ROWS

DPI = 150

#: Okabe-Ito's hues, ordered for contrast on white; their orange, sky blue and yellow darkened
#: to a contrast of at least 3:1 against the white background (WCAG's minimum for lines and
#: marks: Okabe-Ito's own are 2.3:1, 2.3:1 and 1.3:1, the yellow barely visible).
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#B87E00", "#3D8BBF", "#000000", "#8A8424")
REFERENCE_COLOR = "#8C8C8C"
CONTOUR_COLOR = "#C8C8C8"
DIVERGED_COLOR = "#D55E00"
UNFINISHED_COLOR = "#BBBBBB"
STEPS_CMAP = "viridis"
DIVERGED_MARKER = "x"
UNFINISHED_MARKER = "o"

#: Line styles and markers cycled with the colours, so that lines differ by more than hue.
LINESTYLES = ("-", "--", "-.", ":")
MARKERS = ("o", "^", "s", "D", "v", "P")

#: Most lines an automatic panel (no panels in the config) or an ECDF draws.
MAX_LINES = 8

#: Most steps of one path drawn over the contours (the gap plot shows every step).
MAX_PATH_STEPS = 50


@dataclass
class Plot:
    """A figure with its stable file name (without ``.png``), title and reading guide."""

    name: str
    title: str
    caption: str
    figure: Figure


def new_figure(width: float, height: float) -> Figure:
    """A Figure on its own Agg canvas (no pyplot), laid out by matplotlib's constrained layout."""
    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def slug(text: str, limit: int = 32) -> str:
    """File-name-safe lower-case words: ``Fig. 8.1: steepest`` -> ``fig-8-1-steepest``."""
    words = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    if len(words) > limit:
        words = words[: limit + 1].rsplit("-", 1)[0]
    return words or "plot"


# ---------------------------------------------------------------------------------------------
# What the saved results say per group (setting)


def setting_runtimes(results: Results) -> tuple[np.ndarray, np.ndarray]:
    """Per group: the median steps to target over its trials (a trial that never reached the
    target counts as infinitely many), and the status that draws it.

    Returns ``(steps (G,), status (G,))``: ``status`` is CONVERGED where ``steps`` is finite
    (at least half the trials converged), else DIVERGED if at least as many trials diverged as
    stayed unfinished, else UNFINISHED.
    """
    trials = results.trials
    n_groups = len(results.groups)
    runtime = np.where(trials.status == CONVERGED, trials.first_hit, np.inf).astype(np.float64)
    order = np.argsort(trials.group, kind="stable")
    bounds = np.searchsorted(trials.group[order], np.arange(n_groups + 1))
    steps = np.array([np.median(runtime[order[bounds[g]:bounds[g + 1]]])
                      if bounds[g + 1] > bounds[g] else np.inf for g in range(n_groups)])
    diverged = np.array([s["diverged"] for s in results.summaries])
    unfinished = np.array([s["unfinished"] for s in results.summaries])
    status = np.where(np.isfinite(steps), CONVERGED,
                      np.where(diverged >= unfinished, DIVERGED, UNFINISHED))
    return steps, status


def _outcome_text(summary: dict) -> str:
    """``converged in 45 steps``, ``diverged at step 182`` or ``unfinished``, for one setting."""
    n = summary["trials"]
    if summary["converged"] == n:
        q = summary["steps"]
        if q["min"] == q["max"]:
            return f"converged in {q['min']} step{'s' if q['min'] != 1 else ''}"
        return f"converged in median {format_value(q['median'])} steps"
    if summary["diverged"] == n:
        q = summary["diverged_at"]
        at = q["min"] if q["min"] == q["max"] else f"median {format_value(q['median'])}"
        return f"diverged at step {at}"
    if summary["unfinished"] == n:
        return "unfinished"
    return f"{summary['converged']}/{n} converged"


def _sweep_scale(results: Results, optimizer_label: str, name: str) -> str:
    """``log``, ``linear``, ``list`` or ``single``: how the config spaced a swept value."""
    entry = next(o for o in results.config["optimizers"] if o["label"] == optimizer_label)
    base, _, index = name.partition("[")
    spec = entry["hyperparameters"][base]
    if index:
        spec = spec[int(index[:-1])]
    return spec["scale"]


def _entries(results: Results, function: str) -> dict[str, list[int]]:
    """Optimizer label -> group ids on ``function``, in the order of the config."""
    entries: dict[str, list[int]] = {}
    for g in results.groups:
        if g.function == function:
            entries.setdefault(g.optimizer_label, []).append(g.id)
    return entries


def _target_text(results: Results) -> str:
    target = results.config["target"]
    if target.get("distance"):
        return f"‖x − x*‖ ≤ {target['distance']:g}"
    return f"f − f* ≤ {(target.get('gap') or 1e-6):g}"


# ---------------------------------------------------------------------------------------------
# Panels: which paths to draw together


@dataclass
class PanelLines:
    """A resolved panel: its title, function label and ``(group id, reference)`` pairs."""

    index: int
    title: str
    function: str
    lines: list[tuple[int, bool]]
    declared: bool


def panels(results: Results) -> list[PanelLines]:
    """The config's panels, or one per function with the best setting of each optimizer entry
    (at most :data:`MAX_LINES`, the best first)."""
    declared = results.config.get("panels") or []
    out = []
    for i, panel in enumerate(declared):
        lines = []
        for line in panel["show"]:
            for g in results.groups:
                if (g.function == panel["function"] and g.optimizer_label == line["optimizer"]
                        and setting_matches(g.hyperparameters, line["setting"])):
                    lines.append((g.id, bool(line["reference"])))
        out.append(PanelLines(i + 1, panel["title"], panel["function"],
                              lines[:MAX_PANEL_PATHS], True))
    if declared:
        return out
    best = best_settings(results.groups, results.summaries)
    for i, label in enumerate(results.function_labels()):
        ranked = sorted(
            ((g, s) for g, s in best if g.function == label),
            key=lambda gs: (-gs[1]["success_rate"], gs[1]["aRT"]),
        )
        lines = [(g.id, False) for g, _ in ranked[:MAX_LINES]]
        left = len(ranked) - len(lines)
        title = f"{label}: best setting of each optimizer"
        if left:
            title += f" (the {len(lines)} fastest; {left} more in the tables)"
        out.append(PanelLines(i + 1, title, label, lines, False))
    return out


def _line_label(results: Results, gid: int) -> str:
    group = results.groups[gid]
    setting = group.setting()
    name = group.optimizer_label if setting == "-" else f"{group.optimizer_label}, {setting}"
    return f"{name} ({_outcome_text(results.summaries[gid])})"


def _styles(panel: PanelLines) -> dict[int, dict]:
    """Colour, line style and marker of each line of a panel; references are thin and grey."""
    styles, k = {}, 0
    for gid, reference in panel.lines:
        if reference:
            styles[gid] = {"color": REFERENCE_COLOR, "linestyle": "-", "marker": "o",
                           "linewidth": 1.0, "markersize": 2.5, "zorder": 2}
        else:
            styles[gid] = {"color": PALETTE[k % len(PALETTE)],
                           "linestyle": LINESTYLES[k % len(LINESTYLES)],
                           "marker": MARKERS[k % len(MARKERS)],
                           "linewidth": 1.5, "markersize": 3.5, "zorder": 3 + k}
            k += 1
    return styles


def _moving_part(points: np.ndarray, scale: float) -> int:
    """Number of leading steps worth drawing: up to where the path stops moving visibly."""
    finite = np.flatnonzero(np.all(np.isfinite(points), axis=-1))
    if finite.size == 0:
        return 0
    last = finite[-1]
    distance = np.sqrt(np.sum((points[: last + 1] - points[last]) ** 2, axis=-1))
    moving = np.flatnonzero(distance > 2e-3 * scale)
    return int(min(last + 1, (moving[-1] + 2) if moving.size else 1))


def _view_box(minimizers: np.ndarray, starts: np.ndarray, paths: list[np.ndarray],
              diverging: list[np.ndarray]) -> np.ndarray:
    """``(2, 2)`` box ``[[x0, x1], [y0, y1]]`` around the starts, the minimiser and the paths;
    diverging paths count only within 1.3 times the extent of the starts around the minimiser,
    so that they do not shrink everything else to a dot."""
    anchor = np.vstack([starts[:, :2], minimizers[:, :2]])
    # Centred on the first minimiser, or on the starts for a function without one.
    centre = minimizers[0, :2] if len(minimizers) else starts[:, :2].mean(axis=0)
    half = np.max(np.abs(anchor - centre), axis=0)
    half = np.maximum(half, 0.05 * max(half.max(), 1e-12))
    half = np.where(half > 0, half, 1.0)
    limit = np.stack([centre - 1.3 * half, centre + 1.3 * half], axis=-1)
    far = np.vstack([anchor] + [p[np.all(np.isfinite(p), axis=-1)] for p in diverging])
    inside = np.all((far >= limit[:, 0]) & (far <= limit[:, 1]), axis=-1)
    pts = np.vstack([far[inside]] + [p[np.all(np.isfinite(p), axis=-1)] for p in paths])
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    # Show the bowl on both sides of the minimiser, as the book's figures do.
    lo = np.minimum(lo, centre - 0.35 * half)
    hi = np.maximum(hi, centre + 0.35 * half)
    margin = 0.06 * (hi - lo)
    return np.stack([lo - margin, hi + margin], axis=-1)


def _exit_step(points: np.ndarray, box: np.ndarray) -> int | None:
    """The first step at which a path is outside the view or non-finite; None if it stays."""
    with np.errstate(invalid="ignore"):
        inside = np.all((points >= box[:, 0]) & (points <= box[:, 1]), axis=-1)
    hits = np.flatnonzero(~inside)
    return int(hits[0]) if hits.size else None


def _panel_paths(results: Results, panel: PanelLines):
    """``[(gid, reference, points (R, K+1, D), gaps (R, K+1))]`` for the recorded groups."""
    out = []
    for gid, reference in panel.lines:
        recorded = results.trajectory(gid)
        if recorded is not None and len(recorded[0]):
            out.append((gid, reference, recorded[0], recorded[1]))
    return out


def _panel_name(panel: PanelLines, kind: str) -> str:
    if panel.declared:
        # "Fig. 8.1: steepest descent ..." -> paths-01-fig-8-1: the part before a colon names it.
        return f"{kind}-{panel.index:02d}-{slug(panel.title.split(':')[0])}"
    return f"{kind}-{slug(panel.function)}"


def _objective(entry: dict):
    """The function of a saved entry, to draw its contour lines; None when it cannot be built
    here (a user-defined ``package.module:name`` that is not importable from this directory)."""
    name = entry["function"]
    try:
        if name not in FUNCTIONS and plugins.is_reference(name):
            plugins.register_function(name)
        return make_function(name, **entry["params"])
    except (ValueError, ImportError, OSError):
        return None


def _contours(ax, objective, box: np.ndarray) -> None:
    """Grey contour lines of ``objective`` over ``box``."""
    gx, gy = np.meshgrid(np.linspace(*box[0], 241), np.linspace(*box[1], 241))
    with np.errstate(all="ignore"):
        f, _ = objective.value_and_grad(np.column_stack([gx.ravel(), gy.ravel()]))
    f = f.reshape(gx.shape)
    if not np.isfinite(f).any():
        return
    low = objective.f_star if np.isfinite(objective.f_star) else np.nanmin(f)
    high = np.nanmax(f[np.isfinite(f)])
    if not high > low:
        return
    # Levels equally spaced in sqrt(f - f*): equally spaced ellipses on a quadratic, and more
    # lines near the minimum of anything else.
    levels = np.unique(low + (high - low) * np.linspace(0.0, 1.0, 16)[1:] ** 2)
    ax.contour(gx, gy, f, levels=levels, colors=CONTOUR_COLOR, linewidths=0.8,
               negative_linestyles="solid", zorder=1)


def _mark_exit(ax, before, after, step: int, box: np.ndarray, color: str) -> None:
    """Mark where a path crosses the frame of the view, with the step at which it leaves."""
    if np.all(np.isfinite(after)):
        direction = after - before
        with np.errstate(divide="ignore", invalid="ignore"):
            bounds = np.where(direction > 0, box[:, 1], box[:, 0])
            t = np.where(direction != 0, (bounds - before) / direction, np.inf)
        at = before + min(max(float(np.min(t)), 0.0), 1.0) * direction
    else:
        at = before
    inward = np.sign(box.mean(axis=1) - at)
    ax.plot(*at, marker="o", markersize=6, markerfacecolor="white", markeredgecolor=color,
            zorder=9, clip_on=False)
    ax.annotate(f"leaves the view at step {step}", xy=at, xytext=tuple(10 * inward),
                textcoords="offset points", fontsize=7, color=color, zorder=9,
                ha="left" if inward[0] > 0 else "right", va="bottom" if inward[1] > 0 else "top",
                bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": color, "lw": 0.6})


def paths_figure(results: Results, panel: PanelLines) -> Plot | None:
    """Paths over contour lines of the panel's function; None unless the function is 2-D and a
    path was recorded."""
    entry = results.function_entry(panel.function)
    objective = _objective(entry)
    recorded = _panel_paths(results, panel)
    if not recorded or recorded[0][2].shape[-1] != 2:
        return None
    minimizers = objective.minimizers if objective is not None else np.zeros((0, 2))
    starts = np.unique(np.vstack([p[:, 0, :] for _, _, p, _ in recorded]), axis=0)
    centre = minimizers[0] if len(minimizers) else starts.mean(axis=0)
    scale = float(np.max(np.abs(starts - centre))) or 1.0
    drawn = {}  # (gid, r) -> the part of the path drawn
    for gid, _, points, _ in recorded:
        for r, path in enumerate(points[:, :, :2]):
            drawn[gid, r] = path[:min(_moving_part(path, scale), MAX_PATH_STEPS + 1)]
    diverged = {gid for gid, *_ in recorded if results.summaries[gid]["diverged"]}
    box = _view_box(minimizers, starts,
                    [p for (gid, _), p in drawn.items() if gid not in diverged],
                    [p for (gid, _), p in drawn.items() if gid in diverged])

    figure = new_figure(7.0, 5.6)
    ax = figure.add_subplot()
    if objective is not None:
        _contours(ax, objective, box)

    styles = _styles(panel)
    for gid, _, points, _ in recorded:
        label = _line_label(results, gid)
        for r, path in enumerate(points[:, :, :2]):
            n = len(drawn[gid, r])
            exit_at = _exit_step(path[:n], box) if gid in diverged else None
            if exit_at is not None:
                n = exit_at + 1  # up to the first point outside: the frame clips the segment
            elif n == MAX_PATH_STEPS + 1 and r == 0:
                label += f"; first {MAX_PATH_STEPS} steps drawn"
            ax.plot(path[:n, 0], path[:n, 1], alpha=0.9, label=label if r == 0 else None,
                    gid=f"path-{gid}-{r}", **styles[gid])
            if exit_at is not None and exit_at > 0:
                _mark_exit(ax, path[exit_at - 1], path[exit_at], exit_at, box,
                           styles[gid]["color"])

    ax.plot(starts[:, 0], starts[:, 1], linestyle="none", marker="s", markersize=7,
            markerfacecolor="white", markeredgecolor="black", zorder=8, label="start", gid="start")
    if len(minimizers):
        ax.plot(minimizers[:, 0], minimizers[:, 1], linestyle="none", marker="*",
                markersize=12, color="black", zorder=8, label="minimum x*", gid="minimum")
    ax.set_xlim(*box[0])
    ax.set_ylim(*box[1])
    spans = box[:, 1] - box[:, 0]
    if max(spans) / min(spans) < 6:
        ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel("x₁")
    ax.set_ylabel("x₂")
    ax.set_title(panel.title, fontsize=9, wrap=True)
    figure.legend(loc="outside lower center", fontsize=7, ncols=1, frameon=False)
    over = (f"over the contour lines of {entry['function']} (grey curves of equal f)"
            if objective is not None else
            f"(no contour lines: {entry['function']} cannot be built where this was drawn)")
    caption = (f"Each line is one run, a marker per step, {over}; the square is the start and "
               "the star the minimum. Zig-zags across the narrow direction mean the learning rate is "
               "near its stability limit; a circle on the frame marks where a diverging path "
               "leaves the view.")
    return Plot(_panel_name(panel, "paths"), panel.title, caption, figure)


def gaps_figure(results: Results, panel: PanelLines) -> Plot | None:
    """``f - f*`` against the step (log axis) for the recorded paths of a panel."""
    recorded = _panel_paths(results, panel)
    if not recorded:
        return None
    budget = results.meta["steps"]
    figure = new_figure(7.0, 4.6)
    ax = figure.add_subplot()
    styles = _styles(panel)
    positive = np.concatenate([g[np.isfinite(g) & (g > 0)] for _, _, _, g in recorded])
    target = results.config["target"]
    gap_target = None if target.get("distance") else (target.get("gap") or 1e-6)
    # Gaps are exact down to 1e-300, but ten decades below the target are plenty to read a rate:
    # deeper, the part that matters would be squeezed into the top of the axis. Lines that go
    # deeper leave through the bottom.
    if gap_target is not None:
        view_floor = gap_target * 1e-10
    else:
        view_floor = positive.max() * 1e-20 if positive.size else 1e-16
    floor = max((positive.min() if positive.size else 1e-16) / 10.0, view_floor)
    longest = 1
    for gid, _, _, gaps in recorded:
        label = _line_label(results, gid)
        summary = results.summaries[gid]
        # The x-axis reaches past the step each line reached the target, diverged or ran out.
        ends = [q["max"] for q in (summary["steps"], summary["diverged_at"]) if q]
        longest = max(longest, budget if summary["unfinished"] else max(ends, default=budget))
        color = styles[gid]["color"]
        for r, gap in enumerate(gaps):
            finite = np.flatnonzero(np.isfinite(gap))
            n = int(finite[-1]) + 1 if finite.size else 0
            zeros = np.flatnonzero(gap[:n] == 0)
            if zeros.size:
                n = int(zeros[0]) + 1  # exactly at the minimum: nothing more to draw on a log axis
            shown = np.where(gap[:n] > 0, gap[:n], floor)
            ax.plot(np.arange(n), shown, label=label if r == 0 else None, gid=f"gap-{gid}-{r}",
                    **dict(styles[gid], marker=None))
            if summary["diverged"] and n:
                ax.plot(n - 1, gap[n - 1], linestyle="none", marker=DIVERGED_MARKER,
                        markersize=8, color=color, zorder=9)
            if zeros.size:
                ax.plot(zeros[0], floor, marker="v", markersize=7, color=color, zorder=9)
                ax.annotate("f − f* = 0 in float64", xy=(zeros[0], floor), xytext=(6, 4),
                            textcoords="offset points", fontsize=7, color=color)
    if gap_target is not None:
        ax.axhline(gap_target, color="black", linestyle=(0, (4, 3)),
                   linewidth=0.8, label=f"target {_target_text(results)}")
    ax.set_yscale("log")
    # Margins of 5% of the decades in view (matplotlib's own would count the decades of lines
    # drawn below the floor too).
    highest = positive.max() if positive.size else 1.0
    margin = 10 ** (0.05 * np.log10(max(highest / floor, 10.0)))
    ax.set_ylim(floor / margin, highest * margin)
    ax.set_xlim(0, min(budget, max(10, round(longest * 1.15))))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("step")
    ax.set_ylabel("f − f*  (log scale)")
    ax.set_title(panel.title, fontsize=9, wrap=True)
    figure.legend(loc="outside lower center", fontsize=7, ncols=1, frameon=False)
    ax.grid(True, which="major", linewidth=0.4, alpha=0.5)
    caption = ("The gap to the minimum value, f − f*, after each step, on a log scale: a straight "
               "descending line is linear convergence and its slope the rate; a climbing line is "
               "diverging (× where the run stopped), a flat one stalling, a sawtooth oscillating. "
               "The axis ends ten decades below the target: a line leaving through the bottom "
               "keeps converging.")
    return Plot(_panel_name(panel, "gaps"), f"f − f* per step: {panel.title}", caption, figure)


# ---------------------------------------------------------------------------------------------
# Sweeps


def _sweeps(results: Results, function: str, n_swept: int) -> dict[str, list[int]]:
    """Entries on ``function`` with exactly ``n_swept`` swept hyperparameters that are sweeps:
    every swept value a linspace or logspace, or more than MAX_SETTING_ROWS settings (the
    tables' sweeps). A short list of values (the book's figures) is not drawn as a sweep."""
    out = {}
    for label, gids in _entries(results, function).items():
        swept = results.groups[gids[0]].swept
        spaced = all(_sweep_scale(results, label, n) in ("linear", "log") for n in swept)
        if len(swept) == n_swept and (spaced or len(gids) > MAX_SETTING_ROWS):
            out[label] = gids
    return out


def sweep_figure(results: Results, function: str, name: str) -> Plot | None:
    """Steps to target against the swept hyperparameter ``name``, one line per optimizer entry
    of ``function`` that sweeps it alone; failures as markers along the top of the axes."""
    entries = {label: gids for label, gids in _sweeps(results, function, 1).items()
               if results.groups[gids[0]].swept[0] == name}
    if not entries:
        return None
    steps, status = setting_runtimes(results)
    budget = results.meta["steps"]
    figure = new_figure(7.5, 4.6)
    ax = figure.add_subplot()
    log_x = False
    for k, (label, gids) in enumerate(entries.items()):
        color = PALETTE[k % len(PALETTE)]
        x = np.array([results.groups[g].value(name) for g in gids], dtype=float)
        order = np.argsort(x)
        x, ids = x[order], np.asarray(gids)[order]
        y = np.where(status[ids] == CONVERGED, steps[ids], np.nan)
        ax.plot(x, y, color=color, marker=MARKERS[k % len(MARKERS)], markersize=3.5,
                linestyle=LINESTYLES[k % len(LINESTYLES)], linewidth=1.5, label=label,
                gid=f"sweep-{label}")
        row = 0.965 - 0.045 * k
        for code, marker, what in ((DIVERGED, DIVERGED_MARKER, "diverged"),
                                   (UNFINISHED, UNFINISHED_MARKER, "unfinished")):
            fail = status[ids] == code
            if fail.any():
                ax.plot(x[fail], np.full(fail.sum(), row), transform=ax.get_xaxis_transform(),
                        linestyle="none", marker=marker, markersize=6,
                        markerfacecolor=color if code == DIVERGED else "none",
                        markeredgecolor=color, clip_on=False, gid=f"{what}-{label}")
        log_x |= _sweep_scale(results, label, name) == "log"
    if log_x:
        ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(0.8, budget * 10 ** (0.3 + 0.12 * len(entries)))
    ax.axhline(budget, color="black", linestyle=":", linewidth=0.8)
    ax.annotate(f"budget {budget}", xy=(0.005, budget), xycoords=("axes fraction", "data"),
                xytext=(0, 2), textcoords="offset points", fontsize=7)
    handles, _ = ax.get_legend_handles_labels()
    handles += [
        Line2D([], [], linestyle="none", marker=DIVERGED_MARKER, color="black", label="diverged"),
        Line2D([], [], linestyle="none", marker=UNFINISHED_MARKER, markerfacecolor="none",
               color="black", label="unfinished (budget ran out)"),
    ]
    ax.legend(handles=handles, fontsize=7, loc="lower left", framealpha=0.9)
    ax.set_xlabel(f"{name}{' (log scale)' if log_x else ''}")
    ax.set_ylabel(f"steps to {_target_text(results)} (median, log scale)")
    title = f"{function}: steps to target against {name}"
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="major", linewidth=0.4, alpha=0.5)
    caption = (f"Each line is one optimizer's sweep of {name}: lower is faster. Settings that "
               "never reached the target are drawn along the top in the line's colour, × for "
               "diverged and ○ for unfinished, so the edge of stability is where the line stops "
               "and the ×s begin.")
    return Plot(f"sweep-{slug(function)}-{slug(name)}", title, caption, figure)


def map_figure(results: Results, function: str, optimizer_label: str) -> Plot | None:
    """Heatmap of steps to target over a two-hyperparameter sweep (first swept name across)."""
    gids = _entries(results, function).get(optimizer_label, [])
    if not gids or len(results.groups[gids[0]].swept) != 2:
        return None
    steps, status = setting_runtimes(results)
    budget = results.meta["steps"]
    x_name, y_name = results.groups[gids[0]].swept
    xs = sorted({results.groups[g].value(x_name) for g in gids})
    ys = sorted({results.groups[g].value(y_name) for g in gids})
    grid = np.full((len(ys), len(xs)), np.nan)
    codes = np.full((len(ys), len(xs)), -1)
    for g in gids:
        i, j = ys.index(results.groups[g].value(y_name)), xs.index(results.groups[g].value(x_name))
        codes[i, j] = status[g]
        grid[i, j] = steps[g] if status[g] == CONVERGED else np.nan

    figure = new_figure(8.0, 4.8)
    ax = figure.add_subplot()
    norm = LogNorm(vmin=1, vmax=max(budget, 2))
    image = ax.imshow(np.ma.masked_invalid(np.maximum(grid, 1)), cmap=STEPS_CMAP, norm=norm,
                      origin="lower", aspect="auto", interpolation="nearest")
    image.set_gid("steps")
    fails = np.zeros(grid.shape + (4,))
    fails[codes == DIVERGED] = to_rgba(DIVERGED_COLOR)
    fails[codes == UNFINISHED] = to_rgba(UNFINISHED_COLOR)
    ax.imshow(fails, origin="lower", aspect="auto", interpolation="nearest").set_gid("failures")
    small = grid.size <= 400
    for (i, j), code in np.ndenumerate(codes):
        if code == DIVERGED:
            ax.text(j, i, "×", ha="center", va="center", fontsize=7, color="white")
        elif code == CONVERGED and small:
            value = grid[i, j]
            ax.text(j, i, f"{value:.0f}", ha="center", va="center", fontsize=5.5,
                    color="white" if norm(max(value, 1)) < 0.6 else "black")
    colorbar = figure.colorbar(image, ax=ax, pad=0.01)
    colorbar.set_label(f"steps to {_target_text(results)} (median)")
    ax.set_xticks(_tick_positions(len(xs)))
    ax.set_xticklabels([f"{xs[t]:.3g}" for t in _tick_positions(len(xs))], rotation=45,
                       ha="right", fontsize=7)
    ax.set_yticks(_tick_positions(len(ys)))
    ax.set_yticklabels([f"{ys[t]:.3g}" for t in _tick_positions(len(ys))], fontsize=7)
    log = [_sweep_scale(results, optimizer_label, n) == "log" for n in (x_name, y_name)]
    ax.set_xlabel(f"{x_name}{' (log-spaced)' if log[0] else ''}")
    ax.set_ylabel(f"{y_name}{' (log-spaced)' if log[1] else ''}")
    figure.legend(handles=[Patch(facecolor=DIVERGED_COLOR, label="diverged (×)"),
                           Patch(facecolor=UNFINISHED_COLOR, label="unfinished (budget ran out)")],
                  fontsize=7, loc="outside lower center", ncols=2, frameon=False)
    title = f"{function}: {optimizer_label} — steps to target"
    ax.set_title(title, fontsize=10)
    caption = (f"Each cell is one setting of {x_name} (across) and {y_name} (up); its colour is "
               "the number of steps to the target, darker for fewer. Settings that diverged are "
               f"vermillion with a ×, those that ran out of budget grey: the border between "
               "colour and vermillion is the edge of stability.")
    return Plot(f"map-{slug(function)}-{slug(optimizer_label)}", title, caption, figure)


def _tick_positions(n: int, most: int = 11) -> list[int]:
    return list(range(0, n, max(1, int(np.ceil(n / most)))))


# ---------------------------------------------------------------------------------------------
# ECDF across functions


def _share_figure(x: np.ndarray, curves: list, gid: str, xlabel: str, ylabel: str,
                  title: str) -> Figure:
    """Step curves of shares in [0, 1] against a log x-axis from ``x[0]`` to ``x[-1]`` (the ECDF
    and the performance profile): ``curves`` are ``(label, share)`` pairs, best first."""
    figure = new_figure(7.5, 5.0)
    ax = figure.add_subplot()
    for k, (label, share) in enumerate(curves):
        ax.plot(x, share, drawstyle="steps-post", color=PALETTE[k % len(PALETTE)],
                linestyle=LINESTYLES[k % len(LINESTYLES)], linewidth=1.6, label=label,
                gid=f"{gid}-{label}")
    ax.set_xscale("log")
    ax.set_xlim(x[0], x[-1])
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    figure.legend(loc="outside right center", fontsize=7, frameon=False)
    ax.grid(True, which="major", linewidth=0.4, alpha=0.5)
    return figure


def ecdf_figure(results: Results) -> Plot | None:
    """COCO data profile of each optimizer entry's best setting per function: the share of
    (trial, target) pairs of COCO's ladder solved within ``k`` steps.

    Curves are comparable only over the same problems, so only entries that ran on every
    function are drawn (all entries when none did), the best :data:`MAX_LINES` by the area
    under the curve. The trials are those that recorded the ladder: every trial of a group
    with at most ``runner.LADDER_START_POINTS`` start points, its first ones otherwise. None
    when the results hold no ladder runtimes.
    """
    hits = results.trials.ladder_hits
    if hits is None:
        return None
    ladder_group = results.trials.group[results.trials.ladder_trials]
    budget = results.meta["steps"]
    functions = results.function_labels()
    by_label: dict[str, list[int]] = {}
    for g, _ in best_settings(results.groups, results.summaries):
        by_label.setdefault(g.optimizer_label, []).append(g.id)
    everywhere = {k: v for k, v in by_label.items() if len(v) == len(functions)}
    chosen = everywhere or by_label
    ks = np.unique(np.round(np.geomspace(1, budget, 400)).astype(int))
    curves = []
    for label, gids in chosen.items():
        rows = np.flatnonzero(np.isin(ladder_group, gids))
        runtimes = hits[rows].astype(np.float64)
        runtimes[runtimes < 0] = np.inf
        fraction = ecdf(runtimes, ks)
        where = "" if everywhere else f" ({', '.join(results.groups[g].function for g in gids)})"
        curves.append((float(fraction.mean()), label + where, fraction))
    curves.sort(key=lambda c: -c[0])
    shown = curves[:MAX_LINES]
    title = "Runtime ECDF over COCO's targets f − f* = 10² … 10⁻⁸"
    figure = _share_figure(ks, [(label, fraction) for _, label, fraction in shown], "ecdf",
                           "steps (log scale)", "fraction of (trial, target) pairs reached", title)
    scope = (f"on every function ({', '.join(functions)})" if everywhere
             else "on the functions named")
    left = len(curves) - len(shown)
    per_group = np.bincount(ladder_group, minlength=len(results.groups))
    sampled = per_group < np.bincount(results.trials.group, minlength=len(results.groups))
    most = int(per_group.max())
    first = "first start point" if most == 1 else f"first {most} start points"
    over = f"over the trials from each setting's {first}" if sampled.any() else "over all trials"
    caption = ("For each optimizer's best setting " + scope + ", the share of the 51 targets of "
               f"COCO's ladder ({over}) reached within the number of steps on the x-axis: "
               "higher and further left is better; the height at the right edge is the share "
               "ever reached." + (f" The {left} lowest curves are left out." if left else ""))
    return Plot("ecdf", title, caption, figure)


def _best_everywhere(results: Results) -> dict[str, list[int]]:
    """Each optimizer entry's best group per function, for the entries that ran on every
    function (problems must be the same for every curve to compare them)."""
    by_label: dict[str, list[int]] = {}
    for g, _ in best_settings(results.groups, results.summaries):
        by_label.setdefault(g.optimizer_label, []).append(g.id)
    n_functions = len(results.function_labels())
    return {k: v for k, v in by_label.items() if len(v) == n_functions}


def profile_times(results: Results, gids_by_label: dict[str, list[int]]) -> np.ndarray:
    """``(problems, solvers)`` steps to target: a problem is a function and a start point, a
    solver an entry's best setting on that function; ``inf`` where the trial did not converge."""
    columns = []
    for gids in gids_by_label.values():
        rows = np.concatenate([np.flatnonzero(results.trials.group == g) for g in gids])
        steps = results.trials.first_hit[rows].astype(np.float64)
        columns.append(np.where(results.trials.status[rows] == CONVERGED, steps, np.inf))
    return np.stack(columns, axis=1)


def profile_figure(results: Results) -> Plot | None:
    """Dolan–Moré performance profile of each optimizer entry's best setting.

    For each problem (function x start point) the ratio ``r = t / min_s t`` of an entry's steps
    to target to the fewest any entry needed; the curve is the share of problems with
    ``r <= tau``. None with fewer than two entries that ran on every function.
    """
    chosen = _best_everywhere(results)
    if len(chosen) < 2:
        return None
    times = profile_times(results, chosen)
    solved = np.isfinite(times)
    best = np.min(times, axis=1, keepdims=True)
    ratios = times[solved] / np.broadcast_to(np.where(best > 0, best, 1.0), times.shape)[solved]
    tau_max = max(2.0, float(np.max(ratios)) * 1.5) if ratios.size else 2.0
    taus = np.geomspace(1.0, tau_max, 400)
    rho = performance_profile(times, taus)
    order = np.argsort(-rho.mean(axis=1), kind="stable")[:MAX_LINES]
    labels = list(chosen)
    title = f"Performance profile over {times.shape[0]} problems (function × start point)"
    figure = _share_figure(taus, [(labels[s], rho[s]) for s in order], "profile",
                           "τ: steps relative to the fastest entry on each problem (log scale)",
                           "share of problems solved within τ", title)
    left = len(labels) - len(order)
    caption = ("Dolan and Moré's profile of each optimizer's best setting on every function: the "
               "share of problems it solves (reaches the target) within τ times the steps of the "
               "fastest optimizer on that problem. At τ = 1, the share on which it is the fastest; "
               "at the right edge, the share it solves at all."
               + (f" The {left} lowest curves are left out." if left else ""))
    return Plot("profile", title, caption, figure)


# ---------------------------------------------------------------------------------------------
# All figures of a run


def figures(results: Results) -> list[Plot]:
    """Every figure of a run, in the order the report shows them."""
    out: list[Plot | None] = []
    for panel in panels(results):
        out.append(paths_figure(results, panel))
        out.append(gaps_figure(results, panel))
    for function in results.function_labels():
        names = []
        for gids in _sweeps(results, function, 1).values():
            name = results.groups[gids[0]].swept[0]
            if name not in names:
                names.append(name)
        out += [sweep_figure(results, function, name) for name in names]
        out += [map_figure(results, function, label) for label in _sweeps(results, function, 2)]
    out.append(ecdf_figure(results))
    out.append(profile_figure(results))
    return [p for p in out if p is not None]


def save_png(plot: Plot, directory: Path) -> Path:
    """Write ``directory/<name>.png`` at :data:`DPI`; return its path."""
    path = Path(directory) / f"{plot.name}.png"
    plot.figure.savefig(path, dpi=DPI, format="png", metadata={"Software": None})
    return path
