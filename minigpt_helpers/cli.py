"""The command line: ``python -m minigpt_helpers <command> [options]`` (also installed as ``minigpt``).

One parser with a subcommand for each stage that runs outside the notebooks. Each handler reads
its arguments, calls the package and prints a short summary. Exit codes: 0 done, 1 the training
loss stopped being finite, 2 bad input or a missing file (the message says which).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from . import eval_report, evaluation, recipes, stages
from .artifacts import read_manifest, stage_dir, write_json_atomic
from .chat import DEFAULT_PERSONA, EXIT_WORDS, ChatSession, ChatTemplate
from .checkpoint import CONFIG, find_checkpoint, load_checkpoint
from .dataset import load_tokens
from .generation import SamplingConfig, stream_text
from .notebook import hardware_summary
from .profiles import BOOKS_ENV, get_profile, pick_device, with_books
from .runs import write_stage_manifest
from .training import NonFiniteLossError, TrainConfig, train

PROG = "python -m minigpt_helpers"


def parse_value(text: str) -> Any:
    """A ``--set FIELD=VALUE`` value: JSON where it parses (numbers, true, lists, dicts), else the text."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def resolve_checkpoint(name: str | None) -> Path:
    """A checkpoint folder from ``--checkpoint``: a folder path, a run name, or None (the default run)."""

    if name is not None:
        path = Path(name).expanduser()
        if (path / CONFIG).is_file():
            return path
        if path.is_dir() and (path / "best" / CONFIG).is_file():
            return path / "best"  # a run folder
        if os.sep in name or "/" in name or path.exists():
            raise FileNotFoundError(
                f"--checkpoint {name}: no checkpoint there (expected {path / CONFIG}); pass a checkpoint "
                "folder such as data/checkpoints/<run>/best, or a run name"
            )
    try:
        return find_checkpoint(name)
    except FileNotFoundError as err:
        raise FileNotFoundError(
            f"no checkpoint found ({err}). Pass --checkpoint <folder or run name>, or train one first: "
            "notebooks/05_training.ipynb or `python -m minigpt_helpers train`"
        ) from err


def _log_to_stderr() -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")


# --------------------------------------------------------------------------- prepare


def add_prepare_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", help="ci, cpu or gpu (default: MINIGPT_PROFILE, else gpu with CUDA, else cpu)")
    books = p.add_mutually_exclusive_group()
    books.add_argument("--books", metavar="FOLDER", help="a folder of your own .txt books (like MINIGPT_BOOKS)")
    books.add_argument("--gutenberg", metavar="IDS", help="Project Gutenberg ids, e.g. 1342,84,11 (like MINIGPT_GUTENBERG_IDS)")


def run_prepare(args: argparse.Namespace) -> int:
    """Notebooks 01 to 03 without the lessons: fetch or copy the books, clean them, build the
    tokenizer and the token files for the profile. --books or --gutenberg chooses other books;
    give later commands the same choice (MINIGPT_BOOKS or MINIGPT_GUTENBERG_IDS)."""
    _log_to_stderr()
    try:
        profile = get_profile(args.profile)
        if args.books or args.gutenberg:
            profile = with_books(profile, args.books, args.gutenberg)
        stages.build_raw(profile)  # the books this command names, replacing any others on disk
        folder = stages.ensure("tokens", profile)
        clean = read_manifest("clean")
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    counts = read_manifest("tokens")["counts"]
    for skip in clean["skipped"]:
        print(f"skipped {skip['path']}: {skip['reason']}")
    print(f"{len(clean['books'])} books cleaned; {counts['train']:,} training and {counts['val']:,} validation "
          f"tokens in {folder}")
    if profile.books_folder:
        print(f"train on them with: {BOOKS_ENV}={profile.books_folder} {PROG} train --profile {profile.name}")
    return 0


# --------------------------------------------------------------------------- train

