"""The human-readable report of an evidence package (HTML, self-contained, printable)."""

from __future__ import annotations

import datetime as dt
import html
import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

from vigil import __version__
from vigil.findings import FINDING

__all__ = ["PdfJob", "render_report"]

logger = logging.getLogger(__name__)

STYLE = """
body { font-family: "DejaVu Sans", Arial, sans-serif; margin: 2em; color: #111; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 2em; border-bottom: 1px solid #999; }
table { border-collapse: collapse; width: 100%; margin: .5em 0; font-size: .9em;
        table-layout: fixed; }
td, th { border: 1px solid #ccc; padding: 3px 6px; text-align: left; vertical-align: top; }
code { font-size: .85em; word-break: break-all; }
pre { white-space: pre-wrap; font-family: "DejaVu Sans Mono", monospace; font-size: .75em; }
h2 { page-break-after: avoid; }
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _field_lines(pairs: list[tuple[str, Any]]) -> list[str]:
    """``label   value`` lines, aligned (a preformatted block lays out many times faster
    than paragraphs or tables in a report of a thousand items)."""
    return [f"{label:<22} {value}" for label, value in pairs if value not in (None, "")]


def _item(item: dict[str, Any]) -> str:
    exported, redacted = item.get("exported") or {}, "redacted" in item
    custody = item.get("custody", [])
    first = custody[0]["event"] if custody else {}
    capture = first.get("capture") or first.get("fetched") or {}
    tools = capture.get("tools") if isinstance(capture, dict) else None
    lines = _field_lines(
        [
            ("name", item.get("name")),
            ("file in this package", item.get("file")),
            ("SHA-256", item.get("sha256")),
            ("size", f"{int(item['size']):,} bytes" if "size" in item else None),
            ("SHA-256 of the file here", exported.get("sha256") if redacted else None),
            (
                "size of the file here",
                f"{int(exported.get('size', 0)):,} bytes" if redacted else None,
            ),
            ("media type (sniffed)", item.get("media_type")),
            ("URL", item.get("url")),
            ("captured with / of", item.get("parent_id")),
            ("logged at (UTC)", item.get("added_at")),
            ("tools", json.dumps(tools) if tools else None),
        ]
    )
    if item.get("claimed"):
        lines.append("claims (as the item or its platform states them; not verified by us):")
        lines += [f"  {key}: {json.dumps(value, ensure_ascii=False)}"
                  for key, value in item["claimed"].items()]  # fmt: skip
    found = [s for s in custody if s["event"].get("type") == FINDING]
    if found:
        lines.append("verification findings (Berkeley Protocol; the latest per aspect counts):")
        for step in found:
            event = step["event"]
            value = f" = {event['value']}" if event.get("value") else ""
            relied = ", ".join(e["item"] for e in event.get("evidence", []))
            lines.append(
                f"  entry {step['entry']}: {event.get('at')} {event.get('aspect')}"
                f" {str(event.get('result')).upper()}{value}, by"
                f" {event.get('actor', {}).get('user')}: {event.get('method')}"
                + (f" (relying on {relied})" if relied else "")
            )
    elif custody:
        lines.append("verification findings: none recorded")
    if item.get("redacted"):
        copy = item["redacted"]
        lines.append(f"public copy: redacted item {copy.get('item')} by {copy.get('tool')}")
    if custody:
        lines.append("custody (each entry proven in proofs/):")
        for step in custody:
            event, actor = step["event"], step["event"].get("actor", {})
            lines.append(
                f"  entry {step['entry']}: {event.get('at')} {event.get('type')}"
                f" by {actor.get('tool')} {actor.get('version')}"
            )
    heading = f"<h2 id='{_e(item['id'])}'>{_e(item.get('kind'))} {_e(item['id'])}</h2>"
    return heading + "<pre>" + _e("\n".join(lines)) + "</pre>"


def render_report(
    origin: str, items: list[dict[str, Any]], checkpoint_size: int, timestamps: int
) -> str:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    stamped = (
        f"{timestamps} RFC 3161 timestamp(s) of that checkpoint are in timestamps/."
        if timestamps
        else "That checkpoint carries no RFC 3161 timestamp."
    )
    head = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Evidence package report</title>
<style>{STYLE}</style></head><body>
<h1>Evidence package: {len(items)} items</h1>
<p>Made {now} by Vigil {_e(__version__)} from archive <code>{_e(origin)}</code>.
Every file's SHA-256 is in <code>datapackage.json</code>, whose digest is signed with the
archive's Ed25519 key (<code>datapackage-digest.json</code>, key in
<code>vigil/verifier.vkey</code>). Every ledger entry below is proven into the signed
checkpoint <code>vigil/checkpoint.note</code> (tree size {checkpoint_size}) by
<code>proofs/&lt;entry&gt;.tlog-proof</code>. {_e(stamped)}</p>
<p>To check all of it offline:
<code>python -m vigil.export.verify PACKAGE.wacz --key KEY.vkey</code>
(Python standard library and <code>cryptography</code> only), or by hand following
<code>docs/packages.md</code>.</p>
<table><tr><th>item</th><th>kind</th><th>name</th></tr>
"""
    index = "".join(
        f"<tr><td><a href='#{_e(i['id'])}'>{_e(i['id'])}</a></td><td>{_e(i.get('kind'))}</td>"
        f"<td>{_e(i.get('name'))}</td></tr>"
        for i in items
    )
    body = "\n".join(_item(i) for i in items)
    return head + index + "</table>\n" + body + "\n</body></html>\n"


class PdfJob:
    """The report rendered to PDF by WeasyPrint (Pango shapes Arabic) in a child process,
    while the export copies the originals: a long report takes as long as the copy."""

    def __init__(self, report_html: str, scratch: Path) -> None:
        self.html = scratch / "report.html"
        self.pdf = scratch / "report.pdf"
        self.html.write_text(report_html, encoding="utf-8")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "vigil.export.report", str(self.html), str(self.pdf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def result(self) -> bytes | None:
        """The PDF, or None when WeasyPrint or its Pango library cannot run here."""
        _, err = self.process.communicate()
        if self.process.returncode != 0 or not self.pdf.exists():
            logger.warning("no PDF report: %s", err.decode(errors="replace").strip()[-300:])
            return None
        return self.pdf.read_bytes()


def _render(source: Path, target: Path) -> int:
    try:
        import weasyprint
    except (ImportError, OSError) as exc:  # OSError: the Pango library is not installed
        print(f"WeasyPrint cannot run: {exc}", file=sys.stderr)
        return 1
    html = source.read_text(encoding="utf-8")
    weasyprint.HTML(string=html).write_pdf(target)
    return 0


if __name__ == "__main__":
    sys.exit(_render(Path(sys.argv[1]), Path(sys.argv[2])))
