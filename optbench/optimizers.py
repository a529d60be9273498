r"""Optimizers as pure ``init``/``update`` pairs over ``(trials, dim)`` arrays.

Each optimizer follows ``torch.optim`` 2.13 (names, hyperparameters, defaults, and the order of
the floating-point operations of its single-tensor CPU path), so that a trajectory equals
torch's to ~1e-12 relative in float64. The book's textbook forms are options documented in each
docstring.

An optimizer is ``Optimizer(init, update)``:

* ``init(x) -> state``, ``x`` of shape ``(T, D)``;
* ``update(x, grad, state, step) -> (x_new, state_new)`` with ``step = 1, 2, ...``.

``update`` returns the new point rather than an increment ``x + delta``, because torch's
decoupled weight decay multiplies the parameter before adding the step, and only computing the
new point exactly as torch does keeps trajectories equal to the last digit.

Numeric hyperparameters may differ per trial: each is a scalar or an array of shape ``(T,)``,
stored as ``(T, 1)`` so that it broadcasts against ``(T, D)``. Boolean and choice options select
the variant of the algorithm and are one per optimizer instance.

The ``*_rule`` functions hold the arithmetic alone; it works on NumPy arrays and on scalars
alike so that a fused kernel can reuse it. Where torch's kernels fuse a multiply and an add
(``add(alpha=)``, ``addcmul``, ``lerp``) the rules call :func:`fma`; ``addcdiv`` is not fused
in torch and is written as ``x + (v * a) / b``. This module imports NumPy alone.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple

import numpy as np


class Optimizer(NamedTuple):
    """An optimizer: ``init(x) -> state`` and ``update(x, grad, state, step) -> (x, state)``."""

    init: Callable
    update: Callable


# ---------------------------------------------------------------------------------------------
# Hyperparameter metadata: the single source of every constraint (config validation, `list`).


_INTERVAL = re.compile(r"^\s*([\[(])\s*(-?inf|[-+0-9.e]+)\s*,\s*(-?inf|[-+0-9.e]+)\s*([\])])\s*$")


@dataclass(frozen=True)
class Hyperparameter:
    """One hyperparameter of an optimizer: its default, the rule it must satisfy, its meaning.

    ``kind`` is ``"float"``, ``"pair"`` (two floats, like ``betas``), ``"bool"`` or ``"choice"``.
    For float and pair kinds, ``interval`` is written like ``"[0, 1)"``.
    """

    name: str
    default: Any
    kind: str
    doc: str
    interval: str = "(-inf, inf)"
    choices: tuple = ()

    @property
    def bounds(self) -> tuple[float, float, bool, bool]:
        """``(low, high, low_inclusive, high_inclusive)`` parsed from ``interval``."""
        m = _INTERVAL.match(self.interval)
        if m is None:  # pragma: no cover - a programming error in a registration
            raise ValueError(f"bad interval {self.interval!r} for {self.name}")
        return float(m[2]), float(m[3]), m[1] == "[", m[4] == "]"

    def check(self, value, label: str | None = None) -> None:
        """Raise ``ValueError`` unless every entry of ``value`` lies in the interval."""
        label = label or self.name
        arr = np.asarray(value, dtype=np.float64)
        low, high, low_in, high_in = self.bounds
        bad = np.isnan(arr)
        bad |= (arr < low) if low_in else (arr <= low)
        bad |= (arr > high) if high_in else (arr >= high)
        if np.any(bad):
            first = arr.reshape(-1)[np.argmax(bad.reshape(-1))]
            raise ValueError(f"{label} must be in {self.interval}, got {float(first)!r}")


@dataclass(frozen=True)
class OptimizerSpec:
    """A registered optimizer factory and its hyperparameters."""

    name: str
    factory: Callable[..., Optimizer]
    summary: str
    hyperparameters: dict[str, Hyperparameter]

    def __call__(self, **kwargs) -> Optimizer:
        return self.factory(**kwargs)


OPTIMIZERS: dict[str, OptimizerSpec] = {}


def register_optimizer(name: str, docs: dict[str, tuple]):
    """Register ``factory`` under ``name``.

    ``docs`` maps each parameter of the factory to ``(doc, interval_or_choices)``; defaults come
    from the factory's signature, so they are written once.
    """

    def decorate(factory):
        params = inspect.signature(factory).parameters
        if set(params) != set(docs):  # pragma: no cover - a programming error
            raise TypeError(f"{name}: documented {sorted(docs)} but signature has {sorted(params)}")
        hypers = {}
        for pname, p in params.items():
            doc, rule = docs[pname]
            default = p.default
            if isinstance(default, bool):
                hypers[pname] = Hyperparameter(pname, default, "bool", doc)
            elif isinstance(default, str):
                hypers[pname] = Hyperparameter(pname, default, "choice", doc, choices=tuple(rule))
            elif isinstance(default, tuple):
                hypers[pname] = Hyperparameter(pname, default, "pair", doc, interval=rule)
            else:
                hypers[pname] = Hyperparameter(pname, float(default), "float", doc, interval=rule)
        summary = (factory.__doc__ or "").strip().splitlines()[0]
        OPTIMIZERS[name] = OptimizerSpec(name, factory, summary, hypers)
        return factory

    return decorate


def make_optimizer(name: str, **hyperparameters) -> Optimizer:
    """Build the registered optimizer ``name``; ValueError on a bad name or value."""
    try:
        spec = OPTIMIZERS[name]
    except KeyError:
        raise ValueError(f"unknown optimizer {name!r}") from None
    return spec.factory(**hyperparameters)


def per_trial(spec_name: str, name: str, value, label: str | None = None):
    """Check ``value`` against the registered interval; return a float or a ``(T, 1)`` array."""
    OPTIMIZERS[spec_name].hyperparameters[name].check(value, label)
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        return float(arr)
    if arr.ndim != 1:
        raise ValueError(f"{label or name} must be a scalar or have shape (trials,), got {arr.shape}")
    return arr[:, None]


def _pair(spec_name: str, name: str, value):
    if len(value) != 2:
        raise ValueError(f"{name} must be a pair of numbers, got {value!r}")
    return tuple(per_trial(spec_name, name, v, f"{name}[{i}]") for i, v in enumerate(value))


def _choice(spec_name: str, name: str, value):
    choices = OPTIMIZERS[spec_name].hyperparameters[name].choices
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def _any_nonzero(value) -> bool:
    return bool(np.any(np.asarray(value) != 0))


# ---------------------------------------------------------------------------------------------
# Fused multiply-add, as torch's CPU kernels compute it.


def _two_sum(a, b):
    """Knuth's TwoSum: ``s + e == a + b`` exactly, ``s = fl(a + b)``."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _two_product(a, b):
    """Dekker's product with Veltkamp's split: ``p + e == a * b`` exactly (barring over/underflow)."""
    p = a * b
    t = 134217729.0 * a  # 2**27 + 1
    a_hi = t - (t - a)
    a_lo = a - a_hi
    t = 134217729.0 * b
    b_hi = t - (t - b)
    b_lo = b - b_hi
    return p, ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo


