r"""Test functions: vectorized value and gradient over ``(trials, dim)`` points.

Every function is built by a factory registered in :data:`FUNCTIONS`; the factory checks its
parameters and returns an :class:`Objective` that carries its known answers (minimisers, the
minimum value, a plot box) as data, like scipy's benchmark functions.

This module imports NumPy alone.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

ValueAndGrad = Callable[[np.ndarray], "tuple[np.ndarray, np.ndarray]"]


@dataclass(frozen=True)
class Objective:
    r"""A test function with its known answers.

    Attributes:
      name: registry name of the function (``paraboloid``, ``rosenbrock``, ...).
      dim: number of coordinates ``D``.
      value_and_grad: ``x (T, D) -> (f (T,), grad (T, D))``; value and gradient share one pass.
      minimizers: ``(M, D)`` array of the known global minimisers; ``M = 0`` for a function
        that is unbounded below.
      f_star: the global minimum value; ``-inf`` for a function that is unbounded below (every
        gap ``f - f*`` is then infinite, so no trial reaches a target; see :mod:`optbench.runner`).
      bounds: ``(D, 2)`` array, a box that shows the interesting part of the landscape.
      exact_gap_and_grad: optional ``x (T, D) -> (f - f* (T,), grad (T, D))`` computed without
        subtracting ``f*`` (the paraboloid's :math:`\sum a_i x_i^2`): where :math:`|f^*|` is
        large, ``f - f*`` cannot resolve gaps below :math:`|f^*| \epsilon` (9e-16 for the book's
        ``c = -5``), and a converged run would report a gap of exactly 0.
    """

    name: str
    dim: int
    value_and_grad: ValueAndGrad = field(repr=False)
    minimizers: np.ndarray = field(repr=False)
    f_star: float
    bounds: np.ndarray = field(repr=False)
    exact_gap_and_grad: ValueAndGrad | None = field(default=None, repr=False)

    def value_gap_and_grad(self, x: np.ndarray):
        """``(f, f - f*, grad)`` at ``x (T, D)``: the gap exact where the function provides it
        (then ``f = gap + f*``), else ``f - f*``."""
        if self.exact_gap_and_grad is not None:
            gap, grad = self.exact_gap_and_grad(x)
            return gap + self.f_star, gap, grad
        f, grad = self.value_and_grad(x)
        return f, f - self.f_star, grad

    @property
    def unbounded(self) -> bool:
        """True for a function unbounded below (``f_star = -inf``)."""
        return self.f_star == -np.inf

    @property
    def x_star(self) -> np.ndarray:
        """The first known minimiser, shape ``(D,)``."""
        return self.minimizers[0]

    def distance_to_minimizer(self, x: np.ndarray) -> np.ndarray:
        """Euclidean distance from each row of ``x`` (T, D) to its nearest minimiser, shape (T,).

        ``inf`` for every row when there is no minimiser (an unbounded function).
        """
        if len(self.minimizers) == 0:
            return np.full(x.shape[0], np.inf)
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
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite, got {value!r}")
    return arr


def _finite_number(name: str, value) -> float:
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return value


def _box_around(center: np.ndarray, half_width: np.ndarray) -> np.ndarray:
    box = np.empty((len(center), 2))
    box[:, 0] = center - half_width
    box[:, 1] = center + half_width
    return box


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
    if (a <= 0).any():
        raise ValueError(f"a must be > 0 in every coordinate, got {a.tolist()}")
    c = _finite_number("c", c)
    two_a = 2.0 * a

    def gap_and_grad(x):
        return np.sum(a * x * x, axis=-1), two_a * x

    def value_and_grad(x):
        gap, grad = gap_and_grad(x)
        return gap + c, grad

    dim = a.size
    return Objective(
        name="paraboloid",
        dim=dim,
        value_and_grad=value_and_grad,
        minimizers=np.zeros((1, dim)),
        f_star=c,
        bounds=_box_around(np.zeros(dim), np.full(dim, 7.0)),
        exact_gap_and_grad=gap_and_grad,
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
    c = _finite_number("c", c)
    x_star = -np.linalg.solve(A, b)
    f_star = c + 0.5 * float(b @ x_star)
    A_T = A.T.copy()

    def value_and_grad(x):
        Ax = x @ A_T
        return 0.5 * np.sum(x * Ax, axis=-1) + x @ b + c, Ax + b

    def gap_and_grad(x):
        # f - f* = 1/2 (x - x*)^T A (x - x*): no cancellation against f* near the minimum.
        d = x - x_star
        return 0.5 * np.sum(d * (d @ A_T), axis=-1), x @ A_T + b

    half_width = np.maximum(3.0 * np.abs(x_star), 5.0)
    return Objective(
        name="quadratic",
        dim=dim,
        value_and_grad=value_and_grad,
        minimizers=x_star[None, :],
        f_star=f_star,
        bounds=_box_around(x_star, half_width),
        exact_gap_and_grad=gap_and_grad,
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


# ---------------------------------------------------------------------------------------------
# The classic two-dimensional suite. Each value_and_grad takes ``x (T, 2)``.


def _check_dim(dim, low: int = 1) -> int:
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < low:
        raise ValueError(f"dim must be an integer >= {low}, got {dim!r}")
    return int(dim)


def _box(*intervals) -> np.ndarray:
    return np.array(intervals, dtype=np.float64)


def _with_grad(x, gx, gy):
    g = np.empty_like(x)
    g[:, 0] = gx
    g[:, 1] = gy
    return g


@register_function("beale", "f(x, y) = (1.5-x+xy)^2 + (2.25-x+xy^2)^2 + (2.625-x+xy^3)^2")
def beale() -> Objective:
    r"""Beale: a flat plateau between sharp ridges.

    .. math::  f(x, y) = (1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2

    .. math::  \partial_x f = \sum_{k=1}^{3} 2 t_k (y^k - 1), \qquad
               \partial_y f = \sum_{k=1}^{3} 2 t_k\, k x y^{k-1}

    with :math:`t_k` the three terms. Domain :math:`[-4.5, 4.5]^2`. Global minimum
    :math:`f(3, 0.5) = 0`.

    References:
      Beale, "On an iterative method for finding a local minimum of a function of more than one
      variable", Princeton University Statistical Techniques Research Group, Tech. Rep. 25 (1958);
      Jamil & Yang, "A literature survey of benchmark functions for global optimisation
      problems", Int. J. Math. Modelling and Numerical Optimisation 4 (2013), no. 13.
    """

    def value_and_grad(x):
        u, y = x[:, 0], x[:, 1]
        y2 = y * y
        y3 = y2 * y
        t1 = 1.5 - u + u * y
        t2 = 2.25 - u + u * y2
        t3 = 2.625 - u + u * y3
        f = t1 * t1 + t2 * t2 + t3 * t3
        gx = 2.0 * (t1 * (y - 1.0) + t2 * (y2 - 1.0) + t3 * (y3 - 1.0))
        gy = 2.0 * u * (t1 + 2.0 * t2 * y + 3.0 * t3 * y2)
        return f, _with_grad(x, gx, gy)

    return Objective("beale", 2, value_and_grad, np.array([[3.0, 0.5]]), 0.0,
                     _box([-4.5, 4.5], [-4.5, 4.5]))


@register_function("booth", "f(x, y) = (x + 2y - 7)^2 + (2x + y - 5)^2")
def booth() -> Objective:
    r"""Booth: a convex quadratic, condition number 9.

    .. math::  f(x, y) = (x + 2y - 7)^2 + (2x + y - 5)^2, \qquad
               \nabla f = (2a + 4b,\ 4a + 2b)

    with :math:`a = x + 2y - 7,\ b = 2x + y - 5`. Its Hessian has eigenvalues 2 and 18.
    Domain :math:`[-10, 10]^2`. Global minimum :math:`f(1, 3) = 0`.

    References:
      Jamil & Yang (2013), no. 23.
    """

    def value_and_grad(x):
        a = x[:, 0] + 2.0 * x[:, 1] - 7.0
        b = 2.0 * x[:, 0] + x[:, 1] - 5.0
        return a * a + b * b, _with_grad(x, 2.0 * a + 4.0 * b, 4.0 * a + 2.0 * b)

    return Objective("booth", 2, value_and_grad, np.array([[1.0, 3.0]]), 0.0,
                     _box([-10.0, 10.0], [-10.0, 10.0]))


@register_function("matyas", "f(x, y) = 0.26 (x^2 + y^2) - 0.48 xy")
def matyas() -> Objective:
    r"""Matyas: a flat, rotated convex quadratic.

    .. math::  f(x, y) = 0.26 (x^2 + y^2) - 0.48 xy, \qquad
               \nabla f = (0.52 x - 0.48 y,\ 0.52 y - 0.48 x)

    Domain :math:`[-10, 10]^2`. Global minimum :math:`f(0, 0) = 0`.

    References:
      Jamil & Yang (2013), no. 71.
    """

    def value_and_grad(x):
        u, y = x[:, 0], x[:, 1]
        f = 0.26 * (u * u + y * y) - 0.48 * u * y
        return f, _with_grad(x, 0.52 * u - 0.48 * y, 0.52 * y - 0.48 * u)

    return Objective("matyas", 2, value_and_grad, np.zeros((1, 2)), 0.0,
                     _box([-10.0, 10.0], [-10.0, 10.0]))


@register_function("himmelblau", "f(x, y) = (x^2 + y - 11)^2 + (x + y^2 - 7)^2")
def himmelblau() -> Objective:
    r"""Himmelblau: four global minima of equal value.

    .. math::  f(x, y) = (x^2 + y - 11)^2 + (x + y^2 - 7)^2, \qquad
               \nabla f = (4 x a + 2 b,\ 2 a + 4 y b)

    with :math:`a = x^2 + y - 11,\ b = x + y^2 - 7`. Domain :math:`[-5, 5]^2`. Global minimum
    :math:`f = 0` at :math:`(3, 2)`, :math:`(-2.805118\ldots, 3.131312\ldots)`,
    :math:`(-3.779310\ldots, -3.283185\ldots)` and :math:`(3.584428\ldots, -1.848126\ldots)`
    (the last three to full double precision in ``minimizers``).

    References:
      Himmelblau, *Applied Nonlinear Programming*, McGraw-Hill (1972).
    """

    def value_and_grad(x):
        u, y = x[:, 0], x[:, 1]
        a = u * u + y - 11.0
        b = u + y * y - 7.0
        return a * a + b * b, _with_grad(x, 4.0 * u * a + 2.0 * b, 2.0 * a + 4.0 * y * b)

    minimizers = np.array([
        [3.0, 2.0],
        [-2.805118086952745, 3.131312518250573],
        [-3.779310253377747, -3.2831859912861696],
        [3.5844283403304917, -1.8481265269644036],
    ])
    return Objective("himmelblau", 2, value_and_grad, minimizers, 0.0,
                     _box([-5.0, 5.0], [-5.0, 5.0]))


@register_function("three_hump_camel", "f(x, y) = 2x^2 - 1.05x^4 + x^6/6 + xy + y^2")
def three_hump_camel() -> Objective:
    r"""Three-hump camel: one global and two local minima.

    .. math::  f(x, y) = 2x^2 - 1.05x^4 + \tfrac16 x^6 + xy + y^2, \qquad
               \nabla f = (4x - 4.2x^3 + x^5 + y,\ x + 2y)

    Domain :math:`[-5, 5]^2`. Global minimum :math:`f(0, 0) = 0`; local minima near
    :math:`\pm(1.7476, -0.8738)` with :math:`f \approx 0.2986`.

    References:
      Jamil & Yang (2013), no. 29.
    """

    def value_and_grad(x):
        u, y = x[:, 0], x[:, 1]
        u2 = u * u
        u3 = u2 * u
        f = 2.0 * u2 - 1.05 * u2 * u2 + u3 * u3 / 6.0 + u * y + y * y
        return f, _with_grad(x, 4.0 * u - 4.2 * u3 + u3 * u2 + y, u + 2.0 * y)

    return Objective("three_hump_camel", 2, value_and_grad, np.zeros((1, 2)), 0.0,
                     _box([-5.0, 5.0], [-5.0, 5.0]))


@register_function("six_hump_camel", "f(x, y) = (4 - 2.1x^2 + x^4/3) x^2 + xy + (4y^2 - 4) y^2")
def six_hump_camel() -> Objective:
    r"""Six-hump camel: six local minima, two of them global.

    .. math::  f(x, y) = \left(4 - 2.1x^2 + \tfrac13 x^4\right) x^2 + xy + (4y^2 - 4)\, y^2

    .. math::  \nabla f = (8x - 8.4x^3 + 2x^5 + y,\ x - 8y + 16y^3)

    Domain :math:`[-3, 3] \times [-2, 2]`. Global minimum :math:`f^* = -1.0316284534898774` at
    :math:`\pm(0.0898420131003181, -0.7126564030207396)` (Newton-polished to double precision).

    References:
      Dixon & Szegö, "The global optimisation problem: an introduction", in *Towards Global
      Optimisation 2*, North-Holland (1978); Jamil & Yang (2013), no. 30.
    """

    def value_and_grad(x):
        u, y = x[:, 0], x[:, 1]
        u2 = u * u
        y2 = y * y
        f = (4.0 - 2.1 * u2 + u2 * u2 / 3.0) * u2 + u * y + (4.0 * y2 - 4.0) * y2
        gx = 8.0 * u - 8.4 * u2 * u + 2.0 * u2 * u2 * u + y
        gy = u - 8.0 * y + 16.0 * y2 * y
        return f, _with_grad(x, gx, gy)

    m = np.array([0.08984201310031806, -0.7126564030207396])
    return Objective("six_hump_camel", 2, value_and_grad, np.stack([m, -m]),
                     -1.0316284534898774, _box([-3.0, 3.0], [-2.0, 2.0]))


@register_function("goldstein_price", "f(x, y) = [1 + (x+y+1)^2 p(x, y)] [30 + (2x-3y)^2 q(x, y)]")
def goldstein_price() -> Objective:
    r"""Goldstein–Price: two polynomial factors.

    .. math::
        f(x, y) &= \left[1 + s^2 p\right] \left[30 + d^2 q\right], \qquad s = x + y + 1,\
                   d = 2x - 3y \\
        p &= 19 - 14x + 3x^2 - 14y + 6xy + 3y^2, \qquad
        q = 18 - 32x + 12x^2 + 48y - 36xy + 27y^2

    The gradient is the product rule on the two factors. Domain :math:`[-2, 2]^2`. Global
    minimum :math:`f(0, -1) = 3`.

    References:
      Goldstein & Price, "On descent from local minima", Mathematics of Computation 25 (1971);
      Jamil & Yang (2013), no. 58.
    """

    def value_and_grad(x):
        u, y = x[:, 0], x[:, 1]
        s = u + y + 1.0
        p = 19.0 - 14.0 * u + 3.0 * u * u - 14.0 * y + 6.0 * u * y + 3.0 * y * y
        d = 2.0 * u - 3.0 * y
        q = 18.0 - 32.0 * u + 12.0 * u * u + 48.0 * y - 36.0 * u * y + 27.0 * y * y
        s2, d2 = s * s, d * d
        A = 1.0 + s2 * p
        B = 30.0 + d2 * q
        dA = 2.0 * s * p + s2 * (-14.0 + 6.0 * u + 6.0 * y)  # dA/dx = dA/dy
        dBx = 4.0 * d * q + d2 * (-32.0 + 24.0 * u - 36.0 * y)
        dBy = -6.0 * d * q + d2 * (48.0 - 36.0 * u + 54.0 * y)
        return A * B, _with_grad(x, dA * B + A * dBx, dA * B + A * dBy)

    return Objective("goldstein_price", 2, value_and_grad, np.array([[0.0, -1.0]]), 3.0,
                     _box([-2.0, 2.0], [-2.0, 2.0]))


@register_function("levi13", "f(x, y) = sin^2(3πx) + (x-1)^2 (1+sin^2(3πy)) + (y-1)^2 (1+sin^2(2πy))")
def levi13() -> Objective:
    r"""Lévi N.13: a rippled bowl.

    .. math::  f(x, y) = \sin^2(3\pi x) + (x - 1)^2 \left(1 + \sin^2(3\pi y)\right)
               + (y - 1)^2 \left(1 + \sin^2(2\pi y)\right)

    .. math::
        \partial_x f &= 3\pi \sin(6\pi x) + 2 (x - 1)\left(1 + \sin^2(3\pi y)\right) \\
        \partial_y f &= 3\pi (x - 1)^2 \sin(6\pi y) + 2 (y - 1)\left(1 + \sin^2(2\pi y)\right)
                        + 2\pi (y - 1)^2 \sin(4\pi y)

    Domain :math:`[-10, 10]^2`. Global minimum :math:`f(1, 1) = 0`.

    References:
      Surjanovic & Bingham, *Virtual Library of Simulation Experiments*, "Lévy function N. 13"
      (https://www.sfu.ca/~ssurjano/levy13.html).
    """
    pi = np.pi

    def value_and_grad(x):
        u, y = x[:, 0], x[:, 1]
        su = np.sin(3.0 * pi * u)
        s3y = np.sin(3.0 * pi * y)
        s2y = np.sin(2.0 * pi * y)
        um, ym = u - 1.0, y - 1.0
        wx = 1.0 + s3y * s3y
        wy = 1.0 + s2y * s2y
        f = su * su + um * um * wx + ym * ym * wy
        gx = 3.0 * pi * np.sin(6.0 * pi * u) + 2.0 * um * wx
        gy = (3.0 * pi * um * um * np.sin(6.0 * pi * y) + 2.0 * ym * wy
              + 2.0 * pi * ym * ym * np.sin(4.0 * pi * y))
        return f, _with_grad(x, gx, gy)

    return Objective("levi13", 2, value_and_grad, np.ones((1, 2)), 0.0,
                     _box([-10.0, 10.0], [-10.0, 10.0]))


@register_function("saddle", "f(x, y) = x^2 - y^2 (unbounded below)")
def saddle() -> Objective:
    r"""A saddle: no optimizer can converge on it.

    .. math::  f(x, y) = x^2 - y^2, \qquad \nabla f = (2x, -2y)

    The origin is a stationary point but not a minimum; :math:`f \to -\infty` along the
    :math:`y` axis. So ``f_star`` is :math:`-\infty` and ``minimizers`` is empty: every trial's
    gap is infinite and it never reaches a target. It diverges once :math:`|f|` grows past the
    divergence bound (the run has escaped the saddle downhill) and stays unfinished otherwise
    (it was drawn into the saddle point, e.g. from a start on the :math:`x` axis).
    Plot box :math:`[-2, 2]^2`.

    References:
      Dauphin et al., "Identifying and attacking the saddle point problem in high-dimensional
      non-convex optimization", NeurIPS 2014.
    """

    def value_and_grad(x):
        u, y = x[:, 0], x[:, 1]
        return u * u - y * y, _with_grad(x, 2.0 * u, -2.0 * y)

    return Objective("saddle", 2, value_and_grad, np.zeros((0, 2)), -np.inf,
                     _box([-2.0, 2.0], [-2.0, 2.0]))


# ---------------------------------------------------------------------------------------------
# N-dimensional functions.

#: The root of 4t^3 - 32t + 5 near -2.9035 (Newton-polished; see tests/test_suite_functions.py).
_STYBLINSKI_TANG_ROOT = -2.903534027771177
_STYBLINSKI_TANG_MIN_1D = -39.16616570377141


@register_function("styblinski_tang", "f(x) = 1/2 sum_i (x_i^4 - 16 x_i^2 + 5 x_i)")
def styblinski_tang(dim: int = 2) -> Objective:
    r"""Styblinski–Tang: separable, 2^D local minima.

    .. math::  f(x) = \tfrac12 \sum_{i=1}^{D} \left(x_i^4 - 16 x_i^2 + 5 x_i\right), \qquad
               \partial_i f = 2 x_i^3 - 16 x_i + 2.5

    Domain :math:`[-5, 5]^D`. Global minimum at :math:`x_i = t^* = -2.903534027771177`, the
    root of :math:`4t^3 - 32t + 5` near :math:`-2.9`, with
    :math:`f^* = -39.16616570377141\, D`.

    Args:
      dim: number of coordinates, at least 1.

    References:
      Styblinski & Tang, "Experiments in nonconvex optimization: stochastic approximation with
      function smoothing and simulated annealing", Neural Networks 3 (1990).
    """
    dim = _check_dim(dim)

    def value_and_grad(x):
        x2 = x * x
        f = 0.5 * np.sum(x2 * x2 - 16.0 * x2 + 5.0 * x, axis=-1)
        return f, 2.0 * x2 * x - 16.0 * x + 2.5

    return Objective("styblinski_tang", dim, value_and_grad,
                     np.full((1, dim), _STYBLINSKI_TANG_ROOT), _STYBLINSKI_TANG_MIN_1D * dim,
                     np.tile([-5.0, 5.0], (dim, 1)))


@register_function("rastrigin", "f(x) = A D + sum_i (x_i^2 - A cos(2π x_i))")
def rastrigin(dim: int = 2, A: float = 10.0) -> Objective:
    r"""Rastrigin: a bowl with a grid of local minima.

    .. math::  f(x) = A D + \sum_{i=1}^{D} \left(x_i^2 - A \cos(2\pi x_i)\right), \qquad
               \partial_i f = 2 x_i + 2\pi A \sin(2\pi x_i)

    Domain :math:`[-5.12, 5.12]^D`. Global minimum :math:`f(0) = 0`.

    Args:
      dim: number of coordinates, at least 1.
      A: amplitude of the ripples, :math:`A \ge 0` (10 in the usual form).

    References:
      Rastrigin, *Systems of Extremal Control*, Nauka, Moscow (1974); Mühlenbein, Schomisch &
      Born, "The parallel genetic algorithm as function optimizer", Parallel Computing 17 (1991).
    """
    dim = _check_dim(dim)
    A = float(A)
    if not (np.isfinite(A) and A >= 0):
        raise ValueError(f"A must be >= 0, got {A!r}")
    two_pi = 2.0 * np.pi

    def value_and_grad(x):
        angle = two_pi * x
        f = np.sum(x * x + A * (1.0 - np.cos(angle)), axis=-1)
        return f, 2.0 * x + two_pi * A * np.sin(angle)

    return Objective("rastrigin", dim, value_and_grad, np.zeros((1, dim)), 0.0,
                     np.tile([-5.12, 5.12], (dim, 1)))


@register_function("ackley", "f(x) = -a exp(-b sqrt(mean x_i^2)) - exp(mean cos(c x_i)) + a + e")
def ackley(dim: int = 2, a: float = 20.0, b: float = 0.2, c: float = 2.0 * np.pi) -> Objective:
    r"""Ackley: a flat, rippled plain and a deep funnel.

    .. math::  f(x) = -a\, e^{-b r} - e^{m} + a + e, \qquad
               r = \sqrt{\tfrac1D \textstyle\sum_i x_i^2}, \quad
               m = \tfrac1D \textstyle\sum_i \cos(c\, x_i)

    .. math::  \partial_i f = \frac{a b\, e^{-b r}}{D r}\, x_i + \frac{c\, e^{m}}{D} \sin(c\, x_i)

    The first term is not differentiable at the origin (a cone, :math:`|x|`-like); there the
    gradient is taken as its subgradient 0, and next to it :math:`x / r` is computed without
    underflow. It is evaluated as
    :math:`-a\,\mathrm{expm1}(-b r) - e\,\mathrm{expm1}(m - 1)` so that :math:`f(0) = 0` exactly.
    Domain :math:`[-32.768, 32.768]^D`. Global minimum :math:`f(0) = 0`.

    Args:
      dim: number of coordinates, at least 1.
      a, b, c: depth, width and ripple frequency (20, 0.2, 2π in the usual form); all > 0.

    References:
      Ackley, *A Connectionist Machine for Genetic Hillclimbing*, Kluwer (1987);
      Bäck, *Evolutionary Algorithms in Theory and Practice*, Oxford (1996), for the N-D form.
    """
    dim = _check_dim(dim)
    a, b, c = float(a), float(b), float(c)
    for name, value in (("a", a), ("b", b), ("c", c)):
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be > 0, got {value!r}")

    def value_and_grad(x):
        # r and the direction x / r are computed from x scaled by its largest entry, so that
        # neither underflows near the origin; at the origin itself 0 is a subgradient.
        largest = np.max(np.abs(x), axis=-1)
        scaled = x / np.where(largest > 0, largest, 1.0)[:, None]
        norm = np.sqrt(np.sum(scaled * scaled, axis=-1) / dim)
        r = largest * norm
        direction = scaled / np.where(norm > 0, norm, 1.0)[:, None]  # x / r, or 0 at x = 0
        cx = c * x
        m = np.sum(np.cos(cx), axis=-1) / dim
        f = -a * np.expm1(-b * r) - np.e * np.expm1(m - 1.0)
        g = ((a * b / dim) * np.exp(-b * r))[:, None] * direction + (
            (c / dim) * np.exp(m)[:, None] * np.sin(cx))
        return f, g

    return Objective("ackley", dim, value_and_grad, np.zeros((1, dim)), 0.0,
                     np.tile([-32.768, 32.768], (dim, 1)))


@register_function("ill_conditioned", "f(x) = 1/2 x^T Q diag(λ) Q^T x, λ log-spaced in [1, κ]")
def ill_conditioned(dim: int = 10, kappa: float = 100.0, seed: int = 0) -> Objective:
    r"""A rotated quadratic of condition number κ.

    .. math::  f(x) = \tfrac12 \sum_{i=1}^{D} \lambda_i \left(q_i^\top x\right)^2, \qquad
               \nabla f(x) = Q \left(\lambda \odot Q^\top x\right),
               \qquad \lambda_i = \kappa^{(i-1)/(D-1)}

    The eigenvalues are log-spaced from 1 to :math:`\kappa` and the eigenvectors
    :math:`q_i` are the columns of a random rotation :math:`Q` (the Q factor of a seeded
    Gaussian matrix, signs fixed so that :math:`R` has a positive diagonal: Haar-distributed).
    Domain :math:`\mathbb{R}^D`, plot box :math:`[-5, 5]^D`. Global minimum :math:`f(0) = 0`.
    Steepest descent converges for :math:`\eta < 2/\kappa`; the best constant step
    :math:`\eta = 2/(1 + \kappa)` contracts the error by :math:`(\kappa - 1)/(\kappa + 1)` per
    step, so it needs about :math:`\tfrac{\kappa}{4} \ln(\Delta f_0 / \epsilon)` steps to reach
    a gap :math:`\epsilon`.

    Args:
      dim: number of coordinates, at least 1 (with 1 the eigenvalue is 1 and ``kappa`` must be 1).
      kappa: condition number :math:`\kappa = \lambda_{\max} / \lambda_{\min} \ge 1`.
      seed: seed of the rotation.

    References:
      Nocedal & Wright, *Numerical Optimization*, 2nd ed., Springer (2006), thm. 3.3;
      Mezzadri, "How to generate random matrices from the classical compact groups", Notices
      of the AMS 54 (2007).
    """
    dim = _check_dim(dim)
    kappa = float(kappa)
    if not (np.isfinite(kappa) and kappa >= 1):
        raise ValueError(f"kappa must be a finite number >= 1, got {kappa!r}")
    if dim == 1 and kappa != 1:
        raise ValueError(f"kappa must be 1 when dim is 1, got {kappa!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    eigenvalues = kappa ** (np.arange(dim) / max(dim - 1, 1))
    q, r = np.linalg.qr(np.random.default_rng(int(seed)).standard_normal((dim, dim)))
    rotation = q * np.where(np.diag(r) < 0, -1.0, 1.0)

    def value_and_grad(x):
        z = x @ rotation  # coordinates in the eigenbasis, (T, D)
        lz = eigenvalues * z
        return 0.5 * np.sum(z * lz, axis=-1), lz @ rotation.T

    return Objective("ill_conditioned", dim, value_and_grad, np.zeros((1, dim)), 0.0,
                     np.tile([-5.0, 5.0], (dim, 1)))


# ---------------------------------------------------------------------------------------------
# A closed-form expression given in the config.


@register_function("expression", "f(x) = the given expression in x1 ... xD")
def expression(expression: str, minimizers, f_star: float, bounds=None) -> Objective:
    r"""A closed-form expression; optbench derives its gradient.

    The expression is parsed without running code (:mod:`optbench.expression`): numbers,
    ``x1 … xD``, ``pi``, ``e``, ``+ - * / **``, unary minus and the functions ``sin cos tan exp
    log sqrt abs tanh sinh cosh arctan arcsin arccos``. The gradient is evaluated exactly, in
    forward mode. Example::

        expression: "(1 - x1)**2 + 100*(x2 - x1**2)**2"
        minimizers: [[1, 1]]
        f_star: 0

    Args:
      expression: the function of ``x1 … xD``.
      minimizers: its known global minimisers, a list of points (their length is ``D``).
      f_star: its global minimum; the expression's value at each minimiser must equal it to
        within ``1e-6 (1 + |f*|)`` (a guard against typos, loose enough for published digits).
      bounds: ``[low, high]`` per coordinate, the box for random starts and plots; default the
        minimisers' hull widened by 5 on each side.
    """
    from .expression import Expression

    try:
        points = np.asarray(minimizers, dtype=np.float64) if _is_nested_numbers(minimizers) else None
    except ValueError:  # ragged: points of different lengths
        points = None
    if points is not None and points.ndim == 1:
        points = points[None, :]
    if points is None or points.ndim != 2 or points.size == 0 or not np.all(np.isfinite(points)):
        raise ValueError(f"minimizers must be a list of points (lists of numbers), got {minimizers!r}")
    dim = points.shape[1]
    if isinstance(f_star, bool) or not isinstance(f_star, (int, float)) or not np.isfinite(f_star):
        raise ValueError(f"f_star must be a finite number, got {f_star!r}")
    f_star = float(f_star)
    parsed = Expression(expression, dim)
    with np.errstate(all="ignore"):
        values, _ = parsed.value_and_grad(points)
    tolerance = 1e-6 * (1.0 + abs(f_star))
    off = np.flatnonzero(~(np.abs(values - f_star) <= tolerance))
    if off.size:
        i = int(off[0])
        raise ValueError(f"minimizers[{i}] gives f = {float(values[i])!r}, not f_star = {f_star!r}")
    if bounds is None:
        box = np.stack([points.min(axis=0) - 5.0, points.max(axis=0) + 5.0], axis=-1)
    else:
        try:
            box = np.asarray(bounds, dtype=np.float64) if _is_nested_numbers(bounds) else None
        except ValueError:  # ragged
            box = None
        if box is None or box.shape != (dim, 2) or not np.all(box[:, 0] < box[:, 1]):
            raise ValueError(f"bounds must be [low, high] with low < high for each of {dim} "
                             f"coordinates, got {bounds!r}")

    return Objective("expression", dim, parsed.value_and_grad, points, f_star, box)


def _is_nested_numbers(value) -> bool:
    """True for a number or a (nested) list of numbers, excluding booleans and strings."""
    if isinstance(value, (list, tuple)):
        return all(_is_nested_numbers(v) for v in value)
    return isinstance(value, (int, float, np.number)) and not isinstance(value, bool)
