"""The emulated fused multiply-add is exactly rounded: checked against rational arithmetic."""

from fractions import Fraction

import numpy as np
import pytest

from optbench.optimizers import fma, lerp


def exact_fma(a, b, c):
    """a * b + c in exact rational arithmetic, rounded once to the nearest double."""
    return np.array(
        [float(Fraction(x) * Fraction(y) + Fraction(z))
         for x, y, z in zip(a.ravel(), b.ravel(), c.ravel())]
    ).reshape(a.shape)


@pytest.mark.parametrize("seed", [0, 1])
def test_fma_is_correctly_rounded_including_cancellation(seed):
    rng = np.random.default_rng(seed)
    n = 20_000
    a = rng.normal(size=n) * 10.0 ** rng.integers(-40, 40, n)
    b = rng.normal(size=n) * 10.0 ** rng.integers(-40, 40, n)
    # Half the cases cancel almost completely, where the unfused a * b + c is far off.
    near = -a * b * (1 + rng.normal(size=n) * 1e-12)
    c = np.where(rng.random(n) < 0.5, near, rng.normal(size=n) * 10.0 ** rng.integers(-40, 40, n))
    got = fma(a, b, c)
    assert np.array_equal(got, exact_fma(a, b, c))
    # ... and it is not the unfused a * b + c, which differs in a good share of the cases.
    assert np.mean(got != a * b + c) > 0.1


def test_fma_broadcasts_scalars_and_per_trial_columns():
    x = np.arange(6.0).reshape(3, 2)
    lr = np.array([[0.1], [0.2], [0.3]])
    assert np.array_equal(fma(-lr, x, x), exact_fma(*np.broadcast_arrays(-lr, x, x)))
    assert float(fma(3.0, 0.1, 0.7)) == float(Fraction(3) * Fraction(0.1) + Fraction(0.7))


def test_fma_propagates_non_finite_values():
    with np.errstate(invalid="ignore"):
            out = fma(np.array([np.inf, 1.0, np.nan]), np.array([1.0, 1.0, 1.0]),
                  np.array([0.0, np.inf, 0.0]))
    assert not np.any(np.isfinite(out))


@pytest.mark.parametrize("weight", [0.1, 0.49, 0.5, 0.9, 1.0])
def test_lerp_is_torch_formula_with_one_rounding(weight):
    rng = np.random.default_rng(3)
    start, end = rng.normal(size=(2, 1000))
    if weight < 0.5:
        expected = [float(Fraction(s) + Fraction(weight) * Fraction(e - s))
                    for s, e in zip(start, end)]
    else:
        expected = [float(Fraction(e) - Fraction(e - s) * Fraction(1 - weight))
                    for s, e in zip(start, end)]
    assert np.array_equal(lerp(start, end, weight), expected)
    per_trial = np.full((1000, 1), weight)
    assert np.array_equal(lerp(start[:, None], end[:, None], per_trial)[:, 0], expected)


def round_to_float32(value: Fraction) -> np.float32:
    """``value`` rounded once to the nearest float32 (ties to even), from exact arithmetic."""
    guess = np.float32(float(value))  # may be off by one ulp: rounded twice
    candidates = [np.nextafter(guess, np.float32(-np.inf)), guess,
                  np.nextafter(guess, np.float32(np.inf))]
    distances = [abs(Fraction(float(c)) - value) for c in candidates]
    best = min(distances)
    ties = [c for c, d in zip(candidates, distances) if d == best]
    return min(ties, key=lambda c: int(np.array(c).view(np.int32)) & 1)


def test_float32_fma_is_correctly_rounded_in_float32():
    rng = np.random.default_rng(5)
    n = 20_000
    a = (rng.normal(size=n) * 10.0 ** rng.integers(-8, 8, n)).astype(np.float32)
    b = (rng.normal(size=n) * 10.0 ** rng.integers(-8, 8, n)).astype(np.float32)
    near = (-(a.astype(np.float64) * b) * (1 + rng.normal(size=n) * 1e-6)).astype(np.float32)
    c = np.where(rng.random(n) < 0.5, near,
                 (rng.normal(size=n) * 10.0 ** rng.integers(-8, 8, n)).astype(np.float32))
    got = fma(a, b, c)
    assert got.dtype == np.float32
    want = np.array([round_to_float32(Fraction(float(x)) * Fraction(float(y)) + Fraction(float(z)))
                     for x, y, z in zip(a, b, c)], dtype=np.float32)
    np.testing.assert_array_equal(got, want)


def test_float32_fma_does_not_round_twice():
    """a b + c = 1 + 2^-24 + 2^-70, just above the midpoint between 1 and 1 + 2^-23: binary64
    rounds it onto the midpoint, and float32 then to even (1.0); rounded once it is 1 + 2^-23."""
    a = np.float32(-(2.0**-24) * (1 + 2.0**-23))
    b = np.float32(1 - 2.0**-23)
    c = np.float32(1 + 2.0**-23)
    twice = np.float32(np.float64(a) * np.float64(b) + np.float64(c))
    assert twice == np.float32(1.0)
    assert fma(np.array([a]), np.array([b]), np.array([c]))[0] == c
