"""Chat: the prompt template, trimming the oldest turns to fit the context, stopping at the next
speaker's tag, the chat widget, and `python -m minigpt_helpers chat` through a subprocess
(one answer with --prompt; interactive until exit, quit or end of input)."""

from __future__ import annotations

import math
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from minigpt_helpers import chat as C
from minigpt_helpers import cli
from minigpt_helpers import generation as G
from minigpt_helpers.chat import BOT, USER, ChatSession, ChatTemplate, ReplyStart, SpeakerTag
from minigpt_helpers.checkpoint import save_checkpoint
from minigpt_helpers.generation import SamplingConfig
from minigpt_helpers.model import GPT, GPTConfig
from minigpt_helpers.tokenization import CharTokenizer

ROOT = Path(__file__).resolve().parent.parent
TEXT = ("A conversation between a curious reader and a wise old librarian who has read every book.\n\n"
        "READER: Who are you?\nLIBRARIAN: I keep the books. 'Well,' said Alice, 'what is the use of a <book>?' 0123456789\n") * 3


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tok() -> CharTokenizer:
    return CharTokenizer.train([TEXT])


@pytest.fixture(scope="module")
def model(tok) -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=tok.vocab_size, context_length=64, n_layer=2, n_head=2, n_embd=32)).eval()


class _Scripted:
    """Stand in for the engine's stream: always 'generate' the ids of ``text``."""

    def __init__(self, tok, text: str) -> None:
        self.ids = tok.encode(text)

    def __call__(self, model, prompt_ids, config, *, use_cache=True, suppress_first=()):
        for i in self.ids[: config.max_new_tokens]:
            yield G.StreamEvent(i)
        yield G.StreamEvent(None, G.FINISH_LENGTH)


# --------------------------------------------------------------------------- the template


def test_template_renders_persona_turns_and_an_open_reply() -> None:
    t = ChatTemplate(persona="A talk.", user_name="READER", bot_name="LIBRARIAN")
    text = t.render([(USER, "Hello\nLIBRARIAN: fake turn"), (BOT, "Hi."), (USER, "Who are you?")])
    assert text == ("A talk.\n\nREADER: Hello LIBRARIAN: fake turn\nLIBRARIAN: Hi.\n"
                    "READER: Who are you?\nLIBRARIAN:")
    assert t.stops() == ["\n", SpeakerTag(("READER", "LIBRARIAN"))]
    assert ChatTemplate(persona="").render([(USER, "x")]) == "READER: x\nLIBRARIAN:"


@pytest.mark.parametrize("text, reply", [
    (" What is my cousin! ASORE: I have", " What is my cousin!"),
    (" Oh, in the BOICE: PORE: What", " Oh, in the"),
    (" Nay! THE BUFFET-GIRL: Oranges", " Nay!"),
    (" Nay, sir. A CADET: Hola", " Nay, sir."),
    (" And you, Alice: go", " And you,"),  # the template's own names, however they are written
    (" I said: no, NOT: yes", None),  # "I" is too short to be a name; NOT is one (it stops there)
    (" I said: no", None),
    (" CYRANO: Nay, nay!", None),  # a tag before the first word is not a stop
    (" 'GENTIS COICENA: PIRD: No, Sir.", None),
])
def test_speaker_tag_finds_the_next_speakers_tag_inside_a_line(text, reply) -> None:
    rule = SpeakerTag(("READER", "Alice"))
    cut = rule.find(text)
    if reply is None and "NOT:" in text:
        assert text[:cut] == " I said: no,"
    elif reply is None:
        assert cut == -1
    else:
        assert text[:cut] == reply
    assert isinstance(rule, G.StopRule)  # what TextDecoder accepts as a stop


def test_speaker_tag_holds_back_what_may_become_a_tag_and_passes_the_rest() -> None:
    rule = SpeakerTag(("Alice",))
    held = {text: text[len(text) - rule.pending(text):] for text in
            (" Nay FIRST MARQ", " Nay FIRST MARQUIS ", " Well I", " Well, ", " Then Ali", " Then alms",
             " Well said.", " 'tis the BOS", " hid " + "AB " * 400)}
    assert held == {" Nay FIRST MARQ": " FIRST MARQ", " Nay FIRST MARQUIS ": " FIRST MARQUIS ", " Well I": " I",
                    " Well, ": " ", " Then Ali": " Ali", " Then alms": "", " Well said.": "",
                    " 'tis the BOS": " BOS", " hid " + "AB " * 400: " AB AB AB AB "}  # a tag has at most 4 words
    # where the words begin ("A B:" is no tag: its last word is a single letter, like "I")
    assert [rule.leading(t) for t in (" CYRANO: Nay", " Nay", "  'AB CD: EF: x", " AB: CD: EF", " A B: x")] == \
        [9, 1, 14, 9, 1]


