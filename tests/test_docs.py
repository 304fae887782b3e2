"""The front page and the docs: every relative link, anchor and image resolves,
the README stays short with its two commands, and the notebooks run."""

import re

import pytest

from tests.helpers import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def slug(heading):
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to -."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(page):
    return {slug(line.lstrip("#")) for line in page.read_text().splitlines()
            if line.startswith("#")}  # fmt: skip


def links(page):
    """(target, anchor) of every relative link or image on the page, code left out."""
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.DOTALL)
    text = re.sub(r"`[^`]*`", "", text)
    for target in LINK.findall(text):
        if not re.match(r"[a-z]+://", target):
            path, _, anchor = target.partition("#")
            yield path, anchor


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_anchor_and_image_resolves(page):
    broken = []
    for path, anchor in links(page):
        target = (page.parent / path).resolve() if path else page
        if not target.exists():
            broken.append(f"{path} (no such file)")
        elif anchor and anchor not in anchors(target):
            broken.append(f"{path}#{anchor} (no such heading)")
    assert broken == []


def test_the_link_check_catches_a_broken_link(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Top\n\n[ok](#top) [gone](missing.md) ![pic](nope.png) "
                    "`[code](ignored.md)`\n")  # fmt: skip
    assert list(links(page)) == [("", "top"), ("missing.md", ""), ("nope.png", "")]


def test_the_readme_is_short_and_holds_its_two_commands():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 200
    for marker, command in (
        ("main-command", "python -m experiments.sweep"),
        ("test-command", "python -m pytest"),
    ):
        block = text.split(f"<!-- {marker} -->", 1)[1].split("```")[1].strip()
        assert block == (
            "python3 -m venv .venv && . .venv/bin/activate && pip install -r "
            f"requirements.txt && {command}"
        )


def test_a_stored_notebook_leaves_out_tensorflow_s_onednn_notice():
    """It shows on some CPUs only, so a notebook executed on one would store
    it; what else a cell writes to stderr is kept."""
    import nbformat

    from experiments.notebooks import without_onednn_notices

    notice = (
        "WARNING: All log messages before absl::InitializeLog() is called are "
        "written to STDERR\nI0000 00:00:1796687638.168744   11715 port.cc:153] "
        "oneDNN custom operations are on. You may see slightly different "
        "numerical results.\n"
    )
    cells = [
        nbformat.v4.new_code_cell(outputs=[
            nbformat.v4.new_output("stream", name="stderr", text=notice),
            nbformat.v4.new_output("stream", name="stdout", text="82.0%\n"),
        ]),
        nbformat.v4.new_code_cell(outputs=[
            nbformat.v4.new_output("stream", name="stderr", text=notice + "a warning\n"),
        ]),
        nbformat.v4.new_markdown_cell("text"),
    ]  # fmt: skip
    notebook = without_onednn_notices(nbformat.v4.new_notebook(cells=cells))
    assert [[(o["name"], o["text"]) for o in cell.get("outputs", [])]
            for cell in notebook.cells] == [
        [("stdout", "82.0%\n")], [("stderr", "a warning\n")], []]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("name", ["chapter", "write_your_own_optimizer"])
def test_the_notebooks_run_offline_and_show_their_figures(name):
    """Executed as `python -m experiments.notebooks` does, without writing it back."""
    from experiments.notebooks import execute

    notebook = execute(name, timeout=300)  # a cell that raises raises here
    shown = [out for cell in notebook.cells for out in cell.get("outputs", [])
             if out["output_type"] == "display_data"]  # fmt: skip
    figures = [out for out in shown if {"image/png", "image/gif"} & set(out["data"])]
    assert len(figures) >= (7 if name == "chapter" else 1)
    if name == "chapter":
        sections = figures_by_section(notebook)
        for section in ("Limit 1", "Limit 2", "Limit 3", "Limit 4",
                        "The road to Adam", "Adam"):  # fmt: skip
            assert any(
                title.startswith(section) and count for title, count in sections
            ), section
        assert [title for title, _ in sections][-2:] == [
            "Which optimizer should I use?", "Exercises"]  # fmt: skip
    errors = [out for cell in notebook.cells for out in cell.get("outputs", [])
              if out["output_type"] == "error"]  # fmt: skip
    assert errors == []


def figures_by_section(notebook):
    """[(a "## " heading, how many figures the code cells under it show)], in order."""
    sections = []
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            sections += [[line[3:], 0] for line in cell.source.splitlines()
                         if line.startswith("## ")]  # fmt: skip
        elif sections:
            sections[-1][1] += sum(
                "image/png" in out.get("data", {}) or "image/gif" in out.get("data", {})
                for out in cell.get("outputs", [])
            )
    return [tuple(section) for section in sections]
