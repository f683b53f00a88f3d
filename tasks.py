#!/usr/bin/env python3
"""One entry point for the course: set up, run the course, run the tests.

    python tasks.py course     # set up, then run every notebook in order (default profile)
    python tasks.py course --books ~/my_books   # the same, on your own .txt books
    python tasks.py test       # set up, then run all tests (unit tests + every notebook, ci profile)
    python tasks.py outputs    # re-run the notebooks in place, refreshing the committed outputs
    python tasks.py sync       # pair notebooks and .py files again after editing either
    python tasks.py setup      # only create .venv and install requirements.txt + the package
    python tasks.py repo OWNER/NAME   # the course's GitHub home (a fork): badges, setup cells, README

Setting up creates ``.venv`` beside this file (unless a virtual or conda environment is already
active), installs the pinned requirements and the helper package, then re-runs this script
inside it. Works with Python 3.10+ on Linux, macOS and Windows.

Settings that name folders (``MINIGPT_DATA_DIR``, ``MINIGPT_DATASETS_DIR``, ``TIKTOKEN_CACHE_DIR``,
``HF_HOME``) may be relative to where you run this; they are made absolute before any notebook
starts, because notebook kernels start in ``notebooks/``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
NOTEBOOKS = ROOT / "notebooks"
FOLDER_SETTINGS = ("MINIGPT_DATA_DIR", "MINIGPT_DATASETS_DIR", "MINIGPT_BOOKS", "TIKTOKEN_CACHE_DIR", "HF_HOME",
                   "HF_DATASETS_CACHE")
TEST_PROFILE_ENV = "MINIGPT_TEST_PROFILE"  # the tests' profile (default ci), never the learner's MINIGPT_PROFILE


def _venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _in_managed_env() -> bool:
    """True inside any virtual or conda environment (then we install into it)."""
    return sys.prefix != getattr(sys, "base_prefix", sys.prefix) or bool(os.environ.get("CONDA_PREFIX"))


def absolute_folder_settings(env: dict[str, str] | os._Environ[str] = os.environ) -> None:
    """Make folder settings absolute, in place: a kernel starting in notebooks/ would read a
    relative one from there, not from where the command was typed."""
    for name in FOLDER_SETTINGS:
        value = env.get(name)
        if value and not os.path.isabs(os.path.expanduser(value)):
            env[name] = str(Path(value).expanduser().resolve())


def _run_pip(args: list[str], what: str) -> None:
    """pip install, with a hint instead of a traceback when it fails."""
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--disable-pip-version-check", *args])
    if result.returncode != 0:
        sys.exit(
            f"[setup] installing {what} failed (pip exit code {result.returncode}; its message is above).\n"
            "  - No network, or a proxy? Check your connection, or install from a folder of wheels:\n"
            "    pip download -r requirements.txt -d wheels (on a connected machine), then set\n"
            "    PIP_FIND_LINKS=wheels PIP_NO_INDEX=1 and run this again.\n"
            "  - Linux without an NVIDIA GPU: torch's CPU build is smaller, see the README's Quick start."
        )


def _requirements_stamp() -> str:
    h = hashlib.sha256()
    for name in ("requirements.txt", "pyproject.toml"):
        h.update((ROOT / name).read_bytes())
    return h.hexdigest()[:16]


def setup() -> None:
    """Create .venv if needed, install what is pinned, and continue inside it."""
    if sys.version_info < (3, 10):
        sys.exit(f"Python 3.10 or newer is needed (this is {sys.version.split()[0]}).")
    if os.environ.get("CONDA_PREFIX") and os.environ.get("CONDA_DEFAULT_ENV") == "base":
        print("[setup] warning: conda's base environment is active, so the course installs into it; "
              "`conda env create -f environment.yml` and `conda activate minigpt` keep it separate", flush=True)
    if not _in_managed_env():
        if not _venv_python().exists():
            print(f"[setup] creating {VENV}", flush=True)
            if subprocess.run([sys.executable, "-m", "venv", str(VENV)]).returncode != 0:
                sys.exit("[setup] could not create .venv (see above). On Debian or Ubuntu install the venv "
                         "module first: sudo apt install python3-venv")
        # Continue inside the venv: same command, its interpreter.
        sys.exit(subprocess.run([str(_venv_python()), str(Path(__file__).resolve()), *sys.argv[1:]]).returncode)
    stamp = Path(sys.prefix) / f".minigpt-installed-{_requirements_stamp()}"
    if stamp.exists():
        return
    print("[setup] installing requirements.txt and the minigpt_helpers package (torch alone is a large "
          "download the first time)", flush=True)
    _run_pip(["-q", "-r", str(ROOT / "requirements.txt")], "requirements.txt")
    _run_pip(["-q", "--no-deps", "-e", str(ROOT)], "the minigpt_helpers package")
    stamp.write_text("ok\n")


# The course's GitHub repository is declared once, in pyproject.toml's [project.urls]; these files
# name it too (Colab badges, the setup cells' REPO, the clone command, REPO_SLUG), and `repo` rewrites them.
REPO_LINE = re.compile(r'^Repository = "https://github\.com/([^"]+)"', re.M)
SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}")


def declared_repo(root: Path = ROOT) -> str:
    """OWNER/NAME of the course's repository, from pyproject.toml's ``[project.urls]``."""
    found = REPO_LINE.search((root / "pyproject.toml").read_text(encoding="utf-8"))
    if not found:
        sys.exit('pyproject.toml has no `Repository = "https://github.com/OWNER/NAME"` in [project.urls]')
    return found.group(1)


def parse_repo(value: str) -> str:
    """OWNER/NAME from OWNER/NAME or a GitHub URL (https, git+https or git@github.com:...)."""
    slug = re.sub(r"^(git\+)?https?://(www\.)?github\.com/|^git@github\.com:", "", value.strip()).rstrip("/")
    slug = slug[:-4] if slug.endswith(".git") else slug
    if not SLUG.fullmatch(slug):
        sys.exit(f"{value!r} is not OWNER/NAME nor a GitHub URL (Colab opens notebooks from GitHub only)")
    return slug


def repo_files(root: Path = ROOT) -> list[Path]:
    """The files that name the repository: each notebook's .ipynb before its .py (so the text file
    stays the newer of the pair, as jupytext expects), lessons and solutions alike."""
    files = [root / "pyproject.toml", root / "minigpt_helpers" / "__init__.py", root / "README.md",
             root / "CONTRIBUTING.md"]
    for folder in ("notebooks", "solutions"):
        for nb in sorted((root / folder).glob("[0-9][0-9]_*.ipynb")):
            files += [nb, nb.with_suffix(".py")]
        files += [py for py in sorted((root / folder).glob("[0-9][0-9]_*.py")) if py not in files]
    return [f for f in files if f.is_file()]


def set_repo(new: str, root: Path = ROOT) -> list[Path]:
    """Rewrite the repository's OWNER/NAME everywhere ``repo_files`` lists; returns the files changed."""
    old = declared_repo(root)
    if new == old:
        return []
    exact = re.compile(r"(?<![A-Za-z0-9_.-])" + re.escape(old) + r"(?![A-Za-z0-9_-])")
    # the README's `git clone URL && cd NAME` names the folder too
    folder = re.compile(r"(github\.com/" + re.escape(new) + r"(?:\.git)?\s*&&\s*cd\s+)"
                        + re.escape(old.split("/")[1]) + r"\b")
    changed = []
    for path in repo_files(root):
        text = path.read_text(encoding="utf-8")
        updated = exact.sub(new, text)
        updated = folder.sub(lambda m: m.group(1) + new.split("/")[1], updated)
        if updated != text:
            path.write_text(updated, encoding="utf-8")
            changed.append(path)
    return changed