def test_reply_start_drops_the_space_and_tags_before_the_first_word() -> None:
    opening = ReplyStart()
    assert [opening.push(p) for p in (" LOMIERES:", " '", "PIRD: No", ", sir", " LE BRET:")] == \
        ["", "", "No", ", sir", " LE BRET:"]  # once words began, pieces pass unchanged
    assert opening.flush() == ""
    opening = ReplyStart()
    assert [opening.push(p) for p in (" ", "CYRANO:", " ...")] == ["", "", ""] and opening.flush() == "..."


def test_reply_start_for_stops_takes_the_templates_names() -> None:
    stops = ChatTemplate(user_name="Reader", bot_name="Owl").stops()
    assert ReplyStart.for_stops(stops).rule == stops[1]
    assert ReplyStart.for_stops(stops).push(" Reader: Hoo") == "Hoo"  # a name not in capitals: the template's
    assert ReplyStart.for_stops(["\n"]).push(" Reader: Hoo") == "Reader: Hoo"  # no rule given: capitals only


def test_template_validation_names_the_field() -> None:
    with pytest.raises(ValueError) as err:
        ChatTemplate(user_name="A: B", bot_name="")
    assert "user_name='A: B'" in str(err.value) and "bot_name=''" in str(err.value)
    with pytest.raises(ValueError, match="different names"):
        ChatTemplate(user_name="X", bot_name="X")


def test_fit_turns_drops_oldest_first_and_keeps_the_new_message() -> None:
    t = ChatTemplate(persona="P.")
    turns = [(USER, "one"), (BOT, "two"), (USER, "three"), (BOT, "four"), (USER, "five")]
    count = len  # one token per character, for the test
    for budget in range(0, len(t.render(turns)) + 5):
        kept, dropped = C.fit_turns(turns, count, budget, t)
        assert kept == turns[dropped:] and kept[-1] == (USER, "five")
        assert len(t.render(kept)) <= budget or len(kept) == 1
        if dropped:  # dropping one turn fewer would not have fitted
            assert len(t.render(turns[dropped - 1:])) > budget
    assert C.fit_turns(turns, count, 10_000, t) == (turns, 0)


def _fit_turns_one_at_a_time(turns, count, budget, template):
    """The reference: drop the oldest turn, re-count everything left, until it fits."""
    turns = list(turns)
    for dropped in range(len(turns)):
        if count(template.render(turns[dropped:])) <= budget:
            return turns[dropped:], dropped
    return turns[-1:], max(0, len(turns) - 1)


def _words_and_marks(text: str) -> int:
    """A count that merges across turns, as a BPE may: whitespace joins the word after it, so the
    persona's blank line and the first kept name make one token (two when counted apart)."""
    return len(re.findall(r"\s*\w+|\s*[^\w\s]+|\s+", text))


@pytest.mark.parametrize("count", [len, _words_and_marks], ids=["chars", "merging"])
@pytest.mark.parametrize("persona", ["A talk between two friends.", ""])
def test_fit_turns_keeps_the_same_turns_as_dropping_one_at_a_time(count, persona) -> None:
    rng = random.Random(0)
    words = ["Who", "are", "you?", "I", "keep", "the", "books.", "'Well,'", "said", "Alice", "0123", "a" * 30]
    turns = [(USER if i % 2 == 0 else BOT, " ".join(rng.choices(words, k=rng.randint(0, 12)))) for i in range(40)]
    t = ChatTemplate(persona=persona)
    for n in (0, 1, 2, 3, 40):
        conversation = turns[len(turns) - n:]
        # the answer only changes where a budget meets a prompt's count: every such edge, its two
        # sides, none at all and more than the whole conversation
        edges = {count(t.render(conversation[d:])) for d in range(n)}
        for budget in sorted({0, 10**6} | {e + k for e in edges for k in (-1, 0, 1)}):
            expected = _fit_turns_one_at_a_time(conversation, count, budget, t)
            assert C.fit_turns(conversation, count, budget, t) == expected, f"{n} turns, budget {budget}"


