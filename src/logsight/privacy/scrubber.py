"""One project's scrubbing rules applied to an event before it is stored.

Walks the free-form parts of an event (properties, context — request headers, cookies, query
string and body included —, frame variables, breadcrumbs, log attributes, user traits) and its
free text (message, name, culprit):

- a value under a sensitive key becomes ``[Filtered]``, whatever it holds (a nested object
  too), unless the key is one of the project's safe keys, whose values are never touched;
- ``key=value`` pairs inside strings (query strings, cookie headers, form bodies, log lines)
  and quoted ``"key": "value"`` pairs (JSON or Python reprs, as frame variables are sent) are
  judged by the same key rules;
- lists of ``[name, value]`` pairs (headers and query strings as some SDKs send them) are
  judged by name;
- every string is searched for secrets by shape (``logsight.privacy.detectors``), and integers
  long enough to be card numbers are checked too;
- e-mail addresses and client IP addresses get the project's mode (``logsight.privacy.identity``).

Typed columns that identify rather than describe (type, level, release, environment, session
id, timestamps, ids) are left as they are, except a user id that is an e-mail address.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from logsight.privacy.detectors import FILTERED, is_card_number, scrub_text
from logsight.privacy.identity import EmailMode, Identities, IpMode, looks_like_email
from logsight.privacy.keys import DEFAULT_SENSITIVE_KEYS, KeyRules, normalize_key
from logsight.storage.writer import EventRow

# Keys whose values carry client addresses (normalized form).
IP_KEYS = frozenset(
    {
        "ip",
        "ip_address",
        "ipaddress",
        "client_ip",
        "remote_addr",
        "remote_address",
        "x_forwarded_for",
        "x_real_ip",
        "forwarded",
        "cf_connecting_ip",
        "true_client_ip",
        "x_client_ip",
        "cloudfront_viewer_address",
    }
)
_MIN_CARD = 10**12
_PAIR = re.compile(r"([A-Za-z0-9_.\-\[\]]{1,128})=([^&;\s#,]*)")
_QUOTED_PAIR = re.compile(
    r"""(["'])([^"'\\\n]{1,128})\1(\s*[:=]\s*)(["'])((?:\\.|(?!\4)[^\\])*)\4"""
)


@dataclass(frozen=True, slots=True)
class PrivacySettings:
    """A project's rules. The defaults are what a project without settings gets."""

    scrub: bool = True
    sensitive_keys: tuple[str, ...] = ()
    safe_keys: tuple[str, ...] = ()
    email: EmailMode = EmailMode.STORE
    ip: IpMode = IpMode.TRUNCATE
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


class Scrubber:
    def __init__(self, settings: PrivacySettings, hash_key: bytes) -> None:
        self.settings = settings
        self.enabled = settings.scrub
        self._sensitive = KeyRules(
            (*DEFAULT_SENSITIVE_KEYS, *settings.sensitive_keys) if settings.scrub else ()
        )
        self._safe = frozenset(normalize_key(k) for k in settings.safe_keys)
        self._identities = Identities(hash_key, settings.email, settings.ip)
        self._ip_cache: dict[str, bool] = {}
        # Nothing to do for strings when scrubbing is off and e-mails are stored.
        self._text_work = settings.scrub or settings.email is not EmailMode.STORE

    # -- whole events -----------------------------------------------------------------------

    def row(self, row: EventRow) -> EventRow:
        user_id = self._user_id(row.user_id)
        return replace(
            row,
            message=self._optional_text(row.message),
            name=self.text(row.name) or row.name,
            user_id=user_id,
            properties=self.value(row.properties),
            context=self.value(row.context),
            user_traits=self._user(row.user_traits),
            error=self.value(row.error),
            breadcrumbs=self.value(row.breadcrumbs),
            culprit=self._optional_text(row.culprit),
        )

    def event(self, event: dict[str, Any]) -> dict[str, Any]:
        """A queued event (the JSON ingest published), scrubbed the same way as its row."""
        out = dict(event)
        for name in ("message", "name", "culprit"):
            if isinstance(out.get(name), str):
                out[name] = self.text(out[name])
        for name in ("properties", "context", "error", "breadcrumbs"):
            if name in out:
                out[name] = self.value(out[name])
        if "user_id" in out:
            out["user_id"] = self._user_id(out["user_id"])
        if "user" in out:
            out["user"] = self._user(out["user"])
        return out

    # -- values -----------------------------------------------------------------------------

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self._keyed(k, v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._item(v) for v in value]
        if (
            self.enabled
            and isinstance(value, int)
            and not isinstance(value, bool)
            and abs(value) >= _MIN_CARD
            and is_card_number(str(abs(value)))
        ):
            return FILTERED
        return value

    def _item(self, item: Any) -> Any:
        # [name, value]: a header or query parameter as a pair.
        if isinstance(item, list) and len(item) == 2 and isinstance(item[0], str):
            return [item[0], self._keyed(item[0], item[1])]
        return self.value(item)

    def _keyed(self, key: Any, value: Any) -> Any:
        if not isinstance(key, str) or value is None:
            return self.value(value)
        if self._safe and normalize_key(key) in self._safe:
            return value
        if self.enabled and self._sensitive.matches(key):
            return FILTERED
        if self._is_ip_key(key):
            return self._ip_value(value)
        return self.value(value)

    def text(self, text: str) -> str:
        if not self._text_work:
            return text
        if self.enabled:
            text = scrub_text(text)
            if "=" in text:
                text = _PAIR.sub(self._pair, text)
            if ('"' in text or "'" in text) and (":" in text or "=" in text):
                text = _QUOTED_PAIR.sub(self._quoted_pair, text)
        return self._identities.emails_in(text)

    def _pair(self, match: re.Match[str]) -> str:
        key = match.group(1)
        if match.group(2) and self._sensitive.matches(key) and normalize_key(key) not in self._safe:
            return f"{key}={FILTERED}"
        return match.group()

    def _quoted_pair(self, match: re.Match[str]) -> str:
        quote, key, separator, value_quote, value = match.groups()
        if value and self._sensitive.matches(key) and normalize_key(key) not in self._safe:
            return f"{quote}{key}{quote}{separator}{value_quote}{FILTERED}{value_quote}"
        return match.group()

    def _optional_text(self, text: str | None) -> str | None:
        return None if text is None else self.text(text)

    # -- identities -------------------------------------------------------------------------

    def _is_ip_key(self, key: str) -> bool:
        found = self._ip_cache.get(key)
        if found is None:
            found = normalize_key(key) in IP_KEYS
            if len(self._ip_cache) < 10_000:
                self._ip_cache[key] = found
        return found

    def _ip_value(self, value: Any) -> Any:
        if isinstance(value, str):
            replaced = self._identities.ip(value)
            return FILTERED if replaced is None else replaced
        if isinstance(value, list):
            return [self._ip_value(v) for v in value]
        return self.value(value)

    def _user_id(self, user_id: Any) -> Any:
        if isinstance(user_id, str) and looks_like_email(user_id):
            return self._identities.email(user_id)
        return user_id

    def _user(self, user: Any) -> Any:
        if not isinstance(user, dict):
            return self.value(user)
        out: dict[str, Any] = {}
        for key, value in user.items():
            if (
                key in ("email", "id", "username")
                and isinstance(value, str)
                and looks_like_email(value)
            ):
                kept = self._identities.email(value)
                if kept is not None:
                    out[key] = kept
                continue
            if key == "ip_address" and isinstance(value, str):
                kept = self._identities.ip(value)
                if kept is not None:
                    out[key] = kept
                continue
            out[key] = self._keyed(key, value)
        return out
