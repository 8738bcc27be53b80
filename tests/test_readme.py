"""The README as a new user meets it: every ``python`` block, pasted in order into one fresh Python session in a
fresh folder, runs; and every repository path it names exists."""

import os
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).parents[1]
README = (ROOT / "README.md").read_text()
TOP_LEVEL = sorted(path.name for path in ROOT.iterdir() if not path.name.startswith(".") or path.name == ".ci")


def python_blocks(text: str) -> list[str]:
    """The bodies of the ```python fenced blocks, in order."""
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


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


def test_readme_python_blocks_run_in_one_fresh_session(tmp_path):
    blocks = python_blocks(README)
    assert len(blocks) >= 4
    script = tmp_path / "readme_session.py"
    script.write_text("\n\n".join(blocks))
    env = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"} | {"MPLBACKEND": "Agg"}
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=1500)
    assert done.returncode == 0, f"README session failed:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
    lines = [line.split() for line in done.stdout.splitlines()]
    first_words = {words[0] for words in lines if words}
    # the NumPyro recipe's summary() and arviz.summary show the model's sites by name
    assert {"mu", "tau", "theta[0]"} <= first_words, done.stdout
    assert any(words[:1] == ["mu"] and len(words) > 5 for words in lines)  # arviz.summary's row
    assert (tmp_path / "eight_schools.npz").is_file()


def test_readme_names_only_files_that_exist():
    paths = named_paths(README)
    assert "docs/variance_vs_alpha.png" in paths and "tests/interop/test_nuts.py" in paths  # the scan sees them
    missing = sorted(path for path in paths if not (ROOT / path).exists())
    assert not missing, f"README names paths that are not in the repository: {missing}"
