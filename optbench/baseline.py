"""Baselines and the regression check behind ``optbench baseline`` and ``optbench check``.

A baseline is a small JSON file committed with the project (``results/baselines/<name>.json``)
that holds, for every group of a run (function x optimizer entry x swept setting), the counts of
each status and the step counts. Trials are seeded, so the same code gives the same numbers, and
:func:`compare` demands an exact match unless tolerances are given.

What a group records, and why
-----------------------------
``converged``, ``diverged`` and ``unfinished`` count the group's trials of each status;
``steps_to_target`` holds the steps to the target (COCO's runtime, the runner's ``first_hit``) of
the converged trials, and ``diverged_at`` the step of divergence of the diverged ones. Each is

* a list with one entry per trial (trial ``i`` runs from the function's ``i``-th start point),
  ``null`` for a trial without that event, when the group has at most :data:`EXACT_TRIALS`
  trials. The list is exact: it catches a change in a single trial, and names the trial. The
  shipped configs have one to a few start points per function, so their lists are short.
* for larger groups, a summary ``{min, p10, p25, median, p75, p90, max, mean}``: each quantile is
  an observed value (inverted CDF), so it stays a whole number of steps, and the mean is taken
  of the exact sum, so that a change of one step in one trial still shows. The summary keeps a
  group's entry at a fixed size whatever its number of trials (a sweep with random starts by the
  thousand), at the cost of naming the trials that changed.

One group is one line of the file, so that a change of numbers is a one-line diff in review.

File format (schema version 1)::

    {
     "format": "optbench-baseline",
     "schema_version": 1,
     "optbench_version": "0.1.0",
     "numpy_version": "2.1.3",
     "config_name": "paraboloid",
     "config_hash": "c927caf0...",                  # Config.hash()
     "frame": {"seed": 0, "steps": 1000, "target": {...}, "divergence": {...}, "functions": [...]},
     "entries": {"fig 8.3 momentum": "3f1c2a9be0d4", ...},   # fingerprint of each optimizer entry
     "exact_trials": 32,
     "groups": [
      {"function": "elongated", "optimizer": "fig 8.2 steepest descent", "swept": {"lr": 0.4},
       "trials": 1, "converged": 1, "diverged": 0, "unfinished": 0,
       "steps_to_target": [45], "diverged_at": [null]},
      ...
     ]
    }

Matching a run to its baseline
------------------------------
Groups are matched by ``(function label, optimizer label, swept values)``. When the config's
hash equals the baseline's, the same groups are expected and any difference comes from the code
(an update rule, a function, a default). When the config was edited:

* if only optimizer entries changed (a hyperparameter, an entry added or removed), the groups
  are still compared by name, a note says which entries changed, and groups that appeared or
  disappeared are differences of their own (verdict ``changed``);
* if what every trial is judged by changed (the seed, the step budget, the target, the
  divergence bound, a function or its start points), or no group is left in common, the
  baseline was made from a different config: the numbers cannot be compared, and
  :class:`DifferentConfig` says so in one line (``optbench check`` exits 2, the code of a
  baseline it cannot use, rather than 1, which means "the numbers changed").

Verdicts
--------
More converged trials, fewer diverged trials, fewer steps to the target and a later divergence
are improvements; the opposite changes are regressions; a change that goes both ways (some trials
faster, some slower) is a regression. Groups that appeared or disappeared and a changed number of
trials are ``changed``: they fail ``--fail-on any`` (the default) and not ``--fail-on regression``.
"""

from __future__ import annotations

import hashlib
import json
import os
import reprlib
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, ValidationError

from . import __version__
from .config import format_path, format_value
from .results import Results
from .runner import CONVERGED, DIVERGED

FORMAT = "optbench-baseline"
SCHEMA_VERSION = 1

#: Groups with at most this many trials record every trial's steps; larger ones a summary.
EXACT_TRIALS = 32

#: The quantiles of the summary of a large group (``min`` and ``max`` are 0 and 1).
QUANTILES = {"min": 0.0, "p10": 0.1, "p25": 0.25, "median": 0.5, "p75": 0.75, "p90": 0.9, "max": 1.0}

