"""Volunteer service record certificates (志愿服务记录证明, MCA order 67 Art. 14-17).

A certificate is a PDF built on demand, free of charge, from the volunteer's verified hours
as the append-only ledger records them. Its content is fixed by a *cut-off*: the id of the
latest ledger transaction that minted (or reversed) hours for the volunteer. The records
behind the hours are the MINTs up to the cut-off that no REVERSAL up to the cut-off undid,
so the same number can be recomputed at any later time (the ledger is never edited).

* Issuer: whoever records the hours certifies them. A certificate covers the hours one org
  recorded (the org of the records' activities) and that org issues it, with its person in
  charge, handler, contact, unified social credit code and seal; a volunteer who served for
  two orgs gets one certificate from each. An org whose required fields are empty cannot
  issue (409 ISSUER_INCOMPLETE naming the fields and where to set them).
* Number: ``<volunteer number>-O<org id>-<cut-off>-<digest>``; the digest is an HMAC (key
  derived from the signing key) over the volunteer, the org, the cut-off and the (record,
  minutes) pairs, so it is deterministic and cannot be guessed from public data.
* Signature: Ed25519 over the canonical JSON of the whole content (holder, masked ID, hours,
  records, issuer, number, dates), embedded in the PDF's Keywords as
  ``vhcert1:<base64url JSON>.<base64url signature>``; :func:`verify_pdf` needs no Flask and
  no database (``volunteer-hub certificate verify FILE.pdf``).
* Same bytes for the same data: reportlab's invariant mode, the PDF dates set to the
  cut-off transaction's time, records in a fixed order.
* Key: ``CERTIFICATE_SIGNING_KEY`` (PEM) or ``instance/certificate_key.pem``, generated once.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey, Ed25519PublicKey,
)

from volunteer_hub.timebank.proofs import (
    ProofError, check_log, check_transaction, issued_minutes, kind_of, record_of,
)
from volunteer_hub.pdf_fonts import font_for as _font_for
from volunteer_hub.pdf_fonts import register_fonts as _fonts

FORMAT = "vh-certificate/2"  # 2: with ledger proofs; 1 (before proofs) still verifies
FORMATS = ("vh-certificate/1", FORMAT)
KEY_FILE = "certificate_key.pem"
PAYLOAD_PREFIX = "vhcert1:"
_PAYLOAD_RE = re.compile(rb"vhcert1:([A-Za-z0-9_\-]+={0,2})\.([A-Za-z0-9_\-]+={0,2})")
LEGACY_NUMBER_RE = re.compile(r"^(?P<volunteer>[A-Za-z0-9_\-]{1,32})-(?P<cutoff>[0-9]{1,12})-"
                              r"(?P<digest>[0-9A-F]{12})$")  # before per-org issuers
NUMBER_RE = re.compile(r"^(?P<volunteer>[A-Za-z0-9_\-]{1,32})-O(?P<org>[0-9]{1,9})-"
                       r"(?P<cutoff>[0-9]{1,12})-(?P<digest>[0-9A-F]{12})$")

# Chinese wording used when the zh_Hans catalogue has no translation yet: a certificate is an
# official document and must never come out half in English for a Chinese reader.
_ZH = {
    "Volunteer Service Record Certificate": "志愿服务记录证明",
    "Certificate number": "证明编号",
    "Issue date": "出具日期",
    "Name": "姓名",
    "ID type": "证件类型",
    "ID number": "证件号码",
    "Volunteer number": "志愿者编号",
    "Total verified service hours": "经核实的志愿服务时长合计",
    "hours": "小时",
    "Service content": "志愿服务内容",
    "Date": "日期",
    "Activity": "活动",
    "Organization": "组织单位",
    "Hours": "时长（小时）",
    "Issuing organization": "出具单位",
    "Person in charge": "负责人",
    "Handler": "经办人",
    "Contact": "联系方式",
    "Unified social credit code": "统一社会信用代码",
    "Issuing organization (seal)": "出具单位（盖章）",
    "Ledger transactions %(ids)s are proven (embedded inclusion proofs) in the signed ledger "
    "checkpoint of %(size)s transactions of %(origin)s.":
        "时间银行账本交易 %(ids)s 已由签名账本检查点（%(origin)s，共 %(size)s 笔交易）的包含证明确认（证明已嵌入本文件）。",
    "Scan to verify": "扫码核验",
    "This is to certify that the volunteer below has the following verified volunteer "
    "service hours recorded in Volunteer Hub.":
        "兹证明下列志愿者在志愿服务信息系统中记录的经核实的志愿服务时长如下。",
    "Signed electronically (Ed25519, key %(key)s). Verify offline with "
    "`volunteer-hub certificate verify` and the public key at %(url)s.":
        "本证明已电子签名（Ed25519，密钥 %(key)s），可用 volunteer-hub certificate verify "
        "及 %(url)s 公钥离线核验。",
    "Issued free of charge.": "本证明免费出具。",
    "(continued)": "（续）",
    "Page %(page)d": "第 %(page)d 页",
    "Mainland resident ID": "居民身份证",
    "Passport": "护照",
    "Hong Kong / Macau permit": "港澳居民来往内地通行证",
    "Taiwan permit": "台湾居民来往大陆通行证",
}


class CertificateError(Exception):
    """A certificate could not be read or verified (message is for the operator)."""


class KeyMissing(CertificateError):
    pass


@dataclass(frozen=True)
class Certificate:
    number: str
    content: dict
    canonical: bytes
    signature: bytes
    pdf: bytes

    @property
    def filename(self) -> str:
        return f"certificate-{self.number}-{self.content['locale']}.pdf"


@dataclass(frozen=True)
class Verification:
    ok: bool
    message: str
    content: dict | None = None


# --- canonical form and signature (no Flask) -------------------------------------------------

def canonical_json(content: dict) -> bytes:
    """Sorted keys, no spaces, UTF-8: the exact bytes that are signed."""
    return json.dumps(content, sort_keys=True, ensure_ascii=False,
                      separators=(",", ":")).encode("utf-8")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii")


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_pem(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.PEM,
                                   serialization.PublicFormat.SubjectPublicKeyInfo)


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError:
        key = None
    if not isinstance(key, Ed25519PublicKey):
        try:  # a private key file works too: use its public half
            private = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError):
            raise CertificateError("not an Ed25519 public key in PEM form") from None
        if not isinstance(private, Ed25519PrivateKey):
            raise CertificateError("not an Ed25519 key") from None
        key = private.public_key()
    return key


def extract(pdf: bytes) -> tuple[bytes, bytes]:
    """The canonical content and the signature embedded in a certificate PDF."""
    matches = _PAYLOAD_RE.findall(pdf)
    if not matches:
        raise CertificateError("no Volunteer Hub certificate signature found in this file")
    if len(matches) > 1:
        raise CertificateError("more than one embedded certificate signature")
    content, signature = matches[0]
    try:
        return base64.urlsafe_b64decode(content), base64.urlsafe_b64decode(signature)
    except (ValueError, TypeError):
        raise CertificateError("the embedded signature is damaged") from None


def verify_pdf(pdf: bytes, public_key: Ed25519PublicKey,
               ledger_keys: list[str] | None = None) -> Verification:
    """Verify offline: the embedded content is signed by `public_key` and well formed."""
    try:
        canonical, signature = extract(pdf)
    except CertificateError as error:
        return Verification(False, str(error))
    try:
        public_key.verify(signature, canonical)
    except InvalidSignature:
        return Verification(False, "INVALID: the signature does not match the content "
                                   "(altered, or signed with another key)")
    try:
        content = json.loads(canonical.decode("utf-8"))
    except ValueError:
        return Verification(False, "INVALID: the signed content is not JSON")
    if not isinstance(content, dict) or content.get("format") not in FORMATS:
        return Verification(False, "INVALID: unknown certificate format")
    if content.get("key_id") != key_id(public_key):
        return Verification(False, "INVALID: the certificate names another signing key")
    try:
        ledger_note = check_proofs(content, ledger_keys)
    except ProofError as error:
        return Verification(False, f"INVALID: {error}")
    return Verification(True, f"VALID: certificate {content.get('number')} for "
                              f"{content['holder']['name']} "
                              f"({content['holder']['id_number_masked']}), "
                              f"{content['service']['total_hours']} verified hours, "
                              f"issued {content['issued_on']} by "
                              f"{content['issuer']['organization']}; {ledger_note}", content)


def check_proofs(content: dict, ledger_keys: list[str] | None = None) -> str:
    """Each certified line is a MINT in the signed ledger with the minutes printed; returns
    what was checked, raises ProofError otherwise."""
    if content.get("format") == "vh-certificate/1":
        return "issued before ledger proofs: the signature is its only proof"
    proofs = content.get("proofs") or {}
    checkpoint = check_log(proofs.get("log") or {}, ledger_keys)
    entries = {entry.get("id"): entry for entry in proofs.get("transactions") or []}
    lines = content["service"]["records"]
    if sorted(entries) != sorted(line["transaction_id"] for line in lines):
        raise ProofError("the proofs do not cover exactly the certified records")
    for line in lines:
        parsed = check_transaction(entries[line["transaction_id"]], checkpoint)
        if kind_of(parsed) != "MINT" or issued_minutes(parsed) != line["minutes"]:
            raise ProofError(f"record {line['record_id']}: the certificate says "
                             f"{line['minutes']} minutes, the ledger's transaction "
                             f"{line['transaction_id']} {kind_of(parsed)} "
                             f"{issued_minutes(parsed)}")
        if record_of(parsed) not in (None, line["record_id"]):
            raise ProofError(f"transaction {line['transaction_id']} is of another record")
    if sum(line["minutes"] for line in lines) != content["service"]["total_minutes"]:
        raise ProofError("the total is not the sum of the records")
    keys = "the given ledger key" if ledger_keys else "the ledger key named in the certificate"
    return (f"{len(lines)} ledger transactions proven in checkpoint {checkpoint.origin} "
            f"size {checkpoint.size} (checked with {keys})")


# --- the deployment key ----------------------------------------------------------------------

def _key_path(app) -> Path:
    return Path(app.instance_path) / KEY_FILE


def signing_key(app=None, *, create: bool = True) -> Ed25519PrivateKey:
    """CERTIFICATE_SIGNING_KEY (PEM), else instance/certificate_key.pem created once."""
    from flask import current_app

    app = app or current_app._get_current_object()
    cached = app.extensions.get("certificate_signing_key")
    if cached is not None:
        return cached
    pem = app.config.get("CERTIFICATE_SIGNING_KEY")
    if pem:
        data = pem.replace("\\n", "\n").encode()
    else:
        path = _key_path(app)
        if not path.exists():
            if not create:
                raise KeyMissing(f"no certificate key: set CERTIFICATE_SIGNING_KEY or create "
                                 f"{path} with `volunteer-hub certificate keygen`")
            write_new_key(path, exclusive=True)
        data = path.read_bytes()
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise CertificateError("CERTIFICATE_SIGNING_KEY must be an Ed25519 private key")
    app.extensions["certificate_signing_key"] = key
    return key


def new_private_pem() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())


def write_new_key(path: Path, *, exclusive: bool) -> bool:
    """Write a new private key (mode 600). With `exclusive`, a file another process created
    first wins (gunicorn workers starting together); returns whether this call wrote it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as handle:
        handle.write(new_private_pem())
    return True


