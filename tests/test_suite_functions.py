"""The function suite: gradients, known minima, a search for anything lower, special cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from optbench.config import load
from optbench.functions import FUNCTIONS, make_function
from optbench.optimizers import sgd
from optbench.runner import CONVERGED, DIVERGED, UNFINISHED, run, run_trials

EPS = np.finfo(np.float64).eps

# Every registered function with default parameters, plus N-D variants. The expression function
# has its own tests (test_user_defined.py).
CASES = [(name, {}) for name in FUNCTIONS if name != "expression"] + [
    ("rosenbrock", {"dim": 4}),
    ("styblinski_tang", {"dim": 5}),
    ("rastrigin", {"dim": 3}),
    ("rastrigin", {"dim": 2, "A": 3.0}),
    ("ackley", {"dim": 4}),
    ("ackley", {"dim": 1}),
    ("ill_conditioned", {"dim": 6, "kappa": 1000.0, "seed": 3}),
    ("ill_conditioned", {"dim": 1, "kappa": 1.0}),
]
IDS = [f"{name}{params or ''}" for name, params in CASES]
BOUNDED = [(n, p) for n, p in CASES if n != "saddle"]
BOUNDED_IDS = [f"{name}{params or ''}" for name, params in BOUNDED]


def central_differences(value_and_grad, x, h):
    """Plain central differences, one coordinate at a time."""
    g = np.empty_like(x)
    for i in range(x.shape[1]):
        step = np.zeros_like(x)
        step[:, i] = h[:, i]
        g[:, i] = (value_and_grad(x + step)[0] - value_and_grad(x - step)[0]) / (2 * h[:, i])
    return g


@pytest.mark.parametrize("name, params", CASES, ids=IDS)
def test_gradient_matches_central_differences(name, params):
    objective = make_function(name, **params)
    rng = np.random.default_rng(1)
    box = objective.bounds
    x = rng.uniform(box[:, 0], box[:, 1], size=(64, objective.dim))
    f, g = objective.value_and_grad(x)
    assert f.shape == (64,) and g.shape == (64, objective.dim)
    assert np.all(np.isfinite(f)) and np.all(np.isfinite(g))
    h = 1e-5 * (1.0 + np.abs(x))
    fd = central_differences(objective.value_and_grad, x, h)
    # Truncation error h^2 f'''/6 and rounding error eps |f| / h: with h ~ 1e-5 both stay far
    # below 1e-6 relative to the size of the function and its gradient.
    scale = 1.0 + np.abs(f)[:, None] + np.abs(g)
    assert np.all(np.abs(fd - g) <= 1e-6 * scale), np.max(np.abs(fd - g) / scale)


@pytest.mark.parametrize("name, params", BOUNDED, ids=BOUNDED_IDS)
def test_minimizers_give_f_star_and_zero_gradient(name, params):
    objective = make_function(name, **params)
    f, g = objective.value_and_grad(objective.minimizers.copy())
    # The minimisers are the exact minimisers rounded to double precision, so f - f* is of the
    # order of the rounding of f itself (f* is a minimum: the error is second order in the
    # position) and the gradient is H * (an ulp of x*) plus the rounding of terms of size
    # <= 100 at these points: 1e-13 is ~450 eps.
    assert np.all(np.abs(f - objective.f_star) <= 8 * EPS * (1.0 + abs(objective.f_star)))
    assert np.all(np.abs(g) <= 1e-13)
    assert objective.minimizers.shape[1] == objective.dim
    assert objective.bounds.shape == (objective.dim, 2)
    inside = (objective.minimizers >= objective.bounds[:, 0]) & (
        objective.minimizers <= objective.bounds[:, 1])
    assert inside.all()


def newton(value_and_grad, x, iterations=30):
    """Newton's method on grad f = 0 with a central-difference Hessian (one point)."""
    x = np.array(x, dtype=np.float64)
    for _ in range(iterations):
        g = value_and_grad(x[None, :])[1][0]
        H = np.empty((x.size, x.size))
        for i in range(x.size):
            e = np.zeros_like(x)
            e[i] = 1e-6
            H[:, i] = (value_and_grad((x + e)[None, :])[1][0]
                       - value_and_grad((x - e)[None, :])[1][0]) / 2e-6
        x = x - np.linalg.solve(H, g)
    return x


