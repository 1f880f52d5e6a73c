"""citeqa service."""
