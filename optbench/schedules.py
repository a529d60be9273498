r"""Learning-rate schedules, as ``torch.optim.lr_scheduler`` computes them.

A schedule is an option of any built-in optimizer: ``make_optimizer("sgd", lr=0.1,
schedule="step_lr", **{"schedule.step_size": 30})``, or in a config
``schedule: {name: step_lr, step_size: 30}`` on an optimizer entry. Its parameters may differ per
trial and be swept like hyperparameters.

torch's schedulers update the learning rate recursively (the "chainable form"): the scheduler's
constructor sets :math:`\eta_0` from the base learning rate :math:`\eta`, and each
``scheduler.step()`` after ``optimizer.step()`` computes :math:`\eta_e` from
:math:`\eta_{e-1}`. Optimizer step :math:`t = 1, 2, \ldots` therefore uses :math:`\eta_{t-1}`.
The ``*_rule`` functions below are that recursion, with torch's order of floating-point
operations, so the sequence of learning rates equals torch's (to the last bit for scalar
parameters; NumPy's cosine of a per-trial array may differ from ``math.cos`` by one ulp).

:func:`scheduled` wraps an optimizer: it keeps the current learning rate in the state and
passes it to the optimizer's ``update(x, grad, state, step, lr)``. As in torch, a schedule acts
wherever the optimizer reads its learning rate; Rprop reads it only to start its step sizes.

This module imports NumPy alone.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from .optimizers import Hyperparameter, Optimizer, as_per_trial


class Schedule(NamedTuple):
    """A learning-rate schedule in torch's chainable form.

    ``initial(base_lr) -> lr_0``: the learning rate of optimizer step 1;
    ``next(lr, base_lr, epoch) -> lr_epoch``: the learning rate of step ``epoch + 1`` from that
    of step ``epoch`` (``epoch = 1, 2, ...``).
    """

    initial: Callable
    next: Callable


@dataclass(frozen=True)
class ScheduleSpec:
    """A registered schedule factory, its torch class and its parameters."""

    name: str
    torch_name: str
    factory: Callable[..., Schedule]
    summary: str
    hyperparameters: dict[str, Hyperparameter]


SCHEDULES: dict[str, ScheduleSpec] = {}


def register_schedule(name: str, torch_name: str, docs: dict[str, tuple]):
    """Register ``factory`` under ``name``; ``docs`` maps each parameter to ``(doc, interval)``.

    A parameter annotated ``int`` must be a whole number; one without a default is required
    (its default is ``inspect.Parameter.empty``).
    """

    def decorate(factory):
        params = inspect.signature(factory).parameters
        if set(params) != set(docs):  # pragma: no cover - a programming error
            raise TypeError(f"{name}: documented {sorted(docs)} but signature has {sorted(params)}")
        hypers = {}
        for pname, p in params.items():
            doc, interval = docs[pname]
            kind = "int" if p.annotation in (int, "int") else "float"
            default = p.default if p.default is inspect.Parameter.empty else float(p.default)
            hypers[pname] = Hyperparameter(pname, default, kind, doc, interval=interval)
        summary = (factory.__doc__ or "").strip().splitlines()[0]
        SCHEDULES[name] = ScheduleSpec(name, torch_name, factory, summary, hypers)
        return factory

    return decorate


def make_schedule(name: str, **parameters) -> Schedule:
    """Build the registered schedule ``name``; ValueError on a bad name or value."""
    try:
        spec = SCHEDULES[name]
    except KeyError:
        raise ValueError(
            f"unknown schedule {name!r}; known: {', '.join(SCHEDULES)}"
        ) from None
    missing = [p for p, h in spec.hyperparameters.items()
               if h.default is inspect.Parameter.empty and p not in parameters]
    if missing:
        raise ValueError(f"{missing[0]} is required by the {name} schedule")
    unknown = sorted(set(parameters) - set(spec.hyperparameters))
    if unknown:
        raise ValueError(f"{unknown[0]} is not a parameter of the {name} schedule; "
                         f"its parameters: {', '.join(spec.hyperparameters)}")
    return spec.factory(**parameters)


def _param(name: str, pname: str, value):
    return as_per_trial(SCHEDULES[name].hyperparameters[pname], value)


def _select(condition, if_true, if_false):
    """``np.where`` that stays a Python float (and computes one branch) for scalar conditions."""
    if np.ndim(condition) == 0:
        return if_true() if condition else if_false()
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(condition, if_true(), if_false())


def _cos(x):
    """``math.cos`` (torch's) for a float, NumPy's for per-trial arrays."""
    return math.cos(x) if np.ndim(x) == 0 else np.cos(x)


# ---------------------------------------------------------------------------------------------
# StepLR


def step_lr_rule(lr, epoch, step_size, gamma):
    r"""StepLR's recursion; see :func:`step_lr`."""
    return _select(epoch % step_size != 0, lambda: lr, lambda: lr * gamma)


@register_schedule(
    "step_lr", "StepLR",
    {
        "step_size": ("period s of the decay, in steps", "[1, inf)"),
        "gamma": ("factor γ applied every s steps", "[0, inf)"),
    },
)
def step_lr(step_size: int, gamma=0.1) -> Schedule:
    r"""The learning rate times γ every step_size steps.

    .. math::  \eta_0 = \eta, \qquad
               \eta_e = \gamma\, \eta_{e-1} \text{ if } s \mid e, \text{ else } \eta_{e-1}
               \quad (= \eta\, \gamma^{\lfloor e / s \rfloor})

    Args:
      step_size: :math:`s \ge 1`, a whole number; scalar or ``(trials,)``.
      gamma: :math:`\gamma \ge 0`; scalar or ``(trials,)``.

    References:
      ``torch.optim.lr_scheduler.StepLR``.
    """
    step_size = _param("step_lr", "step_size", step_size)
    gamma = _param("step_lr", "gamma", gamma)
    return Schedule(
        initial=lambda base_lr: base_lr,
        next=lambda lr, base_lr, epoch: step_lr_rule(lr, epoch, step_size, gamma),
    )


# ---------------------------------------------------------------------------------------------
# ExponentialLR


@register_schedule(
    "exponential_lr", "ExponentialLR",
    {"gamma": ("factor γ applied every step", "[0, inf)")},
)
def exponential_lr(gamma) -> Schedule:
    r"""The learning rate times γ every step.

    .. math::  \eta_0 = \eta, \qquad \eta_e = \gamma\, \eta_{e-1} \quad (= \eta\, \gamma^e)

    Args:
      gamma: :math:`\gamma \ge 0`; scalar or ``(trials,)``.

    References:
      ``torch.optim.lr_scheduler.ExponentialLR``.
    """
    gamma = _param("exponential_lr", "gamma", gamma)
    return Schedule(initial=lambda base_lr: base_lr, next=lambda lr, base_lr, epoch: lr * gamma)


# ---------------------------------------------------------------------------------------------
# CosineAnnealingLR


def cosine_annealing_lr_rule(lr, base_lr, epoch, T_max, eta_min):
    r"""CosineAnnealingLR's recursion; see :func:`cosine_annealing_lr`."""

    def restart():  # the step after a minimum of the cosine: torch adds the increment
        return lr + (base_lr - eta_min) * (1 - _cos(math.pi / T_max)) / 2

    def ratio():
        return ((1 + _cos(math.pi * epoch / T_max)) / (1 + _cos(math.pi * (epoch - 1) / T_max))
                * (lr - eta_min) + eta_min)

    return _select((epoch - 1 - T_max) % (2 * T_max) == 0, restart, ratio)


@register_schedule(
    "cosine_annealing_lr", "CosineAnnealingLR",
    {
        "T_max": ("half period T of the cosine, in steps", "[1, inf)"),
        "eta_min": ("least learning rate η_min", "[0, inf)"),
    },
)
def cosine_annealing_lr(T_max: int, eta_min=0.0) -> Schedule:
    r"""The learning rate along a cosine from η down to η_min in T_max steps.

    .. math::
        \eta_0 &= \eta, \qquad
        \eta_e = \eta_{\min} + (\eta_{e-1} - \eta_{\min})
                 \frac{1 + \cos(\pi e / T)}{1 + \cos(\pi (e - 1) / T)} \\
        \eta_e &= \eta_{e-1} + (\eta - \eta_{\min}) \frac{1 - \cos(\pi / T)}{2}
                 \quad \text{when } (e - 1 - T) \bmod 2T = 0

    which tracks :math:`\eta_{\min} + (\eta - \eta_{\min})(1 + \cos(\pi e / T)) / 2`; after
    :math:`T` steps the learning rate climbs back (no restart), as torch's does.

    Args:
      T_max: :math:`T \ge 1`, a whole number; scalar or ``(trials,)``.
      eta_min: :math:`\eta_{\min} \ge 0`; scalar or ``(trials,)``.

    References:
      ``torch.optim.lr_scheduler.CosineAnnealingLR``; Loshchilov & Hutter, "SGDR: Stochastic
      Gradient Descent with Warm Restarts", ICLR 2017.
    """
    T_max = _param("cosine_annealing_lr", "T_max", T_max)
    eta_min = _param("cosine_annealing_lr", "eta_min", eta_min)
    return Schedule(
        initial=lambda base_lr: base_lr,
        next=lambda lr, base_lr, epoch: cosine_annealing_lr_rule(lr, base_lr, epoch, T_max,
                                                                  eta_min),
    )


# ---------------------------------------------------------------------------------------------
# LinearLR


def linear_lr_rule(lr, epoch, start_factor, end_factor, total_iters):
    r"""LinearLR's recursion; see :func:`linear_lr`."""

    def ramp():
        return lr * (1.0 + (end_factor - start_factor) / (
            total_iters * start_factor + (epoch - 1) * (end_factor - start_factor)))

    return _select(epoch > total_iters, lambda: lr, ramp)


@register_schedule(
    "linear_lr", "LinearLR",
    {
        "start_factor": ("factor f₀ of the first step's learning rate", "(0, 1]"),
        "end_factor": ("factor f₁ reached after total_iters steps", "[0, 1]"),
        "total_iters": ("steps n of the linear ramp", "[0, inf)"),
    },
)
def linear_lr(start_factor=1.0 / 3, end_factor=1.0, total_iters: int = 5) -> Schedule:
    r"""A linear warm-up (or decay) of the learning rate over total_iters steps.

    .. math::
        \eta_0 = f_0\, \eta, \qquad
        \eta_e = \eta_{e-1} \Bigl(1 + \frac{f_1 - f_0}{n f_0 + (e - 1)(f_1 - f_0)}\Bigr)
        \text{ for } e \le n, \text{ else } \eta_{e-1}

    which tracks :math:`\eta\,(f_0 + (f_1 - f_0) \min(e, n) / n)`.

    Args:
      start_factor: :math:`f_0 \in (0, 1]`; scalar or ``(trials,)``.
      end_factor: :math:`f_1 \in [0, 1]`; scalar or ``(trials,)``.
      total_iters: :math:`n \ge 0`, a whole number; scalar or ``(trials,)``.

    References:
      ``torch.optim.lr_scheduler.LinearLR``.
    """
    start_factor = _param("linear_lr", "start_factor", start_factor)
    end_factor = _param("linear_lr", "end_factor", end_factor)
    total_iters = _param("linear_lr", "total_iters", total_iters)
    return Schedule(
        initial=lambda base_lr: base_lr * start_factor,
        next=lambda lr, base_lr, epoch: linear_lr_rule(lr, epoch, start_factor, end_factor,
                                                       total_iters),
    )


# ---------------------------------------------------------------------------------------------
# An optimizer under a schedule


class ScheduledState(NamedTuple):
    inner: Any  # the optimizer's own state
    lr: float | np.ndarray  # the learning rate of the last step, a float or (T, 1)


def scheduled(optimizer: Optimizer, schedule: Schedule, base_lr) -> Optimizer:
    """``optimizer`` with its learning rate set by ``schedule`` at every step.

    ``base_lr`` is the optimizer's learning rate (a float or ``(T, 1)``); the optimizer's
    ``update`` must take the step's learning rate as its fifth argument, as the built-in ones do.
    """

    def init(x):
        return ScheduledState(optimizer.init(x), base_lr)

    def update(x, grad, state, step):
        if step == 1:
            lr = schedule.initial(base_lr)
        else:
            lr = schedule.next(state.lr, base_lr, step - 1)
        x, inner = optimizer.update(x, grad, state.inner, step, lr)
        return x, ScheduledState(inner, lr)

    return Optimizer(init, update)


def lr_sequence(schedule: Schedule, base_lr, steps: int) -> np.ndarray:
    """The learning rates of steps ``1..steps``: shape ``(steps,)``, or ``(steps, T)`` when a
    parameter or ``base_lr`` is per trial."""
    lrs = [schedule.initial(base_lr)]
    for epoch in range(1, steps):
        lrs.append(schedule.next(lrs[-1], base_lr, epoch))
    values = [np.asarray(v, dtype=np.float64) for v in lrs]
    shape = np.broadcast_shapes(*(v.shape for v in values))
    out = np.stack([np.broadcast_to(v, shape) for v in values])
    return out.reshape(steps, -1) if shape else out


__all__ = [
    "SCHEDULES",
    "Schedule",
    "ScheduleSpec",
    "ScheduledState",
    "cosine_annealing_lr",
    "exponential_lr",
    "linear_lr",
    "lr_sequence",
    "make_schedule",
    "scheduled",
    "step_lr",
]
