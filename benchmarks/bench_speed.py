"""optbench's runner against hand-written alternatives, in element-updates per second.

One element-update is one coordinate of one trial advanced by one step, with the function's
value and gradient and the first-hit bookkeeping (the step at which f - f* <= 1e-6). Every
variant does that same work in float64, or in float32 with ``--precision float32`` (optbench's
``precision: float32``: points and optimizer arithmetic in float32, the function's value and
gradient in float64, rounded; the peers compute everything in float32):

* optbench      ``runner.run`` (compiled kernels, worker threads, chunks, all bookkeeping,
                 and the COCO ladder of the ECDF for each setting's first
                 ``runner.LADDER_START_POINTS`` start points);
* optbench-noladder  the same run without the ladder (the work the peers do);
* optbench-numpy the same runner on its NumPy reference loop (``engine="numpy"``);
* torch-batched  ``torch.optim`` on one ``(T, D)`` tensor, gradient and bookkeeping as tensors;
* torch-trial    ``torch.optim`` one trial at a time (timed on a sample, extrapolated);
* jax-vmap       JAX + optax: ``vmap`` over trials of a ``lax.scan`` over steps, under ``jit``;
* jax-chunked    the same, ``lax.map`` over chunks of 1024 trials.

Run from the repository root (torch, JAX and optax are optional: ``pip install torch``,
``pip install -e '.[bench]'``)::

    python3 benchmarks/bench_speed.py            # every case
    python3 benchmarks/bench_speed.py --quick    # 1e3 and 1e5 trials only
    python3 benchmarks/bench_speed.py --precision float32

Ratios are optbench's rate over each variant's, measured in the same run; compare them rather than
absolute rates on a shared machine. The column "w/o ladder" gives the ratios of the same run
without the COCO ladder. optbench (with and without the ladder) and JAX's two variants are timed in
turn, one run of each a round, so that a slow spell of the machine falls on all of them alike: each
the best of ``--repeats`` rounds, or of as many as fill 0.3 s for short cases (up to 100: a run of
a millisecond varies by more than the ratios), after a warm-up (JAX's first call compiles;
optbench's first call loads its kernel from the disk cache, compiled in a child process if it was
not there; the compile time is reported on its own); the torch variants, slower by an order of
magnitude, once. The last column is the share of a variant's trials whose first hit is optbench's:
every variant runs the same trials from the same start points (``tests/test_bench.py`` checks that
they agree).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from optbench import config as cfg
from optbench import runner

TARGET = 1e-6
A = np.array([0.2, 2.0])  # the book's elongated paraboloid (c = 0)
OPTIMIZERS = {
    "sgd-momentum": ("sgd", {"lr": 0.01, "momentum": 0.9}),
    "adam": ("adam", {"lr": 0.01}),
}
#: Cases with a learning rate of their own: SGD at 1e-2 sends every trial on the 100-D Rosenbrock
#: function past f = 1e300 by step 5 (the case's other 15 steps would time arithmetic on
#: infinities, or nothing where a kernel stops a block whose trials have all diverged); at 1e-4
#: every trial runs its 20 steps.
LEARNING_RATES = {("sgd-momentum", "rosenbrock-100d"): 1e-4}
FUNCTIONS = {"paraboloid-2d": 2, "rosenbrock-100d": 100}
STEPS = {"paraboloid-2d": 200, "rosenbrock-100d": 20}
#: The slow peers are timed on at most this many coordinates a step (rates extrapolate).
PEER_ELEMENTS = 10**7
PER_TRIAL_SAMPLE = 100
#: The floating-point type of every variant (``--precision``).
PRECISION = "float64"


def optimizer_of(optimizer: str, function: str) -> tuple[str, dict]:
    """The optimizer's name and hyperparameters in the case of ``function``."""
    name, hypers = OPTIMIZERS[optimizer]
    lr = LEARNING_RATES.get((optimizer, function))
    return name, hypers if lr is None else {**hypers, "lr": lr}


