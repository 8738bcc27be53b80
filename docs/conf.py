"""Sphinx configuration of srmc's documentation site.

Build: ``sphinx-build -W -b html docs _site`` (warnings are errors: a broken reference fails the build). The
notebooks are rendered from their stored outputs (myst-nb, ``nb_execution_mode = "off"``); ``tests/test_notebooks.py``
executes them at a small size, so the site never runs a sampler.
"""

import importlib.util
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

project = "srmc"
author = "srmc contributors"
copyright = "2026, srmc contributors"
try:
    from importlib.metadata import version as _version

    release = _version("srmc")
except Exception:  # the site can be built from a checkout without an install
    release = "0.1.0"
version = release

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
]
for _optional in ("sphinx_copybutton",):
    if importlib.util.find_spec(_optional) is not None:
        extensions.append(_optional)

# ".rst" first: autosummary writes its generated pages with the first suffix
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "_site", "**.ipynb_checkpoints", "Thumbs.db", ".DS_Store"]

# Notebooks: rendered from their stored outputs (executed by tests/test_notebooks.py, stored at full size).
nb_execution_mode = "off"
nb_execution_cache_path = str(pathlib.Path(__file__).parent / "_build" / ".jupyter_cache")
myst_enable_extensions = ["dollarmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
highlight_language = "text"  # unlabelled blocks are program output

autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": False}
autodoc_typehints = "description"
autodoc_member_order = "bysource"
napoleon_google_docstring = True
napoleon_numpy_docstring = True
# Docstrings are written for `help()`: single backquotes name code, not Sphinx roles.
default_role = "code"
nitpicky = False
suppress_warnings = [
    # docstrings written for help() use `name` spans; their headings and duplicated NamedTuple fields are not
    # reader-facing problems
    "autosummary.import_cycle",
    # the reproductions' tables (docs/reproduce/*/*.md) are written by `srmc reproduce` without a title; they
    # are reached from docs/reproduce/README.md, not from the navigation
    "toc.no_title",
]

if importlib.util.find_spec("sphinx_book_theme") is not None:
    html_theme = "sphinx_book_theme"
    html_theme_options = {
        "show_toc_level": 2,
        "use_download_button": False,
        "home_page_in_toc": True,
    }
else:  # a plain build still works without the theme installed
    html_theme = "alabaster"
html_title = f"srmc {release}"
html_static_path = []

napoleon_use_ivar = True


def _skip_namedtuple_fields(app, what, name, obj, skip, options):
    """NamedTuple fields are documented by their class's Attributes section, not as 'Alias for field number N'."""
    doc = getattr(obj, "__doc__", None) or ""
    if doc.startswith("Alias for field number"):
        return True
    if name in ("count", "index") and what == "class":
        return True
    return None


def _rst_problems(text: str) -> bool:
    """Whether `text` parses as reStructuredText with a warning or an error (Sphinx's roles aside)."""
    import docutils.core

    text = re.sub(r":[a-z]+(:[a-z]+)?:(?=`)", "", text)  # Sphinx's roles (napoleon's :class:) are not docutils'
    try:
        document = docutils.core.publish_doctree(
            text, settings_overrides={"report_level": 1, "halt_level": 5, "warning_stream": False,
                                      "file_insertion_enabled": False, "raw_enabled": False})
    except Exception:
        return True
    if any(node.tagname == "problematic" for node in document.traverse()):
        return True
    messages = [*document.traverse(), *getattr(document, "parse_messages", []),
                *getattr(document, "transform_messages", [])]
    return any(node.tagname == "system_message" and int(node.get("level", 0)) >= 2 for node in messages)


def _escape_plain_text(text: str) -> str:
    """Markup characters of plain-text maths (|z|, x_, a * b) escaped for reStructuredText."""
    text = text.replace("|", "\\|")
    text = re.sub(r"(\w)_(?=[\s.,;:)\]]|$)", r"\1\\_", text, flags=re.M)
    # `Partial`s: a word character right after a code span ends it only when escaped
    return re.sub(r"(`[^`]+`)(\w?)", lambda m: m.group(1) + ("\\ " + m.group(2) if m.group(2) else ""), text)


def _literal_if_not_rst(app, what, name, obj, options, lines):
    """Docstrings are written for help(): where one is not clean reStructuredText, escape its plain-text maths, and
    where that is not enough show it as written (a literal block) instead of failing the build on its markup."""
    if not lines:
        return
    text = "\n".join(lines)
    if not _rst_problems(text):
        return
    escaped = _escape_plain_text(text)
    if not _rst_problems(escaped):
        lines[:] = escaped.split("\n")
        return
    first = re.sub(r"[`*|]", "", text.split("\n", 1)[0])  # a summary line for autosummary's tables
    lines[:] = [first, "", "::", ""] + ["    " + line for line in text.split("\n")]


def setup(app):
    app.connect("autodoc-skip-member", _skip_namedtuple_fields)
    app.connect("autodoc-process-docstring", _literal_if_not_rst, priority=900)
