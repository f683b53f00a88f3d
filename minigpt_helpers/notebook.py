"""What every notebook's setup cell calls: pick the profile, say where things run and go."""

from __future__ import annotations

import logging
import os
import platform
import sys

from .artifacts import data_dir
from .profiles import Profile, describe, get_profile, pick_device


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


def start(notebook: str, profile: str | None = None) -> Profile:
    """Resolve the profile, set up readable logging, and print what this run uses.

    The printed lines stay in the saved notebook, so a reader of a committed notebook sees
    which profile and hardware produced its outputs.
    """
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", force=True)
    for noisy in ("httpx", "httpx2", "urllib3", "datasets", "filelock", "matplotlib", "PIL"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    chosen = get_profile(profile)
    print(f"[{notebook}] {describe(chosen)}")
    print(f"  device: {pick_device()}; hardware: {hardware_summary()}")
    print(f"  data folder: {data_dir()}")
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
