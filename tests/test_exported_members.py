"""The public API is what `__all__` says, and every name in it exists."""

from __future__ import annotations

import importlib

import pytest

import vigil

MODULES = [
    "vigil",
    "vigil.archive",
    "vigil.blobs",
    "vigil.capture.adding",
    "vigil.capture.files",
    "vigil.db",
    "vigil.errors",
    "vigil.events",
    "vigil.ledger.checkpoint",
    "vigil.ledger.log",
    "vigil.ledger.merkle",
    "vigil.ledger.note",
    "vigil.ledger.proofcheck",
    "vigil.ledger.tlogproof",
    "vigil.verify",
]


@pytest.mark.parametrize("name", MODULES)
def test_every_exported_name_exists(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__all__, name
    for member in module.__all__:
        assert hasattr(module, member), f"{name}.{member}"


def test_every_error_derives_from_vigil_error() -> None:
    errors = importlib.import_module("vigil.errors")
    for member in errors.__all__:
        assert issubclass(getattr(errors, member), vigil.VigilError), member


def test_version_is_the_package_version() -> None:
    from importlib.metadata import version

    assert vigil.__version__ == version("vigil")
