"""Export: a trained checkpoint as a model folder that stands on its own, and in other formats.

``export_model`` writes ``data/exports/<name>/`` (model.safetensors, config.json with generation
defaults and the weights' SHA-256, tokenizer/, README.md), which ``load_exported`` and the server
read: safetensors and JSON only, nothing is unpickled. ``export_hf`` writes the same function as
a Hugging Face ``GPT2LMHeadModel`` (GPT-2's block) or ``Qwen3ForCausalLM`` (the modern block), with
tokenizer files that load offline, the course's chat format as a chat template, and a model card;
``export_onnx`` writes an ONNX graph (input_ids -> logits) for onnxruntime. ``stages.build_exports`` is
the stage builder.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import os
import shutil
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file, save_model

from . import __version__
from . import model as model_module
from .artifacts import (
    atomic_folder,
    atomic_path,
    data_dir,
    manifest_path,
    read_json,
    read_manifest,
    sha256_file,
    stage_dir,
    write_json_atomic,
    write_text_atomic,
)
from .chat import ChatTemplate, one_line
from .checkpoint import (
    CONFIG,
    TOKENIZER_DIR,
    WEIGHTS,
    Checkpoint,
    load_checkpoint,
    read_config,
)
from .generation import SamplingConfig
from .hardware import model_device
from .model import GPT, GPTConfig

log = logging.getLogger(__name__)

EXPORT_FORMAT = "minigpt-export/1"
CHECKPOINT_FORMAT = "minigpt-checkpoint/1"
README = "README.md"
# The sampling settings a served model starts from (a request may change each one).
GENERATION_KEYS = ("temperature", "top_k", "top_p", "repetition_penalty", "max_new_tokens")
DEFAULT_GENERATION: dict[str, Any] = {"temperature": 0.8, "top_k": 50, "top_p": 0.95,
                                      "repetition_penalty": 1.1, "max_new_tokens": 200}
ONNX_TOLERANCE = 1e-4  # largest |onnxruntime - torch| logit difference accepted (float32)
HF_TOLERANCE = 1e-4


def generation_defaults(values: dict[str, Any] | None = None, **changes: Any) -> dict[str, Any]:
    """The generation defaults an export records: ``DEFAULT_GENERATION`` updated, then validated."""
    merged = {**DEFAULT_GENERATION, **(values or {}), **changes}
    unknown = sorted(set(merged) - set(GENERATION_KEYS))
    if unknown:
        raise ValueError(f"generation defaults: unknown keys {unknown}; the keys are {list(GENERATION_KEYS)}")
    SamplingConfig(**merged)  # raises ValueError naming each bad field
    return {k: merged[k] for k in GENERATION_KEYS}


def sampling_config(config: dict[str, Any]) -> SamplingConfig:
    """The ``SamplingConfig`` of an export's config.json (library defaults for a plain checkpoint)."""
    return SamplingConfig(**generation_defaults(config.get("generation")))


# --------------------------------------------------------------------------- our own folder


@dataclass
class ExportedModel:
    """A loaded model folder: the model (eval mode), its tokenizer, config, and sampling defaults."""

    model: GPT
    tokenizer: Any
    config: dict[str, Any]
    path: Path
    name: str
    defaults: SamplingConfig

    @property
    def context_length(self) -> int:
        return self.model.config.context_length


