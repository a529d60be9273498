"""The vectorized optimizers against a plain reference, equivalences, properties, errors."""

from __future__ import annotations

import numpy as np
import pytest
import reference_optimizers as ref
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from trajectory_tools import assert_path_close, run_path

from optbench.functions import paraboloid, quadratic, rosenbrock
from optbench.optimizers import OPTIMIZERS, make_optimizer

RTOL = 1e-12
STEPS = 60

# --- against the plain reference, per-trial settings in one batch -----------------------------

# (optimizer, options shared by the batch, per-trial hyperparameters): every option of every
# optimizer, the book's forms included, with three trials that differ in every number.
REFERENCE_CASES = [
    ("sgd", {}, {"lr": [0.1, 0.3, 0.45]}),
    ("sgd", {}, {"lr": [0.1, 0.05, 0.2], "momentum": [0.9, 0.0, 0.5],
                 "dampening": [0.0, 0.5, 0.3], "weight_decay": [0.0, 0.1, 0.02]}),
    ("sgd", {"nesterov": True}, {"lr": [0.05, 0.1, 0.2], "momentum": [0.9, 0.5, 0.1]}),
    ("sgd", {"maximize": True}, {"lr": [0.001, 0.005, 0.01], "weight_decay": [0.0, 0.1, 0.2]}),
    ("adagrad", {}, {"lr": [0.1, 0.5, 1.0], "lr_decay": [0.0, 0.01, 0.1],
                     "weight_decay": [0.0, 0.1, 0.01], "initial_accumulator_value": [0.0, 0.5, 2.0],
                     "eps": [1e-10, 1e-6, 1e-2]}),
    ("adagrad", {"maximize": True}, {"lr": [0.1, 0.5, 1.0]}),
    ("rmsprop", {}, {"lr": [0.01, 0.03, 0.1], "alpha": [0.99, 0.9, 0.5],
                     "eps": [1e-8, 1e-6, 1e-3], "weight_decay": [0.0, 0.1, 0.01],
                     "momentum": [0.0, 0.3, 0.5]}),
    ("rmsprop", {"centered": True}, {"lr": [0.01, 0.03, 0.02], "alpha": [0.99, 0.9, 0.95],
                                     "momentum": [0.3, 0.0, 0.1]}),
    ("rmsprop", {"state_init": "first_gradient"}, {"lr": [0.01, 0.1, 0.3], "alpha": [0.9, 0.5, 0.99],
                                                   "eps": [1e-6, 1e-8, 1e-3]}),
    ("rmsprop", {"state_init": "first_gradient", "centered": True, "maximize": True},
     {"lr": [0.01, 0.02, 0.005], "alpha": [0.9, 0.95, 0.99], "eps": [1e-2, 1e-1, 1.0]}),
    ("adam", {}, {"lr": [0.1, 0.3, 0.05], "betas": ([0.9, 0.5, 0.0], [0.999, 0.9, 0.99]),
                  "eps": [1e-8, 1e-6, 0.0], "weight_decay": [0.0, 0.1, 0.01]}),
    ("adam", {"amsgrad": True, "decoupled_weight_decay": True},
     {"lr": [0.1, 0.3, 0.05], "betas": ([0.9, 0.5, 0.0], [0.999, 0.9, 0.99]),
      "weight_decay": [0.0, 0.1, 0.5]}),
    ("adam", {"bias_correction": False}, {"lr": [0.1, 0.3, 0.05],
                                          "betas": ([0.9, 0.1, 0.0], [0.999, 0.9, 0.99])}),
    ("adam", {"bias_correction": False, "state_init": "first_gradient"},
     {"lr": [0.3, 1.0, 3.0], "betas": ([0.1, 0.9, 0.5], [0.999, 0.99, 0.9]), "eps": [0.0, 1e-8, 1e-3]}),
    ("adam", {"state_init": "first_gradient", "amsgrad": True, "maximize": True},
     {"lr": [0.01, 0.03, 0.05], "betas": ([0.9, 0.5, 0.0], [0.999, 0.9, 0.99])}),
]

