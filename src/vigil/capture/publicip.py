"""The capturing machine's public IP address, when it can be known.

A server sees the capturer's public address, not the one its network card holds,
and what a server shows can depend on it (a country's version of a page, a block).
Issue 3 asks captures to record it "if known". Knowing it means asking someone, and
that request tells a third party that this machine is capturing now, so it is
**opt-in**, set by the operator:

* ``VIGIL_PUBLIC_IP``: the address, as the operator states it (behind a known VPN
  exit, say); recorded as stated;
* ``VIGIL_PUBLIC_IP_URL``: a service answering the caller's address as plain text
  (``https://api.ipify.org``, or one the group runs); asked with a short timeout,
  at most once an hour per process (a long watch notices a network that moved; a
  service that failed is asked again after ten minutes), and recorded with the
  service and when it was asked.

Unset, nothing is recorded. An answer that is not an IP address is not recorded
(the problem is logged). Public packages never hold it: it is in the capture
events, which they leave out.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import os
import threading
import time

import requests

from vigil.events import rfc3339, utc_now

__all__ = ["forget", "public_ip"]

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_asked: dict[str, tuple[float, dict[str, str] | None]] = {}  # URL -> (when, what it answered)
_KEEP, _KEEP_FAILED = 3600.0, 600.0  # seconds an answer, or a failure, is reused
_clock = time.monotonic


def public_ip() -> dict[str, str] | None:
    """``{"address", "how", "at"?}`` if the operator set up a way to know it, else None."""
    stated = os.environ.get("VIGIL_PUBLIC_IP", "").strip()
    if stated:
        if _valid(stated):
            return {"address": stated, "how": "stated by the operator (VIGIL_PUBLIC_IP)"}
        logger.warning("VIGIL_PUBLIC_IP=%r is not an IP address: not recorded", stated)
        return None
    url = os.environ.get("VIGIL_PUBLIC_IP_URL", "").strip()
    if not url:
        return None
    with _lock:  # (held while asking: the threads of a run ask once between them)
        at, answer = _asked.get(url, (-math.inf, None))
        if _clock() - at > (_KEEP if answer else _KEEP_FAILED):
            answer = _ask(url)
            _asked[url] = (_clock(), answer)
        return answer


def _ask(url: str) -> dict[str, str] | None:
    try:
        with requests.get(url, timeout=5, stream=True) as response:
            answer = response.raw.read(100, decode_content=True).decode("ascii", "replace").strip()
            ok = response.status_code == 200
    except (requests.RequestException, OSError) as exc:
        logger.warning("public IP: %s did not answer (%s): not recorded", url, exc)
        return None
    if not ok or not _valid(answer):
        logger.warning("public IP: %s answered %r: not recorded", url, answer[:60])
        return None
    return {"address": answer, "how": f"as {url} saw this machine", "at": rfc3339(utc_now())}


def _valid(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def forget() -> None:
    """Ask again on the next capture (tests; a long-running watch whose network moved)."""
    with _lock:
        _asked.clear()
