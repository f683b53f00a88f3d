"""The package's shape: no import cycles, and one command line that lists every command."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from minigpt_helpers import cli

PACKAGE = Path(__file__).resolve().parent.parent / "minigpt_helpers"


def package_imports() -> dict[str, set[str]]:
    """Each module -> the package's modules it imports, at the top or inside a function."""
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.glob("*.py"):
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                names = [node.module.split(".")[0]] if node.module else [a.name for a in node.names]
                found.update(n for n in names if n in modules)
        graph[path.stem] = found
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first == last), or None."""
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt, path + [nxt])):
                return cycle
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start, [start])):
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_package_has_no_import_cycle() -> None:
    assert find_cycle(package_imports()) is None


def test_one_command_line_lists_every_command() -> None:
    done = subprocess.run([sys.executable, "-m", "minigpt_helpers", "--help"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0
    for name in ("prepare", "train", "eval", "generate", "chat", "export", "serve"):
        assert f"    {name}" in done.stdout
    assert set(cli.COMMANDS) == {"prepare", "train", "eval", "generate", "chat", "export", "serve"}


@pytest.mark.parametrize("command", ["prepare", "train", "eval", "generate", "chat", "export"])
def test_each_command_shows_its_options(command, capsys) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main([command, "--help"])
    assert done.value.code == 0
    assert "--" in capsys.readouterr().out


def test_an_unknown_command_is_refused_with_the_list(capsys) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main(["trian"])
    assert done.value.code == 2
    assert "train" in capsys.readouterr().err