def start_points(trials: int, dim: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    if dim == 2:
        return rng.uniform(-5.0, 5.0, (trials, dim))
    return rng.uniform(-2.0, 2.0, (trials, dim))


# ----------------------------------------------------------------------------------------------
# optbench


def optbench_config(function: str, optimizer: str, trials: int, steps: int):
    name, hypers = optimizer_of(optimizer, function)
    dim = FUNCTIONS[function]
    if dim == 2:
        fentry = f"function: paraboloid\n    a: [{A[0]}, {A[1]}]"
        box = "[[-5, 5], [-5, 5]]"
    else:
        fentry = f"function: rosenbrock\n    dim: {dim}"
        box = "[" + ", ".join(["[-2, 2]"] * dim) + "]"
    hyper_lines = "\n".join(f"    {k}: {v}" for k, v in hypers.items())
    text = f"""
name: bench
steps: {steps}
precision: {PRECISION}
record: 0
target: {{gap: {TARGET}}}
divergence: {{gap: 1.0e+300}}
functions:
  - label: f
    {fentry}
    start: {{random: {trials}, box: {box}, seed: 0}}
optimizers:
  - label: o
    optimizer: {name}
{hyper_lines}
"""
    return cfg.loads(text, source="bench.yaml")


#: Short cases are timed again until this many seconds have gone (at most MAX_REPEATS times):
#: a run of a millisecond varies by more than the ratios it is compared by.
TIMED_SECONDS = 0.3
MAX_REPEATS = 100


def best_of(call, repeats: int):
    """``(seconds, result)`` of the fastest of ``repeats`` calls of ``call()``, or of more (up
    to MAX_REPEATS) while they add up to less than TIMED_SECONDS."""
    best, spent, runs = np.inf, 0.0, 0
    while runs < repeats or (spent < TIMED_SECONDS and runs < MAX_REPEATS):
        started = time.perf_counter()
        result = call()
        seconds = time.perf_counter() - started
        best, spent, runs = min(best, seconds), spent + seconds, runs + 1
    return best, result


@contextlib.contextmanager
def ladder_recorded(ladder: bool):
    """Runs record the COCO ladder as users run them (for each setting's first
    ``runner.LADDER_START_POINTS`` start points), or, if ``ladder`` is False, never."""
    cap = runner.LADDER_MAX_TRIALS
    runner.LADDER_MAX_TRIALS = cap if ladder else 0
    try:
        yield
    finally:
        runner.LADDER_MAX_TRIALS = cap


def time_optbench(function, optimizer, trials, steps, engine="numba", workers=None, repeats=1,
                  ladder=True):
    """Seconds of ``runner.run`` (:func:`best_of` ``repeats``): planning, chunks, kernels,
    outcomes; without the COCO ladder if ``ladder`` is False."""
    config = optbench_config(function, optimizer, trials, steps)
    with ladder_recorded(ladder):
        best, out = best_of(lambda: runner.run(config, workers=workers, engine=engine), repeats)
    assert out.execution["trials_per_loop"][engine] == trials
    return best, out


def optbench_call(function, optimizer, trials, steps, ladder=True):
    """A call of ``runner.run`` on the compiled kernels, with or without the COCO ladder."""
    config = optbench_config(function, optimizer, trials, steps)

    def call():
        with ladder_recorded(ladder):
            out = runner.run(config, engine="numba")
        assert out.execution["trials_per_loop"]["numba"] == trials
        return out

    return call


def time_in_turn(calls: dict, repeats: int = 1) -> dict:
    """``{label: (seconds, result)}``: each call's fastest time and last result, the calls made
    in turn, round after round (``repeats`` rounds, or more, up to MAX_REPEATS, while they add
    up to less than TIMED_SECONDS), so that a slow spell of this shared machine falls on all of
    them alike."""
    best = {label: [np.inf, None] for label in calls}
    spent, rounds = 0.0, 0
    while rounds < repeats or (spent < TIMED_SECONDS and rounds < MAX_REPEATS):
        for label, call in calls.items():
            started = time.perf_counter()
            result = call()
            seconds = time.perf_counter() - started
            best[label][0], best[label][1] = min(best[label][0], seconds), result
            spent += seconds
        rounds += 1
    return {label: tuple(timing) for label, timing in best.items()}


# ----------------------------------------------------------------------------------------------
# torch


def torch_value_and_grad(torch, x, dim):
    if dim == 2:
        a = torch.tensor(A, dtype=getattr(torch, PRECISION))
        return (a * x * x).sum(-1), 2.0 * a * x
    head, tail = x[..., :-1], x[..., 1:]
    valley = tail - head * head
    off = 1.0 - head
    f = (100.0 * valley * valley + off * off).sum(-1)
    g = torch.zeros_like(x)
    g[..., :-1] = -400.0 * head * valley - 2.0 * off
    g[..., 1:] += 200.0 * valley
    return f, g


def torch_optimizer(torch, optimizer, function, params):
    name, hypers = optimizer_of(optimizer, function)
    cls = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}[name]
    return cls(params, **hypers)


