"""Results on disk: exact round trip, atomic writes, one-line errors, unique run ids."""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import types

import numpy as np
import pytest

from optbench import config as cfg
from optbench import results as results_module
from optbench.results import ResultsError, from_run, load, save
from optbench.runner import DIVERGED, TrialOutcomes, run

CONFIG = """\
name: roundtrip
steps: 40
record: 2
functions:
  - label: bowl
    function: paraboloid
    a: [0.5, 2.0]
    start: {random: 3, box: [[-2, 2], [-2, 2]], seed: 5}
  - label: valley
    function: rosenbrock
    start: [[-1.2, 1.0], [0.0, 0.0]]
optimizers:
  - label: gd
    optimizer: sgd
    lr: [0.01, 0.2, 0.6]
  - optimizer: adam
    lr: 0.1
    betas: [[0.0, 0.9], 0.999]
    functions: [bowl]
"""

STARTED = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def finished():
    config = cfg.loads(CONFIG)
    return from_run(config, run(config), STARTED)


def assert_same_results(a, b):
    assert a.meta == b.meta
    assert a.config == b.config
    assert a.groups == b.groups
    assert a.summaries == b.summaries
    for name in TrialOutcomes.FIELDS:
        x, y = getattr(a.trials, name), getattr(b.trials, name)
        assert x.dtype == y.dtype, name
        np.testing.assert_array_equal(x, y, err_msg=name)
    assert len(a.trajectories) == len(b.trajectories)
    for s, t in zip(a.trajectories, b.trajectories):
        for name in ("group", "trial", "points", "gaps"):
            np.testing.assert_array_equal(getattr(s, name), getattr(t, name), err_msg=name)


def test_results_saved_before_ladder_trials_hold_every_trials_ladder(finished, tmp_path):
    """trials.npz files written before ladder_trials existed hold the ladder of every trial;
    a ladder_trials that does not index the trials is refused."""
    path = save(finished, tmp_path)
    with np.load(path / "trials.npz") as npz:
        arrays = {k: npz[k] for k in npz.files if k != "ladder_trials"}
    np.savez(path / "trials.npz", **arrays)
    loaded = load(path)
    np.testing.assert_array_equal(loaded.trials.ladder_trials, np.arange(len(arrays["group"])))
    np.testing.assert_array_equal(loaded.trials.ladder_hits, finished.trials.ladder_hits)
    np.savez(path / "trials.npz", **arrays, ladder_trials=np.arange(len(arrays["group"])) + 1)
    with pytest.raises(ResultsError, match="ladder_trials does not index"):
        load(path)


def test_round_trip_is_exact(finished, tmp_path):
    # the fixture has what JSON cannot hold as is: diverged trials (inf aRT, nan gaps)
    assert np.any(finished.trials.status == DIVERGED)
    assert any(s["aRT"] == float("inf") for s in finished.summaries)
    assert any(np.isnan(t.gaps).any() for t in finished.trajectories)
    path = save(finished, tmp_path)
    assert path.parent == tmp_path / "roundtrip"
    assert finished.path == path
    loaded = load(path)
    assert loaded.path == path
    assert_same_results(finished, loaded)
    assert loaded.meta["started"] == "2026-01-02T03:04:05+00:00"
    # and the saved config reloads to the same hash
    assert loaded.meta["config_hash"] == cfg.loads(CONFIG).hash()


def test_summary_json_is_standard_json(finished, tmp_path):
    path = save(finished, tmp_path)
    text = (path / "summary.json").read_text()
    json.loads(text, parse_constant=lambda name: pytest.fail(f"non-standard JSON constant {name}"))


def test_versions_are_recorded(finished):
    from importlib.metadata import version

    versions = finished.meta["versions"]
    assert versions["numpy"] == np.__version__
    for name in ("pydantic", "click", "rich", "pyyaml"):
        assert versions[name] == version(name)


@pytest.mark.parametrize("exception", [OSError("disk full"), KeyboardInterrupt()])
def test_failure_mid_write_leaves_nothing(finished, tmp_path, monkeypatch, exception):
    calls = []

    def fail_on_second_array_file(path, **arrays):
        calls.append(path)
        if len(calls) == 2:  # summary.json and trials.npz are written by now
            raise exception
        np.savez(path, **arrays)

    monkeypatch.setattr(results_module.np, "savez_compressed", fail_on_second_array_file)
    out = tmp_path / "out"
    with pytest.raises(type(exception)):
        save(finished, out)
    assert len(calls) == 2
    assert not out.exists()  # neither the run, its .partial, nor the directories save created
    (out / "roundtrip").mkdir(parents=True)
    calls.clear()
    with pytest.raises(type(exception)):
        save(finished, out)
    assert list((out / "roundtrip").iterdir()) == []  # existing directories stay, empty


def test_same_run_id_gets_a_suffix(finished, tmp_path):
    paths = [save(finished, tmp_path, run_id="same") for _ in range(3)]
    assert [p.name for p in paths] == ["same", "same-2", "same-3"]
    for p in paths:
        assert_same_results(finished, load(p))


