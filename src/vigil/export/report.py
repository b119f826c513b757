"""The human-readable report of an evidence package (HTML, self-contained, printable)."""

from __future__ import annotations

import datetime as dt
import html
import json
from typing import Any

from vigil import __version__

__all__ = ["render_pdf", "render_report"]

STYLE = """
body { font-family: "DejaVu Sans", Arial, sans-serif; margin: 2em; color: #111; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 2em; border-bottom: 1px solid #999; }
table { border-collapse: collapse; width: 100%; margin: .5em 0; font-size: .9em; }
td, th { border: 1px solid #ccc; padding: 3px 6px; text-align: left; vertical-align: top; }
code { font-size: .85em; word-break: break-all; }
@media print { h2 { page-break-before: always; } }
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _rows(pairs: list[tuple[str, Any]]) -> str:
    return "".join(
        f"<tr><th>{_e(k)}</th><td>{v}</td></tr>" for k, v in pairs if v not in (None, "")
    )


def _item(item: dict[str, Any]) -> str:
    custody = item.get("custody", [])
    first = custody[0]["event"] if custody else {}
    capture = first.get("capture") or first.get("fetched") or {}
    tools = capture.get("tools") if isinstance(capture, dict) else None
    parts = [
        f"<h2 id='{_e(item['id'])}'>{_e(item.get('kind'))} {_e(item['id'])}</h2>",
        "<table>",
        _rows(
            [
                ("name", _e(item.get("name"))),
                ("file in this package", f"<code>{_e(item.get('file'))}</code>"),
                ("SHA-256", f"<code>{_e(item.get('sha256'))}</code>"),
                ("size", f"{int(item.get('size', 0)):,} bytes"),
                ("media type (sniffed from the bytes)", _e(item.get("media_type"))),
                ("URL", _e(item.get("url"))),
                ("captured with / derived from", _e(item.get("parent_id"))),
                ("logged at (our clock, UTC)", _e(item.get("added_at"))),
                ("tools", f"<code>{_e(json.dumps(tools))}</code>" if tools else None),
            ]
        ),
        "</table>",
    ]
    if item.get("claimed"):
        parts.append("<p>What the item or its platform <b>claims</b> (not verified by us):</p>")
        claimed = json.dumps(item["claimed"], ensure_ascii=False, indent=1)
        parts.append(f"<pre><code>{_e(claimed)}</code></pre>")
    if custody:
        parts.append("<p>Custody (every ledger entry naming it; each proven in proofs/):</p>")
        parts.append("<table><tr><th>entry</th><th>time (UTC)</th><th>event</th><th>by</th></tr>")
        for step in custody:
            event = step["event"]
            actor = event.get("actor", {})
            parts.append(
                f"<tr><td>{step['entry']}</td><td>{_e(event.get('at'))}</td>"
                f"<td>{_e(event.get('type'))}</td>"
                f"<td>{_e(actor.get('tool'))} {_e(actor.get('version'))}</td></tr>"
            )
        parts.append("</table>")
    return "\n".join(parts)


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
<table><tr><th>item</th><th>kind</th><th>name</th><th>SHA-256</th></tr>
"""
    index = "".join(
        f"<tr><td><a href='#{_e(i['id'])}'>{_e(i['id'])}</a></td><td>{_e(i.get('kind'))}</td>"
        f"<td>{_e(i.get('name'))}</td><td><code>{_e(i.get('sha256'))}</code></td></tr>"
        for i in items
    )
    body = "\n".join(_item(i) for i in items)
    return head + index + "</table>\n" + body + "\n</body></html>\n"


def render_pdf(report_html: str) -> bytes | None:
    """The report as PDF (WeasyPrint: Pango shapes Arabic), or None when it cannot run here."""
    try:
        import weasyprint
    except (ImportError, OSError):  # OSError: the Pango library is not installed
        return None
    pdf: bytes = weasyprint.HTML(string=report_html).write_pdf()
    return pdf