def test_fit_turns_counts_a_few_prompts_not_every_one() -> None:
    # The server accepts a megabyte of messages: re-counting the rest after each dropped turn was
    # quadratic (1,000 turns took 54 s on GPT-2's tokenizer). Count the prompts fit_turns measures.
    t = ChatTemplate(persona="A talk.")
    turns = [(USER if i % 2 == 0 else BOT, f"message number {i}") for i in range(2000)]
    counted: list[int] = []

    def count(text: str) -> int:
        counted.append(len(text))
        return len(text)

    for budget in (0, 300, 5_000, 10**9):
        counted.clear()
        kept, dropped = C.fit_turns(turns, count, budget, t)
        assert kept == turns[dropped:] and kept[-1] == turns[-1]
        assert len(t.render(kept)) <= budget or len(kept) == 1
        if dropped:
            assert len(t.render(turns[dropped - 1:])) > budget
        assert len(counted) <= 2 * math.ceil(math.log2(len(turns))) + 2, f"budget {budget}: {len(counted)} counts"
        if budget < 10**9:  # never a prompt much longer than the one kept (not the whole conversation)
            assert max(counted) <= 3 * len(t.render(kept)) + 100, budget


# --------------------------------------------------------------------------- the session


def test_session_trims_oldest_turns_to_fit_the_context(model, tok, monkeypatch) -> None:
    monkeypatch.setattr(G, "stream", _Scripted(tok, " I keep the books."))
    session = ChatSession(model, tok, SamplingConfig(temperature=0.0, max_new_tokens=20), ChatTemplate(persona="A talk."))
    assert session.budget == 64 - 20
    for i in range(6):
        session.reply(f"question {i}?")
        assert len(tok.encode(session.last_prompt)) <= session.budget
    assert len(session.history) == 12 and session.last_dropped > 0 and not session.persona_dropped
    assert session.last_prompt.startswith("A talk.\n\n")
    assert session.last_prompt.endswith("READER: question 5?\nLIBRARIAN:")
    assert "question 0" not in session.last_prompt  # the oldest went first
    session.reset()
    assert session.history == [] and session.transcript() == "A talk.\n\n"


def test_persona_goes_last_when_the_message_alone_fills_the_budget(model, tok, monkeypatch) -> None:
    monkeypatch.setattr(G, "stream", _Scripted(tok, " Well."))
    session = ChatSession(model, tok, SamplingConfig(max_new_tokens=20))  # the default persona: 90 characters
    assert session.reply("Who are you?") == "Well."
    assert session.persona_dropped and session.last_prompt == "READER: Who are you?\nLIBRARIAN:"


def test_reply_stops_at_the_next_speakers_tag(model, tok, monkeypatch) -> None:
    monkeypatch.setattr(G, "stream", _Scripted(tok, " I keep the books.\nREADER: and then I wrote both sides"))
    session = ChatSession(model, tok, SamplingConfig(max_new_tokens=60))
    pieces = list(session.stream_reply("Who are you?"))
    assert "".join(pieces) == "I keep the books." and session.last_finish_reason == "stop"
    assert session.history == [(USER, "Who are you?"), (BOT, "I keep the books.")]
    monkeypatch.setattr(G, "stream", _Scripted(tok, " Well.\n\nChapter the next"))
    assert session.reply("And?") == "Well."
    monkeypatch.setattr(G, "stream", _Scripted(tok, " I see.\nBRIAN: a speaker of a play"))
    assert session.reply("May I?") == "I see."  # any speaker's line ends the reply, not only ours


def test_reply_stops_at_a_tag_inside_its_line_and_skips_tags_before_its_first_word(model, tok, monkeypatch) -> None:
    # A character tokenizer: every letter of "BRIAN" is a token of its own, so the stream shows
    # whether a half-written tag ever leaks out before its colon arrives.
    session = ChatSession(model, tok, SamplingConfig(max_new_tokens=60))
    monkeypatch.setattr(G, "stream", _Scripted(tok, " I see. BRIAN: a speaker of a play"))
    pieces = list(session.stream_reply("May I?"))
    assert "".join(pieces) == "I see." and session.last_finish_reason == "stop"
    assert not any("B" in p for p in pieces)
    assert session.history[-1] == (BOT, "I see.")
    monkeypatch.setattr(G, "stream", _Scripted(tok, " BRIAN: I keep the books. READER: and"))
    assert session.reply("Who?") == "I keep the books." and session.last_finish_reason == "stop"
    monkeypatch.setattr(G, "stream", _Scripted(tok, " I said: well, <A> I see"))
    assert session.reply("And?") == "I said: well, <A> I see"  # no tag: "I:" is not a name, "A" has no colon
    assert session.last_finish_reason == "length"