def _readme(name: str, config: dict[str, Any]) -> str:
    m, t, g, source = config["model"], config["tokenizer"], config["generation"], config["source"]
    gpt2_note = ("\nGPT-2's tokenizer is read through tiktoken, which downloads its two files once "
                 "(or finds them in `TIKTOKEN_CACHE_DIR`).") if t["kind"] == "gpt2" else ""
    return f"""# {name}: a mini GPT trained from books

A decoder-only transformer ({m['position']} positions, {m['norm']}, {m['mlp']} MLP): {m['n_layer']} layers, \
{m['n_embd']} wide, {m['n_head']} heads, context {m['context_length']} tokens, vocabulary {m['vocab_size']} \
({t['kind']} tokenizer `{t['name']}`).
Exported from `{source['checkpoint']}` (step {source['step']}, validation loss {source['val_loss']}).

Files: `model.safetensors` (weights), `config.json` (shape, tokenizer fingerprint, generation defaults, \
SHA-256 of the weights), `tokenizer/` (tokenizer files).{gpt2_note}

Generation defaults: {", ".join(f"{k}={v}" for k, v in g.items())}.

```python
from minigpt_helpers.export import load_exported
m = load_exported('path/to/this/folder')
```

Serve it: `python -m minigpt_helpers serve --model path/to/this/folder` (OpenAI-compatible API and a web \
page on http://127.0.0.1:8000/).
"""


def export_model(source: str | os.PathLike[str] | Checkpoint, folder: str | os.PathLike[str], *,
                 name: str | None = None, generation: dict[str, Any] | None = None) -> Path:
    """Write ``folder`` (built beside it, then renamed into place) from a checkpoint folder or a
    loaded ``Checkpoint``: weights, config with generation defaults, tokenizer files and a README."""
    ckpt = source if isinstance(source, Checkpoint) else load_checkpoint(source, "cpu")
    target = Path(folder)
    name = name or target.name
    meta, src, root = ckpt.meta, Path(ckpt.path).resolve(), data_dir().resolve()
    shown = str(src.relative_to(root)) if src.is_relative_to(root) else src.name  # no user's home in a config
    with atomic_folder(target) as tmp:
        save_model(ckpt.model, str(tmp / WEIGHTS))
        ckpt.tokenizer.save(tmp / TOKENIZER_DIR)
        config = {
            "format": EXPORT_FORMAT,
            "name": name,
            "model": ckpt.model.config.to_dict(),
            "tokenizer": ckpt.tokenizer.config(),
            "generation": generation_defaults(generation),
            "meta": {k: meta[k] for k in ("run", "step", "tokens", "val_loss", "best_val_loss") if k in meta},
            "source": {"checkpoint": shown, "step": meta.get("step"), "val_loss": meta.get("val_loss"),
                       "exported": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "package_version": __version__},
            "files": {WEIGHTS: sha256_file(tmp / WEIGHTS)},
        }
        write_json_atomic(tmp / CONFIG, config)
        write_text_atomic(tmp / README, _readme(name, config))
    log.info("exported %s to %s", shown, target)
    return target


def load_exported(folder: str | os.PathLike[str], device: str | torch.device = "cpu") -> ExportedModel:
    """Load an exported folder (or a checkpoint folder) from safetensors, JSON and tokenizer files;
    refuses pickled weights (never loaded) and weights whose SHA-256 differs from the recorded one."""
    folder = Path(folder)
    weights = folder / WEIGHTS
    if not weights.is_file():
        pickled = sorted(p.name for p in folder.glob("*") if p.suffix in (".bin", ".pt", ".pth", ".pkl", ".ckpt"))
        hint = (f"; it holds {pickled}, which are pickles: this package never loads those (they can run code). "
                "Convert them to safetensors where you trust them" if pickled else "")
        raise FileNotFoundError(f"{weights} is missing: {folder} is not an exported model folder{hint}. "
                                "Export one with minigpt_helpers.export.export_model or `python -m minigpt_helpers export`")
    config = read_config(folder)
    fmt = config.get("format")
    if fmt not in (EXPORT_FORMAT, CHECKPOINT_FORMAT):
        raise ValueError(f"{folder / CONFIG}: format {fmt!r} is not {EXPORT_FORMAT!r}; was it written by "
                         "another program (a Hugging Face folder loads with transformers, not here)?")
    expected = config.get("files", {}).get(WEIGHTS)
    if expected and sha256_file(weights) != expected:
        raise ValueError(f"{weights}: its SHA-256 differs from the one in {CONFIG}; the file was changed or "
                         "damaged after export. Export the model again")
    defaults = sampling_config(config)  # validated before the weights are read
    ckpt = load_checkpoint(folder, device)
    return ExportedModel(ckpt.model, ckpt.tokenizer, config, folder, config.get("name") or folder.name, defaults)


