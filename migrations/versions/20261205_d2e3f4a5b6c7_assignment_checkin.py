"""Check-in and check-out of matched assignments; hours claims

An occurrence of a need (its slots sharing a start) becomes an activity when first needed, and
a service record names the assignment it was given to. Both links are nullable: standalone
activities and their records are unchanged.

Revision ID: d2e3f4a5b6c7
Revises: c1d2e3f4a5b6
Create Date: 2026-12-05
"""
from alembic import op
import sqlalchemy as sa

revision = 'd2e3f4a5b6c7'
down_revision = 'c1d2e3f4a5b6'
branch_labels = None
depends_on = None

ADDED_COLUMNS = [("activities", "need_id"), ("activities", "occurrence_start"),
                 ("service_records", "assignment_id")]


def upgrade():
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.add_column(sa.Column('need_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('occurrence_start', sa.DateTime(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_activities_need_id_needs'), 'needs',
                                    ['need_id'], ['id'], ondelete='SET NULL')
        batch_op.create_index(batch_op.f('ix_activities_need_id'), ['need_id'], unique=False)
        batch_op.create_unique_constraint('uq_activities_need_occurrence',
                                          ['need_id', 'occurrence_start'])
    with op.batch_alter_table('service_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('assignment_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_service_records_assignment_id_assignments'),
                                    'assignments', ['assignment_id'], ['id'],
                                    ondelete='SET NULL')
        batch_op.create_index(batch_op.f('ix_service_records_assignment_id'),
                              ['assignment_id'], unique=False)


def downgrade():
    # Dropping the links would silently turn task records into orphans: refuse unless forced.
    from volunteer_hub.migration_guard import refuse_data_loss

    refuse_data_loss(revision, columns=ADDED_COLUMNS)
    _defer_sqlite_foreign_keys()
    with op.batch_alter_table('service_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_service_records_assignment_id'))
        batch_op.drop_constraint(batch_op.f('fk_service_records_assignment_id_assignments'),
                                 type_='foreignkey')
        batch_op.drop_column('assignment_id')
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.drop_constraint('uq_activities_need_occurrence', type_='unique')
        batch_op.drop_index(batch_op.f('ix_activities_need_id'))
        batch_op.drop_constraint(batch_op.f('fk_activities_need_id_needs'), type_='foreignkey')
        batch_op.drop_column('occurrence_start')
        batch_op.drop_column('need_id')


def _defer_sqlite_foreign_keys():
    """SQLite rebuilds a table to drop a column: the rows referencing it (ledger entries,
    check events) must wait for the rebuilt table, so their checks run at commit."""
    if op.get_bind().dialect.name == "sqlite":
        op.execute("PRAGMA defer_foreign_keys = ON")
