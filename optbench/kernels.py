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

Covered: ``sgd``, ``adagrad``, ``rmsprop``, ``adam``, ``adamw`` (Adam's kernel, decoupled weight
decay: :data:`ALIASES`), ``adamax``, ``lion`` and ``sign_descent`` on ``paraboloid`` and
``rosenbrock``, with either target criterion. Anything else runs on the NumPy path
(:func:`supports` says which).

Compiled code is cached on disk (numba ``cache=True``); the cache is keyed on this file and on
the sources of the rules and functions it compiles, so editing an update rule recompiles.
"""

from __future__ import annotations

import functools
import inspect
import os
import pickle
import subprocess
import sys
import threading
from pathlib import Path

import numba
import numpy as np
from llvmlite import ir
from numba import literally, njit
from numba.core import cgutils, types
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


def _enable_noalias() -> dict:
    """numba's ``noalias`` flag as a jit option (its parallel loops set it; njit does not
    expose it): the arrays of a function so compiled promise LLVM that they do not overlap,
    which spares each vectorized loop its run-time overlap checks (a few hundred instructions
    on every entry, as much as the loop itself on short blocks). Returns the options to add,
    none where numba's options moved."""
    from numba.core import cpu, options

    if not hasattr(options.TargetOptions, "Mapping"):  # pragma: no cover
        return {}
    cpu.CPUTargetOptions.noalias = options.TargetOptions.Mapping("noalias")
    return {"noalias": True}


#: Options of the loops over a block whose array arguments never overlap.
_DISJOINT = {**_JIT, **_enable_noalias()}

# ---------------------------------------------------------------------------------------------
# fma and lerp in compiled code


def _llvm_fma(numba_type, llvm_type):
    @intrinsic
    def hardware_fma(typingctx, a, b, c):
        """``llvm.fma``: ``a * b + c`` rounded once, in one instruction where the CPU has it."""
        sig = numba_type(numba_type, numba_type, numba_type)

        def codegen(context, builder, signature, args):
            t = llvm_type
            fn = builder.module.declare_intrinsic("llvm.fma", [t], ir.FunctionType(t, [t, t, t]))
            return builder.call(fn, args)

        return sig, codegen

    return hardware_fma


_hardware_fma = _llvm_fma(types.float64, ir.DoubleType())
_hardware_fma32 = _llvm_fma(types.float32, ir.FloatType())


def _is_float32(*values) -> bool:
    return all(isinstance(v, types.Float) and v.bitwidth == 32 for v in values)


@overload(_opt.fma, inline="always")
def _fma_compiled(a, b, c):
    # As the NumPy path: float32 where every operand is (the rules round their scalars first).
    if _is_float32(a, b, c):
        return lambda a, b, c: _hardware_fma32(a, b, c)

    def impl(a, b, c):
        return _hardware_fma(float(a), float(b), float(c))

    return impl


@overload(_opt.in_precision, inline="always")
def _in_precision_compiled(value, like):
    if _is_float32(like):
        return lambda value, like: np.float32(value)
    return lambda value, like: value


_lerp_scalar_weight = njit(inline="always", error_model="numpy")(_opt.lerp_scalar_weight)


@overload(_opt.lerp, inline="always")
def _lerp_compiled(start, end, weight):
    def impl(start, end, weight):
        return _lerp_scalar_weight(start, end, _opt.in_precision(weight, start))

    return impl


@overload(_opt.zeros_like, inline="always")
def _zeros_like_compiled(a):
    if _is_float32(a):
        return lambda a: np.float32(0.0)
    return lambda a: 0.0


# ---------------------------------------------------------------------------------------------
# Arrays without reference counting, and a branch-free gather

# numba counts references to the arrays a compiled function passes on, with an atomic increment
# and decrement per array and call: the step loop's calls cost a few hundred cycles a step in
# atomics (a third of the time of a 256-trial block). The step loop passes borrowed views (a
# null owner: the count is skipped), and run_chunk keeps the owners alive until it returns.


@intrinsic
def _unowned(typingctx, array):
    """``array``'s view without its owner (a null meminfo): passing it on counts no
    references. The caller keeps the owner alive."""
    if not isinstance(array, types.Array):
        return None

    def codegen(context, builder, signature, args):
        source = context.make_array(signature.args[0])(context, builder, value=args[0])
        view = context.make_array(signature.return_type)(context, builder)
        for field in ("nitems", "itemsize", "data", "shape", "strides"):
            setattr(view, field, getattr(source, field))
        return view._getvalue()

    return array(array), codegen


def _borrowed(array):
    """The array without its owner (see :func:`_unowned`), None as None."""
    return array


@overload(_borrowed, inline="always")
def _borrowed_compiled(array):
    if isinstance(array, types.NoneType):
        return lambda array: None
    return lambda array: _unowned(array)


def _keep(*arrays):
    """Keeps the owners of borrowed arrays alive to this point."""


@overload(_keep)
def _keep_compiled(*arrays):
    return lambda *arrays: None


@intrinsic
def _compress_below(typingctx, values, limits, i0, out, m):
    """Appends to ``out[m:]`` each ``i`` of ``i0 .. i0 + 7`` with ``values[i] <= limits[i]``,
    in order (``out`` int32), and returns the new count: eight trials in a few instructions,
    ``llvm.masked.compressstore`` (AVX-512's ``vpcompressd``; LLVM expands it for other CPUs).
    """
    sig = types.int64(values, limits, types.int64, out, types.int64)

    def codegen(context, builder, signature, args):
        values_ary, limits_ary, _, out_ary, _ = (
            context.make_array(t)(context, builder, value=v) if isinstance(t, types.Array)
            else None for t, v in zip(signature.args, args))
        i0, m = args[2], args[4]
        i32 = ir.IntType(32)
        f64x8, i32x8, i1x8 = (ir.VectorType(t, 8) for t in (ir.DoubleType(), i32, ir.IntType(1)))

        def load8(ary):
            address = builder.bitcast(builder.gep(ary.data, [i0]), f64x8.as_pointer())
            return builder.load(address, align=8)

        below = builder.fcmp_ordered("<=", load8(values_ary), load8(limits_ary))
        first = builder.insert_element(ir.Constant(i32x8, None), builder.trunc(i0, i32),
                                       ir.Constant(i32, 0))
        first = builder.shuffle_vector(first, ir.Constant(i32x8, None),
                                       ir.Constant(i32x8, [0] * 8))
        index = builder.add(first, ir.Constant(i32x8, list(range(8))))
        target = builder.gep(out_ary.data, [m])
        name = "llvm.masked.compressstore.v8i32"
        compress = builder.module.globals.get(name) or ir.Function(
            builder.module, ir.FunctionType(ir.VoidType(), [i32x8, target.type, i1x8]), name)
        builder.call(compress, [index, target, below])
        ctpop = builder.module.declare_intrinsic("llvm.ctpop", [ir.IntType(8)])
        count = builder.call(ctpop, [builder.bitcast(below, ir.IntType(8))])
        return builder.add(m, builder.zext(count, ir.IntType(64)))

    return sig, codegen


def _constant(flag):
    """A literal bool as a compile-time constant (so LLVM folds the branches it selects)."""
    return flag


@overload(_constant)
def _constant_compiled(flag):
    if isinstance(flag, types.BooleanLiteral):
        if flag.literal_value:
            return lambda flag: True
        return lambda flag: False
    if isinstance(flag, types.IntegerLiteral):
        value = flag.literal_value
        return lambda flag: value
    return lambda flag: flag


def _entry(array, d, i):
    """``array[d, i]``, or None where the state is absent (``array`` None)."""


@overload(_entry, inline="always")
def _entry_compiled(array, d, i):
    # Typed per call site: an absent state stays None (not an optional value that every
    # element would test), so each combination compiles to its own branch-free loop.
    if isinstance(array, types.NoneType):
        return lambda array, d, i: None
    return lambda array, d, i: array[d, i]


def _store(array, d, i, value):
    """``array[d, i] = value``, nothing where the state is absent."""


@overload(_store, inline="always")
def _store_compiled(array, d, i, value):
    if isinstance(array, types.NoneType):
        return lambda array, d, i, value: None

    def impl(array, d, i, value):
        array[d, i] = value

    return impl


def _item(column, s):
    """``column[s]``, or None where the hyperparameter is absent (``column`` None)."""


@overload(_item, inline="always")
def _item_compiled(column, s):
    if isinstance(column, types.NoneType):
        return lambda column, s: None
    return lambda column, s: column[s]


