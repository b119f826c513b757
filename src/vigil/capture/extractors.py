"""Which yt-dlp platform extractor claims a URL, without trying ~1,900 regexes each time.

yt-dlp asks every extractor in turn (`suitable`, a regex match per extractor):
about 3 ms a URL (0.1 ms this way), a large share of capturing a small page.
Nearly every extractor's ``_VALID_URL`` contains a fixed piece of text that any
URL it matches must contain (``youtube.com/watch``, ``.vimeo.com/``): a
substring test rules the extractor out at C speed. The answer is exactly yt-dlp's own: the same
extractors in the same order, the same `suitable` call for every extractor the
test does not rule out, and no test at all for extractors whose own `suitable` does
more than narrow their pattern (their rules are code, not one regex: `_narrows_pattern`).
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import inspect
import json
import os
import re
import textwrap
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

from yt_dlp.extractor import gen_extractor_classes
from yt_dlp.extractor.common import InfoExtractor

try:  # present in yt-dlp's releases; absent when it was built without lazy extractors
    from yt_dlp.extractor.lazy_extractors import LazyLoadExtractor

    _BASES: tuple[Any, ...] = (LazyLoadExtractor, InfoExtractor)
except ImportError:  # pragma: no cover
    _BASES = (InfoExtractor,)

__all__ = ["platform_extractor", "required_text"]

_parser: Any = getattr(re, "_parser", None) or __import__("sre_parse")
_LITERAL = _parser.LITERAL
_SUBPATTERN = _parser.SUBPATTERN
_BRANCH = _parser.BRANCH
_IGNORECASE = re.IGNORECASE


_COMMON = frozenset({"http", "https", "://", "www.", ".com", ".com/", ".html", "embed"})
# a requirement: any one of these texts (case folded when the bool says so)
Requirement = tuple[tuple[str, bool], ...]


def _alternatives(branch: Any, ignorecase: bool) -> Requirement | None:
    """For a branch every alternative of which must contain some text: any of those texts."""
    texts: list[tuple[str, bool]] = []
    for alternative in branch[1]:
        found = _requirements(alternative.data, ignorecase)
        if not found:
            return None
        texts += _best(found)
    return tuple(texts)


def _requirements(items: Iterable[tuple[Any, Any]], ignorecase: bool) -> list[Requirement]:
    """Requirements every match of this sequence of regex items must meet."""
    found: list[Requirement] = []
    run: list[str] = []
    folded = [False]  # whether any letter of the run is matched ignoring case

    def end_run() -> None:
        text = "".join(run)
        if len(text) >= 3:
            found.append(((text.lower(), True) if folded[0] else (text, False),))
        run.clear()
        folded[0] = False

    def walk(items: Iterable[tuple[Any, Any]], ignorecase: bool) -> None:
        for op, arg in items:
            if op is _LITERAL:
                run.append(chr(arg))
                folded[0] |= ignorecase
            elif op is _SUBPATTERN:  # a group that must match: its text continues the run
                _group, add_flags, _del_flags, sub = arg
                walk(sub.data, ignorecase or bool(add_flags & _IGNORECASE))
            else:  # repeats, classes, assertions: the run ends here
                end_run()
                if op is _BRANCH:
                    any_of = _alternatives(arg, ignorecase)
                    if any_of:
                        found.append(any_of)

    walk(items, ignorecase)
    end_run()
    return found


def _best(found: list[Requirement]) -> Requirement:
    """The most selective requirement: its shortest text longest, common texts last."""
    return max(
        found,
        key=lambda texts: (
            not any(text in _COMMON for text, _ in texts),
            min(len(text) for text, _ in texts),
        ),
    )


def required_text(pattern: str) -> Requirement | None:
    """Texts one of which any match of *pattern* must contain (None: nothing certain)."""
    try:
        parsed = _parser.parse(pattern)
    except re.error:
        return None
    found = _requirements(parsed.data, bool(parsed.state.flags & _IGNORECASE))
    return _best(found) if found else None


def _only_if_inherited(node: ast.expr, cls: str, url: str) -> bool:
    """Whether *node* can be true only when the inherited `suitable` (the pattern match of
    the URL given, *url*) is: ``super().suitable(url)``, ``cls._match_valid_url(url) is not
    None``, a false constant, ``bool(A)``, ``A if B else C`` of two such, ``A and B`` with
    one such. *cls* and *url* name the method's parameters."""
    match node:
        case ast.Constant(value=value):
            return not value
        case ast.Call(
            func=ast.Attribute(
                attr="suitable", value=ast.Call(func=ast.Name("super"), args=bound, keywords=[])
            ),
            args=[ast.Name(id=given)],
            keywords=[],
        ):
            plain = not bound or (
                len(bound) == 2 and isinstance(bound[1], ast.Name) and bound[1].id == cls
            )
            return plain and given == url
        case ast.Compare(
            left=ast.Call(
                func=ast.Attribute(value=ast.Name(id=owner), attr="_match_valid_url"),
                args=[ast.Name(id=given)],
                keywords=[],
            ),
            ops=[ast.IsNot()],
            comparators=[ast.Constant(value=None)],
        ):
            return owner == cls and given == url
        case ast.Call(func=ast.Name("bool"), args=[argument], keywords=[]):
            return _only_if_inherited(argument, cls, url)
        case ast.IfExp(body=body, orelse=orelse):
            return _only_if_inherited(body, cls, url) and _only_if_inherited(orelse, cls, url)
        case ast.BoolOp(op=ast.And(), values=values):
            return any(_only_if_inherited(v, cls, url) for v in values)
    return False