TRAIN_FLAGS: dict[str, tuple[str, type]] = {  # CLI flag -> TrainConfig field
    "--max-steps": ("max_steps", int), "--batch-size": ("batch_size", int),
    "--grad-accum": ("grad_accum_steps", int), "--context": ("context_length", int),
    "--lr": ("learning_rate", float), "--warmup": ("warmup_steps", int),
    "--min-lr-ratio": ("min_lr_ratio", float), "--plateau": ("plateau_fraction", float),
    "--decay-steps": ("decay_steps", int), "--eval-interval": ("eval_interval", int),
    "--eval-batches": ("eval_batches", int), "--checkpoint-interval": ("checkpoint_interval", int),
    "--patience": ("patience", int), "--time-budget": ("time_budget_s", float),
    "--stop-at-step": ("stop_at_step", int), "--device": ("device", str),
    "--precision": ("precision", str), "--seed": ("seed", int), "--log-interval": ("log_interval", int),
    "--sample-interval": ("sample_interval", int), "--wandb-project": ("wandb_project", str),
    "--wandb-mode": ("wandb_mode", str), "--preset": ("model_preset", str),
    "--init-from": ("init_from", str), "--tokens-dir": ("tokens_dir", str),
}


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", help="ci, cpu or gpu (default: MINIGPT_PROFILE, else gpu with CUDA, else cpu)")
    p.add_argument("--recipe", help="a named recipe instead of the books: " + ", ".join(recipes.RECIPES))
    p.add_argument("--run-name", help="the run's name under data/checkpoints (default: the profile's)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--resume", action="store_true", help="continue the run (fail if there is nothing to continue)")
    group.add_argument("--fresh", action="store_true", help="start the run over, deleting its old checkpoints")
    for flag, (name, kind) in TRAIN_FLAGS.items():
        p.add_argument(flag, dest=name, type=kind, default=None, help=f"TrainConfig.{name}")
    p.add_argument("--compile", choices=["auto", "on", "off"], default=None, help="torch.compile (auto: CUDA on Linux)")
    p.add_argument("--activation-checkpointing", action="store_true", default=None, help="recompute blocks in backward to save memory")
    p.add_argument("--deterministic", action="store_true", default=None, help="bit-for-bit repeatable kernels (slower)")
    p.add_argument("--tensorboard", action=argparse.BooleanOptionalAction, default=None, help="TensorBoard logs (default: when installed)")
    p.add_argument("--wandb", action="store_true", default=None, help="log to Weights & Biases (offline unless --wandb-mode online)")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="any other TrainConfig field, e.g. --set beta2=0.99 --set model_overrides='{\"dropout\": 0.1}'")
    p.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def config_from_args(args: argparse.Namespace) -> tuple[TrainConfig, Any]:
    """The TrainConfig the command line asks for, and the profile (None for a recipe)."""
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    overrides: dict[str, Any] = {name: value for name, value in vars(args).items()
                                 if name in fields and value is not None}
    if args.compile is not None:
        overrides["compile"] = {"auto": None, "on": True, "off": False}[args.compile]
    for item in args.set:
        if "=" not in item:
            raise ValueError(f"--set {item!r}: write FIELD=VALUE, e.g. --set beta2=0.99")
        key, value = item.split("=", 1)
        overrides[key.strip()] = parse_value(value)
    if args.run_name:
        overrides["run"] = args.run_name
    if args.recipe:
        return recipes.recipe_config(args.recipe, **overrides), None
    profile = get_profile(args.profile)
    return TrainConfig.from_profile(profile, **overrides), profile


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def run_train(args: argparse.Namespace) -> int:
    """The same loop and config as 05_training, for long runs and several GPUs (torchrun)."""
    _log_to_stderr()
    try:
        config, profile = config_from_args(args)
        if args.print_config:
            print(json.dumps(config.to_dict(), indent=2))
            return 0
        if args.recipe:
            recipes.prepare_recipe(args.recipe)
        elif config.tokens_dir is None:  # the books: build data/tokens (and what it needs) if missing
            stages.ensure("tokens", profile)
        resume = True if args.resume else (False if args.fresh else None)
        result = train(config, resume=resume, progress=not args.no_progress)
    except NonFiniteLossError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if int(os.environ.get("RANK", "0")) != 0:
        return 0
    ms = result.ms_per_step
    print(f"run {config.run!r}: {result.stop_reason} at step {result.step}; "
          f"val loss {_fmt(result.val_loss)} (best {_fmt(result.best_val_loss)} at step {result.best_step}); "
          + (f"{ms:.1f} ms/step, " if ms else "")
          + f"{result.session_s:.0f} s this session; checkpoints in {result.run_dir}")
    if profile is not None and result.finished and config == TrainConfig.from_profile(profile):
        write_stage_manifest(profile, config.run)
        print(f"recorded {config.run!r} as the default run of {stage_dir('checkpoints') / 'manifest.json'}")
    return 0


