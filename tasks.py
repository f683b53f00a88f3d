#!/usr/bin/env python3
"""One entry point for the course: set up, run the course, run the tests.

    python tasks.py course     # set up, then run every notebook in order (default profile)
    python tasks.py test       # set up, then run all tests (unit tests + every notebook, ci profile)
    python tasks.py outputs    # re-run the notebooks in place, refreshing the committed outputs
    python tasks.py sync       # pair notebooks and .py files again after editing either
    python tasks.py setup      # only create .venv and install requirements.txt + the package

Setting up creates ``.venv`` beside this file (unless a virtual or conda environment is already
active), installs the pinned requirements and the helper package, then re-runs this script
inside it. Works with Python 3.10+ on Linux, macOS and Windows.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
NOTEBOOKS = ROOT / "notebooks"


def _venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _in_managed_env() -> bool:
    """True inside any virtual or conda environment (then we install into it)."""
    return sys.prefix != getattr(sys, "base_prefix", sys.prefix) or bool(os.environ.get("CONDA_PREFIX"))


def _requirements_stamp() -> str:
    h = hashlib.sha256()
    for name in ("requirements.txt", "pyproject.toml"):
        h.update((ROOT / name).read_bytes())
    return h.hexdigest()[:16]


def setup() -> None:
    """Create .venv if needed, install what is pinned, and continue inside it."""
    if sys.version_info < (3, 10):
        sys.exit(f"Python 3.10 or newer is needed (this is {sys.version.split()[0]}).")
    if not _in_managed_env():
        if not _venv_python().exists():
            print(f"[setup] creating {VENV}", flush=True)
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        # Continue inside the venv: same command, its interpreter.
        sys.exit(subprocess.run([str(_venv_python()), str(Path(__file__).resolve()), *sys.argv[1:]]).returncode)
    stamp = Path(sys.prefix) / f".minigpt-installed-{_requirements_stamp()}"
    if stamp.exists():
        return
    print("[setup] installing requirements.txt and the minigpt_helpers package", flush=True)
    pip = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check"]
    subprocess.run([*pip, "-q", "-r", str(ROOT / "requirements.txt")], check=True)
    subprocess.run([*pip, "-q", "--no-deps", "-e", str(ROOT)], check=True)
    stamp.write_text("ok\n")


def notebooks() -> list[Path]:
    return sorted(p for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb") if ".failed" not in p.name)


def execute(nb_path: Path, out_path: Path, timeout: int | None = None) -> float:
    """Run one notebook top to bottom (kernel started in notebooks/) and save it."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(nb_path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}})
    t0 = time.time()
    try:
        client.execute()
    except CellExecutionError as err:
        # Never beside the lessons: a failed copy goes to the (git-ignored) executed folder.
        failed = ROOT / "data" / "executed" / f"{nb_path.stem}.failed.ipynb"
        failed.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, failed)
        sys.exit(f"\n{nb_path.name} failed; the partly-run notebook is in {failed}\n{err}")
    nbformat.write(nb, out_path)
    return time.time() - t0


def course(args: argparse.Namespace) -> None:
    """Run every notebook in order on the current profile, writing artifacts to data/."""
    if args.profile:
        os.environ["MINIGPT_PROFILE"] = args.profile
    sys.path.insert(0, str(ROOT))
    from minigpt_helpers.artifacts import data_dir

    out_dir = data_dir() / "executed"
    out_dir.mkdir(parents=True, exist_ok=True)
    selected = [nb for nb in notebooks() if not args.only or nb.name[:2] in args.only]
    print(f"[course] profile {os.environ.get('MINIGPT_PROFILE') or '(default for this machine)'}; "
          f"artifacts in {data_dir()}; executed notebooks in {out_dir}", flush=True)
    for nb in selected:
        print(f"[course] running {nb.name} ...", flush=True)
        seconds = execute(nb, out_dir / nb.name)
        print(f"[course] {nb.name} done in {seconds:.0f} s", flush=True)
    print("[course] all done.")


def outputs(args: argparse.Namespace) -> None:
    """Re-run notebooks in place so the committed outputs come from a real run."""
    if args.profile:
        os.environ["MINIGPT_PROFILE"] = args.profile
    selected = [nb for nb in notebooks() if not args.only or nb.name[:2] in args.only]
    for nb in selected:
        print(f"[outputs] running {nb.name} in place ...", flush=True)
        seconds = execute(nb, nb)
        print(f"[outputs] {nb.name} done in {seconds:.0f} s", flush=True)
    sync(args, selected)


def sync(_args: argparse.Namespace | None = None, selected: list[Path] | None = None) -> None:
    """Re-pair notebooks and their .py files (the newer of the two wins)."""
    paths = selected if selected is not None else notebooks()
    subprocess.run([sys.executable, "-m", "jupytext", "--sync", *map(str, paths)], check=True, cwd=ROOT)


def test(args: argparse.Namespace) -> int:
    """Unit tests and every notebook (nbval) in the ci profile, on a scratch data folder."""
    env = dict(os.environ)
    env.setdefault("MINIGPT_PROFILE", "ci")
    scratch = None
    if "MINIGPT_DATA_DIR" not in env:
        # Never overwrite the learner's own data/ with the ci profile's tiny artifacts.
        scratch = tempfile.mkdtemp(prefix="minigpt-test-data-")
        env["MINIGPT_DATA_DIR"] = scratch
    print(f"[test] profile {env['MINIGPT_PROFILE']}, data folder {env['MINIGPT_DATA_DIR']}", flush=True)
    return subprocess.run([sys.executable, "-m", "pytest", *args.pytest_args], cwd=ROOT, env=env).returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("setup", help="create .venv and install")
    for name in ("course", "outputs"):
        p = sub.add_parser(name)
        p.add_argument("--profile", choices=["ci", "cpu", "gpu"], help="default: MINIGPT_PROFILE, else gpu if CUDA else cpu")
        p.add_argument("--only", nargs="*", help="notebook numbers to run, e.g. --only 01 02")
    sub.add_parser("sync", help="jupytext --sync every notebook")
    p = sub.add_parser("test")
    p.add_argument("pytest_args", nargs=argparse.REMAINDER, help="extra arguments for pytest")
    args = parser.parse_args()

    setup()
    if args.command == "course":
        course(args)
    elif args.command == "outputs":
        outputs(args)
    elif args.command == "sync":
        sync(args)
    elif args.command == "test":
        sys.exit(test(args))


if __name__ == "__main__":
    main()
