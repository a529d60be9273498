"""User-defined functions and optimizers (package.module:name), and closed-form expressions."""

from __future__ import annotations

import sys
import textwrap

import numpy as np
import pytest
from click.testing import CliRunner

from optbench.cli import cli
from optbench.config import load
from optbench.expression import FUNCTIONS as EXPRESSION_FUNCTIONS
from optbench.expression import Expression, ExpressionError
from optbench.functions import FUNCTIONS, make_function
from optbench.optimizers import OPTIMIZERS
from optbench.runner import CONVERGED, run

USER_MODULE = '''
import numpy as np
from optbench.functions import Objective
from optbench.optimizers import Optimizer


def banana(scale=100.0, shift=1.0):
    """Rosenbrock's valley with a chosen steepness and minimiser (shift, shift**2)."""
    if scale <= 0:
        raise ValueError(f"scale must be > 0, got {scale}")

    def value_and_grad(x):
        u, v = x[:, 0], x[:, 1]
        r = v - u * u
        f = scale * r * r + (shift - u) ** 2
        g = np.stack([-4 * scale * u * r - 2 * (shift - u), 2 * scale * r], axis=-1)
        return f, g

    return Objective("banana", 2, value_and_grad, np.array([[shift, shift**2]]), 0.0,
                     np.array([[-2.0, 2.0], [-1.0, 3.0]]))


def signum(lr=0.01, beta=0.9, flip=False):
    """Sign descent on a momentum buffer: m = beta m + (1 - beta) g, x -= lr sign(m)."""
    lr = np.asarray(lr, dtype=float).reshape(-1, 1) if np.ndim(lr) else lr
    beta = np.asarray(beta, dtype=float).reshape(-1, 1) if np.ndim(beta) else beta
    sign = -1.0 if flip else 1.0

    def init(x):
        return np.zeros_like(x)

    def update(x, grad, m, step):
        m = beta * m + (1 - beta) * grad
        return x - sign * lr * np.sign(m), m

    return Optimizer(init, update)


def crashes_later(lr=0.1):
    def update(x, grad, state, step):
        if step == 5:
            raise FloatingPointError("step 5 is cursed")
        return x - lr * grad, state

    return Optimizer(lambda x: None, update)


def not_an_objective():
    return 42


def wrong_shapes():
    return Objective("wrong", 2, lambda x: (x, x), np.zeros((1, 2)), 0.0,
                     np.array([[-1.0, 1.0], [-1.0, 1.0]]))


def explodes():
    raise RuntimeError("no such landscape")


def needs_lr(lr):
    return Optimizer(lambda x: None, lambda x, g, s, k: (x, s))


def text_option(lr=0.1, mode="fast"):
    return Optimizer(lambda x: None, lambda x, g, s, k: (x, s))


def not_an_optimizer(lr=0.1):
    return "sgd"


def flattens(lr=0.1):
    return Optimizer(lambda x: None, lambda x, g, s, k: (x.ravel(), s))


NOT_CALLABLE = 3
'''


@pytest.fixture
def user_dir(tmp_path):
    """A config directory holding the user's module ``mybench``; registrations undone after."""
    (tmp_path / "mybench.py").write_text(USER_MODULE)
    (tmp_path / "broken_import.py").write_text("x = 1 / 0\n")
    functions, optimizers = dict(FUNCTIONS), dict(OPTIMIZERS)
    yield tmp_path
    for registry, saved in ((FUNCTIONS, functions), (OPTIMIZERS, optimizers)):
        for name in set(registry) - set(saved):
            del registry[name]
    for name in ("mybench", "broken_import"):
        sys.modules.pop(name, None)


def write_config(directory, functions: str, optimizers: str, steps: int = 300) -> str:
    text = f"name: user\nsteps: {steps}\ntarget: {{gap: 1.0e-8}}\nfunctions:\n"
    text += textwrap.indent(textwrap.dedent(functions).strip(), "  ") + "\noptimizers:\n"
    text += textwrap.indent(textwrap.dedent(optimizers).strip(), "  ") + "\n"
    path = directory / "bench.yaml"
    path.write_text(text)
    return path


def invoke(path):
    return CliRunner().invoke(cli, ["run", str(path), "--out", str(path.parent / "results")])


def assert_one_line_error(result, path, code, *pieces):
    lines = result.output.strip().splitlines()
    assert result.exit_code == code, result.output
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: ")
    for piece in pieces:
        assert piece in lines[0]
    assert not (path.parent / "results" / "user").exists() or code == 1
    assert "Traceback" not in result.output


