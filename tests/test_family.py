"""The torch.optim first-order family, Lion and sign descent.

Trajectories of the torch optimizers are checked against torch in ``test_torch_parity.py``
(fixtures and live); here, their defaults against torch's, Lion and sign descent against plain
one-trial references written from their papers, and for each optimizer its argument errors,
per-trial hyperparameters, ``maximize``, purity and convergence on a quadratic.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from optbench.functions import make_function
from optbench.optimizers import OPTIMIZERS, make_optimizer

NEW = ("adamw", "adamax", "nadam", "radam", "adadelta", "rprop", "asgd", "lion", "sign_descent")

FUNCTIONS = {
    "isotropic": (lambda: make_function("paraboloid", a=[0.2, 0.2], c=-5.0), [6.0, 6.0]),
    "elongated": (lambda: make_function("paraboloid", a=[0.2, 2.0], c=-5.0), [5.1, 2.3]),
    "rosenbrock": (lambda: make_function("rosenbrock"), [-1.2, 1.0]),
}


def trajectory(name, kwargs, function, steps, x0=None):
    """``(steps, T, D)`` iterates of optbench's optimizer from the function's start point."""
    make, start = FUNCTIONS[function]
    objective = make()
    x = np.atleast_2d(np.asarray(start if x0 is None else x0, dtype=np.float64))
    optimizer = make_optimizer(name, **kwargs)
    state = optimizer.init(x)
    out = np.empty((steps,) + x.shape)
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(1, steps + 1):
            _, g = objective.value_and_grad(x)
            x, state = optimizer.update(x, g, state, k)
            out[k - 1] = x
    return out


# ---------------------------------------------------------------------------------------------
# torch.optim's defaults

TORCH_NAMES = {
    "adamw": "AdamW", "adamax": "Adamax", "nadam": "NAdam", "radam": "RAdam",
    "adadelta": "Adadelta", "rprop": "Rprop", "asgd": "ASGD",
}



def test_defaults_are_torchs():
    torch = pytest.importorskip("torch")
    for name, cls in TORCH_NAMES.items():
        defaults = getattr(torch.optim, cls)([torch.zeros(1, requires_grad=True)]).defaults
        for hname, hyper in OPTIMIZERS[name].hyperparameters.items():
            expected = defaults[hname]
            if isinstance(hyper.default, tuple):
                assert tuple(map(float, expected)) == hyper.default, (name, hname)
            else:
                assert expected == hyper.default, (name, hname)


# ---------------------------------------------------------------------------------------------
# Lion and sign descent, against the papers' algorithms written one trial at a time


def lion_reference(grad_fn, x0, steps, lr, beta1, beta2, weight_decay):
    """Chen et al. (2023), Algorithm 2, one coordinate at a time in plain Python."""
    x = [float(v) for v in x0]
    m = [0.0] * len(x)
    out = []
    for _ in range(steps):
        g = grad_fn(x)
        for i in range(len(x)):
            c = beta1 * m[i] + (1 - beta1) * g[i]
            sign = (c > 0) - (c < 0)
            x[i] = x[i] - lr * (sign + weight_decay * x[i])
            m[i] = beta2 * m[i] + (1 - beta2) * g[i]
        out.append(list(x))
    return np.array(out)


def sign_descent_reference(grad_fn, x0, steps, lr):
    x = [float(v) for v in x0]
    out = []
    for _ in range(steps):
        g = grad_fn(x)
        x = [xi - lr * ((gi > 0) - (gi < 0)) for xi, gi in zip(x, g)]
        out.append(list(x))
    return np.array(out)


def elongated_grad(x):
    return [2 * 0.2 * x[0], 2 * 2.0 * x[1]]


def rosenbrock_grad(x):
    a, b = x
    return [-400.0 * a * (b - a * a) - 2.0 * (1.0 - a), 200.0 * (b - a * a)]


@pytest.mark.parametrize("kwargs", [
    {"lr": 0.01},
    {"lr": 0.05, "betas": (0.5, 0.9)},
    {"lr": 0.01, "weight_decay": 0.5},
    {"lr": 0.02, "betas": (0.95, 0.98), "weight_decay": 0.1},
])
@pytest.mark.parametrize("function, grad_fn", [
    ("elongated", elongated_grad), ("rosenbrock", rosenbrock_grad),
])
def test_lion_matches_the_paper(kwargs, function, grad_fn):
    beta1, beta2 = kwargs.get("betas", (0.9, 0.99))
    expected = lion_reference(grad_fn, FUNCTIONS[function][1], 1000, kwargs["lr"], beta1, beta2,
                              kwargs.get("weight_decay", 0.0))
    got = trajectory("lion", kwargs, function, 1000)[:, 0]
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("lr", [0.01, 0.3])
@pytest.mark.parametrize("function, grad_fn", [
    ("elongated", elongated_grad), ("rosenbrock", rosenbrock_grad),
])
def test_sign_descent_matches_the_rule(lr, function, grad_fn):
    expected = sign_descent_reference(grad_fn, FUNCTIONS[function][1], 1000, lr)
    got = trajectory("sign_descent", {"lr": lr}, function, 1000)[:, 0]
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)


def test_lion_defaults_are_the_papers():
    hypers = OPTIMIZERS["lion"].hyperparameters
    assert hypers["lr"].default == 1e-4
    assert hypers["betas"].default == (0.9, 0.99)
    assert hypers["weight_decay"].default == 0.0


def test_lion_moves_every_coordinate_by_lr():
    x = np.array([[3.0, -2.0, 1e-9]])
    g = np.array([[1e-12, -5.0, 7.0]])
    optimizer = make_optimizer("lion", lr=0.25)
    x1, _ = optimizer.update(x, g, optimizer.init(x), 1)
    np.testing.assert_array_equal(x1, [[2.75, -1.75, 1e-9 - 0.25]])


# ---------------------------------------------------------------------------------------------
# Argument errors

ERRORS = [
    ("adamw", {"lr": -1.0}, r"lr must be in \[0, inf\), got -1.0"),
    ("adamw", {"betas": (0.9, 1.0)}, r"betas\[1\] must be in \[0, 1\), got 1.0"),
    ("adamw", {"weight_decay": -0.1}, r"weight_decay must be in \[0, inf\), got -0.1"),
    ("adamw", {"eps": np.array([1e-8, -1.0])}, r"eps must be in \[0, inf\), got -1.0"),
    ("adamax", {"betas": (-0.1, 0.9)}, r"betas\[0\] must be in \[0, 1\), got -0.1"),
    ("adamax", {"eps": -1e-8}, r"eps must be in \[0, inf\)"),
    ("adamax", {"betas": (0.9,)}, r"betas must be a pair of numbers"),
    ("nadam", {"momentum_decay": -1.0}, r"momentum_decay must be in \[0, inf\), got -1.0"),
    ("nadam", {"lr": float("nan")}, r"lr must be in \[0, inf\), got nan"),
    ("radam", {"betas": (0.9, 1.5)}, r"betas\[1\] must be in \[0, 1\), got 1.5"),
    ("radam", {"weight_decay": -1.0}, r"weight_decay must be in"),
    ("adadelta", {"rho": 1.1}, r"rho must be in \[0, 1\], got 1.1"),
    ("adadelta", {"lr": -0.5}, r"lr must be in \[0, inf\), got -0.5"),
    ("rprop", {"etas": (1.5, 1.2)}, r"etas must satisfy 0 < etas\[0\] < 1 < etas\[1\]"),
    ("rprop", {"etas": (0.5, 0.9)}, r"etas must satisfy 0 < etas\[0\] < 1 < etas\[1\]"),
    ("rprop", {"etas": (0.0, 1.2)}, r"etas\[0\] must be in \(0, inf\), got 0.0"),
    ("rprop", {"step_sizes": (1.0, 0.1)}, r"step_sizes must satisfy step_sizes\[0\] <= "),
    ("rprop", {"step_sizes": (-1.0, 1.0)}, r"step_sizes\[0\] must be in \[0, inf\)"),
    ("asgd", {"lambd": -1.0}, r"lambd must be in \[0, inf\), got -1.0"),
    ("asgd", {"alpha": -0.75}, r"alpha must be in \[0, inf\), got -0.75"),
    ("asgd", {"t0": -1.0}, r"t0 must be in \[0, inf\), got -1.0"),
    ("lion", {"betas": (0.9, 1.01)}, r"betas\[1\] must be in \[0, 1\], got 1.01"),
    ("lion", {"lr": -1e-4}, r"lr must be in \[0, inf\), got -0.0001"),
    ("lion", {"weight_decay": -1.0}, r"weight_decay must be in \[0, inf\)"),
    ("sign_descent", {"lr": -0.1}, r"lr must be in \[0, inf\), got -0.1"),
    ("sign_descent", {"lr": np.ones((2, 2))}, r"lr must be a scalar or have shape \(trials,\)"),
]


@pytest.mark.parametrize("name, kwargs, message", ERRORS,
                         ids=[f"{n}-{'-'.join(k)}" for n, k, _ in ERRORS])
def test_argument_errors(name, kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_optimizer(name, **kwargs)


def test_every_new_optimizer_has_error_cases():
    assert {n for n, _, _ in ERRORS} == set(NEW)


# ---------------------------------------------------------------------------------------------
# Per-trial hyperparameters, maximize, purity

# Two values per numeric hyperparameter: a batch of both equals two one-trial runs.
PER_TRIAL = {
    "adamw": {"lr": [0.1, 0.03], "betas": ([0.9, 0.5], [0.999, 0.9]), "eps": [1e-8, 1e-3],
              "weight_decay": [0.01, 0.2]},
    "adamax": {"lr": [0.1, 0.03], "betas": ([0.9, 0.5], [0.999, 0.9]), "eps": [1e-8, 1e-3],
               "weight_decay": [0.0, 0.2]},
    "nadam": {"lr": [0.1, 0.03], "betas": ([0.9, 0.5], [0.999, 0.9]), "eps": [1e-8, 1e-3],
              "weight_decay": [0.0, 0.2], "momentum_decay": [4e-3, 0.1]},
    "radam": {"lr": [0.1, 0.03], "betas": ([0.9, 0.5], [0.999, 0.8]), "eps": [1e-8, 1e-3],
              "weight_decay": [0.0, 0.2]},
    "adadelta": {"lr": [1.0, 0.3], "rho": [0.9, 0.5], "eps": [1e-6, 1e-3],
                 "weight_decay": [0.0, 0.2]},
    "rprop": {"lr": [0.01, 0.3], "etas": ([0.5, 0.3], [1.2, 1.5]),
              "step_sizes": ([1e-6, 1e-3], [50.0, 0.5])},
    "asgd": {"lr": [0.1, 0.03], "lambd": [1e-4, 1e-2], "alpha": [0.75, 0.5], "t0": [1e6, 5.0],
             "weight_decay": [0.0, 0.2]},
    "lion": {"lr": [0.01, 0.003], "betas": ([0.9, 0.5], [0.99, 0.9]),
             "weight_decay": [0.0, 0.2]},
    "sign_descent": {"lr": [0.01, 0.3]},
}


def _as_arrays(kwargs, rows):
    return {k: tuple(np.array(c)[rows] for c in v) if isinstance(v, tuple) else np.array(v)[rows]
            for k, v in kwargs.items()}


@pytest.mark.parametrize("name", NEW)
@pytest.mark.parametrize("function", ["elongated", "rosenbrock"])
def test_per_trial_hyperparameters_equal_separate_runs(name, function):
    kwargs = PER_TRIAL[name]
    assert set(kwargs) == {k for k, h in OPTIMIZERS[name].hyperparameters.items()
                           if h.kind in ("float", "pair")}
    if function == "rosenbrock":
        kwargs = {k: ([v / 30 for v in val] if k == "lr" else val) for k, val in kwargs.items()}
    start = FUNCTIONS[function][1]
    batch = trajectory(name, _as_arrays(kwargs, slice(None)), function, 300, x0=[start, start])
    assert np.all(np.isfinite(batch))
    for i in range(2):
        # A batch of one with the same (1,) arrays: NumPy's power of an array may differ from
        # Python's power of a float (the scalar path, tested against torch) by one ulp.
        alone = trajectory(name, _as_arrays(kwargs, slice(i, i + 1)), function, 300)
        np.testing.assert_array_equal(batch[:, i], alone[:, 0])
    assert not np.allclose(batch[:, 0], batch[:, 1])


@pytest.mark.parametrize("name", NEW)
def test_scalar_and_array_hyperparameters_agree(name):
    kwargs = {k: (tuple(c[0] for c in v) if isinstance(v, tuple) else v[0])
              for k, v in PER_TRIAL[name].items()}
    scalar = trajectory(name, kwargs, "isotropic", 200)
    array = trajectory(name, _as_arrays({k: (tuple([c] for c in v) if isinstance(v, tuple)
                                             else [v]) for k, v in kwargs.items()}, slice(None)),
                       "isotropic", 200)
    np.testing.assert_allclose(array, scalar, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", NEW)
def test_maximize_ascends_along_the_gradient(name):
    rng = np.random.default_rng(7)
    x = rng.normal(size=(3, 2))
    grads = rng.normal(size=(5, 3, 2))
    up, down = make_optimizer(name, maximize=True), make_optimizer(name)
    xu, su = x, up.init(x)
    xd, sd = x, down.init(x)
    for k, g in enumerate(grads, start=1):
        xu, su = up.update(xu, g, su, k)
        xd, sd = down.update(xd, -g, sd, k)
    np.testing.assert_array_equal(xu, xd)
    assert not np.array_equal(xu, x)


@pytest.mark.parametrize("name", NEW)
def test_update_is_pure_and_keeps_shape_and_dtype(name):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4, 3))
    g = rng.normal(size=(4, 3))
    optimizer = make_optimizer(name)
    state = optimizer.init(x)
    x_copy, g_copy = x.copy(), g.copy()
    x1, s1 = optimizer.update(x, g, state, 1)
    x1_again, _ = optimizer.update(x, g, state, 1)
    np.testing.assert_array_equal(x, x_copy)
    np.testing.assert_array_equal(g, g_copy)
    np.testing.assert_array_equal(x1, x1_again)
    assert x1.shape == x.shape and x1.dtype == np.float64
    x2, _ = optimizer.update(x1, g, s1, 2)
    assert x2.shape == x.shape


@pytest.mark.parametrize("name", NEW)
def test_zero_learning_rate_leaves_x_unchanged(name):
    x = np.array([[1.0, -2.0], [3.0, 0.5]])
    kwargs = {"lr": 0.0}
    if name == "rprop":
        kwargs["step_sizes"] = (0.0, 50.0)  # the lower bound would otherwise lift 0 to 1e-6
    optimizer = make_optimizer(name, **kwargs)
    state = optimizer.init(x)
    y = x
    for k in range(1, 4):
        y, state = optimizer.update(y, np.array([[1.0, 2.0], [-3.0, 4.0]]), state, k)
    np.testing.assert_array_equal(y, x)


# ---------------------------------------------------------------------------------------------
# Smoke convergence on a quadratic

CONVERGENCE = {
    "adamw": ({"lr": 0.1, "weight_decay": 0.0}, 1e-8),
    "adamax": ({"lr": 0.1}, 1e-8),
    "nadam": ({"lr": 0.1}, 1e-8),
    "radam": ({"lr": 0.1}, 1e-8),
    "adadelta": ({"lr": 0.5, "eps": 0.1}, 1e-8),
    "rprop": ({"lr": 0.1}, 1e-6),
    "asgd": ({"lr": 0.5}, 1e-8),
    # Sign methods move every coordinate by lr: they end within lr of the minimum.
    "lion": ({"lr": 0.01}, 0.02),
    "sign_descent": ({"lr": 0.01}, 0.02),
}


@pytest.mark.parametrize("name", NEW)
def test_reaches_the_minimum_of_a_quadratic(name):
    kwargs, tolerance = CONVERGENCE[name]
    path = trajectory(name, kwargs, "elongated", 2000)
    assert np.all(np.isfinite(path))
    assert np.max(np.abs(path[-1])) <= tolerance


def test_adamw_is_adam_with_decoupled_weight_decay():
    """AdamW's decay shrinks x by 1 - lr·λ (Adam's decoupled option), not an L2 gradient term."""
    adamw = trajectory("adamw", {"lr": 0.1, "weight_decay": 0.1}, "elongated", 5)
    adam_l2 = trajectory("adam", {"lr": 0.1, "weight_decay": 0.1}, "elongated", 5)
    adam_decoupled = trajectory("adam", {"lr": 0.1, "weight_decay": 0.1,
                                         "decoupled_weight_decay": True}, "elongated", 5)
    np.testing.assert_array_equal(adamw, adam_decoupled)
    assert not np.allclose(adamw, adam_l2)


def test_registry_lists_every_new_optimizer():
    assert set(NEW) <= set(OPTIMIZERS)
    for name in NEW:
        spec = OPTIMIZERS[name]
        assert spec.summary and not re.search(r"\bTODO\b", spec.factory.__doc__ or "")
        assert "References:" in spec.factory.__doc__
