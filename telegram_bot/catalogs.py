"""The bot's gettext catalogs: `locales/<lang>/LC_MESSAGES/bot.po` are the source (kept in git);
the `.mo` files aiogram's `I18n` reads are compiled from them when missing or older (at start,
and by `make bot-locales`, which also extracts new messages into the `.po` files)."""
from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

LOCALES_DIR = Path(__file__).parent / "locales"
DOMAIN = "bot"


def compile_catalogs(directory: Path = LOCALES_DIR) -> list[Path]:
    """Compile every stale `.po` to its `.mo`; returns the files written."""
    written = []
    for po in sorted(directory.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as source:
            catalog = read_po(source, locale=po.parent.parent.name, domain=DOMAIN)
        with mo.open("wb") as target:
            write_mo(target, catalog, use_fuzzy=False)
        written.append(mo)
    return written


def update_catalogs(directory: Path = LOCALES_DIR) -> None:
    """Merge the extracted template (`bot.pot`) into each `.po`: new messages come untranslated,
    gone ones are dropped."""
    with (directory / f"{DOMAIN}.pot").open("rb") as source:
        template = read_po(source)
    for po in sorted(directory.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        with po.open("rb") as source:
            catalog = read_po(source, locale=po.parent.parent.name, domain=DOMAIN)
        catalog.update(template, no_fuzzy_matching=True)
        with po.open("wb") as target:
            write_po(target, catalog, no_location=True, sort_output=True, ignore_obsolete=True)


if __name__ == "__main__":
    if sys.argv[1:] == ["update"]:
        update_catalogs()
    for path in compile_catalogs():
        sys.stdout.write(f"compiled {path.relative_to(LOCALES_DIR)}\n")
