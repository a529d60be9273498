r"""Fused, cache-blocked numba kernels: the runner's loop, compiled.

:func:`optbench.runner.run_trials` is the readable reference: every step is a handful of NumPy
operations over the whole ``(T, D)`` batch, each one a pass through memory. Here a chunk of
trials is cut into blocks of ``B`` trials that stay in cache, transposed to ``(D, B)`` so that the
inner loop runs over trials (and vectorizes), and each block runs all ``K`` steps before the next
one starts: the optimizer's update, the function's value and gradient, and the per-trial
bookkeeping, fused.

The update is the optimizer's own ``*_rule`` function from :mod:`optbench.optimizers`, compiled
on scalars: the arithmetic is written once. Two helpers get a compiled form here: :func:`fma`
becomes the hardware fused multiply-add (the NumPy path emulates it exactly, so both give the
same bits), and :func:`lerp` dispatches to its scalar-weight form. Sums over coordinates follow
NumPy's pairwise summation, so values match NumPy's to the last bit. Per-trial hyperparameters are
read once per run of trials that share them (a group), so the powers of the bias corrections are
computed per group and step, not per element; the discrete options (``maximize``, ``amsgrad``,
...) are compile-time constants, so each combination gets its own vectorized code.

Covered: ``sgd``, ``adagrad``, ``rmsprop`` and ``adam`` on ``paraboloid`` and ``rosenbrock``,
with either target criterion. Anything else runs on the NumPy path (:func:`supports` says which).

Compiled code is cached on disk (numba ``cache=True``); the cache is keyed on this file and on
the sources of the rules and functions it compiles, so editing an update rule recompiles.
"""

from __future__ import annotations

import inspect
import os
from pathlib import Path

import numpy as np
from llvmlite import ir
from numba import literally, njit
from numba.core import types
from numba.extending import intrinsic, overload

from . import functions as _functions
from . import optimizers as _opt

# ---------------------------------------------------------------------------------------------
# Caching: a compiled kernel inlines the rules of optimizers.py, so its cache entry must expire
# when that file (or this one, or functions.py) changes, not only when this file does.

_DEPENDENCIES = (Path(__file__), Path(_opt.__file__), Path(_functions.__file__))


class _StampedByDependencies:
    """Mixin for numba's cache locators: this module's kernels, stamped by every source inlined."""

    def get_source_stamp(self):
        return tuple((os.stat(p).st_mtime, os.stat(p).st_size) for p in _DEPENDENCIES)

    @classmethod
    def from_function(cls, py_func, py_file):
        if os.path.abspath(py_file) != os.path.abspath(__file__):
            return None
        return super().from_function(py_func, py_file)


def _install_cache_locators() -> None:
    from numba.core import caching

    impl = getattr(caching, "CacheImpl", None) or caching._CacheImpl
    for name in ("UserWideCacheLocator", "InTreeCacheLocator"):  # inserted in reverse order
        base = getattr(caching, name, None) or getattr(caching, "_" + name)
        impl._locator_classes.insert(0, type(f"Kernel{name}", (_StampedByDependencies, base), {}))


try:
    _install_cache_locators()
except AttributeError:  # pragma: no cover - a numba whose cache internals moved: plain stamps
    pass

#: Options of every kernel: cached, GIL released (Dask threads run in parallel), and NumPy's
#: floating-point semantics (a division by zero gives inf, not an exception: it also lets the
#: loops vectorize).
_JIT = {"nogil": True, "error_model": "numpy"}

# ---------------------------------------------------------------------------------------------
# fma and lerp in compiled code


@intrinsic
def _hardware_fma(typingctx, a, b, c):
    """``llvm.fma.f64``: ``a * b + c`` rounded once, in one instruction where the CPU has it."""
    sig = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, signature, args):
        d = ir.DoubleType()
        fn = builder.module.declare_intrinsic("llvm.fma", [d], ir.FunctionType(d, [d, d, d]))
        return builder.call(fn, args)

    return sig, codegen


@overload(_opt.fma, inline="always")
def _fma_compiled(a, b, c):
    def impl(a, b, c):
        return _hardware_fma(float(a), float(b), float(c))

    return impl


_lerp_scalar_weight = njit(inline="always", error_model="numpy")(_opt.lerp_scalar_weight)


@overload(_opt.lerp, inline="always")
def _lerp_compiled(start, end, weight):
    def impl(start, end, weight):
        return _lerp_scalar_weight(start, end, weight)

    return impl