FUNCTIONS = {
    # name: (objective, plain gradient, start, lr scale)
    "elongated": (paraboloid(a=(0.2, 2.0), c=-5.0), ref.paraboloid_gradient([0.2, 2.0]),
                  [5.1, 2.3], 1.0),
    "rosenbrock": (rosenbrock(3), ref.rosenbrock_gradient, [-1.2, 1.0, 0.5], 1e-2),
}


def _trial(per_trial: dict, i: int) -> dict:
    return {k: tuple(c[i] for c in v) if isinstance(v, tuple) else v[i]
            for k, v in per_trial.items()}


def _as_arrays(per_trial: dict) -> dict:
    return {k: tuple(np.array(c) for c in v) if isinstance(v, tuple) else np.array(v)
            for k, v in per_trial.items()}


def _case_id(case):
    name, options, per_trial = case
    return "-".join([name, *options, *per_trial]) if options else "-".join([name, *per_trial])


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
@pytest.mark.parametrize("case", REFERENCE_CASES, ids=_case_id)
def test_vectorized_equals_plain_reference(case, function):
    name, options, per_trial = case
    objective, gradient, start, lr_scale = FUNCTIONS[function]
    if options.get("maximize"):
        lr_scale *= 1e-2 if function == "rosenbrock" else 1.0  # ascent runs away fast there
    per_trial = {**per_trial, "lr": [lr * lr_scale for lr in per_trial["lr"]]}
    trials = len(per_trial["lr"])
    paths = run_path(objective, make_optimizer(name, **options, **_as_arrays(per_trial)),
                     np.tile(start, (trials, 1)), STEPS)
    for i in range(trials):
        expected = ref.REFERENCES[name](start, gradient, STEPS, **options, **_trial(per_trial, i))
        assert_path_close(paths[i], np.array(expected), RTOL, f"{name} {options} trial {i}")


def test_reference_cases_cover_every_option():
    for name, spec in OPTIMIZERS.items():
        if name not in ref.REFERENCES:
            continue
        covered = set()
        for case_name, options, per_trial in REFERENCE_CASES:
            if case_name == name:
                covered |= {k for k, v in options.items() if v != spec.hyperparameters[k].default}
                covered |= set(per_trial)
        assert covered == set(spec.hyperparameters), (name, set(spec.hyperparameters) - covered)


# --- equivalences -----------------------------------------------------------------------------

ELONGATED, _, START, _ = FUNCTIONS["elongated"]
X0 = np.array([START])


def _path(name, **kwargs):
    return run_path(ELONGATED, make_optimizer(name, **kwargs), X0, STEPS)[0]


def test_sgd_without_momentum_in_a_momentum_batch_is_plain_sgd():
    """A trial with momentum 0 next to one with momentum: steepest descent exactly, its
    dampening ignored (as torch skips the buffer)."""
    batch = run_path(ELONGATED, make_optimizer("sgd", lr=np.array([0.3, 0.3]),
                                               momentum=np.array([0.0, 0.9]),
                                               dampening=np.array([0.5, 0.0])),
                     np.tile(START, (2, 1)), STEPS)
    np.testing.assert_array_equal(batch[0], _path("sgd", lr=0.3))
    np.testing.assert_array_equal(_path("sgd", lr=0.3, momentum=0.0, dampening=0.5),
                                  _path("sgd", lr=0.3))


def test_rmsprop_without_momentum_in_a_momentum_batch_is_plain_rmsprop():
    batch = run_path(ELONGATED, make_optimizer("rmsprop", lr=0.05, momentum=np.array([0.0, 0.5])),
                     np.tile(START, (2, 1)), STEPS)
    np.testing.assert_array_equal(batch[0], _path("rmsprop", lr=0.05))