def deployment_public_key(app=None) -> Ed25519PublicKey:
    return signing_key(app).public_key()


# --- content -----------------------------------------------------------------------------------

def _zone() -> ZoneInfo:
    from flask import current_app

    return ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def mask_name(name: str) -> str:
    """张三 -> 张*, 欧阳娜娜 -> 欧**娜; the public page never shows a full name."""
    name = (name or "").strip()
    if len(name) <= 1:
        return "*"
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def _hours(minutes: int) -> str:
    return f"{minutes / 60:.2f}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class _Snapshot:
    cutoff: int
    as_of: datetime | None
    minted: list[tuple[int, int, int]]  # (mint transaction id, record id, minutes)
    reversed_later: set[int]  # mint ids (in the snapshot) reversed after the cut-off


def _service_rows(volunteer) -> list[tuple]:
    """(id, kind, record id, reverses id, created at, minutes) of the MINTs and REVERSALs
    that moved `volunteer`'s verified service hours, oldest first."""
    from sqlalchemy import func, select

    from volunteer_hub.db import db
    from volunteer_hub.timebank.models import Account, LedgerTransaction, Posting

    issuer = db.aliased(Account)
    rows = db.session.execute(
        select(LedgerTransaction.id, LedgerTransaction.kind, LedgerTransaction.record_id,
               LedgerTransaction.reverses_id, LedgerTransaction.created_at,
               func.coalesce(func.sum(-Posting.minutes), 0))
        .outerjoin(Posting, Posting.transaction_id == LedgerTransaction.id)
        .outerjoin(issuer, (issuer.id == Posting.account_id) & (issuer.kind == "ISSUANCE"))
        .where(LedgerTransaction.service_volunteer_id == volunteer.id,
               LedgerTransaction.kind.in_(("MINT", "REVERSAL")), issuer.id.is_not(None))
        .group_by(LedgerTransaction.id, LedgerTransaction.kind, LedgerTransaction.record_id,
                  LedgerTransaction.reverses_id, LedgerTransaction.created_at)
        .order_by(LedgerTransaction.id)).all()
    return [tuple(row) for row in rows]


