"""`optbench baseline` and `optbench check`: the CI regression gate on convergence counts.

Expected step counts come from closed forms (steepest descent on a paraboloid contracts each
coordinate by ``1 - 2 a_i lr`` per step) or from a plain one-trial reference loop (heavy ball),
never from optbench's own output.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from optbench import baseline as bl
from optbench.cli import cli
from optbench.optimizers import OPTIMIZERS, sgd

A = (0.2, 2.0)  # the book's elongated paraboloid 0.2 x^2 + 2 y^2 - 5
STARTS = ((5.1, 2.3), (-3.0, 1.0))
STEPS = 300
TARGET = 1e-6
FACTOR = 1e6

CONFIG = f"""\
name: tiny
seed: 0
steps: {STEPS}
target: {{gap: {TARGET}}}
divergence: {{factor: {FACTOR}}}
functions:
  - label: elongated
    function: paraboloid
    a: [0.2, 2.0]
    c: -5
    start: [[5.1, 2.3], [-3.0, 1.0]]
optimizers:
  - label: steepest descent
    optimizer: sgd
    lr: [0.1, 0.4, 0.51]
  - label: momentum
    optimizer: sgd
    lr: 0.5
    momentum: 0.1
  - label: defaults
    optimizer: sgd
"""


def gap(x):
    return sum(a * xi * xi for a, xi in zip(A, x))


def sgd_outcome(lr, x0, steps=STEPS):
    """(status, first step with gap <= target, divergence step) by the closed form
    x_k = (1 - 2 a lr)^k x_0 of steepest descent on the paraboloid."""
    bound = FACTOR * gap(x0)
    for k in range(1, steps + 1):
        g = gap([(1 - 2 * a * lr) ** k * xi for a, xi in zip(A, x0)])
        if not g <= bound:
            return "diverged", None, k
        if g <= TARGET:
            return "converged", k, None
    return "unfinished", None, None


def heavy_ball_steps(lr, momentum, x0, steps=STEPS):
    """First step with gap <= target of torch's heavy ball (b_1 = g_1, b_k = mu b + g),
    one coordinate at a time in plain Python."""
    x = list(x0)
    buf = [0.0, 0.0]
    for k in range(1, steps + 1):
        g = [2 * a * xi for a, xi in zip(A, x)]
        buf = g if k == 1 else [momentum * b + gi for b, gi in zip(buf, g)]
        x = [xi - lr * b for xi, b in zip(x, buf)]
        if gap(x) <= TARGET:
            return k
    return None


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("tiny.yaml").write_text(CONFIG)
    return tmp_path


def invoke(*args):
    # A wide terminal keeps each table row on one line.
    return CliRunner(env={"COLUMNS": "200"}).invoke(cli, list(args), catch_exceptions=False)


def make_baseline(path="base.json", config="tiny.yaml"):
    result = invoke("baseline", config, "-o", path)
    assert result.exit_code == 0, result.output
    return Path(path)


def check_json(*args):
    result = invoke("check", "tiny.yaml", "--baseline", "base.json", "--json", *args)
    return result, (json.loads(result.stdout) if result.exit_code in (0, 1) else None)


def edit_group(path, optimizer, setting_lr=None, **changes):
    data = json.loads(Path(path).read_text())
    for g in data["groups"]:
        if g["optimizer"] == optimizer and (setting_lr is None or g["swept"].get("lr") == setting_lr):
            g.update(changes)
    bl.write(data, path)


def group_of(data, optimizer, lr=None):
    return next(g for g in data["groups"]
                if g["optimizer"] == optimizer and (lr is None or g["swept"].get("lr") == lr))


# ---------------------------------------------------------------------------------------------
# Making a baseline


def test_baseline_records_each_trials_steps_as_the_closed_form_gives_them(project):
    result = invoke("baseline", "tiny.yaml", "-o", "base.json")
    outcomes = [sgd_outcome(lr, x0)[0] for lr in (0.1, 0.4, 0.51) for x0 in STARTS]
    outcomes += ["converged" if heavy_ball_steps(0.5, 0.1, x0) else "unfinished" for x0 in STARTS]
    outcomes += [sgd_outcome(1e-3, x0)[0] for x0 in STARTS]
    counts = [outcomes.count(s) for s in ("converged", "unfinished", "diverged")]
    assert counts == [6, 2, 2]
    assert ("tiny: baseline of 5 groups, 10 trials (6 converged, 2 unfinished, 2 diverged) "
            "written to base.json") in result.stdout
    data = json.loads(Path("base.json").read_text())
    assert data["format"] == "optbench-baseline" and data["schema_version"] == 1
    from optbench.config import load

    assert data["config_hash"] == load("tiny.yaml").hash()
    for lr in (0.1, 0.4, 0.51):
        outcomes = [sgd_outcome(lr, x0) for x0 in STARTS]
        g = group_of(data, "steepest descent", lr)
        assert g["trials"] == 2
        assert g["steps_to_target"] == [o[1] for o in outcomes]
        assert g["diverged_at"] == [o[2] for o in outcomes]
        for status in ("converged", "diverged", "unfinished"):
            assert g[status] == sum(o[0] == status for o in outcomes)
    # lr 0.51 > 1/max(a): both trials diverge; the first where the README says (step 182).
    assert group_of(data, "steepest descent", 0.51)["diverged_at"][0] == 182
    assert group_of(data, "momentum")["steps_to_target"] == [
        heavy_ball_steps(0.5, 0.1, x0) for x0 in STARTS]
    defaults = group_of(data, "defaults")  # torch's lr 1e-3 is far too small for 300 steps
    assert [sgd_outcome(1e-3, x0)[0] for x0 in STARTS] == ["unfinished"] * 2
    assert (defaults["unfinished"], defaults["steps_to_target"]) == (2, [None, None])


def test_baseline_is_byte_identical_when_remade_and_leaves_no_temporary_file(project):
    first = make_baseline("b/one.json").read_bytes()
    second = make_baseline("b/one.json").read_bytes()
    assert first == second
    assert [p.name for p in Path("b").iterdir()] == ["one.json"]
    assert (Path("b/one.json").stat().st_mode & 0o644) == 0o644


def test_default_baseline_path_is_results_baselines_config_name(project):
    result = invoke("baseline", "tiny.yaml")
    assert result.exit_code == 0
    assert Path("results/baselines/tiny.json").is_file()
    assert invoke("check", "tiny.yaml").exit_code == 0


# ---------------------------------------------------------------------------------------------
# Checking


def test_check_straight_after_baseline_passes(project):
    make_baseline()
    result = invoke("check", "tiny.yaml", "--baseline", "base.json")
    assert result.exit_code == 0, result.output
    assert "PASS: all 5 groups match the baseline" in result.stdout


def test_changed_hyperparameter_in_the_config_fails_with_its_row(project):
    make_baseline()
    Path("tiny.yaml").write_text(CONFIG.replace("momentum: 0.1", "momentum: 0.3"))
    before = [heavy_ball_steps(0.5, 0.1, x0) for x0 in STARTS]
    after = [heavy_ball_steps(0.5, 0.3, x0) for x0 in STARTS]
    assert before != after and all(before) and all(after)
    result, out = check_json()
    assert result.exit_code == 1
    changed = [i for i in range(2) if before[i] != after[i]]
    verdict = "improvement" if all(after[i] < before[i] for i in changed) else "regression"
    assert out["differences"] == [{
        "function": "elongated", "optimizer": "momentum", "setting": "-",
        "metric": f"steps to target, trial{'s' if len(changed) > 1 else ''} "
                  + ", ".join(map(str, changed)),
        "baseline": ", ".join(str(before[i]) for i in changed),
        "now": ", ".join(str(after[i]) for i in changed),
        "verdict": verdict, "fails": True,
    }]
    assert out["changed_entries"] == {"changed": ["momentum"]}
    table = invoke("check", "tiny.yaml", "--baseline", "base.json").stdout
    assert "config was edited since the baseline" in table
    row = next(line for line in table.splitlines() if "elongated / momentum" in line)
    assert "steps to target" in row and f"✗ {verdict}" in row


def test_changed_number_in_the_baseline_fails_with_its_row(project):
    make_baseline()
    k = sgd_outcome(0.4, STARTS[0])[1]
    edit_group("base.json", "steepest descent", 0.4,
               steps_to_target=[k - 1, sgd_outcome(0.4, STARTS[1])[1]])
    result, out = check_json()
    assert result.exit_code == 1
    assert [(d["optimizer"], d["setting"], d["metric"], d["baseline"], d["now"], d["verdict"])
            for d in out["differences"]] == [
        ("steepest descent", "lr=0.4", "steps to target, trial 0", str(k - 1), str(k), "regression")]
    assert out["result"] == "fail" and out["counts"] == {"regression": 1, "improvement": 0, "changed": 0}
    human = invoke("check", "tiny.yaml", "--baseline", "base.json")
    assert human.exit_code == 1
    assert "FAIL: 1 regression in 1 of 5 groups" in human.stdout


@pytest.mark.parametrize("options, passes", [
    ((), False),
    (("--atol", "1"), True),
    (("--atol", "0.5"), False),
    (("--rtol", "0.03"), True),   # one step in ~45: 2.2 %
    (("--rtol", "0.01"), False),
])
def test_step_tolerances(project, options, passes):
    make_baseline()
    k = sgd_outcome(0.4, STARTS[0])[1]
    assert 1 / 0.03 < k - 1 < 1 / 0.01  # the relative change lies between the two rtols
    edit_group("base.json", "steepest descent", 0.4,
               steps_to_target=[k - 1, sgd_outcome(0.4, STARTS[1])[1]])
    result, _ = check_json(*options)
    assert result.exit_code == (0 if passes else 1)


@pytest.mark.parametrize("success_tol, passes", [("0", False), ("0.4", False), ("0.5", True)])
def test_success_tolerance_on_status_counts(project, success_tol, passes):
    make_baseline()
    # Pretend one of the two default-lr trials had converged: the success rate moves by 1/2.
    edit_group("base.json", "defaults", converged=1, unfinished=1, steps_to_target=[250, None])
    result, out = check_json("--success-tol", success_tol)
    assert result.exit_code == (0 if passes else 1)
    if not passes:
        assert [(d["optimizer"], d["metric"], d["baseline"], d["now"], d["verdict"])
                for d in out["differences"]] == [
            ("defaults", "status", "1 conv · 1 unfi", "unfinished", "regression")]


def test_fail_on_regression_lets_an_improvement_pass(project):
    make_baseline()
    k = sgd_outcome(0.1, STARTS[0])[1]
    edit_group("base.json", "steepest descent", 0.1,
               steps_to_target=[k + 3, sgd_outcome(0.1, STARTS[1])[1]])
    result, out = check_json()
    assert result.exit_code == 1
    assert [(d["metric"], d["baseline"], d["now"], d["verdict"]) for d in out["differences"]] == [
        ("steps to target, trial 0", str(k + 3), str(k), "improvement")]
    result, out = check_json("--fail-on", "regression")
    assert result.exit_code == 0 and out["result"] == "pass"
    # ...but not a regression.
    edit_group("base.json", "steepest descent", 0.1,
               steps_to_target=[k - 3, sgd_outcome(0.1, STARTS[1])[1]])
    result, _ = check_json("--fail-on", "regression")
    assert result.exit_code == 1


def test_fewer_diverged_and_later_divergence_are_improvements(project):
    make_baseline()
    div = [sgd_outcome(0.51, x0)[2] for x0 in STARTS]
    edit_group("base.json", "steepest descent", 0.51, diverged_at=[div[0] + 5, div[1]])
    _, out = check_json()
    assert [(d["metric"], d["baseline"], d["now"], d["verdict"]) for d in out["differences"]] == [
        ("diverged at, trial 0", str(div[0] + 5), str(div[0]), "regression")]


def test_changed_optimizer_default_fails_with_a_readable_table(project, monkeypatch):
    make_baseline()
    # A change to sgd's default learning rate, as a code change would make it.
    spec = OPTIMIZERS["sgd"]
    monkeypatch.setitem(OPTIMIZERS, "sgd", dataclasses.replace(
        spec, factory=functools.partial(sgd, lr=0.6)))
    outcomes = [sgd_outcome(0.6, x0) for x0 in STARTS]
    assert [o[0] for o in outcomes] == ["diverged", "diverged"]
    result = invoke("check", "tiny.yaml", "--baseline", "base.json")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    row = next(line for line in lines if "elongated / defaults" in line)
    assert "status" in row and "unfinished" in row and "diverged" in row and "✗ regression" in row
    assert "FAIL: 1 regression in 1 of 5 groups (--fail-on any)" in result.stdout
    assert "Traceback" not in result.output


def test_large_group_records_quantiles_and_the_exact_mean(project):
    # 40 start points on a line: more than EXACT_TRIALS, so a summary instead of a list.
    starts = [(1.0 + 0.25 * i, 0.5) for i in range(40)]
    assert len(starts) > bl.EXACT_TRIALS
    text = CONFIG.replace("start: [[5.1, 2.3], [-3.0, 1.0]]", f"start: {[list(s) for s in starts]}")
    Path("tiny.yaml").write_text(text)
    data = json.loads(make_baseline().read_text())
    steps = sorted(sgd_outcome(0.4, x0)[1] for x0 in starts)
    n = len(steps)
    expected = {name: steps[max(math.ceil(q * n) - 1, 0)] for name, q in bl.QUANTILES.items()}
    expected["mean"] = sum(steps) / n
    assert group_of(data, "steepest descent", 0.4)["steps_to_target"] == expected
    assert invoke("check", "tiny.yaml", "--baseline", "base.json").exit_code == 0
    # One trial one step slower moves the mean: caught.
    edit_group("base.json", "steepest descent", 0.4,
               steps_to_target={**expected, "mean": (sum(steps) - 1) / n})
    result, out = check_json()
    assert result.exit_code == 1
    assert [(d["setting"], d["metric"], d["verdict"]) for d in out["differences"]] == [
        ("lr=0.4", "steps to target", "regression")]


def test_check_reads_a_saved_run(project):
    saved = invoke("run", "tiny.yaml", "--out", "res", "--quiet").stdout.strip()
    assert invoke("baseline", "--run", saved, "-o", "base.json").exit_code == 0
    assert invoke("check", "--run", saved, "--baseline", "base.json").exit_code == 0
    assert invoke("check", "tiny.yaml", "--run", saved, "--baseline", "base.json").exit_code == 0
    Path("other.yaml").write_text(CONFIG.replace("lr: 0.5", "lr: 0.45"))
    result = invoke("check", "other.yaml", "--run", saved, "--baseline", "base.json")
    assert result.exit_code == 2
    assert "this run was made from a different config than other.yaml" in result.stderr


def test_update_rewrites_the_baseline_so_the_next_check_passes(project):
    make_baseline()
    Path("tiny.yaml").write_text(CONFIG.replace("momentum: 0.1", "momentum: 0.3"))
    assert invoke("check", "tiny.yaml", "--baseline", "base.json").exit_code == 1
    result = invoke("check", "tiny.yaml", "--baseline", "base.json", "--update")
    assert result.exit_code == 0 and "baseline base.json updated" in result.stdout
    assert invoke("check", "tiny.yaml", "--baseline", "base.json").exit_code == 0
    assert Path("base.json").read_bytes() == make_baseline("fresh.json").read_bytes()
    assert sorted(p.name for p in Path(".").iterdir()) == ["base.json", "fresh.json", "tiny.yaml"]


def test_baseline_of_a_different_config_is_one_line_exit_2(project):
    make_baseline()
    Path("tiny.yaml").write_text(CONFIG.replace(f"steps: {STEPS}", "steps: 400"))
    result = invoke("check", "tiny.yaml", "--baseline", "base.json")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert "base.json was made from a different config" in result.stderr
    assert f"steps {STEPS} → 400" in result.stderr
    # A config with no group in common (every label renamed) says so too.
    Path("tiny.yaml").write_text(CONFIG.replace("label: ", "label: new "))
    result = invoke("check", "tiny.yaml", "--baseline", "base.json")
    assert result.exit_code == 2 and "function 'new elongated' added" in result.stderr


# ---------------------------------------------------------------------------------------------
# Bad baseline files


def _valid_text(tmp_path) -> str:
    return make_baseline(tmp_path / "valid.json").read_text()


BAD_BASELINES = {
    "empty": (lambda t: "", r"base\.json: empty file, not an optbench baseline"),
    "blank": (lambda t: "\n  \n", r"base\.json: empty file"),
    "truncated": (lambda t: t[: len(t) // 2], r"base\.json:\d+: not valid JSON: .*truncated\?"),
    "not json": (lambda t: "converged: 3\n", r"base\.json:1: not valid JSON: Expecting value"),
    "binary": (None, r"base\.json: not a text file"),
    "foreign object": (lambda t: '{"a": 1}',
                       r'not an optbench baseline \(a JSON object without "format": "optbench-baseline"\)'),
    "foreign list": (lambda t: "[1, 2]",
                     r"not an optbench baseline \(an array where a baseline is a JSON object\)"),
    "results summary": (lambda t: '{"schema_version": 1, "groups": []}', r"not an optbench baseline"),
    "future version": (lambda t: t.replace('"schema_version": 1', '"schema_version": 99'),
                       r"baseline schema version 99, this optbench .* reads 1"),
    "string count": (lambda t: t.replace('"converged": 2', '"converged": "2"', 1),
                     r"base\.json:\d+: groups\[\d\]\.converged: input should be a valid integer, got '2'"),
    "missing key": (lambda t: t.replace('"trials": 2, ', "", 1),
                    r"base\.json:\d+: groups\[0\]\.trials: required key is missing"),
    "bad hash": (lambda t: t.replace('"config_hash": "', '"config_hash": "zz', 1),
                 r"base\.json:\d+: config_hash: string should match pattern"),
    "inconsistent counts": (lambda t: t.replace('"converged": 2', '"converged": 1', 1),
                            r"groups\[0\]: converged \+ diverged \+ unfinished must equal trials \(2\), got 1 \+ 0 \+ 0"),
    "short list": (lambda t: t.replace('"diverged_at": [null, null]', '"diverged_at": [null]', 1),
                   r"groups\[0\]\.diverged_at: needs one entry per trial \(2\), got 1"),
}


@pytest.mark.parametrize("kind", list(BAD_BASELINES))
def test_bad_baseline_file_is_one_clear_line_exit_2(project, tmp_path, kind):
    import re

    make_text, pattern = BAD_BASELINES[kind]
    if make_text is None:
        Path("base.json").write_bytes(b"\xff\xfe\x00garbage")
    else:
        text = make_text(_valid_text(tmp_path / "v"))
        Path("base.json").write_text(text)
    for command in (("check", "tiny.yaml", "--baseline", "base.json"),
                    ("check", "tiny.yaml", "--baseline", "base.json", "--update")):
        result = invoke(*command)
        assert result.exit_code == 2, (kind, result.output)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
        assert re.search(pattern, lines[0]), lines[0]
        assert "Traceback" not in result.output
    if make_text is not None:
        assert Path("base.json").read_text() == text  # --update refused to touch it


def test_missing_baseline_names_the_command_that_makes_one(project):
    result = invoke("check", "tiny.yaml", "--baseline", "nope.json")
    assert result.exit_code == 2
    assert "nope.json: no such baseline; make one with `optbench baseline tiny.yaml" in result.stderr


def test_bad_tolerance_is_a_usage_error(project):
    make_baseline()
    assert invoke("check", "tiny.yaml", "--baseline", "base.json", "--rtol", "-1").exit_code == 2
    assert invoke("check", "tiny.yaml", "--baseline", "base.json", "--success-tol", "2").exit_code == 2


# ---------------------------------------------------------------------------------------------
# Machine-readable output


def test_junit_report_has_one_case_per_group_and_the_failures(project):
    make_baseline()
    k = sgd_outcome(0.4, STARTS[0])[1]
    edit_group("base.json", "steepest descent", 0.4,
               steps_to_target=[k - 1, sgd_outcome(0.4, STARTS[1])[1]])
    result = invoke("check", "tiny.yaml", "--baseline", "base.json", "--junit", "out/junit.xml")
    assert result.exit_code == 1
    root = ET.parse("out/junit.xml").getroot()
    cases = root.findall("./testsuite/testcase")
    assert [c.get("name") for c in cases] == [
        "steepest descent / lr=0.1", "steepest descent / lr=0.4", "steepest descent / lr=0.51",
        "momentum", "defaults"]
    assert {c.get("classname") for c in cases} == {"tiny.elongated"}
    failed = [c for c in cases if c.find("failure") is not None]
    assert [c.get("name") for c in failed] == ["steepest descent / lr=0.4"]
    failure = failed[0].find("failure")
    assert failure.get("message") == f"steps to target, trial 0: {k - 1} → {k} (regression)"
    assert root.get("tests") == "5" and root.get("failures") == "1"
    assert root.find("testsuite").get("failures") == "1"


def test_junit_report_is_accepted_by_junitparser(project):
    junitparser = pytest.importorskip("junitparser")
    make_baseline()
    edit_group("base.json", "momentum", steps_to_target=[1, 1])
    invoke("check", "tiny.yaml", "--baseline", "base.json", "--junit", "junit.xml")
    xml = junitparser.JUnitXml.fromfile("junit.xml")
    suites = list(xml) if isinstance(xml, junitparser.JUnitXml) else [xml]
    cases = [case for suite in suites for case in suite]
    assert len(cases) == 5
    failing = [c for c in cases if not c.is_passed]
    assert [c.name for c in failing] == ["momentum"]
    assert "steps to target, trials 0, 1: 1, 1 →" in failing[0].result[0].message


def test_json_output_is_only_json_on_stdout(project):
    make_baseline()
    result, out = check_json()
    assert result.exit_code == 0
    assert out["result"] == "pass" and out["differences"] == [] and out["groups"] == 5
    assert out["config"]["name"] == "tiny" and out["updated"] is False


def test_every_shipped_config_has_an_up_to_date_baseline():
    """`.ci/run` checks each configs/*.yaml against results/baselines/<name>.json: each must be
    there, valid, and made from the config as it is now (refresh with `optbench baseline`)."""
    from optbench.config import load

    root = Path(__file__).resolve().parents[1]
    configs = sorted((root / "configs").glob("*.yaml"))
    assert configs
    for path in configs:
        config = load(path)
        baseline_path = root / "results" / "baselines" / f"{config.name}.json"
        assert baseline_path.is_file(), f"{path.name}: no baseline; run `optbench baseline {path}`"
        data = bl.load(baseline_path)
        assert data["config_hash"] == config.hash(), (
            f"{baseline_path.name} was made from another version of {path.name}; "
            f"run `optbench baseline {path}` once the change is intended")
