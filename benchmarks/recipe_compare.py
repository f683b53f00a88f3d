"""Two training recipes side by side: the same wall-clock each, measured the same way.

Each arm builds the stages 01 to 03 it needs when they are missing (a recipe with another
vocabulary gets token files of its own, under ``<data>/recipe_compare/``), trains for
``--minutes`` (the clock starts before any compiling and includes the in-loop evaluations;
``max_steps`` never binds; the learning-rate schedule ends with the budget), then is measured
with 06's exact evaluation on the whole held-out split, against its own bigram baseline, and
for context use (``evaluation.context_use``) and prompt use (``evaluation.prompt_use``).

    python benchmarks/recipe_compare.py                                # cpu-gpt2 against cpu, 11 min each
    python benchmarks/recipe_compare.py --minutes 4 --set model.mlp=swiglu   # screen one change (new arm)
    python benchmarks/recipe_compare.py --minutes 4 --set bpe_vocab_size=4096 --set batch_size=32
    python benchmarks/recipe_compare.py --ablation --minutes 4         # one change at a time, to a file
    python benchmarks/recipe_compare.py --profile ci                   # seconds: what the tests run

``--set FIELD=VALUE`` changes the new arm: a Profile field (``bpe_vocab_size``, ``batch_size``,
``learning_rate``...), a TrainConfig field (``matrix_lr``, ``lr_decay``...), or ``model.FIELD``
for one GPTConfig field. The last line reads
``recipe_compare: old <bits per byte> new <bits per byte> bigram <bits per byte>`` (the old
arm's bigram).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # a checkout used without installing

from minigpt_helpers import baselines  # noqa: E402
from minigpt_helpers.artifacts import DATA_DIR_ENV, data_dir  # noqa: E402
from minigpt_helpers.stages import ensure  # noqa: E402
from minigpt_helpers.checkpoint import load_checkpoint  # noqa: E402
from minigpt_helpers.dataset import load_tokens  # noqa: E402
from minigpt_helpers.evaluation import context_use, evaluate_split, prompt_use, split_documents  # noqa: E402
from minigpt_helpers.hardware import cpu_has_native_bf16  # noqa: E402
from minigpt_helpers.notebook import hardware_summary  # noqa: E402
from minigpt_helpers.profiles import PROFILES, Profile, recipe_profile  # noqa: E402
from minigpt_helpers.cli import parse_value  # noqa: E402
from minigpt_helpers.training import TrainConfig, train  # noqa: E402

DEFAULT_MINUTES = {"ci": 0.1, "cpu": 11.0, "gpu": 5.0}
ABLATION_FILE = Path(__file__).resolve().parent / "ablation.json"
# The ablation's rows: from the old recipe, one change at a time, to the profile's recipe.
ABLATION_STEPS: list[tuple[str, dict[str, Any]]] = [
    ("rotary positions", {"model.position": "rotary"}),
    ("RMSNorm and QK-norm", {"model.norm": "rmsnorm", "model.bias": False}),
    ("ReLU squared MLP", {"model.mlp": "relu2"}),
    ("untied, zero-initialised head", {"model.tie_weights": False, "model.init": "modern"}),
    ("Muon for the matrices", {"optimizer": "muon"}),
    ("bf16 where the CPU has it", {"precision": "auto"}),
    ("torch.compile", {"compile": True}),
]


@dataclasses.dataclass
class Arm:
    """One side of the comparison: a profile (with its recipe's training settings) and extra changes."""

    label: str
    recipe: str
    profile: Profile
    training: dict[str, Any]

    @property
    def data_key(self) -> str:
        """Arms that tokenize alike share their stages' folder."""
        p = self.profile
        return f"{p.name}-{p.tokenizer}{p.bpe_vocab_size if p.tokenizer == 'bpe' else ''}"


def make_arm(label: str, recipe: str, sets: dict[str, Any]) -> Arm:
    """The recipe's profile and training settings, with ``sets`` applied (see the module doc)."""
    profile = recipe_profile(recipe)
    training = dict(profile.training)
    fields = {f.name for f in dataclasses.fields(Profile)}
    train_fields = {f.name for f in dataclasses.fields(TrainConfig)}
    changes: dict[str, Any] = {}
    for key, value in sets.items():
        if key.startswith("model."):
            training["model_overrides"] = {**training.get("model_overrides", {}), key[6:]: value}
        elif key in fields:
            changes[key] = value
        elif key in train_fields:
            training[key] = value
        else:
            raise ValueError(f"--set {key}: not a Profile, TrainConfig or model.<GPTConfig> field")
    if changes:
        profile = profile.with_overrides(**changes)
    return Arm(label, recipe, profile, training)


def profile_training(profile: Profile) -> dict[str, Any]:
    """The training settings ``TrainConfig.from_profile`` gives a profile of that name."""
    base = TrainConfig.from_profile(PROFILES[profile.name]).to_dict()
    keys = ("model_overrides", "optimizer", "matrix_lr", "embedding_lr", "precision", "compile", "lr_decay",
            "plateau_fraction", "min_lr_ratio")
    return {k: base[k] for k in keys}


@contextlib.contextmanager
def data_folder(path: Path) -> Iterator[None]:
    """Point the package's data folder at ``path`` for a while."""
    before = os.environ.get(DATA_DIR_ENV)
    os.environ[DATA_DIR_ENV] = str(path)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(DATA_DIR_ENV, None)
        else:
            os.environ[DATA_DIR_ENV] = before


def run_arm(arm: Arm, minutes: float, root: Path, *, measure_prompts: bool = True) -> dict[str, Any]:
    """Build the arm's stages if missing, train it for ``minutes``, and measure it."""
    with data_folder(root / arm.data_key):
        ensure("tokens", arm.profile, quiet=True)
        config = TrainConfig.from_profile(
            arm.profile, **{**arm.training, "run": f"compare-{arm.label}", "max_steps": 10_000_000,
                            "decay_steps": None, "time_budget_s": minutes * 60, "lr_follows_budget": True,
                            "patience": None, "sample_interval": 0, "checkpoint_interval": 10_000_000})
        print(f"[{arm.label}] {arm.recipe}: {json.dumps(arm.training)}", flush=True)
        result = train(config, resume=False, progress=False)
        ckpt = load_checkpoint(result.run_dir / "best")
        model, tokenizer = ckpt.model, ckpt.tokenizer
        val, train_data = load_tokens("val", tokenizer=tokenizer), load_tokens("train", tokenizer=tokenizer)
        split = evaluate_split(model, tokenizer, val, progress=False)
        base = baselines.evaluate_baselines(train_data, split_documents(val), split["documents"], tokenizer)
        context = context_use(model, val.tokens, special_ids=list(tokenizer.special_tokens.values()))
        prompts = prompt_use(model, tokenizer) if measure_prompts else None
    run = json.loads((result.run_dir / "run.json").read_text())
    return {
        "label": arm.label, "recipe": arm.recipe, "training": arm.training, "profile_changes": {
            k: v for k, v in arm.profile.to_dict().items() if v != PROFILES[arm.profile.name].to_dict().get(k)},
        "model": run["model"], "parameters": run["parameters"], "precision": run["precision"],
        "compile": run["compile"], "steps": result.step, "tokens": result.tokens, "elapsed_s": round(result.elapsed_s, 1),
        "tokens_per_s": round(result.tokens / max(result.elapsed_s, 1e-9)),
        "best_val_loss": result.best_val_loss, "bits_per_byte": split["total"]["bits_per_byte"],
        "loss": split["total"]["loss"], "bigram_bits_per_byte": base["bigram"]["bits_per_byte"],
        "unigram_bits_per_byte": base["unigram"]["bits_per_byte"], "context": context,
        "prompt_use": None if prompts is None else {k: prompts[k] for k in ("share", "same_book", "rows")},
    }


def table(rows: list[dict[str, Any]]) -> str:
    """The results as a Markdown table, one row per arm."""
    head = ("arm", "steps", "tokens/s", "bits/byte", "bigram", "vs bigram", "loss 1-8", "loss 65-128",
            "shuffle +", "repeat 1st / 2nd", "prompt: repeats / same book")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        c = r["context"]
        gain = 1 - r["bits_per_byte"] / r["bigram_bits_per_byte"]
        use = "" if r["prompt_use"] is None else f"{r['prompt_use']['share']:.0%} / {r['prompt_use']['same_book']:.0%}"
        lines.append(f"| {r['label']} ({r['recipe']}) | {r['steps']:,} | {r['tokens_per_s']:,} | "
                     f"{r['bits_per_byte']:.3f} | {r['bigram_bits_per_byte']:.3f} | {gain:+.1%} | "
                     f"{c['early']:.2f} | {c['late']:.2f} | {c['shuffle_gain']:+.2f} | "
                     f"{c['induction_first']:.2f} / {c['induction_second']:.2f} | {use} |")
    return "\n".join(lines)


def ablation(args: argparse.Namespace, root: Path) -> list[dict[str, Any]]:
    """Rows from the old recipe to the profile's, one change at a time, each trained ``--minutes``."""
    profile = args.profile or "cpu"
    target = profile_training(PROFILES[profile])
    sets: dict[str, Any] = {}
    rows = [run_arm(make_arm("old", args.old, {}), args.minutes, root, measure_prompts=False)]
    rows[0]["change"] = "GPT-2 block, AdamW, fp32 (the old recipe)"
    for name, change in ABLATION_STEPS:
        sets.update(change)
        if "optimizer" in change:  # Muon comes with the profile's learning rates and schedule
            sets.update({k: target[k] for k in ("matrix_lr", "embedding_lr", "lr_decay", "plateau_fraction",
                                                "min_lr_ratio")})
        row = run_arm(make_arm(f"step{len(rows)}", args.old, sets), args.minutes, root, measure_prompts=False)
        row["change"] = name
        rows.append(row)
    new = run_arm(make_arm("new", args.new, {}), args.minutes, root, measure_prompts=False)
    new["change"] = f"the {profile} profile's recipe (its own batch, vocabulary and learning rates)"
    rows.append(new)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--profile", choices=list(PROFILES), default=None, help="default: cpu")
    p.add_argument("--old", default=None, help="the old arm's recipe (default: <profile>-gpt2)")
    p.add_argument("--new", default=None, help="the new arm's recipe (default: the profile's own)")
    p.add_argument("--minutes", type=float, default=None, help="wall-clock per arm (default: 11 for cpu)")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="change the new arm")
    p.add_argument("--ablation", action="store_true", help=f"the one-change-at-a-time rows, written to {ABLATION_FILE.name}")
    p.add_argument("--ablation-file", type=Path, default=ABLATION_FILE)
    p.add_argument("--json", type=Path, default=None, help="also write every figure to this file")
    p.add_argument("--data", type=Path, default=None, help="where the arms' stages go (default: <data>/recipe_compare)")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    profile = args.profile or "cpu"
    args.old = args.old or f"{profile}-gpt2"
    args.new = args.new or profile
    args.minutes = args.minutes or DEFAULT_MINUTES[profile]
    sets = {}
    for item in args.set:
        if "=" not in item:
            p.error(f"--set {item!r}: write FIELD=VALUE")
        key, value = item.split("=", 1)
        sets[key.strip()] = parse_value(value)
    root = args.data or data_dir() / "recipe_compare"
    t0 = time.time()
    print(f"recipe_compare: {args.old} against {args.new}{' with ' + str(sets) if sets else ''}, "
          f"{args.minutes:g} min each; CPU bf16: {cpu_has_native_bf16()}; {hardware_summary()}", flush=True)
    if args.ablation:
        rows = ablation(args, root)
        write_json(args.ablation_file, {"profile": profile, "minutes": args.minutes, "date": time.strftime("%Y-%m-%d"),
                                        "hardware": hardware_summary(), "changes": [name for name, _ in ABLATION_STEPS],
                                        "rows": rows})
    else:
        rows = [run_arm(make_arm("old", args.old, {}), args.minutes, root),
                run_arm(make_arm("new", args.new, sets), args.minutes, root)]
    print(table(rows))
    if args.json:
        write_json(args.json, {"minutes": args.minutes, "hardware": hardware_summary(), "rows": rows})
    print(f"(took {(time.time() - t0) / 60:.1f} min)")
    old, new = rows[0], rows[-1]
    print(f"recipe_compare: old {old['bits_per_byte']:.3f} new {new['bits_per_byte']:.3f} "
          f"bigram {old['bigram_bits_per_byte']:.3f}")


def write_json(path: Path, obj: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1) + "\n")
    tmp.replace(path)


if __name__ == "__main__":
    main()
