"""Config -> batches of per-trial arrays.

A *group* is one function x optimizer x hyperparameter point, run from every start point of the
function. A *batch* is every group of one (function, optimizer entry, discrete options) triple:
its trials advance together as rows of ``(trials, dim)`` arrays, each hyperparameter a
``(trials,)`` array. Sweeps expand to the Cartesian grid of their values, like benchopt's
``parameters``: hyperparameters in the order of the optimizer's signature (the order
``optbench list`` shows), whatever their order in the YAML, the first varying slowest, a pair's
first component before its second. Boolean and choice options select the variant of the
algorithm, so the groups of each option form their own batch, options in grid order.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from .config import Config, FunctionEntry, RandomStart, Sweep, format_value
from .functions import FUNCTIONS, Objective
from .optimizers import OPTIMIZERS, SCHEDULE_KEY


@dataclass(frozen=True)
class Group:
    """One function x optimizer x hyperparameter point, over all start points."""

    id: int
    function: str  # function label
    optimizer_label: str
    optimizer: str
    hyperparameters: dict  # name -> value (pairs as lists) for every hyperparameter the entry sets
    swept: tuple[str, ...]  # the entry's swept hyperparameter names (e.g. "lr", "betas[0]")
    trials: int

    def setting(self) -> str:
        """The swept values, e.g. ``lr=0.4``; ``-`` when nothing is swept."""
        parts = []
        for name in self.swept:
            base, _, index = name.partition("[")
            value = self.hyperparameters[base]
            if index:
                value = value[int(index[:-1])]
            parts.append(f"{name}={format_value(value)}")
        return ", ".join(parts) if parts else "-"

    def value(self, name: str):
        """A swept value by its name, ``betas[0]`` included."""
        base, _, index = name.partition("[")
        value = self.hyperparameters[base]
        return value[int(index[:-1])] if index else value


@dataclass(frozen=True)
class Batch:
    """Trials that advance together: one function, one optimizer variant, many settings.

    Trial ``r`` of a batch is group ``first_group + r // S`` started from ``x_start[r % S]``,
    where ``S`` is the number of start points. The per-trial arrays are built on demand, for
    all trials (``x0``, ``group_ids``, ``hyperparameters``) or for a slice of them
    (:meth:`rows`), so a batch of millions of trials costs memory only while a slice of it runs.
    """

    function: FunctionEntry
    objective: Objective = field(repr=False)
    optimizer: str
    static: dict  # bool / choice options shared by the whole batch
    settings: dict = field(repr=False)  # name -> (G,) array (one value per group), or a pair
    x_start: np.ndarray | RandomStartPoints = field(repr=False)  # (S, D)
    first_group: int  # global id of the batch's first group; its G groups are consecutive
    n_groups: int  # G
    function_index: int = 0  # index of the function entry in the config

    @property
    def trials(self) -> int:
        return self.n_groups * len(self.x_start)

    def rows(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray, dict]:
        """``(x0 (n, D), group_ids (n,), hyperparameters)`` of trials ``start:stop``."""
        n_starts, n = len(self.x_start), stop - start
        group = start // n_starts
        # One group's trials (most chunks) need no per-trial index to find their group.
        member = (np.full(n, group) if n > 0 and group == (stop - 1) // n_starts
                  else np.arange(start, stop) // n_starts)
        hypers = {
            name: tuple(v[member] for v in value) if isinstance(value, tuple) else value[member]
            for name, value in self.settings.items()
        }
        first = start % n_starts
        if isinstance(self.x_start, RandomStartPoints):
            x0 = self.x_start.rows_of_trials(start, stop)
        elif first + n <= n_starts:  # within one pass over the start points
            x0 = self.x_start[first:first + n].copy()
        else:
            x0 = self.x_start[np.arange(start, stop) % n_starts]
        return x0, self.first_group + member, hypers

    @property
    def x0(self) -> np.ndarray:  # (T, D)
        return self.rows(0, self.trials)[0]

    @property
    def group_ids(self) -> np.ndarray:  # (T,) global group id of each trial
        return self.rows(0, self.trials)[1]

    @property
    def hyperparameters(self) -> dict:  # name -> (T,) array, or a pair of them
        return self.rows(0, self.trials)[2]

    def take(self, rows) -> dict:
        """The hyperparameters of a slice of trials, as the optimizer factory takes them."""
        out = dict(self.static)
        for name, value in self.hyperparameters.items():
            out[name] = tuple(v[rows] for v in value) if isinstance(value, tuple) else value[rows]
        return out

    def options(self, hyperparameters: dict) -> dict:
        """The optimizer factory's arguments, given the hyperparameters of some rows."""
        return {**self.static, **hyperparameters}


@dataclass(frozen=True)
class Plan:
    """Everything a run executes, in order."""

    groups: tuple[Group, ...]
    batches: tuple[Batch, ...]

    @property
    def trials(self) -> int:
        return sum(b.trials for b in self.batches)


def expand_grid(hypers: dict) -> tuple[list[dict], list[str]]:
    """Cartesian product of the swept values; pairs expand per component.

    Returns the list of points (name -> value, pairs as tuples) and the swept names.
    """
    axes: list[tuple[str, int | None, Sweep]] = []
    for name, value in hypers.items():
        if isinstance(value, tuple):
            axes += [(name, i, s) for i, s in enumerate(value)]
        else:
            axes.append((name, None, value))
    swept = [f"{n}[{i}]" if i is not None else n for n, i, s in axes if s.is_sweep]
    points = []
    for combo in itertools.product(*(s.values for _, _, s in axes)):
        point: dict = {}
        for (name, index, _), v in zip(axes, combo):
            if index is None:
                point[name] = v
            else:
                point.setdefault(name, [None, None])[index] = v
        points.append({k: tuple(v) if isinstance(v, list) else v for k, v in point.items()})
    return points, swept


