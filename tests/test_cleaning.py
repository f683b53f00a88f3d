"""Cleaning: each rule on small texts written here, decoding of odd encodings, the filters, the
clean stage, and (with MINIGPT_DATASETS_DIR) every shared Gutenberg book against hand-checked
bounds: no licence left, the body intact, cleaning idempotent."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import pytest

from minigpt_helpers import artifacts, cleaning, stages
from minigpt_helpers.cleaning import CleanOptions
from minigpt_helpers.profiles import get_profile

FIXTURES = Path(__file__).parent / "fixtures" / "cleaning"
BOUNDS = json.loads((FIXTURES / "gutenberg_bounds.json").read_text(encoding="utf-8"))["books"]
ENCODINGS = json.loads((FIXTURES / "encodings.json").read_text(encoding="utf-8"))["files"]
KEEP_ALL = CleanOptions(min_tokens=0)  # the stub filter off, for texts a few lines long


def flat(text: str) -> str:
    return " ".join(text.split())


# --------------------------------------------------------------------------- decoding


@pytest.mark.parametrize("name", sorted(ENCODINGS))
def test_odd_encodings_decode_without_replacement_characters(name: str) -> None:
    text, encoding = cleaning.decode_bytes((FIXTURES / name).read_bytes())
    assert text == ENCODINGS[name]["text"]
    assert encoding == ENCODINGS[name]["encoding"]
    assert "\ufffd" not in text and "\ufeff" not in text


def test_bom_and_crlf_are_gone_after_cleaning() -> None:
    text, _ = cleaning.decode_bytes((FIXTURES / "utf8_bom_crlf.txt").read_bytes())
    assert "\r" in text
    clean = cleaning.clean_text(text).text
    assert "\r" not in clean and "\ufeff" not in clean
    assert clean.startswith("THE LIGHTHOUSE CAT\n\nby Ada Example\n\nCHAPTER I\n\nThe cat who lived")
    assert clean.endswith("inspect the crates, one by one.\n\nTHE END\n")
    assert "Céleste" in clean and "“Fog again,”" in clean  # UTF-8 read as UTF-8, not as mojibake


def test_windows_1252_and_latin1_characters_survive_cleaning() -> None:
    cp = cleaning.clean_text(cleaning.decode_bytes((FIXTURES / "cp1252.txt").read_bytes())[0], KEEP_ALL).text
    assert "“Wait” — she said … ‘not yet’. Café at 5€." in cp
    latin = cleaning.clean_text(cleaning.decode_bytes((FIXTURES / "latin1.txt").read_bytes())[0], KEEP_ALL).text
    assert "señor «García» paid £5." in latin


def test_undecodable_bytes_raise_a_clear_error() -> None:
    with pytest.raises(cleaning.UndecodableError, match="not UTF-8.*save it as UTF-8"):
        cleaning.decode_bytes((FIXTURES / "undecodable.txt").read_bytes())
    assert issubclass(cleaning.UndecodableError, ValueError)


def test_binary_looking_text_is_refused() -> None:
    with pytest.raises(ValueError, match="looks binary"):
        cleaning.decode_bytes(bytes(range(1, 32)) * 40)


def test_utf16_with_bom_decodes() -> None:
    text, encoding = cleaning.decode_bytes("Héllo\r\n".encode("utf-16"))  # Python writes the BOM
    assert text == "Héllo\r\n" and encoding.startswith("utf-16")


# --------------------------------------------------------------------------- the rules, one by one

OLD_STYLE = """The Project Gutenberg EBook of A Test, by Nobody

*** START OF THIS PROJECT GUTENBERG EBOOK A TEST ***

Body line one.

End of the Project Gutenberg EBook of A Test, by Nobody

*** END OF THIS PROJECT GUTENBERG EBOOK A TEST ***

