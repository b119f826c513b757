"""Ways evidence comes in: local files, web pages, platforms, streams and imports.

The HTTP recorder (`vigil.capture.wire`) must be imported before urllib3: the
package `vigil` imports it first, so before any capture module.
"""
