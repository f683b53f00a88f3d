"""tasks.py, the course's entry point: argument passing to pytest and folder settings."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def tasks():
    spec = importlib.util.spec_from_file_location("tasks", ROOT / "tasks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("extra", [[], ["-x"], ["-x", "-k", "cache"], ["--lf"], ["tests/test_sources.py", "-x"]])
def test_everything_after_test_goes_to_pytest(tasks, extra) -> None:
    args, pytest_args = tasks.parse(["test", *extra])
    assert args.command == "test" and pytest_args == extra


def test_course_options_are_parsed_and_checked(tasks) -> None:
    args, pytest_args = tasks.parse(["course", "--profile", "ci", "--only", "01", "02"])
    assert (args.command, args.profile, args.only, pytest_args) == ("course", "ci", ["01", "02"], [])
    with pytest.raises(SystemExit):
        tasks.parse(["course", "--profile", "laptop"])  # argparse names the choices


def test_relative_folder_settings_become_absolute(tasks, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    env = {"MINIGPT_DATA_DIR": "mydata", "MINIGPT_DATASETS_DIR": str(tmp_path / "offline"),
           "TIKTOKEN_CACHE_DIR": "", "MINIGPT_PROFILE": "cpu"}
    tasks.absolute_folder_settings(env)
    assert env["MINIGPT_DATA_DIR"] == str(tmp_path / "mydata")  # from where the command ran
    assert env["MINIGPT_DATASETS_DIR"] == str(tmp_path / "offline")  # already absolute: kept
    assert env["TIKTOKEN_CACHE_DIR"] == "" and env["MINIGPT_PROFILE"] == "cpu"  # empty and non-folders untouched


def test_the_tests_never_use_the_learners_profile_or_data(tasks, monkeypatch) -> None:
    seen = {}
    exit_code = 0

    def fake_run(cmd, cwd, env):
        seen.update(env, existed=Path(env["MINIGPT_DATA_DIR"]).is_dir())

        class Done:
            returncode = exit_code
        return Done()

    monkeypatch.setenv("MINIGPT_PROFILE", "cpu")
    monkeypatch.setenv("MINIGPT_DATA_DIR", "/somewhere/precious")
    monkeypatch.delenv("MINIGPT_TEST_PROFILE", raising=False)
    monkeypatch.setattr(tasks.subprocess, "run", fake_run)
    assert tasks.test(["-x"]) == 0
    assert seen["MINIGPT_PROFILE"] == "ci" and seen["MINIGPT_DATA_DIR"] != "/somewhere/precious"
    assert seen["existed"] and not Path(seen["MINIGPT_DATA_DIR"]).exists()  # a scratch folder, removed after a pass
    exit_code = 1
    assert tasks.test([]) == 1
    kept = Path(seen["MINIGPT_DATA_DIR"])
    assert kept.is_dir()  # after a failure it stays, for a look
    kept.rmdir()


def test_a_notebook_runs_without_the_unencrypted_tcp_warning(tasks, tmp_path, capfd) -> None:
    import nbformat

    code = "import os; print(40 + 2, os.getcwd(), os.getpid())"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)]), tmp_path / "in.ipynb")
    tasks.execute(tmp_path / "in.ipynb", tmp_path / "out.ipynb", timeout=60)
    answer, cwd, pid = nbformat.read(tmp_path / "out.ipynb", as_version=4).cells[0].outputs[0]["text"].split()
    assert (answer, cwd) == ("42", str(tasks.NOTEBOOKS))  # ran, in notebooks/
    with pytest.raises(ProcessLookupError):  # and its kernel was shut down, not left running
        os.kill(int(pid), 0)
    assert "without encryption" not in capfd.readouterr().err


def test_a_long_temporary_folder_falls_back_to_tcp(tasks, tmp_path, monkeypatch) -> None:
    deep = tmp_path / ("d" * 90)
    deep.mkdir()
    monkeypatch.setattr(tasks.tempfile, "tempdir", str(deep))
    assert tasks.local_kernel_manager() == (None, None)
    assert list(deep.iterdir()) == []  # nothing left behind


def test_the_test_command_says_what_will_skip_and_how_to_enable_it(tasks, tmp_path) -> None:
    notes = tasks.skip_notes({"MINIGPT_REQUIRE_BROWSER": "1"})
    assert any("MINIGPT_DATASETS_DIR" in n and "skip" in n for n in notes)
    assert any("TIKTOKEN_CACHE_DIR" in n for n in notes)
    assert tasks.skip_notes({"MINIGPT_DATASETS_DIR": str(tmp_path), "TIKTOKEN_CACHE_DIR": str(tmp_path),
                             "MINIGPT_REQUIRE_BROWSER": "1"}) == []