Licence text that must go.
"""


@pytest.mark.parametrize(
    "raw, header, footer",
    [
        (OLD_STYLE, "start-marker", "end-line"),
        (OLD_STYLE.replace("THIS", "THE").replace("End of the", "Nothing of the"), "start-marker", "end-marker"),
        ("Header\n***START OF THE PROJECT GUTENBERG EBOOK A TEST***\nBody line one.\n***END OF THE PROJECT GUTENBERG EBOOK A TEST***\nLicence\n", "start-marker", "end-marker"),
        ("Header\n*** START OF THE PROJECT GUTENBERG EBOOK, A TEST ***\nBody line one.\n*** END OF THE PROJECT GUTENBERG EBOOK, A TEST ***\n***START**THE SMALL PRINT!**FOR PUBLIC DOMAIN EBOOKS**START***\nLegal text\n", "start-marker", "end-marker"),
        ("*** START OF THIS PROJECT GUTENBERG EBOOK\nA TEST ***\nBody line one.\n*** END OF THIS PROJECT GUTENBERG EBOOK\n", "start-marker", "end-marker"),
        ("Etext header\n*END*THE SMALL PRINT! FOR PUBLIC DOMAIN ETEXTS*Ver.04.29.93*END*\nBody line one.\nEnd of The Project Gutenberg Etext of A Test\n", "small-print", "end-line"),
        ("Etext header\n*END*THE SMALL PRINT! FOR PUBLIC DOMAIN ETEXTS*Ver.04.29.93*END*\nBody line one.\nFINIS.\n", "small-print", "none"),
        ("Body line one.\n", "none", "none"),
    ],
    ids=["older", "newer", "newer-no-spaces", "transitional-2003", "wrapped-marker", "small-print", "no-footer", "not-gutenberg"],
)
def test_every_gutenberg_header_style(raw: str, header: str, footer: str) -> None:
    bounds = cleaning.gutenberg_bounds(raw)
    assert (bounds.header, bounds.footer) == (header, footer)
    body = cleaning.strip_gutenberg(raw)
    assert "Body line one." in body
    assert not re.search(r"Gutenberg|START|END OF|Licence|Legal|header", body)


def test_credits_and_notes_at_the_top_go_the_book_stays() -> None:
    raw = (
        "Produced by Jane Doe and the Online Distributed\nProofreading Team at http://www.pgdp.net\n\n"
        "TRANSCRIBER'S NOTES:\n\nThe spelling of the original has been kept, and a few\nobvious typos were corrected.\n\n"
        "Italics are shown like _this_.\n\nJane Doe\n\n"
        "THE TITLE\n\nBy An Author\n\nThe book begins here, and it goes on for a while.\n"
    )
    text = cleaning.remove_credits(cleaning.remove_transcriber_notes(raw))
    assert flat(text) == "THE TITLE By An Author The book begins here, and it goes on for a while."


def test_inline_and_trailing_transcriber_notes_go() -> None:
    body = "A sentence [Transcriber's Note: a word was missing] that goes on.\n\n" + "Story text.\n\n" * 200
    raw = body + "The last line of the story.\n\n\nTRANSCRIBER'S NOTES\n\nPage 12: teh changed to the\n"
    text = cleaning.remove_transcriber_notes(raw)
    assert "A sentence  that goes on." in text and "Note" not in text
    assert text.rstrip().endswith("The last line of the story.")


def test_footnotes_go_but_brackets_that_are_not_footnotes_stay() -> None:
    raw = (
        "He came at last.[1] It was late.[Footnote 2: A block note\nover two lines.]\n\n"
        "[1] The note for the first marker.\n\n"
        "Now faire Hippolita steep the[m]selues in nights. A Boston Ballad [1854].\n"
    )
    text = cleaning.remove_footnotes(raw)
    assert "He came at last. It was late." in text
    assert "note" not in text.lower()
    assert "the[m]selues" in text and "[1854]" in text


def test_endnote_section_with_long_notes_is_cut() -> None:
    story = "Story paragraph that is long enough to count as a paragraph of the book.\n\n" * 400
    raw = story + "The end of the story.\n\nNOTES\n\n[1] A note.\n\nIt runs on into a second paragraph.\n"
    assert cleaning.remove_footnotes(raw).rstrip().endswith("The end of the story.")


def test_illustrations_page_numbers_and_layout() -> None:
    raw = "Text before.\n\n[Illustration: A cat on a\nlong caption]\n\n[Illustration]\n\nA page {12} turns[Pg 13] here.\n\n-----------\n\n*       *       *\n\n12\n\nText after.\n"
    text = cleaning.remove_page_artifacts(cleaning.remove_illustrations(raw))
    assert "Illustration" not in text and "{12}" not in text and "[Pg" not in text and "----" not in text
    assert "A page  turns here." in text
    assert "\n* * *\n" in text
    assert "\n12\n" in text  # a bare number is a chapter number in these books: kept


def test_italics_markup() -> None:
    assert cleaning.remove_italics("It was _very_ odd, _quite\nodd_ indeed.") == "It was very odd, quite\nodd indeed."
    for kept in ("snake_case_name", "Sign here: ______", "a lone _ underscore"):
        assert cleaning.remove_italics(kept) == kept


def test_html_tags_and_entities() -> None:
    assert cleaning.strip_html("<i>Yes</i> &amp; no&mdash;<br/>maybe &c.") == "Yes & no—maybe &c."


def test_table_of_contents_is_removed_when_recognised() -> None:
    raw = (
        "THE BOOK\n\nCONTENTS\n\nCHAPTER I. The Start\nCHAPTER II. The Middle\nCHAPTER III. The End\n\n\n\n"
        "CHAPTER I.\n\nTHE START\n\nIt was a dark night, and the wind blew hard across the moor while we waited\n"
        "for the coach that never came.\n"
    )
    text = cleaning.remove_toc(raw)
    assert flat(text).startswith("THE BOOK CHAPTER I. THE START It was a dark night")
    not_a_table = "THE BOOK\n\nCONTENTS\n\nThe contents of the box were a surprise to everybody who had waited for\nthem all the long winter in the village by the sea.\n"
    assert cleaning.remove_toc(not_a_table) == not_a_table


def test_hard_wrapped_prose_is_joined_and_verse_is_kept() -> None:
    raw = (
        "  This paragraph was hard-wrapped at seventy characters by a careful\n"
        "transcriber, and it should come back as one line of text that reads on,\n"
        "with a word broken at its hyphen like a self-\n"
        "made man, and a dash at the end of a line that joins the next one--\n"
        "as the author wrote it.\n\n\n\n"
        "  Tyger Tyger, burning bright,\n  In the forests of the night;\n  What immortal hand or eye,\n  Could frame thy fearful symmetry?\n"
    )
    text = cleaning.join_wrapped_lines(raw)
    paragraphs = text.split("\n\n")
    assert len(paragraphs) == 2 and text.endswith("\n") and not text.endswith("\n\n")
    assert paragraphs[0] == (
        "This paragraph was hard-wrapped at seventy characters by a careful transcriber, and it should "
        "come back as one line of text that reads on, with a word broken at its hyphen like a self-made "
        "man, and a dash at the end of a line that joins the next one--as the author wrote it."
    )
    assert paragraphs[1] == "Tyger Tyger, burning bright,\nIn the forests of the night;\nWhat immortal hand or eye,\nCould frame thy fearful symmetry?\n"


def test_unicode_normalisation_and_non_printables() -> None:
    raw = "Cafe\u0301\u00a0au\u200b lait\u00ad.\tTab\x07 and a\ufeffBOM."
    assert cleaning.normalize_unicode(raw) == "Café au lait. Tab and aBOM."
    assert cleaning.normalize_unicode("e\u0301", None) == "e\u0301"  # no normal form asked for
    assert cleaning.normalize_newlines("\ufeffa\r\nb\rc\n") == "a\nb\nc\n"


def test_fold_ascii() -> None:
    assert cleaning.fold_ascii("“Café” — naïve… Æsop’s £5 λόγος") == '"Cafe" -- naive... AEsop\'s L5 '
    assert cleaning.fold_ascii("plain") == "plain"


def test_count_tokens_is_words_and_punctuation() -> None:
    assert cleaning.count_tokens("Hello, world!") == 4
    assert cleaning.count_tokens("don't stop") == 4  # don ' t stop
    assert cleaning.count_tokens("") == 0


# --------------------------------------------------------------------------- clean_text as a whole


def test_clean_text_agrees_with_the_rules_applied_one_by_one() -> None:
    text, _ = cleaning.decode_bytes((FIXTURES / "utf8_bom_crlf.txt").read_bytes())
    step = text
    ran = 0
    for rule in cleaning.RULES:
        if rule.option in ("", "unicode_form") or getattr(KEEP_ALL, rule.option):
            step = rule.func(step)
            ran += 1
    assert ran == len(cleaning.RULES) - 1  # all but the ASCII fold
    assert cleaning.clean_text(text, KEEP_ALL).text == step


def test_removed_counts_add_up() -> None:
    text, _ = cleaning.decode_bytes((FIXTURES / "utf8_bom_crlf.txt").read_bytes())
    result = cleaning.clean_text(text)
    assert list(result.removed)[: len(cleaning.RULES)] == [r.name for r in cleaning.RULES]
    assert result.removed_chars == len(text) - len(result.text)
    assert sum(r.lines for r in result.removed.values()) == text.count("\n") - result.text.count("\n")
    assert result.removed["gutenberg"].chars > 0 and result.removed["credits"].lines > 0


def test_options_switch_rules_off() -> None:
    text, _ = cleaning.decode_bytes((FIXTURES / "utf8_bom_crlf.txt").read_bytes())
    kept = cleaning.clean_text(text, CleanOptions(gutenberg=False, credits=False, italics=False, min_tokens=0)).text
    assert "START OF THIS PROJECT GUTENBERG" in kept and "Produced by" in kept and "_crates_" in kept
    ascii_text = cleaning.clean_text(text, cleaning.PRESETS["ascii"]).text
    assert ascii_text.isascii() and "Celeste" in ascii_text


def test_clean_text_is_idempotent_on_the_fixtures() -> None:
    for name in ENCODINGS:
        text, _ = cleaning.decode_bytes((FIXTURES / name).read_bytes())
        for options in (KEEP_ALL, CleanOptions(min_tokens=0, ascii_only=True)):
            once = cleaning.clean_text(text, options).text
            assert once and cleaning.clean_text(once, options).text == once


# --------------------------------------------------------------------------- filters and options


def test_length_filter_on_paragraphs() -> None:
    text = "Short.\n\n" + "A paragraph with quite a few words in it, more than ten tokens for sure.\n\n" + ("word " * 50).strip() + "\n"
    result = cleaning.filter_documents(text, CleanOptions(unit="paragraph", min_tokens=10, max_tokens=40))
    assert result.text == "A paragraph with quite a few words in it, more than ten tokens for sure.\n"
    assert result.units_dropped["length"] == 2
    assert result.removed["length"].chars == len(text) - len(result.text)


def test_duplicates_are_dropped_across_books_with_a_shared_seen_set() -> None:
    seen: set[int] = set()
    book = "This paragraph appears in two different books word for word, exactly.\n\nYes.\n\nYes.\n"
    first = cleaning.filter_documents(book, CleanOptions(unit="paragraph", min_tokens=0), seen=seen)
    assert first.text == book  # "Yes." repeats but is shorter than dedupe_min_tokens
    second = cleaning.filter_documents(book, CleanOptions(unit="paragraph", min_tokens=0), seen=seen)
    assert second.text == "Yes.\n\nYes.\n" and second.units_dropped["duplicates"] == 1
    again = cleaning.filter_documents(book, CleanOptions(), seen=set())
    assert again.text == "" and again.units_dropped["length"] == 1  # a book of 20 tokens is a stub


def test_profanity_filter_drops_the_unit_and_is_off_by_default() -> None:
    text = "A clean paragraph here.\n\nWhat the heck is this.\n"
    options = CleanOptions(unit="paragraph", min_tokens=0, profanity=True, profanity_words=("heck",))
    assert cleaning.filter_documents(text, options).text == "A clean paragraph here.\n"
    assert cleaning.filter_documents(text, CleanOptions(unit="paragraph", min_tokens=0)).text == text


def test_clean_options_name_every_bad_field() -> None:
    with pytest.raises(ValueError) as err:
        CleanOptions(unit="chapter", min_tokens=-1, max_tokens=0, unicode_form="NFX", italics="yes", profanity_words=("",))
    message = str(err.value)
    for field in ("unit='chapter'", "min_tokens=-1", "max_tokens=0", "unicode_form='NFX'", "italics='yes'", "profanity_words"):
        assert field in message, field
    with pytest.raises(ValueError, match="max_tokens=10: use None"):
        CleanOptions(min_tokens=10, max_tokens=10)
    assert CleanOptions().to_dict()["unit"] == "book"


# --------------------------------------------------------------------------- the clean stage


def _write_local_folder(folder: Path) -> None:
    folder.mkdir()
    (folder / "lighthouse.txt").write_bytes((FIXTURES / "utf8_bom_crlf.txt").read_bytes())
    (folder / "lighthouse_copy.txt").write_bytes((FIXTURES / "utf8_bom_crlf.txt").read_bytes())
    story = "Le café était fermé, mais la dame au manteau gris attendait encore devant la porte. " * 20
    (folder / "latin1_story.txt").write_bytes(story.encode("latin-1"))
    (folder / "garbage.txt").write_bytes((FIXTURES / "undecodable.txt").read_bytes())
    (folder / "picture.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    (folder / "binary.txt").write_bytes(b"\x00\x01\x02 not text")
    (folder / "empty.txt").write_bytes(b"")


def test_build_clean_from_a_local_folder_skips_and_reports_bad_files(tmp_path: Path, data_dir: Path) -> None:
    _write_local_folder(tmp_path / "books")
    out = stages.build_clean(get_profile("ci"), local_folder=tmp_path / "books")
    manifest = artifacts.read_manifest("clean")
    assert out == data_dir / "clean"
    assert [b["book_id"] for b in manifest["books"]] == ["latin1_story", "lighthouse"]
    reasons = {Path(s["path"]).name: s["reason"] for s in manifest["skipped"]}
    assert set(reasons) == {"binary.txt", "empty.txt", "garbage.txt", "lighthouse_copy.txt", "picture.png"}
    assert "not UTF-8" in reasons["garbage.txt"] and "duplicate" in reasons["lighthouse_copy.txt"]
    for book in manifest["books"]:
        text = (out / book["file"]).read_text(encoding="utf-8")
        assert book["chars"] == len(text) and book["bytes"] == len(text.encode("utf-8"))
        assert {"book_id", "title", "author", "file", "removed", "encoding"} <= set(book)
        assert "\r" not in text and text.endswith("\n") and "\n\n\n" not in text
    latin = next(b for b in manifest["books"] if b["book_id"] == "latin1_story")
    assert latin["encoding"] == "latin-1" and "café était" in (out / latin["file"]).read_text(encoding="utf-8")
    totals = manifest["totals"]
    assert totals["books"] == 2 and totals["chars"] == sum(b["chars"] for b in manifest["books"])
    assert totals["removed"]["gutenberg"]["chars"] > 0 and manifest["options"]["unit"] == "book"
    assert artifacts.staleness("clean", get_profile("ci")) is None


def test_build_clean_refuses_a_folder_with_nothing_usable(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no usable .txt files"):
        stages.build_clean(get_profile("ci"), local_folder=tmp_path / "empty")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "garbage.txt").write_bytes((FIXTURES / "undecodable.txt").read_bytes())
    with pytest.raises(ValueError, match="no book could be cleaned: garbage.txt: not UTF-8"):
        stages.build_clean(get_profile("ci"), local_folder=bad)


def test_build_clean_for_the_ci_profile(shared_datasets: Path, data_dir: Path) -> None:
    profile = get_profile("ci")
    stages.ensure("clean", profile, quiet=True)
    manifest = artifacts.read_manifest("clean")
    assert [b["book_id"] for b in manifest["books"]] == [f"pg{i}" for i in profile.book_ids]
    for book in manifest["books"]:
        text = (data_dir / "clean" / book["file"]).read_text(encoding="utf-8")
        assert flat(text).startswith(BOUNDS[book["book_id"]]["start"])
        assert book["removed"]["gutenberg"]["chars"] > 10_000  # the licence is long
    assert manifest["skipped"] == []


# --------------------------------------------------------------------------- every shared book


@functools.lru_cache(maxsize=1)
def _clean_all(folder: str) -> dict[str, tuple[str, str]]:
    out = {}
    for path in sorted(Path(folder).glob("pg*.txt")):
        raw, _ = cleaning.decode_bytes(path.read_bytes())
        out[path.stem] = (raw, cleaning.clean_text(raw).text)
    return out


@pytest.fixture
def shared_clean(shared_datasets: Path) -> dict[str, tuple[str, str]]:
    """Every shared Gutenberg book: (raw text, clean text), cleaned once for all the tests below."""
    return _clean_all(str(shared_datasets / "gutenberg"))


# Words of Project Gutenberg's licence and e-text apparatus that no book body should keep,
# searched in the lower-cased text (plain substring searches: 45 MB in well under a second).
BOILERPLATE = (
    "project gutenberg", "gutenberg-tm", "gutenberg.org", "small print!", "legal small print", "*** start of", "*** end of",
    "***start of", "***end of", "start of this project", "start of the project", "end of this project",
    "end of the project", "www.", "http://", "https://", "\nproduced by", "transcriber's", "transcriber’s", "distributed proofread",
    "pgdp", "this etext", "this ebook", "this e-text", "this e-book", "etext #", "ebook #",
)
# These words do occur inside books, so they are checked as whole words only.
BOILERPLATE_WORDS = re.compile(r"(?<![\w-])(?:e-?books?|e-?texts?)(?![\w-])")
# "Gutenberg" alone is also a name in two bodies: the printer in The American Printer (pg56817)
# and "Murtagh Gutenberg" among Ulysses's list of heroes (pg4300).
GUTENBERG_IN_THE_BOOK = {"pg56817", "pg4300"}


def _boilerplate(text: str) -> list[str]:
    low = b"\n" + text.encode("utf-8").lower()  # bytes.lower() only folds ASCII: fast
    hits = []
    for word in BOILERPLATE:
        pos = low.find(word.encode("utf-8"))
        if pos >= 0:
            hits.append(f"{word!r} in ...{low[max(0, pos - 40):pos + 40].decode('utf-8', 'replace')!r}")
    for candidate in (b"ebook", b"e-book", b"etext", b"e-text"):
        pos = low.find(candidate)
        while pos >= 0:
            around = low[max(0, pos - 1) : pos + 12].decode("utf-8", "replace")
            match = BOILERPLATE_WORDS.search(around)
            if match:
                hits.append(f"{match.group(0)!r} in ...{low[max(0, pos - 40):pos + 40].decode('utf-8', 'replace')!r}")
                break
            pos = low.find(candidate, pos + 1)
    return hits


def test_the_bounds_fixture_covers_every_shared_book(shared_clean: dict[str, tuple[str, str]]) -> None:
    assert len(shared_clean) == 87
    assert set(shared_clean) == set(BOUNDS)


def test_every_book_starts_and_ends_where_the_book_does(shared_clean: dict[str, tuple[str, str]]) -> None:
    wrong = []
    for book_id, (raw, clean) in shared_clean.items():
        expected = BOUNDS[book_id]
        start, end = flat(clean[:400]), flat(clean[-400:])
        if not start.startswith(expected["start"]) or not end.endswith(expected["end"]):
            wrong.append(f"{book_id}: starts {start[:40]!r} (want {expected['start']!r}), ends {end[-40:]!r} (want {expected['end']!r})")
        bounds = cleaning.gutenberg_bounds(raw)
        if (bounds.header, bounds.footer) != (expected["header"], expected["footer"]):
            wrong.append(f"{book_id}: header/footer {bounds.header}/{bounds.footer}, want {expected['header']}/{expected['footer']}")
    assert not wrong, "\n".join(wrong)


def test_no_licence_or_etext_boilerplate_remains(shared_clean: dict[str, tuple[str, str]]) -> None:
    assert _boilerplate(next(iter(shared_clean.values()))[0]), "the search should find the raw licence"
    found = []
    for book_id, (raw, clean) in shared_clean.items():
        assert "Gutenberg" in raw, f"{book_id}: not a Gutenberg file?"  # the search below is not vacuous
        found += [f"{book_id}: {hit}" for hit in _boilerplate(clean)]
        if book_id not in GUTENBERG_IN_THE_BOOK and "gutenberg" in clean.lower():
            found.append(f"{book_id}: 'gutenberg'")
    assert not found, "\n".join(found[:20])


def _non_space(text: str) -> int:
    return len(text) - text.count(" ") - text.count("\n") - text.count("\t")


def test_the_body_is_intact(shared_clean: dict[str, tuple[str, str]]) -> None:
    for book_id, (raw, clean) in shared_clean.items():
        body = cleaning.strip_gutenberg(raw)
        # cleaning removes apparatus, not the book: nearly all the body's characters survive
        assert 0.85 * _non_space(body) < _non_space(clean) <= _non_space(body), book_id
        assert "\r" not in clean and "\ufeff" not in clean and "\n\n\n" not in clean and clean.endswith("\n")


def test_cleaning_clean_text_again_changes_nothing(shared_clean: dict[str, tuple[str, str]]) -> None:
    # A second pass costs as much as the first, so a sample: every header style and feature.
    sample = sorted(set(list(shared_clean)[::4]) | {"pg2242", "pg2353", "pg2299", "pg308", "pg43", "pg1322", "pg56817", "pg1301"})
    assert len(sample) >= 25
    changed = [book_id for book_id in sample if cleaning.clean_text(shared_clean[book_id][1]).text != shared_clean[book_id][1]]
    assert not changed, f"cleaning clean text changed {changed}"
