"""The documentation site builds with warnings as errors (a broken reference, a page missing from every toctree, a
docstring the API reference cannot render all fail it), and its pages are what the README links to.

The build renders the notebooks from their stored outputs (``nb_execution_mode = "off"`` in docs/conf.py;
tests/test_notebooks.py executes them) and takes about 40 s on 2 cores.
"""

import pathlib
import re
import subprocess
import sys

import pytest

pytest.importorskip("sphinx")
pytest.importorskip("myst_nb")

ROOT = pathlib.Path(__file__).parents[1]
DOCS = ROOT / "docs"


def test_docs_build_with_warnings_as_errors(tmp_path):
    out = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", "-d", str(tmp_path / "doctrees"),
         str(DOCS), str(out)],
        cwd=tmp_path, capture_output=True, text=True, timeout=900,
    )
    assert done.returncode == 0, f"sphinx-build -W failed:\n{done.stdout[-4000:]}\n{done.stderr[-8000:]}"
    for page in ("index", "getting_started", "api", "changelog", "howto/own_model", "howto/graphs",
                 "howto/walk_jump", "explanation/safety", "benchmarks/index", "reproduce/index",
                 "notebooks/01_quickstart"):
        assert (out / f"{page}.html").is_file(), f"the site has no {page}.html"
    api = (out / "api.html").read_text()
    for name in ("srmc.sample", "srmc.wrap", "srmc.srrw", "srmc.hdt", "srmc.targets.from_numpyro"):
        assert name in api, f"the API reference lost {name}"


def test_every_markdown_link_in_the_readme_into_docs_is_a_page():
    readme = (ROOT / "README.md").read_text()
    links = [link for link in re.findall(r"\]\((docs/[^)\s#]+)", readme)]
    assert links
    for link in links:
        assert (ROOT / link).is_file(), f"README links to {link}, which is not a file"
