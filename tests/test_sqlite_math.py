"""SQLite without its math functions (a compile-time option) gets Python's, so call-outs with
a radius work on any distribution's SQLite."""
from __future__ import annotations

import math
import sqlite3

from volunteer_hub.db import _sqlite_math_functions


class SqliteWithoutMath:
    """A connection as a SQLite built without SQLITE_ENABLE_MATH_FUNCTIONS answers; it keeps
    what is registered (this machine's SQLite has the functions built in)."""

    def __init__(self):
        self.registered: dict[str, tuple[int, object]] = {}

    def execute(self, sql):
        raise sqlite3.OperationalError("no such function: sin")

    def create_function(self, name, arguments, function, *, deterministic):
        assert deterministic  # lets SQLite use them in indexes and constant folding
        self.registered[name] = (arguments, function)


def test_the_distance_functions_are_added_when_missing():
    connection = SqliteWithoutMath()
    _sqlite_math_functions(connection)
    functions = connection.registered
    assert {name: arguments for name, (arguments, _f) in functions.items()} == {
        "radians": 1, "sin": 1, "cos": 1, "asin": 1, "sqrt": 1, "power": 2}
    sin, radians, power = (functions[name][1] for name in ("sin", "radians", "power"))
    assert math.isclose(power(sin(radians(30)), 2), 0.25)
    assert radians(None) is None and power(None, 2) is None  # a member without a position