def test_adam_without_first_moment_or_bias_correction_is_rmsprop():
    """β1 = 0 makes m_t = g_t; without bias correction Adam's step is then RMSprop's with
    α = β2 (optax checks scale_by_rms against scale_by_adam(b1=0) the same way)."""
    for eps in (1e-8, 1e-3):
        for state_init in ("zeros", "first_gradient"):
            adam = _path("adam", lr=0.05, betas=(0.0, 0.9), eps=eps, bias_correction=False,
                         state_init=state_init)
            rms = _path("rmsprop", lr=0.05, alpha=0.9, eps=eps, state_init=state_init)
            assert_path_close(adam, rms, RTOL, f"eps {eps} {state_init}")


def test_adam_with_betas_zero_takes_sign_steps():
    """β = (0, 0), ε = 0: m = g, v = g², so each coordinate moves by exactly ±η (sign descent),
    with or without bias correction (both factors are 1)."""
    path = _path("adam", lr=0.25, betas=(0.0, 0.0), eps=0.0)
    steps = np.diff(path, axis=0)
    np.testing.assert_allclose(np.abs(steps[:5]), 0.25, rtol=1e-15)
    np.testing.assert_array_equal(path, _path("adam", lr=0.25, betas=(0.0, 0.0), eps=0.0,
                                              bias_correction=False))


def test_first_gradient_start_is_zeros_start_when_nothing_is_remembered():
    """With α = 0 (RMSprop) or β = (0, 0) (Adam) the state holds only the current gradient, so
    the book's start from the first gradient changes nothing."""
    np.testing.assert_array_equal(_path("rmsprop", lr=0.1, alpha=0.0),
                                  _path("rmsprop", lr=0.1, alpha=0.0, state_init="first_gradient"))
    np.testing.assert_array_equal(
        _path("adam", lr=0.1, betas=(0.0, 0.0), bias_correction=False),
        _path("adam", lr=0.1, betas=(0.0, 0.0), bias_correction=False,
              state_init="first_gradient"))


@pytest.mark.parametrize("start", [START, [-1.2, 1.0], [0.1, 3.7], [1e-3, 7.0]])
def test_centered_rmsprop_from_the_first_gradient_divides_its_first_step_by_eps(start):
    """s_1 = g_1², m_1 = g_1: the centered root is exactly 0, so x_1 = x_0 − η g_1 / ε."""
    x0 = np.array([start])
    eps = np.array([1e-2, 1e-1, 1.0])
    path = run_path(ELONGATED, make_optimizer("rmsprop", lr=1e-3, eps=eps, centered=True,
                                              state_init="first_gradient"),
                    np.repeat(x0, 3, axis=0), 1)
    _, g = ELONGATED.value_and_grad(x0)
    np.testing.assert_allclose(path[:, 1], x0 - 1e-3 * g / eps[:, None], rtol=1e-15)


@pytest.mark.parametrize("g", [0.71535975, 1.51754735, 2.04, 1.1, 0.3])
def test_centered_rmsprop_from_the_first_gradient_stays_finite_on_a_constant_gradient(g):
    """s_t = g², m_t = g for all t: the variance is 0 and each step −η g / ε. From step 2 the
    computed variance is the rounding residue of g² (at most ulp(g²), clamped at 0), whose
    root, up to ~1e-8 |g|, shifts the step by < 1e-5 relative with ε ≈ 0.008."""
    optimizer = make_optimizer("rmsprop", lr=0.5, alpha=np.array([0.125, 0.5, 0.9, 0.99]),
                               eps=0.0078125, centered=True, state_init="first_gradient")
    x = np.zeros((4, 1))
    state = optimizer.init(x)
    for k in range(1, 6):
        x, state = optimizer.update(x, np.full((4, 1), g), state, k)
        assert np.all(np.isfinite(x))
        np.testing.assert_allclose(x, np.full((4, 1), -k * 0.5 * g / 0.0078125), rtol=1e-5)


