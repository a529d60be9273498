r"""Test functions: vectorized value and gradient over ``(trials, dim)`` points.

Every function is built by a factory registered in :data:`FUNCTIONS`; the factory checks its
parameters and returns an :class:`Objective` that carries its known answers (minimisers, the
minimum value, a plot box) as data, like scipy's benchmark functions.

This module imports NumPy alone.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

ValueAndGrad = Callable[[np.ndarray], "tuple[np.ndarray, np.ndarray]"]


@dataclass(frozen=True)
class Objective:
    """A test function with its known answers.

    Attributes:
      name: registry name of the function (``paraboloid``, ``rosenbrock``, ...).
      dim: number of coordinates ``D``.
      value_and_grad: ``x (T, D) -> (f (T,), grad (T, D))``; value and gradient share one pass.
      minimizers: ``(M, D)`` array of the known global minimisers (``M >= 1``).
      f_star: the global minimum value.
      bounds: ``(D, 2)`` array, a box that shows the interesting part of the landscape.
    """

    name: str
    dim: int
    value_and_grad: ValueAndGrad = field(repr=False)
    minimizers: np.ndarray = field(repr=False)
    f_star: float
    bounds: np.ndarray = field(repr=False)

    @property
    def x_star(self) -> np.ndarray:
        """The first known minimiser, shape ``(D,)``."""
        return self.minimizers[0]

    def distance_to_minimizer(self, x: np.ndarray) -> np.ndarray:
        """Euclidean distance from each row of ``x`` (T, D) to its nearest minimiser, shape (T,)."""
        if len(self.minimizers) == 1:
            return np.sqrt(np.sum((x - self.minimizers[0]) ** 2, axis=-1))
        diff = x[:, None, :] - self.minimizers[None, :, :]
        return np.sqrt(np.min(np.sum(diff**2, axis=-1), axis=-1))


@dataclass(frozen=True)
class FunctionSpec:
    """A registered function factory with what ``optbench list`` shows of it."""

    name: str
    factory: Callable[..., Objective]
    summary: str
    formula: str

    def parameters(self) -> dict[str, object]:
        """Parameter names of the factory and their defaults (``inspect.Parameter.empty`` if required)."""
        return {
            p.name: p.default for p in inspect.signature(self.factory).parameters.values()
        }


FUNCTIONS: dict[str, FunctionSpec] = {}


def register_function(name: str, formula: str):
    """Register a factory under ``name``; the docstring's first line is its summary."""

    def decorate(factory: Callable[..., Objective]) -> Callable[..., Objective]:
        summary = (factory.__doc__ or "").strip().splitlines()[0]
        FUNCTIONS[name] = FunctionSpec(name, factory, summary, formula)
        return factory

    return decorate


def make_function(name: str, **params) -> Objective:
    """Build the registered function ``name`` with ``params``; ValueError on bad parameters."""
    try:
        spec = FUNCTIONS[name]
    except KeyError:
        raise ValueError(f"unknown function {name!r}") from None
    return spec.factory(**params)