def folder_size(path: str | os.PathLike[str]) -> int:
    """Bytes in a file, or in every file under a folder."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# --------------------------------------------------------------------------- Hugging Face


#: ``hf_family`` -> the transformers class its export loads as (``architectures`` in config.json).
HF_CLASSES = {"gpt2": "GPT2LMHeadModel", "qwen3": "Qwen3ForCausalLM"}


def hf_family(config: GPTConfig) -> str | None:
    """The transformers model type a block maps onto: "gpt2" (learned positions, LayerNorm), "qwen3"
    (rotary, RMSNorm with QK-norm), or None. ``hf_problems`` says whether every other detail fits."""
    if config.position == "learned" and config.norm == "layernorm":
        return "gpt2"
    if config.position == "rotary" and config.norm == "rmsnorm":
        return "qwen3"
    return None


def hf_problems(model: torch.nn.Module) -> list[str]:
    """Why ``model`` maps onto neither ``GPT2LMHeadModel`` nor ``Qwen3ForCausalLM`` (empty: it maps)."""
    if not isinstance(model, GPT):
        return [f"the model is a {type(model).__name__}, not a minigpt_helpers GPT"]
    c = model.config
    family = hf_family(c)
    if family is None:
        return [(f"position={c.position!r} with norm={c.norm!r} is neither GPT-2's block (learned positions, "
                 "LayerNorm) nor Qwen3's (rotary positions, RMSNorm); train with ARCHITECTURES['gpt2'] "
                 "(position='learned', norm='layernorm') or ARCHITECTURES['modern'] "
                 "(position='rotary', norm='rmsnorm')")]
    modern = family == "qwen3"
    problems = []
    if not modern and c.mlp != "gelu":
        problems.append(f"mlp={c.mlp!r}: GPT-2's MLP is GELU with the tanh approximation; use mlp='gelu' "
                        "with learned positions and LayerNorm, or the modern block (rotary, RMSNorm) for "
                        f"mlp={c.mlp!r}")
    if modern and c.mlp == "gelu":
        problems.append("mlp='gelu' with the modern block: Qwen3's MLP is gated (act(gate) * up) and no "
                        "activation makes that equal GELU; use mlp='relu2' or mlp='swiglu'")
    if modern and c.bias:
        problems.append("bias=True with the modern block: Qwen3's MLP has no biases; use bias=False")
    with torch.device("meta"):  # the parameters a GPT of this config has, without memory for them
        expected = set(GPT(c).state_dict())
    names = set(model.state_dict())
    if names != expected:
        extra, missing = sorted(names - expected), sorted(expected - names)
        problems.append(f"its parameters are not {'Qwen3' if modern else 'GPT-2'}'s (extra {extra[:4]}, missing "
                        f"{missing[:4]}): the architecture was changed, so not every one of ours has a counterpart")
    for name, module in model.named_modules():
        if isinstance(module, model_module.MLP) and module.kind != c.mlp:
            problems.append(f"{name}.kind is {module.kind!r} but the config says mlp={c.mlp!r}; set it back")
        if isinstance(module, model_module.CausalSelfAttention) and (module.rotary, module.qk_norm) != (modern, modern):
            problems.append(f"{name} has rotary={module.rotary}, qk_norm={module.qk_norm}, which the config "
                            f"(position={c.position!r}, norm={c.norm!r}) does not say; set them back")
        if not modern and isinstance(module, torch.nn.LayerNorm) and module.eps != 1e-5:
            problems.append(f"{name} has eps={module.eps}; GPT-2's layer norms use 1e-5")
    if modern and model_module.RMS_EPS != 1e-6:
        problems.append(f"minigpt_helpers.model.RMS_EPS is {model_module.RMS_EPS}; Qwen3's norms use 1e-6")
    return problems


def _hf_config(model: GPT, tokenizer: Any) -> dict[str, Any]:
    """The config.json of ``model``'s Hugging Face architecture (``hf_family``)."""
    c = model.config
    if hf_family(c) == "gpt2":
        config = {
            "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": c.vocab_size,
            "n_positions": c.context_length, "n_embd": c.n_embd, "n_layer": c.n_layer, "n_head": c.n_head,
            "n_inner": c.hidden_dim, "activation_function": "gelu_new",  # GELU, tanh approximation: ours
            "layer_norm_epsilon": 1e-5, "resid_pdrop": c.dropout, "embd_pdrop": c.dropout, "attn_pdrop": c.dropout,
            "scale_attn_weights": True, "scale_attn_by_inverse_layer_idx": False, "reorder_and_upcast_attn": False,
        }
    else:
        config = {
            "architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "vocab_size": c.vocab_size,
            "hidden_size": c.n_embd, "intermediate_size": c.hidden_dim, "num_hidden_layers": c.n_layer,
            "num_attention_heads": c.n_head, "num_key_value_heads": c.n_head, "head_dim": c.head_dim,
            # swiglu: silu(gate) * up. relu2: relu(a) * a with gate = up = c_fc, which is relu(a)^2.
            "hidden_act": "silu" if c.mlp == "swiglu" else "relu",
            "max_position_embeddings": c.context_length, "rms_norm_eps": 1e-6,
            # transformers 5 reads rope_parameters; 4.51 to 4.x read rope_theta
            "rope_parameters": {"rope_type": "default", "rope_theta": float(c.rope_theta)},
            "rope_theta": float(c.rope_theta), "attention_bias": False, "attention_dropout": c.dropout,
            "use_sliding_window": False, "sliding_window": None, "max_window_layers": c.n_layer, "use_cache": True,
        }
    return {**config, "initializer_range": c.init_std, "tie_word_embeddings": c.tie_weights,
            "bos_token_id": tokenizer.eot_id, "eos_token_id": tokenizer.eot_id, "dtype": "float32"}


