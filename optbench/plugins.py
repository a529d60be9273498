"""User-defined functions and optimizers, named in a config as ``package.module:name``.

A config entry ``function: mybench.functions:banana`` or ``optimizer: mybench.rules:lion``
imports ``mybench.functions`` (looked up on ``sys.path``, then in the config file's directory
and the current directory) and takes its attribute ``banana``. Nothing is imported unless a
config names it. The object must follow one of two protocols:

**Function protocol.** A callable ``factory(**params) -> Objective``. The entry's other keys
(besides ``label``, ``function``, ``start`` and ``noise``) are passed to it by name, so its
named parameters are the entry's keys; parameters without a default are required. The returned
:class:`~optbench.functions.Objective` must have ``dim >= 1``, ``minimizers`` of shape
``(M, dim)`` (``M = 0`` only with ``f_star = -inf``), a float ``f_star``, ``bounds`` of shape
``(dim, 2)`` with low < high, and ``value_and_grad(x (T, dim)) -> (f (T,), grad (T, dim))``
vectorized over the rows of ``x``. A factory may raise ``ValueError`` with a message that
starts with the parameter's name to reject a value.

**Optimizer protocol.** A callable ``factory(**hyperparameters) -> Optimizer(init, update)``
(:class:`~optbench.optimizers.Optimizer`) with ``init(x (T, D)) -> state`` and
``update(x, grad, state, step) -> (x_new (T, D), state_new)``, ``step = 1, 2, ...``. Every
parameter needs a default, which sets its kind: a number (passed as a per-trial array of shape
``(T,)``; store it as ``(T, 1)`` to broadcast), a pair of numbers (a pair of such arrays) or a
boolean (one value per call). Numbers may be swept like any built-in hyperparameter.

Both are checked when the config is loaded (the function by building it with the entry's
parameters and evaluating it at the centre of its box; the optimizer by one update with its
defaults), and any failure is one line naming the entry. An exception raised by user code
during a run becomes :class:`UserCodeError`.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import re
import sys
from pathlib import Path

import numpy as np

from .functions import FUNCTIONS, FunctionSpec, Objective
from .optimizers import OPTIMIZERS, Hyperparameter, Optimizer, OptimizerSpec

_REFERENCE = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$")

#: Keys of a function entry that belong to optbench, not to a user factory.
RESERVED_FUNCTION_KEYS = ("label", "function", "start", "noise")


class PluginError(ValueError):
    """A user-defined function or optimizer that cannot be used; one line for the user."""


class UserCodeError(RuntimeError):
    """An exception raised by a user-defined function or optimizer during a run."""


def is_reference(name) -> bool:
    """True for a ``package.module:name`` string (as opposed to a registered name)."""
    return isinstance(name, str) and ":" in name


def resolve(reference: str, base_dirs=()) -> object:
    """Import ``package.module`` and return its attribute ``name`` (dotted names allowed)."""
    if not _REFERENCE.match(reference):
        raise PluginError(f"{reference!r} is not of the form package.module:name")
    module_name, _, attribute = reference.partition(":")
    added = [str(Path(d)) for d in (*base_dirs, Path.cwd()) if str(Path(d)) not in sys.path]
    sys.path.extend(added)  # after the installed packages: a local file never shadows them
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise PluginError(f"cannot import {module_name!r}: {exc}") from None
    except BaseException as exc:  # the module's own code failed: report it, don't crash
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise PluginError(
            f"importing {module_name!r} failed: {type(exc).__name__}: {exc}") from None
    finally:
        for d in added:
            sys.path.remove(d)
    obj = module
    for part in attribute.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise PluginError(f"module {module_name!r} has no attribute {attribute!r}") from None
    if not callable(obj):
        raise PluginError(f"{reference} is a {type(obj).__name__}, not a callable factory")
    return obj


def _named_parameters(factory) -> list[inspect.Parameter]:
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p for p in params
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and not p.name.startswith("_")]


def _guard(reference: str, what: str, fn):
    """``fn`` whose exceptions become :class:`UserCodeError` naming the user's code."""

    @functools.wraps(fn)
    def guarded(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except UserCodeError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure of user code becomes one line
            raise UserCodeError(f"{reference}: {what} raised {type(exc).__name__}: {exc}") from None

    return guarded


# ---------------------------------------------------------------------------------------------
# Functions


def _check_objective(reference: str, obj) -> Objective:
    """The protocol's checks, and the objective with its arrays normalised and calls guarded."""
    if not isinstance(obj, Objective):
        raise ValueError(  # noqa: TRY004 - config errors are ValueErrors
            f"{reference} returned {type(obj).__name__}, not an optbench Objective")

    def bad(message):
        return ValueError(f"{reference} returned an Objective whose {message}")

    dim = obj.dim
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
        raise bad(f"dim is {dim!r}, not an integer >= 1")
    try:
        f_star = float(obj.f_star)
        minimizers = np.asarray(obj.minimizers, dtype=np.float64)
        bounds = np.asarray(obj.bounds, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise bad(f"f_star, minimizers or bounds are not numbers ({exc})") from None
    if minimizers.ndim != 2 or minimizers.shape[1] != dim:
        raise bad(f"minimizers have shape {minimizers.shape}, not (M, {dim})")
    if (len(minimizers) == 0) != (f_star == -np.inf) or np.isnan(f_star) or f_star == np.inf:
        raise bad(f"f_star is {f_star!r} with {len(minimizers)} minimizers "
                  "(f_star = -inf goes with no minimizer, a finite f_star with at least one)")
    if bounds.shape != (dim, 2) or not np.all(bounds[:, 0] < bounds[:, 1]):
        raise bad(f"bounds are not [low, high] with low < high for each of {dim} coordinates")
    value_and_grad = _guard(reference, "value_and_grad", obj.value_and_grad)
    probe = np.stack([bounds.mean(axis=1), bounds[:, 0] + 0.25 * (bounds[:, 1] - bounds[:, 0])])
    try:
        out = value_and_grad(probe)
        f, g = out
        f_shape, g_shape = np.shape(f), np.shape(g)
    except UserCodeError as exc:
        raise ValueError(str(exc)) from None
    except (TypeError, ValueError):
        raise bad("value_and_grad does not return a pair (f, grad)") from None
    if f_shape != (2,) or g_shape != (2, dim):
        raise bad(f"value_and_grad maps x of shape (2, {dim}) to shapes {f_shape} and {g_shape}, "
                  f"not (2,) and (2, {dim})")

    def normalised(x):
        f, g = value_and_grad(x)
        return np.asarray(f, dtype=np.float64), np.asarray(g, dtype=np.float64)

    return Objective(name=reference, dim=int(dim), value_and_grad=normalised,
                     minimizers=minimizers, f_star=f_star, bounds=bounds)


def register_function(reference: str, base_dirs=()) -> FunctionSpec:
    """Import a user's function factory and register it under ``reference``."""
    factory = resolve(reference, base_dirs)
    existing = FUNCTIONS.get(reference)
    if existing is not None and getattr(existing.factory, "__wrapped__", None) is factory:
        return existing
    params = _named_parameters(factory)
    clashes = [p.name for p in params if p.name in RESERVED_FUNCTION_KEYS]
    if clashes:
        raise PluginError(f"{reference} has a parameter named {clashes[0]!r}, which optbench "
                          f"keeps for itself ({', '.join(RESERVED_FUNCTION_KEYS)})")

    @functools.wraps(factory)
    def checked(**kwargs):
        try:
            obj = factory(**kwargs)
        except (ValueError, TypeError):
            raise
        except Exception as exc:  # noqa: BLE001 - any failure of user code becomes one line
            raise ValueError(f"{reference} raised {type(exc).__name__}: {exc}") from None
        return _check_objective(reference, obj)

    checked.__signature__ = inspect.Signature(params)
    summary = (inspect.getdoc(factory) or "user-defined function").strip().splitlines()[0]
    spec = FunctionSpec(reference, checked, summary, f"user-defined: {reference}")
    FUNCTIONS[reference] = spec
    return spec


# ---------------------------------------------------------------------------------------------
# Optimizers


def _hyperparameter(reference: str, p: inspect.Parameter) -> Hyperparameter:
    default = p.default
    doc = f"parameter of {reference}"
    if default is inspect.Parameter.empty:
        raise PluginError(f"{reference}: parameter {p.name!r} needs a default (it sets the kind "
                          "and the value when a config leaves it out)")
    if isinstance(default, bool):
        return Hyperparameter(p.name, default, "bool", doc)
    if isinstance(default, (int, float)):
        return Hyperparameter(p.name, float(default), "float", doc)
    if (isinstance(default, tuple) and len(default) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in default)):
        return Hyperparameter(p.name, tuple(float(v) for v in default), "pair", doc)
    raise PluginError(f"{reference}: parameter {p.name!r} has default {default!r}; optimizer "
                      "parameters default to a number, a pair of numbers or a boolean")


def _as_optimizer(reference: str, obj) -> Optimizer:
    init, update = getattr(obj, "init", None), getattr(obj, "update", None)
    if not (callable(init) and callable(update)):
        raise ValueError(  # noqa: TRY004 - config errors are ValueErrors
            f"{reference} returned {type(obj).__name__}, not an Optimizer(init, update)")
    return Optimizer(_guard(reference, "init", init), _guard(reference, "update", update))


def _probe_optimizer(reference: str, optimizer: Optimizer) -> None:
    """One update from a (3, 2) batch: the shapes the runner relies on."""
    x = np.array([[1.0, -2.0], [0.5, 0.25], [-1.0, 3.0]])
    try:
        state = optimizer.init(x.copy())
        out = optimizer.update(x.copy(), 2.0 * x, state, 1)
    except UserCodeError as exc:
        raise PluginError(str(exc)) from None
    if not (isinstance(out, tuple) and len(out) == 2) or np.shape(out[0]) != x.shape:
        raise PluginError(f"{reference}: update(x, grad, state, step) must return (x_new, state) "
                          f"with x_new of the shape of x; got {type(out).__name__} for x of "
                          f"shape {x.shape}")


def register_optimizer(reference: str, base_dirs=()) -> OptimizerSpec:
    """Import a user's optimizer factory, check it with its defaults and register it."""
    factory = resolve(reference, base_dirs)
    existing = OPTIMIZERS.get(reference)
    if existing is not None and getattr(existing.factory, "__wrapped__", None) is factory:
        return existing
    hypers = {p.name: _hyperparameter(reference, p) for p in _named_parameters(factory)}
    reserved = {"label", "optimizer", "functions"} & set(hypers)
    if reserved:
        raise PluginError(f"{reference} has a parameter named {min(reserved)!r}, which "
                          "optbench keeps for itself (label, optimizer, functions)")

    @functools.wraps(factory)
    def checked(**kwargs):
        try:
            obj = factory(**kwargs)
        except ValueError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure of user code becomes one line
            raise ValueError(f"{reference} raised {type(exc).__name__}: {exc}") from None
        return _as_optimizer(reference, obj)

    try:
        _probe_optimizer(reference, checked())
    except ValueError as exc:
        raise PluginError(str(exc) if str(exc).startswith(reference) else
                          f"{reference} with its defaults: {exc}") from None
    summary = (inspect.getdoc(factory) or "user-defined optimizer").strip().splitlines()[0]
    spec = OptimizerSpec(reference, checked, summary, hypers)
    OPTIMIZERS[reference] = spec
    return spec