def _bound_names(nodes: list[ast.AST]) -> set[str]:
    """Every name the code assigns, deletes, imports, catches into or declares global."""
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.alias):
            names.add(node.asname or node.name.split(".")[0])
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            names.update(node.names)
    return names


def _narrows_pattern(extractor: Any) -> bool:
    """Whether the extractor's own `suitable` only narrows its pattern: every ``return``
    in it gives false or something `_only_if_inherited`, nothing in it rebinds the names
    those rely on, and what it inherits is yt-dlp's (``return False if
    OtherIE.suitable(url) else super().suitable(url)``: most of the extractors that
    override `suitable`). Its pattern's required text then applies."""
    inherited = [c for c in extractor.__mro__[1:] if "suitable" in c.__dict__]
    if not inherited or any(c not in _BASES for c in inherited):
        return False
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(extractor.suitable)))
    except (OSError, TypeError, SyntaxError):
        return False
    function = tree.body[0]
    if not isinstance(function, ast.FunctionDef):
        return False
    arguments = function.args
    if (len(arguments.args) != 2 or arguments.posonlyargs or arguments.vararg
            or arguments.kwonlyargs or arguments.kwarg):  # fmt: skip
        return False
    cls, url = (a.arg for a in arguments.args)
    nodes = [n for statement in function.body for n in ast.walk(statement)]
    unsure = (ast.Yield, ast.YieldFrom, ast.Lambda, ast.FunctionDef, ast.ClassDef, ast.Match)
    if any(isinstance(n, unsure) for n in nodes):
        return False
    if _bound_names(nodes) & {cls, url, "super", "bool"}:
        return False
    returns = [n for n in nodes if isinstance(n, ast.Return)]
    return bool(returns) and all(
        r.value is not None and _only_if_inherited(r.value, cls, url) for r in returns
    )


def _texts(extractor: Any) -> tuple[tuple[str, bool], ...] | None:
    """Texts one of which any URL the extractor accepts contains; None: always ask."""
    if not any(
        extractor._match_valid_url.__func__ is base._match_valid_url.__func__ for base in _BASES
    ):
        return None  # its own code decides, not one regex: always ask
    if not any(extractor.suitable.__func__ is base.suitable.__func__ for base in _BASES) and (
        not _narrows_pattern(extractor)
    ):
        return None
    patterns = extractor._VALID_URL
    if patterns is False:
        return ()  # matches nothing
    if not patterns:
        return None
    texts: list[tuple[str, bool]] = []
    for pattern in [patterns] if isinstance(patterns, str) else patterns:
        required = required_text(pattern)
        if required is None:
            return None
        texts += required
    return tuple(texts)


class _Index:
    """The extractors in yt-dlp's order, and which of them each required text admits.

    Reading the ~1,750 patterns takes about 1.4 s, so what they require is cached in a
    file keyed by the yt-dlp and Vigil versions (`_cache_path`); a damaged or missing
    cache is rebuilt. A URL is tested only against the texts whose first three
    characters occur in it.
    """

    def __init__(self) -> None:
        self.extractors = [ie for ie in gen_extractor_classes() if ie.ie_key() != "Generic"]
        texts = _load_texts(self.extractors)
        self.always: list[int] = []
        self.by_trigram: dict[str, list[tuple[str, bool, int]]] = {}
        for n, found in enumerate(texts):
            if found is None:
                self.always.append(n)
            for text, folded in found or ():
                self.by_trigram.setdefault(text[:3], []).append((text, folded, n))

    def candidates(self, url: str) -> list[Any]:
        lowered = url.lower()
        admitted = set(self.always)
        trigrams = {url[i : i + 3] for i in range(len(url) - 2)}
        trigrams |= {lowered[i : i + 3] for i in range(len(lowered) - 2)}
        for trigram in trigrams:
            for text, folded, n in self.by_trigram.get(trigram, ()):
                if n not in admitted and text in (lowered if folded else url):
                    admitted.add(n)
        return [self.extractors[n] for n in sorted(admitted)]


def _cache_path() -> Path:
    from yt_dlp.version import __version__ as ytdlp_version

    from vigil import __version__

    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "vigil"
    # This module's own digest: a change to how extractors are read makes a new cache.
    rules = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]
    return base / f"extractors-{ytdlp_version}-{__version__}-{rules}.json"


def _load_texts(extractors: list[Any]) -> list[Requirement | None]:
    """Each extractor's requirement (None: always ask), from the cache when it fits."""
    keys = [ie.ie_key() for ie in extractors]
    path = _cache_path()
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        cached = json.loads(path.read_text(encoding="utf-8"))
        if cached["keys"] == keys:
            return [None if t is None else tuple((str(a), bool(b)) for a, b in t)
                    for t in cached["texts"]]  # fmt: skip
    texts = [_texts(ie) for ie in extractors]
    with contextlib.suppress(OSError):  # no cache where the home is read-only: slower only
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(json.dumps({"keys": keys, "texts": texts}), encoding="utf-8")
        tmp.replace(path)
    return texts


@cache
def _index() -> _Index:
    return _Index()


def platform_extractor(url: str) -> str | None:
    """The yt-dlp platform extractor that claims *url*, if any (the generic one does not count)."""
    for extractor in _index().candidates(url):
        if extractor.suitable(url) and getattr(extractor, "_WORKING", True):
            return str(extractor.ie_key())
    return None
