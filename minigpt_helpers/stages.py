"""The pipeline's stages: one function builds each, and ``ensure`` rebuilds what is missing.

Every stage writes a folder under the data directory with a manifest (``artifacts``) that
names its profile and the upstream manifest it was built from. ``ensure(stage, PROFILE)``
rebuilds, in order and saying so, every stage up to ``stage`` that is missing or stale, so
each notebook also runs on its own (a fresh Colab runtime).

    raw -> clean -> tokenizer -> tokens -> checkpoints -> eval
                                                     \\-> exports
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from . import cleaning, dataset, eval_report, export, runs, sources, tokenization, training
from .artifacts import (
    STAGES,
    chain,
    corpus_mismatch,
    data_dir,
    manifest_path,
    read_manifest,
    sha256_file,
    stage_dir,
    staleness,
    write_manifest,
)
from .checkpoint import find_checkpoint, load_checkpoint
from .profiles import Profile

log = logging.getLogger(__name__)


def build_raw(profile: Profile, *, local_folder: str | os.PathLike[str] | None = None) -> Path:
    """Fetch the profile's Gutenberg books, or copy its folder of your own books (``local_folder``
    overrides it), and write the raw manifest, which records which books they are."""
    skipped: list[sources.Skipped] = []
    local_folder = local_folder or profile.books_folder
    if local_folder is not None:
        books, skipped = sources.local_books(local_folder)
        origin = {"kind": "local", "folder": os.path.abspath(os.path.expanduser(local_folder))}
    else:
        books = [sources.gutenberg_book(i) for i in profile.book_ids]
        origin = {"kind": "gutenberg", "ids": list(profile.book_ids)}
    write_manifest("raw", profile, {
        "origin": origin,
        "books": [b.to_dict() for b in books],
        "skipped": [asdict(s) for s in skipped],
        "total_bytes": sum(b.bytes for b in books),
    })
    return stage_dir("raw")


def build_clean(profile: Profile, *, local_folder: str | os.PathLike[str] | None = None,
                options: cleaning.CleanOptions | None = None) -> Path:
    """Clean every book of the raw stage into ``data/clean/<book_id>.txt`` and write the manifest.

    With ``local_folder``, the raw stage is first rebuilt from that folder of .txt files. A file
    that cannot be decoded, or that the filters drop, is skipped and listed with its reason.
    """
    options = options or cleaning.CleanOptions()
    if local_folder is not None:
        build_raw(profile, local_folder=local_folder)
    else:
        ensure("raw", profile, quiet=True)
    raw = read_manifest("raw")
    out_dir = stage_dir("clean")
    books, skipped = cleaning.clean_books(raw, options, out_dir)
    if not books:
        raise ValueError(
            "no book could be cleaned: " + "; ".join(f"{Path(s['path']).name}: {s['reason']}" for s in skipped)
            + ". Give it plain-text books (UTF-8, Windows-1252 or Latin-1 .txt files)."
        )
    keep = {b["file"] for b in books}
    for old in out_dir.glob("*.txt"):
        if old.name not in keep:
            old.unlink()  # a book from an earlier build that is not part of this one
    names = [r.name for r in cleaning.RULES] + list(cleaning.FILTERS)
    write_manifest("clean", profile, {
        "books": books,
        "skipped": skipped,
        "totals": cleaning.clean_totals(books, names),
        "options": options.to_dict(),
        "rules": names,
        "token_count": cleaning.TOKEN_COUNT_NOTE,
        "origin": raw.get("origin"),
    })
    return out_dir


def build_tokenizer(profile: Profile) -> Path:
    """Build the profile's tokenizer from ``data/clean`` and save it to ``data/tokenizer``."""
    ensure("clean", profile, quiet=True)
    texts = tokenization.clean_texts() if profile.tokenizer in ("bpe", "char") else None
    start = time.perf_counter()
    tok = tokenization.get_tokenizer(profile.tokenizer, texts, vocab_size=profile.bpe_vocab_size)
    seconds = time.perf_counter() - start
    log.info("built %s in %.1f s", tok.name, seconds)
    folder = stage_dir("tokenizer")
    for stale in ("tokenizer.json", "chars.json"):  # another kind's file from an earlier profile
        (folder / stale).unlink(missing_ok=True)
    tok.save(folder)
    files = sorted(p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith(".") and p.name != "manifest.json")
    content: dict[str, Any] = {**tok.config(), "files": files, "build_seconds": round(seconds, 2),
                               "file_sha256": {name: sha256_file(folder / name) for name in files}}
    if texts is not None:
        content["trained_on"] = {"books": len(texts), "bytes": sum(len(t.encode("utf-8")) for t in texts)}
    write_manifest("tokenizer", profile, content)
    return folder


