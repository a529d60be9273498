"""The compiled kernels against the NumPy loop they mirror (optbench.runner.run_trials).

The NumPy loop is the reference: the kernels must give the same status, first-hit, settling and
divergence steps for every trial, and the same points and gaps to 1e-12 of their scale (they
differ only where NumPy's vectorized ``power`` rounds the bias corrections differently from the
C library's ``pow`` that torch and the kernels use).
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from optbench import config as cfg
from optbench import functions, optimizers, runner

kernels = pytest.importorskip("optbench.kernels")

STEPS = 150


def both_loops(function, params, optimizer, options, x0, group_ids, *, target_kind="gap",
               target=1e-6, divergence_kind="factor", divergence=1e6, record_rows=(0, 1),
               ladder=True):
    objective = functions.make_function(function, **params)
    rules = {"target_kind": target_kind, "target": target, "divergence_kind": divergence_kind,
             "divergence": divergence, "record_rows": np.asarray(record_rows, dtype=np.int64)}
    reference = runner.run_trials(objective, optimizers.make_optimizer(optimizer, **options), x0,
                                  STEPS, **rules, ladder=ladder)
    compiled, points, gaps = kernels.run_trials(function, params, objective, optimizer, options,
                                                x0, group_ids, STEPS, **rules,
                                                ladder=runner.LADDER if ladder else None)
    return reference, (compiled, points, gaps)


def assert_same(reference, compiled):
    (want, want_points, want_gaps), (got, got_points, got_gaps) = reference, compiled
    for name in ("status", "first_hit", "settled", "diverged_at", "ladder_hits"):
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)
    assert (want["status"] == runner.CONVERGED).any()  # the cases exercise the target
    for name in ("final_gap", "best_gap", "final_distance"):
        np.testing.assert_array_equal(np.isfinite(got[name]), np.isfinite(want[name]))
    np.testing.assert_array_equal(np.isnan(got_points), np.isnan(want_points))
    scale = np.nanmax(np.abs(want_points))
    finite = np.isfinite(want_points)
    assert np.all(np.abs(got_points[finite] - want_points[finite]) <= 1e-12 * scale)
    gap_scale = np.nanmax(np.abs(want_gaps))
    finite = np.isfinite(want_gaps)
    assert np.all(np.abs(got_gaps[finite] - want_gaps[finite]) <= 1e-12 * gap_scale)
    for name in ("final_gap", "best_gap", "final_distance"):
        ok = np.isfinite(want[name])
        assert np.all(np.abs(got[name][ok] - want[name][ok]) <= 1e-12 * gap_scale), name


def sweep(T_per_group, values: dict, dim, seed=0, box=3.0):
    """Trials of several groups: each hyperparameter list gives one value per group."""
    groups = len(next(iter(values.values())))
    rng = np.random.default_rng(seed)
    x0 = rng.uniform(-box, box, (groups * T_per_group, dim))
    group_ids = np.repeat(np.arange(groups), T_per_group)
    options = {}
    for name, vals in values.items():
        if isinstance(vals, tuple):
            options[name] = tuple(np.repeat(np.asarray(v, dtype=float), T_per_group) for v in vals)
        else:
            options[name] = np.repeat(np.asarray(vals, dtype=float), T_per_group)
    return x0, group_ids, options


PARABOLOID = ("paraboloid", {"a": [0.2, 2.0], "c": -5.0})

CASES = [
    ("adam", {"lr": [0.01, 0.1, 0.5, 3.0], "betas": ([0.0, 0.5, 0.9, 0.9], [0.999] * 4)}),
    ("sgd", {"lr": [0.05, 0.2, 0.45, 0.6], "momentum": [0.5, 0.0, 0.9, 0.0]}),
    ("adagrad", {"lr": [0.1, 1.0, 3.7, 8.0], "eps": [1e-10] * 4}),
    ("rmsprop", {"lr": [0.001, 0.01, 0.1, 3.0], "alpha": [0.9] * 4}),
]


@pytest.mark.parametrize(("optimizer", "values"), CASES, ids=[c[0] for c in CASES])
def test_kernel_equals_numpy_on_the_paraboloid(optimizer, values):
    x0, group_ids, options = sweep(50, values, dim=2)
    reference, compiled = both_loops(*PARABOLOID, optimizer, options, x0, group_ids,
                                     record_rows=[0, 3, 60, 199])
    assert_same(reference, compiled)
    if optimizer == "sgd":  # lr 0.6 > 1 / max(a): diverged, frozen where they left
        assert (reference[0]["status"] == runner.DIVERGED).sum() == 50


FLAG_CASES = [
    ("adam", {"amsgrad": True}),
    ("adam", {"decoupled_weight_decay": True, "weight_decay": 0.05}),
    ("adam", {"maximize": False, "bias_correction": False, "state_init": "first_gradient"}),
    ("sgd", {"nesterov": True, "momentum": 0.8}),
    ("sgd", {"momentum": 0.5, "dampening": 0.3, "weight_decay": 0.01}),
    ("adagrad", {"lr_decay": 0.01, "initial_accumulator_value": 0.1}),
    ("rmsprop", {"centered": True, "momentum": 0.5}),
    ("rmsprop", {"momentum": 0.3, "weight_decay": 0.02, "state_init": "first_gradient"}),
]


@pytest.mark.parametrize("dim", [2, 10])
@pytest.mark.parametrize(("optimizer", "static"), FLAG_CASES,
                         ids=[f"{o}-{'-'.join(s)}" for o, s in FLAG_CASES])
def test_kernel_equals_numpy_for_every_option(optimizer, static, dim):
    """Each discrete option compiles its own loop; 10 coordinates take the paraboloid's
    pairwise-summed path, 2 the one that sums inside the update."""
    lrs = {"adam": [0.05, 0.5], "sgd": [0.02, 0.2], "adagrad": [0.5, 2.0], "rmsprop": [0.01, 0.1]}
    x0, group_ids, options = sweep(30, {"lr": lrs[optimizer]}, dim=dim)
    options.update({k: np.full(len(x0), v) if isinstance(v, float) else v
                    for k, v in static.items()})
    a = list(np.linspace(0.2, 2.0, dim))
    reference, compiled = both_loops("paraboloid", {"a": a, "c": -5.0}, optimizer, options, x0,
                                     group_ids, target=1e-4, record_rows=[0, 31])
    assert_same(reference, compiled)


def test_gap_and_distance_targets_each_get_their_kernel():
    """The target criterion is compiled in: the same options under the other criterion must
    not reuse the first one's kernel."""
    x0, group_ids, options = sweep(40, {"lr": [0.05, 0.3]}, dim=2)
    for kind, target in (("gap", 1e-6), ("distance", 1e-3), ("gap", 1e-6)):
        reference, compiled = both_loops(*PARABOLOID, "adam", options, x0, group_ids,
                                         target_kind=kind, target=target)
        assert_same(reference, compiled)


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_kernel_without_the_ladder(optimizer):
    """Runs of more than runner.LADDER_MAX_TRIALS trials keep no ladder: its variant compiles
    without it and gives the same outcomes."""
    x0, group_ids, options = sweep(50, CASES[[c[0] for c in CASES].index(optimizer)][1], dim=2)
    reference, compiled = both_loops(*PARABOLOID, optimizer, options, x0, group_ids,
                                     ladder=False)
    assert reference[0]["ladder_hits"] is None and compiled[0]["ladder_hits"] is None
    assert_same(reference, compiled)