def hf_state_dict(model: GPT) -> dict[str, torch.Tensor]:
    """Our weights under the names and layout of ``model``'s Hugging Face architecture. GPT-2:
    matrices transposed, missing biases as zeros. Qwen3: c_attn split into q, k, v; c_fc into gate
    and up (swiglu) or copied to both (relu2, since relu(a) * a = relu(a)^2); norms all ones."""
    c = model.config
    sd = {k: v.detach().to("cpu", torch.float32) for k, v in model.state_dict().items()}
    if hf_family(c) == "gpt2":
        out = {k: sd[k] for k in ("transformer.wte.weight", "transformer.wpe.weight", "transformer.ln_f.weight")}
        out["transformer.ln_f.bias"] = sd.get("transformer.ln_f.bias", torch.zeros(c.n_embd))
        for i in range(c.n_layer):
            for layer in ("ln_1", "attn.c_attn", "attn.c_proj", "ln_2", "mlp.c_fc", "mlp.c_proj"):
                name = f"transformer.h.{i}.{layer}."
                w = sd[name + "weight"]
                out[name + "weight"] = w if layer.startswith("ln") else w.t()  # Conv1D keeps (in, out)
                # no biases in our model: GPT-2 always has them, so they are zeros
                out[name + "bias"] = sd.get(name + "bias", torch.zeros(w.shape[0]))
    else:
        ones = torch.ones(c.n_embd)
        out = {"model.embed_tokens.weight": sd["transformer.wte.weight"], "model.norm.weight": ones}
        for i in range(c.n_layer):
            ours, theirs = f"transformer.h.{i}.", f"model.layers.{i}."
            q, k, v = sd[ours + "attn.c_attn.weight"].split(c.n_embd, dim=0)  # (C, C) each
            fc = sd[ours + "mlp.c_fc.weight"]  # (hidden, C), or (2 * hidden, C): [gate; up]
            gate, up = fc.chunk(2, dim=0) if c.mlp == "swiglu" else (fc, fc)
            out |= {theirs + "input_layernorm.weight": ones, theirs + "post_attention_layernorm.weight": ones,
                    theirs + "self_attn.q_proj.weight": q, theirs + "self_attn.k_proj.weight": k,
                    theirs + "self_attn.v_proj.weight": v,
                    theirs + "self_attn.o_proj.weight": sd[ours + "attn.c_proj.weight"],
                    theirs + "self_attn.q_norm.weight": torch.ones(c.head_dim),
                    theirs + "self_attn.k_norm.weight": torch.ones(c.head_dim),
                    theirs + "mlp.gate_proj.weight": gate, theirs + "mlp.up_proj.weight": up,
                    theirs + "mlp.down_proj.weight": sd[ours + "mlp.c_proj.weight"]}
    if not c.tie_weights:
        out["lm_head.weight"] = sd["lm_head.weight"]
    return {k: v.contiguous().clone() for k, v in out.items()}  # clones: safetensors refuses shared tensors