def fma(a, b, c):
    r"""Fused multiply-add ``a * b + c`` rounded once, as torch's CPU kernels compute it.

    torch evaluates ``add(alpha=)``, ``addcmul`` and ``lerp`` with a fused multiply-add, so
    reproducing its trajectories to the last bit needs one. NumPy has none; this emulates it
    exactly in binary64 (Boldo & Melquiond, "Emulation of FMA and correctly rounded sums: proved
    algorithms using rounding to odd", IEEE Trans. Computers 57, 2008, Algorithm 5):

    .. math::  (u_h, u_l) = a \otimes b, \quad (t_h, t_l) = c \oplus u_h, \quad
               v = \mathrm{RO}(t_l + u_l), \quad \mathrm{fma} = \mathrm{RN}(t_h + v)

    where :math:`\otimes, \oplus` are the error-free product and sum and RO rounds to odd
    (computed from the error of the sum: an inexact result with an even significand moves one ulp
    towards the exact value). Exact unless ``a * b`` overflows or its error underflows.
    """
    a, b, c = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64), np.asarray(c, dtype=np.float64)
    u_hi, u_lo = _two_product(a, b)
    t_hi, t_lo = _two_sum(c, u_hi)
    s, e = _two_sum(t_lo, u_lo)
    even = (s.view(np.int64) & 1) == 0
    towards = np.nextafter(s, np.where(e > 0, np.inf, -np.inf))
    return t_hi + np.where((e != 0) & even, towards, s)


