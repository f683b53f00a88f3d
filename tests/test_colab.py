"""Colab, as far as it can be reached from here: the setup cell's install, the widgets under
ipywidgets 7 and 8, and the Google Drive data folder.

Colab itself and Google Drive cannot be reached: the install test builds what a Colab runtime
starts with (a Python holding torch and ipywidgets 7.7.1, Colab's version) as a fresh virtual
environment, runs a notebook's real setup cell in it with ``google.colab`` faked, installing the
package from a git URL of this working tree, and checks that torch and ipywidgets were kept (a
replaced one makes Colab ask for a runtime restart) and that the notebooks' imports and widgets
work. The Drive option runs against a stand-in folder for the mount.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest

from minigpt_helpers import artifacts, notebook

ROOT = Path(__file__).resolve().parent.parent
COLAB_IPYWIDGETS = "7.7.1"  # what a Colab runtime has preinstalled

# Builds the notebooks' widgets, shows each as a cell's last expression and with display() in an
# IPython shell, and prints a JSON report: which showed their widget, and the versions in use.
WIDGET_CHECK = r'''
import json, sys
from IPython.core.interactiveshell import InteractiveShell
from IPython.display import display
from IPython.utils.capture import capture_output
import ipywidgets, torch

import minigpt_helpers.notebook as notebook
from minigpt_helpers.chat import ChatSession, ChatTemplate
from minigpt_helpers.dashboard import Dashboard
from minigpt_helpers.generation import SamplingConfig
from minigpt_helpers.model import GPT, GPTConfig
from minigpt_helpers.sampling_widgets import ChatWidget, SamplingWidget
from minigpt_helpers.tokenization import CharTokenizer
from minigpt_helpers.widgets import token_viewer

VIEW = "application/vnd.jupyter.widget-view+json"
shell = InteractiveShell.instance()
torch.set_num_threads(1)
tok = CharTokenizer.train(["Once upon a time there was a lighthouse keeper and his cat."])
torch.manual_seed(0)
gpt = GPT(GPTConfig(vocab_size=tok.vocab_size, context_length=32, n_layer=1, n_head=2, n_embd=32)).eval()
objects = {
    "viewer": token_viewer(tok, "cat"),
    "sampler": SamplingWidget(gpt, tok, prompt="The", config=SamplingConfig(max_new_tokens=6, seed=1)),
    "chat": ChatWidget(ChatSession(gpt, tok, SamplingConfig(max_new_tokens=6, seed=2), ChatTemplate())),
    "dashboard": Dashboard("check"),
}
report = {"ipywidgets": ipywidgets.__version__, "torch": torch.__version__, "module": notebook.__file__}
for name, obj in objects.items():
    shell.user_ns[name] = obj
    with capture_output() as last:  # the object left as a cell's last expression
        shell.run_cell(name)
    with capture_output() as shown:
        display(obj)
    for how, captured in (("last expression", last), ("display", shown)):
        ids = [out.data[VIEW]["model_id"] for out in captured.outputs if VIEW in out.data]
        report[f"{name} {how}"] = ids == [obj.widget.model_id]
report["viewer types"] = ">d</span>" in objects["viewer"].update("dog")
report["sampler generates"] = len(objects["sampler"].generate()) > 0
report["chat replies"] = isinstance(objects["chat"].send("Hello"), str) and len(objects["chat"].session.history) == 2
from importlib.resources import files
svgs = sorted(p.name[:-4] for p in (files("minigpt_helpers") / "figures").iterdir() if p.name.endswith(".svg"))
report["figures ship"] = bool(svgs) and "<svg" in notebook.figure(svgs[0]).data
print("REPORT " + json.dumps(report))
'''

CHECKS = ["viewer", "sampler", "chat", "dashboard"]


def widget_report(python: str | Path, cwd: Path, env: dict[str, str] | None = None) -> dict[str, object]:
    done = subprocess.run([str(python), "-c", WIDGET_CHECK], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    line = next(ln for ln in done.stdout.splitlines() if ln.startswith("REPORT "))
    return json.loads(line[len("REPORT "):])


def assert_widgets_work(report: dict[str, object]) -> None:
    failed = [k for k, v in report.items() if v is False]
    assert not failed, f"with ipywidgets {report['ipywidgets']}: {failed} did not work"
    for name in CHECKS:
        assert report[f"{name} last expression"] and report[f"{name} display"]


# ---------------------------------------------------------------------------- ipywidgets 8 (here)

def test_the_widgets_show_themselves_with_this_ipywidgets(tmp_path) -> None:
    """The same check as under Colab's ipywidgets 7 below, with the version installed here (8)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    assert_widgets_work(widget_report(sys.executable, tmp_path, env))


# ---------------------------------------------------------------------------- Google Drive

