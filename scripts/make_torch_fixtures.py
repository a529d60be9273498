r"""Reference trajectories from ``torch.optim`` for optbench's parity tests.

For every row of :data:`CASES` (an optimizer, one of its options, torch's class and the
hyperparameters) and every function of :data:`FUNCTIONS`, this script runs ``torch.optim``
(``foreach=False``: the single-tensor CPU path, in float64) for :data:`STEPS` steps from the
function's start point and saves the ``STEPS + 1`` points of the trajectory, and the path of a
float32 run of :data:`STEPS_FLOAT32` steps (see "Float32" below).
``tests/test_torch_parity.py`` checks optbench against these points at ``rtol = 1e-12`` (float64),
and against a live torch when one is installed.

Gradients. On the paraboloids torch's autograd differentiates the same formula as optbench's
value, ``sum(a * x * x) + c``, and gives optbench's gradient ``2 a x`` to the last bit. On
Rosenbrock autograd adds the partial derivatives up in another order than the closed form
``-400 x_i (x_{i+1} - x_i^2) - 2 (1 - x_i) + 200 (x_i - x_{i-1}^2)``, so most of its gradients
differ from optbench's in the last bit, and on a sensitive path that alone breaks ``1e-12``
(RMSprop with ``alpha=0.9`` ends ``4e-4`` apart after 1000 steps, yet within ``1e-14`` with
the closed form). Rosenbrock's gradient is therefore the closed form, written with torch's
operations (:func:`torch_gradient`); what the fixtures test is the update rule, not the
differentiation.

optbench reproduces torch's fused multiply-adds, but torch's vectorized ``sqrt`` is not always
correctly rounded, so some paths still part from optbench's in the last bit after a few dozen
steps; where a path spirals into the minimum, a coordinate passing near zero is then far off
*relative to itself* though close relative to the spiral. The parity test measures each coordinate's error against
its size over the surrounding steps (see ``tests/test_torch_parity.py``), and the table's
hyperparameters keep every path's error below ``1e-12`` on that measure.

Float32. Each case is also run in single precision for :data:`STEPS_FLOAT32` steps
(:func:`torch_trajectory` with ``precision="float32"``): torch's default dtype is float32 during
the run (so its scalar state, NAdam's ``mu_product`` and ASGD's ``eta`` and ``mu``, is float32
too), the parameter is float32, and the gradient is computed in float64 at the float32 point
(converted exactly) and rounded to float32, ``gradient(x.double()).float()``: the gradient
optbench gives a float32 optimizer. optbench's float32 rules round every Python-double scalar
(a hyperparameter, or a scalar torch computes in double, like ``lr / (1 - beta1^t)``) to float32
where torch casts it to the tensor's type, and so reproduce torch's operations one for one.

The paths of the rules without a square root (SGD, Adamax, Rprop, ASGD, every case and schedule)
are bit-identical to torch's, over 1000 steps as over 100. The others cannot be: torch's
vectorized float32 ``sqrt`` on the CPU is not correctly rounded, and NumPy's is. For example
torch gives ``0.06451047211885452`` for the square root of the float32 number
``0.004161600489169359``, where the correctly rounded float32 is ``0.06451046466827393`` (one
ulp below). The paths part in the last bit after a few steps and then drift: over the first 100
steps every case stays within ``3e-6`` relative (measured as the parity test measures, against
each coordinate's local size), but beyond ~300 steps some spiralling paths drift apart
chaotically (up to a relative difference of 2.5 by step 1000). Hence 100 float32 steps, which
the parity test checks bit for bit for the rules without a square root and to ``1e-5`` for the
others.

Output: one compressed ``.npz`` per optimizer, ``tests/fixtures/torch/<optimizer>.npz``, with

* ``meta``: a JSON string: torch's version, the step counts (``steps``, ``float32_steps``), the
  functions (optbench name, parameters, start point) and the cases (function, variant, torch
  class, hyperparameters);
* ``points__<function>__<variant>``: the trajectory, shape ``(STEPS + 1, 2)``, float64;
* ``float32__<function>__<variant>``: the float32 trajectory, shape ``(STEPS_FLOAT32 + 1, 2)``,
  float32.

Adding an optimizer: append rows to :data:`CASES` (its optbench name, torch's class, the
options to cover and a learning rate per function that gives a finite, non-trivial path), then
regenerate only its file::

    python3 scripts/make_torch_fixtures.py --optimizer adamw

Learning-rate schedules: a case's hyperparameters may hold one in optbench's flat form
(``"schedule": "step_lr", "schedule.step_size": 30``); torch then steps the matching scheduler
after every optimizer step. The sequences of learning rates alone, for every row of
:data:`SCHEDULE_CASES`, go to ``tests/fixtures/torch/lr_schedules.npz`` (``lrs__<variant>``,
shape ``(STEPS,)``)::

    python3 scripts/make_torch_fixtures.py --schedules

Regenerate every fixture (needs torch; takes a few seconds)::

    python3 scripts/make_torch_fixtures.py

``--describe`` prints, per case, whether the path stayed finite, its final gap and how often
its second coordinate changed sign, to help choose hyperparameters; it writes nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

STEPS = 1000
#: Steps of the float32 paths: torch's float32 sqrt is not correctly rounded, so the paths of the
#: rules with a square root drift from optbench's after a few hundred steps (see above).
STEPS_FLOAT32 = 100
#: The precisions :func:`torch_trajectory` runs in.
PRECISIONS = ("float64", "float32")
FIXTURE_DIR = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "torch"


@dataclass(frozen=True)
class Function:
    """A test function: optbench's registry name and parameters, and a start point."""

    optbench: str
    params: dict
    start: tuple[float, float]