def _record_orgs(record_ids) -> dict[int, int]:
    """record id -> id of the org that recorded it (its activity's org)."""
    from sqlalchemy import select

    from volunteer_hub.db import db
    from volunteer_hub.records.models import Activity, ServiceRecord

    ids = sorted(set(record_ids))
    if not ids:
        return {}
    return dict(db.session.execute(
        select(ServiceRecord.id, Activity.org_id)
        .join(Activity, Activity.id == ServiceRecord.activity_id)
        .where(ServiceRecord.id.in_(ids))).all())


def _rows_of_org(rows: list[tuple], org_id: int) -> list[tuple]:
    """The org's MINTs and the REVERSALs that undo them."""
    orgs = _record_orgs(row[2] for row in rows if row[1] == "MINT" and row[2] is not None)
    mints = {row[0] for row in rows if row[1] == "MINT" and orgs.get(row[2]) == org_id}
    return [row for row in rows if row[0] in mints or (row[1] == "REVERSAL"
                                                       and row[3] in mints)]


def issuing_orgs(volunteer) -> list[tuple]:
    """[(org, verified minutes)] of every org that recorded hours `volunteer` still holds."""
    from volunteer_hub.db import db
    from volunteer_hub.orgs.models import Org

    rows = _service_rows(volunteer)
    orgs = _record_orgs(row[2] for row in rows if row[1] == "MINT" and row[2] is not None)
    result = []
    for org_id in sorted(set(orgs.values())):
        snapshot = _snapshot_of(_rows_of_org(rows, org_id), None)
        if snapshot.minted:
            result.append((db.session.get(Org, org_id),
                           sum(minutes for _t, _r, minutes in snapshot.minted)))
    return result


