r"""A second, plain implementation of optbench's optimizers, for the tests.

Written from the docstrings of :mod:`optbench.optimizers`, one trial at a time, with Python
floats and :mod:`math`: no NumPy, no vectorization, no attempt to follow torch's order of
operations. Each function takes a start point (a list of floats), a gradient function of such a
list and the hyperparameters of *one* trial, and returns the path ``[x_0, x_1, ..., x_steps]``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

Point = list[float]
Gradient = Callable[[Point], Point]


def sgd(x0: Point, grad: Gradient, steps: int, lr: float, momentum: float = 0.0,
        dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False,
        maximize: bool = False) -> list[Point]:
    """g <- grad f(x) + λx;  b_1 = g_1, b_t = μ b_{t-1} + (1 - τ) g_t;
    d = g + μ b (Nesterov) or b (or g without momentum);  x <- x - η d."""
    x, b, path = list(x0), None, [list(x0)]
    for t in range(1, steps + 1):
        g = [-gi if maximize else gi for gi in grad(x)]
        g = [gi + weight_decay * xi for gi, xi in zip(g, x)]
        if momentum != 0:
            b = list(g) if t == 1 else [momentum * bi + (1 - dampening) * gi
                                        for bi, gi in zip(b, g)]
            d = [gi + momentum * bi for gi, bi in zip(g, b)] if nesterov else b
        else:
            d = g
        x = [xi - lr * di for xi, di in zip(x, d)]
        path.append(x)
    return path


def adagrad(x0: Point, grad: Gradient, steps: int, lr: float, lr_decay: float = 0.0,
            weight_decay: float = 0.0, initial_accumulator_value: float = 0.0,
            eps: float = 1e-10, maximize: bool = False) -> list[Point]:
    """g <- grad f(x) + λx;  η_t = η / (1 + (t - 1) ρ);  s_t = s_{t-1} + g²;
    x <- x - η_t g / (sqrt(s_t) + ε)."""
    x, path = list(x0), [list(x0)]
    s = [initial_accumulator_value] * len(x0)
    for t in range(1, steps + 1):
        g = [-gi if maximize else gi for gi in grad(x)]
        g = [gi + weight_decay * xi for gi, xi in zip(g, x)]
        eta = lr / (1 + (t - 1) * lr_decay)
        s = [si + gi * gi for si, gi in zip(s, g)]
        x = [xi - eta * gi / (math.sqrt(si) + eps) for xi, gi, si in zip(x, g, s)]
        path.append(x)
    return path


def rmsprop(x0: Point, grad: Gradient, steps: int, lr: float, alpha: float = 0.99,
            eps: float = 1e-8, weight_decay: float = 0.0, momentum: float = 0.0,
            centered: bool = False, maximize: bool = False,
            state_init: str = "zeros") -> list[Point]:
    """g <- grad f(x) + λx;  s_t = α s_{t-1} + (1 - α) g²;  m_t = α m_{t-1} + (1 - α) g;
    r = sqrt(s - m²) (centered) or sqrt(s);  b_t = μ b_{t-1} + g / (r + ε), x <- x - η b_t
    (x <- x - η g / (r + ε) without momentum). state_init="first_gradient": s_1 = g², m_1 = g."""
    n = len(x0)
    x, path = list(x0), [list(x0)]
    s, m, b = [0.0] * n, [0.0] * n, [0.0] * n
    for t in range(1, steps + 1):
        g = [-gi if maximize else gi for gi in grad(x)]
        g = [gi + weight_decay * xi for gi, xi in zip(g, x)]
        if state_init == "first_gradient" and t == 1:
            s, m = [gi * gi for gi in g], list(g)
        else:
            s = [alpha * si + (1 - alpha) * gi * gi for si, gi in zip(s, g)]
            m = [alpha * mi + (1 - alpha) * gi for mi, gi in zip(m, g)]
        r = [math.sqrt(si - mi * mi) if centered else math.sqrt(si) for si, mi in zip(s, m)]
        step = [gi / (ri + eps) for gi, ri in zip(g, r)]
        if momentum > 0:
            b = [momentum * bi + di for bi, di in zip(b, step)]
            step = b
        x = [xi - lr * di for xi, di in zip(x, step)]
        path.append(x)
    return path


def adam(x0: Point, grad: Gradient, steps: int, lr: float, betas=(0.9, 0.999),
         eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False,
         decoupled_weight_decay: bool = False, maximize: bool = False,
         bias_correction: bool = True, state_init: str = "zeros") -> list[Point]:
    """g <- grad f(x) + λx, or x <- (1 - ηλ) x when decoupled;
    m_t = β1 m_{t-1} + (1 - β1) g;  v_t = β2 v_{t-1} + (1 - β2) g²;  v̂_t = max(v̂_{t-1}, v_t)
    (amsgrad) or v_t;  x <- x - η/(1 - β1^t) · m_t / (sqrt(v̂_t)/sqrt(1 - β2^t) + ε), or without
    the two (1 - β^t) factors. state_init="first_gradient": m_1 = g, v_1 = g²."""
    beta1, beta2 = betas
    n = len(x0)
    x, path = list(x0), [list(x0)]
    m, v, vmax = [0.0] * n, [0.0] * n, [0.0] * n
    for t in range(1, steps + 1):
        g = [-gi if maximize else gi for gi in grad(x)]
        if decoupled_weight_decay:
            x = [xi * (1 - lr * weight_decay) for xi in x]
        else:
            g = [gi + weight_decay * xi for gi, xi in zip(g, x)]
        if state_init == "first_gradient" and t == 1:
            m, v = list(g), [gi * gi for gi in g]
        else:
            m = [beta1 * mi + (1 - beta1) * gi for mi, gi in zip(m, g)]
            v = [beta2 * vi + (1 - beta2) * gi * gi for vi, gi in zip(v, g)]
        vmax = [max(a, b) for a, b in zip(vmax, v)] if amsgrad else v
        if bias_correction:
            c1, c2 = 1 - beta1**t, math.sqrt(1 - beta2**t)
            x = [xi - lr / c1 * mi / (math.sqrt(vi) / c2 + eps) for xi, mi, vi in zip(x, m, vmax)]
        else:
            x = [xi - lr * mi / (math.sqrt(vi) + eps) for xi, mi, vi in zip(x, m, vmax)]
        path.append(x)
    return path


REFERENCES = {"sgd": sgd, "adagrad": adagrad, "rmsprop": rmsprop, "adam": adam}


def paraboloid_gradient(a: Point) -> Gradient:
    """∇(Σ a_i x_i² + c) = 2 a x."""
    return lambda x: [2.0 * ai * xi for ai, xi in zip(a, x)]


def rosenbrock_gradient(x: Point) -> Point:
    """∂_i f = -400 x_i (x_{i+1} - x_i²) - 2 (1 - x_i) + 200 (x_i - x_{i-1}²)."""
    n = len(x)
    g = [0.0] * n
    for i in range(n):
        if i + 1 < n:
            g[i] += -400.0 * x[i] * (x[i + 1] - x[i] ** 2) - 2.0 * (1.0 - x[i])
        if i > 0:
            g[i] += 200.0 * (x[i] - x[i - 1] ** 2)
    return g
