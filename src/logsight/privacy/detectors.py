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

# Each shape has its own pattern behind a gate that costs almost nothing (a substring test, the
# length, the number of digits), so most strings are never searched by a pattern at all. The
# patterns that do run start with a literal where they can (fast to scan for).
_PEM = re.compile(
    r"-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----"
    r"(?:.*?-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----|.*\Z)",
    re.DOTALL,
)
_BEARER = re.compile(r"\b[Bb]earer[ \t]+[A-Za-z0-9\-._~+/]{12,}=*")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")
_AWS_ID = re.compile(
    r"(?<![A-Z0-9])(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Z0-9])"
)
_AWS_SECRET = re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}[0-9]{2}(?:[ ]?[A-Z0-9]){11,30}(?![A-Za-z0-9])")
_CARD = re.compile(r"(?<![\w.-])[2-6](?:[ -]?[0-9]){12,18}(?![\w-])")
# The last two letters of the key id prefixes above: one of them is in every key id.
_AWS_PREFIX_ENDS = ("IA", "PA", "DA", "OA", "VA", "CA")
_DIGITS = b"0123456789"
# Every IBAN holds at least 7 digits (2 check digits and the shortest numeric bank code).
_IBAN_MIN_DIGITS = 7

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


def is_aws_secret(text: str) -> bool:
    """40 base64 characters mixing upper case, lower case and a digit or symbol (a hex digest,
    all one case or all digits, is not one)."""
    return (
        text != text.lower()
        and text != text.upper()
        and any(c.isdigit() or c in "/+" for c in text)
    )


def _filtered(match: re.Match[str]) -> str:
    return FILTERED


def _card(match: re.Match[str]) -> str:
    return FILTERED if is_card_number(match.group()) else match.group()


def _iban(match: re.Match[str]) -> str:
    return FILTERED if is_iban(match.group()) else match.group()


def _aws_secret(match: re.Match[str]) -> str:
    return FILTERED if is_aws_secret(match.group()) else match.group()


def scrub_text(text: str) -> str:
    """The string with every recognised secret replaced by ``[Filtered]``."""
    length = len(text)
    if length < _MIN_LENGTH:
        return text
    if "PRIVATE KEY" in text:
        text = _PEM.sub(FILTERED, text)
    if "earer" in text:
        text = _BEARER.sub(FILTERED, text)
    if "eyJ" in text:
        text = _JWT.sub(FILTERED, text)
    if length >= 20 and any(pair in text for pair in _AWS_PREFIX_ENDS):
        text = _AWS_ID.sub(FILTERED, text)
    if length >= 40:
        text = _AWS_SECRET.sub(_aws_secret, text)
    encoded = text.encode("utf-8", "surrogatepass")
    digits = len(encoded) - len(encoded.translate(None, _DIGITS))
    if digits >= _IBAN_MIN_DIGITS and length >= 15:
        text = _IBAN.sub(_iban, text)
    if digits >= 13:
        text = _CARD.sub(_card, text)
    return text


def has_secret(text: str) -> bool:
    return scrub_text(text) != text
