"""Metrics against small examples worked by hand from the definitions in DESIGN.md."""

from __future__ import annotations

import math

import numpy as np
import pytest

from optbench.metrics import (
    COCO_TARGETS,
    average_runtime,
    best_settings,
    ecdf,
    group_summaries,
    performance_profile,
    steps_used,
)
from optbench.runner import CONVERGED, DIVERGED, UNFINISHED, TrialOutcomes
from optbench.sweep import Group

INF = math.inf


# ---------------------------------------------------------------------------------------------
# aRT: (sum of runtimes of successful trials + sum of steps used by unsuccessful ones) / #successful


def test_art_by_hand():
    runtimes = np.array([3, 5, -1, -1])
    used = np.array([3, 5, 10, 7])
    success = np.array([True, True, False, False])
    assert average_runtime(runtimes, used, success) == (3 + 5 + 10 + 7) / 2


def test_art_all_successful_is_the_mean_runtime():
    runtimes = np.array([4, 6, 11])
    assert average_runtime(runtimes, runtimes, np.ones(3, bool)) == 7.0


def test_art_is_infinite_without_success():
    assert average_runtime(np.array([-1, -1]), np.array([10, 3]), np.zeros(2, bool)) == INF
    assert average_runtime(np.array([], int), np.array([], int), np.array([], bool)) == INF


def test_steps_used_is_the_divergence_step_or_the_budget():
    status = np.array([CONVERGED, DIVERGED, UNFINISHED, DIVERGED])
    diverged_at = np.array([-1, 7, -1, 0])
    np.testing.assert_array_equal(steps_used(status, diverged_at, 100), [100, 7, 100, 0])


# ---------------------------------------------------------------------------------------------
# ECDF (COCO data profile): share of (problem, target) pairs with runtime <= k; failures count.


def test_ecdf_by_hand():
    runtimes = np.array([1, 3, 3, -1, INF])  # five pairs, two never solved
    steps = np.array([0, 1, 2, 3, 10])
    np.testing.assert_array_equal(ecdf(runtimes, steps), [0, 1 / 5, 1 / 5, 3 / 5, 3 / 5])


def test_ecdf_counts_a_start_inside_the_target_at_step_zero():
    np.testing.assert_array_equal(ecdf(np.array([0, 2]), np.array([0, 1, 2])), [0.5, 0.5, 1.0])


def test_ecdf_of_a_matrix_is_over_all_pairs():
    runtimes = np.array([[1, -1], [2, 5]])  # (problems, targets)
    np.testing.assert_array_equal(ecdf(runtimes, np.array([1, 2, 5])), [1 / 4, 2 / 4, 3 / 4])


def test_ecdf_of_nothing_is_zero():
    np.testing.assert_array_equal(ecdf(np.array([]), np.array([1, 2])), [0.0, 0.0])


def test_coco_target_ladder():
    # 10^2 ... 10^-8 in steps of 10^0.2: 51 targets
    assert len(COCO_TARGETS) == 51
    assert COCO_TARGETS[0] == 100.0 and COCO_TARGETS[-1] == pytest.approx(1e-8, rel=1e-12)
    np.testing.assert_allclose(COCO_TARGETS[:-1] / COCO_TARGETS[1:], 10**0.2, rtol=1e-12)
    assert 1.0 in COCO_TARGETS and 1e-6 == pytest.approx(COCO_TARGETS[40], rel=1e-12)


# ---------------------------------------------------------------------------------------------
# Performance profile (Dolan & Moré 2002): r = t / min_s t, rho(tau) = share with r <= tau.


def test_performance_profile_by_hand():
    times = np.array([
        [1.0, 2.0],   # ratios 1, 2
        [4.0, 2.0],   # ratios 2, 1
        [INF, 5.0],   # solver 0 failed: inf, 1
        [INF, INF],   # nobody solved it: never counts
    ])
    taus = np.array([1.0, 1.5, 2.0, 100.0])
    rho = performance_profile(times, taus)
    np.testing.assert_array_equal(rho[0], [1 / 4, 1 / 4, 2 / 4, 2 / 4])
    np.testing.assert_array_equal(rho[1], [2 / 4, 2 / 4, 3 / 4, 3 / 4])


def test_performance_profile_ties_both_count_as_best():
    rho = performance_profile(np.array([[3.0, 3.0, 6.0]]), np.array([1.0, 2.0]))
    np.testing.assert_array_equal(rho, [[1, 1], [1, 1], [0, 1]])


def test_performance_profile_zero_runtime():
    # a start inside the target: t = 0 is best; any t > 0 has ratio t / 0 = inf
    rho = performance_profile(np.array([[0.0, 3.0], [2.0, 1.0]]), np.array([1.0, 2.0, 1e9]))
    np.testing.assert_array_equal(rho[0], [1 / 2, 2 / 2, 2 / 2])
    np.testing.assert_array_equal(rho[1], [1 / 2, 1 / 2, 1 / 2])


# ---------------------------------------------------------------------------------------------
# group_summaries against a direct per-group recomputation


