"""Ways evidence comes in: local files, web pages; platforms, streams and imports to come.

warcio records HTTP by replacing ``http.client.HTTPConnection`` when it is first
imported; urllib3 (under requests) subclasses whatever class it finds when *it*
is imported. So warcio's recorder is imported here, before any capture module can
import requests. `vigil.capture.fetch.WarcSession` refuses to run if the order was
broken anyway (requests imported by someone else first), rather than capture nothing.
"""

import warcio.capture_http  # noqa: F401  (must precede any import of urllib3)
