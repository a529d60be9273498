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


class ProgressBar:
    """``progress(done, total)`` for the runner: a rich bar (trials done, rate, time left) on
    stderr, shown once a run has lasted a second, so that short runs stay quiet."""

    DELAY = 1.0

    def __init__(self, console, label: str):
        import time

        self.console, self.label = console, label
        self.started = time.perf_counter()
        self.bar = self.task = None

    def __call__(self, done: int, total: int) -> None:
        import time

        if self.bar is None:
            if done >= total or time.perf_counter() - self.started < self.DELAY:
                return
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(
                TextColumn("{task.description}"), BarColumn(bar_width=16),
                MofNCompleteColumn(), TextColumn("trials, {task.fields[rate]}, eta"),
                TimeRemainingColumn(), console=self.console, transient=True,
            )
            self.bar.start()
            self.task = self.bar.add_task(self.label, total=total, rate="")
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        self.bar.update(self.task, completed=done, rate=f"{done / elapsed:,.0f} trials/s")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def run_results(config, quiet: bool = False, execution: dict | None = None):
    """Run every trial of a loaded config and return its Results.

    A progress bar on a terminal (not with ``quiet``); ``execution`` holds the runner's
    ``workers``, ``chunk_trials``, ``dask`` and ``engine`` options.
    """
    from .plugins import UserCodeError
    from .results import from_run
    from .runner import run as run_config

    err = _stderr()
    started = _dt.datetime.now(_dt.timezone.utc)
    bar = None if quiet or not err.is_terminal else ProgressBar(err, f"running {config.name}")
    try:
        output = run_config(config, progress=bar, **(execution or {}))
    except UserCodeError as exc:  # a user-defined function or optimizer failed mid-run
        raise Failure(str(exc)) from None
    except OSError as exc:  # a Dask scheduler that cannot be reached
        raise Failure(f"cannot run on the Dask scheduler: {exc}") from None
    except RuntimeError as exc:
        raise Failure(str(exc)) from None
    finally:
        if bar is not None:
            bar.close()
    return from_run(config, output, started)


# CONFIG is a plain path: config.load reports a missing file or a directory in one line (exit 2),
# where click.Path(exists=True) would print a usage block.
@cli.command(context_settings=CONTEXT)
@click.argument("config_path", metavar="CONFIG", type=click.Path(path_type=Path))
@click.option("--out", "out_dir", type=click.Path(path_type=Path),
              default=Path("results"), show_default=True, help="Directory that receives the run.")
@click.option("--seed", type=int, default=None, help="Seed of every random choice (overrides the config's).")
@click.option("--quiet", "-q", is_flag=True, help="Print only the path of the saved run (no progress bar).")
@click.option("--plots/--no-plots", default=True, show_default=True,
              help="Draw the PNG plots, report.html and report.md into the run directory.")
@click.option("--workers", "-j", metavar="N", type=click.IntRange(min=1), default=None,
              help="Parallel workers: threads where every batch runs in a compiled kernel, else "
                   "processes.  [default: the cores available; small runs use one]")
@click.option("--dask", "dask_address", metavar="ADDRESS", default=None,
              help="Run the chunks on this Dask distributed scheduler (e.g. tcp://10.0.0.1:8786).")
@click.option("--engine", metavar="ENGINE", type=click.Choice(["auto", "numba", "numpy"]),
              default="auto", show_default=True,
              help="numba: compiled kernels wherever they cover a batch; numpy: the reference loop; "
                   "auto: kernels for large batches.")
@click.option("--chunk-size", "chunk_trials", metavar="N", type=click.IntRange(min=1), default=None,
              help="Trials per chunk (results do not depend on it).  [default: about 2^18 "
                   "coordinates]")
def run(config_path: Path, out_dir: Path, seed: int | None, quiet: bool, plots: bool,
        workers: int | None, dask_address: str | None, engine: str, chunk_trials: int | None):
    """Run every trial of CONFIG, print the tables and save the results (and plots).

    Trials run in chunks, on parallel workers (threads for compiled kernels, else processes) or
    on a Dask cluster; the results are the same whatever the chunking, the workers or the
    cluster.
    """
    from .report.tables import run_tables
    from .results import save

    rendered = []

    def draw(directory: Path):
        # Drawn from the files just written (reporters read saved results only), before the
        # run directory is renamed into place: it is complete, plots included, or absent.
        from .report.page import render
        from .results import load

        rendered.append(render(load(directory), directory))

    config = load_config(config_path, seed)
    check_writable(out_dir)
    results = run_results(config, quiet, {"workers": workers, "dask": dask_address,
                                          "engine": engine, "chunk_trials": chunk_trials})
    try:
        if plots and not quiet and _stderr().is_terminal:
            with _stderr().status("drawing plots…"):
                path = save(results, out_dir, finish=draw)
        else:
            path = save(results, out_dir, finish=draw if plots else None)
    except OSError as exc:
        raise Failure(f"cannot write results to {out_dir}: {exc.strerror or exc}") from None
    if quiet:
        click.echo(str(path))
        return
    out = _stdout()
    out.print(
        f"[bold]{config.name}[/]: {results.meta['trials']} trials in {len(results.groups)} groups, "
        f"{config.steps} steps each"
        + (f" in {config.precision}" if config.precision != "float64" else "")
        + f", {results.meta['seconds']:.2f} s"
    )
    for table in run_tables(results, width=out.width):
        out.print()
        out.print(table)
    out.print()
    if rendered:
        out.print(f"{len(rendered[0].plots)} plots and report.html, report.md "
                  f"in {rendered[0].seconds:.1f} s")
    out.print(f"saved to [bold]{path}[/]")