def repo(args: argparse.Namespace) -> None:
    """Show the declared repository, or move every mention of it to OWNER/NAME (a fork, or its real home)."""
    if not args.slug:
        print(f"[repo] https://github.com/{declared_repo()} (pyproject.toml's [project.urls]); "
              "`python tasks.py repo OWNER/NAME` changes it")
        return
    old, new = declared_repo(), parse_repo(args.slug)
    changed = set_repo(new)
    for path in changed:
        print(f"[repo] {path.relative_to(ROOT)}")
    print(f"[repo] {old} -> {new}: {len(changed)} files changed. Commit and push them: the Colab badges "
          f"open notebooks from the main branch of https://github.com/{new}, and the setup cells install "
          "the package from there.")


def notebooks() -> list[Path]:
    return sorted(p for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb") if ".failed" not in p.name)


def execute(nb_path: Path, out_path: Path, timeout: int | None = None) -> float:
    """Run one notebook top to bottom (kernel started in notebooks/) and save it."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(nb_path, as_version=4)
    manager, sockets = local_kernel_manager()
    options = {"kernel_manager_class": manager} if manager else {}
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOKS)}}, **options)
    t0 = time.time()
    try:
        client.execute()
    except CellExecutionError as err:
        # Never beside the lessons: a failed copy goes to the (git-ignored) executed folder.
        sys.path.insert(0, str(ROOT))
        from minigpt_helpers.artifacts import data_dir

        failed = data_dir() / "executed" / f"{nb_path.stem}.failed.ipynb"
        failed.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, failed)
        sys.exit(f"\n{nb_path.name} failed; the partly-run notebook is in {failed}\n{err}")
    finally:
        if sockets:
            shutil.rmtree(sockets, ignore_errors=True)
    nbformat.write(nb, out_path)
    return time.time() - t0


def local_kernel_manager() -> tuple[type | None, str | None]:
    """On Linux and macOS, a kernel manager class whose kernels talk through socket files in a
    private temporary folder instead of TCP ports, which other users of the machine could listen
    to (ipykernel warns about that); None, so TCP, on Windows. Returns the class and the folder,
    whose path is kept short: a socket's path may hold only about 100 characters."""
    if os.name != "posix":
        return None, None
    from jupyter_client.manager import AsyncKernelManager  # the kind nbclient makes itself

    folder = tempfile.mkdtemp(prefix="minigpt-kernel-")
    if len(folder) > 80:  # a long TMPDIR: the sockets' paths would not fit, so TCP it is
        shutil.rmtree(folder, ignore_errors=True)
        return None, None

    class LocalSocketKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs: object) -> None:
            super().__init__(transport="ipc", connection_file=os.path.join(folder, "kernel.json"), **kwargs)

    return LocalSocketKernelManager, folder