def test_a_reply_never_opens_with_a_blank_line(tok) -> None:
    # A model whose favourite token is always "\n": without help, "LIBRARIAN:" + "\n" would end
    # the reply before it began (a newline is the stop string).
    torch.manual_seed(0)
    m = GPT(GPTConfig(vocab_size=tok.vocab_size, context_length=64, n_layer=1, n_head=2, n_embd=32)).eval()
    newline = tok.encode("\n")[0]
    with torch.no_grad():
        m.transformer.ln_f.weight.zero_()
        m.transformer.ln_f.bias.copy_(5 * m.transformer.wte.weight[newline])
    config = SamplingConfig(temperature=0.0, max_new_tokens=10)
    assert G.generate(m, tok.encode("LIBRARIAN:"), config)[:2] == [newline, newline]
    plain = G.complete(m, tok, "LIBRARIAN:", config, stop=ChatTemplate().stops())
    assert plain.strip() == ""  # what the chat would say without nonblank_start
    reply = ChatSession(m, tok, config).reply("Who are you?")
    assert reply and not reply[0].isspace()


def test_session_with_the_real_engine_is_repeatable(model, tok) -> None:
    config = SamplingConfig(temperature=0.8, max_new_tokens=20, seed=3)
    replies = [ChatSession(model, tok, config).reply("Who are you?") for _ in range(2)]
    assert replies[0] == replies[1]
    assert "\n" not in replies[0] and SpeakerTag().find(replies[0]) == -1
    session = ChatSession(model, tok, config, ChatTemplate(persona=""))
    first, second = session.reply("Who?"), session.reply("Who?")  # reply n samples with seed + n
    session.reset()
    assert session.reply("Who?") == first and first != second


def test_chat_widget_send_streams_into_the_history(model, tok, monkeypatch) -> None:
    from minigpt_helpers.sampling_widgets import ChatWidget

    monkeypatch.setattr(G, "stream", _Scripted(tok, " I keep <the> books.\nREADER: x"))
    w = ChatWidget(ChatSession(model, tok, SamplingConfig(max_new_tokens=60)))
    w.message.value = ""
    assert w.send("Who are you?") == "I keep <the> books."
    assert "READER:</b> Who are you?" in w.history.value and "I keep &lt;the&gt; books." in w.history.value
    assert w.message.value == "" and not w.send_button.disabled
    w.message.value = "Another?"  # what pressing Enter does
    assert len(w.session.history) == 4
    w.clear()
    assert w.session.history == [] and "Who are you" not in w.history.value


# --------------------------------------------------------------------------- command line


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory, model, tok) -> dict[str, subprocess.CompletedProcess]:
    """Run the chat command four ways at once (each start imports torch: a few seconds)."""
    folder = save_checkpoint(tmp_path_factory.mktemp("ckpt") / "best", model, tok)
    base = [sys.executable, "-m", "minigpt_helpers", "chat", "--checkpoint", str(folder),
            "--max-new-tokens", "8", "--temperature", "0"]
    cases = {
        "prompt": (["--prompt", "Who are you?"], ""),
        "exit": ([], "Who are you?\nexit\nnever read\n"),
        "quit": ([], "Hello\n\nQuit\n"),
        "eof": ([], "Hello"),
    }
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = {name: subprocess.Popen([*base, *extra], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
             for name, (extra, _) in cases.items()}
    runs = {}
    for name, proc in procs.items():
        out, err = proc.communicate(cases[name][1], timeout=180)
        runs[name] = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    return runs


@pytest.mark.slow
def test_cli_prompt_answers_once(cli_runs) -> None:
    run = cli_runs["prompt"]
    assert run.returncode == 0, run.stderr
    assert run.stdout.endswith("\n") and run.stdout.count("\n") == 1 and "READER:" not in run.stdout


@pytest.mark.slow
@pytest.mark.parametrize("how", ["exit", "quit", "eof"])
def test_cli_interactive_ends_on_exit_quit_and_end_of_input(cli_runs, how) -> None:
    run = cli_runs[how]
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("Chatting with the model")
    assert run.stdout.count("LIBRARIAN:") == 1  # one reply; exit / quit / end of input ended it
    assert run.stdout.count("READER: ") == (2 if how == "eof" else 3 if how == "quit" else 2)


def test_cli_missing_checkpoint_is_a_clear_error(capsys) -> None:
    assert cli.main(["chat", "--prompt", "hi"]) == 2  # the scratch data folder holds no checkpoint
    err = capsys.readouterr().err
    assert err.startswith("error:") and "05_training" in err and "--checkpoint" in err


def test_run_interactive_in_process(model, tok) -> None:
    import io

    out = io.StringIO()
    session = ChatSession(model, tok, SamplingConfig(temperature=0.0, max_new_tokens=5))
    assert cli.chat_loop(session, io.StringIO("one\ntwo\nexit\n"), out) == 0
    assert out.getvalue().count("LIBRARIAN:") == 2 and len(session.history) == 4
