"""The README's set-up commands exist, and CI runs the README's test command verbatim."""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()


def bash_blocks(text: str) -> list[str]:
    return re.findall(r"```bash\n(.*?)```", text, flags=re.DOTALL)


def setup_commands() -> list[str]:
    """The two one-line set-up commands (install and run; install and test)."""
    blocks = [b.strip() for b in bash_blocks(README)]
    assert len(blocks) >= 2, "the README shows its two set-up commands as bash blocks"
    return blocks[:2]


def test_readme_has_two_setup_commands():
    run_command, test_command = setup_commands()
    assert run_command == "python3 -m pip install -e . && optbench run configs/paraboloid.yaml"
    assert test_command == "python3 -m pip install -e '.[test]' && python3 -m pytest"


def test_setup_commands_name_what_exists():
    if sys.version_info < (3, 11):  # pragma: no cover
        pytest.skip("tomllib needs Python 3.11")
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    run_command, test_command = setup_commands()
    # `optbench` is the installed script, pointing at a function that exists
    script = project["scripts"]["optbench"]
    module, func = script.split(":")
    assert module == "optbench.cli"
    from optbench import cli

    assert callable(getattr(cli, func))
    for word in shlex.split(run_command):
        if word.endswith(".yaml"):
            assert (REPO / word).is_file(), word
    # the `[test]` extra exists and brings pytest
    assert "[test]" in test_command
    assert any(dep.startswith("pytest") for dep in project["optional-dependencies"]["test"])
    assert (REPO / "tests").is_dir()


def test_ci_runs_the_readme_test_command_verbatim():
    _, test_command = setup_commands()
    ci = (REPO / ".ci" / "run").read_text()
    commands = [line.strip() for line in ci.splitlines()
                if line.strip() and not line.lstrip().startswith("#")]
    assert test_command in commands