@pytest.mark.parametrize("ladder", [True, False])
def test_a_block_whose_trials_all_diverged_stops_with_the_same_outcomes(ladder):
    """A block of trials that have all diverged skips the steps left (each is frozen where it
    left): the same outcomes, paths and ladders as the NumPy loop's, and as those trials get in
    blocks that run every step (beside trials that never diverge)."""
    dim = 10
    block = kernels.block_size(dim)
    a = list(np.linspace(0.2, 2.0, dim))
    # Blocks of lr 2 (diverges: |1 - 2 lr a| up to 7 a step), of lr 0.2 (converges), and of
    # lr 2 but for its last trial, of lr 0.05, which converges slowly: a block that must run on.
    x0, group_ids, options = sweep(block, {"lr": [2.0, 0.2, 2.0], "momentum": [0.5] * 3},
                                   dim=dim)
    options["lr"][-1], group_ids[-1] = 0.05, 3
    rules = {"target": 1e-4, "divergence_kind": "factor", "divergence": 1e6, "ladder": ladder}
    reference, compiled = both_loops("paraboloid", {"a": a}, "sgd", options, x0, group_ids,
                                     record_rows=[0, 7, block + 3, 3 * block - 1], **rules)
    assert_same(reference, compiled)
    alone, alone_points, alone_gaps = compiled
    diverged_at, status = alone["diverged_at"], alone["status"]
    assert (diverged_at[:block] > 0).all() and diverged_at[:block].max() < STEPS // 10
    assert (status[block:2 * block] == runner.CONVERGED).all()
    assert (status[2 * block:-1] == runner.DIVERGED).all()
    assert alone["first_hit"][-1] > diverged_at[2 * block:-1].max()
    # The first two blocks' trials shuffled together: each block holds converging trials.
    half = block // 2
    mixed = np.r_[0:half, block:block + half, half:block, block + half:2 * block]
    _, (beside, beside_points, beside_gaps) = both_loops(
        "paraboloid", {"a": a}, "sgd", {k: v[mixed] for k, v in options.items()}, x0[mixed],
        group_ids[mixed], record_rows=[0, 7], **rules)
    for name in runner.TrialOutcomes.PER_TRIAL[1:]:
        np.testing.assert_array_equal(beside[name], alone[name][mixed], err_msg=name)
    if ladder:
        np.testing.assert_array_equal(beside["ladder_hits"], alone["ladder_hits"][mixed])
    np.testing.assert_array_equal(beside_points, alone_points[:2])
    np.testing.assert_array_equal(beside_gaps, alone_gaps[:2])


