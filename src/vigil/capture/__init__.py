"""Ways evidence comes in: local files now; web, platforms, streams and imports later."""
