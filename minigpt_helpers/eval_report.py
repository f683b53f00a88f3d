"""The ``eval`` stage's report: ``data/eval/metrics.json``, its plots and samples (notebook 06).

``evaluate_checkpoint`` measures the default run's best checkpoint; ``write_eval`` stores the
report and, last, the manifest; ``stages.build_eval(profile)`` runs it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import baselines, evaluation, text_quality
from .artifacts import read_json, stage_dir, write_json_atomic, write_manifest
from .checkpoint import find_checkpoint, load_checkpoint
from .dataset import load_tokens
from .hardware import choose_precision, model_device
from .notebook import hardware_summary
from .profiles import pick_device
from .runs import read_metrics

METRICS_FILE = "metrics.json"
METRICS_FORMAT = 1
REPORT_KEYS = ("checkpoint", "data", "split", "books", "quick_estimate", "baselines", "context", "wikitext2",
               "text_quality", "curves")


def checkpoint_info(ckpt: Any) -> dict[str, Any]:
    """What metrics.json records about the checkpoint it evaluated."""
    meta = ckpt.meta
    return {"path": str(ckpt.path), "run": meta.get("run", ckpt.path.parent.name), "step": meta.get("step"),
            "val_loss_during_training": meta.get("val_loss"), "parameters": ckpt.model.num_parameters(),
            "model": ckpt.config.get("model"), "tokenizer": ckpt.config.get("tokenizer")}


def data_info(data: Any) -> dict[str, Any]:
    """What metrics.json records about the token files it evaluated on."""
    meta = data.meta
    return {"folder": str(data.path.parent), "split": data.split, "tokenizer_sha256": meta["tokenizer"]["sha256"],
            "counts": meta["counts"], "bytes": meta.get("bytes"), "split_rule": meta.get("split"),
            "books": [{k: b[k] for k in ("book_id", "title", "author", "tokens", "bytes")} for b in data.books]}


def write_eval(report: dict[str, Any], profile: Any, files: Sequence[str] = ()) -> Path:
    """Write ``data/eval/metrics.json`` (format, created, profile, hardware, then every one of
    ``REPORT_KEYS``, any other parts, and the ``files`` written beside it) and, last, the manifest."""
    missing = [k for k in REPORT_KEYS if k not in report]
    if missing:
        raise ValueError(f"the evaluation report lacks {missing}; every one of {list(REPORT_KEYS)} is needed "
                         "(use None for a part that was not measured)")
    folder = stage_dir("eval")
    files = sorted({*files, METRICS_FILE})
    metrics = {"format": METRICS_FORMAT, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "profile": profile.name,
               "hardware": hardware_summary(), **{k: report[k] for k in REPORT_KEYS},
               **{k: v for k, v in report.items() if k not in REPORT_KEYS}, "files": files}
    write_json_atomic(folder / METRICS_FILE, metrics)
    split = report["split"]["total"]
    write_manifest("eval", profile, {"files": files, "checkpoint": report["checkpoint"]["path"],
                                     "val_loss": split["loss"], "val_bits_per_byte": split["bits_per_byte"]})
    return folder


def read_eval() -> dict[str, Any]:
    """``data/eval/metrics.json``; FileNotFoundError naming the fix when missing."""
    path = stage_dir("eval") / METRICS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run notebooks/06_evaluation.ipynb or "
                                "stages.ensure('eval', PROFILE)")
    return read_json(path)


def quick_section(model: torch.nn.Module, data: Any, train_config: dict[str, Any], *, seeds: int,
                  exact_loss: float) -> dict[str, Any]:
    """``quick_estimate`` as training computes it (its batches, batch size and seed + 1), then with
    ``seeds - 1`` other seeds to show its spread, next to the exact loss."""
    batches, bs = int(train_config.get("eval_batches", 20)), int(train_config.get("batch_size", 16))
    seed = int(train_config.get("seed", 42)) + 1
    # training's own number format, so its logged value can be reproduced (bf16 on most GPUs)
    precision = choose_precision(model_device(model), str(train_config.get("precision", "auto"))).name
    estimates = [evaluation.quick_estimate(model, data, batches=batches, batch_size=bs, seed=seed + i,
                                           precision=precision) for i in range(seeds)]
    return {"batches": batches, "batch_size": bs, "seed": seed, "precision": precision,
            "loss": estimates[0], "estimates": estimates,
            "mean": float(np.mean(estimates)), "std": float(np.std(estimates)), "exact_loss": exact_loss}


def wikitext_section(results: dict[str, Any]) -> dict[str, Any]:
    """The WikiText-2 results, with whether the train split (and so the recipe) is available here."""
    ok, why = evaluation.wikitext_available("train")
    return {**results, "word_rule": "words = len(raw_text.split()): whitespace-separated pieces, line ends not counted",
            "stream": "each split as one stream after one end-of-text id; capped: its first whole articles",
            "train_split": {"available": ok, "reason": why, "recipe": "python -m minigpt_helpers train --recipe wikitext",
                            "recipe_result": None if not ok else "not run here: see 06_evaluation, section 6"}}


def quality_section(samples: Sequence[dict[str, Any]], per_checkpoint: Sequence[dict[str, Any]],
                    reference: dict[str, Any], during_training: Sequence[dict[str, Any]] | None) -> dict[str, Any]:
    """Samples and their automatic measures, as metrics.json stores them."""
    return {"samples_file": text_quality.SAMPLES_FILE, "prompts": sorted({s["prompt"] for s in samples}),
            "by_temperature": text_quality.quality_by_temperature(samples), "per_checkpoint": list(per_checkpoint),
            "reference": reference, "during_training": None if during_training is None else list(during_training)}


def curves_section(records: Sequence[dict[str, Any]], run_folder: Path) -> dict[str, Any]:
    return {"file": "curves.png", "metrics_file": str(Path(run_folder) / "metrics.jsonl"),
            **evaluation.overfitting_summary(records)}


def assemble_report(ckpt: Any, data: Any, split: dict[str, Any], **parts: Any) -> dict[str, Any]:
    """The report ``write_eval`` stores: the checkpoint, the data, the split's results, and ``parts``
    (quick_estimate, baselines, context, wikitext2, text_quality, curves)."""
    return {"checkpoint": checkpoint_info(ckpt), "data": data_info(data),
            "split": {k: split[k] for k in ("total", "settings")}, "books": split["documents"], **parts}


def _save(fig: Any, path: Path) -> str:
    """Write ``fig`` as a PNG and close it; returns the file's name."""
    import matplotlib.pyplot as plt  # deferred: plotting only

    evaluation.save_figure(fig, path)
    plt.close(fig)
    return path.name