def test_kernel_status_codes_are_the_runners():
    assert (kernels.CONVERGED, kernels.DIVERGED, kernels.UNFINISHED) == (
        runner.CONVERGED, runner.DIVERGED, runner.UNFINISHED)


@pytest.mark.parametrize("dim", [3, 12, 150])
def test_kernel_equals_numpy_on_rosenbrock(dim):
    """3, 12 and 150 coordinates: NumPy's pairwise sum has a different shape in each range."""
    x0, group_ids, options = sweep(10, {"lr": [1e-3, 1e-2, 2e-2]}, dim=dim, box=1.5)
    x0[:5] = 1.0 + 1e-4 * x0[:5]  # a few start next to the minimum, so some converge
    reference, compiled = both_loops("rosenbrock", {"dim": dim}, "adam", options, x0, group_ids,
                                     target=1e-3, divergence_kind="gap", divergence=1e8)
    assert_same(reference, compiled)


@pytest.mark.parametrize(("optimizer", "values"), [
    ("sgd", {"lr": [1e-4, 1e-3], "momentum": [0.9, 0.5]}),
    ("adagrad", {"lr": [0.05, 0.2]}),
    ("rmsprop", {"lr": [1e-3, 1e-2], "momentum": [0.0, 0.5]}),
    ("adamax", {"lr": [1e-3, 1e-2]}),
    ("lion", {"lr": [1e-4, 1e-3]}),
    ("sign_descent", {"lr": [1e-4, 1e-3]}),
], ids=["sgd", "adagrad", "rmsprop", "adamax", "lion", "sign_descent"])
def test_every_kernel_optimizer_on_rosenbrock(optimizer, values):
    """Rosenbrock's gradient is recomputed from the points inside each optimizer's loop."""
    x0, group_ids, options = sweep(10, values, dim=12, box=1.5)
    x0[:5] = 1.0 + 1e-4 * x0[:5]
    reference, compiled = both_loops("rosenbrock", {"dim": 12}, optimizer, options, x0, group_ids,
                                     target=1e-3, divergence_kind="gap", divergence=1e8)
    assert_same(reference, compiled)