def _constant(flag):
    """A literal bool as a compile-time constant (so LLVM folds the branches it selects)."""
    return flag


@overload(_constant)
def _constant_compiled(flag):
    if isinstance(flag, types.BooleanLiteral):
        if flag.literal_value:
            return lambda flag: True
        return lambda flag: False
    return lambda flag: flag


# The rules, compiled on scalars (not cached on their own: each kernel that inlines one is).
_sgd_rule = njit(error_model="numpy")(_opt.sgd_rule)
_adagrad_rule = njit(error_model="numpy")(_opt.adagrad_rule)
_rmsprop_rule = njit(error_model="numpy")(_opt.rmsprop_rule)
_adam_rule = njit(error_model="numpy")(_opt.adam_rule)

# ---------------------------------------------------------------------------------------------
# Functions: value and gradient over a (D, n) block, exactly as functions.py computes them.

PARABOLOID, ROSENBROCK = 0, 1


@njit(**_JIT)
def _pairwise_leaf(terms, lo, count, n, out, acc):
    """NumPy's pairwise summation of at most 128 terms: 8 accumulators, then the rest."""
    if count < 8:
        for i in range(n):
            out[i] = -0.0
        for d in range(lo, lo + count):
            for i in range(n):
                out[i] += terms[d, i]
        return
    for j in range(8):
        for i in range(n):
            acc[j, i] = terms[lo + j, i]
    d = 8
    while d < count - count % 8:
        for j in range(8):
            for i in range(n):
                acc[j, i] += terms[lo + d + j, i]
        d += 8
    for i in range(n):
        out[i] = ((acc[0, i] + acc[1, i]) + (acc[2, i] + acc[3, i])) + (
            (acc[4, i] + acc[5, i]) + (acc[6, i] + acc[7, i]))
    while d < count:
        for i in range(n):
            out[i] += terms[lo + d, i]
        d += 1


@njit(**_JIT)
def _pairwise_sum(terms, lo, count, n, out, acc):
    """``out[i] = sum(terms[lo:lo+count, i])`` in the order of NumPy's pairwise summation.

    Above 128 terms NumPy splits in two halves (the first a multiple of 8) and adds the sums:
    this walks that tree in post-order with explicit stacks (no recursion).
    """
    if count <= 128:
        _pairwise_leaf(terms, lo, count, n, out, acc)
        return
    nodes = np.empty((128, 3), dtype=np.int64)  # lo, count, children pushed
    values = np.empty((64, n))
    top, depth = 0, 0
    nodes[0, 0], nodes[0, 1], nodes[0, 2] = lo, count, 0
    while top >= 0:
        node_lo, node_count, expanded = nodes[top, 0], nodes[top, 1], nodes[top, 2]
        if node_count <= 128:
            _pairwise_leaf(terms, node_lo, node_count, n, values[depth], acc)
            depth += 1
            top -= 1
        elif expanded:
            for i in range(n):
                values[depth - 2, i] = values[depth - 2, i] + values[depth - 1, i]
            depth -= 1
            top -= 1
        else:
            half = node_count // 2
            half -= half % 8
            nodes[top, 2] = 1
            nodes[top + 1, 0], nodes[top + 1, 1], nodes[top + 1, 2] = node_lo + half, node_count - half, 0
            nodes[top + 2, 0], nodes[top + 2, 1], nodes[top + 2, 2] = node_lo, half, 0
            top += 2
    for i in range(n):
        out[i] = values[0, i]


@njit(**_JIT)
def _value_and_grad(fn, fvec, fscalar, x, n, f, g, terms, acc):
    """``f (n,)`` and ``g (D, n)`` at ``x (D, n)``: functions.py's arithmetic, in its order."""
    D = x.shape[0]
    if fn == PARABOLOID:
        # f = sum(a * x * x) + c, grad = (2 a) * x
        for d in range(D):
            a = fvec[d]
            two_a = 2.0 * a
            for i in range(n):
                xi = x[d, i]
                terms[d, i] = a * xi * xi
                g[d, i] = two_a * xi
        _pairwise_sum(terms, 0, D, n, f, acc)
        for i in range(n):
            f[i] = f[i] + fscalar
    else:
        # valley = x[1:] - x[:-1]^2, off = 1 - x[:-1]; f = sum(100 valley^2 + off^2);
        # g[:-1] = -400 x[:-1] valley - 2 off; g[1:] += 200 valley
        for i in range(n):
            g[D - 1, i] = 0.0
        for d in range(D - 1):
            for i in range(n):
                head = x[d, i]
                valley = x[d + 1, i] - head * head
                off = 1.0 - head
                terms[d, i] = 100.0 * valley * valley + off * off
                g[d, i] = -400.0 * head * valley - 2.0 * off
        for d in range(D - 1, 0, -1):
            for i in range(n):
                head = x[d - 1, i]
                valley = x[d, i] - head * head
                g[d, i] = g[d, i] + 200.0 * valley
        _pairwise_sum(terms, 0, D - 1, n, f, acc)


