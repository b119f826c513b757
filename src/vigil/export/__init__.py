"""Evidence packages (WACZ) and their offline verifier."""
