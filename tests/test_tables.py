"""The tables `optbench run` prints: every cell against the saved results, recomputed here from
the per-trial arrays; the stability edge and the fastest setting against closed forms; layout at
80 and 120 columns."""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from rich.console import Console, Group
from rich.padding import Padding

from optbench import config as cfg
from optbench.cli import cli
from optbench.report import tables
from optbench.results import from_run, load, save
from optbench.runner import CONVERGED, DIVERGED, UNFINISHED, run

REPO = Path(__file__).resolve().parents[1]

CONFIG = """\
name: tables
steps: 450
functions:
  - label: elongated
    function: paraboloid
    a: [0.2, 2.0]
    c: -5
    start: [5.1, 2.3]
  - label: bowl
    function: paraboloid
    a: [1.0, 1.0]
    start: {random: 5, box: [[-3, 3], [-3, 3]], seed: 3}
optimizers:
  - label: gd few
    optimizer: sgd
    lr: [0.4, 0.495, 0.51]
    functions: [elongated]
  - label: gd slow
    optimizer: sgd
    lr: 0.0085
    functions: [bowl]
  - label: fixed momentum
    optimizer: sgd
    lr: 0.5
    momentum: 0.1
  - optimizer: adam
  - label: adam pair
    optimizer: adam
    lr: 3
    betas: [0.1, 0.999]
    bias_correction: false
    functions: [elongated]
  - label: gd sweep
    optimizer: sgd
    lr: {linspace: [0.01, 0.6, 60]}
  - label: momentum grid
    optimizer: sgd
    lr: {linspace: [0.05, 0.8, 4]}
    momentum: {linspace: [0.0, 0.9, 4]}
"""

