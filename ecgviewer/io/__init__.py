"""Readers: ``load(path) -> Recording`` for every registered format."""

from ecgviewer.io import tabular, wfdb_reader  # noqa: F401  (import registers the readers)
from ecgviewer.io.registry import READERS, Reader, detect, load, register

__all__ = ["READERS", "Reader", "detect", "load", "register"]
