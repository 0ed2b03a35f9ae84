"""service records and time bank: activities, check events, records, settings; ledger
accounts, head, hash-chained transactions and postings (append-only triggers), kinships

Revision ID: e4eb486ac9a6
Revises: 5f24129eb5b1
Create Date: 2026-11-23 09:30:20.052717

"""
from alembic import op
import sqlalchemy as sa

from volunteer_hub.migration_guard import refuse_data_loss


# revision identifiers, used by Alembic.
revision = 'e4eb486ac9a6'
down_revision = '5f24129eb5b1'
branch_labels = None
depends_on = None


# Append-only ledger (the same SQL models.py attaches to create_all): UPDATE and DELETE
# of transactions and postings are refused by the database itself.
APPEND_ONLY_TABLES = ("ledger_transactions", "ledger_postings")
POSTGRESQL_FUNCTION = (
    "CREATE OR REPLACE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'restrict_violation'; "
    "END; $$"
)


def _create_triggers():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(POSTGRESQL_FUNCTION)
    for table in APPEND_ONLY_TABLES:
        if dialect == "postgresql":
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       f"FOR EACH ROW EXECUTE FUNCTION ledger_append_only()")
        else:
            for action in ("UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON "
                           f"{table} BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END")


def _drop_triggers():
    dialect = op.get_bind().dialect.name
    for table in APPEND_ONLY_TABLES:
        if dialect == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        else:
            for action in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{action}")
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS ledger_append_only()")


