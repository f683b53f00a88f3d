"""Export: the self-contained folder round trip (same logits), what loading refuses (pickles,
changed weights, bad defaults), Hugging Face GPT-2 and Qwen3 (same logits within 1e-4, same greedy
tokens, the tokenizer; mixes of the two refused), ONNX of both blocks against onnxruntime, the stage
builder and the command line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from minigpt_helpers import artifacts, cli, export, stages
from minigpt_helpers.chat import ChatSession, ChatTemplate
from minigpt_helpers.checkpoint import load_checkpoint, save_checkpoint
from minigpt_helpers.generation import SamplingConfig, generate
from minigpt_helpers.model import ARCHITECTURES, GPT, GPTConfig
from minigpt_helpers.profiles import get_profile
from minigpt_helpers.tokenization import BPETokenizer, CharTokenizer

TEXT = ("It was the best of times, it was the worst of times. 'Who are you?' said the Caterpillar.\n"
        "Alice was beginning to get very tired of sitting by her sister on the bank. Caf\u00e9 \u00fcber.\n") * 4


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def char_tok() -> CharTokenizer:
    return CharTokenizer.train([TEXT])


@pytest.fixture(scope="module")
def bpe_tok() -> BPETokenizer:
    return BPETokenizer.train([TEXT], vocab_size=300)


def _model(vocab: int, *, spread: float = 0.0, seed: int = 0, **changes) -> GPT:
    """A tiny GPT; ``spread`` > 0 redraws every weight (norms and biases too) so logits vary a lot."""
    torch.manual_seed(seed)
    config = GPTConfig(vocab_size=vocab, context_length=32, n_layer=2, n_head=2, n_embd=32).replace(**changes)
    model = GPT(config).eval()
    if spread:
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p) * spread)
    return model


def _checkpoint(tmp_path: Path, model: GPT, tok, name: str = "ckpt") -> Path:
    return save_checkpoint(tmp_path / name, model, tok, train_config={"lr": 1e-3}, meta={"run": "tiny", "step": 7, "val_loss": 3.2},
                           training_state={"step": torch.tensor(7)})


# --------------------------------------------------------------------------- our own folder


def test_export_round_trip_gives_identical_logits(tmp_path, char_tok) -> None:
    model = _model(char_tok.vocab_size, spread=0.1)
    src = _checkpoint(tmp_path, model, char_tok)
    out = export.export_model(src, tmp_path / "exports" / "tiny", generation={"temperature": 0.5, "max_new_tokens": 9})
    names = sorted(p.name for p in out.iterdir())
    assert names == ["README.md", "config.json", "model.safetensors", "tokenizer"]
    assert not list(out.rglob("*.pt")) and not list(out.rglob("*.bin")), "no pickles in an export"
    config = json.loads((out / "config.json").read_text())
    assert config["format"] == export.EXPORT_FORMAT and config["name"] == "tiny"
    assert config["generation"] == {"temperature": 0.5, "top_k": 50, "top_p": 0.95, "repetition_penalty": 1.1, "max_new_tokens": 9}
    assert "train" not in config and config["meta"]["step"] == 7
    assert config["files"]["model.safetensors"] == artifacts.sha256_file(out / "model.safetensors")

    loaded = export.load_exported(out)
    assert loaded.name == "tiny" and loaded.context_length == 32
    assert loaded.defaults == SamplingConfig(temperature=0.5, top_k=50, top_p=0.95, repetition_penalty=1.1, max_new_tokens=9)
    ids = torch.tensor([char_tok.encode("Alice was beginning")])
    with torch.no_grad():
        assert torch.equal(loaded.model(ids)[0], model(ids)[0])
    assert loaded.tokenizer.encode(TEXT) == char_tok.encode(TEXT)


def test_export_stands_on_its_own(tmp_path, bpe_tok, monkeypatch) -> None:
    """Copied elsewhere, with the checkpoint and the data folder gone, it still loads."""
    model = _model(bpe_tok.vocab_size)
    src = _checkpoint(tmp_path, model, bpe_tok)
    out = export.export_model(load_checkpoint(src), tmp_path / "first")
    moved = Path(shutil.copytree(out, tmp_path / "elsewhere" / "model"))
    shutil.rmtree(src)
    shutil.rmtree(out)
    monkeypatch.setenv("MINIGPT_DATA_DIR", str(tmp_path / "empty-data"))
    loaded = export.load_exported(moved)
    ids = torch.tensor([bpe_tok.encode("the worst of times")])
    with torch.no_grad():
        assert torch.equal(loaded.model(ids)[0], model(ids)[0])
    assert loaded.name == "first"  # the name recorded at export, not the new folder's


def test_export_again_replaces_the_folder(tmp_path, char_tok) -> None:
    src = _checkpoint(tmp_path, _model(char_tok.vocab_size), char_tok)
    out = export.export_model(src, tmp_path / "m")
    (out / "stale.txt").write_text("old")
    export.export_model(src, tmp_path / "m")
    assert not (out / "stale.txt").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".m.")], "no temporary folders left behind"


def test_loading_refuses_pickles_changed_weights_and_bad_defaults(tmp_path, char_tok) -> None:
    pickled = tmp_path / "downloaded"
    pickled.mkdir()
    torch.save({"w": torch.zeros(2)}, pickled / "pytorch_model.bin")
    with pytest.raises(FileNotFoundError, match="pickles"):
        export.load_exported(pickled)

    out = export.export_model(_checkpoint(tmp_path, _model(char_tok.vocab_size), char_tok), tmp_path / "m")
    data = bytearray((out / "model.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (out / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(ValueError, match="SHA-256"):
        export.load_exported(out)

    out = export.export_model(_checkpoint(tmp_path, _model(char_tok.vocab_size), char_tok), tmp_path / "m2")
    config = json.loads((out / "config.json").read_text())
    config["generation"]["top_p"] = 1.5
    (out / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="top_p"):
        export.load_exported(out)
    config["format"] = "something-else"
    (out / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="format"):
        export.load_exported(out)


def test_generation_defaults_are_validated() -> None:
    assert export.generation_defaults(None) == export.DEFAULT_GENERATION
    assert export.generation_defaults({"top_k": 5}, max_new_tokens=3)["top_k"] == 5
    with pytest.raises(ValueError, match="unknown keys"):
        export.generation_defaults({"beam_width": 4})
    with pytest.raises(ValueError, match="temperature"):
        export.generation_defaults(temperature=-1)


def test_a_checkpoint_folder_loads_too_with_library_defaults(tmp_path, char_tok) -> None:
    src = _checkpoint(tmp_path, _model(char_tok.vocab_size), char_tok)
    loaded = export.load_exported(src)
    assert loaded.defaults == SamplingConfig(**export.DEFAULT_GENERATION)


# --------------------------------------------------------------------------- Hugging Face


@pytest.mark.parametrize("changes", [{}, {"tie_weights": False}, {"bias": False}, {"ffn_hidden": 48}],
                         ids=["tied", "untied", "no-bias", "ffn48"])
def test_hf_gpt2_gives_the_same_logits(tmp_path, bpe_tok, changes) -> None:
    transformers = pytest.importorskip("transformers")
    model = _model(bpe_tok.vocab_size, spread=0.3, **changes)
    src = _checkpoint(tmp_path, model, bpe_tok)
    folder = export.export_hf(src, tmp_path / "hf")
    hf = transformers.GPT2LMHeadModel.from_pretrained(folder).eval()
    ids = torch.randint(0, bpe_tok.vocab_size, (3, 32), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours, theirs = model(ids)[0], hf(ids).logits
    assert ours.std() > 1.0, "the logits should vary, or the comparison proves little"
    assert (ours - theirs).abs().max().item() < export.HF_TOLERANCE
    config = json.loads((folder / "config.json").read_text())
    assert config["dtype"] == "float32" and "torch_dtype" not in config  # transformers 5 deprecates torch_dtype
    # a wrong layout (no transpose) would not pass: make sure the check can fail
    assert export.max_logit_difference(model, ids, theirs + 1e-3) > export.HF_TOLERANCE


def test_hf_greedy_generation_and_tokenizer_match(tmp_path, bpe_tok) -> None:
    transformers = pytest.importorskip("transformers")
    model = _model(bpe_tok.vocab_size, spread=0.3)
    folder = export.export_hf(_checkpoint(tmp_path, model, bpe_tok), tmp_path / "hf")
    tok = transformers.AutoTokenizer.from_pretrained(folder)
    text = "Alice was beginning to get very tired,\n\n said the Caterpillar. Caf\u00e9 \u00fcber \u65e5\u672c"
    assert tok.encode(text) == bpe_tok.encode(text)
    assert tok.decode(bpe_tok.encode(text)) == text
    assert tok.eos_token_id == bpe_tok.eot_id

    hf = transformers.GPT2LMHeadModel.from_pretrained(folder).eval()
    prompt = bpe_tok.encode("It was the")
    for penalty in (1.0, 1.3):  # HF's repetition penalty is the same rule as ours (CTRL's)
        ours = generate(model, prompt, SamplingConfig(temperature=0, max_new_tokens=12, repetition_penalty=penalty))
        with torch.no_grad():
            out = hf.generate(torch.tensor([prompt]), max_new_tokens=12, do_sample=False, eos_token_id=None,
                              pad_token_id=bpe_tok.eot_id, repetition_penalty=penalty)
        assert len(ours) == 12
        assert out[0, len(prompt):].tolist() == ours, f"repetition_penalty={penalty}"


# A fresh process without network, Hub or tiktoken files: what it loads must be in the folder.
_OFFLINE_LOAD = """
import json, socket, sys
def refuse(*args, **kwargs):
    raise OSError("no network in this test")
