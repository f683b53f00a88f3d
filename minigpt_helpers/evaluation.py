"""Evaluation: honest numbers for a trained checkpoint (notebook 06).

Loss, perplexity and bits per byte by exact sliding windows (``score_tokens``: each token scored
once, with at least ``context - stride + 1`` tokens of context), per held-out book
(``evaluate_split``) and on WikiText-2; training's random-batch estimate (``quick_estimate``);
whether the model reads its context (``context_use``, ``prompt_use``); the run's loss curves.
Baselines are in ``baselines``, sample quality in ``text_quality``, the stage's report in ``eval_report``.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .artifacts import atomic_path, data_dir, stage_dir
from .generation import SamplingConfig, complete_batch
from .hardware import choose_precision, model_device
from .profiles import DEFAULT_EVALUATION
from .sources import wikitext2
from .training import estimate_loss

LN2 = math.log(2.0)
WIKITEXT_SPLITS = ("validation", "test")


def eval_settings(profile: Any) -> dict[str, Any]:
    """This profile's evaluation settings (``Profile.evaluation``), every key present."""
    return {**DEFAULT_EVALUATION, **getattr(profile, "evaluation", {})}


# --------------------------------------------------------------------------- the numbers


def perplexity(loss: float) -> float:
    """exp(loss): the number of equally likely choices the model is as unsure as (loss in nats)."""
    return math.exp(loss)


def bits_per_byte(nll_nats: float, n_bytes: int) -> float:
    """Total negative log-likelihood (nats) / (ln 2 x UTF-8 bytes of the text scored)."""
    if n_bytes <= 0:
        raise ValueError(f"n_bytes={n_bytes}: bits per byte needs the text's byte count (at least 1)")
    return nll_nats / (LN2 * n_bytes)


def count_words(text: str) -> int:
    """Words as WikiText results count them: whitespace-separated pieces of the raw text (its
    punctuation is already spaced, " , ", so a comma is a word); line ends are not counted."""
    return len(text.split())


def word_perplexity(nll_nats: float, n_words: int) -> float:
    """exp(total NLL / words): perplexity per word of the original text, whatever the tokenizer."""
    if n_words <= 0:
        raise ValueError(f"n_words={n_words}: word-level perplexity needs at least one word")
    return math.exp(nll_nats / n_words)


def summarize(nll_nats: float, tokens: int, n_bytes: int, words: int | None = None) -> dict[str, Any]:
    """Loss, perplexity per token, bits per byte (and word-level perplexity) of one scored text."""
    if tokens <= 0:
        raise ValueError("nothing was scored (0 tokens)")
    loss = nll_nats / tokens
    out = {"tokens": int(tokens), "bytes": int(n_bytes), "nll_nats": float(nll_nats), "loss": loss,
           "perplexity": perplexity(loss), "bits_per_byte": bits_per_byte(nll_nats, n_bytes),
           "bytes_per_token": n_bytes / tokens}
    if words is not None:
        out["words"] = int(words)
        out["word_perplexity"] = word_perplexity(nll_nats, words)
    return out


def token_byte_lengths(tokenizer: Any) -> np.ndarray:
    """UTF-8 bytes each token id stands for (special tokens: 0), for exact byte counts of any run
    of scored tokens (exact for byte-level tokenizers: GPT-2, the course's BPE, characters)."""
    specials = set(tokenizer.special_tokens.values())
    return np.array([0 if i in specials else len(tokenizer.token_bytes(i)) for i in range(tokenizer.vocab_size)],
                    dtype=np.int64)


# --------------------------------------------------------------------------- sliding windows


