"""Personal-data rights: consent versions, access log, closed accounts, retention (issue 16)

personal_data_access_logs: every reveal of a full ID number and every data export (kept at
least 3 years). consent_texts: the texts people agree to, by kind, version and language.
closed_accounts: accounts closed by their holder or by the retention rules (the pseudonym's
number, the masked name certificates printed). retention_runs: what each retention run did.

Revision ID: 5f60718293a4
Revises: 4e5f60718293
Create Date: 2026-12-05
"""
from alembic import op
import sqlalchemy as sa

revision = '5f60718293a4'
down_revision = '4e5f60718293'
branch_labels = None
depends_on = None

TABLES = ["retention_runs", "closed_accounts", "consent_texts", "personal_data_access_logs"]


def upgrade():
    op.create_table(
        'personal_data_access_logs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('subject_user_id', sa.Integer(), nullable=False),
        sa.Column('actor_user_id', sa.Integer(), nullable=True),
        sa.Column('org_path', sa.String(length=255), nullable=True),
        sa.Column('route', sa.String(length=100), nullable=False),
        sa.Column('reason', sa.String(length=255), nullable=True),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['actor_user_id'], ['users.id'],
                                name=op.f('fk_personal_data_access_logs_actor_user_id_users')),
        sa.ForeignKeyConstraint(['subject_user_id'], ['users.id'],
                                name=op.f('fk_personal_data_access_logs_subject_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_personal_data_access_logs')),
    )
    with op.batch_alter_table('personal_data_access_logs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_personal_data_access_logs_at'), ['at'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_personal_data_access_logs_subject_user_id'),
                              ['subject_user_id'], unique=False)
        batch_op.create_index('ix_personal_data_access_logs_org_path_at', ['org_path', 'at'],
                              unique=False)
    op.create_table(
        'consent_texts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('version', sa.String(length=20), nullable=False),
        sa.Column('locale', sa.String(length=10), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('published_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_texts')),
        sa.UniqueConstraint('kind', 'version', 'locale',
                            name=op.f('uq_consent_texts_kind')),
    )
    with op.batch_alter_table('consent_texts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consent_texts_published_at'), ['published_at'],
                              unique=False)
    op.create_table(
        'closed_accounts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('volunteer_id', sa.Integer(), nullable=True),
        sa.Column('reason', sa.String(length=20), nullable=False),
        sa.Column('certificate_name', sa.String(length=60), nullable=True),
        sa.Column('closed_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                                name=op.f('fk_closed_accounts_user_id_users')),
        sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers.id'],
                                name=op.f('fk_closed_accounts_volunteer_id_volunteers')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_closed_accounts')),
        sa.UniqueConstraint('user_id', name=op.f('uq_closed_accounts_user_id')),
        sa.UniqueConstraint('volunteer_id', name=op.f('uq_closed_accounts_volunteer_id')),
    )
    op.create_table(
        'retention_runs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('started_at', sa.DateTime(), nullable=False),
        sa.Column('finished_at', sa.DateTime(), nullable=True),
        sa.Column('dry_run', sa.Boolean(), nullable=False),
        sa.Column('trigger', sa.String(length=20), nullable=False),
        sa.Column('counts', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_retention_runs')),
    )
    with op.batch_alter_table('retention_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_retention_runs_started_at'), ['started_at'],
                              unique=False)


def downgrade():
    # The access log is kept three years by law, and closed accounts name pseudonyms that
    # cannot be rebuilt: refuse to drop rows unless forced.
    from volunteer_hub.migration_guard import refuse_data_loss

    refuse_data_loss(revision, tables=TABLES)
    for table in TABLES:
        op.drop_table(table)
