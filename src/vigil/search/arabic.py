"""Text normalisation for search, the same on the index and the query side.

So that a query matches the common spelling variants of Arabic (and of Latin-script
transliterations), every text is reduced to a sequence of word tokens:

* Unicode compatibility decomposition (NFKD), then every combining mark dropped:
  the harakat (fatha, damma, kasra, tanwin, shadda, sukun), the superscript alef,
  the hamza written above or below a letter (so أ إ آ → ا, ؤ → و, ئ → ي), Arabic
  presentation forms back to letters, and Latin accents (é → e);
* tatweel (kashida) removed; alef wasla ٱ → ا; alef maqsura ى → ي; ta marbuta
  ة → ه; Persian yeh ی → ي and keheh ک → ك (common in typed Arabic);
* Arabic-Indic and Persian digits → 0-9; everything else lower-cased (casefold);
* tokens are runs of letters and digits; everything else separates them.

`normalise` gives the tokens joined by single spaces: the exact text both SQLite
FTS5 and PostgreSQL full-text see, so that both split it the same way.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["normalise", "spans", "tokens"]

_LETTERS = str.maketrans(
    {
        "\u0640": None,  # tatweel
        "\u0671": "\u0627",  # alef wasla → alef
        "\u0649": "\u064a",  # alef maqsura → yeh
        "\u0629": "\u0647",  # ta marbuta → heh
        "\u06cc": "\u064a",  # Persian yeh → yeh
        "\u06a9": "\u0643",  # keheh → kaf
        **{chr(0x0660 + d): str(d) for d in range(10)},  # Arabic-Indic digits
        **{chr(0x06F0 + d): str(d) for d in range(10)},  # Persian digits
    }
)
_MARKS = re.compile(r"[\u0300-\u036f\u0483-\u0489\u0591-\u05c7\u0610-\u061a\u064b-\u065f"
                    r"\u0670\u06d6-\u06ed\u08d3-\u08ff\ufe20-\ufe2f]")  # fmt: skip
_TOKEN = re.compile(r"[^\W_]+")


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    if not decomposed.isascii():
        decomposed = "".join(c for c in decomposed if not unicodedata.combining(c))
        decomposed = _MARKS.sub("", decomposed)
    return decomposed.translate(_LETTERS).casefold()


def tokens(text: str) -> list[str]:
    """The search tokens of *text*."""
    return _TOKEN.findall(_fold(text))


def normalise(text: str) -> str:
    """The tokens of *text*, joined by single spaces (what the full-text engines index)."""
    return " ".join(tokens(text))


def spans(text: str) -> list[tuple[str, int, int]]:
    """Each token of *text* with the span of *text* it came from (start, end): for snippets."""
    out: list[tuple[str, int, int]] = []
    current: list[str] = []
    start = 0
    for i, char in enumerate(text):
        folded = _fold(char)
        if folded and _TOKEN.fullmatch(folded):
            if not current:
                start = i
            current.append(folded)
        elif folded == "" and current:  # a dropped mark or tatweel inside a word
            continue
        elif current:
            out.append(("".join(current), start, i))
            current = []
    if current:
        out.append(("".join(current), start, len(text)))
    return out