def test_kernel_distance_target_and_weight_decay():
    x0, group_ids, options = sweep(40, {"lr": [0.05, 0.3], "weight_decay": [0.0, 0.1]}, dim=2)
    reference, compiled = both_loops(*PARABOLOID, "adam", options, x0, group_ids,
                                     target_kind="distance", target=1e-3)
    assert_same(reference, compiled)


@pytest.mark.parametrize("count", [1, 2, 7, 8, 9, 15, 16, 17, 100, 128, 129, 200, 300, 1000])
def test_pairwise_sum_is_numpys(count):
    rng = np.random.default_rng(count)
    terms = rng.standard_normal((count, 5)) * 10.0 ** rng.uniform(-8, 8, (count, 5))
    out = np.empty(5)
    kernels._pairwise_sum(terms, 0, count, 5, out, np.empty((8, 5)))
    np.testing.assert_array_equal(out, np.sum(np.ascontiguousarray(terms.T), axis=-1))


def test_what_the_kernels_cover():
    assert kernels.supports("paraboloid", {}, "adam")
    assert kernels.supports("rosenbrock", {"dim": 50}, "sgd")
    for optimizer in ("adamw", "adamax", "lion", "sign_descent"):
        assert kernels.supports("rosenbrock", {"dim": 50}, optimizer)
    assert not kernels.supports("beale", {}, "adam")
    assert not kernels.supports("paraboloid", {}, "nadam")
    # Each kernel has its table argument, its columns and its flags.
    assert set(kernels._TABLES) == set(kernels.COLUMNS) == set(kernels.FLAGS)


SIGN_CASES = [
    ("adamax", {"lr": [0.05, 0.5, 2.0], "betas": ([0.9, 0.5, 0.9], [0.999, 0.99, 0.999])}, {}),
    ("adamax", {"lr": [0.05, 0.5], "weight_decay": [0.0, 0.05]}, {"maximize": False}),
    ("lion", {"lr": [0.003, 0.03], "betas": ([0.9, 0.5], [0.99, 0.9])}, {}),
    ("lion", {"lr": [0.003, 0.03], "weight_decay": [0.1, 0.0]}, {}),
    ("sign_descent", {"lr": [0.001, 0.01, 0.1]}, {}),
]


@pytest.mark.parametrize("dim", [2, 10])
@pytest.mark.parametrize(("optimizer", "values", "static"), SIGN_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(SIGN_CASES)])
def test_kernel_equals_numpy_for_adamax_lion_and_sign_descent(optimizer, values, static, dim):
    """Adamax's infinity norm, and the sign updates of Lion and sign descent (which reach a
    loose target only: their steps do not shrink), with and without weight decay."""
    x0, group_ids, options = sweep(30, values, dim=dim)
    options.update(static)
    a = list(np.linspace(0.2, 2.0, dim))
    reference, compiled = both_loops("paraboloid", {"a": a, "c": -5.0}, optimizer, options, x0,
                                     group_ids, target=1e-2, record_rows=[0, 31])
    assert_same(reference, compiled)


def test_maximize_ascends_in_the_kernel_as_in_numpy():
    """(Lion's: each kernel negates the gradient the same way, and each flag compiles a variant
    of its own, 10-20 s of the suite.)"""
    x0, group_ids, options = sweep(20, {"lr": [0.01, 0.1]}, dim=2)
    options["maximize"] = True
    (want, *_), (got, *_) = both_loops(*PARABOLOID, "lion", options, x0, group_ids,
                                       divergence_kind="factor", divergence=10.0)
    for name in ("status", "first_hit", "diverged_at", "ladder_hits"):
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)
    assert (want["status"] == runner.DIVERGED).any()
    np.testing.assert_allclose(got["final_gap"], want["final_gap"], rtol=1e-12)


@pytest.mark.parametrize("extra", [{}, {"weight_decay": 0.1, "maximize": False}],
                         ids=["defaults", "options"])