REGRESSION, IMPROVEMENT, CHANGED = "regression", "improvement", "changed"

#: Config keys that do not change any trial's outcome (left out of the frame).
_NOT_JUDGED = ("name", "description", "record", "optimizers")

#: At most this many trials are listed one by one in a difference; more are summarised.
_LISTED_TRIALS = 4

#: At most this many appeared or disappeared groups of one entry get a row each.
_LISTED_GROUPS = 3


class BaselineError(ValueError):
    """A baseline file that cannot be used; the message is one line, ready for the user."""


class DifferentConfig(BaselineError):
    """The baseline was made from a different config: its numbers cannot be compared."""


# ---------------------------------------------------------------------------------------------
# Making a baseline


def _frame(config: dict) -> dict:
    """The parts of a canonical config that every trial's outcome depends on."""
    return {k: v for k, v in config.items() if k not in _NOT_JUDGED}


def _fingerprint(data) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:12]


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def _summary(values: np.ndarray) -> dict:
    """Quantiles (observed values) and mean of a non-empty array of step counts."""
    out = {name: int(np.quantile(values, q, method="inverted_cdf")) for name, q in QUANTILES.items()}
    out["mean"] = float(np.sum(values)) / values.size
    return out


def _events(steps: np.ndarray, happened: np.ndarray):
    """A group's per-trial list (``None`` where the event did not happen), or its summary."""
    if steps.size <= EXACT_TRIALS:
        return [int(s) if h else None for s, h in zip(steps, happened)]
    return _summary(steps[happened]) if happened.any() else None


def make(results: Results) -> dict:
    """The baseline document of a run (see the module docstring for its format)."""
    trials = results.trials
    order = np.argsort(trials.group, kind="stable")
    bounds = np.searchsorted(trials.group[order], np.arange(len(results.groups) + 1))
    groups = []
    for group in results.groups:
        rows = order[bounds[group.id]:bounds[group.id + 1]]
        status = trials.status[rows]
        converged = status == CONVERGED
        diverged = status == DIVERGED
        groups.append({
            "function": group.function,
            "optimizer": group.optimizer_label,
            "swept": {name: _plain(group.value(name)) for name in group.swept},
            "trials": int(rows.size),
            "converged": int(np.count_nonzero(converged)),
            "diverged": int(np.count_nonzero(diverged)),
            "unfinished": int(rows.size - np.count_nonzero(converged | diverged)),
            "steps_to_target": _events(trials.first_hit[rows], converged),
            "diverged_at": _events(trials.diverged_at[rows], diverged),
        })
    return {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "optbench_version": __version__,
        "numpy_version": np.__version__,
        "config_name": results.name,
        "config_hash": results.meta["config_hash"],
        "frame": _frame(results.config),
        "entries": {e["label"]: _fingerprint(e) for e in results.config["optimizers"]},
        "exact_trials": EXACT_TRIALS,
        "groups": groups,
    }


def dumps(baseline: dict) -> str:
    """The baseline as JSON text: one line per group, so that review diffs stay small."""
    head = {k: v for k, v in baseline.items() if k != "groups"}
    lines = [f" {json.dumps(k)}: {json.dumps(v)}," for k, v in head.items()]
    groups = [f"  {json.dumps(g, ensure_ascii=False)}" for g in baseline["groups"]]
    body = ",\n".join(groups)
    return "{\n" + "\n".join(lines) + '\n "groups": [\n' + body + "\n ]\n}\n"


def write_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same directory and a rename,
    so that readers see the old file or the new one, never a half-written one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp makes the file private; give it the mode a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write(baseline: dict, path: str | Path) -> None:
    """Write (or replace) a baseline file atomically."""
    write_atomic(path, dumps(baseline))


# ---------------------------------------------------------------------------------------------
# Reading a baseline


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _StepSummary(_Strict):
    min: StrictInt = Field(ge=0)
    p10: StrictInt = Field(ge=0)
    p25: StrictInt = Field(ge=0)
    median: StrictInt = Field(ge=0)
    p75: StrictInt = Field(ge=0)
    p90: StrictInt = Field(ge=0)
    max: StrictInt = Field(ge=0)
    mean: float = Field(ge=0)


