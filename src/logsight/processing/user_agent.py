"""User agent → browser, OS and device, the way a dashboard shows them."""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

from ua_parser import parse

_DESKTOP_OS = frozenset(
    {"Windows", "Mac OS X", "Linux", "Ubuntu", "Chrome OS", "Fedora", "FreeBSD"}
)


class Client(NamedTuple):
    browser: str | None
    os: str | None
    device: str | None


def _version(family: str, major: str | None) -> str:
    return f"{family} {major}" if major else family


@lru_cache(maxsize=4096)
def parse_user_agent(user_agent: str) -> Client:
    result = parse(user_agent)
    browser = os_name = device = None
    if result.user_agent is not None and result.user_agent.family != "Other":
        browser = _version(result.user_agent.family, result.user_agent.major)
    if result.os is not None and result.os.family != "Other":
        os_name = _version(result.os.family, result.os.major)
    if result.device is not None and result.device.family not in ("Other", "Generic Smartphone"):
        device = "Bot" if result.device.family == "Spider" else result.device.family
    elif result.device is not None and result.device.family == "Generic Smartphone":
        device = "Mobile"
    elif result.os is not None and result.os.family in _DESKTOP_OS:
        device = "Desktop"
    return Client(browser, os_name, device)
