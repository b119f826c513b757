"""Shared fixtures: real archives on SQLite and on PostgreSQL, and a real `vigil` subprocess.

PostgreSQL tests use a fresh schema in database `test` at 127.0.0.1:5432 per test.
If PostgreSQL cannot be reached they are skipped, unless VIGIL_REQUIRE_POSTGRES=1
(set by scripts/test, hence by CI), where that is a failure.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from vigil.archive import Archive

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
PG_SERVER = os.environ.get(
    "VIGIL_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _postgres_schema() -> Iterator[str]:
    engine = sa.create_engine(PG_SERVER)
    schema = f"t_{secrets.token_hex(6)}"
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    except sa.exc.OperationalError as exc:
        engine.dispose()
        if os.environ.get("VIGIL_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL at {PG_SERVER} is required but unreachable: {exc}")
        pytest.skip(f"PostgreSQL unreachable at {PG_SERVER}")
    try:
        yield f"{PG_SERVER}?options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None (SQLite inside the archive) or the URL of a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield None
    else:
        yield from _postgres_schema()


@pytest.fixture
def archive(tmp_path: Path, database_url: str | None) -> Iterator[Archive]:
    with Archive.init(tmp_path / "archive", database_url=database_url) as opened:
        yield opened


@pytest.fixture
def evidence(tmp_path: Path) -> Path:
    """A small folder of real files: text, PNG, JPEG-like bytes, nested folder, empty file."""
    root = tmp_path / "evidence"
    (root / "nested" / "deeper").mkdir(parents=True)
    (root / "statement.txt").write_text("If we all die, remember us.\n", encoding="utf-8")
    (root / "nested" / "claims.csv").write_text("source,claim\nOHCHR,at least 82\n")
    (root / "nested" / "deeper" / "page.html").write_text(
        "<!doctype html><html><body>x</body></html>"
    )
    (root / "nested" / "image.png").write_bytes(
        bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489")
        + bytes.fromhex("0000000d4944415478da63f8ffff3f0005fe02fea7d8a5e50000000049454e44ae426082")
    )
    (root / "empty.bin").write_bytes(b"")
    return root


def db_url(archive: Archive) -> str | None:
    """The archive's database for a `vigil` subprocess (None: SQLite in the archive)."""
    url = archive.index.engine.url
    return url.render_as_string(hide_password=False) if url.get_backend_name() != "sqlite" else None


def vigil_env(
    archive_path: Path, database_url: str | None, *, enrich: bool = False
) -> dict[str, str]:
    """The environment of a `vigil` subprocess. Capture and import enrich what they
    store unless told not to; tests opt in (*enrich*) where that is what they test."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    env["VIGIL_ARCHIVE"] = str(archive_path)
    if not enrich:
        env["VIGIL_NO_ENRICH"] = "1"
    if database_url:
        env["VIGIL_DATABASE_URL"] = database_url
    env["COLUMNS"] = "200"
    return env


def run_vigil(
    *args: str | Path, archive_path: Path, database_url: str | None = None, check: bool = False,
    enrich: bool = False,
) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """Run the real command line in a subprocess."""
    result = subprocess.run(
        [sys.executable, "-m", "vigil", *map(str, args)],
        env=vigil_env(archive_path, database_url, enrich=enrich),
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"vigil {args} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result
