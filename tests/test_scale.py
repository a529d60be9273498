"""Scale: chunks, worker threads and processes, and Dask never change a result.

Every trial's status, steps, gaps and recorded path must be bit-identical whatever the chunk
size, the number of worker processes, local or Dask, on the compiled and on the NumPy loop,
with gradient noise too.
"""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from optbench import config as cfg
from optbench import runner
from optbench.cli import ProgressBar, cli
from optbench.sweep import plan

CONFIG = """
name: scale
steps: 60
record: 2
target: {gap: 1.0e-4}
functions:
  - label: elongated
    function: paraboloid
    a: [0.2, 2.0]
    c: -5
    start: {random: 37, box: [[-5, 5], [-5, 5]]}
  - label: banana
    function: rosenbrock
    dim: 3
    start: {random: 11, box: [[-1.5, 1.5], [-1.5, 1.5], [-1.5, 1.5]]}
  - label: noisy
    function: paraboloid
    a: [1.0, 1.0]
    noise: 0.05
    start: {random: 13}
optimizers:
  - label: adam
    optimizer: adam
    lr: {logspace: [0.01, 3, 5]}
    betas: [[0.5, 0.9], 0.999]
  - label: momentum
    optimizer: sgd
    lr: [0.1, 0.3, 0.6]
    momentum: [0.0, 0.9]
"""


@pytest.fixture(scope="module")
def config():
    return cfg.loads(CONFIG, source="scale.yaml", default_name="scale")


@pytest.fixture(scope="module")
def compiled_only():
    """The config without its noisy function: every batch runs compiled, so workers are threads."""
    text = CONFIG.split("  - label: noisy")[0] + "optimizers:" + CONFIG.split("optimizers:")[1]
    return cfg.loads(text, source="threads.yaml", default_name="threads")


def assert_identical(a: runner.RunOutput, b: runner.RunOutput):
    for name in runner.TrialOutcomes.FIELDS:
        np.testing.assert_array_equal(getattr(a.outcomes, name), getattr(b.outcomes, name),
                                      err_msg=name)  # NaN == NaN here, bit for bit otherwise
    assert len(a.trajectories) == len(b.trajectories)
    for p, q in zip(a.trajectories, b.trajectories):
        for name in ("group", "trial", "points", "gaps"):
            np.testing.assert_array_equal(getattr(p, name), getattr(q, name), err_msg=name)


@pytest.fixture(scope="module")
def reference(config):
    """One chunk per batch, in this process: the plain way to run."""
    return {engine: runner.run(config, workers=1, chunk_trials=10**9, engine=engine)
            for engine in ("numba", "numpy")}


def test_the_config_exercises_every_path(reference):
    out = reference["numba"]
    status = out.outcomes.status
    assert {runner.CONVERGED, runner.DIVERGED, runner.UNFINISHED} <= set(status.tolist())
    # The noisy function runs on the NumPy loop, the others in the kernels.
    noisy = 13 * 10 + 13 * 6
    assert out.execution["trials_per_loop"] == {"numba": len(status) - noisy, "numpy": noisy}
    assert reference["numpy"].execution["trials_per_loop"]["numba"] == 0


@pytest.mark.parametrize("engine", ["numba", "numpy"])
@pytest.mark.parametrize("chunk_trials", [1, 7, 64])
def test_chunk_size_changes_nothing(config, reference, engine, chunk_trials):
    assert_identical(runner.run(config, workers=1, chunk_trials=chunk_trials, engine=engine),
                     reference[engine])


@pytest.mark.parametrize("engine", ["numba", "numpy"])
def test_worker_processes_change_nothing(config, reference, engine):
    out = runner.run(config, workers=2, chunk_trials=16, engine=engine)
    assert out.execution["mode"] == "processes" and out.execution["workers"] == 2
    assert_identical(out, reference[engine])


