"""One ID one account (normalized hashes) and personal data encrypted at rest

- ID numbers and phones stored before normalization (full-width or other scripts' digits,
  a lowercase x) are rewritten in their one ASCII spelling and re-hashed. Two accounts that
  turn out to hold the same number are REPORTED (logged, ids only) and left as they are:
  merging people is a decision for their community, not for a migration.
- A minor's guardian name and phone in `consents` become ciphertext; the downgrade decrypts
  them back (and refuses if the key cannot read them, rather than drop them).
- `home_location_changes` records when a volunteer moved their home point (times only);
  downgrading drops it only when forced (migration_guard).

The keys come from the app's config (security.encrypt / keyed_hash read current_app): the
migration runs inside the app, like every `volunteer-hub db upgrade`.

Revision ID: b0c1d2e3f4a5
Revises: a9b0c1d2e3f4
Create Date: 2026-12-05
"""
import logging

from alembic import op
import sqlalchemy as sa

from volunteer_hub.migration_guard import refuse_data_loss
from volunteer_hub.security import decrypt, encrypt, keyed_hash
from volunteer_hub.volunteers import idnumbers

revision = 'b0c1d2e3f4a5'
down_revision = 'a9b0c1d2e3f4'
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.identity_normalization")

volunteers = sa.table(
    "volunteers", sa.column("id", sa.Integer), sa.column("user_id", sa.Integer),
    sa.column("id_type", sa.String), sa.column("id_number_encrypted", sa.Text),
    sa.column("id_number_hash", sa.String), sa.column("id_number_masked", sa.String),
    sa.column("phone", sa.String))
users = sa.table("users", sa.column("id", sa.Integer), sa.column("phone", sa.String))
consents = sa.table(
    "consents", sa.column("id", sa.Integer), sa.column("guardian_name", sa.String),
    sa.column("guardian_phone", sa.String), sa.column("guardian_name_encrypted", sa.Text),
    sa.column("guardian_phone_encrypted", sa.Text))


def normalized_phone(phone):
    """The ASCII spelling of a stored phone (it passed the old check, so only digits vary)."""
    return idnumbers.ascii_digits(phone) if phone else phone


def upgrade():
    op.create_table('home_location_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('volunteer_id', sa.Integer(), nullable=False),
    sa.Column('changed_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers.id'], name=op.f('fk_home_location_changes_volunteer_id_volunteers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_home_location_changes'))
    )
    with op.batch_alter_table('home_location_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_home_location_changes_volunteer_id'), ['volunteer_id'], unique=False)

    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('guardian_name_encrypted', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('guardian_phone_encrypted', sa.Text(), nullable=True))
    connection = op.get_bind()
    _encrypt_guardians(connection)
    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.drop_column('guardian_name')
        batch_op.drop_column('guardian_phone')

    _normalize_id_numbers(connection)
    _normalize_phones(connection)
    _seal_idempotency_replies(connection)


def downgrade():
    # Only times of home moves (the throttle): still refused unless forced, like any drop.
    refuse_data_loss(revision, tables=["home_location_changes"])
    with op.batch_alter_table('home_location_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_home_location_changes_volunteer_id'))
    op.drop_table('home_location_changes')

    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('guardian_name', sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column('guardian_phone', sa.String(length=20), nullable=True))
    _decrypt_guardians(op.get_bind())
    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.drop_column('guardian_name_encrypted')
        batch_op.drop_column('guardian_phone_encrypted')
    # Normalized ID numbers and phones stay normalized: the older code reads them as well.
    _open_idempotency_replies(op.get_bind())


def _encrypt_guardians(connection):
    rows = connection.execute(
        sa.select(consents.c.id, consents.c.guardian_name, consents.c.guardian_phone).where(
            consents.c.guardian_name.isnot(None) | consents.c.guardian_phone.isnot(None))).all()
    for consent_id, name, phone in rows:
        connection.execute(consents.update().where(consents.c.id == consent_id).values(
            guardian_name_encrypted=encrypt(name or None),
            guardian_phone_encrypted=encrypt(normalized_phone(phone) or None)))
    log.info("consents: %d guardians' name and phone encrypted", len(rows))