GPT2_FILES = {  # tiktoken's copies of GPT-2's tokenizer files: the same bytes as Hugging Face's
    "vocab.json": ("https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/encoder.json",
                   "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783"),
    "merges.txt": ("https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/vocab.bpe",
                   "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5"),
}


# Renders messages as ChatTemplate does, with the server's mapping: system (and developer) messages
# are the persona line (the default persona without one), user and assistant turns one line each.
_CHAT_JINJA = r"""
{%- set ns = namespace(system='') -%}
{%- for m in messages if m['role'] in ['system', 'developer'] -%}
  {%- set ns.system = ns.system ~ ' ' ~ (m['content'] or '') -%}
{%- endfor -%}
{%- set persona = ns.system.split() | join(' ') or DEFAULT_PERSONA -%}
{%- if persona -%}{{ persona ~ '\n\n' }}{%- endif -%}
{%- for m in messages if m['role'] in ['user', 'assistant'] -%}
  {{- (USER if m['role'] == 'user' else BOT) ~ ': ' ~ ((m['content'] or '').split() | join(' ')) ~ '\n' -}}
{%- endfor -%}
{%- if add_generation_prompt -%}{{ BOT ~ ':' }}{%- endif -%}"""


def hf_chat_template(template: ChatTemplate | None = None) -> str:
    """A Jinja chat template for transformers' ``apply_chat_template`` that gives the same text as
    the course's chat (``ChatTemplate.render``; the newest turns only, since it drops none)."""
    t = template or ChatTemplate()
    names = {"DEFAULT_PERSONA": one_line(t.persona), "USER": t.user_name, "BOT": t.bot_name}
    return "".join(f"{{%- set {k} = {json.dumps(v)} -%}}" for k, v in names.items()) + _CHAT_JINJA