# RUN_DIR is a plain path, as CONFIG: results.load names a missing or wrong one in one line.
@cli.command(context_settings=CONTEXT)
@click.argument("run_dir", metavar="RUN_DIR", type=click.Path(path_type=Path))
def plot(run_dir: Path):
    """Draw the plots, report.html and report.md of a saved run again, from its saved results."""
    from .report.page import rerender
    from .results import ResultsError

    try:
        rendered = rerender(run_dir)
    except ResultsError as exc:
        raise BadInput(str(exc)) from None
    except OSError as exc:
        raise Failure(f"cannot write plots to {run_dir}: {exc.strerror or exc}") from None
    _stdout().print(f"{len(rendered.plots)} plots and report.html, report.md "
                    f"in {rendered.seconds:.1f} s: [bold]{run_dir}[/]", soft_wrap=True)


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


def schedule_tables() -> list[Table]:
    """One table per learning-rate schedule: its parameters, defaults, allowed values, meaning."""
    from .schedules import SCHEDULES

    tables = []
    for spec in SCHEDULES.values():
        table = Table(title=f"[bold]{spec.name}[/] (torch's {spec.torch_name}): {spec.summary}",
                      title_justify="left")
        table.add_column("parameter", style="bold", no_wrap=True)
        table.add_column("default", justify="right", no_wrap=True)
        table.add_column("allowed", overflow="fold")
        table.add_column("meaning", overflow="fold")
        for hyper in spec.hyperparameters.values():
            allowed = hyper.interval + (", whole" if hyper.kind == "int" else "")
            table.add_row(hyper.name, _default_text(hyper.default), allowed, hyper.doc)
        tables.append(table)
    return tables


@cli.command("list", context_settings=CONTEXT,
             short_help="List functions, optimizers and schedules with their defaults.")
@click.argument("what", type=click.Choice(["functions", "optimizers", "schedules", "all"]),
                default="all")
def list_(what: str):
    """List the functions, optimizers and learning-rate schedules, with their parameters and
    defaults. A schedule is an option of any built-in optimizer entry:
    `schedule: {name: step_lr, step_size: 30}`."""
    out = _stdout()
    if what in ("functions", "all"):
        out.print(functions_table())
    if what in ("optimizers", "all"):
        for table in optimizer_tables():
            out.print()
            out.print(table)
    if what in ("schedules", "all"):
        for table in schedule_tables():
            out.print()
            out.print(table)


@cli.command(context_settings=CONTEXT, short_help="Print the JSON Schema of config files.")
def schema():
    """Print the JSON Schema of config files (for editors' completion and checking)."""
    from .config import json_schema

    click.echo(json.dumps(json_schema(), indent=2))


def _results_for(config_path: Path | None, run_dir: Path | None, config=None):
    """The Results to make or check a baseline from: a saved run, or a fresh run of CONFIG
    (``config``, when the caller has loaded it already)."""
    from .results import ResultsError, load

    if config_path is None and run_dir is None:
        raise click.UsageError("give a CONFIG to run, or --run RUN_DIR to read a saved run")
    if config is None and config_path is not None:
        config = load_config(config_path, None)
    if run_dir is None:
        return run_results(config)
    try:
        results = load(run_dir)
    except ResultsError as exc:
        raise BadInput(str(exc)) from None
    if config is not None and results.meta.get("config_hash") != config.hash():
        raise BadInput(f"{run_dir}: this run was made from a different config than {config_path} "
                       f"(hash {str(results.meta.get('config_hash'))[:8]}, "
                       f"{config_path.name} has {config.hash()[:8]})")
    return results


def _default_baseline(config_name: str) -> Path:
    return Path("results") / "baselines" / f"{config_name}.json"


def _write_baseline(document: dict, path: Path) -> None:
    from .baseline import write

    try:
        write(document, path)
    except OSError as exc:
        raise Failure(f"cannot write the baseline {path}: {exc.strerror or exc}") from None


@cli.command("baseline", context_settings=CONTEXT)
@click.argument("config_path", metavar="[CONFIG]", required=False, type=click.Path(path_type=Path))
@click.option("--run", "run_dir", metavar="RUN_DIR", type=click.Path(path_type=Path),
              help="Make the baseline from this saved run instead of running CONFIG.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Baseline file to write or refresh.  [default: results/baselines/<config-name>.json]")
