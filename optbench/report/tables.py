"""Rich tables of a run's results (returned, not printed).

Per function: every setting of an optimizer entry with a few settings (the book's figures), and
one summary row per larger sweep; then the best setting of each optimizer.
"""

from __future__ import annotations

import numpy as np
from rich.console import Group
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from ..config import format_value
from ..results import Results

#: Optimizer entries with more settings than this get one summary row in the function table.
MAX_SETTING_ROWS = 12

STATUS_STYLE = {"converged": "green", "diverged": "red", "unfinished": "yellow"}


def format_gap(value: float) -> str:
    if value is None or not np.isfinite(value):
        return "—"
    return f"{value:.2e}"


def format_steps(q: dict | None) -> str:
    """``12`` for one value, else ``median [min–max]``."""
    if q is None:
        return "—"
    if q["min"] == q["max"]:
        return str(q["min"])
    return f"{format_value(q['median'])} [{q['min']}–{q['max']}]"


def format_art(value: float) -> str:
    return "∞" if not np.isfinite(value) else f"{value:.1f}"


#: Short status names, as the sweeps table's column headers.
STATUS_SHORT = {"converged": "conv", "unfinished": "unf", "diverged": "div"}


def status_text(summary: dict, separator: str = " · ") -> Text:
    """``converged`` for a single status, else counts such as ``3 conv · 1 dive``; the
    settings table puts them one per line (``separator="\\n"``, short names ``conv``, ``unf``,
    ``div``) so that a status word is never cut, whatever the width."""
    n = summary["trials"]
    counts = [(name, summary[name]) for name in ("converged", "unfinished", "diverged")]
    for name, count in counts:
        if count == n:
            return Text(name, style=STATUS_STYLE[name])
    text = Text()
    for name, count in counts:
        if count:
            if text:
                text.append(separator)
            short = STATUS_SHORT[name] if separator == "\n" else name[:4]
            text.append(f"{count} {short}", style=STATUS_STYLE[name])
    return text


def steps_phrase(q: dict | None) -> str:
    """``1 step``, ``40 steps``, ``12 [3–45] steps`` (median [min–max])."""
    text = format_steps(q)
    return f"{text} step" if q is not None and q["max"] == 1 else f"{text} steps"


def function_caption(results: Results, label: str) -> str:
    """One line on the function: name, parameters, start points, gradient noise, target and
    budget."""
    entry = results.function_entry(label)
    params = ", ".join(f"{k}={v}" for k, v in entry["params"].items())
    start = entry["start"]
    if isinstance(start, dict):
        where = f"{start['random']} random starts"
    elif len(start) == 1:
        where = "start (" + ", ".join(format_value(float(v)) for v in start[0]) + ")"
    else:
        where = f"{len(start)} starts"
    if entry.get("noise"):
        where += f" · gradient noise σ = {format_value(float(entry['noise']))}"
    target = results.config["target"]
    crit = (f"‖x − x*‖ ≤ {target['distance']:g}" if target.get("distance")
            else f"f − f* ≤ {(target.get('gap') or 1e-6):g}")
    return f"{entry['function']}({params}) · {where} · target {crit} · {results.meta['steps']} steps"


def _stability_edge(groups, summaries) -> str:
    """For a one-hyperparameter sweep: ``lr ≥ 0.505`` when every trial of every setting from
    there on diverged, and none below; else ``""``."""
    if not groups or len(groups[0].swept) != 1:
        return ""
    name = groups[0].swept[0]
    values = np.array([g.value(name) for g in groups], dtype=float)
    diverged = np.array([s["diverged"] == s["trials"] for s in summaries])
    if not diverged.any():
        return ""
    order = np.argsort(values)
    values, diverged = values[order], diverged[order]
    first = np.argmax(diverged)
    if diverged[first:].all():
        return f"{name} ≥ {format_value(values[first])}"
    return ""


def divergence_cell(groups, summaries) -> str:
    """The sweeps table's ``diverges`` cell: the stability edge when there is one, else how
    many settings had a diverged trial (``21 of 160 settings``), or ``—`` when none did."""
    edge = _stability_edge(groups, summaries)
    if edge:
        return edge
    hit = sum(1 for s in summaries if s["diverged"])
    return f"{hit} of {len(summaries)} settings" if hit else "—"


