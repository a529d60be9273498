"""A small saved run shared by the plot and report tests, with the closed forms that check it.

Steepest descent on f(x) = sum_i a_i x_i^2 + c has x_k = x_0 (1 - 2 a_i lr)^k per coordinate, so
every path, gap and step count the plots draw has an answer that does not come from optbench.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

CONFIG = """\
name: tiny
steps: 80
target: {gap: 1.0e-6}
divergence: {factor: 1.0e+4}
functions:
  - {label: bowl, function: paraboloid, a: [0.2, 2.0], c: -5, start: [5.1, 2.3]}
  - {label: round, function: paraboloid, a: [0.5, 0.5], start: [[1, 1], [-2, 1]]}
optimizers:
  - {label: sd, optimizer: sgd, functions: [bowl], lr: [0.1, 0.4, 0.6]}
  - {label: sd sweep, optimizer: sgd, lr: {logspace: [0.01, 1.0, 13]}}
  - {label: heavy ball, optimizer: sgd, functions: [bowl], lr: {linspace: [0.1, 0.7, 7]},
     momentum: [0.0, 0.5]}
panels:
  - title: "Fig. A: two learning rates"
    function: bowl
    show:
      - {optimizer: sd, setting: {lr: 0.1}, reference: true}
      - {optimizer: sd, setting: {lr: [0.4, 0.6]}}
"""

A = {"bowl": np.array([0.2, 2.0]), "round": np.array([0.5, 0.5])}
C = {"bowl": -5.0, "round": 0.0}
STARTS = {"bowl": np.array([[5.1, 2.3]]), "round": np.array([[1.0, 1.0], [-2.0, 1.0]])}
STEPS, TARGET, FACTOR = 80, 1e-6, 1e4


def sgd_points(function: str, lr: float, start: np.ndarray, steps: int = STEPS) -> np.ndarray:
    """Closed form of steepest descent: x_k = x_0 (1 - 2 a lr)^k, shape (steps + 1, 2)."""
    k = np.arange(steps + 1)[:, None]
    return start[None, :] * (1.0 - 2.0 * A[function] * lr) ** k


def sgd_gaps(function: str, lr: float, start: np.ndarray, steps: int = STEPS) -> np.ndarray:
    return np.sum(A[function] * sgd_points(function, lr, start, steps) ** 2, axis=-1)


def sgd_outcome(function: str, lr: float, start: np.ndarray) -> tuple[str, int]:
    """``(status, step)``: the step of convergence or divergence (-1 when unfinished)."""
    gaps = sgd_gaps(function, lr, start)
    over = np.flatnonzero(gaps > FACTOR * gaps[0])
    hit = np.flatnonzero(gaps <= TARGET)
    if over.size and (not hit.size or over[0] < hit[0]):
        return "diverged", int(over[0])
    if hit.size:
        return "converged", int(hit[0])
    return "unfinished", -1


def momentum_outcome(lr: float, momentum: float, steps: int = STEPS) -> tuple[str, int]:
    """torch's heavy ball on the bowl, one trial in plain Python: b_1 = g_1, b = mu b + g."""
    a = A["bowl"]
    x = STARTS["bowl"][0].copy()
    gap0 = float(np.sum(a * x * x))
    buf = None
    for k in range(1, steps + 1):
        g = 2.0 * a * x
        buf = g.copy() if buf is None else momentum * buf + g
        x = x - lr * buf
        gap = float(np.sum(a * x * x))
        if not gap <= FACTOR * gap0:
            return "diverged", k
        if gap <= TARGET:
            return "converged", k
    return "unfinished", -1


def make_run(tmp: Path, plots: bool = True) -> Path:
    """Write the config, run ``optbench run`` on it, return the run directory."""
    from click.testing import CliRunner

    from optbench.cli import cli

    config = tmp / "tiny.yaml"
    config.write_text(CONFIG)
    args = ["run", str(config), "--out", str(tmp / "results"), "--quiet"]
    result = CliRunner().invoke(cli, args + ([] if plots else ["--no-plots"]))
    assert result.exit_code == 0, result.output
    return Path(result.output.strip())
