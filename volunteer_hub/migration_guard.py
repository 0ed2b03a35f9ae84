"""A downgrade that would drop data refuses unless forced (issue 11, item 8).

A migration's downgrade calls `refuse_data_loss(revision, tables=..., columns=...)` before it
drops anything. The guard counts the rows of each table and the non-NULL values of each column
that the drop would lose; if any, it raises `DataLossRefused` naming them, and the downgrade
(with every step of the same command, which runs in one transaction where the engine allows)
stops with the data intact.

Force it, after a backup, with either
    VOLUNTEER_HUB_MIGRATION_FORCE=1 flask --app volunteer_hub db downgrade <rev>
    flask --app volunteer_hub db downgrade --x-arg force=1 <rev>
"""
from __future__ import annotations

import logging
import os
from collections.abc import Iterable

import sqlalchemy as sa
from alembic import context, op

FORCE_ENVIRONMENT_VARIABLE = "VOLUNTEER_HUB_MIGRATION_FORCE"
TRUTHY = {"1", "true", "yes", "on"}
logger = logging.getLogger("alembic.runtime.migration")


class DataLossRefused(RuntimeError):
    """A downgrade would drop data and was not forced."""


def forced() -> bool:
    """Whether the operator asked to drop data (environment variable or `-x force=1`)."""
    if os.environ.get(FORCE_ENVIRONMENT_VARIABLE, "").strip().lower() in TRUTHY:
        return True
    x_arguments = context.get_x_argument(as_dictionary=True)
    return x_arguments.get("force", "").strip().lower() in TRUTHY


def refuse_data_loss(revision: str, tables: Iterable[str] = (),
                     columns: Iterable[tuple[str, str]] = (),
                     queries: Iterable[tuple[str, str]] = ()) -> None:
    """Raise DataLossRefused listing what downgrading `revision` would lose, unless forced.

    tables: whole tables dropped; columns: (table, column) pairs dropped; queries:
    (description, SELECT COUNT(*) ...) for losses that are neither (e.g. a value reset).
    """
    losses = counted_losses(tables, columns, queries)
    if not losses:
        return
    described = ", ".join(f"{what}: {count}" for what, count in losses)
    if forced():
        logger.warning("Downgrading %s drops data (forced): %s", revision, described)
        return
    raise DataLossRefused(
        f"Downgrading {revision} would drop data: {described}. Back the database up, then "
        f"force it with {FORCE_ENVIRONMENT_VARIABLE}=1 or `flask db downgrade --x-arg force=1`.")


def counted_losses(tables: Iterable[str], columns: Iterable[tuple[str, str]],
                   queries: Iterable[tuple[str, str]]) -> list[tuple[str, int]]:
    """(description, count) for every non-empty loss; missing tables/columns count as none."""
    if context.is_offline_mode():
        return []  # an SQL script is reviewed by a person before it runs
    connection = op.get_bind()
    existing = set(sa.inspect(connection).get_table_names())
    counts = []
    for table in tables:
        if table in existing:
            counts.append((f"rows in {table}", _scalar(connection, f'SELECT COUNT(*) FROM "{table}"')))
    for table, column in columns:
        if table in existing and column in _column_names(connection, table):
            counts.append((f"values of {table}.{column}", _scalar(
                connection, f'SELECT COUNT("{column}") FROM "{table}"')))
    for description, query in queries:
        counts.append((description, _scalar(connection, query)))
    return [(what, count) for what, count in counts if count]


def _column_names(connection, table: str) -> set[str]:
    return {column["name"] for column in sa.inspect(connection).get_columns(table)}


def _scalar(connection, query: str) -> int:
    return int(connection.execute(sa.text(query)).scalar() or 0)