#: The three functions every case runs on.
FUNCTIONS: dict[str, Function] = {
    # The book's fig. 8.1 paraboloid, 0.2 x^2 + 0.2 y^2 - 5.
    "isotropic": Function("paraboloid", {"a": [0.2, 0.2], "c": -5.0}, (6.0, 6.0)),
    # The book's figs. 8.2-8.6 paraboloid, 0.2 x^2 + 2 y^2 - 5.
    "elongated": Function("paraboloid", {"a": [0.2, 2.0], "c": -5.0}, (5.1, 2.3)),
    # Rosenbrock's classic start.
    "rosenbrock": Function("rosenbrock", {"dim": 2}, (-1.2, 1.0)),
}


@dataclass(frozen=True)
class Case:
    """One optimizer option, run on every function.

    ``hyperparameters`` are passed as they are to both torch's class and optbench's factory
    (their names are torch's); ``lr`` gives the learning rate per function label. A learning-rate
    schedule is given in optbench's flat form, ``"schedule": "step_lr", "schedule.step_size":
    30``: torch gets the scheduler of :data:`TORCH_SCHEDULERS`, stepped after every step.
    """

    optimizer: str  # optbench's registry name
    variant: str  # a short name of the option covered
    torch_class: str  # the class in torch.optim
    lr: dict[str, float]
    hyperparameters: dict = field(default_factory=dict)


#: optbench's schedule names and torch's scheduler classes.
TORCH_SCHEDULERS = {
    "step_lr": "StepLR",
    "exponential_lr": "ExponentialLR",
    "cosine_annealing_lr": "CosineAnnealingLR",
    "linear_lr": "LinearLR",
}


def _schedule(name: str, **parameters) -> dict:
    """A schedule in optbench's flat form, as a case's hyperparameters hold it."""
    return {"schedule": name, **{f"schedule.{k}": v for k, v in parameters.items()}}


def split_schedule(hyperparameters: dict) -> tuple[dict, str | None, dict]:
    """``(optimizer hyperparameters, schedule name or None, schedule parameters)``."""
    hypers = {k: v for k, v in hyperparameters.items() if not k.startswith("schedule")}
    parameters = {k.partition(".")[2]: v for k, v in hyperparameters.items()
                  if k.startswith("schedule.")}
    return hypers, hyperparameters.get("schedule"), parameters


