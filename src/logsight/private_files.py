"""Files and directories only their owner can read: secrets, state and logs kept on disk.

Every file is created with mode 0600 from its first byte (``mkstemp`` and ``os.open`` with an
explicit mode, whatever the umask), and files holding secrets appear under their final name only
once complete, so no reader ever sees a partial or world-readable version.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

PRIVATE_FILE = 0o600
PRIVATE_DIRECTORY = 0o700
# Owner: everything; the group: enter (to reach a path inside), not list; others: nothing.
TRAVERSABLE_BY_GROUP = 0o710


def _write_temporary(directory: Path, name: str, text: str, owner: tuple[int, int] | None) -> str:
    fd, temp = tempfile.mkstemp(dir=directory, prefix=f".{name}.")  # always 0600
    try:
        if owner is not None:
            os.fchown(fd, *owner)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    return temp


def write_private(path: Path, text: str, *, owner: tuple[int, int] | None = None) -> None:
    """Replace ``path`` atomically with a 0600 file holding ``text``, owned by ``owner``
    ((uid, gid); default: this process)."""
    temp = _write_temporary(path.parent, path.name, text, owner)
    try:
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


def create_private_once(path: Path, make: Callable[[], str]) -> tuple[str, bool]:
    """The text of ``path``, written (0600) from ``make()`` when the file does not exist yet.

    Returns (text, created). Processes racing to create it agree on one text: the file is
    linked into place only if nobody else got there first.
    """
    with contextlib.suppress(FileNotFoundError):
        return path.read_text(encoding="utf-8"), False
    text = make()
    temp = _write_temporary(path.parent, path.name, text, None)
    try:
        os.link(temp, path)
    except FileExistsError:
        return path.read_text(encoding="utf-8"), False
    finally:
        os.unlink(temp)
    return text, True


def open_private_log(path: Path) -> BinaryIO:
    """``path`` opened for appending, 0600 (also when an older version was readable by others)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, PRIVATE_FILE)
    try:
        os.fchmod(fd, PRIVATE_FILE)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "ab")


def make_private_directory(path: Path, *, traverse_group: int | None = None) -> None:
    """Create ``path`` (and missing parents) and make it 0700; with ``traverse_group``, 0710
    with that group, so members can pass through to a directory of their own inside it but
    can neither list it nor read anything that is not theirs."""
    path.mkdir(mode=PRIVATE_DIRECTORY, parents=True, exist_ok=True)
    st = path.stat()
    mode = PRIVATE_DIRECTORY
    if traverse_group is not None:
        mode = TRAVERSABLE_BY_GROUP
        if st.st_gid != traverse_group:
            os.chown(path, -1, traverse_group)
    if stat.S_IMODE(st.st_mode) != mode:
        path.chmod(mode)
