"""Names as record linkage compares them: Arabic spelling variants folded, compounds
spaced one way, and a phonetic skeleton shared by Arabic script and its Latin
transliterations.

The same person is written many ways on lists of the dead: ``نعمه علي`` and ``نعمه على``
(ي/ى), ``أحمد`` and ``احمد`` (hamza), ``عبد الله`` and ``عبدالله`` (a compound spaced or
not), ``Muhammad``, ``Mohammed`` and ``Mohamad``. Nothing here changes a stored record:
these are comparison keys, computed when linking.

* `name_tokens`: the search normalisation (`vigil.search.arabic`: marks, hamza forms,
  tatweel, ى/ي, ة/ه, digits, case), then the compounds ``عبد``/``abd``/``abdul``, ``ابو``/
  ``abu`` and ``al``/``el`` joined to the word they govern, and the connectors
  ``بن``/``ابن``/``بنت``/``ibn``/``bin``/``bint``/``ben`` dropped (a patronymic chain
  reads the same with or without them); placeholders (``مجهول``, ``unknown``) are
  dropped too, so "unknown unknown" is no name rather than a common one; the
  reversed ``هللا`` that PDF extraction makes of the ligature ﷲ is read as ``الله``.
* `skeleton`: a consonant skeleton of one token, the same for Arabic script and
  Latin: Arabic letters map to the Latin consonant most transliterations use, long
  vowels, ``ع`` and hamza are dropped, so are Latin vowels; digraphs (``kh``, ``sh``,
  ``th``, ``dh``, ``gh``, ``ph``, ``ou``, ``ee``) are folded, doubled letters
  collapsed, and a final ``h`` dropped (ة, ه, ح and Latin ``-ah`` are written or
  left out alike). ``محمد``,
  ``Muhammad``, ``Mohammed`` and ``Mohamad`` all give ``mhmd``.
"""

from __future__ import annotations

import re

from vigil.search.arabic import tokens

__all__ = ["name_key", "name_tokens", "skeleton", "skeleton_key"]

_CONNECTORS = frozenset({"بن", "ابن", "بنت", "ibn", "bin", "bint", "ben", "bent"})
# "Unknown" written where a name should be: never evidence that two records match.
# ("نن" stands before names in lists whose given name was not known: "no name".)
_PLACEHOLDERS = frozenset({"مجهول", "مجهوله", "نن", "unknown", "unidentified", "unnamed"})
# The ligature ﷲ (Allah) extracted from PDFs comes out reversed as "هللا": عطاهللا.
_ALLAH_REVERSED = re.compile("هللا")
_JOIN_NEXT = frozenset({"عبد", "ابو", "abd", "abdul", "abdel", "abdal", "abu", "al", "el"})
_AL_FORMS = re.compile(r"^(?:abdul|abdel|abdal|abdol|abd)(?=.)")

_ARABIC = {
    "ب": "b", "ت": "t", "ث": "t", "ج": "j", "ح": "h", "خ": "k", "د": "d", "ذ": "d",
    "ر": "r", "ز": "z", "س": "s", "ش": "s", "ص": "s", "ض": "d", "ط": "t", "ظ": "z",
    "غ": "g", "ف": "f", "ق": "k", "ك": "k", "ل": "l", "م": "m", "ن": "n", "ه": "h",
    "و": "w", "ي": "y", "پ": "b", "چ": "j", "گ": "g", "ڤ": "f",
    "ا": "", "ع": "", "ء": "",
}  # fmt: skip
_LATIN_DIGRAPHS = (("kh", "k"), ("sh", "s"), ("th", "t"), ("dh", "d"), ("gh", "g"),
                   ("ph", "f"), ("ch", "s"), ("ou", "u"), ("ee", "i"), ("oo", "u"))  # fmt: skip
_LATIN = str.maketrans({"q": "k", "c": "k", "p": "b", "v": "f", "x": "ks", "'": "", "`": ""})
_VOWELS = frozenset("aeiou")


def name_tokens(text: str) -> list[str]:
    """The comparison tokens of a name (see the module text), in their order."""
    out: list[str] = []
    pending = ""
    for token in tokens(_ALLAH_REVERSED.sub("الله", text)):
        if token in _CONNECTORS or token in _PLACEHOLDERS:
            continue
        if token in _JOIN_NEXT:
            pending += token
            continue
        out.append(pending + token)
        pending = ""
    if pending:
        out.append(pending)  # a name ending in a prefix keeps it
    return [_canonical_abd(t) for t in out]


def _canonical_abd(token: str) -> str:
    """``abdul``/``abdel``/``abdal`` + name → ``abdal`` + name; ``el`` → ``al`` (Latin only:
    Arabic script writes one ``عبد`` and one ``ال``)."""
    if not token.isascii():
        return token
    token = _AL_FORMS.sub("abdal", token)
    if token.startswith("abdalal"):
        token = "abdal" + token[7:]
    if token.startswith("el") and len(token) > 3:
        token = "al" + token[2:]
    return token


def name_key(text: str) -> str:
    """The name's tokens joined by single spaces: equal for the common variants."""
    return " ".join(name_tokens(text))


def skeleton(token: str) -> str:
    """The consonant skeleton of one name token (Arabic script or Latin)."""
    if not token:
        return ""
    if token.isascii():
        word = token
        for digraph, single in _LATIN_DIGRAPHS:
            word = word.replace(digraph, single)
        word = word.translate(_LATIN)
        first_y_w = word[0] if word[0] in "wy" else ""
        letters = [c for c in word[1:] if c not in _VOWELS and c not in "wy"]
        body = (
            first_y_w + "".join(letters)
            if first_y_w
            else (("" if word[0] in _VOWELS else word[0]) + "".join(letters))
        )
    else:
        word = token
        first = _ARABIC.get(word[0], "") if word[0] in "وي" else _ARABIC.get(word[0], word[0])
        rest = [_ARABIC.get(c, c) for c in word[1:] if c not in "وي"]
        body = first + "".join(rest)
    collapsed = re.sub(r"(.)\1+", r"\1", body)
    # A final h is ة (-a, -ah), ه or ح, written or left out alike in Latin: dropped.
    return collapsed[:-1] if len(collapsed) > 1 and collapsed.endswith("h") else collapsed


def skeleton_key(text: str) -> str:
    """The skeletons of a name's tokens, sorted and joined: script- and order-blind."""
    return " ".join(sorted(s for s in (skeleton(t) for t in name_tokens(text)) if s))