# Maximizing ascends the functions: the paths grow but stay finite for 1000 steps.
# Learning rates that give each optimizer a finite, non-trivial path on each function: zig-zags
# on the paraboloids (sgd's 0.45 on the elongated one flips y's sign every step), the slow crawl
# along Rosenbrock's valley.
_SGD_LR = {"isotropic": 4.5, "elongated": 0.45, "rosenbrock": 1e-3}
_MOMENTUM_LR = {"isotropic": 1.0, "elongated": 0.1, "rosenbrock": 2e-4}
_ADAGRAD_LR = {"isotropic": 0.5, "elongated": 0.3, "rosenbrock": 0.1}
_RMSPROP_LR = {"isotropic": 0.3, "elongated": 0.1, "rosenbrock": 1e-3}
# With momentum, RMSprop's larger steps spiral around the minimum and the path grows sensitive
# to the last bit: smaller steps keep the zig-zag and the parity.
_RMSPROP_MOMENTUM_LR = {"isotropic": 0.03, "elongated": 0.03, "rosenbrock": 1e-3}
_ADAM_LR = {"isotropic": 1.0, "elongated": 0.3, "rosenbrock": 0.02}
_ADAMAX_LR = {"isotropic": 1.0, "elongated": 0.3, "rosenbrock": 0.02}
_NADAM_LR = {"isotropic": 1.0, "elongated": 0.3, "rosenbrock": 0.02}
_RADAM_LR = {"isotropic": 1.0, "elongated": 0.3, "rosenbrock": 0.002}
_ADADELTA_LR = {"isotropic": 1.0, "elongated": 1.0, "rosenbrock": 0.5}
_RPROP_LR = {"isotropic": 0.01, "elongated": 0.01, "rosenbrock": 0.01}
_COSINE_LR = {"isotropic": 1.0, "elongated": 0.1, "rosenbrock": 1e-3}
_ASGD_LR = {"isotropic": 0.5, "elongated": 0.4, "rosenbrock": 1e-3}

