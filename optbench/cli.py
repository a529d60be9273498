"""The ``optbench`` command line: parse, call the library, render. No maths here.

Exit codes: 0 success; 1 a failure while running or reading results; 2 a bad config, bad
results/baseline file or bad usage. Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import datetime as _dt
import inspect
import json
import os
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from . import __version__

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _stdout() -> Console:
    return Console()


def _stderr() -> Console:
    return Console(stderr=True)


class BadInput(click.ClickException):
    """A bad config or input file: exit 2, one line."""

    exit_code = 2

    def show(self, file=None):
        click.echo(f"error: {self.format_message()}", err=True)


class Failure(click.ClickException):
    """Any other failure: exit 1, one line."""

    def show(self, file=None):
        click.echo(f"error: {self.format_message()}", err=True)


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, "-V", "--version", prog_name="optbench")
def cli():
    """optbench: benchmark gradient-based optimizers on test functions.

    A YAML config names functions, optimizers and hyperparameter sweeps; `optbench run` runs
    every trial at once as NumPy arrays, prints tables of steps to convergence and
    divergence, and saves the results under results/.
    """


def load_config(path: Path, seed: int | None):
    from .config import ConfigError, load

    try:
        return load(path, seed=seed)
    except ConfigError as exc:
        raise BadInput(str(exc)) from None


def check_writable(out_dir: Path) -> None:
    """Fail before running, not after, when ``out_dir`` cannot receive a run: the nearest
    existing ancestor must be a directory this process may write into."""
    probe = out_dir.absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise Failure(f"cannot write results to {out_dir}: {probe} is not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise Failure(f"cannot write results to {out_dir}: {probe} is not writable")


# CONFIG is a plain path: config.load reports a missing file or a directory in one line (exit 2),
# where click.Path(exists=True) would print a usage block.
@cli.command(context_settings=CONTEXT)
@click.argument("config_path", metavar="CONFIG", type=click.Path(path_type=Path))
@click.option("--out", "out_dir", type=click.Path(path_type=Path),
              default=Path("results"), show_default=True, help="Directory that receives the run.")
@click.option("--seed", type=int, default=None, help="Seed of every random choice (overrides the config's).")
@click.option("--quiet", "-q", is_flag=True, help="Print only the path of the saved run.")
def run(config_path: Path, out_dir: Path, seed: int | None, quiet: bool):
    """Run every trial of CONFIG, print the tables and save the results."""
    from .report.tables import run_tables
    from .results import from_run, save
    from .runner import run as run_config

    config = load_config(config_path, seed)
    check_writable(out_dir)
    err = _stderr()
    started = _dt.datetime.now(_dt.timezone.utc)
    try:
        if quiet or not err.is_terminal:
            output = run_config(config)
        else:
            with err.status(f"running {config.name}…"):
                output = run_config(config)
        results = from_run(config, output, started)
        path = save(results, out_dir)
    except OSError as exc:
        raise Failure(f"cannot write results to {out_dir}: {exc.strerror or exc}") from None
    if quiet:
        click.echo(str(path))
        return
    out = _stdout()
    out.print(
        f"[bold]{config.name}[/]: {results.meta['trials']} trials in {len(results.groups)} groups, "
        f"{config.steps} steps each, {output.seconds:.2f} s"
    )
    for table in run_tables(results):
        out.print()
        out.print(table)
    out.print()
    out.print(f"saved to [bold]{path}[/]")


def _default_text(value) -> str:
    if value is inspect.Parameter.empty:
        return "required"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return "[" + ", ".join(_default_text(v) for v in value) + "]"
    if value is None:
        return "—"
    return f"{value:g}" if isinstance(value, float) else str(value)


def functions_table() -> Table:
    from .functions import FUNCTIONS

    table = Table(title="[bold]Functions[/]", title_justify="left")
    table.add_column("name", style="bold", no_wrap=True)
    table.add_column("formula", overflow="fold")
    table.add_column("parameters (defaults)", overflow="fold")
    table.add_column("description", overflow="fold")
    for spec in FUNCTIONS.values():
        params = ", ".join(f"{k}={_default_text(v)}" for k, v in spec.parameters().items())
        table.add_row(spec.name, spec.formula, params, spec.summary.replace("``", ""))
    return table


def optimizer_tables() -> list[Table]:
    """One table per optimizer: its hyperparameters, defaults, allowed values and meaning."""
    from .optimizers import OPTIMIZERS

    tables = []
    for spec in OPTIMIZERS.values():
        table = Table(title=f"[bold]{spec.name}[/]: {spec.summary}", title_justify="left")
        # Names and defaults are what a config's author types: never wrapped, never cut.
        table.add_column("hyperparameter", style="bold", no_wrap=True)
        table.add_column("default", justify="right", no_wrap=True)
        table.add_column("allowed", overflow="fold")
        table.add_column("meaning", overflow="fold")
        for hyper in spec.hyperparameters.values():
            allowed = (
                "true / false" if hyper.kind == "bool"
                else " / ".join(hyper.choices) if hyper.kind == "choice"
                else hyper.interval
            )
            table.add_row(hyper.name, _default_text(hyper.default), allowed, hyper.doc)
        tables.append(table)
    return tables


@cli.command("list", context_settings=CONTEXT, short_help="List functions and optimizers with their defaults.")
@click.argument("what", type=click.Choice(["functions", "optimizers", "all"]), default="all")
def list_(what: str):
    """List the functions and optimizers, with their parameters and defaults."""
    out = _stdout()
    if what in ("functions", "all"):
        out.print(functions_table())
    if what in ("optimizers", "all"):
        for table in optimizer_tables():
            out.print()
            out.print(table)


@cli.command(context_settings=CONTEXT, short_help="Print the JSON Schema of config files.")
def schema():
    """Print the JSON Schema of config files (for editors' completion and checking)."""
    from .config import json_schema

    click.echo(json.dumps(json_schema(), indent=2))


def main(argv=None):
    """Entry point of the ``optbench`` script: no traceback reaches the user."""
    try:
        cli.main(args=argv, prog_name="optbench", standalone_mode=True)
    except KeyboardInterrupt:  # pragma: no cover - interactive
        click.echo("interrupted", err=True)
        sys.exit(130)
