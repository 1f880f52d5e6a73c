"""citeqa command line: the composition root that wires indexing, service and eval."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("citeqa")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0"
