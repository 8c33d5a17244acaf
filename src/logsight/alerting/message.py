"""What a notification says, whatever the channel: stored as the notification's payload and
rendered by each channel module."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

NoticeKind = Literal["firing", "resolved", "repeat", "digest", "test"]


class Entry(BaseModel):
    """One state change of a rule (a digest holds several)."""

    kind: Literal["firing", "resolved", "repeat"]
    at: datetime
    summary: str = Field(description="What happened, in words: 'errors: 120 > 100 in 5 min'.")
    value: float | None = None
    threshold: float | None = None


class Notice(BaseModel):
    id: str = Field(description="The notification's id (the same in every retry).")
    kind: NoticeKind
    project_id: str
    project_name: str
    rule_id: str | None = None
    rule_name: str
    rule_kind: str | None = None
    at: datetime
    title: str = Field(description="One line: '[FIRING] Checkout errors'.")
    entries: list[Entry] = Field(default_factory=list)
    link: str = Field(description="The rule's page on the dashboard.")

    @property
    def resolved(self) -> bool:
        return self.kind == "resolved"

    def text(self) -> str:
        """Plain text for channels without rich formatting."""
        lines = [self.title, *(f"- {entry.summary}" for entry in self.entries), self.link]
        return "\n".join(lines)


def title_for(kind: NoticeKind, rule_name: str, count: int = 1) -> str:
    label = {
        "firing": "FIRING",
        "repeat": "STILL FIRING",
        "resolved": "RESOLVED",
        "digest": f"DIGEST ({count})",
        "test": "TEST",
    }[kind]
    return f"[{label}] {rule_name}"
