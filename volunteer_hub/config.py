"""Configuration: defaults in code, then VOLUNTEER_HUB_* environment variables.

Every setting the domain marks [local] or [open] lives here with a safe default, so a
deployment changes behaviour by configuration, never by editing code.
"""
from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

ENV_PREFIX = "VOLUNTEER_HUB_"


class DefaultConfig:
    SECRET_KEY: str | None = None  # generated per instance when unset, see _ensure_secrets
    DATABASE_URL: str | None = None  # default: sqlite file in instance/
    SQLALCHEMY_TRACK_MODIFICATIONS = False

    # Keys for personal data: a Fernet key for encryption and a separate key for the
    # keyed hash that enforces "one ID, one account" without storing the clear number.
    DATA_ENCRYPTION_KEY: str | None = None
    ID_HASH_KEY: str | None = None

    # i18n
    BABEL_DEFAULT_LOCALE = "zh_Hans"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    LANGUAGES = ("zh_Hans", "en")

    # API / OpenAPI (flask-smorest)
    API_TITLE = "Volunteer Hub API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api"
    OPENAPI_JSON_PATH = "openapi.json"
    OPENAPI_SWAGGER_UI_PATH = "/docs"
    OPENAPI_SWAGGER_UI_URL = "/static/vendor/swagger-ui/"
    API_SPEC_OPTIONS = {
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}
        },
        "security": [{"bearerAuth": []}],
    }

    # Rate limits (Flask-Limiter). Memory storage is per process: use redis:// in production.
    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_HEADERS_ENABLED = True
    LOGIN_RATE_LIMIT = "10 per minute"
    CHECK_IN_RATE_LIMIT = "10 per minute"  # the 6-digit code has only a million values
    # Per account too (the normalized login, hashed), whatever address the guesses come from.
    LOGIN_ACCOUNT_RATE_LIMIT = "10 per minute"
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True  # redis down: limit per process, never a 500

    # HTTP guards (web/http_guards.py). TRUSTED_PROXIES: how many reverse proxies in front
    # set X-Forwarded-For/-Proto (0: none, the headers are ignored).
    TRUSTED_PROXIES = 0
    MAX_CONTENT_LENGTH = 1024 * 1024  # bytes of a request body; more answers 413
    SESSION_COOKIE_SAMESITE = "Lax"

    WTF_CSRF_TIME_LIMIT = None  # tokens last as long as the session

    # Domain settings ([local] / [open] in DOMAIN.md)
    MIN_SELF_REGISTRATION_AGE = 14  # under 14 cannot register alone (PIPL Art. 31)
    ADULT_AGE = 18  # 14-17 register with a guardian's consent
    LEGACY_15_DIGIT_ID = "refuse"  # 15-digit IDs were replaced in 2004-2013; refuse them
    REQUIRE_APPROVAL_DEFAULT = True  # organizer approval of new volunteers, overridable per org
    PASSWORD_MIN_LENGTH = 8
    CONSENT_TEXT_VERSION = "2026-11"
    # [open] How often a volunteer's home point may change: a free home would let anyone
    # locate a need by moving around it.
    HOME_LOCATION_CHANGES_MAX = 3
    HOME_LOCATION_CHANGE_WINDOW_DAYS = 30

    # Service records (DOMAIN.md "Service records and hours"); an org may override them.
    RECORDS_ROUNDING_MINUTES = 30  # [local] 0.5 h units
    RECORDS_DAILY_CAP_MINUTES = 8 * 60  # [local] at most 8 h a day
    RECORDS_ACTIVITY_CAP_MINUTES: int | None = None  # None: the activity's own length
    RECORDS_TRAVEL_EXCLUDED = True
    RECORDS_DEADLINE_WORKING_DAYS = 10
    RECORDS_QR_VALID_MINUTES = 5
    # After a slot's end plus this, a missing check-out is flagged and the task's details end.
    RECORDS_MISSING_CHECKOUT_GRACE_MINUTES = 120
    RECORDS_TASK_GEOFENCE_RADIUS_M = 300  # around a need's point, for a task's location check

    # Time bank (DOMAIN.md "Time bank")
    TIMEBANK_PERSON_CAP_MINUTES = 1500 * 60  # [local: Nanjing] the excess goes to the pool
    TIMEBANK_DAILY_EARNING_CAP_MINUTES: int | None = None  # [local: Shanghai pilot] 120
    TIMEBANK_REDEMPTION_AGE = 60  # [local: Beijing]
    TIMEBANK_EXPIRY_DAYS: int | None = None  # [open] no expiry

    # Certificates (DOMAIN.md "Certificate"). The Ed25519 key: PEM here (env), else generated
    # once into instance/certificate_key.pem. The issuer is the org that recorded the hours;
    # its fields (负责人, 经办人, 联系方式, credit code, seal) are set at /org/certificate-settings.
    CERTIFICATE_SIGNING_KEY: str | None = None
    CERTIFICATE_BASE_URL: str | None = None  # public URL in the QR code; default: request host

    # Matching cost weights per organization code, e.g. {"CY-JX-01": {"distance": 1.0,
    # "load": 0.4}}; missing keys use volunteer_hub.matching.domain.Weights defaults.
    MATCHING_WEIGHTS: dict = {}

    # Pagination
    API_PAGE_SIZE_DEFAULT = 50
    API_PAGE_SIZE_MAX = 200

    # Notification circuit breaker, per channel and worker (notify/channels.CircuitBreaker):
    # after this many transient failures in a row the channel pauses, its messages wait in
    # the outbox, and after the cool-down one probe request decides whether it resumes.
    NOTIFY_BREAKER_FAILURES = 5
    NOTIFY_BREAKER_COOL_DOWN_SECONDS = 30.0

    # Matching cache (issue 12)
    # Static volunteer pools kept per process (org subtrees x days), checked against the
    # matching-data versions in the database before each run; 0 turns the cache off.
    MATCHING_POOL_CACHE_SIZE = 8

    # Ledger authentication and checkpoints (issue 14)
    # Every transaction carries an HMAC-SHA256 made with a key the database does not hold.
    # LEDGER_MAC_KEYS = {"key id": "base64 key", ...} (old ids kept to verify old rows) and
    # LEDGER_MAC_CURRENT_KEY the id new rows use; unset: generated once into
    # instance/ledger-keys.json (`volunteer-hub ledger rotate-key` adds one there).
    LEDGER_MAC_KEYS: dict = {}
    LEDGER_MAC_CURRENT_KEY: str | None = None
    # Checkpoints: C2SP signed notes (Ed25519). Signer key "PRIVATE+KEY+<origin>+<hash>+<b64>"
    # here, else generated once into instance/ledger-keys.json with a unique origin. Old or
    # other trusted public keys ("<name>+<hash>+<b64>") for `ledger verify`:
    LEDGER_CHECKPOINT_SIGNING_KEY: str | None = None
    LEDGER_CHECKPOINT_VERIFIER_KEYS: tuple = ()
    LEDGER_CHECKPOINT_DIR: str | None = None  # default instance/ledger-checkpoints
    LEDGER_WITNESS_URLS: tuple = ()  # each new checkpoint is POSTed (text/plain) to these
    LEDGER_WITNESS_TIMEOUT_SECONDS = 5.0

    # Certificates, proofs, backups, issuer fields, stars (issues 14 and 16)
    # Star levels 1-5 at these cumulative verified service hours ([local]: sources disagree,
    # 100/300/600/1000/1500 and 100/200/500/800/1000 both circulate), and how many days a new
    # level is publicly listed (公示) before it is final.
    STAR_THRESHOLDS_HOURS = (100, 300, 600, 1000, 1500)
    STAR_NOTICE_DAYS = 7
    STAR_NOTICE_WORKING_DAYS = False  # count them as China's working days (holidays, 调休)
    # The official seal an org uploads for its certificates (PNG or JPEG).
    ORG_SEAL_MAX_BYTES = 512 * 1024
    ORG_SEAL_MAX_PIXELS = 2000  # per side

    # Channel registry and fallback order (issue 15)

    # Template SMS providers (issue 15)
    # Who sends SMS (volunteer_hub/sms): "webhook" (SMS_GATEWAY_URL, any gateway behind a
    # thin shim), "aliyun" (Alibaba Cloud SMS) or "tencent" (Tencent Cloud SMS). The last two
    # send only approved templates: `volunteer-hub sms-templates` prints the wordings to
    # register; SMS_TEMPLATES = {"aliyun": {"callout": "SMS_123", ...}} or
    # {"tencent": {"callout": "1234567", ...}}, a code per message kind (sms/kinds.py), or
    # {"zh_Hans": code, "en": code} for a kind with a template per language.
    SMS_PROVIDER = "webhook"
    SMS_SIGN_NAME: str | None = None  # the approved signature (签名), without 【】
    SMS_TEMPLATES: dict = {}
    SMS_BATCH: int | None = None  # numbers per request (aliyun <= 100, tencent <= 200)
    SMS_TIMEOUT_SECONDS = 10.0
    SMS_PARAM_MAX_CHARS = 20  # a title parameter is shortened to this many characters
    # The providers' callbacks (reports, replies) carry this secret in their URL path:
    # https://<site>/sms/callbacks/aliyun/<secret>/report, .../aliyun/<secret>/reply,
    # .../tencent/<secret>/status, .../tencent/<secret>/reply.
    SMS_CALLBACK_SECRET: str | None = None
    # Per address, on /s/<code>: mobile carriers put many phones behind one address, and a
    # call-out's alerts are opened at once; 40-bit codes stay unguessable at this rate.
    SMS_SHORT_LINK_RATE_LIMIT = "600/minute"
    ALIYUN_SMS_ACCESS_KEY_ID: str | None = None
    ALIYUN_SMS_ACCESS_KEY_SECRET: str | None = None
    ALIYUN_SMS_ENDPOINT = "https://dysmsapi.aliyuncs.com/"
    ALIYUN_SMS_REGION = "cn-hangzhou"
    TENCENT_SMS_SECRET_ID: str | None = None
    TENCENT_SMS_SECRET_KEY: str | None = None
    TENCENT_SMS_SDK_APP_ID: str | None = None
    TENCENT_SMS_ENDPOINT = "https://sms.tencentcloudapi.com/"
    TENCENT_SMS_REGION = "ap-guangzhou"

    # WeChat Official Account (issue 15)
    # The channel and the WeChat login are on when WECHAT_APP_ID and WECHAT_APP_SECRET are set.
    WECHAT_APP_ID: str | None = None
    WECHAT_APP_SECRET: str | None = None
    WECHAT_TOKEN: str | None = None  # the server configuration's Token: event signatures
    WECHAT_ENCODING_AES_KEY: str | None = None  # EncodingAESKey, for pushes in safe mode
    WECHAT_API_BASE = "https://api.weixin.qq.com"  # overridable for a local test server
    WECHAT_OAUTH_BASE = "https://open.weixin.qq.com"  # the web-authorization page's host
    # Template per message kind (volunteer_hub.sms.kinds names): either the template id, whose
    # fields are named like the kind's parameters (title, code, text), or
    # {"template_id": "...", "fields": {"thing1": "title", "character_string2": "code"}}.
    WECHAT_TEMPLATES: dict = {}
    WECHAT_TIMEOUT_SECONDS = 10
    WECHAT_TOKEN_REFRESH_SECONDS = 300  # renew the shared access token this long before expiry

    # Working days, national record, calendar feeds, coordinates, import (issue 16)
    # China's working days (workdays.py): local extra holidays / extra working days on top of
    # the national calendar (ISO dates; env: a JSON list). Reminders this many working days
    # before the recording deadline.
    WORKDAYS_EXTRA_HOLIDAYS: tuple = ()
    WORKDAYS_EXTRA_WORKDAYS: tuple = ()
    RECORDS_DEADLINE_REMINDER_WORKING_DAYS = 2
    # Calendar feeds (feeds/): days of past tasks kept in the feed, hours an open emergency
    # duty lasts in the calendar, the domain in event UIDs.
    FEEDS_PAST_DAYS = 30
    FEEDS_DUTY_HOURS = 4
    FEEDS_UID_DOMAIN = "volunteer-hub"

    # Personal-data rights and retention (issue 16)
    # Retention (privacy/retention.py, nightly job and `volunteer-hub privacy retention`).
    # [open] An account with no login and no service for this many days is closed
    # (pseudonymized, hours kept); 0 turns the rule off.
    RETENTION_INACTIVE_ACCOUNT_DAYS = 3 * 365
    # The holder is warned (SMS, else e-mail, else inbox) this many days before; an account
    # is closed only after a warning that old with no login since. 0: no warning.
    RETENTION_INACTIVE_WARNING_DAYS = 30
    # Access records are kept at least 3 years (PIPL Art. 55-56): a lower value is raised
    # to RETENTION_ACCESS_LOG_MIN_DAYS.
    RETENTION_ACCESS_LOG_DAYS = 1095
    RETENTION_ACCESS_LOG_MIN_DAYS = 1095
    RETENTION_MESSAGES_DAYS = 365  # sent or failed messages, inbound SMS
    RETENTION_IDEMPOTENCY_DAYS = 7  # stored replies to retried writes
    # Downloads of "everything about me" per person (Flask-Limiter syntax).
    DATA_EXPORT_RATE_LIMIT = "5 per hour;20 per day"