def test_worker_threads_change_nothing(compiled_only):
    """Where every batch runs compiled, the workers are threads (the kernels release the GIL)."""
    serial = runner.run(compiled_only, workers=1, chunk_trials=10**9, engine="numba")
    for chunk_trials in (5, 64):
        out = runner.run(compiled_only, workers=2, chunk_trials=chunk_trials, engine="numba")
        assert out.execution["mode"] == "threads" and out.execution["workers"] == 2
        assert out.execution["trials_per_loop"]["numpy"] == 0
        assert_identical(out, serial)


def start_indices(config) -> np.ndarray:
    """Each trial's start point among its function's: trial r of a batch starts from r % S."""
    return np.concatenate([np.arange(b.trials) % len(b.x_start) for b in plan(config).batches])


@pytest.mark.parametrize("engine", ["numba", "numpy"])
def test_the_ladder_is_each_groups_first_start_points(config, reference, engine, monkeypatch):
    """With the ladder kept for the first 5 start points of each group (of 11 to 37): the
    rows of those trials, as a run that keeps it for every trial has them, whatever the
    chunks (here also ones that begin and end among a group's ladder trials) and the workers;
    every other outcome is the same."""
    full = reference[engine].outcomes
    assert np.array_equal(full.ladder_trials, np.arange(len(full.group)))  # 37 <= 100: all
    monkeypatch.setattr(runner, "LADDER_START_POINTS", 5)
    wanted = np.flatnonzero(start_indices(config) < 5)
    for workers, chunk_trials in ((1, 10**9), (1, 3), (1, 41), (2, 16)):
        out = runner.run(config, workers=workers, chunk_trials=chunk_trials, engine=engine)
        np.testing.assert_array_equal(out.outcomes.ladder_trials, wanted)
        np.testing.assert_array_equal(out.outcomes.ladder_hits, full.ladder_hits[wanted])
        for name in runner.TrialOutcomes.PER_TRIAL:
            np.testing.assert_array_equal(getattr(out.outcomes, name), getattr(full, name),
                                          err_msg=name)


def test_ladder_rows_of_a_batch():
    """Rows lo:hi of a batch whose start points are among the first LADDER_START_POINTS, and
    their count, without building the batch's rows (10^7 trials of one group: 100 rows)."""
    for n_starts in (1, 3, 100, 101, 250, 10**7):
        rows = np.arange(min(3 * n_starts, 10**5))
        is_ladder = rows % n_starts < runner.LADDER_START_POINTS
        for lo, hi in ((0, len(rows)), (7, 260), (99, 101), (150, 150)):
            lo, hi = min(lo, len(rows)), min(hi, len(rows))
            np.testing.assert_array_equal(runner.ladder_rows(n_starts, lo, hi),
                                          np.flatnonzero(is_ladder[lo:hi]))
            assert runner.ladder_count(n_starts, hi) == is_ladder[:hi].sum()
    assert runner.ladder_count(10**7, 10**7) == runner.LADDER_START_POINTS


def test_chunks_are_cut_by_work():
    """A chunk holds at least MIN_CHUNK_WORK element-updates (a smaller one costs more to hand
    over than a second worker gains), at most 2^18 coordinates, and the run makes two chunks
    per worker where it can."""
    assert runner.default_chunk_trials(100, 1000, 2, 20) == 500  # 10^3 x 100-D x 20: two
    assert runner.default_chunk_trials(2, 1000, 2, 200) == 2500  # 10^3 x 2-D x 200: one
    assert runner.default_chunk_trials(2, 10**5, 2, 200) == 25_000  # two per worker
    assert runner.default_chunk_trials(2, 10**7, 2, 200) == 1 << 17  # the memory cap


