"""The notebooks as files: numbered, paired with jupytext, badge and setup cell, real outputs;
one repository named everywhere (pyproject's [project.urls]), and `tasks.py repo` to move it."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from pathlib import Path

import jupytext
import pytest

from minigpt_helpers import REPO_SLUG

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
STAGES = ["01_cleaning", "02_tokenization", "03_dataset", "04_model", "05_training",
          "06_evaluation", "07_inference", "08_chat", "09_serving"]
# Each notebook installs only what it needs: the extras are 09's alone.
EXTRAS = {"09_serving": "[serve,export]"}


def _load_tasks():
    spec = importlib.util.spec_from_file_location("tasks_for_layout", ROOT / "tasks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tasks = _load_tasks()
DECLARED = tasks.declared_repo(ROOT)


def setup_cell(path: Path) -> str:
    """The source of a notebook's first code cell."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return "".join(next(c for c in cells if c["cell_type"] == "code")["source"])


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
    badge = f"https://colab.research.google.com/github/{DECLARED}/blob/main/notebooks/{path.name}"
    assert badge in first, f"{path.name}: the first cell must carry the Open in Colab badge ({badge})"
    code = [c for c in cells if c["cell_type"] == "code"]
    setup = "".join(code[0]["source"])
    assert "google.colab" in setup and f'start("{path.stem}", drive=DRIVE)' in setup, (
        f"{path.name}: first code cell must be the setup cell")
    assert f'REPO = "{DECLARED}"' in setup
    errors = [c for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{path.name} holds an error output: re-run it with `python tasks.py outputs`"
    with_output = [c for c in code if c.get("outputs")]
    assert len(with_output) >= len(code) // 2, f"{path.name}: commit it with the outputs of a real run (`python tasks.py outputs`)"


@pytest.mark.parametrize("path", NOTEBOOKS + [p.with_suffix(".py") for p in NOTEBOOKS], ids=lambda p: p.name)
def test_no_development_paths(path: Path) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    assert not re.search(r"\.\./shared|/work/shared", text), f"{path.name} names the development copy of the data"


def _normalised(setup: str, stem: str) -> str:
    """A setup cell with its notebook's name and extras taken out: the same text in every notebook."""
    return setup.replace(f'"{stem}"', '"NN"').replace(f"minigpt-helpers{EXTRAS.get(stem, '')}", "minigpt-helpers")


def test_one_setup_cell_installing_only_what_each_notebook_needs() -> None:
    """The same cell everywhere, but the name and extras; on Colab it installs from REPO without
    check=True, so a failed install prints pip's last lines and what to change, not a traceback."""
    cells = {nb.stem: setup_cell(nb) for nb in NOTEBOOKS}
    for stem, setup in cells.items():
        extras = EXTRAS.get(stem, "")
        assert f'f"minigpt-helpers{extras} @ git+{{url}}"' in setup, f"{stem} must install minigpt-helpers{extras}"
        assert extras or "minigpt-helpers[" not in setup, f"{stem} installs extras it does not need"
    reference = _normalised(cells[NOTEBOOKS[0].stem], NOTEBOOKS[0].stem)
    for stem, setup in cells.items():
        assert _normalised(setup, stem) == reference, f"{stem}'s setup cell differs from {NOTEBOOKS[0].stem}'s"
    assert "check=True" not in reference and "capture_output=True" in reference
    assert "could not be installed from" in reference and "tasks.py repo" in reference
    assert 'os.environ.get("MINIGPT_REPO", REPO)' in reference


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: f"solutions-{p.stem}")
def test_a_solutions_notebook_opens_with_its_lessons_setup_cell(path: Path) -> None:
    lesson = ROOT / "notebooks" / path.name
    setup = setup_cell(path)
    if "google.colab" not in setup:
        pytest.skip(f"{path.name} has no setup cell yet")
    assert lesson.is_file(), f"{path.name} has no lesson notebooks/{path.name}"
    assert setup == setup_cell(lesson), (
        f"{path.name}: copy the setup cell of notebooks/{path.name} verbatim (it changed)")


def repo_mentions(root: Path) -> dict[str, list[str]]:
    """Every place the files of `tasks.py repo` name the course's repository -> the OWNER/NAME named."""
    patterns = [r"colab\.research\.google\.com/github/([^/\s\"]+/[^/\s\"]+)/blob/",  # badges
                r'^REPO = "([^"]+)"',  # setup cells
                r'^REPO_SLUG = "([^"]+)"',
                r'^(?:Homepage|Repository) = "https://github\.com/([^"]+)"',
                r"git clone https://github\.com/(\S+?)(?:\.git)?\s"]
    found: dict[str, list[str]] = {}
    for path in tasks.repo_files(root):
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".ipynb":  # the cells' text, one line a line
            text = "\n".join("".join(c["source"]) for c in json.loads(text)["cells"])
        for pattern in patterns:
            for slug in re.findall(pattern, text, re.M):
                found.setdefault(slug, []).append(str(path.relative_to(root)))
    return found


def _check_all_agree(root: Path, slug: str) -> None:
    mentions = repo_mentions(root)
    assert set(mentions) == {slug}, f"the repository is {slug} (pyproject.toml); other names: " + "; ".join(
        f"{other} in {', '.join(sorted(set(files)))}" for other, files in mentions.items() if other != slug)
    named = set(mentions[slug])
    must = {"pyproject.toml", "minigpt_helpers/__init__.py", "README.md", "CONTRIBUTING.md"}
    must |= {str(p.relative_to(root)) for p in tasks.repo_files(root) if p.parent.name == "notebooks"}
    assert must <= named, f"these files do not name {slug}: {sorted(must - named)}"


def test_every_badge_and_setup_cell_names_the_declared_repository() -> None:
    assert REPO_SLUG == DECLARED, "minigpt_helpers.REPO_SLUG differs from pyproject.toml: run `python tasks.py repo`"
    _check_all_agree(ROOT, DECLARED)


def test_tasks_repo_moves_every_mention_to_a_fork(tmp_path: Path) -> None:
    for path in [ROOT / "tasks.py", *tasks.repo_files(ROOT)]:
        copy = tmp_path / path.relative_to(ROOT)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, copy)
    assert tasks.parse_repo("https://github.com/some-one/my.fork.git") == "some-one/my.fork"
    with pytest.raises(SystemExit):
        tasks.parse_repo("https://gitlab.com/some-one/my-fork")  # Colab opens notebooks from GitHub only
    pairs = sorted((tmp_path / "notebooks").glob("*.ipynb"))
    paired = {nb.name for nb in pairs if _cells(jupytext.read(nb)) == _cells(jupytext.read(nb.with_suffix(".py")))}
    changed = tasks.set_repo("some-one/my.fork", root=tmp_path)
    assert {p.name for p in changed} >= {"pyproject.toml", "__init__.py", "README.md", "01_cleaning.ipynb"}
    _check_all_agree(tmp_path, "some-one/my.fork")
    assert "cd my.fork" in (tmp_path / "README.md").read_text(encoding="utf-8")
    for nb in pairs:  # a pair in step before is in step after: the same change in both files
        if nb.name in paired:
            assert _cells(jupytext.read(nb)) == _cells(jupytext.read(nb.with_suffix(".py"))), nb.name
    assert tasks.set_repo("some-one/my.fork", root=tmp_path) == []  # nothing left to change