def time_torch_batched(function, optimizer, trials, steps):
    """Seconds, and each trial's first hit."""
    import torch

    dim = FUNCTIONS[function]
    x = torch.tensor(start_points(trials, dim), dtype=getattr(torch, PRECISION),
                     requires_grad=True)
    opt = torch_optimizer(torch, optimizer, function, [x])
    first_hit = torch.full((trials,), -1, dtype=torch.int64)
    started = time.perf_counter()
    with torch.no_grad():
        f, g = torch_value_and_grad(torch, x, dim)
        for k in range(1, steps + 1):
            x.grad = g
            opt.step()
            f, g = torch_value_and_grad(torch, x, dim)
            hit = (f <= TARGET) & (first_hit < 0)
            first_hit[hit] = k
    return time.perf_counter() - started, first_hit.numpy()


def time_torch_per_trial(function, optimizer, trials, steps):
    """Seconds, and each trial's first hit."""
    import torch

    dim = FUNCTIONS[function]
    x0 = start_points(trials, dim)
    first_hits = []
    started = time.perf_counter()
    for row in x0:
        x = torch.tensor(row, dtype=getattr(torch, PRECISION), requires_grad=True)
        opt = torch_optimizer(torch, optimizer, function, [x])
        first_hit = -1
        with torch.no_grad():
            f, g = torch_value_and_grad(torch, x, dim)
            for k in range(1, steps + 1):
                x.grad = g
                opt.step()
                f, g = torch_value_and_grad(torch, x, dim)
                if first_hit < 0 and float(f) <= TARGET:
                    first_hit = k
        first_hits.append(first_hit)
    return time.perf_counter() - started, np.array(first_hits)


# ----------------------------------------------------------------------------------------------
# JAX + optax


def jax_runner(function, optimizer, steps, chunk=None):
    import jax
    import jax.numpy as jnp
    import optax

    jax.config.update("jax_enable_x64", PRECISION == "float64")
    dim = FUNCTIONS[function]
    name, hypers = optimizer_of(optimizer, function)
    tx = optax.sgd(hypers["lr"], momentum=hypers["momentum"]) if name == "sgd" else optax.adam(
        hypers["lr"])
    a = jnp.asarray(A)

    def value_and_grad(x):
        if dim == 2:
            return jnp.sum(a * x * x), 2.0 * a * x
        head, tail = x[:-1], x[1:]
        valley = tail - head * head
        off = 1.0 - head
        f = jnp.sum(100.0 * valley * valley + off * off)
        g = jnp.zeros_like(x).at[:-1].set(-400.0 * head * valley - 2.0 * off)
        return f, g.at[1:].add(200.0 * valley)

    def one_trial(x):
        _, g = value_and_grad(x)

        def step(carry, k):
            x, state, g, first_hit = carry
            updates, state = tx.update(g, state, x)
            x = optax.apply_updates(x, updates)
            f, g = value_and_grad(x)
            first_hit = jnp.where((first_hit < 0) & (f <= TARGET), k, first_hit)
            return (x, state, g, first_hit), None

        ks = jnp.arange(1, steps + 1)  # JAX's default integers (int64 with x64, else int32)
        carry = (x, tx.init(x), g, jnp.full((), -1, dtype=ks.dtype))
        (x, _, _, first_hit), _ = jax.lax.scan(step, carry, ks)
        return first_hit

    batched = jax.vmap(one_trial)
    if chunk is None:
        return jax.jit(batched)

    def chunked(x0):
        n = x0.shape[0] // chunk
        return jax.lax.map(batched, x0.reshape(n, chunk, dim)).reshape(-1)

    return jax.jit(chunked)


