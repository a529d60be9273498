"""Test functions: gradients against central differences, known minima, factory errors."""

from __future__ import annotations

import numpy as np
import pytest

from optbench.config import ConfigError, loads
from optbench.functions import make_function, paraboloid, quadratic, rosenbrock

RNG_SEED = 20231


def _central_difference(objective, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """(f(x + h e_i) − f(x − h e_i)) / 2h for every row and coordinate, shape of ``x``."""
    grad = np.empty_like(x)
    for i in range(x.shape[1]):
        step = np.zeros(x.shape[1])
        step[i] = h
        grad[:, i] = (objective.value_and_grad(x + step)[0]
                      - objective.value_and_grad(x - step)[0]) / (2 * h)
    return grad


OBJECTIVES = {
    "isotropic paraboloid": paraboloid(a=(0.2, 0.2), c=-5.0),
    "elongated paraboloid": paraboloid(a=(0.2, 2.0), c=-5.0),
    "paraboloid 5-D": paraboloid(a=(0.1, 0.5, 1.0, 3.0, 7.0), c=2.5),
    "quadratic": quadratic(A=((3.0, 1.0), (1.0, 2.0)), b=(1.0, -1.0), c=0.5),
    "quadratic 3-D": quadratic(A=((4.0, 1.0, 0.5), (1.0, 3.0, 0.2), (0.5, 0.2, 2.0)),
                               b=(1.0, 2.0, -3.0), c=-1.0),
    "rosenbrock 2-D": rosenbrock(2),
    "rosenbrock 3-D": rosenbrock(3),
    "rosenbrock 7-D": rosenbrock(7),
}


@pytest.mark.parametrize("name", OBJECTIVES)
def test_gradient_matches_central_differences(name):
    objective = OBJECTIVES[name]
    rng = np.random.default_rng(RNG_SEED)
    box = objective.bounds
    x = rng.uniform(box[:, 0], box[:, 1], size=(50, objective.dim))
    f, grad = objective.value_and_grad(x)
    assert f.shape == (50,) and grad.shape == x.shape
    np.testing.assert_allclose(grad, _central_difference(objective, x), rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("name", OBJECTIVES)
def test_minimiser_gives_f_star_and_a_zero_gradient(name):
    objective = OBJECTIVES[name]
    f, grad = objective.value_and_grad(objective.minimizers)
    np.testing.assert_allclose(f, objective.f_star, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(grad, 0.0, atol=1e-14)
    assert np.all(objective.distance_to_minimizer(objective.minimizers) == 0)


def test_values_against_their_formulas():
    x = np.array([[6.0, 6.0], [5.1, 2.3], [-1.2, 1.0]])
    f, _ = OBJECTIVES["elongated paraboloid"].value_and_grad(x)
    np.testing.assert_allclose(f, 0.2 * x[:, 0] ** 2 + 2.0 * x[:, 1] ** 2 - 5.0, rtol=1e-15)
    f, _ = OBJECTIVES["rosenbrock 2-D"].value_and_grad(x)
    np.testing.assert_allclose(f, 100 * (x[:, 1] - x[:, 0] ** 2) ** 2 + (1 - x[:, 0]) ** 2,
                               rtol=1e-15)
    assert f[2] == pytest.approx(24.2, rel=1e-14)  # Rosenbrock's classic start
    A, b = np.array([[3.0, 1.0], [1.0, 2.0]]), np.array([1.0, -1.0])
    f, _ = OBJECTIVES["quadratic"].value_and_grad(x)
    np.testing.assert_allclose(f, [0.5 * p @ A @ p + b @ p + 0.5 for p in x], rtol=1e-14)


def test_quadratic_minimiser_is_minus_a_inverse_b():
    """A = [[3, 1], [1, 2]], b = (1, −1): x* = −A⁻¹b = (−3/5, 4/5), f* = c − ½ bᵀA⁻¹b = 0.5 − 0.7."""
    objective = OBJECTIVES["quadratic"]
    np.testing.assert_allclose(objective.x_star, [-0.6, 0.8], rtol=1e-15)
    assert objective.f_star == pytest.approx(-0.2, rel=1e-14)


def test_paraboloid_minimum_is_c_at_the_origin():
    objective = OBJECTIVES["paraboloid 5-D"]
    np.testing.assert_array_equal(objective.x_star, np.zeros(5))
    assert objective.f_star == 2.5 and objective.dim == 5


def test_distance_to_minimizer_is_euclidean():
    objective = OBJECTIVES["rosenbrock 3-D"]
    x = np.array([[1.0, 1.0, 1.0], [4.0, 5.0, 1.0], [1.0, 1.0, -1.0]])
    np.testing.assert_allclose(objective.distance_to_minimizer(x), [0.0, 5.0, 2.0], rtol=1e-15)


def test_rows_are_independent():
    objective = OBJECTIVES["rosenbrock 7-D"]
    x = np.random.default_rng(RNG_SEED).normal(size=(6, 7))
    f, g = objective.value_and_grad(x)
    for i in range(6):
        fi, gi = objective.value_and_grad(x[i:i + 1])
        np.testing.assert_array_equal(fi, f[i:i + 1])
        np.testing.assert_array_equal(gi, g[i:i + 1])


ERRORS = [
    ("paraboloid", {"a": []}, r"^a must be a non-empty list of numbers, got \[\]$"),
    ("paraboloid", {"a": [[1, 2]]}, r"^a must be a non-empty list of numbers"),
    ("paraboloid", {"a": [0.2, -1]}, r"^a must be > 0 in every coordinate, got \[0\.2, -1\.0\]$"),
    ("paraboloid", {"a": [0.2, 0.0]}, r"^a must be > 0 in every coordinate"),
    ("paraboloid", {"a": [1, float("inf")]}, r"^a must be finite, got \[1, inf\]$"),
    ("paraboloid", {"c": float("nan")}, r"^c must be a finite number, got nan$"),
    ("paraboloid", {"c": float("inf")}, r"^c must be a finite number, got inf$"),
    ("quadratic", {"A": [[1, 2, 3]]}, r"^A must be a square matrix .*got shape \(1, 3\)$"),
    ("quadratic", {"A": []}, r"^A must be a square matrix .*got shape \(0,\)$"),
    ("quadratic", {"A": [[1, 2], [3, 4]]}, r"^A must be symmetric$"),
    ("quadratic", {"A": [[1, 0], [0, -1]]},
     r"^A must be positive definite, its smallest eigenvalue is -1$"),
    ("quadratic", {"A": [[1, 0], [0, 0]]}, r"^A must be positive definite"),
    ("quadratic", {"A": [[1, 0], [0, float("nan")]]}, r"^A must be finite$"),
    ("quadratic", {"A": [[1, 0], [0, 1]], "b": [1, 2, 3]}, r"^b must have 2 entries, got 3$"),
    ("quadratic", {"c": float("nan")}, r"^c must be a finite number, got nan$"),
    ("rosenbrock", {"dim": 1}, r"^dim must be an integer >= 2, got 1$"),
    ("rosenbrock", {"dim": 2.5}, r"^dim must be an integer >= 2, got 2\.5$"),
    ("rosenbrock", {"dim": True}, r"^dim must be an integer >= 2, got True$"),
    ("nope", {}, r"^unknown function 'nope'$"),
]


@pytest.mark.parametrize("name, params, message", ERRORS)
def test_factory_errors(name, params, message):
    with pytest.raises(ValueError, match=message):
        make_function(name, **params)


def test_a_non_finite_offset_in_a_config_is_a_config_error():
    text = ("functions:\n  - function: paraboloid\n    a: [1, 2]\n    c: .nan\n"
            "    start: [1, 1]\noptimizers:\n  - optimizer: sgd\n")
    with pytest.raises(ConfigError, match=r"^t\.yaml:4: functions\[0\]\.c: c must be a finite "
                                          r"number, got nan$"):
        loads(text, source="t.yaml")


# --- exact gaps -------------------------------------------------------------------------------


def _exact_gap(objective_name, x, **params):
    """f(x) - f* in rational arithmetic (the quadratic's f* from its rounded minimiser)."""
    from fractions import Fraction

    if objective_name == "paraboloid":
        return [float(sum(Fraction(a) * Fraction(v) ** 2 for a, v in zip(params["a"], row)))
                for row in x]
    A = [[Fraction(v) for v in row] for row in params["A"]]
    x_star = [Fraction(v) for v in make_function("quadratic", **params).x_star]
    out = []
    for row in x:
        d = [Fraction(v) - s for v, s in zip(row, x_star)]
        out.append(float(sum(d[i] * A[i][j] * d[j] for i in range(len(d)) for j in range(len(d)))
                         / 2))
    return out


@pytest.mark.parametrize("name, params, deepest", [
    # x* = 0: offsets down to 1e-150 are representable.
    ("paraboloid", {"a": [0.2, 2.0], "c": -5.0}, -150),
    # x* != 0: offsets must stay above its last bit (1e-14 relative).
    ("quadratic", {"A": [[2.0, 0.5], [0.5, 1.0]], "b": [1.0, -3.0], "c": 1e9}, -13),
])
def test_gaps_are_exact_near_the_minimum_whatever_the_offset(name, params, deepest):
    objective = make_function(name, **params)
    rng = np.random.default_rng(4)
    offsets = rng.normal(size=(50, 2)) * 10.0 ** rng.integers(deepest, 0, size=(50, 1))
    x = objective.x_star + offsets
    f, gap, grad = objective.value_gap_and_grad(x)
    assert np.all(np.isfinite(gap)) and np.all(gap > 0)
    np.testing.assert_allclose(gap, _exact_gap(name, x, **params), rtol=1e-13)
    # f - f* itself cannot resolve these gaps: the offset swallows them.
    value, value_grad = objective.value_and_grad(x)
    assert np.mean(value - objective.f_star == 0) > 0.5
    np.testing.assert_array_equal(grad, value_grad)
    np.testing.assert_allclose(f, value, rtol=1e-12)
