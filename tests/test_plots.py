"""The figures draw what the saved results hold, checked against closed forms (plot_support)."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.colors import to_rgba
from plot_support import (
    STARTS,
    STEPS,
    A,
    C,
    make_run,
    momentum_outcome,
    sgd_gaps,
    sgd_outcome,
    sgd_points,
)

from optbench import config as config_module
from optbench.functions import make_function
from optbench.report import plots
from optbench.results import load
from optbench.runner import LADDER


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    return load(make_run(tmp_path_factory.mktemp("plots"), plots=False))


def _lines(figure, prefix):
    return {line.get_gid(): line for ax in figure.axes for line in ax.get_lines()
            if (line.get_gid() or "").startswith(prefix)}


def _group(results, function, label, **setting):
    return next(g.id for g in results.groups
                if g.function == function and g.optimizer_label == label
                and config_module.setting_matches(g.hyperparameters, setting))


def test_ladder_hits_are_first_steps_on_every_target(results):
    for lr in (0.1, 0.4, 0.6):
        gid = _group(results, "bowl", "sd", lr=lr)
        trial = np.flatnonzero(results.trials.group == gid)[0]
        (row,) = np.flatnonzero(results.trials.ladder_trials == trial)
        gaps = sgd_gaps("bowl", lr, STARTS["bowl"][0])
        status, step = sgd_outcome("bowl", lr, STARTS["bowl"][0])
        alive = gaps[: step] if status == "diverged" else gaps
        expected = [int(np.flatnonzero(alive <= t)[0]) if np.any(alive <= t) else -1
                    for t in LADDER]
        np.testing.assert_array_equal(results.trials.ladder_hits[row], expected)


def test_panels_follow_the_config_and_pick_settings(results):
    (panel,) = plots.panels(results)
    assert panel.title == "Fig. A: two learning rates" and panel.function == "bowl"
    assert panel.lines == [(_group(results, "bowl", "sd", lr=0.1), True),
                           (_group(results, "bowl", "sd", lr=0.4), False),
                           (_group(results, "bowl", "sd", lr=0.6), False)]


def test_paths_figure_draws_each_path_start_and_minimum(results):
    (panel,) = plots.panels(results)
    plot = plots.paths_figure(results, panel)
    assert plot.name == "paths-01-fig-a" and plot.figure.dpi >= 150 and plot.caption
    (ax,) = [a for a in plot.figure.axes]
    assert ax.get_title() == panel.title and ax.get_xlabel() and ax.get_ylabel()
    lines = _lines(plot.figure, "")
    start = STARTS["bowl"][0]
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    for lr, reference in ((0.1, True), (0.4, False), (0.6, False)):
        gid = _group(results, "bowl", "sd", lr=lr)
        line = lines[f"path-{gid}-0"]
        xy = np.column_stack(line.get_data())
        expected = sgd_points("bowl", lr, start)[: len(xy)]
        np.testing.assert_allclose(xy, expected, rtol=1e-12, atol=1e-12)
        assert (line.get_color() == plots.REFERENCE_COLOR) == reference
        assert len(xy) >= 2 and line.get_marker() not in (None, "None", "")
        if lr == 0.6:
            # Diverging: drawn up to its first point outside the view, which stays clipped.
            inside = (xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1)
            assert inside[:-1].all() and not inside[-1]
            assert any("leaves the view at step" in t.get_text() for t in ax.texts)
        else:
            assert x0 < expected[:, 0].min() and expected[:, 0].max() < x1
    np.testing.assert_array_equal(np.column_stack(lines["start"].get_data()), [start])
    np.testing.assert_array_equal(np.column_stack(lines["minimum"].get_data()), [[0.0, 0.0]])
    labels = [t.get_text() for t in plot.figure.legends[0].get_texts()]
    assert "sd, lr=0.4 (converged in 45 steps)" in labels
    assert "sd, lr=0.6 (diverged at step 15)" in labels
    assert sgd_outcome("bowl", 0.6, start) == ("diverged", 15)
    assert sgd_outcome("bowl", 0.4, start) == ("converged", 45)


def test_contours_are_the_function(results):
    (panel,) = plots.panels(results)
    ax = plots.paths_figure(results, panel).figure.axes[0]
    (contours,) = [c for c in ax.collections if hasattr(c, "levels")]
    objective = make_function("paraboloid", a=[0.2, 2.0], c=-5)
    assert contours.levels.min() > C["bowl"]  # every level above the minimum value
    path = contours.get_paths()[3]
    f, _ = objective.value_and_grad(path.vertices)
    np.testing.assert_allclose(f, f[0], rtol=0.02)  # a contour line is a level set of f


def test_gaps_figure_draws_f_minus_fstar_on_a_log_axis(results):
    (panel,) = plots.panels(results)
    plot = plots.gaps_figure(results, panel)
    ax = plot.figure.axes[0]
    assert ax.get_yscale() == "log"
    lines = _lines(plot.figure, "gap-")
    for lr in (0.1, 0.4, 0.6):
        gid = _group(results, "bowl", "sd", lr=lr)
        steps, gaps = lines[f"gap-{gid}-0"].get_data()
        expected = sgd_gaps("bowl", lr, STARTS["bowl"][0])
        status, at = sgd_outcome("bowl", lr, STARTS["bowl"][0])
        assert len(gaps) == (at + 1 if status == "diverged" else STEPS + 1)
        np.testing.assert_array_equal(steps, np.arange(len(gaps)))
        # The paraboloid's gap is computed without subtracting f* = -5: exact to rounding,
        # relative, however small.
        positive = gaps > 0
        np.testing.assert_allclose(gaps[positive], expected[: len(gaps)][positive], rtol=1e-9)
    target = [line for line in ax.get_lines() if "target" in (line.get_label() or "")]
    assert target and target[0].get_ydata()[0] == pytest.approx(1e-6)
    # The axis reaches a tenth of the least gap drawn, but not deeper than ten decades below
    # the target.
    drawn = np.concatenate([line.get_ydata() for line in lines.values()])
    least, most = drawn[drawn > 0].min(), drawn.max()
    floor = max(least / 10, 1e-6 * 1e-10)
    margin = 10 ** (0.05 * np.log10(most / floor))
    np.testing.assert_allclose(ax.get_ylim(), (floor / margin, most * margin), rtol=1e-12)


@pytest.mark.parametrize("function", ["bowl", "round"])
def test_sweep_figure_steps_and_failures_against_closed_form(results, function):
    plot = plots.sweep_figure(results, function, "lr")
    ax = plot.figure.axes[0]
    assert ax.get_xscale() == "log"  # the sweep was a logspace
    assert ax.get_yscale() == "log" and "lr" in ax.get_xlabel()
    lrs = np.geomspace(0.01, 1.0, 13)
    outcomes = {}
    for lr in lrs:
        per_start = [sgd_outcome(function, lr, s) for s in STARTS[function]]
        steps = [k if st == "converged" else np.inf for st, k in per_start]
        median = float(np.median(steps))
        statuses = [st for st, _ in per_start]
        if np.isfinite(median):
            outcomes[lr] = ("converged", median)
        else:
            worse = statuses.count("diverged") >= statuses.count("unfinished")
            outcomes[lr] = ("diverged" if worse else "unfinished", None)
    # The 3-value list 'sd' (a figure's settings) is not a sweep; 'sd sweep' is.
    assert list(_lines(plot.figure, "sweep-")) == ["sweep-sd sweep"]
    line = _lines(plot.figure, "sweep-")["sweep-sd sweep"]
    x, y = line.get_data()
    np.testing.assert_allclose(x, lrs, rtol=1e-12)
    expected_y = [outcomes[lr][1] if outcomes[lr][0] == "converged" else np.nan for lr in lrs]
    np.testing.assert_array_equal(y, expected_y)
    for status in ("diverged", "unfinished"):
        marks = _lines(plot.figure, f"{status}-").get(f"{status}-sd sweep")
        expected_x = [lr for lr in lrs if outcomes[lr][0] == status]
        drawn = marks.get_xdata() if marks is not None else []
        np.testing.assert_allclose(drawn, expected_x, rtol=1e-12)
    # On the bowl the edge of stability is lr = 1 / (2 max a) = 0.25... beyond 0.5 it diverges.
    if function == "bowl":
        assert [lr for lr in lrs if outcomes[lr][0] == "diverged"] == [lrs[-2], lrs[-1]]


def test_sweep_axis_is_linear_for_a_linspace(tmp_path):
    text = """\
