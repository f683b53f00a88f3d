"""The benchmark scripts the README quotes still run and print their figures (tiny settings).

These check what the scripts print, never how fast anything is: speed figures come from real
runs written down in the README, not from timed tests.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"


def run_script(name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, str(BENCHMARKS / name), *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
    )


def number_after(label: str, text: str) -> float:
    match = re.search(re.escape(label) + r"[^0-9]*([0-9][0-9,]*\.?[0-9]*)", text)
    assert match, f"no figure after {label!r} in:\n{text}"
    return float(match.group(1).replace(",", ""))


def test_generate_speed_compares_both_paths_and_says_where_the_time_goes(tmp_path: Path) -> None:
    r = run_script("generate_speed.py", "--preset", "ci", "--new-tokens", "80", "--repeats", "1",
                   "--threads", "1", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "same tokens on both paths: True" in out
    for label in ("without cache:", "with cache:", "one token with the cache:", "weight products alone:",
                  "window without it:", "MB of weights once:"):
        assert number_after(label, out) > 0, label
    assert number_after("speed-up with the cache:", out) > 0
    assert number_after("the cache cannot beat", out) > 0
    ops = re.search(r"with the cache: +[\d.]+ ms \((\d+) tensor operations\)", out)
    assert ops and int(ops.group(1)) > 10, out  # a one-token step is dozens of tensor operations
    products = re.search(r"its (\d+) weight products", out)
    assert products and int(products.group(1)) == 4 * 2 + 1, out  # 4 per block of the ci model's 2, the head


def test_generate_speed_names_a_missing_checkpoint(tmp_path: Path) -> None:
    r = run_script("generate_speed.py", "--checkpoint", str(tmp_path / "nowhere"), cwd=tmp_path)
    assert r.returncode != 0
    assert "is not a checkpoint folder" in r.stderr


def test_train_speed_prints_step_time_and_throughput(tmp_path: Path) -> None:
    r = run_script("train_speed.py", "--profile", "ci", "--steps", "2", "--warmup-steps", "1", "--compile", "off",
                   "--threads", "1", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert number_after("ms/step: median", r.stdout) > 0
    assert number_after("tokens/s:", r.stdout) > 0
    assert "1 thread)" in r.stdout  # the device line says how many threads it ran on


def test_train_speed_with_gpt2s_vocabulary(tmp_path: Path) -> None:
    # 50,257 one-character symbols reach past the surrogate code points, which UTF-8 cannot hold
    r = run_script("train_speed.py", "--profile", "ci", "--vocab-size", "50257", "--steps", "1", "--warmup-steps", "1",
                   "--compile", "off", "--threads", "1", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "vocab 50257" in r.stdout


@pytest.fixture
def two_books(tmp_path: Path) -> Path:
    folder = tmp_path / "books"
    folder.mkdir()
    words = "the cat sat on a mat and then it ran down to the sea where the ships were waiting".split()
    for i in range(2):
        (folder / f"book{i}.txt").write_text(" ".join(words[(j * 7 + i) % len(words)] for j in range(3000)))
    return folder


def test_tokenize_speed_measures_every_tokenizer(tmp_path: Path, two_books: Path) -> None:
    r = run_script("tokenize_speed.py", "--books", str(two_books), "--bpe-vocab", "300", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    rows = {line.split()[0].rstrip(","): line for line in r.stdout.splitlines() if "MB/s" not in line and line.strip()}
    for name in ("gpt2", "char-"):
        assert any(key.startswith(name) for key in rows), f"no {name} row in:\n{r.stdout}"
    char_row = next(line for key, line in rows.items() if key.startswith("char-"))
    assert " 1.00 " in char_row  # a character tokenizer: one byte per token on ASCII text


def test_tokenize_speed_asks_for_books_when_the_folder_is_empty(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    r = run_script("tokenize_speed.py", "--books", str(tmp_path / "empty"), cwd=tmp_path)
    assert r.returncode != 0
    assert "pass --books FOLDER" in r.stdout + r.stderr


def test_recipe_compare_trains_both_arms_and_prints_one_table(tmp_path: Path, shared_datasets: Path) -> None:
    r = run_script("recipe_compare.py", "--profile", "ci", "--minutes", "0.05", "--set", "model.mlp=swiglu",
                   "--data", str(tmp_path / "arms"), "--json", str(tmp_path / "compare.json"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    last = r.stdout.strip().splitlines()[-1]
    match = re.fullmatch(r"recipe_compare: old (\d\.\d{3}) new (\d\.\d{3}) bigram (\d\.\d{3})", last)
    assert match, last
    old, new, bigram = map(float, match.groups())
    assert 0 < bigram < 10 and 0 < old < 10 and 0 < new < 10
    assert "| old (ci-gpt2) |" in r.stdout and "| new (ci) |" in r.stdout
    rows = json.loads((tmp_path / "compare.json").read_text())["rows"]
    assert [row["model"]["position"] for row in rows] == ["learned", "rotary"]  # GPT-2's block, then the modern one
    assert rows[1]["model"]["mlp"] == "swiglu" and rows[0]["model"]["mlp"] == "gelu"  # --set reached the new arm only
    assert rows[0]["training"]["optimizer"] == "adamw" and all(row["steps"] > 0 for row in rows)
    assert rows[1]["prompt_use"]["share"] is not None and len(rows[1]["context"]["by_position"]) == 64
    assert {p.name for p in (tmp_path / "arms").iterdir()} == {"ci-bpe512"}  # one vocabulary: one set of stages
