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
from dataclasses import dataclass, field
from typing import Any

import orjson

from logsight.privacy.detectors import FILTERED, is_card_number, scrub_text
from logsight.privacy.identity import EmailMode, Identities, IpMode, looks_like_email
from logsight.privacy.keys import DEFAULT_SENSITIVE_KEYS, KeyRules, normalize_key

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
_PLAIN, _SENSITIVE, _SAFE, _IP = 0, 1, 2, 3
_KEY_CACHE_LIMIT = 20_000
# Shorter strings can hold no secret of a recognised shape (detectors._MIN_LENGTH); only a
# key=value pair or an e-mail address.
_SHORT = 13
_CACHED_LENGTH = 256
_TEXT_CACHE_LIMIT = 4096
# The lookbehind starts a match only at the beginning of a key (no rescans inside words).
_PAIR = re.compile(r"(?<![A-Za-z0-9_.\-\[\]])([A-Za-z0-9_.\-\[\]]{1,128})=([^&;\s#,]*)")
# "key": "value", 'key': 'value' (JSON, Python reprs) and key = "value", key: 'value' (source
# lines in stack frames, YAML): a quoted value after a key, quoted or not.
_QUOTED_PAIR = re.compile(
    r"""(?<![A-Za-z0-9_.\-])(["']?)([A-Za-z0-9_.\-]{1,128})\1(\s*[:=]\s*)(["'])((?:\\.|(?!\4)[^\\\n])*)\4"""
)

