"""Cost of gradient noise and of expression functions, as ratios to the plain run.

    python3 scripts/bench_suite.py

Prints (best of 5 repeats each):
* the runner with ``noise`` against the same run without, on Rastrigin in 10-D, 4096 trials;
* one ``value_and_grad`` of an expression against the built-in function it spells out.
"""

from __future__ import annotations

import time

import numpy as np

from optbench.functions import make_function
from optbench.noise import GradientNoise
from optbench.optimizers import sgd
from optbench.runner import run_trials


def best_of(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    objective = make_function("rastrigin", dim=10)
    x0 = np.random.default_rng(0).uniform(-5, 5, (4096, 10))

    def run(noise):
        return lambda: run_trials(
            objective, sgd(lr=1e-3), x0, 200, target_kind="gap", target=1e-6,
            divergence_kind="factor", divergence=1e6, record_rows=np.zeros(0, dtype=np.int64),
            noise=noise)

    plain = best_of(run(None))
    noisy = best_of(run(GradientNoise(sigma=0.1, seed=0, function=0)))
    print(f"runner, 4096 trials x 10-D x 200 steps: noise / no noise = {noisy / plain:.2f}")

    text = "20 + x1**2 - 10*cos(2*pi*x1) + x2**2 - 10*cos(2*pi*x2)"
    expression = make_function("expression", expression=text, minimizers=[[0, 0]], f_star=0)
    builtin = make_function("rastrigin")
    x = np.random.default_rng(1).uniform(-5, 5, (4096, 2))
    ratio = (best_of(lambda: [expression.value_and_grad(x) for _ in range(50)])
             / best_of(lambda: [builtin.value_and_grad(x) for _ in range(50)]))
    print(f"value_and_grad, 4096 points: expression / built-in rastrigin = {ratio:.2f}")


if __name__ == "__main__":
    main()
