"""Check a Vigil evidence package offline: ``python -m vigil.export.verify PACKAGE.wacz``.

Self-contained on purpose: the Python standard library and ``cryptography``, nothing
of Vigil, so an expert can read it in one sitting (``docs/packages.md`` is the same
procedure in words). Every problem is reported, naming the file or entry; the exit
status is 1 if there is any.

1. Every file is listed in ``datapackage.json`` with its SHA-256 and size, and matches.
2. ``datapackage-digest.json`` holds the SHA-256 of ``datapackage.json``, signed
   (Ed25519, over the ``sha256:…`` string) by the key in ``vigil/verifier.vkey``,
   which must equal the key you trust (``--key``) when given.
3. ``vigil/checkpoint.note`` is a C2SP checkpoint signed by that key.
4. Every ``proofs/<n>.entry`` entry is in that checkpoint's tree (RFC 9162 inclusion,
   ``proofs/<n>.tlog-proof``, C2SP tlog-proof@v1 against that same checkpoint).
5. Every item's file is the one its proven ``item.added`` entry names (SHA-256, size).
6. Every RFC 3161 token in ``timestamps/`` stamps the checkpoint note: status granted,
   imprint, the CMS signature by the certificate the SignerInfo names, with the
   critical timeStamping key usage, issued by the root stored beside it, valid at
   genTime. Whether that root deserves trust is for you to decide: it is printed.
7. With ``--newer NOTE --consistency PROOF``: the package's checkpoint is a prefix of
   a newer checkpoint (RFC 9162 consistency proof, one base64 hash per line).
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import json
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.x509.oid import ExtendedKeyUsageOID

__all__ = ["verify_package"]


class Failed(Exception):
    pass


# -- C2SP signed notes and RFC 9162 ----------------------------------------------------


def parse_vkey(vkey: str) -> tuple[str, bytes, Ed25519PublicKey]:
    """C2SP verifier key: <name>+<key id, 8 hex>+<base64(0x01 || 32-byte Ed25519 key)>."""
    name, key_id_hex, key_b64 = vkey.strip().split("+", 2)
    raw = base64.b64decode(key_b64, validate=True)
    if len(raw) != 33 or raw[0] != 0x01:
        raise Failed("not an Ed25519 verifier key")
    key_id = hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4]
    if key_id.hex() != key_id_hex:
        raise Failed("the key id does not match the key")
    return name, key_id, Ed25519PublicKey.from_public_bytes(raw[1:])


def open_checkpoint(
    note: str, name: str, key_id: bytes, key: Ed25519PublicKey
) -> tuple[int, bytes]:
    """(size, root) of a C2SP tlog-checkpoint signed as a C2SP signed note by the key."""
    split = note.rindex("\n\n")
    text, signatures = note[: split + 1], note[split + 2 :]
    for line in signatures.splitlines():
        signer, _, sig_b64 = line.removeprefix("\u2014 ").partition(" ")
        sig = base64.b64decode(sig_b64, validate=True)
        if signer == name and sig[:4] == key_id:
            try:
                key.verify(sig[4:], text.encode())
            except InvalidSignature:
                raise Failed("the checkpoint signature does not verify") from None
            _origin, size, root = text.split("\n")[:3]
            return int(size), base64.b64decode(root, validate=True)
    raise Failed("the checkpoint carries no signature by this key")


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def inclusion_root(index: int, size: int, leaf: bytes, proof: list[bytes]) -> bytes:
    """RFC 9162 section 2.1.3.2."""
    if index >= size:
        raise Failed("index outside the tree")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise Failed("inclusion proof too long")
        if fn & 1 or fn == sn:
            r = _node(p, r)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = _node(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise Failed("inclusion proof too short")
    return r


def consistent(size1: int, root1: bytes, size2: int, root2: bytes, proof: list[bytes]) -> bool:
    """RFC 9162 section 2.1.4.2."""
    if size1 == size2:
        return root1 == root2 and not proof
    if size1 == 0 or size1 > size2:
        return size1 == 0
    path = [root1, *proof] if size1 & (size1 - 1) == 0 else list(proof)
    if not path:
        return False
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = _node(c, fr), _node(c, sr)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = _node(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == root1 and sr == root2 and sn == 0


# -- a little DER, for RFC 3161 tokens (RFC 5652 SignedData, RFC 3161 TSTInfo) ------------


def _der(data: bytes, at: int = 0) -> tuple[int, int, int]:
    """(tag, start of contents, end of contents) of the DER element at *at*."""
    tag, length = data[at], data[at + 1]
    at += 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[at : at + count], "big")
        at += count
    return tag, at, at + length


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """(tag, element start, contents start, end) of each element in data[start:end]."""
    out, at = [], start
    while at < end:
        tag, c0, c1 = _der(data, at)
        out.append((tag, at, c0, c1))
        at = c1
    return out


_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "2.16.840.1.101.3.4.2.1": hashes.SHA256,
    "2.16.840.1.101.3.4.2.2": hashes.SHA384,
    "2.16.840.1.101.3.4.2.3": hashes.SHA512,
}


def _oid(raw: bytes) -> str:
    parts = [raw[0] // 40, raw[0] % 40]
    value = 0
    for byte in raw[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(value)
            value = 0
    return ".".join(map(str, parts))


def _inner(data: bytes, element: tuple[int, int, int, int]) -> list[tuple[int, int, int, int]]:
    return _children(data, element[2], element[3])


def _value(data: bytes, element: tuple[int, int, int, int]) -> bytes:
    return data[element[2] : element[3]]


def _hash(oid: str, data: bytes) -> bytes:
    if oid not in _HASHES:
        raise Failed(f"unknown hash algorithm {oid}")
    digest = hashes.Hash(_HASHES[oid]())
    digest.update(data)
    return digest.finalize()


def check_token(token: bytes, message: bytes, chain: list[x509.Certificate]) -> str:
    """Verify an RFC 3161 TimeStampResp over *message*; say when, by whom, under which root."""
    response = _children(token, 0, len(token))[0]
    status_info, content_info = _inner(token, response)[:2]
    if int.from_bytes(_value(token, _inner(token, status_info)[0]), "big") not in (0, 1):
        raise Failed("the TSA did not grant this timestamp")
    signed_data = _inner(token, _inner(token, _inner(token, content_info)[1])[0])
    encap = _inner(token, signed_data[2])  # eContentType, [0] EXPLICIT OCTET STRING
    tst_info = _value(token, _inner(token, encap[1])[0])
    certs = [token[c[1] : c[3]] for e in signed_data if e[0] == 0xA0 for c in _inner(token, e)]
    si = _inner(token, _inner(token, signed_data[-1])[0])
    # TSTInfo: version, policy, messageImprint {algorithm, hashedMessage}, serial, genTime.
    tst = _inner(tst_info, _children(tst_info, 0, len(tst_info))[0])
    algorithm, hashed = _inner(tst_info, tst[2])
    if _value(tst_info, hashed) != _hash(
        _oid(_value(tst_info, _inner(tst_info, algorithm)[0])), message
    ):
        raise Failed("the token stamps another message")
    when = _value(tst_info, tst[4]).decode().rstrip("Z").split(".")[0]
    gen_time = dt.datetime.strptime(when, "%Y%m%d%H%M%S").replace(tzinfo=dt.UTC)
    # SignerInfo: version, sid {issuer, serial}, digestAlgorithm, [0] signedAttrs,
    # signatureAlgorithm, signature.
    issuer, serial = _inner(token, si[1])
    pool = [x509.load_der_x509_certificate(c) for c in certs] + chain
    number = int.from_bytes(_value(token, serial), "big", signed=True)
    name = token[issuer[1] : issuer[3]]
    signer = next(
        (c for c in pool if c.serial_number == number and c.issuer.public_bytes() == name), None
    )
    if signer is None:
        raise Failed("no certificate matches the SignerInfo")
    at = next(n for n, e in enumerate(si) if e[0] == 0xA0)
    attrs, signature = si[at], _value(token, si[at + 2])
    digest_oid = _oid(_value(token, _inner(token, si[2])[0]))
    covered = None
    for attr in _inner(token, attrs):
        kind, values = _inner(token, attr)
        if _oid(_value(token, kind)) == "1.2.840.113549.1.9.4":  # messageDigest
            covered = _value(token, _inner(token, values)[0])
    if covered != _hash(digest_oid, tst_info):
        raise Failed("the signed attributes do not cover this TSTInfo")
    signed_attrs = b"\x31" + token[attrs[1] + 1 : attrs[3]]  # [0] IMPLICIT -> SET OF, as signed
    key = signer.public_key()
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, signed_attrs, ec.ECDSA(_HASHES[digest_oid]()))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, signed_attrs, padding.PKCS1v15(), _HASHES[digest_oid]())
        else:
            raise Failed("unsupported TSA key type")
    except InvalidSignature:
        raise Failed("the TSA's signature does not verify") from None
    try:
        eku = signer.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        raise Failed("the signer has no extended key usage") from None
    if not eku.critical or ExtendedKeyUsageOID.TIME_STAMPING not in eku.value:
        raise Failed("the signer lacks the critical timeStamping extended key usage")
    cert = signer
    for _ in range(8):  # up to a self-signed root, every certificate valid at genTime
        if not cert.not_valid_before_utc <= gen_time <= cert.not_valid_after_utc:
            raise Failed(f"{cert.subject.rfc4514_string()} was not valid at genTime")
        if cert.issuer == cert.subject:
            break
        parent = next((c for c in pool if c.subject == cert.issuer), None)
        if parent is None:
            raise Failed(f"no issuer of {cert.subject.rfc4514_string()} beside the token")
        try:
            cert.verify_directly_issued_by(parent)
        except (ValueError, TypeError, InvalidSignature):
            raise Failed(f"{cert.subject.rfc4514_string()} is not signed by its issuer") from None
        cert = parent
    return (
        f"{gen_time.isoformat()} by {signer.subject.rfc4514_string()}"
        f" under root {cert.subject.rfc4514_string()}"
    )


# -- the package ---------------------------------------------------------------------------


def _tlog_proof(text: str) -> tuple[int, list[bytes], str]:
    """C2SP tlog-proof@v1: header, optional extra, "index N", hashes, blank line, checkpoint."""
    lines = text.split("\n")
    if lines[0] != "c2sp.org/tlog-proof@v1":
        raise Failed("not a tlog-proof@v1")
    at = 2 if lines[1].startswith("extra ") else 1
    blank = lines.index("", at)
    hashes_ = [base64.b64decode(h, validate=True) for h in lines[at + 1 : blank]]
    return int(lines[at].removeprefix("index ")), hashes_, "\n".join(lines[blank + 1 :])


MAX_SMALL = 64 << 20  # notes, keys, entries, proofs, item descriptions, tokens
MAX_RATIO = 200  # a member inflating more than this is a zip bomb, not evidence


def _screen(zf: zipfile.ZipFile, zip_size: int) -> list[str]:
    """Why this ZIP is hostile (we never extract it, but refuse it all the same)."""
    out, seen = [], set()
    for info in zf.infolist():
        name = info.filename
        parts = name.replace("\\", "/").split("/")
        if name.startswith("/") or "\\" in name or ".." in parts or ":" in parts[0]:
            out.append(f"{name}: a path that would leave the package (zip slip)")
        if (info.external_attr >> 16) & 0o170000 == 0o120000:
            out.append(f"{name}: a symbolic link")
        if name in seen:
            out.append(f"{name}: appears twice")
        seen.add(name)
        if info.file_size > max(info.compress_size, 1) * MAX_RATIO and info.file_size > 1 << 20:
            out.append(f"{name}: inflates {info.file_size:,} bytes from {info.compress_size:,}")
    declared = sum(i.compress_size for i in zf.infolist())
    if declared > zip_size:
        out.append(f"declares {declared:,} compressed bytes in a file of {zip_size:,}")
    return out


def _json_member(read: Callable[[str], bytes], name: str) -> dict[str, Any]:
    try:
        data = json.loads(read(name))
    except (KeyError, ValueError) as exc:
        raise Failed(f"{name}: missing or not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise Failed(f"{name}: not a JSON object")
    return data


def verify_package(
    path: Path,
    trusted_vkey: str | None = None,
    newer: tuple[str, list[bytes]] | None = None,
) -> tuple[list[str], list[str]]:
    """(problems, what was checked) for the package at *path*; no problems means it holds."""
    problems: list[str] = []
    said: list[str] = []
    try:
        _check(path, trusted_vkey, newer, problems, said)
    except Failed as exc:
        problems.append(str(exc))
    except (OSError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        problems.append(f"{path}: unreadable package ({type(exc).__name__}: {exc})")
    return problems, said


def _check(
    path: Path,
    trusted_vkey: str | None,
    newer: tuple[str, list[bytes]] | None,
    problems: list[str],
    said: list[str],
) -> None:
    with zipfile.ZipFile(path) as zf:
        hostile = _screen(zf, path.stat().st_size)
        if hostile:
            problems += hostile
            return
        names = set(zf.namelist())

        def read(name: str) -> bytes:
            if zf.getinfo(name).file_size > MAX_SMALL:
                raise Failed(f"{name}: larger than {MAX_SMALL} bytes, which it cannot be")
            return zf.read(name)

        # 1. Every file is listed, with its SHA-256 and size.
        package = _json_member(read, "datapackage.json")
        listed = {r["path"]: r for r in package.get("resources", [])}
        for name in sorted(names - {"datapackage.json", "datapackage-digest.json"} - set(listed)):
            problems.append(f"{name}: not listed in datapackage.json")
        for name, resource in sorted(listed.items()):
            if name not in names:
                problems.append(f"{name}: listed in datapackage.json but missing")
                continue
            digest, size = hashlib.sha256(), 0
            with zf.open(name) as f:
                while chunk := f.read(1 << 20):
                    digest.update(chunk)
                    size += len(chunk)
            if f"sha256:{digest.hexdigest()}" != resource.get("hash") or size != resource.get(
                "bytes"
            ):
                problems.append(f"{name}: does not match its SHA-256/size in datapackage.json")
        said.append(f"{len(listed)} files hashed against datapackage.json")
        # 2. The package digest, signed by the archive's key.
        vkey = (
            read("vigil/verifier.vkey").decode().strip() if "vigil/verifier.vkey" in names else None
        )
        digest_file = _json_member(read, "datapackage-digest.json")
        signed = digest_file.get("signedData") or {}
        expected = "sha256:" + hashlib.sha256(read("datapackage.json")).hexdigest()
        if digest_file.get("hash") != expected:
            problems.append("datapackage-digest.json: not the hash of datapackage.json")
        if trusted_vkey is not None and vkey != trusted_vkey.strip():
            problems.append("vigil/verifier.vkey: not the key you trust (--key)")
        if vkey is None:
            problems.append("vigil/verifier.vkey: missing (a public package has no proofs)")
            return
        name, key_id, key = parse_vkey(trusted_vkey or vkey)
        try:
            if signed.get("hash") != expected:
                raise Failed("signs another hash")
            key.verify(base64.b64decode(signed["signature"]), expected.encode("ascii"))
            said.append(f"datapackage.json signed by {name}")
        except (Failed, KeyError, ValueError, InvalidSignature) as exc:
            problems.append(
                f"datapackage-digest.json: the signature does not hold ({exc or 'invalid'})"
            )
        # 3. The checkpoint.
        note = read("vigil/checkpoint.note").decode()
        try:
            size, root = open_checkpoint(note, name, key_id, key)
        except (Failed, ValueError) as exc:
            problems.append(f"vigil/checkpoint.note: {exc}")
            return
        said.append(f"checkpoint of {size} entries signed by {name}")
        # 4. Every entry, proven into that checkpoint.
        entries: dict[int, dict[str, Any]] = {}
        for proof_name in sorted(
            n for n in names if n.startswith("proofs/") and n.endswith(".tlog-proof")
        ):
            entry_name = proof_name.removesuffix(".tlog-proof") + ".entry"
            try:
                index, path_hashes, proof_note = _tlog_proof(read(proof_name).decode())
                if proof_note != note:
                    raise Failed("proves into another checkpoint")
                entry = read(entry_name)
                leaf = hashlib.sha256(b"\x00" + entry).digest()
                if inclusion_root(index, size, leaf, path_hashes) != root:
                    raise Failed("the entry is not in the signed tree")
                entries[index] = json.loads(entry)
            except (Failed, KeyError, ValueError) as exc:
                problems.append(f"{entry_name} ({proof_name}): {exc}")
        said.append(f"{len(entries)} ledger entries proven into the checkpoint")
        # 5. Every item's file is the one its proven entry names.
        if package.get("vigilPublic"):
            said.append("a public package: no ledger entries (the signed datapackage vouches)")
        for item_name in sorted(n for n in names if n.startswith("items/")):
            if package.get("vigilPublic"):
                break
            item = json.loads(read(item_name))
            added = [
                s
                for s in item.get("custody", [])
                if s["event"]["type"] in ("item.added", "derivative.added")
            ]
            if not added or added[0]["entry"] not in entries:
                problems.append(f"{item_name}: its item.added entry is not proven")
                continue
            event = entries[added[0]["entry"]]
            if event != added[0]["event"] or event.get("item") != item["id"]:
                problems.append(f"{item_name}: differs from its proven ledger entry")
            file_name = item.get("file", "")
            if file_name not in listed or listed[file_name]["hash"] != f"sha256:{event['sha256']}":
                problems.append(
                    f"{file_name or item_name}: not the file entry {added[0]['entry']} names"
                )
        # 6. Timestamps of the checkpoint.
        for token_name in sorted(
            n for n in names if n.startswith("timestamps/") and n.endswith(".tsr")
        ):
            chain_pem = read(token_name.removesuffix(".tsr") + ".pem")
            try:
                chain = x509.load_pem_x509_certificates(chain_pem)
                said.append(f"{token_name}: {check_token(read(token_name), note.encode(), chain)}")
            except (Failed, ValueError, KeyError, IndexError) as exc:
                problems.append(f"{token_name}: {exc}")
        # 7. Consistency with a newer checkpoint.
        if newer is not None:
            newer_note, proof = newer
            try:
                size2, root2 = open_checkpoint(newer_note, name, key_id, key)
                if not consistent(size, root, size2, root2, proof):
                    raise Failed("the consistency proof does not hold")
                said.append(f"consistent with the newer checkpoint of {size2} entries")
            except Failed as exc:
                problems.append(f"newer checkpoint: {exc}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("package", type=Path, help="the .wacz evidence package")
    parser.add_argument("--key", type=Path, help="the archive's verifier key you trust (vkey file)")
    parser.add_argument("--newer", type=Path, help="a newer checkpoint note of the same archive")
    parser.add_argument(
        "--consistency", type=Path, help="consistency proof to --newer (base64 lines)"
    )
    parser.add_argument("--json", action="store_true", help="print the outcome as JSON")
    args = parser.parse_args(argv)
    try:
        trusted = args.key.read_text() if args.key else None
        newer = None
        if args.newer:
            proof_lines = args.consistency.read_text().split() if args.consistency else []
            newer = (
                args.newer.read_text(),
                [base64.b64decode(h, validate=True) for h in proof_lines],
            )
        problems, said = verify_package(args.package, trusted, newer)
    except (OSError, zipfile.BadZipFile, KeyError, ValueError, Failed) as exc:
        problems, said = [f"{args.package}: unreadable package ({exc})"], []
    if args.json:
        print(json.dumps({"ok": not problems, "problems": problems, "checked": said}, indent=2))
    else:
        for line in said:
            print(f"ok       {line}")
        for line in problems:
            print(f"PROBLEM  {line}", file=sys.stderr)
        print(
            "package verifies" if not problems else f"{len(problems)} problems",
            file=sys.stderr if problems else sys.stdout,
        )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