@pytest.mark.parametrize("name, published", [
    # Himmelblau (1972) and Jamil & Yang (2013) give six digits.
    ("himmelblau", [[3.0, 2.0], [-2.805118, 3.131312], [-3.779310, -3.283186],
                    [3.584428, -1.848126]]),
    # Jamil & Yang (2013): (0.0898, -0.7126) and (-0.0898, 0.7126).
    ("six_hump_camel", [[0.0898, -0.7126], [-0.0898, 0.7126]]),
    # Styblinski & Tang (1990): x_i = -2.903534.
    ("styblinski_tang", [[-2.903534, -2.903534]]),
])
def test_minimizers_are_newton_polished_published_values(name, published):
    objective = make_function(name)
    polished = np.array([newton(objective.value_and_grad, p) for p in published])
    np.testing.assert_allclose(objective.minimizers, polished, rtol=4 * EPS, atol=4 * EPS)


def test_six_hump_camel_and_styblinski_tang_minimum_values():
    # f* evaluated in closed form at the polished minimisers, term by term in Python floats.
    x, y = make_function("six_hump_camel").minimizers[0]
    f = (4 - 2.1 * x**2 + x**4 / 3) * x**2 + x * y + (-4 + 4 * y**2) * y**2
    assert abs(f - make_function("six_hump_camel").f_star) <= 4 * EPS
    t = make_function("styblinski_tang", dim=1).minimizers[0, 0]
    assert abs(4 * t**3 - 32 * t + 5) <= 1e-12  # the root of f'
    for dim in (1, 3, 7):
        objective = make_function("styblinski_tang", dim=dim)
        assert abs(objective.f_star - dim * 0.5 * (t**4 - 16 * t**2 + 5 * t)) <= 64 * EPS * dim


@pytest.mark.parametrize("name, params", [c for c in BOUNDED if c[0] != "ill_conditioned"]
                         + [("ill_conditioned", {"dim": 3, "kappa": 10.0})],
                         ids=[i for (n, _), i in zip(BOUNDED, BOUNDED_IDS) if n != "ill_conditioned"]
                         + ["ill_conditioned3"])
def test_search_from_random_starts_finds_nothing_below_f_star(name, params):
    scipy_optimize = pytest.importorskip("scipy.optimize")
    objective = make_function(name, **params)
    box = objective.bounds
    rng = np.random.default_rng(7)
    x = rng.uniform(box[:, 0], box[:, 1], size=(20000, objective.dim))
    f = objective.value_and_grad(x)[0]
    assert np.all(f >= objective.f_star - 1e-12 * (1 + abs(objective.f_star)))
    best = []
    # Polish the 12 best samples, and points near the known minimisers (in a multimodal N-D
    # landscape random samples rarely land in the global basin; these check f* is attained).
    near = objective.minimizers + rng.uniform(-1e-2, 1e-2, size=objective.minimizers.shape)
    for start in np.vstack([x[np.argsort(f)[:12]], near]):
        res = scipy_optimize.minimize(
            lambda z: objective.value_and_grad(z[None, :])[0][0], start,
            jac=lambda z: objective.value_and_grad(z[None, :])[1][0],
            method="L-BFGS-B", bounds=box, options={"ftol": 1e-15, "gtol": 1e-12},
        )
        best.append(res.fun)
    best = np.array(best)
    tol = 1e-9 * (1 + abs(objective.f_star))
    assert np.all(best >= objective.f_star - tol), best.min() - objective.f_star
    # ... and the search does reach f*, so f* is not set too low either.
    assert best.min() <= objective.f_star + 1e-6 * (1 + abs(objective.f_star))


def test_ackley_gradient_is_finite_at_and_near_the_origin():
    objective = make_function("ackley", dim=3)
    x = np.array([[0.0, 0.0, 0.0], [1e-300, 0.0, 0.0], [1e-200, -1e-200, 1e-200]])
    f, g = objective.value_and_grad(x)
    assert f[0] == 0.0 and np.all(g[0] == 0.0)
    assert np.all(np.isfinite(f)) and np.all(np.isfinite(g))
    # Along the x1 axis, f grows like a b |x1| / sqrt(D) (the cone), so the slope is ~ 4/sqrt(3).
    assert g[1, 0] == pytest.approx(20 * 0.2 / np.sqrt(3), rel=1e-12)