@pytest.fixture
def fake_colab(tmp_path, monkeypatch):
    """A Colab runtime as far as the package can tell: ``google.colab`` imported, its Drive mount
    replaced by one that makes a stand-in folder, and /content replaced by a temporary folder."""
    mounts: list[str] = []

    def mount(mountpoint: str, **_: object) -> None:
        mounts.append(mountpoint)
        (Path(mountpoint) / "MyDrive").mkdir(parents=True, exist_ok=True)

    colab = types.ModuleType("google.colab")
    colab.drive = types.SimpleNamespace(mount=mount)
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setattr(notebook, "DRIVE_MOUNT", str(tmp_path / "drive"))
    monkeypatch.setattr(notebook, "COLAB_DATA", str(tmp_path / "content" / "data"))
    monkeypatch.delenv("MINIGPT_DATA_DIR", raising=False)  # as on a fresh runtime
    monkeypatch.delenv(notebook.DRIVE_ENV, raising=False)
    monkeypatch.setenv("MINIGPT_PROFILE", "ci")
    return types.SimpleNamespace(root=tmp_path, mounts=mounts)


def test_on_colab_data_goes_to_the_runtime_unless_drive_is_asked_for(fake_colab, capsys) -> None:
    notebook.start("01_cleaning")
    assert artifacts.data_dir() == fake_colab.root / "content" / "data" and not fake_colab.mounts
    assert "DRIVE = True" in capsys.readouterr().out  # says how to keep it


def test_drive_true_keeps_data_on_google_drive(fake_colab, capsys) -> None:
    notebook.start("05_training", drive=True)
    drive_data = fake_colab.root / "drive" / "MyDrive" / notebook.DRIVE_FOLDER
    assert fake_colab.mounts == [str(fake_colab.root / "drive")]
    assert os.environ["MINIGPT_DATA_DIR"] == str(drive_data)  # the `python -m minigpt_helpers` cells see it too
    assert artifacts.stage_dir("checkpoints").parent == drive_data  # artifacts and checkpoints land there
    assert f"data folder: {drive_data}" in capsys.readouterr().out
    notebook.start("05_training", drive=False)  # switched off again in the same runtime
    assert artifacts.data_dir() == fake_colab.root / "content" / "data"


def test_minigpt_drive_or_a_folder_name_picks_drive_too(fake_colab, monkeypatch) -> None:
    monkeypatch.setenv(notebook.DRIVE_ENV, "1")
    assert notebook.colab_data_dir() == fake_colab.root / "drive" / "MyDrive" / notebook.DRIVE_FOLDER
    monkeypatch.delenv(notebook.DRIVE_ENV)
    assert notebook.colab_data_dir("course/data") == fake_colab.root / "drive" / "MyDrive" / "course" / "data"


def test_a_data_folder_you_chose_is_kept_on_colab(fake_colab, monkeypatch) -> None:
    monkeypatch.setenv("MINIGPT_DATA_DIR", str(fake_colab.root / "mine"))
    assert notebook.colab_data_dir() == fake_colab.root / "mine"


def test_a_drive_that_did_not_mount_says_what_to_do(fake_colab) -> None:
    with pytest.raises(RuntimeError, match="DRIVE = False"):
        notebook.colab_data_dir(True, mount=lambda _path: None)


def test_off_colab_nothing_changes(monkeypatch, data_dir) -> None:
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    assert notebook.colab_data_dir(True) is None
    assert os.environ["MINIGPT_DATA_DIR"] == str(data_dir)


# ---------------------------------------------------------------------------- the install, as on Colab

def _run(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, **kwargs)


def _clean_env(**extra: str) -> dict[str, str]:
    """This environment without what would let the venv see this checkout or the test's venv."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")}
    return {**env, "OMP_NUM_THREADS": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1", **extra}


def _installed(python: Path, *names: str) -> dict[str, str | None]:
    code = ("import json, sys\nfrom importlib import metadata\nout = {}\nfor n in sys.argv[1:]:\n"
            "    try: out[n] = metadata.version(n)\n    except metadata.PackageNotFoundError: out[n] = None\n"
            "print(json.dumps(out))")
    done = _run([python, "-c", code, *names], env=_clean_env(), cwd=python.parent)  # not this checkout
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _snapshot_repo(dest: Path) -> str:
    """The working tree (tracked and new files, as git would push them) committed into a new git
    repository; returns the file URL pip installs from (``git+file://localhost/...``)."""
    listed = _run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT)
    if listed.returncode != 0:
        pytest.skip(f"not a git checkout, so there is no repository to install from: {listed.stderr.strip()}")
    for name in filter(None, listed.stdout.split("\0")):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    ident = ["-c", "user.name=colab test", "-c", "user.email=colab-test@localhost", "-c", "commit.gpgsign=false"]
    for args in (["init", "-q"], ["add", "-A"], [*ident, "commit", "-q", "-m", "snapshot"]):
        done = _run(["git", *args], cwd=dest)
        assert done.returncode == 0, done.stderr
    return f"file://localhost{dest.as_posix()}"