def course(args: argparse.Namespace) -> None:
    """Run every notebook in order on the current profile, writing artifacts to data/."""
    if args.profile:
        os.environ["MINIGPT_PROFILE"] = args.profile
    if args.books:  # every notebook (and every stage it rebuilds) reads these settings
        os.environ["MINIGPT_BOOKS"] = str(Path(args.books).expanduser().resolve())
        os.environ.pop("MINIGPT_GUTENBERG_IDS", None)
    if args.gutenberg:
        os.environ["MINIGPT_GUTENBERG_IDS"] = args.gutenberg
        os.environ.pop("MINIGPT_BOOKS", None)
    sys.path.insert(0, str(ROOT))
    from minigpt_helpers.artifacts import data_dir
    from minigpt_helpers.profiles import get_profile

    get_profile()  # a wrong folder or id list stops here, before any notebook starts

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


def skip_notes(env: dict[str, str]) -> list[str]:
    """What will skip or need the network in this run, and the setting that changes it."""
    notes = []
    datasets = env.get("MINIGPT_DATASETS_DIR")
    if not datasets or not Path(datasets).is_dir():
        notes.append("MINIGPT_DATASETS_DIR is not set (or not a folder): the tests that read the offline copies "
                     "of the books skip, and the notebooks download their books (network needed). Point it at "
                     "a folder of downloaded corpora to run them offline.")
    if not env.get("TIKTOKEN_CACHE_DIR"):
        notes.append("TIKTOKEN_CACHE_DIR is not set: GPT-2's BPE files are downloaded once (network needed).")
    if not shutil.which("chromium") and not env.get("MINIGPT_REQUIRE_BROWSER"):
        notes.append("no chromium on PATH: the browser test of the chat page skips (apt-get install chromium).")
    return notes