socket.socket.connect = refuse
from transformers import AutoTokenizer
tok = AutoTokenizer.from_pretrained(sys.argv[1])
chat = tok.apply_chat_template(json.loads(sys.argv[3]), tokenize=False, add_generation_prompt=True)
print(json.dumps([tok.encode(sys.argv[2]), chat]))
"""


def test_hf_gpt2_tokenizer_loads_offline_from_the_folder_alone(tmp_path) -> None:
    pytest.importorskip("transformers")
    from minigpt_helpers.tokenization import GPT2Tokenizer

    try:
        gpt2 = GPT2Tokenizer()
    except FileNotFoundError as err:
        pytest.skip(f"GPT-2's BPE files are not available offline: {err}")
    model = _model(gpt2.vocab_size, n_embd=16)
    folder = export.export_hf(_checkpoint(tmp_path, model, gpt2), tmp_path / "hf")
    assert (folder / "vocab.json").is_file() and (folder / "merges.txt").is_file()
    text = "Hello world! It's a   test\n\nwith caf\u00e9."
    messages = [{"role": "user", "content": "Hello there."}]
    empty = tmp_path / "empty-tiktoken-cache"
    empty.mkdir()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TIKTOKEN_CACHE_DIR": str(empty)}
    out = subprocess.run([sys.executable, "-c", _OFFLINE_LOAD, str(folder), text, json.dumps(messages)],
                         env=env, capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    ids, chat = json.loads(out.stdout.splitlines()[-1])
    assert ids == gpt2.encode(text)
    assert chat == ChatTemplate().render([("user", "Hello there.")])
    assert not any(empty.iterdir()), "nothing was fetched into the tiktoken cache"


def test_hf_chat_template_renders_the_course_prompt(tmp_path, bpe_tok) -> None:
    transformers = pytest.importorskip("transformers")
    model = _model(bpe_tok.vocab_size, context_length=512)  # room for every turn: the course drops none
    folder = export.export_hf(_checkpoint(tmp_path, model, bpe_tok), tmp_path / "hf")
    assert "chat_template" in json.loads((folder / "tokenizer_config.json").read_text())
    tok = transformers.AutoTokenizer.from_pretrained(folder)
    messages = [{"role": "system", "content": "Two old friends\n talk about  books."},
                {"role": "user", "content": "Hello there."},
                {"role": "assistant", "content": "Good day to you,\nreader."},
                {"role": "user", "content": "Who are you?"}]
    turns = [("user", "Hello there."), ("bot", "Good day to you,\nreader."), ("user", "Who are you?")]

    def course(template: ChatTemplate) -> str:
        """The prompt the course's chat builds (what the server sends the model)."""
        session = ChatSession(model, bpe_tok, SamplingConfig(max_new_tokens=8), template)
        session.history = turns[:-1]
        text = session.build_prompt(turns[-1][1])[0]
        assert session.last_dropped == 0 and not session.persona_dropped
        return text

    expected = course(ChatTemplate(persona="Two old friends talk about books."))
    assert expected.startswith("Two old friends talk about books.\n\nREADER: Hello there.\n")
    assert expected.endswith("LIBRARIAN: Good day to you, reader.\nREADER: Who are you?\nLIBRARIAN:")
    assert tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True) == expected
    # no system message: the default persona; no generation prompt: the transcript so far
    assert tok.apply_chat_template(messages[1:], tokenize=False, add_generation_prompt=True) == course(ChatTemplate())
    transcript = ChatTemplate(persona="Two old friends talk about books.").render(turns, open_reply=False)
    assert tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=False) == transcript


