"""The bot's pure parts: splitting long texts, the catalogs, the language chosen, tap keys."""
from __future__ import annotations

from types import SimpleNamespace

from babel.messages.pofile import read_po
from hypothesis import given, settings
from hypothesis import strategies as st

from telegram_bot.catalogs import LOCALES_DIR, compile_catalogs
from telegram_bot.identity import tap_key
from telegram_bot.middlewares import locale_of
from telegram_bot.telegram import MAX_TEXT, split_text


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab \nЖ"), max_size=60), st.integers(min_value=1, max_value=12))
def test_split_text_keeps_every_piece_under_the_limit_and_loses_only_the_breaks_it_cut_at(text, limit):
    pieces = split_text(text, limit)
    assert all(len(piece) <= limit for piece in pieces)
    assert "".join(pieces).replace(" ", "").replace("\n", "") == text.replace(" ", "").replace("\n", "")
    if len(text) <= limit:
        assert pieces == [text]


def test_a_long_message_is_cut_at_line_breaks():
    lines = [f"{i:04d} " + "x" * 95 for i in range(100)]    # 10,000 characters
    pieces = split_text("\n".join(lines))
    assert len(pieces) == 3 and all(len(p) <= MAX_TEXT for p in pieces)
    assert "\n".join(pieces).split("\n") == lines


def test_every_message_has_a_russian_translation_and_the_catalogs_compile(tmp_path):
    for locale in ("ru", "en"):
        with (LOCALES_DIR / locale / "LC_MESSAGES" / "bot.po").open("rb") as po:
            catalog = read_po(po)
        missing = [m.id for m in catalog if m.id and not m.string]
        assert locale == "en" or not missing, missing
        assert not [m.id for m in catalog if m.fuzzy and m.id]
    target = tmp_path / "locales"
    for po in LOCALES_DIR.glob("*/LC_MESSAGES/bot.po"):
        (target / po.parent.relative_to(LOCALES_DIR)).mkdir(parents=True)
        (target / po.relative_to(LOCALES_DIR)).write_bytes(po.read_bytes())
    assert sorted(p.parent.parent.name for p in compile_catalogs(target)) == ["en", "ru"]
    assert compile_catalogs(target) == []      # up to date: nothing compiled again


def test_the_account_language_comes_first_then_telegrams_then_russian():
    caller = SimpleNamespace(session=SimpleNamespace(locale="en"))
    assert locale_of(caller, SimpleNamespace(language_code="ru")) == "en"
    assert locale_of(None, SimpleNamespace(language_code="en-GB")) == "en"
    assert locale_of(None, SimpleNamespace(language_code="de")) == "ru"
    assert locale_of(None, None) == "ru"


def test_a_tap_key_names_one_button_of_one_message():
    assert tap_key(1, 2, "les:start:x") == tap_key(1, 2, "les:start:x")
    assert len({tap_key(1, 2, "a"), tap_key(1, 3, "a"), tap_key(2, 2, "a"), tap_key(1, 2, "b")}) == 4