# The rules, compiled on scalars (not cached on their own: each kernel that inlines one is).
_sgd_rule = njit(error_model="numpy")(_opt.sgd_rule)
_adagrad_rule = njit(error_model="numpy")(_opt.adagrad_rule)
_rmsprop_rule = njit(error_model="numpy")(_opt.rmsprop_rule)
_adam_rule = njit(error_model="numpy")(_opt.adam_rule)
_adamax_rule = njit(error_model="numpy")(_opt.adamax_rule)
_lion_rule = njit(error_model="numpy")(_opt.lion_rule)
_sign_descent_rule = njit(error_model="numpy")(_opt.sign_descent_rule)

# ---------------------------------------------------------------------------------------------
# Functions: the value over a (D, n) block, exactly as functions.py computes it (the gradient
# is recomputed inside the update loops, _gradient).

PARABOLOID, ROSENBROCK = 0, 1
#: Status codes, as optbench.runner's.
CONVERGED, DIVERGED, UNFINISHED = 0, 1, 2


@njit(**_DISJOINT)
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


@njit(**_DISJOINT)
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


@njit(**_DISJOINT)
def _value(fn, fvec, fscalar, x, n, f, terms, acc):
    """``f (n,)`` at ``x (D, n)``: functions.py's arithmetic, in its order (the gradient is
    recomputed where it is used, :func:`_gradient`)."""
    D = x.shape[0]
    if fn == PARABOLOID:
        # f = sum(a * x * x) + c
        for d in range(D):
            a = fvec[d]
            for i in range(n):
                xi = x[d, i]
                terms[d, i] = a * xi * xi
        _pairwise_sum(terms, 0, D, n, f, acc)
        for i in range(n):
            f[i] = f[i] + fscalar
    else:
        _rosenbrock_terms(x, n, terms)
        _pairwise_sum(terms, 0, D - 1, n, f, acc)


@njit(**_DISJOINT)
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
# Update rules over a block: every coordinate of every run of trials that share their
# hyperparameters. Each reads the point from x_in and writes the new one to x (the previous point
# stays in x_in: the one a diverged trial is frozen at). The discrete options arrive as literals
# and an absent state or weight decay as None, so numba compiles each combination to one
# branch-free loop. Trial indices are unsigned: numba then skips the negative-index wrap-around,
# and the loop over trials vectorizes. With ``fused`` (a literal: FUSE_PARABOLOID or
# FUSE_ROSENBROCK), the loop also evaluates the function's terms while the new point is in a
# register, and the gradient is recomputed from the points rather than stored.


#: The function whose gradient the update loop recomputes (``fused``, a literal).
FUSE_PARABOLOID, FUSE_ROSENBROCK = 1, 2


def _gradient(x_in, d, i, fused, a):
    """The gradient at ``x_in``, coordinate ``d``, recomputed from the points (which costs less
    than storing and loading it), with functions.py's arithmetic.

    Computed in float64 and rounded to the points' type, as the NumPy path rounds the
    gradient of a float32 run. Paraboloid: ``2 a x``. Rosenbrock: ``-400 x_d v_d - 2 (1 - x_d)`` for ``d < D - 1``, else 0,
    plus ``200 v_{d-1}`` for ``d > 0``, where ``v_d = x_{d+1} - x_d^2``; the neighbours' indices
    are clamped so that every load is in bounds and the edges are selected, not branched on.
    """


@overload(_gradient, inline="always", prefer_literal=True)
def _gradient_compiled(x_in, d, i, fused, a):
    # One implementation per literal ``fused``: a branch per function left in the loop, even on
    # constants, kept LLVM from vectorizing Adam's loop. A non-literal ``fused`` has none (an
    # error at compile time, never a silent fallback).
    if not isinstance(fused, types.IntegerLiteral):
        return None
    kind = fused.literal_value
    if kind == FUSE_PARABOLOID:
        return lambda x_in, d, i, fused, a: _opt.in_precision((2.0 * a) * np.float64(x_in[d, i]),
                                                              x_in[d, i])
    if kind == FUSE_ROSENBROCK:
        def rosenbrock(x_in, d, i, fused, a):
            last = x_in.shape[0] - 1
            head = np.float64(x_in[d, i])  # float64 arithmetic from float32 points too
            ahead = np.float64(x_in[min(d + 1, last), i])
            behind = np.float64(x_in[max(d - 1, 0), i])
            valley = ahead - head * head
            own = -400.0 * head * valley - 2.0 * (1.0 - head) if d < last else 0.0
            return _opt.in_precision(own + 200.0 * (head - behind * behind) if d > 0 else own,
                                     x_in[d, i])
        return rosenbrock
    return None


def _value_term(x_new, fused, a, value, d, v, i):
    """The function's terms that the new coordinate ``d`` completes, into ``value``.

    Paraboloid: ``a x^2`` added to row ``v`` (the first term of a sum is added to -0.0, as in
    NumPy's sum). Rosenbrock's terms couple neighbouring coordinates: reading the row of ``x``
    written just before would keep LLVM from vectorizing the loop, so they get a pass of their
    own (:func:`_rosenbrock_terms`).
    """


@overload(_value_term, inline="always", prefer_literal=True)
def _value_term_compiled(x_new, fused, a, value, d, v, i):
    if not isinstance(fused, types.IntegerLiteral):
        return None
    if fused.literal_value == FUSE_PARABOLOID:
        def paraboloid(x_new, fused, a, value, d, v, i):
            value[v, i] = (value[v, i] if v == 0 and d > 0 else -0.0) + a * x_new * x_new
        return paraboloid
    return lambda x_new, fused, a, value, d, v, i: None


@njit(**_DISJOINT)
def _rosenbrock_terms(x, n, terms):
    """``terms[d] = 100 (x_{d+1} - x_d^2)^2 + (1 - x_d)^2``, as functions.py."""
    for d in range(x.shape[0] - 1):
        for i in range(n):
            head = np.float64(x[d, i])  # float64 arithmetic from float32 points too
            valley = np.float64(x[d + 1, i]) - head * head
            off = 1.0 - head
            terms[d, i] = 100.0 * valley * valley + off * off


@njit(inline="always", **_JIT)
def _run(runs, r):
    """Trials ``lo:hi`` (unsigned) of run ``r`` and its row of the hyperparameter table."""
    return np.uint64(runs[r, 0]), np.uint64(runs[r, 1]), runs[r, 2]


@njit(**_DISJOINT)
def _sgd_block(x, x_in, buf, runs, n_runs, step, table, wd, nesterov, maximize, fused, fvec,
               value, by_coordinate):
    literally(nesterov)
    literally(maximize)
    literally(fused)
    nesterov, maximize = _constant(nesterov), _constant(maximize)
    for r in range(n_runs):
        lo, hi, s = _run(runs, r)
        lr, momentum, dampening = table[s, 0], table[s, 1], table[s, 2]
        weight_decay = _item(wd, s)
        for d in range(x.shape[0]):
            a, v = fvec[d], d if by_coordinate else 0
            for i in range(lo, hi):
                b = _entry(buf, d, i)
                x_new, b = _sgd_rule(x_in[d, i], _gradient(x_in, d, i, fused, a), b, step,
                                     lr, momentum, dampening, weight_decay, nesterov, maximize)
                _store(buf, d, i, b)
                x[d, i] = x_new
                _value_term(x_new, fused, a, value, d, v, i)


@njit(**_DISJOINT)
def _adagrad_block(x, x_in, state_sum, runs, n_runs, step, table, wd, maximize, fused, fvec,
                   value, by_coordinate):
    literally(maximize)
    literally(fused)
    maximize = _constant(maximize)
    for r in range(n_runs):
        lo, hi, s = _run(runs, r)
        lr, lr_decay, eps = table[s, 0], table[s, 1], table[s, 2]
        weight_decay = _item(wd, s)
        for d in range(x.shape[0]):
            a, v = fvec[d], d if by_coordinate else 0
            for i in range(lo, hi):
                x_new, state_sum[d, i] = _adagrad_rule(
                    x_in[d, i], _gradient(x_in, d, i, fused, a), state_sum[d, i], step, lr,
                    lr_decay, eps, weight_decay, maximize)
                x[d, i] = x_new
                _value_term(x_new, fused, a, value, d, v, i)


@njit(**_DISJOINT)
def _rmsprop_run(x, x_in, square_avg, grad_avg, buf, lo, hi, step, lr, alpha, eps,
                 weight_decay, momentum, maximize, first_gradient, fused, fvec, value,
                 by_coordinate):
    literally(maximize)
    literally(first_gradient)
    literally(fused)
    maximize, first_gradient = _constant(maximize), _constant(first_gradient)
    for d in range(x.shape[0]):
        a, v = fvec[d], d if by_coordinate else 0
        for i in range(lo, hi):
            avg = _entry(grad_avg, d, i)
            b = _entry(buf, d, i)
            x_new, square_avg[d, i], avg, b = _rmsprop_rule(
                x_in[d, i], _gradient(x_in, d, i, fused, a), square_avg[d, i], avg, b, step,
                lr, alpha, eps, weight_decay, momentum, None, maximize, first_gradient)
            _store(grad_avg, d, i, avg)
            _store(buf, d, i, b)
            x[d, i] = x_new
            _value_term(x_new, fused, a, value, d, v, i)


