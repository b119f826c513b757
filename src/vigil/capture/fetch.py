"""What fetching over HTTP shares: its options, what a fetch observed, the gate that
spaces requests to one host, and the requests session the watch polls through.

Captures themselves fetch through `vigil.capture.httpwarc`, recording every
exchange; polls are not evidence (they decide what to capture) and go through
requests (`polite_session`).
"""

from __future__ import annotations

import os
import re
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

if TYPE_CHECKING:
    from vigil.blobs.base import StoredBlob

__all__ = [
    "DEFAULT_USER_AGENT",
    "HOST_GATE",
    "FetchOptions",
    "Fetched",
    "ca_bundle",
    "polite_session",
    "reason",
]

DEFAULT_USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0 Safari/537.36"
)
"""A common browser's: archivers that announce themselves get blocked by those they document."""


@dataclass(frozen=True)
class FetchOptions:
    user_agent: str = DEFAULT_USER_AGENT
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    max_bytes: int = 1 << 30
    max_redirects: int = 20
    verify_tls: bool | str = True  # True, False, or a CA bundle path
    retries: int = 2  # for connection failures and 502/503/504
    host_gap: float = 0.0  # seconds between two requests to one host (in this process)


@dataclass
class Fetched:
    """What one `get` observed (the exchange itself is in the WARC)."""

    url: str
    final_url: str
    status: int | None
    content_type: str = ""
    hops: list[dict[str, Any]] = field(default_factory=list)
    truncated: bool = False  # the body read is not the whole decoded body (`problem` says why)
    problem: str = ""
    body: bytes = b""  # kept only for HTML when asked (to find media and text)
    blob: StoredBlob | None = None  # the body as read, stored
    record: dict[str, str | None] = field(default_factory=dict)  # its WARC response record
    request_headers: dict[str, str] = field(default_factory=dict)  # sent for the last hop


def polite_session(options: FetchOptions) -> requests.Session:
    """A session that retries connection failures and 502/503/504 a few times, backing off.

    Every attempt of a capture is recorded in the WARC (the exchanges happened).
    """
    retry = Retry(
        total=options.retries,
        connect=options.retries,
        read=0,  # never re-read a response that started arriving: it is recorded as it came
        status=options.retries,
        backoff_factor=0.5,
        status_forcelist=(502, 503, 504),
        allowed_methods=frozenset({"GET", "HEAD"}),
        raise_on_status=False,
        respect_retry_after_header=True,
    )
    session = requests.Session()
    session.trust_env = _environment_matters()
    session.mount("http://", _PoliteAdapter(options.host_gap, max_retries=retry))
    session.mount("https://", _PoliteAdapter(options.host_gap, max_retries=retry))
    session.headers["User-Agent"] = options.user_agent
    return session


class _HostGate:
    """When the next request to each host may go: every session of this process (all
    the fetching threads, the watch's polls and captures) waits its turn here."""

    def __init__(self) -> None:
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, host: str, gap: float) -> None:
        if gap <= 0:
            return
        with self._lock:
            now = time.monotonic()
            turn = max(now, self._next.get(host, now))
            self._next[host] = turn + gap
        if turn > now:
            time.sleep(turn - now)


HOST_GATE = _HostGate()


class _PoliteAdapter(HTTPAdapter):
    """requests' adapter, spacing the requests to one host *gap* seconds apart (each
    redirect hop and medium counts; urllib3's own retries wait their backoff)."""

    def __init__(self, gap: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gap = gap

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        HOST_GATE.wait(urlsplit(request.url or "").hostname or "", self.gap)
        return super().send(request, *args, **kwargs)


def _environment_matters() -> bool:
    """Whether requests must read the environment for every request: proxies, ~/.netrc
    (or NETRC). Without them, skipping it changes nothing but the proxy lookups requests
    repeats for every request (about 1.5 ms a page); a CA bundle named by the
    environment is then applied by `ca_bundle` instead."""
    if urllib.request.getproxies() or "NETRC" in os.environ:  # (and macOS system proxies)
        return True
    try:
        home = Path.home()
    except RuntimeError:  # no HOME, no passwd entry: no ~/.netrc either
        return False
    return (home / ".netrc").exists() or (home / "_netrc").exists()


def ca_bundle(verify: bool | str) -> bool | str:
    """What requests verifies against: as it does, REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE
    stand in for the default (True)."""
    if verify is True:
        return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    return verify


def reason(exc: BaseException) -> str:
    """The innermost cause, on one line (requests and urllib3 nest errors deeply)."""
    if isinstance(getattr(exc, "reason", None), BaseException):  # urllib3's MaxRetryError
        exc = exc.reason  # type: ignore[attr-defined]
    while exc.__context__ is not None and not str(exc):
        exc = exc.__context__
    text = str(exc.args[0]) if exc.args else str(exc)
    inner = exc.args[-1] if len(exc.args) > 1 else None  # ProtocolError("...", cause)
    if isinstance(inner, BaseException) and (cause := reason(inner)) not in text:
        text = f"{text.rstrip('.')}: {cause}"
    text = re.sub(r"^\w*Pool\(host=[^)]*\): ", "", text)  # (urllib3 names its pool first)
    if "Connection refused" in text:
        return "connection refused"
    if "Name or service not known" in text or "nodename nor servname" in text:
        return "unknown host"
    return " ".join(text.split())[:300]
