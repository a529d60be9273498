"""The vectorized loop: every trial of a batch advances together as a row of ``(T, D)`` arrays.

Step ``k`` applies the optimizer's ``k``-th update to ``x_{k-1}`` and evaluates ``f(x_k)``;
step 0 is the start point. Per trial the runner records:

* ``first_hit``: the first ``k`` with ``f(x_k) - f* <= target`` (COCO's fixed-target runtime), or
  with ``||x_k - x*|| <= target`` under the distance criterion; -1 if never;
* ``settled``: the step from which the trial stayed inside the target up to the budget; -1 if it
  did not end inside;
* ``diverged_at``: the first ``k`` at which ``f(x_k)`` is not finite or ``f(x_k) - f*`` exceeds
  the divergence bound (absolute, or a factor times the starting gap, or times the target gap
  when that is larger); -1 if never. A diverged trial is frozen at its last point;
* ``final_gap`` and ``best_gap``: ``f - f*`` at the last (finite) point and the least seen;
* ``ladder_hits``: for each target of COCO's ladder (:data:`LADDER`, ``f - f* <= 10^2 ... 10^-8``),
  the first step that reached it, ``(T, 51)`` int32, -1 if never: the runtimes of ECDFs;
* ``status``: diverged if it diverged, else converged if it reached the target, else unfinished
  (the budget ran out while it oscillated or stalled).

A function unbounded below (``f* = -inf``, no minimiser, e.g. ``saddle``) has an infinite gap
and distance everywhere, so its trials never converge; the divergence bound then applies to
``|f(x_k)|`` instead of the gap: a trial diverges once it has run off downhill (or uphill) past
the bound, and is unfinished otherwise.

With gradient noise (:mod:`optbench.noise`), the gradient at ``x_k`` is
``grad f(x_k) + sigma * xi`` with ``xi`` keyed by the trial's global index and ``k``; the value
``f(x_k)`` and so every gap stay exact.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .config import Config
from .noise import GradientNoise
from .optimizers import OPTIMIZERS
from .sweep import Batch, Plan, plan

CONVERGED, DIVERGED, UNFINISHED = 0, 1, 2
STATUS_NAMES = ("converged", "diverged", "unfinished")

#: COCO's target ladder: f - f* = 10^2 ... 10^-8 in steps of 10^0.2 (51 targets; metrics.COCO_TARGETS).
LADDER = 10.0 ** np.round(np.arange(2.0, -8.0 - 1e-9, -0.2), 1)

#: Upper bound on the trajectories a batch records (memory stays bounded whatever the sweep).
MAX_RECORDED_PER_BATCH = 4096


@dataclass
class TrialOutcomes:
    """Per-trial outcome arrays, each of shape ``(T,)``."""

    group: np.ndarray  # int64
    status: np.ndarray  # int8: CONVERGED, DIVERGED, UNFINISHED
    first_hit: np.ndarray  # int64, -1 if never
    settled: np.ndarray  # int64, -1 if not inside at the end
    diverged_at: np.ndarray  # int64, -1 if never
    final_gap: np.ndarray  # float64
    best_gap: np.ndarray  # float64
    final_distance: np.ndarray  # float64, to the nearest minimiser
    # (T, len(LADDER)) int32: first step with f - f* <= LADDER[j], -1 if never; None when read
    # from results saved before it was recorded.
    ladder_hits: np.ndarray | None = None

    FIELDS = ("group", "status", "first_hit", "settled", "diverged_at", "final_gap", "best_gap",
              "final_distance", "ladder_hits")

    def as_dict(self) -> dict[str, np.ndarray]:
        return {name: value for name in self.FIELDS if (value := getattr(self, name)) is not None}

    @classmethod
    def concatenate(cls, parts: list["TrialOutcomes"]) -> "TrialOutcomes":
        return cls(**{n: np.concatenate([getattr(p, n) for p in parts]) for n in cls.FIELDS})


@dataclass
class Trajectories:
    """Recorded paths: ``points (R, K+1, D)`` and ``gaps (R, K+1)``, NaN after divergence."""

    group: np.ndarray  # (R,) group id
    trial: np.ndarray  # (R,) global trial index
    points: np.ndarray
    gaps: np.ndarray


def _recorded_rows(group_ids: np.ndarray, per_group: int) -> np.ndarray:
    """Rows to record: the first ``per_group`` trials of each group, capped per batch."""
    if per_group == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, group_ids[1:] != group_ids[:-1]])
    rank = np.arange(len(group_ids)) - np.repeat(starts, np.diff(np.r_[starts, len(group_ids)]))
    return np.flatnonzero(rank < per_group)[:MAX_RECORDED_PER_BATCH]


def run_trials(
    objective, optimizer, x0: np.ndarray, steps: int, *, target_kind: str, target: float,
    divergence_kind: str, divergence: float, record_rows: np.ndarray,
    trial_ids: np.ndarray | None = None, noise: GradientNoise | None = None,
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Run ``steps`` updates from ``x0 (T, D)``; return outcome arrays and recorded paths.

    ``noise``, if given, is added to every gradient; ``trial_ids (T,)`` are the trials' global
    indices that key it (default ``0..T-1``).

    Returns ``(outcomes, points (R, K+1, D), gaps (R, K+1))`` where ``outcomes`` holds the
    per-trial arrays of :class:`TrialOutcomes` (all but ``group``).
    """
    T, D = x0.shape
    f_star = objective.f_star
    if trial_ids is None:
        trial_ids = np.arange(T)

    def excess(f, gap):
        """What the divergence bound applies to: the gap, or |f| when f is unbounded below."""
        return np.abs(f) if objective.unbounded else gap

    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        x = np.array(x0, dtype=np.float64)
        state = optimizer.init(x)
        f, g = objective.value_and_grad(x)
        if noise is not None:
            g = g + noise.sample(trial_ids, 0, D)
        gap = f - f_star

        def criterion(x, gap):
            return objective.distance_to_minimizer(x) if target_kind == "distance" else gap

        start_scale = excess(f, gap)
        if target_kind == "gap":
            # A trial that starts inside the target (gap ~ 0) is not diverged for moving around
            # in it: the relative bound is taken of the target when the start's gap is smaller.
            start_scale = np.maximum(start_scale, target)
        bound = (np.full(T, divergence) if divergence_kind == "gap"
                 else divergence * np.maximum(start_scale, np.finfo(np.float64).tiny))
        alive = np.isfinite(f)
        diverged_at = np.where(alive, -1, 0)
        inside = alive & (criterion(x, gap) <= target)
        first_hit = np.where(inside, 0, -1)
        last_outside = np.where(inside, -1, 0)
        best_gap = np.where(alive, gap, np.inf)
        # The ladder is descending, so the targets reached so far are a prefix of it, as long as
        # the count of targets >= best_gap; only rows whose count grew need writing.
        ascending = LADDER[::-1]
        reached = len(LADDER) - np.searchsorted(ascending, best_gap, side="left")
        ladder_hits = np.where(np.arange(len(LADDER)) < reached[:, None], 0, -1).astype(np.int32)
        x_last = x.copy()  # last point of each trial while alive
        gap_last = gap.copy()

        points = np.full((len(record_rows), steps + 1, D), np.nan)
        gaps = np.full((len(record_rows), steps + 1), np.nan)
        points[:, 0] = x[record_rows]
        gaps[:, 0] = gap[record_rows]

        for k in range(1, steps + 1):
            x, state = optimizer.update(x, g, state, k)
            f, g = objective.value_and_grad(x)
            if noise is not None:
                g = g + noise.sample(trial_ids, k, D)
            gap = f - f_star
            bad = alive & ~(excess(f, gap) <= bound)  # also catches NaN
            if bad.any():
                diverged_at[bad] = k
                alive &= ~bad  # frozen: x_last keeps the last point at which it was alive
            inside = criterion(x, gap) <= target
            hit = alive & inside & (first_hit < 0)
            first_hit[hit] = k
            last_outside[alive & ~inside] = k
            np.fmin(best_gap, np.where(alive, gap, np.inf), out=best_gap)
            now = len(LADDER) - np.searchsorted(ascending, best_gap, side="left")
            grew = np.flatnonzero(now > reached)
            if grew.size:
                ladder = np.arange(len(LADDER))
                new = (ladder >= reached[grew, None]) & (ladder < now[grew, None])
                ladder_hits[grew] = np.where(new, k, ladder_hits[grew])
                reached = now
            x_last[alive] = x[alive]
            gap_last[alive] = gap[alive]
            if len(record_rows):
                live = alive[record_rows] | (diverged_at[record_rows] == k)
                points[:, k] = np.where(live[:, None], x[record_rows], np.nan)
                gaps[:, k] = np.where(live, gap[record_rows], np.nan)

        final_inside = alive & (criterion(x_last, gap_last) <= target)
        status = np.where(diverged_at >= 0, DIVERGED,
                          np.where(first_hit >= 0, CONVERGED, UNFINISHED)).astype(np.int8)
        outcomes = {
            "status": status,
            "first_hit": first_hit.astype(np.int64),
            "settled": np.where(final_inside, last_outside + 1, -1).astype(np.int64),
            "diverged_at": diverged_at.astype(np.int64),
            "final_gap": gap_last,
            "best_gap": best_gap,
            "final_distance": objective.distance_to_minimizer(x_last),
            "ladder_hits": ladder_hits,
        }
    return outcomes, points, gaps