# ---------------------------------------------------------------------------------------------
# User-defined functions and optimizers that follow the protocols


def test_user_function_runs_like_the_builtin_it_reimplements(user_dir):
    starts = "[[-1.2, 1.0], [0.5, -0.5], [1.5, 2.0]]"
    path = write_config(user_dir, f"""
        - {{label: user, function: "mybench:banana", scale: 100, start: {starts}}}
        - {{label: builtin, function: rosenbrock, start: {starts}}}
        """, "- {optimizer: adam, lr: [0.01, 0.1]}", steps=500)
    config = load(path)
    assert config.functions[0].params == {"scale": 100}
    outcomes = run(config).outcomes
    user, builtin = outcomes.group < 2, outcomes.group >= 2
    for name in ("status", "first_hit", "settled", "diverged_at"):
        np.testing.assert_array_equal(getattr(outcomes, name)[user],
                                      getattr(outcomes, name)[builtin])
    np.testing.assert_allclose(outcomes.final_gap[user], outcomes.final_gap[builtin], rtol=1e-9)
    result = invoke(path)
    assert result.exit_code == 0, result.output
    assert "mybench:banana" in result.output


def test_user_optimizer_gets_per_trial_hyperparameters(user_dir):
    path = write_config(user_dir, "- {label: bowl, function: paraboloid, start: [[3, -2], [1, 1]]}",
                        '- {optimizer: "mybench:signum", lr: [0.01, 0.1], beta: 0.5}', steps=40)
    config = load(path)
    spec = OPTIMIZERS["mybench:signum"]
    assert spec.hyperparameters["lr"].default == 0.01 and spec.hyperparameters["flip"].kind == "bool"
    output = run(config)
    # Reference: the rule written out per trial, on f = 0.2 x^2 + 2 y^2.
    a = np.array([0.2, 2.0])
    points = output.trajectories[0].points
    for row, (lr, x0) in enumerate([(0.01, [3, -2]), (0.01, [1, 1]), (0.1, [3, -2]), (0.1, [1, 1])]):
        x, m = np.array(x0, dtype=float), np.zeros(2)
        for k in range(1, 41):
            m = 0.5 * m + 0.5 * (2 * a * x)
            x = x - lr * np.sign(m)
            np.testing.assert_allclose(points[row, k], x, rtol=1e-12, atol=1e-15)


# ---------------------------------------------------------------------------------------------
# ... and every way they can be wrong: one line, exit 2 (exit 1 for a failure during the run)


@pytest.mark.parametrize("function, extra, pieces", [
    ('"nowhere.at_all:thing"', "", [("bench.yaml:5: functions[0].function: cannot import "
                                    "'nowhere.at_all': No module named 'nowhere'")]),
    ('"broken_import:f"', "", [("functions[0].function: importing 'broken_import' failed: "
                               "ZeroDivisionError: division by zero")]),
    ('"mybench:nothing"', "", [("functions[0].function: module 'mybench' has no attribute "
                               "'nothing'")]),
    ('"mybench:NOT_CALLABLE"', "", ["mybench:NOT_CALLABLE is a int, not a callable factory"]),
    ('"mybench:"', "", ["'mybench:' is not of the form package.module:name"]),
    ('"mybench:not_an_objective"', "", [("functions[0]: mybench:not_an_objective returned int, "
                                        "not an optbench Objective")]),
    ('"mybench:wrong_shapes"', "", [("value_and_grad maps x of shape (2, 2) to shapes (2, 2) "
                                    "and (2, 2), not (2,) and (2, 2)")]),
    ('"mybench:explodes"', "", ["mybench:explodes raised RuntimeError: no such landscape"]),
    ('"mybench:banana"', ", scale: -1", ["functions[0].scale: scale must be > 0, got -1"]),
    ('"mybench:banana"', ", scael: 2", ["functions[0].scael: unknown key (did you mean 'scale'?)"]),
])
def test_bad_user_function(user_dir, function, extra, pieces):
    path = write_config(user_dir, f"- {{label: f, function: {function}, start: [0, 0]{extra}}}",
                        "- {optimizer: sgd}")
    assert_one_line_error(invoke(path), path, 2, *pieces)