def upgrade():
    op.create_table('ledger_accounts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('owner_id', sa.String(length=64), nullable=False),
    sa.Column('balance_individual', sa.BigInteger(), nullable=False),
    sa.Column('balance_group', sa.BigInteger(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_accounts')),
    sa.UniqueConstraint('kind', 'owner_id', name='uq_ledger_accounts_kind_owner')
    )
    op.create_table('ledger_head',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('last_transaction_id', sa.Integer(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_head'))
    )
    op.create_table('activities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('org_path', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('service_type', sa.String(length=32), nullable=False),
    sa.Column('place', sa.String(length=200), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('lead_user_id', sa.Integer(), nullable=True),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('checkin_code', sa.String(length=6), nullable=False),
    sa.Column('geofence_lat', sa.Double(), nullable=True),
    sa.Column('geofence_lon', sa.Double(), nullable=True),
    sa.Column('geofence_radius_m', sa.Integer(), nullable=True),
    sa.Column('group_service', sa.Boolean(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_activities_created_by_id_users')),
    sa.ForeignKeyConstraint(['lead_user_id'], ['users.id'], name=op.f('fk_activities_lead_user_id_users')),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_activities_org_id_orgs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_activities'))
    )
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_activities_ends_at'), ['ends_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_activities_org_id'), ['org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_activities_org_path'), ['org_path'], unique=False)
    op.create_table('ledger_transactions',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('idempotency_key', sa.String(length=255), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('reverses_id', sa.Integer(), nullable=True),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('provenance', sa.Text(), nullable=False),
    sa.Column('service_volunteer_id', sa.Integer(), nullable=True),
    sa.Column('record_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_ledger_transactions_created_by_id_users')),
    sa.ForeignKeyConstraint(['reverses_id'], ['ledger_transactions.id'], name=op.f('fk_ledger_transactions_reverses_id_ledger_transactions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_transactions')),
    sa.UniqueConstraint('hash', name=op.f('uq_ledger_transactions_hash')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_ledger_transactions_idempotency_key')),
    sa.UniqueConstraint('reverses_id', name=op.f('uq_ledger_transactions_reverses_id'))
    )
    with op.batch_alter_table('ledger_transactions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ledger_transactions_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_transactions_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_transactions_record_id'), ['record_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_transactions_service_volunteer_id'), ['service_volunteer_id'], unique=False)
    op.create_table('record_settings',
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('rounding_minutes', sa.Integer(), nullable=True),
    sa.Column('daily_cap_minutes', sa.Integer(), nullable=True),
    sa.Column('activity_cap_minutes', sa.Integer(), nullable=True),
    sa.Column('travel_excluded', sa.Boolean(), nullable=True),
    sa.Column('deadline_working_days', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_record_settings_org_id_orgs')),
    sa.PrimaryKeyConstraint('org_id', name=op.f('pk_record_settings'))
    )
    op.create_table('ledger_kinships',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('volunteer_id', sa.Integer(), nullable=False),
    sa.Column('relative_id', sa.Integer(), nullable=False),
    sa.Column('relationship', sa.String(length=16), nullable=False),
    sa.Column('confirmed_by_id', sa.Integer(), nullable=True),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['confirmed_by_id'], ['users.id'], name=op.f('fk_ledger_kinships_confirmed_by_id_users')),
    sa.ForeignKeyConstraint(['relative_id'], ['volunteers.id'], name=op.f('fk_ledger_kinships_relative_id_volunteers')),
    sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers.id'], name=op.f('fk_ledger_kinships_volunteer_id_volunteers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_kinships')),
    sa.UniqueConstraint('volunteer_id', 'relative_id', name='uq_ledger_kinships_volunteer_relative')
    )
    with op.batch_alter_table('ledger_kinships', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ledger_kinships_volunteer_id'), ['volunteer_id'], unique=False)
    op.create_table('ledger_postings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('transaction_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('minutes', sa.BigInteger(), nullable=False),
    sa.Column('earned_as_group', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['ledger_accounts.id'], name=op.f('fk_ledger_postings_account_id_ledger_accounts')),
    sa.ForeignKeyConstraint(['transaction_id'], ['ledger_transactions.id'], name=op.f('fk_ledger_postings_transaction_id_ledger_transactions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_postings'))
    )
    with op.batch_alter_table('ledger_postings', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_postings_account_id_transaction_id', ['account_id', 'transaction_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_postings_transaction_id'), ['transaction_id'], unique=False)
    op.create_table('service_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('volunteer_id', sa.Integer(), nullable=False),
    sa.Column('activity_id', sa.Integer(), nullable=False),
    sa.Column('check_in_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('check_out_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('method', sa.String(length=16), nullable=False),
    sa.Column('raw_minutes', sa.Integer(), nullable=True),
    sa.Column('travel_minutes', sa.Integer(), nullable=False),
    sa.Column('minutes', sa.Integer(), nullable=True),
    sa.Column('missing_checkout', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('status_reason', sa.String(length=255), nullable=True),
    sa.Column('reason', sa.String(length=255), nullable=True),
    sa.Column('corrects_id', sa.Integer(), nullable=True),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('verified_by_id', sa.Integer(), nullable=True),
    sa.Column('verified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ledger_transaction_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['activity_id'], ['activities.id'], name=op.f('fk_service_records_activity_id_activities')),
    sa.ForeignKeyConstraint(['corrects_id'], ['service_records.id'], name=op.f('fk_service_records_corrects_id_service_records')),
    sa.ForeignKeyConstraint(['ledger_transaction_id'], ['ledger_transactions.id'], name=op.f('fk_service_records_ledger_transaction_id_ledger_transactions')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_service_records_recorded_by_id_users')),
    sa.ForeignKeyConstraint(['verified_by_id'], ['users.id'], name=op.f('fk_service_records_verified_by_id_users')),
    sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers.id'], name=op.f('fk_service_records_volunteer_id_volunteers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_records'))
    )
    with op.batch_alter_table('service_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_service_records_activity_id'), ['activity_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_service_records_corrects_id'), ['corrects_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_service_records_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_service_records_missing_checkout'), ['missing_checkout'], unique=False)
        batch_op.create_index(batch_op.f('ix_service_records_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_service_records_volunteer_id'), ['volunteer_id'], unique=False)
    op.create_table('check_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('activity_id', sa.Integer(), nullable=False),
    sa.Column('volunteer_id', sa.Integer(), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=True),
    sa.Column('direction', sa.String(length=3), nullable=False),
    sa.Column('method', sa.String(length=16), nullable=False),
    sa.Column('token_digest', sa.String(length=64), nullable=True),
    sa.Column('geofence_passed', sa.Boolean(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['activity_id'], ['activities.id'], name=op.f('fk_check_events_activity_id_activities')),
    sa.ForeignKeyConstraint(['record_id'], ['service_records.id'], name=op.f('fk_check_events_record_id_service_records')),
    sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers.id'], name=op.f('fk_check_events_volunteer_id_volunteers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_check_events')),
    sa.UniqueConstraint('volunteer_id', 'token_digest', name='uq_check_events_volunteer_token')
    )
    with op.batch_alter_table('check_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_check_events_activity_id'), ['activity_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_check_events_volunteer_id'), ['volunteer_id'], unique=False)
    _create_triggers()


def downgrade():
    refuse_data_loss(revision, tables=('check_events', 'service_records', 'ledger_postings',
                                     'ledger_kinships', 'record_settings', 'ledger_transactions',
                                     'activities', 'ledger_head', 'ledger_accounts',
                                     'ledger_format_versions_kept', 'ledger_macs_kept'))
    _drop_triggers()
    # Kept by e7f8a9b0c1d2's and f4a5b6c7d8e9's downgrades for their upgrades; they go with
    # the ledger.
    op.execute('DROP TABLE IF EXISTS ledger_format_versions_kept')
    op.execute('DROP TABLE IF EXISTS ledger_macs_kept')
    with op.batch_alter_table('check_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_check_events_volunteer_id'))
        batch_op.drop_index(batch_op.f('ix_check_events_activity_id'))
    op.drop_table('check_events')
    with op.batch_alter_table('service_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_service_records_volunteer_id'))
        batch_op.drop_index(batch_op.f('ix_service_records_status'))
        batch_op.drop_index(batch_op.f('ix_service_records_missing_checkout'))
        batch_op.drop_index(batch_op.f('ix_service_records_created_at'))
        batch_op.drop_index(batch_op.f('ix_service_records_corrects_id'))
        batch_op.drop_index(batch_op.f('ix_service_records_activity_id'))
    op.drop_table('service_records')
    with op.batch_alter_table('ledger_postings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_postings_transaction_id'))
        batch_op.drop_index('ix_ledger_postings_account_id_transaction_id')
    op.drop_table('ledger_postings')
    with op.batch_alter_table('ledger_kinships', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_kinships_volunteer_id'))
    op.drop_table('ledger_kinships')
    op.drop_table('record_settings')
    with op.batch_alter_table('ledger_transactions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_transactions_service_volunteer_id'))
        batch_op.drop_index(batch_op.f('ix_ledger_transactions_record_id'))
        batch_op.drop_index(batch_op.f('ix_ledger_transactions_kind'))
        batch_op.drop_index(batch_op.f('ix_ledger_transactions_created_at'))
    op.drop_table('ledger_transactions')
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_activities_org_path'))
        batch_op.drop_index(batch_op.f('ix_activities_org_id'))
        batch_op.drop_index(batch_op.f('ix_activities_ends_at'))
    op.drop_table('activities')
    op.drop_table('ledger_head')
    op.drop_table('ledger_accounts')
