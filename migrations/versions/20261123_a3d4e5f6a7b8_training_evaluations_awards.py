"""recognition: training records, quality evaluations, awards

Revision ID: a3d4e5f6a7b8
Revises: 9c2e1f3b0d12
Create Date: 2026-11-23 11:40:00
"""
from alembic import op
import sqlalchemy as sa

from volunteer_hub.migration_guard import refuse_data_loss


# revision identifiers, used by Alembic.
revision = 'a3d4e5f6a7b8'
down_revision = '9c2e1f3b0d12'
branch_labels = None
depends_on = None

_INDEXES = {
    "training_records": ("kind", "org_id", "status", "trained_on", "volunteer_id"),
    "evaluations": ("evaluator_id", "service_record_id", "volunteer_id"),
    "awards": ("org_id", "status", "volunteer_id"),
}


def upgrade():
    op.create_table('awards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('volunteer_id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=120), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('awarded_on', sa.Date(), nullable=False),
    sa.Column('issuer', sa.String(length=200), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('revoked_reason', sa.String(length=255), nullable=True),
    sa.Column('revoked_by_id', sa.Integer(), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_awards_org_id_orgs')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_awards_recorded_by_id_users')),
    sa.ForeignKeyConstraint(['revoked_by_id'], ['users.id'], name=op.f('fk_awards_revoked_by_id_users')),
    sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers.id'], name=op.f('fk_awards_volunteer_id_volunteers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_awards'))
    )
    with op.batch_alter_table('awards', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_awards_org_id'), ['org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_awards_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_awards_volunteer_id'), ['volunteer_id'], unique=False)

    op.create_table('evaluations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('service_record_id', sa.Integer(), nullable=False),
    sa.Column('volunteer_id', sa.Integer(), nullable=False),
    sa.Column('evaluator_id', sa.Integer(), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('score >= 1 AND score <= 5', name=op.f('ck_evaluations_score_range')),
    sa.ForeignKeyConstraint(['evaluator_id'], ['users.id'], name=op.f('fk_evaluations_evaluator_id_users')),
    sa.ForeignKeyConstraint(['service_record_id'], ['service_records.id'], name=op.f('fk_evaluations_service_record_id_service_records')),
    sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers.id'], name=op.f('fk_evaluations_volunteer_id_volunteers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evaluations')),
    sa.UniqueConstraint('service_record_id', 'evaluator_id', name='uq_evaluations_record_evaluator')
    )
    with op.batch_alter_table('evaluations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_evaluations_evaluator_id'), ['evaluator_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_evaluations_service_record_id'), ['service_record_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_evaluations_volunteer_id'), ['volunteer_id'], unique=False)

    op.create_table('training_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('volunteer_id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('trained_on', sa.Date(), nullable=False),
    sa.Column('minutes', sa.Integer(), nullable=False),
    sa.Column('trainer', sa.String(length=120), nullable=False),
    sa.Column('certification_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('revoked_reason', sa.String(length=255), nullable=True),
    sa.Column('revoked_by_id', sa.Integer(), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['certification_id'], ['certifications.id'], name=op.f('fk_training_records_certification_id_certifications'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_training_records_org_id_orgs')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_training_records_recorded_by_id_users')),
    sa.ForeignKeyConstraint(['revoked_by_id'], ['users.id'], name=op.f('fk_training_records_revoked_by_id_users')),
    sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers.id'], name=op.f('fk_training_records_volunteer_id_volunteers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_training_records'))
    )
    with op.batch_alter_table('training_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_training_records_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_training_records_org_id'), ['org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_training_records_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_training_records_trained_on'), ['trained_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_training_records_volunteer_id'), ['volunteer_id'], unique=False)


def downgrade():
    refuse_data_loss(revision, tables=('awards', 'evaluations', 'training_records'))
    for table in ("awards", "evaluations", "training_records"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for index in _INDEXES[table]:
                batch_op.drop_index(batch_op.f(f"ix_{table}_{index}"))
        op.drop_table(table)
