"""The runner's bookkeeping on cases whose answers are known in closed form or by a plain loop."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from optbench.functions import paraboloid, rosenbrock
from optbench.optimizers import make_optimizer
from optbench.runner import CONVERGED, DIVERGED, UNFINISHED, run_trials

# f(x) = x², f* = 0, ∇f = 2x: steepest descent multiplies x by (1 − 2 lr) each step.
SQUARE = paraboloid(a=(1.0,), c=0.0)


def _run(x0, steps, objective=SQUARE, optimizer=None, *, target_kind="gap", target=1e-6,
         divergence_kind="factor", divergence=1e6, lr=None):
    x0 = np.asarray(x0, dtype=np.float64).reshape(len(x0), -1)
    if optimizer is None:
        optimizer = make_optimizer("sgd", lr=np.asarray(lr, dtype=np.float64))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no floating-point warning may escape the runner
        outcomes, points, gaps = run_trials(
            objective, optimizer, x0, steps, target_kind=target_kind, target=target,
            divergence_kind=divergence_kind, divergence=divergence,
            record_rows=np.arange(len(x0)))
    return outcomes, points, gaps


def test_geometric_convergence():
    """lr 0.25: x_k = 0.5^k, gap 0.25^k ≤ 1e-6 from k = ⌈ln 1e-6 / ln 0.25⌉ = 10 on."""
    out, points, gaps = _run([1.0], 30, lr=[0.25])
    k = math.ceil(math.log(1e-6) / math.log(0.25))
    assert k == 10
    assert out["status"][0] == CONVERGED
    assert out["first_hit"][0] == k and out["settled"][0] == k
    assert out["diverged_at"][0] == -1
    assert out["final_gap"][0] == 0.25**30 and out["best_gap"][0] == 0.25**30
    assert out["final_distance"][0] == 0.5**30
    np.testing.assert_array_equal(points[0, :, 0], 0.5 ** np.arange(31))
    np.testing.assert_array_equal(gaps[0], 0.25 ** np.arange(31))


def test_start_inside_the_target():
    out, _, _ = _run([1e-4], 5, lr=[0.25])
    assert out["first_hit"][0] == 0 and out["settled"][0] == 0
    assert out["status"][0] == CONVERGED


def test_unfinished_when_the_budget_runs_out():
    """lr 0.01: gap 0.98^(2k) needs k = 684 steps; with 100 the trial is unfinished."""
    out, _, _ = _run([1.0], 100, lr=[0.01])
    assert out["status"][0] == UNFINISHED
    assert out["first_hit"][0] == -1 and out["settled"][0] == -1 and out["diverged_at"][0] == -1
    np.testing.assert_allclose(out["final_gap"][0], 0.98**200, rtol=1e-13)
    assert out["best_gap"][0] == out["final_gap"][0]


def _heavy_ball_gaps(x0, lr, mu, steps):
    """Plain heavy-ball on x²: b_1 = g_1, b_k = μ b_{k-1} + g_k, x_k = x_{k-1} − lr b_k."""
    x, b, gaps = x0, None, [x0 * x0]
    for _ in range(steps):
        g = 2 * x
        b = g if b is None else mu * b + g
        x = x - lr * b
        gaps.append(x * x)
    return np.array(gaps)


def test_a_trial_that_enters_leaves_and_settles():
    """Heavy-ball overshoots: it dips inside the target, leaves, and settles later."""
    steps, target = 200, 1e-4
    expected = _heavy_ball_gaps(1.0, 0.05, 0.95, steps)
    inside = expected <= target
    first = int(np.argmax(inside))
    settled = int(np.flatnonzero(~inside)[-1]) + 1
    assert settled > first + 1  # the case does leave the target after entering it
    out, _, gaps = _run([1.0], steps, optimizer=make_optimizer("sgd", lr=0.05, momentum=0.95),
                        target=target)
    # no gap lies near the target, so last-bit differences cannot move the counts
    assert np.min(np.abs(expected / target - 1)) > 1e-3
    np.testing.assert_allclose(gaps[0], expected, rtol=1e-9)
    assert out["first_hit"][0] == first and out["settled"][0] == settled
    assert out["status"][0] == CONVERGED
    assert out["best_gap"][0] == pytest.approx(expected.min(), rel=1e-12)


def test_first_hit_and_settled_with_loose_targets():
    """lr 0.999: x_k = (−0.998)^k, gap 0.998^(2k); with target 0.995 it enters at k = 2. lr 0.5
    lands on 0 at k = 1 and stays."""
    out, _, _ = _run([1.0], 7, lr=[0.999], target=0.995)
    # gap_k = 0.998^(2k): 0.996004 (k=1) > 0.995 ≥ 0.992023 (k=2)
    assert out["first_hit"][0] == 2 and out["settled"][0] == 2
    out, _, _ = _run([1.0, 1.0], 10, lr=[0.5, 0.5], target=0.5)  # x_1 = 0: inside for good
    assert list(out["settled"]) == [1, 1]


def test_divergence_by_factor():
    """lr 1.5: x ↦ −2x, gap 4^k; it passes 1e6 × the start's gap at k = 10 (4^10 > 1e6 > 4^9)."""
    out, points, gaps = _run([3.0], 30, lr=[1.5])
    assert out["status"][0] == DIVERGED and out["diverged_at"][0] == 10
    assert out["first_hit"][0] == -1 and out["settled"][0] == -1
    # frozen: the last point at which it was alive, the least gap seen before it diverged
    assert out["final_gap"][0] == 9.0 * 4**9
    assert out["final_distance"][0] == 3.0 * 2**9
    assert out["best_gap"][0] == 9.0
    # recorded up to the step it diverged at, NaN after
    np.testing.assert_array_equal(points[0, :11, 0], 3.0 * (-2.0) ** np.arange(11))
    assert np.all(np.isnan(points[0, 11:])) and np.all(np.isnan(gaps[0, 11:]))