@pytest.mark.parametrize("optimizer, extra, pieces", [
    ('"mybench:needs_lr"', "", [("optimizers[0].optimizer: mybench:needs_lr: parameter 'lr' "
                                "needs a default")]),
    ('"mybench:text_option"', "", ["parameter 'mode' has default 'fast'"]),
    ('"mybench:not_an_optimizer"', "", [("mybench:not_an_optimizer returned str, not an "
                                        "Optimizer(init, update)")]),
    ('"mybench:flattens"', "", [("mybench:flattens: update(x, grad, state, step) must return "
                                "(x_new, state) with x_new of the shape of x")]),
    ('"mybench:signum"', ", flip: 3", ["optimizers[0].flip: must be true or false"]),
    ('"mybench:signum"', ", lr: {linspace: [0, 1]}", ["optimizers[0].lr: linspace takes"]),
    ('"nowhere:x"', "", ["bench.yaml:7: optimizers[0].optimizer: cannot import 'nowhere'"]),
])
def test_bad_user_optimizer(user_dir, optimizer, extra, pieces):
    path = write_config(user_dir, "- {label: f, function: paraboloid, start: [1, 1]}",
                        f"- {{optimizer: {optimizer}{extra}}}")
    assert_one_line_error(invoke(path), path, 2, *pieces)


def test_failure_inside_user_code_during_a_run_is_one_line_exit_1(user_dir):
    path = write_config(user_dir, "- {label: f, function: paraboloid, start: [1, 1]}",
                        '- {optimizer: "mybench:crashes_later"}')
    result = invoke(path)
    assert_one_line_error(result, path, 1, "mybench:crashes_later: update raised "
                          "FloatingPointError: step 5 is cursed")
    assert not (user_dir / "results" / "user").exists() or not any(
        (user_dir / "results" / "user").iterdir())


# ---------------------------------------------------------------------------------------------
# Expressions


def central_differences(fn, x, h=1e-6):
    g = np.empty_like(x)
    for i in range(x.shape[1]):
        e = np.zeros_like(x)
        e[:, i] = h
        g[:, i] = (fn(x + e)[0] - fn(x - e)[0]) / (2 * h)
    return g


def test_every_whitelisted_function_differentiates_correctly():
    rng = np.random.default_rng(2)
    x = rng.uniform(0.1, 0.9, size=(32, 2))  # inside every domain (arcsin, log, sqrt, ...)
    for name in EXPRESSION_FUNCTIONS:
        expr = Expression(f"{name}(0.7*x1 - 0.2*x2) * x2 + {name}(x1 * x2)", 2)
        f, g = expr.value_and_grad(x)
        fn = getattr(np, name)
        u, v = x[:, 0], x[:, 1]
        np.testing.assert_allclose(f, fn(0.7 * u - 0.2 * v) * v + fn(u * v), rtol=1e-14)
        np.testing.assert_allclose(g, central_differences(expr.value_and_grad, x),
                                   rtol=1e-6, atol=1e-8, err_msg=name)


def test_operators_constants_and_powers():
    expr = Expression("-x1**3 / (1 + x2**2) + x1**x2 - 2**x1 + pi*e*x3 + +x2 - 4", 3)
    rng = np.random.default_rng(3)
    x = rng.uniform(0.5, 2.0, size=(16, 3))
    u, v, w = x.T
    f, g = expr.value_and_grad(x)
    expected = -u**3 / (1 + v**2) + u**v - 2**u + np.pi * np.e * w + v - 4
    np.testing.assert_allclose(f, expected, rtol=1e-13)
    gu = -3 * u**2 / (1 + v**2) + v * u ** (v - 1) - np.log(2) * 2**u
    gv = 2 * v * u**3 / (1 + v**2) ** 2 + np.log(u) * u**v + 1
    gw = np.full_like(w, np.pi * np.e)
    np.testing.assert_allclose(g, np.stack([gu, gv, gw], axis=-1), rtol=1e-13)
    # A constant expression has a zero gradient; an unused coordinate a zero partial.
    f, g = Expression("2**3 - 1", 2).value_and_grad(x[:, :2])
    assert np.all(f == 7.0) and np.all(g == 0.0)


