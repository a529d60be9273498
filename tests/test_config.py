"""Config validation: every bad config gives one line naming file:line, key path, rule and value;
good configs expand to the documented grids, labels and hashes."""

from __future__ import annotations

import itertools
import json
import re
import textwrap
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from optbench import config as cfg
from optbench.cli import cli
from optbench.config import ConfigError
from optbench.optimizers import OPTIMIZERS
from optbench.sweep import expand_grid, plan

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "configs" / "paraboloid.yaml"

FUNCTION = """\
functions:
  - label: elongated
    function: paraboloid
    a: [0.2, 2.0]
    c: -5
    start: [5.1, 2.3]
"""
OPTIMIZER = """\
optimizers:
  - label: steepest descent
    optimizer: sgd
    lr: 0.1
"""


def optimizers(body: str) -> str:
    """A config with the elongated paraboloid and the given optimizer entries."""
    return FUNCTION + "optimizers:\n" + textwrap.indent(textwrap.dedent(body), "  ")


def functions(body: str) -> str:
    """A config with the given function entries and one optimizer."""
    return "functions:\n" + textwrap.indent(textwrap.dedent(body), "  ") + OPTIMIZER


# (id, YAML text, text of the line the error must point at (None: no line), key path, rule regex)
BAD_CONFIGS = [
    # typos, with the closest valid name
    ("top-level key typo", "stpes: 10\n" + FUNCTION + OPTIMIZER,
     "stpes:", "stpes", r"unknown key \(did you mean 'steps'\?\)"),
    ("optimizer hyperparameter typo", optimizers("""\
        - optimizer: adam
          betta: [0.9, 0.99]
        """), "betta:", r"optimizers\[0\]\.betta", r"unknown key \(did you mean 'betas'\?\)"),
    ("function parameter typo", functions("""\
        - function: paraboloid
          aa: [1, 2]
          start: [1, 1]
        """), "aa:", r"functions\[0\]\.aa", r"unknown key \(did you mean 'a'\?\)"),
    ("optimizer name typo", optimizers("""\
        - optimizer: adamm
          lr: 0.1
        """), "optimizer: adamm", r"optimizers\[0\]\.optimizer",
     r"unknown optimizer 'adamm' \(did you mean 'adam'\?\); known: sgd, adagrad, rmsprop, adam"),
    ("function name typo", functions("""\
        - function: parabolid
          start: [1, 1]
        """), "function: parabolid", r"functions\[0\]\.function",
     r"unknown function 'parabolid' \(did you mean 'paraboloid'\?\); known: paraboloid, quadratic, rosenbrock"),
    ("function label typo in functions:", optimizers("""\
        - optimizer: sgd
          functions: [elongatd]
        """), "functions: [elongatd]", r"optimizers\[0\]\.functions\[0\]",
     r"no function labelled 'elongatd' \(did you mean 'elongated'\?\); labels: elongated"),
    ("typo of a required function parameter", functions("""\
        - function: expression
          expresion: x1**2 + x2**2
          minimizers: [[0, 0]]
          f_star: 0
          start: [1, 1]
        """), "expresion:", r"functions\[0\]\.expresion", r"unknown key \(did you mean 'expression'\?\)"),
    ("unknown key far from any", "colour: blue\n" + FUNCTION + OPTIMIZER,
     "colour:", "colour", r"unknown key; known keys: .*\bsteps\b.*\boptimizers\b"),
    ("a number as a key", FUNCTION + OPTIMIZER + "1: 2\n", "1: 2", r"\[1\]", r"keys should be strings, got 1"),
    ("random start key typo", functions("""\
        - function: paraboloid
          start: {random: 3, bx: [[0, 1], [0, 1]]}
        """), "bx:", r"functions\[0\]\.start\.bx", r"unknown key \(did you mean 'box'\?\)"),
    ("target key typo", "target: {gp: 1.0e-6}\n" + FUNCTION + OPTIMIZER,
     "target:", r"target\.gp", r"unknown key \(did you mean 'gap'\?\)"),
    ("spacing typo", optimizers("""\
        - optimizer: sgd
          lr: {linspce: [0.1, 0.2, 3]}
        """), "lr:", r"optimizers\[0\]\.lr", r"unknown spacing 'linspce' \(did you mean 'linspace'\?\).*got"),
    # YAML itself
    ("unclosed flow list", optimizers("""\
        - optimizer: sgd
          lr: [0.1, 0.2
        """), 10, None, r"invalid YAML: expected ',' or '\]'.*\(while parsing a flow sequence on line 9\)"),
    ("bad indentation", "functions:\n  - function: paraboloid\n start: [1, 1]\n" + OPTIMIZER,
     " start:", None, r"invalid YAML"),
    ("tab indentation", "functions:\n\t- function: paraboloid\n" + OPTIMIZER,
     "\t- function", None, r"invalid YAML: found character '\\t'"),
    ("duplicate key", optimizers("""\
        - optimizer: sgd
          lr: 0.1
          lr: 0.2
        """), "lr: 0.2", r"optimizers\[0\]\.lr", r"duplicate key \(first given on line 9\)"),
    ("duplicate top-level key", "steps: 3\n" + FUNCTION + OPTIMIZER + "steps: 4\n",
     "steps: 4", "steps", r"duplicate key \(first given on line 1\)"),
    # shapes and types
    ("empty file", "", None, None, r"a config is a mapping .*got an empty file"),
    ("comments only", "# nothing here\n", None, None, r"a config is a mapping .*got an empty file"),
    ("list at top level", "- functions\n- optimizers\n", None, None, r"a config is a mapping .*got list"),
    ("steps is text", "steps: many\n" + FUNCTION + OPTIMIZER,
     "steps:", "steps", r"must be a whole number, got 'many'"),
    ("steps is fractional", "steps: 10.5\n" + FUNCTION + OPTIMIZER,
     "steps:", "steps", r"must be a whole number, got 10\.5"),
    ("steps is a boolean", "steps: true\n" + FUNCTION + OPTIMIZER,
     "steps:", "steps", r"must be a whole number, got True"),
    ("steps zero", "steps: 0\n" + FUNCTION + OPTIMIZER, "steps:", "steps", r"must be >= 1, got 0"),
    ("steps past 32 bits", "steps: 2147483648\n" + FUNCTION + OPTIMIZER, "steps:", "steps",
     r"must be <= 2147483647, got 2147483648"),
    ("lr is text", optimizers("""\
        - optimizer: sgd
          lr: fast
        """), "lr: fast", r"optimizers\[0\]\.lr", r"must be a number, a list of numbers.*got 'fast'"),
    ("lr written 1e-3", optimizers("""\
        - optimizer: sgd
          lr: 1e-3
        """), "lr: 1e-3", r"optimizers\[0\]\.lr", r"must be a number.*got '1e-3' \(YAML reads this as text: write numbers like 1\.0e-3"),
    ("optimizers is a string", FUNCTION + "optimizers: sgd\n",
     "optimizers:", "optimizers", r"must be a list, got 'sgd'"),
    ("optimizer entry is a string", FUNCTION + "optimizers:\n  - sgd\n",
     "- sgd", r"optimizers\[0\]", r"must be a mapping \(key: value lines\), got 'sgd'"),
    ("optimizer entry without optimizer", FUNCTION + "optimizers:\n  - lr: 0.1\n",
     "- lr: 0.1", r"optimizers\[0\]", r"missing key 'optimizer'"),
    ("no functions", OPTIMIZER, None, "functions", r"required key is missing"),
    ("empty functions list", "functions: []\n" + OPTIMIZER,
     "functions: []", "functions", r"must have at least 1 entry, got \[\]"),
    ("start missing", functions("""\
        - function: paraboloid
          a: [1, 2]
        """), "- function: paraboloid", r"functions\[0\]\.start", r"required key is missing"),
    ("start is text", functions("""\
        - function: paraboloid
          start: origin
        """), "start: origin", r"functions\[0\]\.start", r"must be a point \[x1, x2, \.\.\.\], a list of points, or \{random: .*got 'origin'"),
    ("bool hyperparameter is text", optimizers("""\
        - optimizer: sgd
          momentum: 0.9
          nesterov: yes please
        """), "nesterov:", r"optimizers\[0\]\.nesterov", r"must be true or false.*got 'yes please'"),
    ("choice typo", optimizers("""\
        - optimizer: adam
          state_init: first_grad
        """), "state_init:", r"optimizers\[0\]\.state_init", r"must be 'zeros' or 'first_gradient'.*got 'first_grad'"),
    ("function parameter is text", functions("""\
        - function: paraboloid
          a: [x, 1]
          start: [1, 1]
        """), "a: [x, 1]", r"functions\[0\]\.a", r"must be a number or a list of numbers, got \['x', 1\]"),
    # sweeps
    ("linspace with two numbers", optimizers("""\
        - optimizer: sgd
          lr: {linspace: [0.1, 0.2]}
        """), "lr:", r"optimizers\[0\]\.lr", r"linspace takes \[start, stop, num\].*got \[0\.1, 0\.2\]"),
    ("linspace with num 0", optimizers("""\
        - optimizer: sgd
          lr: {linspace: [0.1, 0.2, 0]}
        """), "lr:", r"optimizers\[0\]\.lr", r"linspace takes \[start, stop, num\] with a whole num >= 1, got \[0\.1, 0\.2, 0\]"),
    ("logspace with a negative endpoint", optimizers("""\
        - optimizer: sgd
          lr: {logspace: [-3, 1, 5]}
        """), "lr:", r"optimizers\[0\]\.lr", r"logspace takes positive start and stop values \(not exponents\), got \[-3, 1, 5\]"),
    ("empty sweep list", optimizers("""\
        - optimizer: sgd
          lr: []
        """), "lr: []", r"optimizers\[0\]\.lr", r"an empty list gives no values.*got \[\]"),
    ("both linspace and logspace", optimizers("""\
        - optimizer: sgd
          lr: {linspace: [0.1, 0.2, 3], logspace: [1, 2, 3]}
        """), "lr:", r"optimizers\[0\]\.lr", r"give one of linspace or logspace"),
    # intervals
    ("negative lr", optimizers("""\
        - optimizer: sgd
          lr: -1
        """), "lr: -1", r"optimizers\[0\]\.lr", r"lr must be in \[0, inf\), got -1\.0"),
    ("negative lr inside a sweep", optimizers("""\
        - optimizer: sgd
          lr: {linspace: [-0.5, 0.5, 3]}
        """), "lr:", r"optimizers\[0\]\.lr", r"lr must be in \[0, inf\), got -0\.5"),
    ("betas [1.0, 0.9]", optimizers("""\
        - optimizer: adam
          betas: [1.0, 0.9]
        """), "betas:", r"optimizers\[0\]\.betas", r"betas\[0\] must be in \[0, 1\), got 1\.0"),
    ("betas with three entries", optimizers("""\
        - optimizer: adam
          betas: [0.9, 0.99, 0.5]
        """), "betas:", r"optimizers\[0\]\.betas", r"must be a pair .*got \[0\.9, 0\.99, 0\.5\]"),
    ("negative eps", optimizers("""\
        - optimizer: adam
          eps: -1
        """), "eps: -1", r"optimizers\[0\]\.eps", r"eps must be in \[0, inf\), got -1\.0"),
    ("nan lr", optimizers("""\
        - optimizer: sgd
          lr: .nan
        """), "lr: .nan", r"optimizers\[0\]\.lr", r"lr must be in \[0, inf\), got nan"),
    ("target gap negative", "target: {gap: -1}\n" + FUNCTION + OPTIMIZER,
     "target:", r"target\.gap", r"must be > 0, got -1"),
    ("divergence factor below 1", "divergence: {factor: 0.5}\n" + FUNCTION + OPTIMIZER,
     "divergence:", r"divergence\.factor", r"must be > 1, got 0\.5"),
    # cross-parameter rules
    ("nesterov without momentum", optimizers("""\
        - optimizer: sgd
          nesterov: true
        """), "nesterov:", r"optimizers\[0\]\.nesterov",
     r"nesterov requires a momentum > 0 and zero dampening, got momentum=0 \(default\)"),
    ("nesterov with part of a momentum sweep at 0", optimizers("""\
        - optimizer: sgd
          momentum: [0.9, 0.0]
          nesterov: true
        """), "nesterov:", r"optimizers\[0\]\.nesterov",
     r"nesterov requires a momentum > 0 and zero dampening, got momentum=0,"),
    ("nesterov swept against a linspace momentum from 0", optimizers("""\
        - optimizer: sgd
          momentum: {linspace: [0.0, 0.9, 4]}
          nesterov: [false, true]
        """), "nesterov:", r"optimizers\[0\]\.nesterov", r"nesterov requires .*got momentum=0,.*nesterov=true"),
    # start points
    ("start point of the wrong dimension", functions("""\
        - function: paraboloid
          a: [1, 2]
          start: [1, 2, 3]
        """), "start:", r"functions\[0\]\.start", r"a start point needs 2 coordinates for this function, got 3"),
    ("second start point of the wrong dimension", functions("""\
        - function: paraboloid
          a: [1, 2]
          start: [[1, 2], [1, 2, 3]]
        """), "start:", r"functions\[0\]\.start\[1\]", r"a start point needs 2 coordinates for this function, got 3"),
    ("random box with low > high", functions("""\
        - function: paraboloid
          start: {random: 4, box: [[1, -1], [0, 1]]}
        """), "start:", r"functions\[0\]\.start\.box\[0\]", r"box needs low < high, got \[1\.0, -1\.0\]"),
    ("random box of the wrong dimension", functions("""\
        - function: paraboloid
          start: {random: 4, box: [[-1, 1]]}
        """), "start:", r"functions\[0\]\.start\.box", r"box needs \[low, high\] for each of 2 coordinates, got 1"),
    ("random box row of three", functions("""\
        - function: paraboloid
          start: {random: 4, box: [[-1, 0, 1], [0, 1]]}
        """), "start:", r"functions\[0\]\.start\.box\[0\]", r"must have at most 2 entries, got \[-1, 0, 1\]"),
    ("zero random starts", functions("""\
        - function: paraboloid
          start: {random: 0}
        """), "start:", r"functions\[0\]\.start\.random", r"must be >= 1, got 0"),
    ("target with gap and distance", "target: {gap: 1.0e-6, distance: 1.0e-3}\n" + FUNCTION + OPTIMIZER,
     "target:", "target", r"give either gap or distance, not both, got \{'gap': 1e-06, 'distance': 0\.001\}"),
    # function parameters the factory rejects
    ("paraboloid with a non-positive a", functions("""\
        - function: paraboloid
          a: [1, -2]
          start: [1, 1]
        """), "a: [1, -2]", r"functions\[0\]\.a", r"a must be > 0 in every coordinate, got \[1\.0, -2\.0\]"),
    ("paraboloid with a zero a", functions("""\
        - function: paraboloid
          a: [0, 2]
          start: [1, 1]
        """), "a: [0, 2]", r"functions\[0\]\.a", r"a must be > 0 in every coordinate, got \[0\.0, 2\.0\]"),
    ("quadratic with a non-symmetric A", functions("""\
        - function: quadratic
          A: [[1, 2], [0, 1]]
          start: [1, 1]
        """), "A: [[1, 2], [0, 1]]", r"functions\[0\]\.A", r"A must be symmetric, got \[\[1, 2\], \[0, 1\]\]"),
    ("rosenbrock in one dimension", functions("""\
        - function: rosenbrock
          dim: 1
          start: [1]
        """), "dim: 1", r"functions\[0\]\.dim", r"dim must be an integer >= 2, got 1"),
    # labels
    ("duplicate function labels", functions("""\
        - label: bowl
          function: paraboloid
          start: [1, 1]
        - label: bowl
          function: paraboloid
          start: [2, 2]
        """), "- label: bowl", r"functions\[1\]\.label", r"label 'bowl' is already used by functions\[0\]"),
    ("duplicate default optimizer labels", optimizers("""\
        - optimizer: sgd
        - optimizer: sgd
        """), "- optimizer: sgd", r"optimizers\[1\]\.label",
     r"default label 'sgd' is already used by optimizers\[0\]"),
]


