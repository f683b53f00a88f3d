"""Text quality: samples from fixed prompts, and two cheap automatic measures of them.

Loss says how well a model predicts real text, not how its own text reads. ``distinct_n``
(unique word n-grams / all, Li et al.): low means the model says the same few things.
``repetition_rate`` (share of a sample's word 4-grams seen earlier in it): high means loops.
Both depend on length, so compare samples of one length, and with real text of that length
(``reference_quality``). Neither says whether the text makes sense: read the samples too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .artifacts import write_json_atomic, write_text_atomic
from .checkpoint import load_checkpoint, read_config
from .generation import SamplingConfig, complete_batch
from .profiles import pick_device

# Fixed prompts: the same ones for every checkpoint, so samples can be compared.
PROMPTS: tuple[str, ...] = (
    "It was a cold night, and",
    "\"I do not know,\" said the",
    "The old house stood at the end of",
    "She opened the letter and",
)
TEMPERATURES: tuple[float, ...] = (0.0, 0.7, 1.0, 1.3)
QUALITY_TEMPERATURE = 0.8  # the temperature tracked across checkpoints
SAMPLES_FILE = "samples.json"
SAMPLES_MD = "samples.md"


def words(text: str) -> list[str]:
    return text.split()


def ngrams(seq: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(seq[i:i + n]) for i in range(len(seq) - n + 1)]


def distinct_n(texts: Sequence[str], n: int) -> float:
    """Unique word n-grams / all word n-grams, over all ``texts`` together (0 when there are none)."""
    grams = [g for t in texts for g in ngrams(words(t), n)]
    return len(set(grams)) / len(grams) if grams else 0.0


def repetition_rate(texts: Sequence[str], n: int = 4) -> float:
    """Share of word n-grams that repeat an earlier n-gram of the same text, over all ``texts``."""
    repeated = total = 0
    for t in texts:
        grams = ngrams(words(t), n)
        total += len(grams)
        repeated += len(grams) - len(set(grams))
    return repeated / total if total else 0.0


def quality(texts: Sequence[str]) -> dict[str, Any]:
    """distinct-1/2/3, repetition rate (4-grams), and how many samples and words they rest on."""
    return {"samples": len(texts), "words": sum(len(words(t)) for t in texts),
            **{f"distinct_{n}": distinct_n(texts, n) for n in (1, 2, 3)}, "repetition_4": repetition_rate(texts, 4)}


# --------------------------------------------------------------------------- sampling


def sample_grid(model: Any, tokenizer: Any, prompts: Sequence[str] = PROMPTS,
                temperatures: Sequence[float] = TEMPERATURES, *, max_new_tokens: int = 100, seed: int = 0,
                top_k: int = 0) -> list[dict[str, Any]]:
    """One seeded continuation per (prompt, temperature), all prompts of a temperature in one batch;
    no top-k by default, so the temperature alone shapes the distribution."""
    out = []
    for t in temperatures:
        config = SamplingConfig(temperature=float(t), top_k=top_k, max_new_tokens=max_new_tokens, seed=seed)
        for prompt, text in zip(prompts, complete_batch(model, tokenizer, list(prompts), config)):
            out.append({"prompt": prompt, "temperature": float(t), "top_k": top_k, "seed": seed, "text": text})
    return out


def quality_by_temperature(samples: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """``quality`` of the samples of each temperature."""
    temps = sorted({s["temperature"] for s in samples})
    return [{"temperature": t, **quality([s["text"] for s in samples if s["temperature"] == t])} for t in temps]


def write_samples(samples: Sequence[dict[str, Any]], folder: str | Path, *, checkpoint: str = "") -> list[Path]:
    """``samples.json`` (the list, with the checkpoint) and ``samples.md`` (to read) in ``folder``."""
    folder = Path(folder)
    write_json_atomic(folder / SAMPLES_FILE, {"checkpoint": checkpoint, "samples": list(samples)})
    lines = [f"# Samples from {checkpoint or 'the checkpoint'}", ""]
    for t in sorted({s["temperature"] for s in samples}):
        lines += [f"## temperature {t:g}" + (" (greedy)" if t == 0 else ""), ""]
        for s in (s for s in samples if s["temperature"] == t):
            body = (s["prompt"] + s["text"]).replace("\n", "\n> ")
            lines += [f"> {body}", ""]
    write_text_atomic(folder / SAMPLES_MD, "\n".join(lines))
    return [folder / SAMPLES_FILE, folder / SAMPLES_MD]


# --------------------------------------------------------------------------- across checkpoints


def checkpoint_folders(run_dir: str | Path) -> list[tuple[int, str, Path]]:
    """(step, label, folder) of a run's saved checkpoints, by step: the periodic ``step-NNNNNN``
    ones that were kept, and ``best/`` unless a periodic one has the same step."""
    run_dir = Path(run_dir)
    found: dict[int, tuple[str, Path]] = {}
    for folder in sorted(run_dir.glob("step-*")):
        if re.fullmatch(r"step-\d+", folder.name) and (folder / "config.json").is_file():
            found[int(folder.name[5:])] = (folder.name, folder)
    best = run_dir / "best"
    if (best / "config.json").is_file():
        step = int(read_config(best).get("meta", {}).get("step", -1))
        found[step] = (f"{found[step][0]} (= best)", found[step][1]) if step in found else ("best", best)
    return [(step, *found[step]) for step in sorted(found)]


def quality_over_checkpoints(run_dir: str | Path, prompts: Sequence[str] = PROMPTS, *,
                             temperature: float = QUALITY_TEMPERATURE, max_new_tokens: int = 100,
                             samples_per_prompt: int = 2, seed: int = 0,
                             device: str | None = None) -> list[dict[str, Any]]:
    """``quality`` of fresh samples (fixed prompts, seeds ``seed``...) from each saved checkpoint."""
    rows = []
    for step, label, folder in checkpoint_folders(run_dir):
        ckpt = load_checkpoint(folder, device or pick_device())
        texts = [s["text"] for k in range(samples_per_prompt) for s in sample_grid(
            ckpt.model, ckpt.tokenizer, prompts, [temperature], max_new_tokens=max_new_tokens, seed=seed + 1000 * k)]
        rows.append({"step": step, "checkpoint": label, "temperature": temperature, **quality(texts),
                     "example": prompts[0] + texts[0]})
    return rows


def quality_of_training_samples(run_dir: str | Path) -> list[dict[str, Any]]:
    """``quality`` of each sample 05_training wrote to ``samples.jsonl`` while training."""
    path = Path(run_dir) / "samples.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: the run wrote no samples (sample_interval=0?)")
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [{"step": r["step"], **quality([r["text"]])} for r in records]


def reference_quality(tokenizer: Any, docs: Sequence[dict[str, Any]], *, n_words: int, pieces: int = 8,
                      seed: int = 0) -> dict[str, Any]:
    """``quality`` of ``pieces`` stretches of ``n_words`` words of real held-out text: what a
    human writer scores at the same length."""
    rng = np.random.default_rng(seed)
    texts = []
    for i in range(pieces):
        doc = docs[i % len(docs)]
        ids = np.asarray(doc["ids"])
        span = max(1, 3 * n_words)  # tokens; enough for n_words words
        start = int(rng.integers(0, max(1, len(ids) - span)))
        texts.append(" ".join(words(tokenizer.decode(ids[start:start + span].tolist()))[1:n_words + 1]))
    return {"what": f"{pieces} stretches of {n_words} words of the held-out books", **quality(texts)}


def plot_quality(quality: dict[str, Any], axes: Any = None) -> Any:
    """distinct-2 and repetition by temperature (left) and across training (right), from a
    ``quality_section`` dict; returns the figure."""
    import matplotlib.pyplot as plt  # deferred: plotting only

    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 3), dpi=90)
    ax1, ax2 = axes
    by_temp, reference = quality["by_temperature"], quality.get("reference")
    temps = [r["temperature"] for r in by_temp]
    ax1.plot(temps, [r["distinct_2"] for r in by_temp], "o-", label="distinct-2")
    ax1.plot(temps, [r["repetition_4"] for r in by_temp], "s-", label="repetition (4-grams)")
    if reference:
        ax1.axhline(reference["distinct_2"], ls=":", c="tab:blue", label="real text, distinct-2")
    ax1.set(xlabel="temperature", title="the checkpoint, by temperature")
    for rows, marker, label in ((quality.get("during_training") or [], "x", "training samples"),
                                (quality.get("per_checkpoint") or [], "o", f"saved checkpoints, T={QUALITY_TEMPERATURE}")):
        if rows:
            steps = [r["step"] for r in rows]
            ax2.plot(steps, [r["distinct_2"] for r in rows], marker + "-", label=f"distinct-2, {label}")
            ax2.plot(steps, [r["repetition_4"] for r in rows], marker + "--", label=f"repetition, {label}")
    ax2.set(xlabel="step", title="across training")
    for ax in (ax1, ax2):
        ax.set_ylim(-0.05, 1.05)
        ax.legend(fontsize=7)
    ax1.figure.tight_layout()
    return ax1.figure