def lerp(start, end, weight):
    r"""``torch.lerp`` as computed on the CPU: two fused forms, chosen by the weight for accuracy.

    .. math::  \mathrm{lerp}(s, e, w) = s + w (e - s) \text{ if } |w| < 0.5,
               \text{ else } e - (e - s)(1 - w)
    """
    diff = end - start
    if np.ndim(weight) == 0:
        if abs(weight) < 0.5:
            return fma(weight, diff, start)
        return fma(-diff, 1 - weight, end)
    return np.where(np.abs(weight) < 0.5, fma(weight, diff, start), fma(-diff, 1 - weight, end))


# ---------------------------------------------------------------------------------------------
# SGD


class SGDState(NamedTuple):
    momentum_buffer: np.ndarray | None  # b_t, (T, D); None without momentum


def sgd_rule(x, g, buf, step, lr, momentum, dampening, weight_decay, nesterov, maximize):
    r"""One SGD step; see :func:`sgd` for the formula. Returns ``(x, buf)``."""
    if maximize:
        g = -g
    if weight_decay is not None:
        g = fma(weight_decay, x, g)
    if buf is not None:
        # torch starts the buffer at the first gradient (b_1 = g_1), without dampening.
        buf = g if step == 1 else fma(1 - dampening, g, buf * momentum)
        g = fma(momentum, buf, g) if nesterov else buf
    return fma(-lr, g, x), buf


@register_optimizer(
    "sgd",
    {
        "lr": ("learning rate η", "[0, inf)"),
        "momentum": ("momentum factor μ", "[0, inf)"),
        "dampening": ("dampening τ of the gradient added to the buffer", "(-inf, inf)"),
        "weight_decay": ("L2 penalty λ added to the gradient", "[0, inf)"),
        "nesterov": ("Nesterov momentum (needs μ > 0 and τ = 0)", None),
        "maximize": ("maximize the objective instead of minimizing", None),
    },
)
def sgd(lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False):
    r"""Stochastic gradient descent, with optional heavy-ball or Nesterov momentum.

    .. math::
        g_t &\leftarrow \nabla f(x_{t-1}) + \lambda x_{t-1} \\
        b_1 &= g_1, \quad b_t = \mu b_{t-1} + (1 - \tau) g_t \\
        d_t &= g_t + \mu b_t \text{ (Nesterov) or } b_t, \qquad x_t = x_{t-1} - \eta d_t

    Without momentum (:math:`\mu = 0`) :math:`d_t = g_t`: steepest descent. The book's momentum
    form :math:`v_t = \mu v_{t-1} + \eta g_t,\ x_t = x_{t-1} - v_t` with :math:`v_0 = 0` is the
    same iteration with :math:`v_t = \eta b_t`.

    Args:
      lr: :math:`\eta \ge 0`, scalar or ``(trials,)``.
      momentum: :math:`\mu \ge 0`, scalar or ``(trials,)``.
      dampening: :math:`\tau`, scalar or ``(trials,)``; ignored where :math:`\mu = 0`, as in torch.
      weight_decay: :math:`\lambda \ge 0`, scalar or ``(trials,)``.
      nesterov: use Nesterov's look-ahead form.
      maximize: ascend instead of descend.

    References:
      ``torch.optim.SGD``; Polyak (1964); Sutskever et al., ICML 2013 (Nesterov form).
    """
    lr = per_trial("sgd", "lr", lr)
    momentum = per_trial("sgd", "momentum", momentum)
    dampening = per_trial("sgd", "dampening", dampening)
    weight_decay = per_trial("sgd", "weight_decay", weight_decay)
    if nesterov and (np.any(np.asarray(momentum) <= 0) or _any_nonzero(dampening)):
        raise ValueError("nesterov requires a momentum > 0 and zero dampening")
    use_momentum = _any_nonzero(momentum)
    # torch skips the buffer where momentum == 0; a buffer with momentum 0 and no dampening
    # reproduces that exactly (b_t = g_t), so trials without momentum may share the batch.
    dampening = np.where(np.asarray(momentum) == 0, 0.0, dampening) if use_momentum else 0.0
    weight_decay = weight_decay if _any_nonzero(weight_decay) else None

    def init(x):
        return SGDState(np.zeros_like(x) if use_momentum else None)

    def update(x, grad, state, step):
        x, buf = sgd_rule(
            x, grad, state.momentum_buffer, step, lr, momentum, dampening, weight_decay,
            nesterov, maximize,
        )
        return x, SGDState(buf)

    return Optimizer(init, update)