#: The declarative table: one row per option of each optimizer.
CASES: list[Case] = [
    Case("sgd", "plain", "SGD", _SGD_LR),
    Case("sgd", "momentum", "SGD", _MOMENTUM_LR, {"momentum": 0.9}),
    Case("sgd", "momentum_dampening", "SGD", _MOMENTUM_LR, {"momentum": 0.9, "dampening": 0.3}),
    Case("sgd", "nesterov", "SGD", _MOMENTUM_LR, {"momentum": 0.9, "nesterov": True}),
    Case("sgd", "weight_decay", "SGD", _SGD_LR, {"weight_decay": 0.02}),
    Case("sgd", "maximize", "SGD", {"isotropic": 0.005, "elongated": 0.005, "rosenbrock": 5e-7},
         {"maximize": True}),
    Case("adagrad", "plain", "Adagrad", _ADAGRAD_LR),
    Case("adagrad", "lr_decay", "Adagrad", _ADAGRAD_LR, {"lr_decay": 0.01}),
    Case("adagrad", "initial_accumulator_value", "Adagrad", _ADAGRAD_LR,
         {"initial_accumulator_value": 0.5}),
    Case("adagrad", "weight_decay", "Adagrad", _ADAGRAD_LR, {"weight_decay": 0.1}),
    Case("adagrad", "maximize", "Adagrad", _ADAGRAD_LR, {"maximize": True}),
    Case("rmsprop", "plain", "RMSprop", _RMSPROP_LR),
    Case("rmsprop", "alpha", "RMSprop", _RMSPROP_LR, {"alpha": 0.9}),
    Case("rmsprop", "centered", "RMSprop", _RMSPROP_LR, {"centered": True}),
    Case("rmsprop", "momentum", "RMSprop", _RMSPROP_MOMENTUM_LR, {"momentum": 0.3}),
    Case("rmsprop", "centered_momentum", "RMSprop", _RMSPROP_MOMENTUM_LR,
         {"centered": True, "momentum": 0.3}),
    Case("rmsprop", "weight_decay", "RMSprop", _RMSPROP_LR, {"weight_decay": 0.1}),
    Case("rmsprop", "maximize", "RMSprop", _RMSPROP_LR, {"maximize": True}),
    Case("adam", "plain", "Adam", _ADAM_LR),
    Case("adam", "amsgrad", "Adam", _ADAM_LR, {"amsgrad": True}),
    Case("adam", "weight_decay", "Adam", _ADAM_LR, {"weight_decay": 0.1}),
    Case("adam", "decoupled_weight_decay", "Adam", _ADAM_LR,
         {"weight_decay": 0.1, "decoupled_weight_decay": True}),
    Case("adam", "maximize", "Adam", _ADAM_LR, {"maximize": True}),
    # AdamW's default weight decay is 0.01, so its "plain" case decays.
    Case("adamw", "plain", "AdamW", _ADAM_LR),
    Case("adamw", "amsgrad", "AdamW", _ADAM_LR, {"amsgrad": True}),
    Case("adamw", "weight_decay", "AdamW", _ADAM_LR, {"weight_decay": 0.1}),
    Case("adamw", "maximize", "AdamW", _ADAM_LR, {"maximize": True, "weight_decay": 0.0}),
    Case("adamax", "plain", "Adamax", _ADAMAX_LR),
    Case("adamax", "weight_decay", "Adamax", _ADAMAX_LR, {"weight_decay": 0.1}),
    Case("adamax", "maximize", "Adamax", _ADAMAX_LR, {"maximize": True}),
    Case("nadam", "plain", "NAdam", _NADAM_LR),
    Case("nadam", "momentum_decay", "NAdam", _NADAM_LR, {"momentum_decay": 0.02}),
    Case("nadam", "weight_decay", "NAdam", _NADAM_LR, {"weight_decay": 0.1}),
    Case("nadam", "decoupled_weight_decay", "NAdam", _NADAM_LR,
         {"weight_decay": 0.1, "decoupled_weight_decay": True}),
    Case("nadam", "maximize", "NAdam", _NADAM_LR, {"maximize": True}),
    Case("radam", "plain", "RAdam", _RADAM_LR),
    # beta2 = 0.8: rho_inf = 9, so the rectified step switches on at step 7 (at 6 with the
    # default 0.999). Shorter memories or larger steps make the paths chaotic: the last bit of
    # torch's sqrt then grows past 1e-12.
    Case("radam", "short_memory", "RAdam", {"isotropic": 0.3, "elongated": 0.3,
                                            "rosenbrock": 1e-3}, {"betas": [0.9, 0.8]}),
    Case("radam", "weight_decay", "RAdam", _RADAM_LR, {"weight_decay": 0.1}),
    Case("radam", "decoupled_weight_decay", "RAdam", _RADAM_LR,
         {"weight_decay": 0.1, "decoupled_weight_decay": True}),
    Case("radam", "maximize", "RAdam", _RADAM_LR, {"maximize": True}),
    Case("adadelta", "plain", "Adadelta", _ADADELTA_LR),
    # On Rosenbrock a short memory (rho <= 0.8) makes Adadelta's path chaotic.
    Case("adadelta", "rho", "Adadelta", _ADADELTA_LR, {"rho": 0.95}),
    Case("adadelta", "weight_decay", "Adadelta", _ADADELTA_LR, {"weight_decay": 0.1}),
    # Ascending Rosenbrock at lr 0.5 overflows (a gap of 1e205) within 1000 steps.
    Case("adadelta", "maximize", "Adadelta", {**_ADADELTA_LR, "rosenbrock": 0.05},
         {"maximize": True}),
    Case("rprop", "plain", "Rprop", _RPROP_LR),
    Case("rprop", "etas", "Rprop", _RPROP_LR, {"etas": [0.3, 1.5]}),
    Case("rprop", "step_sizes", "Rprop", _RPROP_LR, {"step_sizes": [1e-3, 0.5]}),
    Case("rprop", "maximize", "Rprop", _RPROP_LR, {"maximize": True}),
    Case("asgd", "plain", "ASGD", _ASGD_LR),
    # t0 = 10: the average starts moving (mu < 1) at step 12.
    Case("asgd", "averaging", "ASGD", _ASGD_LR, {"lambd": 0.01, "alpha": 0.5, "t0": 10.0}),
    Case("asgd", "weight_decay", "ASGD", _ASGD_LR, {"weight_decay": 0.1}),
    Case("asgd", "maximize", "ASGD", {"isotropic": 0.005, "elongated": 0.005,
                                      "rosenbrock": 5e-7}, {"maximize": True}),
    # Learning-rate schedules: all four on SGD, one on each other optimizer. Rprop reads the
    # learning rate only to start its step sizes (LinearLR's start factor), ASGD in the step
    # size of its next step.
    Case("sgd", "step_lr", "SGD", _SGD_LR, _schedule("step_lr", step_size=100, gamma=0.5)),
    Case("sgd", "exponential_lr", "SGD", _SGD_LR, _schedule("exponential_lr", gamma=0.995)),
    # Sweeping the learning rate through 1/(2a) would collapse the paraboloid paths to
    # subnormal numbers, where relative errors mean nothing: smaller rates.
    Case("sgd", "cosine_annealing_lr", "SGD", _COSINE_LR,
         _schedule("cosine_annealing_lr", T_max=300, eta_min=0.0)),
    Case("sgd", "linear_lr", "SGD", _SGD_LR,
         _schedule("linear_lr", start_factor=0.25, end_factor=1.0, total_iters=200)),
    Case("adagrad", "exponential_lr", "Adagrad", _ADAGRAD_LR,
         _schedule("exponential_lr", gamma=0.999)),
    Case("rmsprop", "cosine_annealing_lr", "RMSprop", _RMSPROP_LR,
         _schedule("cosine_annealing_lr", T_max=250)),
    Case("adam", "linear_lr", "Adam", _ADAM_LR,
         _schedule("linear_lr", start_factor=0.1, total_iters=100)),
    Case("adamw", "step_lr", "AdamW", _ADAM_LR, _schedule("step_lr", step_size=200, gamma=0.5)),
    Case("adamax", "cosine_annealing_lr", "Adamax", _ADAMAX_LR,
         _schedule("cosine_annealing_lr", T_max=400, eta_min=1e-4)),
    Case("nadam", "exponential_lr", "NAdam", _NADAM_LR, _schedule("exponential_lr", gamma=0.998)),
    Case("radam", "linear_lr", "RAdam", _RADAM_LR, _schedule("linear_lr", start_factor=0.5)),
    Case("adadelta", "step_lr", "Adadelta", _ADADELTA_LR,
         _schedule("step_lr", step_size=150, gamma=0.7)),
    Case("rprop", "linear_lr", "Rprop", _RPROP_LR,
         _schedule("linear_lr", start_factor=0.5, total_iters=10)),
    Case("asgd", "cosine_annealing_lr", "ASGD", _COSINE_LR,
         _schedule("cosine_annealing_lr", T_max=200)),
]

