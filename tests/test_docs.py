"""The documentation builds with warnings as errors, has no broken internal link, and opens in
headless Chromium without console messages."""

import shutil
import subprocess
import sys

import pytest
from conftest import REPO

sys.path.insert(0, str(REPO / "docs"))
import check_html  # noqa: E402

pytest.importorskip("sphinx")
pytest.importorskip("myst_parser")
pytest.importorskip("numpydoc")
pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def html(tmp_path_factory):
    out = tmp_path_factory.mktemp("docs") / "html"
    proc = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html", "-q",
                           str(REPO / "docs"), str(out)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return out


def test_docs_pages_and_api(html):
    for page in ("index", "getting_started", "user_guide", "coming_from", "method", "cli", "scaling", "examples",
                 "benchmarks", "api"):
        assert (html / f"{page}.html").is_file()
    api = (html / "api.html").read_text()
    import skgloss

    for name in skgloss.__all__:  # every public name is documented
        if name != "__version__":
            assert f'id="skgloss.{name}"' in api or f'id="skgloss.losses.{name}"' in api, name
    examples = (html / "examples.html").read_text()
    for script in (REPO / "examples").glob("*.py"):
        assert f"examples/{script.name}" in examples
    bench = (html / "benchmarks.html").read_text()
    assert "Training-step time over cross-entropy" in bench and "rendered at build time" in bench
    assert (html / "_images" / "method.png").is_file() or (html / "_static" / "method.png").is_file()


def test_the_method_page_is_what_docstrings_cite(html):
    """Docstrings cite the docs' own Method page by section; no file outside the repository is cited."""
    method = (html / "method.html").read_text()
    for section in ("The in-batch G-Loss", "The corpus graph", "The paper and the popular summary",
                    "Evaluation protocol"):
        assert section in method
    outside = [str(p.relative_to(REPO)) for folder in ("skgloss", "docs", "examples", "benchmarks")
               for p in (REPO / folder).rglob("*") if p.suffix in (".py", ".md", ".rst")
               and "_build" not in p.parts and "METHOD.md" in p.read_text()]
    assert outside == [] and "METHOD.md" not in (REPO / "README.md").read_text()


def test_no_broken_internal_links(html):
    assert check_html.broken_links(html) == []


def test_link_checker_catches_a_broken_link(tmp_path):
    (tmp_path / "a.html").write_text('<a href="b.html#x">b</a><a href="missing.html">m</a><p id="y"></p>')
    (tmp_path / "b.html").write_text('<p id="z"></p>')
    problems = {(link, why) for _, link, why in check_html.broken_links(tmp_path)}
    assert problems == {("b.html#x", "no such anchor"), ("missing.html", "no such file")}


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")
def test_pages_open_without_console_messages(html, tmp_path):
    assert check_html.console_messages(html) == []
    bad = tmp_path / "bad.html"
    bad.write_text("<html><body><script>undefinedFunction();</script></body></html>")
    assert any("undefinedFunction" in msg for _, msg in check_html.console_messages(tmp_path))


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")
def test_no_code_block_or_table_is_clipped(html, tmp_path):
    """At 1280 px every code block wraps and every table fits; a page without the stylesheet is caught."""
    assert check_html.clipped_blocks(html) == []
    (tmp_path / "bad.html").write_text("<html><body><div style='width:300px'><pre style='overflow:auto'>"
                                       + "x" * 400 + "</pre></div></body></html>")
    assert check_html.clipped_blocks(tmp_path) == [(tmp_path.joinpath("bad.html").relative_to(tmp_path), 1)]
