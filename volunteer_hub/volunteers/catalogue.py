"""The catalogue of skills and certification kinds, with translatable labels."""
from flask_babel import lazy_gettext as _l

SKILLS = {
    "elder_care": _l("Elder care"),
    "companionship": _l("Companionship"),
    "tutoring": _l("Tutoring"),
    "child_care": _l("Child care"),
    "first_aid": _l("First aid"),
    "psychological_support": _l("Psychological support"),
    "legal_aid": _l("Legal aid"),
    "medical": _l("Medical"),
    "nursing": _l("Nursing"),
    "water_rescue": _l("Water rescue"),
    "mountain_rescue": _l("Mountain rescue"),
    "earthquake_rescue": _l("Earthquake rescue"),
    "firefighting": _l("Firefighting"),
    "driving": _l("Driving"),
    "translation": _l("Translation"),
    "sign_language": _l("Sign language"),
    "repairs": _l("Repairs"),
    "electrical": _l("Electrical work"),
    "cooking": _l("Cooking"),
    "cleaning": _l("Cleaning"),
    "it_support": _l("Computer and phone help"),
    "event_support": _l("Event support"),
}
SKILL_LEVELS = {1: _l("Basic"), 2: _l("Experienced"), 3: _l("Expert")}

CERTIFICATION_KINDS = {
    "first_aid": _l("First aid certificate"),
    "water_rescue_licence": _l("Water rescue licence"),
    "mountain_rescue_licence": _l("Mountain rescue licence"),
    "earthquake_rescue_licence": _l("Earthquake rescue licence"),
    "fire_rescue_licence": _l("Fire rescue licence"),
    "driving_licence": _l("Driving licence"),
    "medical_licence": _l("Medical licence"),
    "psychological_counsellor": _l("Psychological counsellor"),
    "lawyer_licence": _l("Lawyer's licence"),
    "background_check": _l("Background check (work with children)"),
    "other": _l("Other"),
}

LANGUAGES = {
    "zh": _l("Mandarin"),
    "yue": _l("Cantonese"),
    "en": _l("English"),
    "csl": _l("Chinese Sign Language"),
    "other": _l("Other language"),
}

GENDERS = {"male": _l("Male"), "female": _l("Female")}
ID_TYPE_LABELS = {
    "mainland_id": _l("Mainland resident ID"),
    "passport": _l("Passport"),
    "hk_macau_permit": _l("Hong Kong / Macau permit"),
    "taiwan_permit": _l("Taiwan permit"),
}
STATUSES = ("pending", "active", "suspended", "left")
STATUS_LABELS = {
    "pending": _l("Pending approval"),
    "active": _l("Active"),
    "suspended": _l("Suspended"),
    "left": _l("Left"),
}
WEEKDAYS = (_l("Monday"), _l("Tuesday"), _l("Wednesday"), _l("Thursday"), _l("Friday"),
            _l("Saturday"), _l("Sunday"))
CONSENT_KINDS = {
    "service_terms": _l("Volunteer service terms"),
    "sensitive_data": _l("Processing of my sensitive personal information (ID number)"),
    "guardian": _l("Guardian's consent for a minor"),
}