def line_of(text: str, snippet: str, occurrence: int = -1) -> int:
    """1-based number of the (last, by default) line that contains ``snippet``."""
    numbers = [i + 1 for i, line in enumerate(text.splitlines()) if snippet in line]
    assert numbers, f"{snippet!r} not in the test's YAML"
    return numbers[occurrence]


def expected_pattern(name: str, text: str, snippet, path: str | None, rule: str) -> str:
    """file:line: path: rule; ``snippet`` is the text of the line, or its number."""
    if snippet is None:
        where = re.escape(name) + r"(:1)?"  # about the whole file
    else:
        line = snippet if isinstance(snippet, int) else line_of(text, snippet)
        where = re.escape(name) + f":{line}"
    return f"^{where}: " + (f"{path}: " if path else "") + rule


def test_table_is_large_enough():
    assert len(BAD_CONFIGS) >= 30


@pytest.mark.parametrize("case", BAD_CONFIGS, ids=[c[0] for c in BAD_CONFIGS])
def test_bad_config_message(tmp_path, case):
    _, text, snippet, path, rule = case
    file = tmp_path / "broken.yaml"
    file.write_text(text)
    with pytest.raises(ConfigError) as info:
        cfg.load(file)
    message = str(info.value)
    assert "\n" not in message
    assert re.match(expected_pattern("broken.yaml", text, snippet, path, rule), message), message
    for internal in ("pydantic", "Input should", "list[float]", "url", "Traceback"):
        assert internal not in message