_Events = list[StrictInt | None] | _StepSummary | None


class _GroupRecord(_Strict):
    function: StrictStr
    optimizer: StrictStr
    swept: dict[str, StrictBool | StrictInt | float | StrictStr]
    trials: StrictInt = Field(ge=1)
    converged: StrictInt = Field(ge=0)
    diverged: StrictInt = Field(ge=0)
    unfinished: StrictInt = Field(ge=0)
    steps_to_target: _Events
    diverged_at: _Events


class _BaselineFile(_Strict):
    format: Literal["optbench-baseline"]
    schema_version: Literal[1]
    optbench_version: StrictStr
    numpy_version: StrictStr
    config_name: StrictStr
    config_hash: StrictStr = Field(pattern=r"^[0-9a-f]{64}$")
    frame: dict[str, Any]
    entries: dict[str, StrictStr]
    exact_trials: StrictInt = Field(ge=0)
    groups: list[_GroupRecord]


def _line_of(text: str, path: tuple) -> int | None:
    """The line of a key path in a JSON file (JSON is YAML, whose parser keeps positions)."""
    import yaml

    from .config import _LineMap

    try:
        return _LineMap(yaml.compose(text, Loader=yaml.SafeLoader)).line(path)
    except yaml.YAMLError:
        return None


def _check_group(i: int, g: _GroupRecord, fail) -> None:
    if g.converged + g.diverged + g.unfinished != g.trials:
        fail(("groups", i), f"converged + diverged + unfinished must equal trials ({g.trials}), got "
                            f"{g.converged} + {g.diverged} + {g.unfinished}")
    for key, count in (("steps_to_target", g.converged), ("diverged_at", g.diverged)):
        events = getattr(g, key)
        if isinstance(events, list):
            if len(events) != g.trials:
                fail(("groups", i, key), f"needs one entry per trial ({g.trials}), got {len(events)}")
            present = sum(e is not None for e in events)
            if present != count:
                fail(("groups", i, key), f"needs {count} numbers (one per trial counted), got {present}")
        elif (events is None) != (count == 0):
            fail(("groups", i, key), f"must be null exactly when no trial counts, got {events!r}")


