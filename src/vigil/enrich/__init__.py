"""Derivations computed from items (metadata, provenance, perceptual hashes, OCR, text)."""