# ---------------------------------------------------------------------------------------------
# Adagrad


class AdagradState(NamedTuple):
    sum: np.ndarray  # s_t, (T, D)


def adagrad_rule(x, g, state_sum, step, lr, lr_decay, eps, weight_decay, maximize):
    r"""One Adagrad step; see :func:`adagrad`. Returns ``(x, state_sum)``."""
    if maximize:
        g = -g
    if weight_decay is not None:
        g = fma(weight_decay, x, g)
    clr = lr / (1 + (step - 1) * lr_decay)
    state_sum = fma(g, g, state_sum)
    std = np.sqrt(state_sum) + eps
    return x + (-clr) * g / std, state_sum


@register_optimizer(
    "adagrad",
    {
        "lr": ("learning rate η", "[0, inf)"),
        "lr_decay": ("learning-rate decay ρ", "[0, inf)"),
        "weight_decay": ("L2 penalty λ added to the gradient", "[0, inf)"),
        "initial_accumulator_value": ("initial value s_0 of the accumulator", "[0, inf)"),
        "eps": ("ε added to the root, against division by zero", "[0, inf)"),
        "maximize": ("maximize the objective instead of minimizing", None),
    },
)
def adagrad(
    lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10,
    maximize=False,
):
    r"""Adagrad: per-coordinate steps scaled by the root of the summed squared gradients.

    .. math::
        g_t &\leftarrow \nabla f(x_{t-1}) + \lambda x_{t-1}, \qquad
        \tilde\eta_t = \eta / (1 + (t - 1)\rho) \\
        s_t &= s_{t-1} + g_t^2, \qquad x_t = x_{t-1} - \tilde\eta_t\, g_t / (\sqrt{s_t} + \epsilon)

    The accumulator includes the current gradient, as in the book's eq. 8.3 and its fig. 8.4.

    Args:
      lr: :math:`\eta \ge 0`; lr_decay: :math:`\rho \ge 0`; weight_decay: :math:`\lambda \ge 0`;
      initial_accumulator_value: :math:`s_0 \ge 0`; eps: :math:`\epsilon \ge 0`. Each a scalar
      or ``(trials,)``.
      maximize: ascend instead of descend.

    References:
      ``torch.optim.Adagrad``; Duchi, Hazan & Singer, JMLR 12 (2011).
    """
    lr = per_trial("adagrad", "lr", lr)
    lr_decay = per_trial("adagrad", "lr_decay", lr_decay)
    weight_decay = per_trial("adagrad", "weight_decay", weight_decay)
    s0 = per_trial("adagrad", "initial_accumulator_value", initial_accumulator_value)
    eps = per_trial("adagrad", "eps", eps)
    weight_decay = weight_decay if _any_nonzero(weight_decay) else None

    def init(x):
        return AdagradState(np.zeros_like(x) + s0)

    def update(x, grad, state, step):
        x, s = adagrad_rule(x, grad, state.sum, step, lr, lr_decay, eps, weight_decay, maximize)
        return x, AdagradState(s)

    return Optimizer(init, update)