def _coerce(raw: str, current: object) -> object:
    """Interpret an env var in the type of its default (bool, int, tuple, dict, str)."""
    if isinstance(current, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(current, int):
        return int(raw)
    if isinstance(current, (dict, list, tuple)):
        return json.loads(raw)
    return raw


def load_config(app, test_config: dict | None = None) -> None:
    """Fill app.config from DefaultConfig, the environment, then test_config."""
    app.config.from_object(DefaultConfig)
    for name, raw in os.environ.items():
        if name.startswith(ENV_PREFIX):
            key = name[len(ENV_PREFIX):]
            app.config[key] = _coerce(raw, app.config.get(key))
    if test_config:
        app.config.update(test_config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if not app.config.get("DATABASE_URL"):
        app.config["DATABASE_URL"] = f"sqlite:///{Path(app.instance_path) / 'volunteer_hub.db'}"
    app.config["SQLALCHEMY_DATABASE_URI"] = app.config["DATABASE_URL"]
    _ensure_secrets(app)


def _vapid_private_key() -> str:
    """A P-256 key for Web Push (VAPID), base64url of the raw 32-byte private value."""
    import base64

    from cryptography.hazmat.primitives.asymmetric import ec

    value = ec.generate_private_key(ec.SECP256R1()).private_numbers().private_value
    return base64.urlsafe_b64encode(value.to_bytes(32, "big")).rstrip(b"=").decode()


def _ensure_secrets(app) -> None:
    """Use configured secrets; otherwise create them once in instance/secrets.json.

    Losing the data key makes every stored ID number unreadable, so generated keys are
    written to disk on first start rather than regenerated per process.
    """
    wanted = ("SECRET_KEY", "DATA_ENCRYPTION_KEY", "ID_HASH_KEY", "VAPID_PRIVATE_KEY")
    if all(app.config.get(k) for k in wanted):
        return
    from cryptography.fernet import Fernet

    path = Path(app.instance_path) / "secrets.json"
    stored = json.loads(path.read_text()) if path.exists() else {}
    generators = {
        "SECRET_KEY": lambda: secrets.token_hex(32),
        "DATA_ENCRYPTION_KEY": lambda: Fernet.generate_key().decode(),
        "ID_HASH_KEY": lambda: secrets.token_hex(32),
        "VAPID_PRIVATE_KEY": _vapid_private_key,
    }
    changed = False
    for key in wanted:
        if not app.config.get(key):
            if key not in stored:
                stored[key] = generators[key]()
                changed = True
            app.config[key] = stored[key]
    if changed:
        path.write_text(json.dumps(stored, indent=2))
        path.chmod(0o600)
