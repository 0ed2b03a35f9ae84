"""Time-bank persistence: accounts, hash-chained transactions and their postings.

Postings and transactions are append-only: triggers refuse UPDATE and DELETE on both
SQLite and PostgreSQL (created with the tables here, for create_all, and in the migration).
A correction is a reversing transaction, never an edit.
"""
from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    DDL, BigInteger, DateTime, SmallInteger, ForeignKey, Index, String, Text, TypeDecorator, UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from volunteer_hub.db import db, utcnow
from volunteer_hub.timebank.ledger import GENESIS_HASH

APPEND_ONLY_TABLES = ("ledger_transactions", "ledger_postings")


class UTCDateTime(TypeDecorator):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite drops the
    offset; the chain hash and time comparisons need aware values on both engines)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Account(db.Model):
    """A ledger account; `kind` and `owner_id` are ledger.AccountRef's (owner id as text)."""

    __tablename__ = "ledger_accounts"
    __table_args__ = (UniqueConstraint("kind", "owner_id", name="uq_ledger_accounts_kind_owner"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    owner_id: Mapped[str] = mapped_column(String(64))
    # Cached balances; `ledger verify` checks them against the sum of the postings.
    balance_individual: Mapped[int] = mapped_column(BigInteger, default=0)
    balance_group: Mapped[int] = mapped_column(BigInteger, default=0)
    version: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def balance_minutes(self) -> int:
        return self.balance_individual + self.balance_group


class LedgerHead(db.Model):
    """The single row holding the chain head; writers lock it, so the chain has no forks."""

    __tablename__ = "ledger_head"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_transaction_id: Mapped[int] = mapped_column(default=0)
    hash: Mapped[str] = mapped_column(String(64), default=GENESIS_HASH)


class LedgerTransaction(db.Model):
    """One balanced transaction; its id is assigned under the head lock (chain order)."""

    __tablename__ = "ledger_transactions"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    request_hash: Mapped[str] = mapped_column(String(64))  # what the key was first used for
    reverses_id: Mapped[int | None] = mapped_column(
        ForeignKey("ledger_transactions.id"), unique=True)  # a transaction is reversed once
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Which canonical byte format `hash` was computed over (ledger.CANONICAL_FORMAT_VERSION).
    format_version: Mapped[int] = mapped_column(SmallInteger, default=1, server_default="1")
    # Where the minutes come from: record id, organization, verification method, by whom.
    provenance: Mapped[str] = mapped_column(Text, default="{}")
    # The volunteer whose verified service a MINT (or its reversal) counts for: star levels.
    service_volunteer_id: Mapped[int | None] = mapped_column(index=True)
    record_id: Mapped[int | None] = mapped_column(index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # HMAC-SHA256 of (chain position, hash) with the key named here, kept outside the
    # database (timebank.signing); NULL on rows written before authentication.
    mac_key_id: Mapped[str | None] = mapped_column(String(32))
    mac: Mapped[str | None] = mapped_column(String(64))

    postings: Mapped[list[Posting]] = relationship(
        back_populates="transaction", order_by="Posting.id", lazy="selectin")


class Posting(db.Model):
    __tablename__ = "ledger_postings"

    id: Mapped[int] = mapped_column(primary_key=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    minutes: Mapped[int] = mapped_column(BigInteger)
    earned_as_group: Mapped[bool] = mapped_column(default=False)

    transaction: Mapped[LedgerTransaction] = relationship(back_populates="postings")
    account: Mapped[Account] = relationship(lazy="joined")


class Kinship(db.Model):
    """A relative a volunteer may gift hours to, once an organizer confirmed the relationship."""

    __tablename__ = "ledger_kinships"
    __table_args__ = (UniqueConstraint("volunteer_id", "relative_id",
                                       name="uq_ledger_kinships_volunteer_relative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"), index=True)
    relative_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"))
    relationship: Mapped[str] = mapped_column(String(16))  # what the relative is to the giver
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


Index("ix_ledger_postings_account_id_transaction_id", Posting.account_id, Posting.transaction_id)


# --- append-only triggers ---------------------------------------------------------------------

def sqlite_trigger_sql(table: str) -> list[str]:
    return [
        f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
        for action in ("UPDATE", "DELETE")
    ]


POSTGRESQL_FUNCTION_SQL = (
    "CREATE OR REPLACE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'restrict_violation'; "
    "END; $$"
)


def postgresql_trigger_sql(table: str) -> list[str]:
    return [
        POSTGRESQL_FUNCTION_SQL,
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION ledger_append_only()",
    ]


def _attach_triggers(table) -> None:
    for sql in sqlite_trigger_sql(table.name):
        event.listen(table, "after_create", DDL(sql).execute_if(dialect="sqlite"))
    for sql in postgresql_trigger_sql(table.name):
        # DDL() formats with %: the function's "%" placeholder must be escaped
        event.listen(table, "after_create",
                     DDL(sql.replace("%", "%%")).execute_if(dialect="postgresql"))


_attach_triggers(LedgerTransaction.__table__)
_attach_triggers(Posting.__table__)