def _snapshot(volunteer, org_id: int, cutoff: int | None = None) -> _Snapshot:
    """The hours `org_id` recorded for `volunteer` as the ledger stood at `cutoff`."""
    return _snapshot_of(_rows_of_org(_service_rows(volunteer), org_id), cutoff)


def _snapshot_of(rows: list[tuple], cutoff: int | None) -> _Snapshot:
    """The verified hours as the ledger stood at `cutoff` (default: now)."""
    if cutoff is None:
        cutoff = rows[-1][0] if rows else 0
    mints: dict[int, tuple[int, int]] = {}
    reversed_now, reversed_later = set(), set()
    as_of = None
    for tx_id, kind, record_id, reverses_id, created_at, minutes in rows:
        if tx_id <= cutoff:
            as_of = _aware(created_at)
        if kind == "MINT" and tx_id <= cutoff and record_id is not None:
            mints[tx_id] = (record_id, int(minutes))
        elif kind == "REVERSAL" and reverses_id is not None:
            (reversed_now if tx_id <= cutoff else reversed_later).add(reverses_id)
    minted = [(tx_id, record_id, minutes) for tx_id, (record_id, minutes) in sorted(mints.items())
              if tx_id not in reversed_now and minutes > 0]
    return _Snapshot(cutoff, as_of, minted, reversed_later & set(mints))


def _number_key(app=None) -> bytes:
    from cryptography.hazmat.primitives import serialization as ser

    raw = signing_key(app).private_bytes(ser.Encoding.Raw, ser.PrivateFormat.Raw,
                                         ser.NoEncryption())
    return hashlib.sha256(b"volunteer-hub certificate number\n" + raw).digest()


def certificate_number(volunteer, org_id: int, snapshot: _Snapshot) -> str:
    core = json.dumps([volunteer.id, org_id, snapshot.cutoff,
                       [[record_id, minutes] for _tx, record_id, minutes in snapshot.minted]],
                      separators=(",", ":")).encode()
    digest = hmac.new(_number_key(), core, hashlib.sha256).hexdigest()[:12].upper()
    return f"{volunteer.volunteer_number}-O{org_id}-{snapshot.cutoff}-{digest}"


def _issuer(org, locale: str) -> dict:
    """The issuing org as the certificate prints it (谁记录谁证明: the org that recorded)."""
    return {
        "organization": org.name(locale),
        "org_code": org.code,
        "person_in_charge": org.person_in_charge or "",
        "handler": org.handler or "",
        "contact": org.contact or "",
        "credit_code": org.credit_code or "",
        "seal_sha256": hashlib.sha256(org.seal_image).hexdigest() if org.seal_image else "",
    }


def base_url() -> str:
    from flask import current_app, has_request_context, request

    configured = current_app.config.get("CERTIFICATE_BASE_URL")
    if configured:
        return configured.rstrip("/")
    if has_request_context():
        return request.host_url.rstrip("/")
    return "http://localhost"