NAMES = {CONVERGED: "converged", DIVERGED: "diverged", UNFINISHED: "unfinished"}


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    config = cfg.loads(CONFIG)
    results = from_run(config, run(config), dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    return load(save(results, tmp_path_factory.mktemp("runs")))


def plain(cell) -> str:
    """A cell's text as laid out: a Group's parts one per line, a left Padding as spaces."""
    if isinstance(cell, Group):
        return "\n".join(plain(c) for c in cell.renderables)
    if isinstance(cell, Padding):
        return " " * cell.left + plain(cell.renderable)
    return cell.plain if hasattr(cell, "plain") else str(cell)


def table_cells(table) -> list[list[str]]:
    """The table's rows, each cell as plain text."""
    columns = [[plain(c) for c in col.cells] for col in table.columns]
    return [list(row) for row in zip(*columns)]


# ---------------------------------------------------------------------------------------------
# Independent recomputation from the per-trial arrays


def fmt(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, list):
        return "(" + ", ".join(fmt(x) for x in v) + ")"
    return str(v)


def group_rows(results, gid):
    return np.flatnonzero(results.trials.group == gid)


def steps_text(values, sep=" ") -> str:
    """``12`` or ``median [min–max]``; table cells put the range under the median."""
    values = np.asarray(values)
    if values.size == 0:
        return "—"
    lo, hi = int(values.min()), int(values.max())
    return str(lo) if lo == hi else f"{float(np.median(values)):.6g}{sep}[{lo}–{hi}]"


def expected_status(status) -> str:
    names = {NAMES[s] for s in status.tolist()}
    if len(names) == 1:
        return names.pop()
    short = {"converged": "conv", "unfinished": "unf", "diverged": "div"}
    counts = [(name, int(np.sum(status == code))) for code, name in
              ((CONVERGED, "converged"), (UNFINISHED, "unfinished"), (DIVERGED, "diverged"))]
    return "\n".join(f"{n} {short[name]}" for name, n in counts if n)


def art(results, rows) -> float:
    t = results.trials
    conv = t.status[rows] == CONVERGED
    if not conv.any():
        return math.inf
    used = np.where(t.status[rows] == DIVERGED, t.diverged_at[rows], results.meta["steps"])
    return (t.first_hit[rows][conv].sum() + used[~conv].sum()) / conv.sum()


def entries(results, label):
    out = {}
    for g in results.groups:
        if g.function == label:
            out.setdefault(g.optimizer_label, []).append(g)
    return out


def expected_setting(g) -> str:
    if g.swept:
        parts = []
        for name in g.swept:
            base, _, index = name.partition("[")
            value = g.hyperparameters[base]
            parts.append(f"{name}={fmt(value[int(index[:-1])] if index else value)}")
        return ", ".join(parts)
    return ", ".join(f"{k}={fmt(v)}" for k, v in g.hyperparameters.items()) or "torch defaults"


# ---------------------------------------------------------------------------------------------
# Settings table


@pytest.mark.parametrize("compact", [False, True], ids=["two-columns", "compact"])
@pytest.mark.parametrize("label", ["elongated", "bowl"])
def test_settings_table_cells(saved, label, compact):
    t = saved.trials
    expected = []
    for opt_label, groups in entries(saved, label).items():
        if len(groups) > tables.MAX_SETTING_ROWS:
            continue
        several = len(groups) > 1
        if compact and several:  # the label on a row of its own, then one row per setting
            expected.append([opt_label, "", "", "", "", ""])
        for i, g in enumerate(groups):
            rows = group_rows(saved, g.id)
            status = t.status[rows]
            conv = status == CONVERGED
            settled = t.settled[rows]
            median_gap = float(np.median(t.final_gap[rows]))
            if compact:
                setting = "  " + expected_setting(g)
                first = [setting if several else f"{opt_label}\n{setting}"]
            else:
                first = [opt_label if i == 0 else "", expected_setting(g)]
            expected.append([
                *first,
                expected_status(status),
                steps_text(t.first_hit[rows][conv], "\n"),
                steps_text(settled[settled >= 0], "\n"),
                steps_text(t.diverged_at[rows][status == DIVERGED], "\n"),
                f"{median_gap:.2e}" if np.isfinite(median_gap) else "—",
            ])
    assert table_cells(tables.settings_table(saved, label, compact=compact)) == expected


def test_settings_table_shows_the_books_figure_82(saved):
    cells = table_cells(tables.settings_table(saved, "elongated", compact=True))
    # steepest descent on 0.2x² + 2y² from (5.1, 2.3): lr 0.51 > 1/(2·2)·2 = 0.5 diverges
    assert cells[0][0] == "gd few"
    gd = {row[0].strip(): row for row in cells[1:4]}
    assert gd["lr=0.4"][1] == "converged" and gd["lr=0.4"][2] == "45"
    assert gd["lr=0.495"][2] == "401"
    assert gd["lr=0.51"][1] == "diverged" and gd["lr=0.51"][4] == "182"


def test_mixed_statuses_are_counted_one_per_line(saved):
    cells = table_cells(tables.settings_table(saved, "bowl", compact=True))
    [slow] = [row for row in cells if row[0] == "gd slow\n  lr=0.0085"]
    assert "\n" in slow[1], "the fixture needs a setting where some starts converge, some not"
    counts = dict(line.split(" ")[::-1] for line in slow[1].splitlines())
    assert int(counts["conv"]) + int(counts.get("unf", 0)) + int(counts.get("div", 0)) == 5
    assert re.fullmatch(r"\d+(\.5)?\n\[\d+–\d+\]", slow[2])  # median over [min–max]


# ---------------------------------------------------------------------------------------------
# Sweeps table


def expected_edge(groups, results) -> str:
    """A one-hyperparameter sweep's edge: the least value from which every setting (and no
    setting below it) had all its trials diverge."""
    name = groups[0].swept[0]
    by_value = sorted(groups, key=lambda g: g.value(name))
    full = [bool(np.all(results.trials.status[group_rows(results, g.id)] == DIVERGED)) for g in by_value]
    k = len(full)
    while k > 0 and full[k - 1]:
        k -= 1
    if k < len(full) and not any(full[:k]):
        return f"{name} ≥ {fmt(by_value[k].value(name))}"
    return ""


@pytest.mark.parametrize("label", ["elongated", "bowl"])
def test_sweeps_table_cells(saved, label):
    t = saved.trials
    expected = []
    for opt_label, groups in entries(saved, label).items():
        if len(groups) <= tables.MAX_SETTING_ROWS:
            continue
        rows = np.concatenate([group_rows(saved, g.id) for g in groups])
        totals = [str(int(np.sum(t.status[rows] == s))) for s in (CONVERGED, UNFINISHED, DIVERGED)]
        ranges = []
        for name in groups[0].swept:
            values = sorted({g.value(name) for g in groups})
            ranges.append(f"{name} {fmt(values[0])}…{fmt(values[-1])} ({len(values)})")
        candidates = []
        for g in groups:
            r = group_rows(saved, g.id)
            hits = t.first_hit[r][t.status[r] == CONVERGED]
            if hits.size:
                candidates.append((art(saved, r), float(np.median(hits)), g.id, g, hits))
        _, _, _, best, hits = min(candidates, key=lambda c: c[:3])
        unit = "step" if hits.max() == 1 else "steps"
        fastest = f"{steps_text(hits)} {unit} at {best.setting()}"
        edge = expected_edge(groups, saved) if len(groups[0].swept) == 1 else ""
        hit = sum(1 for g in groups if np.any(t.status[group_rows(saved, g.id)] == DIVERGED))
        diverges = edge or (f"{hit} of {len(groups)} settings" if hit else "—")
        expected.append([opt_label, " × ".join(ranges), *totals, fastest, diverges])
    assert table_cells(tables.sweeps_table(saved, label)) == expected


def closed_form_runtime(a, x0, lr, target=1e-6, budget=450):
    """Steepest descent on sum a_i x_i²: x_k = (1 − 2 a lr)^k x0, so the gap is
    sum a_i (1 − 2 a_i lr)^{2k} x0_i²; the first k where it is <= target (or None)."""
    a, x0 = np.asarray(a), np.asarray(x0)
    for k in range(budget + 1):
        if np.sum(a * (1 - 2 * a * lr) ** (2 * k) * x0**2) <= target:
            return k
    return None


def test_stability_edge_and_fastest_against_closed_forms(saved):
    [row] = [r for r in table_cells(tables.sweeps_table(saved, "elongated")) if r[0] == "gd sweep"]
    lrs = np.linspace(0.01, 0.6, 60)
    # |1 − 2 a lr| > 1 for the steepest coordinate (a = 2) exactly when lr > 1/2
    unstable = lrs[lrs > 0.5 + 1e-12]
    assert row[-1] == f"lr ≥ {unstable.min():.6g}" == "lr ≥ 0.51"
    assert row[4] == str(len(unstable))  # one trial per setting
    runtimes = {lr: closed_form_runtime([0.2, 2.0], [5.1, 2.3], lr) for lr in lrs}
    solved = {lr: k for lr, k in runtimes.items() if k is not None}
    fastest_lr = min(solved, key=lambda lr: (solved[lr], lr))
    assert row[5] == f"{solved[fastest_lr]} steps at lr={fastest_lr:.6g}"
    assert row[2] == str(len(solved))


def test_two_dimensional_sweep_counts_settings_that_diverged(saved):
    [row] = [r for r in table_cells(tables.sweeps_table(saved, "elongated")) if r[0] == "momentum grid"]
    assert row[1] == "lr 0.05…0.8 (4) × momentum 0…0.9 (4)"
    assert row[-1].endswith(" of 16 settings")


def test_divergence_cell_cases():
    from types import SimpleNamespace

    def groups_for(values):
        return [SimpleNamespace(swept=("lr",), value=lambda name, v=v: v) for v in values]

    def summaries(diverged):
        return [{"diverged": d, "trials": 2} for d in diverged]

    g = groups_for([0.3, 0.1, 0.2, 0.4])  # unsorted on purpose
    assert tables.divergence_cell(g, summaries([2, 0, 0, 2])) == "lr ≥ 0.3"
    assert tables.divergence_cell(g, summaries([0, 0, 0, 0])) == "—"
    # a setting where only some starts diverged is below the edge, not part of it
    assert tables.divergence_cell(g, summaries([1, 0, 0, 2])) == "lr ≥ 0.4"
    assert tables.divergence_cell(g, summaries([2, 0, 0, 1])) == "2 of 4 settings"
    assert tables.divergence_cell(g, summaries([0, 2, 0, 2])) == "2 of 4 settings"  # low end
    assert tables.divergence_cell(g[:1], summaries([2])) == "lr ≥ 0.3"


# ---------------------------------------------------------------------------------------------
# Best-setting table


def test_best_table_cells(saved):
    t = saved.trials
    best = {}
    for g in saved.groups:
        rows = group_rows(saved, g.id)
        conv = t.status[rows] == CONVERGED
        hits = t.first_hit[rows][conv]
        rank = (-conv.mean(), art(saved, rows), float(np.median(hits)) if hits.size else math.inf,
                float(t.best_gap[rows].min()))
        key = (g.function, g.optimizer_label)
        if key not in best or rank < best[key][0]:
            best[key] = (rank, g, rows)
    expected, previous = [], None
    for (function, label), (_, g, rows) in best.items():
        conv = t.status[rows] == CONVERGED
        a = art(saved, rows)
        expected.append([
            function if function != previous else "", label, expected_setting(g),
            f"{int(conv.sum())}/{len(rows)}", steps_text(t.first_hit[rows][conv], "\n"),
            "∞" if math.isinf(a) else f"{a:.1f}",
        ])
        previous = function
    assert table_cells(tables.best_table(saved)) == expected


# ---------------------------------------------------------------------------------------------
# Helpers and layout


@pytest.mark.parametrize("q, text", [
    (None, "—"),
    ({"min": 7, "median": 7.0, "max": 7}, "7"),
    ({"min": 3, "median": 12.5, "max": 45}, "12.5 [3–45]"),
])
def test_format_steps(q, text):
    assert tables.format_steps(q) == text


@pytest.mark.parametrize("q, text", [
    ({"min": 1, "median": 1.0, "max": 1}, "1 step"),
    ({"min": 2, "median": 2.0, "max": 2}, "2 steps"),
    ({"min": 1, "median": 2.0, "max": 3}, "2 [1–3] steps"),
])
def test_steps_phrase(q, text):
    assert tables.steps_phrase(q) == text


def test_steps_cell_puts_the_range_under_the_median():
    assert tables.steps_cell({"min": 3, "median": 12.5, "max": 45}) == "12.5\n[3–45]"
    assert tables.steps_cell({"min": 7, "median": 7.0, "max": 7}) == "7"
    assert tables.steps_cell(None) == "—"


def test_format_gap_and_art():
    assert tables.format_gap(1.2345e-7) == "1.23e-07"
    assert tables.format_gap(float("nan")) == "—" and tables.format_gap(float("inf")) == "—"
    assert tables.format_art(float("inf")) == "∞" and tables.format_art(12.25) == "12.2"


SHIPPED = sorted((REPO / "configs").glob("*.yaml"))


@pytest.fixture(scope="module")
def run_shipped(tmp_path_factory):
    """Run a shipped config on a budget of 200 steps (its labels, settings and sweeps, quickly)."""
    cache = {}

    def build(path: Path):
        if path not in cache:
            text = re.sub(r"\nsteps: \d+", "\nsteps: 200", path.read_text(), count=1)
            config_path = tmp_path_factory.mktemp("config") / path.name
            config_path.write_text(text)
            out = tmp_path_factory.mktemp("shipped")
            result = CliRunner().invoke(cli, ["run", str(config_path), "--out", str(out), "-q"])
            assert result.exit_code == 0, result.output
            cache[path] = load(Path(result.stdout.strip()))
        return cache[path]

    return build


@pytest.mark.parametrize("width", [80, 120])
@pytest.mark.parametrize("which", [*SHIPPED, "test config"],
                         ids=[*(p.stem for p in SHIPPED), "test-config"])
def test_tables_fit_and_cut_nothing(request, run_shipped, which, width):
    results = request.getfixturevalue("saved") if which == "test config" else run_shipped(which)
    console = Console(record=True, width=width, color_system=None)
    all_tables = tables.run_tables(results, width=width)
    compact = [t for t in all_tables if t.columns[0].header == "optimizer\n  setting"]
    assert bool(compact) == (width < tables.COMPACT_BELOW)
    for table in all_tables:
        console.print(table)
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= width
    # rich cut nothing: the only ellipses are those of the sweep ranges (lr 0.01…0.6)
    cells = [plain(c) for t in all_tables for col in t.columns for c in col.cells]
    assert text.count("…") == sum(c.count("…") for c in cells)
    # every status word, count and gap appears whole on one line
    for table in all_tables:
        for col in table.columns:
            if col.no_wrap:
                for cell in col.cells:
                    for line in plain(cell).splitlines():
                        assert line in text, (width, line)
    for word in ("converged", "unfinished", "diverged"):
        assert word in text
    # text stays readable: in each table, every short word of every cell shows unbroken
    for table in all_tables:
        one = Console(record=True, width=width, color_system=None)
        one.print(table)
        rendered = one.export_text()
        for col in table.columns:
            for cell in col.cells:
                for word in plain(cell).split():
                    if len(word) <= 12:
                        assert re.search(rf"(^|[\s│(]){re.escape(word)}($|[\s│,)])", rendered,
                                         flags=re.MULTILINE), (width, word)
