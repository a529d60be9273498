"""The command line, through click's CliRunner: exit codes, one-line errors, complete results."""

from __future__ import annotations

import errno
import inspect
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from optbench import results as results_module
from optbench.cli import cli
from optbench.functions import FUNCTIONS
from optbench.optimizers import OPTIMIZERS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = None

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "configs" / "paraboloid.yaml"
WIDE = {"COLUMNS": "200"}

TINY = """\
name: tiny
steps: 50
functions:
  - label: bowl
    function: paraboloid
    a: [1.0, 1.0]
    start: {random: 3, box: [[-1, 1], [-1, 1]]}
optimizers:
  - optimizer: sgd
    lr: [0.1, 1.5]
"""


@pytest.fixture
def tiny(tmp_path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return path


def invoke(*args, env=None):
    return CliRunner().invoke(cli, [str(a) for a in args], env=env)


def one_error_line(result) -> str:
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.output
    return lines[0][len("error: "):]


def sweep_size(value, pair: bool = False) -> int:
    """Values a hyperparameter takes, read from the YAML; a pair (betas) sweeps each component."""
    if pair:
        return sweep_size(value[0]) * sweep_size(value[1])
    if isinstance(value, dict):
        return next(iter(value.values()))[2]
    if isinstance(value, list):
        return len(value)
    return 1


def expected_counts(path: Path) -> tuple[int, int]:
    """(trials, groups) of a config, counted from its YAML by the rules in the README."""
    data = yaml.safe_load(path.read_text())
    starts = {}
    for f in data["functions"]:
        start = f["start"]
        starts[f["label"]] = (start["random"] if isinstance(start, dict)
                              else len(start) if isinstance(start[0], list) else 1)
    trials = groups = 0
    for o in data["optimizers"]:
        grid = 1
        hypers = OPTIMIZERS[o["optimizer"]].hyperparameters
        for key, value in o.items():
            if key in hypers:
                grid *= sweep_size(value, pair=hypers[key].kind == "pair")
        for label in o.get("functions", list(starts)):
            groups += grid
            trials += grid * starts[label]
    return trials, groups


# ---------------------------------------------------------------------------------------------
# run


def test_run_shipped_config_writes_a_complete_run(tmp_path):
    out = tmp_path / "results"
    result = invoke("run", SHIPPED, "--out", out, env=WIDE)
    assert result.exit_code == 0, result.output
    runs = list((out / "paraboloid").iterdir())
    assert len(runs) == 1
    run_dir = runs[0]
    # The results, the reports, and the plots: two per panel (figs 8.1-8.6), a sweep plot per
    # function (its lr sweeps), a map per two-hyperparameter sweep and function, one ECDF and
    # one performance profile (eight entries ran on both functions).
    plots = ([f"{kind}-0{i}-fig-8-{i}.png" for i in range(1, 7) for kind in ("paths", "gaps")]
             + [f"sweep-{f}-lr.png" for f in ("isotropic", "elongated")]
             + [f"map-{f}-{m}.png" for f in ("isotropic", "elongated")
                for m in ("momentum-lr-x-momentum", "adam-lr-x-beta1")]
             + ["ecdf.png", "profile.png"])
    assert sorted(p.name for p in run_dir.iterdir()) == sorted(
        ["summary.json", "trajectories.npz", "trials.npz", "report.html", "report.md"] + plots)
    assert re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{8}", run_dir.name)
    trials, groups = expected_counts(SHIPPED)
    assert (trials, groups) == (1043, 1043)
    first = result.stdout.splitlines()[0]
    assert re.fullmatch(rf"paraboloid: {trials} trials in {groups} groups, 1000 steps each, \d+\.\d\d s", first)
    assert result.stdout.rstrip().endswith(f"saved to {run_dir}")
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["schema_version"] == results_module.SCHEMA_VERSION
    assert summary["trials"] == trials and len(summary["groups"]) == groups
    assert summary["seed"] == 0
    assert run_dir.name.endswith(summary["config_hash"][:8])
    with np.load(run_dir / "trials.npz") as npz:
        assert len(npz["status"]) == trials
    loaded = results_module.load(run_dir)
    assert len(loaded.groups) == groups
    # nothing but the run: no temporary directory left beside it
    assert [p.name for p in (out / "paraboloid").iterdir()] == [run_dir.name]


def test_run_quiet_prints_only_the_path(tiny, tmp_path):
    out = tmp_path / "out"
    result = invoke("run", tiny, "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    path = Path(result.stdout.strip())
    assert result.stdout == f"{path}\n"
    assert path.parent == out / "tiny"
    assert (path / "summary.json").is_file()


def test_run_out_and_seed(tiny, tmp_path):
    for seed in (3, 4):
        result = invoke("run", tiny, "--out", tmp_path / "elsewhere", "--seed", seed, "-q")
        assert result.exit_code == 0, result.output
        summary = json.loads((Path(result.stdout.strip()) / "summary.json").read_text())
        assert summary["seed"] == seed
        assert summary["config"]["seed"] == seed
    runs = sorted((tmp_path / "elsewhere" / "tiny").iterdir())
    assert len(runs) == 2
    # the seed draws the random start points: different seeds, different trajectories
    first, second = (results_module.load(r) for r in runs)
    assert not np.array_equal(first.trajectories[0].points[:, 0], second.trajectories[0].points[:, 0])


def test_run_missing_config_is_one_line_exit_2(tmp_path):
    out = tmp_path / "out"
    result = invoke("run", tmp_path / "nope.yaml", "--out", out)
    assert result.exit_code == 2
    assert one_error_line(result) == f"{tmp_path / 'nope.yaml'}: cannot read: No such file or directory"
    assert not out.exists()


def test_run_directory_as_config_is_one_line_exit_2(tmp_path):
    result = invoke("run", tmp_path, "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert one_error_line(result) == f"{tmp_path}: cannot read: Is a directory"


def test_run_unwritable_out_is_one_line_exit_1(tiny, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = invoke("run", tiny, "--out", blocker / "results")
    assert result.exit_code == 1
    assert one_error_line(result) == f"cannot write results to {blocker / 'results'}: {blocker} is not a directory"
    result = invoke("run", tiny, "--out", blocker)
    assert result.exit_code == 1
    assert one_error_line(result).startswith(f"cannot write results to {blocker}:")


def test_failure_while_writing_leaves_no_directory(tiny, tmp_path, monkeypatch):
    def write_then_fail(results, directory):
        (directory / "summary.json").write_text("{}")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(results_module, "write_into", write_then_fail)
    out = tmp_path / "out"
    result = invoke("run", tiny, "--out", out)
    assert result.exit_code == 1
    assert one_error_line(result) == f"cannot write results to {out}: No space left on device"
    assert not out.exists()
    # an existing --out directory stays, empty
    out.mkdir()
    result = invoke("run", tiny, "--out", out)
    assert result.exit_code == 1
    assert list(out.iterdir()) == []


# ---------------------------------------------------------------------------------------------
# list, version, help


def table_rows(text: str) -> list[list[str]]:
    """Cells of every body line of the rich tables in ``text``."""
    return [[c.strip() for c in line.split("│")[1:-1]] for line in text.splitlines()
            if line.startswith("│")]


def parse_default(text: str):
    if text in ("true", "false"):
        return text == "true"
    if text.startswith("["):
        return tuple(float(v) for v in text.strip("[]").split(","))
    try:
        return float(text)
    except ValueError:
        return text


def test_list_optimizers_shows_every_hyperparameter_and_default():
    result = invoke("list", "optimizers", env=WIDE)
    assert result.exit_code == 0
    assert "Functions" not in result.stdout
    titles = [line.split(":")[0] for line in result.stdout.splitlines() if re.match(r"^\w+: ", line)]
    assert titles == list(OPTIMIZERS)
    rows = table_rows(result.stdout)
    assert "…" not in result.stdout
    expected = [(h.name, h.default, h.doc) for spec in OPTIMIZERS.values()
                for h in spec.hyperparameters.values()]
    assert [r[0] for r in rows] == [name for name, _, _ in expected]
    for row, (name, default, doc) in zip(rows, expected):
        got = parse_default(row[1])
        if isinstance(default, tuple):
            np.testing.assert_allclose(got, default, rtol=1e-6)
        elif isinstance(default, float):
            assert got == pytest.approx(default, rel=1e-6), name
        else:
            assert got == default, name
        assert row[3] == doc


def test_list_functions_shows_every_parameter_and_default():
    result = invoke("list", "functions", env={"COLUMNS": "320"})  # one line per function
    assert result.exit_code == 0
    assert "Optimizers" not in result.stdout and "hyperparameter" not in result.stdout
    rows = table_rows(result.stdout)
    assert [r[0] for r in rows] == list(FUNCTIONS)
    for row, spec in zip(rows, FUNCTIONS.values()):
        params = dict(p.split("=", 1) for p in re.split(r", (?=\w+=)", row[2]) if p)
        signature = inspect.signature(spec.factory).parameters
        assert list(params) == list(signature)
        for name, p in signature.items():
            if p.default is None:
                assert params[name] == "—"
            elif p.default is inspect.Parameter.empty:
                assert params[name] == "required"
            else:  # printed to 6 significant digits
                np.testing.assert_allclose(json.loads(params[name]), p.default, rtol=5e-6)


def test_list_all_is_functions_optimizers_and_schedules():
    both = invoke("list", env=WIDE)
    assert both.exit_code == 0
    assert both.stdout == "".join(invoke("list", what, env=WIDE).stdout
                                  for what in ("functions", "optimizers", "schedules"))


def test_list_at_80_columns_cuts_no_name():
    result = invoke("list", env={"COLUMNS": "80"})
    assert result.exit_code == 0
    assert "…" not in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    for spec in OPTIMIZERS.values():
        for name in spec.hyperparameters:
            assert re.search(rf"│ {name} +│", result.stdout), name


def test_list_rejects_an_unknown_subject():
    result = invoke("list", "optimisers")
    assert result.exit_code == 2


@pytest.mark.skipif(tomllib is None, reason="tomllib needs Python 3.11")
def test_version_matches_the_package_metadata():
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    for flag in ("--version", "-V"):
        result = invoke(flag)
        assert result.exit_code == 0
        assert result.stdout == f"optbench, version {version}\n"


@pytest.mark.parametrize("args, words", [
    (["-h"], ["run", "list", "schema"]),
    (["--help"], ["run", "list", "schema"]),
    (["run", "-h"], ["CONFIG", "--out", "--seed", "--quiet", "[default: results]"]),
    (["list", "-h"], ["functions", "optimizers", "all"]),
])
def test_help(args, words):
    result = invoke(*args)
    assert result.exit_code == 0
    assert result.stdout.startswith("Usage: ")
    for word in words:
        assert word in result.stdout


def test_unknown_option_is_a_usage_error():
    result = invoke("run", "--frobnicate")
    assert result.exit_code == 2
    assert "No such option" in result.stderr


def test_expected_counts_reads_grids():
    # the helper above, on a grid it must multiply out: 3 lr x (2 x 2) betas x 2 functions
    text = TINY.replace("  - optimizer: sgd\n    lr: [0.1, 1.5]\n",
                        "  - optimizer: adam\n    lr: {logspace: [0.01, 1, 3]}\n"
                        "    betas: [[0.0, 0.9], [0.99, 0.999]]\n")
    data = yaml.safe_load(text)
    assert sweep_size(data["optimizers"][0]["lr"]) == 3
    assert sweep_size(data["optimizers"][0]["betas"], pair=True) == 4
