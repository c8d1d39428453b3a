"""Process-wide allocator settings for long, paged work.

glibc's malloc serves every block over its mmap threshold with a fresh mapping and hands freed
memory at the heap's top back to the system. A 24 h beat list allocates the same few-megabyte
arrays for each of 1,440 pages, so it kept faulting in zeroed pages: a third of the delineator's
time (benchmarks/README.md, "beat list"). Raising both thresholds lets freed blocks be reused;
the peak is still one page's working set. Set with ``mallopt`` (glibc's documented interface);
other allocators are left as they are.
"""

from __future__ import annotations

import ctypes
import sys
from functools import cache

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # <malloc.h>
MMAP_THRESHOLD = 32 << 20  # the largest glibc takes on 64-bit systems
TRIM_THRESHOLD = 256 << 20


@cache
def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds, once per process; False where malloc is not glibc's."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None)
    if not hasattr(libc, "gnu_get_libc_version"):  # musl and others: their own allocator, no mallopt
        return False
    return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