@njit(**_JIT)
def _distance(x, n, minimizers, out, terms, acc, best):
    """Distance from each column of ``x (D, n)`` to its nearest minimiser, as functions.py."""
    D = x.shape[0]
    for m in range(minimizers.shape[0]):
        for d in range(D):
            c = minimizers[m, d]
            for i in range(n):
                diff = x[d, i] - c
                terms[d, i] = diff * diff
        _pairwise_sum(terms, 0, D, n, best if m > 0 else out, acc)
        if m > 0:
            for i in range(n):
                if best[i] < out[i] or np.isnan(best[i]):  # np.min propagates NaN
                    out[i] = best[i]
    for i in range(n):
        out[i] = np.sqrt(out[i])


# ---------------------------------------------------------------------------------------------
# Update rules over one coordinate row of a run of trials that share their hyperparameters.
# Each updates x in place. The discrete options arrive as literals, so each combination compiles
# to branch-free code;
# an absent state or weight decay is None, which numba compiles away.


@njit(**_JIT)
def _sgd_row(x, g, buf, step, lr, momentum, dampening, weight_decay, nesterov,
             maximize):
    literally(nesterov)
    literally(maximize)
    nesterov, maximize = _constant(nesterov), _constant(maximize)
    for i in range(x.shape[0]):  # from 0: no negative-index wrap-around, so it vectorizes
        if buf is None:
            x[i], _ = _sgd_rule(x[i], g[i], None, step, lr, momentum, dampening, weight_decay,
                                  nesterov, maximize)
        else:
            x[i], buf[i] = _sgd_rule(x[i], g[i], buf[i], step, lr, momentum, dampening,
                                       weight_decay, nesterov, maximize)


@njit(**_JIT)
def _adagrad_row(x, g, state_sum, step, lr, lr_decay, eps, weight_decay, maximize):
    literally(maximize)
    maximize = _constant(maximize)
    for i in range(x.shape[0]):  # from 0: no negative-index wrap-around, so it vectorizes
        x[i], state_sum[i] = _adagrad_rule(x[i], g[i], state_sum[i], step, lr, lr_decay, eps,
                                             weight_decay, maximize)


@njit(**_JIT)
def _rmsprop_row(x, g, square_avg, grad_avg, buf, step, lr, alpha, eps,
                 weight_decay, momentum, maximize, first_gradient):
    literally(maximize)
    literally(first_gradient)
    maximize, first_gradient = _constant(maximize), _constant(first_gradient)
    for i in range(x.shape[0]):  # from 0: no negative-index wrap-around, so it vectorizes
        if grad_avg is None:
            if buf is None:
                x[i], square_avg[i], _, _ = _rmsprop_rule(
                    x[i], g[i], square_avg[i], None, None, step, lr, alpha, eps, weight_decay,
                    momentum, None, maximize, first_gradient)
            else:
                x[i], square_avg[i], _, buf[i] = _rmsprop_rule(
                    x[i], g[i], square_avg[i], None, buf[i], step, lr, alpha, eps, weight_decay,
                    momentum, None, maximize, first_gradient)
        else:
            if buf is None:
                x[i], square_avg[i], grad_avg[i], _ = _rmsprop_rule(
                    x[i], g[i], square_avg[i], grad_avg[i], None, step, lr, alpha, eps,
                    weight_decay, momentum, None, maximize, first_gradient)
            else:
                x[i], square_avg[i], grad_avg[i], buf[i] = _rmsprop_rule(
                    x[i], g[i], square_avg[i], grad_avg[i], buf[i], step, lr, alpha, eps,
                    weight_decay, momentum, None, maximize, first_gradient)