def test_adamw_runs_in_adams_kernel(extra):
    """AdamW is Adam with decoupled weight decay: it runs in Adam's kernel, with its own default
    weight decay (1e-2, not Adam's 0), and gives the NumPy loop's results."""
    x0, group_ids, options = sweep(40, {"lr": [0.05, 0.5], "betas": ([0.9, 0.5], [0.999, 0.99])},
                                   dim=2)
    options.update({k: np.full(len(x0), v) if isinstance(v, float) else v
                    for k, v in extra.items()})
    reference, compiled = both_loops(*PARABOLOID, "adamw", options, x0, group_ids)
    assert_same(reference, compiled)
    # Without AdamW's default weight decay the trials would end elsewhere.
    adam, _ = both_loops(*PARABOLOID, "adam", {**options, "decoupled_weight_decay": True}, x0,
                         group_ids)
    assert (adam[0]["final_distance"] != reference[0]["final_distance"]).any() == (not extra)


def test_a_run_of_adamw_runs_in_the_kernel():
    config = cfg.loads("""
name: adamw
steps: 100
target: {gap: 1.0e-6}
functions:
  - label: f
    function: rosenbrock
    dim: 4
    start: {random: 30, box: [[-1.5, 1.5], [-1.5, 1.5], [-1.5, 1.5], [-1.5, 1.5]], seed: 0}
optimizers:
  - label: adamw
    optimizer: adamw
    lr: [0.01, 0.05, 0.2]
""")
    compiled, reference = (runner.run(config, engine=engine) for engine in ("numba", "numpy"))
    assert compiled.execution["trials_per_loop"] == {"numba": 90, "numpy": 0}
    assert reference.execution["trials_per_loop"] == {"numba": 0, "numpy": 90}
    for name in ("status", "first_hit", "settled", "diverged_at"):
        np.testing.assert_array_equal(getattr(compiled.outcomes, name),
                                      getattr(reference.outcomes, name), err_msg=name)
    np.testing.assert_allclose(compiled.outcomes.final_gap, reference.outcomes.final_gap,
                               rtol=1e-12, atol=1e-300)


def test_the_paraboloids_curvatures_are_the_factorys():
    """The kernel reads the paraboloid's a as the factory binds it: given, with or without c,
    or its default."""
    default = inspect.signature(functions.paraboloid).parameters["a"].default
    for params, a in (({"a": [1.0, 3.0]}, [1.0, 3.0]), ({"a": [1.0, 3.0], "c": -5.0}, [1.0, 3.0]),
                      ({"c": 2.0}, default), ({}, default)):
        code, vector, _ = kernels.function_code("paraboloid", params)
        assert code == kernels.PARABOLOID
        np.testing.assert_array_equal(vector, a)
    assert kernels.function_code("rosenbrock", {"dim": 7})[0] == kernels.ROSENBROCK


def test_settings_are_one_row_per_run_of_a_group():
    """The kernel's table of hyperparameters holds one row per run of consecutive trials of a
    group, and every trial points to its run's row; options given once apply to every row."""
    lr = np.array([0.1, 0.1, 0.2, 0.2, 0.3, 0.3])
    options = {"lr": lr, "betas": (np.full(6, 0.8), np.full(6, 0.9)), "eps": 1e-6}
    columns = ("lr", "betas[0]", "betas[1]", "eps", "weight_decay")
    for group_ids, rows, settings in (
            (np.array([4, 4, 4, 4, 4, 4]), [0], [0] * 6),
            (np.array([3, 3, 1, 1, 3, 3]), [0, 2, 4], [0, 0, 1, 1, 2, 2]),
            (np.array([0, 0, 1, 1, 2, 2]), [0, 2, 4], [0, 0, 1, 1, 2, 2])):
        if len(rows) == 1:
            options["lr"] = np.full(6, 0.1)
        table, row_setting = kernels._settings("adam", columns, options, group_ids)
        np.testing.assert_array_equal(row_setting, settings)
        np.testing.assert_array_equal(table[:, 0], options["lr"][rows])
        np.testing.assert_array_equal(table[:, 1:], [[0.8, 0.9, 1e-6, 0.0]] * len(rows))
        options["lr"] = lr