def _sweep_range(groups) -> str:
    names = groups[0].swept
    parts = []
    for name in names:
        values = sorted({g.value(name) for g in groups})
        parts.append(f"{name} {format_value(values[0])}…{format_value(values[-1])}"
                     f" ({len(values)})" if len(values) > 1 else f"{name}={format_value(values[0])}")
    return " × ".join(parts)


def _entries(results: Results, label: str) -> dict[str, list]:
    entries: dict[str, list] = {}
    for g, s in zip(results.groups, results.summaries):
        if g.function == label:
            entries.setdefault(g.optimizer_label, []).append((g, s))
    return entries


def _fixed_setting(group) -> str:
    """The values an entry sets, for entries without a sweep (e.g. ``lr=0.5, momentum=0.1``)."""
    parts = []
    for name, value in group.hyperparameters.items():
        if isinstance(value, list):
            value = "(" + ", ".join(format_value(v) for v in value) + ")"
        else:
            value = format_value(value)
        parts.append(f"{name}={value}")
    return ", ".join(parts) if parts else "torch defaults"


def steps_cell(q: dict | None) -> str:
    """:func:`format_steps` for a table cell: the range under the median (``12`` /
    ``[3–45]``), so that a steps column is never wider than its widest number."""
    return format_steps(q).replace(" [", "\n[")


#: Below this terminal width the settings table puts each label over its settings in one
#: column (:func:`settings_table` with ``compact=True``): two text columns beside six numbers
#: would leave a few characters for each.
COMPACT_BELOW = 100


def settings_table(results: Results, label: str, compact: bool = False) -> Table | None:
    """One row per setting of the entries with at most MAX_SETTING_ROWS settings.

    Columns ``optimizer`` and ``setting``, the label on the first row of its entry; with
    ``compact``, one column: an entry with one setting is one row (its label, the setting
    under it), an entry with several has a row with its label, then one row per setting.
    Numbers and status words never wrap or get cut; labels and settings fold.
    """
    entries = {k: v for k, v in _entries(results, label).items() if len(v) <= MAX_SETTING_ROWS}
    if not entries:
        return None
    caption = function_caption(results, label)
    # As wide as the caption where the terminal allows, so that it stays on one line.
    table = Table(title=f"[bold]{label}[/]", caption=caption, title_justify="left",
                  caption_justify="left", min_width=len(caption))
    if compact:
        table.add_column("optimizer\n  setting", overflow="fold")
    else:
        table.add_column("optimizer", style="bold", overflow="fold")
        table.add_column("setting", overflow="fold")
    table.add_column("status", no_wrap=True)
    table.add_column("steps to\ntarget", justify="right", no_wrap=True)
    table.add_column("inside\nfrom", justify="right", no_wrap=True)
    table.add_column("diverged\nat", justify="right", no_wrap=True)
    table.add_column("final\nf − f*", justify="right", no_wrap=True)
    previous_several = False
    for n, (opt_label, members) in enumerate(entries.items()):
        several = len(members) > 1
        if n and (several or previous_several):
            table.add_section()
        previous_several = several
        name = Text(opt_label, style="bold")
        if compact and several:
            table.add_row(name, "", "", "", "", "")
        for i, (g, s) in enumerate(members):
            setting = g.setting() if g.swept else _fixed_setting(g)
            if compact:
                # Padding keeps the indent on every line of a setting that wraps.
                indented = Padding(Text(setting), (0, 0, 0, 2))
                first = [indented if several else Group(name, indented)]
            else:
                first = [opt_label if i == 0 else "", setting]
            table.add_row(
                *first, status_text(s, "\n"), steps_cell(s["steps"]), steps_cell(s["settled"]),
                steps_cell(s["diverged_at"]), format_gap(s["final_gap_median"]),
            )
    return table