def evaluate_checkpoint(profile: Any, folder: str | Path | None = None, *,
                        progress: bool = True) -> tuple[dict[str, Any], list[str]]:
    """Everything ``stages.build_eval`` measures, for the default run's best checkpoint (or ``folder``);
    writes plots and samples into data/eval/. Returns the report and the files written."""
    settings, out = evaluation.eval_settings(profile), stage_dir("eval")
    ckpt = load_checkpoint(Path(folder) if folder is not None else find_checkpoint(), pick_device())
    model, tok, run_folder = ckpt.model, ckpt.tokenizer, ckpt.path.parent
    tokens = evaluation.tokens_folder(ckpt.config)
    val = load_tokens("val", tokenizer=tok, folder=tokens)
    split = evaluation.evaluate_split(model, tok, val, max_tokens=profile.eval_max_tokens, progress=progress)
    quick = quick_section(model, val, ckpt.config.get("train") or {}, seeds=settings["quick_seeds"],
                          exact_loss=split["total"]["loss"])
    docs = evaluation.split_documents(val)
    base = baselines.evaluate_baselines(load_tokens("train", tokenizer=tok, folder=tokens), docs, split["documents"],
                                        tok, model_config=model.config)
    context = evaluation.context_use(model, val[:], special_ids=list(tok.special_tokens.values()),
                                     windows=settings["context_windows"])
    wiki = wikitext_section(evaluation.evaluate_wikitext(model, tok, max_tokens=settings["wikitext_max_tokens"],
                                                         progress=progress))

    samples = text_quality.sample_grid(model, tok, max_new_tokens=profile.max_new_tokens)
    files = [p.name for p in text_quality.write_samples(samples, out, checkpoint=str(ckpt.path))]
    rows = text_quality.quality_over_checkpoints(run_folder, max_new_tokens=profile.max_new_tokens,
                                                 samples_per_prompt=settings["quality_samples"])
    per_sample = max(10, rows[-1]["words"] // max(1, rows[-1]["samples"])) if rows else 100
    reference = text_quality.reference_quality(tok, docs, n_words=per_sample)
    has_samples = (run_folder / "samples.jsonl").is_file()
    during = text_quality.quality_of_training_samples(run_folder) if has_samples else None
    quality = quality_section(samples, rows, reference, during)
    files.append(_save(text_quality.plot_quality(quality), out / "quality.png"))
    books = evaluation.plot_per_book(split["documents"], total_bpb=split["total"]["bits_per_byte"],
                                     baseline_bpb=base["bigram"]["bits_per_byte"])
    files.append(_save(books.figure, out / "per_book.png"))

    records = read_metrics(run_folder) if (run_folder / "metrics.jsonl").is_file() else []
    curves = None
    if records:
        ax = evaluation.plot_curves(records, title=f"run {run_folder.name!r}")
        files.append(_save(ax.figure, out / "curves.png"))
        curves = curves_section(records, run_folder)
    report = assemble_report(ckpt, val, split, quick_estimate=quick, baselines=base, context=context,
                             wikitext2=wiki, text_quality=quality, curves=curves)
    return report, files