# ---------------------------------------------------------------------------------------------
# RMSprop

STATE_INIT_CHOICES = ("zeros", "first_gradient")


class RMSpropState(NamedTuple):
    square_avg: np.ndarray  # s_t, (T, D)
    grad_avg: np.ndarray | None  # m_t, (T, D) when centered
    momentum_buffer: np.ndarray | None  # b_t, (T, D) when momentum > 0


def rmsprop_rule(
    x, g, square_avg, grad_avg, buf, step, lr, alpha, eps, weight_decay, momentum,
    mixed_momentum, maximize, first_gradient,
):
    r"""One RMSprop step; see :func:`rmsprop`. Returns ``(x, square_avg, grad_avg, buf)``."""
    if maximize:
        g = -g
    if weight_decay is not None:
        g = fma(weight_decay, x, g)
    if first_gradient and step == 1:
        alpha = 0.0  # s_1 = g_1^2 (and m_1 = g_1): the book's form
    square_avg = fma((1 - alpha) * g, g, square_avg * alpha)
    if grad_avg is not None:
        grad_avg = lerp(grad_avg, g, 1 - alpha)
        avg = np.sqrt(fma(-grad_avg, grad_avg, square_avg))
    else:
        avg = np.sqrt(square_avg)
    avg = avg + eps
    if buf is None:
        return x + (-lr) * g / avg, square_avg, grad_avg, None
    buf = buf * momentum + g / avg
    x_new = fma(-lr, buf, x)
    if mixed_momentum is not None:
        # torch divides after scaling by lr when momentum == 0: keep that rounding there.
        x_new = np.where(mixed_momentum, x + (-lr) * g / avg, x_new)
    return x_new, square_avg, grad_avg, buf


