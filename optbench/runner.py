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
  the first step that reached it, int32, -1 if never: the runtimes of ECDFs. Recorded for the
  trials of each group's first :data:`LADDER_START_POINTS` start points (``ladder_trials``);
* ``status``: diverged if it diverged, else converged if it reached the target, else unfinished
  (the budget ran out while it oscillated or stalled).

A function unbounded below (``f* = -inf``, no minimiser, e.g. ``saddle``) has an infinite gap
and distance everywhere, so its trials never converge; the divergence bound then applies to
``|f(x_k)|`` instead of the gap: a trial diverges once it has run off downhill (or uphill) past
the bound, and is unfinished otherwise.

With gradient noise (:mod:`optbench.noise`), the gradient at ``x_k`` is
``grad f(x_k) + sigma * xi`` with ``xi`` keyed by the trial's start point (its index among the
function's start points) and ``k``: every optimizer and setting meets the same noise from the
same start (common random numbers, a fairer comparison), and adding or reordering config entries
changes nobody's noise. The value ``f(x_k)`` and so every gap stay exact.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from .config import Config
from .noise import GradientNoise
from .optimizers import OPTIMIZERS, SCHEDULE_KEY
from .sweep import Batch, Plan, make_objective, plan

CONVERGED, DIVERGED, UNFINISHED = 0, 1, 2
STATUS_NAMES = ("converged", "diverged", "unfinished")

#: COCO's target ladder: f - f* = 10^2 ... 10^-8 in steps of 10^0.2 (51 targets; metrics.COCO_TARGETS).
LADDER = 10.0 ** np.round(np.arange(2.0, -8.0 - 1e-9, -0.2), 1)

#: Upper bounds on the trajectories a batch records, in paths and in stored values (points and
#: gaps: (steps + 1) x (dim + 1) a path; 2^24 values are 128 MB), so that memory stays bounded
#: whatever the sweep, the dimension or the budget.
MAX_RECORDED_PER_BATCH = 4096
MAX_RECORDED_VALUES = 1 << 24


