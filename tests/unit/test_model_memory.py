"""``MemoryTrimmer``: freed native memory goes back to the OS, and trimming is rate-limited."""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

import pytest

from monitor.stages.model.memory import MemoryTrimmer


def _rss_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_trimming_is_rate_limited() -> None:
    trimmer = MemoryTrimmer(interval_s=60)
    assert trimmer.available  # this suite runs on glibc Linux
    assert trimmer.maybe_trim() is True
    assert trimmer.maybe_trim() is False and trimmer.trims == 1
    assert MemoryTrimmer(interval_s=0).maybe_trim() is False  # 0 switches it off


@pytest.mark.skipif(not MemoryTrimmer().available, reason="malloc_trim exists only in glibc")
def test_a_trim_returns_freed_heap_memory_to_the_os() -> None:
    """200 MB of small blocks freed behind one live block stay resident (glibc cannot shrink the heap past it)
    until a trim gives the pages back: the situation of a worker after thousands of differently shaped batches."""
    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
    blocks = []
    for _ in range(200_000):
        block = libc.malloc(1024)
        libc.memset(block, 1, 1024)
        blocks.append(block)
    pin = libc.malloc(1024)  # keeps the heap's top in use
    for block in blocks:
        libc.free(block)
    before = _rss_mb()
    assert MemoryTrimmer(interval_s=1).maybe_trim()
    after = _rss_mb()
    libc.free(pin)
    assert before - after > 100, (before, after)