def test_ladder_climbs_of_every_height():
    """Trials that climb COCO's ladder one rung at a time, a few at once, all the rest at once
    (a step onto the minimum), never, or diverge: the kernel's branch-free climb (which writes
    ahead and takes the extra entries back at the end of the block) gives NumPy's steps."""
    lrs = [0.002, 0.05, 0.2, 0.45, 0.5, 1.2, 0.0]  # 0.5 steps onto x = 0 of a = 1; 1.2 diverges
    reference, compiled = both_loops(
        "paraboloid", {"a": [1.0, 1.0]}, "sgd", {"lr": np.repeat(lrs, 300)},
        np.random.default_rng(3).uniform(-9.0, 9.0, (7 * 300, 2)),
        np.repeat(np.arange(7), 300), divergence_kind="gap", divergence=1e3)
    assert_same(reference, compiled)
    hits = reference[0]["ladder_hits"]
    assert (hits >= 0).all(axis=1).any() and (hits < 0).any()  # whole ladder, and rungs missed
    # Rungs climbed in one step (after the start): one, two to four, and more than four.
    heights = np.concatenate([np.unique(row[row > 0], return_counts=True)[1] for row in hits])
    assert (heights == 1).any() and ((heights > 1) & (heights <= 4)).any() and (heights > 4).any()
    assert (reference[0]["status"] == runner.DIVERGED).any()


def test_block_loops_promise_llvm_disjoint_arrays():
    # numba's noalias flag reaches LLVM (it spares every vectorized loop its run-time overlap
    # checks); a numba that dropped the option would compile them, slower, without it.
    assert kernels._DISJOINT.get("noalias") is True
    x, terms = np.ones((3, 4)), np.empty((2, 4))
    kernels._rosenbrock_terms(x, 4, terms)
    ir = kernels._rosenbrock_terms.inspect_llvm(kernels._rosenbrock_terms.signatures[0])
    (define,) = [line for line in ir.splitlines()
                 if line.startswith("define") and "@_ZN8optbench7kernels17_rosenbrock_terms" in line]
    # Always on the return and exception slots; here also on the arrays' pointers.
    assert define.count("noalias") > 2
    np.testing.assert_array_equal(terms, 0.0)  # Rosenbrock's terms vanish at its minimum


def test_what_runs_strip_by_strip():
    assert kernels.uses_strips("sgd", kernels.PARABOLOID, 2, "gap")
    assert not kernels.uses_strips("sgd", kernels.PARABOLOID, 2, "distance")
    assert not kernels.uses_strips("sgd", kernels.PARABOLOID, 3, "gap")
    assert not kernels.uses_strips("sgd", kernels.ROSENBROCK, 2, "gap")
    assert not kernels.uses_strips("adam", kernels.PARABOLOID, 2, "gap")
    assert kernels.block_size(kernels.STRIP_DIM) % kernels.LANES == 0


STRIP_CASES = [
    ({}, "float64"),
    ({"nesterov": True, "momentum": 0.8}, "float64"),
    ({"momentum": 0.5, "dampening": 0.3, "weight_decay": 0.01}, "float64"),
    ({}, "float32"),
]


@pytest.mark.parametrize(("static", "precision"), STRIP_CASES,
                         ids=[f"{'-'.join(s) or 'sgd'}-{p}" for s, p in STRIP_CASES])
