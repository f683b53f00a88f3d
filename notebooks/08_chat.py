# %% [markdown]
# <a href="https://colab.research.google.com/github/minigpt-course/minigpt-from-books/blob/main/notebooks/08_chat.ipynb" target="_parent"><img src="https://colab.research.google.com/assets/colab-badge.svg" alt="Open In Colab"/></a>
#
# # 08 · Chat: a conversation with a model that only read books
#
# Your model was never taught to chat. It learned one thing: continue a text the way books go
# on. A chat is built *around* it, out of the generation engine of 07:
#
# 1. a **prompt template** turns the conversation so far into a text the model might have read
#    (a persona line that sets the scene, then the turns like a play script), ending where the
#    model's reply should begin;
# 2. generation **stops at the next speaker's turn**, so the reply is one speech, not the whole play;
# 3. the conversation is **kept inside the context window**: the oldest turns are dropped first;
# 4. a `ChatSession` streams replies, a chat widget shows them, and
#    `python -m minigpt_helpers chat` chats in a terminal.
#
# Expect the replies of a model this small, trained for minutes on novels, to be book-flavoured
# nonsense more often than answers: the machinery is the same one that serves large models.
#
# **Reads** the best checkpoint of the profile's training run (`data/checkpoints/<run>/best/`,
# 05), training it first if it is missing. **Writes** nothing.
#
# | profile | model | this notebook (checkpoint already trained) |
# |---|---|---|
# | `ci` | 2 layers, 64 wide, context 64 | 11 s |
# | `cpu` | 4 layers, 256 wide, context 128 | 10 s |
# | `gpu` | ultra-mini (44.9M), context 512 | not yet measured |
#
# Measured on the development machine (2 idle cores of an Intel Xeon at 2.5 GHz, no GPU, torch 2.13,
# one torch thread); training the checkpoint first, if it is missing, adds 05's time.

# %%
# Setup (the same cell opens every notebook). On Colab it installs the course's helper
# package from GitHub and keeps Colab's own torch; locally `python tasks.py setup` did that.
# To pick a profile, set MINIGPT_PROFILE (ci, cpu or gpu) before running this cell.
import importlib.util, os, subprocess, sys

if "google.colab" in sys.modules:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "minigpt-helpers[serve,export] @ git+https://github.com/minigpt-course/minigpt-from-books"], check=True)
    os.environ.setdefault("MINIGPT_DATA_DIR", "/content/data")
elif importlib.util.find_spec("minigpt_helpers") is None:
    sys.path.insert(0, os.path.abspath(".."))  # a checkout used without installing

from minigpt_helpers.notebook import start

PROFILE = start("08_chat")

# %% [markdown]
# ## The input: a trained checkpoint
#
# The same model and tokenizer as in 07. The sampling settings are 07's: a moderate temperature,
# top-k and top-p to cut the tail, a mild repetition penalty, and a seed so that this notebook
# gives the same replies every time it runs.

# %%
import matplotlib.pyplot as plt
import torch
from IPython.display import display

from minigpt_helpers import artifacts, chat, checkpoint, generation
from minigpt_helpers.chat import ChatSession, ChatTemplate
from minigpt_helpers.checks import check, exercise
from minigpt_helpers.generation import SamplingConfig
from minigpt_helpers.profiles import pick_device

