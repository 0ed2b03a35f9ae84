"""Identity document numbers: GB 11643-1999 validation and masking. Pure, no Flask.

A mainland resident ID has 18 characters: a 6-digit area code, the birth date YYYYMMDD,
a 3-digit sequence (odd for men, even for women) and a check character computed from
the first 17 digits with the ISO 7064 MOD 11-2 weights below.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from volunteer_hub.volunteers.gbt2260 import REGION_CODES

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"
MAINLAND_ID = "mainland_id"
ID_TYPES = ("mainland_id", "passport", "hk_macau_permit", "taiwan_permit")

# ASCII only: `\d` would also match full-width and other scripts' digits.
_MAINLAND_RE = re.compile(r"^[0-9]{17}[0-9X]$")
_MAINLAND_CHARS_RE = re.compile(r"^[0-9X]*$")
_LEGACY_15_RE = re.compile(r"^[0-9]{15}$")
_OTHER_RE = re.compile(r"^[A-Z0-9]{5,20}$")


class IdNumberError(ValueError):
    """Raised with a stable `code` telling the user what to fix."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class MainlandId:
    number: str
    birth_date: date
    gender: str  # "male" | "female", from the parity of the sequence


def ascii_digits(value: str) -> str:
    """NFKC (full-width ０-９ -> 0-9), then any other script's decimal digit to its ASCII one.

    NFKC leaves e.g. Arabic-Indic ٣ as it is, yet a person typing it means 3: one number,
    one spelling, or the keyed hash would let the same ID register twice.
    """
    folded = unicodedata.normalize("NFKC", value or "")
    return "".join(str(unicodedata.decimal(char)) if char.isdecimal() else char
                   for char in folded)


def normalize(number: str) -> str:
    """ASCII digits, no spaces, upper case: a lowercase x is the same check character as X."""
    return re.sub(r"\s+", "", ascii_digits(number)).upper()


def check_char(first17: str) -> str:
    total = sum(int(digit) * weight for digit, weight in zip(first17, WEIGHTS))
    return CHECK_CHARS[total % 11]


def parse_mainland_id(number: str, *, today: date | None = None) -> MainlandId:
    """Validate an 18-character mainland ID and return what it encodes.

    15-digit legacy numbers are refused (ID_LEGACY_15): they carry no check character
    and were all replaced by 2013, so a volunteer holds an 18-character card today.
    """
    value = normalize(number)
    if not _MAINLAND_CHARS_RE.match(value):
        raise IdNumberError("ID_FORMAT")
    if _LEGACY_15_RE.match(value):
        raise IdNumberError("ID_LEGACY_15")
    if len(value) != 18:
        raise IdNumberError("ID_LENGTH")
    if not _MAINLAND_RE.match(value):
        raise IdNumberError("ID_FORMAT")
    if value[:6] not in REGION_CODES:
        raise IdNumberError("ID_REGION")
    try:
        birth = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise IdNumberError("ID_BIRTH_DATE_INVALID") from None
    if birth > (today or date.today()) or birth.year < 1900:
        raise IdNumberError("ID_BIRTH_DATE_INVALID")
    if check_char(value[:17]) != value[17]:
        raise IdNumberError("ID_CHECKSUM")
    gender = "male" if int(value[16]) % 2 else "female"
    return MainlandId(number=value, birth_date=birth, gender=gender)


def validate_other_id(number: str) -> str:
    """Passports and permits: 5-20 letters and digits, no checksum we can verify."""
    value = normalize(number)
    if not _OTHER_RE.match(value):
        raise IdNumberError("ID_FORMAT")
    return value


def mask(number: str) -> str:
    """Show the area code and the last two characters: 110105**********2X."""
    if len(number) <= 8:
        return number[:1] + "*" * max(len(number) - 2, 1) + number[-1:]
    keep_head = 6 if len(number) == 18 else 2
    return number[:keep_head] + "*" * (len(number) - keep_head - 2) + number[-2:]


def age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))