def test_adagrad_first_step_is_a_sign_step():
    """s_1 = g_1², so x_1 = x_0 − η g/|g| when ε = 0."""
    path = _path("adagrad", lr=0.7, eps=0.0)
    np.testing.assert_allclose(path[1], np.array(START) - 0.7, rtol=1e-15)


def test_weight_decay_is_a_quadratic_penalty():
    """λ x added to the gradient of f equals plain SGD on f + λ/2 |x|² (a = 0.2 + λ/2, 2 + λ/2)."""
    lam = 0.3
    shifted = paraboloid(a=(0.2 + lam / 2, 2.0 + lam / 2), c=-5.0)
    with_decay = _path("sgd", lr=0.2, weight_decay=lam)
    penalised = run_path(shifted, make_optimizer("sgd", lr=0.2), X0, STEPS)[0]
    assert_path_close(with_decay, penalised, RTOL)


def test_maximize_descends_the_negated_function():
    """maximize=True on f takes the path of minimising −f: here f's mirror, ascending −f means
    x grows by (1 + 2aη) each step."""
    path = _path("sgd", lr=0.01, maximize=True)
    k = np.arange(STEPS + 1)[:, None]
    np.testing.assert_allclose(path, np.array(START) * (1 + 2 * np.array([0.2, 2.0]) * 0.01) ** k,
                               rtol=1e-12)


# --- properties -------------------------------------------------------------------------------

FLOAT_RANGES = {
    # name: (low, high) drawn for hypothesis; within each optimizer's rule
    "lr": (0.0, 2.0), "momentum": (0.0, 0.99), "dampening": (-1.0, 1.0),
    "weight_decay": (0.0, 1.0), "lr_decay": (0.0, 1.0), "initial_accumulator_value": (0.0, 2.0),
    "eps": (1e-12, 1e-2),  # eps = 0 with a zero gradient is 0/0, in torch too
    # alpha = 0 with centered makes s - m^2 = g^2 - g^2, whose fused rounding residue may be
    # negative: a NaN root, in torch as in optbench.
    "alpha": (0.01, 0.999), "betas": (0.0, 0.999),
}


@st.composite
def optimizer_batches(draw, lr_zero: bool = False):
    name = draw(st.sampled_from(sorted(ref.REFERENCES)))
    spec = OPTIMIZERS[name]
    trials = draw(st.integers(1, 4))
    dim = draw(st.integers(1, 3))
    floats = st.floats(-10.0, 10.0, allow_nan=False, allow_subnormal=False)
    x = draw(arrays(np.float64, (trials, dim), elements=floats))
    grads = draw(arrays(np.float64, (3, trials, dim), elements=floats))
    kwargs = {}
    for hname, hyper in spec.hyperparameters.items():
        if hyper.kind == "bool":
            kwargs[hname] = draw(st.booleans())
        elif hyper.kind == "choice":
            kwargs[hname] = draw(st.sampled_from(hyper.choices))
        else:
            low, high = FLOAT_RANGES.get(hname, (0.0, 1.0))
            per = arrays(np.float64, (trials,), elements=st.floats(low, high))
            kwargs[hname] = (draw(per), draw(per)) if hyper.kind == "pair" else draw(per)
    if lr_zero:
        kwargs["lr"] = np.zeros(trials)
    if kwargs.get("nesterov"):
        kwargs["momentum"] = np.maximum(kwargs["momentum"], 0.1)
        kwargs["dampening"] = np.zeros(trials)
    return name, kwargs, x, grads


def _run_updates(name, kwargs, x, grads):
    optimizer = make_optimizer(name, **kwargs)
    state = optimizer.init(x)
    for k, g in enumerate(grads, start=1):
        x, state = optimizer.update(x, g, state, k)
    return x, state


def _rows(kwargs, i):
    return {k: tuple(c[i:i + 1] for c in v) if isinstance(v, tuple)
            else v[i:i + 1] if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}


