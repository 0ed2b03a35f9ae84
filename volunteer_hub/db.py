"""Database base class, transaction boundary and engine-specific settings."""
from __future__ import annotations

import math
from contextlib import contextmanager
from datetime import datetime, timezone

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# Pre-ping: a connection the database closed (restart, failover, idle timeout) is replaced
# when it leaves the pool, instead of failing the request that drew it.
ENGINE_OPTIONS = {"pool_pre_ping": True}

db = SQLAlchemy(model_class=Base, engine_options=ENGINE_OPTIONS)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@contextmanager
def transaction():
    """The one transaction boundary: commit on success, roll back on any error.

    Views, CLI commands and jobs open it; services only flush. On SQLite the write
    transaction takes the write lock when it begins (BEGIN IMMEDIATE): a deferred one that
    read first and writes later cannot wait for another writer and fails at once with
    "database is locked", however long the busy timeout.
    """
    _begin_for_writing()
    try:
        yield db.session
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise


def _begin_for_writing() -> None:
    if db.engine.dialect.name != "sqlite":
        return
    session = db.session()
    if session.in_transaction():
        if session.new or session.dirty or session.deleted:
            return  # pending changes belong to this unit of work: keep them
        session.commit()  # end the read snapshot; nothing is pending
    session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})


def is_postgresql() -> bool:
    return db.engine.dialect.name == "postgresql"


def sort_in_memory() -> None:
    """PostgreSQL: let the rest of this transaction sort a few hundred thousand rows in
    memory (64 MB) instead of spilling to disk at the default 4 MB: a fan-out's writes sort
    their rows into index order. SQLite: nothing to do."""
    if is_postgresql():
        db.session.execute(text("SET LOCAL work_mem = '64MB'"))


def _is_sqlite(dbapi_connection) -> bool:
    return type(dbapi_connection).__module__.startswith("sqlite3")


@event.listens_for(Engine, "begin")
def _sqlite_begin(connection):
    """Emit BEGIN ourselves (pysqlite's own is disabled below) so writers can ask IMMEDIATE."""
    if connection.dialect.name == "sqlite":
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):  # pragma: no cover - trivial
    """SQLite: enforce foreign keys, use WAL so readers do not block the writer."""
    if _is_sqlite(dbapi_connection):
        dbapi_connection.isolation_level = None  # transactions begin in _sqlite_begin
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
        _sqlite_math_functions(dbapi_connection)


@event.listens_for(Engine, "connect")
def _postgresql_utc(dbapi_connection, connection_record):
    """PostgreSQL: every session in UTC. Times are written as aware UTC values; into a plain
    timestamp column PostgreSQL converts them to the session's zone, which is the server's
    (Asia/Shanghai on a server set up in China), and they were read back 8 hours off."""
    if type(dbapi_connection).__module__.startswith("psycopg"):
        autocommit = dbapi_connection.autocommit
        dbapi_connection.execute("SET TIME ZONE 'UTC'")
        if not autocommit:
            dbapi_connection.commit()


# What the call-out's distance needs (emergency.activation._distance_km).
SQL_MATH = {"radians": math.radians, "sin": math.sin, "cos": math.cos, "asin": math.asin,
            "sqrt": math.sqrt, "power": math.pow}


def _sqlite_math_functions(dbapi_connection) -> None:
    """Python's math for a SQLite built without its own (SQLITE_ENABLE_MATH_FUNCTIONS is a
    compile-time choice of the distribution)."""
    try:
        dbapi_connection.execute("SELECT sin(0), asin(0), power(2, 2), radians(0)")
    except Exception:  # sqlite3.OperationalError: no such function
        for name, function in SQL_MATH.items():
            arguments = 2 if name == "power" else 1
            dbapi_connection.create_function(name, arguments, _null_in_null_out(function),
                                             deterministic=True)


def _null_in_null_out(function):
    """As SQL functions behave: NULL for a NULL argument (a member without a position)."""
    def sql_function(*arguments):
        return None if None in arguments else function(*arguments)
    return sql_function