def build_tokens(profile: Profile, *, seed: int = dataset.SPLIT_SEED) -> Path:
    """Split and encode ``data/clean`` with ``data/tokenizer`` into ``data/tokens`` (bins + meta.json)."""
    ensure("tokenizer", profile, quiet=True)
    folder = stage_dir("tokens")
    manifest_path("tokens").unlink(missing_ok=True)  # a half-written stage is never "current"
    tokenizer = tokenization.load_tokenizer()
    books, texts = tokenization.clean_books()
    mode = profile.split_mode
    if mode == "books" and len(books) < 2:  # one file of your own: hold out its end instead
        log.warning("one book only: the validation split is the last %.0f%% of it instead of whole books",
                    100 * profile.val_fraction)
        mode = "tail"
    pieces = dataset.split_books(books, texts, mode, profile.val_fraction, seed)
    dtype = dataset.token_dtype(tokenizer.vocab_size)
    entries = dataset.encode_pieces(pieces, tokenizer, folder, dtype)
    counts, nbytes = dataset.split_totals(entries)
    for s in dataset.SPLITS:
        if counts[s] < profile.context_length + 1:
            raise ValueError(
                f"the {s} split has {counts[s]} tokens, fewer than one window of context_length="
                f"{profile.context_length} (+1 for the shifted targets); use more books, a larger "
                f"val_fraction, or a context_length below {counts[s]}"
            )
    split = {"mode": mode, "val_fraction": profile.val_fraction, "seed": seed,
             "val_books": sorted({e["book_id"] for e in entries if e["split"] == "val"}, key=str)}
    meta = dataset.write_meta(folder, tokenizer, dtype, entries, split)
    log.info("wrote %s: %s train and %s val tokens (%s)", folder, f"{counts['train']:,}", f"{counts['val']:,}", dtype.name)
    write_manifest("tokens", profile, {"files": ["train.bin", "val.bin", dataset.META_FILE], "dtype": dtype.name,
                                       "vocab_size": tokenizer.vocab_size, "tokenizer_sha256": tokenizer.sha256,
                                       "split": meta["split"], "counts": counts, "bytes": nbytes})
    return folder


def build_checkpoints(profile: Profile) -> Path:
    """Train the profile's run (continuing one left unfinished), then record it in the manifest."""
    ensure("tokens", profile, quiet=True)
    config = training.TrainConfig.from_profile(profile)
    result = training.train(config, resume=None, progress=True)
    if not result.finished:
        raise RuntimeError(f"training run {config.run!r} stopped ({result.stop_reason}) before finishing; "
                           "run it again to continue")
    runs.write_stage_manifest(profile, config.run)
    return stage_dir("checkpoints")


def build_eval(profile: Profile) -> Path:
    """Evaluate the default run's best checkpoint, write data/eval/, the manifest last."""
    ensure("checkpoints", profile, quiet=True)
    report, files = eval_report.evaluate_checkpoint(profile, progress=True)
    return eval_report.write_eval(report, profile, files)


def build_exports(profile: Profile, *, hf: bool = True, onnx: bool = True) -> Path:
    """The default run's best checkpoint to ``data/exports/<run>/`` and, where it maps and the
    libraries are there, ``<run>-hf/`` and ``<run>.onnx``. Writes the manifest last."""
    ensure("checkpoints", profile, quiet=True)
    source = find_checkpoint()
    ckpt = load_checkpoint(source, "cpu")
    name = ckpt.meta.get("run") or source.parent.name
    out = stage_dir("exports")
    folder = export.export_model(ckpt, out / name, name=name, generation={"max_new_tokens": profile.max_new_tokens})
    shown = source.relative_to(data_dir()) if source.is_relative_to(data_dir()) else source
    entry: dict[str, Any] = {"folder": name, "source": str(shown), "step": ckpt.meta.get("step"),
                             "val_loss": ckpt.meta.get("val_loss"), "bytes": export.folder_size(folder)}
    if hf:
        problems = export.hf_problems(ckpt.model)
        if problems:
            entry |= {"hf": None, "hf_skipped": "; ".join(problems)}
        else:
            entry |= {"hf": f"{name}-hf", "hf_bytes": export.folder_size(export.export_hf(ckpt, out / f"{name}-hf"))}
    if onnx:
        try:
            onnx_file = export.export_onnx(ckpt, out / f"{name}.onnx")
            entry |= {"onnx": f"{name}.onnx", "onnx_bytes": export.folder_size(onnx_file)}
        except ImportError as err:  # onnx / onnxscript not installed (the [export] extra)
            log.warning("ONNX export skipped: %s (pip install 'minigpt-helpers[export]')", err)
            entry |= {"onnx": None, "onnx_skipped": str(err)}
    write_manifest("exports", profile, {"default": name, "exports": {name: entry}})
    return out


#: The function that builds each stage for a profile.
BUILDERS: dict[str, Callable[[Profile], Path]] = {
    "raw": build_raw, "clean": build_clean, "tokenizer": build_tokenizer, "tokens": build_tokens,
    "checkpoints": build_checkpoints, "eval": build_eval, "exports": build_exports,
}


def ensure(stage: str, profile: Profile, *, quiet: bool = False) -> Path:
    """Make sure ``stage`` and everything upstream of it exist and match ``profile``.

    Stages that are missing, built for another profile, or built from other inputs are
    rebuilt in order, saying so. Returns the stage's folder.
    """
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; stages are {', '.join(STAGES)}")
    if problem := corpus_mismatch(profile):
        raise ValueError(problem)
    for s in chain(stage):
        reason = staleness(s, profile)
        if reason is None:
            continue
        message = f"[rebuild] {reason}: building it with stages.{BUILDERS[s].__name__} for profile {profile.name!r}"
        if not quiet:
            print(message, flush=True)
        log.info(message)
        BUILDERS[s](profile)
        still = staleness(s, profile)
        if still is not None:
            raise RuntimeError(f"rebuilding {s!r} did not produce a current manifest: {still}")
    return stage_dir(stage)
