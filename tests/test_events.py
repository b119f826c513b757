"""Events are RFC 8785 canonical JSON; the fast path agrees with the reference implementation."""

from __future__ import annotations

import json

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.errors import LedgerCorrupt
from vigil.events import canonical_json, decode_event, encode_event

_text = st.text(st.characters(codec="utf-8"), max_size=12)
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | _text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_text, children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=400)
@given(_json)
def test_fast_path_equals_rfc8785(value: object) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)


@pytest.mark.parametrize(
    "value",
    [
        {"\U0001f600": 1, "\ue000": 2},  # UTF-16 order differs from code-point order
        {"n": 1.5, "big": 1e21, "small": 1e-7},  # ECMAScript number formatting
        {"n": 2**60},
        {"s": "tab\t nul\x00 del\x7f é \u2028"},
    ],
)
def test_values_outside_the_fast_path_still_match_rfc8785(value: dict) -> None:
    try:
        expected = rfc8785.dumps(value)
    except rfc8785.CanonicalizationError:
        with pytest.raises(rfc8785.CanonicalizationError):
            canonical_json(value)
        return
    assert canonical_json(value) == expected


def _event(**extra: object) -> dict:
    return {
        "v": 1,
        "type": "item.added",
        "at": "2026-11-25T00:00:00.000000Z",
        "sha256": "a" * 64,
        "actor": {},
        **extra,
    }


def test_encode_then_decode_round_trips() -> None:
    raw = encode_event(_event(name="صورة.jpg"))
    assert b"\n" not in raw
    assert decode_event(7, raw).data["name"] == "صورة.jpg"


def test_encode_requires_the_core_fields() -> None:
    with pytest.raises(ValueError, match="sha256"):
        encode_event({"v": 1, "type": "x", "at": "t", "actor": {}})


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff\xfe", "not valid JSON"),
        (b"[1,2]", "not a JSON object"),
        (b'{"v":1}', "field 'type' missing"),
        (json.dumps(_event(), indent=1).encode(), "not in RFC 8785 canonical form"),
        (rfc8785.dumps(_event()).replace(b'"v":1', b'"v":1.0'), "field 'v' missing or not int"),
    ],
)
def test_decode_names_the_entry_and_the_problem(raw: bytes, reason: str) -> None:
    with pytest.raises(LedgerCorrupt, match=f"entry 12: {reason}"):
        decode_event(12, raw)
