"""``make help`` lists every target the Makefile declares."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def declared_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return {target for line in re.findall(r"^\.PHONY:(.*)$", text, re.M) for target in line.split()}


def test_make_help_lists_every_target() -> None:
    listing = subprocess.run(
        ["make", "--no-print-directory", "help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    listed = {line.split()[1] for line in listing.splitlines() if line.startswith("make ")}
    assert len(declared_targets()) >= 20
    assert declared_targets() - listed == set()
    for line in listing.splitlines():
        assert len(line.split(maxsplit=2)) == 3, f"no description: {line!r}"