def _as_vector(name: str, value, dim: int | None = None) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty list of numbers, got {value!r}")
    if dim is not None and arr.size != dim:
        raise ValueError(f"{name} must have {dim} entries, got {arr.size}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return arr


def _box_around(center: np.ndarray, half_width: np.ndarray) -> np.ndarray:
    return np.stack([center - half_width, center + half_width], axis=-1)


@register_function("paraboloid", "f(x) = sum_i a_i x_i^2 + c")
def paraboloid(a=(0.2, 2.0), c: float = 0.0) -> Objective:
    r"""Axis-aligned paraboloid (diagonal quadratic), the book's running example.

    .. math::  f(x) = \sum_{i=1}^{D} a_i x_i^2 + c, \qquad \nabla f(x)_i = 2 a_i x_i

    Domain: :math:`\mathbb{R}^D`. Global minimum :math:`f(0) = c`. With all :math:`a_i` equal the
    paraboloid is isotropic and steepest descent with :math:`\eta = 1/(2a)` reaches the minimum in
    one step; otherwise it is stable for :math:`\eta < 1/\max_i a_i`.

    Args:
      a: curvature coefficients :math:`a_i > 0`, one per coordinate (their count is the dimension).
      c: constant offset, the minimum value.

    References:
      Keydana, *Deep Learning and Scientific Computing with R torch* (2023), ch. 8:
      :math:`0.2x_1^2 + 0.2x_2^2 - 5` and :math:`0.2x_1^2 + 2x_2^2 - 5`.
    """
    a = _as_vector("a", a)
    if np.any(a <= 0):
        raise ValueError(f"a must be > 0 in every coordinate, got {a.tolist()}")
    c = float(c)
    two_a = 2.0 * a

    def value_and_grad(x):
        return np.sum(a * x * x, axis=-1) + c, two_a * x

    dim = a.size
    return Objective(
        name="paraboloid",
        dim=dim,
        value_and_grad=value_and_grad,
        minimizers=np.zeros((1, dim)),
        f_star=c,
        bounds=_box_around(np.zeros(dim), np.full(dim, 7.0)),
    )


@register_function("quadratic", "f(x) = 1/2 x^T A x + b^T x + c")
def quadratic(A=((1.0, 0.0), (0.0, 1.0)), b=None, c: float = 0.0) -> Objective:
    r"""General convex quadratic with a symmetric positive definite matrix.

    .. math::  f(x) = \tfrac12 x^\top A x + b^\top x + c, \qquad \nabla f(x) = A x + b

    Domain: :math:`\mathbb{R}^D`. Global minimum at :math:`x^* = -A^{-1} b` with
    :math:`f^* = c - \tfrac12 b^\top A^{-1} b`. Steepest descent is stable for
    :math:`\eta < 2/\lambda_{\max}(A)` and needs :math:`O(\kappa \log 1/\epsilon)` steps.

    Args:
      A: symmetric positive definite ``D x D`` matrix.
      b: linear term, ``D`` numbers (default zeros).
      c: constant offset.
    """
    A = np.asarray(A, dtype=np.float64)
    if A.ndim != 2 or A.shape[0] != A.shape[1] or A.size == 0:
        raise ValueError(f"A must be a square matrix (a list of equal-length rows), got shape {A.shape}")
    if not np.all(np.isfinite(A)):
        raise ValueError("A must be finite")
    if not np.allclose(A, A.T, rtol=0.0, atol=0.0):
        raise ValueError("A must be symmetric")
    dim = A.shape[0]
    eigenvalues = np.linalg.eigvalsh(A)
    if eigenvalues[0] <= 0:
        raise ValueError(
            f"A must be positive definite, its smallest eigenvalue is {eigenvalues[0]:.6g}"
        )
    b = np.zeros(dim) if b is None else _as_vector("b", b, dim)
    c = float(c)
    x_star = -np.linalg.solve(A, b)
    f_star = c + 0.5 * float(b @ x_star)
    A_T = A.T.copy()

    def value_and_grad(x):
        Ax = x @ A_T
        return 0.5 * np.sum(x * Ax, axis=-1) + x @ b + c, Ax + b

    half_width = np.maximum(3.0 * np.abs(x_star), 5.0)
    return Objective(
        name="quadratic",
        dim=dim,
        value_and_grad=value_and_grad,
        minimizers=x_star[None, :],
        f_star=f_star,
        bounds=_box_around(x_star, half_width),
    )


@register_function("rosenbrock", "f(x) = sum_i 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2")
def rosenbrock(dim: int = 2) -> Objective:
    r"""Rosenbrock's banana valley in ``dim`` dimensions.

    .. math::  f(x) = \sum_{i=1}^{D-1} \left[100\,(x_{i+1} - x_i^2)^2 + (1 - x_i)^2\right]

    .. math::  \partial_i f = -400\, x_i (x_{i+1} - x_i^2) - 2 (1 - x_i)
               + 200\, (x_i - x_{i-1}^2)

    Domain: :math:`\mathbb{R}^D`, usually :math:`[-2, 2]^D`. Global minimum
    :math:`f(1, \dots, 1) = 0`.

    Args:
      dim: number of coordinates, at least 2.

    References:
      Rosenbrock, "An automatic method for finding the greatest or least value of a function",
      The Computer Journal 3 (1960).
    """
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 2:
        raise ValueError(f"dim must be an integer >= 2, got {dim!r}")
    dim = int(dim)

    def value_and_grad(x):
        head, tail = x[:, :-1], x[:, 1:]
        valley = tail - head * head
        off = 1.0 - head
        f = np.sum(100.0 * valley * valley + off * off, axis=-1)
        g = np.zeros_like(x)
        g[:, :-1] = -400.0 * head * valley - 2.0 * off
        g[:, 1:] += 200.0 * valley
        return f, g

    bounds = np.tile([-2.0, 2.0], (dim, 1))
    bounds[1:] = [-1.0, 3.0]
    return Objective(
        name="rosenbrock",
        dim=dim,
        value_and_grad=value_and_grad,
        minimizers=np.ones((1, dim)),
        f_star=0.0,
        bounds=bounds,
    )
