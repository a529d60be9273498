r"""The book's figures 8.1-8.6 (Keydana, 2023, ch. 8), as optbench runs them.

Each figure setting of DESIGN.md's table is run through optbench exactly as
``optbench run configs/paraboloid.yaml`` runs it (config.load -> runner.run -> metrics), and its
path is compared with a plain implementation of the *book's* equations, written here from the
chapter with its own symbols:

* steepest descent: x ← x − lr·g;
* momentum (8.1, 8.2): v⁽ᵏ⁺¹⁾ = m·v⁽ᵏ⁾ + lr·g⁽ᵏ⁾, x⁽ᵏ⁺¹⁾ = x⁽ᵏ⁾ − v⁽ᵏ⁺¹⁾, v⁽⁰⁾ = 0;
* Adagrad (8.3, 8.4): s⁽ᵏ⁾ = Σⱼ≤ₖ (g⁽ʲ⁾)², x⁽ᵏ⁺¹⁾ = x⁽ᵏ⁾ − lr/(ε + √s⁽ᵏ⁾)·g⁽ᵏ⁾;
* RMSProp (8.5, 8.6): s = γ·s + (1 − γ)·g², started at s₁ = g₁², x ← x − lr/(ε + √s)·g;
* Adam (8.7-8.9): v = γv·v + (1 − γv)·g, s = γs·s + (1 − γs)·g², started at v₁ = g₁,
  s₁ = g₁², x ← x − lr·v/(ε + √s).

The step counts the README prints are derived here independently, from closed forms (8.1, 8.2)
and from the plain implementation, with optbench's default target f − f* ≤ 1e-6 and divergence
bound 1e6 × the starting gap.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from trajectory_tools import assert_path_close

from optbench.config import load
from optbench.metrics import group_summaries
from optbench.runner import CONVERGED, DIVERGED, UNFINISHED, run

CONFIG = Path(__file__).resolve().parent.parent / "configs" / "paraboloid.yaml"
STEPS = 1000
TARGET = 1e-6
DIVERGENCE_FACTOR = 1e6
ISOTROPIC = ((0.2, 0.2), (6.0, 6.0))  # a, start; c = −5 for both
ELONGATED = ((0.2, 2.0), (5.1, 2.3))


# --- the book's equations, one coordinate list at a time --------------------------------------


def _grad(a, x):
    return [2 * ai * xi for ai, xi in zip(a, x)]


def steepest_descent(a, x0, lr, steps=STEPS):
    x, path = list(x0), [list(x0)]
    for _ in range(steps):
        x = [xi - lr * gi for xi, gi in zip(x, _grad(a, x))]
        path.append(x)
    return path


def momentum(a, x0, lr, m, steps=STEPS):
    x, v, path = list(x0), [0.0] * len(x0), [list(x0)]
    for _ in range(steps):
        v = [m * vi + lr * gi for vi, gi in zip(v, _grad(a, x))]  # (8.1)
        x = [xi - vi for xi, vi in zip(x, v)]  # (8.2)
        path.append(x)
    return path


def adagrad(a, x0, lr, eps, steps=STEPS):
    x, s, path = list(x0), [0.0] * len(x0), [list(x0)]
    for _ in range(steps):
        g = _grad(a, x)
        s = [si + gi**2 for si, gi in zip(s, g)]  # (8.3)
        x = [xi - lr / (eps + math.sqrt(si)) * gi for xi, si, gi in zip(x, s, g)]  # (8.4)
        path.append(x)
    return path


def rmsprop(a, x0, lr, gamma, eps, steps=STEPS):
    x, s, path = list(x0), None, [list(x0)]
    for _ in range(steps):
        g = _grad(a, x)
        s = ([gi**2 for gi in g] if s is None
             else [gamma * si + (1 - gamma) * gi**2 for si, gi in zip(s, g)])  # (8.5)
        x = [xi - lr / (eps + math.sqrt(si)) * gi for xi, si, gi in zip(x, s, g)]  # (8.6)
        path.append(x)
    return path


def adam(a, x0, lr, gamma_v, gamma_s, eps, steps=STEPS):
    x, v, s, path = list(x0), None, None, [list(x0)]
    for _ in range(steps):
        g = _grad(a, x)
        if v is None:
            v, s = list(g), [gi**2 for gi in g]
        else:
            v = [gamma_v * vi + (1 - gamma_v) * gi for vi, gi in zip(v, g)]  # (8.7)
            s = [gamma_s * si + (1 - gamma_s) * gi**2 for si, gi in zip(s, g)]  # (8.8)
        x = [xi - lr * vi / (eps + math.sqrt(si)) for xi, vi, si in zip(x, v, s)]  # (8.9)
        path.append(x)
    return path


def gaps(a, path) -> np.ndarray:
    """f − f* = Σ a_i x_i² along a path (the offset c cancels)."""
    return np.array([sum(ai * xi**2 for ai, xi in zip(a, x)) for x in path])


def first_hit(gap: np.ndarray) -> int:
    """The first step with f − f* ≤ 1e-6, −1 if none (COCO's fixed-target runtime)."""
    hits = np.flatnonzero(gap <= TARGET)
    return int(hits[0]) if hits.size else -1


def divergence_step(gap: np.ndarray) -> int:
    bad = np.flatnonzero(~(gap <= DIVERGENCE_FACTOR * gap[0]))
    return int(bad[0]) if bad.size else -1


# --- optbench, as `optbench run configs/paraboloid.yaml` runs it ------------------------------


@pytest.fixture(scope="module")
def figures():
    """``(label, lr) -> (outcome row, summary, recorded path)`` for the figure groups."""
    config = load(CONFIG)
    assert (config.steps, config.target.kind, config.target.value) == (STEPS, "gap", TARGET)
    assert (config.divergence.kind, config.divergence.value) == ("factor", DIVERGENCE_FACTOR)
    output = run(config)
    summaries = group_summaries(output.outcomes, len(output.plan.groups), config.steps)
    found = {}
    for group, summary in zip(output.plan.groups, summaries):
        if not group.optimizer_label.startswith("fig ") or "torch form" in group.optimizer_label:
            continue
        rows = np.flatnonzero(output.outcomes.group == group.id)
        assert rows.size == 1  # one start point per figure
        outcome = {k: v[rows[0]] for k, v in output.outcomes.as_dict().items()}
        path = next(t.points[np.flatnonzero(t.group == group.id)[0]]
                    for t in output.trajectories if np.any(t.group == group.id))
        found[(group.optimizer_label, group.hyperparameters["lr"])] = (outcome, summary, path)
    return found


def _check_counts(outcome, summary, status, steps=-1, diverged_at=-1):
    assert outcome["status"] == status
    assert outcome["first_hit"] == steps
    assert outcome["diverged_at"] == diverged_at
    if status == CONVERGED:
        assert summary["steps"] == {"min": steps, "median": float(steps), "max": steps}
        assert summary["converged"] == 1 and summary["aRT"] == steps
    if status == DIVERGED:
        assert summary["diverged_at"]["min"] == diverged_at and summary["diverged"] == 1
    if status == UNFINISHED:
        assert summary["unfinished"] == 1 and summary["steps"] is None


def _valid(path):
    """The recorded path up to its last finite point (NaN after a divergence)."""
    return path[np.all(np.isfinite(path), axis=1)]


def _normal(book):
    """The steps before the path's coordinates all fall below 1e-250: further on they reach
    subnormal numbers, whose few significant bits make any relative comparison meaningless."""
    small = np.flatnonzero(np.max(np.abs(book), axis=1) < 1e-250)
    return slice(0, small[0] if small.size else len(book))


def test_figure_8_1_isotropic_steepest_descent(figures):
    a, x0 = ISOTROPIC
    # lr 2.5 lands on the minimum in one step: 6 − 2.5·0.4·6 = 0.
    outcome, summary, path = figures[("fig 8.1 steepest descent", 2.5)]
    assert_path_close(_valid(path)[:2], np.array(steepest_descent(a, x0, 2.5, 1)), 1e-12)
    np.testing.assert_allclose(path[1], 0.0, atol=1e-14)
    _check_counts(outcome, summary, CONVERGED, steps=1)
    # lr 1 converges geometrically: x_k = (1 − 2·0.2·1)^k x_0 = 0.6^k x_0.
    outcome, summary, path = figures[("fig 8.1 steepest descent", 1.0)]
    k = np.arange(STEPS + 1)[:, None]
    closed = np.array(x0) * 0.6**k
    assert_path_close(path, closed, 1e-12)
    assert_path_close(path, np.array(steepest_descent(a, x0, 1.0)), 1e-12)
    # gap_k = 0.2·72·0.36^k ≤ 1e-6  <=>  k ≥ ln(1e-6 / 14.4) / ln 0.36 = 16.13...
    steps = math.ceil(math.log(TARGET / 14.4) / math.log(0.36))
    assert steps == 17
    _check_counts(outcome, summary, CONVERGED, steps=steps)


def test_figure_8_2_elongated_steepest_descent(figures):
    a, x0 = ELONGATED
    k = np.arange(STEPS + 1)
    gap0 = 0.2 * 5.1**2 + 2.0 * 2.3**2

    def closed_form(lr):  # each coordinate scales by (1 − 2 a_i lr) per step
        return np.stack([5.1 * (1 - 0.4 * lr) ** k, 2.3 * (1 - 4.0 * lr) ** k], axis=1)

    # lr 0.4: y halves its error fast (factor −0.6), x slowly (0.84); converges.
    outcome, summary, path = figures[("fig 8.2 steepest descent", 0.4)]
    assert_path_close(path, closed_form(0.4), 1e-12)
    assert_path_close(path, np.array(steepest_descent(a, x0, 0.4)), 1e-12)
    steps_04 = first_hit(gaps(a, closed_form(0.4)))
    assert steps_04 == 45
    _check_counts(outcome, summary, CONVERGED, steps=steps_04)

    # lr 0.495: y's factor is 1 − 1.98 = −0.98: it changes sign every step (the zig-zag) and
    # shrinks slowly, so convergence takes many times longer.
    outcome, summary, path = figures[("fig 8.2 steepest descent", 0.495)]
    assert_path_close(path, closed_form(0.495), 1e-12)
    assert np.all(np.sign(path[1:, 1]) == -np.sign(path[:-1, 1]))
    steps_0495 = first_hit(gaps(a, closed_form(0.495)))
    assert steps_0495 == 401 and steps_0495 > 8 * steps_04
    _check_counts(outcome, summary, CONVERGED, steps=steps_0495)

    # lr 0.51: |y| grows by |1 − 4·0.51| = 1.04 every step until the gap passes 1e6 × its start.
    outcome, summary, path = figures[("fig 8.2 steepest descent", 0.51)]
    valid = _valid(path)
    np.testing.assert_allclose(np.abs(valid[1:, 1] / valid[:-1, 1]), 1.04, rtol=1e-12)
    assert np.all(np.sign(valid[1:, 1]) == -np.sign(valid[:-1, 1]))
    assert_path_close(valid, closed_form(0.51)[: len(valid)], 1e-12)
    diverged = divergence_step(gaps(a, closed_form(0.51)))
    # the y term dominates: 2·2.3²·1.0816^k > 1e6·gap0 from k = 182 on
    assert diverged == 182
    assert 2 * 2.3**2 * 1.0816**181 < DIVERGENCE_FACTOR * gap0 < 0.2 * 5.1**2 + 2 * 2.3**2 * 1.0816**182
    assert len(valid) == diverged + 1  # recorded up to and including the step it diverged at
    _check_counts(outcome, summary, DIVERGED, diverged_at=diverged)


def test_figure_8_3_momentum(figures):
    a, x0 = ELONGATED
    outcome, summary, path = figures[("fig 8.3 momentum", 0.5)]
    book = np.array(momentum(a, x0, lr=0.5, m=0.1))
    assert_path_close(path, book, 1e-12)
    steps = first_hit(gaps(a, book))
    assert steps == 33
    # faster than the grey steepest-descent path of lr 0.4 (45 steps)
    assert steps < first_hit(gaps(a, steepest_descent(a, x0, 0.4)))
    _check_counts(outcome, summary, CONVERGED, steps=steps)


def test_figure_8_4_adagrad(figures):
    a, x0 = ELONGATED
    outcome, summary, path = figures[("fig 8.4 adagrad", 3.7)]
    book = np.array(adagrad(a, x0, lr=3.7, eps=1e-6))
    assert_path_close(path[_normal(book)], book[_normal(book)], 1e-12)
    assert _normal(book).stop > 500
    # the first step is a sign step of length lr in each coordinate: s₁ = g₁²
    np.testing.assert_allclose(book[1], np.array(x0) - 3.7 * (1 - 1e-6 / 10), rtol=1e-5)
    steps = first_hit(gaps(a, book))
    assert steps == 9
    _check_counts(outcome, summary, CONVERGED, steps=steps)


def test_figure_8_5_rmsprop(figures):
    a, x0 = ELONGATED
    outcome, summary, path = figures[("fig 8.5 rmsprop", 3.0)]
    book = np.array(rmsprop(a, x0, lr=3.0, gamma=0.9, eps=1e-6))
    assert_path_close(path, book, 1e-12)
    book_gaps = gaps(a, book)
    # It comes within 1e-3 of the minimum in a few steps but never reaches 1e-6: as the
    # gradients shrink so does s, the steps stay about lr long, and y zig-zags from the start.
    assert first_hit(book_gaps) == -1
    assert book_gaps[:12].min() < 1e-3
    assert np.all(np.sign(book[1:50, 1]) == -np.sign(book[:49, 1]))
    # In the end it hops across the minimum, x_{k+1} = −x_k = ±c: with s → g² = (2ac)², a step
    # 2c = lr·2ac / (ε + 2ac) gives c = lr/2 − ε/(2a), just under lr/2 = 1.5.
    cycle = 1.5 - 1e-6 / (2 * np.array(a))
    np.testing.assert_allclose(np.abs(book[-100:]), np.broadcast_to(cycle, (100, 2)), rtol=1e-9)
    np.testing.assert_allclose(book[-99:], -book[-100:-1], rtol=1e-9)
    _check_counts(outcome, summary, UNFINISHED)
    np.testing.assert_allclose(outcome["best_gap"], book_gaps.min(), rtol=1e-9)
    np.testing.assert_allclose(outcome["final_gap"], np.sum(np.array(a) * cycle**2), rtol=1e-9)


def test_figure_8_6_adam(figures):
    a, x0 = ELONGATED
    outcome, summary, path = figures[("fig 8.6 adam", 3.0)]
    book = np.array(adam(a, x0, lr=3.0, gamma_v=0.1, gamma_s=0.999, eps=0.0))
    assert_path_close(path[_normal(book)], book[_normal(book)], 1e-12)
    assert _normal(book).stop > 500
    steps = first_hit(gaps(a, book))
    assert steps == 8
    _check_counts(outcome, summary, CONVERGED, steps=steps)


def test_every_figure_group_is_checked(figures):
    labels = {label for label, _ in figures}
    assert labels == {"fig 8.1 steepest descent", "fig 8.2 steepest descent", "fig 8.3 momentum",
                      "fig 8.4 adagrad", "fig 8.5 rmsprop", "fig 8.6 adam"}
    assert len(figures) == 9