def test_sgd_strips_are_the_block_loops_bit_for_bit(static, precision):
    """SGD on a 2-D paraboloid without a ladder runs kernels.LANES trials at a time, each kept
    for every step: the same outcomes as the block loops, bit for bit, and as the NumPy loop.

    1030 trials a group (strips that mix settings), two blocks (the second records a path, so
    it keeps the block loops), a last strip that is not full, and divergences (lr 1.2: strips
    whose trials have all diverged stop, the blocks beside converging trials run on)."""
    x0, group_ids, options = sweep(1030, {"lr": [0.05, 0.2, 0.45, 1.2],
                                          "momentum": [0.5, 0.0, 0.9, 0.0]}, dim=2, box=5.0)
    options.update({k: np.full(len(x0), v) if isinstance(v, float) else v
                    for k, v in static.items()})
    assert kernels.block_size(2) < len(x0) < 2 * kernels.block_size(2)
    assert len(x0) % kernels.LANES
    objective = functions.make_function(PARABOLOID[0], **PARABOLOID[1])
    rules = {"target_kind": "gap", "target": 1e-6, "divergence_kind": "factor",
             "divergence": 1e6, "record_rows": np.array([len(x0) - 5]), "ladder": None,
             "precision": precision}
    strips, blocks = (kernels.run_trials(*PARABOLOID, objective, "sgd", options, x0, group_ids,
                                         STEPS, **rules, strips=by_strips)
                      for by_strips in (True, False))
    for name, want in blocks[0].items():
        if want is not None:
            np.testing.assert_array_equal(strips[0][name], want, err_msg=name)
    np.testing.assert_array_equal(strips[1], blocks[1])
    np.testing.assert_array_equal(strips[2], blocks[2])
    statuses = set(blocks[0]["status"])
    assert {runner.CONVERGED, runner.DIVERGED} <= statuses
    assert (blocks[0]["settled"] > 0).any()
    if precision == "float64":
        reference = runner.run_trials(objective, optimizers.make_optimizer("sgd", **options), x0,
                                      STEPS, **{k: v for k, v in rules.items()
                                                if k not in ("ladder", "precision")},
                                      ladder=False)
        assert_same(reference, strips)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_the_ladder_of_some_rows(optimizer):
    """The ladder of the given rows only (the runner's: each group's first start points): the
    blocks are cut where the rows that record it begin and end, those that do not run SGD strip
    by strip, and the outcomes and ladder rows are the NumPy loop's for the same rows."""
    x0, group_ids, options = sweep(1030, {"lr": [0.05, 0.2, 0.45, 1.2],
                                          "momentum": [0.5, 0.0, 0.9, 0.0]}, dim=2, box=5.0)
    if optimizer == "adam":
        options = {"lr": options["lr"] / 4}
    rows = np.flatnonzero(np.arange(len(x0)) % 1030 < 100)  # 4 runs of 100, blocks of 4096
    rows = np.concatenate([rows, [4117, 4119]])  # and two ladder rows alone near the end
    objective = functions.make_function(*PARABOLOID[:1], **PARABOLOID[1])
    rules = {"target_kind": "gap", "target": 1e-6, "divergence_kind": "factor",
             "divergence": 1e6, "record_rows": np.array([3, 2000])}
    reference = runner.run_trials(objective, optimizers.make_optimizer(optimizer, **options), x0,
                                  STEPS, **rules, ladder=rows)
    assert reference[0]["ladder_hits"].shape == (len(rows), len(runner.LADDER))
    for by_strips in (True, False):
        compiled = kernels.run_trials(*PARABOLOID, objective, optimizer, options, x0, group_ids,
                                      STEPS, **rules, ladder=runner.LADDER, ladder_rows=rows,
                                      strips=by_strips)
        assert_same(reference, compiled)
    everyone = runner.run_trials(objective, optimizers.make_optimizer(optimizer, **options), x0,
                                 STEPS, **rules, ladder=True)
    np.testing.assert_array_equal(reference[0]["ladder_hits"], everyone[0]["ladder_hits"][rows])


def adam_trials(kernels):
    """Trials of Adam on the paraboloid, run in the test's process and, its source copied, in a
    first run's (below): ``(outcomes, points, gaps)``."""
    x0 = np.random.default_rng(3).uniform(-3, 3, (300, 2))
    options = {"lr": np.repeat([0.01, 0.1, 0.5], 100)}
    objective = functions.make_function("paraboloid", a=[0.2, 2.0])
    return kernels.run_trials(
        "paraboloid", {"a": [0.2, 2.0]}, objective, "adam", options, x0,
        np.repeat(np.arange(3), 100), 120, target_kind="gap", target=1e-6,
        divergence_kind="factor", divergence=1e6, record_rows=np.array([0, 150]), ladder=None)


