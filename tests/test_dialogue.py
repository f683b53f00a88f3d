"""Dialogue from plays: speeches read from a play's layout, chat-shaped scenes, token files."""

from __future__ import annotations

import json
import re

import pytest

from minigpt_helpers import dialogue
from minigpt_helpers.chat import ChatTemplate
from minigpt_helpers.dataset import load_tokens
from minigpt_helpers.profiles import get_profile
from minigpt_helpers.tokenization import CharTokenizer

# The layouts of Cyrano de Bergerac's clean text, each one on purpose.
PLAY = """The Characters
CYRANO
ROXANE

Act I.

A hall. (Nobody speaks yet.)

THE DOORKEEPER (running after him):
  Hollo! You there!
  Your money!

THE TROOPER: I enter gratis.

CHRISTIAN (detaining him, and speaking
low):
  Nay, stay. I have scarce been twenty days in Paris; tomorrow I join the Guards, in
the Cadets.

LIGNIERE:
  Stay.
(To Christian):
  I will remain (he sits) awhile.

(He sits by the buffet; the girl pours some out for him.)

  These lines belong to nobody.

ACT II.

ROXANE:
  Who is there?

CYRANO:
  (aside)
  A friend.
"""


def test_play_speeches_follow_the_layout_and_leave_stage_directions_out() -> None:
    got = [(s.speaker, s.text, s.scene) for s in dialogue.play_speeches(PLAY)]
    assert got == [
        ("THE DOORKEEPER", "Hollo! You there! Your money!", 1),
        ("THE TROOPER", "I enter gratis.", 1),
        ("CHRISTIAN", "Nay, stay. I have scarce been twenty days in Paris; tomorrow I join the Guards, in the Cadets.", 1),
        ("LIGNIERE", "Stay. I will remain awhile.", 1),
        ("ROXANE", "Who is there?", 2),
        ("CYRANO", "A friend.", 2),
    ]
    assert dialogue.play_speeches("Chapter 1\n\nIt was a dark night. She said: no.\n") == []


def test_dialogue_scenes_are_chat_shaped_and_split_at_monologues_and_scenes() -> None:
    speeches = dialogue.play_speeches(PLAY)
    scenes = dialogue.dialogue_scenes(speeches, "Cyrano", max_words=10)
    assert scenes == [
        "A scene from Cyrano.\n\nTHE DOORKEEPER: Hollo! You there! Your money!\nTHE TROOPER: I enter gratis.\n",
        "A scene from Cyrano.\n\nROXANE: Who is there?\nCYRANO: A friend.\n",
    ]  # CHRISTIAN's 17 words end the first run; LIGNIERE alone is one turn, too few
    template = ChatTemplate(persona="A scene from Cyrano.", user_name="ROXANE", bot_name="CYRANO")
    assert scenes[1] == template.render([("user", "Who is there?"), ("bot", "A friend.")], open_reply=False)
    assert len(dialogue.dialogue_scenes(speeches, "Cyrano", max_words=40, min_turns=1)) == 2
    with pytest.raises(ValueError, match="max_words"):
        dialogue.dialogue_scenes(speeches, "Cyrano", max_words=0)


def test_split_scenes_holds_out_every_nth() -> None:
    split = dialogue.split_scenes([f"s{i}" for i in range(25)], val_every=10)
    assert split["val"] == ["s0", "s10", "s20"] and len(split["train"]) == 22


def test_build_dialogue_tokens_writes_token_files_once(data_dir, monkeypatch) -> None:
    plays = []
    monkeypatch.setattr(dialogue, "play_text", lambda book_id: plays.append(book_id) or PLAY * 12)
    tok = CharTokenizer.train([PLAY])
    profile = get_profile("ci")
    folder = dialogue.build_dialogue_tokens(profile, tok, plays={7: "Cyrano"}, val_every=4)
    assert folder == data_dir / "dialogue" / "ci"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["scenes"] == {"train": 18, "val": 6} and manifest["tokenizer"] == tok.name
    val = load_tokens("val", tokenizer=tok, folder=folder)
    text = tok.decode([int(i) for i in val[:200]])
    assert re.search(r"A scene from Cyrano\.\n\n[A-Z ]+: ", text)
    assert dialogue.build_dialogue_tokens(profile, tok, plays={7: "Cyrano"}, val_every=4) == folder
    assert plays == [7]  # the second call found the files
    monkeypatch.setattr(dialogue, "play_text", lambda book_id: "Chapter 1\n\nNo speeches here.\n")
    with pytest.raises(ValueError, match="gave no dialogue"):
        dialogue.build_dialogue_tokens(profile, tok, plays={8: "A novel"}, force=True)