@pytest.mark.parametrize("case", BAD_CONFIGS, ids=[c[0] for c in BAD_CONFIGS])
def test_bad_config_through_cli(tmp_path, case):
    _, text, snippet, path, rule = case
    file = tmp_path / "broken.yaml"
    file.write_text(text)
    out = tmp_path / "results"
    result = CliRunner().invoke(cli, ["run", str(file), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert re.match(expected_pattern("broken.yaml", text, snippet, path, rule), lines[0][7:]), lines[0]
    assert not out.exists()


def test_non_utf8_file(tmp_path):
    file = tmp_path / "binary.yaml"
    file.write_bytes(b"\xff\xfe\x00name: x\n")
    with pytest.raises(ConfigError, match=r"binary\.yaml: not a text file \(UTF-8 expected\)$"):
        cfg.load(file)


def test_yaml_tags_that_build_objects_are_rejected():
    text = "name: !!python/object/apply:os.system ['true']\n" + FUNCTION + OPTIMIZER
    with pytest.raises(ConfigError, match=r"^c\.yaml:1: invalid YAML: could not determine a constructor"):
        cfg.loads(text, source="c.yaml")


# ---------------------------------------------------------------------------------------------
# Good configs


def test_shipped_config_loads():
    config = cfg.load(SHIPPED)
    assert config.name == "paraboloid"
    assert [f.label for f in config.functions] == ["isotropic", "elongated"]
    assert len(config.optimizers) == 18


def test_sweeps_expand_to_the_grid_in_documented_order():
    text = optimizers("""\
        - optimizer: adam
          betas: [{linspace: [0.0, 0.9, 4]}, [0.99, 0.999]]
          lr: {logspace: [0.001, 10, 5]}
          amsgrad: [false, true]
        """)
    config = cfg.loads(text)
    entry = config.optimizers[0]
    lr = [0.001, 0.01, 0.1, 1.0, 10.0]  # logspace endpoints are values, not exponents
    beta1 = [0.0, 0.3, 0.6, 0.9]
    beta2 = [0.99, 0.999]
    amsgrad = [False, True]
    np.testing.assert_allclose(entry.hyperparameters["lr"].values, lr, rtol=1e-15)
    np.testing.assert_allclose(entry.hyperparameters["betas"][0].values, beta1, rtol=1e-15)
    assert entry.hyperparameters["lr"].scale == "log"
    assert entry.hyperparameters["betas"][0].scale == "linear"
    assert entry.hyperparameters["betas"][1].scale == "list"
    # The grid follows the optimizer's signature order (as `optbench list` shows it), whatever
    # the order of the keys in the YAML: the first hyperparameter varies slowest.
    order = [name for name in OPTIMIZERS["adam"].hyperparameters if name in ("lr", "betas", "amsgrad")]
    assert order == ["lr", "betas", "amsgrad"]
    points, swept = expand_grid(entry.hyperparameters)
    assert swept == ["lr", "betas[0]", "betas[1]", "amsgrad"]
    expected = [
        {"lr": a, "betas": (b1, b2), "amsgrad": m}
        for a, b1, b2, m in itertools.product(lr, beta1, beta2, amsgrad)
    ]
    assert len(points) == 5 * 4 * 2 * 2
    for got, want in zip(points, expected):
        assert got["amsgrad"] == want["amsgrad"]
        np.testing.assert_allclose(got["lr"], want["lr"], rtol=1e-15)
        np.testing.assert_allclose(got["betas"], want["betas"], rtol=1e-15)
    # A run batches the points of each boolean / choice option together (they select the
    # variant of the algorithm): groups follow the grid within each option, options in order.
    groups = plan(config).groups
    by_option = sorted(expected, key=lambda p: amsgrad.index(p["amsgrad"]))
    assert len(groups) == len(by_option)
    for g, want in zip(groups, by_option):
        assert g.hyperparameters["amsgrad"] == want["amsgrad"]
        np.testing.assert_allclose(g.hyperparameters["lr"], want["lr"], rtol=1e-15)
        np.testing.assert_allclose(g.hyperparameters["betas"], want["betas"], rtol=1e-15)
    assert [g.setting() for g in groups[:2]] == [
        "lr=0.001, betas[0]=0, betas[1]=0.99, amsgrad=false",
        "lr=0.001, betas[0]=0, betas[1]=0.999, amsgrad=false",
    ]


def test_default_labels():
    text = textwrap.dedent("""\
        functions:
          - function: rosenbrock
            start: [-1, 1]
        optimizers:
          - optimizer: adam
          - optimizer: sgd
            lr: 0.5
            momentum: 0.1
          - optimizer: sgd
            lr: [0.1, 0.2]
            nesterov: true
            momentum: 0.9
          - optimizer: adam
            betas: [0.1, 0.999]
            bias_correction: false
        """)
    config = cfg.loads(text)
    assert config.functions[0].label == "rosenbrock"
    assert [o.label for o in config.optimizers] == [
        "adam",
        "sgd(lr=0.5, momentum=0.1)",
        "sgd(momentum=0.9, nesterov=true)",
        "adam(betas=(0.1, 0.999), bias_correction=false)",
    ]


def test_default_name_is_the_file_stem(tmp_path):
    file = tmp_path / "my-bench.yaml"
    file.write_text(FUNCTION + OPTIMIZER)
    assert cfg.load(file).name == "my-bench"
    file.write_text("name: given\n" + FUNCTION + OPTIMIZER)
    assert cfg.load(file).name == "given"


def test_seed_override(tmp_path):
    file = tmp_path / "c.yaml"
    file.write_text("seed: 7\n" + FUNCTION + OPTIMIZER)
    assert cfg.load(file).seed == 7
    assert cfg.load(file, seed=11).seed == 11
    assert cfg.load(file, seed=0).seed == 0
    file.write_text(FUNCTION + OPTIMIZER)
    assert cfg.load(file).seed == 0


def test_seed_override_changes_random_starts(tmp_path):
    file = tmp_path / "c.yaml"
    file.write_text(functions("""\
        - function: paraboloid
          start: {random: 3}
        """))
    x1 = plan(cfg.load(file, seed=1)).batches[0].x0
    x2 = plan(cfg.load(file, seed=2)).batches[0].x0
    x1_again = plan(cfg.load(file, seed=1)).batches[0].x0
    np.testing.assert_array_equal(x1, x1_again)
    assert not np.array_equal(x1, x2)
    assert np.all((x1 >= -7) & (x1 <= 7))  # the paraboloid's box


def test_hash_is_stable_and_ignores_name_description_and_layout():
    base = cfg.loads(FUNCTION + OPTIMIZER)
    assert base.hash() == cfg.loads(FUNCTION + OPTIMIZER).hash()
    assert re.fullmatch(r"[0-9a-f]{64}", base.hash())
    renamed = cfg.loads("name: other\ndescription: words\n" + FUNCTION + OPTIMIZER)
    assert renamed.hash() == base.hash()
    reformatted = FUNCTION.replace("a: [0.2, 2.0]", "a: [0.2,   2.0]   # comment") + OPTIMIZER
    assert cfg.loads(reformatted).hash() == base.hash()
    # The same values written differently: an integer and its float, a list of one value.
    assert cfg.loads(FUNCTION + OPTIMIZER.replace("lr: 0.1", "lr: [0.1]")).hash() == base.hash()


CHANGES = [
    ("seed: 1\n", None, None),
    ("steps: 999\n", None, None),
    ("target: {gap: 1.0e-5}\n", None, None),
    ("target: {distance: 1.0e-6}\n", None, None),
    ("divergence: {factor: 1.0e+5}\n", None, None),
    ("divergence: {gap: 1.0e+10}\n", None, None),
    ("record: 2\n", None, None),
    ("", "a: [0.2, 2.0]", "a: [0.2, 2.5]"),
    ("", "c: -5", "c: -4"),
    ("", "start: [5.1, 2.3]", "start: [5.1, 2.4]"),
    ("", "label: elongated", "label: elongated2"),
    ("", "lr: 0.1", "lr: 0.2"),
    ("", "lr: 0.1", "lr: 0.1\n    momentum: 0.5"),
    ("", "label: steepest descent", "label: gd"),
    ("", "optimizer: sgd", "optimizer: adam"),
]


@pytest.mark.parametrize("prefix, old, new", CHANGES)
def test_hash_changes_when_any_value_changes(prefix, old, new):
    base = FUNCTION + OPTIMIZER
    changed = prefix + (base.replace(old, new) if old else base)
    assert changed != base
    assert cfg.loads(changed).hash() != cfg.loads(base).hash()


# ---------------------------------------------------------------------------------------------
# JSON Schema


def _check_schema_by_hand(schema: dict, data: dict) -> None:
    """The config's keys are the schema's properties and every required key is present."""
    props = schema["properties"]
    assert set(data) <= set(props)
    assert set(schema["required"]) <= set(data)
    defs = schema["$defs"]
    for entry in data["optimizers"]:
        model = defs[f"Optimizer_{entry['optimizer']}"]
        assert model["additionalProperties"] is False
        assert set(entry) <= set(model["properties"])
    for entry in data["functions"]:
        model = defs[f"Function_{entry['function']}"]
        assert set(entry) <= set(model["properties"])
        assert set(model.get("required", [])) <= set(entry)


def test_schema_command_prints_valid_json_schema():
    import yaml

    result = CliRunner().invoke(cli, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema == cfg.json_schema()
    data = yaml.safe_load(SHIPPED.read_text())
    _check_schema_by_hand(schema, data)
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    assert list(validator.iter_errors(data)) == []
    # and it rejects what load rejects by shape: a typo'd key and an unknown optimizer
    typo = {**data, "stpes": 3}
    assert list(validator.iter_errors(typo))
    bad = {**data, "optimizers": [{"optimizer": "adamm"}]}
    assert list(validator.iter_errors(bad))
