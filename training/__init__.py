"""Training recipes. Never imported by the product (citeqa, service, indexing, eval)."""