def baseline_(config_path: Path | None, run_dir: Path | None, output: Path | None):
    """Run CONFIG and write its baseline for `optbench check` (atomically: temp file + rename).

    The baseline holds, per group, the counts of each status and the steps to target and of
    divergence; commit it, and `optbench check` fails when a later run differs.
    """
    from .baseline import make

    results = _results_for(config_path, run_dir)
    path = output or _default_baseline(results.name)
    document = make(results)
    _write_baseline(document, path)
    counts = {k: sum(g[k] for g in document["groups"]) for k in ("converged", "unfinished", "diverged")}
    _stdout().print(
        f"[bold]{results.name}[/]: baseline of {len(document['groups'])} groups, "
        f"{results.meta['trials']} trials ({counts['converged']} converged, "
        f"{counts['unfinished']} unfinished, {counts['diverged']} diverged) written to [bold]{path}[/]"
    )


@cli.command(context_settings=CONTEXT)
@click.argument("config_path", metavar="[CONFIG]", required=False, type=click.Path(path_type=Path))
@click.option("--baseline", "baseline_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Baseline file.  [default: results/baselines/<config-name>.json]")
@click.option("--run", "run_dir", metavar="RUN_DIR", type=click.Path(path_type=Path),
              help="Check this saved run instead of running CONFIG.")
@click.option("--rtol", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Relative tolerance on step counts: |now - baseline| <= atol + rtol * baseline.")
@click.option("--atol", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Absolute tolerance on step counts, in steps.")
@click.option("--success-tol", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Largest change allowed in a group's success rate (and divergence rate).")
@click.option("--fail-on", type=click.Choice(["any", "regression"]), default="any", show_default=True,
              help="Fail on any difference, or on regressions only (improvements pass).")
@click.option("--update", is_flag=True,
              help="Show the differences, then rewrite the baseline with the new numbers (exit 0).")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON on stdout, no table.")
@click.option("--junit", "junit_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write a JUnit XML report there: one test case per group.")
def check(config_path, baseline_path, run_dir, rtol, atol, success_tol, fail_on, update, as_json,
          junit_path):
    """Run CONFIG and compare its convergence counts with a baseline.

    Exit 0 when they match, 1 when anything differs (or, with --fail-on regression, when
    something got worse), 2 on a bad config or baseline, or a baseline made from a different
    config. Differences are listed per group (function / optimizer / setting) with their
    baseline and new values and whether each is a regression or an improvement.
    """
    import time

    from .baseline import (
        BaselineError,
        DifferentConfig,
        Tolerances,
        compare,
        load,
        make,
        write_atomic,
    )
    from .report.tables import check_table

    started = time.perf_counter()
    if baseline_path is None and config_path is None:
        raise click.UsageError("give --baseline FILE (needed with --run and no CONFIG)")
    # A bad config is reported before the baseline is read.
    config = load_config(config_path, None) if config_path is not None else None
    if baseline_path is None:
        baseline_path = _default_baseline(config.name)
    if not baseline_path.is_file():
        raise BadInput(f"{baseline_path}: no such baseline; make one with "
                       f"`optbench baseline {config_path or 'CONFIG'} -o {baseline_path}`")
    try:
        base = load(baseline_path)
    except BaselineError as exc:
        raise BadInput(str(exc)) from None
    results = _results_for(config_path, run_dir, config)
    try:
        report = compare(base, results, Tolerances(rtol, atol, success_tol), fail_on,
                         baseline_path=str(baseline_path))
    except DifferentConfig as exc:
        if not update:
            raise BadInput(str(exc)) from None
        _write_baseline(make(results), baseline_path)
        click.echo(f"note: {exc}", err=True)
        _stdout().print(f"baseline {baseline_path} replaced with the numbers of {results.name}")
        return
    seconds = time.perf_counter() - started
    if junit_path is not None:
        try:
            write_atomic(junit_path, report.to_junit(seconds))
        except OSError as exc:
            raise Failure(f"cannot write {junit_path}: {exc.strerror or exc}") from None
    if update:
        _write_baseline(make(results), baseline_path)
    if as_json:
        click.echo(json.dumps({**report.to_json(), "seconds": round(seconds, 3),
                               "updated": update}, indent=1, ensure_ascii=False))
    else:
        out = _stdout()
        out.print(f"[bold]{results.name}[/]: {len(report.groups)} groups checked against "
                  f"{baseline_path} in {seconds:.2f} s", highlight=False)
        for note in report.notes:
            out.print(f"note: {note}", markup=False, highlight=False)
        if report.differences:
            out.print(check_table(report))
        style = "green" if report.passed else "red"
        out.print(f"[{style}]{report.summary_line()}[/]", highlight=False)
        if update:
            out.print(f"baseline {baseline_path} updated", highlight=False)
    if not report.passed and not update:
        click.get_current_context().exit(1)


def main(argv=None):
    """Entry point of the ``optbench`` script: no traceback reaches the user."""
    try:
        cli.main(args=argv, prog_name="optbench", standalone_mode=True)
    except KeyboardInterrupt:  # pragma: no cover - interactive
        click.echo("interrupted", err=True)
        sys.exit(130)