#: Learning-rate sequences alone (``lr_schedules.npz``): (variant, schedule, parameters, base lr).
SCHEDULE_CASES: list[tuple[str, str, dict, float]] = [
    ("step_lr", "step_lr", {"step_size": 30}, 0.1),
    ("step_lr_gamma", "step_lr", {"step_size": 7, "gamma": 0.9}, 2.0),
    ("exponential_lr", "exponential_lr", {"gamma": 0.99}, 0.3),
    ("cosine_annealing_lr", "cosine_annealing_lr", {"T_max": 100}, 0.3),
    ("cosine_annealing_lr_eta_min", "cosine_annealing_lr", {"T_max": 37, "eta_min": 0.01}, 1.0),
    ("linear_lr", "linear_lr", {}, 0.3),
    ("linear_lr_warmup", "linear_lr", {"start_factor": 0.1, "end_factor": 1.0,
                                       "total_iters": 100}, 1e-3),
    ("linear_lr_decay", "linear_lr", {"start_factor": 1.0, "end_factor": 0.0,
                                      "total_iters": 300}, 0.5),
    ("linear_lr_constant", "linear_lr", {"start_factor": 0.5, "end_factor": 0.5,
                                         "total_iters": 0}, 0.5),
]


def case_hyperparameters(case: Case, function: str) -> dict:
    """The keyword arguments of one case on one function (lists for pairs, JSON-ready)."""
    return {"lr": case.lr[function], **case.hyperparameters}


def torch_objective(function: Function):
    """The function as a torch expression of a 1-D tensor, written as optbench computes it."""
    import torch

    if function.optbench == "paraboloid":
        a = torch.tensor(function.params["a"], dtype=torch.float64)
        c = float(function.params["c"])
        return lambda x: torch.sum(a * x * x) + c
    if function.optbench == "rosenbrock":
        def rosenbrock(x):
            head, tail = x[:-1], x[1:]
            valley = tail - head * head
            off = 1.0 - head
            return torch.sum(100.0 * valley * valley + off * off)
        return rosenbrock
    raise ValueError(f"no torch expression for {function.optbench!r}")


