"""Training speed of a preset: milliseconds per optimizer step, tokens per second, MFU on a GPU.

Times the package's own training step (``training.Trainer.train_step``: batch sampling,
autocast, gradient accumulation, clipping, fused AdamW) on random tokens, so it needs no data
stages. A few warm-up steps (and any torch.compile) are left out of the timing.

    python benchmarks/train_speed.py                          # the cpu profile's model and batch
    python benchmarks/train_speed.py --preset shakespeare-char --vocab-size 67 --batch-size 12 --context 64
    python benchmarks/train_speed.py --profile gpu --compile on
    python benchmarks/train_speed.py --threads 1              # on a busy machine, one thread is often faster
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # a checkout used without installing


def make_random_data(folder: Path, vocab_size: int, n_tokens: int = 400_000) -> None:
    """A tokenizer of ``vocab_size`` symbols and random token files, in the package's format."""
    import random

    from minigpt_helpers.dataset import write_token_files
    from minigpt_helpers.tokenization import CharTokenizer

    # One character per symbol, from the CJK block on; skip the surrogates (U+D800..U+DFFF), which
    # are not characters and cannot be written as UTF-8 (GPT-2's 50,257 symbols reach past them).
    codepoints = (c for c in range(0x4E00, 0x110000) if not 0xD800 <= c <= 0xDFFF)
    symbols = [chr(next(codepoints)) for _ in range(vocab_size - 2)]  # CharTokenizer adds <eot> and <unk>
    rng = random.Random(0)
    tok = CharTokenizer(symbols)
    tok.save(folder / "tokenizer")
    text = "".join(rng.choice(symbols) for _ in range(n_tokens))
    cut = int(n_tokens * 0.9)
    write_token_files(folder, tok, {"train": [text[:cut]], "val": [text[cut:]]})


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--profile", default=None, help="take model, batch and context from this profile (default: cpu)")
    p.add_argument("--preset", default=None, help="model preset (default: the profile's)")
    p.add_argument("--vocab-size", type=int, default=None, help="vocabulary (default: the profile's BPE size, or 50257 for gpt2)")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--context", type=int, default=None)
    p.add_argument("--grad-accum", type=int, default=None)
    p.add_argument("--steps", type=int, default=30, help="timed optimizer steps")
    p.add_argument("--warmup-steps", type=int, default=5, help="untimed steps first (compile, caches)")
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", default="auto", choices=["auto", "bf16", "fp16", "fp32"])
    p.add_argument("--compile", default="auto", choices=["auto", "on", "off"])
    p.add_argument("--activation-checkpointing", action="store_true")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = p.parse_args()

    import torch

    from minigpt_helpers import hardware, training
    from minigpt_helpers.profiles import get_profile

    if args.threads:
        torch.set_num_threads(args.threads)
    profile = get_profile(args.profile or "cpu")
    vocab = args.vocab_size or (50257 if profile.tokenizer == "gpt2" else profile.bpe_vocab_size)
    with tempfile.TemporaryDirectory(prefix="train-speed-") as tmp:
        os.environ["MINIGPT_DATA_DIR"] = tmp
        make_random_data(Path(tmp) / "bench", vocab)
        config = training.TrainConfig.from_profile(
            profile, run="bench", tokens_dir="bench", tokenizer_dir="bench/tokenizer",
            model_preset=args.preset or profile.model_preset, batch_size=args.batch_size or profile.batch_size,
            context_length=args.context or profile.context_length,
            grad_accum_steps=args.grad_accum or profile.grad_accum_steps, max_steps=10_000, warmup_steps=10,
            device=args.device, precision=args.precision, activation_checkpointing=args.activation_checkpointing,
            compile={"auto": None, "on": True, "off": False}[args.compile], tensorboard=False)
        trainer = training.Trainer(config, progress=False)
        sync = trainer.sync
        t0 = time.perf_counter()
        for _ in range(args.warmup_steps):
            trainer.train_step()
        sync()
        warm = time.perf_counter() - t0
        times = []
        for _ in range(args.steps):
            t = time.perf_counter()
            trainer.train_step()
            sync()
            times.append(time.perf_counter() - t)
    mean, median = statistics.fmean(times), statistics.median(times)
    tokens_per_s = trainer.tokens_per_step / median
    params = trainer.raw_model.num_parameters()
    print(f"preset {config.model_preset} ({params / 1e6:.2f}M parameters, vocab {vocab}), batch {config.batch_size} x "
          f"context {config.context_length} x accumulation {config.grad_accum_steps} = {trainer.tokens_per_step:,} tokens/step")
    print(f"device {hardware.describe(trainer.device)}, {trainer.precision.name}, compile {trainer.compiled}, "
          f"torch {torch.__version__}; {args.warmup_steps} warm-up steps took {warm:.1f} s")
    line = (f"ms/step: median {1000 * median:.1f}, mean {1000 * mean:.1f}, min {1000 * min(times):.1f} over {len(times)} steps; "
            f"tokens/s: {tokens_per_s:,.0f}")
    if trainer.peak:
        line += f"; MFU {trainer.flops_per_token * tokens_per_s / trainer.peak:.1%}"
    print(line)


if __name__ == "__main__":
    main()
