"""Gradient noise: a counter-based generator, reproducible and independent of batching."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from optbench import noise
from optbench.cli import cli
from optbench.config import loads
from optbench.functions import make_function
from optbench.optimizers import sgd
from optbench.runner import TrialOutcomes, run, run_trials

MASK = (1 << 64) - 1


def splitmix64_reference(z: int) -> int:
    """SplitMix64's finaliser on Python integers (Steele, Lea & Flood 2014)."""
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def test_mix64_is_splitmix64():
    # SplitMix64 seeded with 1234567 first outputs mix(1234567 + golden) = 6457827717110365317
    # (the reference sequence of Vigna's splitmix64.c).
    golden = 0x9E3779B97F4A7C15
    assert splitmix64_reference(1234567 + golden) == 6457827717110365317
    with np.errstate(over="ignore"):
        z = np.array([0, 1, 1234567 + golden, MASK, 0xDEADBEEF], dtype=np.uint64)
        got = noise.mix64(z)
    assert [int(v) for v in got] == [splitmix64_reference(int(v)) for v in z]


def test_scalar_arithmetic_equals_the_vectorized_draw():
    seed, function, step = 12345, 2, 17
    table = noise.standard_normal(seed, function, np.array([0, 5, 99]), step, 4)
    with np.errstate(over="ignore"):
        state = noise.absorb(noise.absorb(noise.mix64(np.uint64(seed)), np.uint64(function)),
                             np.uint64(step))
        for row, trial in enumerate([0, 5, 99]):
            for coordinate in range(4):
                key = noise.absorb(noise.absorb(state, np.uint64(trial)), np.uint64(coordinate))
                assert noise.standard_normal_from_key(key) == table[row, coordinate]


def test_same_key_same_noise_and_every_key_word_matters():
    trials = np.arange(50)
    base = noise.standard_normal(7, 1, trials, 3, 5)
    np.testing.assert_array_equal(base, noise.standard_normal(7, 1, trials, 3, 5))
    for other in [noise.standard_normal(8, 1, trials, 3, 5),
                  noise.standard_normal(7, 2, trials, 3, 5),
                  noise.standard_normal(7, 1, trials + 50, 3, 5),
                  noise.standard_normal(7, 1, trials, 4, 5)]:
        assert not np.any(other == base)
    # A trial's noise is the same whichever other trials are drawn with it, in any order.
    order = np.random.default_rng(0).permutation(50)
    np.testing.assert_array_equal(noise.standard_normal(7, 1, trials[order], 3, 5), base[order])
    np.testing.assert_array_equal(noise.standard_normal(7, 1, trials[10:20], 3, 5), base[10:20])
    # More coordinates extend the row without changing the first ones.
    np.testing.assert_array_equal(noise.standard_normal(7, 1, trials, 3, 8)[:, :5], base)


def test_empirical_distribution_is_normal_with_the_given_sigma():
    stats = pytest.importorskip("scipy.stats")
    sigma = 0.3
    draws = noise.GradientNoise(sigma=sigma, seed=2024, function=0).sample(
        np.arange(20000), step=5, dim=50)
    n = draws.size  # 1e6
    # Mean within 5 standard errors, std within 5 standard errors of the sample std.
    assert abs(draws.mean()) < 5 * sigma / np.sqrt(n)
    assert abs(draws.std() - sigma) < 5 * sigma / np.sqrt(2 * n)
    assert stats.kstest(draws.ravel() / sigma, "norm").pvalue > 1e-3
    # Neighbouring coordinates, trials and steps are uncorrelated (|r| < 5 / sqrt(n)).
    later = noise.GradientNoise(sigma=sigma, seed=2024, function=0).sample(
        np.arange(20000), step=6, dim=50)
    for a, b in [(draws[:, :-1], draws[:, 1:]), (draws[:-1], draws[1:]), (draws, later)]:
        r = np.corrcoef(a.ravel(), b.ravel())[0, 1]
        assert abs(r) < 5 / np.sqrt(a.size)


# ---------------------------------------------------------------------------------------------
# In the runner


def run_noisy(x0, trial_ids, lr, sigma=0.5, seed=3, steps=60):
    objective = make_function("paraboloid", a=[0.2, 2.0])
    gradient_noise = noise.GradientNoise(sigma=sigma, seed=seed, function=1)
    rows = np.arange(len(x0))
    return run_trials(objective, sgd(lr=lr), x0, steps, target_kind="gap", target=1e-3,
                      divergence_kind="factor", divergence=1e6, record_rows=rows,
                      noise_keys=trial_ids, noise=gradient_noise)


def test_runner_adds_the_keyed_noise_to_each_gradient():
    # Reference: steepest descent written out one trial at a time, with the gradient at x_k
    # perturbed by sigma * xi(seed, function, trial, k) and f left exact.
    rng = np.random.default_rng(5)
    x0 = rng.uniform(-3, 3, size=(4, 2))
    ids = np.array([10, 11, 40, 41])
    lr, sigma, steps = 0.1, 0.5, 60
    _, points, gaps = run_noisy(x0, ids, np.full(4, lr), sigma=sigma, steps=steps)
    a = np.array([0.2, 2.0])
    for row, trial in enumerate(ids):
        x = x0[row].copy()
        for k in range(1, steps + 1):
            xi = noise.standard_normal(3, 1, np.array([trial]), k - 1, 2)[0]
            x = x - lr * (2 * a * x + sigma * xi)
            assert np.all(np.isfinite(points[row, k]))
            np.testing.assert_allclose(points[row, k], x, rtol=1e-12, atol=1e-14)
            np.testing.assert_allclose(gaps[row, k], np.sum(a * x * x), rtol=1e-12, atol=1e-14)