def build_content(volunteer, org, *, locale: str, cutoff: int | None = None) -> dict | None:
    """The signed content of `volunteer`'s certificate for the hours `org` recorded
    (None: no verified hours there)."""
    from sqlalchemy import select

    from volunteer_hub.db import db
    from volunteer_hub.records.models import ServiceRecord

    snapshot = _snapshot(volunteer, org.id, cutoff)
    if not snapshot.minted:
        return None
    zone = _zone()
    records = {row.id: row for row in db.session.execute(select(ServiceRecord).where(
        ServiceRecord.id.in_([record_id for _tx, record_id, _m in snapshot.minted])
    )).scalars()}
    lines = []
    for tx_id, record_id, minutes in snapshot.minted:
        record = records[record_id]
        started = _aware(record.check_in_at or record.activity.starts_at)
        lines.append({
            "record_id": record_id,
            "transaction_id": tx_id,
            "date": started.astimezone(zone).date().isoformat(),
            "activity": record.activity.name,
            "service_type": record.activity.service_type,
            "organization": record.activity.org.name(locale),
            "minutes": minutes,
            "hours": _hours(minutes),
            "_sort": (started, record_id),
        })
    lines.sort(key=lambda line: line.pop("_sort"))
    total = sum(line["minutes"] for line in lines)
    number = certificate_number(volunteer, org.id, snapshot)
    proofs = _proofs([tx_id for tx_id, _r, _m in snapshot.minted])
    public_key = deployment_public_key()
    with _locale(locale):
        from volunteer_hub.volunteers.catalogue import ID_TYPE_LABELS

        id_label = label(str(ID_TYPE_LABELS.get(volunteer.id_type, volunteer.id_type)), locale)
    return {
        "format": FORMAT,
        "number": number,
        "locale": locale,
        "holder": {"name": volunteer.real_name, "id_type": volunteer.id_type,
                   "id_type_label": id_label, "id_number_masked": volunteer.id_number_masked,
                   "volunteer_number": volunteer.volunteer_number},
        "service": {"total_minutes": total, "total_hours": _hours(total), "records": lines},
        "issuer": _issuer(org, locale),
        "issued_on": snapshot.as_of.astimezone(zone).date().isoformat(),
        "as_of": snapshot.as_of.isoformat(timespec="seconds"),
        "ledger_cutoff": snapshot.cutoff,
        "verify_url": f"{base_url()}/certificates/{number}",
        "public_key_url": f"{base_url()}/certificates/public-key.pem",
        "key_id": key_id(public_key),
        "proofs": proofs,
    }


def _proofs(transaction_ids: list[int]) -> dict:
    """The signed checkpoint and each MINT's inclusion proof (see timebank/proofs.py)."""
    from volunteer_hub.timebank import proofs

    log, entries = proofs.prove(transaction_ids)
    return {"log": log, "transactions": [entries[tx_id] for tx_id in sorted(transaction_ids)]}


# --- labels ------------------------------------------------------------------------------------

class _locale:
    """flask_babel.force_locale that also works where no locale selector can run."""

    def __init__(self, locale: str):
        from flask_babel import force_locale

        self._inner = force_locale(locale)

    def __enter__(self):
        return self._inner.__enter__()

    def __exit__(self, *exc):
        return self._inner.__exit__(*exc)


def label(msgid: str, locale: str, **values) -> str:
    """gettext in `locale`; the Chinese wording above when the catalogue lacks it."""
    from flask_babel import gettext

    with _locale(locale):
        text = gettext(msgid, **values)
    if locale.startswith("zh") and text == (msgid % values if values else msgid):
        text = _ZH.get(msgid, msgid) % values if values else _ZH.get(msgid, msgid)
    return text


# --- the PDF -----------------------------------------------------------------------------------


def _fit(text: str, font: str, size: float, width: float) -> str:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    if stringWidth(text, font, size) <= width:
        return text
    while text and stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text + "…"


def _wrap(text: str, font: str, size: float, width: float) -> list[str]:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    lines, current = [], ""
    tokens = text.split(" ") if text.isascii() else list(text)
    joiner = " " if text.isascii() else ""
    for token in tokens:
        candidate = f"{current}{joiner}{token}" if current else token
        if stringWidth(candidate, font, size) <= width:
            current = candidate
        else:
            lines.append(current)
            current = token
    if current:
        lines.append(current)
    return lines


def _qr_png(url: str) -> bytes:
    import qrcode

    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=8, border=2)
    qr.add_data(url)
    qr.make(fit=True)
    buffer = io.BytesIO()
    qr.make_image(fill_color="black", back_color="white").save(buffer, format="PNG")
    return buffer.getvalue()