def test_divergence_by_absolute_gap():
    """gap 4^k exceeds 100 at k = 4 (256 > 100 ≥ 64)."""
    out, _, _ = _run([1.0], 30, lr=[1.5], divergence_kind="gap", divergence=100.0)
    assert out["diverged_at"][0] == 4 and out["final_gap"][0] == 64.0


def test_non_finite_values_diverge():
    out, points, _ = _run([1.0, np.inf, np.nan, 1.0], 40, lr=[1e200, 0.1, 0.1, 0.1],
                          divergence_kind="gap", divergence=1e308)
    # x_1 = 1 − 2e200: its square overflows to inf at step 1; a non-finite start diverges at 0
    assert list(out["diverged_at"]) == [1, 0, 0, -1]
    assert list(out["status"]) == [DIVERGED, DIVERGED, DIVERGED, CONVERGED]
    assert out["first_hit"][3] == math.ceil(math.log(1e-6) / math.log(0.64)) == 31
    assert out["final_gap"][0] == 1.0 and out["best_gap"][0] == 1.0
    assert np.all(np.isnan(points[0, 2:]))


def test_trials_diverging_to_nan_raise_no_warnings():
    """Rosenbrock with a huge step overflows to inf, then inf − inf gives NaN: all inside the
    runner, with every floating-point warning turned into an error outside it."""
    objective = rosenbrock(4)
    x0 = np.array([[-1.2, 1.0, 0.5, 2.0], [0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]])
    with np.errstate(all="raise"):
        out, _, _ = _run(x0, 50, objective=objective,
                              optimizer=make_optimizer("sgd", lr=np.array([10.0, 1e-3, 1e-3])))
    assert out["status"][0] == DIVERGED and out["diverged_at"][0] >= 1
    assert out["status"][2] == CONVERGED and out["first_hit"][2] == 0
    assert np.all(np.isfinite(out["final_gap"]))


