"""The notebooks: each executes end to end at a small size (SRMC_NOTEBOOK_SCALE=0.05, on a copy whose outputs are
cleared in memory), and the stored ones carry their outputs (so a reader on GitHub sees them) without a traceback.

Re-store them after editing: execute each in place at its stored size (SRMC_NOTEBOOK_SCALE unset), e.g.
``jupyter nbconvert --execute --to notebook --inplace notebooks/*.ipynb``.
"""

import pathlib
import re

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = sorted((pathlib.Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))
MAX_BYTES = 300_000
PLACEHOLDER = re.compile(r"\b[A-Z]+_SENTENCE\b")


def _code_cells(notebook):
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def _output_texts(output):
    if output.output_type == "stream":
        yield output.text
    elif output.output_type == "error":
        yield "\n".join(output.traceback)
    else:
        yield from (value for key, value in output.get("data", {}).items() if key.startswith("text/"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, monkeypatch):
    monkeypatch.setenv("SRMC_NOTEBOOK_SCALE", "0.05")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(path, as_version=4)
    for cell in _code_cells(notebook):
        cell.outputs, cell.execution_count = [], None
    # raises CellExecutionError (with the cell and its traceback) if a cell fails
    nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}}).execute()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_stored_notebook_has_outputs(path):
    assert path.stat().st_size < MAX_BYTES, f"{path.name} is {path.stat().st_size} bytes: store it at a smaller size"
    notebook = nbformat.read(path, as_version=4)
    cells = _code_cells(notebook)
    counts = [cell.execution_count for cell in cells]
    assert counts == list(range(1, len(cells) + 1)), f"{path.name}: not executed top to bottom in one go: {counts}"
    outputs = [output for cell in cells for output in cell.outputs]
    assert any("image/png" in output.get("data", {}) for output in outputs), f"{path.name}: no figure stored"
    for output in outputs:
        assert output.output_type != "error", f"{path.name}: stored error {output.ename}: {output.evalue}"
        for text in _output_texts(output):
            assert "Traceback (most recent call last)" not in text, f"{path.name}: stored traceback:\n{text}"
            assert "Warning:" not in text, f"{path.name}: a warning leaked into the outputs:\n{text}"
    for index, cell in enumerate(notebook.cells):  # every result is followed by a sentence saying what it shows
        if cell.cell_type == "code" and cell.outputs:
            following = notebook.cells[index + 1] if index + 1 < len(notebook.cells) else None
            assert following is not None and following.cell_type == "markdown", (
                f"{path.name}: the output of code cell {index} is not followed by a markdown cell")
    for cell in notebook.cells:
        assert not PLACEHOLDER.search(cell.source), f"{path.name}: placeholder left: {cell.source[:80]!r}"