# The first run of a variant, in a process of its own (a copy of the package whose disk cache
# is empty): it records what the run's process compiled and the outcomes' bits.
FIRST_RUN = r"""
import json
import sys

import numpy as np
from numba.core.registry import CPUDispatcher

from optbench import functions, kernels

calls = []
ensure = kernels.ensure_in_disk_cache
kernels.ensure_in_disk_cache = lambda args: calls.append(args) or ensure(args)
""" + inspect.getsource(adam_trials) + r"""
out, points, gaps = adam_trials(kernels)
json.dump({
    "kernels": kernels.__file__,
    "compiled here": sorted(name for name, f in vars(kernels).items()
                            if isinstance(f, CPUDispatcher) and f.overloads),
    "loaded from the cache": sum(kernels.run_chunk.stats.cache_hits.values()),
    "signature is the dispatcher's": kernels._signature(calls[0]) in kernels.run_chunk.overloads,
    "outcomes": {k: v.tobytes().hex() for k, v in out.items() if v is not None},
    "paths": [points.tobytes().hex(), gaps.tobytes().hex()],
}, sys.stdout)
"""


def test_a_variant_missing_from_the_cache_compiles_in_a_child_process(tmp_path):
    """A first run compiles its kernel in a child process and loads it from the disk cache:
    its own process compiles nothing (numba would bind run_chunk's calls to the callees'
    stand-alone code, which ran up to 5x slower), and the outcomes are the same bits."""
    import json
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    package = Path(kernels.__file__).parent
    shutil.copytree(package, tmp_path / "optbench", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "first_run.py").write_text(FIRST_RUN)
    done = subprocess.run([sys.executable, str(tmp_path / "first_run.py")], cwd=tmp_path,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    first = json.loads(done.stdout)
    assert Path(first["kernels"]).parent == tmp_path / "optbench"
    assert first["compiled here"] == ["run_chunk"]  # loaded, its callees never compiled
    assert first["loaded from the cache"] == 1
    assert first["signature is the dispatcher's"]
    assert list((tmp_path / "optbench" / "__pycache__").glob("kernels.run_chunk-*.nbi"))

    out, points, gaps = adam_trials(kernels)
    assert first["outcomes"] == {k: v.tobytes().hex() for k, v in out.items() if v is not None}
    assert first["paths"] == [points.tobytes().hex(), gaps.tobytes().hex()]
    assert (out["status"] == runner.CONVERGED).any()


def test_a_run_goes_on_where_no_child_process_can_compile(monkeypatch):
    """Without an interpreter to start (or a cache to write), the kernel compiles in the run's
    own process, as numba does: the same outcomes."""
    x0, group_ids, options = sweep(50, {"lr": [0.05, 0.2], "momentum": [0.5, 0.9]}, dim=2)
    objective = functions.make_function(*PARABOLOID[:1], **PARABOLOID[1])
    rules = {"target_kind": "gap", "target": 1e-6, "divergence_kind": "factor",
             "divergence": 1e6, "record_rows": np.array([3])}
    want = kernels.run_trials(*PARABOLOID, objective, "sgd", options, x0, group_ids, STEPS,
                              **rules)
    answers = []
    ensure = kernels.ensure_in_disk_cache
    monkeypatch.setattr(kernels, "_ENTRY_POINTS", {})
    monkeypatch.setattr(kernels, "_compiler", {})  # no compiling child yet
    monkeypatch.setattr(kernels, "_in_disk_cache", lambda signature: False)
    monkeypatch.setattr(kernels.sys, "executable", "/nonexistent/python")
    monkeypatch.setattr(kernels, "ensure_in_disk_cache",
                        lambda args: answers.append(ensure(args)) or answers[-1])
    got = kernels.run_trials(*PARABOLOID, objective, "sgd", options, x0, group_ids, STEPS,
                             **rules)
    assert answers == [False]
    for name, values in want[0].items():
        if values is not None:
            np.testing.assert_array_equal(got[0][name], values, err_msg=name)
    np.testing.assert_array_equal(got[1], want[1])