@njit(**_JIT)
def _adam_row(x, g, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1, beta2,
              eps, weight_decay, decoupled_weight_decay, maximize, bias_correction,
              first_gradient):
    literally(decoupled_weight_decay)
    literally(maximize)
    literally(bias_correction)
    literally(first_gradient)
    decoupled_weight_decay = _constant(decoupled_weight_decay)
    maximize, bias_correction = _constant(maximize), _constant(bias_correction)
    first_gradient = _constant(first_gradient)
    for i in range(x.shape[0]):  # from 0: no negative-index wrap-around, so it vectorizes
        if max_exp_avg_sq is None:
            x[i], exp_avg[i], exp_avg_sq[i], _ = _adam_rule(
                x[i], g[i], exp_avg[i], exp_avg_sq[i], None, step, lr, beta1, beta2, eps,
                weight_decay, decoupled_weight_decay, maximize, bias_correction, first_gradient)
        else:
            x[i], exp_avg[i], exp_avg_sq[i], max_exp_avg_sq[i] = _adam_rule(
                x[i], g[i], exp_avg[i], exp_avg_sq[i], max_exp_avg_sq[i], step, lr, beta1,
                beta2, eps, weight_decay, decoupled_weight_decay, maximize, bias_correction,
                first_gradient)


#: Per-group hyperparameter columns of each kernel, in order.
COLUMNS = {
    "sgd": ("lr", "momentum", "dampening"),
    "adagrad": ("lr", "lr_decay", "eps", "initial_accumulator_value"),
    "rmsprop": ("lr", "alpha", "eps", "momentum"),
    "adam": ("lr", "betas[0]", "betas[1]", "eps"),
}
#: Discrete options of each kernel, in order (literals: one compiled variant per combination).
FLAGS = {
    "sgd": ("nesterov", "maximize"),
    "adagrad": ("maximize",),
    "rmsprop": ("centered", "maximize", "first_gradient"),
    "adam": ("amsgrad", "decoupled_weight_decay", "maximize", "bias_correction",
             "first_gradient"),
}


