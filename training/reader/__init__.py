"""Recipe for the sentence-level answer model ("reader").

``python -m training.reader all --seed 0`` builds the SQuAD pairs, trains the
cross-encoder, exports it to ONNX int8, writes the fixture and the held-out
figures, and the model card. See docs/reader-model.md.
"""