def test_hf_model_card_names_the_books_licence_tokenizer_and_metrics(tmp_path, bpe_tok) -> None:
    profile = get_profile("ci")
    src = save_checkpoint(artifacts.stage_dir("checkpoints") / "tiny" / "best", _model(bpe_tok.vocab_size), bpe_tok,
                          meta={"run": "tiny", "step": 7, "tokens": 12345, "val_loss": 3.2})
    books = [{"book_id": "pg11", "title": "Alice's Adventures in Wonderland", "author": "Lewis Carroll"}]
    artifacts.write_manifest("clean", profile, {"books": books, "origin": {"kind": "gutenberg", "ids": [11]}})
    metrics = {"checkpoint": {"run": "tiny", "step": 7}, "data": {"books": [{"title": "Heart of Darkness"}]},
               "split": {"total": {"tokens": 4000, "loss": 3.5, "perplexity": 33.12, "bits_per_byte": 1.9}}}
    artifacts.write_json_atomic(artifacts.data_dir() / "eval" / "metrics.json", metrics)
    card = (export.export_hf(src, tmp_path / "hf") / "README.md").read_text()
    assert card.startswith("---\nlibrary_name: transformers\n") and "# tiny: a mini GPT trained on books" in card
    assert "GPT2LMHeadModel" in card and "12,345 tokens" in card and "validation loss 3.200" in card
    assert "*Alice's Adventures in Wonderland* by Lewis Carroll (`pg11`)" in card
    assert "Project Gutenberg" in card and "public domain" in card
    assert "bpe tokenizer `bpe-300`" in card and "from this folder alone" in card and "apply_chat_template" in card
    assert "run tiny, step 7), on 4,000 tokens" in card and "| 3.500 | 33.1 | 1.900 |" in card
    assert "*Heart of Darkness*" in card and "## Limitations" in card
    # a checkpoint from outside this data folder: its books and metrics are not the ones here
    elsewhere = (export.export_hf(_checkpoint(tmp_path, _model(bpe_tok.vocab_size), bpe_tok), tmp_path / "hf2")
                 / "README.md").read_text()
    assert "Unknown: the checkpoint was not trained in this data folder" in elsewhere
    assert "Not evaluated here" in elsewhere and "Alice" not in elsewhere


