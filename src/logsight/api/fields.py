"""Text fields the tenancy routes share. Text PostgreSQL cannot store (NUL) is refused for every
field by logsight.api.storable."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

Name = Annotated[str, Field(min_length=1, max_length=100)]
Label = Annotated[str, Field(max_length=100)]
# Deliberately loose: deliverability is the identity provider's business, not ours.
Email = Annotated[str, Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")]
