"""Dialogue from the plays among the books, in the chat template's shape (08's fine-tune).

``play_speeches`` reads a play's speeches (``CHRISTIAN (detaining him):`` then indented lines);
``dialogue_scenes`` writes them as ``chat.ChatTemplate`` renders a conversation, so a model
fine-tuned on them learns the turn format; ``build_dialogue_tokens`` writes them as token files.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .artifacts import data_dir, read_json, stage_dir, write_json_atomic
from .cleaning import clean_text, decode_bytes
from .dataset import write_token_files
from .sources import gutenberg_book

log = logging.getLogger(__name__)

# The plays among the course's books (Project Gutenberg ids).
PLAYS: dict[int, str] = {1254: "Cyrano de Bergerac"}

DIALOGUE_FORMAT = 1

# A speaker tag: a name in capitals (several words, hyphens, apostrophes), an optional stage
# direction in brackets, a colon, and maybe the start of the speech on the same line.
_TAG = re.compile(r"^([A-Z][A-Z'\-]*(?: [A-Z][A-Z'\-]*)*)\s*(\([^)]*\))?\s*:\s*(.*)$")
_DIRECTION = re.compile(r"\([^)]*\)")  # "(aside)" inside a speech: for actors, not for readers
_SCENE_BREAK = re.compile(r"^(?:ACT|Act|SCENE|Scene)\b")


@dataclass(frozen=True)
class Speech:
    speaker: str
    text: str
    scene: int  # speeches of one scene (between two act or scene headings) share this


def _tag(line: str) -> tuple[str, str] | None:
    """(speaker, rest of the line) when ``line`` opens a speech, else None."""
    m = _TAG.match(line)
    if not m:
        return None
    return m.group(1), m.group(3)


def play_speeches(text: str) -> list[Speech]:
    """The speeches of a play's text, in order, stage directions in brackets left out.

    A speech starts at a line like ``CYRANO (to Christian): Nay!`` and goes on over the indented
    lines below it, and wrapped ones with no blank line before them. Any other line ends it; an
    act or scene heading also starts a new scene.
    """
    speeches: list[Speech] = []
    speaker: str | None = None
    parts: list[str] = []
    scene = 0

    def flush() -> None:
        nonlocal speaker, parts
        said = " ".join(_DIRECTION.sub(" ", " ".join(parts)).split())
        if speaker and any(ch.isalpha() for ch in said):
            speeches.append(Speech(speaker, said, scene))
        speaker, parts = None, []

    lines = text.split("\n")
    i, after_blank = 0, True
    while i < len(lines):
        line = lines[i].rstrip()
        i += 1
        if not line.strip():
            after_blank = True
            continue
        follows, after_blank = not after_blank, False
        if line[0].isspace() or (follows and speaker is not None and _tag(line) is None):
            # an indented line, or a wrapped one right below the speech, goes on with it
            if speaker is not None and not _DIRECTION.fullmatch(line.strip().rstrip(":")):
                parts.append(line.strip())
            continue
        if _DIRECTION.fullmatch(line.strip().rstrip(":")):
            if not follows:  # a direction paragraph ends the speech; "(To Christian):" inside one does not
                flush()
            continue
        if "(" in line and ")" not in line.split("(", 1)[1]:  # a direction in brackets runs on
            while i < len(lines) and ")" not in line.split("(", 1)[1] and lines[i].strip():
                line += " " + lines[i].strip()
                i += 1
        tagged = _tag(line)
        if tagged is not None:
            flush()
            speaker, first = tagged
            if first.strip():
                parts.append(first.strip())
            continue
        flush()  # a stage direction or a heading ends the speech
        if _SCENE_BREAK.match(line):
            scene += 1
    flush()
    return speeches


def dialogue_scenes(speeches: Sequence[Speech], title: str, *, max_words: int = 40, min_turns: int = 2) -> list[str]:
    """The speeches as chat-shaped texts (``A scene from <title>.``, a blank line, one ``NAME: speech``
    line each), one per run of short speeches. A speech over ``max_words`` (a monologue) or a new
    scene ends a run; runs of fewer than ``min_turns`` speeches are left out.
    """
    if max_words < 1 or min_turns < 1:
        raise ValueError(f"max_words={max_words}, min_turns={min_turns}: use whole numbers of at least 1")
    scenes: list[str] = []
    run: list[Speech] = []

    def close() -> None:
        if len(run) >= min_turns:
            scenes.append(f"A scene from {title}.\n\n" + "".join(f"{s.speaker}: {s.text}\n" for s in run))
        run.clear()

    for s in speeches:
        if run and s.scene != run[-1].scene:
            close()
        if len(s.text.split()) > max_words:
            close()
            continue
        run.append(s)
    close()
    return scenes


def split_scenes(scenes: Sequence[str], val_every: int = 10) -> dict[str, list[str]]:
    """Train and val scenes: every ``val_every``-th scene (the first, the 11th, ...) is held out."""
    return {"train": [s for i, s in enumerate(scenes) if i % val_every],
            "val": [s for i, s in enumerate(scenes) if not i % val_every]}


def play_text(book_id: int) -> str:
    """The clean text of a play (fetched like every book: cache, offline copy, then download)."""
    raw = gutenberg_book(book_id)
    text, _ = decode_bytes((stage_dir("raw").parent / raw.path).read_bytes())
    return clean_text(text).text


def dialogue_dir(profile: Any) -> Path:
    """``data/dialogue/<profile>``: token files of its tokenizer (beside the stages, like ``data/recipes``)."""
    return data_dir() / "dialogue" / profile.name


def build_dialogue_tokens(profile: Any, tokenizer: Any, *, plays: dict[int, str] | None = None,
                          val_every: int = 10, force: bool = False) -> Path:
    """Token files (train, val) of the plays' dialogue for ``tokenizer``; returns their folder.

    Every ``val_every``-th scene goes to validation. Written once per profile and tokenizer;
    ``force`` writes them again.
    """
    plays = PLAYS if plays is None else plays
    if not plays:
        raise ValueError("plays is empty: give at least one {gutenberg_id: title}, e.g. dialogue.PLAYS")
    if val_every < 2:
        raise ValueError(f"val_every={val_every}: use 2 or more (every n-th scene goes to validation)")
    folder = dialogue_dir(profile)
    manifest = folder / "manifest.json"
    wanted = {"format": DIALOGUE_FORMAT, "tokenizer": tokenizer.name, "plays": {str(k): v for k, v in plays.items()}}
    if not force and manifest.is_file() and {k: read_json(manifest).get(k) for k in wanted} == wanted:
        return folder
    scenes: list[str] = []
    for book_id, title in plays.items():
        found = dialogue_scenes(play_speeches(play_text(book_id)), title)
        if not found:
            raise ValueError(f"book {book_id} ({title}) gave no dialogue: is it a play with speeches "
                             "tagged 'NAME:'? Remove it from plays")
        scenes.extend(found)
    if len(scenes) < val_every:
        raise ValueError(f"only {len(scenes)} scenes of dialogue: too few to split; add plays or lower val_every")
    split = split_scenes(scenes, val_every)
    folder.mkdir(parents=True, exist_ok=True)
    manifest.unlink(missing_ok=True)  # a half-written folder is never "built"
    meta = write_token_files(folder, tokenizer, {k: ["\n".join(v)] for k, v in split.items()},
                             split_note=f"dialogue scenes: every {val_every}th to validation")
    write_json_atomic(manifest, {**wanted, "scenes": {k: len(v) for k, v in split.items()}, "counts": meta["counts"]})
    log.info("dialogue tokens in %s: %s", folder, meta["counts"])
    return folder