name: lin
steps: 50
functions: [{label: f, function: paraboloid, a: [0.5, 0.5], start: [1, 1]}]
optimizers: [{label: s, optimizer: sgd, lr: {linspace: [0.1, 1.3, 4]}}]
"""
    (tmp_path / "lin.yaml").write_text(text)
    from click.testing import CliRunner

    from optbench.cli import cli

    result = CliRunner().invoke(cli, ["run", str(tmp_path / "lin.yaml"), "--out",
                                      str(tmp_path), "-q", "--no-plots"])
    assert result.exit_code == 0, result.output
    # A linspace of any length is a sweep, drawn on a linear axis.
    plot = plots.sweep_figure(load(result.output.strip()), "f", "lr")
    assert plot.figure.axes[0].get_xscale() == "linear"
    np.testing.assert_allclose(_lines(plot.figure, "sweep-")["sweep-s"].get_xdata(),
                               [0.1, 0.5, 0.9, 1.3])


def test_map_figure_cells_and_failure_colours(results):
    plot = plots.map_figure(results, "bowl", "heavy ball")
    ax = plot.figure.axes[0]
    steps_image = next(im for im in ax.images if im.get_gid() == "steps")
    fail_image = next(im for im in ax.images if im.get_gid() == "failures")
    lrs, momenta = np.linspace(0.1, 0.7, 7), [0.0, 0.5]
    expected = np.full((2, 7), np.nan)
    kinds = np.empty((2, 7), dtype=object)
    for i, mu in enumerate(momenta):
        for j, lr in enumerate(lrs):
            kinds[i, j], step = momentum_outcome(lr, mu)
            if kinds[i, j] == "converged":
                expected[i, j] = step
    drawn = np.ma.filled(steps_image.get_array().astype(float), np.nan)
    np.testing.assert_array_equal(drawn, expected)
    rgba = fail_image.get_array()
    assert "diverged" in kinds and "unfinished" in kinds
    for (i, j), kind in np.ndenumerate(kinds):
        want = {"diverged": to_rgba(plots.DIVERGED_COLOR),
                "unfinished": to_rgba(plots.UNFINISHED_COLOR)}.get(kind, (0, 0, 0, 0))
        np.testing.assert_allclose(rgba[i, j], want)
    legend = [t.get_text() for t in plot.figure.legends[0].get_texts()]
    assert legend == ["diverged (×)", "unfinished (budget ran out)"]
    assert ax.get_xlabel() == "lr" and ax.get_ylabel() == "momentum"


def test_ecdf_figure_against_closed_form_runtimes(results):
    plot = plots.ecdf_figure(results)
    ax = plot.figure.axes[0]
    assert ax.get_xscale() == "log"
    lines = _lines(plot.figure, "ecdf-")
    # Only 'sd sweep' ran on both functions. Its best lr per function is the fastest converging
    # one: lr = 0.464 on the bowl (53 steps) and lr = 1 on the round bowl (1 step).
    assert list(lines) == ["ecdf-sd sweep"]
    runtimes = []
    for function, lr in (("bowl", np.geomspace(0.01, 1, 13)[-3]), ("round", 1.0)):
        for start in STARTS[function]:
            gaps = sgd_gaps(function, lr, start)
            runtimes += [np.flatnonzero(gaps <= t)[0] if np.any(gaps <= t) else np.inf
                         for t in LADDER]
    runtimes = np.array(runtimes, dtype=float)
    ks, fraction = lines["ecdf-sd sweep"].get_data()
    expected = [(runtimes <= k).sum() / runtimes.size for k in ks]
    np.testing.assert_allclose(fraction, expected, rtol=0, atol=1e-15)
    assert fraction[-1] == pytest.approx(np.isfinite(runtimes).mean())
    assert "(over all trials)" in plot.caption


def test_ecdf_of_a_ladder_kept_for_the_first_start_points(results):
    """Where the ladder was kept for each group's first start point only (the round bowl has
    two), the ECDF draws on those trials, and its caption says so."""
    import dataclasses

    trials = results.trials
    first = np.flatnonzero(np.r_[True, trials.group[1:] != trials.group[:-1]])
    sampled = dataclasses.replace(trials, ladder_trials=first,
                                  ladder_hits=trials.ladder_hits[first])
    plot = plots.ecdf_figure(dataclasses.replace(results, trials=sampled))
    runtimes = []
    for function, lr in (("bowl", np.geomspace(0.01, 1, 13)[-3]), ("round", 1.0)):
        gaps = sgd_gaps(function, lr, STARTS[function][0])
        runtimes += [np.flatnonzero(gaps <= t)[0] if np.any(gaps <= t) else np.inf
                     for t in LADDER]
    runtimes = np.array(runtimes, dtype=float)
    ks, fraction = _lines(plot.figure, "ecdf-")["ecdf-sd sweep"].get_data()
    np.testing.assert_allclose(fraction, [(runtimes <= k).mean() for k in ks], rtol=0, atol=1e-15)
    assert "(over the trials from each setting's first start point)" in plot.caption


def _contrast_on_white(color) -> float:
    """WCAG 2 contrast ratio of a colour against white."""
    channels = np.array(to_rgba(color)[:3])
    linear = np.where(channels <= 0.03928, channels / 12.92, ((channels + 0.055) / 1.055) ** 2.4)
    luminance = linear @ [0.2126, 0.7152, 0.0722]
    return 1.05 / (luminance + 0.05)


def test_palette_lines_stand_out_on_white():
    # WCAG's minimum for lines and marks is 3:1; Okabe-Ito's yellow (1.3:1) failed it.
    assert len(set(plots.PALETTE)) == len(plots.PALETTE) >= plots.MAX_LINES
    for color in plots.PALETTE:
        assert _contrast_on_white(color) >= 3.0, color
    assert _contrast_on_white("#F0E442") < 1.5  # the formula, on a known faint colour


def test_every_figure_has_title_labels_and_a_stable_name(results):
    figures = plots.figures(results)
    names = [p.name for p in figures]
    assert names == ["paths-01-fig-a", "gaps-01-fig-a", "sweep-bowl-lr", "map-bowl-heavy-ball",
                     "sweep-round-lr", "ecdf"]
    for plot in figures:
        assert plot.figure.dpi >= 150 and plot.caption and plot.title
        ax = plot.figure.axes[0]
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
        assert ax.get_legend() is not None or plot.figure.legends


def test_automatic_panels_without_panels_in_the_config(tmp_path):
    text = """\
