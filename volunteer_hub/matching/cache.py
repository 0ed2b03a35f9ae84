"""An org's volunteer pool kept between matching runs, while its matching data is unchanged.

Loading the static part of a pool (the volunteers' rows, skills, certifications, weekly
windows, exceptions, preferences) is most of a run's loading time; it changes far less
often than organizers run matching. A process keeps it per (org path, day), with the
matching-data versions it was loaded under: the tokens in matching_data_versions of the
org's subtree and of its ancestors. A run reads those tokens (one statement) and loads
again when any differs. Busy time, recent load and people served change with every
assignment: every run reads them fresh (loading.with_dynamic).

Who sets a new token: every flush that writes a watched table (the volunteer's own row
where a column the pool reads changed, their skills, certifications, windows, exceptions,
preferences; an org's place in the tree) notes the volunteer's home node (or the org), and
the transaction's commit sets the noted nodes' tokens in one statement, in org id order (so
two writers never lock version rows in opposite orders); a bulk statement through the
session on a watched table (insert/update/delete of many rows) sets one on every root at
commit, as does `bump_all()`. Writers that bypass the session (raw SQL, COPY) call `bump(org_ids)`.
"""
from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime

from flask import current_app
from sqlalchemy import BigInteger, event, inspect, literal, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, object_session

from volunteer_hub.db import db
from volunteer_hub.matching import loading
from volunteer_hub.matching.models import MatchingDataVersion, MatchingPreference
from volunteer_hub.orgs.models import Org
from volunteer_hub.volunteers.models import (
    AvailabilityException, AvailabilityWindow, Certification, Volunteer, VolunteerSkill)

# The Volunteer columns loading reads (a change to any other column keeps the version).
VOLUNTEER_COLUMNS = ("status", "org_path", "community_id", "grid_id", "lat", "lon", "gender",
                     "birth_date")
# Rows tied to one volunteer by volunteer_id.
VOLUNTEER_ROWS = (VolunteerSkill, Certification, AvailabilityWindow, AvailabilityException,
                  MatchingPreference)
ORG_COLUMNS = ("parent_id", "path", "level")
WATCHED_TABLES = frozenset(m.__tablename__ for m in (Volunteer, Org, *VOLUNTEER_ROWS))
_TOUCHED_NODES = "matching_touched_nodes"
_TOUCHED_VOLUNTEERS = "matching_touched_volunteers"
_PENDING_NODES = "matching_pending_nodes"
_PENDING_ALL = "matching_pending_all"
DEFAULT_SIZE = 8


# --- versions --------------------------------------------------------------------------------

def _new_token() -> int:
    return secrets.randbits(62)