@register_optimizer(
    "rmsprop",
    {
        "lr": ("learning rate η", "[0, inf)"),
        "alpha": ("smoothing constant α of the squared-gradient average (the book's γ)", "[0, inf)"),
        "eps": ("ε added to the root, against division by zero", "[0, inf)"),
        "weight_decay": ("L2 penalty λ added to the gradient", "[0, inf)"),
        "momentum": ("momentum factor μ", "[0, inf)"),
        "centered": ("divide by the centered (variance) estimate", None),
        "maximize": ("maximize the objective instead of minimizing", None),
        "state_init": ("'zeros' as torch, or 'first_gradient': s_1 = g_1², the book's form",
                       STATE_INIT_CHOICES),
    },
)
def rmsprop(
    lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False,
    maximize=False, state_init="zeros",
):
    r"""RMSprop: steps scaled by the root of a moving average of squared gradients.

    .. math::
        g_t &\leftarrow \nabla f(x_{t-1}) + \lambda x_{t-1}, \qquad
        s_t = \alpha s_{t-1} + (1 - \alpha) g_t^2 \\
        m_t &= \alpha m_{t-1} + (1 - \alpha) g_t, \qquad
        r_t = \sqrt{s_t - m_t^2} \text{ (centered) or } \sqrt{s_t} \\
        b_t &= \mu b_{t-1} + g_t / (r_t + \epsilon), \qquad x_t = x_{t-1} - \eta b_t
        \quad (\text{or } x_t = x_{t-1} - \eta g_t / (r_t + \epsilon) \text{ when } \mu = 0)

    torch starts :math:`s_0 = m_0 = 0`. ``state_init="first_gradient"`` starts the averages from
    the first gradient instead, :math:`s_1 = g_1^2,\ m_1 = g_1`, as the book's fig. 8.5 does
    (with centering this makes :math:`r_1 = 0`, so the first step divides by :math:`\epsilon`).

    Args:
      lr: :math:`\eta \ge 0`; alpha: :math:`\alpha \ge 0`; eps: :math:`\epsilon \ge 0`;
      weight_decay: :math:`\lambda \ge 0`; momentum: :math:`\mu \ge 0`. Each a scalar or
      ``(trials,)``.
      centered: use the variance estimate :math:`s_t - m_t^2`.
      maximize: ascend instead of descend.
      state_init: ``"zeros"`` (torch) or ``"first_gradient"`` (the book).

    References:
      ``torch.optim.RMSprop``; Hinton, Neural Networks for Machine Learning, lecture 6e (2012);
      Graves, arXiv:1308.0850 (centered form).
    """
    lr = per_trial("rmsprop", "lr", lr)
    alpha = per_trial("rmsprop", "alpha", alpha)
    eps = per_trial("rmsprop", "eps", eps)
    weight_decay = per_trial("rmsprop", "weight_decay", weight_decay)
    momentum = per_trial("rmsprop", "momentum", momentum)
    state_init = _choice("rmsprop", "state_init", state_init)
    weight_decay = weight_decay if _any_nonzero(weight_decay) else None
    use_momentum = _any_nonzero(momentum)
    no_momentum = np.asarray(momentum) == 0
    mixed_momentum = no_momentum if use_momentum and np.any(no_momentum) else None
    first_gradient = state_init == "first_gradient"

    def init(x):
        return RMSpropState(
            np.zeros_like(x),
            np.zeros_like(x) if centered else None,
            np.zeros_like(x) if use_momentum else None,
        )

    def update(x, grad, state, step):
        x, s, m, b = rmsprop_rule(
            x, grad, state.square_avg, state.grad_avg, state.momentum_buffer, step, lr, alpha,
            eps, weight_decay, momentum, mixed_momentum, maximize, first_gradient,
        )
        return x, RMSpropState(s, m, b)

    return Optimizer(init, update)


# ---------------------------------------------------------------------------------------------
# Adam


class AdamState(NamedTuple):
    exp_avg: np.ndarray  # m_t, (T, D)
    exp_avg_sq: np.ndarray  # v_t, (T, D)
    max_exp_avg_sq: np.ndarray | None  # max_{s<=t} v_s, (T, D) with amsgrad


def adam_rule(
    x, g, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1, beta2, eps, weight_decay,
    decoupled_weight_decay, maximize, bias_correction, first_gradient,
):
    r"""One Adam step; see :func:`adam`. Returns ``(x, exp_avg, exp_avg_sq, max_exp_avg_sq)``."""
    if maximize:
        g = -g
    if weight_decay is not None:
        if decoupled_weight_decay:
            x = x * (1 - lr * weight_decay)
        else:
            g = fma(weight_decay, x, g)
    b1, b2 = (0.0, 0.0) if first_gradient and step == 1 else (beta1, beta2)
    exp_avg = lerp(exp_avg, g, 1 - b1)
    exp_avg_sq = fma((1 - b2) * g, g, exp_avg_sq * b2)
    if max_exp_avg_sq is not None:
        max_exp_avg_sq = np.maximum(max_exp_avg_sq, exp_avg_sq)
        second = max_exp_avg_sq
    else:
        second = exp_avg_sq
    if bias_correction:
        step_size = lr / (1 - beta1**step)
        denom = np.sqrt(second) / (1 - beta2**step) ** 0.5 + eps
    else:
        step_size = lr
        denom = np.sqrt(second) + eps
    return x + (-step_size) * exp_avg / denom, exp_avg, exp_avg_sq, max_exp_avg_sq