def _setup_cell(name: str) -> str:
    cells = json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text(encoding="utf-8"))["cells"]
    return "".join(next(c for c in cells if c["cell_type"] == "code")["source"])


# Runs a setup cell as Colab's kernel would: in an IPython shell, with google.colab imported.
RUN_CELL = r'''
import json, sys, types
sys.modules["google.colab"] = types.ModuleType("google.colab")
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
result = shell.run_cell(open(sys.argv[1], encoding="utf-8").read())
error = result.error_in_exec
print("RESULT " + json.dumps({"error": type(error).__name__ if error else None, "message": str(error or ""),
                              "profile": getattr(shell.user_ns.get("PROFILE"), "name", None)}))
'''


def _run_setup_cell(python: Path, cell: str, folder: Path, repo_url: str) -> tuple[dict[str, object], str]:
    (folder / "cell.py").write_text(cell, encoding="utf-8")
    (folder / "run_cell.py").write_text(RUN_CELL, encoding="utf-8")
    env = _clean_env(MINIGPT_REPO=repo_url, MINIGPT_PROFILE="ci", MINIGPT_DATA_DIR=str(folder / "data"))
    done = _run([python, folder / "run_cell.py", folder / "cell.py"], cwd=folder, env=env, timeout=900)
    output = done.stdout + done.stderr
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
    assert done.returncode == 0 and lines, output[-4000:]
    return json.loads(lines[-1][len("RESULT "):]), output


@pytest.mark.slow
def test_the_setup_cell_installs_as_on_colab_and_keeps_torch_and_ipywidgets(tmp_path) -> None:
    """Colab's starting point, then 01's setup cell: no torch download, nothing replaced, widgets work."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed: pip installs the package from a git URL, as Colab does")
    import torch

    torch_version = torch.__version__.split("+")[0]
    probe = _run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp_path / "probe",
                  f"ipywidgets=={COLAB_IPYWIDGETS}"], env=_clean_env(), timeout=300)
    if probe.returncode != 0:
        pytest.skip(f"the package index cannot be reached (pip download ipywidgets=={COLAB_IPYWIDGETS} failed): "
                    + (probe.stderr.strip().splitlines() or ["no message"])[-1])

    # What a Colab runtime starts with: a Python that already holds torch and ipywidgets 7.7.1.
    venv = tmp_path / "colab"
    done = _run([sys.executable, "-m", "venv", venv])
    assert done.returncode == 0, done.stderr
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    done = _run([python, "-m", "pip", "install", "-q", f"torch=={torch_version}", f"ipywidgets=={COLAB_IPYWIDGETS}"],
                env=_clean_env(), timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    before = _installed(python, "torch", "ipywidgets", "minigpt-helpers")
    assert before["ipywidgets"] == COLAB_IPYWIDGETS and before["torch"] and before["minigpt-helpers"] is None

    cell = _setup_cell("01_cleaning")
    assert "minigpt-helpers @ git+" in cell  # 01 installs no extras

    # A repository that is not there: the cell says what to change instead of a pip traceback.
    (tmp_path / "wrong").mkdir()
    missing = f"file://localhost{(tmp_path / 'no-such-repo').as_posix()}"
    result, output = _run_setup_cell(python, cell, tmp_path / "wrong", missing)
    assert result["error"] == "SystemExit", output[-3000:]
    assert f"could not be installed from {missing}" in result["message"]
    assert "REPO" in result["message"] and "tasks.py repo" in result["message"]
    assert "Traceback (most recent call last)" not in output and "pip._internal" not in output

    # The working tree as a repository, installed the way the cell does on Colab.
    (tmp_path / "repo").mkdir()
    url = _snapshot_repo(tmp_path / "repo")
    (tmp_path / "runtime").mkdir()
    result, output = _run_setup_cell(python, cell, tmp_path / "runtime", url)
    assert result["error"] is None, output[-4000:]
    assert result["profile"] == "ci" and f"installing minigpt-helpers from {url}" in output

    after = _installed(python, "torch", "ipywidgets", "minigpt-helpers", "fastapi", "transformers", "onnx")
    assert after["torch"] == before["torch"], f"torch was replaced: {before['torch']} -> {after['torch']}"
    assert after["ipywidgets"] == before["ipywidgets"], (
        f"ipywidgets was replaced: {before['ipywidgets']} -> {after['ipywidgets']} (Colab would ask for a restart)")
    assert after["minigpt-helpers"]
    assert not any(after[n] for n in ("fastapi", "transformers", "onnx")), f"01 needs no extras: {after}"

    report = widget_report(python, tmp_path / "runtime", _clean_env())
    assert report["ipywidgets"] == COLAB_IPYWIDGETS
    assert str(venv) in str(report["module"]), f"the package came from {report['module']}, not the install"
    assert_widgets_work(report)
    shutil.rmtree(venv, ignore_errors=True)  # a GB of torch: not kept in pytest's recent temporary folders