def test_distance_criterion():
    """lr 0.25: |x_k| = 0.5^k ≤ 1e-3 from k = 10 (0.5^10 = 9.8e-4)."""
    out, _, _ = _run([1.0], 30, lr=[0.25], target_kind="distance", target=1e-3)
    assert out["first_hit"][0] == 10 and out["settled"][0] == 10
    # 2-D: the distance is Euclidean, √2 · 0.5^k ≤ 1e-3 from k = 11
    objective = paraboloid(a=(1.0, 1.0), c=0.0)
    out, _, _ = _run([[1.0, 1.0]], 30, objective=objective, lr=[0.25], target_kind="distance",
                     target=1e-3)
    assert out["first_hit"][0] == math.ceil(math.log2(math.sqrt(2) / 1e-3)) == 11


def test_a_start_inside_the_target_is_not_diverged_for_moving_within_it():
    """From a gap of 1e-18, Adam's first steps are about lr = 1e-4 long: the gap grows far past
    1e6 × 1e-18 yet stays inside the target. The relative bound is taken of the target then."""
    out, _, _ = _run([1e-9, 0.0], 50, optimizer=make_optimizer("adam", lr=1e-4))
    assert list(out["diverged_at"]) == [-1, -1]
    assert list(out["status"]) == [CONVERGED, CONVERGED]
    assert out["first_hit"][0] == 0
    out, _, _ = _run([1e-9], 50, lr=[2.0])  # x ↦ −3x: 1e6 × the target, 1, is passed at k = 19
    assert out["diverged_at"][0] == math.ceil(math.log(1e18) / math.log(9))


def test_results_do_not_depend_on_the_order_of_trials():
    rng = np.random.default_rng(7)
    objective = rosenbrock(3)
    x0 = rng.uniform(-2, 2, size=(12, 3))
    lr = np.geomspace(1e-5, 1e-2, 12)
    momentum = np.linspace(0.0, 0.95, 12)
    order = rng.permutation(12)

    def outcomes(rows):
        out, _, _ = _run(x0[rows], 300, objective=objective,
                         optimizer=make_optimizer("sgd", lr=lr[rows], momentum=momentum[rows]))
        return out

    straight, shuffled = outcomes(np.arange(12)), outcomes(order)
    assert len(set(straight["status"].tolist())) >= 2  # the batch mixes outcomes
    for name, values in straight.items():
        np.testing.assert_array_equal(shuffled[name], values[order], err_msg=name)


def test_without_the_ladder_every_other_outcome_is_the_same():
    # A mix of converging, unfinished and diverging trials (lr 0.51 diverges on this paraboloid).
    objective = paraboloid(a=[0.2, 2.0], c=-5.0)
    lr = np.array([0.1, 0.4, 0.495, 0.51, 0.6, 0.001])
    x0 = np.tile([5.1, 2.3], (len(lr), 1))
    rules = {"target_kind": "gap", "target": 1e-6, "divergence_kind": "factor",
             "divergence": 1e6, "record_rows": np.arange(len(lr))}
    sgd = make_optimizer("sgd", lr=lr)
    with_ladder, points, gaps = run_trials(objective, sgd, x0, 300, **rules)
    without, points2, gaps2 = run_trials(objective, sgd, x0, 300, **rules, ladder=False)
    assert without["ladder_hits"] is None and with_ladder["ladder_hits"].shape == (6, 51)
    for name, values in with_ladder.items():
        if name != "ladder_hits":
            np.testing.assert_array_equal(without[name], values, err_msg=name)
    np.testing.assert_array_equal(points2, points)
    np.testing.assert_array_equal(gaps2, gaps)
    # The diverged trials are frozen at their last point alive: the recorded point before.
    diverged = np.flatnonzero(with_ladder["diverged_at"] > 0)
    assert diverged.size == 2
    for row in diverged:
        k = with_ladder["diverged_at"][row]
        assert with_ladder["final_gap"][row] == gaps[row, k - 1]
        assert with_ladder["final_distance"][row] == np.linalg.norm(points[row, k - 1])
