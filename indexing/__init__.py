"""citeqa indexing: corpus loading, chunking, embeddings and the Chroma store."""