# --------------------------------------------------------------------------- eval


def add_eval_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", help="a checkpoint folder or a run name (default: the run 05_training recorded)")
    p.add_argument("--split", choices=["val", "train"], default="val", help="which token split (default val)")
    p.add_argument("--stride", type=int, default=None, help="window stride in tokens (default: half the context)")
    p.add_argument("--max-tokens", type=int, default=None, help="score at most this many tokens (default: all)")
    p.add_argument("--batch-size", type=int, default=None, help="windows per forward pass (default: by memory)")
    p.add_argument("--wikitext", action="store_true", help="also WikiText-2 raw validation and test")
    p.add_argument("--wikitext-max-tokens", type=int, default=None, help="cap per WikiText split (whole articles)")
    p.add_argument("--device", default=None, help="cpu, cuda or mps (default: the best available)")
    p.add_argument("--output", help="the JSON file to write (default: data/eval/eval-<run>-<checkpoint>-<split>.json)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def run_eval(args: argparse.Namespace) -> int:
    """Score a whole split exactly, print a summary and write the results as JSON."""
    _log_to_stderr()
    progress = not args.no_progress
    try:
        folder = resolve_checkpoint(args.checkpoint)
        ckpt = load_checkpoint(folder, pick_device(args.device))
        data = load_tokens(args.split, tokenizer=ckpt.tokenizer, folder=evaluation.tokens_folder(ckpt.config))
        result = evaluation.evaluate_split(ckpt.model, ckpt.tokenizer, data, stride=args.stride,
                                           max_tokens=args.max_tokens, batch_size=args.batch_size, progress=progress)
        wiki = None
        if args.wikitext:
            wiki = evaluation.evaluate_wikitext(ckpt.model, ckpt.tokenizer, max_tokens=args.wikitext_max_tokens,
                                                stride=args.stride, batch_size=args.batch_size, progress=progress)
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    t, s = result["total"], result["settings"]
    print(f"{folder} ({ckpt.tokenizer.name}, {ckpt.model.num_parameters():,} parameters)")
    print(f"{args.split} split: {t['tokens']:,} of {t['tokens_total']:,} tokens ({t['bytes']:,} bytes), context "
          f"{s['context']}, stride {s['stride']}: loss {t['loss']:.4f}, perplexity {t['perplexity']:.2f}, "
          f"{t['bits_per_byte']:.4f} bits per byte ({t['seconds']:.1f} s)")
    for d in result["documents"]:
        print(f"  {d['bits_per_byte']:.4f} bpb  {d['title'][:50]}" + ("" if d["complete"] else f" (first {d['tokens']:,} tokens)"))
    for split, r in (wiki or {}).items():
        if r.get("available"):
            print(f"WikiText-2 {split}: {r['words']:,} words, {r['tokens']:,} tokens: loss {r['loss']:.4f}, "
                  f"word-level perplexity {r['word_perplexity']:,.1f}, {r['bits_per_byte']:.4f} bits per byte"
                  + ("" if r["complete"] else f" (first {r['articles']} of {r['articles_total']} articles)"))
        else:
            print(f"WikiText-2 {split}: not available ({r['reason']})")
    run = folder.parent.name
    output = Path(args.output) if args.output else stage_dir("eval") / f"eval-{run}-{folder.name}-{args.split}.json"
    write_json_atomic(output, {"checkpoint": eval_report.checkpoint_info(ckpt), "data": eval_report.data_info(data),
                               "split": result, "wikitext2": wiki, "hardware": hardware_summary(),
                               "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    print(f"wrote {output}")
    return 0


# --------------------------------------------------------------------------- generate and chat


def add_sampling_arguments(p: argparse.ArgumentParser, *, temperature: float, top_k: int, top_p: float,
                           repetition_penalty: float, max_new_tokens: int | None) -> None:
    """The sampling options shared by ``generate`` and ``chat``."""
    p.add_argument("--checkpoint", help="a checkpoint folder or a run name (default: the run 05_training recorded)")
    p.add_argument("--temperature", type=float, default=temperature, help=f"0 = greedy (default {temperature})")
    p.add_argument("--top-k", type=int, default=top_k, help=f"keep the k likeliest tokens, 0 = all (default {top_k})")
    p.add_argument("--top-p", type=float, default=top_p, help=f"nucleus sampling, 1 = off (default {top_p})")
    p.add_argument("--repetition-penalty", type=float, default=repetition_penalty,
                   help=f"1 = off (default {repetition_penalty})")
    p.add_argument("--max-new-tokens", type=int, default=max_new_tokens,
                   help="the most tokens to generate (default: the profile's max_new_tokens)")
    p.add_argument("--seed", type=int, default=None, help="a seed, for the same text every time")
    p.add_argument("--device", default=None, help="cpu, cuda or mps (default: the best available)")
    p.add_argument("--no-cache", action="store_true", help="generate without the KV cache (slower)")


def sampling_config(args: argparse.Namespace, default_max_new_tokens: int) -> SamplingConfig:
    return SamplingConfig(
        temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
        repetition_penalty=args.repetition_penalty,
        max_new_tokens=default_max_new_tokens if args.max_new_tokens is None else args.max_new_tokens,
        seed=args.seed,
    )


def add_generate_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--prompt", default="", help="the text to continue (default: the start of a new book)")
    add_sampling_arguments(p, temperature=0.8, top_k=50, top_p=0.95, repetition_penalty=1.0, max_new_tokens=None)
    p.add_argument("--stop", action="append", default=[], help="a stop string (repeatable)")
    p.add_argument("--num-samples", type=int, default=1, help="how many samples (seeds seed, seed+1, ...)")
    p.add_argument("--completion-only", action="store_true", help="print only the generated text, not the prompt")


def run_generate(args: argparse.Namespace) -> int:
    """Sample text from a checkpoint, streamed as it comes."""
    try:
        config = sampling_config(args, get_profile().max_new_tokens)
        if args.num_samples < 1:
            raise ValueError(f"--num-samples {args.num_samples}: use 1 or more")
        ckpt = load_checkpoint(resolve_checkpoint(args.checkpoint), pick_device(args.device))
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for i in range(args.num_samples):
        if i:
            print("\n" + "-" * 40)
        seed = None if config.seed is None else config.seed + i
        if not args.completion_only:
            print(args.prompt, end="", flush=True)
        for piece in stream_text(ckpt.model, ckpt.tokenizer, args.prompt, config.replace(seed=seed),
                                 stop=args.stop, use_cache=not args.no_cache):
            print(piece, end="", flush=True)
        print(flush=True)
    return 0


def add_chat_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--prompt", default=None, help="a single message to answer")
    p.add_argument("--persona", default=DEFAULT_PERSONA, help="the line that sets the scene")
    p.add_argument("--user-name", default="READER")
    p.add_argument("--bot-name", default="LIBRARIAN")
    add_sampling_arguments(p, temperature=0.8, top_k=50, top_p=0.95, repetition_penalty=1.1, max_new_tokens=64)


def chat_loop(session: ChatSession, stdin: TextIO, stdout: TextIO) -> int:
    """Read messages line by line until exit, quit or end of input; stream each reply."""
    user, bot = session.template.user_name, session.template.bot_name
    print(f"Chatting with the model. Type a message; '{EXIT_WORDS[0]}', '{EXIT_WORDS[1]}' or end of input leaves.",
          file=stdout, flush=True)
    while True:
        print(f"{user}: ", end="", file=stdout, flush=True)
        line = stdin.readline()
        if not line:  # end of input (Ctrl-D, or a closed pipe)
            print(file=stdout)
            return 0
        message = line.strip()
        if message.lower() in EXIT_WORDS:
            return 0
        if not message:
            continue
        print(f"{bot}:", end=" ", file=stdout, flush=True)
        for piece in session.stream_reply(message):
            print(piece, end="", file=stdout, flush=True)
        print(file=stdout, flush=True)


def run_chat(args: argparse.Namespace) -> int:
    """Answer --prompt once, or chat interactively until exit, quit or end of input."""
    try:
        config = sampling_config(args, 64)
        template = ChatTemplate(persona=args.persona, user_name=args.user_name, bot_name=args.bot_name)
        ckpt = load_checkpoint(resolve_checkpoint(args.checkpoint), pick_device(args.device))
        session = ChatSession(ckpt.model, ckpt.tokenizer, config, template, use_cache=not args.no_cache)
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.prompt is not None:
        for piece in session.stream_reply(args.prompt):
            print(piece, end="", flush=True)
        print(flush=True)
        return 0
    try:
        return chat_loop(session, sys.stdin, sys.stdout)
    except KeyboardInterrupt:
        print()
        return 0


# --------------------------------------------------------------------------- export and serve
# export and serving import their optional libraries (onnx, transformers, the web server) only
# when these commands run, so the other commands work without the extras.


def add_export_arguments(p: argparse.ArgumentParser) -> None:
    from .export import DEFAULT_GENERATION, GENERATION_KEYS

    p.add_argument("--checkpoint", help="a checkpoint folder or a run name (default: the run 05_training recorded)")
    p.add_argument("--out", help="the folder to write (default: data/exports/<run>)")
    p.add_argument("--name", help="the model's name in the API (default: the folder's name)")
    p.add_argument("--hf", action="store_true",
                   help="also write <out>-hf/ in Hugging Face format (GPT-2 or Qwen3, whichever matches)")
    p.add_argument("--onnx", action="store_true", help="also write <out>.onnx")
    for key in GENERATION_KEYS:
        kind = int if key in ("top_k", "max_new_tokens") else float
        p.add_argument("--" + key.replace("_", "-"), type=kind, default=None,
                       help=f"generation default (default {DEFAULT_GENERATION[key]})")


def run_export(args: argparse.Namespace) -> int:
    """Write a self-contained model folder, and optionally Hugging Face and ONNX copies."""
    from .export import (
        GENERATION_KEYS,
        HF_CLASSES,
        export_hf,
        export_model,
        export_onnx,
        folder_size,
        hf_family,
    )

    try:
        source = resolve_checkpoint(args.checkpoint)
        ckpt = load_checkpoint(source, "cpu")
        out = Path(args.out) if args.out else stage_dir("exports") / (ckpt.meta.get("run") or source.parent.name)
        changes = {k: getattr(args, k) for k in GENERATION_KEYS if getattr(args, k) is not None}
        folder = export_model(ckpt, out, name=args.name, generation=changes)
        print(f"exported {source} -> {folder} ({folder_size(folder) / 1e6:.1f} MB)")
        if args.hf:
            hf_folder = export_hf(ckpt, out.with_name(out.name + "-hf"))
            print(f"Hugging Face {HF_CLASSES[hf_family(ckpt.model.config)]} -> {hf_folder}")
        if args.onnx:
            onnx_path = export_onnx(ckpt, out.with_name(out.name + ".onnx"))
            print(f"ONNX -> {onnx_path} ({folder_size(onnx_path) / 1e6:.1f} MB)")
    except (ValueError, FileNotFoundError, ImportError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


def add_serve_arguments(p: argparse.ArgumentParser) -> None:
    from .serving import API_KEY_ENV, DEFAULT_HOST, DEFAULT_PORT, ServerConfig

    p.add_argument("--model", help="an exported model folder (default: the one 09_serving exported)")
    p.add_argument("--host", default=DEFAULT_HOST,
                   help=f"the address to bind (default {DEFAULT_HOST}: this machine only; 0.0.0.0 opens it to the network)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"the port (default {DEFAULT_PORT}; 0 picks a free one)")
    p.add_argument("--api-key", default=os.environ.get(API_KEY_ENV),
                   help=f"require 'Authorization: Bearer KEY' on /v1 (default: ${API_KEY_ENV}, else no key)")
    defaults = ServerConfig()
    p.add_argument("--max-concurrency", type=int, default=defaults.max_concurrency, help="generations at once")
    p.add_argument("--max-queue", type=int, default=defaults.max_queue, help="requests that may wait; more get 429")
    p.add_argument("--timeout", type=float, default=defaults.request_timeout_s, help="seconds per request, queueing included")
    p.add_argument("--max-tokens-limit", type=int, default=defaults.max_tokens_limit, help="the largest max_tokens allowed")
    p.add_argument("--name", default=None, help="the model id in the API (default: the export's name)")
    p.add_argument("--device", default=None, help="cpu, cuda or mps (default: the best available)")
    p.add_argument("--no-web", action="store_true", help="do not serve the web page")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.add_argument("--parent-pid", type=int, default=None, help=argparse.SUPPRESS)


def run_serve(args: argparse.Namespace) -> int:
    """Serve an exported model over HTTP until Ctrl-C (or SIGTERM)."""
    from .export import find_export
    from .serving import serve

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        serve(args.model or find_export(), host=args.host, port=args.port, log_level=args.log_level,
              parent_pid=args.parent_pid, api_key=args.api_key or None, max_concurrency=args.max_concurrency,
              max_queue=args.max_queue, request_timeout_s=args.timeout, max_tokens_limit=args.max_tokens_limit,
              model_name=args.name, device=args.device, web=not args.no_web)
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # the port is taken, or the address is not this machine's
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C is how a server in a terminal is stopped
        pass
    return 0


# --------------------------------------------------------------------------- the parser

Command = tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]
COMMANDS: dict[str, Command] = {
    "prepare": ("fetch, clean and tokenize the books (01 to 03), yours with --books", add_prepare_arguments,
                run_prepare),
    "train": ("train a model (the loop of 05_training), or resume a run", add_train_arguments, run_train),
    "eval": ("evaluate a checkpoint: loss, perplexity, bits per byte (06_evaluation)", add_eval_arguments, run_eval),
    "generate": ("sample text from a checkpoint (07_inference)", add_generate_arguments, run_generate),
    "chat": ("chat with a checkpoint: one answer with --prompt, else interactive (08_chat)", add_chat_arguments, run_chat),
    "export": ("export a checkpoint as a self-contained model folder (09_serving)", add_export_arguments, run_export),
    "serve": ("serve a model folder over HTTP: OpenAI-compatible API and a web page (09_serving)",
              add_serve_arguments, run_serve),
}


def parser(command: str | None = None) -> argparse.ArgumentParser:
    """Every command, with the options of ``command`` only: serve's need the web server installed."""
    top = argparse.ArgumentParser(prog=PROG, description="Train, evaluate, sample, chat with, export and serve "
                                                         "the course's model from a terminal.")
    sub = top.add_subparsers(dest="command", metavar="<command>", required=True)
    for name, (help_, add_arguments, handler) in COMMANDS.items():
        p = sub.add_parser(name, help=help_, description=(handler.__doc__ or help_).strip())
        if name == command:
            add_arguments(p)
        p.set_defaults(handler=handler)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: the process's arguments) and run the command; returns its exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser(argv[0] if argv else None).parse_args(argv)
    return int(args.handler(args) or 0)
