"""Set-based loading: open slots and a volunteer pool straight into the engine's tables.

A run sends a fixed handful of statements whatever its size: the pool is one query, and
each attribute table (skills, certifications, weekly windows, exceptions, busy time,
recent load, people served, preferences) is one more, joined to the pool's query instead
of fed a list of ids (PostgreSQL refuses more than 65,535 bound parameters). Columns go
into numpy arrays and from there into VolunteerTable; no Python object per volunteer.
Slots are few (thousands), so they become engine.Slot values, each from one row.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, timedelta
from functools import cached_property

import numpy as np
from sqlalchemy import BigInteger, Select, Text, case, cast, func, select
from sqlalchemy.orm import aliased

from volunteer_hub.db import db, is_postgresql
from volunteer_hub.matching import domain as engine
from volunteer_hub.matching.candidates import (
    KEY_SHIFT, MISSING_ID, NO_EXPIRY, SlotTable, Vocabulary, VolunteerTable, _bits)
from volunteer_hub.matching.models import ACTIVE_STATES, COMMITTED_STATES, Assignment, MatchingPreference
from volunteer_hub.needs.models import Beneficiary, Need, NeedSlot
from volunteer_hub.orgs.models import Org
from volunteer_hub.volunteers.models import (
    AvailabilityException, AvailabilityWindow, Certification, Volunteer, VolunteerSkill)

RECENT_LOAD_DAYS = 28
WINDOW_STRIDE = engine.MINUTES_PER_DAY + 1
_EPOCH = np.datetime64(engine.TIME_EPOCH, "s")


def _street_of(community_alias, parent_alias):
    """The community's parent when it is a street (the engine's street_id)."""
    return case((parent_alias.level == "street", parent_alias.id), else_=None)


# --- slots -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class SlotSet:
    """Open slots of a run: engine values (sorted by id) and, when asked for, their table
    (a run's rounds build their own tables from the slots still open)."""

    slots: list[engine.Slot]
    paths: list[str]  # the need's org path, to split a night's slots by community
    vocabulary: Vocabulary

    @cached_property
    def table(self) -> SlotTable:
        return SlotTable.from_slots(self.slots, self.vocabulary)


def matchable_slots_query(path_filter, first: datetime, stop: datetime, *,
                          taken_states=ACTIVE_STATES) -> Select:
    from volunteer_hub.needs import services as needs

    taken = db.exists().where(Assignment.slot_id == NeedSlot.id, Assignment.state.in_(taken_states))
    community, parent = aliased(Org), aliased(Org)
    return (
        select(NeedSlot.id, NeedSlot.need_id, NeedSlot.start, NeedSlot.end, Need.type, Need.priority,
               Need.lat, Need.lon, Need.grid_id, Need.community_id, _street_of(community, parent),
               Need.max_distance_km, Need.required_skills, Need.required_certifications,
               Need.same_gender, Beneficiary.gender, Need.adults_only, Need.background_check,
               Need.beneficiary_id, Beneficiary.category, Need.org_path)
        .join(Need, NeedSlot.need_id == Need.id)
        .outerjoin(Beneficiary, Need.beneficiary_id == Beneficiary.id)
        .outerjoin(community, Need.community_id == community.id)
        .outerjoin(parent, community.parent_id == parent.id)
        .where(path_filter, Need.state.in_(needs.MATCHABLE_STATES), NeedSlot.status == "open",
               NeedSlot.start >= first, NeedSlot.start < stop, ~taken)
        .order_by(NeedSlot.id))


def slot_from_row(row) -> engine.Slot:
    (slot_id, need_id, start, end, need_type, priority, lat, lon, grid_id, community_id, street_id,
     max_km, skills, certs, same_gender, beneficiary_gender, adults_only, background, beneficiary_id,
     category, _path) = row
    return engine.Slot(
        id=slot_id, need_id=need_id, need_type=need_type, priority=priority, start=start, end=end,
        lat=lat, lon=lon, grid_id=grid_id, community_id=community_id, street_id=street_id,
        max_distance_km=max_km, required_skills=dict(skills or {}),
        required_certifications=frozenset(certs or ()),
        same_gender=beneficiary_gender if same_gender and beneficiary_gender else None,
        adults_only=adults_only, needs_background_check=background, beneficiary_id=beneficiary_id,
        beneficiary_category=category)


def load_slot_rows(path_filter, first: datetime, stop: datetime) -> tuple[list[engine.Slot], list[str]]:
    rows = _rows(matchable_slots_query(path_filter, first, stop))
    return [slot_from_row(r) for r in rows], [r[-1] for r in rows]


# --- volunteers ------------------------------------------------------------------------------

def _ints(values, dtype=np.int64) -> np.ndarray:
    return np.fromiter(values, dtype=dtype)


def _index(ids: np.ndarray, volunteer_ids: np.ndarray) -> np.ndarray:
    return np.searchsorted(ids, volunteer_ids)


def _minutes(moments: list, *, ceil: bool) -> np.ndarray:
    """Minutes since TIME_EPOCH of datetimes or ISO text (rounded outward like
    domain.minutes_floor/ceil)."""
    if not moments:
        return np.empty(0, np.int64)
    micros = (np.array(moments, dtype="datetime64[us]") - _EPOCH.astype("datetime64[us]")).astype(np.int64)
    if ceil:
        return -((-micros) // 60_000_000)
    return micros // 60_000_000


def merge_intervals(keys: np.ndarray, ends: np.ndarray, group_of_key, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Sort and merge overlapping or touching intervals of each group.

    keys = group * stride + start, ends = end (same unit as start, < stride).
    """
    if len(keys) == 0:
        return keys.astype(np.int64), ends.astype(np.int64)
    order = np.argsort(keys, kind="stable")
    keys, ends = keys[order], ends[order]
    end_keys = group_of_key(keys) * stride + ends
    reach = np.maximum.accumulate(end_keys)
    starts_new = np.ones(len(keys), dtype=bool)
    starts_new[1:] = keys[1:] > reach[:-1]
    first = np.flatnonzero(starts_new)
    merged_end_keys = np.maximum.reduceat(end_keys, first)
    merged_keys = keys[first]
    return merged_keys, merged_end_keys - group_of_key(merged_keys) * stride


@dataclass
class Pool:
    """A volunteer pool as columns (sorted by id), plus the rows of each attribute table,
    each tied to its volunteer by pool row (an index into ids), found once when loaded."""

    ids: np.ndarray
    paths: np.ndarray
    columns: dict[str, np.ndarray]
    skills: tuple[np.ndarray, np.ndarray, np.ndarray]  # pool row, code, level
    certs: tuple[np.ndarray, np.ndarray, np.ndarray]  # pool row, kind, expiry ordinal
    windows: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # pool row, weekday, start, end
    exceptions: tuple[np.ndarray, np.ndarray]  # pool row, date ordinal
    busy: tuple[np.ndarray, np.ndarray, np.ndarray]  # pool row, start minute, end minute
    load: tuple[np.ndarray, np.ndarray]  # pool row, count
    served: tuple[np.ndarray, np.ndarray]  # pool row, beneficiary id
    preferences: list[tuple]  # (id, need_types, max_km, weekdays, day_parts, categories)
    today: date
    # What only depends on the static data above (the vocabulary, the whole pool's table
    # without busy time, load and people served), computed once; shared by the copies that
    # with_dynamic makes, so a cached pool computes it once for all runs.
    memo: dict = field(default_factory=dict, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.ids)

    def vocabulary(self) -> Vocabulary:
        if "vocabulary" not in self.memo:
            self.memo["vocabulary"] = self._vocabulary()
        return self.memo["vocabulary"]

    def _vocabulary(self) -> Vocabulary:
        def codes(values) -> dict[str, int]:
            return {code: i for i, code in enumerate(sorted(set(values)))}

        return Vocabulary(
            skills=codes(self.skills[1].tolist()), certifications=codes(self.certs[1].tolist()),
            genders=codes(self.columns["gender"].tolist()),
            need_types=codes(t for p in self.preferences for t in (p[1] or ())),
            categories=codes(c for p in self.preferences for c in (p[5] or ())))

    def table(self, keep: np.ndarray | None = None, vocabulary: Vocabulary | None = None) -> VolunteerTable:
        """The engine's table over the volunteers flagged in keep (default: everyone)."""
        whole = keep is None and (vocabulary is None or vocabulary is self.vocabulary())
        if whole:
            if "static_table" not in self.memo:
                self.memo["static_table"] = _read_only(self._static_table(None, self.vocabulary()))
            static = self.memo["static_table"]
            position = np.arange(len(self.ids), dtype=np.int64)
        else:
            vocabulary = vocabulary or self.vocabulary()
            keep = np.ones(len(self.ids), dtype=bool) if keep is None else keep
            static = self._static_table(keep, vocabulary)
            position = np.full(len(self.ids), -1, dtype=np.int64)
            position[keep] = np.arange(len(static))
        return replace(static, **self._dynamic_columns(position, len(static)))

    def _dynamic_columns(self, position: np.ndarray, n: int) -> dict:
        """Busy time, recent load and people served: they change with every run."""
        def rows(pool_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            at = position[pool_rows]
            return at >= 0, at

        ok, at = rows(self.busy[0])
        busy_keys, busy_ends = merge_intervals(
            at[ok] * KEY_SHIFT + self.busy[1][ok], self.busy[2][ok], lambda k: k // KEY_SHIFT, int(KEY_SHIFT))
        recent_load = np.zeros(n, dtype=np.int64)
        ok, at = rows(self.load[0])
        recent_load[at[ok]] = self.load[1][ok]
        ok, at = rows(self.served[0])
        served = np.unique(at[ok] * KEY_SHIFT + self.served[1][ok])
        return {"busy_keys": busy_keys, "busy_ends": busy_ends, "recent_load": recent_load,
                "served_keys": served}

    def _static_table(self, keep: np.ndarray | None, vocabulary: Vocabulary) -> VolunteerTable:
        """The table's columns from the static data; busy time, load and served empty."""
        keep = np.ones(len(self.ids), dtype=bool) if keep is None else keep
        ids = self.ids[keep]
        n = len(ids)
        # Position of each pool row in the new table, -1 for rows left out.
        position = np.full(len(self.ids), -1, dtype=np.int64)
        position[keep] = np.arange(n)

        def rows(pool_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            at = position[pool_rows]
            return at >= 0, at

        col = {name: values[keep] for name, values in self.columns.items()}
        skill_levels = np.zeros((n, len(vocabulary.skills)), dtype=np.uint8)
        ok, at = rows(self.skills[0])
        if ok.any():
            skill_cols = _ints((vocabulary.skills[c] for c in self.skills[1][ok]), np.int64)
            np.maximum.at(skill_levels, (at[ok], skill_cols), self.skills[2][ok].astype(np.uint8))
        cert_expiry = np.zeros((n, len(vocabulary.certifications)), dtype=np.int32)
        ok, at = rows(self.certs[0])
        if ok.any():
            cert_cols = _ints((vocabulary.certifications[c] for c in self.certs[1][ok]), np.int64)
            np.maximum.at(cert_expiry, (at[ok], cert_cols), self.certs[2][ok].astype(np.int32))
        background = np.zeros(n, dtype=bool)
        if "background_check" in vocabulary.certifications:
            held = cert_expiry[:, vocabulary.certifications["background_check"]]
            background = held >= self.today.toordinal()
        ok, at = rows(self.windows[0])
        groups = at[ok] * 7 + self.windows[1][ok]
        avail_keys, avail_ends = merge_intervals(
            groups * WINDOW_STRIDE + self.windows[2][ok], self.windows[3][ok],
            lambda k: k // WINDOW_STRIDE, WINDOW_STRIDE)
        ok, at = rows(self.exceptions[0])
        unavailable = np.unique(at[ok] * KEY_SHIFT + self.exceptions[1][ok])
        prefs = self._preference_columns(position, n, vocabulary)
        empty = np.empty(0, np.int64)
        return VolunteerTable(
            ids=ids, lat=col["lat"], lon=col["lon"], grid=col["grid"], community=col["community"],
            street=col["street"], gender=_ints((vocabulary.genders[g] for g in col["gender"]), np.int64),
            age=col["age"], active=np.ones(n, dtype=bool), background_checked=background,
            skill_levels=skill_levels, cert_expiry=cert_expiry, avail_keys=avail_keys,
            avail_ends=avail_ends, unavailable_keys=unavailable, busy_keys=empty,
            busy_ends=empty, recent_load=np.zeros(n, dtype=np.int64), served_keys=empty,
            vocabulary=vocabulary, **prefs)

    def _preference_columns(self, position: np.ndarray, n: int, vocabulary: Vocabulary) -> dict:
        max_km = np.full(n, np.inf)
        weekdays = np.zeros(n, dtype=np.uint8)
        day_parts = np.zeros(n, dtype=np.uint8)
        type_keys: list[int] = []
        category_keys: list[int] = []
        for volunteer_id, types, km, days, parts, categories in self.preferences:
            at = int(position[_index(self.ids, np.array([volunteer_id]))[0]])
            if at < 0:
                continue
            if km is not None:
                max_km[at] = km
            weekdays[at] = _bits(days or ())
            day_parts[at] = _bits(engine.DAY_PARTS.index(p) for p in parts or ())
            type_keys.extend(at * int(KEY_SHIFT) + vocabulary.need_types[t] for t in set(types or ()))
            category_keys.extend(at * int(KEY_SHIFT) + vocabulary.categories[c] for c in set(categories or ()))
        return {"preference_keys": np.sort(_ints(type_keys)), "max_km": max_km,
                "preferred_weekdays": weekdays, "preferred_day_parts": day_parts,
                "category_keys": np.sort(_ints(category_keys))}


def active_pool_query(path: str) -> Select:
    """Ids of the active volunteers homed in the subtree at path."""
    return select(Volunteer.id).where(Volunteer.status == "active",
                                      Volunteer.org_path.startswith(path, autoescape=True))


def _columns(rows: list[tuple], n_fields: int) -> list[list]:
    # One pass per column: zip(*rows) would make an iterator per row (hundreds of thousands).
    return [[row[i] for row in rows] for i in range(n_fields)]


LEVEL_STRIDE = 256  # a skill level packed with its volunteer id


def _joined(expression):
    """All values of an integer expression as one comma-separated text (an aggregate)."""
    if is_postgresql():
        return func.string_agg(cast(expression, Text), ",")
    return func.group_concat(expression, ",")


def _packed_ints(text: str | None) -> np.ndarray:
    if not text:
        return np.empty(0, np.int64)
    return np.fromstring(text, dtype=np.int64, sep=",")


def _int_columns(rows: list[tuple], n_fields: int) -> list[np.ndarray]:
    """Columns of an all-integer result, converted in one numpy call."""
    table = np.array(rows, dtype=np.int64).reshape(len(rows), n_fields)
    return [table[:, i] for i in range(n_fields)]


def _rows(statement) -> list[tuple]:
    """Rows through Core: column rows need none of the ORM's loading layer."""
    return db.session.connection().execute(statement).all()


def _raw(statement) -> list[tuple]:
    """The driver's own tuples, without SQLAlchemy's per-row processing (tens of
    thousands of rows): dates and times may come as ISO text (SQLite) or as objects
    (PostgreSQL); _days and _minutes read both."""
    result = db.session.connection().execute(statement)
    try:
        return result.cursor.fetchall()
    finally:
        result.close()


_ORDINAL_OF_1970 = date(1970, 1, 1).toordinal()


def _days(values: list, missing: int) -> np.ndarray:
    """Date ordinals of dates or ISO date text; missing where None."""
    days = np.array(values, dtype="datetime64[D]")
    ordinals = days.astype(np.int64) + _ORDINAL_OF_1970
    ordinals[np.isnat(days)] = missing
    return ordinals


def load_pool(pool: Select, *, today: date, now: datetime, except_slot_ids=()) -> Pool:
    """Every volunteer id selected by `pool` with all matching data (one query per table)."""
    return with_dynamic(load_static_pool(pool, today=today), pool, now=now,
                        except_slot_ids=except_slot_ids)


def load_static_pool(pool: Select, *, today: date) -> Pool:
    """The pool with what only a write to a volunteer's matching data changes (their row,
    skills, certifications, availability, preferences); busy time, load and people served
    left empty (with_dynamic reads them)."""
    members = pool.subquery()
    joined = members.c.id
    community, parent = aliased(Org), aliased(Org)
    base = _raw(
        select(Volunteer.id, Volunteer.lat, Volunteer.lon, Volunteer.grid_id, Volunteer.community_id,
               _street_of(community, parent), Volunteer.gender, Volunteer.birth_date, Volunteer.org_path)
        .join(members, Volunteer.id == joined)
        .outerjoin(community, Volunteer.community_id == community.id)
        .outerjoin(parent, community.parent_id == parent.id)
        .order_by(Volunteer.id))
    ids, lat, lon, grid, comm, street, gender, birth, paths = _columns(base, 9)
    today_key = today.year * 10_000 + today.month * 100 + today.day
    births = np.array(birth, dtype="datetime64[D]")
    months = births.astype("datetime64[M]")
    birth_keys = ((births.astype("datetime64[Y]").astype(np.int64) + 1970) * 10_000
                  + (months.astype(np.int64) % 12 + 1) * 100
                  + (births - months).astype(np.int64) + 1)

    def opt(values) -> np.ndarray:
        return _ints((MISSING_ID if v is None else v for v in values), np.int64)

    def coord(values) -> np.ndarray:
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)

    lat_a, lon_a = coord(lat), coord(lon)
    no_coords = np.isnan(lat_a) | np.isnan(lon_a)
    lat_a[no_coords] = lon_a[no_coords] = np.nan
    columns = {
        "lat": lat_a, "lon": lon_a, "grid": opt(grid), "community": opt(comm), "street": opt(street),
        "gender": np.array(gender, dtype=object),
        "age": (today_key - birth_keys) // 10_000,
    }

    def of_pool(model_id):
        return model_id.in_(select(joined))

    # The two biggest tables come as one text of packed integers per group, joined by the
    # database and parsed by numpy: no Python object per row.
    skill_groups = _raw(
        select(VolunteerSkill.skill_code, _joined(
            cast(VolunteerSkill.volunteer_id, BigInteger) * LEVEL_STRIDE
            + func.coalesce(VolunteerSkill.confirmed_level, VolunteerSkill.level)))
        .where(of_pool(VolunteerSkill.volunteer_id)).group_by(VolunteerSkill.skill_code))
    s_packed = [_packed_ints(text) for _, text in skill_groups]
    s_code = [code for (code, _), values in zip(skill_groups, s_packed) for _ in range(len(values))]
    s_all = np.concatenate(s_packed) if s_packed else np.empty(0, np.int64)
    s_id, s_level = s_all // LEVEL_STRIDE, s_all % LEVEL_STRIDE
    certs = _raw(
        select(Certification.volunteer_id, Certification.kind, Certification.expires_on)
        .where(of_pool(Certification.volunteer_id), Certification.issued_on <= today))
    c_id, c_kind, c_expiry = _columns(certs, 3)
    window_stride = 7 * WINDOW_STRIDE**2  # (weekday, start, end) of one window < this
    [(windows_text,)] = _raw(select(_joined(
        cast(AvailabilityWindow.volunteer_id, BigInteger) * window_stride  # beyond 32 bits
        + (AvailabilityWindow.weekday * WINDOW_STRIDE + AvailabilityWindow.start_minute) * WINDOW_STRIDE
        + AvailabilityWindow.end_minute)).where(of_pool(AvailabilityWindow.volunteer_id)))
    w_all = _packed_ints(windows_text)
    w_packed = w_all % window_stride
    w_cols = (w_all // window_stride, w_packed // WINDOW_STRIDE**2, w_packed // WINDOW_STRIDE % WINDOW_STRIDE,
              w_packed % WINDOW_STRIDE)
    exceptions = _raw(
        select(AvailabilityException.volunteer_id, AvailabilityException.day)
        .where(of_pool(AvailabilityException.volunteer_id),
               AvailabilityException.available.is_(False)))
    e_id, e_day = _columns(exceptions, 2)
    preferences = list(_rows(
        select(MatchingPreference.volunteer_id, MatchingPreference.need_types,
               MatchingPreference.max_travel_km, MatchingPreference.weekdays,
               MatchingPreference.day_parts, MatchingPreference.categories)
        .where(of_pool(MatchingPreference.volunteer_id))))
    pool_ids = _ints(ids)
    members_now = set(ids)
    none = np.empty(0, np.int64)
    return Pool(
        ids=pool_ids, paths=np.array(paths, dtype=str), columns=columns,
        skills=_of_rows(pool_ids, s_id, np.array(s_code, dtype=object), s_level),
        certs=_of_rows(pool_ids, c_id, np.array(c_kind, dtype=object), _days(c_expiry, NO_EXPIRY)),
        windows=_of_rows(pool_ids, *w_cols),
        exceptions=_of_rows(pool_ids, e_id, _days(e_day, 0)),
        busy=(none, none, none), load=(none, none), served=(none, none),
        preferences=[p for p in preferences if p[0] in members_now], today=today)


def _of_rows(pool_ids: np.ndarray, volunteer_ids, *values) -> tuple:
    """(pool row, *values) of the attribute rows whose volunteer is in the pool. Two queries
    of one load may see different pools (a volunteer activated in between): the rows of a
    volunteer missing from pool_ids are left out."""
    volunteer_ids = np.asarray(volunteer_ids, dtype=np.int64)
    at = np.searchsorted(pool_ids, volunteer_ids)
    found = at < len(pool_ids)
    found[found] = pool_ids[at[found]] == volunteer_ids[found]
    return (at[found], *(np.asarray(v)[found] for v in values))


def with_dynamic(static: Pool, pool: Select, *, now: datetime, except_slot_ids=()) -> Pool:
    """A copy of a static pool with what changes with every run: busy time (active
    assignments but those in except_slot_ids), recent load and people served."""
    members = pool.subquery()

    def of_pool(model_id):
        # A semi-join on the pool's id: per assignment row one key lookup, where IN
        # (the pool) would first build a set of the whole pool for each of the 3 queries.
        return db.exists().where(members.c.id == model_id)

    busy = _raw(
        select(Assignment.volunteer_id, NeedSlot.start, NeedSlot.end)
        .join(NeedSlot, Assignment.slot_id == NeedSlot.id)
        .where(of_pool(Assignment.volunteer_id), Assignment.state.in_(ACTIVE_STATES),
               NeedSlot.status.in_(("open", "filled")),
               NeedSlot.id.not_in(list(except_slot_ids) or [-1])))
    b_id, b_start, b_end = _columns(busy, 3)
    load = _raw(
        select(Assignment.volunteer_id, func.count(Assignment.id))
        .join(NeedSlot, Assignment.slot_id == NeedSlot.id)
        .where(of_pool(Assignment.volunteer_id), Assignment.state.in_(COMMITTED_STATES),
               NeedSlot.start >= now - timedelta(days=RECENT_LOAD_DAYS))
        .group_by(Assignment.volunteer_id))
    l_id, l_count = _int_columns(load, 2)
    served = _raw(
        select(Assignment.volunteer_id, Need.beneficiary_id).distinct()
        .join(NeedSlot, Assignment.slot_id == NeedSlot.id)
        .join(Need, NeedSlot.need_id == Need.id)
        .where(of_pool(Assignment.volunteer_id), Assignment.state == "accepted",
               Need.beneficiary_id.isnot(None)))
    v_id, v_benef = _int_columns(served, 2)
    return replace(
        static, busy=_of_rows(static.ids, b_id, _minutes(b_start, ceil=False), _minutes(b_end, ceil=True)),
        load=_of_rows(static.ids, l_id, l_count), served=_of_rows(static.ids, v_id, v_benef))


def _read_only(table: VolunteerTable) -> VolunteerTable:
    """A memoized table is shared by runs (and threads): numpy refuses writes into it."""
    for column in fields(table):
        value = getattr(table, column.name)
        if isinstance(value, np.ndarray):
            value.flags.writeable = False
    return table


def in_subtree(paths: np.ndarray, prefix: str) -> np.ndarray:
    """Per pool row: homed in the subtree at prefix (org paths end with '/')."""
    return np.char.startswith(paths, prefix) if len(paths) else np.zeros(0, bool)


def with_assignments(table: VolunteerTable, vi: np.ndarray, start: np.ndarray, end: np.ndarray,
                     beneficiary: np.ndarray) -> VolunteerTable:
    """The table after a round: the assigned slots become busy time and recent load, and
    their beneficiaries count as served, so that later rounds prefer, among near-equal
    candidates, whoever already visits that person (fewer faces for a split series)."""
    if len(vi) == 0:
        return table
    keys, ends = merge_intervals(
        np.concatenate((table.busy_keys, vi * KEY_SHIFT + start)), np.concatenate((table.busy_ends, end)),
        lambda k: k // KEY_SHIFT, int(KEY_SHIFT))
    load = table.recent_load.copy()
    np.add.at(load, vi, 1)
    known = beneficiary != MISSING_ID
    served = np.unique(np.concatenate((table.served_keys, vi[known] * KEY_SHIFT + beneficiary[known])))
    return replace(table, busy_keys=keys, busy_ends=ends, recent_load=load, served_keys=served)


__all__ = ["Pool", "SlotSet", "active_pool_query", "in_subtree", "load_pool", "load_slot_rows",
           "load_static_pool", "with_assignments", "with_dynamic"]
