"""Codes of beneficiary categories, need types, priorities and states, with labels."""
from flask_babel import lazy_gettext as _l

BENEFICIARY_CATEGORIES = {
    "elderly_alone": _l("Elderly, living alone"),
    "empty_nest": _l("Elderly, empty nest"),
    "left_behind_child": _l("Left-behind child"),
    "disability": _l("Person with a disability"),
    "other": _l("Other"),
}

NEED_TYPES = {
    "home_visit": _l("Home visit / companionship"),
    "meal_delivery": _l("Meal delivery"),
    "escort_hospital": _l("Escort to hospital"),
    "tutoring": _l("Tutoring / homework help"),
    "child_companionship": _l("Child companionship"),
    "cleaning_repairs": _l("Cleaning and repairs"),
    "psychological_support": _l("Psychological support"),
    "legal_aid": _l("Legal aid"),
    "event_support": _l("Event support"),
    "emergency_post": _l("Emergency post"),
    "custom": _l("Other (describe)"),
}

PRIORITIES = {"urgent": _l("Urgent"), "high": _l("High"), "normal": _l("Normal")}

NEED_STATES = {
    "draft": _l("Draft"),
    "open": _l("Open"),
    "partly_matched": _l("Partly matched"),
    "matched": _l("Matched"),
    "in_progress": _l("In progress"),
    "done": _l("Done"),
    "cancelled": _l("Cancelled"),
}

SLOT_STATUSES = {
    "open": _l("Open"), "filled": _l("Filled"), "cancelled": _l("Cancelled"), "done": _l("Done"),
}

# What an assigned volunteer may see of the person, by type of task ("only what the task
# needs"). A child's own phone is never shown: the guardian's is.
SENSITIVE_FIELDS = ("name", "birth_date", "address", "phone", "care_notes", "guardian_name",
                    "guardian_phone")
TASK_FIELDS = {
    "home_visit": ("name", "address", "phone", "care_notes"),
    "meal_delivery": ("name", "address", "phone", "care_notes"),
    "escort_hospital": ("name", "address", "phone", "care_notes"),
    "tutoring": ("name", "address", "guardian_name", "guardian_phone"),
    "child_companionship": ("name", "address", "guardian_name", "guardian_phone"),
    "cleaning_repairs": ("name", "address", "phone"),
    "psychological_support": ("name", "phone", "care_notes"),
    "legal_aid": ("name", "phone"),
    "event_support": ("name",),
    "emergency_post": ("name",),
    "custom": ("name", "address", "phone"),
}
FIELD_LABELS = {
    "name": _l("Name"),
    "birth_date": _l("Date of birth"),
    "address": _l("Address"),
    "phone": _l("Phone"),
    "care_notes": _l("Care notes"),
    "guardian_name": _l("Guardian"),
    "guardian_phone": _l("Guardian's phone"),
}