@njit(**_JIT)
def _update(x, g, s0, s1, s2, runs, n_runs, step, adam, sgd, adagrad, rmsprop, wd, f0, f1, f2,
            f3, f4):
    """One step of the optimizer on a block, in place (separate input and output arrays would
    need more run-time alias checks than LLVM makes before it vectorizes a loop).

    Exactly one of ``adam``, ``sgd``, ``adagrad``, ``rmsprop`` is its per-group hyperparameter
    table (the others are None), ``wd`` the weight-decay column or None when no trial of the
    chunk decays (as the NumPy path), ``s0..s2`` the state buffers or None; ``f0..f4`` the
    optimizer's discrete options (``FLAGS``). Branches on None are pruned at compile time, so
    each call compiles only the code it runs.
    """
    literally(f0)
    literally(f1)
    literally(f2)
    literally(f3)
    literally(f4)
    D = x.shape[0]
    for r in range(n_runs):
        lo, hi, s = runs[r, 0], runs[r, 1], runs[r, 2]
        if adam is not None:
            lr, b1, b2, eps = adam[s, 0], adam[s, 1], adam[s, 2], adam[s, 3]
            for d in range(D):
                if s2 is None:
                    if wd is None:
                        _adam_row(x[d, lo:hi], g[d, lo:hi], s0[d, lo:hi], s1[d, lo:hi], None, step, lr, b1,
                                  b2, eps, None, f1, f2, f3, f4)
                    else:
                        _adam_row(x[d, lo:hi], g[d, lo:hi], s0[d, lo:hi], s1[d, lo:hi], None, step, lr, b1,
                                  b2, eps, wd[s], f1, f2, f3, f4)
                elif wd is None:
                    _adam_row(x[d, lo:hi], g[d, lo:hi], s0[d, lo:hi], s1[d, lo:hi], s2[d, lo:hi], step, lr, b1, b2,
                              eps, None, f1, f2, f3, f4)
                else:
                    _adam_row(x[d, lo:hi], g[d, lo:hi], s0[d, lo:hi], s1[d, lo:hi], s2[d, lo:hi], step, lr, b1, b2,
                              eps, wd[s], f1, f2, f3, f4)
        if sgd is not None:
            lr, mom, damp = sgd[s, 0], sgd[s, 1], sgd[s, 2]
            for d in range(D):
                if s0 is None:
                    if wd is None:
                        _sgd_row(x[d, lo:hi], g[d, lo:hi], None, step, lr, mom, damp, None, f0,
                                 f1)
                    else:
                        _sgd_row(x[d, lo:hi], g[d, lo:hi], None, step, lr, mom, damp, wd[s],
                                 f0, f1)
                elif wd is None:
                    _sgd_row(x[d, lo:hi], g[d, lo:hi], s0[d, lo:hi], step, lr, mom, damp, None, f0, f1)
                else:
                    _sgd_row(x[d, lo:hi], g[d, lo:hi], s0[d, lo:hi], step, lr, mom, damp, wd[s], f0,
                             f1)
        if adagrad is not None:
            lr, decay, eps = adagrad[s, 0], adagrad[s, 1], adagrad[s, 2]
            for d in range(D):
                if wd is None:
                    _adagrad_row(x[d, lo:hi], g[d, lo:hi], s0[d, lo:hi], step, lr, decay, eps, None,
                                 f0)
                else:
                    _adagrad_row(x[d, lo:hi], g[d, lo:hi], s0[d, lo:hi], step, lr, decay, eps, wd[s],
                                 f0)
        if rmsprop is not None:
            lr, alpha, eps, mom = rmsprop[s, 0], rmsprop[s, 1], rmsprop[s, 2], rmsprop[s, 3]
            # Where momentum is 0, torch (and the NumPy path) step without the buffer.
            for d in range(D):
                if s1 is None:
                    if s2 is None or mom == 0.0:
                        if wd is None:
                            _rmsprop_row(x[d, lo:hi], g[d, lo:hi], s0[d, lo:hi], None, None, step,
                                         lr, alpha, eps, None, mom, f1, f2)
                        else:
                            _rmsprop_row(x[d, lo:hi], g[d, lo:hi], s0[d, lo:hi], None, None, step,
                                         lr, alpha, eps, wd[s], mom, f1, f2)
                    elif wd is None:
                        _rmsprop_row(x[d, lo:hi], g[d, lo:hi], s0[d, lo:hi], None, s2[d, lo:hi], step, lr,
                                     alpha, eps, None, mom, f1, f2)
                    else:
                        _rmsprop_row(x[d, lo:hi], g[d, lo:hi], s0[d, lo:hi], None, s2[d, lo:hi], step, lr,
                                     alpha, eps, wd[s], mom, f1, f2)
                elif s2 is None or mom == 0.0:
                    if wd is None:
                        _rmsprop_row(x[d, lo:hi], g[d, lo:hi], s0[d, lo:hi], s1[d, lo:hi], None, step, lr,
                                     alpha, eps, None, mom, f1, f2)
                    else:
                        _rmsprop_row(x[d, lo:hi], g[d, lo:hi], s0[d, lo:hi], s1[d, lo:hi], None, step, lr,
                                     alpha, eps, wd[s], mom, f1, f2)
                elif wd is None:
                    _rmsprop_row(x[d, lo:hi], g[d, lo:hi], s0[d, lo:hi], s1[d, lo:hi], s2[d, lo:hi], step, lr,
                                 alpha, eps, None, mom, f1, f2)
                else:
                    _rmsprop_row(x[d, lo:hi], g[d, lo:hi], s0[d, lo:hi], s1[d, lo:hi], s2[d, lo:hi], step, lr,
                                 alpha, eps, wd[s], mom, f1, f2)


