"""What every notebook's setup cell calls: pick the profile, say where things run and go."""

from __future__ import annotations

import logging
import os
import platform
import sys
from collections.abc import Callable
from pathlib import Path

from .artifacts import DATA_DIR_ENV, data_dir
from .profiles import Profile, describe, get_profile, pick_device

COLAB_DATA = "/content/data"  # data/ on a Colab runtime: gone with the runtime
DRIVE_MOUNT = "/content/drive"  # where Colab mounts Google Drive
DRIVE_FOLDER = "minigpt-data"  # data/ on Google Drive (in MyDrive): survives a new runtime
DRIVE_ENV = "MINIGPT_DRIVE"  # 1: the same as DRIVE = True in the setup cell


def hardware_summary() -> str:
    """One line naming the CPU (or GPU), core count, OS and torch version."""
    import torch

    cpu = platform.processor() or platform.machine()
    if sys.platform.startswith("linux"):
        try:
            with open("/proc/cpuinfo", encoding="utf-8") as f:
                for line in f:
                    if line.startswith("model name"):
                        cpu = line.split(":", 1)[1].strip()
                        break
        except OSError:
            pass
    parts = [f"{cpu}, {os.cpu_count()} cores", f"{platform.system()}", f"Python {platform.python_version()}", f"torch {torch.__version__}"]
    if torch.cuda.is_available():
        parts.insert(0, f"GPU {torch.cuda.get_device_name(0)}")
    return "; ".join(parts)


def on_colab() -> bool:
    """True in a Google Colab runtime (its kernel has imported ``google.colab``)."""
    return "google.colab" in sys.modules


def colab_data_dir(drive: bool | str = False, mount: Callable[[str], object] | None = None) -> Path | None:
    """On Colab, point ``MINIGPT_DATA_DIR`` at the folder this runtime keeps data/ in and return
    it; elsewhere do nothing and return None.

    ``drive=False``: ``/content/data`` (or the ``MINIGPT_DATA_DIR`` you set), lost with the runtime.
    ``drive=True`` (or ``MINIGPT_DRIVE=1``): mount Google Drive (Colab asks for permission) and use
    ``MyDrive/minigpt-data``, so the artifacts and checkpoints of every notebook survive a new
    runtime and the next notebook finds them instead of rebuilding them; a string names another
    folder in MyDrive. ``mount`` stands in for ``google.colab.drive.mount`` (tests).
    """
    if not on_colab():
        return None
    if not drive and os.environ.get(DRIVE_ENV, "").strip().lower() in ("1", "true", "yes"):
        drive = True
    current = os.environ.get(DATA_DIR_ENV, "")
    if drive:
        if mount is None:
            from google.colab import drive as google_drive  # only on Colab

            mount = google_drive.mount
        mount(DRIVE_MOUNT)
        my_drive = Path(DRIVE_MOUNT) / "MyDrive"
        if not my_drive.is_dir():
            raise RuntimeError(f"Google Drive is not mounted at {DRIVE_MOUNT} (no {my_drive}); "
                               "run the setup cell again, or set DRIVE = False to keep data/ in the runtime")
        folder = my_drive / (drive if isinstance(drive, str) else DRIVE_FOLDER)
    elif current and not current.startswith(DRIVE_MOUNT):  # the learner's own choice
        folder = Path(current).expanduser()
    else:  # also after DRIVE = True was switched off again in this runtime
        folder = Path(COLAB_DATA)
    folder.mkdir(parents=True, exist_ok=True)
    os.environ[DATA_DIR_ENV] = str(folder)  # also read by the `python -m minigpt_helpers` cells start
    return folder


def start(notebook: str, profile: str | None = None, *, drive: bool | str = False) -> Profile:
    """Resolve the profile, set up readable logging, and print what this run uses.

    On Colab it first chooses the data folder: the runtime's ``/content/data``, or with
    ``drive=True`` a folder on Google Drive (see ``colab_data_dir``). The printed lines stay in
    the saved notebook, so a reader of a committed notebook sees which profile and hardware
    produced its outputs.
    """
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", force=True)
    for noisy in ("httpx", "httpx2", "urllib3", "datasets", "filelock", "matplotlib", "PIL"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    colab = colab_data_dir(drive)
    chosen = get_profile(profile)
    print(f"[{notebook}] {describe(chosen)}")
    print(f"  device: {pick_device()}; hardware: {hardware_summary()}")
    print(f"  data folder: {data_dir()}")
    if colab is not None and not str(colab).startswith(DRIVE_MOUNT):
        print("  (it goes with this Colab runtime; DRIVE = True in the setup cell keeps it on Google Drive)")
    return chosen


def figure(name: str) -> object:
    """A diagram of the course (``minigpt_helpers/figures/<name>.svg``) for a notebook to show.

    The SVG files ship inside the package, so the same cell works in Jupyter, VS Code and on
    Colab, and GitHub shows the saved output."""
    from importlib.resources import files

    from IPython.display import SVG  # optional: only notebooks show figures

    resource = files("minigpt_helpers") / "figures" / f"{name}.svg"
    if not resource.is_file():
        known = sorted(p.name[:-4] for p in (files("minigpt_helpers") / "figures").iterdir() if p.name.endswith(".svg"))
        raise FileNotFoundError(f"no figure {name!r}; the figures are {', '.join(known)}")
    return SVG(data=resource.read_text(encoding="utf-8"))