def _hf_tokenizer(tokenizer: Any, folder: Path, context_length: int) -> str | None:
    """Write the tokenizer files transformers reads (no download needed to load them), with the
    chat template; returns a note on what is missing (None: nothing)."""
    kind = tokenizer.config()["kind"]
    common = {"model_max_length": context_length, "clean_up_tokenization_spaces": False,
              "chat_template": hf_chat_template()}
    if kind == "bpe":
        tokenizer.save(folder / "tmp-tokenizer")
        os.replace(folder / "tmp-tokenizer" / "tokenizer.json", folder / "tokenizer.json")
        shutil.rmtree(folder / "tmp-tokenizer")
        cfg = {"tokenizer_class": "PreTrainedTokenizerFast", **common}
        for role in ("eos", "bos", "pad"):
            if f"<{role}>" in tokenizer.special_tokens:
                cfg[f"{role}_token"] = f"<{role}>"
        write_json_atomic(folder / "tokenizer_config.json", cfg)
        return None
    if kind == "gpt2":
        try:
            from tiktoken.load import read_file_cached

            for filename, (url, sha) in GPT2_FILES.items():
                (folder / filename).write_bytes(read_file_cached(url, sha))
        except (ImportError, OSError, ValueError) as err:  # offline without tiktoken's cache (requests' errors are OSErrors)
            return (f"GPT-2's vocab.json and merges.txt are missing ({type(err).__name__}): tiktoken could not "
                    "read them; online, add them with AutoTokenizer.from_pretrained('gpt2').save_pretrained(folder)")
        write_json_atomic(folder / "tokenizer_config.json", {
            "tokenizer_class": "GPT2Tokenizer", "bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>",
            "unk_token": "<|endoftext|>", "add_prefix_space": False, **common})
        return None
    return (f"a {kind!r} tokenizer has no Hugging Face counterpart here: encode with minigpt_helpers "
            "(tokenizer/ in the exported folder) and pass the ids to the model")


def _card_books(in_data_dir: bool) -> str:
    """The training-data section of a model card: data/clean's books (for a checkpoint of this data folder)."""
    if not in_data_dir or not manifest_path("clean").is_file():
        return "Unknown: the checkpoint was not trained in this data folder, so its books are not recorded here."
    manifest = read_manifest("clean")
    books, origin = manifest.get("books", []), manifest.get("origin") or {}
    if origin.get("kind") == "gutenberg":
        licence = ("Project Gutenberg eBooks, in the public domain in the United States (check the copyright law "
                   "of your country); their Project Gutenberg licence header and footer were removed before training.")
    else:
        licence = "Your own books from a local folder: their licence is unknown here; check it before you share this model."
    listed = "\n".join(f"- *{b.get('title')}* by {b.get('author')} (`{b.get('book_id')}`)" for b in books)
    return f"The text of {len(books)} books, split into training and validation text. {licence}\n\n{listed}"


def _card_metrics(in_data_dir: bool, meta: dict[str, Any]) -> str:
    """The evaluation section of a model card: notebook 06's data/eval/metrics.json, when present."""
    path = data_dir() / "eval" / "metrics.json"  # not stage_dir: that would create the folder
    if not in_data_dir or not path.is_file():
        return "Not evaluated here: notebook 06 writes data/eval/metrics.json."
    m = read_json(path)
    total, evaluated = m["split"]["total"], m.get("checkpoint", {})
    which = f"run {evaluated.get('run')}, step {evaluated.get('step')}"
    if (evaluated.get("run"), evaluated.get("step")) != (meta.get("run"), meta.get("step")):
        which += ", not the checkpoint exported here"
    held_out = ", ".join(f"*{b.get('title')}*" for b in m.get("data", {}).get("books", []))
    return (f"Notebook 06 ({which}), on {total['tokens']:,} tokens of books held out from training ({held_out}):\n\n"
            "| loss (nats/token) | perplexity | bits per byte |\n|---|---|---|\n"
            f"| {total['loss']:.3f} | {total['perplexity']:.1f} | {total['bits_per_byte']:.3f} |")