name: auto
steps: 60
functions: [{label: f, function: paraboloid, a: [0.5, 0.5], start: [1, 1]}]
optimizers:
  - {label: slow, optimizer: sgd, lr: [0.1, 0.2]}
  - {label: fast, optimizer: sgd, lr: 0.9}
"""
    (tmp_path / "auto.yaml").write_text(text)
    from click.testing import CliRunner

    from optbench.cli import cli

    result = CliRunner().invoke(cli, ["run", str(tmp_path / "auto.yaml"), "--out",
                                      str(tmp_path), "-q", "--no-plots"])
    results = load(result.output.strip())
    (panel,) = plots.panels(results)
    # The best setting of each entry, the fastest first (closed form: 1 - lr per step).
    assert [results.groups[g].setting() for g, _ in panel.lines] == ["-", "lr=0.2"]
    assert plots.paths_figure(results, panel).name == "paths-f"


def test_results_without_ladder_hits_skip_the_ecdf(results):
    import dataclasses

    trials = dataclasses.replace(results.trials, ladder_hits=None)
    assert plots.ecdf_figure(dataclasses.replace(results, trials=trials)) is None


def test_closed_form_is_the_paraboloid_the_runs_use():
    objective = make_function("paraboloid", a=A["bowl"].tolist(), c=C["bowl"])
    x = sgd_points("bowl", 0.3, STARTS["bowl"][0], 3)
    f, _ = objective.value_and_grad(x)
    np.testing.assert_allclose(f - C["bowl"], sgd_gaps("bowl", 0.3, STARTS["bowl"][0], 3))


def test_paths_without_a_minimum_or_without_the_function(tmp_path):
    text = """\