def jax_call(function, optimizer, trials, steps, chunk=None):
    """``(call, seconds, trials)``: a call that runs JAX's variant and returns each trial's first
    hit, the seconds of its first call (which compiles), and the trials it runs (whole chunks)."""
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", PRECISION == "float64")

    dim = FUNCTIONS[function]
    if chunk is not None:
        trials = max(chunk, trials // chunk * chunk)
    x0 = jnp.asarray(start_points(trials, dim), dtype=PRECISION)
    fn = jax_runner(function, optimizer, steps, chunk)

    def call():
        return fn(x0).block_until_ready()

    started = time.perf_counter()
    call()  # compile and run once
    return call, time.perf_counter() - started, trials


def time_jax(function, optimizer, trials, steps, chunk=None, repeats=1):
    """Seconds (:func:`best_of` ``repeats``, after a first call that compiles), seconds of that
    first call, the trials run (whole chunks) and each one's first hit."""
    call, compile_and_run, trials = jax_call(function, optimizer, trials, steps, chunk)
    best, first_hit = best_of(call, repeats)
    return best, compile_and_run, trials, np.asarray(first_hit)


# ----------------------------------------------------------------------------------------------


def compile_times() -> dict:
    """Seconds to compile the Adam kernel from scratch, and to load it from the disk cache, each
    in a fresh process (first call, on 8 trials, minus the same call once compiled)."""
    code = """
import sys, time, numpy as np, numba
from optbench import functions, kernels
if sys.argv[1] == "cold":
    kernels.run_chunk = numba.njit(nogil=True, error_model="numpy")(kernels.run_chunk.py_func)
obj = functions.paraboloid(a=(0.2, 2.0))
x0 = np.ones((8, 2)); gid = np.zeros(8, dtype=np.int64); opts = {"lr": np.full(8, 0.01)}
def call():
    kernels._ENTRY_POINTS.clear()
    t = time.perf_counter()
    kernels.run_trials("paraboloid", {"a": [0.2, 2.0]}, obj, "adam", opts, x0, gid, 5,
                       target_kind="gap", target=1e-6, divergence_kind="factor", divergence=1e6,
                       record_rows=np.zeros(0, dtype=np.int64), ladder=None)
    return time.perf_counter() - t
first = call(); again = call()
print(first - again)
"""
    out = {}
    # "cached" twice: the first fills the disk cache if this source has not been compiled yet.
    for kind in ("cold", "cached", "cached"):
        result = subprocess.run([sys.executable, "-c", code, kind], capture_output=True,
                                text=True, cwd=ROOT, check=True)
        out[kind] = float(result.stdout.strip().splitlines()[-1])
    return out


def same_first_hits(hits: np.ndarray, reference: np.ndarray) -> float:
    """The share of a variant's trials (the first ``len(hits)`` of the case's) whose first hit
    is optbench's: every variant does the same work, to the rounding of its arithmetic."""
    hits = np.where(np.asarray(hits) < 0, -1, hits)
    return float(np.mean(hits == reference[:len(hits)]))


def available(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def warm_up():
    """Runs every kernel variant the cases use once, on a few trials."""
    for ladder in (True, False):
        for optimizer in OPTIMIZERS:
            for function in FUNCTIONS:
                with ladder_recorded(ladder):
                    runner.run(optbench_config(function, optimizer, 16, 2), workers=1,
                               engine="numba")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1e3 and 1e5 trials only")
    parser.add_argument("--only", default=None, help="run the cases whose name contains this")
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed runs of optbench and JAX per case, more for short cases "
                             f"(up to {TIMED_SECONDS} s); the best counts")
    parser.add_argument("--precision", choices=("float64", "float32"), default="float64",
                        help="floating-point type of every variant (default float64)")
    args = parser.parse_args()
    global PRECISION
    PRECISION = args.precision
    sizes = (10**3, 10**5) if args.quick else (10**3, 10**5, 10**6)
    has_torch, has_jax = available("torch"), available("jax") and available("optax")
    print(f"precision: {PRECISION}, cores: {runner.available_cores()}, "
          f"load average: {os.getloadavg()[0]:.2f}, "
          f"torch: {'yes' if has_torch else 'no'}, jax+optax: {'yes' if has_jax else 'no'}")
    times = compile_times()
    print(f"kernel compile (cold, once): {times['cold']:.1f} s; load from cache: "
          f"{times['cached']:.2f} s")
    # Every kernel variant the cases use (with and without the COCO ladder), loaded before it
    # is timed (compiled first, in a child process, where the disk cache lacks it).
    warm_up()
    cases = []
    for function, dim in FUNCTIONS.items():
        for optimizer in OPTIMIZERS:
            for trials in sizes:
                case = f"{optimizer} {function} {trials:.0e} x{STEPS[function]}"
                if not args.only or args.only in case:
                    cases.append((case, function, dim, optimizer, trials, STEPS[function]))
    # optbench's NumPy loop first: its worker processes are forked before torch or JAX start
    # their threads.
    rows: dict[str, list] = {case[0]: [] for case in cases}
    for case, function, dim, optimizer, trials, steps in cases:
        elements = trials * dim * steps
        if elements <= 2e8:
            seconds, out = time_optbench(function, optimizer, trials, steps, engine="numpy")
            rows[case].append(("optbench-numpy", elements / seconds, out.outcomes.first_hit))
    if has_torch:
        import torch

        torch.set_num_threads(runner.available_cores())
    first_hits: dict[str, np.ndarray] = {}
    without_ladder: dict[str, float] = {}
    for case, function, dim, optimizer, trials, steps in cases:
        elements = trials * dim * steps
        peer_trials = max(1, min(trials, PEER_ELEMENTS // dim))
        # optbench as users run it, the same run without the COCO ladder (the work the peers
        # do), and JAX's variants, timed in turn.
        calls = {"optbench": optbench_call(function, optimizer, trials, steps),
                 "optbench-noladder": optbench_call(function, optimizer, trials, steps,
                                                    ladder=False)}
        peer_elements = {}
        if has_jax:
            for label, chunk in (("jax-vmap", None), ("jax-chunked", 1024)):
                if chunk is None or peer_trials >= chunk:
                    calls[label], _, n = jax_call(function, optimizer, peer_trials, steps, chunk)
                    peer_elements[label] = n * dim * steps
        timed = time_in_turn(calls, args.repeats)
        first_hits[case] = timed["optbench"][1].outcomes.first_hit
        without_ladder[case] = elements / timed["optbench-noladder"][0]
        rows[case][:0] = [("optbench", elements / timed["optbench"][0], None),
                          ("optbench-noladder", without_ladder[case],
                           timed["optbench-noladder"][1].outcomes.first_hit)]
        if has_torch:
            s, hits = time_torch_batched(function, optimizer, peer_trials, steps)
            rows[case].append(("torch-batched", peer_trials * dim * steps / s, hits))
            sample = min(trials, PER_TRIAL_SAMPLE)
            s, hits = time_torch_per_trial(function, optimizer, sample, steps)
            rows[case].append(("torch-trial", sample * dim * steps / s, hits))
        for label, n_elements in peer_elements.items():
            seconds, hits = timed[label]
            rows[case].append((label, n_elements / seconds, np.asarray(hits)))
    print(f"{'case':<40}{'variant':<18}{'elem-updates/s':>16}{'optbench is':>14}"
          f"{'w/o ladder':>12}{'same first hit':>16}")
    for case, *_ in cases:
        ours = rows[case][0][1]
        for label, rate, hits in rows[case]:
            ours_alone = label in ("optbench", "optbench-noladder")
            ratio = "" if ours_alone else f"{ours / rate:.1f}x"
            bare_rate = without_ladder.get(case)
            bare = "" if bare_rate is None or ours_alone else f"{bare_rate / rate:.1f}x"
            same = "" if hits is None else f"{same_first_hits(hits, first_hits[case]):.1%}"
            print(f"{case:<40}{label:<18}{rate:>16.3g}{ratio:>14}{bare:>12}{same:>16}")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    print(f"peers ran on at most {PEER_ELEMENTS:.0e} coordinates a step and torch-trial on "
          f"{PER_TRIAL_SAMPLE} trials; their rates are extrapolated to the case. 'same first "
          f"hit': the share of the trials a variant ran whose first step with f - f* <= "
          f"{TARGET:g} (or none) is optbench's. optbench also records the COCO ladder (the "
          f"first step on 51 targets, for the ECDF) of each setting's first "
          f"{runner.LADDER_START_POINTS} start points, which the peers do not: 'w/o ladder' is "
          f"the ratio of optbench-noladder, the same run without it.")


if __name__ == "__main__":
    main()
