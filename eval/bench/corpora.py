"""Benchmark corpora built at run time (the RGB file is read, never copied)."""

from eval.rgb import RGB_DEV, load_rgb, write_rgb_corpus

__all__ = ["RGB_DEV", "load_rgb", "write_rgb_corpus"]
