"""The `vigil` command: parse, call the library, print; map errors to messages and exit codes.

Exit codes: 0 success; 1 a failure the user should look at (verification found
problems, some files could not be added, or any Vigil error); 2 bad usage.
"""

from __future__ import annotations

import importlib
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape

from vigil import __version__
from vigil.archive import Archive
from vigil.errors import VigilError
from vigil.settings import SETTINGS

__all__ = ["COMMAND_MODULES", "NO_ENRICH", "State", "cli", "emit_json", "main", "pass_state"]

F = TypeVar("F", bound=Callable[..., Any])


class State:
    """What every command shares: where the archive is, how to print."""

    def __init__(self, archive: str, database_url: str | None) -> None:
        self.archive_path = Path(archive)
        self.database_url = database_url
        self.out = Console(highlight=False, soft_wrap=True)
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)

    def open(self) -> Archive:
        return Archive.open(self.archive_path, database_url=self.database_url)


pass_state = click.make_pass_decorator(State)

NO_ENRICH = click.option(
    "--no-enrich", is_flag=True, envvar="VIGIL_NO_ENRICH",
    help="Do not run `vigil enrich` on what was stored ($VIGIL_NO_ENRICH=1).",
)  # fmt: skip


def emit_json(data: Any) -> None:
    """Print *data* as JSON on stdout (one document, or one line when streaming)."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _setting_options(func: F) -> F:
    for setting in reversed(SETTINGS):
        func = click.option(
            setting.option,
            setting.name,
            envvar=setting.env,
            default=setting.default,
            show_default=True,
            show_envvar=True,
            help=setting.help,
        )(func)
    return func


# The module defining each command, imported when the command is asked for: `vigil
# capture` need not load the export, search or enrichment code (a second or more of
# start-up). `--help` lists and so loads them all; a test holds this table complete.
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(
        ["init", "add", "ls", "show", "custody", "checkpoint", "key", "proof", "verify",
         "reindex"], ("vigil.cli.commands",)),
    **dict.fromkeys(["seal", "unseal", "sealed", "redact"], ("vigil.cli.access",)),
    **dict.fromkeys(["capture", "import"], ("vigil.cli.capture",)),
    "casualties": ("vigil.cli.casualties", "vigil.cli.linkage"),
    **dict.fromkeys(["enrich", "similar", "clusters"], ("vigil.cli.enrich",)),
    **dict.fromkeys(["export", "verify-package", "consistency"], ("vigil.cli.export",)),
    **dict.fromkeys(["incident", "finding", "findings"], ("vigil.cli.incidents",)),
    **dict.fromkeys(["verify-proof", "demo"], ("vigil.cli.offline",)),
    "record": ("vigil.cli.record",),
    "search": ("vigil.cli.search",),
    "timestamp": ("vigil.cli.stamp",),
    **dict.fromkeys(["source", "watch", "recheck"], ("vigil.cli.watch",)),
}  # fmt: skip


class _Group(click.Group):
    """Loads each command's module when it is asked for (`COMMAND_MODULES`); turns every
    `VigilError` into one clear line on stderr and exit code 1."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(COMMAND_MODULES))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        for module in COMMAND_MODULES.get(cmd_name, ()):
            importlib.import_module(module)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except VigilError as exc:
            Console(stderr=True, highlight=False, soft_wrap=True).print(
                f"[bold red]vigil: error:[/] {escape(str(exc))}"
            )
            sys.exit(1)
        except BrokenPipeError:
            sys.exit(1)


@click.group(
    cls=_Group,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=(
        "Example:\n\n\b\n  vigil --archive ./archive init\n  vigil add ~/evidence/\n  vigil verify"
    ),
)
@_setting_options
@click.option("-v", "--verbose", count=True, help="Say more about what happens (repeat for debug).")
@click.version_option(__version__, prog_name="vigil")
@click.pass_context
def cli(ctx: click.Context, archive: str, database_url: str | None, verbose: int) -> None:
    """Vigil: keep what was posted, prove it was not altered, let anyone check offline."""
    level = (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    logging.basicConfig(level=level, format="vigil: %(levelname)s: %(message)s")
    ctx.obj = State(archive, database_url)


def main() -> None:
    cli(prog_name="vigil")
