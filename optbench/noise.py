r"""Reproducible Gaussian gradient noise from a counter-based generator.

A function entry with ``noise: SIGMA`` adds :math:`\xi \sim \mathcal N(0, \sigma^2)` to every
component of every gradient the optimizer sees (the value :math:`f` stays exact). Each
:math:`\xi` is a pure function of the key

    (run seed, function index, start point index, step, coordinate)

and of nothing else, so a trial's noise does not depend on how trials are batched, chunked,
ordered or spread over workers, and every optimizer and setting run from the same start meets
the same noise (common random numbers). The key words are absorbed one by one into a 64-bit state with
the SplitMix64 finaliser (Steele, Lea & Flood, "Fast splittable pseudorandom number
generators", OOPSLA 2014), two further finaliser rounds give two 53-bit uniforms, and the
Box–Muller transform (Box & Muller, Ann. Math. Statist. 29, 1958) turns them into a standard
normal:

.. math::  z = \sqrt{-2 \ln u_1}\, \cos(2\pi u_2), \qquad u_1, u_2 \in (0, 1)

The ``step`` of a gradient is the index ``k`` of the point :math:`x_k` it is evaluated at, so
the gradient that the ``k``-th update uses carries the noise of step ``k - 1``.

:func:`mix64`, :func:`absorb` and :func:`standard_normal_from_key` are plain ``uint64`` and
``float64`` arithmetic: they work on NumPy arrays and on scalars alike (and in a compiled
kernel). NumPy warns on wrap-around of ``uint64`` scalars, which is intended here, so the
array-level entry points run under ``np.errstate(over="ignore")``. This module imports NumPy
alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # 2^64 / golden ratio, SplitMix64's increment
_MUL1 = np.uint64(0xBF58476D1CE4E5B9)
_MUL2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_TWO = np.uint64(2)
_TWO_POW_M53 = 2.0 ** -53
_TWO_PI = 2.0 * np.pi
_WORD = 1 << 64


def mix64(z):
    """SplitMix64's finaliser: a bijection of ``uint64`` with full avalanche."""
    z = (z ^ (z >> _S30)) * _MUL1
    z = (z ^ (z >> _S27)) * _MUL2
    return z ^ (z >> _S31)


def absorb(state, word):
    """Fold one ``uint64`` key word into the hash state."""
    return mix64((state ^ word) + _GOLDEN)


def uniform_from_bits(z):
    """The top 53 bits of ``z`` as a float in the open interval (0, 1)."""
    return (np.float64(z >> _S11) + 0.5) * _TWO_POW_M53


def standard_normal_from_key(state):
    """One standard normal from a fully absorbed key state (Box–Muller, cosine branch)."""
    u1 = uniform_from_bits(mix64(state + _GOLDEN))
    u2 = uniform_from_bits(mix64(state + _TWO * _GOLDEN))
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(_TWO_PI * u2)


def _word(value: int) -> np.uint64:
    """A Python integer (possibly negative or large) as one ``uint64`` key word."""
    return np.uint64(int(value) % _WORD)


def standard_normal(seed: int, function: int, trial_ids, step: int, dim: int) -> np.ndarray:
    """Standard normals of shape ``(T, dim)`` for the trials ``trial_ids (T,)`` at ``step``.

    Entry ``[t, i]`` depends on ``(seed, function, trial_ids[t], step, i)`` alone.
    """
    trials = np.asarray(trial_ids, dtype=np.int64).astype(np.uint64)
    with np.errstate(over="ignore"):
        state = absorb(absorb(mix64(_word(seed)), _word(function)), _word(step))
        per_trial = absorb(state, trials)[:, None]
        per_coordinate = absorb(per_trial, np.arange(dim, dtype=np.uint64)[None, :])
        return standard_normal_from_key(per_coordinate)


@dataclass(frozen=True)
class GradientNoise:
    """Additive Gaussian gradient noise of one function entry of a run.

    Attributes:
      sigma: standard deviation :math:`\\sigma > 0` of each component.
      seed: the run's seed.
      function: index of the function entry in the config.
    """

    sigma: float
    seed: int
    function: int

    def sample(self, trial_ids: np.ndarray, step: int, dim: int) -> np.ndarray:
        """The ``(T, dim)`` noise added to the gradients at ``x_step`` of trials ``trial_ids``."""
        return self.sigma * standard_normal(self.seed, self.function, trial_ids, step, dim)
