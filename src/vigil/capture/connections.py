"""One fetching thread's HTTP connections: urllib3 pools, their proxies, the TLS trust,
and when a connection may carry the next request.

A connection is kept open from one capture to the next (a server is spared a new
connection, and TLS handshake, per page), and reused only when it was left clean
and recently (`_Kept`): its response read to the end, no byte waiting on it (over
TLS, none already decrypted), and unused for at most `IDLE` seconds. Recording is
per exchange (`vigil.capture.wire`), so a reused connection records each capture's
exchanges into that capture's WARC only.

Proxies come from the environment, read once, as requests reads them (``http_proxy``,
``https_proxy``, ``all_proxy`` for a scheme without its own, ``no_proxy`` with hosts,
domains and CIDR ranges; credentials in the proxy's URL). ``~/.netrc`` is not read: a
capture never sends the operator's credentials to the site it documents.
"""

from __future__ import annotations

import os
import time
import urllib.request
from typing import Any
from urllib.parse import unquote, urlsplit

import certifi
import requests.utils
import urllib3
import urllib3.connection
from urllib3.util.retry import Retry

from vigil.capture.fetch import FetchOptions, ca_bundle
from vigil.errors import CaptureError

__all__ = ["IDLE", "HttpClient"]

IDLE = 4.0
"""Seconds a connection may stay unused and still be reused: under the shortest
keep-alive timeouts servers commonly use (5 s: Apache's, Node's), so a server does not
close a connection just as a request goes out on it (the request would fail, not be
retried: see ``read`` in `HttpClient`). One the server closed already is never reused."""


class _Kept:
    """Reused only if left clean and recently (urllib3 asks ``is_connected`` before it
    hands out a pooled connection, and makes a new one if it is False)."""

    idle_since = 0.0

    @property
    def is_connected(self) -> bool:
        sock = getattr(self, "sock", None)
        if sock is None or time.monotonic() - self.idle_since > IDLE:
            return False
        pending = getattr(sock, "pending", None)  # TLS: bytes decrypted, not read
        if pending is not None and pending():
            return False
        return bool(super().is_connected)  # type: ignore[misc]  # (nothing readable waits)


class _HTTPConnection(_Kept, urllib3.connection.HTTPConnection):
    pass


class _HTTPSConnection(_Kept, urllib3.connection.HTTPSConnection):
    pass


class _Pool:
    """A pool noting when each connection came back to it (urllib3 gives it back through
    ``_put_conn``: after a body read to its end, and after a failure, closed)."""

    def _put_conn(self, conn: Any) -> None:
        if isinstance(conn, _Kept):
            conn.idle_since = time.monotonic()
        super()._put_conn(conn)  # type: ignore[misc]


class _HTTPPool(_Pool, urllib3.HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(_Pool, urllib3.HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class HttpClient:
    """One fetching thread's connections (its urllib3 pool managers), with the options
    every request of it uses: retries, timeouts, TLS trust, proxies."""

    def __init__(self, options: FetchOptions) -> None:
        self.options = options
        self.retries = Retry(
            total=options.retries,
            connect=options.retries,
            read=0,  # never re-read a response that started arriving: it is recorded as it came
            status=options.retries,
            redirect=False,  # (followed by `WarcSession.get`, hop by hop)
            backoff_factor=0.5,
            status_forcelist=(502, 503, 504),
            allowed_methods=frozenset({"GET", "HEAD"}),
            raise_on_status=False,
            respect_retry_after_header=True,
        )
        self.timeout = urllib3.Timeout(connect=options.connect_timeout, read=options.read_timeout)
        self._tls = _tls_settings(options.verify_tls)
        self._proxies = {k: v for k, v in urllib.request.getproxies().items() if k != "no"}
        self._managers: dict[str, urllib3.PoolManager] = {}

    def manager(self, url: str) -> urllib3.PoolManager:
        """The pool manager for *url*: direct, or through its scheme's proxy."""
        proxy = self._proxies.get(urlsplit(url).scheme) or self._proxies.get("all", "")
        if proxy and requests.utils.should_bypass_proxies(url, no_proxy=None):
            proxy = ""
        manager = self._managers.get(proxy)
        if manager is None:
            settings: dict[str, Any] = {"num_pools": 32, "maxsize": 1, **self._tls}
            manager = _proxy_manager(proxy, settings) if proxy else urllib3.PoolManager(**settings)
            manager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}
            self._managers[proxy] = manager
        return manager

    def close(self) -> None:
        for manager in self._managers.values():
            manager.clear()
        self._managers.clear()


def _proxy_manager(proxy: str, settings: dict[str, Any]) -> urllib3.ProxyManager:
    """A manager through *proxy*: a URL, or host:port (http:// then, as requests takes
    it); credentials in it are sent as Basic ``Proxy-Authorization``."""
    proxy = proxy if "://" in proxy else f"http://{proxy}"
    parts = urlsplit(proxy)
    headers = None
    if parts.username is not None:
        userinfo = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        headers = urllib3.make_headers(proxy_basic_auth=userinfo)
    try:
        return urllib3.ProxyManager(proxy, proxy_headers=headers, **settings)
    except (ValueError, urllib3.exceptions.HTTPError) as exc:
        raise CaptureError(f"the proxy {parts.hostname or proxy} cannot be used: {exc}") from None


def _tls_settings(verify: bool | str) -> dict[str, Any]:
    """urllib3's TLS settings for *verify* (True, False or a CA bundle file or folder),
    trusting by default what requests trusts (certifi, or the bundle the environment
    names); `CaptureError` naming a bundle that is not there."""
    chosen = ca_bundle(verify)
    if chosen is False:
        return {"cert_reqs": "CERT_NONE", "assert_hostname": False}
    bundle = certifi.where() if chosen is True else str(chosen)
    if not os.path.exists(bundle):
        raise CaptureError(f"{bundle}: no such CA bundle (file or folder of certificates)")
    where = "ca_cert_dir" if os.path.isdir(bundle) else "ca_certs"
    return {"cert_reqs": "CERT_REQUIRED", where: bundle}
