"""report.html / report.md, `optbench run` writing them, and `optbench plot` redrawing them."""

from __future__ import annotations

import base64
import json
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner
from plot_support import CONFIG, make_run

from optbench.cli import cli
from optbench.report import page, plots
from optbench.results import load

EXPECTED_PLOTS = ["paths-01-fig-a.png", "gaps-01-fig-a.png", "sweep-bowl-lr.png",
                  "map-bowl-heavy-ball.png", "sweep-round-lr.png", "ecdf.png"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("report"))


class _Page(HTMLParser):
    """Collects tags, attributes, the text of figcaptions and tables, and checks nesting."""

    VOID = frozenset({"meta", "img", "br", "hr", "link", "input"})

    def __init__(self):
        super().__init__()
        self.stack, self.attrs, self.captions, self.rows = [], [], [], []
        self.tables = 0
        self._caption = None

    def handle_starttag(self, tag, attrs):
        self.attrs.append((tag, dict(attrs)))
        self.tables += tag == "table"
        if tag == "figcaption":
            self._caption = []
        if tag == "tr":
            self.rows.append([])
        if tag == "td":
            self.rows[-1].append("")
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1:]}>"
        self.stack.pop()
        if tag == "figcaption":
            self.captions.append("".join(self._caption))
            self._caption = None

    def handle_data(self, data):
        if self._caption is not None:
            self._caption.append(data)
        if self.stack and self.stack[-1] == "td":
            self.rows[-1][-1] += data


def test_run_writes_plots_and_reports_into_the_run_directory(run_dir):
    names = sorted(p.name for p in run_dir.iterdir())
    assert names == sorted(EXPECTED_PLOTS + ["report.html", "report.md", "summary.json",
                                             "trials.npz", "trajectories.npz"])
    for name in EXPECTED_PLOTS:
        assert (run_dir / name).read_bytes().startswith(PNG_SIGNATURE)
    assert not list(run_dir.parent.glob(".*"))  # no temporary directory left behind


def test_html_report_is_valid_self_contained_and_shows_every_plot(run_dir):
    text = (run_dir / "report.html").read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    parsed = _Page()
    parsed.feed(text)
    parsed.close()
    assert parsed.stack == []  # every element closed
    # Nothing outside the file: every src/href is a data: URI or an anchor.
    for tag, attrs in parsed.attrs:
        for key in ("src", "href"):
            if key in attrs:
                assert attrs[key].startswith(("data:", "#")), (tag, attrs[key][:40])
    assert "url(" not in text and "@import" not in text
    images = [attrs["src"] for tag, attrs in parsed.attrs if tag == "img"]
    assert len(images) == len(EXPECTED_PLOTS)
    for src, name in zip(images, EXPECTED_PLOTS):
        prefix = "data:image/png;base64,"
        assert src.startswith(prefix)
        assert base64.b64decode(src[len(prefix):]) == (run_dir / name).read_bytes()
    figures = plots.figures(load(run_dir))
    assert len(parsed.captions) == len(figures)
    for plot, caption in zip(figures, parsed.captions):
        assert caption == f"{plot.title}. {plot.caption}"


def test_reports_start_with_metadata_and_the_run_tables(run_dir):
    text = (run_dir / "report.html").read_text(encoding="utf-8")
    summary = json.loads((run_dir / "summary.json").read_text())
    parsed = _Page()
    parsed.feed(text)
    assert text.index(summary["config_hash"]) < text.index("<h2>Summary</h2>") < text.index("<img")
    from optbench.report.tables import run_tables

    tables = run_tables(load(run_dir))
    assert parsed.tables == len(tables)
    # The settings table of the bowl: status and step counts as the terminal shows them (the
    # closed form gives 45 steps for lr 0.4 and divergence at step 15 for lr 0.6).
    rows = {tuple(row[:2]): row[2:6] for row in parsed.rows if row}
    assert rows["sd", "lr=0.1"] == ["unfinished", "—", "—", "—"]
    assert rows["", "lr=0.4"] == ["converged", "45", "45", "—"]
    assert rows["", "lr=0.6"] == ["diverged", "—", "—", "15"]
    markdown = (run_dir / "report.md").read_text(encoding="utf-8")
    assert markdown.index(summary["config_hash"]) < markdown.index("## Summary")
    assert "|   | lr=0.4 | converged | 45 | 45 | — |" in markdown
    assert "|   | lr=0.6 | diverged | — | — | 15 |" in markdown
    for plot in plots.figures(load(run_dir)):
        assert f"![{plot.title}]({plot.name}.png)" in markdown
        assert plot.caption in markdown


def test_plot_command_reproduces_the_same_files(run_dir, tmp_path):
    before = {p.name: p.read_bytes() for p in run_dir.iterdir()}
    for name in EXPECTED_PLOTS + ["report.html", "report.md"]:
        (run_dir / name).unlink()
    (run_dir / "stale-old-plot.png").write_bytes(PNG_SIGNATURE)
    result = CliRunner().invoke(cli, ["plot", str(run_dir)])
    assert result.exit_code == 0, result.output
    assert f"{len(EXPECTED_PLOTS)} plots" in result.output
    after = {p.name: p.read_bytes() for p in run_dir.iterdir()}
    assert sorted(after) == sorted(before)
    for name in EXPECTED_PLOTS:
        assert after[name] == before[name], name  # drawing is deterministic
    assert after["summary.json"] == before["summary.json"]


def test_no_plots_writes_results_only(tmp_path):
    run = make_run(tmp_path, plots=False)
    assert sorted(p.name for p in run.iterdir()) == ["summary.json", "trajectories.npz",
                                                      "trials.npz"]


def test_a_failed_drawing_leaves_no_run_directory(tmp_path, monkeypatch):
    def broken(results):
        raise RuntimeError("drawing failed")

    monkeypatch.setattr(plots, "figures", broken)
    (tmp_path / "tiny.yaml").write_text(CONFIG)
    result = CliRunner().invoke(cli, ["run", str(tmp_path / "tiny.yaml"), "--out",
                                      str(tmp_path / "out"), "-q"])
    assert result.exit_code != 0
    assert not (tmp_path / "out").exists()  # neither the run nor the directories made for it


def test_plot_command_on_a_directory_without_results(tmp_path):
    result = CliRunner().invoke(cli, ["plot", str(tmp_path)])
    assert result.exit_code == 2
    assert result.output.strip() == f"error: {tmp_path}: not a run directory (no summary.json)"


def test_render_reports_what_it_wrote(run_dir, tmp_path):
    rendered = page.render(load(run_dir), tmp_path)
    assert rendered.plots == EXPECTED_PLOTS
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(rendered.files)
    assert Path(tmp_path / "report.html").stat().st_size > 0
