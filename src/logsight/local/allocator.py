"""Giving the memory a large batch used back to the operating system (glibc only).

CPython hands objects larger than 512 bytes, and the arenas of smaller ones, to the C allocator.
glibc's malloc keeps what is freed in its heaps (one per thread that allocated) for reuse; a heap
shrinks only from its top, so a batch's strings scattered through it keep the pages resident
after they are freed, and each burst larger than the last raises that high-water mark again.
``malloc_trim(0)`` returns every whole free page of every heap (madvise), which is what a
long-lived process that sees occasional large batches wants once a batch is done.
"""

from __future__ import annotations

import ctypes
import platform
import sys
from collections.abc import Callable
from functools import cache


def load_malloc_trim() -> Callable[[int], int] | None:
    # musl, macOS and Windows have no malloc_trim (musl's malloc returns memory by itself).
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return None
    try:
        function: Callable[[int], int] = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_size_t]  # type: ignore[attr-defined]
    function.restype = ctypes.c_int  # type: ignore[attr-defined]
    return function


def trim_heap() -> bool:
    """Return the C heap's free pages to the system; False where the C library cannot."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    return load_malloc_trim()