def torch_gradient(function: Function):
    """The gradient as torch computes it for the fixtures: autograd, or a closed form (see above)."""
    import torch

    if function.optbench == "rosenbrock":
        def rosenbrock_gradient(x):
            head, tail = x[:-1], x[1:]
            valley = tail - head * head
            off = 1.0 - head
            g = torch.zeros_like(x)
            g[:-1] = -400.0 * head * valley - 2.0 * off
            g[1:] += 200.0 * valley
            return g
        return rosenbrock_gradient
    f = torch_objective(function)

    def autograd_gradient(x):
        x = x.detach().requires_grad_(True)
        f(x).backward()
        return x.grad
    return autograd_gradient


def torch_trajectory(torch_class: str, hyperparameters: dict, function: Function,
                     steps: int = STEPS, precision: str = "float64") -> np.ndarray:
    """Run ``torch.optim.<torch_class>`` on one function; return the ``(steps + 1, D)`` points.

    ``precision="float64"``: the parameter, the gradient and torch's default dtype are float64.
    ``precision="float32"``: the parameter and torch's default dtype are float32, the gradient is
    computed in float64 at the float32 point and rounded to float32; the points are float32.
    """
    import torch

    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    dtype = getattr(torch, precision)
    hypers, schedule, schedule_parameters = split_schedule(hyperparameters)
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in hypers.items()}
    gradient = torch_gradient(function)
    # torch keeps scalar state (NAdam's mu_product, ASGD's eta and mu) in its default dtype:
    # the run's precision throughout, as optbench computes.
    default_dtype = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        x = torch.tensor(function.start, dtype=dtype)
        opt = getattr(torch.optim, torch_class)([x], foreach=False, **kwargs)
        scheduler = None
        if schedule is not None:
            scheduler = getattr(torch.optim.lr_scheduler, TORCH_SCHEDULERS[schedule])(
                opt, **schedule_parameters)
        points = np.empty((steps + 1, len(function.start)), dtype=precision)
        points[0] = x.numpy()
        for k in range(1, steps + 1):
            # float64: x itself; float32: the float64 gradient at the float32 point, rounded.
            x.grad = gradient(x.detach().double()).to(dtype)
            opt.step()
            if scheduler is not None:
                scheduler.step()
            points[k] = x.numpy()
    finally:
        torch.set_default_dtype(default_dtype)
    return points


def fixture_path(optimizer: str) -> Path:
    return FIXTURE_DIR / f"{optimizer}.npz"


def point_key(function: str, variant: str) -> str:
    return f"points__{function}__{variant}"


def float32_key(function: str, variant: str) -> str:
    """The key of a case's float32 path (:data:`STEPS_FLOAT32` steps)."""
    return f"float32__{function}__{variant}"


def make_fixture(optimizer: str) -> dict[str, np.ndarray]:
    """Every case of one optimizer on every function: the arrays of its ``.npz``."""
    import torch

    cases = [c for c in CASES if c.optimizer == optimizer]
    arrays: dict[str, np.ndarray] = {}
    meta = {
        "torch_version": torch.__version__,
        "steps": STEPS,
        "float32_steps": STEPS_FLOAT32,
        "functions": {name: {"optbench": f.optbench, "params": f.params, "start": list(f.start)}
                      for name, f in FUNCTIONS.items()},
        "cases": [],
    }
    for case in cases:
        for fname, function in FUNCTIONS.items():
            hypers = case_hyperparameters(case, fname)
            points = torch_trajectory(case.torch_class, hypers, function)
            if not np.all(np.isfinite(points)):
                raise SystemExit(f"{optimizer}/{case.variant} on {fname}: the path is not finite; "
                                 "choose other hyperparameters")
            arrays[point_key(fname, case.variant)] = points
            points32 = torch_trajectory(case.torch_class, hypers, function, STEPS_FLOAT32,
                                        precision="float32")
            if not np.all(np.isfinite(points32)):
                raise SystemExit(f"{optimizer}/{case.variant} on {fname}: the float32 path is "
                                 "not finite; choose other hyperparameters")
            arrays[float32_key(fname, case.variant)] = points32
            meta["cases"].append({"function": fname, "variant": case.variant,
                                  "torch_class": case.torch_class, "hyperparameters": hypers})
    arrays["meta"] = np.array(json.dumps(meta, sort_keys=True))
    return arrays


