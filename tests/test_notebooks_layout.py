"""The notebooks as files: numbered, paired with jupytext, badge and setup cell, real outputs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jupytext
import pytest

from minigpt_helpers import REPO_SLUG

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
STAGES = ["01_cleaning", "02_tokenization", "03_dataset", "04_model", "05_training",
          "06_evaluation", "07_inference", "08_chat", "09_serving"]


def test_notebooks_exist_in_course_order() -> None:
    names = [nb.stem for nb in NOTEBOOKS]
    assert names, "no notebooks found"
    assert names == STAGES[: len(names)], f"notebooks must be {STAGES[:len(names)]}, found {names}"


def _cells(nb) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source.strip()) for c in nb.cells]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_paired_py_is_in_sync(path: Path) -> None:
    py = path.with_suffix(".py")
    assert py.is_file(), f"{py.name} is missing: run `python tasks.py sync`"
    from_ipynb = _cells(jupytext.read(path))
    from_py = _cells(jupytext.read(py))
    assert from_ipynb == from_py, (
        f"{path.name} and {py.name} differ: edit one, then run `python tasks.py sync`"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_badge_setup_cell_and_outputs(path: Path) -> None:
    nb = json.loads(path.read_text(encoding="utf-8"))
    cells = nb["cells"]
    first = "".join(cells[0]["source"])
    badge = f"https://colab.research.google.com/github/{REPO_SLUG}/blob/main/notebooks/{path.name}"
    assert badge in first, f"{path.name}: the first cell must carry the Open in Colab badge ({badge})"
    code = [c for c in cells if c["cell_type"] == "code"]
    setup = "".join(code[0]["source"])
    assert "google.colab" in setup and f'start("{path.stem}")' in setup, f"{path.name}: first code cell must be the setup cell"
    assert REPO_SLUG in setup
    errors = [c for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{path.name} holds an error output: re-run it with `python tasks.py outputs`"
    with_output = [c for c in code if c.get("outputs")]
    assert len(with_output) >= len(code) // 2, f"{path.name}: commit it with the outputs of a real run (`python tasks.py outputs`)"


@pytest.mark.parametrize("path", NOTEBOOKS + [p.with_suffix(".py") for p in NOTEBOOKS], ids=lambda p: p.name)
def test_no_development_paths(path: Path) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    assert not re.search(r"\.\./shared|/work/shared", text), f"{path.name} names the development copy of the data"