def test_ill_conditioned_quadratic_has_the_chosen_spectrum():
    dim, kappa = 7, 500.0
    objective = make_function("ill_conditioned", dim=dim, kappa=kappa, seed=11)
    # The gradient is linear: its values at the unit vectors are the Hessian's columns.
    H = objective.value_and_grad(np.eye(dim))[1].T
    np.testing.assert_allclose(H, H.T, atol=1e-12)
    eigenvalues = np.linalg.eigvalsh(H)
    np.testing.assert_allclose(eigenvalues, np.geomspace(1.0, kappa, dim), rtol=1e-12)
    f = objective.value_and_grad(np.eye(dim))[0]
    np.testing.assert_allclose(f, 0.5 * np.diag(H), rtol=1e-12)
    # The rotation depends on the seed, and only on it.
    other = make_function("ill_conditioned", dim=dim, kappa=kappa, seed=12)
    again = make_function("ill_conditioned", dim=dim, kappa=kappa, seed=11)
    x = np.random.default_rng(0).normal(size=(3, dim))
    assert not np.allclose(objective.value_and_grad(x)[0], other.value_and_grad(x)[0])
    np.testing.assert_array_equal(objective.value_and_grad(x)[1], again.value_and_grad(x)[1])


@pytest.mark.parametrize("name, params, message", [
    ("ill_conditioned", {"kappa": 0.5}, "kappa must be a finite number >= 1"),
    ("ill_conditioned", {"dim": 1, "kappa": 10.0}, "kappa must be 1 when dim is 1"),
    ("ill_conditioned", {"seed": -1}, "seed must be an integer >= 0"),
    ("rastrigin", {"dim": 0}, "dim must be an integer >= 1"),
    ("rastrigin", {"A": -1.0}, "A must be >= 0"),
    ("ackley", {"b": 0.0}, "b must be > 0"),
    ("styblinski_tang", {"dim": 2.5}, "dim must be an integer >= 1"),
])
def test_bad_parameters_are_rejected(name, params, message):
    with pytest.raises(ValueError, match=message):
        make_function(name, **params)


# ---------------------------------------------------------------------------------------------
# The saddle: unbounded below, so no trial may converge.


def run_sgd(objective, x0, lr, steps=200, **kwargs):
    options = {"target_kind": "gap", "target": 1e-6, "divergence_kind": "factor",
               "divergence": 1e6}
    options.update(kwargs)
    outcomes, _, _ = run_trials(objective, sgd(lr=lr), np.asarray(x0, dtype=np.float64), steps,
                                record_rows=np.zeros(0, dtype=np.int64), **options)
    return outcomes


def test_saddle_never_converges():
    objective = make_function("saddle")
    rng = np.random.default_rng(3)
    x0 = np.vstack([rng.uniform(-2, 2, size=(40, 2)), [[1.5, 0.0], [0.0, 0.0], [0.0, 1.0]]])
    lrs = [0.01, 0.1, 0.4, 0.5, 0.9, 1.5]
    for target in ({"target_kind": "gap"}, {"target_kind": "distance", "target": 1e3}):
        for lr in lrs:
            outcomes = run_sgd(objective, x0, lr, **target)
            assert set(outcomes["status"].tolist()) <= {DIVERGED, UNFINISHED}
            assert np.all(outcomes["first_hit"] == -1)
            assert np.all(outcomes["final_gap"] == np.inf)
            assert np.all(outcomes["final_distance"] == np.inf)