# The same inside a JSON string (quotes escaped once or more): {\"key\": \"value\"}.
_ESCAPED_PAIR = re.compile(
    r"""(?<![A-Za-z0-9_.\-])(\\+["'])([A-Za-z0-9_.\-]{1,128})\1(\s*[:=]\s*)(\\+["'])(.*?)\4"""
)
# What a header or parameter name looks like (a pair's first item must, to be taken as a name).
_KEY_SHAPE = re.compile(r"[A-Za-z0-9_.\-\[\]]{1,128}")
# ["key", "value"] and ('key', 'value'): pairs as JSON arrays or Python tuples inside a string.
_LISTED_PAIR = re.compile(
    r"""[\[(]\s*(["'])([A-Za-z0-9_.\-]{1,128})\1(\s*,\s*)(["'])((?:\\.|(?!\4)[^\\\n])*)\4\s*[\])]"""
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
        # Strings repeat across events (stack frames' code and paths, header values, user
        # agents): each short one is scrubbed once while this scrubber lives.
        self._texts: dict[str, str] = {}
        # Each key's kind, judged once: keys repeat endlessly (headers, properties, variables).
        self._key_kinds: dict[str, int] = {}
        # Nothing to do for strings when scrubbing is off and e-mails are stored.
        self._text_work = settings.scrub or settings.email is not EmailMode.STORE
        self._noop = (
            not settings.scrub and settings.email is EmailMode.STORE and settings.ip is IpMode.STORE
        )

    # -- whole events -----------------------------------------------------------------------

    def event(self, event: dict[str, Any]) -> dict[str, Any]:
        """An event as ingest normalized and queued it, scrubbed; the same object when there
        is nothing to do."""
        if self._noop:
            return event
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
        kind = type(value)
        if kind is str:
            return self.text(value)
        if kind is dict:
            return self._dict(value)
        if kind is list:
            return self._list(value)
        if (
            kind is int
            and self.enabled
            and (value >= _MIN_CARD or value <= -_MIN_CARD)
            and is_card_number(str(abs(value)))
        ):
            return FILTERED
        return value

    def _list(self, value: list[Any]) -> list[Any]:
        out = []
        same = True
        for item in value:
            after = self.text(item) if type(item) is str else self._item(item)
            if after is not item:
                same = False
            out.append(after)
        return value if same else out

    def _item(self, item: Any) -> Any:
        # [name, value]: a header or query parameter as a pair.
        if (
            type(item) is list
            and len(item) == 2
            and type(item[0]) is str
            and _KEY_SHAPE.fullmatch(item[0]) is not None
        ):
            after = self._keyed(item[0], item[1])
            return item if after is item[1] else [item[0], after]
        return self.value(item)

    def _dict(self, value: dict[Any, Any]) -> dict[Any, Any]:
        out = {}
        kinds = self._key_kinds
        same = True
        texts = self._texts
        after: Any
        for key, item in value.items():
            # The hot paths, inlined: a known plain key holding a string seen before, another
            # string, an object or a list.
            if kinds.get(key) is _PLAIN:
                kind = type(item)
                if kind is str:
                    after = texts.get(item) or self.text(item)
                elif kind is dict:
                    after = self._dict(item)
                elif kind is list:
                    after = self._list(item)
                else:
                    after = self.value(item)
            else:
                after = self._keyed(key, item)
            if after is not item:
                same = False
            out[key] = after
        return value if same else out

    def _key_kind(self, key: str) -> int:
        kind = self._key_kinds.get(key)
        if kind is None:
            if self._safe and normalize_key(key) in self._safe:
                kind = _SAFE
            elif self.enabled and self._sensitive.matches(key):
                kind = _SENSITIVE
            elif normalize_key(key) in IP_KEYS:
                kind = _IP
            else:
                kind = _PLAIN
            if len(self._key_kinds) >= _KEY_CACHE_LIMIT:
                self._key_kinds.clear()
            self._key_kinds[key] = kind
        return kind

    def _keyed(self, key: Any, value: Any) -> Any:
        if not isinstance(key, str) or value is None:
            return self.value(value)
        kind = self._key_kind(key)
        if kind is _PLAIN:
            return self.value(value)
        if kind is _SENSITIVE:
            return FILTERED
        if kind is _IP:
            return self._ip_value(value)
        return value  # safe

    def text(self, text: str) -> str:
        if not self._text_work:
            return text
        length = len(text)
        if length < _SHORT and "=" not in text and "@" not in text:
            return text
        if length <= _CACHED_LENGTH:
            done = self._texts.get(text)
            if done is None:
                done = self._text(text)
                if len(self._texts) >= _TEXT_CACHE_LIMIT:
                    self._texts.clear()
                self._texts[text] = done
            return done
        return self._text(text)

    def _text(self, text: str) -> str:
        if self.enabled:
            if text[:1] in "{[" and text[-1:] in "}]":
                # A JSON document inside a string (a logged payload): scrubbed as a structure.
                walked = self._json_text(text)
                if walked is not None:
                    return walked
            text = scrub_text(text)
            if "=" in text:
                text = _PAIR.sub(self._pair, text)
            if '"' in text or "'" in text:
                if ":" in text or "=" in text:
                    text = _QUOTED_PAIR.sub(self._quoted_pair, text)
                if "," in text and ("[" in text or "(" in text):
                    text = _LISTED_PAIR.sub(self._quoted_pair, text)
                if '\\"' in text or "\\'" in text:
                    text = _ESCAPED_PAIR.sub(self._quoted_pair, text)
        return self._identities.emails_in(text)

    def _json_text(self, text: str) -> str | None:
        try:
            parsed = orjson.loads(text)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(parsed, dict | list):
            return None
        scrubbed = self.value(parsed)
        return text if scrubbed is parsed else orjson.dumps(scrubbed).decode()

    def _pair_value(self, key: str, value: str) -> str | None:
        """What replaces the value of a pair found inside a string; None: it stays."""
        kind = self._key_kind(key)
        if kind is _SENSITIVE:
            return FILTERED
        if kind is _IP:
            replaced = self._identities.ip(value)
            return FILTERED if replaced is None else replaced
        return None

    def _pair(self, match: re.Match[str]) -> str:
        key, value = match.group(1), match.group(2)
        replaced = self._pair_value(key, value) if value else None
        return match.group() if replaced is None else f"{key}={replaced}"

    def _quoted_pair(self, match: re.Match[str]) -> str:
        whole = match.group()
        value = match.group(5)
        head, tail = whole[: match.start(5) - match.start()], whole[match.end(5) - match.start() :]
        replaced = self._pair_value(match.group(2), value) if value else None
        if replaced is not None:
            return f"{head}{replaced}{tail}"
        # The value may itself hold pairs (a repr inside JSON): look inside it too.
        if len(value) > 4 and ("'" in value or '"' in value):
            inner = _QUOTED_PAIR.sub(self._quoted_pair, value)
            inner = _LISTED_PAIR.sub(self._quoted_pair, inner)
            if inner is not value:
                return f"{head}{inner}{tail}"
        return whole

    def _optional_text(self, text: str | None) -> str | None:
        return None if text is None else self.text(text)

    # -- identities -------------------------------------------------------------------------

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
        if len(out) == len(user) and all(out[k] is v for k, v in user.items()):
            return user
        return out