name: saddle
steps: 20
functions: [{label: s, function: saddle, start: [1.0, 0.1]}]
optimizers: [{label: sd, optimizer: sgd, lr: 0.1}]
"""
    (tmp_path / "saddle.yaml").write_text(text)
    from click.testing import CliRunner

    from optbench.cli import cli

    result = CliRunner().invoke(cli, ["run", str(tmp_path / "saddle.yaml"), "--out",
                                      str(tmp_path), "-q", "--no-plots"])
    results = load(result.output.strip())
    (panel,) = plots.panels(results)
    plot = plots.paths_figure(results, panel)
    lines = _lines(plot.figure, "")
    assert "minimum" not in lines  # the saddle has none
    # x_k = (1 - 2 lr)^k x_0 along x, (1 + 2 lr)^k along y: f = x^2 - y^2.
    xy = np.column_stack(lines[f"path-{panel.lines[0][0]}-0"].get_data())
    k = np.arange(len(xy))
    np.testing.assert_allclose(xy, np.column_stack([0.8**k, 0.1 * 1.2**k]), rtol=1e-12)
    assert plot.figure.axes[0].collections  # contour lines of f itself
    # A user-defined function that cannot be imported where the plot is drawn: no contours.
    results.config["functions"][0]["function"] = "not_installed.module:f"
    plot = plots.paths_figure(results, panel)
    assert not plot.figure.axes[0].collections and "no contour lines" in plot.caption


PROFILE_CONFIG = """\
name: profile
steps: 300
target: {gap: 1.0e-6}
functions:
  - {label: narrow, function: paraboloid, a: [0.2, 2.0], start: [[5.1, 2.3], [-3, 1], [1, -2]]}
  - {label: wide, function: paraboloid, a: [0.5, 0.5], start: [[1, 1], [-4, 2], [2, 2]]}
