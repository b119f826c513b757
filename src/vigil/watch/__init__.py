"""Watched sources: the list, one poll of a source, the watch loop, and takedown checks."""