def loads(text: str, source: str = "<baseline>") -> dict:
    """Validate baseline JSON text; :class:`BaselineError` (one line) if it is not a usable one."""
    if not text.strip():
        raise BaselineError(f"{source}: empty file, not an optbench baseline")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        stripped = text.strip()
        ends_early = stripped[:1] in ("{", "[") and stripped[-1:] not in ("}", "]")
        truncated = " (the file ends too early: truncated?)" if ends_early else ""
        raise BaselineError(f"{source}:{exc.lineno}: not valid JSON: {exc.msg}{truncated}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        if isinstance(data, dict):
            what = f'a JSON object without "format": "{FORMAT}"'
        else:
            kinds = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
            what = f"{kinds.get(type(data), 'a number')} where a baseline is a JSON object"
        raise BaselineError(f"{source}: not an optbench baseline ({what}); "
                            "make one with `optbench baseline CONFIG -o FILE`")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise BaselineError(f"{source}: baseline schema version {version!r}, this optbench "
                            f"(version {__version__}) reads {SCHEMA_VERSION}; remake it with "
                            "`optbench baseline CONFIG -o FILE`")

    def fail(path, message):
        line = _line_of(text, tuple(path))
        where = f"{source}:{line}" if line else source
        raise BaselineError(f"{where}: {format_path(path)}: {message}")

    try:
        model = _BaselineFile.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        # Union members add their type names to the path (groups.0.steps_to_target.list[...]).
        path = [p for p in err["loc"] if isinstance(p, int) or not any(c in p for c in "[]")]
        msg = err["msg"]
        rule = msg[0].lower() + msg[1:]
        if err["type"] == "missing":
            fail(path, "required key is missing")
        if err["type"] == "extra_forbidden":
            fail(path, "unknown key")
        fail(path, f"{rule}, got {reprlib.repr(err.get('input'))}")
    for i, group in enumerate(model.groups):
        _check_group(i, group, fail)
    return data


def load(path: str | Path) -> dict:
    """Read and validate a baseline file (see :func:`loads`)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise BaselineError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BaselineError(f"{path}: not a text file, not an optbench baseline") from None
    return loads(text, source=str(path))


# ---------------------------------------------------------------------------------------------
# Comparing


@dataclass(frozen=True)
class Tolerances:
    """How far a number may move and still match.

    A step count matches when ``|now - baseline| <= atol + rtol * baseline`` (NumPy's
    ``isclose`` with the baseline as reference); a group's status counts match when its success
    rate and its divergence rate each move by at most ``success_tol``.
    """

    rtol: float = 0.0
    atol: float = 0.0
    success_tol: float = 0.0

    def steps_match(self, base: float, now: float) -> bool:
        return abs(now - base) <= self.atol + self.rtol * abs(base)

    def rate_matches(self, base_count: int, now_count: int, trials: int) -> bool:
        # Compare counts, not rates, so that a tolerance of exactly k/n lets k trials move.
        return abs(now_count - base_count) <= self.success_tol * trials + 1e-9


@dataclass(frozen=True)
class Difference:
    """One number of one group that differs from the baseline."""

    function: str
    optimizer: str
    setting: str
    metric: str
    baseline: str
    now: str
    verdict: str  # REGRESSION, IMPROVEMENT or CHANGED

    @property
    def group(self) -> str:
        tail = f" / {self.setting}" if self.setting != "-" else ""
        return f"{self.function} / {self.optimizer}{tail}"

    def line(self) -> str:
        return f"{self.metric}: {self.baseline} → {self.now} ({self.verdict})"


@dataclass
class CheckReport:
    """The outcome of comparing a run with a baseline."""

    config_name: str
    config_hash: str
    baseline_path: str
    baseline_hash: str
    baseline_version: str
    groups: list[tuple[str, str, str]]  # (function, optimizer, setting) of every group, both sides
    differences: list[Difference]
    tolerances: Tolerances
    fail_on: str
    notes: list[str] = field(default_factory=list)
    changed_entries: dict[str, list[str]] = field(default_factory=dict)

    def fails(self, difference: Difference) -> bool:
        """Whether a difference fails the check under ``fail_on``."""
        return self.fail_on == "any" or difference.verdict == REGRESSION

    @property
    def failures(self) -> list[Difference]:
        """The differences that fail the check."""
        return [d for d in self.differences if self.fails(d)]

    @property
    def passed(self) -> bool:
        return not self.failures

    def display_rows(self) -> list[Difference]:
        """The differences for a table: the groups an edited entry added or removed are one
        row per entry when there are more than a few of them."""
        moved: dict[tuple, list[Difference]] = {}
        for d in self.differences:
            if d.metric in ("group added", "group removed"):
                moved.setdefault((d.function, d.optimizer, d.metric), []).append(d)
        rows, done = [], set()
        for d in self.differences:
            key = (d.function, d.optimizer, d.metric)
            if key not in moved or len(moved[key]) <= _LISTED_GROUPS:
                rows.append(d)
            elif key not in done:
                done.add(key)
                n = len(moved[key])
                run = f"{n} groups"
                rows.append(Difference(d.function, d.optimizer, f"{n} settings", d.metric,
                                       "—" if d.metric == "group added" else run,
                                       run if d.metric == "group added" else "—", CHANGED))
        return rows

    def counts(self) -> dict[str, int]:
        return {v: sum(d.verdict == v for d in self.differences)
                for v in (REGRESSION, IMPROVEMENT, CHANGED)}

    def summary_line(self) -> str:
        """``FAIL: 1 regression, 1 improvement in 2 of 214 groups`` or ``PASS: ...``."""
        counts = self.counts()
        groups = {(d.function, d.optimizer, d.setting) for d in self.differences}
        parts = [f"{n} {v}{'s' if n != 1 and v != CHANGED else ''}" for v, n in counts.items() if n]
        if not self.differences:
            body = f"all {len(self.groups)} groups match the baseline"
        else:
            body = f"{', '.join(parts)} in {len(groups)} of {len(self.groups)} groups"
        return f"{'PASS' if self.passed else 'FAIL'}: {body} (--fail-on {self.fail_on})"

    def to_json(self) -> dict:
        return {
            "result": "pass" if self.passed else "fail",
            "config": {"name": self.config_name, "hash": self.config_hash},
            "baseline": {"path": self.baseline_path, "config_hash": self.baseline_hash,
                         "optbench_version": self.baseline_version},
            "fail_on": self.fail_on,
            "tolerances": {"rtol": self.tolerances.rtol, "atol": self.tolerances.atol,
                           "success_tol": self.tolerances.success_tol},
            "groups": len(self.groups),
            "counts": self.counts(),
            "notes": self.notes,
            "changed_entries": self.changed_entries,
            "differences": [
                {"function": d.function, "optimizer": d.optimizer, "setting": d.setting,
                 "metric": d.metric, "baseline": d.baseline, "now": d.now, "verdict": d.verdict,
                 "fails": d in self.failures}
                for d in self.differences
            ],
        }

    def to_junit(self, seconds: float = 0.0) -> str:
        """JUnit XML: one test case per group; a failing group's case carries its differences."""
        failing = set(self.failures)
        by_group: dict[tuple, list[Difference]] = {}
        for d in self.differences:
            by_group.setdefault((d.function, d.optimizer, d.setting), []).append(d)
        n_failed = sum(any(d in failing for d in by_group.get(g, [])) for g in self.groups)
        attrs = {"tests": str(len(self.groups)), "failures": str(n_failed), "errors": "0",
                 "skipped": "0", "time": f"{seconds:.3f}"}
        root = ET.Element("testsuites", name="optbench check", **attrs)
        suite = ET.SubElement(root, "testsuite", name=f"optbench check {self.config_name}", **attrs)
        props = ET.SubElement(suite, "properties")
        for name, value in (("config_hash", self.config_hash), ("baseline", self.baseline_path),
                            ("baseline_config_hash", self.baseline_hash),
                            ("fail_on", self.fail_on), *((f"note_{i}", n) for i, n in enumerate(self.notes))):
            ET.SubElement(props, "property", name=name, value=value)
        for function, optimizer, setting in self.groups:
            case = ET.SubElement(suite, "testcase", classname=f"{self.config_name}.{function}",
                                 name=optimizer if setting == "-" else f"{optimizer} / {setting}",
                                 time="0")
            diffs = by_group.get((function, optimizer, setting), [])
            fails = [d for d in diffs if d in failing]
            if fails:
                failure = ET.SubElement(case, "failure", type=fails[0].verdict,
                                        message="; ".join(d.line() for d in fails))
                failure.text = "\n".join(d.line() for d in fails)
            passing = [d for d in diffs if d not in failing]
            if passing:
                ET.SubElement(case, "system-out").text = "\n".join(d.line() for d in passing)
        ET.indent(root)
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def setting_text(swept: dict) -> str:
    """``lr=0.4, momentum=0.1`` (as :meth:`optbench.sweep.Group.setting`); ``-`` if none."""
    return ", ".join(f"{k}={format_value(v)}" for k, v in swept.items()) or "-"


def _key(record: dict) -> tuple:
    return (record["function"], record["optimizer"],
            tuple((k, json.dumps(v)) for k, v in record["swept"].items()))


def _keyed(records: list[dict]) -> dict[tuple, dict]:
    """Records by key; a repeated key (a value listed twice in a sweep) gets its occurrence."""
    out: dict[tuple, dict] = {}
    seen: dict[tuple, int] = {}
    for r in records:
        key = _key(r)
        seen[key] = seen.get(key, 0) + 1
        out[key + ((seen[key],) if seen[key] > 1 else ())] = r
    return out


def _status_text(r: dict) -> str:
    from .report.tables import status_text

    return status_text(r).plain


def _steps_text(values) -> str:
    from .report.tables import format_steps

    if isinstance(values, dict):
        return f"{format_steps(values)}, mean {format_value(values['mean'])}"
    arr = np.asarray(values)
    return format_steps({"min": int(arr.min()), "median": float(np.median(arr)), "max": int(arr.max())})


def _direction(deltas: list[float], worse_if_more: bool) -> str:
    """Regression unless every change goes the good way."""
    better = all((d < 0) == worse_if_more for d in deltas)
    return IMPROVEMENT if better else REGRESSION


def _compare_events(name: str, base, now, trials: int, tol: Tolerances, worse_if_more: bool):
    """``(metric, baseline text, now text, verdict)`` for a steps field, or ``None``."""
    if base is None or now is None:
        return None  # no trial with the event on one side: the status row says it
    if isinstance(base, list) and isinstance(now, list):
        both = [i for i, (b, n) in enumerate(zip(base, now)) if b is not None and n is not None]
        changed = [i for i in both if not tol.steps_match(base[i], now[i])]
        if not changed:
            return None
        verdict = _direction([now[i] - base[i] for i in changed], worse_if_more)
        b_vals, n_vals = [base[i] for i in changed], [now[i] for i in changed]
        if trials == 1:
            return name, str(b_vals[0]), str(n_vals[0]), verdict
        if len(changed) <= _LISTED_TRIALS:
            which = ", ".join(map(str, changed))
            return (f"{name}, trial{'s' if len(changed) > 1 else ''} {which}",
                    ", ".join(map(str, b_vals)), ", ".join(map(str, n_vals)), verdict)
        return (f"{name}, {len(changed)} of {trials} trials",
                _steps_text(b_vals), _steps_text(n_vals), verdict)
    # At least one side is a summary (a large group): compare the summaries.
    base_s = base if isinstance(base, dict) else _summary(np.array([b for b in base if b is not None]))
    now_s = now if isinstance(now, dict) else _summary(np.array([n for n in now if n is not None]))
    changed = [k for k in (*QUANTILES, "mean") if not tol.steps_match(base_s[k], now_s[k])]
    if not changed:
        return None
    verdict = _direction([now_s[k] - base_s[k] for k in changed], worse_if_more)
    return name, _steps_text(base_s), _steps_text(now_s), verdict


def _compare_group(base: dict, now: dict, tol: Tolerances) -> list[tuple[str, str, str, str]]:
    if base["trials"] != now["trials"]:
        return [("trials", str(base["trials"]), str(now["trials"]), CHANGED)]
    n = now["trials"]
    rows = []
    d_conv = now["converged"] - base["converged"]
    d_div = now["diverged"] - base["diverged"]
    if not (tol.rate_matches(base["converged"], now["converged"], n)
            and tol.rate_matches(base["diverged"], now["diverged"], n)):
        verdict = REGRESSION if (d_conv < 0 or d_div > 0) else IMPROVEMENT
        rows.append(("status", _status_text(base), _status_text(now), verdict))
    for key, name, worse_if_more in (("steps_to_target", "steps to target", True),
                                     ("diverged_at", "diverged at", False)):
        row = _compare_events(name, base[key], now[key], n, tol, worse_if_more)
        if row:
            rows.append(row)
    return rows


def _describe_frame_change(base: dict, now: dict) -> str:
    parts = []
    for key in sorted(set(base) | set(now)):
        b, n = base.get(key), now.get(key)
        if b == n:
            continue
        if key == "functions":
            b_by = {f["label"]: f for f in b or []}
            n_by = {f["label"]: f for f in n or []}
            changed = [label for label in n_by if label in b_by and n_by[label] != b_by[label]]
            added = [label for label in n_by if label not in b_by]
            removed = [label for label in b_by if label not in n_by]
            for what, labels in (("changed", changed), ("added", added), ("removed", removed)):
                if labels:
                    parts.append(f"function {', '.join(map(repr, labels))} {what}")
        else:
            def show(v):
                if isinstance(v, dict):
                    return json.dumps({k: x for k, x in v.items() if x is not None})
                return json.dumps(v)
            parts.append(f"{key} {show(b)} → {show(n)}")
    return "; ".join(parts)


def compare(baseline: dict, results: Results, tolerances: Tolerances = Tolerances(),
            fail_on: str = "any", baseline_path: str = "baseline") -> CheckReport:
    """Compare a run with a validated baseline (:func:`load`).

    Raises :class:`DifferentConfig` when the baseline was made from a different config (see
    the module docstring); otherwise returns every difference, with its verdict.
    """
    if fail_on not in ("any", "regression"):
        raise ValueError(f"fail_on must be 'any' or 'regression', got {fail_on!r}")
    now_doc = make(results)
    base_hash, now_hash = baseline["config_hash"], now_doc["config_hash"]
    where = f"{baseline_path} was made from a different config"
    ids = (f"(baseline: {baseline['config_name']!r}, hash {base_hash[:8]}; "
           f"now: {now_doc['config_name']!r}, hash {now_hash[:8]})")
    remedy = f"make a new baseline with `optbench baseline CONFIG -o {baseline_path}`"
    notes: list[str] = []
    changed_entries: dict[str, list[str]] = {}
    if base_hash != now_hash:
        frame_change = _describe_frame_change(baseline["frame"], now_doc["frame"])
        if frame_change:
            raise DifferentConfig(f"{where} {ids}: {frame_change}; {remedy}")
        b_entries, n_entries = baseline["entries"], now_doc["entries"]
        changed_entries = {
            "changed": [k for k in n_entries if k in b_entries and n_entries[k] != b_entries[k]],
            "added": [k for k in n_entries if k not in b_entries],
            "removed": [k for k in b_entries if k not in n_entries],
        }
        changed_entries = {k: v for k, v in changed_entries.items() if v}
        what = "; ".join(f"{k}: {', '.join(map(repr, v))}" for k, v in changed_entries.items())
        notes.append(f"the config was edited since the baseline (hash {base_hash[:8]} → "
                     f"{now_hash[:8]}): optimizer entries {what or 'reordered'}")
    if baseline["optbench_version"] != __version__ or baseline["numpy_version"] != np.__version__:
        notes.append(f"baseline made with optbench {baseline['optbench_version']} and NumPy "
                     f"{baseline['numpy_version']}; now optbench {__version__}, NumPy {np.__version__}")

    base_groups, now_groups = _keyed(baseline["groups"]), _keyed(now_doc["groups"])
    common = [k for k in now_groups if k in base_groups]
    if not common:
        raise DifferentConfig(f"{where} {ids}: no group in common; {remedy}")

    differences: list[Difference] = []
    for key in common:
        b, n = base_groups[key], now_groups[key]
        for metric, b_text, n_text, verdict in _compare_group(b, n, tolerances):
            differences.append(Difference(n["function"], n["optimizer"], setting_text(n["swept"]),
                                          metric, b_text, n_text, verdict))
    for side, records, others in (("added", now_groups, base_groups),
                                  ("removed", base_groups, now_groups)):
        for key, r in records.items():
            if key not in others:
                b_text, n_text = ("—", _status_text(r)) if side == "added" else (_status_text(r), "—")
                differences.append(Difference(r["function"], r["optimizer"], setting_text(r["swept"]),
                                              f"group {side}", b_text, n_text, CHANGED))

    groups = [(r["function"], r["optimizer"], setting_text(r["swept"])) for r in now_doc["groups"]]
    groups += [(r["function"], r["optimizer"], setting_text(r["swept"]))
               for k, r in base_groups.items() if k not in now_groups]
    return CheckReport(
        config_name=now_doc["config_name"], config_hash=now_hash, baseline_path=str(baseline_path),
        baseline_hash=base_hash, baseline_version=baseline["optbench_version"], groups=groups,
        differences=differences, tolerances=tolerances, fail_on=fail_on, notes=notes,
        changed_entries=changed_entries,
    )