optimizers:
  - {label: slow, optimizer: sgd, lr: 0.05}
  - {label: quick, optimizer: sgd, lr: [0.2, 0.45]}
  - {label: heavy, optimizer: sgd, lr: 0.1, momentum: 0.5}
  - {label: only narrow, optimizer: adam, lr: 0.5, functions: [narrow]}
"""


def test_profile_figure_against_a_plain_dolan_more(tmp_path):
    from click.testing import CliRunner

    from optbench.cli import cli

    (tmp_path / "profile.yaml").write_text(PROFILE_CONFIG)
    result = CliRunner().invoke(cli, ["run", str(tmp_path / "profile.yaml"), "--out",
                                      str(tmp_path), "-q", "--no-plots"])
    assert result.exit_code == 0, result.output
    results = load(result.output.strip())
    plot = plots.profile_figure(results)
    assert plot.name == "profile" and "6 problems" in plot.title
    lines = _lines(plot.figure, "profile-")
    # Entries on every function only: "only narrow" ran on one.
    assert sorted(lines) == ["profile-heavy", "profile-quick", "profile-slow"]

    # Plain reference: problems are (function, start); each entry's best setting is the group
    # with the most converged trials, then the fewest total steps, per function.
    trials = results.trials
    times = {}
    for label in ("slow", "quick", "heavy"):
        per_problem = []
        for function in ("narrow", "wide"):
            candidates = []
            for g in results.groups:
                if g.function == function and g.optimizer_label == label:
                    rows = np.flatnonzero(trials.group == g.id)
                    ok = trials.status[rows] == 0
                    steps = [float(s) if o else np.inf for s, o in zip(trials.first_hit[rows], ok)]
                    candidates.append((-ok.sum(), sum(s for s in steps if s < np.inf), steps))
            per_problem += min(candidates)[2]
        times[label] = per_problem
    for label, line in ((k[len("profile-"):], v) for k, v in lines.items()):
        taus, rho = line.get_data()
        for tau, share in zip(taus[::37], rho[::37]):
            count = 0
            for p in range(6):
                best = min(times[other][p] for other in times)
                mine = times[label][p]
                if mine < np.inf and best < np.inf and mine <= tau * best:
                    count += 1
            assert share == pytest.approx(count / 6), (label, tau)