def sweeps_table(results: Results, label: str) -> Table | None:
    """One row per large sweep: counts of each status, the fastest setting, the stability edge."""
    entries = {k: v for k, v in _entries(results, label).items() if len(v) > MAX_SETTING_ROWS}
    if not entries:
        return None
    table = Table(title=f"[bold]{label}[/]: sweeps", title_justify="left",
                  caption="counts are trials; fastest = lowest aRT among settings that converged; "
                          "diverges = the value from which every trial diverged, else the settings with a diverged trial",
                  caption_justify="left")
    table.add_column("optimizer", style="bold", overflow="fold")
    table.add_column("swept", overflow="fold")
    for name in ("converged", "unfinished", "diverged"):
        table.add_column(STATUS_SHORT[name], justify="right", no_wrap=True, style=STATUS_STYLE[name])
    table.add_column("fastest", overflow="fold")
    table.add_column("diverges", overflow="fold")
    for opt_label, members in entries.items():
        groups = [g for g, _ in members]
        summaries = [s for _, s in members]
        totals = [sum(s[k] for s in summaries) for k in ("converged", "unfinished", "diverged")]
        fastest = min(
            (m for m in members if m[1]["steps"]),
            key=lambda m: (m[1]["aRT"], m[1]["steps"]["median"]), default=None,
        )
        table.add_row(
            opt_label, _sweep_range(groups), *map(str, totals),
            f"{steps_phrase(fastest[1]['steps'])} at {fastest[0].setting()}" if fastest else "—",
            divergence_cell(groups, summaries),
        )
    return table


def best_table(results: Results) -> Table:
    """The best setting of each optimizer entry on each function (see metrics.best_settings)."""
    from ..metrics import best_settings

    table = Table(title="[bold]Best setting per optimizer[/]", title_justify="left",
                  caption="best = highest success rate, then lowest aRT (COCO's average runtime)",
                  caption_justify="left")
    table.add_column("function", style="bold", overflow="fold")
    table.add_column("optimizer", overflow="fold")
    table.add_column("best setting", overflow="fold")
    table.add_column("success", justify="right", no_wrap=True)
    table.add_column("steps to\ntarget", justify="right", no_wrap=True)
    table.add_column("aRT", justify="right", no_wrap=True)
    previous = None
    for g, s in best_settings(results.groups, results.summaries):
        if previous is not None and g.function != previous:
            table.add_section()
        table.add_row(
            g.function if g.function != previous else "", g.optimizer_label,
            g.setting() if g.swept else _fixed_setting(g),
            f"{s['converged']}/{s['trials']}", steps_cell(s["steps"]), format_art(s["aRT"]),
        )
        previous = g.function
    return table


def run_tables(results: Results, width: int | None = None) -> list[Table]:
    """All tables of a run, in the order the terminal shows them; ``width``, the terminal's,
    chooses the settings tables' layout (compact below :data:`COMPACT_BELOW`)."""
    compact = width is not None and width < COMPACT_BELOW
    tables = []
    for label in results.function_labels():
        tables += [t for t in (settings_table(results, label, compact), sweeps_table(results, label))
                   if t]
    return tables + [best_table(results)]


VERDICT_STYLE = {"regression": "red", "improvement": "green", "changed": "yellow"}


def check_table(report) -> Table:
    """The differences of ``optbench check`` (an :class:`optbench.baseline.CheckReport`): one
    row per group and metric, groups named ``function / optimizer / setting``."""
    tol = report.tolerances
    table = Table(title="[bold]Differences from the baseline[/]", title_justify="left",
                  caption=f"✗ fails the check (--fail-on {report.fail_on}); tolerances: rtol "
                          f"{tol.rtol:g}, atol {tol.atol:g}, success rate {tol.success_tol:g}",
                  caption_justify="left")
    table.add_column("function / optimizer / setting", ratio=2)
    table.add_column("metric", ratio=1)
    table.add_column("baseline", justify="right")
    table.add_column("now", justify="right")
    table.add_column("verdict", no_wrap=True, min_width=len("✗ improvement"))
    previous = None
    for d in report.display_rows():
        table.add_row(
            "" if d.group == previous else d.group, d.metric, d.baseline, d.now,
            Text(("✗ " if report.fails(d) else "  ") + d.verdict, style=VERDICT_STYLE[d.verdict]),
        )
        previous = d.group
    return table
