"""The allocator setting for paged work: large blocks come from the heap and stay there when freed,
instead of being mapped afresh (zeroed pages faulted in) for every page of a long recording."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

from ecgviewer.memory import keep_freed_memory


class _Mallinfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
                     "fordblks", "keepcost")
    ]  # fmt: skip


def test_a_freed_block_is_reused_not_mapped_afresh():
    if not keep_freed_memory():
        pytest.skip("malloc here is not glibc's: its own policy applies")
    libc = ctypes.CDLL(None)
    if not hasattr(libc, "mallinfo2"):
        pytest.skip("glibc older than 2.33: no mallinfo2 to look with")
    libc.mallinfo2.restype = _Mallinfo2
    mapped = libc.mallinfo2().hblks
    block = np.ones(16 << 17)  # 16 MiB, over glibc's default mmap threshold of 128 KiB
    assert libc.mallinfo2().hblks == mapped  # from the heap, not its own mapping
    heap = libc.mallinfo2().arena
    del block
    assert libc.mallinfo2().arena == heap  # kept for the next page, not handed back