def test_saddle_escape_step_matches_the_closed_form():
    # Steepest descent on x^2 - y^2: x_k = (1 - 2 lr)^k x0, y_k = (1 + 2 lr)^k y0. The trial
    # diverges at the first k with |f(x_k)| > factor * |f(x_0)|.
    objective = make_function("saddle")
    x0 = np.array([[1.0, 0.5], [0.3, -1.2], [-1.7, 0.01], [1.5, 0.0]])
    lr, factor = 0.05, 1e4
    outcomes = run_sgd(objective, x0, lr, steps=300, divergence=factor)
    k = np.arange(301)[:, None]
    xs = (1 - 2 * lr) ** k * x0[:, 0]
    ys = (1 + 2 * lr) ** k * x0[:, 1]
    f = xs**2 - ys**2
    escaped = np.abs(f) > factor * np.abs(f[0])
    expected = np.where(escaped.any(axis=0), np.argmax(escaped, axis=0), -1)
    np.testing.assert_array_equal(outcomes["diverged_at"], expected)
    assert expected[:3].min() > 0 and expected[3] == -1  # the start on the x axis stays
    assert outcomes["status"].tolist() == [DIVERGED] * 3 + [UNFINISHED]


def test_distance_target_uses_the_nearest_of_himmelblau_minima():
    objective = make_function("himmelblau")
    x0 = objective.minimizers + 0.05
    outcomes = run_sgd(objective, x0, lr=0.01, steps=500, target_kind="distance", target=1e-6)
    assert np.all(outcomes["status"] == CONVERGED)
    assert np.all(outcomes["final_distance"] <= 1e-6)


# ---------------------------------------------------------------------------------------------
# The shipped configs of the suite.

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def test_conditioning_config_matches_steepest_descent_theory():
    """Steps to the target at lr = 2/(1 + κ), against the closed form of the iteration.

    With H the Hessian (read off the linear gradient, diagonalised independently of optbench's
    rotation), x_k = (I - lr H)^k x_0, so in H's eigenbasis z_k = r^k z_0 with r = 1 - lr λ
    and f(x_k) = 1/2 Σ λ z_0² r^{2k}. The first k with f(x_k) <= ε is optbench's first hit.
    Since |r| <= ρ = (κ - 1)/(κ + 1), the first hit is at most ln(f_0/ε) / (2 ln(1/ρ)) ~
    κ/4 · ln(f_0/ε): the steps grow linearly in κ.
    """
    config = load(CONFIGS / "conditioning.yaml")
    output = run(config)
    outcomes = output.outcomes
    assert np.all(outcomes.status == CONVERGED)
    medians = {}
    for batch in output.plan.batches:
        kappa = batch.function.params["kappa"]
        lr = float(batch.hyperparameters["lr"][0])
        assert lr == pytest.approx(2 / (1 + kappa), rel=1e-15)
        H = batch.objective.value_and_grad(np.eye(batch.objective.dim))[1].T
        lam, Q = np.linalg.eigh(0.5 * (H + H.T))
        z0 = batch.x0 @ Q
        k = np.arange(config.steps + 1)[:, None, None]
        gaps = 0.5 * np.sum(lam * z0**2 * (1 - lr * lam) ** (2 * k), axis=-1)  # (K+1, T)
        expected = np.argmax(gaps <= config.target.value, axis=0)
        rows = np.isin(outcomes.group, np.unique(batch.group_ids))
        got = outcomes.first_hit[rows]
        # Equal, but for a gap that lands within rounding of the target (one step either way).
        assert np.all(np.abs(got - expected) <= 1), (kappa, got, expected)
        rho = (kappa - 1) / (kappa + 1)
        f0 = gaps[0]
        if kappa > 1:
            bound = np.ceil(np.log(f0 / config.target.value) / (2 * np.log(1 / rho)))
            assert np.all(got <= bound + 1)
        medians[kappa] = np.median(got / np.log(f0 / config.target.value))
    # Steps per unit of ln(f0/ε) scale like κ/4 (2 ln(1/ρ) ≈ 4/κ for large κ).
    assert medians[1] <= 1
    for kappa in (10, 100, 1000):  # measured: 2.3, 23.9, 245
        assert 0.8 * kappa / 4 <= medians[kappa] <= kappa / 4 + 1
    assert 8 <= medians[1000] / medians[100] <= 12


@pytest.mark.parametrize("name", ["classic", "conditioning", "noise"])
def test_suite_configs_load(name):
    config = load(CONFIGS / f"{name}.yaml")
    assert config.name == name
