"""The report of a run: its PNG plots, ``report.html`` and ``report.md``, from saved results.

``report.html`` is one self-contained file (every image embedded as a base64 ``data:`` URI, the
styles inline, no external file or URL), so that it can be attached to a CI job as it is.
``report.md`` sits beside the PNGs and links them by file name. Both start with the run's
metadata and the tables ``optbench run`` prints (:func:`~optbench.report.tables.run_tables`,
converted, not recomputed), then show every plot with a caption on how to read it.
"""

from __future__ import annotations

import base64
import html
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from rich.table import Table
from rich.text import Text

from ..results import Results
from . import plots as _plots
from .tables import run_tables

HTML_NAME = "report.html"
MARKDOWN_NAME = "report.md"


@dataclass
class Rendered:
    """What :func:`render` wrote: file names (in order) and the seconds it took."""

    plots: list[str]
    reports: list[str]
    seconds: float

    @property
    def files(self) -> list[str]:
        return self.plots + self.reports


# ---------------------------------------------------------------------------------------------
# Tables: rich Table -> rows of plain text


def _plain(cell) -> str:
    if isinstance(cell, Text):
        return cell.plain
    if isinstance(cell, str):
        return Text.from_markup(cell).plain
    return str(cell)


def table_rows(table: Table) -> tuple[str, list[str], list[list[str]], str]:
    """``(title, header, rows, caption)`` of a rich Table, as plain text."""
    header = [_plain(c.header) for c in table.columns]
    columns = [[_plain(cell) for cell in c.cells] for c in table.columns]
    rows = [list(row) for row in zip(*columns)]
    return _plain(table.title or ""), header, rows, _plain(table.caption or "")


def metadata(results: Results) -> list[tuple[str, str]]:
    """The run's metadata as (name, value) pairs, from ``summary.json``."""
    meta, config = results.meta, results.config
    target = config["target"]
    divergence = config["divergence"]
    versions = ", ".join(f"{k} {v}" for k, v in meta.get("versions", {}).items() if v)
    return [
        ("config", meta["name"] + (f" — {config['description'].strip()}"
                                   if config.get("description") else "")),
        ("started", str(meta.get("started", ""))),
        ("trials", f"{meta['trials']} in {len(results.groups)} groups, {meta['steps']} steps each"),
        ("precision", config.get("precision", "float64")),
        ("run time", f"{meta.get('seconds', float('nan')):.2f} s"),
        ("target", f"‖x − x*‖ ≤ {target['distance']:g}" if target.get("distance")
         else f"f − f* ≤ {(target.get('gap') or 1e-6):g}"),
        ("diverged when", "f − f* is not finite or exceeds "
         + (f"{divergence['gap']:g}" if divergence.get("gap")
            else f"{(divergence.get('factor') or 1e6):g} × its starting value")),
        ("seed", str(meta.get("seed", ""))),
        ("config hash", str(meta.get("config_hash", ""))),
        ("versions", versions),
        ("platform", str(meta.get("platform", ""))),
    ]


# ---------------------------------------------------------------------------------------------
# HTML and Markdown

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 1100px;
       margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.88em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
caption { caption-side: top; text-align: left; font-weight: bold; padding: 0.3em 0; }
p.note { font-size: 0.85em; color: #555; margin-top: -1.2em; }
figure { margin: 1.5em 0 2.5em; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.92em; color: #333; max-width: 900px; }
dl.meta { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; }
dl.meta dt { font-weight: bold; } dl.meta dd { margin: 0; }
"""


def _html_table(table: Table) -> str:
    title, header, rows, caption = table_rows(table)
    e = html.escape
    out = ["<table>", f"<caption>{e(title)}</caption>" if title else "",
           "<thead><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr></thead>",
           "<tbody>"]
    out += ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in rows]
    out.append("</tbody></table>")
    if caption:
        out.append(f'<p class="note">{e(caption)}</p>')
    return "\n".join(line for line in out if line)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_table(table: Table) -> str:
    title, header, rows, caption = table_rows(table)
    out = [f"**{title}**", ""] if title else []
    out.append("| " + " | ".join(_md_cell(h) for h in header) + " |")
    out.append("|" + "---|" * len(header))
    out += ["| " + " | ".join(_md_cell(c) or " " for c in row) + " |" for row in rows]
    if caption:
        out += ["", f"*{caption}*"]
    return "\n".join(out)


def html_report(results: Results, figures: list[tuple[_plots.Plot, bytes]]) -> str:
    """The self-contained HTML page: metadata, tables, and each PNG as a data URI."""
    e = html.escape
    parts = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             f"<title>optbench: {e(results.name)}</title>", f"<style>{_STYLE}</style>",
             "</head>", "<body>", f"<h1>optbench: {e(results.name)}</h1>", '<dl class="meta">']
    parts += [f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in metadata(results)]
    parts += ["</dl>", "<h2>Summary</h2>"]
    parts += [_html_table(t) for t in run_tables(results)]
    parts.append("<h2>Plots</h2>")
    for plot, png in figures:
        data = base64.b64encode(png).decode("ascii")
        parts += [f'<figure id="{e(plot.name)}">',
                  f'<img src="data:image/png;base64,{data}" alt="{e(plot.title)}">',
                  f"<figcaption><b>{e(plot.title)}.</b> {e(plot.caption)}</figcaption>",
                  "</figure>"]
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


def markdown_report(results: Results, figures: list[_plots.Plot]) -> str:
    """``report.md``: metadata, tables, and each plot linked by its file name beside it."""
    parts = [f"# optbench: {results.name}", ""]
    parts += [f"- **{k}**: {_md_cell(v)}" for k, v in metadata(results)]
    parts += ["", "## Summary", ""]
    for table in run_tables(results):
        parts += [_md_table(table), ""]
    parts += ["## Plots", ""]
    for plot in figures:
        parts += [f"### {plot.title}", "", f"![{plot.title}]({plot.name}.png)", "",
                  plot.caption, ""]
    return "\n".join(parts)


# ---------------------------------------------------------------------------------------------
# Writing


def render(results: Results, directory: str | Path) -> Rendered:
    """Write every plot as ``<name>.png``, then ``report.html`` and ``report.md``, into
    ``directory`` (which exists)."""
    started = time.perf_counter()
    directory = Path(directory)
    written = []
    for plot in _plots.figures(results):
        path = _plots.save_png(plot, directory)
        written.append((plot, path.read_bytes()))
        plot.figure.clear()  # free the figure's memory now: a sweep can have many
    (directory / HTML_NAME).write_text(html_report(results, written), encoding="utf-8")
    (directory / MARKDOWN_NAME).write_text(
        markdown_report(results, [p for p, _ in written]), encoding="utf-8")
    return Rendered(plots=[f"{p.name}.png" for p, _ in written],
                    reports=[HTML_NAME, MARKDOWN_NAME], seconds=time.perf_counter() - started)


def rerender(run_dir: str | Path) -> Rendered:
    """Render the plots and reports of a saved run again, from its saved results alone.

    The files are drawn in a temporary directory inside the run and moved into place once all
    are written, so an error leaves the previous plots untouched; PNGs the new rendering does
    not produce are removed.
    """
    from ..results import load

    run_dir = Path(run_dir)
    results = load(run_dir)
    tmp = run_dir / ".report.partial"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        rendered = render(results, tmp)
        for stale in run_dir.glob("*.png"):
            if stale.name not in rendered.plots:
                stale.unlink()
        for name in rendered.files:
            os.replace(tmp / name, run_dir / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return rendered