def render_pdf(content: dict, canonical: bytes, signature: bytes,
               seal: bytes | None = None) -> bytes:
    """Lay the content out on A4 pages; the signed payload goes into the Keywords."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen.canvas import Canvas

    _fonts()
    locale = content["locale"]
    L = lambda msgid, **values: label(msgid, locale, **values)  # noqa: E731
    as_of = datetime.fromisoformat(content["as_of"])
    buffer = io.BytesIO()
    pdf = Canvas(buffer, pagesize=A4, invariant=1, pageCompression=1)
    pdf.setDateFormatter(lambda *_: as_of.strftime("D:%Y%m%d%H%M%S+00'00'"))
    pdf.setTitle(f"{L('Volunteer Service Record Certificate')} {content['number']}")
    pdf.setAuthor(content["issuer"]["organization"])
    pdf.setSubject(content["number"])
    pdf.setCreator("Volunteer Hub")
    pdf.setProducer("Volunteer Hub")
    pdf.setKeywords(f"{PAYLOAD_PREFIX}{_b64(canonical)}.{_b64(signature)}")
    width, height = A4
    left, right = 20 * mm, width - 20 * mm
    page = [1]

    def text(x, y, value, size=10, bold=False, align="left"):
        value = str(value)
        font = _font_for(value, bold)
        pdf.setFont(font, size)
        if align == "right":
            pdf.drawRightString(x, y, value)
        elif align == "center":
            pdf.drawCentredString(x, y, value)
        else:
            pdf.drawString(x, y, value)

    def footer():
        text(width / 2, 12 * mm, L("Page %(page)d", page=page[0]), 8, align="center")

    def new_page():
        footer()
        pdf.showPage()
        page[0] += 1
        text(left, height - 20 * mm, f"{L('Volunteer Service Record Certificate')} "
             f"{L('(continued)')} · {content['number']}", 9)
        return height - 30 * mm

    # heading
    y = height - 25 * mm
    text(width / 2, y, L("Volunteer Service Record Certificate"), 18, bold=True, align="center")
    y -= 10 * mm
    text(right, y, f"{L('Certificate number')}: {content['number']}", 9, align="right")
    y -= 5 * mm
    text(right, y, f"{L('Issue date')}: {content['issued_on']}", 9, align="right")
    y -= 9 * mm
    intro = L("This is to certify that the volunteer below has the following verified "
              "volunteer service hours recorded in Volunteer Hub.")
    for line in _wrap(intro, _font_for(intro), 10.5, right - left):
        text(left, y, line, 10.5)
        y -= 6 * mm
    y -= 2 * mm
    holder = content["holder"]
    for name, value in (
        (L("Name"), holder["name"]),
        (L("ID type"), holder["id_type_label"]),
        (L("ID number"), holder["id_number_masked"]),
        (L("Volunteer number"), holder["volunteer_number"]),
        (L("Total verified service hours"),
         f"{content['service']['total_hours']} {L('hours')}"),
    ):
        text(left, y, f"{name}:", 10.5)
        text(left + 62 * mm, y, value, 10.5, bold=True)
        y -= 6.5 * mm

    # service content table
    y -= 3 * mm
    text(left, y, L("Service content"), 12, bold=True)
    y -= 7 * mm
    columns = [(left, 25 * mm, L("Date")), (left + 26 * mm, 68 * mm, L("Activity")),
               (left + 96 * mm, 52 * mm, L("Organization"))]
    hours_x = right

    def header_row(y):
        for x, _w, title in columns:
            text(x, y, title, 9, bold=True)
        text(hours_x, y, L("Hours"), 9, bold=True, align="right")
        pdf.setLineWidth(0.5)
        pdf.line(left, y - 2 * mm, right, y - 2 * mm)
        return y - 6 * mm

    y = header_row(y)
    for record in content["service"]["records"]:
        if y < 30 * mm:
            y = header_row(new_page())
        for (x, column_width, _t), value in zip(
                columns, (record["date"], record["activity"], record["organization"])):
            font = _font_for(value)
            text(x, y, _fit(value, font, 9, column_width - 2 * mm), 9)
        text(hours_x, y, record["hours"], 9, align="right")
        y -= 5.5 * mm
    pdf.line(left, y + 3 * mm, right, y + 3 * mm)

    # issuer details and QR code, then the signature area: issuer and date bottom right,
    # the seal stamped over them as on a printed certificate
    block = 95 * mm
    if y - block < 18 * mm:
        y = new_page()
    y -= 6 * mm
    issuer = content["issuer"]
    top = y
    for name, value in ((L("Person in charge"), issuer["person_in_charge"] or "—"),
                        (L("Handler"), issuer["handler"] or "—"),
                        (L("Contact"), issuer["contact"] or "—"),
                        (L("Unified social credit code"), issuer.get("credit_code") or "—")):
        text(left, y, f"{name}:", 10)
        text(left + 45 * mm, y, value, 10)
        y -= 6 * mm
    qr_size = 30 * mm
    pdf.drawImage(ImageReader(io.BytesIO(_qr_png(content["verify_url"]))),
                  right - qr_size, top - qr_size + 4 * mm, qr_size, qr_size)
    text(right - qr_size / 2, top - qr_size, L("Scan to verify"), 8, align="center")
    y = min(y, top - qr_size - 4 * mm) - 12 * mm
    name_line = f"{L('Issuing organization (seal)')}: {issuer['organization']}"
    text(right, y, name_line, 11, align="right")
    date_y = y - 7 * mm
    text(right, date_y, f"{L('Issue date')}: {content['issued_on']}", 11, align="right")
    if seal:
        seal_size = 40 * mm
        centre_x = right - 25 * mm
        centre_y = (y + date_y) / 2 + 2 * mm
        pdf.drawImage(ImageReader(io.BytesIO(seal)), centre_x - seal_size / 2,
                      centre_y - seal_size / 2, seal_size, seal_size, mask="auto",
                      preserveAspectRatio=True, anchor="c")
    y = date_y - 20 * mm
    text(left, y, content["verify_url"], 8)
    y -= 5 * mm
    note = L("Signed electronically (Ed25519, key %(key)s). Verify offline with "
             "`volunteer-hub certificate verify` and the public key at %(url)s.",
             key=content["key_id"], url=content["public_key_url"])
    for line in _wrap(note, _font_for(note), 8, right - left):
        text(left, y, line, 8)
        y -= 4.5 * mm
    proofs = content.get("proofs")
    if proofs:
        checkpoint_lines = proofs["log"]["checkpoint"].split("\n")
        ids = ", ".join(f"#{line['transaction_id']}" for line in content["service"]["records"])
        proof_note = L("Ledger transactions %(ids)s are proven (embedded inclusion proofs) in "
                       "the signed ledger checkpoint of %(size)s transactions of %(origin)s.",
                       ids=ids, size=checkpoint_lines[1], origin=checkpoint_lines[0])
        for line in _wrap(proof_note, _font_for(proof_note), 8, right - left):
            text(left, y, line, 8)
            y -= 4.5 * mm
    text(left, y, L("Issued free of charge."), 8)
    footer()
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


# --- services ----------------------------------------------------------------------------------

def choose_issuer(volunteer, org_id: int | None):
    """The org whose recorded hours the certificate covers: `org_id`, or the only one."""
    from flask_babel import lazy_gettext as _l

    from volunteer_hub.errors import Conflict, ValidationFailed

    orgs = [org for org, _minutes in issuing_orgs(volunteer)]
    if not orgs:
        raise Conflict(_l("There are no verified hours to certify yet."),
                       code="NO_VERIFIED_HOURS")
    if org_id is None and len(orgs) == 1:
        return orgs[0]
    chosen = next((org for org in orgs if org.id == org_id), None)
    if chosen is None:
        raise ValidationFailed(
            _l("Choose the organization that recorded the hours: each one issues a "
               "certificate for the hours it recorded."), code="ISSUER_REQUIRED",
            field="org_id", location="query")
    return chosen


def require_issuer_ready(org) -> None:
    """409 ISSUER_INCOMPLETE naming each empty field and where the org's admins set it."""
    from flask_babel import lazy_gettext as _l

    from volunteer_hub.errors import Conflict
    from volunteer_hub.orgs.models import ISSUER_FIELD_LABELS

    missing = org.missing_issuer_fields()
    if not missing:
        return
    where = f"/org/{org.id}/certificate-settings"
    errors = {name: [_l("%(org)s has not set %(field)s yet: an administrator fills it in on "
                        "the certificate settings page %(where)s.", org=org.name_zh,
                        field=ISSUER_FIELD_LABELS[name], where=where)] for name in missing}
    raise Conflict(_l("%(org)s cannot issue certificates until its administrators fill in "
                      "%(fields)s on the certificate settings page %(where)s.",
                      org=org.name_zh, where=where,
                      fields=", ".join(str(ISSUER_FIELD_LABELS[name]) for name in missing)),
                   code="ISSUER_INCOMPLETE", errors=errors, location="issuer")


