r"""Optimizers as pure ``init``/``update`` pairs over ``(trials, dim)`` arrays.

Each optimizer follows ``torch.optim`` 2.13 (names, hyperparameters, defaults, and the order of
the floating-point operations of its single-tensor CPU path), so that a trajectory equals
torch's to ~1e-12 relative in float64. The book's textbook forms are options documented in each
docstring.

An optimizer is ``Optimizer(init, update)``:

* ``init(x) -> state``, ``x`` of shape ``(T, D)``;
* ``update(x, grad, state, step, lr=<the factory's lr>) -> (x_new, state_new)`` with
  ``step = 1, 2, ...``; a learning-rate schedule passes each step's ``lr`` (a float or
  ``(T, 1)``), as torch's schedulers set ``param_group["lr"]`` between steps.

``update`` returns the new point rather than an increment ``x + delta``, because torch's
decoupled weight decay multiplies the parameter before adding the step, and only computing the
new point exactly as torch does keeps trajectories equal to the last digit.

torch keeps some scalar state (step counts, NAdam's ``mu_product``, ASGD's ``eta`` and ``mu``)
in its default dtype: optbench matches torch run with ``torch.set_default_dtype(torch.float64)``.

Numeric hyperparameters may differ per trial: each is a scalar or an array of shape ``(T,)``,
stored as ``(T, 1)`` so that it broadcasts against ``(T, D)``. Boolean and choice options select
the variant of the algorithm and are one per optimizer instance.

The ``*_rule`` functions hold the arithmetic alone; it works on NumPy arrays and on scalars
alike so that a fused kernel can reuse it. Where torch's kernels fuse a multiply and an add
(``add(alpha=)``, ``addcmul``, ``lerp``) the rules call :func:`fma`; ``addcdiv`` is not fused
in torch and is written as ``x + (v * a) / b``. This module imports NumPy alone.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

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

    ``kind`` is ``"float"``, ``"int"`` (a whole number, held as a float), ``"pair"`` (two floats,
    like ``betas``), ``"bool"`` or ``"choice"``.
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
        if self.kind == "int":
            fractional = arr != np.floor(arr)
            if np.any(fractional):
                first = arr.reshape(-1)[np.argmax(fractional.reshape(-1))]
                raise ValueError(f"{label} must be a whole number, got {float(first)!r}")


@dataclass(frozen=True)
class OptimizerSpec:
    """A registered optimizer factory and its hyperparameters."""

    name: str
    factory: Callable[..., Optimizer]
    summary: str
    hyperparameters: dict[str, Hyperparameter]
    #: The factory takes ``schedule`` (see :func:`optbench.schedules.scheduled`): built-ins do.
    schedulable: bool = False

    def __call__(self, **kwargs) -> Optimizer:
        return self.factory(**kwargs)


OPTIMIZERS: dict[str, OptimizerSpec] = {}


def register_optimizer(name: str, docs: dict[str, tuple]):
    """Register ``factory`` under ``name``.

    ``docs`` maps each parameter of the factory to ``(doc, interval_or_choices)``; defaults come
    from the factory's signature, so they are written once. The factory is returned wrapped: it
    receives its arguments already checked against these rules and in the rules' form (floats or
    ``(T, 1)`` columns), and keeps only the checks that involve several parameters.
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
        signature = inspect.signature(factory)

        @functools.wraps(factory)
        def checked(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            return factory(**{k: _checked_value(hypers[k], v) for k, v in bound.arguments.items()})

        summary = (factory.__doc__ or "").strip().splitlines()[0]
        OPTIMIZERS[name] = OptimizerSpec(name, _accepting_schedule(checked, hypers["lr"]),
                                         summary, hypers, schedulable=True)
        return checked

    return decorate


def _checked_value(hyper: Hyperparameter, value):
    """A factory argument checked against its registration, in the form the rules take: a float
    or ``(T, 1)`` column per number (a pair of them for a pair), a checked choice, a bool as is."""
    if hyper.kind == "pair":
        if len(value) != 2:
            raise ValueError(f"{hyper.name} must be a pair of numbers, got {value!r}")
        return tuple(as_per_trial(hyper, v, f"{hyper.name}[{i}]") for i, v in enumerate(value))
    if hyper.kind == "choice":
        if value not in hyper.choices:
            raise ValueError(f"{hyper.name} must be one of {', '.join(map(repr, hyper.choices))}, "
                             f"got {value!r}")
        return value
    if hyper.kind == "bool":
        return value
    return as_per_trial(hyper, value)


SCHEDULE_KEY = "schedule"


def _accepting_schedule(factory, lr: Hyperparameter):
    """``factory`` that also takes a learning-rate schedule.

    ``schedule`` is a schedule's name with its parameters as ``schedule.<name>`` keywords (the
    flat form a sweep expands: ``schedule="step_lr", **{"schedule.step_size": 30}``), or a
    :class:`~optbench.schedules.Schedule`; ``None`` leaves the learning rate constant.
    """

    @functools.wraps(factory)
    def build(schedule=None, **kwargs):
        prefix = SCHEDULE_KEY + "."
        parameters = {k[len(prefix):]: kwargs.pop(k) for k in list(kwargs) if k.startswith(prefix)}
        optimizer = factory(**kwargs)
        if schedule is None:
            if parameters:
                raise ValueError(f"{prefix}{next(iter(parameters))} is given without a schedule")
            return optimizer
        from .schedules import make_schedule, scheduled  # it imports this module

        if isinstance(schedule, str):
            schedule = make_schedule(schedule, **parameters)
        base_lr = as_per_trial(lr, kwargs.get("lr", lr.default))
        return scheduled(optimizer, schedule, base_lr)

    return build


#: Hyperparameters many optimizers share, with the same meaning: ``name -> (doc, rule)``;
#: ``"l2"`` is ``weight_decay`` as an L2 penalty added to the gradient.
_SHARED_DOCS = {
    "lr": ("learning rate η", "[0, inf)"),
    "eps": ("ε added to the root, against division by zero", "[0, inf)"),
    "l2": ("L2 penalty λ added to the gradient", "[0, inf)"),
    "momentum": ("momentum factor μ", "[0, inf)"),
    "betas": ("decay rates (β₁, β₂) of the first and second moments", "[0, 1)"),
    "amsgrad": ("divide by the running maximum of the second moment (AMSGrad)", None),
    "decoupled_weight_decay": ("decay the weights directly, as AdamW does", None),
    "maximize": ("maximize the objective instead of minimizing", None),
}


def shared_docs(*names: str) -> dict[str, tuple]:
    """The ``register_optimizer`` docs of shared hyperparameters (see ``_SHARED_DOCS``)."""
    return {("weight_decay" if n == "l2" else n): _SHARED_DOCS[n] for n in names}


def make_optimizer(name: str, **hyperparameters) -> Optimizer:
    """Build the registered optimizer ``name``; ValueError on a bad name or value."""
    try:
        spec = OPTIMIZERS[name]
    except KeyError:
        raise ValueError(f"unknown optimizer {name!r}") from None
    return spec.factory(**hyperparameters)


def as_per_trial(hyper: Hyperparameter, value, label: str | None = None):
    """Check ``value`` against ``hyper``'s interval; return a float or a ``(T, 1)`` array."""
    hyper.check(value, label)
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        return float(arr)
    if arr.ndim != 1:
        raise ValueError(
            f"{label or hyper.name} must be a scalar or have shape (trials,), got {arr.shape}"
        )
    return arr[:, None]


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

    In float32 (every array operand float32; see :func:`in_precision`) the product of two
    float32 numbers is exact in binary64, so ``c + a b`` is the error-free sum
    :math:`(s, e) = c \oplus ab`; :math:`\mathrm{RO}(s + e)` rounded to float32 is then correctly
    rounded, since 53 >= 24 + 2 bits (the same paper, Theorem 3).
    """
    if np.result_type(a, b, c) == np.float32:
        return _fma_float32(a, b, c)
    a, b, c = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64), np.asarray(c, dtype=np.float64)
    u_hi, u_lo = _two_product(a, b)
    t_hi, t_lo = _two_sum(c, u_hi)
    return t_hi + _round_to_odd(*_two_sum(t_lo, u_lo))


def _round_to_odd(s, e):
    """``s + e`` (``s = fl(s + e)``) rounded to odd: where inexact and ``s``'s significand is
    even, the neighbour of ``s`` towards the exact sum."""
    even = (s.view(np.int64) & 1) == 0
    towards = np.nextafter(s, np.where(e > 0, np.inf, -np.inf))
    return np.where((e != 0) & even, towards, s)


def _fma_float32(a, b, c):
    a, b, c = (np.asarray(v, dtype=np.float32).astype(np.float64) for v in (a, b, c))
    with np.errstate(over="ignore", invalid="ignore"):  # beyond float32's range: inf, as torch
        return _round_to_odd(*_two_sum(c, a * b)).astype(np.float32)


def in_precision(value, like):
    """``value`` in the floating type of ``like`` (a point, a state, or a kernel's scalar).

    torch casts a Python scalar to a float32 tensor's type where the two meet: a
    hyperparameter, or a scalar torch computes in double (Adam's ``lr / (1 - beta1^t)``). The
    update rules pass every such scalar through here, so a float32 run rounds it once, where
    torch does; in float64 it is the value itself.
    """
    if np.result_type(like) == np.float32:
        return np.asarray(value, dtype=np.float64).astype(np.float32)[()]
    return value


def in_double(value):
    """A scalar state held in float32 (NAdam's ``mu_product``), read back as a double: torch's
    ``.item()`` before it computes with it in Python."""
    return np.asarray(value, dtype=np.float64)[()]


def zeros_like(a):
    """Zeros of ``a``'s shape: an array in NumPy, a scalar ``0.0`` in a compiled kernel."""
    return np.zeros_like(a)


def lerp(start, end, weight):
    r"""``torch.lerp`` as computed on the CPU: two fused forms, chosen by the weight for accuracy.

    .. math::  \mathrm{lerp}(s, e, w) = s + w (e - s) \text{ if } |w| < 0.5,
               \text{ else } e - (e - s)(1 - w)
    """
    weight = in_precision(weight, start)  # torch rounds the weight to the tensor's type
    if np.ndim(weight) == 0:
        return lerp_scalar_weight(start, end, weight)
    diff = end - start
    return np.where(np.abs(weight) < 0.5, fma(weight, diff, start), fma(-diff, 1 - weight, end))


def lerp_scalar_weight(start, end, weight):
    """:func:`lerp` with one weight for every entry (and the form a compiled kernel calls)."""
    diff = end - start
    if abs(weight) < 0.5:
        return fma(weight, diff, start)
    # 1 - w in the weight's type (a compiled kernel would widen 1 - float32 to float64).
    return fma(-diff, in_precision(1.0, weight) - weight, end)


# ---------------------------------------------------------------------------------------------
# SGD


class SGDState(NamedTuple):
    momentum_buffer: np.ndarray | None  # b_t, (T, D); None without momentum


def sgd_rule(x, g, buf, step, lr, momentum, dampening, weight_decay, nesterov, maximize):
    r"""One SGD step; see :func:`sgd` for the formula. Returns ``(x, buf)``."""
    if maximize:
        g = -g
    if weight_decay is not None:
        g = fma(in_precision(weight_decay, x), x, g)
    if buf is not None:
        # torch starts the buffer at the first gradient (b_1 = g_1), without dampening.
        buf = g if step == 1 else fma(in_precision(1 - dampening, x), g,
                                      buf * in_precision(momentum, x))
        g = fma(in_precision(momentum, x), buf, g) if nesterov else buf
    return fma(in_precision(-lr, x), g, x), buf


@register_optimizer(
    "sgd",
    {
        **shared_docs('lr', 'momentum', 'l2', 'maximize'),
        "dampening": ("dampening τ of the gradient added to the buffer", "(-inf, inf)"),
        "nesterov": ("Nesterov momentum (needs μ > 0 and τ = 0)", None),
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
    if nesterov and (np.any(np.asarray(momentum) <= 0) or _any_nonzero(dampening)):
        raise ValueError("nesterov requires a momentum > 0 and zero dampening")
    use_momentum = _any_nonzero(momentum)
    # torch skips the buffer where momentum == 0; a buffer with momentum 0 and no dampening
    # reproduces that exactly (b_t = g_t), so trials without momentum may share the batch.
    dampening = np.where(np.asarray(momentum) == 0, 0.0, dampening) if use_momentum else 0.0
    weight_decay = weight_decay if _any_nonzero(weight_decay) else None

    def init(x):
        return SGDState(np.zeros_like(x) if use_momentum else None)

    def update(x, grad, state, step, lr=lr):
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
        g = fma(in_precision(weight_decay, x), x, g)
    clr = lr / (1 + (step - 1) * lr_decay)
    state_sum = fma(g, g, state_sum)
    std = np.sqrt(state_sum) + in_precision(eps, x)
    return x + in_precision(-clr, x) * g / std, state_sum


@register_optimizer(
    "adagrad",
    {
        **shared_docs('lr', 'l2', 'eps', 'maximize'),
        "lr_decay": ("learning-rate decay ρ", "[0, inf)"),
        "initial_accumulator_value": ("initial value s_0 of the accumulator", "[0, inf)"),
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
    s0 = initial_accumulator_value
    weight_decay = weight_decay if _any_nonzero(weight_decay) else None

    def init(x):
        return AdagradState(np.zeros_like(x) + in_precision(s0, x))

    def update(x, grad, state, step, lr=lr):
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
        g = fma(in_precision(weight_decay, x), x, g)
    if first_gradient and step == 1:
        alpha = 0.0  # s_1 = g_1^2 (and m_1 = g_1): the book's form
    square_avg = fma(in_precision(1 - alpha, x) * g, g, square_avg * in_precision(alpha, x))
    if grad_avg is not None:
        grad_avg = lerp(grad_avg, g, 1 - alpha)
        if first_gradient and step == 1:
            # s_1 - m_1^2 = g_1^2 - g_1^2 = 0; the fused form would leave the rounding error of
            # g_1^2, of either sign (a NaN root when negative).
            avg = zeros_like(square_avg)
        elif first_gradient:
            # Started from g_1, the variance stays exactly 0 while the gradient is constant; its
            # rounding residue must not turn into a NaN root (torch's form has no such start).
            avg = np.sqrt(np.maximum(fma(-grad_avg, grad_avg, square_avg), zeros_like(x)))
        else:
            avg = np.sqrt(fma(-grad_avg, grad_avg, square_avg))
    else:
        avg = np.sqrt(square_avg)
    avg = avg + in_precision(eps, x)
    if buf is None:
        return x + in_precision(-lr, x) * g / avg, square_avg, grad_avg, None
    buf = buf * in_precision(momentum, x) + g / avg
    x_new = fma(in_precision(-lr, x), buf, x)
    if mixed_momentum is not None:
        # torch divides after scaling by lr when momentum == 0: keep that rounding there.
        x_new = np.where(mixed_momentum, x + in_precision(-lr, x) * g / avg, x_new)
    return x_new, square_avg, grad_avg, buf


@register_optimizer(
    "rmsprop",
    {
        **shared_docs('lr', 'eps', 'l2', 'momentum', 'maximize'),
        "alpha": ("smoothing constant α of the squared-gradient average (the book's γ)", "[0, inf)"),
        "centered": ("divide by the centered (variance) estimate", None),
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

    def update(x, grad, state, step, lr=lr):
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
            x = x * in_precision(1 - lr * weight_decay, x)
        else:
            g = fma(in_precision(weight_decay, x), x, g)
    b1, b2 = (0.0, 0.0) if first_gradient and step == 1 else (beta1, beta2)
    exp_avg = lerp(exp_avg, g, 1 - b1)
    exp_avg_sq = fma(in_precision(1 - b2, x) * g, g, exp_avg_sq * in_precision(b2, x))
    if max_exp_avg_sq is not None:
        max_exp_avg_sq = np.maximum(max_exp_avg_sq, exp_avg_sq)
        second = max_exp_avg_sq
    else:
        second = exp_avg_sq
    if bias_correction:
        step_size = lr / (1 - beta1**step)
        denom = np.sqrt(second) / in_precision((1 - beta2**step) ** 0.5, x) + in_precision(eps, x)
    else:
        step_size = lr
        denom = np.sqrt(second) + in_precision(eps, x)
    return (x + in_precision(-step_size, x) * exp_avg / denom, exp_avg, exp_avg_sq,
            max_exp_avg_sq)


@register_optimizer(
    "adam",
    {
        **shared_docs('lr', 'eps', 'amsgrad', 'decoupled_weight_decay', 'maximize'),
        "betas": ("decay rates (β₁, β₂) of the first and second moments (the book's γv, γs)",
                  "[0, 1)"),
        "weight_decay": ("weight decay λ", "[0, inf)"),
        "bias_correction": ("divide the moments by 1 − βᵗ; false is the book's form", None),
        "state_init": ("'zeros' as torch, or 'first_gradient': m_1 = g_1, v_1 = g_1² (the book)",
                       STATE_INIT_CHOICES),
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
    beta1, beta2 = betas
    weight_decay = weight_decay if _any_nonzero(weight_decay) else None
    first_gradient = state_init == "first_gradient"

    def init(x):
        return AdamState(np.zeros_like(x), np.zeros_like(x), np.zeros_like(x) if amsgrad else None)

    def update(x, grad, state, step, lr=lr):
        x, m, v, vmax = adam_rule(
            x, grad, state.exp_avg, state.exp_avg_sq, state.max_exp_avg_sq, step, lr, beta1,
            beta2, eps, weight_decay, decoupled_weight_decay, maximize, bias_correction,
            first_gradient,
        )
        return x, AdamState(m, v, vmax)

    return Optimizer(init, update)


# ---------------------------------------------------------------------------------------------
# AdamW


@register_optimizer(
    "adamw",
    {
        **shared_docs('lr', 'betas', 'eps', 'amsgrad', 'maximize'),
        "weight_decay": ("decoupled weight decay λ: x ← (1 − ηλ) x before the step", "[0, inf)"),
    },
)
def adamw(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False,
          maximize=False):
    r"""AdamW: Adam with weight decay decoupled from the gradient.

    .. math::
        x_{t-1} &\leftarrow (1 - \eta\lambda)\, x_{t-1}, \qquad g_t = \nabla f(x_{t-1}) \\
        m_t &= \beta_1 m_{t-1} + (1 - \beta_1) g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1 - \beta_2) g_t^2 \\
        \hat v_t &= \max(\hat v_{t-1}, v_t) \text{ (amsgrad) or } v_t, \qquad
        x_t = x_{t-1} - \frac{\eta}{1 - \beta_1^t}\,
               \frac{m_t}{\sqrt{\hat v_t} / \sqrt{1 - \beta_2^t} + \epsilon}

    As in torch 2.13, this is :func:`adam` with ``decoupled_weight_decay=True``, with a default
    :math:`\lambda = 10^{-2}` instead of 0.

    Args:
      lr: :math:`\eta \ge 0`; betas: :math:`(\beta_1, \beta_2) \in [0, 1)^2`;
      eps: :math:`\epsilon \ge 0`; weight_decay: :math:`\lambda \ge 0`. Each a scalar or
      ``(trials,)`` (each beta separately).
      amsgrad: AMSGrad's running maximum of :math:`v_t`.
      maximize: ascend instead of descend.

    References:
      ``torch.optim.AdamW``; Loshchilov & Hutter, "Decoupled Weight Decay Regularization",
      ICLR 2019.
    """
    beta1, beta2 = betas
    weight_decay = weight_decay if _any_nonzero(weight_decay) else None

    def init(x):
        return AdamState(np.zeros_like(x), np.zeros_like(x), np.zeros_like(x) if amsgrad else None)

    def update(x, grad, state, step, lr=lr):
        x, m, v, vmax = adam_rule(
            x, grad, state.exp_avg, state.exp_avg_sq, state.max_exp_avg_sq, step, lr, beta1,
            beta2, eps, weight_decay, True, maximize, True, False,
        )
        return x, AdamState(m, v, vmax)

    return Optimizer(init, update)


# ---------------------------------------------------------------------------------------------
# Adamax


class AdamaxState(NamedTuple):
    exp_avg: np.ndarray  # m_t, (T, D)
    exp_inf: np.ndarray  # u_t, (T, D)


def adamax_rule(x, g, exp_avg, exp_inf, step, lr, beta1, beta2, eps, weight_decay, maximize):
    r"""One Adamax step; see :func:`adamax`. Returns ``(x, exp_avg, exp_inf)``."""
    if maximize:
        g = -g
    if weight_decay is not None:
        g = fma(in_precision(weight_decay, x), x, g)
    exp_avg = lerp(exp_avg, g, 1 - beta1)
    exp_inf = np.maximum(exp_inf * in_precision(beta2, x), np.abs(g) + in_precision(eps, x))
    clr = lr / (1 - beta1**step)
    return x + in_precision(-clr, x) * exp_avg / exp_inf, exp_avg, exp_inf


@register_optimizer(
    "adamax",
    {
        **shared_docs('lr', 'l2', 'maximize'),
        "betas": ("decay rates (β₁, β₂) of the first moment and of the infinity norm", "[0, 1)"),
        "eps": ("ε added to |g|, against division by zero", "[0, inf)"),
    },
)
def adamax(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, maximize=False):
    r"""Adamax: Adam with an exponentially weighted infinity norm as second moment.

    .. math::
        g_t &\leftarrow \nabla f(x_{t-1}) + \lambda x_{t-1}, \qquad
        m_t = \beta_1 m_{t-1} + (1 - \beta_1) g_t \\
        u_t &= \max(\beta_2 u_{t-1}, |g_t| + \epsilon), \qquad
        x_t = x_{t-1} - \frac{\eta}{1 - \beta_1^t} \frac{m_t}{u_t}

    torch adds :math:`\epsilon` inside the maximum (the paper has no :math:`\epsilon`).

    Args:
      lr: :math:`\eta \ge 0`; betas: :math:`(\beta_1, \beta_2) \in [0, 1)^2`;
      eps: :math:`\epsilon \ge 0`; weight_decay: :math:`\lambda \ge 0`. Each a scalar or
      ``(trials,)`` (each beta separately).
      maximize: ascend instead of descend.

    References:
      ``torch.optim.Adamax``; Kingma & Ba, "Adam: A Method for Stochastic Optimization",
      ICLR 2015, section 7.1.
    """
    beta1, beta2 = betas
    weight_decay = weight_decay if _any_nonzero(weight_decay) else None

    def init(x):
        return AdamaxState(np.zeros_like(x), np.zeros_like(x))

    def update(x, grad, state, step, lr=lr):
        x, m, u = adamax_rule(
            x, grad, state.exp_avg, state.exp_inf, step, lr, beta1, beta2, eps, weight_decay,
            maximize,
        )
        return x, AdamaxState(m, u)

    return Optimizer(init, update)


# ---------------------------------------------------------------------------------------------
# NAdam


class NAdamState(NamedTuple):
    exp_avg: np.ndarray  # m_t, (T, D)
    exp_avg_sq: np.ndarray  # v_t, (T, D)
    mu_product: float | np.ndarray  # prod_{s<=t} mu_s, a float or (T, 1)


def nadam_rule(
    x, g, exp_avg, exp_avg_sq, mu_product, step, lr, beta1, beta2, eps, weight_decay,
    momentum_decay, decoupled_weight_decay, maximize,
):
    r"""One NAdam step; see :func:`nadam`. Returns ``(x, exp_avg, exp_avg_sq, mu_product)``."""
    if maximize:
        g = -g
    bias_correction2 = 1 - beta2**step
    if weight_decay is not None:
        if decoupled_weight_decay:
            x = x * in_precision(1 - lr * weight_decay, x)
        else:
            g = fma(in_precision(weight_decay, x), x, g)
    mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
    mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
    # torch keeps mu_product in its default dtype (float32 for a float32 run: a product of
    # float32s) and reads it back as a double.
    mu_product = in_precision(mu_product, x) * in_precision(mu, x)
    exp_avg = lerp(exp_avg, g, 1 - beta1)
    exp_avg_sq = fma(in_precision(1 - beta2, x) * g, g, exp_avg_sq * in_precision(beta2, x))
    denom = np.sqrt(exp_avg_sq / in_precision(bias_correction2, x)) + in_precision(eps, x)
    mu_product_next = in_double(mu_product) * mu_next
    # Two separate additions, as torch does them (not one fused step).
    x = x + in_precision(-lr * (1.0 - mu) / (1.0 - in_double(mu_product)), x) * g / denom
    x = x + in_precision((-lr * mu_next) / (1.0 - mu_product_next), x) * exp_avg / denom
    return x, exp_avg, exp_avg_sq, mu_product


@register_optimizer(
    "nadam",
    {
        **shared_docs('lr', 'betas', 'eps', 'maximize'),
        "weight_decay": ("weight decay λ", "[0, inf)"),
        "momentum_decay": ("ψ of the momentum schedule μ_t = β₁(1 − 0.96^(tψ)/2)", "[0, inf)"),
        "decoupled_weight_decay": ("decay the weights directly, as AdamW does (NAdamW)", None),
    },
)
def nadam(
    lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, momentum_decay=4e-3,
    decoupled_weight_decay=False, maximize=False,
):
    r"""NAdam: Adam with Nesterov momentum and a warming momentum schedule.

    .. math::
        g_t &\leftarrow \nabla f(x_{t-1}) + \lambda x_{t-1}
             \quad (\text{decoupled: } x_{t-1} \leftarrow (1 - \eta\lambda) x_{t-1}) \\
        \mu_t &= \beta_1 \bigl(1 - \tfrac12\, 0.96^{t\psi}\bigr), \qquad
        m_t = \beta_1 m_{t-1} + (1 - \beta_1) g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1 - \beta_2) g_t^2 \\
        d_t &= \sqrt{v_t / (1 - \beta_2^t)} + \epsilon, \qquad
        x_t = x_{t-1} - \frac{\eta (1 - \mu_t)}{1 - \prod_{s \le t} \mu_s} \frac{g_t}{d_t}
                      - \frac{\eta\, \mu_{t+1}}{1 - \prod_{s \le t+1} \mu_s} \frac{m_t}{d_t}

    Args:
      lr: :math:`\eta \ge 0`; betas: :math:`(\beta_1, \beta_2) \in [0, 1)^2`;
      eps: :math:`\epsilon \ge 0`; weight_decay: :math:`\lambda \ge 0`;
      momentum_decay: :math:`\psi \ge 0`. Each a scalar or ``(trials,)`` (each beta separately).
      decoupled_weight_decay: decay the weights as AdamW does (torch's NAdamW).
      maximize: ascend instead of descend.

    References:
      ``torch.optim.NAdam``; Dozat, "Incorporating Nesterov Momentum into Adam", ICLR 2016
      workshop; Loshchilov & Hutter, ICLR 2019 (decoupled weight decay).
    """
    beta1, beta2 = betas
    weight_decay = weight_decay if _any_nonzero(weight_decay) else None

    def init(x):
        return NAdamState(np.zeros_like(x), np.zeros_like(x), 1.0)

    def update(x, grad, state, step, lr=lr):
        x, m, v, mu_product = nadam_rule(
            x, grad, state.exp_avg, state.exp_avg_sq, state.mu_product, step, lr, beta1, beta2,
            eps, weight_decay, momentum_decay, decoupled_weight_decay, maximize,
        )
        return x, NAdamState(m, v, mu_product)

    return Optimizer(init, update)


# ---------------------------------------------------------------------------------------------
# RAdam


class RAdamState(NamedTuple):
    exp_avg: np.ndarray  # m_t, (T, D)
    exp_avg_sq: np.ndarray  # v_t, (T, D)


def radam_rule(
    x, g, exp_avg, exp_avg_sq, step, lr, beta1, beta2, eps, weight_decay, decoupled_weight_decay,
    maximize,
):
    r"""One RAdam step; see :func:`radam`. Returns ``(x, exp_avg, exp_avg_sq)``."""
    if maximize:
        g = -g
    if weight_decay is not None:
        if decoupled_weight_decay:
            x = x * in_precision(1 - lr * weight_decay, x)
        else:
            g = fma(in_precision(weight_decay, x), x, g)
    exp_avg = lerp(exp_avg, g, 1 - beta1)
    exp_avg_sq = fma(in_precision(1 - beta2, x) * g, g, exp_avg_sq * in_precision(beta2, x))
    bias_correction1 = 1 - beta1**step
    bias_correction2 = 1 - beta2**step
    bias_corrected_exp_avg = exp_avg / in_precision(bias_correction1, x)
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * step * (beta2**step) / bias_correction2
    plain = x - bias_corrected_exp_avg * in_precision(lr, x)
    if np.ndim(rho_t) == 0 and not rho_t > 5.0:
        return plain, exp_avg, exp_avg_sq
    # The rectified step; where rho_t <= 5 (only with per-trial beta2) it is discarded below,
    # so its radicand, which may be negative there, is replaced by 1 rather than rooted.
    radicand = (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
    if np.ndim(rho_t) != 0:
        radicand = np.where(rho_t > 5.0, radicand, 1.0)
    rect = in_precision(radicand ** 0.5, x)
    # torch computes scalar / tensor as tensor.reciprocal() * scalar: two roundings.
    adaptive_lr = np.reciprocal(np.sqrt(exp_avg_sq) + in_precision(eps, x)) * in_precision(
        bias_correction2**0.5, x)
    rectified = x - bias_corrected_exp_avg * in_precision(lr, x) * adaptive_lr * rect
    if np.ndim(rho_t) == 0:
        return rectified, exp_avg, exp_avg_sq
    return np.where(rho_t > 5.0, rectified, plain), exp_avg, exp_avg_sq


@register_optimizer(
    "radam",
    {
        **shared_docs('lr', 'betas', 'eps', 'decoupled_weight_decay', 'maximize'),
        "weight_decay": ("weight decay λ", "[0, inf)"),
    },
)
def radam(
    lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled_weight_decay=False,
    maximize=False,
):
    r"""RAdam: Adam with the adaptive step rectified, on once its variance is tractable.

    .. math::
        g_t &\leftarrow \nabla f(x_{t-1}) + \lambda x_{t-1}
             \quad (\text{decoupled: } x_{t-1} \leftarrow (1 - \eta\lambda) x_{t-1}) \\
        m_t &= \beta_1 m_{t-1} + (1 - \beta_1) g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1 - \beta_2) g_t^2, \qquad
        \hat m_t = m_t / (1 - \beta_1^t) \\
        \rho_\infty &= \frac{2}{1 - \beta_2} - 1, \qquad
        \rho_t = \rho_\infty - \frac{2 t \beta_2^t}{1 - \beta_2^t}, \qquad
        r_t = \sqrt{\frac{(\rho_t - 4)(\rho_t - 2)\rho_\infty}
                         {(\rho_\infty - 4)(\rho_\infty - 2)\rho_t}} \\
        x_t &= x_{t-1} - \eta\, \hat m_t\, \frac{\sqrt{1 - \beta_2^t}}{\sqrt{v_t} + \epsilon}\, r_t
        \text{ if } \rho_t > 5, \text{ else } x_t = x_{t-1} - \eta\, \hat m_t

    Args:
      lr: :math:`\eta \ge 0`; betas: :math:`(\beta_1, \beta_2) \in [0, 1)^2`;
      eps: :math:`\epsilon \ge 0`; weight_decay: :math:`\lambda \ge 0`. Each a scalar or
      ``(trials,)`` (each beta separately).
      decoupled_weight_decay: decay the weights as AdamW does (torch's RAdamW).
      maximize: ascend instead of descend.

    References:
      ``torch.optim.RAdam``; Liu et al., "On the Variance of the Adaptive Learning Rate and
      Beyond", ICLR 2020.
    """
    beta1, beta2 = betas
    weight_decay = weight_decay if _any_nonzero(weight_decay) else None

    def init(x):
        return RAdamState(np.zeros_like(x), np.zeros_like(x))

    def update(x, grad, state, step, lr=lr):
        x, m, v = radam_rule(
            x, grad, state.exp_avg, state.exp_avg_sq, step, lr, beta1, beta2, eps, weight_decay,
            decoupled_weight_decay, maximize,
        )
        return x, RAdamState(m, v)

    return Optimizer(init, update)


# ---------------------------------------------------------------------------------------------
# Adadelta


class AdadeltaState(NamedTuple):
    square_avg: np.ndarray  # s_t, (T, D)
    acc_delta: np.ndarray  # u_t, (T, D)


def adadelta_rule(x, g, square_avg, acc_delta, lr, rho, eps, weight_decay, maximize):
    r"""One Adadelta step; see :func:`adadelta`. Returns ``(x, square_avg, acc_delta)``."""
    if maximize:
        g = -g
    if weight_decay is not None:
        g = fma(in_precision(weight_decay, x), x, g)
    one_minus_rho, rho, eps = (in_precision(v, x) for v in (1 - rho, rho, eps))
    square_avg = fma(one_minus_rho * g, g, square_avg * rho)
    std = np.sqrt(square_avg + eps)
    delta = np.sqrt(acc_delta + eps) / std * g
    acc_delta = fma(one_minus_rho * delta, delta, acc_delta * rho)
    return fma(in_precision(-lr, x), delta, x), square_avg, acc_delta


@register_optimizer(
    "adadelta",
    {
        **shared_docs('l2', 'maximize'),
        "lr": ("coefficient η that scales the step", "[0, inf)"),
        "rho": ("decay rate ρ of both running averages", "[0, 1]"),
        "eps": ("ε added inside both roots", "[0, inf)"),
    },
)
def adadelta(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, maximize=False):
    r"""Adadelta: steps scaled by the ratio of the RMS of past steps to that of gradients.

    .. math::
        g_t &\leftarrow \nabla f(x_{t-1}) + \lambda x_{t-1}, \qquad
        s_t = \rho s_{t-1} + (1 - \rho) g_t^2 \\
        \Delta_t &= \frac{\sqrt{u_{t-1} + \epsilon}}{\sqrt{s_t + \epsilon}}\, g_t, \qquad
        u_t = \rho u_{t-1} + (1 - \rho) \Delta_t^2, \qquad x_t = x_{t-1} - \eta \Delta_t

    The paper has no learning rate (:math:`\eta = 1`, torch's default).

    Args:
      lr: :math:`\eta \ge 0`; rho: :math:`\rho \in [0, 1]`; eps: :math:`\epsilon \ge 0`;
      weight_decay: :math:`\lambda \ge 0`. Each a scalar or ``(trials,)``.
      maximize: ascend instead of descend.

    References:
      ``torch.optim.Adadelta``; Zeiler, "ADADELTA: An Adaptive Learning Rate Method",
      arXiv:1212.5701 (2012).
    """
    weight_decay = weight_decay if _any_nonzero(weight_decay) else None

    def init(x):
        return AdadeltaState(np.zeros_like(x), np.zeros_like(x))

    def update(x, grad, state, step, lr=lr):
        x, s, u = adadelta_rule(
            x, grad, state.square_avg, state.acc_delta, lr, rho, eps, weight_decay, maximize,
        )
        return x, AdadeltaState(s, u)

    return Optimizer(init, update)


# ---------------------------------------------------------------------------------------------
# Rprop


class RpropState(NamedTuple):
    prev: np.ndarray  # g_{t-1} as used (zeroed where the sign flipped), (T, D)
    step_size: np.ndarray  # η_t per coordinate, (T, D)


def rprop_rule(x, g, prev, step_size, etaminus, etaplus, step_size_min, step_size_max, maximize):
    r"""One Rprop step; see :func:`rprop`. Returns ``(x, prev, step_size)``."""
    if maximize:
        g = -g
    etaminus, etaplus, step_size_min, step_size_max = (
        in_precision(v, x) for v in (etaminus, etaplus, step_size_min, step_size_max))
    sign = np.sign(g * prev)
    # torch overwrites the sign in place: > 0 -> eta+, then < 0 -> eta-, then == 0 -> 1 (NaN stays).
    factor = np.where(
        sign > 0, etaplus, np.where(sign < 0, etaminus, np.where(sign == 0, 1, sign))
    )
    step_size = np.minimum(np.maximum(step_size * factor, step_size_min), step_size_max)
    g = np.where(factor == etaminus, 0.0, g)
    # torch's addcmul(value=-1) is fused, but -sign(g) * step_size is exact: no fma needed.
    return x + (-1 * np.sign(g)) * step_size, g, step_size


@register_optimizer(
    "rprop",
    {
        **shared_docs('maximize'),
        "lr": ("initial step size η₀ of every coordinate", "[0, inf)"),
        "etas": ("factors (η₋, η₊) that shrink / grow a step size, 0 < η₋ < 1 < η₊", "(0, inf)"),
        "step_sizes": ("bounds (Γ_min, Γ_max) of the step sizes", "[0, inf)"),
    },
)
def rprop(lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50.0), maximize=False):
    r"""Rprop: per-coordinate step sizes, grown while the sign holds, shrunk on a flip.

    .. math::
        \eta_t &= \begin{cases}
            \min(\eta_{t-1}\eta_+, \Gamma_{max}) & g_{t-1} g_t > 0 \\
            \max(\eta_{t-1}\eta_-, \Gamma_{min}),\ g_t \leftarrow 0 & g_{t-1} g_t < 0 \\
            \eta_{t-1} & \text{otherwise}
        \end{cases} \\
        x_t &= x_{t-1} - \eta_t\, \mathrm{sign}(g_t), \qquad \eta_0 = \text{lr},\ g_0 = 0

    The gradient kept for the next comparison is the zeroed one (the iRprop⁻ variant). The
    step sizes start from the learning rate at the first step; a schedule changes nothing after.

    Args:
      lr: :math:`\eta_0 \ge 0`; etas: :math:`0 < \eta_- < 1 < \eta_+`;
      step_sizes: :math:`0 \le \Gamma_{min} \le \Gamma_{max}`. Each a scalar or ``(trials,)``.
      maximize: ascend instead of descend.

    References:
      ``torch.optim.Rprop``; Riedmiller & Braun, "A Direct Adaptive Method for Faster
      Backpropagation Learning: The RPROP Algorithm", ICNN 1993; Igel & Hüsken (2000).
    """
    etaminus, etaplus = etas
    if np.any(np.asarray(etaminus) >= 1) or np.any(np.asarray(etaplus) <= 1):
        bad = (np.max(etaminus), np.min(etaplus))
        raise ValueError(f"etas must satisfy 0 < etas[0] < 1 < etas[1], got {bad!r}")
    step_size_min, step_size_max = step_sizes
    if np.any(np.asarray(step_size_min) > np.asarray(step_size_max)):
        raise ValueError("step_sizes must satisfy step_sizes[0] <= step_sizes[1], got "
                         f"{(np.max(step_size_min), np.min(step_size_max))!r}")

    def init(x):
        return RpropState(np.zeros_like(x), np.zeros_like(x))

    def update(x, grad, state, step, lr=lr):
        # torch fills the step sizes with the learning rate of the first step.
        step_size = np.zeros_like(x) + in_precision(lr, x) if step == 1 else state.step_size
        x, prev, step_size = rprop_rule(
            x, grad, state.prev, step_size, etaminus, etaplus, step_size_min, step_size_max,
            maximize,
        )
        return x, RpropState(prev, step_size)

    return Optimizer(init, update)


# ---------------------------------------------------------------------------------------------
# ASGD


class ASGDState(NamedTuple):
    ax: np.ndarray  # averaged iterate, (T, D)
    eta: float | np.ndarray  # step size of the next step, a float or (T, 1)
    mu: float | np.ndarray  # averaging weight of the next step, a float or (T, 1)


def asgd_rule(x, g, ax, eta, mu, step, lr, lambd, alpha, t0, weight_decay, maximize):
    r"""One ASGD step; see :func:`asgd`. Returns ``(x, ax, eta, mu)``."""
    if maximize:
        g = -g
    if weight_decay is not None:
        g = fma(in_precision(weight_decay, x), x, g)
    # torch keeps eta and mu in its default dtype (float32 for a float32 run).
    eta = in_precision(eta, x)
    x = x * in_precision(1 - lambd * in_double(eta), x)
    x = fma(-eta, g, x)
    if np.ndim(mu) == 0:
        ax = ax + (x - ax) * mu if mu != 1 else x
    else:
        ax = np.where(mu != 1, ax + (x - ax) * mu, x)
    eta = in_precision(lr / ((1 + lambd * lr * step) ** alpha), x)
    mu = in_precision(1 / np.maximum(1, step - t0), x)
    return x, ax, eta, mu


@register_optimizer(
    "asgd",
    {
        **shared_docs('lr', 'maximize'),
        "lambd": ("decay term λ of the step size and of the weights", "[0, inf)"),
        "alpha": ("power α of the step-size decay", "[0, inf)"),
        "t0": ("step t₀ at which averaging starts", "[0, inf)"),
        "weight_decay": ("L2 penalty added to the gradient", "[0, inf)"),
    },
)
def asgd(lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0.0, maximize=False):
    r"""ASGD: SGD with a decaying step size and a running average of the iterates.

    .. math::
        g_t &\leftarrow \nabla f(x_{t-1}) + \omega x_{t-1}, \qquad
        x_t = (1 - \lambda \eta_t)\, x_{t-1} - \eta_t g_t \\
        \bar x_t &= \bar x_{t-1} + \mu_t (x_t - \bar x_{t-1}), \qquad
        \eta_{t+1} = \frac{\eta}{(1 + \lambda \eta t)^{\alpha}}, \qquad
        \mu_{t+1} = \frac{1}{\max(1, t - t_0)}

    with :math:`\eta_1 = \eta` and :math:`\mu_1 = 1`. The trajectory is that of :math:`x_t`, as in
    torch; the average :math:`\bar x_t` is kept in the state (``ax``).

    Args:
      lr: :math:`\eta \ge 0`; lambd: :math:`\lambda \ge 0`; alpha: :math:`\alpha \ge 0`;
      t0: :math:`t_0 \ge 0`; weight_decay: :math:`\omega \ge 0`. Each a scalar or ``(trials,)``.
      maximize: ascend instead of descend.

    References:
      ``torch.optim.ASGD``; Polyak & Juditsky, "Acceleration of Stochastic Approximation by
      Averaging", SIAM J. Control Optim. 30(4), 1992.
    """
    weight_decay = weight_decay if _any_nonzero(weight_decay) else None

    def init(x):
        return ASGDState(np.zeros_like(x), lr, 1.0)

    def update(x, grad, state, step, lr=lr):
        # torch sets eta to the learning rate of the first step.
        eta = lr if step == 1 else state.eta
        x, ax, eta, mu = asgd_rule(
            x, grad, state.ax, eta, state.mu, step, lr, lambd, alpha, t0, weight_decay, maximize,
        )
        return x, ASGDState(ax, eta, mu)

    return Optimizer(init, update)


# ---------------------------------------------------------------------------------------------
# Lion and sign descent (not in torch.optim)


class LionState(NamedTuple):
    exp_avg: np.ndarray  # m_t, (T, D)


def lion_rule(x, g, exp_avg, lr, beta1, beta2, weight_decay, maximize):
    r"""One Lion step; see :func:`lion`. Returns ``(x, exp_avg)``."""
    if maximize:
        g = -g
    b1, c1 = in_precision(beta1, x), in_precision(1 - beta1, x)
    b2, c2 = in_precision(beta2, x), in_precision(1 - beta2, x)
    lr = in_precision(lr, x)
    update = np.sign(b1 * exp_avg + c1 * g)
    if weight_decay is not None:
        update = update + in_precision(weight_decay, x) * x
    return x - lr * update, b2 * exp_avg + c2 * g


@register_optimizer(
    "lion",
    {
        **shared_docs('lr', 'maximize'),
        "betas": ("β₁ mixes momentum and gradient inside the sign; β₂ decays the momentum",
                  "[0, 1]"),
        "weight_decay": ("decoupled weight decay λ", "[0, inf)"),
    },
)
def lion(lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0, maximize=False):
    r"""Lion: the sign of an interpolation of momentum and gradient.

    .. math::
        c_t &= \beta_1 m_{t-1} + (1 - \beta_1) g_t, \qquad
        x_t = x_{t-1} - \eta \bigl(\mathrm{sign}(c_t) + \lambda x_{t-1}\bigr) \\
        m_t &= \beta_2 m_{t-1} + (1 - \beta_2) g_t, \qquad m_0 = 0

    Every coordinate moves by :math:`\pm\eta` (plus the decay), so the paper advises a learning
    rate 3–10 times smaller than AdamW's.

    Args:
      lr: :math:`\eta \ge 0`; betas: :math:`(\beta_1, \beta_2) \in [0, 1]^2`;
      weight_decay: :math:`\lambda \ge 0`. Each a scalar or ``(trials,)`` (each beta separately).
      maximize: ascend instead of descend.

    References:
      Chen et al., "Symbolic Discovery of Optimization Algorithms", NeurIPS 2023
      (arXiv:2302.06675), Algorithm 2, with its defaults.
    """
    beta1, beta2 = betas
    weight_decay = weight_decay if _any_nonzero(weight_decay) else None

    def init(x):
        return LionState(np.zeros_like(x))

    def update(x, grad, state, step, lr=lr):
        x, m = lion_rule(x, grad, state.exp_avg, lr, beta1, beta2, weight_decay, maximize)
        return x, LionState(m)

    return Optimizer(init, update)


class SignDescentState(NamedTuple):
    """Sign descent keeps no state."""


def sign_descent_rule(x, g, lr, maximize):
    r"""One sign-descent step; see :func:`sign_descent`. Returns ``x``."""
    if maximize:
        g = -g
    return x - in_precision(lr, x) * np.sign(g)


@register_optimizer(
    "sign_descent",
    {
        **shared_docs('maximize'),
        "lr": ("step length η of every coordinate", "[0, inf)"),
    },
)
def sign_descent(lr=1e-3, maximize=False):
    r"""Sign descent (signSGD): x ← x − η·sign(g), coordinate by coordinate.

    .. math::  x_t = x_{t-1} - \eta\, \mathrm{sign}(\nabla f(x_{t-1}))

    With a constant :math:`\eta` it cannot converge to an accuracy finer than :math:`\eta` per
    coordinate: it ends oscillating around the minimum (a schedule fixes that).

    Args:
      lr: :math:`\eta \ge 0`, scalar or ``(trials,)``.
      maximize: ascend instead of descend.

    References:
      Bernstein et al., "signSGD: Compressed Optimisation for Non-Convex Problems", ICML 2018.
    """

    def init(x):
        return SignDescentState()

    def update(x, grad, state, step, lr=lr):
        return sign_descent_rule(x, grad, lr, maximize), state

    return Optimizer(init, update)


__all__ = [
    "OPTIMIZERS",
    "Hyperparameter",
    "Optimizer",
    "OptimizerSpec",
    "adadelta",
    "adagrad",
    "adam",
    "adamax",
    "adamw",
    "as_per_trial",
    "asgd",
    "fma",
    "lerp",
    "lion",
    "make_optimizer",
    "nadam",
    "radam",
    "rmsprop",
    "rprop",
    "sgd",
    "sign_descent",
]