@register_optimizer(
    "adam",
    {
        "lr": ("learning rate η", "[0, inf)"),
        "betas": ("decay rates (β₁, β₂) of the first and second moments (the book's γv, γs)",
                  "[0, 1)"),
        "eps": ("ε added to the root, against division by zero", "[0, inf)"),
        "weight_decay": ("weight decay λ", "[0, inf)"),
        "amsgrad": ("divide by the running maximum of the second moment (AMSGrad)", None),
        "decoupled_weight_decay": ("decay the weights directly, as AdamW does", None),
        "maximize": ("maximize the objective instead of minimizing", None),
        "bias_correction": ("divide the moments by 1 − βᵗ; false is the book's form", None),
        "state_init": ("'zeros' as torch, or 'first_gradient': m_1 = g_1, v_1 = g_1², the book's "
                       "form", STATE_INIT_CHOICES),
    },
)
def adam(
    lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
    decoupled_weight_decay=False, maximize=False, bias_correction=True, state_init="zeros",
):
    r"""Adam: momentum on the gradient, steps scaled by the root of its second moment.

    .. math::
        g_t &\leftarrow \nabla f(x_{t-1}) + \lambda x_{t-1}
             \quad (\text{decoupled: } x_{t-1} \leftarrow (1 - \eta\lambda) x_{t-1}) \\
        m_t &= \beta_1 m_{t-1} + (1 - \beta_1) g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1 - \beta_2) g_t^2 \\
        \hat v_t &= \max(\hat v_{t-1}, v_t) \text{ (amsgrad) or } v_t \\
        x_t &= x_{t-1} - \frac{\eta}{1 - \beta_1^t}\,
               \frac{m_t}{\sqrt{\hat v_t} / \sqrt{1 - \beta_2^t} + \epsilon}

    ``bias_correction=False`` drops both :math:`1 - \beta^t` factors (the book's eq. 8.9), and
    ``state_init="first_gradient"`` starts :math:`m_1 = g_1,\ v_1 = g_1^2` instead of from zero:
    together they are the form drawn in the book's fig. 8.6.

    Args:
      lr: :math:`\eta \ge 0`; betas: :math:`(\beta_1, \beta_2) \in [0, 1)^2`;
      eps: :math:`\epsilon \ge 0`; weight_decay: :math:`\lambda \ge 0`. Each a scalar or
      ``(trials,)`` (each beta separately).
      amsgrad: AMSGrad's running maximum of :math:`v_t`.
      decoupled_weight_decay: AdamW's decay of the weights.
      maximize: ascend instead of descend.
      bias_correction: divide the moments by :math:`1 - \beta^t` (torch); False is the book's.
      state_init: ``"zeros"`` (torch) or ``"first_gradient"`` (the book).

    References:
      ``torch.optim.Adam``; Kingma & Ba, ICLR 2015; Reddi, Kale & Kumar, ICLR 2018 (AMSGrad);
      Loshchilov & Hutter, ICLR 2019 (decoupled weight decay).
    """
    lr = per_trial("adam", "lr", lr)
    beta1, beta2 = _pair("adam", "betas", betas)
    eps = per_trial("adam", "eps", eps)
    weight_decay = per_trial("adam", "weight_decay", weight_decay)
    state_init = _choice("adam", "state_init", state_init)
    weight_decay = weight_decay if _any_nonzero(weight_decay) else None
    first_gradient = state_init == "first_gradient"

    def init(x):
        return AdamState(np.zeros_like(x), np.zeros_like(x), np.zeros_like(x) if amsgrad else None)

    def update(x, grad, state, step):
        x, m, v, vmax = adam_rule(
            x, grad, state.exp_avg, state.exp_avg_sq, state.max_exp_avg_sq, step, lr, beta1,
            beta2, eps, weight_decay, decoupled_weight_decay, maximize, bias_correction,
            first_gradient,
        )
        return x, AdamState(m, v, vmax)

    return Optimizer(init, update)


__all__ = [
    "OPTIMIZERS",
    "Hyperparameter",
    "Optimizer",
    "OptimizerSpec",
    "adagrad",
    "adam",
    "fma",
    "lerp",
    "make_optimizer",
    "per_trial",
    "rmsprop",
    "sgd",
]

