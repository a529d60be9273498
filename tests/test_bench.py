"""The speed benchmark's variants do the same work as optbench (benchmarks/bench_speed.py).

Each variant of the benchmark is run on a few trials of each case, and the step at which each
trial first reaches the target must be optbench's (to the rounding of the variant's own
arithmetic): a variant that skipped work, or ran other trials, would be compared unfairly.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
TRIALS = 256


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_speed",
                                                  ROOT / "benchmarks" / "bench_speed.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CASES = [(function, optimizer) for function in ("paraboloid-2d", "rosenbrock-100d")
         for optimizer in ("sgd-momentum", "adam")]


def optbench_first_hits(bench, function, optimizer, trials):
    seconds, out = bench.time_optbench(function, optimizer, trials, bench.STEPS[function],
                                       engine="numpy", workers=1)
    assert seconds > 0
    return out.outcomes.first_hit


def check(bench, function, hits, reference):
    assert hits.shape == (len(hits),) and len(hits) <= len(reference)
    assert bench.same_first_hits(hits, reference) >= 0.97
    if function == "paraboloid-2d":  # the target is reached there, at steps to compare
        assert (reference[:len(hits)] > 0).any()


@pytest.mark.parametrize("function,optimizer", CASES)
def test_torch_variants_reach_the_target_when_optbench_does(bench, function, optimizer):
    pytest.importorskip("torch")
    reference = optbench_first_hits(bench, function, optimizer, TRIALS)
    seconds, hits = bench.time_torch_batched(function, optimizer, TRIALS, bench.STEPS[function])
    assert seconds > 0
    check(bench, function, hits, reference)
    seconds, hits = bench.time_torch_per_trial(function, optimizer, 40, bench.STEPS[function])
    check(bench, function, hits, reference)


JAX_HITS = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("bench_speed", sys.argv[1])
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)
function, optimizer, trials = sys.argv[2], sys.argv[3], int(sys.argv[4])
out = []
for chunk in (None, 64):
    seconds, _, n, hits = bench.time_jax(function, optimizer, trials, bench.STEPS[function], chunk)
    out.append({"seconds": seconds, "n": n, "hits": hits.tolist()})
print(json.dumps(out))
"""


@pytest.mark.parametrize("function,optimizer", CASES)
def test_jax_variants_reach_the_target_when_optbench_does(bench, function, optimizer):
    pytest.importorskip("jax")
    pytest.importorskip("optax")
    reference = optbench_first_hits(bench, function, optimizer, TRIALS)
    # In a process of its own: JAX starts threads, and later tests fork worker processes.
    done = subprocess.run([sys.executable, "-c", JAX_HITS, str(ROOT / "benchmarks" /
                                                              "bench_speed.py"),
                           function, optimizer, str(TRIALS)],
                          capture_output=True, text=True, check=True, cwd=ROOT)
    for variant in json.loads(done.stdout.strip().splitlines()[-1]):
        assert variant["seconds"] > 0 and variant["n"] == TRIALS
        check(bench, function, np.array(variant["hits"]), reference)


def test_same_first_hits_counts_agreement(bench):
    reference = np.array([3, -1, 7, 7])
    assert bench.same_first_hits(np.array([3, -1, 8]), reference) == pytest.approx(2 / 3)
    assert bench.same_first_hits(np.array([3, -5]), reference) == 1.0  # any negative: none


def test_optbench_without_the_ladder_does_the_same_work(bench):
    from optbench import runner

    cap = runner.LADDER_MAX_TRIALS
    _, with_ladder = bench.time_optbench("paraboloid-2d", "adam", TRIALS, 50, engine="numpy",
                                         workers=1)
    _, without = bench.time_optbench("paraboloid-2d", "adam", TRIALS, 50, engine="numpy",
                                     workers=1, ladder=False)
    assert with_ladder.outcomes.ladder_hits is not None and without.outcomes.ladder_hits is None
    np.testing.assert_array_equal(without.outcomes.first_hit, with_ladder.outcomes.first_hit)
    assert runner.LADDER_MAX_TRIALS == cap  # restored for the runs after it


def test_optbench_is_timed_with_and_without_the_ladder_in_turn(bench):
    from optbench import runner

    cap = runner.LADDER_MAX_TRIALS
    timed = bench.time_in_turn({
        "with": bench.optbench_call("paraboloid-2d", "sgd-momentum", 64, 20),
        "without": bench.optbench_call("paraboloid-2d", "sgd-momentum", 64, 20, ladder=False)})
    (seconds, with_ladder), (bare, without) = timed["with"], timed["without"]
    assert seconds > 0 and bare > 0
    assert with_ladder.outcomes.ladder_hits is not None and without.outcomes.ladder_hits is None
    np.testing.assert_array_equal(without.outcomes.first_hit, with_ladder.outcomes.first_hit)
    assert runner.LADDER_MAX_TRIALS == cap


def test_time_in_turn_alternates_the_calls_and_keeps_each_ones_fastest(bench, monkeypatch):
    clock = iter(np.arange(0.0, 100.0, 0.25))  # every perf_counter() a quarter second on
    monkeypatch.setattr(bench.time, "perf_counter", lambda: next(clock))
    order = []

    def call(label):
        def run():
            order.append(label)
            if label == "b" and order.count("b") == 2:  # b's second run takes three ticks
                next(clock), next(clock)
            return len(order)
        return run

    timed = bench.time_in_turn({"a": call("a"), "b": call("b")}, repeats=2)
    # Two rounds fill 1.5 s of the 0.3 s wanted: two rounds, a and b in turn.
    assert order == ["a", "b", "a", "b"]
    assert timed == {"a": (0.25, 3), "b": (0.25, 4)}
