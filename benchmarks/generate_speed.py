#!/usr/bin/env python3
"""Tokens per second of greedy generation with and without the KV cache.

    python benchmarks/generate_speed.py                      # the cpu profile's model, 512 new tokens
    python benchmarks/generate_speed.py --preset ci --new-tokens 256 --threads 1
    python benchmarks/generate_speed.py --checkpoint data/checkpoints/<run>/best

Speed does not depend on what the weights are, so by default the preset's model is built with
random weights (``--checkpoint`` times a trained one instead). Past the context the window
slides (``--slide``, default a quarter of the context), the same way on both paths, and the
script checks that both paths produce the same tokens. Both paths ask the model for the last
position's logits only (``last_only``), as generation does. Prints the best of ``--repeats`` runs.

Then it says where the time goes: a one-token step with the cache and its weight-matrix products
alone, a window as long as the uncached path reads on average, and the time to read every weight once. A one-token step must
read all the weights, so window / weight-read time bounds the speed-up this machine can give.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # a checkout used without installing

import torch  # noqa: E402

from minigpt_helpers import lessons  # noqa: E402
from minigpt_helpers.model import GPT, preset  # noqa: E402
from minigpt_helpers.profiles import pick_device  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="cpu", help="a model preset (default: cpu, the cpu profile's model)")
    parser.add_argument("--checkpoint", help="time a trained checkpoint folder instead of a preset")
    parser.add_argument("--new-tokens", type=int, default=512)
    parser.add_argument("--prompt-tokens", type=int, default=16)
    parser.add_argument("--slide", type=int, default=None, help="window jump past the context (default: context // 4)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--device", default=None)
    args = parser.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    torch.manual_seed(0)
    if args.checkpoint:
        from minigpt_helpers.checkpoint import load_checkpoint

        model, name = load_checkpoint(args.checkpoint, device).model, args.checkpoint
    else:
        model, name = GPT(preset(args.preset)).to(device).eval(), f"preset {args.preset!r} (random weights)"
    c = model.config
    prompt = torch.randint(0, c.vocab_size, (args.prompt_tokens,), generator=torch.Generator().manual_seed(1)).tolist()
    print(f"{name}: {model.num_parameters() / 1e6:.2f}M parameters, context {c.context_length}, vocab {c.vocab_size}")
    print(f"device {device}, {torch.get_num_threads()} threads, {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
          f"torch {torch.__version__}; {args.prompt_tokens}-token prompt, {args.new_tokens} new tokens, greedy")
    best = lessons.compare_cache_speed(model, prompt, args.new_tokens, repeats=args.repeats)
    same = best[True]["tokens"] == best[False]["tokens"]
    for use_cache in (False, True):
        r = best[use_cache]
        print(f"  {'with' if use_cache else 'without':>7} cache: {r['tokens_per_s']:8.1f} tokens/s ({r['seconds']:.2f} s)")
    speedup = best[True]["tokens_per_s"] / best[False]["tokens_per_s"]
    print(f"  speed-up with the cache: {speedup:.1f}x; same tokens on both paths: {same}")

    t = lessons.time_decode_parts(model, slide=args.slide, repeats=args.repeats)
    rows = [
        ("one token with the cache", t["one_token_ms"], f" ({t['ops']} tensor operations)"),
        (f"  its {t['products']} weight products alone", t["products_ms"], ""),
        (f"a {t['window']}-token window without it", t["window_ms"], " (the average window past the context)"),
        (f"reading all {t['weights_mb']:.0f} MB of weights once", t["read_weights_ms"], ""),
    ]
    print("where the time goes (best of the repeats):")
    for label, ms, note in rows:
        print(f"  {label + ':':<38}{ms:7.2f} ms{note}")
    rest = t["one_token_ms"] - t["products_ms"]
    print(f"  a one-token step reads every weight, so the cache cannot beat {t['window_ms'] / t['read_weights_ms']:.1f}x "
          f"on this machine; {rest:.2f} ms of the step ({100 * rest / t['one_token_ms']:.0f}%) is not the weight "
          f"products but the {t['ops']} operations' fixed costs and the small ones (attention, norms, adds)")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
