"""Migration b0c1d2e3f4a5 over rows written before normalization: re-hashed in the ASCII
spelling, collisions reported and never merged, guardians encrypted and decrypted back."""
from __future__ import annotations

import os
import uuid
from datetime import date

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.factories import make_id_number
from volunteer_hub import MIGRATIONS_DIR, create_app
from volunteer_hub.db import db
from volunteer_hub.security import decrypt, encrypt, keyed_hash
from volunteer_hub.volunteers import idnumbers

BEFORE, THIS = "a9b0c1d2e3f4", "b0c1d2e3f4a5"
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
KEYS = {"SECRET_KEY": "x", "ID_HASH_KEY": "migration-test-hash-key",
        "DATA_ENCRYPTION_KEY": "Y2xhc3NpZmllZC10ZXN0LWtleS0wMTIzNDU2Nzg5YWI="}


@pytest.fixture
def migrated_app(tmp_path):
    """An app on a brand-new database of the engine under test, upgraded to BEFORE."""
    base = os.environ.get("VOLUNTEER_HUB_TEST_DATABASE_URL")
    name = f"vh_idmig_{uuid.uuid4().hex[:8]}"
    admin = None
    if base:
        admin = create_engine(make_url(base).set(database="postgres"),
                              isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(base).set(database=name).render_as_string(hide_password=False)
    else:
        url = f"sqlite:///{tmp_path / 'idmig.db'}"
    app = create_app({"DATABASE_URL": url, **KEYS})
    with app.app_context():
        upgrade(directory=str(MIGRATIONS_DIR), revision=BEFORE)
        yield app
        db.session.remove()
        db.engine.dispose()
    if admin is not None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _insert_volunteer(connection, index: int, number_as_typed: str, phone_as_typed: str):
    """A row as the old code stored it: the number as typed, hashed as typed."""
    connection.execute(text(
        "INSERT INTO users (id, phone, display_name, active, must_change_password, created_at) "
        "VALUES (:id, :phone, 'v', :yes, :no, CURRENT_TIMESTAMP)"),
        {"id": index, "phone": phone_as_typed, "yes": True, "no": False})
    connection.execute(text(
        "INSERT INTO volunteers (id, user_id, volunteer_number, real_name, gender, birth_date, "
        "id_type, id_number_encrypted, id_number_hash, id_number_masked, phone, community_id, "
        "org_path, languages, status, created_at) VALUES (:id, :id, :vn, '某人', 'male', "
        ":birth, 'mainland_id', :enc, :hash, :masked, :phone, 1, '/1/', 'zh', 'active', "
        "CURRENT_TIMESTAMP)"),
        {"id": index, "vn": f"CA-{index:06d}", "birth": date(1990, 5, 17),
         "enc": encrypt(number_as_typed), "hash": keyed_hash(f"mainland_id:{number_as_typed}"),
         "masked": idnumbers.mask(number_as_typed), "phone": phone_as_typed})


def _seed(connection):
    connection.execute(text(
        "INSERT INTO orgs (id, level, code, name_zh, path, requires_approval, created_at) "
        "VALUES (1, 'community', 'CA', '甲社区', '/1/', :no, CURRENT_TIMESTAMP)"), {"no": False})
    twin = make_id_number(birth=date(1990, 5, 17))
    alone = make_id_number(birth=date(1990, 5, 17))
    _insert_volunteer(connection, 1, twin, "13700000001")
    _insert_volunteer(connection, 2, twin[:17].translate(FULL_WIDTH) + twin[17],
                      "13700000001".translate(FULL_WIDTH))  # the same person, typed again
    _insert_volunteer(connection, 3, alone[:17].translate(FULL_WIDTH) + alone[17],
                      "13700000003".translate(FULL_WIDTH))
    connection.execute(text(
        "INSERT INTO consents (id, volunteer_id, kind, text_version, granted_at, guardian_name, "
        "guardian_phone) VALUES (1, 3, 'guardian', '2026-11', CURRENT_TIMESTAMP, '钱监护', "
        "'13900000042')"))
    return twin, alone


def _volunteers(connection):
    return {row.id: row for row in connection.execute(text(
        "SELECT v.id, v.id_number_encrypted, v.id_number_hash, v.id_number_masked, v.phone, "
        "u.phone AS login FROM volunteers v JOIN users u ON u.id = v.user_id"))}


def test_upgrade_rehashes_in_ascii_reports_collisions_and_encrypts_guardians(migrated_app,
                                                                             capfd):
    with db.engine.begin() as connection:
        twin, alone = _seed(connection)
    capfd.readouterr()
    upgrade(directory=str(MIGRATIONS_DIR), revision=THIS)
    # What the operator reads: alembic's logging config writes to stderr.
    report = capfd.readouterr().err
    with db.engine.connect() as connection:
        rows = _volunteers(connection)
        consent = connection.execute(text("SELECT * FROM consents")).mappings().one()
    # The lone full-width spelling is now the ASCII number, hashed as such.
    assert decrypt(rows[3].id_number_encrypted) == alone
    assert rows[3].id_number_hash == keyed_hash(f"mainland_id:{alone}")
    assert rows[3].id_number_masked == idnumbers.mask(alone)
    assert rows[3].login == rows[3].phone == "13700000003"
    # Two accounts for one number: both kept as they were, and the collision is reported.
    assert decrypt(rows[1].id_number_encrypted) == twin
    assert rows[2].id_number_hash != rows[1].id_number_hash
    assert rows[2].login != "13700000001"
    assert "ONE ID, TWO ACCOUNTS: volunteer 2" in report and "volunteer 1" in report
    assert "ONE PHONE, TWO ACCOUNTS: user 2" in report
    assert twin not in report and "13700000001" not in report  # ids only, never the numbers
    # The guardian is ciphertext now.
    assert "guardian_name" not in consent and "钱监护" not in str(dict(consent))
    assert decrypt(consent["guardian_name_encrypted"]) == "钱监护"
    assert decrypt(consent["guardian_phone_encrypted"]) == "13900000042"


def test_downgrade_gives_the_guardian_back_in_clear(migrated_app):
    with db.engine.begin() as connection:
        _seed(connection)
    upgrade(directory=str(MIGRATIONS_DIR), revision=THIS)
    downgrade(directory=str(MIGRATIONS_DIR), revision=BEFORE)
    with db.engine.connect() as connection:
        consent = connection.execute(text("SELECT * FROM consents")).mappings().one()
    assert (consent["guardian_name"], consent["guardian_phone"]) == ("钱监护", "13900000042")


def _seed_clear_reply(connection):
    """A replay record as the code before this revision stored it: the reply in clear."""
    connection.execute(text(
        "INSERT INTO idempotency_records (id, scope, key, method, path, request_hash, status, "
        "body, created_at) VALUES (1, '7', 'k-1', 'POST', '/api/v1/beneficiaries', :hash, 201, "
        ":body, CURRENT_TIMESTAMP)"),
        {"hash": "0" * 64, "body": '{"name": "孙秀英", "phone": "13911112222"}'})


def _stored_reply(connection) -> str:
    return connection.execute(text("SELECT body FROM idempotency_records")).scalar_one()


def test_upgrade_seals_stored_replies_and_downgrade_opens_them(migrated_app):
    with db.engine.begin() as connection:
        _seed_clear_reply(connection)
    upgrade(directory=str(MIGRATIONS_DIR), revision=THIS)
    with db.engine.connect() as connection:
        sealed = _stored_reply(connection)
    assert "孙秀英" not in sealed and "13911112222" not in sealed
    assert decrypt(sealed) == '{"name": "孙秀英", "phone": "13911112222"}'
    downgrade(directory=str(MIGRATIONS_DIR), revision=BEFORE)
    with db.engine.connect() as connection:
        assert _stored_reply(connection) == '{"name": "孙秀英", "phone": "13911112222"}'
