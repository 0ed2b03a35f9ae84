"""The unified social credit code (统一社会信用代码, GB 32100-2015).

18 characters from a 31-symbol alphabet (digits and capital letters without I, O, Z, S, V):
registration authority (1), organization kind (1), administrative division (6), the
organization code (9, with its own GB 11714 check) and a check character. The check character
is 31 - (sum of value x 3^i mod 31 over the first 17) mod 31, written with the same alphabet
(31 itself becomes 0).
"""
from __future__ import annotations

import re

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = tuple(pow(3, position, 31) for position in range(17))
SHAPE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$")


def normalized(code: str) -> str:
    return (code or "").strip().upper()


def check_character(first17: str) -> str:
    total = sum(ALPHABET.index(char) * weight for char, weight in zip(first17, WEIGHTS))
    return ALPHABET[(31 - total % 31) % 31]


def is_valid(code: str) -> bool:
    """Shape (alphabet, six-digit division) and check character of an 18-character code."""
    code = normalized(code)
    return bool(SHAPE.match(code)) and check_character(code[:17]) == code[17]