def test_batch_split_and_trial_order_do_not_change_any_trial():
    rng = np.random.default_rng(1)
    x0 = rng.uniform(-3, 3, size=(12, 2))
    lr = rng.uniform(0.05, 0.5, size=12)
    ids = np.arange(100, 112)
    whole, points, _ = run_noisy(x0, ids, lr)
    halves = [run_noisy(x0[s], ids[s], lr[s]) for s in (slice(0, 5), slice(5, 12))]
    order = rng.permutation(12)
    shuffled, shuffled_points, _ = run_noisy(x0[order], ids[order], lr[order])
    for name, values in whole.items():
        np.testing.assert_array_equal(np.concatenate([h[0][name] for h in halves]), values)
        np.testing.assert_array_equal(shuffled[name], values[order])
    np.testing.assert_array_equal(shuffled_points, points[order])


NOISY = """
name: noisy
seed: 4
steps: 200
target: {gap: 1.0e-2}
functions:
  - {label: bowl, function: paraboloid, a: [0.2, 2.0], start: {random: 8}, noise: 0.2}
  - {label: exact, function: paraboloid, a: [0.2, 2.0], start: [5.1, 2.3]}
optimizers:
  - {optimizer: sgd, lr: [0.05, 0.2, 0.4]}
  - {optimizer: adam, lr: 0.1}
"""


def test_runs_are_reproducible_from_the_seed():
    first = run(loads(NOISY)).outcomes
    again = run(loads(NOISY)).outcomes
    other = run(loads(NOISY, seed=5)).outcomes
    for name in first.FIELDS:
        np.testing.assert_array_equal(getattr(first, name), getattr(again, name))
    noisy = first.group < 4  # the bowl's groups come first
    assert not np.any(other.final_gap[noisy] == first.final_gap[noisy])


def test_noise_zero_is_no_noise_and_keeps_the_config_hash():
    plain = loads(NOISY.replace(", noise: 0.2", ""))
    zero = loads(NOISY.replace("noise: 0.2", "noise: 0"))
    assert plain.hash() == zero.hash()
    assert zero.functions[0].noise == 0.0
    np.testing.assert_array_equal(run(plain).outcomes.final_gap, run(zero).outcomes.final_gap)
    assert loads(NOISY).hash() != plain.hash()


@pytest.mark.parametrize("value, message", [
    ("-0.1", "functions[0].noise: must be >= 0, got -0.1"),
    (".nan", "functions[0].noise: must be a finite number, got nan"),
    ("lots", "functions[0].noise: must be a number, got 'lots'"),
])
def test_bad_noise_is_one_line_and_exit_2(tmp_path, value, message):
    path = tmp_path / "bad.yaml"
    path.write_text(NOISY.replace("noise: 0.2", f"noise: {value}"))
    result = CliRunner().invoke(cli, ["run", str(path), "--out", str(tmp_path / "results")])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: bad.yaml:7: ")
    assert message in lines[0]
    assert not (tmp_path / "results").exists()


def test_run_tables_name_the_noise_of_each_function(tmp_path):
    path = tmp_path / "noisy.yaml"
    path.write_text(NOISY)
    result = CliRunner().invoke(cli, ["run", str(path), "--out", str(tmp_path / "results")],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    captions = [line.strip() for line in result.output.splitlines() if line.startswith("paraboloid(")]
    assert len(captions) == 2
    assert "8 random starts · gradient noise σ = 0.2 · target" in captions[0]
    assert "gradient noise" not in captions[1]


NOISY_CONFIG = """
name: noisy
seed: 11
steps: 80
target: {gap: 1.0e-3}
functions:
  - label: bowl
    function: paraboloid
    a: [0.2, 2.0]
    noise: 0.3
    start: {random: 3, box: [[-3, 3], [-3, 3]], seed: 2}
optimizers:
"""
ENTRY_A = "  - {label: a, optimizer: sgd, lr: [0.1, 0.2]}\n"
ENTRY_B = "  - {label: b, optimizer: adam, lr: 0.05}\n"
ENTRY_C = "  - {label: c, optimizer: sgd, lr: 0.2}\n"


def _outcomes_by_group(yaml_text):
    output = run(loads(yaml_text, source="noisy.yaml"))
    outcomes = output.outcomes
    ladder_group = outcomes.group[outcomes.ladder_trials]
    rows = {}
    for group in output.plan.groups:
        mask = outcomes.group == group.id
        key = (group.optimizer_label, group.setting())
        rows[key] = {name: getattr(outcomes, name)[mask]
                     for name in TrialOutcomes.PER_TRIAL if name != "group"}
        rows[key]["ladder_hits"] = outcomes.ladder_hits[ladder_group == group.id]
    return rows


def test_noise_is_keyed_by_start_point_so_settings_share_it_whatever_the_entry_order():
    forward = _outcomes_by_group(NOISY_CONFIG + ENTRY_A + ENTRY_B + ENTRY_C)
    backward = _outcomes_by_group(NOISY_CONFIG + ENTRY_C + ENTRY_B + ENTRY_A)
    assert forward.keys() == backward.keys()
    for key, values in forward.items():
        for name, array in values.items():
            np.testing.assert_array_equal(backward[key][name], array, err_msg=f"{key} {name}")
    # The same setting in two entries meets the same noise from the same starts: equal results.
    for name, array in forward[("c", "-")].items():
        np.testing.assert_array_equal(forward[("a", "lr=0.2")][name], array, err_msg=name)
    # ... while the noise is really there: another seed changes the outcome.
    other = _outcomes_by_group((NOISY_CONFIG + ENTRY_C).replace("seed: 11", "seed: 12"))
    assert not np.array_equal(other[("c", "-")]["best_gap"], forward[("c", "-")]["best_gap"])