artifacts.ensure("checkpoints", PROFILE)
ckpt = checkpoint.load_checkpoint(checkpoint.find_checkpoint(), pick_device())
gpt, tok = ckpt.model, ckpt.tokenizer
C = gpt.config.context_length
config = SamplingConfig(temperature=0.8, top_k=50, top_p=0.95, repetition_penalty=1.1,
                        max_new_tokens=min(PROFILE.max_new_tokens, C // 2), seed=0)
print(f"{ckpt.path.relative_to(artifacts.data_dir())}: {gpt.num_parameters() / 1e6:.2f}M parameters, context {C} tokens, {tok}")

# %% [markdown]
# ## 1. A base model continues; it does not answer
#
# Ask a question as a bare prompt and the model does what it always does: it writes what might
# come next in a book. That may be more questions, narration, or the start of a new chapter.

# %%
question = "What is the best book you have ever read?"
print(question + generation.complete(gpt, tok, question, config))

# %% [markdown]
# ## 2. A prompt template
#
# So make the conversation look like a text in which the next thing *is* an answer. Books offer
# two shapes of dialogue: quoted speech inside narration ("'Who are you?' said the
# Caterpillar."), and plays, where each speech starts with the speaker's name in capitals and a
# colon. The play shape is the one a program can read back: every turn is one line that starts
# with a tag, so the reply ends exactly where the next tag begins. So the template is a persona
# line that sets the scene, a blank line, then one line per turn:
#
# ```
# A conversation between a curious reader and a wise old librarian who has read every book.
#
# READER: Good morning! Which book should I read first?
# LIBRARIAN:
# ```
#
# Built by hand, then checked against the package's `ChatTemplate`:

# %%
persona = "A conversation between a curious reader and a wise old librarian who has read every book."
turns = [("user", "Good morning! Which book should I read first?")]


def render(persona, turns):
    lines = [persona, ""] + [f"{'READER' if role == 'user' else 'LIBRARIAN'}: {text}" for role, text in turns]
    return "\n".join(lines) + "\nLIBRARIAN:"  # the reply starts here


template = ChatTemplate(persona=persona)
check(render(persona, turns) == template.render(turns), "hand-made prompt = ChatTemplate.render")
print(template.render(turns))

# %% [markdown]
# Why does the prompt end with `LIBRARIAN:` and no space after the colon? Because the tokenizer
# glues a space to the word that follows it: `" Well"` is one token. A prompt ending in a space
# would ask the model to continue after a lone space token, something it almost never saw in
# training. Look at the token boundaries:

# %%
for text in ("LIBRARIAN: Well, my dear", "LIBRARIAN: "):
    print(f"{text!r:28} -> {' | '.join(tok.token_piece(i).replace(' ', '·') for i in tok.encode(text))}")

# %% [markdown]
# ## 3. Stopping at the next speaker's turn
#
# Left alone, the model does not stop after its speech: it may write the reader's next line
# too, and the next, or drift into narration. The template knows where a reply ends: at a new
# line that starts with either speaker's tag, or at a blank line (a new paragraph). Those are the
# **stop strings**; the text layer of 07 checks them on the decoded text and leaves them out.

# %%
prompt = template.render(turns)
free = generation.complete(gpt, tok, prompt, config)
s = generation.stream_text(gpt, tok, prompt, config, stop=template.stop_strings())
reply = "".join(s)
print(f"without stop strings:\n{prompt}{free}\n\nwith them ({s.finish_reason}):\n{prompt}{reply}")
check(not any(stop in reply for stop in template.stop_strings()), "the reply holds no speaker tag and no blank line")
check(free.startswith(reply), "with stop strings, the reply is the start of the free continuation (same seed)")

# %% [markdown]
# The reply above may well be empty. In the plays among the books a speaker's name is often
# followed by a line break, so after `LIBRARIAN:` a newline is one of the likeliest tokens; a
# second one makes a blank line, which is a stop string, and the reply ends before it began.
# One rule for the first token only fixes it: it must show some text. `nonblank_start=True`
# takes the blank tokens (spaces, newlines, end of text) out of the first draw, and only that
# one; `ChatSession` always sets it.

# %%
blank = generation.blank_token_ids(tok)
print(f"{len(blank)} of {tok.vocab_size} tokens are blank, e.g. {[tok.token_piece(i) for i in blank[:6]]}")
s = generation.stream_text(gpt, tok, prompt, config, stop=template.stop_strings(), nonblank_start=True)
reply = "".join(s).strip()
print(f"with nonblank_start ({s.finish_reason}):\nLIBRARIAN: {reply}")
check(reply != "", "with nonblank_start the reply starts with words")

# %% [markdown]
# ## 4. Keeping the conversation inside the context window
#
# The model reads at most `C` tokens, and the reply needs room too. So before each reply the
# session keeps `reply_room` tokens free (the reply length, at most half the context) and drops
# the oldest turns until the rest fits. The persona line stays: it is what makes the text a
# conversation (only when the new message alone fills the budget does it go too). A long
# conversation, trimmed by hand:

# %%
history = [("user", "Hello there."), ("bot", "Good day to you, reader."),
           ("user", "Do you like stories about the sea?"), ("bot", "Very much. The sea is full of stories."),
           ("user", "Which one is the best?"), ("bot", "Perhaps the one about the white whale."),
           ("user", "Tell me how it begins.")]
budget = C - min(config.max_new_tokens, C // 2)
dropped = 0
while dropped < len(history) - 1 and len(tok.encode(template.render(history[dropped:]))) > budget:
    dropped += 1  # the oldest turn goes first
print(f"budget {budget} tokens: dropped the {dropped} oldest turns\n")
print(template.render(history[dropped:]))

# %% [markdown]
# The package's `fit_turns` does the same, and a `ChatSession` uses it before every reply.

# %%
kept, n = chat.fit_turns(history, lambda t: len(tok.encode(t)), budget, template)
check(n == dropped and kept == history[dropped:], f"fit_turns drops the same {n} turns")
check(len(tok.encode(template.render(kept))) <= budget or len(kept) == 1, f"the prompt fits in {budget} tokens")

# %% [markdown]
# What the context holds as the conversation grows, one bar per reply: the persona, the turns
# that still fit, and the room kept for the reply. Older turns fall off the left.

# %%
counts = lambda t: len(tok.encode(t))
fig, ax = plt.subplots(figsize=(9, 3), dpi=90)
for i in range(1, len(history) + 1, 2):
    kept, n = chat.fit_turns(history[:i], counts, budget, template)
    head = counts(template.header())
    body = counts(template.render(kept)) - head
    ax.barh(i, head, color="C1", label="persona" if i == 1 else None)
    ax.barh(i, body, left=head, color="C0", label="kept turns" if i == 1 else None)
    ax.barh(i, C - budget, left=head + body, color="lightgrey", label="room for the reply" if i == 1 else None)
    ax.text(C + 1, i, f"{n} dropped", va="center", fontsize=8)
ax.axvline(C, c="k", lw=0.8)
ax.set(xlabel="tokens", ylabel="turns so far", title=f"the context window ({C} tokens) as the chat goes on", xlim=(0, C * 1.2))
ax.legend(fontsize=8, loc="lower right")
plt.show()

# %% [markdown]
# ## 5. A persona line
#
# The first line sets the scene, and the model's replies follow it as far as a small model can.
# The same question with two personas (same seed):

# %%
captain = ChatTemplate(persona="The captain of a pirate ship talks with a young sailor about the sea.",
                       user_name="SAILOR", bot_name="CAPTAIN")
for t in (template, captain):
    session = ChatSession(gpt, tok, config, t)
    answer = session.reply("What do you fear most?")
    print(f"{t.persona}\n  {t.user_name}: What do you fear most?\n  {t.bot_name}: {answer}\n")
    check(session.last_prompt.startswith(t.persona) or session.persona_dropped, "the persona opens the prompt")

# %% [markdown]
# ## 6. A chat session, streamed
#
# `ChatSession` keeps the history, builds each prompt with the template, trims it to fit, and
# streams the reply through `generation.stream_text`; the two new turns join the history at the
# end.

# %%
session = ChatSession(gpt, tok, config, template)
for message in ("Good morning!", "What are you reading today?", "Is it a happy story?"):
    print(f"READER: {message}\nLIBRARIAN: ", end="")
    for piece in session.stream_reply(message):
        print(piece, end="")  # the notebook shows output as it comes
    print(f"   [{session.last_finish_reason}; {session.last_dropped} turns dropped]")
check(len(session.history) == 6 and [r for r, _ in session.history] == ["user", "bot"] * 3, "three exchanges in the history")

# %% [markdown]
# ## 7. The chat widget
#
# Type a message and press Enter (or **Send**); the reply streams into the history. **New chat**
# forgets the conversation. The Send button calls `widget.send()`, which the next cell runs
# without a browser: a widget and a fresh session with the same settings give the same reply.

# %%
from minigpt_helpers.sampling_widgets import ChatWidget

widget = ChatWidget(ChatSession(gpt, tok, config, template))
display(widget)

# %%
reply = widget.send("Hello! Who are you?")
check(reply == ChatSession(gpt, tok, config, template).reply("Hello! Who are you?"), "the widget's reply = a session's reply")
check("Hello! Who are you?" in widget.history.value and len(widget.session.history) == 2, "the history shows both turns")

# %% [markdown]
# ## 8. The command line
#
# `python -m minigpt_helpers chat --prompt "Good evening!"` answers once and exits; without
# `--prompt` it is interactive, and ends on `exit`, `quit` or end of input (Ctrl-D). Here the
# interactive one, with the "keyboard" played by a string sent to its standard input (so the
# messages themselves do not show after `READER:`).

# %%
cmd = [sys.executable, "-m", "minigpt_helpers", "chat", "--checkpoint", ckpt.path.parent.name, "--seed", "0",
       "--max-new-tokens", str(config.max_new_tokens)]
talk = subprocess.run(cmd, input="Good evening!\nWhat is your name?\nquit\n", capture_output=True, text=True)
print(talk.stdout)
check(talk.returncode == 0, "the chat ended without an error", hint=talk.stderr[-500:])
check(talk.stdout.count("LIBRARIAN:") == 2, "two replies, then quit ended it")

# %% [markdown]
# ## Teaching the turn format (optional, not done here)
#
# A model trained only on books has seen few lines of the form `NAME: speech`. A short fine-tune
# on speaker-tagged dialogue (for example the speeches of the plays among the books, such as
# Cyrano de Bergerac, rewritten in the template's format) would teach it the shape, so that it
# answers in one line and hands the turn back. The course's training loop starts every run from
# fresh weights, so this step is left as a project: it needs a way to start a run from a
# checkpoint's weights, and a token file of dialogue.
#
# ## Exercise
#
# ### Exercise 3: fit a conversation into a budget
#
# Write `fit(turns, count, budget)`: drop turns from the front until `count(template.render(kept))`
# is at most `budget`, but always keep the last turn; return the kept turns. It is checked against
# `chat.fit_turns` for every budget from 0 to the whole conversation's size.

# %%
def test_fit(fn):
    total = counts(template.render(history))
    for b in range(0, total + 2, 3):
        expected, _ = chat.fit_turns(history, counts, b, template)
        if fn(history, counts, b) != expected:
            check(False, f"budget {b}: expected to keep {len(expected)} turns")
    print(f"budgets 0 to {total}: the same turns as chat.fit_turns")


fit = None  # replace with a function (turns, count, budget) -> kept turns
exercise("fit a conversation into a budget", fit, test_fit)


# %%
# @title Solution (try it yourself first) { display-mode: "form" }
def fit_solution(turns, count, budget):
    for start in range(len(turns)):
        if count(template.render(turns[start:])) <= budget:
            return list(turns[start:])
    return list(turns[-1:])


test_fit(fit_solution)

# %% [markdown]
# ## Summary
#
# - A base model only continues text; a **template** (persona line, `NAME: speech` lines, the
#   bot's tag at the end) makes the continuation a reply. End the prompt with the tag and no space.
# - **Stop strings** (either speaker's tag on a new line, or a blank line) cut the reply where the
#   next turn would begin; they are found on the decoded text and left out.
# - The **context window** is small: the session keeps room for the reply and drops the oldest
#   turns first, the persona last.
# - `ChatSession` streams replies on the generation engine of 07; the widget and
#   `python -m minigpt_helpers chat` are thin layers on top.
#
# **Next: 09_serving** exports the model as a self-contained folder and serves it over HTTP with
# an OpenAI-compatible API, streaming tokens from the same engine.