@njit(**_JIT)
def _rmsprop_block(x, x_in, square_avg, grad_avg, buf, runs, n_runs, step, table, wd,
                   maximize, first_gradient, fused, fvec, value, by_coordinate):
    literally(maximize)
    literally(first_gradient)
    literally(fused)
    for r in range(n_runs):
        lo, hi, s = _run(runs, r)
        lr, alpha, eps, momentum = table[s, 0], table[s, 1], table[s, 2], table[s, 3]
        weight_decay = _item(wd, s)
        # Where momentum is 0, torch (and the NumPy path) step without the buffer.
        if buf is None or momentum == 0.0:
            _rmsprop_run(x, x_in, square_avg, grad_avg, None, lo, hi, step, lr, alpha, eps,
                         weight_decay, momentum, maximize, first_gradient, fused, fvec, value,
                         by_coordinate)
        else:
            _rmsprop_run(x, x_in, square_avg, grad_avg, buf, lo, hi, step, lr, alpha, eps,
                         weight_decay, momentum, maximize, first_gradient, fused, fvec, value,
                         by_coordinate)


@njit(**_DISJOINT)
def _adam_block(x, x_in, exp_avg, exp_avg_sq, max_exp_avg_sq, runs, n_runs, step, table, wd,
                decoupled_weight_decay, maximize, bias_correction, first_gradient, fused, fvec,
                value, by_coordinate):
    literally(decoupled_weight_decay)
    literally(maximize)
    literally(bias_correction)
    literally(first_gradient)
    literally(fused)
    decoupled_weight_decay = _constant(decoupled_weight_decay)
    maximize, bias_correction = _constant(maximize), _constant(bias_correction)
    first_gradient = _constant(first_gradient)
    for r in range(n_runs):
        lo, hi, s = _run(runs, r)
        lr, beta1, beta2, eps = table[s, 0], table[s, 1], table[s, 2], table[s, 3]
        weight_decay = _item(wd, s)
        for d in range(x.shape[0]):
            a, v = fvec[d], d if by_coordinate else 0
            for i in range(lo, hi):
                peak = _entry(max_exp_avg_sq, d, i)
                x_new, exp_avg[d, i], exp_avg_sq[d, i], peak = _adam_rule(
                    x_in[d, i], _gradient(x_in, d, i, fused, a), exp_avg[d, i],
                    exp_avg_sq[d, i], peak, step, lr,
                    beta1, beta2, eps, weight_decay, decoupled_weight_decay, maximize,
                    bias_correction, first_gradient)
                _store(max_exp_avg_sq, d, i, peak)
                x[d, i] = x_new
                _value_term(x_new, fused, a, value, d, v, i)


@njit(**_DISJOINT)
def _adamax_block(x, x_in, exp_avg, exp_inf, runs, n_runs, step, table, wd, maximize, fused,
                  fvec, value, by_coordinate):
    literally(maximize)
    literally(fused)
    maximize = _constant(maximize)
    for r in range(n_runs):
        lo, hi, s = _run(runs, r)
        lr, beta1, beta2, eps = table[s, 0], table[s, 1], table[s, 2], table[s, 3]
        weight_decay = _item(wd, s)
        for d in range(x.shape[0]):
            a, v = fvec[d], d if by_coordinate else 0
            for i in range(lo, hi):
                x_new, exp_avg[d, i], exp_inf[d, i] = _adamax_rule(
                    x_in[d, i], _gradient(x_in, d, i, fused, a), exp_avg[d, i], exp_inf[d, i],
                    step, lr, beta1, beta2, eps, weight_decay, maximize)
                x[d, i] = x_new
                _value_term(x_new, fused, a, value, d, v, i)


@njit(**_DISJOINT)
def _lion_block(x, x_in, exp_avg, runs, n_runs, table, wd, maximize, fused, fvec, value,
                by_coordinate):
    literally(maximize)
    literally(fused)
    maximize = _constant(maximize)
    for r in range(n_runs):
        lo, hi, s = _run(runs, r)
        lr, beta1, beta2 = table[s, 0], table[s, 1], table[s, 2]
        weight_decay = _item(wd, s)
        for d in range(x.shape[0]):
            a, v = fvec[d], d if by_coordinate else 0
            for i in range(lo, hi):
                x_new, exp_avg[d, i] = _lion_rule(
                    x_in[d, i], _gradient(x_in, d, i, fused, a), exp_avg[d, i], lr, beta1,
                    beta2, weight_decay, maximize)
                x[d, i] = x_new
                _value_term(x_new, fused, a, value, d, v, i)


@njit(**_DISJOINT)
def _sign_descent_block(x, x_in, runs, n_runs, table, maximize, fused, fvec, value,
                        by_coordinate):
    literally(maximize)
    literally(fused)
    maximize = _constant(maximize)
    for r in range(n_runs):
        lo, hi, s = _run(runs, r)
        lr = table[s, 0]
        for d in range(x.shape[0]):
            a, v = fvec[d], d if by_coordinate else 0
            for i in range(lo, hi):
                x_new = _sign_descent_rule(x_in[d, i], _gradient(x_in, d, i, fused, a), lr,
                                           maximize)
                x[d, i] = x_new
                _value_term(x_new, fused, a, value, d, v, i)


#: Per-group hyperparameter columns of each kernel, in order.
COLUMNS = {
    "sgd": ("lr", "momentum", "dampening"),
    "adagrad": ("lr", "lr_decay", "eps", "initial_accumulator_value"),
    "rmsprop": ("lr", "alpha", "eps", "momentum"),
    "adam": ("lr", "betas[0]", "betas[1]", "eps"),
    "adamax": ("lr", "betas[0]", "betas[1]", "eps"),
    "lion": ("lr", "betas[0]", "betas[1]"),
    "sign_descent": ("lr",),
}
#: Discrete options of each kernel, in order (literals: one compiled variant per combination).
FLAGS = {
    "sgd": ("nesterov", "maximize"),
    "adagrad": ("maximize",),
    "rmsprop": ("centered", "maximize", "first_gradient"),
    "adam": ("amsgrad", "decoupled_weight_decay", "maximize", "bias_correction",
             "first_gradient"),
    "adamax": ("maximize",),
    "lion": ("maximize",),
    "sign_descent": ("maximize",),
}
#: Optimizers whose update rule is another kernel's with some options fixed:
#: ``name -> (kernel, fixed options)``. AdamW is Adam with decoupled weight decay (as in torch:
#: :func:`optbench.optimizers.adamw`).
ALIASES = {"adamw": ("adam", {"decoupled_weight_decay": True, "bias_correction": True})}


@njit(**_JIT)
def _update(x, x_in, s0, s1, s2, runs, n_runs, step, adam, sgd, adagrad, rmsprop, adamax,
            lion, sign_descent, wd, f0, f1, f2, f3, f4, fused, fvec, value, by_coordinate):
    """One step of the optimizer on a block: ``x`` from ``x_in`` (and, ``fused``, the function's
    terms into ``value``, its gradient recomputed from ``x_in``).

    Exactly one of ``adam``, ``sgd``, ``adagrad``, ``rmsprop``, ``adamax``, ``lion`` and
    ``sign_descent`` is its per-group hyperparameter table (``COLUMNS``; the others are None),
    ``wd`` the weight-decay column or None when no trial of the chunk decays (as the NumPy
    path), ``s0..s2`` the state buffers or None; ``f0..f4`` the
    optimizer's discrete options (``FLAGS``). ``value`` gets coordinate ``d``'s terms in its
    row ``d`` (``by_coordinate``, to be summed pairwise) or all of them in row 0.
    """
    literally(f0)
    literally(f1)
    literally(f2)
    literally(f3)
    literally(f4)
    literally(fused)
    if adam is not None:
        _adam_block(x, x_in, s0, s1, s2, runs, n_runs, step, adam, wd, f1, f2, f3, f4,
                    fused, fvec, value, by_coordinate)
    if sgd is not None:
        _sgd_block(x, x_in, s0, runs, n_runs, step, sgd, wd, f0, f1, fused, fvec, value,
                   by_coordinate)
    if adagrad is not None:
        _adagrad_block(x, x_in, s0, runs, n_runs, step, adagrad, wd, f0, fused, fvec, value,
                       by_coordinate)
    if rmsprop is not None:
        _rmsprop_block(x, x_in, s0, s1, s2, runs, n_runs, step, rmsprop, wd, f1, f2, fused,
                       fvec, value, by_coordinate)
    if adamax is not None:
        _adamax_block(x, x_in, s0, s1, runs, n_runs, step, adamax, wd, f0, fused, fvec, value,
                      by_coordinate)
    if lion is not None:
        _lion_block(x, x_in, s0, runs, n_runs, lion, wd, f0, fused, fvec, value, by_coordinate)
    if sign_descent is not None:
        _sign_descent_block(x, x_in, runs, n_runs, sign_descent, f0, fused, fvec, value,
                            by_coordinate)