def test_two_runs_in_the_same_second_get_two_directories(finished, tmp_path, monkeypatch):
    class FrozenClock(dt.datetime):
        @classmethod
        def now(cls, tz=None):
            return cls(2026, 1, 2, 3, 4, 5)

    monkeypatch.setattr(results_module, "_dt", types.SimpleNamespace(datetime=FrozenClock))
    first = save(finished, tmp_path)
    second = save(finished, tmp_path)
    stamp = f"20260102-030405-{finished.meta['config_hash'][:8]}"
    assert (first.name, second.name) == (stamp, f"{stamp}-2")


def test_concurrent_saves_never_share_a_directory(finished, tmp_path):
    paths, errors = [], []

    def worker():
        try:
            paths.append(save(finished, tmp_path, run_id="race"))
        except Exception as exc:  # noqa: BLE001 - any failure is what this test looks for
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(p.name for p in paths) == sorted(["race"] + [f"race-{n}" for n in range(2, 7)])
    assert sorted(p.name for p in (tmp_path / "roundtrip").iterdir()) == sorted(p.name for p in paths)
    for p in paths:
        assert sorted(f.name for f in p.iterdir()) == ["summary.json", "trajectories.npz", "trials.npz"]


# ---------------------------------------------------------------------------------------------
# Reading what is not a run


def corrupt(run_dir, name, content: bytes | None):
    path = run_dir / name
    if content is None:
        path.unlink()
    else:
        path.write_bytes(content)


def edit_summary(run_dir, change):
    data = json.loads((run_dir / "summary.json").read_text())
    data = change(data)
    (run_dir / "summary.json").write_text(json.dumps(data))


def drop_npz_member(run_dir, name, member):
    path = run_dir / name
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files if k != member}
    np.savez(path, **arrays)


BROKEN = [
    ("missing summary", lambda d: corrupt(d, "summary.json", None),
     r"^{d}: not a run directory \(no summary\.json\)$"),
    ("summary not JSON", lambda d: corrupt(d, "summary.json", b"{not json"),
     r"^{d}/summary\.json: not valid JSON \(Expecting property name .*\)$"),
    ("summary not UTF-8", lambda d: corrupt(d, "summary.json", b"\xff\xfe{}"),
     r"^{d}/summary\.json: not valid JSON \(.*\)$"),
    ("summary a list", lambda d: corrupt(d, "summary.json", b"[1, 2]"),
     r"^{d}/summary\.json: not an optbench summary \(a JSON object expected\)$"),
    ("foreign schema", lambda d: edit_summary(d, lambda s: {**s, "schema_version": 99}),
     r"^{d}/summary\.json: results schema version 99, this optbench reads 1$"),
    ("no schema version", lambda d: edit_summary(d, lambda s: {k: v for k, v in s.items() if k != "schema_version"}),
     r"^{d}/summary\.json: results schema version None, this optbench reads 1$"),
    ("summary without groups", lambda d: edit_summary(d, lambda s: {k: v for k, v in s.items() if k != "groups"}),
     r"^{d}/summary\.json: incomplete summary \(missing 'groups'\)$"),
    ("missing trials", lambda d: corrupt(d, "trials.npz", None),
     r"^{d}/trials\.npz: missing or corrupt \(No such file or directory\)$"),
    ("garbage trials", lambda d: corrupt(d, "trials.npz", b"garbage" * 10),
     r"^{d}/trials\.npz: missing or corrupt \(.+\)$"),
    ("empty trials", lambda d: corrupt(d, "trials.npz", b""),
     r"^{d}/trials\.npz: missing or corrupt \(.+\)$"),
    ("trials without status", lambda d: drop_npz_member(d, "trials.npz", "status"),
     r"^{d}/trials\.npz: missing or corrupt \(.*status.*\)$"),
    ("truncated trajectories", lambda d: corrupt(d, "trajectories.npz", (d / "trajectories.npz").read_bytes()[:100]),
     r"^{d}/trajectories\.npz: missing or corrupt \(.+\)$"),
    ("trials of another run", lambda d: edit_summary(d, lambda s: {**s, "groups": s["groups"][:2]}),
     r"^{d}/trials\.npz: trials of group \d+, but summary\.json lists 2 groups$"),
]


@pytest.mark.parametrize("name, damage, pattern", BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_results_raise_one_line(finished, tmp_path, name, damage, pattern):
    run_dir = save(finished, tmp_path, run_id="victim")
    damage(run_dir)
    with pytest.raises(ResultsError) as info:
        load(run_dir)
    message = str(info.value)
    assert "\n" not in message
    assert re.match(pattern.replace("{d}", re.escape(str(run_dir))), message), message


def test_not_a_directory(tmp_path):
    with pytest.raises(ResultsError, match=r"^.*/nowhere: no such run directory$"):
        load(tmp_path / "nowhere")


def test_truncated_zip_is_a_results_error_not_a_crash(finished, tmp_path):
    # BadZipFile is neither OSError nor ValueError: it must still become a ResultsError
    run_dir = save(finished, tmp_path)
    data = (run_dir / "trials.npz").read_bytes()
    (run_dir / "trials.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ResultsError):
        load(run_dir)
