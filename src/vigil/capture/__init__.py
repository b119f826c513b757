"""Ways evidence comes in: local files, web pages, platforms, streams and imports.

The HTTP recorder (`vigil.capture.wire`) is imported by the package `vigil` itself,
so before any capture module runs.
"""