def issue_certificate(volunteer, *, locale: str, by, org_id: int | None = None) -> Certificate:
    """The volunteer's certificate in `locale` (zh_Hans or en) for the hours one org recorded,
    issued by that org: the volunteer themself or an organizer in scope; anyone else gets
    NotFound, like an unknown volunteer."""
    from flask import current_app
    from flask_babel import lazy_gettext as _l

    from volunteer_hub.errors import DomainError, NotFound, ValidationFailed
    from volunteer_hub.timebank.proofs import LedgerUnsound
    from volunteer_hub.timebank.services import can_read_ledger

    if by is not None and not can_read_ledger(by, volunteer):
        raise NotFound()
    if locale not in current_app.config["LANGUAGES"]:
        raise ValidationFailed(_l("Unknown language."), code="LOCALE_UNKNOWN", field="locale",
                               location="query")
    org = choose_issuer(volunteer, org_id)
    require_issuer_ready(org)
    try:
        content = build_content(volunteer, org, locale=locale)
    except LedgerUnsound:
        raise DomainError(_l("The time-bank ledger failed its audit: certificates are paused "
                             "until an administrator has repaired it."), code="LEDGER_UNSOUND",
                          status=503) from None
    canonical = canonical_json(content)
    signature = signing_key().sign(canonical)
    return Certificate(content["number"], content, canonical, signature,
                       render_pdf(content, canonical, signature, seal=_seal_of(org)))