@njit(cache=True, **_JIT)
def run_chunk(adam, sgd, adagrad, rmsprop, wd, s0, s1, s2, f0, f1, f2, f3, f4, x0, row_setting,
              fn, fvec, fscalar, f_star, minimizers, steps, by_distance, target, bound_is_gap,
              divergence, record_rows, points, gaps, block, first_hit, last_outside,
              diverged_at, best_gap, gap_last, alive, x_last, ladder, ladder_hits):
    """Run ``steps`` updates of every trial of ``x0 (T, D)``; fill the per-trial outputs.

    Mirrors :func:`optbench.runner.run_trials` step for step (see there for the definitions):
    ``first_hit``, ``last_outside``, ``diverged_at``, ``best_gap``, ``gap_last``, ``alive`` and
    ``x_last`` are written per trial; ``points``/``gaps`` per recorded row (``record_rows``,
    sorted). The optimizer arguments are those of :func:`_update`; ``s0..s2`` are ``(D, B)``
    buffers of ``block`` trials, the width of the blocks the chunk is cut into.
    ``ladder_hits (T, L)`` (or None) gets each trial's first step with a best gap at or below
    each rung of the descending ``ladder``.
    """
    literally(f0)
    literally(f1)
    literally(f2)
    literally(f3)
    literally(f4)
    T, D = x0.shape
    B = block
    n_terms = D if fn == PARABOLOID else D - 1
    x = np.empty((D, B))
    x_prev = np.empty((D, B))
    g = np.empty((D, B))
    terms = np.empty((max(n_terms, D), B))
    acc = np.empty((8, B))
    f = np.empty(B)
    crit = np.empty(B)
    best = np.empty(B)
    bound = np.empty(B)
    runs = np.empty((B, 3), dtype=np.int64)
    # The block's bookkeeping, all 64-bit so that one loop over trials vectorizes.
    live = np.empty(B, dtype=np.int64)
    hit = np.empty(B, dtype=np.int64)
    outside = np.empty(B, dtype=np.int64)
    died_at = np.empty(B, dtype=np.int64)
    least = np.empty(B)
    last_gap = np.empty(B)
    rung = np.empty(B, dtype=np.int64)  # rungs of the ladder reached: a prefix of it
    n_rungs = ladder.shape[0]
    tiny = np.finfo(np.float64).tiny
    n_record = record_rows.shape[0]
    r_first = 0
    for b0 in range(0, T, B):
        n = min(B, T - b0)
        # Runs of trials that share their hyperparameters (one group each).
        n_runs = 0
        for i in range(n):
            if i == 0 or row_setting[b0 + i] != row_setting[b0 + i - 1]:
                if n_runs > 0:
                    runs[n_runs - 1, 1] = i
                runs[n_runs, 0] = i
                runs[n_runs, 2] = row_setting[b0 + i]
                n_runs += 1
        runs[n_runs - 1, 1] = n
        r_last = r_first
        while r_last < n_record and record_rows[r_last] < b0 + n:
            r_last += 1
        # State at step 0.
        for d in range(D):
            for i in range(n):
                x[d, i] = x0[b0 + i, d]
        if s0 is not None:
            s0[:, :] = 0.0
        if s1 is not None:
            s1[:, :] = 0.0
        if s2 is not None:
            s2[:, :] = 0.0
        if adagrad is not None:  # s_0 = zeros_like(x) + initial_accumulator_value
            for r in range(n_runs):
                for d in range(D):
                    for i in range(runs[r, 0], runs[r, 1]):
                        s0[d, i] = 0.0 + adagrad[runs[r, 2], 3]
        _value_and_grad(fn, fvec, fscalar, x, n, f, g, terms, acc)
        if by_distance:
            _distance(x, n, minimizers, crit, terms, acc, best)
        for i in range(n):
            gap = f[i] - f_star
            ok = np.isfinite(f[i])
            inside = ok and (crit[i] if by_distance else gap) <= target
            live[i] = 1 if ok else 0
            died_at[i] = -1 if ok else 0
            hit[i] = 0 if inside else -1
            outside[i] = -1 if inside else 0
            least[i] = gap if ok else np.inf
            last_gap[i] = gap
            # A trial that starts inside a gap target is not diverged for moving within it.
            scale = target if not by_distance and gap < target else gap
            scale = max(scale, tiny)  # NaN stays NaN, as np.maximum
            bound[i] = divergence if bound_is_gap else divergence * scale
            for d in range(D):
                x_last[b0 + i, d] = x[d, i]
            if ladder_hits is not None:
                r = 0
                while r < n_rungs and ladder[r] >= least[i]:
                    ladder_hits[b0 + i, r] = 0
                    r += 1
                rung[i] = r
                for j in range(r, n_rungs):
                    ladder_hits[b0 + i, j] = -1
        for r in range(r_first, r_last):
            i = record_rows[r] - b0
            for d in range(D):
                points[r, 0, d] = x[d, i]
            gaps[r, 0] = f[i] - f_star
        for k in range(1, steps + 1):
            for d in range(D):
                for i in range(n):
                    x_prev[d, i] = x[d, i]
            _update(x, g, s0, s1, s2, runs, n_runs, float(k), adam, sgd, adagrad, rmsprop, wd,
                    f0, f1, f2, f3, f4)
            _value_and_grad(fn, fvec, fscalar, x, n, f, g, terms, acc)
            if by_distance:
                _distance(x, n, minimizers, crit, terms, acc, best)
            died = 0
            for i in range(n):
                gap = f[i] - f_star
                was = live[i]
                ok = 1 if gap <= bound[i] else 0  # 0 for NaN
                bad = was & (1 - ok)
                now = was & ok
                inside = 1 if (crit[i] if by_distance else gap) <= target else 0
                first = 1 if hit[i] < 0 else 0
                died_at[i] = k if bad == 1 else died_at[i]
                live[i] = now
                hit[i] = k if (now & inside & first) == 1 else hit[i]
                outside[i] = k if (now & (1 - inside)) == 1 else outside[i]
                least[i] = gap if (now == 1) & (gap < least[i]) else least[i]
                last_gap[i] = gap if now == 1 else last_gap[i]
                died |= bad
            if ladder_hits is not None:
                for i in range(n):
                    r = rung[i]
                    if r < n_rungs and ladder[r] >= least[i]:
                        while r < n_rungs and ladder[r] >= least[i]:
                            ladder_hits[b0 + i, r] = k
                            r += 1
                        rung[i] = r
            if died:
                # A diverged trial is frozen at its last point while alive: the previous one.
                for i in range(n):
                    if died_at[i] == k:
                        for d in range(D):
                            x_last[b0 + i, d] = x_prev[d, i]
            for r in range(r_first, r_last):
                i = record_rows[r] - b0
                if live[i] == 1 or died_at[i] == k:
                    for d in range(D):
                        points[r, k, d] = x[d, i]
                    gaps[r, k] = f[i] - f_star
        for i in range(n):
            t = b0 + i
            alive[t] = live[i] == 1
            first_hit[t] = hit[i]
            last_outside[t] = outside[i]
            diverged_at[t] = died_at[i]
            best_gap[t] = least[i]
            gap_last[t] = last_gap[i]
            if live[i] == 1:
                for d in range(D):
                    x_last[t, d] = x[d, i]
        r_first = r_last


