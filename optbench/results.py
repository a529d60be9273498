"""Results on disk: ``results/<config-name>/<run-id>/``, complete or absent.

A run directory holds

* ``summary.json``: schema version, optbench and package versions, the config (canonical JSON)
  and its hash, the seed, timings, every group with its hyperparameters and aggregates;
* ``trials.npz``: the per-trial outcome arrays (:class:`~optbench.runner.TrialOutcomes`),
  including the first step on every target of COCO's ladder (``ladder_hits``) of the trials
  ``ladder_trials`` (those of each group's first start points);
* ``trajectories.npz``: the recorded paths (``group``, ``trial``, ``points``, ``gaps`` per batch).

It is written under a temporary name and renamed when complete, so a crash or Ctrl-C leaves no
half-written run behind. Reporters read these files alone (:func:`load`).
"""

from __future__ import annotations

import datetime as _dt
import errno
import json
import os
import platform
import secrets
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import __version__
from .config import Config
from .metrics import group_summaries
from .runner import RunOutput, Trajectories, TrialOutcomes
from .sweep import Group

SCHEMA_VERSION = 1


class ResultsError(ValueError):
    """A results directory that cannot be read."""


@dataclass
class Results:
    """A finished run, as saved on disk."""

    meta: dict
    config: dict
    groups: list[Group]
    summaries: list[dict]
    trials: TrialOutcomes
    trajectories: list[Trajectories]
    path: Path | None = None

    @property
    def name(self) -> str:
        return self.meta["name"]

    def function_labels(self) -> list[str]:
        return [f["label"] for f in self.config["functions"]]

    def function_entry(self, label: str) -> dict:
        return next(f for f in self.config["functions"] if f["label"] == label)

    def trajectory(self, group_id: int):
        """``(points (R, K+1, D), gaps (R, K+1))`` recorded for a group (R may be 0)."""
        for t in self.trajectories:
            rows = np.flatnonzero(t.group == group_id)
            if rows.size:
                return t.points[rows], t.gaps[rows]
        return None


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    def installed(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return ""

    return {
        "optbench": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        **{name: installed(name) for name in ("pydantic", "click", "rich", "pyyaml")},
    }


def from_run(config: Config, output: RunOutput, started: _dt.datetime) -> Results:
    """Assemble :class:`Results` from a finished run."""
    groups = list(output.plan.groups)
    summaries = group_summaries(output.outcomes, len(groups), config.steps)
    meta = {
        "schema_version": SCHEMA_VERSION,
        "name": config.name,
        "config_hash": config.hash(),
        "seed": config.seed,
        "started": started.isoformat(timespec="seconds"),
        "seconds": round(output.seconds, 6),
        "execution": output.execution,
        "trials": int(output.plan.trials),
        "steps": config.steps,
        "versions": _versions(),
        "platform": platform.platform(),
    }
    return Results(
        meta=meta, config=config.canonical(), groups=groups, summaries=summaries,
        trials=output.outcomes, trajectories=output.trajectories,
    )


def _group_to_json(group: Group) -> dict:
    return {
        "id": group.id, "function": group.function, "optimizer_label": group.optimizer_label,
        "optimizer": group.optimizer, "hyperparameters": group.hyperparameters,
        "swept": list(group.swept), "trials": group.trials,
    }


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _finite_json(value):
    """JSON has no inf/nan: write them as strings, read back by :func:`_from_finite_json`."""
    if isinstance(value, float) and not np.isfinite(value):
        return "inf" if value > 0 else ("-inf" if value < 0 else "nan")
    if isinstance(value, dict):
        return {k: _finite_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite_json(v) for v in value]
    return value


def _from_finite_json(value):
    if value in ("inf", "-inf", "nan"):
        return float(value)
    if isinstance(value, dict):
        return {k: _from_finite_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_finite_json(v) for v in value]
    return value


def save(results: Results, out_dir: str | Path, run_id: str | None = None,
         finish=None) -> Path:
    """Write ``results`` to ``out_dir/<name>/<run-id>/`` atomically; return the directory.

    The files are written into a fresh hidden directory, which is then renamed to the first free
    name among ``<run-id>``, ``<run-id>-2``, ... A rename onto an existing run fails (a run
    directory is never empty), so two runs that finish in the same second, even in two
    processes, get two directories. On any failure nothing is left behind: neither the
    temporary directory nor the directories this call created.

    ``finish(directory)``, if given, is called once the result files are written and before the
    rename, to add files that belong to a complete run (the plots and report, drawn from the
    files just written); if it raises, nothing is left behind either.
    """
    parent = Path(out_dir) / results.name
    created = [d for d in (parent, *parent.parents) if not d.exists()]
    parent.mkdir(parents=True, exist_ok=True)
    if run_id is None:
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        run_id = f"{stamp}-{results.meta['config_hash'][:8]}"
    # A name of its own (not mkdtemp's, whose 0o700 would ignore the user's umask).
    tmp = parent / f".{run_id}.{os.getpid()}.{secrets.token_hex(4)}.partial"
    tmp.mkdir()
    try:
        write_into(results, tmp)
        if finish is not None:
            finish(tmp)
        final = _claim(tmp, parent, run_id)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        for directory in created:  # innermost first; only if still empty
            try:
                directory.rmdir()
            except OSError:
                break
        raise
    results.path = final
    return final


def _claim(tmp: Path, parent: Path, run_id: str) -> Path:
    """Rename ``tmp`` to the first free run name; atomic against concurrent runs."""
    n = 1
    while True:
        final = parent / (run_id if n == 1 else f"{run_id}-{n}")
        if not final.exists():
            try:
                os.rename(tmp, final)
                return final
            except OSError as exc:
                if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
        n += 1


def write_into(results: Results, directory: Path) -> None:
    """Write the three result files into an existing directory."""
    summary = {
        **results.meta,
        "config": results.config,
        "groups": [
            {**_group_to_json(g), "summary": s} for g, s in zip(results.groups, results.summaries)
        ],
    }
    (directory / "summary.json").write_text(
        json.dumps(_finite_json(summary), indent=1, default=_json_default) + "\n"
    )
    np.savez_compressed(directory / "trials.npz", **results.trials.as_dict())
    arrays = {}
    for i, t in enumerate(results.trajectories):
        arrays[f"group_{i}"] = t.group
        arrays[f"trial_{i}"] = t.trial
        arrays[f"points_{i}"] = t.points
        arrays[f"gaps_{i}"] = t.gaps
    np.savez_compressed(directory / "trajectories.npz", **arrays)


def load(run_dir: str | Path) -> Results:
    """Read a run directory written by :func:`save`; :class:`ResultsError` (one line) if it is
    not one, or if a file is missing, corrupt or written by another schema version."""
    run_dir = Path(run_dir)
    summary_path = run_dir / "summary.json"
    if not run_dir.is_dir():
        raise ResultsError(f"{run_dir}: no such run directory")
    if not summary_path.is_file():
        raise ResultsError(f"{run_dir}: not a run directory (no summary.json)")
    try:
        summary = _from_finite_json(json.loads(summary_path.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ResultsError(f"{summary_path}: not valid JSON ({_one_line(exc)})") from None
    except OSError as exc:
        raise ResultsError(f"{summary_path}: cannot read: {exc.strerror or exc}") from None
    if not isinstance(summary, dict):
        raise ResultsError(f"{summary_path}: not an optbench summary (a JSON object expected)")
    version = summary.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ResultsError(
            f"{summary_path}: results schema version {version!r}, this optbench reads {SCHEMA_VERSION}"
        )
    try:
        groups = [
            Group(id=g["id"], function=g["function"], optimizer_label=g["optimizer_label"],
                  optimizer=g["optimizer"], hyperparameters=g["hyperparameters"],
                  swept=tuple(g["swept"]), trials=g["trials"])
            for g in summary["groups"]
        ]
        summaries = [g["summary"] for g in summary["groups"]]
        config = summary["config"]
    except (KeyError, TypeError) as exc:
        raise ResultsError(f"{summary_path}: incomplete summary (missing {_one_line(exc)})") from None
    trials_path = run_dir / "trials.npz"
    try:
        with open(trials_path, "rb") as fh, np.load(fh) as npz:  # closed even when corrupt
            # The ladder is optional: results saved before it was recorded lack it, and those
            # saved before ladder_trials existed hold it for every trial.
            trials = TrialOutcomes(**{name: npz[name] for name in TrialOutcomes.FIELDS
                                      if name in npz.files or name in TrialOutcomes.PER_TRIAL})
    except _NPZ_ERRORS as exc:
        raise ResultsError(f"{trials_path}: missing or corrupt ({_one_line(exc)})") from None
    if len(trials.group) and int(trials.group.max()) >= len(groups):
        raise ResultsError(f"{trials_path}: trials of group {int(trials.group.max())}, "
                           f"but summary.json lists {len(groups)} groups")
    ladder = trials.ladder_trials
    if ladder is not None and (len(ladder) != len(trials.ladder_hits) or (
            len(ladder) and not 0 <= int(ladder.min()) <= int(ladder.max()) < len(trials.group))):
        raise ResultsError(f"{trials_path}: ladder_trials does not index the "
                           f"{len(trials.group)} trials' {len(trials.ladder_hits)} ladder rows")
    trajectories_path = run_dir / "trajectories.npz"
    try:
        trajectories = []
        with open(trajectories_path, "rb") as fh, np.load(fh) as npz:
            i = 0
            while f"group_{i}" in npz:
                trajectories.append(Trajectories(
                    group=npz[f"group_{i}"], trial=npz[f"trial_{i}"],
                    points=npz[f"points_{i}"], gaps=npz[f"gaps_{i}"],
                ))
                i += 1
    except _NPZ_ERRORS as exc:
        raise ResultsError(f"{trajectories_path}: missing or corrupt ({_one_line(exc)})") from None
    meta = {k: v for k, v in summary.items() if k not in ("config", "groups")}
    return Results(meta=meta, config=config, groups=groups, summaries=summaries,
                   trials=trials, trajectories=trajectories, path=run_dir)


#: What reading a missing, truncated or foreign ``.npz`` raises.
_NPZ_ERRORS = (KeyError, OSError, ValueError, EOFError, zipfile.BadZipFile)


def _one_line(exc: BaseException) -> str:
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return " ".join(text.split()) or type(exc).__name__
