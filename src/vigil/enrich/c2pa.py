"""C2PA Content Credentials: the manifest store an image or video carries, validated
offline by c2pa-python (the C2PA reference implementation, c2pa-rs).

Remote manifests are never fetched (``verify.remote_manifest_fetch`` off): a file
whose manifest lives at a URL is recorded as such, with the URL, unvalidated.
Without a trust list every signer is ``signingCredential.untrusted`` and the best
state is ``Valid``; with one (``vigil enrich --c2pa-trust FILE``, a c2pa settings
JSON such as c2pa-python's ``trust_config_test_settings.json``) it can be
``Trusted``. The trust list's SHA-256 is part of the tool version, so changing it
makes `vigil enrich` validate again.

A file without a manifest is a result too (``present: false``), not a failure.
"""

from __future__ import annotations

import hashlib
import json
from importlib.metadata import version
from pathlib import Path
from typing import Any

from vigil.errors import InputError

SKIP_KINDS = ("screenshot", "segment", "keyframe")  # ours, or parts of a recording

__all__ = ["C2paDerivation", "read_c2pa"]

MAX_MANIFEST = 2_000_000  # characters of manifest JSON kept in the result


def _settings(trust: str | None) -> dict[str, Any]:
    settings: dict[str, Any] = json.loads(trust) if trust else {}
    settings.setdefault("verify", {})["remote_manifest_fetch"] = False
    return settings


def _codes(results: dict[str, Any], kind: str) -> list[str]:
    active = results.get("activeManifest") or {}
    return sorted({str(entry.get("code")) for entry in active.get(kind, []) or []})


def _ingredient_codes(results: dict[str, Any]) -> list[str]:
    found = set()
    for delta in results.get("ingredientDeltas") or []:
        for entry in (delta.get("validationDeltas") or {}).get("failure", []) or []:
            found.add(str(entry.get("code")))
    return sorted(found)


def read_c2pa(path: Path, media_type: str, trust: str | None = None) -> dict[str, Any]:
    """The C2PA manifest store of a file and its validation, offline."""
    import c2pa

    context = c2pa.Context(settings=c2pa.Settings.from_dict(_settings(trust)))
    try:
        with path.open("rb") as stream:
            reader = c2pa.Reader(media_type, stream, context=context)
            store = json.loads(reader.json())
            results = reader.get_validation_results() or {}
            state = reader.get_validation_state()
            embedded = reader.is_embedded()
    except Exception as exc:  # c2pa raises its own classes per cause; named by their text
        message = str(exc)
        if "ManifestNotFound" in type(exc).__name__ or message.startswith("ManifestNotFound"):
            return {"present": False}
        if message.startswith("Remote:"):
            url = message.rsplit(" ", 1)[-1]
            return {"present": True, "embedded": False, "remote_url": url,
                    "validation_state": None,
                    "note": "remote manifest not fetched (offline); not validated"}  # fmt: skip
        if "NotSupported" in message or "UnsupportedType" in message:
            return {"present": False, "note": f"format not supported by c2pa: {media_type}"}
        raise InputError(f"{path.name}: C2PA data cannot be read ({message[:300]})") from None
    manifest_json = json.dumps(store, ensure_ascii=False)
    active = store.get("manifests", {}).get(store.get("active_manifest") or "", {})
    signature = active.get("signature_info") or {}
    return {
        "present": True,
        "embedded": embedded,
        "validation_state": state,
        "failure_codes": sorted(set(_codes(results, "failure") + _ingredient_codes(results))),
        "ingredient_failure_codes": _ingredient_codes(results),
        "informational_codes": _codes(results, "informational"),
        "active_manifest": store.get("active_manifest"),
        "manifest_count": len(store.get("manifests", {})),
        "claim_generator": active.get("claim_generator")
        or [g.get("name") for g in active.get("claim_generator_info", []) or []],
        "title": active.get("title"),
        "signature_issuer": signature.get("issuer"),
        "signature_alg": signature.get("alg"),
        "signature_time": signature.get("time"),
        "store": store if len(manifest_json) <= MAX_MANIFEST else {"truncated": len(manifest_json)},
    }


class C2paDerivation:
    """Content Credentials of every image and video, validated offline."""

    name = "c2pa"

    def __init__(self, trust: str | None = None) -> None:
        self.trust = trust  # the text of a c2pa settings JSON with a trust list, if any

    def tool(self) -> str:
        import c2pa

        base = f"c2pa-python {version('c2pa-python')} (c2pa-rs {c2pa.sdk_version()})"
        if self.trust:
            base += f"; trust {hashlib.sha256(self.trust.encode()).hexdigest()[:16]}"
        return base

    def applies(self, item: Any) -> bool:
        top = str(item.media_type).split("/")[0]
        return top in ("image", "video", "audio") and item.kind not in SKIP_KINDS

    def derive(self, path: Path) -> dict[str, Any]:
        from vigil.sniff import sniff_media_type

        with path.open("rb") as f:
            media_type = sniff_media_type(f.read(8192))
        return read_c2pa(path, media_type, self.trust)