@contextlib.contextmanager
def eval_mode(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """``model`` in eval mode (no dropout) inside the block, then back in the mode it was in."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def _next_token_losses(model: torch.nn.Module, x: torch.Tensor, autocast: Any = None) -> torch.Tensor:
    """-ln p(x[:, t + 1] | x[:, :t + 1]) for each t: (B, T - 1), in float32."""
    with autocast or contextlib.nullcontext():
        logits, _ = model(x[:, :-1])
    return F.cross_entropy(logits.float().transpose(1, 2), x[:, 1:], reduction="none")


@dataclass(frozen=True)
class Window:
    """Inputs ``ids[start : start + length]``, predicting ``ids[start + 1 : start + length + 1]``;
    it scores its targets from index ``first`` on (the earlier ones were scored before)."""

    start: int
    length: int
    first: int


def plan_windows(n_tokens: int, context: int, stride: int | None = None) -> list[Window]:
    """The windows that score every target of ``n_tokens`` ids (``ids[1:]``) exactly once: window k
    starts at ``k * stride`` (the last one moved back to end on the last token, so all have one
    length); the first scores all its targets, later ones only the new ones."""
    stride = context // 2 if stride is None else stride
    if context < 1 or not 1 <= stride <= context:
        raise ValueError(f"stride={stride}, context={context}: use a stride from 1 to the context "
                         f"(1: most context, slowest; {context}: no overlap, fastest)")
    windows: list[Window] = []
    done, a = 0, 0  # targets 1..done are scored; a: where the next window would start
    while done < n_tokens - 1:
        end = min(a + context, n_tokens - 1)  # the last target position this window scores
        start = max(0, end - context)
        windows.append(Window(start, end - start, done - start))
        done = end
        a += stride
    return windows


def default_batch_size(context: int, vocab_size: int, device: str | torch.device = "cpu") -> int:
    """Windows per forward pass, so the logits (B x context x vocab floats) stay near 128 MB (1 GB on CUDA)."""
    budget = 2**28 if torch.device(device).type == "cuda" else 2**25
    return int(max(1, min(256, budget // max(1, context * vocab_size))))


@dataclass
class TokenScores:
    """Per-target results of ``score_tokens``: ``nll[k]`` is -ln p(ids[k+1] | what came before),
    ``context[k]`` how many tokens that prediction read, ``times_scored[k]`` how often it was
    written (1 everywhere, or something is wrong); ``forward_positions`` is the cost."""

    nll: np.ndarray  # float64, (n - 1,)
    context: np.ndarray  # int32, (n - 1,)
    times_scored: np.ndarray  # int32, (n - 1,)
    forward_positions: int = 0

    @property
    def total(self) -> float:
        return float(self.nll.sum())


@torch.inference_mode()
def score_tokens(model: torch.nn.Module, ids: Sequence[int] | np.ndarray, *, stride: int | None = None,
                 batch_size: int | None = None, progress: Any = True, desc: str = "scoring") -> TokenScores:
    """Score every token of ``ids`` after the first with the windows of ``plan_windows`` (context:
    the model's, stride: half of it by default), in eval mode on the model's device, float32 on CPUs (bfloat16
    autocast on GPUs that have it). ``progress``: True (a bar), False, or a tqdm bar to update."""
    arr = np.asarray(ids, dtype=np.int64)
    W = model.config.context_length
    plan = plan_windows(len(arr), W, stride)
    n = max(len(arr) - 1, 0)
    scores = TokenScores(np.zeros(n, np.float64), np.zeros(n, np.int32), np.zeros(n, np.int32))
    device = model_device(model)
    B = batch_size or default_batch_size(W, model.config.vocab_size, device)
    precision = choose_precision(device, "fp32" if device.type == "cpu" else "auto")  # exact on CPUs
    if isinstance(progress, bool):
        bars: Any = tqdm(total=n, unit="tok", unit_scale=True, desc=desc, leave=False, disable=not progress)
    else:
        bars = contextlib.nullcontext(progress)  # the caller's bar: updated, left open
    with bars as bar, eval_mode(model):
        for i in range(0, len(plan), B):
            chunk = plan[i:i + B]
            L = chunk[0].length  # every window has the same length (see plan_windows)
            x = torch.from_numpy(np.stack([arr[w.start:w.start + L + 1] for w in chunk])).to(device)
            losses = _next_token_losses(model, x, precision.autocast()).double().cpu().numpy()  # (B, L)
            scores.forward_positions += len(chunk) * L
            for row, w in enumerate(chunk):
                lo, hi = w.start + w.first, w.start + L  # target k predicts ids[k + 1]
                scores.nll[lo:hi] = losses[row, w.first:]
                scores.context[lo:hi] = np.arange(w.first + 1, L + 1)
                scores.times_scored[lo:hi] += 1
                bar.update(hi - lo)
    return scores


# --------------------------------------------------------------------------- documents and splits


def allocate(lengths: Sequence[int], max_tokens: int | None) -> list[int]:
    """How many tokens of each document to score under a cap: all of them when they fit, else a
    share proportional to each document's length (at least one token each)."""
    total = sum(lengths)
    if max_tokens is None or total <= max_tokens:
        return [int(n) for n in lengths]
    return [int(min(n, max(1, math.floor(max_tokens * n / total)))) for n in lengths]


def evaluate_documents(model: torch.nn.Module, docs: Sequence[dict[str, Any]], byte_lengths: np.ndarray,
                       eot_id: int, *, stride: int | None = None, max_tokens: int | None = None,
                       batch_size: int | None = None, progress: bool = True,
                       desc: str = "evaluating") -> dict[str, Any]:
    """Score each document (a dict with ``ids`` and any labels) as the end-of-text id, then its
    tokens (its ``allocate`` share under ``max_tokens``): ``{"total": ..., "documents": [...]}``.
    Bytes are those of the scored tokens, so bits per byte stays exact under a cap."""
    lengths = [len(d["ids"]) for d in docs]
    if not docs or not any(lengths):
        raise ValueError("no document tokens to evaluate; check the split and its books")
    take = allocate(lengths, max_tokens)
    t0 = time.perf_counter()
    results = []
    nll_total, byte_total, positions = 0.0, 0, 0
    with tqdm(total=sum(take), unit="tok", unit_scale=True, desc=desc, disable=not progress) as bar:
        for doc, k in zip(docs, take):
            tokens = np.asarray(doc["ids"][:k], dtype=np.int64)
            scores = score_tokens(model, np.concatenate([[eot_id], tokens]), stride=stride, batch_size=batch_size,
                                  progress=bar)
            nbytes = int(byte_lengths[tokens].sum())
            labels = {key: value for key, value in doc.items() if key != "ids"}
            results.append({**labels, **summarize(scores.total, k, nbytes), "tokens_total": len(doc["ids"]),
                            "complete": k == len(doc["ids"])})
            nll_total += scores.total
            byte_total += nbytes
            positions += scores.forward_positions
    seconds = time.perf_counter() - t0
    total = {**summarize(nll_total, sum(take), byte_total), "tokens_total": sum(lengths),
             "complete": sum(take) == sum(lengths), "forward_positions": positions, "seconds": round(seconds, 2),
             "tokens_per_s": round(sum(take) / max(seconds, 1e-9), 1)}
    return {"total": total, "documents": results}


def tokens_folder(checkpoint_config: dict[str, Any]) -> Path:
    """The token files a checkpoint was trained on (its train config's ``tokens_dir``, else data/tokens)."""
    value = (checkpoint_config.get("train") or {}).get("tokens_dir")
    if value is None:
        return stage_dir("tokens")
    path = Path(value).expanduser()
    return path if path.is_absolute() else data_dir() / path


def split_documents(data: Any) -> list[dict[str, Any]]:
    """The books (or book parts) of a ``TokenData`` split, as documents for ``evaluate_documents``."""
    return [{"book_id": b["book_id"], "title": b.get("title", ""), "author": b.get("author", ""),
             "ids": data[b["start"]:b["end"]]} for b in data.books]


def evaluate_split(model: torch.nn.Module, tokenizer: Any, data: Any, *, stride: int | None = None,
                   max_tokens: int | None = None, batch_size: int | None = None,
                   progress: bool = True) -> dict[str, Any]:
    """Exact loss, perplexity and bits per byte of a token split, in total and per book."""
    result = evaluate_documents(model, split_documents(data), token_byte_lengths(tokenizer), tokenizer.eot_id,
                                stride=stride, max_tokens=max_tokens, batch_size=batch_size, progress=progress,
                                desc=f"{data.split} split")
    W = model.config.context_length
    s = W // 2 if stride is None else stride
    result["settings"] = {"split": data.split, "context": W, "stride": s, "min_context": W - s + 1,
                          "max_tokens": max_tokens, "documents": "each book scored alone, after one end-of-text id"}
    return result


#: The ``val_loss`` training logs: the mean loss of fixed random batches (one implementation, in training).
quick_estimate = estimate_loss


# --------------------------------------------------------------------------- does it use its context?

#: Twenty prompts that each name characters or places of one of the course's books, for
#: ``prompt_use``; with each, other names of the same book (a continuation that uses one of
#: them has picked up which book the prompt is from).
NAMED_PROMPTS: dict[str, tuple[str, ...]] = {
    "Elizabeth Bennet looked at Mr. Darcy and said": ("Bingley", "Jane", "Wickham", "Lydia", "Collins", "Longbourn", "Netherfield", "Pemberley", "Lizzy", "Kitty", "Catherine"),
    "Alice followed the White Rabbit down the hole, and": ("Hatter", "Queen", "Duchess", "Gryphon", "Turtle", "Caterpillar", "Dinah", "King", "Dormouse", "Hare"),
    "Captain Ahab stood upon the deck of the Pequod and": ("Starbuck", "Stubb", "Flask", "Queequeg", "Ishmael", "whale", "Moby", "harpoon", "boat", "ship", "sea"),
    "Sherlock Holmes took his pipe from the mantelpiece, and Watson": ("Lestrade", "Baker", "Gregson", "Doctor", "Mrs", "Hudson", "Scotland", "Yard", "inspector", "detective"),
    "Jim Hawkins climbed into the apple barrel aboard the Hispaniola and": ("Silver", "Flint", "Livesey", "Trelawney", "Smollett", "Captain", "island", "treasure", "ship", "pirates"),
    "Peter Pan flew in through the window of the Darlings' nursery, and Wendy": ("Tinker", "Bell", "Hook", "John", "Michael", "Nana", "Neverland", "pirates", "Smee", "Darling"),
    "Scrooge sat alone in his counting-house on Christmas Eve, when Marley": ("Bob", "Cratchit", "Tim", "Ghost", "Spirit", "Fred", "Fezziwig", "Christmas", "ghost"),
    "Dorothy and the Scarecrow walked along the road of yellow brick toward the Emerald City": ("Toto", "Tin", "Woodman", "Lion", "Wizard", "Oz", "Witch", "Kansas"),
    "Jonathan Harker arrived at the castle of Count Dracula in Transylvania, and": ("Mina", "Lucy", "Van", "Helsing", "Seward", "Arthur", "Renfield", "vampire", "Professor"),
    "Heathcliff stood at the door of Wuthering Heights while Catherine": ("Edgar", "Linton", "Hareton", "Nelly", "Hindley", "Isabella", "Earnshaw", "Grange", "Lockwood"),
    "Emma Woodhouse sat with Mr. Knightley in the drawing-room at Hartfield, and": ("Harriet", "Elton", "Weston", "Churchill", "Fairfax", "Bates", "Highbury", "Frank", "Jane"),
    "Tom Sawyer whitewashed the fence while Huckleberry Finn": ("Becky", "Polly", "Aunt", "Joe", "Sid", "Injun", "Huck", "Thatcher", "Harper"),
    "Robinson Crusoe walked along the shore of his island and found Friday": ("savages", "canoe", "ship", "Xury", "goats", "cave", "boat", "shore", "island"),
    "Dorian Gray looked at his portrait in the locked room, and Lord Henry": ("Basil", "Hallward", "Sibyl", "Vane", "Harry", "picture", "portrait", "Wotton"),
    "Jane Eyre walked across the moors toward Thornfield Hall, where Mr. Rochester": ("Adele", "Fairfax", "Blanche", "Ingram", "Rivers", "St", "John", "Bertha", "Grace", "Lowood"),
    "Elinor and Marianne Dashwood left Norland for the cottage at Barton, and": ("Willoughby", "Brandon", "Edward", "Ferrars", "Lucy", "Jennings", "Colonel", "Margaret", "Mrs"),
    "Doctor Jekyll locked the door of his laboratory, and Mr. Hyde": ("Utterson", "Lanyon", "Poole", "Enfield", "Henry", "lawyer", "Edward", "door"),
    "The Martians came out of the cylinder on Horsell Common, and the crowd": ("Woking", "Ogilvy", "curate", "artilleryman", "London", "Heat", "Ray", "tripod", "machines", "Martian"),
    "Frederick Douglass learned to read in Baltimore, although his master": ("slave", "slavery", "Auld", "Covey", "Sophia", "master", "slaves", "plantation"),
    "Sydney Carton walked through the streets of Paris toward the guillotine, and": ("Darnay", "Lucie", "Manette", "Defarge", "Lorry", "Charles", "Evremonde", "Stryver", "Jerry", "London"),
}


def _val_windows(ids: np.ndarray, n: int, length: int, seed: int) -> torch.Tensor:
    """``n`` windows of ``length`` tokens at random starts in ``ids`` (fixed by ``seed``), (n, length)."""
    if len(ids) <= length:
        raise ValueError(f"{len(ids)} tokens cannot hold a window of {length}; use a longer split")
    starts = np.random.default_rng(seed).integers(0, len(ids) - length, n)
    return torch.from_numpy(np.stack([np.asarray(ids[a:a + length], dtype=np.int64) for a in starts]))


@torch.inference_mode()
def _position_losses(model: torch.nn.Module, windows: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
    """-ln p of every next token of each window (n, length - 1), in float32 on the model's device."""
    device = model_device(model)
    with eval_mode(model):
        return torch.cat([_next_token_losses(model, windows[i:i + batch_size].to(device)).cpu()
                          for i in range(0, len(windows), batch_size)])


def context_use(
    model: torch.nn.Module, ids: np.ndarray, *, windows: int = 1024, length: int | None = None, seed: int = 0,
    special_ids: Sequence[int] = (), batch_size: int = 64,
) -> dict[str, Any]:
    """Three measures of whether a model reads its context, on held-out token ids ``ids``.

    - ``by_position``: mean loss at each position 1 .. length (default: 128 or the model's context)
      of ``windows`` random windows; ``gain`` = ``early`` (positions 1-8) - ``late`` (second half).
    - ``shuffle_gain``: how much worse the last prediction gets when the tokens before the last
      one are shuffled (the last token stays, so only the longer context is lost).
    - ``induction``: ``length // 2`` distinct random tokens repeated once; the mean loss over the
      first and the second copy. Copying from context ("induction") makes the second cheap.
    """
    vocab = model.config.vocab_size
    length = length or min(128, model.config.context_length)
    x = _val_windows(ids, windows, length + 1, seed)  # (n, length + 1): length predictions each
    by_position = _position_losses(model, x, batch_size).mean(0)  # (length,)
    g = torch.Generator().manual_seed(seed)
    shuffled = x.clone()
    for row in shuffled:  # shuffle the inputs before the last one; the last input and target stay
        row[:length - 1] = row[:length - 1][torch.randperm(length - 1, generator=g)]
    last_shuffled = _position_losses(model, shuffled, batch_size)[:, -1].mean()
    last_full = by_position[-1]
    half = length // 2
    allowed = torch.tensor(sorted(set(range(vocab)) - set(special_ids)))  # random tokens, none special
    # Each block draws distinct tokens, so that every token of the second copy has one right answer.
    block = torch.stack([allowed[torch.randperm(len(allowed), generator=g)[:half]] for _ in range(windows)])
    losses = _position_losses(model, torch.cat([block, block], dim=1), batch_size)  # tokens 1 .. length - 1
    first, second = losses[:, :half - 1].mean(), losses[:, half - 1:].mean()
    early, late = by_position[:8].mean(), by_position[half:].mean()
    return {"windows": windows, "length": length, "seed": seed,
            "by_position": [round(float(v), 4) for v in by_position],
            "early": float(early), "late": float(late), "gain": float(early - late), "last_loss": float(last_full),
            "last_loss_shuffled": float(last_shuffled), "shuffle_gain": float(last_shuffled - last_full),
            "induction_first": float(first), "induction_second": float(second)}


_COMMON = {"the", "a", "an", "and", "mr", "mrs", "he", "she", "it", "i", "on", "in", "at", "of", "to", "with",
           "doctor", "captain", "lord", "count"}


def picked_up(prompt: str, continuation: str) -> list[str]:
    """The prompt's words that ``continuation`` repeats: its capitalised names (not titles such as
    "Mr" or a sentence's first "The") and its words of 6 letters or more."""
    words = set(re.findall(r"[A-Za-z]+", prompt))
    wanted = {w for w in words if w[0].isupper() and w.lower() not in _COMMON} | {w for w in words if len(w) >= 6}
    return sorted(wanted & set(re.findall(r"[A-Za-z]+", continuation)))


def prompt_use(model: torch.nn.Module, tokenizer: Any,
               prompts: dict[str, Sequence[str]] | Sequence[str] = NAMED_PROMPTS, *,
               max_new_tokens: int = 50) -> dict[str, Any]:
    """How much greedy continuations pick up their prompts: ``share`` repeat a word of their prompt
    (``picked_up``); ``same_book`` use another name of the prompt's book (with ``prompts`` a dict
    of prompt -> those names); ``rows`` lists what each prompt got."""
    book_words = prompts if isinstance(prompts, dict) else {p: () for p in prompts}
    sampling = SamplingConfig(max_new_tokens=max_new_tokens, temperature=0.0)
    texts = complete_batch(model, tokenizer, list(book_words), sampling)
    rows = [{"prompt": prompt, "continuation": text, "repeats": picked_up(prompt, text),
             "same_book": sorted(set(names) & set(re.findall(r"[A-Za-z]+", text)))}
            for (prompt, names), text in zip(book_words.items(), texts)]
    n = len(rows)
    return {"share": sum(bool(r["repeats"]) for r in rows) / n, "same_book": sum(bool(r["same_book"]) for r in rows) / n,
            "prompts": n, "max_new_tokens": max_new_tokens, "rows": rows}


# --------------------------------------------------------------------------- WikiText-2

_ARTICLE = re.compile(r"^ = [^=].* = $", re.MULTILINE)


def wikitext_articles(text: str) -> list[str]:
    """The raw WikiText split cut before each article title line (`` = Title = ``); joined they give
    back ``text``."""
    starts = [m.start() for m in _ARTICLE.finditer(text)]
    if starts and not text[:starts[0]].strip():
        starts = starts[1:]  # only blank lines before the first title: they open the first article
    cuts = [0, *starts]
    return [text[a:b] for a, b in zip(cuts, cuts[1:] + [len(text)]) if text[a:b]]


def wikitext_prefix(text: str, tokenizer: Any, max_tokens: int | None) -> tuple[str, int, int]:
    """The longest run of whole articles from the start whose tokens fit ``max_tokens`` (at least
    one): (text, articles kept, articles in all)."""
    articles = wikitext_articles(text)
    if max_tokens is None:
        return text, len(articles), len(articles)
    used, kept = 0, 0
    for n in (len(ids) for ids in tokenizer.encode_batch(articles)):
        if kept and used + n > max_tokens:
            break
        used += n
        kept += 1
    return "".join(articles[:kept]), kept, len(articles)


def short_reason(err: Exception) -> str:
    """An exception as one line, with the offline folder written as $MINIGPT_DATASETS_DIR."""
    text = f"{type(err).__name__}: {err}"
    folder = os.environ.get("MINIGPT_DATASETS_DIR")
    return text.replace(folder.rstrip("/"), "$MINIGPT_DATASETS_DIR") if folder else text


def wikitext_available(split: str) -> tuple[bool, str]:
    """Whether WikiText-2 raw ``split`` can be read here ("ok"), or why not."""
    try:
        wikitext2(split)
    except Exception as err:  # FileNotFoundError offline; datasets' own errors without network
        return False, short_reason(err)
    return True, "ok"


def evaluate_text(model: torch.nn.Module, tokenizer: Any, text: str, *, stride: int | None = None,
                  batch_size: int | None = None, progress: bool = True, desc: str = "text") -> dict[str, Any]:
    """Score ``text`` as one stream (end-of-text id, then its tokens): loss, perplexity per token,
    bits per byte and word-level perplexity (words: ``count_words``)."""
    ids = tokenizer.encode(text)
    if not ids:
        raise ValueError("the text encodes to no tokens")
    t0 = time.perf_counter()
    scores = score_tokens(model, [tokenizer.eot_id, *ids], stride=stride, batch_size=batch_size,
                          progress=progress, desc=desc)
    out = summarize(scores.total, len(ids), len(text.encode("utf-8")), count_words(text))
    out["lines"] = sum(1 for line in text.split("\n") if line.strip())
    out["seconds"] = round(time.perf_counter() - t0, 2)
    return out


def evaluate_wikitext(model: torch.nn.Module, tokenizer: Any, *, splits: Sequence[str] = WIKITEXT_SPLITS,
                      max_tokens: int | None = None, stride: int | None = None, batch_size: int | None = None,
                      progress: bool = True) -> dict[str, Any]:
    """WikiText-2 raw ``splits`` (whole file, one stream each; under ``max_tokens`` its first whole
    articles), or the reason a split could not be read."""
    out: dict[str, Any] = {}
    for split in splits:
        try:
            raw = wikitext2(split)
        except Exception as err:  # offline without the files, or no network
            out[split] = {"available": False, "reason": short_reason(err)}
            continue
        text, kept, total = wikitext_prefix(raw, tokenizer, max_tokens)
        result = evaluate_text(model, tokenizer, text, stride=stride, batch_size=batch_size, progress=progress,
                               desc=f"WikiText-2 {split}")
        out[split] = {"available": True, **result, "articles": kept, "articles_total": total,
                      "complete": kept == total, "raw_bytes": len(raw.encode("utf-8"))}
    return out


# --------------------------------------------------------------------------- curves


def overfitting_summary(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Best and last validation loss of a run, the gap to the training loss, and a verdict."""
    val = [(r["step"], r["val_loss"]) for r in records if r.get("val_loss") is not None]
    train = [(r["step"], r["train_loss"]) for r in records if r.get("train_loss") is not None]
    if not val:
        raise ValueError("the metrics hold no validation loss; was the run evaluated at least once?")
    best_step, best_val = min(val, key=lambda sv: sv[1])
    last_step, last_val = val[-1]
    tail = [loss for step, loss in train if step > last_step - max(1, last_step // 10)] or [t for _, t in train[-5:]]
    last_train = float(np.mean(tail)) if tail else None
    rise = last_val - best_val
    verdict = ("validation loss rose after its best: overfitting (or noise), the best checkpoint is earlier"
               if rise > 0.02 else "validation loss still at its lowest: no sign of overfitting yet")
    return {"best_step": best_step, "best_val_loss": best_val, "last_step": last_step, "last_val_loss": last_val,
            "val_rise_since_best": rise, "last_train_loss": last_train,
            "generalization_gap": None if last_train is None else last_val - last_train, "verdict": verdict}


def plot_curves(records: Sequence[dict[str, Any]], ax: Any = None, title: str = "") -> Any:
    """Training loss (raw and smoothed), validation loss, their gap shaded, the best step marked."""
    import matplotlib.pyplot as plt  # deferred: plotting only

    if ax is None:
        _, ax = plt.subplots(figsize=(9, 3.5), dpi=90)
    train = np.array([(r["step"], r["train_loss"]) for r in records if r.get("train_loss") is not None])
    val = np.array([(r["step"], r["val_loss"]) for r in records if r.get("val_loss") is not None])
    if len(train):
        ax.plot(train[:, 0], train[:, 1], lw=0.6, alpha=0.35, color="tab:blue")
        k = max(1, len(train) // 25)
        smooth = np.convolve(train[:, 1], np.ones(k) / k, mode="valid")
        ax.plot(train[k - 1:, 0], smooth, color="tab:blue", label=f"train (mean of {k} log lines)")
    if len(val):
        ax.plot(val[:, 0], val[:, 1], "o-", ms=3, color="tab:orange", label="validation (held-out books)")
        if len(train):
            at_val = np.interp(val[:, 0], train[:, 0], train[:, 1])
            ax.fill_between(val[:, 0], at_val, val[:, 1], where=val[:, 1] > at_val, color="tab:red", alpha=0.15,
                            label="gap: validation above train")
        best = val[np.argmin(val[:, 1])]
        ax.axvline(best[0], ls=":", c="grey")
        late = best[0] > 0.7 * val[-1, 0]
        ax.annotate(f"best: step {int(best[0])}\nval {best[1]:.3f}", (best[0], best[1]), fontsize=8,
                    xytext=(-75 if late else 5, 15), textcoords="offset points")
    ax.set(xlabel="step", ylabel="loss (nats per token)", title=title or "training and validation loss")
    ax.legend(fontsize=8)
    return ax


def plot_per_book(books: Sequence[dict[str, Any]], *, total_bpb: float | None = None,
                  baseline_bpb: float | None = None, ax: Any = None) -> Any:
    """Bits per byte of each held-out book, easiest at the top, with the total and a baseline."""
    import matplotlib.pyplot as plt  # deferred: plotting only

    rows = sorted(books, key=lambda d: d["bits_per_byte"])
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.9 + 0.45 * len(rows)), dpi=90)
    ax.barh([d["title"][:40] or str(d["book_id"]) for d in rows], [d["bits_per_byte"] for d in rows], color="tab:orange")
    for y, d in enumerate(rows):
        ax.text(d["bits_per_byte"], y, f" {d['bits_per_byte']:.2f}", va="center", fontsize=8)
    if total_bpb is not None:
        ax.axvline(total_bpb, color="grey", ls=":", label="all held-out books")
    if baseline_bpb is not None:
        ax.axvline(baseline_bpb, color="tab:grey", ls="--", label="bigram baseline, all books")
    ax.invert_yaxis()
    ax.set(xlabel="bits per byte (lower is better)", title="held-out books, easiest at the top")
    if total_bpb is not None or baseline_bpb is not None:
        ax.legend(fontsize=8, loc="lower left", framealpha=0.9)
    return ax


def save_figure(fig: Any, path: str | Path) -> Path:
    """Write a matplotlib figure as PNG, atomically."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=90, bbox_inches="tight")
    return Path(path)