def _modern(vocab: int, mlp: str = "relu2", **changes) -> GPT:
    """A tiny modern-block GPT with every weight random: its init zeroes the output projections."""
    return _model(vocab, spread=0.3, **{**ARCHITECTURES["modern"], "mlp": mlp, **changes})


@pytest.mark.parametrize("changes", [{"mlp": "relu2"}, {"mlp": "swiglu", "rope_theta": 500.0},
                                     {"mlp": "swiglu", "tie_weights": True, "init": "gpt2"}],
                         ids=["relu2", "swiglu-theta500", "swiglu-tied"])
def test_hf_modern_block_is_qwen3_with_the_same_logits(tmp_path, bpe_tok, changes) -> None:
    transformers = pytest.importorskip("transformers")
    model = _modern(bpe_tok.vocab_size, **changes)
    assert all(p.abs().min() > 0 for p in model.parameters()), "every weight nonzero, or a mapping may hide"
    folder = export.export_hf(_checkpoint(tmp_path, model, bpe_tok), tmp_path / "hf")
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "qwen3" and config["tie_word_embeddings"] == model.config.tie_weights
    assert config["dtype"] == "float32" and "torch_dtype" not in config
    hf = transformers.AutoModelForCausalLM.from_pretrained(folder).eval()
    assert type(hf).__name__ == "Qwen3ForCausalLM"
    assert hf.config.rope_parameters["rope_theta"] == model.config.rope_theta
    ids = torch.randint(0, bpe_tok.vocab_size, (3, 32), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours, theirs = model(ids)[0], hf(ids).logits
    assert ours.std() > 1.0, "the logits should vary, or the comparison proves little"
    assert (ours - theirs).abs().max().item() < export.HF_TOLERANCE
    assert export.max_logit_difference(model, ids, theirs + 1e-3) > export.HF_TOLERANCE


@pytest.mark.parametrize("mlp", ["relu2", "swiglu"])
def test_hf_qwen3_greedy_generation_and_tokenizer_match(tmp_path, bpe_tok, mlp) -> None:
    transformers = pytest.importorskip("transformers")
    model = _modern(bpe_tok.vocab_size, mlp)
    folder = export.export_hf(_checkpoint(tmp_path, model, bpe_tok), tmp_path / "hf")
    text = "Alice was beginning to get very tired, said the Caterpillar."
    assert transformers.AutoTokenizer.from_pretrained(folder).encode(text) == bpe_tok.encode(text)
    hf = transformers.AutoModelForCausalLM.from_pretrained(folder).eval()
    prompt = bpe_tok.encode("It was the")
    for penalty in (1.0, 1.3):
        ours = generate(model, prompt, SamplingConfig(temperature=0, max_new_tokens=12, repetition_penalty=penalty))
        with torch.no_grad():
            out = hf.generate(torch.tensor([prompt]), max_new_tokens=12, do_sample=False, eos_token_id=None,
                              pad_token_id=bpe_tok.eot_id, repetition_penalty=penalty)
        assert len(ours) == 12 and len(set(ours)) > 1, "a varied continuation, not one token repeated"
        assert out[0, len(prompt):].tolist() == ours, f"repetition_penalty={penalty}"


def test_hf_refuses_what_does_not_map(tmp_path, char_tok) -> None:
    model = _model(char_tok.vocab_size)
    assert export.hf_problems(model) == [] and export.hf_family(model.config) == "gpt2"
    model.transformer.h[1].mlp.kind = "relu2"
    with pytest.raises(ValueError, match=r"h\.1\.mlp\.kind is 'relu2'"):
        export.export_hf(export.ExportedModel(model, char_tok, {}, tmp_path, "x", SamplingConfig()), tmp_path / "hf")
    other = _model(char_tok.vocab_size)
    other.transformer.h[0].attn.register_parameter("gate", torch.nn.Parameter(torch.ones(1)))
    assert any("not GPT-2's" in p for p in export.hf_problems(other))
    assert not (tmp_path / "hf").exists()


@pytest.mark.parametrize("changes, match", [
    ({"position": "rotary"}, r"position='rotary' with norm='layernorm'.*ARCHITECTURES\['modern'\]"),
    ({"norm": "rmsnorm"}, r"position='learned' with norm='rmsnorm'.*ARCHITECTURES\['gpt2'\]"),
    ({"mlp": "swiglu"}, r"mlp='swiglu': GPT-2's MLP is GELU.*use mlp='gelu'"),
    ({**ARCHITECTURES["modern"], "mlp": "gelu"}, r"mlp='gelu' with the modern block.*use mlp='relu2' or mlp='swiglu'"),
    ({**ARCHITECTURES["modern"], "bias": True}, r"bias=True with the modern block.*use bias=False"),
], ids=["rotary-layernorm", "learned-rmsnorm", "gpt2-swiglu", "modern-gelu", "modern-bias"])
def test_hf_refuses_a_custom_mix_and_names_the_fix(tmp_path, char_tok, changes, match) -> None:
    model = _model(char_tok.vocab_size, **changes)
    assert model.config.architecture == "custom"
    assert export.hf_problems(model), "a mix of the two blocks maps onto neither"
    with pytest.raises(ValueError, match=match):
        export.export_hf(_checkpoint(tmp_path, model, char_tok), tmp_path / "hf")
    assert not (tmp_path / "hf").exists()


def test_hf_export_notes_a_tokenizer_without_counterpart(tmp_path, char_tok) -> None:
    folder = export.export_hf(_checkpoint(tmp_path, _model(char_tok.vocab_size), char_tok), tmp_path / "hf")
    assert "no Hugging Face counterpart" in (folder / "README.md").read_text()
    assert (folder / "model.safetensors").is_file() and not (folder / "tokenizer.json").exists()


# --------------------------------------------------------------------------- ONNX


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["gpt2", "modern"])
def test_onnx_matches_torch_for_any_batch_and_length(tmp_path, char_tok, arch) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    model = _model(char_tok.vocab_size, spread=0.3, **ARCHITECTURES[arch])
    path = export.export_onnx(_checkpoint(tmp_path, model, char_tok), tmp_path / "m.onnx")
    gen = torch.Generator().manual_seed(0)
    for shape in [(1, 1), (3, 32), (2, 5)]:  # the graph was traced at (2, 8): the axes are dynamic
        ids = torch.randint(0, char_tok.vocab_size, shape, generator=gen)
        logits = export.onnx_logits(path, ids)
        assert logits.shape == (*shape, char_tok.vocab_size)
        assert export.max_logit_difference(model, ids, logits) < export.ONNX_TOLERANCE


