"""Artifacts: where each stage writes, its manifest, and atomic writes.

Every stage writes a folder under the data directory (``data/`` at the repository root, or
``MINIGPT_DATA_DIR``) with a ``manifest.json`` that records the profile it was built for and a
fingerprint of the upstream manifest it was built from, so ``staleness`` can tell when a stage's
inputs are missing or changed (``stages.ensure`` then rebuilds them).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import __version__
from .profiles import Profile

log = logging.getLogger(__name__)

DATA_DIR_ENV = "MINIGPT_DATA_DIR"

# The pipeline, in order, and the stage each one is built from.
STAGES: tuple[str, ...] = ("raw", "clean", "tokenizer", "tokens", "checkpoints", "eval", "exports")
UPSTREAM: dict[str, str | None] = {
    "raw": None,
    "clean": "raw",
    "tokenizer": "clean",
    "tokens": "tokenizer",
    "checkpoints": "tokens",
    "eval": "checkpoints",
    "exports": "checkpoints",
}

# The notebook that teaches each stage, named in error messages.
NOTEBOOKS: dict[str, str] = {
    "raw": "01_cleaning",
    "clean": "01_cleaning",
    "tokenizer": "02_tokenization",
    "tokens": "03_dataset",
    "checkpoints": "05_training",
    "eval": "06_evaluation",
    "exports": "09_serving",
}


def repo_root() -> Path | None:
    """The course checkout this package lives in, or None when installed from a wheel."""
    here = Path(__file__).resolve().parent.parent
    if (here / "pyproject.toml").is_file() and (here / "notebooks").is_dir():
        return here
    return None


def data_dir() -> Path:
    """``MINIGPT_DATA_DIR`` if set, else ``data/`` in the checkout, else ``./data``."""
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        path = Path(env).expanduser()
    else:
        root = repo_root()
        path = (root / "data") if root else Path.cwd() / "data"
    path.mkdir(parents=True, exist_ok=True)
    return path


def stage_dir(stage: str) -> Path:
    """The folder of one stage, e.g. ``data/clean``, created if needed."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; stages are {', '.join(STAGES)}")
    path = data_dir() / stage
    path.mkdir(parents=True, exist_ok=True)
    return path


# --------------------------------------------------------------------------- atomic writes


def _current_umask() -> int:
    mask = os.umask(0o022)  # the only way to read it is to set it: put it straight back
    os.umask(mask)
    return mask


_UMASK = _current_umask()  # read once, at import: os.umask is process-wide and not thread-safe


def usual_mode(directory: bool = False) -> int:
    """The permissions a plain ``open()`` or ``mkdir()`` would give here (0o644 / 0o755 under the
    usual umask). Temporary files and folders are private (0o600 / 0o700); once renamed into place
    they should not be, or a server running as another user could not read a model's config."""
    return (0o777 if directory else 0o666) & ~_UMASK


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists, but belongs to someone else
        return True
    return True


