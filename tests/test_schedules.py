"""Learning-rate schedules: torch's sequences (live and committed), closed forms, optimizers
under a schedule, per-trial parameters, config validation, sweeps and ``optbench list``."""

from __future__ import annotations

import importlib.util
import inspect
import json
import math
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from optbench.cli import cli
from optbench.config import ConfigError, loads
from optbench.functions import make_function
from optbench.optimizers import OPTIMIZERS, make_optimizer
from optbench.runner import run
from optbench.schedules import SCHEDULES, lr_sequence, make_schedule
from optbench.sweep import plan

ROOT = Path(__file__).resolve().parent.parent


def _load_script():
    spec = importlib.util.spec_from_file_location(
        "make_torch_fixtures", ROOT / "scripts" / "make_torch_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


fixtures = _load_script()

# ---------------------------------------------------------------------------------------------
# torch's sequences

# (schedule, parameters, base lr): every parameter away from its default somewhere, cosine's
# climb back after T_max, LinearLR's decay, constant (n = 0) and default forms.
LIVE = [
    ("step_lr", {"step_size": 1}, 0.5),
    ("step_lr", {"step_size": 30, "gamma": 0.5}, 0.1),
    ("exponential_lr", {"gamma": 0.995}, 3.0),
    ("exponential_lr", {"gamma": 1.0}, 0.1),
    ("cosine_annealing_lr", {"T_max": 1}, 0.7),
    ("cosine_annealing_lr", {"T_max": 250, "eta_min": 0.05}, 0.9),
    ("linear_lr", {"start_factor": 1.0, "end_factor": 0.1, "total_iters": 999}, 0.01),
    ("linear_lr", {"start_factor": 0.2, "end_factor": 0.0, "total_iters": 1}, 2.0),
    ("linear_lr", {"total_iters": 0}, 1.0),
] + [(name, params, base_lr) for _, name, params, base_lr in fixtures.SCHEDULE_CASES]


@pytest.mark.parametrize("name, params, base_lr", LIVE,
                         ids=[f"{n}-{'-'.join(f'{k}={v}' for k, v in p.items())}"
                              for n, p, _ in LIVE])
def test_lr_sequence_equals_torch_scheduler_live(name, params, base_lr):
    pytest.importorskip("torch")
    expected = fixtures.torch_lr_sequence(name, params, base_lr, steps=1000)
    got = lr_sequence(make_schedule(name, **params), base_lr, 1000)
    # Same recursion, same operations: equal to the last bit (far inside 1e-12).
    np.testing.assert_array_equal(got, expected)


def _schedule_fixture():
    with np.load(fixtures.fixture_path(fixtures.SCHEDULE_FIXTURE)) as npz:
        return json.loads(str(npz["meta"])), {k: npz[k] for k in npz.files if k != "meta"}


def test_lr_sequences_equal_the_committed_torch_fixture():
    meta, arrays = _schedule_fixture()
    assert meta["torch_version"].startswith("2.13") and meta["steps"] == 1000
    assert [c["variant"] for c in meta["cases"]] == [c[0] for c in fixtures.SCHEDULE_CASES]
    for case in meta["cases"]:
        desired = arrays[fixtures.lr_key(case["variant"])]
        got = lr_sequence(make_schedule(case["schedule"], **case["parameters"]),
                          case["base_lr"], meta["steps"])
        np.testing.assert_allclose(got, desired, rtol=1e-12, atol=0, err_msg=case["variant"])
    assert {c["schedule"] for c in meta["cases"]} == set(SCHEDULES)


def test_script_maps_every_schedule_to_its_torch_class():
    assert fixtures.TORCH_SCHEDULERS == {n: s.torch_name for n, s in SCHEDULES.items()}


def test_every_optimizer_has_a_scheduled_fixture_case():
    scheduled = {c.optimizer for c in fixtures.CASES if "schedule" in c.hyperparameters}
    assert scheduled == {c.optimizer for c in fixtures.CASES}
    on_sgd = {c.hyperparameters["schedule"] for c in fixtures.CASES
              if c.optimizer == "sgd" and "schedule" in c.hyperparameters}
    assert on_sgd == set(SCHEDULES)


# ---------------------------------------------------------------------------------------------
# Closed forms (torch's documented _get_closed_form_lr)


def test_step_and_exponential_lr_closed_forms():
    e = np.arange(1000)
    np.testing.assert_allclose(lr_sequence(make_schedule("step_lr", step_size=7, gamma=0.8),
                                           0.3, 1000), 0.3 * 0.8 ** (e // 7), rtol=1e-12)
    np.testing.assert_allclose(lr_sequence(make_schedule("exponential_lr", gamma=0.99), 2.0, 1000),
                               2.0 * 0.99**e, rtol=1e-12)


def test_cosine_annealing_lr_tracks_its_closed_form():
    e = np.arange(1000)
    got = lr_sequence(make_schedule("cosine_annealing_lr", T_max=100, eta_min=0.01), 0.5, 1000)
    closed = 0.01 + (0.5 - 0.01) * (1 + np.cos(np.pi * e / 100)) / 2
    # The recursion accumulates rounding; it stays within 1e-12 of the closed form's scale.
    np.testing.assert_allclose(got, closed, rtol=0, atol=1e-12)
    assert got[100] == pytest.approx(0.01, abs=1e-15) and got[200] == pytest.approx(0.5)


def test_linear_lr_closed_form():
    e = np.arange(1000)
    got = lr_sequence(make_schedule("linear_lr", start_factor=0.1, end_factor=0.6,
                                    total_iters=40), 2.0, 1000)
    closed = 2.0 * (0.1 + (0.6 - 0.1) * np.minimum(e, 40) / 40)
    np.testing.assert_allclose(got, closed, rtol=1e-12)


def test_per_trial_parameters_give_each_trial_its_own_sequence():
    gamma = np.array([0.9, 0.5, 1.0])
    step_size = np.array([3.0, 1.0, 10.0])
    base_lr = np.array([[0.1], [1.0], [2.0]])
    got = lr_sequence(make_schedule("step_lr", step_size=step_size, gamma=gamma), base_lr, 50)
    for i in range(3):
        alone = lr_sequence(make_schedule("step_lr", step_size=step_size[i], gamma=gamma[i]),
                            float(base_lr[i, 0]), 50)
        np.testing.assert_array_equal(got[:, i], alone)
    t_max = np.array([5.0, 17.0])
    got = lr_sequence(make_schedule("cosine_annealing_lr", T_max=t_max), 1.0, 100)
    for i in range(2):
        alone = lr_sequence(make_schedule("cosine_annealing_lr", T_max=t_max[i]), 1.0, 100)
        np.testing.assert_allclose(got[:, i], alone, rtol=1e-13, atol=1e-16)


# ---------------------------------------------------------------------------------------------
# Optimizers under a schedule


def _path(optimizer, objective, x0, steps):
    x = np.array(x0, dtype=np.float64)
    state = optimizer.init(x)
    out = []
    for k in range(1, steps + 1):
        _, g = objective.value_and_grad(x)
        x, state = optimizer.update(x, g, state, k)
        out.append(x)
    return np.array(out)


def test_scheduled_sgd_is_gradient_descent_with_the_sequence():
    objective = make_function("paraboloid", a=[0.2, 2.0])
    lrs = 0.4 * 0.5 ** (np.arange(60) // 20)  # StepLR, written out
    x = np.array([[5.1, 2.3]])
    expected = []
    for lr in lrs:
        _, g = objective.value_and_grad(x)
        x = x - lr * g
        expected.append(x)
    optimizer = make_optimizer("sgd", lr=0.4, schedule="step_lr",
                               **{"schedule.step_size": 20, "schedule.gamma": 0.5})
    # optbench fuses x - lr g into one rounding (torch's add(alpha=)); the plain form above
    # rounds twice.
    np.testing.assert_allclose(_path(optimizer, objective, [[5.1, 2.3]], 60), expected,
                               rtol=1e-13)


def test_a_schedule_object_is_accepted_too():
    objective = make_function("paraboloid", a=[0.2, 2.0])
    by_name = make_optimizer("adam", lr=0.3, schedule="linear_lr",
                             **{"schedule.start_factor": 0.2, "schedule.total_iters": 10})
    by_object = make_optimizer("adam", lr=0.3, schedule=make_schedule(
        "linear_lr", start_factor=0.2, total_iters=10))
    np.testing.assert_array_equal(_path(by_name, objective, [[5.1, 2.3]], 50),
                                  _path(by_object, objective, [[5.1, 2.3]], 50))


def test_rprop_reads_the_learning_rate_only_to_start_its_step_sizes():
    objective = make_function("rosenbrock")
    plain = _path(make_optimizer("rprop", lr=0.01), objective, [[-1.2, 1.0]], 200)
    decayed = _path(make_optimizer("rprop", lr=0.01, schedule="exponential_lr",
                                   **{"schedule.gamma": 0.5}), objective, [[-1.2, 1.0]], 200)
    np.testing.assert_array_equal(decayed, plain)
    halved = _path(make_optimizer("rprop", lr=0.005), objective, [[-1.2, 1.0]], 200)
    warm = _path(make_optimizer("rprop", lr=0.01, schedule="linear_lr",
                                **{"schedule.start_factor": 0.5}), objective, [[-1.2, 1.0]], 200)
    np.testing.assert_array_equal(warm, halved)


def test_sign_descent_converges_under_a_decaying_schedule():
    objective = make_function("paraboloid", a=[0.2, 2.0])
    constant = _path(make_optimizer("sign_descent", lr=0.1), objective, [[5.1, 2.3]], 400)
    decayed = _path(make_optimizer("sign_descent", lr=0.1, schedule="exponential_lr",
                                   **{"schedule.gamma": 0.99}), objective, [[5.1, 2.3]], 400)
    # With a constant lr each coordinate ends hopping between two points lr apart around 0.
    assert np.max(np.abs(constant[-10:])) >= 0.05
    # The steps 0.1 * 0.99^k add up to 10 > 5.1, and shrink to 0.1 * 0.99^399 = 0.0018.
    assert np.max(np.abs(decayed[-10:])) <= 0.1 * 0.99**390


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_every_built_in_optimizer_takes_a_schedule_with_per_trial_parameters(name):
    objective = make_function("paraboloid", a=[0.2, 2.0])
    gamma = np.array([0.99, 0.9])
    x0 = np.array([[5.1, 2.3], [5.1, 2.3]])
    batch = _path(make_optimizer(name, schedule="exponential_lr", **{"schedule.gamma": gamma}),
                  objective, x0, 100)
    for i in range(2):
        alone = _path(make_optimizer(name, schedule="exponential_lr",
                                     **{"schedule.gamma": gamma[i:i + 1]}),
                      objective, x0[i:i + 1], 100)
        np.testing.assert_array_equal(batch[:, i], alone[:, 0])
    assert not np.array_equal(batch[:, 0], batch[:, 1]) or name == "rprop"


# ---------------------------------------------------------------------------------------------
# Errors

ERRORS = [
    (lambda: make_schedule("cosine"), r"unknown schedule 'cosine'; known: step_lr, "),
    (lambda: make_schedule("step_lr"), r"step_size is required by the step_lr schedule"),
    (lambda: make_schedule("step_lr", step_size=3, gama=0.1),
     r"gama is not a parameter of the step_lr schedule; its parameters: step_size, gamma"),
    (lambda: make_schedule("step_lr", step_size=0), r"step_size must be in \[1, inf\), got 0.0"),
    (lambda: make_schedule("step_lr", step_size=2.5), r"step_size must be a whole number, got 2.5"),
    (lambda: make_schedule("step_lr", step_size=[3, 4.5]),
     r"step_size must be a whole number, got 4.5"),
    (lambda: make_schedule("exponential_lr", gamma=-0.5), r"gamma must be in \[0, inf\)"),
    (lambda: make_schedule("cosine_annealing_lr", T_max=10, eta_min=-1.0),
     r"eta_min must be in \[0, inf\), got -1.0"),
    (lambda: make_schedule("linear_lr", start_factor=0.0), r"start_factor must be in \(0, 1\]"),
    (lambda: make_schedule("linear_lr", end_factor=1.5), r"end_factor must be in \[0, 1\]"),
    (lambda: make_schedule("linear_lr", total_iters=-1), r"total_iters must be in \[0, inf\)"),
    (lambda: make_optimizer("sgd", **{"schedule.gamma": 0.5}),
     r"schedule.gamma is given without a schedule"),
]


@pytest.mark.parametrize("call, message", ERRORS)
def test_schedule_argument_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


CONFIG = """\
name: sched
steps: 200
functions:
  - label: bowl
    function: paraboloid
    start: [5.1, 2.3]
optimizers:
  - optimizer: sgd
    lr: 0.4
    schedule: {schedule}
"""

CONFIG_ERRORS = [
    ("{name: step_lr}", "sched.yaml:10: optimizers[0].schedule.step_size: required key is missing"),
    ("{name: stepp_lr, step_size: 3}",
     ("sched.yaml:10: optimizers[0].schedule.name: unknown schedule 'stepp_lr' (did you mean "
     "'step_lr'?); known: step_lr, exponential_lr, cosine_annealing_lr, linear_lr")),
    ("{step_size: 3}", ("sched.yaml:10: optimizers[0].schedule: missing key 'name' (which schedule "
                       "to use)")),
    ("{name: step_lr, step_size: 3, gama: 0.1}",
     "sched.yaml:10: optimizers[0].schedule.gama: unknown key (did you mean 'gamma'?)"),
    ("{name: step_lr, step_size: 2.5}",
     "sched.yaml:10: optimizers[0].schedule.step_size: step_size must be a whole number, got 2.5"),
    ("{name: cosine_annealing_lr, T_max: [10, 20.5]}",
     "sched.yaml:10: optimizers[0].schedule.T_max: T_max must be a whole number, got 20.5"),
    ("{name: exponential_lr, gamma: -1.0}",
     "sched.yaml:10: optimizers[0].schedule.gamma: gamma must be in [0, inf), got -1.0"),
    ("{name: linear_lr, start_factor: {linspace: [0.0, 1.0, 3]}}",
     ("sched.yaml:10: optimizers[0].schedule.start_factor: start_factor must be in (0, 1], "
     "got 0.0")),
    ("step_lr", ("sched.yaml:10: optimizers[0].schedule: must be a mapping (key: value lines), "
                "got 'step_lr'")),
]


@pytest.mark.parametrize("schedule, message", CONFIG_ERRORS)
def test_schedule_config_errors(schedule, message):
    with pytest.raises(ConfigError) as info:
        loads(CONFIG.format(schedule=schedule), source="sched.yaml")
    assert str(info.value) == message


def test_schedule_errors_through_the_cli_exit_2_without_traceback(tmp_path):
    path = tmp_path / "sched.yaml"
    path.write_text(CONFIG.format(schedule="{name: step_lr}"))
    result = CliRunner().invoke(cli, ["run", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert result.stderr.strip() == ("error: sched.yaml:10: optimizers[0].schedule.step_size: "
                                     "required key is missing")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_user_defined_optimizer_takes_no_schedule(tmp_path, request):
    # Loading the config registers the user's optimizer: undone afterwards, so that later tests
    # (`optbench list`) see the built-in registry only, whatever the order they run in.
    known = set(OPTIMIZERS)
    request.addfinalizer(lambda: [OPTIMIZERS.pop(name) for name in set(OPTIMIZERS) - known])
    request.addfinalizer(lambda: sys.modules.pop("schedrules", None))
    (tmp_path / "schedrules.py").write_text(textwrap.dedent("""\
        import numpy as np
        from optbench.optimizers import Optimizer

        def signum(lr=0.01):
            \"\"\"Plain sign descent.\"\"\"
            return Optimizer(lambda x: (), lambda x, g, state, step: (x - lr * np.sign(g), state))
        """))
    text = CONFIG.format(schedule="{name: step_lr, step_size: 3}").replace(
        "optimizer: sgd", 'optimizer: "schedrules:signum"')
    with pytest.raises(ConfigError) as info:
        loads(text, source="sched.yaml", base_dir=tmp_path)
    assert str(info.value) == (
        "sched.yaml:10: optimizers[0].schedule: only the built-in optimizers take a schedule "
        "(their update takes each step's learning rate); 'schedrules:signum' is user-defined")


# ---------------------------------------------------------------------------------------------
# Sweeps and runs


SWEEP = textwrap.dedent("""\
    name: sched
    steps: 150
    functions:
      - label: bowl
        function: paraboloid
        a: [0.2, 2.0]
        start: [[5.1, 2.3], [-3.0, 1.0]]
    optimizers:
      - optimizer: sign_descent
        lr: 0.5
        schedule: {name: exponential_lr, gamma: [0.9, 0.95, 0.99]}
      - optimizer: sgd
        lr: [0.1, 0.45]
        schedule: {name: cosine_annealing_lr, T_max: 50}
    """)


def test_schedule_parameters_sweep_like_hyperparameters():
    config = loads(SWEEP, source="sched.yaml")
    first, second = config.optimizers
    assert first.label == "sign_descent(lr=0.5, exponential_lr())"
    assert second.label == "sgd(cosine_annealing_lr(T_max=50))"
    assert first.swept() == ["schedule.gamma"]
    the_plan = plan(config)
    groups = [g for g in the_plan.groups if g.optimizer == "sign_descent"]
    assert [g.setting() for g in groups] == [f"schedule.gamma={v}" for v in (0.9, 0.95, 0.99)]
    assert all(g.hyperparameters["schedule"] == "exponential_lr" for g in groups)
    batch = the_plan.batches[0]
    assert batch.static == {"schedule": "exponential_lr"}
    np.testing.assert_array_equal(batch.hyperparameters["schedule.gamma"],
                                  [0.9, 0.9, 0.95, 0.95, 0.99, 0.99])


def test_a_run_with_a_swept_schedule_equals_each_setting_alone():
    config = loads(SWEEP, source="sched.yaml")
    output = run(config)
    objective = make_function("paraboloid", a=[0.2, 2.0])
    x0 = np.array([[5.1, 2.3], [-3.0, 1.0]])
    outcomes = output.outcomes
    for group in output.plan.groups:
        rows = np.flatnonzero(outcomes.group == group.id)
        hypers = dict(group.hyperparameters)
        path = _path(make_optimizer(group.optimizer, **hypers), objective, x0, config.steps)
        gaps = np.array([objective.value_and_grad(p)[0] for p in path])  # (steps, 2)
        for j, row in enumerate(rows):
            inside = np.flatnonzero(gaps[:, j] <= 1e-6)
            expected_first = inside[0] + 1 if inside.size else -1
            assert outcomes.first_hit[row] == expected_first, (group.setting(), j)
            np.testing.assert_allclose(outcomes.final_gap[row], gaps[-1, j], rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# optbench list


def test_list_schedules_shows_every_parameter_default_and_rule():
    result = CliRunner().invoke(cli, ["list", "schedules"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    rows = [[c.strip() for c in line.split("│")[1:-1]] for line in result.stdout.splitlines()
            if line.startswith("│")]
    expected = [h for spec in SCHEDULES.values() for h in spec.hyperparameters.values()]
    assert [r[0] for r in rows] == [h.name for h in expected]
    for row, hyper in zip(rows, expected):
        if hyper.default is inspect.Parameter.empty:
            assert row[1] == "required"
        else:
            assert float(row[1]) == pytest.approx(hyper.default, rel=1e-6)
        assert row[2] == hyper.interval + (", whole" if hyper.kind == "int" else "")
        assert row[3] == hyper.doc
    for spec in SCHEDULES.values():
        assert f"{spec.name} (torch's {spec.torch_name})" in result.stdout


def test_torch_defaults_of_the_schedules():
    torch = pytest.importorskip("torch")
    for spec in SCHEDULES.values():
        signature = inspect.signature(getattr(torch.optim.lr_scheduler, spec.torch_name))
        for pname, hyper in spec.hyperparameters.items():
            default = signature.parameters[pname].default
            if hyper.default is inspect.Parameter.empty:
                assert default is inspect.Parameter.empty, (spec.name, pname)
            else:
                assert math.isclose(default, hyper.default), (spec.name, pname)
