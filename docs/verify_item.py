#!/usr/bin/env python3
"""Check one Vigil item offline, without Vigil: a reference for docs/verification.md.

Needs Python 3.11+ and the `cryptography` package (for Ed25519), nothing else. Every step
follows a public specification, named where it happens, so that it can be re-implemented
in any language.

    python3 verify_item.py --key archive.vkey --entry 0.json --proof 0.tlog-proof [--blob FILE]

Exit status 0 if everything checks, 1 otherwise (with the reason).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


class Failed(Exception):
    pass


def parse_vkey(vkey: str) -> tuple[str, bytes, Ed25519PublicKey]:
    """C2SP signed-note verifier key: <name>+<key id, 8 hex>+<base64(0x01 || 32-byte key)>."""
    name, key_id_hex, key_b64 = vkey.strip().split("+", 2)
    raw = base64.b64decode(key_b64, validate=True)
    if len(raw) != 33 or raw[0] != 0x01:
        raise Failed("the key is not an Ed25519 verifier key")
    key_id = hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4]
    if key_id.hex() != key_id_hex:
        raise Failed("the key id does not match the key")
    return name, key_id, Ed25519PublicKey.from_public_bytes(raw[1:])


def open_note(note: str, name: str, key_id: bytes, key: Ed25519PublicKey) -> str:
    """C2SP signed note: the text ends at the last blank line; then '— <name> <base64(id||sig)>'."""
    split = note.rindex("\n\n")
    text, signatures = note[: split + 1], note[split + 2 :]
    for line in signatures.splitlines():
        if not line.startswith("\u2014 "):
            raise Failed(f"malformed signature line {line!r}")
        signer, sig_b64 = line[2:].split(" ")
        sig = base64.b64decode(sig_b64, validate=True)
        if signer == name and sig[:4] == key_id:
            try:
                key.verify(sig[4:], text.encode())
            except InvalidSignature:
                raise Failed("the checkpoint signature does not verify with the key") from None
            return text
    raise Failed("the checkpoint carries no signature by this key")


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: list[bytes]) -> bytes:
    """RFC 9162 section 2.1.3.2."""
    if index >= size:
        raise Failed("index outside the tree")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise Failed("proof too long")
        if fn & 1 or fn == sn:
            r = hashlib.sha256(b"\x01" + p + r).digest()
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = hashlib.sha256(b"\x01" + r + p).digest()
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise Failed("proof too short")
    return r


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--key", required=True, help="file holding the archive's verifier key")
    parser.add_argument("--entry", required=True, help="<n>.json: the ledger entry's exact bytes")
    parser.add_argument("--proof", required=True, help="<n>.tlog-proof: C2SP tlog-proof@v1")
    parser.add_argument("--blob", help="the item's original file, to check against the entry")
    args = parser.parse_args()
    try:
        name, key_id, key = parse_vkey(Path(args.key).read_text(encoding="utf-8"))
        entry = Path(args.entry).read_bytes()
        lines = Path(args.proof).read_text(encoding="utf-8").split("\n")
        # C2SP tlog-proof: header, optional "extra", "index N", hashes, blank line, checkpoint.
        if lines[0] != "c2sp.org/tlog-proof@v1":
            raise Failed("not a tlog-proof@v1 file")
        at = 2 if lines[1].startswith("extra ") else 1
        index = int(lines[at].removeprefix("index "))
        blank = lines.index("", at)
        proof = [base64.b64decode(h, validate=True) for h in lines[at + 1 : blank]]
        note = "\n".join(lines[blank + 1 :])
        # C2SP tlog-checkpoint: origin, tree size, base64 root hash (signed as a note).
        origin, size_text, root_b64 = open_note(note, name, key_id, key).split("\n")[:3]
        size, root = int(size_text), base64.b64decode(root_b64, validate=True)
        print(f"checkpoint: signed by {name}, origin {origin}, {size} entries")
        # RFC 9162 section 2.1.1: leaf hash = SHA-256(0x00 || entry).
        leaf = hashlib.sha256(b"\x00" + entry).digest()
        if root_from_inclusion_proof(index, size, leaf, proof) != root:
            raise Failed("the entry is not in the signed tree (inclusion proof fails)")
        print(f"entry {index}: included in the signed tree")
        event = json.loads(entry)
        item, sha256 = event.get("item"), event["sha256"]
        print(f"event: {event['type']} of item {item} at {event['at']} (sha256 {sha256})")
        if args.blob:
            with open(args.blob, "rb") as f:  # streamed: works for a 10 GB video too
                digest = hashlib.file_digest(f, "sha256").hexdigest()
            if digest != sha256 or Path(args.blob).stat().st_size != event.get("size"):
                raise Failed("the file is not the one the entry names")
            print(f"file {args.blob}: matches the entry byte for byte")
    except (Failed, ValueError, KeyError, OSError) as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
