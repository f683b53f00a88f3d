"""Command line: ``python -m minigpt_helpers <command> ...`` (also installed as ``minigpt``).

Each command lives in its stage module as ``cli(argv) -> int`` with its own argparse, so
``python -m minigpt_helpers train --help`` shows that command's options.
"""

from __future__ import annotations

import importlib
import sys

COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("minigpt_helpers.training", "train a model (the loop of 05_training), or resume a run"),
    "eval": ("minigpt_helpers.evaluation", "evaluate a checkpoint: loss, perplexity, bits per byte"),
    "generate": ("minigpt_helpers.generation", "sample text from a checkpoint"),
    "chat": ("minigpt_helpers.chat", "chat with a checkpoint (one answer with --prompt, else interactive)"),
    "export": ("minigpt_helpers.export", "export a checkpoint as a self-contained model folder"),
    "serve": ("minigpt_helpers.serving", "serve a model folder over HTTP (OpenAI-compatible API + web page)"),
}


def usage() -> str:
    lines = ["usage: python -m minigpt_helpers <command> [options]", "", "commands:"]
    lines += [f"  {name:<9} {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "python -m minigpt_helpers <command> --help shows a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"unknown command {command!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[command][0])
    return int(module.cli(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
