"""Files only their owner can read, whatever the umask, and a data directory kept private."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from logsight.config import Settings
from logsight.local.runtime import private_data_dir
from logsight.private_files import (
    create_private_once,
    make_private_directory,
    open_private_log,
    write_private,
)


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    """The modes must not depend on a careful umask."""
    previous = os.umask(0o000)
    yield
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_written_files_are_private_and_replace_the_old_one(tmp_path: Path) -> None:
    path = tmp_path / "runtime.json"
    path.write_text("old")
    path.chmod(0o644)

    write_private(path, "new")

    assert (path.read_text(), mode(path)) == ("new", 0o600)
    assert [p.name for p in tmp_path.iterdir()] == ["runtime.json"]  # no temporary left


def test_created_once_keeps_the_first_text(tmp_path: Path) -> None:
    path = tmp_path / "app.password"

    assert create_private_once(path, lambda: "first\n") == ("first\n", True)
    assert create_private_once(path, lambda: "second\n") == ("first\n", False)
    assert mode(path) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["app.password"]


def test_a_log_made_readable_by_an_older_version_becomes_private(tmp_path: Path) -> None:
    path = tmp_path / "postgresql.log"
    path.write_text("before\n")
    path.chmod(0o644)

    with open_private_log(path) as log:
        log.write(b"after\n")

    assert (path.read_text(), mode(path)) == ("before\nafter\n", 0o600)
    with open_private_log(tmp_path / "new.log"):
        pass
    assert mode(tmp_path / "new.log") == 0o600


def test_directories_are_closed_or_only_traversable_by_one_group(tmp_path: Path) -> None:
    closed, passable = tmp_path / "a" / "closed", tmp_path / "passable"
    passable.mkdir(mode=0o755)

    make_private_directory(closed)
    make_private_directory(passable, traverse_group=os.getgid())

    assert mode(closed) == 0o700
    assert (mode(passable), passable.stat().st_gid) == (0o710, os.getgid())


def test_a_shared_directory_is_refused_as_data_directory(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    settings = Settings(data_dir=shared, database_url="postgresql://127.0.0.1/unused")

    with pytest.raises(SystemExit, match="shared directory"):
        private_data_dir(settings)
    assert mode(shared) == 0o1777

    own = tmp_path / "own"
    assert private_data_dir(settings.model_copy(update={"data_dir": own})) == own
    assert mode(own) == 0o700