@settings(max_examples=60, deadline=None)
@given(optimizer_batches())
def test_each_row_of_a_batch_equals_a_batch_of_one(batch):
    name, kwargs, x, grads = batch
    with np.errstate(all="ignore"):
        whole, _ = _run_updates(name, kwargs, x, grads)
        for i in range(len(x)):
            alone, _ = _run_updates(name, _rows(kwargs, i), x[i:i + 1], grads[:, i:i + 1])
            np.testing.assert_array_equal(whole[i:i + 1], alone)


@settings(max_examples=60, deadline=None)
@given(optimizer_batches())
def test_update_is_pure_and_keeps_shapes_and_dtypes(batch):
    name, kwargs, x, grads = batch
    optimizer = make_optimizer(name, **kwargs)
    state = optimizer.init(x)
    for k, g in enumerate(grads, start=1):
        x_copy, g_copy = x.copy(), g.copy()
        state_copy = [None if s is None else s.copy() for s in state]
        with np.errstate(all="ignore"):
            new_x, new_state = optimizer.update(x, g, state, k)
        np.testing.assert_array_equal(x, x_copy)
        np.testing.assert_array_equal(g, g_copy)
        for before, after in zip(state_copy, state):
            if before is None:
                assert after is None
            else:
                np.testing.assert_array_equal(after, before)
        assert new_x.shape == x.shape and new_x.dtype == np.float64
        assert type(new_state) is type(state)
        for old, new in zip(state, new_state):
            assert (old is None) == (new is None)
            if new is not None:
                assert new.shape == x.shape and new.dtype == np.float64
        x, state = new_x, new_state


@settings(max_examples=60, deadline=None)
@given(optimizer_batches(lr_zero=True))
def test_zero_learning_rate_leaves_x_unchanged(batch):
    name, kwargs, x, grads = batch
    with np.errstate(all="ignore"):
        final, _ = _run_updates(name, kwargs, x, grads)
    np.testing.assert_array_equal(final, x)


# --- errors -----------------------------------------------------------------------------------

ERRORS = [
    ("sgd", {"lr": -1.0}, r"^lr must be in \[0, inf\), got -1\.0$"),
    ("sgd", {"lr": float("nan")}, r"^lr must be in \[0, inf\), got nan$"),
    ("sgd", {"lr": [0.1, -0.5]}, r"^lr must be in \[0, inf\), got -0\.5$"),
    ("sgd", {"lr": np.ones((2, 2))}, r"^lr must be a scalar or have shape \(trials,\), got \(2, 2\)$"),
    ("sgd", {"momentum": -0.1}, r"^momentum must be in \[0, inf\), got -0\.1$"),
    ("sgd", {"weight_decay": -1}, r"^weight_decay must be in \[0, inf\), got -1\.0$"),
    ("sgd", {"nesterov": True}, r"^nesterov requires a momentum > 0 and zero dampening$"),
    ("sgd", {"nesterov": True, "momentum": 0.9, "dampening": 0.1},
     r"^nesterov requires a momentum > 0 and zero dampening$"),
    ("sgd", {"nesterov": True, "momentum": np.array([0.9, 0.0])},
     r"^nesterov requires a momentum > 0 and zero dampening$"),
    ("adagrad", {"lr": -0.1}, r"^lr must be in \[0, inf\), got -0\.1$"),
    ("adagrad", {"lr_decay": -1}, r"^lr_decay must be in \[0, inf\), got -1\.0$"),
    ("adagrad", {"weight_decay": -1}, r"^weight_decay must be in \[0, inf\), got -1\.0$"),
    ("adagrad", {"initial_accumulator_value": -1},
     r"^initial_accumulator_value must be in \[0, inf\), got -1\.0$"),
    ("adagrad", {"eps": -1e-10}, r"^eps must be in \[0, inf\), got -1e-10$"),
    ("rmsprop", {"lr": -1}, r"^lr must be in \[0, inf\), got -1\.0$"),
    ("rmsprop", {"alpha": -0.5}, r"^alpha must be in \[0, inf\), got -0\.5$"),
    ("rmsprop", {"eps": -1}, r"^eps must be in \[0, inf\), got -1\.0$"),
    ("rmsprop", {"momentum": -1}, r"^momentum must be in \[0, inf\), got -1\.0$"),
    ("rmsprop", {"weight_decay": -1}, r"^weight_decay must be in \[0, inf\), got -1\.0$"),
    ("rmsprop", {"state_init": "ones"},
     r"^state_init must be one of 'zeros', 'first_gradient', got 'ones'$"),
    ("adam", {"lr": -1}, r"^lr must be in \[0, inf\), got -1\.0$"),
    ("adam", {"betas": (1.0, 0.9)}, r"^betas\[0\] must be in \[0, 1\), got 1\.0$"),
    ("adam", {"betas": (0.9, 1.0)}, r"^betas\[1\] must be in \[0, 1\), got 1\.0$"),
    ("adam", {"betas": (0.9, -0.1)}, r"^betas\[1\] must be in \[0, 1\), got -0\.1$"),
    ("adam", {"betas": (np.array([0.9, 1.5]), 0.9)}, r"^betas\[0\] must be in \[0, 1\), got 1\.5$"),
    ("adam", {"betas": (0.9,)}, r"^betas must be a pair of numbers, got \(0\.9,\)$"),
    ("adam", {"eps": -1}, r"^eps must be in \[0, inf\), got -1\.0$"),
    ("adam", {"weight_decay": -1}, r"^weight_decay must be in \[0, inf\), got -1\.0$"),
    ("adam", {"state_init": "x"}, r"^state_init must be one of 'zeros', 'first_gradient', got 'x'$"),
    ("nope", {}, r"^unknown optimizer 'nope'$"),
]