def torch_lr_sequence(schedule: str, parameters: dict, base_lr: float,
                      steps: int = STEPS) -> np.ndarray:
    """The learning rate of each of ``steps`` optimizer steps under torch's scheduler."""
    import torch

    param = torch.zeros(1, dtype=torch.float64)
    param.grad = torch.zeros(1, dtype=torch.float64)
    opt = torch.optim.SGD([param], lr=base_lr)
    scheduler = getattr(torch.optim.lr_scheduler, TORCH_SCHEDULERS[schedule])(opt, **parameters)
    lrs = np.empty(steps)
    for k in range(steps):
        lrs[k] = opt.param_groups[0]["lr"]
        opt.step()
        scheduler.step()
    return lrs


SCHEDULE_FIXTURE = "lr_schedules"


def lr_key(variant: str) -> str:
    return f"lrs__{variant}"


def make_schedule_fixture() -> dict[str, np.ndarray]:
    """The learning rates of every row of :data:`SCHEDULE_CASES`: the arrays of its ``.npz``."""
    import torch

    arrays = {lr_key(v): torch_lr_sequence(name, params, base_lr)
              for v, name, params, base_lr in SCHEDULE_CASES}
    meta = {"torch_version": torch.__version__, "steps": STEPS,
            "cases": [{"variant": v, "schedule": name, "parameters": params, "base_lr": base_lr}
                      for v, name, params, base_lr in SCHEDULE_CASES]}
    arrays["meta"] = np.array(json.dumps(meta, sort_keys=True))
    return arrays


def describe(optimizer: str) -> None:
    """Print what each case's path does (finite, final gap, sign changes of y)."""
    sys.path.insert(0, str(FIXTURE_DIR.parent.parent.parent))
    from optbench.functions import make_function

    for case in (c for c in CASES if c.optimizer == optimizer):
        for fname, function in FUNCTIONS.items():
            points = torch_trajectory(case.torch_class, case_hyperparameters(case, fname), function)
            objective = make_function(function.optbench, **function.params)
            f, _ = objective.value_and_grad(points)
            flips = int(np.count_nonzero(np.diff(np.sign(points[:, 1])) != 0))
            print(f"{optimizer:8} {case.variant:26} {fname:11} finite={np.isfinite(points).all()!s:5}"
                  f" gap0={f[0] - objective.f_star:9.3g} gap={f[-1] - objective.f_star:9.3g}"
                  f" min|x|={np.abs(points).min():9.3g} y-sign flips={flips}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    names = sorted({c.optimizer for c in CASES})
    parser.add_argument("--optimizer", action="append", choices=names,
                        help="regenerate only this optimizer's file (repeatable); default all")
    parser.add_argument("--describe", action="store_true",
                        help="print what each path does instead of writing fixtures")
    parser.add_argument("--schedules", action="store_true",
                        help=f"regenerate only {SCHEDULE_FIXTURE}.npz, the learning-rate sequences")
    args = parser.parse_args(argv)
    if args.schedules or not (args.optimizer or args.describe):
        FIXTURE_DIR.mkdir(parents=True, exist_ok=True)
        path = fixture_path(SCHEDULE_FIXTURE)
        np.savez_compressed(path, **make_schedule_fixture())
        print(f"wrote {path.relative_to(FIXTURE_DIR.parent.parent.parent)}")
        if args.schedules:
            return
    for optimizer in args.optimizer or names:
        if args.describe:
            describe(optimizer)
            continue
        FIXTURE_DIR.mkdir(parents=True, exist_ok=True)
        path = fixture_path(optimizer)
        np.savez_compressed(path, **make_fixture(optimizer))
        print(f"wrote {path.relative_to(FIXTURE_DIR.parent.parent.parent)} "
              f"({path.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