def max_recorded(dim: int, steps: int) -> int:
    """How many paths a batch of ``dim``-dimensional trials over ``steps`` steps may record."""
    return int(min(MAX_RECORDED_PER_BATCH, max(1, MAX_RECORDED_VALUES // ((steps + 1) * (dim + 1)))))


@dataclass
class TrialOutcomes:
    """Per-trial outcome arrays, each of shape ``(T,)``, and the ladder's of some trials."""

    group: np.ndarray  # int64
    status: np.ndarray  # int8: CONVERGED, DIVERGED, UNFINISHED
    first_hit: np.ndarray  # int64, -1 if never
    settled: np.ndarray  # int64, -1 if not inside at the end
    diverged_at: np.ndarray  # int64, -1 if never
    final_gap: np.ndarray  # float64
    best_gap: np.ndarray  # float64
    final_distance: np.ndarray  # float64, to the nearest minimiser
    # (L, len(LADDER)) int32: first step with f - f* <= LADDER[j], -1 if never, of the trials
    # ladder_trials (L,) (global indices, ascending): those of each group's first
    # LADDER_START_POINTS start points. Both None in runs without a ladder, and ladder_trials
    # None in results saved before it existed (whose ladder covers every trial).
    ladder_hits: np.ndarray | None = None
    ladder_trials: np.ndarray | None = None

    PER_TRIAL = ("group", "status", "first_hit", "settled", "diverged_at", "final_gap",
                 "best_gap", "final_distance")
    FIELDS = PER_TRIAL + ("ladder_hits", "ladder_trials")

    def __post_init__(self):
        if self.ladder_hits is not None and self.ladder_trials is None:
            self.ladder_trials = np.arange(len(self.ladder_hits), dtype=np.int64)

    def as_dict(self) -> dict[str, np.ndarray]:
        return {name: value for name in self.FIELDS if (value := getattr(self, name)) is not None}


@dataclass
class Trajectories:
    """Recorded paths: ``points (R, K+1, D)`` and ``gaps (R, K+1)``, NaN after divergence."""

    group: np.ndarray  # (R,) group id
    trial: np.ndarray  # (R,) global trial index
    points: np.ndarray
    gaps: np.ndarray


def _recorded_rows(group_ids: np.ndarray, per_group: int,
                   limit: int = MAX_RECORDED_PER_BATCH) -> np.ndarray:
    """Rows to record: the first ``per_group`` trials of each group, at most ``limit``."""
    if per_group == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, group_ids[1:] != group_ids[:-1]])
    rank = np.arange(len(group_ids)) - np.repeat(starts, np.diff(np.r_[starts, len(group_ids)]))
    return np.flatnonzero(rank < per_group)[:limit]


def finish(objective, target_kind: str, target: float, *, alive, first_hit, last_outside,
           diverged_at, best_gap, gap_last, x_last, ladder_hits=None) -> dict[str, np.ndarray]:
    """Per-trial outcomes from the loop's final bookkeeping (shared by the NumPy and the
    compiled loop): status, settling step, final distance."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        criterion = (objective.distance_to_minimizer(x_last) if target_kind == "distance"
                     else gap_last)
        final_inside = alive & (criterion <= target)
        status = np.where(diverged_at >= 0, DIVERGED,
                          np.where(first_hit >= 0, CONVERGED, UNFINISHED)).astype(np.int8)
        return {
            "status": status,
            "first_hit": first_hit.astype(np.int64),
            "settled": np.where(final_inside, last_outside + 1, -1).astype(np.int64),
            "diverged_at": diverged_at.astype(np.int64),
            "final_gap": gap_last,
            "best_gap": best_gap,
            "final_distance": objective.distance_to_minimizer(x_last),
            "ladder_hits": ladder_hits,
        }


def run_trials(
    objective, optimizer, x0: np.ndarray, steps: int, *, target_kind: str, target: float,
    divergence_kind: str, divergence: float, record_rows: np.ndarray,
    noise_keys: np.ndarray | None = None, noise: GradientNoise | None = None,
    ladder: bool | np.ndarray = True, precision: str = "float64",
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Run ``steps`` updates from ``x0 (T, D)``; return outcome arrays and recorded paths.

    ``noise``, if given, is added to every gradient; ``noise_keys (T,)`` key each trial's noise
    stream (the runner passes the start-point index; default ``0..T-1``). ``ladder`` says whose
    first steps on COCO's ladder are tracked: every row's (True), none (False: ``ladder_hits``
    is None), or those of the given rows (ascending), one row of ``ladder_hits`` each.

    ``precision`` is the type of the points and of the optimizer's arithmetic (``float64`` or
    ``float32``): the start points are rounded to it; the function is evaluated in float64 at
    each point (exactly widened) and its gradient, noise included, rounded to it, so that values
    and gaps measure where the optimizer is, not the function's own rounding.

    Returns ``(outcomes, points (R, K+1, D), gaps (R, K+1))`` where ``outcomes`` holds the
    per-trial arrays of :class:`TrialOutcomes` (all but ``group``).
    """
    T, D = x0.shape
    if noise_keys is None:
        noise_keys = np.arange(T)
    dtype = np.dtype(precision)

    def evaluate(x, k):
        """``f``, the gap and the gradient (rounded to ``dtype``) at ``x``, of step ``k``."""
        f, gap, g = objective.value_gap_and_grad(x.astype(np.float64, copy=False))
        if noise is not None:
            g = g + noise.sample(noise_keys, k, D)
        return f, gap, g.astype(dtype, copy=False)

    def excess(f, gap):
        """What the divergence bound applies to: the gap, or |f| when f is unbounded below."""
        return np.abs(f) if objective.unbounded else gap

    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        x = np.array(x0, dtype=dtype)
        state = optimizer.init(x)
        f, gap, g = evaluate(x, 0)

        def criterion(x, gap):
            return (objective.distance_to_minimizer(x.astype(np.float64, copy=False))
                    if target_kind == "distance" else gap)

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
        if isinstance(ladder, (bool, np.bool_)):
            on_ladder = slice(None) if ladder else None  # every row (a view, not a copy)
        else:
            on_ladder = np.asarray(ladder, dtype=np.int64)
        if on_ladder is not None:
            reached = len(LADDER) - np.searchsorted(ascending, best_gap[on_ladder],
                                                    side="left")
            ladder_hits = np.where(np.arange(len(LADDER)) < reached[:, None], 0,
                                   -1).astype(np.int32)
        else:
            ladder_hits = None
        # The last point (and gap) of each trial while alive: the final one for trials that
        # never diverge, filled in at the end; the previous step's for those that do, written
        # when they do (update is pure, so the previous arrays can be kept without a copy).
        x_last = x.copy()
        gap_last = gap.copy()

        points = np.full((len(record_rows), steps + 1, D), np.nan)
        gaps = np.full((len(record_rows), steps + 1), np.nan)
        points[:, 0] = x[record_rows]
        gaps[:, 0] = gap[record_rows]

        for k in range(1, steps + 1):
            x_prev, gap_prev = x, gap
            x, state = optimizer.update(x, g, state, k)
            f, gap, g = evaluate(x, k)
            bad = alive & ~(excess(f, gap) <= bound)  # also catches NaN
            if bad.any():
                diverged_at[bad] = k
                alive &= ~bad  # frozen at the last point at which it was alive
                x_last[bad] = x_prev[bad]
                gap_last[bad] = gap_prev[bad]
            inside = criterion(x, gap) <= target
            hit = alive & inside & (first_hit < 0)
            first_hit[hit] = k
            last_outside[alive & ~inside] = k
            np.fmin(best_gap, np.where(alive, gap, np.inf), out=best_gap)
            if on_ladder is not None:
                now = len(LADDER) - np.searchsorted(ascending, best_gap[on_ladder],
                                                    side="left")
                grew = np.flatnonzero(now > reached)
                if grew.size:
                    rungs = np.arange(len(LADDER))
                    new = (rungs >= reached[grew, None]) & (rungs < now[grew, None])
                    ladder_hits[grew] = np.where(new, k, ladder_hits[grew])
                    reached = now
            if len(record_rows):
                live = alive[record_rows] | (diverged_at[record_rows] == k)
                points[:, k] = np.where(live[:, None], x[record_rows], np.nan)
                gaps[:, k] = np.where(live, gap[record_rows], np.nan)
            if not alive.any():
                break  # every trial has diverged: its outcomes are final, its paths NaN on
        x_last[alive] = x[alive]
        gap_last[alive] = gap[alive]

        outcomes = finish(objective, target_kind, target, alive=alive, first_hit=first_hit,
                          last_outside=last_outside, diverged_at=diverged_at, best_gap=best_gap,
                          gap_last=gap_last, x_last=x_last.astype(np.float64, copy=False),
                          ladder_hits=ladder_hits)
    return outcomes, points, gaps


def recorded_rows(batch: Batch, per_group: int, steps: int) -> np.ndarray:
    """The batch's rows to record: the first ``per_group`` trials of each group, at most
    :func:`max_recorded` of them.

    Equal to ``_recorded_rows(batch.group_ids, per_group, limit)`` without building ``group_ids``.
    """
    n_start, dim = batch.x_start.shape
    per = min(per_group, n_start)
    if per == 0:
        return np.zeros(0, dtype=np.int64)
    limit = max_recorded(dim, steps)
    groups = min(batch.n_groups, -(-limit // per))
    rows = (np.arange(groups)[:, None] * n_start + np.arange(per)[None, :]).ravel()
    return rows[:limit].astype(np.int64)


@dataclass(frozen=True)
class Chunk:
    """Consecutive trials of one batch: the unit of work sent to a worker process or to Dask.

    Self-contained and picklable: the function entry (the worker rebuilds the objective), the
    optimizer's arguments for these rows, their start points and groups, and the run's rules.
    """

    batch: int  # index of the batch in the plan
    offset: int  # first row of the chunk within its batch
    first_trial: int  # global index of the chunk's first trial
    n_starts: int  # start points per group: row r of the batch starts from start r % n_starts
    function: object  # config.FunctionEntry
    function_index: int
    optimizer: str
    options: dict  # the optimizer factory's arguments for these rows
    x0: np.ndarray  # (n, D)
    group_ids: np.ndarray  # (n,)
    record_rows: np.ndarray  # rows of the chunk to record
    record_slot: int  # index of the first of them among the batch's recorded rows
    steps: int
    target_kind: str
    target: float
    divergence_kind: str
    divergence: float
    seed: int
    engine: str  # "numba" (the compiled kernel where it covers the chunk) or "numpy"
    # Rows of the chunk that record their first step on every rung of LADDER (ascending; None:
    # the run keeps no ladder).
    ladder_rows: np.ndarray | None = None
    precision: str = "float64"  # the arithmetic of the points and the optimizer (config's)
    kernel: bool = False  # the batch runs in a compiled kernel (:func:`compiled`)

    @property
    def trials(self) -> int:
        return len(self.x0)


@dataclass
class ChunkResult:
    """What a worker sends back: per-trial outcomes and recorded paths of one chunk."""

    batch: int
    offset: int
    record_slot: int
    outcomes: dict  # TrialOutcomes fields but group, each (n,)
    points: np.ndarray
    gaps: np.ndarray
    engine: str  # the loop that ran it: "numba" or "numpy"
    placed: bool = False  # outcomes (and groups) already written into the run's arrays


ENGINES = ("auto", "numba", "numpy")


def _kernels():
    """The compiled kernels module, or None where numba cannot be imported."""
    try:
        from . import kernels
    except ImportError:  # pragma: no cover - numba missing or broken: the NumPy path runs
        return None
    return kernels


def _ensure_registered(chunk: Chunk) -> None:
    """In a fresh worker (Dask), register the user-defined callables the chunk names."""
    from .functions import FUNCTIONS

    if chunk.function.function not in FUNCTIONS or chunk.optimizer not in OPTIMIZERS:
        from . import plugins

        if chunk.function.function not in FUNCTIONS:
            plugins.register_function(chunk.function.function)
        if chunk.optimizer not in OPTIMIZERS:
            plugins.register_optimizer(chunk.optimizer)


def compiled(function, objective, optimizer: str, options: dict, engine: str) -> bool:
    """Whether trials of this function entry and optimizer (with these options: a chunk's, or a
    batch's discrete ones, which hold the schedule) run in a compiled kernel under the batch's
    ``engine`` (``numba`` or ``numpy``, see :func:`batch_engine`): the kernels cover neither
    gradient noise, nor schedules, nor functions unbounded below."""
    if (engine == "numpy" or function.noise or objective.unbounded
            or options.get(SCHEDULE_KEY) is not None):
        return False
    kernels = _kernels()
    return kernels is not None and kernels.supports(function.function, function.params,
                                                    optimizer)


def run_chunk(chunk: Chunk, out: dict | None = None, objective=None) -> ChunkResult:
    """Run one chunk: in a compiled kernel where its batch does (``chunk.kernel``, decided by
    :func:`batch_kernels`), else the NumPy loop.

    Both give the same statuses and steps and the same values to ~1e-15 relative (see
    :mod:`optbench.kernels`); a given loop gives the same bits whatever the chunking. ``out``
    (from a worker thread) holds the run's arrays for the chunk's rows, to be filled in place;
    ``objective`` the chunk's function, where the caller has it built (else it is built here).
    """
    _ensure_registered(chunk)
    if objective is None:
        objective = make_objective(chunk.function)
    # Decided per batch (chunk_builders); a worker without numba runs the NumPy loop.
    kernels = _kernels() if chunk.kernel else None
    rules = {"target_kind": chunk.target_kind, "target": chunk.target,
             "divergence_kind": chunk.divergence_kind, "divergence": chunk.divergence,
             "record_rows": chunk.record_rows}
    if kernels is not None:
        # The values were checked with the config (the factory's rules too, on every
        # combination's extremes): the kernel takes them as they are.
        outcomes, points, gaps = kernels.run_trials(
            chunk.function.function, chunk.function.params, objective, chunk.optimizer,
            chunk.options, chunk.x0, chunk.group_ids, chunk.steps, **rules,
            ladder=None if chunk.ladder_rows is None else LADDER, ladder_rows=chunk.ladder_rows,
            out=out, precision=chunk.precision)
    else:
        optimizer = OPTIMIZERS[chunk.optimizer].factory(**chunk.options)
        noise = (GradientNoise(sigma=chunk.function.noise, seed=chunk.seed,
                               function=chunk.function_index) if chunk.function.noise else None)
        outcomes, points, gaps = run_trials(
            objective, optimizer, chunk.x0, chunk.steps, **rules,
            noise_keys=(chunk.offset + np.arange(chunk.trials)) % chunk.n_starts, noise=noise,
            ladder=False if chunk.ladder_rows is None else chunk.ladder_rows,
            precision=chunk.precision)
        if out is not None:
            outcomes = _copy_outcomes(outcomes, out)
    return ChunkResult(batch=chunk.batch, offset=chunk.offset, record_slot=chunk.record_slot,
                       outcomes=outcomes, points=points, gaps=gaps,
                       engine="numba" if kernels is not None else "numpy",
                       placed=out is not None)


def _copy_outcomes(outcomes: dict, out: dict) -> dict:
    """Per-trial outcomes copied into ``out`` (views of the run's arrays); returns ``out``."""
    for name, values in outcomes.items():
        if values is not None:
            out[name][...] = values
    return out


#: The least work (trials x coordinates x steps) a chunk is cut to: 0.3-0.7 ms of a kernel's
#: time on one core, several times what it costs to build a chunk and hand it to a worker.
MIN_CHUNK_WORK = 10**6


def default_chunk_trials(dim: int, total_trials: int, workers: int, steps: int) -> int:
    """Trials per chunk: about 2^18 coordinates (a few MB per array), and at least two chunks
    per worker so that both stay busy to the end (every trial runs every step, so equal chunks
    are equal work), but none with less than :data:`MIN_CHUNK_WORK`: 10^3 trials of a 100-D
    function over 20 steps make two chunks, 10^3 of a 2-D one over 200 steps one."""
    dim = max(dim, 1)
    cap = max(1, (1 << 18) // dim)
    share = -(-total_trials // (2 * max(workers, 1)))
    least = -(-MIN_CHUNK_WORK // (dim * max(steps, 1)))
    return int(max(1, min(cap, max(share, least))))


#: The start points of each group whose trials record their first step on every rung of COCO's
#: ladder (``ladder_hits``): the ECDF's runtimes. A descending trial climbs a rung every few
#: steps, each climb costing as much as several steps of a cheap update rule, so beyond a
#: sample that gives the ECDF its shape the ladder would cost a large share of a run and add
#: nothing to it (10^5 trials of SGD on a 2-D paraboloid: 3x the time of the same run without).
LADDER_START_POINTS = 100

#: Runs whose ladder trials (at most LADDER_START_POINTS a group) number more than this record
#: no ladder (204 bytes a trial: 51 MB here, and as much again to send back from the workers),
#: so that memory stays bounded whatever the sweep; their reports have no ECDF.
LADDER_MAX_TRIALS = 250_000

#: A batch with at least this much work (trials x coordinates x steps) runs in a compiled kernel
#: under ``engine="auto"``; below it the NumPy loop is done before a kernel would have compiled
#: (the first time; compiled kernels are cached on disk).
KERNEL_MIN_WORK = 5e7


def batch_engine(batch: Batch, steps: int, engine: str) -> str:
    """The loop a batch asks for: ``numba`` or ``numpy``. Decided per batch, never per chunk,
    so that the chunking cannot change which arithmetic a trial gets."""
    if engine != "auto":
        return engine
    work = batch.trials * batch.x_start.shape[1] * steps
    return "numba" if work >= KERNEL_MIN_WORK else "numpy"


def batch_kernels(the_plan: Plan, config: Config, engine: str = "auto") -> list[bool]:
    """Whether each batch of the plan runs in a compiled kernel (:func:`compiled`)."""
    return [compiled(b.function, b.objective, b.optimizer, b.static,
                     batch_engine(b, config.steps, engine)) for b in the_plan.batches]


def ladder_count(n_starts: int, rows: int) -> int:
    """How many of a batch's first ``rows`` rows record the ladder (row ``r`` starts from start
    point ``r % n_starts``; those of the first :data:`LADDER_START_POINTS` do)."""
    per_group = min(n_starts, LADDER_START_POINTS)
    return rows // n_starts * per_group + min(rows % n_starts, per_group)


def ladder_rows(n_starts: int, lo: int, hi: int) -> np.ndarray:
    """The rows of a batch's ``lo:hi`` that record the ladder, ascending, relative to ``lo``."""
    if n_starts <= LADDER_START_POINTS:
        return np.arange(hi - lo, dtype=np.int64)
    first = lo // n_starts
    if first == (hi - 1) // n_starts:  # within one group, most often
        start = first * n_starts
        return np.arange(max(lo, start), min(hi, start + LADDER_START_POINTS),
                         dtype=np.int64) - lo
    groups = np.arange(first, -(-hi // n_starts), dtype=np.int64)
    rows = (groups[:, None] * n_starts + np.arange(LADDER_START_POINTS)).ravel()
    return rows[(rows >= lo) & (rows < hi)] - lo


def ladder_slots(the_plan: Plan) -> list[int] | None:
    """Each batch's first index among the run's ladder rows, and their total at the end; None
    where the run records no ladder (more than :data:`LADDER_MAX_TRIALS` of them)."""
    slots = [0, *itertools.accumulate(ladder_count(len(b.x_start), b.trials)
                                      for b in the_plan.batches)]
    return slots if slots[-1] <= LADDER_MAX_TRIALS else None


def chunk_builders(the_plan: Plan, config: Config, chunk_trials: int | None = None,
                   engine: str = "auto", workers: int = 1, kernel: list[bool] | None = None):
    """The plan's chunks, in order, each as a function that builds it: a chunk's arrays exist
    only once it is built, so only the chunks in flight use memory, and a thread pool builds
    them in its workers. ``kernel``: :func:`batch_kernels`, if the caller has it."""
    if kernel is None:
        kernel = batch_kernels(the_plan, config, engine)
    ladder = ladder_slots(the_plan) is not None
    first_trial = 0
    for b, batch in enumerate(the_plan.batches):
        dim = batch.x_start.shape[1]
        loop = batch_engine(batch, config.steps, engine)
        size = chunk_trials or default_chunk_trials(dim, the_plan.trials, workers, config.steps)
        rows = recorded_rows(batch, config.record, config.steps)
        for lo in range(0, batch.trials, size):
            hi = min(lo + size, batch.trials)
            yield partial(_build_chunk, batch, b, lo, hi, first_trial, rows, config, loop,
                          ladder, kernel[b])
        first_trial += batch.trials


def _build_chunk(batch: Batch, b: int, lo: int, hi: int, first_trial: int, rows: np.ndarray,
                 config: Config, loop: str, ladder: bool, kernel: bool) -> Chunk:
    """Rows ``lo:hi`` of batch ``b``; ``ladder``: the run records the ladder."""
    x0, group_ids, hypers = batch.rows(lo, hi)
    first, last = np.searchsorted(rows, [lo, hi]) if len(rows) else (0, 0)
    return Chunk(
        batch=b, offset=lo, first_trial=first_trial + lo, n_starts=len(batch.x_start),
        function=batch.function, function_index=batch.function_index,
        optimizer=batch.optimizer, options=batch.options(hypers), x0=x0, group_ids=group_ids,
        record_rows=rows[first:last] - lo, record_slot=int(first), steps=config.steps,
        target_kind=config.target.kind, target=config.target.value,
        divergence_kind=config.divergence.kind, divergence=config.divergence.value,
        seed=config.seed, engine=loop,
        ladder_rows=ladder_rows(len(batch.x_start), lo, hi) if ladder else None,
        precision=config.precision, kernel=kernel,
    )


def chunks(the_plan: Plan, config: Config, chunk_trials: int | None = None, engine: str = "auto",
           workers: int = 1, kernel: list[bool] | None = None):
    """The plan's chunks, in order, built one at a time."""
    for build in chunk_builders(the_plan, config, chunk_trials, engine, workers, kernel):
        yield build()


@dataclass
class RunOutput:
    """What a run produced, before it is written to disk."""

    plan: Plan
    outcomes: TrialOutcomes
    trajectories: list[Trajectories]
    seconds: float
    execution: dict = field(default_factory=dict)  # engine, workers, chunking, trials per loop


def available_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


#: Below this much work (trials x coordinates x steps) worker processes cost more than they save.
PARALLEL_MIN_WORK = 2e7


def _serial(tasks, place, batches):
    for chunk in tasks:
        yield run_chunk(chunk, out=place(chunk.batch, chunk.offset, chunk.trials),
                        objective=batches[chunk.batch].objective)


def _build_and_run(build, place, batches) -> ChunkResult:
    chunk = build()
    return run_chunk(chunk, out=place(chunk.batch, chunk.offset, chunk.trials),
                     objective=batches[chunk.batch].objective)


_POOL_LOCK = threading.Lock()
_pools: dict = {}  # this process's pools of worker threads: {(pid, workers): executor}


def _thread_pool(workers: int):
    """This process's pool of ``workers`` worker threads, kept from run to run: starting and
    joining the threads of a pool costs about as much as a run of 10^3 trials of a 2-D
    function (0.3 ms). A forked process starts its own (its parent's threads are not in it)."""
    from concurrent.futures import ThreadPoolExecutor

    with _POOL_LOCK:
        key = (os.getpid(), workers)
        if key not in _pools:
            _pools[key] = ThreadPoolExecutor(workers, thread_name_prefix="optbench")
        return _pools[key]


def _threads(builders, workers: int, place, batches):
    """Chunks on a pool of threads: the compiled kernels release the GIL, so threads run them in
    parallel without forking or pickling; each worker builds its own chunks and writes their
    outcomes into the run's arrays (``place(batch, offset, trials)`` gives their rows)."""
    from concurrent.futures import FIRST_COMPLETED, wait

    pool = _thread_pool(workers)
    pending: set = set()
    try:
        for build in builders:
            pending.add(pool.submit(_build_and_run, build, place, batches))
            if len(pending) >= 2 * workers:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()
    finally:  # a chunk failed, or the run was stopped: the others are not left running
        for future in pending:
            future.cancel()
        wait(pending)


def _processes(tasks, workers: int):
    import multiprocessing
    import queue

    # fork: the workers inherit the registries (user-defined functions and optimizers) and any
    # kernel already compiled; Pool forks them all up front, before it starts its threads.
    finished: queue.SimpleQueue = queue.SimpleQueue()
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        in_flight = 0
        for chunk in tasks:
            pool.apply_async(run_chunk, (chunk,), callback=finished.put,
                             error_callback=finished.put)
            in_flight += 1
            while in_flight >= 2 * workers:
                in_flight -= 1
                yield _returned(finished.get())
        while in_flight:
            in_flight -= 1
            yield _returned(finished.get())


def _returned(result):
    if isinstance(result, BaseException):
        raise result
    return result


def _dask(tasks, address: str):
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise RuntimeError(
            "--dask needs dask.distributed: pip install 'optbench[dask]'") from None
    with Client(address, set_as_default=False) as client:
        window = 2 * (sum(client.nthreads().values()) or 1)
        finished = as_completed(loop=client.loop)
        in_flight = 0
        for chunk in tasks:
            finished.add(client.submit(run_chunk, chunk, pure=False))
            in_flight += 1
            while in_flight >= window:
                in_flight -= 1
                yield next(finished).result()
        while in_flight:
            in_flight -= 1
            yield next(finished).result()


def run(config: Config, progress=None, *, workers: int | None = None,
        chunk_trials: int | None = None, dask: str | None = None,
        engine: str = "auto") -> RunOutput:
    """Run every trial of ``config``, chunk by chunk; ``progress(done, total)`` after each chunk.

    Args:
      workers: worker threads (every batch compiled) or processes; default the available
        cores (small runs stay on one: :data:`MIN_CHUNK_WORK`, :data:`PARALLEL_MIN_WORK`).
      chunk_trials: trials per chunk; default :func:`default_chunk_trials`.
      dask: address of a Dask distributed scheduler that runs the chunks instead.
      engine: ``"numba"``: compiled kernels wherever they cover a batch (else NumPy);
        ``"numpy"``: the reference loop everywhere; ``"auto"``: kernels for batches of at least
        :data:`KERNEL_MIN_WORK`, NumPy for smaller ones.

    Results do not depend on ``workers``, ``chunk_trials`` or ``dask``: every trial runs the same
    arithmetic wherever it runs.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    the_plan = plan(config)
    started = time.perf_counter()
    total = the_plan.trials
    n_workers = workers if workers is not None else available_cores()
    kernel = batch_kernels(the_plan, config, engine)
    tasks = chunks(the_plan, config, chunk_trials, engine, n_workers, kernel)
    work = sum(b.trials * b.x_start.shape[1] for b in the_plan.batches) * config.steps
    n_chunks = sum(-(-b.trials // (chunk_trials or default_chunk_trials(
        b.x_start.shape[1], total, n_workers, config.steps))) for b in the_plan.batches)
    fields = {name: np.empty(total, dtype=dtype) for name, dtype in (
        ("group", np.int64), ("status", np.int8), ("first_hit", np.int64),
        ("settled", np.int64), ("diverged_at", np.int64), ("final_gap", np.float64),
        ("best_gap", np.float64), ("final_distance", np.float64))}
    starts = [0, *itertools.accumulate(b.trials for b in the_plan.batches)]
    ladder_at = ladder_slots(the_plan)
    if ladder_at is None:
        fields["ladder_hits"] = fields["ladder_trials"] = None
    else:
        fields["ladder_hits"] = np.empty((ladder_at[-1], len(LADDER)), dtype=np.int32)
        fields["ladder_trials"] = np.concatenate(
            [starts[b] + ladder_rows(len(batch.x_start), 0, batch.trials)
             for b, batch in enumerate(the_plan.batches)] or [np.zeros(0, dtype=np.int64)])
    trajectories = []
    for b, batch in enumerate(the_plan.batches):
        rows = recorded_rows(batch, config.record, config.steps)
        dim = batch.x_start.shape[1]
        trajectories.append(Trajectories(
            group=batch.first_group + rows // len(batch.x_start), trial=starts[b] + rows,
            points=np.full((len(rows), config.steps + 1, dim), np.nan),
            gaps=np.full((len(rows), config.steps + 1), np.nan)))

    def place(b: int, offset: int, n: int) -> dict:
        """The run's arrays for rows ``offset:offset+n`` of batch ``b`` (and their groups)."""
        lo = starts[b] + offset
        batch = the_plan.batches[b]
        n_starts = len(batch.x_start)
        fields["group"][lo:lo + n] = batch.first_group + np.arange(offset, offset + n) // n_starts
        out = {name: fields[name][lo:lo + n] for name in TrialOutcomes.PER_TRIAL if name != "group"}
        out["ladder_hits"] = None if ladder_at is None else fields["ladder_hits"][
            ladder_at[b] + ladder_count(n_starts, offset):
            ladder_at[b] + ladder_count(n_starts, offset + n)]
        return out

    if dask:
        results, mode = _dask(tasks, dask), "dask"
    elif n_workers > 1 and n_chunks > 1 and all(kernel):
        # Threads where every batch runs compiled (no GIL held): kept from run to run, they cost
        # little beside a chunk of the default size (at least MIN_CHUNK_WORK).
        builders = chunk_builders(the_plan, config, chunk_trials, engine, n_workers, kernel)
        results, mode = _threads(builders, n_workers, place, the_plan.batches), "threads"
    elif n_workers > 1 and n_chunks > 1 and (workers is not None or work >= PARALLEL_MIN_WORK):
        results, mode = _processes(tasks, n_workers), "processes"
    else:
        results, mode = _serial(tasks, place, the_plan.batches), "serial"

    done = 0
    by_engine = {"numba": 0, "numpy": 0}
    for result in results:
        n = len(result.outcomes["status"])
        if not result.placed:
            _copy_outcomes(result.outcomes, place(result.batch, result.offset, n))
        paths = trajectories[result.batch]
        slots = slice(result.record_slot, result.record_slot + len(result.gaps))
        paths.points[slots] = result.points
        paths.gaps[slots] = result.gaps
        by_engine[result.engine] += n
        done += n
        if progress is not None:
            progress(done, total)
    return RunOutput(
        plan=the_plan,
        outcomes=TrialOutcomes(**fields),
        trajectories=trajectories,
        seconds=time.perf_counter() - started,
        execution={"mode": mode, "workers": n_workers if mode in ("threads", "processes") else 1,
                   "dask": dask, "engine": engine, "chunk_trials": chunk_trials,
                   "trials_per_loop": by_engine},
    )