@pytest.mark.parametrize("name, kwargs, message", ERRORS)
def test_factory_errors(name, kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_optimizer(name, **kwargs)


def test_error_table_covers_every_float_hyperparameter():
    for name in ref.REFERENCES:
        spec = OPTIMIZERS[name]
        checked = {k.split("[")[0] for n, kwargs, _ in ERRORS if n == name for k in kwargs}
        floats = {k for k, h in spec.hyperparameters.items() if h.kind in ("float", "pair")}
        floats -= {"dampening"}  # any real number is allowed, as in torch
        assert floats <= checked, (name, floats - checked)


# --- smoke convergence ------------------------------------------------------------------------

QUADRATIC = quadratic(A=((3.0, 1.0), (1.0, 2.0)), b=(1.0, -1.0))
CONVERGING = [
    ("sgd", {"lr": 0.2}),
    ("sgd", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    ("adagrad", {"lr": 0.5}),
    # With a fixed lr, RMSprop and Adam end up hopping around x* by about lr (their steps are
    # normalised); an eps above the gradients' size there turns the last stretch into
    # gradient descent with step lr / eps, which converges.
    ("rmsprop", {"lr": 0.01, "eps": 0.1}),
    ("rmsprop", {"lr": 0.01, "momentum": 0.9, "centered": True, "eps": 0.1}),
    ("adam", {"lr": 0.02, "eps": 0.1}),
    ("adam", {"lr": 0.05, "amsgrad": True, "bias_correction": False, "eps": 0.1}),
]


@pytest.mark.parametrize("name, kwargs", CONVERGING)
def test_reaches_the_minimiser_of_a_quadratic(name, kwargs):
    x0 = np.array([[4.0, -3.0], [-2.0, 5.0]])
    path = run_path(QUADRATIC, make_optimizer(name, **kwargs), x0, 2000)
    np.testing.assert_allclose(path[:, -1], np.tile(QUADRATIC.x_star, (2, 1)), atol=1e-6)


def test_every_optimizer_has_a_smoke_test():
    assert {name for name, _ in CONVERGING} >= set(ref.REFERENCES)
