"""The README as a new user meets it: a front page of at most 150 lines whose commands and code run as pasted.

- Its ```python blocks, pasted in order into one fresh Python session in a fresh folder, run (default suite, in
  this environment, which has the README's install: ``pip install -e ".[all]"`` or ``.[dev]``).
- Its ```bash blocks are the two commands the README promises: install + the main job (whose ``srmc`` arguments
  the CLI accepts), and install + the tests, which is exactly what ``.ci/run`` runs.
- Every module the python blocks import is installed by the README's own install command (core dependencies and
  the ``[all]`` extra), and every repository path it names exists.
- The slow variant does it all in a fresh virtual environment, from a copy of the repository: the first bash block
  as pasted (install + main job at full size), then the python blocks with that environment's Python. (The second
  bash block, the whole test suite, is the suite this test is part of: it is not run from inside it.)
"""

import ast
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import sys
import tomllib

import pytest

ROOT = pathlib.Path(__file__).parents[1]
README = (ROOT / "README.md").read_text()
TOP_LEVEL = sorted(path.name for path in ROOT.iterdir() if not path.name.startswith(".") or path.name == ".ci")
MAX_LINES = 150
# import name -> distribution, for what the README's python blocks may import
PROVIDED_BY = {"blackjax": "blackjax", "arviz": "arviz", "tqdm": "tqdm", "matplotlib": "matplotlib",
               "sklearn": "scikit-learn"}
CORE_IMPORTS = {"srmc", "jax", "numpy", "numpyro", "optax", "networkx"}


def fenced_blocks(text: str, language: str) -> list[str]:
    """The bodies of the fenced blocks of `language`, in order."""
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.S | re.M)


def named_paths(text: str) -> set[str]:
    """Repository paths the README points at: link and image targets, and `code` spans that start with a
    top-level entry of the repository (``docs/...``, ``tests/...``) or leave it (``../...``)."""
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    prose = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)  # fenced blocks out: their backticks pair up
    words = [word.strip("\"'()[],") for span in re.findall(r"`([^`]+)`", prose) for word in span.split()]
    candidates = [path for path in links if not re.match(r"[a-z]+://|#", path)]
    candidates += [word for word in words
                   if word.startswith("../") or any(word.startswith(f"{entry}/") for entry in TOP_LEVEL)]
    return {path.split("#")[0].rstrip(".,;:") for path in candidates}


def install_extras(command: str) -> list[str]:
    """The extras a ``pip install -e ".[a,b]"`` command names."""
    return [extra for group in re.findall(r'\.\[([a-z0-9_,-]+)\]', command) for extra in group.split(",")]


def srmc_arguments(command: str) -> list[str]:
    """The arguments of the ``srmc ...`` command at the end of an ``a && b && srmc ...`` line."""
    last = command.strip().split("&&")[-1]
    words = shlex.split(last)
    assert words[0] == "srmc", f"the main job's last command is not srmc: {last!r}"
    return words[1:]


def test_readme_is_a_front_page():
    lines = README.splitlines()
    assert len(lines) <= MAX_LINES, f"README.md has {len(lines)} lines; at most {MAX_LINES}: move prose into docs/"
    assert lines[0].startswith("# ")
    headings = [line for line in lines if line.startswith("## ")]
    for needed in ("## Install and run the main job", "## Install and run the tests", "## Quickstart"):
        assert needed in headings, f"README.md lost its {needed!r} section"
    assert "docs/index.md" in README or "docs/getting_started.md" in README  # links into the documentation


def test_readme_bash_blocks_are_the_two_commands():
    main_job, tests = fenced_blocks(README, "bash")
    ci = (ROOT / ".ci" / "run").read_text()
    assert tests.strip().splitlines()[0] in ci, ".ci/run no longer runs the README's test command"
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for block in (main_job, tests):
        named = install_extras(block)
        assert named and set(named) <= set(extras), f"README extras {named}; pyproject has {sorted(extras)}"
    assert "all" in install_extras(main_job)
    from srmc.tools.cli import build_parser  # the main job's arguments are ones the CLI accepts

    arguments = build_parser().parse_args(srmc_arguments(main_job))
    assert arguments.command == "bench" and arguments.tilt == "score,linear,bounded"


def test_readme_python_imports_come_with_its_install_command():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    provided = " ".join(extras["all"])
    imported = set()
    for block in fenced_blocks(README, "python"):
        for node in ast.walk(ast.parse(block)):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module.split(".")[0])
    for name in sorted(imported - CORE_IMPORTS):
        assert name in PROVIDED_BY and PROVIDED_BY[name] in provided, (
            f"the README imports {name}, which `pip install -e \".[all]\"` does not install")


def _run_python_blocks(python: str, folder: pathlib.Path) -> subprocess.CompletedProcess:
    blocks = fenced_blocks(README, "python")
    script = folder / "readme_session.py"
    script.write_text("\n\n".join(blocks))
    env = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"} | {"MPLBACKEND": "Agg"}
    return subprocess.run([python, str(script)], cwd=folder, env=env, capture_output=True, text=True, timeout=1500)


def _check_session(done: subprocess.CompletedProcess) -> None:
    assert done.returncode == 0, f"README session failed:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
    lines = [line.split() for line in done.stdout.splitlines()]
    first_words = {words[0] for words in lines if words}
    assert {"x[0]", "mu", "tau", "theta[0]"} <= first_words, done.stdout  # both summaries, by coordinate and site
    assert any(words[:1] == ["mu"] and len(words) > 5 for words in lines)  # arviz.summary's row


def test_readme_python_blocks_run_in_one_fresh_session(tmp_path):
    assert len(fenced_blocks(README, "python")) >= 2
    _check_session(_run_python_blocks(sys.executable, tmp_path))


def test_readme_names_only_files_that_exist():
    paths = named_paths(README)
    assert "docs/benchmarks/main_job.md" in paths and "CHANGELOG.md" in paths  # the scan sees them
    missing = sorted(path for path in paths if not (ROOT / path).exists())
    assert not missing, f"README names paths that are not in the repository: {missing}"


@pytest.mark.slow
def test_readme_in_a_fresh_venv(tmp_path):
    """The first bash block as pasted (venv, install, main job), in a copy of the repository, then the python blocks
    with that venv's Python. Needs the package index (pip) and about 5-10 minutes on 2 cores."""
    copy = tmp_path / "srmc"
    ignored = shutil.ignore_patterns(".git", ".venv", "_site", "_build", "generated", "bench_out", "__pycache__",
                                     "*.egg-info", ".hypothesis", "jupyter_execute", ".jupyter_cache")
    shutil.copytree(ROOT, copy, ignore=ignored, symlinks=True)
    main_job = fenced_blocks(README, "bash")[0]
    env = {name: value for name, value in os.environ.items()
           if name not in ("PYTHONPATH", "VIRTUAL_ENV")} | {"MPLBACKEND": "Agg"}
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", main_job], cwd=copy, env=env, capture_output=True,
                          text=True, timeout=3000)
    assert done.returncode == 0, f"the main job failed:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
    assert "srmc[bounded]" in done.stdout and (copy / "bench_out" / "bench.json").is_file()
    session = tmp_path / "session"
    session.mkdir()
    _check_session(_run_python_blocks(str(copy / ".venv" / "bin" / "python"), session))