def _upsert(connection, rows_select) -> None:
    """Set a new token on the org ids rows_select yields (one column)."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    table = MatchingDataVersion.__table__
    chosen = rows_select.subquery()
    statement = dialect.insert(table).from_select(
        ["org_id", "version"],
        select(chosen.c[0], literal(_new_token(), BigInteger)).where(chosen.c[0].isnot(None)))
    connection.execute(statement.on_conflict_do_update(
        index_elements=["org_id"], set_={"version": statement.excluded.version}))


def _node_ids(ids) -> select:
    # In id order: the rows an upsert locks, locked in one order by every writer.
    return select(Org.id).where(Org.id.in_(sorted(set(ids)))).order_by(Org.id)


def bump(org_ids, *, connection=None) -> None:
    """New matching-data versions for these org nodes: every kept pool of their subtrees
    and of their ancestors is loaded again. For writes that bypass the session (raw SQL,
    COPY); writes through the session bump by themselves."""
    ids = sorted(set(int(i) for i in org_ids))
    if ids:
        _upsert(connection or db.session.connection(), _node_ids(ids))


def bump_all(*, connection=None) -> None:
    """New versions on every root: no kept pool stays valid."""
    _upsert(connection or db.session.connection(),
            select(Org.id).where(Org.parent_id.is_(None)).order_by(Org.id))


def home_node(org_path: str | None) -> int | None:
    parts = (org_path or "").strip("/").split("/")
    return int(parts[-1]) if parts[-1] else None


def versions(path: str) -> tuple:
    """The versions a pool of the subtree at path depends on: its nodes' and ancestors'."""
    ancestors = [int(p) for p in path.strip("/").split("/") if p]
    rows = db.session.connection().execute(
        select(MatchingDataVersion.org_id, MatchingDataVersion.version)
        .join(Org, Org.id == MatchingDataVersion.org_id)
        .where(or_(Org.path.startswith(path, autoescape=True), Org.id.in_(ancestors)))).all()
    return tuple(sorted((int(o), int(v)) for o, v in rows))


# --- the session's writes --------------------------------------------------------------------

def _touched(target, key: str) -> set:
    session = object_session(target)
    return session.info.setdefault(key, set()) if session is not None else set()


def _changed(target, names) -> list:
    """(old values, new values) of the named attributes that this flush changes."""
    state = inspect(target)
    changed = []
    for name in names:
        history = state.attrs[name].history
        if history.has_changes():
            changed.append((list(history.deleted), list(history.added)))
    return changed


def _volunteer_written(mapper, connection, target) -> None:
    nodes = _touched(target, _TOUCHED_NODES)
    nodes.add(home_node(target.org_path))
    for old, _new in _changed(target, ("org_path",)):
        nodes.update(home_node(p) for p in old)


def _volunteer_updated(mapper, connection, target) -> None:
    if _changed(target, VOLUNTEER_COLUMNS):
        _volunteer_written(mapper, connection, target)


def _row_written(mapper, connection, target) -> None:
    volunteers = _touched(target, _TOUCHED_VOLUNTEERS)
    volunteers.add(target.volunteer_id)
    for old, _new in _changed(target, ("volunteer_id",)):
        volunteers.update(old)


def _org_updated(mapper, connection, target) -> None:
    if _changed(target, ORG_COLUMNS):
        _touched(target, _TOUCHED_NODES).add(target.id)


def _after_flush(session, flush_context) -> None:
    """Note the nodes this flush touched; their versions are set at commit (_before_commit)."""
    nodes = session.info.pop(_TOUCHED_NODES, set())
    volunteers = session.info.pop(_TOUCHED_VOLUNTEERS, set())
    volunteers.discard(None)
    if volunteers:
        # A handful per flush in practice; a bulk add through the ORM bumps everything
        # rather than binding one parameter per volunteer.
        if len(volunteers) > 1000:
            session.info[_PENDING_ALL] = True
        else:
            paths = session.connection().execute(select(Volunteer.org_path).where(
                Volunteer.id.in_(sorted(volunteers))).distinct()).scalars()
            nodes.update(home_node(p) for p in paths)
    nodes.discard(None)
    if nodes:
        session.info.setdefault(_PENDING_NODES, set()).update(nodes)


def _has_pending(session) -> bool:
    return bool(session.info.get(_PENDING_NODES) or session.info.get(_PENDING_ALL))


def _before_commit(session) -> None:
    """One upsert per transaction, last, rows in org id order: two transactions writing
    the same communities in opposite orders would deadlock on the version rows if each
    flush bumped its own nodes (A then B against B then A)."""
    if session.in_nested_transaction():
        return  # a savepoint: the outer commit sets them
    session.flush()
    bump_everything = session.info.pop(_PENDING_ALL, False)
    nodes = session.info.pop(_PENDING_NODES, set())
    if bump_everything:
        bump_all(connection=session.connection())
    elif nodes:
        bump(nodes, connection=session.connection())


def _bulk_statement(orm_execute_state) -> None:
    """insert/update/delete statements through the session (not the flush): one set of
    rows or many, their volunteers unknown here, so every kept pool goes."""
    state = orm_execute_state
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    if getattr(table, "name", None) in WATCHED_TABLES:
        state.session.info[_PENDING_ALL] = True


_registered = False


def register_listeners() -> None:
    """Once per process (the listeners are global: every session, every app)."""
    global _registered
    if _registered:
        return
    _registered = True
    for name in ("after_insert", "after_delete"):
        event.listen(Volunteer, name, _volunteer_written)
    event.listen(Volunteer, "after_update", _volunteer_updated)
    for model in VOLUNTEER_ROWS:
        for name in ("after_insert", "after_update", "after_delete"):
            event.listen(model, name, _row_written)
    event.listen(Org, "after_update", _org_updated)
    event.listen(Session, "after_flush", _after_flush)
    event.listen(Session, "before_commit", _before_commit)
    event.listen(Session, "do_orm_execute", _bulk_statement)


# --- kept pools ------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Kept:
    versions: tuple
    pool: loading.Pool


class PoolCache:
    """Static pools by (org path, day), least recently used dropped beyond `size`."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[str, date], _Kept] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key, current_versions) -> loading.Pool | None:
        with self._lock:
            kept = self._entries.get(key)
            if kept is None or kept.versions != current_versions:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return kept.pool

    def put(self, key, current_versions, pool: loading.Pool) -> None:
        with self._lock:
            self._entries[key] = _Kept(current_versions, pool)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def pool_cache() -> PoolCache | None:
    """This app's cache (None when MATCHING_POOL_CACHE_SIZE is 0)."""
    size = int(current_app.config.get("MATCHING_POOL_CACHE_SIZE", DEFAULT_SIZE))
    if size <= 0:
        return None
    cache = current_app.extensions.get("matching_pools")
    if cache is None or cache.size != size:
        cache = current_app.extensions["matching_pools"] = PoolCache(size)
    return cache


def org_pool(path: str, *, today: date, now: datetime, except_slot_ids=()) -> loading.Pool:
    """The active volunteers homed in the subtree at path, as loading.load_pool gives them,
    the static part from this process's cache while the versions are unchanged. The
    versions are read before loading: a write committed in between makes the next run load
    again (never a table older than its versions)."""
    query = loading.active_pool_query(path)
    cache = pool_cache()
    static = None
    if cache is not None and not _has_pending(db.session):
        # (writes of this transaction not yet versioned: neither read nor keep a pool)
        key, current_versions = (path, today), versions(path)
        static = cache.get(key, current_versions)
        if static is None:
            static = loading.load_static_pool(query, today=today)
            if current_versions:  # no version known: the data may come from a bulk load
                cache.put(key, current_versions, static)
    if static is None:
        static = loading.load_static_pool(query, today=today)
    return loading.with_dynamic(static, query, now=now, except_slot_ids=except_slot_ids)


register_listeners()

__all__ = ["PoolCache", "bump", "bump_all", "org_pool", "pool_cache", "register_listeners",
           "versions"]
