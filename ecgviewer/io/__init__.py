"""Readers: ``load(path) -> Recording`` for every registered format."""

from ecgviewer.io import edf_reader, ishne_reader, tabular, vendor, wfdb_reader  # noqa: F401  (registers)
from ecgviewer.io.registry import READERS, Reader, detect, load, register

__all__ = ["READERS", "Reader", "detect", "load", "register"]
