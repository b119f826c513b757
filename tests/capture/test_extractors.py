"""The platform-extractor shortcut gives exactly yt-dlp's own answer.

The reference is yt-dlp's scan of every extractor in order; the URLs are those of
yt-dlp's own test cases (a fixed sample of extractors), with case and scheme
variants, plus ordinary web pages no platform claims.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from yt_dlp.extractor import gen_extractor_classes
from yt_dlp.extractor.common import InfoExtractor

from vigil.capture.extractors import platform_extractor, required_text


def _yt_dlp_scan(url: str) -> str | None:
    for extractor in gen_extractor_classes():
        claims = extractor.ie_key() != "Generic" and extractor.suitable(url)
        if claims and getattr(extractor, "_WORKING", True):
            return str(extractor.ie_key())
    return None


def _test_urls(sample: int = 150) -> list[str]:
    extractors = list(gen_extractor_classes())
    urls = []
    for extractor in random.Random(2016).sample(extractors, sample):
        for case in extractor.get_testcases(include_onlymatching=True):
            url = case["url"]
            urls += [url, url.upper(), url.replace("https://", "http://"), url + "/extra"]
    return [
        *urls,
        "http://127.0.0.1:8000/p/1.html",
        "https://example.org/statement.html",
        "https://WWW.YOUTUBE.COM/watch?v=dQw4w9WgXcQ",
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
        "https://t.me/s/channel/123",
    ]


def test_same_answer_as_yt_dlp_scanning_every_extractor() -> None:
    urls = _test_urls()
    assert len(urls) > 1500
    differ = [(u, _yt_dlp_scan(u), platform_extractor(u)) for u in urls]
    differ = [d for d in differ if d[1] != d[2]]
    assert differ == []
    claimed = sum(platform_extractor(u) is not None for u in urls)
    assert claimed > len(urls) // 4  # the sample exercises real platform matches


@pytest.mark.parametrize(
    ("pattern", "required"),
    [
        (r"https?://(?:www\.)?vimeo\.com/(?P<id>\d+)", (("vimeo.com/", False),)),
        (r"(?i)https?://(?:www\.)?Vimeo\.com/(?P<id>\d+)", (("vimeo.com/", True),)),
        (r"https?://(?:foobar|barbaz)\.io", (("foobar", False), ("barbaz", False))),
        (r"https?://(?i:AB)cd\.net", (("://abcd.net", True),)),
        (r"https?://(?:a|bc)/(?P<id>\d+)", (("http", False),)),  # only the scheme is certain
        (r"(?P<id>\d+)", None),
    ],
)
def test_required_text(pattern: str, required: object) -> None:
    assert required_text(pattern) == required


def test_the_index_cache_is_rebuilt_when_damaged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vigil.capture import extractors

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    path = extractors._cache_path()
    assert path.is_relative_to(tmp_path)
    for damage in (None, b"{not json", b'{"keys": ["Youtube"], "texts": [null]}'):
        if damage is not None:
            path.write_bytes(damage)
        extractors._index.cache_clear()
        assert platform_extractor("https://www.youtube.com/watch?v=BaW_jenozKc") == "Youtube"
        assert platform_extractor("https://example.org/statement") is None
        cached = json.loads(path.read_text(encoding="utf-8"))  # written anew, whole
        assert len(cached["keys"]) == len(cached["texts"]) > 1000
    extractors._index.cache_clear()


class _OtherIE(InfoExtractor):
    _VALID_URL = r"https?://other\.example/(?P<id>\d+)"


class _NarrowingIE(InfoExtractor):
    _VALID_URL = r"https?://narrow\.example/(?P<id>\w+)"

    @classmethod
    def suitable(cls, url: str) -> bool:
        return False if _OtherIE.suitable(url) else bool(super().suitable(url))


class _NarrowingInStepsIE(InfoExtractor):
    _VALID_URL = r"https?://steps\.example/(?P<id>\w+)"

    @classmethod
    def suitable(cls, url: str) -> bool:
        if "?list=" in url:
            return False
        return not _OtherIE.suitable(url) and super().suitable(url)


class _WideningIE(InfoExtractor):
    _VALID_URL = r"https?://wide\.example/(?P<id>\w+)"

    @classmethod
    def suitable(cls, url: str) -> bool:
        return "wide" in url or bool(super().suitable(url))


class _ReturnsTrueIE(InfoExtractor):
    _VALID_URL = r"https?://true\.example/(?P<id>\w+)"

    @classmethod
    def suitable(cls, url: str) -> bool:
        if url.endswith("/special"):
            return True
        return bool(super().suitable(url))


class _RebindsUrlIE(InfoExtractor):
    _VALID_URL = r"https?://rebound\.example/(?P<id>\w+)"

    @classmethod
    def suitable(cls, url: str) -> bool:
        url = url.replace("mirror.example", "rebound.example")
        return bool(super().suitable(url))


class _AsksAboutAnotherUrlIE(InfoExtractor):
    _VALID_URL = r"https?://another\.example/(?P<id>\w+)"

    @classmethod
    def suitable(cls, url: str) -> bool:
        return bool(super().suitable(url.replace("mirror.example", "another.example")))


class _AsksAnotherClassIE(InfoExtractor):
    _VALID_URL = r"https?://someone\.example/(?P<id>\w+)"

    @classmethod
    def suitable(cls, url: str) -> bool:
        return bool(super(_OtherIE, _OtherIE).suitable(url))


class _WalrusIE(InfoExtractor):
    _VALID_URL = r"https?://walrus\.example/(?P<id>\w+)"

    @classmethod
    def suitable(cls, url: str) -> bool:
        if url := url.replace("mirror.example", "walrus.example"):
            pass
        return False if _OtherIE.suitable(url) else bool(super().suitable(url))


class _LoopsIE(InfoExtractor):
    _VALID_URL = r"https?://loops\.example/(?P<id>\w+)"

    @classmethod
    def suitable(cls, url: str) -> bool:
        for other in (url, url.replace("mirror", "loops")):
            if super().suitable(other):
                return bool(super().suitable(other))
        return False


def test_an_overridden_suitable_that_only_narrows_keeps_its_patterns_text() -> None:
    """Most extractors that override `suitable` only exclude URLs another one takes;
    what their pattern requires still rules them out. Any other code is always asked."""
    from vigil.capture.extractors import _texts

    assert _texts(_NarrowingIE) == (("://narrow.example/", False),)
    assert _texts(_NarrowingInStepsIE) == (("://steps.example/", False),)
    assert _texts(_WideningIE) is None
    assert _texts(_ReturnsTrueIE) is None
    assert _texts(_OtherIE) == (("://other.example/", False),)
    mirror, other = "https://mirror.example/1", "https://other.example/1"
    for unsure, accepted in (
        (_RebindsUrlIE, mirror),
        (_AsksAboutAnotherUrlIE, mirror),
        (_AsksAnotherClassIE, other),
        (_WalrusIE, mirror),
        (_LoopsIE, mirror),
    ):  # each accepts a URL without the text its pattern requires: always asked
        assert unsure.suitable(accepted) and not unsure._match_valid_url(accepted)
        assert _texts(unsure) is None, unsure