@njit(**_DISJOINT)
def _bookkeep(f, f_star, bound, least, hit, outside, crit, n, k, target, by_distance,
              next_rung):
    """Step ``k``'s bookkeeping over a block; returns whether any trial diverged at it, and
    whether any best gap reached the next rung of its COCO ladder (``next_rung``, or None
    without a ladder): both rare, and handled after this pass.

    A trial is alive while its gap is within its bound (a diverged trial's bound is -inf, so no
    status is read here; divergences are rare and recorded after). The best gap and the first
    hit are conditional stores (masked stores that need no load): the first hit of a gap target
    is the step at which the best gap first falls inside it. ``outside`` keeps the last step
    spent outside the target.
    """
    literally(by_distance)
    died = 0
    climbed = 0
    for i in range(n):
        gap = f[i] - f_star
        ok = gap <= bound[i]  # False for NaN
        best = least[i]
        if by_distance:
            inside = crit[i] <= target
            first = hit[i] < 0
        else:
            inside = gap <= target
            first = best > target
        if ok and gap < best:
            least[i] = gap
        if ok and inside and first:
            hit[i] = k
        # Written every step (not a conditional store: LLVM would merge it with hit's, the
        # opposite condition's, into a scatter).
        outside[i] = k if ok and not inside else outside[i]
        died |= (not ok) and bound[i] > -np.inf
        if next_rung is not None:
            climbed |= ok and gap <= next_rung[i]
    return died, climbed


#: Rungs a trial climbs without a branch in a step (more take a loop).
_CLIMB = 4


@njit(**_DISJOINT)
def _climb(ladder_hits, l0, n, least, rung, next_rung, rungs, n_rungs, k, climbers):
    """The trials of the block (rows ``l0 .. l0 + n`` of ``ladder_hits``) whose best gaps
    reached their next rungs at step ``k`` climb every rung at or above their best gaps.

    They are gathered into ``climbers`` first, eight at a time and without a branch (which
    trials climb is data: a branch per trial mispredicts). Each climbs one rung or two as a
    rule, so the first ``_CLIMB`` are written without a branch either: step ``k`` goes into all
    of them, clipped to the row; the entries past the rungs reached get their step when they
    are reached, or -1 again at the end of the block (:func:`_unclimb`). ``rungs`` is the
    ladder followed by ``_CLIMB`` times -inf. (Indices unsigned: numba then adds no wraparound
    of negative ones.)
    """
    m = 0
    for i0 in range(0, n - 7, 8):
        m = _compress_below(least, next_rung, i0, climbers, m)
    for i in range(n - n % 8, n):
        climbers[m] = i
        m += 1 if least[i] <= next_rung[i] else 0
    count, last, wide = np.uint64(n_rungs), np.uint64(n_rungs - 1), np.uint64(_CLIMB)
    for j in range(np.uint64(m)):
        i = np.uint64(climbers[j])
        t = np.uint64(l0) + i
        r, best = np.uint64(rung[i]), least[i]
        climbed = np.uint64(1)
        for c in range(_CLIMB):
            ladder_hits[t, min(r + np.uint64(c), last)] = k
            if c > 0:
                climbed += np.uint64(1) if rungs[r + np.uint64(c)] >= best else np.uint64(0)
        r += climbed
        if climbed == wide:
            while r < count and rungs[r] >= best:
                ladder_hits[t, r] = k
                r += np.uint64(1)
        rung[i] = r
        next_rung[i] = rungs[r]


@njit(**_DISJOINT)
def _unclimb(ladder_hits, l0, n, rung, n_rungs):
    """-1 again where :func:`_climb` wrote ahead of the rungs a trial reached: its last climb
    wrote at most ``_CLIMB - 1`` entries past them (each climb overwrites the previous one's)."""
    count, last = np.uint64(n_rungs), np.uint64(n_rungs - 1)
    for i in range(np.uint64(n)):
        r = np.uint64(rung[i])
        if r < count:
            for c in range(_CLIMB - 1):
                ladder_hits[np.uint64(l0) + i, min(r + np.uint64(c), last)] = -1


# ---------------------------------------------------------------------------------------------
# SGD on the 2-D paraboloid, strip by strip: a strip of ``LANES`` trials runs every step before
# the next strip starts.
#
# The passes over a block above move each trial's point, state and bookkeeping between the core
# and the cache at every step: some 20 loads and stores a trial-step, which bound SGD (a few
# multiply-adds a coordinate) at ~2.7 cycles a trial-step, where Adam's square root and division
# cost more than the traffic. A strip keeps its trials in arrays on the stack that LLVM turns
# into vector registers (the points and momentum buffers; the bookkeeping stays in the L1
# cache): 1e5 trials x 200 steps of SGD-momentum, one core, 12.3-14.5 -> 9.2-10.6 ms. A
# divergence is recorded in the lanes too (selects, no branch); the ladder's climbs, frequent
# under SGD (a trial-step in seven), would take the lanes out of the registers nearly every
# step, so the blocks that record the ladder (a run's first start points of each group, see
# runner.LADDER_START_POINTS) keep the block loops.

#: Trials a strip runs together: two AVX-512 vectors of float64 a quantity, two independent
#: chains of dependent updates per step.
LANES = 16
#: The dimension the strips are compiled for (the book's figures, and most sweeps' maps).
STRIP_DIM = 2


@intrinsic
def _lanes(typingctx, like, rows):
    """A ``(rows, LANES)`` array of ``like``'s type (an array's dtype, or a scalar's) on the
    stack of the function (``rows`` a literal): once every index is a constant, LLVM can keep it
    in registers."""
    if not isinstance(rows, types.IntegerLiteral):
        return None
    dtype = like.dtype if isinstance(like, types.Array) else like
    shape = (rows.literal_value, LANES)
    array_type = types.Array(dtype, 2, "C")

    def codegen(context, builder, signature, args):
        item = context.get_data_type(dtype)
        storage = cgutils.alloca_once(builder, ir.ArrayType(item, shape[0] * shape[1]))
        # On a cache line: whole vectors that do not straddle two (the stack's alignment
        # otherwise depends on the caller's, and a run could be twice as slow as the next).
        storage.align = 64
        intp = context.get_value_type(types.intp)
        size = context.get_abi_sizeof(item)
        array = context.make_array(array_type)(context, builder)
        context.populate_array(
            array, data=builder.bitcast(storage, item.as_pointer()),
            shape=[ir.Constant(intp, v) for v in shape],
            strides=[ir.Constant(intp, shape[1] * size), ir.Constant(intp, size)],
            itemsize=ir.Constant(intp, size), meminfo=None)
        return array._getvalue()

    return array_type(like, rows), codegen


def _lanes_of(array, rows):
    """:func:`_lanes` like ``array``, or None where ``array`` is None (an absent state)."""


@overload(_lanes_of, inline="always", prefer_literal=True)
def _lanes_of_compiled(array, rows):
    if isinstance(array, types.NoneType):
        return lambda array, rows: None
    return lambda array, rows: _lanes(array, rows)


#: Steps between a strip's checks for trials that are all diverged.
_DEAD_CHECK = 8