def test_worker_threads_serve_run_after_run(compiled_only, monkeypatch):
    """Chunks of the default size go to threads as soon as there are two of them, and the
    threads are kept from one run to the next (not started and joined by each)."""
    import threading

    serial = runner.run(compiled_only, workers=1, chunk_trials=10**9, engine="numba")
    monkeypatch.setattr(runner, "MIN_CHUNK_WORK", 600)  # 5 trials of the 2-D functions
    threads = []
    for _ in range(2):
        out = runner.run(compiled_only, workers=2, engine="numba")
        assert out.execution["mode"] == "threads"
        assert_identical(out, serial)
        threads.append({t for t in threading.enumerate() if t.name.startswith("optbench")})
    assert threads[0] and threads[1] == threads[0]
    assert runner._thread_pool(2) is runner._thread_pool(2)


def test_a_failing_chunk_stops_the_threads(compiled_only, monkeypatch):
    """An error in one chunk reaches the caller once the chunks running beside it are done;
    those not started are dropped: no chunk of the failed run runs after it."""
    import time

    run_chunk, started = runner.run_chunk, []

    def failing(chunk, out=None, objective=None):
        started.append(chunk.offset)
        if len(started) == 6:
            raise RuntimeError("chunk failed")
        time.sleep(0.03)  # both threads busy: the chunks submitted after wait their turn
        return run_chunk(chunk, out, objective)

    monkeypatch.setattr(runner, "run_chunk", failing)
    with pytest.raises(RuntimeError, match="chunk failed"):
        runner.run(compiled_only, workers=2, chunk_trials=1, engine="numba")
    ran = len(started)
    time.sleep(0.3)
    assert len(started) == ran < 12  # of several hundred chunks


def test_start_points_drawn_on_demand_are_the_same(config, reference, monkeypatch):
    """Many random start points are drawn chunk by chunk (PCG64 advanced to each chunk's first
    draw): the same points, so the same results, as drawing them all at once."""
    from optbench import sweep

    monkeypatch.setattr(sweep, "LAZY_START_VALUES", 0)
    lazy = plan(config)
    assert all(isinstance(b.x_start, sweep.RandomStartPoints) for b in lazy.batches)
    for eager, drawn in zip(reference["numba"].plan.batches, lazy.batches):
        np.testing.assert_array_equal(np.asarray(drawn.x_start), eager.x_start)
        np.testing.assert_array_equal(drawn.rows(5, drawn.trials)[0], eager.rows(5, eager.trials)[0])
    for workers, chunk_trials in ((1, 10**9), (2, 7)):
        out = runner.run(config, workers=workers, chunk_trials=chunk_trials, engine="numba")
        assert_identical(out, reference["numba"])


@pytest.mark.parametrize("box", [[[-5.0, 5.0]] * 3, [[-5.0, 5.0], [-1.0, 2.0], [0.0, 0.5]]])
def test_random_start_points_are_numpys_uniform_draws(box):
    """Rows i:j of the start points are rows i:j of
    np.random.default_rng(seed).uniform(low, high, size=(S, D)), whatever the box."""
    from optbench import sweep

    low, high = np.array(box).T
    points = sweep.RandomStartPoints(42, low, high, 1000)
    every = np.random.default_rng(42).uniform(low, high, size=(1000, 3))
    np.testing.assert_array_equal(points.rows(0, 1000), every)
    np.testing.assert_array_equal(points.rows(333, 777), every[333:777])


def test_noisy_trials_see_noise(config, reference):
    out = reference["numpy"]
    noisy = out.outcomes.group >= out.plan.batches[4].first_group
    # Exact gradients from a common start give few distinct final gaps; noise spreads them.
    gaps = out.outcomes.final_gap[noisy]
    assert len(np.unique(gaps)) > len(gaps) // 2


def test_engine_auto_uses_the_kernel_for_large_batches_only(config):
    the_plan = plan(config)
    assert [runner.batch_engine(b, config.steps, "auto") for b in the_plan.batches] == [
        "numpy"] * len(the_plan.batches)
    big = the_plan.batches[0]
    assert runner.batch_engine(big, int(runner.KERNEL_MIN_WORK), "auto") == "numba"