def _model_card(loaded: Checkpoint | ExportedModel, tokenizer_note: str | None) -> str:
    """README.md of a Hugging Face export: the model, its books and their licence, the tokenizer,
    06's metrics and the limitations."""
    model, tokenizer, source = loaded.model, loaded.tokenizer, Path(loaded.path)
    c, t, meta = model.config, tokenizer.config(), loaded.config.get("meta", {})
    name = meta.get("run") or source.name
    in_data_dir = source.resolve().is_relative_to(data_dir().resolve())
    hf_class = HF_CLASSES[hf_family(c)]
    tok_use = (f"Note: {tokenizer_note}." if tokenizer_note else
               "It loads with `AutoTokenizer.from_pretrained` from this folder alone (no download); unlike "
               "minigpt_helpers' tokenizer it turns text that spells a special token (such as `<eos>`) into that token.")
    relu2 = ("\nQwen3's MLP computes act(gate) * up; with act = relu and gate = up = our first MLP matrix that is "
             "relu(a)^2, ours. The matrix is stored twice.\n" if c.mlp == "relu2" else "")
    trained = f"Trained for {meta.get('step', 'an unknown number of')} steps"
    if meta.get("tokens"):
        trained += f" ({meta['tokens']:,} tokens)"
    if meta.get("val_loss") is not None:
        trained += f", validation loss {meta['val_loss']:.3f}"
    load_tokenizer, chat = "", ""
    if not tokenizer_note:
        load_tokenizer = "tokenizer = AutoTokenizer.from_pretrained('path/to/this/folder')\n"
        chat = ("\nChat: `tokenizer.apply_chat_template(messages, add_generation_prompt=True)` writes the course's "
                "play script (the system message as a persona line, then `READER: ...` and `LIBRARIAN: ...` lines); "
                "stop the reply at the end of its line (`\\n`).\n")
    return f"""---
library_name: transformers
pipeline_tag: text-generation
tags: [minigpt-course, {hf_family(c)}]
---

# {name}: a mini GPT trained on books

A small decoder-only transformer trained from scratch in the minigpt course, in Hugging Face's \
`{hf_class}` format: {c.n_layer} layers, {c.n_embd} wide, {c.n_head} heads, context {c.context_length} tokens, \
{model.num_parameters():,} parameters. {trained}.
{relu2}
## Training data

{_card_books(in_data_dir)}

## Tokenizer

{t['kind']} tokenizer `{t['name']}`, {t['vocab_size']} tokens, end of text = id {tokenizer.eot_id}. {tok_use}

## Evaluation

{_card_metrics(in_data_dir, meta)}

## Use

```python
from transformers import AutoModelForCausalLM, AutoTokenizer
model = AutoModelForCausalLM.from_pretrained('path/to/this/folder')
{load_tokenizer}```
{chat}
## Limitations

- A small model trained on a few books: it continues text in their style. It knows no facts reliably, \
does not follow instructions, and often writes things that are false or make no sense.
- It learned the language and the views of its books and their times, prejudices included; read what it \
writes before you show it to anyone. It writes only the language of its books.
- A base model, tuned neither for chat nor for safety: the chat is a play script it continues.
- Context {c.context_length} tokens: the chat template keeps every turn, so drop the oldest turns yourself \
(the course's chat does).
"""


def _loaded(source: str | os.PathLike[str] | Checkpoint | ExportedModel) -> Checkpoint | ExportedModel:
    return source if isinstance(source, (Checkpoint, ExportedModel)) else load_checkpoint(source, "cpu")


def export_hf(source: str | os.PathLike[str] | Checkpoint | ExportedModel, folder: str | os.PathLike[str]) -> Path:
    """Write a Hugging Face folder that ``AutoModelForCausalLM.from_pretrained`` loads: GPT-2 for
    GPT-2's block, Qwen3 for the modern one. Raises ValueError naming what does not map and the fix."""
    loaded = _loaded(source)
    model, tokenizer = loaded.model, loaded.tokenizer
    problems = hf_problems(model)
    if problems:
        raise ValueError("this model maps onto no Hugging Face architecture (GPT-2's block goes to "
                         "GPT2LMHeadModel, the modern block to Qwen3ForCausalLM), so it cannot be exported "
                         "in that format:\n- " + "\n- ".join(problems))
    defaults = loaded.defaults if isinstance(loaded, ExportedModel) else sampling_config(loaded.config)
    with atomic_folder(folder) as tmp:
        save_file(hf_state_dict(model), str(tmp / "model.safetensors"), metadata={"format": "pt"})
        write_json_atomic(tmp / "config.json", _hf_config(model, tokenizer))
        write_json_atomic(tmp / "generation_config.json", {
            "do_sample": defaults.temperature > 0, "temperature": defaults.temperature or 1.0,
            "top_k": defaults.top_k, "top_p": defaults.top_p, "repetition_penalty": defaults.repetition_penalty,
            "max_new_tokens": defaults.max_new_tokens,
            "bos_token_id": tokenizer.eot_id, "eos_token_id": tokenizer.eot_id, "pad_token_id": tokenizer.eot_id})
        note = _hf_tokenizer(tokenizer, tmp, model.config.context_length)
        if note:
            log.warning("%s", note)
        write_text_atomic(tmp / README, _model_card(loaded, note))
    return Path(folder)