def test(pytest_args: list[str]) -> int:
    """Unit tests and every notebook (nbval) in the ci profile, on a scratch data folder.

    The learner's own MINIGPT_PROFILE and MINIGPT_DATA_DIR are not used: the tests must never
    run for an hour in the cpu profile, nor overwrite data/ with the ci profile's tiny artifacts.
    MINIGPT_TEST_PROFILE picks another profile on purpose."""
    env = dict(os.environ)  # main() made its folder settings absolute already
    env["MINIGPT_PROFILE"] = env.get(TEST_PROFILE_ENV) or "ci"
    for name in ("MINIGPT_BOOKS", "MINIGPT_GUTENBERG_IDS"):  # the notebooks' checks expect the profile's books
        env.pop(name, None)
    scratch = env["MINIGPT_DATA_DIR"] = tempfile.mkdtemp(prefix="minigpt-test-data-")
    print(f"[test] profile {env['MINIGPT_PROFILE']}, data folder {scratch}", flush=True)
    for line in skip_notes(env):
        print(f"[test] {line}", flush=True)
    code = subprocess.run([sys.executable, "-m", "pytest", *pytest_args], cwd=ROOT, env=env).returncode
    if code == 0:
        shutil.rmtree(scratch, ignore_errors=True)  # all passed: nothing in it worth a look
    else:
        print(f"[test] kept the data folder the notebooks wrote, for a look: {scratch}", flush=True)
    return code


def parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """The command and its options, and what goes on to pytest (everything after ``test``)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("setup", help="create .venv and install")
    for name in ("course", "outputs"):
        p = sub.add_parser(name)
        p.add_argument("--profile", choices=["ci", "cpu", "gpu"], help="default: MINIGPT_PROFILE, else gpu if CUDA else cpu")
        p.add_argument("--only", nargs="*", help="notebook numbers to run, e.g. --only 01 02")
        if name == "outputs":  # the committed outputs come from the profile's own books
            continue
        books = p.add_mutually_exclusive_group()
        books.add_argument("--books", metavar="FOLDER", help="train on your own .txt books in FOLDER (MINIGPT_BOOKS)")
        books.add_argument("--gutenberg", metavar="IDS", help="other Project Gutenberg books, e.g. 1342,84,11 "
                           "(MINIGPT_GUTENBERG_IDS)")
    sub.add_parser("sync", help="jupytext --sync every notebook")
    p = sub.add_parser("repo", help="show or change the course's GitHub repository (for a fork): "
                       "pyproject, badges, setup cells, README")
    p.add_argument("slug", nargs="?", metavar="OWNER/NAME", help="e.g. me/minigpt-from-books, or its GitHub URL")
    sub.add_parser("test", help="all tests; anything after `test` goes to pytest (e.g. test -x -k cache)")
    if argv[:1] == ["test"]:  # pytest's own options (-x, -k ..., --lf) pass through untouched
        return parser.parse_args(argv[:1]), argv[1:]
    return parser.parse_args(argv), []


def main() -> None:
    args, pytest_args = parse(sys.argv[1:])
    if args.command == "repo":  # edits text files only: no environment needed
        repo(args)
        return
    setup()
    absolute_folder_settings()
    if args.command == "course":
        course(args)
    elif args.command == "outputs":
        outputs(args)
    elif args.command == "sync":
        sync(args)
    elif args.command == "test":
        sys.exit(test(pytest_args))


if __name__ == "__main__":
    main()