def test_recorded_rows_without_building_the_batch(config):
    for batch in plan(config).batches:
        for per_group in (0, 1, 2, 50):
            for steps in (config.steps, 10**6):
                limit = runner.max_recorded(batch.x_start.shape[1], steps)
                np.testing.assert_array_equal(
                    runner.recorded_rows(batch, per_group, steps),
                    runner._recorded_rows(batch.group_ids, per_group, limit))


@pytest.mark.parametrize("dim, steps", [(2, 1000), (100, 1000), (1000, 10**4), (2, 10**8)])
def test_recorded_paths_stay_within_the_memory_bound(dim, steps):
    limit = runner.max_recorded(dim, steps)
    assert 1 <= limit <= runner.MAX_RECORDED_PER_BATCH
    values = limit * (steps + 1) * (dim + 1)
    # Within 2^24 values (128 MB), unless a single path is larger than that on its own.
    assert values <= runner.MAX_RECORDED_VALUES or limit == 1
    if limit < runner.MAX_RECORDED_PER_BATCH:  # the bound binds: one more path would break it
        assert (limit + 1) * (steps + 1) * (dim + 1) > runner.MAX_RECORDED_VALUES


def test_progress_is_reported_per_chunk_up_to_the_total(config):
    seen = []
    runner.run(config, progress=lambda done, total: seen.append((done, total)), workers=1,
               chunk_trials=100, engine="numpy")
    total = plan(config).trials
    assert seen[-1] == (total, total)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and len(seen) > 5


def test_progress_bar_waits_a_second_then_shows_rate_and_eta():
    import io

    from rich.console import Console

    console = Console(file=io.StringIO(), force_terminal=True)
    bar = ProgressBar(console, "running")
    bar(10, 100)
    assert bar.bar is None  # a short run stays quiet
    bar.started -= 2.0
    bar(40, 100)
    task = bar.bar.tasks[0]
    assert (task.completed, task.total) == (40, 100)
    assert task.fields["rate"].endswith("trials/s")
    bar.close()


def test_dask_cluster_gives_the_local_results(config, reference):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        for engine in ("numba", "numpy"):
            out = runner.run(config, dask=cluster.scheduler_address, chunk_trials=32,
                             engine=engine)
            assert out.execution["mode"] == "dask"
            assert_identical(out, reference[engine])


def test_cli_workers_and_chunk_size_save_the_same_trials(tmp_path):
    path = tmp_path / "scale.yaml"
    path.write_text(CONFIG)
    saved = []
    for extra in ([], ["--workers", "2", "--chunk-size", "5", "--engine", "numba"],
                  ["--workers", "1", "--chunk-size", "3", "--engine", "numba"]):
        result = CliRunner().invoke(cli, ["run", str(path), "--out", str(tmp_path / "r"), "-q",
                                          *extra])
        assert result.exit_code == 0, result.output
        with np.load(f"{result.output.strip()}/trials.npz") as npz:
            saved.append({k: npz[k] for k in npz.files})
    for other in saved[1:]:
        for name in ("status", "first_hit", "settled", "diverged_at"):
            np.testing.assert_array_equal(other[name], saved[0][name])
    for name in saved[1]:
        np.testing.assert_array_equal(saved[1][name], saved[2][name])


def test_cli_unreachable_dask_scheduler_is_one_line(tmp_path):
    pytest.importorskip("distributed")
    import dask

    path = tmp_path / "scale.yaml"
    path.write_text(CONFIG)
    # Dask's own time to give up on a scheduler (30 s by default), shortened for the test.
    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        result = CliRunner().invoke(cli, ["run", str(path), "--out", str(tmp_path / "r"), "-q",
                                          "--dask", "tcp://127.0.0.1:9"])
    assert result.exit_code == 1
    assert result.output.startswith("error: ") and result.output.count("\n") == 1
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").rglob("summary.json"))