# --------------------------------------------------------------------------- ONNX


class LogitsOnly(torch.nn.Module):
    """``input_ids (B, T) -> logits (B, T, vocab)``: the graph ONNX records (no loss, no cache)."""

    def __init__(self, model: GPT) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids)[0]


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Hide the exporter's notes (optional packages, graph clean-up passes) and deprecation warnings."""
    noisy = [logging.getLogger(n) for n in ("torch.onnx._internal.exporter._registration", "onnxscript", "onnx_ir")]
    levels = [lg.level for lg in noisy]
    for lg in noisy:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(noisy, levels):
            lg.setLevel(level)


def export_onnx(source: str | os.PathLike[str] | Checkpoint | ExportedModel, path: str | os.PathLike[str]) -> Path:
    """Write an ONNX file: ``input_ids`` (int64, batch x sequence, both dynamic, sequences up to the
    context length) -> ``logits`` (float32), with ``torch.onnx.export(dynamo=True)`` (needs onnxscript)."""
    model = _loaded(source).model
    if model_device(model).type != "cpu":
        model = copy.deepcopy(model).to("cpu")  # the caller's model stays where it is
    c = model.config
    example = torch.randint(0, c.vocab_size, (2, min(8, c.context_length)))
    batch = torch.export.Dim("batch", min=1, max=4096)
    sequence = torch.export.Dim("sequence", min=1, max=c.context_length)
    with _quiet_exporter():
        program = torch.onnx.export(LogitsOnly(model).eval(), (example,), dynamo=True, input_names=["input_ids"],
                                    output_names=["logits"], dynamic_shapes={"input_ids": {0: batch, 1: sequence}},
                                    verbose=False)
    with atomic_path(path) as tmp:
        program.save(str(tmp))
    return Path(path)


def onnx_logits(path: str | os.PathLike[str], input_ids: torch.Tensor) -> torch.Tensor:
    """Run an exported ONNX file with onnxruntime (CPU) on ``input_ids``; returns the logits."""
    import onnxruntime as ort  # optional: the [export] extra

    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, torch.get_num_threads())
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    (out,) = session.run(["logits"], {"input_ids": input_ids.to(torch.int64).cpu().numpy()})
    return torch.from_numpy(out)


def max_logit_difference(model: GPT, input_ids: torch.Tensor, other: torch.Tensor) -> float:
    """``max |model(input_ids) - other|`` (float64), to compare another runtime's logits with ours."""
    with torch.inference_mode():
        ours = model(input_ids.to(model_device(model)))[0].double().cpu()
    return (ours - other.double().cpu()).abs().max().item()


# --------------------------------------------------------------------------- the stage


def find_export(name: str | None = None) -> Path:
    """The folder of an export under ``data/exports`` (default: the one the stage manifest names)."""
    folder = stage_dir("exports") / str(name or read_manifest("exports").get("default"))
    if not (folder / CONFIG).is_file():
        raise FileNotFoundError(f"{folder} holds no exported model; run notebooks/09_serving.ipynb or "
                                "`python -m minigpt_helpers export`")
    return folder
