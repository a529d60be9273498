"""Helpers shared by the trajectory tests: run an optimizer by hand and compare paths."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

#: Steps on either side of a point over which a coordinate's size is taken (see below).
ENVELOPE_WINDOW = 10


def run_path(objective, optimizer, x0, steps: int, dtype=np.float64) -> np.ndarray:
    """Apply ``steps`` updates from ``x0 (T, D)``; return every point, shape ``(T, steps + 1, D)``.

    The same loop as the runner's, without its bookkeeping: step ``k`` applies the ``k``-th update
    at the gradient of ``x_{k-1}``. The points are in ``dtype``; the gradient is computed in
    float64 at the point (converted exactly) and rounded to ``dtype``, as optbench does. Every
    point the optimizer returns must keep ``dtype``: an optimizer that widens a float32 point to
    float64 fails here.
    """
    dtype = np.dtype(dtype)
    x = np.array(x0, dtype=dtype)
    state = optimizer.init(x)
    points = [x]
    for k in range(1, steps + 1):
        _, grad = objective.value_and_grad(x.astype(np.float64, copy=False))
        x, state = optimizer.update(x, grad.astype(dtype, copy=False), state, k)
        assert x.dtype == dtype, f"step {k}: the optimizer returned {x.dtype} points, not {dtype}"
        points.append(x)
    return np.stack(points, axis=1)


def envelope(path: np.ndarray, window: int = ENVELOPE_WINDOW) -> np.ndarray:
    """Each coordinate's largest magnitude within ``window`` steps of each step; shape of ``path``.

    ``path`` is ``(K + 1, D)``: the steps run along axis 0.
    """
    padded = np.pad(np.abs(path), ((window, window), (0, 0)), mode="edge")
    return sliding_window_view(padded, 2 * window + 1, axis=0).max(axis=-1)


def assert_path_close(actual: np.ndarray, desired: np.ndarray, rtol: float = 1e-12,
                      label: str = "") -> None:
    """Assert two ``(K + 1, D)`` paths agree to ``rtol`` relative to their local size.

    Each coordinate's difference at step ``k`` is measured against that coordinate's largest
    magnitude over steps ``k - 10 .. k + 10`` of ``desired``. A path that spirals into its
    minimum passes a coordinate near zero now and then; last-bit differences (torch's sqrt) move
    the crossing by a last-bit phase shift, which is large relative to the tiny value at the
    crossing but not relative to the spiral. Away from crossings this is plain relative error.
    """
    assert actual.shape == desired.shape, (actual.shape, desired.shape)
    assert np.all(np.isfinite(desired)), f"{label}: reference path not finite"
    assert np.all(np.isfinite(actual)), f"{label}: path not finite"
    scale = envelope(desired)
    scale = np.where(scale > 0, scale, 1.0)  # both exactly 0 there, or the check fails anyway
    error = np.abs(actual - desired) / scale
    worst = np.unravel_index(np.argmax(error), error.shape)
    assert error[worst] <= rtol, (
        f"{label}: step {worst[0]}, coordinate {worst[1]}: {actual[worst]!r} vs {desired[worst]!r}"
        f" (relative error {error[worst]:.2e} > {rtol:g})"
    )
