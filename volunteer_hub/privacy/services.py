"""Personal-data rights: the access log, the data export, what admins and people see."""
from __future__ import annotations

from sqlalchemy import select

from volunteer_hub.accounts.permissions import path_filter, scope_paths
from volunteer_hub.db import db
from volunteer_hub.privacy.models import ClosedAccount, PersonalDataAccess

ACCESS_LOG_PAGE = 200


def _org_path(user) -> str | None:
    volunteer = getattr(user, "volunteer", None)
    return volunteer.org_path if volunteer is not None else None


def record_reveal(volunteer, *, by, route: str, reason: str | None = None) -> PersonalDataAccess:
    """Record that `by` saw `volunteer`'s full ID number (kept at least 3 years). Flushes:
    the caller's transaction commits it."""
    entry = PersonalDataAccess(kind="id_reveal", subject_user_id=volunteer.user_id,
                               actor_user_id=by.id if by is not None else None,
                               org_path=volunteer.org_path, route=route[:100],
                               reason=(reason or None) and reason[:255])
    db.session.add(entry)
    db.session.flush()
    return entry


def export_personal_data(user, *, by, route: str) -> tuple[str, bytes]:
    """The person's own data as a ZIP (filename, bytes); the download is logged."""
    from volunteer_hub.errors import NotFound
    from volunteer_hub.privacy.export import build_zip, filename, person_of

    if by is None or by.id != user.id:
        raise NotFound()
    person = person_of(user)
    db.session.add(PersonalDataAccess(kind="data_export", subject_user_id=user.id,
                                      actor_user_id=by.id, org_path=_org_path(user),
                                      route=route[:100]))
    db.session.flush()
    return filename(person), build_zip(person)


def access_log_about(user, limit: int = ACCESS_LOG_PAGE) -> list[PersonalDataAccess]:
    """Who viewed this person's ID number or downloaded their data, newest first."""
    return db.session.execute(
        select(PersonalDataAccess).where(PersonalDataAccess.subject_user_id == user.id)
        .order_by(PersonalDataAccess.at.desc(), PersonalDataAccess.id.desc()).limit(limit)
    ).scalars().all()


def access_log_for_admin(by, *, kind: str | None = None,
                         limit: int = ACCESS_LOG_PAGE) -> list[PersonalDataAccess]:
    """The access log of the subtrees where `by` may reveal ID numbers, newest first."""
    paths = scope_paths(by, "volunteers.reveal_id")
    query = (select(PersonalDataAccess)
             .where(path_filter(PersonalDataAccess.org_path, paths))
             .order_by(PersonalDataAccess.at.desc(), PersonalDataAccess.id.desc()).limit(limit))
    if kind:
        query = query.where(PersonalDataAccess.kind == kind)
    return db.session.execute(query).scalars().all()


def closed_account_of(volunteer) -> ClosedAccount | None:
    return db.session.execute(select(ClosedAccount).filter_by(
        volunteer_id=volunteer.id)).scalar_one_or_none()


def certificate_holder_name(volunteer) -> str:
    """The masked name certificates print: for a closed account, the one kept at closure."""
    from volunteer_hub.timebank.certificates import mask_name

    closed = closed_account_of(volunteer)
    if closed is not None and closed.certificate_name:
        return closed.certificate_name
    return mask_name(volunteer.real_name)
