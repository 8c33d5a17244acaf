"""Secrets recognised by their shape, wherever they appear in a string.

One combined pattern finds every candidate in a single pass (C speed); each candidate is then
confirmed by its checksum where it has one (Luhn for card numbers, ISO 7064 mod 97 for IBANs),
so digit runs that are not cards (timestamps, ids, phone numbers) stay. A string too short to
hold any of them is not searched at all. Replacements do not keep the original length.
"""

from __future__ import annotations

import re

FILTERED = "[Filtered]"

# The shortest secret recognised: a 13-digit card number.
_MIN_LENGTH = 13

_PATTERN = re.compile(
    r"""
    (?P<pem>-----BEGIN[ A-Z0-9]*PRIVATE\ KEY(?:\ BLOCK)?-----
        (?:.*?-----END[ A-Z0-9]*PRIVATE\ KEY(?:\ BLOCK)?-----|.*\Z))
  | (?P<bearer>\b[Bb]earer[ \t]+[A-Za-z0-9\-._~+/]{12,}=*)
  | (?P<jwt>\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*)
  | (?P<aws_id>(?<![A-Z0-9])(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ABIA|ACCA)[A-Z0-9]{16}
        (?![A-Z0-9]))
  | (?P<aws_secret>(?<![A-Za-z0-9/+=])(?=[A-Za-z0-9/+]{0,39}[A-Z])(?=[A-Za-z0-9/+]{0,39}[a-z])
        (?=[A-Za-z0-9/+]{0,39}[0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=]))
  | (?P<iban>(?<![A-Za-z0-9])[A-Z]{2}[0-9]{2}(?:[ ]?[A-Z0-9]){11,30}(?![A-Za-z0-9]))
  | (?P<card>(?<![\w.-])[2-6](?:[ -]?[0-9]){12,18}(?![\w-]))
    """,
    re.VERBOSE | re.DOTALL,
)
# Countries and territories that issue IBANs (SWIFT's registry).
_IBAN_COUNTRIES = frozenset(
    {
        "AD",
        "AE",
        "AL",
        "AT",
        "AZ",
        "BA",
        "BE",
        "BG",
        "BH",
        "BI",
        "BR",
        "BY",
        "CH",
        "CR",
        "CY",
        "CZ",
        "DE",
        "DJ",
        "DK",
        "DO",
        "EE",
        "EG",
        "ES",
        "FI",
        "FK",
        "FO",
        "FR",
        "GB",
        "GE",
        "GI",
        "GL",
        "GR",
        "GT",
        "HN",
        "HR",
        "HU",
        "IE",
        "IL",
        "IQ",
        "IS",
        "IT",
        "JO",
        "KW",
        "KZ",
        "LB",
        "LC",
        "LI",
        "LT",
        "LU",
        "LV",
        "LY",
        "MC",
        "MD",
        "ME",
        "MK",
        "MN",
        "MR",
        "MT",
        "MU",
        "NI",
        "NL",
        "NO",
        "OM",
        "PK",
        "PL",
        "PS",
        "PT",
        "QA",
        "RO",
        "RS",
        "RU",
        "SA",
        "SC",
        "SD",
        "SE",
        "SI",
        "SK",
        "SM",
        "SO",
        "ST",
        "SV",
        "TL",
        "TN",
        "TR",
        "UA",
        "VA",
        "VG",
        "XK",
        "YE",
    }
)
_NOT_DIGIT = re.compile(r"[^0-9]")
_NOT_ALNUM = re.compile(r"[^A-Z0-9]")


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def is_card_number(text: str) -> bool:
    """13 to 19 digits (spaces or dashes between them allowed) starting with 2 to 6 (the
    networks' ranges; epoch timestamps in seconds, milliseconds or nanoseconds start with 1),
    passing the Luhn check."""
    digits = _NOT_DIGIT.sub("", text)
    return 13 <= len(digits) <= 19 and "2" <= digits[0] <= "6" and luhn_valid(digits)


def is_iban(text: str) -> bool:
    """ISO 13616: country, check digits, up to 30 alphanumerics; valid when mod 97 is 1."""
    compact = _NOT_ALNUM.sub("", text)
    if not 15 <= len(compact) <= 34 or compact[:2] not in _IBAN_COUNTRIES:
        return False
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(c, 36)) for c in rearranged)
    return int(number) % 97 == 1


def _replacement(match: re.Match[str]) -> str:
    kind = match.lastgroup
    text = match.group()
    if kind == "card" and not is_card_number(text):
        return text
    if kind == "iban" and not is_iban(text):
        return text
    return FILTERED


def scrub_text(text: str) -> str:
    """The string with every recognised secret replaced by ``[Filtered]``."""
    if len(text) < _MIN_LENGTH:
        return text
    return _PATTERN.sub(_replacement, text)


def has_secret(text: str) -> bool:
    return scrub_text(text) != text
