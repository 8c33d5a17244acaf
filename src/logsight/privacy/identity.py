"""E-mail and IP addresses: stored, hashed with the installation's key, truncated or dropped.

A hash is HMAC-SHA256 under a secret of the installation (``install_secrets``), so the same
address always gives the same value — users are still counted and an issue's "users affected"
still works — while nobody without the key can test a guess against it (a plain hash of an
e-mail address is reversed by hashing a list of addresses).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from enum import StrEnum

from logsight.privacy.detectors import FILTERED


class EmailMode(StrEnum):
    STORE = "store"
    HASH = "hash"
    DROP = "drop"


class IpMode(StrEnum):
    STORE = "store"
    TRUNCATE = "truncate"  # IPv4 to its /24, IPv6 to its /48
    HASH = "hash"
    DROP = "drop"


EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
# Candidates only: each is confirmed by the ipaddress module.
IP = re.compile(
    r"(?<![\w.:])(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7})(?![\w.:])"
)
# Sentry SDKs send this to ask the server to fill in the client's address; LogSight does not.
SENTRY_AUTO_IP = "{{auto}}"


def keyed_hash(key: bytes, kind: str, value: str) -> str:
    """``kind:`` and 32 hex digits of HMAC-SHA256 (128 bits: no collisions in practice)."""
    digest = hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()
    return f"{kind}:{digest[:32]}"


def hash_email(key: bytes, email: str) -> str:
    # Addresses differ only in case are the same mailbox for every provider that matters.
    return keyed_hash(key, "email", email.strip().lower())


def looks_like_email(text: str) -> bool:
    return "@" in text and EMAIL.fullmatch(text.strip()) is not None


def truncate_ip(address: str) -> str | None:
    """The network part: /24 of IPv4, /48 of IPv6. None when it is not an address."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return None
    prefix = 24 if parsed.version == 4 else 48
    return str(ipaddress.ip_network(f"{parsed}/{prefix}", strict=False).network_address)


class Identities:
    """Applies one project's e-mail and IP modes."""

    def __init__(self, key: bytes, email: EmailMode, ip: IpMode) -> None:
        self._key = key
        self.email_mode = email
        self.ip_mode = ip
        # The same few addresses come again and again (a server's own, a user's).
        self._ips: dict[str, str | None] = {}

    def email(self, value: str) -> str | None:
        """A whole value that is an e-mail address (``user.email``, an e-mail user id)."""
        if self.email_mode is EmailMode.STORE:
            return value
        if self.email_mode is EmailMode.HASH:
            return hash_email(self._key, value)
        return None

    def emails_in(self, text: str) -> str:
        """Every address inside free text."""
        if self.email_mode is EmailMode.STORE or "@" not in text:
            return text
        if self.email_mode is EmailMode.HASH:
            return EMAIL.sub(lambda m: hash_email(self._key, m.group()), text)
        return EMAIL.sub(FILTERED, text)

    def ip(self, value: str) -> str | None:
        """A value that carries client addresses (``user.ip_address``, X-Forwarded-For …)."""
        if value == SENTRY_AUTO_IP:
            return None
        if self.ip_mode is IpMode.STORE:
            return value
        if self.ip_mode is IpMode.DROP:
            return None
        if value in self._ips:
            return self._ips[value]
        replaced = IP.sub(self._one_ip, value)
        if len(self._ips) >= 4096:
            self._ips.clear()
        self._ips[value] = replaced
        return replaced

    def _one_ip(self, match: re.Match[str]) -> str:
        text = match.group()
        try:
            parsed = ipaddress.ip_address(text)
        except ValueError:
            return text
        if self.ip_mode is IpMode.HASH:
            return keyed_hash(self._key, "ip", str(parsed))
        return truncate_ip(str(parsed)) or text
