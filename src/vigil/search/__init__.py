"""Finding items again: near-duplicate index, full-text search."""