# ---------------------------------------------------------------------------------------------
# Python side: what the kernels cover, and the call.


def function_code(entry_function: str, params: dict):
    """``(code, vector, scalar)`` of a registered function the kernels evaluate, else None."""
    if entry_function not in ("paraboloid", "rosenbrock"):
        return None
    factory = _functions.FUNCTIONS[entry_function].factory
    bound = inspect.signature(factory).bind(**params)
    bound.apply_defaults()
    if entry_function == "paraboloid":
        # Evaluated without its offset c, against f* - c = 0: the exact gap sum(a x^2) that
        # Objective.exact_gap_and_grad gives the NumPy loop.
        return PARABOLOID, np.asarray(bound.arguments["a"], dtype=np.float64), 0.0
    return ROSENBROCK, np.zeros(1), 0.0


def supports(function: str, params: dict, optimizer: str) -> bool:
    """Whether a chunk of this function and optimizer runs in a compiled kernel."""
    return optimizer in COLUMNS and function_code(function, params) is not None


def block_size(dim: int) -> int:
    """Trials per cache block: up to 16384 coordinates, so that the block's state stays in L2."""
    return int(max(8, min(2048, 16384 // dim)))


def _settings(optimizer: str, names: tuple, hyperparameters: dict, group_ids: np.ndarray):
    """Per-group table ``(S, len(names))`` of hyperparameters and each row's group ``(T,)``."""
    starts = np.flatnonzero(np.r_[True, group_ids[1:] != group_ids[:-1]])
    row_setting = (np.cumsum(np.r_[True, group_ids[1:] != group_ids[:-1]]) - 1).astype(np.int64)
    spec = _opt.OPTIMIZERS[optimizer]
    columns = []
    for column in names:
        name, _, index = column.partition("[")
        value = hyperparameters.get(name, spec.hyperparameters[name].default)
        if index:
            value = value[int(index[:-1])]
        value = np.asarray(value, dtype=np.float64)
        columns.append(np.broadcast_to(value, group_ids.shape)[starts] if value.ndim else
                       np.full(len(starts), float(value)))
    return np.ascontiguousarray(np.stack(columns, axis=1)), row_setting


def _flag(name: str, options: dict, spec) -> bool:
    if name == "first_gradient":
        return options.get("state_init", spec.hyperparameters["state_init"].default) == name
    return bool(options.get(name, spec.hyperparameters[name].default))


_ENTRY_POINTS: dict = {}


def _compiled(tables, wd, states, flags, ladder_hits):
    """The compiled :func:`run_chunk` for this combination of options, called directly.

    Calling the dispatcher with literal-typed options re-runs numba's type inference on every
    call before it finds the literal specialization (a fraction of a second each time); the
    specialization's entry point, looked up once per process, skips that.
    """
    nones = tuple(v is None for v in (*tables, wd, *states)) + (ladder_hits is None,)
    key = (nones, tuple(flags))
    entry = _ENTRY_POINTS.get(key)
    if entry is not None:
        return entry

    def call(*args):
        run_chunk(*args)
        first_flag = len(nones) - 1
        for sig, compiled in run_chunk.overloads.items():
            literal = sig[first_flag:first_flag + 5]
            if (tuple(isinstance(t, types.NoneType) for t in sig[:first_flag]) == nones[:-1]
                    and isinstance(sig[-1], types.NoneType) == nones[-1]
                    and all(getattr(t, "literal_value", None) is f for t, f in zip(literal, flags))):
                _ENTRY_POINTS[key] = compiled.entry_point
                break

    return call


def run_trials(function: str, params: dict, objective, optimizer: str, options: dict,
               x0: np.ndarray, group_ids: np.ndarray, steps: int, *, target_kind: str,
               target: float, divergence_kind: str, divergence: float,
               record_rows: np.ndarray, ladder: np.ndarray | None = None,
               ) -> tuple[dict, np.ndarray, np.ndarray]:
    """The compiled counterpart of the loop of :func:`optbench.runner.run_trials`.

    ``options`` holds the optimizer's arguments for these rows, as ``Batch.take`` gives them
    (checked by the factory beforehand); ``group_ids`` tells which rows share them. Returns the
    raw per-trial arrays (``first_hit``, ``last_outside``, ``diverged_at``, ``best_gap``,
    ``gap_last``, ``alive``, ``x_last``, and ``ladder_hits (T, L)`` when a descending
    ``ladder`` of targets is given, else None) and the recorded ``points``, ``gaps``.
    """
    spec = _opt.OPTIMIZERS[optimizer]
    code, fvec, fscalar = function_code(function, params)
    T, D = x0.shape
    table, row_setting = _settings(optimizer, COLUMNS[optimizer] + ("weight_decay",), options,
                                   group_ids)
    table, wd = np.ascontiguousarray(table[:, :-1]), np.ascontiguousarray(table[:, -1])
    wd = wd if np.any(wd != 0) else None
    flags = {name: _flag(name, options, spec) for name in FLAGS[optimizer]}
    B = block_size(D)

    def buffer(wanted=True):
        return np.zeros((D, B)) if wanted else None

    if optimizer == "sgd":
        has_buf = bool(np.any(table[:, 1] != 0))
        # As the factory: a buffer with momentum 0 and no dampening is torch's buffer-less step.
        table[:, 2] = np.where(table[:, 1] == 0, 0.0, table[:, 2])
        states = (buffer(has_buf), None, None)
    elif optimizer == "adagrad":
        states = (buffer(), None, None)
    elif optimizer == "rmsprop":
        states = (buffer(), buffer(flags["centered"]), buffer(bool(np.any(table[:, 3] != 0))))
    else:
        states = (buffer(), buffer(), buffer(flags["amsgrad"]))
    tables = [table if name == optimizer else None for name in ("adam", "sgd", "adagrad", "rmsprop")]
    flag_values = list(flags.values()) + [False] * (5 - len(flags))
    record_rows = np.asarray(record_rows, dtype=np.int64)
    out = {
        "first_hit": np.empty(T, dtype=np.int64),
        "last_outside": np.empty(T, dtype=np.int64),
        "diverged_at": np.empty(T, dtype=np.int64),
        "best_gap": np.empty(T),
        "gap_last": np.empty(T),
        "alive": np.empty(T, dtype=np.bool_),
        "x_last": np.empty((T, D)),
        "ladder_hits": None if ladder is None else np.empty((T, len(ladder)), dtype=np.int32),
    }
    ladder = np.zeros(0) if ladder is None else np.ascontiguousarray(ladder, dtype=np.float64)
    points = np.full((len(record_rows), steps + 1, D), np.nan)
    gaps = np.full((len(record_rows), steps + 1), np.nan)
    if T:
        _compiled(tables, wd, states, flag_values, out["ladder_hits"])(
            *tables, wd, *states, *flag_values, np.ascontiguousarray(x0, dtype=np.float64),
            row_setting, code, fvec, fscalar, 0.0 if code == PARABOLOID else float(objective.f_star),
            np.ascontiguousarray(objective.minimizers, dtype=np.float64), int(steps),
            target_kind == "distance", float(target), divergence_kind == "gap", float(divergence),
            record_rows, points, gaps, B, out["first_hit"], out["last_outside"], out["diverged_at"],
            out["best_gap"], out["gap_last"], out["alive"], out["x_last"], ladder,
            out["ladder_hits"],
        )
    return out, points, gaps


__all__ = ["block_size", "run_trials", "supports"]
