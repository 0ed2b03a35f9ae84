"""Every table that holds something about a person, declared once.

A `Section` names a table, the column that points at the person, what is exported (the
person's own ciphertext decrypted, hashes and secrets never) and what closing the account
does to its rows. The data export (privacy/export.py) and account closure
(privacy/closure.py) both read this list; a new personal table is one line here, and
tests/privacy/test_registry.py fails for a table with a person column that is in neither
SECTIONS nor EXCLUDED.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from flask_babel import lazy_gettext as _l

# What closing an account does to a section's rows.
KEEP = "keep"  # kept under the pseudonym (hours, evaluations, the access log)
DELETE = "delete"  # removed with the account
CUSTOM = "custom"  # privacy/closure.py handles it (the profile, messages)

# Columns whose name says they are never exported: secrets and keyed hashes.
NEVER_EXPORTED_SUFFIXES = ("_hash", "_encrypted", "digest")
NEVER_EXPORTED = frozenset({"password_hash", "p256dh", "auth", "endpoint"})


@dataclass(frozen=True)
class Section:
    name: str  # the file (name.csv) and the key in data.json
    table: str
    owner: str  # "user" or "volunteer": which of the person's ids `column` holds
    column: str
    title: object  # lazy text, in README.txt and on the account page
    on_close: str = KEEP
    decrypt: dict[str, str] = field(default_factory=dict)  # output field -> ciphertext column
    clear_on_close: tuple[str, ...] = ()  # columns set to NULL when the account closes
    rows: Callable | None = None  # custom reader(person) -> list[dict], for derived sections
    also: tuple[str, ...] = ()  # further person columns of the same owner kind (OR)


def _ledger(person):
    from volunteer_hub.privacy.export_readers import ledger_transactions

    return ledger_transactions(person)


def _balance(person):
    from volunteer_hub.privacy.export_readers import ledger_balance

    return ledger_balance(person)


def _messages(person):
    from volunteer_hub.privacy.export_readers import messages

    return messages(person)


def _certificate(person):
    from volunteer_hub.privacy.export_readers import certificate

    return certificate(person)


SECTIONS: tuple[Section, ...] = (
    Section("account", "users", "user", "id", _l("Account"), on_close=CUSTOM),
    # closing: name pseudonymized; phone, ID number, national number (志愿者编号, it would
    # tie the hours back to the person), birth day and location cleared (privacy/closure.py)
    Section("profile", "volunteers", "volunteer", "id", _l("Volunteer profile"),
            on_close=CUSTOM, decrypt={"id_number": "id_number_encrypted"}),
    Section("consents", "consents", "volunteer", "volunteer_id", _l("Consents"),
            decrypt={"guardian_name": "guardian_name_encrypted",
                     "guardian_phone": "guardian_phone_encrypted"},
            clear_on_close=("guardian_name_encrypted", "guardian_phone_encrypted",
                            "guardian_relationship")),
    Section("skills", "volunteer_skills", "volunteer", "volunteer_id", _l("Skills"),
            on_close=DELETE),
    Section("certifications", "certifications", "volunteer", "volunteer_id",
            _l("Certifications"), on_close=DELETE),
    Section("availability", "availability_windows", "volunteer", "volunteer_id",
            _l("Weekly availability"), on_close=DELETE),
    Section("availability_exceptions", "availability_exceptions", "volunteer", "volunteer_id",
            _l("Availability exceptions"), on_close=DELETE),
    Section("home_location_changes", "home_location_changes", "volunteer", "volunteer_id",
            _l("Home location changes"), on_close=DELETE),
    Section("matching_preferences", "matching_preferences", "volunteer", "volunteer_id",
            _l("Matching preferences"), on_close=DELETE),
    Section("teams", "team_members", "volunteer", "volunteer_id", _l("Team memberships"),
            on_close=DELETE),
    Section("assignments", "assignments", "volunteer", "volunteer_id", _l("Task assignments")),
    Section("service_records", "service_records", "volunteer", "volunteer_id",
            _l("Service records")),
    Section("check_events", "check_events", "volunteer", "volunteer_id",
            _l("Check-in and check-out events")),
    Section("ledger_transactions", "ledger_transactions", "volunteer", "service_volunteer_id",
            _l("Time bank transactions"), rows=_ledger),
    Section("ledger_balance", "ledger_accounts", "volunteer", "owner_id",
            _l("Time bank balance"), rows=_balance),
    Section("kinships", "ledger_kinships", "volunteer", "volunteer_id",
            _l("Relatives for gifting hours"), on_close=DELETE, also=("relative_id",)),
    Section("certificate", "ledger_transactions", "volunteer", "service_volunteer_id",
            _l("Service record certificate"), rows=_certificate),
    Section("training", "training_records", "volunteer", "volunteer_id", _l("Training")),
    Section("awards", "awards", "volunteer", "volunteer_id", _l("Awards and recognition")),
    Section("evaluations", "evaluations", "volunteer", "volunteer_id", _l("Evaluations")),
    Section("star_notices", "star_notices", "volunteer", "volunteer_id",
            _l("Star level notices")),
    Section("calendar_feed", "calendar_feeds", "volunteer", "volunteer_id",
            _l("Calendar feed"), on_close=DELETE),
    Section("emergency_answers", "emergency_responders", "volunteer", "volunteer_id",
            _l("Emergency call-out answers")),
    Section("messages", "outbox_messages", "user", "recipient_id", _l("Messages and inbox"),
            on_close=CUSTOM, rows=_messages),
    # closing also deletes the SMS from the person's phone not yet tied to the account
    Section("sms_replies", "inbound_sms", "user", "user_id", _l("SMS replies"),
            on_close=DELETE),
    Section("notification_preferences", "notification_preferences", "user", "user_id",
            _l("Notification preferences"), on_close=DELETE),
    Section("push_subscriptions", "push_subscriptions", "user", "user_id",
            _l("Phones receiving push notifications"), on_close=DELETE),
    Section("wechat", "wechat_bindings", "user", "user_id", _l("WeChat binding"),
            on_close=DELETE, decrypt={"openid": "openid_encrypted"}),
    Section("api_tokens", "api_tokens", "user", "user_id", _l("API tokens"),
            on_close=DELETE),
    Section("roles", "role_grants", "user", "user_id", _l("Roles"), on_close=DELETE),
    Section("access_log", "personal_data_access_logs", "user", "subject_user_id",
            _l("Who viewed your ID number or downloaded your data")),
)

# Tables with a person column that are deliberately not exported, each with its reason.
EXCLUDED: dict[str, str] = {
    "closed_accounts": "exists only once the account is closed, when nobody can export it",
    "beneficiary_access_logs": "records reads of a beneficiary's data: the beneficiary's "
                               "record, kept for their protection",
    "activities": "lead_user_id names the staff member leading an activity: the "
                  "organization's record, not the person's",
}

PERSON_COLUMN_NAMES = ("user_id", "volunteer_id")


def is_person_column(name: str) -> bool:
    """A column that points at a user or volunteer by its name (e.g. service_volunteer_id)."""
    return name in PERSON_COLUMN_NAMES or name.endswith(tuple("_" + n for n in
                                                                PERSON_COLUMN_NAMES))


def exported_columns(table, section: Section) -> list[str]:
    """The table's columns as exported: secrets and hashes out, ciphertext decrypted."""
    names = [column.name for column in table.columns
             if column.name not in NEVER_EXPORTED
             and not column.name.endswith(NEVER_EXPORTED_SUFFIXES)]
    return names + list(section.decrypt)