def _seal_of(org) -> bytes | None:
    return org.seal_image if org.seal_mime else None


def _holder_name(volunteer) -> str:
    """The masked name of issue time (kept when the account is closed)."""
    from volunteer_hub.privacy.services import certificate_holder_name

    return certificate_holder_name(volunteer)


@dataclass(frozen=True)
class PublicCheck:
    """What the public verification page shows: never the full name or the ID number."""

    number: str
    valid: bool
    masked_name: str
    total_hours: str
    issuer: str
    issued_on: str
    superseded: bool  # some hours were corrected or reversed after issue
    transactions: int = 0
    proven_in: object = None  # the signed checkpoint that includes its transactions, if any


def check_number(number: str, *, locale: str = "zh_Hans") -> PublicCheck | None:
    """Recompute the certificate a number names; None for an unknown or malformed number.
    Numbers of certificates issued before per-org issuers (no ``-O<org>``) still resolve."""
    from sqlalchemy import select

    from volunteer_hub.db import db
    from volunteer_hub.orgs.models import Org
    from volunteer_hub.volunteers.models import Volunteer

    match = NUMBER_RE.match(number or "") or LEGACY_NUMBER_RE.match(number or "")
    if match is None:
        return None
    volunteer = db.session.execute(select(Volunteer).filter_by(
        volunteer_number=match["volunteer"])).scalar_one_or_none()
    if volunteer is None:
        return None
    cutoff = int(match["cutoff"])
    if "org" in match.groupdict():
        org = db.session.get(Org, int(match["org"]))
        if org is None:
            return None
        snapshot = _snapshot(volunteer, org.id, cutoff)
        expected = certificate_number(volunteer, org.id, snapshot) if snapshot.minted else ""
    else:  # issued by the volunteer's community, over every org's hours
        org = volunteer.community
        snapshot = _snapshot_of(_service_rows(volunteer), cutoff)
        expected = _legacy_number(volunteer, snapshot) if snapshot.minted else ""
    if not expected or not hmac.compare_digest(expected, number):
        return None
    total = sum(minutes for _tx, _r, minutes in snapshot.minted)
    superseded = bool(snapshot.reversed_later)
    from volunteer_hub.timebank.proofs import covering_checkpoint

    proven_in = covering_checkpoint([tx for tx, _r, _m in snapshot.minted])
    return PublicCheck(
        number=number, valid=not superseded,
        masked_name=_holder_name(volunteer), total_hours=_hours(total),
        issuer=org.name(locale),
        issued_on=snapshot.as_of.astimezone(_zone()).date().isoformat(),
        superseded=superseded, transactions=len(snapshot.minted), proven_in=proven_in)


def _legacy_number(volunteer, snapshot: _Snapshot) -> str:
    core = json.dumps([volunteer.id, snapshot.cutoff,
                       [[record_id, minutes] for _tx, record_id, minutes in snapshot.minted]],
                      separators=(",", ":")).encode()
    digest = hmac.new(_number_key(), core, hashlib.sha256).hexdigest()[:12].upper()
    return f"{volunteer.volunteer_number}-{snapshot.cutoff}-{digest}"