# --------------------------------------------------------------------------- the stage and the command line


def _fake_checkpoints_stage(tmp_path: Path, tok, profile, arch: str = "gpt2") -> Path:
    """A checkpoints stage with one run, and current manifests upstream (nothing to rebuild)."""
    run = artifacts.stage_dir("checkpoints") / "tiny"
    save_checkpoint(run / "best", _model(tok.vocab_size, **ARCHITECTURES[arch]), tok,
                    meta={"run": "tiny", "step": 3, "val_loss": 4.0})
    for stage in ("raw", "clean", "tokenizer", "tokens"):
        artifacts.write_manifest(stage, profile, {})
    artifacts.write_manifest("checkpoints", profile, {"default_run": "tiny"})
    return run / "best"


@pytest.mark.parametrize("arch, model_type", [("gpt2", "gpt2"), ("modern", "qwen3")])
def test_build_exports_writes_the_stage(tmp_path, bpe_tok, arch, model_type) -> None:
    profile = get_profile("ci")
    _fake_checkpoints_stage(tmp_path, bpe_tok, profile, arch)
    out = stages.build_exports(profile, onnx=False)
    manifest = artifacts.read_manifest("exports")
    assert manifest["default"] == "tiny" and manifest["exports"]["tiny"]["hf"] == "tiny-hf"
    assert manifest["exports"]["tiny"]["bytes"] > 0 and manifest["exports"]["tiny"]["step"] == 3
    assert (out / "tiny" / "model.safetensors").is_file()
    assert json.loads((out / "tiny-hf" / "config.json").read_text())["model_type"] == model_type
    assert export.find_export() == out / "tiny"
    assert export.load_exported(out / "tiny").defaults.max_new_tokens == profile.max_new_tokens
    assert artifacts.staleness("exports", profile) is None


def test_cli_export(tmp_path, char_tok, capsys) -> None:
    src = _checkpoint(tmp_path, _model(char_tok.vocab_size), char_tok)
    rc = cli.main(["export", "--checkpoint", str(src), "--out", str(tmp_path / "out" / "m"), "--hf", "--temperature", "0.3"])
    assert rc == 0, capsys.readouterr().err
    assert export.load_exported(tmp_path / "out" / "m").defaults.temperature == 0.3
    assert (tmp_path / "out" / "m-hf" / "config.json").is_file()
    assert cli.main(["export", "--checkpoint", str(tmp_path / "nowhere" / "x")]) == 2
    assert "no checkpoint" in capsys.readouterr().err
    assert cli.main(["export", "--checkpoint", str(src), "--out", str(tmp_path / "o2"), "--top-p", "2"]) == 2
    assert "top_p" in capsys.readouterr().err
    assert os.environ.get("MINIGPT_DATA_DIR")  # the scratch folder of conftest, never the repo's data/
