"""Evidence packages: WACZ-valid, self-verifying offline, and every alteration named."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import sys
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, db_url, run_vigil
from tests.ledger.localtsa import LocalTsa
from vigil.archive import Archive
from vigil.errors import InputError
from vigil.export import verify as standalone
from vigil.export.package import export_package
from vigil.export.verify import Failed, check_token, verify_package
from vigil.ledger.stamping import timestamp_checkpoint
from vigil.ledger.timestamps import load_certificates

WACZ = shutil.which("wacz") or str(Path(sys.executable).parent / "wacz")


def exported(
    captured: tuple[Archive, list[str]], tmp_path: Path
) -> tuple[Archive, list[str], Path]:
    archive, refs = captured
    package = tmp_path / "case.wacz"
    export_package(archive, refs, package)
    return archive, refs, package


def rewrite(package: Path, change: Callable[[str, bytes], bytes | None]) -> None:
    """Rewrite the zip with *change*(name, data) applied (None drops the member)."""
    out = package.with_suffix(".tmp")
    with zipfile.ZipFile(package) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = change(info.filename, src.read(info))
            if data is not None:
                dst.writestr(info, data)
    out.replace(package)


def test_package_is_valid_wacz_and_verifies_offline(
    captured: tuple[Archive, list[str]], tmp_path: Path
) -> None:
    archive, refs = captured
    package = tmp_path / "case.wacz"
    result = export_package(archive, refs, package, title="Case 17")
    assert len(result.items) > len(refs)  # the page brings its WARC, media and text
    validated = subprocess.run(
        [WACZ, "validate", "-f", str(package)], capture_output=True, text=True
    )
    assert validated.returncode == 0 and "Validation succeeded" in validated.stdout, (
        validated.stdout
    )
    problems, checked = verify_package(package, archive.verifier.vkey)
    assert problems == []
    assert any(f"{result.entries} ledger entries proven" in line for line in checked)
    with zipfile.ZipFile(package) as zf:
        names = zf.namelist()
        assert any(n.startswith("archive/") and n.endswith(".warc.gz") for n in names)
        cdx = zf.read("indexes/index.cdx").decode()
        assert "/page.html" in cdx and '"filename"' in cdx
        pages = [json.loads(line) for line in zf.read("pages/pages.jsonl").splitlines()]
        assert pages[0]["format"] == "json-pages-1.0" and pages[1]["url"].endswith("/page.html")
        for ref in refs:  # each original, byte for byte
            row = archive.item(ref)
            item = json.loads(zf.read(f"items/{ref}.item"))
            assert zf.read(item["file"]) == archive.blobs.path(row.sha256).read_bytes()
            assert [s["entry"] for s in item["custody"]] == archive.index.item_event_indexes(ref)
        assert "Evidence package" in zf.read("report/report.html").decode()
        pdf = zf.read("report/report.pdf")
        assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF") and len(pdf) > 10_000
        assert result.problems == []
        digest = json.loads(zf.read("datapackage-digest.json"))
        assert digest["signedData"]["algorithm"] == "Ed25519"


def test_the_verifier_needs_only_the_standard_library_and_cryptography(
    captured: tuple[Archive, list[str]], tmp_path: Path
) -> None:
    archive, _refs, package = exported(captured, tmp_path)
    source = Path(standalone.__file__).read_text()
    imports = [
        line.split()[1] for line in source.splitlines() if line.startswith(("import ", "from "))
    ]
    assert all(
        m.split(".")[0] in sys.stdlib_module_names | {"cryptography", "__future__"} for m in imports
    )
    # Run as a lone file, outside the package, as an expert would.
    lone = tmp_path / "verify_package.py"
    shutil.copy(standalone.__file__, lone)
    key = tmp_path / "trusted.vkey"
    key.write_text(archive.verifier.vkey + "\n")
    ran = subprocess.run(
        [sys.executable, "-I", str(lone), str(package), "--key", str(key), "--json"],
        capture_output=True, text=True, cwd=tmp_path,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["ok"] is True


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("files/", "does not match its SHA-256/size in datapackage.json"),
        ("archive/", "does not match its SHA-256/size in datapackage.json"),
        ("proofs/", "the entry is not in the signed tree"),
        ("datapackage.json", "the signature does not hold"),
        ("vigil/checkpoint.note", "vigil/checkpoint.note"),
    ],
)
def test_every_alteration_is_named(
    captured: tuple[Archive, list[str]], tmp_path: Path, target: str, expected: str
) -> None:
    archive, _refs, package = exported(captured, tmp_path)
    touched: list[str] = []

    def flip(name: str, data: bytes) -> bytes:
        if (
            name.startswith(target)
            and not touched
            and len(data) > 2
            and (target != "proofs/" or name.endswith(".entry"))
        ):
            touched.append(name)
            if name == "datapackage.json":  # a consistent rewrite: only the signature can tell
                package_data = json.loads(data)
                package_data["title"] = "altered"
                return json.dumps(package_data).encode()
            return data[:-2] + bytes([data[-2] ^ 1]) + data[-1:]
        return data

    rewrite(package, flip)
    if target in ("proofs/", "vigil/checkpoint.note", "datapackage.json"):
        # Recompute the file listing so that only the deeper check can catch it.
        with zipfile.ZipFile(package) as zf:
            members = {n: zf.read(n) for n in zf.namelist()}
        listing = json.loads(members["datapackage.json"])
        for resource in listing["resources"]:
            body = members[resource["path"]]
            resource["hash"], resource["bytes"] = (
                f"sha256:{hashlib.sha256(body).hexdigest()}",
                len(body),
            )
        rewrite(
            package, lambda n, d: json.dumps(listing).encode() if n == "datapackage.json" else d
        )
    problems, _ = verify_package(package, archive.verifier.vkey)
    assert touched and problems
    assert any(expected in p for p in problems), problems
    named = touched[0] if target != "datapackage.json" else "datapackage-digest.json"
    assert any(p.startswith(named) or named in p for p in problems), problems


def test_wrong_key_missing_file_and_garbage(
    captured: tuple[Archive, list[str]], tmp_path: Path
) -> None:
    archive, _refs, package = exported(captured, tmp_path)
    other = Archive.init(tmp_path / "other")
    problems, _ = verify_package(package, other.verifier.vkey)
    assert any("not the key you trust" in p for p in problems)
    dropped: list[str] = []

    def drop(name: str, data: bytes) -> bytes | None:
        if name.startswith("files/") and not dropped:
            dropped.append(name)
            return None
        return data

    rewrite(package, drop)
    problems, _ = verify_package(package, archive.verifier.vkey)
    assert f"{dropped[0]}: listed in datapackage.json but missing" in problems
    junk = tmp_path / "junk.wacz"
    junk.write_bytes(b"not a zip")
    problems, _ = verify_package(junk)
    assert problems == [f"{junk}: unreadable package (BadZipFile: File is not a zip file)"]


def test_public_package_leaves_out_what_identifies(
    captured: tuple[Archive, list[str]], tmp_path: Path
) -> None:
    archive, refs = captured
    package = tmp_path / "public.wacz"
    export_package(archive, refs, package, public=True)
    with zipfile.ZipFile(package) as zf:
        names = zf.namelist()
        assert not any(n.startswith("proofs/") for n in names)
        text = b"".join(zf.read(n) for n in names if n.startswith(("items/", "report/")))
    assert str(archive.root).encode() not in text  # no paths of the people who hold it
    assert b'"user"' not in text and b'"host"' not in text
    problems, checked = verify_package(package, archive.verifier.vkey)
    assert problems == [] and any("public package" in line for line in checked)


def test_timestamps_travel_with_the_package_and_are_checked(
    captured: tuple[Archive, list[str]], tmp_path: Path
) -> None:
    archive, refs = captured
    with LocalTsa() as tsa:
        done, _ = timestamp_checkpoint(archive, [tsa.url], chains={tsa.url: [tsa.root]})
    assert done
    package = tmp_path / "stamped.wacz"
    # The stamped checkpoint is the one the package proves into (no entries since).
    result = export_package(archive, refs, package)
    assert result.timestamps == 1 and result.checkpoint_size == done[0].checkpoint_size
    problems, checked = verify_package(package, archive.verifier.vkey)
    assert problems == []
    assert any("by O=Vigil tests,CN=Vigil Test TSA" in line for line in checked), checked
    # A token altered in the package (its listing made to match) is named.
    with zipfile.ZipFile(package) as zf:
        token_name = next(n for n in zf.namelist() if n.endswith(".tsr"))
    flipped = {}

    def flip(name: str, data: bytes) -> bytes:
        if name == token_name:
            data = data[:-10] + bytes([data[-10] ^ 1]) + data[-9:]
            flipped["data"] = data
        return data

    rewrite(package, flip)
    problems, _ = verify_package(package, archive.verifier.vkey)
    assert any(p.startswith(token_name) for p in problems), problems


def test_cli_export_and_verify_package(captured: tuple[Archive, list[str]], tmp_path: Path) -> None:
    archive, refs = captured
    package = tmp_path / "cli.wacz"
    args = [a for ref in refs for a in ("--items", ref)]
    out = run_vigil("export", *args, "-o", package, "--json", archive_path=archive.root,
                    database_url=db_url(archive), check=True)  # fmt: skip
    assert json.loads(out.stdout)["checkpoint"] > 0
    key = tmp_path / "k.vkey"
    key.write_text(archive.verifier.vkey + "\n")
    ok = run_vigil("verify-package", package, "--key", key, archive_path=archive.root)
    assert ok.returncode == 0 and "package verifies" in ok.stdout
    rewrite(package, lambda n, d: d + b"x" if n.startswith("files/") else d)
    bad = run_vigil("verify-package", package, "--json", archive_path=archive.root)
    assert bad.returncode == 1 and json.loads(bad.stdout)["ok"] is False
    wrong = run_vigil(
        "export", "--items", refs[0], "-o", tmp_path / "x.zip", archive_path=archive.root
    )
    assert wrong.returncode == 1 and ".wacz" in wrong.stderr
    found = run_vigil("export", "--query", "تذكرونا", "-o", tmp_path / "q.wacz", "--json",
                      archive_path=archive.root, database_url=db_url(archive), check=True)  # fmt: skip
    page = next(i for i in archive.items() if i.kind == "page")
    assert page.id in json.loads(found.stdout)["items"]
    none = run_vigil("export", "--query", "nowhere-to-be-found", "-o", tmp_path / "n.wacz",
                     archive_path=archive.root, database_url=db_url(archive))  # fmt: skip
    assert none.returncode == 1 and "no item matches" in none.stderr
    both = run_vigil("export", "--all", "--query", "x", "-o", tmp_path / "b.wacz",
                     archive_path=archive.root, database_url=db_url(archive))  # fmt: skip
    assert both.returncode == 1 and "one of them" in both.stderr


# -- the standalone RFC 3161 check, on the real responses ----------------------------------

TSA = FIXTURES / "tsa"


def chain(name: str) -> list:
    return load_certificates((TSA / name).read_bytes())


@pytest.mark.parametrize(
    ("token", "certs", "message"),
    [
        ("test_tsa/response.tsr", "test_tsa/ts_chain.pem", b"hello"),
        ("sigstage/response-sha256.tsr", "sigstage/ts_chain.pem", b"hello"),
        ("sigstage/response-sha384.tsr", "sigstage/ts_chain.pem", b"hello"),
        ("sigstage/response-sha512.tsr", "sigstage/ts_chain.pem", b"hello"),
        ("sigstage/response-no-embedded-cert.tsr", "sigstage/ts_chain.pem", b"hello"),
        ("identrust/issue-104.tsr", "identrust/ts_chain.pem", b"hello"),
        ("sigstore.mock/response-expired.tsr", "sigstore.mock/ts_chain.pem", None),
    ],
)
def test_standalone_token_check_accepts_the_valid_fixtures(
    token: str, certs: str, message: bytes | None
) -> None:
    data = message if message is not None else (TSA / "sigstore.mock" / "payload").read_bytes()
    said = check_token((TSA / token).read_bytes(), data, chain(certs))
    assert " by " in said and " under root " in said


@pytest.mark.parametrize(
    ("token", "certs", "message", "reason"),
    [
        (
            "sigstage/response-invalid-signature.tsr",
            "sigstage/ts_chain.pem",
            b"hello",
            "signature does not verify",
        ),
        ("test_tsa/response.tsr", "test_tsa/ts_chain.pem", b"other", "stamps another message"),
        ("test_tsa/other_response.tsr", "test_tsa/ts_chain.pem", b"hello", "issuer"),
    ],
)
def test_standalone_token_check_rejects_for_the_right_reason(
    token: str, certs: str, message: bytes, reason: str
) -> None:
    with pytest.raises(Failed, match=reason):
        check_token((TSA / token).read_bytes(), message, chain(certs))


def test_flipping_any_byte_of_any_file_is_named(
    captured: tuple[Archive, list[str]], tmp_path: Path
) -> None:
    archive, _refs, package = exported(captured, tmp_path)
    with zipfile.ZipFile(package) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    tried = 0
    for name, data in members.items():
        if not data:
            continue  # a zero-byte original has no byte to flip (its size is still checked)
        copy = tmp_path / f"flip-{tried}.wacz"
        shutil.copy(package, copy)
        middle = len(data) // 2
        changed = data[:middle] + bytes([data[middle] ^ 0x20]) + data[middle + 1 :]
        rewrite(copy, lambda n, d, name=name, changed=changed: changed if n == name else d)
        problems, _ = verify_package(copy, archive.verifier.vkey)
        assert any(name in p for p in problems), (name, problems)
        tried += 1
    assert tried >= 40


def test_added_removed_and_reordered_entries_are_detected(
    captured: tuple[Archive, list[str]], tmp_path: Path
) -> None:
    archive, _refs, package = exported(captured, tmp_path)
    added = tmp_path / "added.wacz"
    shutil.copy(package, added)
    with zipfile.ZipFile(added, "a") as zf:
        zf.writestr("files/extra.txt", b"planted later")
    assert "files/extra.txt: not listed in datapackage.json" in verify_package(added)[0]
    # Swap two proven entries (their listing made to match): the proofs no longer hold.
    with zipfile.ZipFile(package) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    entries = sorted(n for n in members if n.endswith(".entry"))[:2]
    swapped = {entries[0]: members[entries[1]], entries[1]: members[entries[0]]}
    listing = json.loads(members["datapackage.json"])
    for resource in listing["resources"]:
        if resource["path"] in swapped:
            body = swapped[resource["path"]]
            resource["hash"] = "sha256:" + hashlib.sha256(body).hexdigest()
            resource["bytes"] = len(body)
    rewrite(
        package,
        lambda n, d: swapped.get(n, json.dumps(listing).encode() if n == "datapackage.json" else d),
    )
    problems, _ = verify_package(package, archive.verifier.vkey)
    for name in entries:
        assert any(p.startswith(name) and "not in the signed tree" in p for p in problems), problems


@pytest.mark.parametrize(
    ("build", "reason"),
    [
        (lambda zf: zf.writestr("../evil.txt", b"x"), "zip slip"),
        (lambda zf: zf.writestr("/etc/evil.txt", b"x"), "zip slip"),
        (lambda zf: zf.writestr(_symlink("files/link.txt"), "/etc/passwd"), "symbolic link"),
        (lambda zf: [zf.writestr("files/a.txt", b"1"), zf.writestr("files/a.txt", b"2")], "twice"),
        (lambda zf: zf.writestr("files/bomb.bin", b"\0" * (64 << 20)), "inflates"),
    ],
)
def test_hostile_packages_are_refused_and_nothing_is_written(
    tmp_path: Path, build: Callable[[zipfile.ZipFile], object], reason: str
) -> None:
    package = tmp_path / "hostile" / "p.wacz"
    package.parent.mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name
        with zipfile.ZipFile(package, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("datapackage.json", b"{}")
            build(zf)
    before = sorted(p for p in tmp_path.rglob("*"))
    problems, _ = verify_package(package)
    assert any(reason in p for p in problems), problems
    assert sorted(p for p in tmp_path.rglob("*")) == before  # nothing extracted, anywhere
    assert not (tmp_path / "evil.txt").exists()


def _symlink(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = 0o120777 << 16
    return info


def test_a_package_is_consistent_with_the_archive_later(
    captured: tuple[Archive, list[str]], tmp_path: Path, evidence: Path
) -> None:
    archive, refs = captured
    package = tmp_path / "then.wacz"
    then = export_package(archive, refs, package).checkpoint_size
    (evidence / "later.txt").write_text("added after the package was made\n")
    archive.add_paths([evidence / "later.txt"])
    url = archive.index.engine.url
    db = (
        url.render_as_string(hide_password=False)
        if url.get_backend_name() == "postgresql"
        else None
    )
    made = run_vigil("consistency", str(then), "--out", tmp_path / "later", "--json",
                     archive_path=archive.root, database_url=db, check=True)  # fmt: skip
    later = json.loads(made.stdout)
    assert later["size"] > then
    newer = (Path(later["note"]).read_text(), [
        base64.b64decode(line) for line in Path(later["proof"]).read_text().split()
    ])  # fmt: skip
    problems, checked = verify_package(package, archive.verifier.vkey, newer)
    assert problems == [] and any("consistent with the newer checkpoint" in c for c in checked)
    forged = (newer[0], [bytes(32), *newer[1][1:]])
    problems, _ = verify_package(package, archive.verifier.vkey, forged)
    assert problems == ["newer checkpoint: the consistency proof does not hold"]
    cli = run_vigil("verify-package", package, "--newer", later["note"], "--consistency",
                    later["proof"], archive_path=archive.root)  # fmt: skip
    assert cli.returncode == 0, cli.stderr


def test_a_damaged_original_stops_the_export_and_leaves_nothing(
    captured: tuple[Archive, list[str]], tmp_path: Path
) -> None:
    archive, refs = captured
    row = archive.item(refs[0])
    blob = archive.blobs.path(row.sha256)
    blob.chmod(0o644)
    blob.write_bytes(blob.read_bytes() + b"tampered")
    package = tmp_path / "out" / "case.wacz"
    package.parent.mkdir()
    with pytest.raises(InputError, match=f"blob {row.sha256} is damaged"):
        export_package(archive, refs, package)
    assert list(package.parent.iterdir()) == []