@pytest.mark.parametrize("name, text", [
    ("rosenbrock", "(1 - x1)**2 + 100*(x2 - x1**2)**2"),
    ("beale", "(1.5 - x1 + x1*x2)**2 + (2.25 - x1 + x1*x2**2)**2 + (2.625 - x1 + x1*x2**3)**2"),
    ("himmelblau", "(x1**2 + x2 - 11)**2 + (x1 + x2**2 - 7)**2"),
])
def test_expressions_match_builtin_functions(name, text):
    builtin = make_function(name)
    objective = make_function("expression", expression=text,
                              minimizers=builtin.minimizers.tolist(), f_star=builtin.f_star)
    x = np.random.default_rng(4).uniform(builtin.bounds[:, 0], builtin.bounds[:, 1], (64, 2))
    f, g = objective.value_and_grad(x)
    fb, gb = builtin.value_and_grad(x)
    np.testing.assert_allclose(f, fb, rtol=1e-12)
    np.testing.assert_allclose(g, gb, rtol=1e-11, atol=1e-9)
    assert objective.dim == 2 and len(objective.minimizers) == len(builtin.minimizers)


def test_expression_entry_runs_without_a_function_key(tmp_path):
    path = write_config(tmp_path, """
        - label: valley
          expression: "(1 - x1)**2 + 100*(x2 - x1**2)**2"
          minimizers: [[1, 1]]
          f_star: 0
          start: [-1.2, 1]
        """, "- {optimizer: adam, lr: 0.05}", steps=2000)
    config = load(path)
    assert config.functions[0].function == "expression"
    outcomes = run(config).outcomes
    assert outcomes.status[0] == CONVERGED
    result = invoke(path)
    assert result.exit_code == 0, result.output
    assert "valley" in result.output


@pytest.mark.parametrize("entry, pieces", [
    ('expression: "x1 ^ 2", minimizers: [[0]], f_star: 0',
     [("functions[0].expression: expression may not use the operator ^ (use ** for powers): "
      "'x1 ^ 2' at column 1")]),
    ('expression: "x1**2 + y", minimizers: [[0]], f_star: 0',
     [("expression uses unknown name 'y' (variables are x1..x1, constants pi and e): 'y' at "
      "column 9")]),
    ('expression: "x1**2 + x3", minimizers: [[0, 0]], f_star: 0',
     ["expression uses x3 but the function has 2 coordinates (x1..x2): 'x3' at column 9"]),
    ('expression: "cosh(x1) + system(x1)", minimizers: [[0]], f_star: 1',
     ["expression calls unknown function 'system'", "at column 12"]),
    ('expression: "__import__(\'os\').getcwd()", minimizers: [[0]], f_star: 0',
     ["functions[0].expression: expression may not contain attributes"]),
    ('expression: "x1**2 + (x1", minimizers: [[0]], f_star: 0',
     ["expression is not valid syntax at column"]),
    ('expression: "x1 if x1 > 0 else -x1", minimizers: [[0]], f_star: 0',
     ["expression may not contain if/else"]),
    ('expression: "sin(x1, 2)", minimizers: [[0]], f_star: 0',
     ["expression calls sin with other than one argument: 'sin(x1, 2)' at column 1"]),
    ('expression: "(x1 - 1)**2", minimizers: [[0]], f_star: 0',
     ["functions[0].minimizers: minimizers[0] gives f = 1.0, not f_star = 0.0"]),
    ('expression: "x1**2", minimizers: [[0]]', ["functions[0].f_star: required key is missing"]),
    ('expression: "x1**2", minimizers: 3, f_star: 0',
     ["functions[0].minimizers: minimizers must be a list of points"]),
    ('expression: "x1**2", minimizers: [[0], [0, 1]], f_star: 0',
     ["functions[0].minimizers: minimizers must be a list of points"]),
    ('expression: "x1**2", minimizers: [[0]], f_star: 0, bounds: [[1, -1]]',
     ["functions[0].bounds: bounds must be [low, high] with low < high"]),
    ('expression: 7, minimizers: [[0]], f_star: 0',
     ["functions[0].expression: expression must be a non-empty string, got 7"]),
])
def test_bad_expression(tmp_path, entry, pieces):
    path = write_config(tmp_path, f"- {{label: f, {entry}, start: [0.5]}}", "- {optimizer: sgd}")
    assert_one_line_error(invoke(path), path, 2, "bench.yaml:5: ", *pieces)


def test_expression_parser_runs_no_code():
    for text in ["__import__('os').system('true')", "open('x')", "(lambda: 1)()",
                 "[x for x in ()]", "x1.__class__", "globals()"]:
        with pytest.raises(ExpressionError):
            Expression(text, 1)