def _decrypt_guardians(connection):
    rows = connection.execute(
        sa.select(consents.c.id, consents.c.guardian_name_encrypted,
                  consents.c.guardian_phone_encrypted).where(
            consents.c.guardian_name_encrypted.isnot(None)
            | consents.c.guardian_phone_encrypted.isnot(None))).all()
    for consent_id, name_token, phone_token in rows:
        name, phone = decrypt(name_token), decrypt(phone_token)
        if (name_token and name is None) or (phone_token and phone is None):
            raise RuntimeError(
                f"consent {consent_id}: the guardian's details cannot be decrypted with this "
                "DATA_ENCRYPTION_KEY; downgrading would lose them, so it stops here")
        connection.execute(consents.update().where(consents.c.id == consent_id).values(
            guardian_name=name, guardian_phone=phone))


def _normalize_id_numbers(connection):
    """Rewrite each ID in its normalized spelling; report, never merge, a collision."""
    rows = connection.execute(sa.select(
        volunteers.c.id, volunteers.c.id_type, volunteers.c.id_number_encrypted,
        volunteers.c.id_number_hash).order_by(volunteers.c.id)).all()
    owner_of_hash = {row.id_number_hash: row.id for row in rows}
    changed = collisions = 0
    for volunteer_id, id_type, token, old_hash in rows:
        number = decrypt(token)
        if number is None:
            log.warning("volunteer %s: ID number unreadable with this key, left as it is",
                        volunteer_id)
            continue
        clean = idnumbers.normalize(number)
        new_hash = keyed_hash(f"{id_type}:{clean}")
        if clean == number and new_hash == old_hash:
            continue
        holder = owner_of_hash.get(new_hash)
        if holder is not None and holder != volunteer_id:
            collisions += 1
            log.warning("ONE ID, TWO ACCOUNTS: volunteer %s holds the same %s as volunteer %s "
                        "once normalized; left unchanged for the community to resolve",
                        volunteer_id, id_type, holder)
            continue
        connection.execute(volunteers.update().where(volunteers.c.id == volunteer_id).values(
            id_number_encrypted=encrypt(clean), id_number_hash=new_hash,
            id_number_masked=idnumbers.mask(clean)))
        owner_of_hash.pop(old_hash, None)
        owner_of_hash[new_hash] = volunteer_id
        changed += 1
    log.info("volunteers: %d ID numbers re-hashed in normalized form, %d collisions reported",
             changed, collisions)


def _normalize_phones(connection):
    """Users' phones (the login) in ASCII digits; a collision is reported, not merged."""
    rows = connection.execute(sa.select(users.c.id, users.c.phone)
                              .where(users.c.phone.isnot(None)).order_by(users.c.id)).all()
    owner_of_phone = {phone: user_id for user_id, phone in rows}
    changed = collisions = 0
    for user_id, phone in rows:
        clean = normalized_phone(phone)
        if clean == phone:
            continue
        holder = owner_of_phone.get(clean)
        if holder is not None and holder != user_id:
            collisions += 1
            log.warning("ONE PHONE, TWO ACCOUNTS: user %s has the phone of user %s once "
                        "normalized; left unchanged for the community to resolve", user_id, holder)
            continue
        connection.execute(users.update().where(users.c.id == user_id).values(phone=clean))
        connection.execute(volunteers.update().where(volunteers.c.user_id == user_id)
                           .values(phone=clean))
        owner_of_phone.pop(phone, None)
        owner_of_phone[clean] = user_id
        changed += 1
    log.info("users: %d phones normalized, %d collisions reported", changed, collisions)


idempotency_records = sa.table(
    "idempotency_records", sa.column("id", sa.Integer), sa.column("body", sa.Text))


def _is_clear_json(body) -> bool:
    return bool(body) and body.startswith(("{", "["))


def _seal_idempotency_replies(connection):
    """Replies stored before this revision hold personal data in clear: encrypt them."""
    rows = connection.execute(sa.select(idempotency_records.c.id, idempotency_records.c.body)).all()
    sealed = [(row_id, body) for row_id, body in rows if _is_clear_json(body)]
    for row_id, body in sealed:
        connection.execute(idempotency_records.update().where(
            idempotency_records.c.id == row_id).values(body=encrypt(body)))
    log.info("idempotency_records: %d stored replies encrypted", len(sealed))


def _open_idempotency_replies(connection):
    """The older code replays the stored JSON as it is: decrypt it back."""
    rows = connection.execute(sa.select(idempotency_records.c.id, idempotency_records.c.body)).all()
    for row_id, body in rows:
        opened = decrypt(body) if body and not _is_clear_json(body) else None
        if opened is not None:  # unreadable with this key: left sealed rather than lost
            connection.execute(idempotency_records.update().where(
                idempotency_records.c.id == row_id).values(body=opened))