def random_outcomes(rng, n_trials, n_groups, budget):
    group = rng.integers(0, n_groups - 1, n_trials)  # the last group stays empty
    status = rng.choice([CONVERGED, DIVERGED, UNFINISHED], n_trials).astype(np.int8)
    first_hit = np.where(status == CONVERGED, rng.integers(0, budget + 1, n_trials), -1)
    # a diverged trial may have hit the target before diverging
    first_hit = np.where((status == DIVERGED) & (rng.random(n_trials) < 0.3),
                         rng.integers(0, budget, n_trials), first_hit)
    settled = np.where((status == CONVERGED) & (rng.random(n_trials) < 0.7),
                       np.maximum(first_hit, 0) + rng.integers(0, 5, n_trials), -1)
    diverged_at = np.where(status == DIVERGED, rng.integers(1, budget + 1, n_trials), -1)
    final_gap = rng.lognormal(size=n_trials)
    best_gap = final_gap * rng.random(n_trials)
    return TrialOutcomes(
        group=group.astype(np.int64), status=status, first_hit=first_hit.astype(np.int64),
        settled=settled.astype(np.int64), diverged_at=diverged_at.astype(np.int64),
        final_gap=final_gap, best_gap=best_gap, final_distance=rng.random(n_trials),
    )


def direct_summary(o, gid, budget):
    rows = [i for i in range(len(o.group)) if o.group[i] == gid]
    conv = [i for i in rows if o.status[i] == CONVERGED]
    div = [i for i in rows if o.status[i] == DIVERGED]

    def quantiles(values):
        if not values:
            return None
        return {"min": min(values), "median": float(np.median(values)), "max": max(values)}

    n_success = len(conv)
    spent = sum(o.first_hit[i] for i in conv) + sum(
        (o.diverged_at[i] if o.status[i] == DIVERGED else budget) for i in rows if i not in conv)
    return {
        "group": gid,
        "trials": len(rows),
        "converged": n_success,
        "diverged": len(div),
        "unfinished": len(rows) - n_success - len(div),
        "success_rate": n_success / len(rows) if rows else 0.0,
        "divergence_rate": len(div) / len(rows) if rows else 0.0,
        "steps": quantiles([int(o.first_hit[i]) for i in conv]),
        "settled": quantiles([int(o.settled[i]) for i in rows if o.settled[i] >= 0]),
        "diverged_at": quantiles([int(o.diverged_at[i]) for i in div]),
        "aRT": spent / n_success if n_success else INF,
        "final_gap_median": float(np.median([o.final_gap[i] for i in rows])) if rows else math.nan,
        "best_gap_min": min(o.best_gap[i] for i in rows) if rows else math.nan,
    }


@pytest.mark.parametrize("in_runner_order", [False, True], ids=["shuffled", "grouped"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_group_summaries_match_a_direct_recomputation(seed, in_runner_order):
    """Trials in any order, and in the runner's (each group's together: read as slices)."""
    rng = np.random.default_rng(seed)
    budget, n_groups = 50, 7
    outcomes = random_outcomes(rng, 120, n_groups, budget)
    if in_runner_order:
        order = np.argsort(outcomes.group, kind="stable")
        outcomes = TrialOutcomes(**{name: getattr(outcomes, name)[order]
                                    for name in TrialOutcomes.PER_TRIAL})
    got = group_summaries(outcomes, n_groups, budget)
    assert len(got) == n_groups
    for gid, summary in enumerate(got):
        want = direct_summary(outcomes, gid, budget)
        assert summary.keys() == want.keys()
        for key, value in want.items():
            if isinstance(value, float) and math.isnan(value):
                assert math.isnan(summary[key]), key
            else:
                assert summary[key] == value, (gid, key)
    assert got[-1]["trials"] == 0  # the empty group


# ---------------------------------------------------------------------------------------------
# best_settings: highest success rate, then lowest aRT, then lowest median steps, then least
# best gap; ties keep the first; one per (function, optimizer label), in first-appearance order.


def group(gid, function="f", label="opt", lr=0.1):
    return Group(id=gid, function=function, optimizer_label=label, optimizer="sgd",
                 hyperparameters={"lr": lr}, swept=("lr",), trials=4)


def summary(success, art, median=None, best_gap=1.0):
    steps = None if median is None else {"min": median, "median": median, "max": median}
    return {"success_rate": success, "aRT": art, "steps": steps, "best_gap_min": best_gap}


@pytest.mark.parametrize("summaries, winner", [
    ([summary(0.5, 10.0, 10), summary(1.0, 90.0, 90)], 1),             # success rate first
    ([summary(1.0, 30.0, 30), summary(1.0, 20.0, 40)], 1),             # then aRT
    ([summary(1.0, 20.0, 25), summary(1.0, 20.0, 15)], 1),             # then median steps
    ([summary(0.0, INF, None, 1e-3), summary(0.0, INF, None, 1e-5)], 1),  # then best gap
    ([summary(1.0, 20.0, 20), summary(1.0, 20.0, 20)], 0),             # a tie keeps the first
    ([summary(0.0, INF, None, 1.0), summary(0.25, 400.0, 10)], 1),     # any success beats none
])
def test_best_settings_ordering(summaries, winner):
    groups = [group(i, lr=0.1 * (i + 1)) for i in range(len(summaries))]
    [(g, s)] = best_settings(groups, summaries)
    assert g is groups[winner] and s is summaries[winner]


def test_best_settings_one_per_function_and_label_in_first_appearance_order():
    groups = [group(0, "b", "x"), group(1, "a", "x"), group(2, "b", "y"), group(3, "b", "x"),
              group(4, "a", "x")]
    summaries = [summary(0.5, 9.0, 9), summary(1.0, 5.0, 5), summary(1.0, 3.0, 3),
                 summary(1.0, 7.0, 7), summary(1.0, 4.0, 4)]
    best = best_settings(groups, summaries)
    assert [(g.function, g.optimizer_label, g.id) for g, _ in best] == [
        ("b", "x", 3), ("a", "x", 4), ("b", "y", 2),
    ]