def restore_folder(path: str | os.PathLike[str]) -> Path:
    """Put back the folder that a replacement moved aside, when the process replacing it died
    between its two renames (``atomic_folder``); returns ``path``. A reader calls this first, so
    a crash never leaves a checkpoint missing."""
    target = Path(path)
    if not target.parent.is_dir():
        return target
    for old in sorted(target.parent.glob(f".{target.name}.old-*")):
        pid = old.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)) and not target.exists():
            os.replace(old, target)
            log.warning("restored %s, which a process that stopped mid-replacement had moved aside", target)
    for tmp in target.parent.glob(f".{target.name}.tmp-*-*"):  # what a stopped process was writing
        pid = tmp.name[len(f".{target.name}.tmp-"):].split("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(tmp, ignore_errors=True)
    return target


@contextlib.contextmanager
def atomic_folder(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; on success it replaces ``path``.

    The old folder is moved aside before the new one is renamed into place and removed only
    afterwards; if the process dies between the two renames, ``restore_folder`` (which every
    reader of a checkpoint calls) puts the old one back. A reader sees the old folder or the
    new one, never half of either.
    """
    target = restore_folder(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-{os.getpid()}-", dir=target.parent))
    try:
        yield tmp
        os.chmod(tmp, usual_mode(directory=True))  # mkdtemp made it private
        old = None
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            if old.exists():
                shutil.rmtree(old)
            os.replace(target, old)
        os.replace(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it over ``path``.

    A crash or an exception leaves the old file untouched and removes the temporary one,
    so a reader never sees half a file.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, usual_mode())
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | os.PathLike[str], obj: Any) -> Path:
    return write_text_atomic(path, json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")


def read_json(path: str | os.PathLike[str]) -> Any:
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON ({err}); delete it and rebuild it") from err


def sha256_file(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- manifests


def manifest_path(stage: str) -> Path:
    return stage_dir(stage) / "manifest.json"


def fingerprint(stage: str) -> str | None:
    """SHA-256 of a stage's manifest file, or None when it has none yet."""
    path = manifest_path(stage)
    return sha256_file(path) if path.is_file() else None


def _upstream(stage: str) -> str | None:
    return UPSTREAM[stage]


def chain(stage: str) -> list[str]:
    """``stage`` and the stages it is built from, upstream first."""
    chain = [stage]
    while (up := UPSTREAM[chain[0]]) is not None:
        chain.insert(0, up)
    return chain


def write_manifest(stage: str, profile: Profile | str, content: dict[str, Any]) -> Path:
    """Write ``<stage>/manifest.json``: ``content`` plus profile, upstream fingerprint, time."""
    up = _upstream(stage)
    manifest = {
        "stage": stage,
        "profile": profile if isinstance(profile, str) else profile.name,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "package_version": __version__,
        "upstream": {up: fingerprint(up)} if up else {},
        **content,
    }
    return write_json_atomic(manifest_path(stage), manifest)


def read_manifest(stage: str) -> dict[str, Any]:
    """A stage's manifest; FileNotFoundError naming the notebook to run when it is missing."""
    path = manifest_path(stage)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: run notebooks/{NOTEBOOKS[stage]}.ipynb first, or call "
            f"minigpt_helpers.stages.ensure({stage!r}, PROFILE) to rebuild it"
        )
    return read_json(path)


def _books(origin: dict[str, Any]) -> str:
    if origin.get("kind") == "local":
        return f"your own books from {origin.get('folder')}"
    return f"Project Gutenberg books {', '.join(map(str, origin.get('ids', [])))}"


def corpus_mismatch(profile: Profile) -> str | None:
    """Why the books on disk are not the ones ``profile`` asks for (a sentence that names the fix),
    or None. Later stages were built from the books on disk, so they are never silently swapped."""
    path = manifest_path("raw")
    if not path.is_file():
        return None
    manifest = read_json(path)
    origin = manifest.get("origin", {})
    if not origin or manifest.get("profile") != profile.name or origin == profile.corpus:
        return None
    keep = (f"MINIGPT_BOOKS={origin.get('folder')}" if origin.get("kind") == "local"
            else f"MINIGPT_GUTENBERG_IDS={','.join(map(str, origin.get('ids', [])))}")
    return (f"{path.parent} holds {_books(origin)}, but this session asks for {_books(profile.corpus)}. "
            f"To keep working with the books on disk, set {keep} before starting; to switch books, build "
            "the books stage again with the new setting: notebooks/01_cleaning.ipynb, or "
            "`python -m minigpt_helpers prepare` (or set MINIGPT_DATA_DIR to another folder)")


def staleness(stage: str, profile: Profile) -> str | None:
    """Why a stage must be rebuilt for ``profile`` (a sentence), or None when it is current."""
    path = manifest_path(stage)
    if not path.is_file():
        return f"{path.parent} has no manifest"
    manifest = read_json(path)
    if manifest.get("profile") != profile.name:
        return f"{path.parent} was built for profile {manifest.get('profile')!r}, not {profile.name!r}"
    up = _upstream(stage)
    if up and manifest.get("upstream", {}).get(up) != fingerprint(up):
        return f"{path.parent} was built from a different {up!r} stage than the one on disk"
    return None
