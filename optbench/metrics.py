"""Aggregates over trials: per-group statistics, aRT, ECDFs and performance profiles.

Definitions follow COCO (Hansen et al., "COCO: a platform for comparing continuous optimizers
in a black-box setting", Optimization Methods and Software 36, 2021) and Dolan & Moré,
"Benchmarking optimization software with performance profiles", Math. Programming 91 (2002).
"""

from __future__ import annotations

import numpy as np

from .runner import CONVERGED, DIVERGED, LADDER, UNFINISHED

#: COCO's target ladder: Δf = 10^2 ... 10^-8 in steps of 10^0.2 (51 targets). The runner records
#: each trial's first step on every rung (``TrialOutcomes.ladder_hits``).
COCO_TARGETS = LADDER


def average_runtime(runtimes: np.ndarray, used: np.ndarray, success: np.ndarray) -> float:
    """COCO's average runtime (aRT).

    .. math:: \\mathrm{aRT} = \\frac{\\sum_{\\text{successful}} \\text{runtime}
              + \\sum_{\\text{unsuccessful}} \\text{steps used}}{\\#\\text{successful}}

    ``inf`` when no trial succeeded. ``runtimes`` counts steps to the target, ``used`` the steps
    an unsuccessful trial spent (the budget, or its divergence step).
    """
    n_success = int(np.count_nonzero(success))
    if n_success == 0:
        return float("inf")
    total = float(np.sum(runtimes[success])) + float(np.sum(used[~success]))
    return total / n_success


def steps_used(status: np.ndarray, diverged_at: np.ndarray, budget: int) -> np.ndarray:
    """Steps an unsuccessful trial spent: its divergence step if it diverged, else the budget."""
    return np.where(status == DIVERGED, diverged_at, budget)


def _quantiles(values: np.ndarray) -> dict | None:
    if values.size == 0:
        return None
    return {
        "min": int(values.min()),
        "median": float(np.median(values)),
        "max": int(values.max()),
    }


def group_summaries(outcomes, n_groups: int, budget: int) -> list[dict]:
    """Per-group aggregates of the trial outcome arrays (:class:`~optbench.runner.TrialOutcomes`).

    Each summary holds the counts of each status, the success and divergence rates, quantiles
    (min, median, max) of the steps to target over converged trials, of the settling step and of
    the divergence step, aRT, and the median final and least best gap.
    """
    group = outcomes.group
    if np.all(group[1:] >= group[:-1]):
        # The runner's order (each group's trials together): slices, no copy of any column.
        order = None
        bounds = np.searchsorted(group, np.arange(n_groups + 1))
    else:
        order = np.argsort(group, kind="stable")
        bounds = np.searchsorted(group[order], np.arange(n_groups + 1))
    summaries = []
    for gid in range(n_groups):
        lo, hi = bounds[gid], bounds[gid + 1]
        rows = slice(lo, hi) if order is None else order[lo:hi]
        status = outcomes.status[rows]
        converged = status == CONVERGED
        diverged = status == DIVERGED
        first_hit = outcomes.first_hit[rows]
        settled = outcomes.settled[rows]
        div_at = outcomes.diverged_at[rows]
        n = int(hi - lo)
        art = average_runtime(first_hit, steps_used(status, div_at, budget), converged)
        summaries.append({
            "group": gid,
            "trials": n,
            "converged": int(np.count_nonzero(converged)),
            "diverged": int(np.count_nonzero(diverged)),
            "unfinished": int(np.count_nonzero(status == UNFINISHED)),
            "success_rate": float(np.count_nonzero(converged) / n) if n else 0.0,
            "divergence_rate": float(np.count_nonzero(diverged) / n) if n else 0.0,
            "steps": _quantiles(first_hit[converged]),
            "settled": _quantiles(settled[settled >= 0]),
            "diverged_at": _quantiles(div_at[diverged]),
            "aRT": art,
            "final_gap_median": float(np.median(outcomes.final_gap[rows])) if n else float("nan"),
            "best_gap_min": float(np.min(outcomes.best_gap[rows])) if n else float("nan"),
        })
    return summaries


def best_settings(groups, summaries) -> list[tuple[object, dict]]:
    """For each (function, optimizer label): the group with the highest success rate, then the
    lowest aRT, then the lowest median steps, then the least best gap. Returns (group, summary)
    pairs in first-appearance order."""
    best: dict[tuple[str, str], tuple] = {}
    for group, summary in zip(groups, summaries):
        key = (group.function, group.optimizer_label)
        median = summary["steps"]["median"] if summary["steps"] else np.inf
        rank = (-summary["success_rate"], summary["aRT"], median, summary["best_gap_min"])
        if key not in best or rank < best[key][0]:
            best[key] = (rank, group, summary)
    return [(g, s) for _, g, s in best.values()]


def ecdf(runtimes: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """COCO data profile: fraction of (problem, target) pairs solved within ``k`` steps.

    ``runtimes`` holds one runtime per pair (``-1`` or ``inf`` for unsolved pairs, which stay in
    the denominator); returns the fraction for each ``k`` in ``steps``.
    """
    runtimes = np.asarray(runtimes, dtype=np.float64).ravel()
    solved = np.sort(runtimes[(runtimes >= 0) & np.isfinite(runtimes)])
    if runtimes.size == 0:
        return np.zeros(len(steps))
    return np.searchsorted(solved, np.asarray(steps), side="right") / runtimes.size


def performance_profile(times: np.ndarray, taus: np.ndarray) -> np.ndarray:
    """Dolan–Moré performance profile.

    ``times`` is ``(problems, solvers)`` with ``inf`` for failures. ``r = t / min_s t``;
    returns ``rho (solvers, len(taus))``, the share of problems with ``r <= tau``. Failures
    (and problems no solver solved) count as never solved.
    """
    times = np.asarray(times, dtype=np.float64)
    best = np.min(times, axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(np.isfinite(times) & np.isfinite(best), times / best, np.inf)
    ratio = np.where(best == 0, np.where(times == 0, 1.0, np.inf), ratio)
    return np.stack([(ratio[:, s, None] <= np.asarray(taus)[None, :]).mean(axis=0)
                     for s in range(times.shape[1])])