def run_batch(batch: Batch, config: Config, first_trial: int) -> tuple[TrialOutcomes, Trajectories]:
    """Run one batch in full; ``first_trial`` is the global index of its first trial."""
    spec = OPTIMIZERS[batch.optimizer]
    optimizer = spec.factory(**batch.take(slice(None)))
    rows = _recorded_rows(batch.group_ids, config.record)
    noise = None
    if batch.function.noise:
        index = next(i for i, f in enumerate(config.functions) if f.label == batch.function.label)
        noise = GradientNoise(sigma=batch.function.noise, seed=config.seed, function=index)
    outcomes, points, gaps = run_trials(
        batch.objective, optimizer, batch.x0, config.steps,
        target_kind=config.target.kind, target=config.target.value,
        divergence_kind=config.divergence.kind, divergence=config.divergence.value,
        record_rows=rows, trial_ids=first_trial + np.arange(batch.trials), noise=noise,
    )
    return (
        TrialOutcomes(group=batch.group_ids, **outcomes),
        Trajectories(group=batch.group_ids[rows], trial=first_trial + rows, points=points, gaps=gaps),
    )


@dataclass
class RunOutput:
    """What a run produced, before it is written to disk."""

    plan: Plan
    outcomes: TrialOutcomes
    trajectories: list[Trajectories]
    seconds: float


def run(config: Config, progress=None) -> RunOutput:
    """Run every batch of ``config``; ``progress(done_trials, total_trials)`` is called after each."""
    the_plan = plan(config)
    started = time.perf_counter()
    parts, trajectories = [], []
    done = 0
    for batch in the_plan.batches:
        outcomes, paths = run_batch(batch, config, done)
        parts.append(outcomes)
        trajectories.append(paths)
        done += batch.trials
        if progress is not None:
            progress(done, the_plan.trials)
    return RunOutput(
        plan=the_plan,
        outcomes=TrialOutcomes.concatenate(parts),
        trajectories=trajectories,
        seconds=time.perf_counter() - started,
    )
