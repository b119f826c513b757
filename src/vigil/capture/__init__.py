"""Ways evidence comes in: local files, web pages, platforms, streams and imports.

warcio's HTTP recorder must be imported before urllib3: `vigil.warcio_setup` sees
to it (imported by the package `vigil` itself, so before any capture module).
"""