@njit(**_DISJOINT)
def _sgd_strips(x, buf, f, least, hit, outside, bound, died_at, last_gap, frozen, b0, n, steps,
                table, wd, row_setting, nesterov, maximize, fvec, target):
    """Steps 1..``steps`` of SGD on the block's ``n`` trials of a 2-D paraboloid (``f* = 0``, a
    gap target, none recording the ladder), ``LANES`` at a time: each step as
    :func:`_sgd_block` (the update, and the value summed as :func:`_value_term`),
    :func:`_bookkeep` and :func:`run_chunk` (a divergence) compute it, bit for bit.

    The block's arrays hold the state after step 0 and get it after the last step (a strip whose
    trials have all diverged stops, their outcomes final: checked every :data:`_DEAD_CHECK`
    steps). The last strip's lanes past ``n`` run trial ``n - 1`` again in the block's spare
    rows (the block size a multiple of ``LANES``), so that every strip loads and stores whole
    vectors.
    """
    literally(nesterov)
    literally(maximize)
    nesterov, maximize = _constant(nesterov), _constant(maximize)
    dims = STRIP_DIM
    # Every index of these is a constant once the loops over the lanes are unrolled, every lane
    # is written at every step (selects, not conditional stores) and the previous point is
    # kept as the new one is made (a copy loop after would become a memcpy): so the points and
    # momentum buffers stay in registers (LLVM still leaves the bookkeeping lanes on the stack,
    # in the L1 cache).
    point, momentum_buf = _lanes(x, dims), _lanes_of(buf, dims)
    value, best, limit = _lanes(0.0, 1), _lanes(0.0, 1), _lanes(0.0, 1)
    hits, outs, died = _lanes(np.int32(0), 1), _lanes(np.int32(0), 1), _lanes(np.int32(0), 1)
    frozen_point, frozen_gap = _lanes(x, dims), _lanes(0.0, 1)
    last_point, new_value = _lanes(x, dims), _lanes(0.0, 1)
    settings, decay = _lanes(0.0, 3), _lanes_of(wd, 1)  # lr, momentum, dampening; weight decay
    # The last strip's lanes past n: trial n - 1 again, in the block's spare rows.
    for i in range(n, min(-(-n // LANES) * LANES, x.shape[1])):
        for d in range(dims):
            x[d, i], frozen[d, i] = x[d, n - 1], frozen[d, n - 1]
            _store(buf, d, i, _entry(buf, d, n - 1))
        f[i], least[i], hit[i], outside[i] = f[n - 1], least[n - 1], hit[n - 1], outside[n - 1]
        bound[i], died_at[i], last_gap[i] = bound[n - 1], died_at[n - 1], last_gap[n - 1]
    for i0 in range(0, n, LANES):
        # Indices unsigned, so that numba adds no wraparound of negative ones and LLVM sees
        # consecutive lanes: whole vectors in and out (1e5 trials x 200 steps: 8.6 -> 7.8 ms).
        for j in range(LANES):
            i = np.uint64(i0) + np.uint64(j)
            for d in range(dims):
                point[d, j], frozen_point[d, j] = x[d, i], frozen[d, i]
                _store(momentum_buf, d, j, _entry(buf, d, i))
            value[0, j], best[0, j], hits[0, j], outs[0, j] = f[i], least[i], hit[i], outside[i]
            limit[0, j], died[0, j], frozen_gap[0, j] = bound[i], died_at[i], last_gap[i]
        # A strip of one setting (row_setting never decreases) reads it once for all lanes.
        first, last = row_setting[b0 + i0], row_setting[b0 + min(i0 + LANES - 1, n - 1)]
        for j in range(LANES):
            s = first if first == last else row_setting[b0 + min(i0 + j, n - 1)]
            for c in range(3):
                settings[c, j] = table[s, c]
            _store(decay, 0, j, _item(wd, s))
        for k_step in range(1, steps + 1):
            k, step = np.int32(k_step), float(k_step)
            for j in range(LANES):
                lr, momentum, dampening = settings[0, j], settings[1, j], settings[2, j]
                weight_decay = _entry(decay, 0, j)
                gap = -0.0
                for d in range(dims):
                    a = fvec[d]
                    x_new, b = _sgd_rule(point[d, j], _gradient(point, d, j, FUSE_PARABOLOID, a),
                                         _entry(momentum_buf, d, j), step, lr, momentum,
                                         dampening, weight_decay, nesterov, maximize)
                    _store(momentum_buf, d, j, b)
                    gap = gap + a * x_new * x_new  # the value, summed as _value_term's
                    last_point[d, j] = point[d, j]
                    point[d, j] = x_new
                new_value[0, j] = gap
            for j in range(LANES):
                gap = new_value[0, j]
                ok = gap <= limit[0, j]  # False for NaN
                was = best[0, j]
                inside = gap <= target
                best[0, j] = gap if ok and gap < was else was
                hits[0, j] = k if ok and inside and was > target else hits[0, j]
                outs[0, j] = k if ok and not inside else outs[0, j]
                # A trial that diverges is frozen at its last point while alive.
                dies = (not ok) and limit[0, j] > -np.inf
                died[0, j] = k if dies else died[0, j]
                frozen_gap[0, j] = value[0, j] if dies else frozen_gap[0, j]
                for d in range(dims):
                    frozen_point[d, j] = last_point[d, j] if dies else frozen_point[d, j]
                limit[0, j] = -np.inf if dies else limit[0, j]
                value[0, j] = gap
            if k_step % _DEAD_CHECK == 0:  # (not every step: a reduction over the lanes)
                dead = 0
                for j in range(LANES):
                    dead += limit[0, j] == -np.inf
                if dead == LANES:
                    break  # the strip's trials have all diverged (as run_chunk's blocks)
        for j in range(LANES):  # (lanes past n into the spare rows)
            i = np.uint64(i0) + np.uint64(j)
            for d in range(dims):
                x[d, i], frozen[d, i] = point[d, j], frozen_point[d, j]
                _store(buf, d, i, _entry(momentum_buf, d, j))
            f[i], least[i], hit[i], outside[i] = value[0, j], best[0, j], hits[0, j], outs[0, j]
            bound[i], died_at[i], last_gap[i] = limit[0, j], died[0, j], frozen_gap[0, j]


@njit(cache=True, **_JIT)
def run_chunk(adam, sgd, adagrad, rmsprop, adamax, lion, sign_descent, wd, s0, s1, s2, f0, f1,
              f2, f3, f4, x0, row_setting, fn, fvec, fscalar, f_star, minimizers, steps,
              by_distance, target, bound_is_gap, divergence, record_rows, points, gaps, block,
              strips, status, first_hit, settled, diverged_at, final_gap, best_gap,
              final_distance, ladder, ladder_rows, ladder_hits):
    """Run ``steps`` updates of every trial of ``x0 (T, D)``; fill the per-trial outputs.

    Mirrors :func:`optbench.runner.run_trials` step for step and :func:`optbench.runner.finish`
    at the end (see there for the definitions): ``status``, ``first_hit``, ``settled``,
    ``diverged_at``, ``final_gap``, ``best_gap`` and ``final_distance`` are written per trial;
    ``points``/``gaps`` per recorded row (``record_rows``,
    sorted). The optimizer arguments are those of :func:`_update`; ``s0..s2`` are ``(D, B)``
    buffers of ``block`` trials, the width of the blocks the chunk is cut into.
    ``ladder_hits (R, L)`` (or None) gets the first step with a best gap at or below each rung
    of the descending ``ladder`` of each of the trials ``ladder_rows (R,)`` (ascending). A block
    holds trials that all record the ladder or none that do: a block without runs the loops
    without it (and SGD on a 2-D paraboloid strip by strip).

    Per step and block: one pass that updates every coordinate (recomputing the gradient; on the
    paraboloid also summing the value), Rosenbrock's terms and their sum, and one pass over the
    trials for the bookkeeping. The point and value are double-buffered, so the previous ones are
    at hand when a trial diverges, without a copy per step. A block (or strip) whose trials have
    all diverged stops: their outcomes are final.
    """
    literally(f0)
    literally(f1)
    literally(f2)
    literally(f3)
    literally(f4)
    literally(by_distance)
    T, D = x0.shape
    B = block
    fused = FUSE_PARABOLOID if fn == PARABOLOID else FUSE_ROSENBROCK
    by_coordinate = D >= 8  # NumPy sums 8 terms or more pairwise: keep them, then sum
    n_terms = D if fn == PARABOLOID else D - 1
    x_own = np.empty((D, B), dtype=x0.dtype)  # float64, or float32 (the run's precision)
    x_in_own = np.empty((D, B), dtype=x0.dtype)
    terms_own = np.empty((max(n_terms, D), B))
    acc_own = np.empty((8, B))
    f_own = np.empty(B)
    f_in_own = np.empty(B)
    crit_own = np.empty(B)
    best_own = np.empty(B)
    bound_own = np.empty(B)
    runs_own = np.empty((B, 3), dtype=np.int64)
    # The block's bookkeeping: steps as 32-bit integers (half the memory traffic of the pass
    # over the trials that runs every step; budgets stay below 2^31 steps).
    hit_own = np.empty(B, dtype=np.int32)
    outside_own = np.empty(B, dtype=np.int32)
    died_at_own = np.empty(B, dtype=np.int32)
    least_own = np.empty(B)
    last_gap_own = np.empty(B)  # the gap where a diverged trial is frozen
    frozen_own = np.empty((D, B), dtype=x0.dtype)  # and the point
    rung_own = np.empty(B, dtype=np.int64)  # rungs of the ladder reached: a prefix of it
    next_rung_own = np.empty(B)  # the target of the next rung (-inf once all are reached)
    climbers_own = np.empty(B, dtype=np.int32)
    # The step loop works on borrowed views (see _unowned); the owners live to the end.
    x, x_in, terms, acc = _borrowed(x_own), _borrowed(x_in_own), _borrowed(terms_own), \
        _borrowed(acc_own)
    f, f_in, crit, best = _borrowed(f_own), _borrowed(f_in_own), _borrowed(crit_own), \
        _borrowed(best_own)
    bound, runs, hit, outside = _borrowed(bound_own), _borrowed(runs_own), _borrowed(hit_own), \
        _borrowed(outside_own)
    died_at, least, last_gap = _borrowed(died_at_own), _borrowed(least_own), \
        _borrowed(last_gap_own)
    frozen, rung, next_rung = _borrowed(frozen_own), _borrowed(rung_own), \
        _borrowed(next_rung_own)
    climbers = _borrowed(climbers_own)
    n_rungs = ladder.shape[0]
    rungs_own = np.full(n_rungs + _CLIMB, -np.inf)  # the ladder, padded for _climb
    rungs_own[:n_rungs] = ladder
    rungs = _borrowed(rungs_own)
    x0, row_setting, fvec, minimizers = _borrowed(x0), _borrowed(row_setting), \
        _borrowed(fvec), _borrowed(minimizers)
    record_rows, points, gaps = _borrowed(record_rows), _borrowed(points), _borrowed(gaps)
    status, first_hit, settled = _borrowed(status), _borrowed(first_hit), _borrowed(settled)
    diverged_at, final_gap, best_gap = _borrowed(diverged_at), _borrowed(final_gap), \
        _borrowed(best_gap)
    final_distance = _borrowed(final_distance)
    # The optimizer's arguments that may be None, under names of their own (numba prunes the
    # branches on the arguments themselves being None).
    state0, state1, state2 = _borrowed(s0), _borrowed(s1), _borrowed(s2)
    adam_table, sgd_table = _borrowed(adam), _borrowed(sgd)
    adagrad_table, rmsprop_table = _borrowed(adagrad), _borrowed(rmsprop)
    adamax_table, lion_table = _borrowed(adamax), _borrowed(lion)
    sign_descent_table = _borrowed(sign_descent)
    wd_column, ladder_steps = _borrowed(wd), _borrowed(ladder_hits)
    # The value's row of the paraboloid's update, for each buffer (not reshaped every step).
    f_row, f_in_row = f.reshape((1, B)), f_in.reshape((1, B))
    tiny = np.finfo(np.float64).tiny
    n_record = record_rows.shape[0]
    r_first = 0
    n_ladder = ladder_rows.shape[0] if ladder_hits is not None else 0
    next_ladder = 0  # index in ladder_rows of the next trial that records the ladder
    b0 = 0
    while b0 < T:
        # The block: up to B trials that all record the ladder, or none that do.
        l0 = next_ladder
        on_ladder = next_ladder < n_ladder and ladder_rows[next_ladder] == b0
        if on_ladder:
            n = 1
            while (n < B and b0 + n < T and l0 + n < n_ladder
                   and ladder_rows[l0 + n] == b0 + n):
                n += 1
            next_ladder += n
        else:
            n = min(B, T - b0)
            if next_ladder < n_ladder:
                n = min(n, ladder_rows[next_ladder] - b0)
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
        _value(fn, fvec, fscalar, x, n, f, terms, acc)
        if by_distance:
            _distance(x, n, minimizers, crit, terms, acc, best)
        for i in range(n):
            gap = f[i] - f_star
            ok = np.isfinite(f[i])
            inside = ok and (crit[i] if by_distance else gap) <= target
            died_at[i] = -1 if ok else 0
            hit[i] = 0 if inside else -1
            outside[i] = -1 if inside else 0
            least[i] = gap if ok else np.inf
            last_gap[i] = gap
            # A trial that starts inside a gap target is not diverged for moving within it.
            scale = target if not by_distance and gap < target else gap
            scale = max(scale, tiny)  # NaN stays NaN, as np.maximum
            # A diverged trial's bound: no gap is within it again.
            bound[i] = (divergence if bound_is_gap else divergence * scale) if ok else -np.inf
        # (Loops of their own, over contiguous rows: the one above vectorizes.)
        for d in range(D):
            for i in range(n):
                frozen[d, i] = x[d, i]
        alive = 0  # the block's trials not diverged
        for i in range(n):
            alive += bound[i] > -np.inf
        if ladder_hits is not None and on_ladder:  # the rungs reached at the start
            for i in range(n):
                rung[i] = 0
                next_rung[i] = rungs[0]
            ladder_hits[l0:l0 + n, :] = -1
            _climb(ladder_steps, l0, n, least, rung, next_rung, rungs, n_rungs, np.int32(0),
                   climbers)
        for r in range(r_first, r_last):
            i = record_rows[r] - b0
            for d in range(D):
                points[r, 0, d] = x[d, i]
            gaps[r, 0] = f[i] - f_star
        # SGD on a 2-D paraboloid (strips, as run_trials decides): strip by strip, where the
        # block records neither the ladder nor a path.
        last_step = steps
        if sgd is not None and not on_ladder and strips and r_first == r_last:
            _sgd_strips(x, state0, f, least, hit, outside, bound, died_at, last_gap, frozen, b0,
                        n, steps, sgd_table, wd_column, row_setting, f0, f1, fvec, target)
            last_step = 0
        for k_step in range(1, last_step + 1):
            k = np.int32(k_step)
            x, x_in = x_in, x
            f, f_in = f_in, f
            f_row, f_in_row = f_in_row, f_row
            if fused == FUSE_PARABOLOID:
                value = terms if by_coordinate else f_row
                _update(x, x_in, state0, state1, state2, runs, n_runs, float(k), adam_table,
                        sgd_table, adagrad_table, rmsprop_table, adamax_table, lion_table,
                        sign_descent_table, wd_column, f0, f1, f2, f3, f4, FUSE_PARABOLOID,
                        fvec, value, by_coordinate)
                if by_coordinate:
                    _pairwise_sum(terms, 0, D, n, f, acc)
            else:
                _update(x, x_in, state0, state1, state2, runs, n_runs, float(k), adam_table,
                        sgd_table, adagrad_table, rmsprop_table, adamax_table, lion_table,
                        sign_descent_table, wd_column, f0, f1, f2, f3, f4, FUSE_ROSENBROCK,
                        fvec, terms, True)
                _rosenbrock_terms(x, n, terms)
                _pairwise_sum(terms, 0, D - 1, n, f, acc)
            if by_distance:
                _distance(x, n, minimizers, crit, terms, acc, best)
            if ladder_hits is not None and on_ladder:
                died, climbed = _bookkeep(f, f_star, bound, least, hit, outside, crit, n, k,
                                          target, by_distance, next_rung)
                if climbed:
                    _climb(ladder_steps, l0, n, least, rung, next_rung, rungs, n_rungs, k,
                           climbers)
            else:
                died, climbed = _bookkeep(f, f_star, bound, least, hit, outside, crit, n, k,
                                          target, by_distance, None)
            if died:
                # A diverged trial is frozen at its last point while alive: the previous one.
                for i in range(n):
                    if bound[i] > -np.inf and not f[i] - f_star <= bound[i]:
                        died_at[i] = k
                        bound[i] = -np.inf
                        last_gap[i] = f_in[i] - f_star
                        for d in range(D):
                            frozen[d, i] = x_in[d, i]
                        alive -= 1
            for r in range(r_first, r_last):
                i = record_rows[r] - b0
                if died_at[i] < 0 or died_at[i] == k:
                    for d in range(D):
                        points[r, k, d] = x[d, i]
                    gaps[r, k] = f[i] - f_star
            if alive == 0:
                # Every trial of the block has diverged: their outcomes are final (each is
                # frozen, and the paths are NaN from here), so the steps left are skipped.
                break
        if ladder_hits is not None and on_ladder:  # _climb's writes ahead of the rungs reached
            _unclimb(ladder_steps, l0, n, rung, n_rungs)
        # The trial's last point (where a diverged one is frozen), its distance to the nearest
        # minimiser, and the outcome (runner.finish).
        for d in range(D):
            for i in range(n):
                x[d, i] = frozen[d, i] if died_at[i] >= 0 else x[d, i]
        _distance(x, n, minimizers, crit, terms, acc, best)
        for i in range(n):
            t = b0 + i
            live = died_at[i] < 0
            gap = f[i] - f_star if live else last_gap[i]
            inside = live and (crit[i] if by_distance else gap) <= target
            status[t] = DIVERGED if not live else (CONVERGED if hit[i] >= 0 else UNFINISHED)
            first_hit[t] = hit[i]
            settled[t] = outside[i] + 1 if inside else -1
            diverged_at[t] = died_at[i]
            final_gap[t] = gap
            best_gap[t] = least[i]
            final_distance[t] = crit[i]
        r_first = r_last
        b0 += n
    _keep(x_own, x_in_own, terms_own, acc_own, f_own, f_in_own, crit_own, best_own, bound_own,
          runs_own, hit_own, outside_own, died_at_own, least_own, last_gap_own, frozen_own,
          rung_own, next_rung_own, climbers_own, rungs_own)

# ---------------------------------------------------------------------------------------------
# Python side: what the kernels cover, and the call.


@functools.cache
def _parameters_of(factory) -> inspect.Signature:
    """A factory's signature, read once (``inspect.signature`` costs ~5 us a call)."""
    return inspect.signature(factory)


def function_code(entry_function: str, params: dict):
    """``(code, vector, scalar)`` of a registered function the kernels evaluate, else None."""
    if entry_function not in ("paraboloid", "rosenbrock"):
        return None
    if entry_function == "rosenbrock":
        return ROSENBROCK, _NO_VECTOR, 0.0
    a = params.get("a")
    if a is None or not params.keys() <= {"a", "c"}:
        # Defaults, or arguments the factory would refuse: as the factory binds them.
        bound = _parameters_of(_functions.FUNCTIONS[entry_function].factory).bind(**params)
        bound.apply_defaults()
        a = bound.arguments["a"]
    # Evaluated without its offset c, against f* - c = 0: the exact gap sum(a x^2) that
    # Objective.exact_gap_and_grad gives the NumPy loop.
    return PARABOLOID, np.asarray(a, dtype=np.float64), 0.0


_NO_VECTOR = np.zeros(1)
_NO_ROWS = np.zeros(0, dtype=np.int64)


def supports(function: str, params: dict, optimizer: str) -> bool:
    """Whether a chunk of this function and optimizer runs in a compiled kernel."""
    return ((optimizer in COLUMNS or optimizer in ALIASES)
            and function_code(function, params) is not None)


def _kernel_of(optimizer: str, options: dict) -> tuple[str, dict]:
    """The kernel that runs ``optimizer`` and its options there: an alias's own, with its
    factory's defaults (AdamW's weight decay 1e-2, not Adam's 0), and those it fixes."""
    if optimizer not in ALIASES:
        return optimizer, options
    kernel, fixed = ALIASES[optimizer]
    own = {name: options.get(name, hyper.default)
           for name, hyper in _opt.OPTIMIZERS[optimizer].hyperparameters.items()}
    return kernel, {**own, **fixed}


def block_size(dim: int) -> int:
    """Trials per cache block: up to 16384 coordinates, so that the block's state stays in L2
    (4096 trials at most: longer blocks gain nothing)."""
    return int(max(8, min(4096, 16384 // dim)))


def uses_strips(optimizer: str, code: int, dim: int, target_kind: str) -> bool:
    """Whether :func:`run_trials` runs these trials strip by strip (:func:`_sgd_strips`): SGD
    on a 2-D paraboloid (``code``, :func:`function_code`'s) and a gap target; the blocks that
    record the ladder or a path keep the block loops."""
    return (optimizer == "sgd" and code == PARABOLOID and dim == STRIP_DIM
            and target_kind == "gap" and block_size(dim) % LANES == 0)


def _settings(optimizer: str, names: tuple, hyperparameters: dict, group_ids: np.ndarray):
    """Per-setting table ``(S, len(names))`` of hyperparameters, where a setting is a run of
    consecutive rows with the same group, and each row's setting ``(T,)``.

    (A chunk's rows are a run per group, most often one: that case takes no pass over the rows.)
    """
    T = len(group_ids)
    one = T > 0 and group_ids[0] == group_ids[-1] and not (group_ids != group_ids[0]).any()
    if one:
        starts, row_setting = None, np.zeros(T, dtype=np.int64)
    else:
        changes = np.empty(T, dtype=bool)
        changes[:1] = True
        np.not_equal(group_ids[1:], group_ids[:-1], out=changes[1:])
        starts = np.flatnonzero(changes)
        row_setting = np.cumsum(changes, dtype=np.int64) - 1
    spec = _opt.OPTIMIZERS[optimizer]
    table = np.empty((1 if one else len(starts), len(names)))
    for c, column in enumerate(names):
        name, _, index = column.partition("[")
        value = hyperparameters.get(name, spec.hyperparameters[name].default)
        if index:
            value = value[int(index[:-1])]
        if isinstance(value, np.ndarray) and value.ndim:
            table[:, c] = value[0] if one else value[starts]
        else:
            table[:, c] = value
    return table, row_setting


def _flag(name: str, options: dict, spec) -> bool:
    if name == "first_gradient":
        return options.get("state_init", spec.hyperparameters["state_init"].default) == name
    return bool(options.get(name, spec.hyperparameters[name].default))


_ENTRY_POINTS: dict = {}


_PARAMETERS = list(inspect.signature(run_chunk.py_func).parameters)
_BY_DISTANCE = _PARAMETERS.index("by_distance")
#: The kernels' hyperparameter tables: run_chunk's arguments before ``wd``, one per COLUMNS key.
_TABLES = tuple(_PARAMETERS[:_PARAMETERS.index("wd")])
_X0 = _PARAMETERS.index("x0")
#: The arguments run_chunk forces to literals (``literally``): its compile-time options.
_LITERALS = frozenset(_PARAMETERS.index(name) for name in ("f0", "f1", "f2", "f3", "f4",
                                                            "by_distance"))


# ---------------------------------------------------------------------------------------------
# Compiling in a process of its own. numba compiles the functions run_chunk calls (_adam_block,
# _bookkeep, ...) as libraries of their own first and adds them to the process's JIT engine;
# run_chunk's library then carries its own copies, optimized together with it, but its calls
# bind to the symbols the engine already has: the callees' stand-alone code, which LLVM
# optimizes less well (float32 Adam's update on Rosenbrock stayed scalar: 135-141 ms against
# 27-29 ms for 2x10^4 trials x 20 steps). Loaded from the disk cache by a process that compiled
# nothing, run_chunk runs its own copies. So a variant that is not in the cache is compiled by a
# child process, and this one loads it; LLVM's compile memory stays in the child too (it peaks
# at 0.28 GiB). The child serves the compiles that follow within COMPILER_IDLE_SECONDS (the
# callees it has compiled serve the next variant: a second variant compiles in about half the
# time of the first), then exits: within a second a run's own memory grows (10^7 trials: 0.19 ->
# 0.8 GiB in 2.5 s), and the two should not add up.

#: Seconds the compiling process waits for another signature before it exits.
COMPILER_IDLE_SECONDS = 1.0


def _signature(args: tuple) -> tuple:
    """run_chunk's numba signature for ``args``, as its dispatcher compiles it (the options
    literal)."""
    return tuple(types.literal(a) if i in _LITERALS else run_chunk.typeof_pyval(a)
                 for i, a in enumerate(args))


def _in_disk_cache(signature: tuple) -> bool | None:
    """Whether numba's disk cache holds run_chunk for ``signature``; None where it cannot tell
    (no cache, or a numba whose cache internals moved)."""
    try:
        cache = run_chunk._cache
        run_chunk.targetctx.refresh()
        key = cache._index_key(signature, run_chunk.targetctx.codegen())
        return key in cache._cache_file._load_index()
    except (AttributeError, OSError, TypeError):  # pragma: no cover - numba's internals moved
        return None


def serve_compiles(idle_seconds: float = COMPILER_IDLE_SECONDS) -> None:
    """The compiling process's loop: compile run_chunk for each pickled signature read from
    stdin (numba writes it to the disk cache) and answer one line, ``ok`` or the error; exit at
    the end of stdin or after ``idle_seconds`` without a signature."""
    import select

    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while select.select([stdin], [], [], idle_seconds)[0]:
        try:
            signature = pickle.load(stdin)
        except EOFError:
            return
        try:
            run_chunk.compile(signature)
            answer = "ok"
        except Exception as error:  # noqa: BLE001 - reported to the parent, which goes on
            answer = " ".join(f"{type(error).__name__}: {error}".split())
        stdout.write(answer.encode() + b"\n")
        stdout.flush()


_COMPILING = threading.Lock()
_compiler: dict = {}  # this process's compiling child: {"pid": os.getpid(), "process": Popen}


def _compiling_process() -> subprocess.Popen:
    """This process's compiling child, started if there is none (a forked worker starts its
    own: the pipes it inherited are its parent's)."""
    if _compiler.get("pid") != os.getpid() or _compiler["process"].poll() is not None:
        # This optbench, whichever the working directory holds (python -c puts it first).
        package_root = str(Path(__file__).resolve().parent.parent)
        script = (f"import sys; sys.path.insert(0, {package_root!r}); "
                  f"from optbench.kernels import serve_compiles; "
                  f"serve_compiles({COMPILER_IDLE_SECONDS!r})")
        process = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        # Reaped as soon as it exits, not left a zombie to the end of the run.
        threading.Thread(target=process.wait, daemon=True).start()
        _compiler.update(pid=os.getpid(), process=process)
    return _compiler["process"]


def _compile_in_child(signature: tuple) -> bool:
    """Compile run_chunk for ``signature`` in the compiling child, into the disk cache; whether
    it is there now."""
    for _ in range(2):  # a child that has just timed out reads nothing: start another
        try:
            child = _compiling_process()
            pickle.dump(signature, child.stdin)
            child.stdin.flush()
            answer = child.stdout.readline()
        except OSError:  # no interpreter to start, or a child gone
            answer = b""
        if answer:
            return answer == b"ok\n" and bool(_in_disk_cache(signature))
        _compiler.clear()
    return False


def ensure_in_disk_cache(args: tuple) -> bool:
    """Make sure the disk cache holds run_chunk for ``args``, compiling it in a child process
    if it does not; whether it does. Where it cannot (no writable cache, no interpreter to
    start), run_chunk compiles in this process on its first call, as numba does."""
    signature = _signature(args)
    with _COMPILING:
        cached = _in_disk_cache(signature)
        if cached is None:
            return False
        return cached or _compile_in_child(signature)


def _compiled(tables, wd, states, flags, ladder_hits, by_distance, dtype):
    """The compiled :func:`run_chunk` for this combination of options, called directly.

    Calling the dispatcher with literal-typed options re-runs numba's type inference on every
    call before it finds the literal specialization (a fraction of a second each time); the
    specialization's entry point, looked up once per process, skips that.
    """
    nones = tuple(v is None for v in (*tables, wd, *states)) + (ladder_hits is None,)
    numba_dtype = numba.from_dtype(dtype)
    key = (nones, tuple(flags), by_distance, dtype)
    entry = _ENTRY_POINTS.get(key)
    if entry is not None:
        return entry

    def call(*args):
        ensure_in_disk_cache(args)
        run_chunk(*args)
        first_flag = len(nones) - 1
        for sig, compiled in run_chunk.overloads.items():
            literal = sig[first_flag:first_flag + 5]
            if (tuple(isinstance(t, types.NoneType) for t in sig[:first_flag]) == nones[:-1]
                    and isinstance(sig[-1], types.NoneType) == nones[-1]
                    and all(getattr(t, "literal_value", None) is f for t, f in zip(literal, flags))
                    and getattr(sig[_BY_DISTANCE], "literal_value", None) is by_distance
                    and sig[_X0].dtype == numba_dtype):
                _ENTRY_POINTS[key] = compiled.entry_point
                break

    return call


def run_trials(function: str, params: dict, objective, optimizer: str, options: dict,
               x0: np.ndarray, group_ids: np.ndarray, steps: int, *, target_kind: str,
               target: float, divergence_kind: str, divergence: float,
               record_rows: np.ndarray, ladder: np.ndarray | None = None,
               ladder_rows: np.ndarray | None = None, out: dict | None = None,
               precision: str = "float64", strips: bool = True,
               ) -> tuple[dict, np.ndarray, np.ndarray]:
    """The compiled counterpart of the loop of :func:`optbench.runner.run_trials`.

    ``options`` holds the optimizer's arguments for these rows, as ``Batch.take`` gives them
    (checked by the factory beforehand); ``group_ids`` tells which rows share them. Returns the
    per-trial outcomes as :func:`optbench.runner.run_trials` does (``status``, ``first_hit``,
    ``settled``, ``diverged_at``, ``final_gap``, ``best_gap``, ``final_distance``, and
    ``ladder_hits (R, L)`` when a descending ``ladder`` of targets is given, else None: of the
    rows ``ladder_rows (R,)``, ascending, by default every row) and the recorded ``points``,
    ``gaps``. ``out`` may give the arrays to fill (the run's own, so that
    outcomes are written once, in place). ``precision`` (``float64`` or ``float32``) is the type
    of the points and states, as the NumPy loop's. ``strips`` False keeps SGD on the 2-D
    paraboloid in the block loops (:func:`uses_strips`), for comparison: the results are the
    same, bit for bit.
    """
    optimizer, options = _kernel_of(optimizer, options)
    spec = _opt.OPTIMIZERS[optimizer]
    code, fvec, fscalar = function_code(function, params)
    T, D = x0.shape
    decays = "weight_decay" in spec.hyperparameters  # (sign descent has none)
    table, row_setting = _settings(
        optimizer, COLUMNS[optimizer] + (("weight_decay",) if decays else ()), options, group_ids)
    wd = table[:, -1].copy() if decays and (table[:, -1] != 0).any() else None
    table = np.ascontiguousarray(table[:, :-1] if decays else table)
    flags = {name: _flag(name, options, spec) for name in FLAGS[optimizer]}
    # A small chunk's blocks are no wider than it: their state is zeroed block by block.
    B = min(block_size(D), max(LANES, -(-T // LANES) * LANES))
    dtype = np.dtype(precision)
    strips = strips and uses_strips(optimizer, code, D, target_kind)

    def buffer(wanted=True):
        return np.zeros((D, B), dtype=dtype) if wanted else None

    if optimizer == "sgd":
        has_buf = bool((table[:, 1] != 0).any())
        # As the factory: a buffer with momentum 0 and no dampening is torch's buffer-less step.
        table[:, 2] = np.where(table[:, 1] == 0, 0.0, table[:, 2])
        states = (buffer(has_buf), None, None)
    elif optimizer == "adagrad":
        states = (buffer(), None, None)
    elif optimizer == "rmsprop":
        states = (buffer(), buffer(flags["centered"]), buffer(bool(np.any(table[:, 3] != 0))))
    elif optimizer == "adam":
        states = (buffer(), buffer(), buffer(flags["amsgrad"]))
    elif optimizer == "adamax":  # exp_avg, exp_inf
        states = (buffer(), buffer(), None)
    elif optimizer == "lion":  # exp_avg
        states = (buffer(), None, None)
    else:  # sign descent keeps no state
        states = (None, None, None)
    tables = [table if name == optimizer else None for name in _TABLES]
    flag_values = list(flags.values()) + [False] * (5 - len(flags))
    record_rows = np.asarray(record_rows, dtype=np.int64)
    out = out if out is not None else {
        "status": np.empty(T, dtype=np.int8),
        "first_hit": np.empty(T, dtype=np.int64),
        "settled": np.empty(T, dtype=np.int64),
        "diverged_at": np.empty(T, dtype=np.int64),
        "final_gap": np.empty(T),
        "best_gap": np.empty(T),
        "final_distance": np.empty(T),
        "ladder_hits": None if ladder is None else np.empty(
            (T if ladder_rows is None else len(ladder_rows), len(ladder)), dtype=np.int32),
    }
    if ladder is None:
        ladder, ladder_rows = np.zeros(0), _NO_ROWS
    else:
        ladder = np.ascontiguousarray(ladder, dtype=np.float64)
        ladder_rows = (np.arange(T, dtype=np.int64) if ladder_rows is None
                       else np.ascontiguousarray(ladder_rows, dtype=np.int64))
    points = np.full((len(record_rows), steps + 1, D), np.nan)
    gaps = np.full((len(record_rows), steps + 1), np.nan)
    if T:
        by_distance = target_kind == "distance"
        _compiled(tables, wd, states, flag_values, out["ladder_hits"], by_distance, dtype)(
            *tables, wd, *states, *flag_values, np.ascontiguousarray(x0, dtype=dtype),
            row_setting, code, fvec if code == PARABOLOID else np.zeros(D), fscalar,
            0.0 if code == PARABOLOID else float(objective.f_star),
            np.ascontiguousarray(objective.minimizers, dtype=np.float64), int(steps),
            by_distance, float(target), divergence_kind == "gap", float(divergence),
            record_rows, points, gaps, B, strips, out["status"], out["first_hit"],
            out["settled"], out["diverged_at"], out["final_gap"], out["best_gap"],
            out["final_distance"], ladder, ladder_rows, out["ladder_hits"],
        )
    return out, points, gaps


__all__ = ["block_size", "run_trials", "supports", "uses_strips"]
