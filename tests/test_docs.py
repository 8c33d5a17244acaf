"""Documentation that must stay true: every setting in the README, the published schema."""

from __future__ import annotations

import json
from pathlib import Path

from logsight.config import Settings
from logsight.event_schema import event_schema

ROOT = Path(__file__).resolve().parents[1]


def test_every_setting_is_documented_with_its_default() -> None:
    readme = (ROOT / "README.md").read_text()
    for name, field in Settings.model_fields.items():
        default = field.default
        if isinstance(default, Path):
            default = default.as_posix()
        shown = "unset" if default is None else f"`{default}`"
        assert f"| `LOGSIGHT_{name.upper()}` | {shown} |" in readme, name


def test_readme_starts_with_the_two_commands() -> None:
    head = (ROOT / "README.md").read_text()[:1500]
    assert "make local" in head
    assert "make test" in head


def test_published_event_schema_is_current() -> None:
    published = json.loads((ROOT / "docs" / "event.schema.json").read_text())
    assert published == event_schema(), "run `make schema`"
