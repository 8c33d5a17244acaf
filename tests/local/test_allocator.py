"""Returning the C heap's free pages after a large batch (logsight.local.allocator)."""

from __future__ import annotations

import platform
import sys
from pathlib import Path

import pytest

from logsight.local import allocator

glibc = pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="malloc_trim is glibc's",
)


def anonymous_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1])
    raise AssertionError("no RssAnon in /proc/self/status")


@glibc
def test_freed_pages_go_back_to_the_system() -> None:
    # 2 KB objects come from malloc, not Python's small-object arenas. Keeping one in eight
    # alive leaves the freed ones scattered: the heap cannot shrink from its top, so the pages
    # stay resident until they are trimmed.
    blocks = [bytes(2048) + bytes([n % 256]) for n in range(40_000)]
    kept = blocks[::8]
    del blocks
    before = anonymous_kb()
    assert allocator.trim_heap() is True
    after = anonymous_kb()
    assert before - after > 30_000, (before, after)
    assert len(kept) == 5_000


def test_no_trim_without_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(platform, "libc_ver", lambda *args, **kwargs: ("", ""))
    assert allocator.load_malloc_trim() is None


@glibc
def test_glibc_has_it() -> None:
    assert allocator.load_malloc_trim() is not None