#: Random start points of more than this many coordinates are drawn on demand, chunk by chunk,
#: by the workers in parallel (drawing 10^5 2-D points up front held the first chunk back by
#: 1.3 ms, 7% of such a run).
LAZY_START_VALUES = 1 << 16


class RandomStartPoints:
    """``S`` points drawn uniformly in a box, ``(S, D)``, made on demand.

    The values are those of ``np.random.default_rng(seed).uniform(low, high, size=(S, D))``:
    that call draws one 64-bit output of PCG64 per coordinate, in row order, so rows ``i:j`` are
    the draws from ``i * D`` on, reached with ``PCG64.advance`` (O(log i)). Only the rows a chunk
    runs exist at a time, and the workers draw their own in parallel.
    """

    def __init__(self, seed, low: np.ndarray, high: np.ndarray, count: int):
        self.seed, self.low, self.high = seed, low, high
        self.shape = (int(count), len(low))
        # The same bounds on every axis: NumPy's scalar path draws the same values, without
        # broadcasting the bounds (2.7 times as fast).
        self._scalar_bounds = bool((low == low[0]).all() and (high == high[0]).all())

    def __len__(self) -> int:
        return self.shape[0]

    def rows(self, start: int, stop: int) -> np.ndarray:
        """Points ``start:stop``."""
        generator = np.random.PCG64(self.seed)
        generator.advance(start * self.shape[1])
        low, high = self.low, self.high
        if self._scalar_bounds:
            low, high = low[0], high[0]
        return np.random.Generator(generator).uniform(low, high,
                                                      size=(stop - start, self.shape[1]))

    def rows_of_trials(self, start: int, stop: int) -> np.ndarray:
        """The start points of trials ``start:stop`` (trial ``r`` starts from point ``r % S``)."""
        count = self.shape[0]
        parts = []
        while start < stop:
            first = start % count
            n = min(stop - start, count - first)
            parts.append(self.rows(first, first + n))
            start += n
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def __array__(self, dtype=None, copy=None):
        return self.rows(0, self.shape[0]).astype(dtype or np.float64, copy=False)


def start_points(entry: FunctionEntry, objective: Objective, run_seed: int,
                 index: int) -> np.ndarray | RandomStartPoints:
    """The ``(S, D)`` start points of a function entry (the same for every optimizer); many
    random ones as :class:`RandomStartPoints`, drawn when a chunk needs them."""
    start = entry.start
    if isinstance(start, RandomStart):
        box = np.asarray(start.box if start.box is not None else objective.bounds, dtype=np.float64)
        seed = start.seed if start.seed is not None else np.random.SeedSequence([run_seed, index])
        points = RandomStartPoints(seed, box[:, 0], box[:, 1], start.random)
        if start.random * objective.dim > LAZY_START_VALUES:
            return points
        return points.rows(0, start.random)
    return np.asarray(start, dtype=np.float64).reshape(-1, objective.dim)


def make_objective(entry: FunctionEntry) -> Objective:
    return FUNCTIONS[entry.function].factory(**entry.params)


def plan(config: Config) -> Plan:
    """Expand a config into groups and batches."""
    groups: list[Group] = []
    batches: list[Batch] = []
    for f_index, fentry in enumerate(config.functions):
        objective = make_objective(fentry)
        x_start = start_points(fentry, objective, config.seed, f_index)
        n_start = len(x_start)
        for oentry in config.optimizers:
            if oentry.functions is not None and fentry.label not in oentry.functions:
                continue
            spec = OPTIMIZERS[oentry.optimizer]
            points, swept = expand_grid(oentry.hyperparameters)
            discrete = [k for k, h in spec.hyperparameters.items()
                        if h.kind in ("bool", "choice") and k in oentry.hyperparameters]
            # A schedule's name is one per batch; its parameters are per-trial numbers.
            schedule_keys = [k for k in oentry.hyperparameters
                             if k.startswith(SCHEDULE_KEY + ".")]
            if SCHEDULE_KEY in oentry.hyperparameters:
                discrete.append(SCHEDULE_KEY)
            by_static: dict[tuple, list[dict]] = {}
            for p in points:
                by_static.setdefault(tuple(p[k] for k in discrete), []).append(p)
            for static_values, members in by_static.items():
                ids = []
                for p in members:
                    gid = len(groups)
                    groups.append(Group(
                        id=gid, function=fentry.label, optimizer_label=oentry.label,
                        optimizer=oentry.optimizer,
                        hyperparameters={k: list(v) if isinstance(v, tuple) else v for k, v in p.items()},
                        swept=tuple(swept), trials=n_start,
                    ))
                    ids.append(gid)
                settings = {}
                for name, hyper in spec.hyperparameters.items():
                    if name in discrete or name not in members[0]:
                        continue
                    if hyper.kind == "pair":
                        settings[name] = tuple(
                            np.asarray([m[name][c] for m in members], dtype=np.float64)
                            for c in range(2)
                        )
                    else:
                        settings[name] = np.asarray([m[name] for m in members], dtype=np.float64)
                for name in schedule_keys:
                    settings[name] = np.asarray([m[name] for m in members], dtype=np.float64)
                batches.append(Batch(
                    function=fentry, objective=objective, optimizer=oentry.optimizer,
                    static=dict(zip(discrete, static_values)), settings=settings,
                    x_start=x_start, first_group=ids[0], n_groups=len(members),
                    function_index=f_index,
                ))
    return Plan(groups=tuple(groups), batches=tuple(batches))
