"""``precision: float32``: the points and the optimizer's arithmetic in float32.

What each rule computes in float32 is checked against torch in ``test_torch_parity.py``; here:
the config key, the runner's loop (start points rounded, gradients rounded, values and gaps in
float64), the compiled kernels bit for bit against that loop, chunking, and the command line.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from optbench import config as cfg
from optbench import functions, optimizers, runner
from optbench.cli import cli

CONFIG = """
name: single
steps: 80
precision: float32
record: 2
target: {gap: 1.0e-4}
functions:
  - label: elongated
    function: paraboloid
    a: [0.2, 2.0]
    c: -5
    start: {random: 23, box: [[-5, 5], [-5, 5]]}
  - label: banana
    function: rosenbrock
    dim: 3
    start: {random: 9, box: [[-1.5, 1.5], [-1.5, 1.5], [-1.5, 1.5]]}
optimizers:
  - label: adam
    optimizer: adam
    lr: [0.01, 0.1, 0.5]
  - label: momentum
    optimizer: sgd
    lr: [0.01, 0.1, 0.3]
    momentum: [0.0, 0.9]
"""


def load(text=CONFIG):
    return cfg.loads(text, source="single.yaml", default_name="single")


def is_float32(values: np.ndarray) -> bool:
    finite = values[np.isfinite(values)]
    return finite.size > 0 and np.array_equal(finite.astype(np.float32).astype(np.float64), finite)


# --- config ------------------------------------------------------------------------------------


def test_precision_defaults_to_float64_and_keeps_the_hash():
    plain = load(CONFIG.replace("precision: float32\n", ""))
    explicit = load(CONFIG.replace("precision: float32", "precision: float64"))
    assert plain.precision == "float64"
    assert plain.hash() == explicit.hash()
    assert "precision" not in plain.canonical()  # configs hashed before the key keep their hash
    single = load()
    assert single.precision == "float32" and single.hash() != plain.hash()
    assert single.canonical()["precision"] == "float32"


def test_unknown_precision_is_a_one_line_error():
    with pytest.raises(cfg.ConfigError) as info:
        load(CONFIG.replace("precision: float32", "precision: float16"))
    message = str(info.value)
    assert "precision" in message and "float32" in message and "\n" not in message.strip()


# --- the NumPy loop ----------------------------------------------------------------------------


def numpy_run(optimizer, options, precision, steps=60, function=("paraboloid", {"a": [0.2, 2.0]})):
    objective = functions.make_function(function[0], **function[1])
    dim = objective.dim
    x0 = np.random.default_rng(4).uniform(-3, 3, (12, dim))
    return runner.run_trials(
        objective, optimizers.make_optimizer(optimizer, **options), x0, steps, target_kind="gap",
        target=1e-6, divergence_kind="factor", divergence=1e6, record_rows=np.arange(12),
        precision=precision)


@pytest.mark.parametrize("optimizer, options", [
    ("adam", {"lr": 0.1}), ("sgd", {"lr": 0.1, "momentum": 0.9}), ("nadam", {"lr": 0.1}),
    ("asgd", {"lr": 0.1}), ("rprop", {"lr": 0.05}), ("lion", {"lr": 0.01}),
])
def test_float32_paths_are_float32_and_not_float64_rounded(optimizer, options):
    outcomes32, points32, gaps32 = numpy_run(optimizer, options, "float32")
    _, points64, _ = numpy_run(optimizer, options, "float64")
    assert is_float32(points32)
    # Not the float64 path rounded at the end: the arithmetic itself is float32.
    assert not np.array_equal(points32, points64.astype(np.float32).astype(np.float64))
    # ... yet the same path, to float32's precision, over the first steps.
    np.testing.assert_allclose(points32[:, :10], points64[:, :10], rtol=1e-5, atol=1e-6)
    # Values and gaps are measured in float64 at the float32 points.
    objective = functions.make_function("paraboloid", a=[0.2, 2.0])
    finite = np.isfinite(gaps32)
    assert np.array_equal(gaps32[finite], objective.value_gap_and_grad(points32[finite])[1])
    assert outcomes32["final_gap"].dtype == np.float64


def test_per_trial_hyperparameters_stay_float32():
    lr = np.repeat([0.01, 0.1, 0.3], 4)
    _, points, _ = numpy_run("adam", {"lr": lr, "betas": (np.repeat([0.5, 0.9, 0.0], 4), 0.99),
                                      "weight_decay": np.repeat([0.0, 0.1, 0.01], 4)}, "float32")
    assert is_float32(points)


# --- kernels against the NumPy loop, bit for bit ---------------------------------------------

KERNEL_CASES = [
    ("adam", {"lr": [0.01, 0.1, 0.5], "betas": ([0.5, 0.9, 0.9], [0.999] * 3)}, {}),
    ("sgd", {"lr": [0.05, 0.2, 0.01], "momentum": [0.5, 0.0, 0.9]}, {}),
    ("adagrad", {"lr": [0.1, 1.0, 0.3], "initial_accumulator_value": [0.0, 0.1, 0.5]}, {}),
    ("rmsprop", {"lr": [0.001, 0.01, 0.03], "momentum": [0.0, 0.5, 0.9]}, {"centered": True}),
    # (Adamax's rule rounds the most scalars to float32 of the kernels added last: each
    # optimizer's float32 variant costs the suite 10-15 s of compiling.)
    ("adamax", {"lr": [0.01, 0.1, 0.5], "weight_decay": [0.0, 0.01, 0.1]}, {}),
]


@pytest.mark.parametrize("function, params, dim, scale", [
    ("paraboloid", {"a": [0.2, 2.0], "c": -5.0}, 2, 1.0),
    ("rosenbrock", {"dim": 10}, 10, 0.01),
])
@pytest.mark.parametrize("optimizer, values, flags", KERNEL_CASES, ids=[c[0] for c in KERNEL_CASES])
def test_float32_kernel_equals_the_numpy_loop_bit_for_bit(optimizer, values, flags, function,
                                                          params, dim, scale):
    kernels = pytest.importorskip("optbench.kernels")
    per_group = 40
    group_ids = np.repeat(np.arange(3), per_group)
    x0 = np.random.default_rng(7).uniform(-2, 2, (3 * per_group, dim))
    options = {name: tuple(np.repeat(v, per_group) for v in vals) if isinstance(vals, tuple)
               else np.repeat(vals, per_group) * (scale if name == "lr" else 1.0)
               for name, vals in values.items()} | flags
    objective = functions.make_function(function, **params)
    rules = {"target_kind": "gap", "target": 1e-3, "divergence_kind": "factor",
             "divergence": 1e6, "record_rows": np.array([0, 50, 100])}
    want, want_points, want_gaps = runner.run_trials(
        objective, optimizers.make_optimizer(optimizer, **options), x0, 120, **rules,
        precision="float32")
    got, got_points, got_gaps = kernels.run_trials(
        function, params, objective, optimizer, options, x0, group_ids, 120, **rules,
        ladder=runner.LADDER, precision="float32")
    for name in want:
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)
    np.testing.assert_array_equal(got_points, want_points)
    np.testing.assert_array_equal(got_gaps, want_gaps)
    assert is_float32(got_points)
    float64, *_ = kernels.run_trials(function, params, objective, optimizer, options, x0,
                                     group_ids, 120, **rules, ladder=None)
    assert not np.array_equal(float64["final_gap"], got["final_gap"])


# --- the runner and the command line ---------------------------------------------------------


def test_float32_run_is_the_same_whatever_the_chunking_and_the_loop():
    config = load()
    whole = runner.run(config, workers=1, chunk_trials=10**9, engine="numba")
    assert whole.execution["trials_per_loop"]["numpy"] == 0
    numpy_loop = runner.run(config, workers=1, chunk_trials=7, engine="numpy")
    threads = runner.run(config, workers=2, chunk_trials=5, engine="numba")
    for other in (numpy_loop, threads):
        for name in runner.TrialOutcomes.FIELDS:
            np.testing.assert_array_equal(getattr(other.outcomes, name),
                                          getattr(whole.outcomes, name), err_msg=name)
    for paths in whole.trajectories:
        assert is_float32(paths.points)


def test_cli_run_says_float32_and_saves_it(tmp_path):
    path = tmp_path / "single.yaml"
    path.write_text(CONFIG)
    result = CliRunner().invoke(cli, ["run", str(path), "--out", str(tmp_path / "out"),
                                      "--no-plots"])
    assert result.exit_code == 0, result.output
    assert "80 steps each in float32" in result.output
    run_dir = next((tmp_path / "out" / "single").iterdir())
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["config"]["precision"] == "float32"
    from optbench import results
    from optbench.report.page import metadata

    assert ("precision", "float32") in metadata(results.load(run_dir))
