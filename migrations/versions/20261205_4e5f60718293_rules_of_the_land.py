"""National volunteer number (志愿者编号) and private calendar feeds (issue 16)

The working-day calendar and the coordinate systems need no schema: the calendar is code plus
settings, and coordinates keep being stored in WGS-84 (inputs are converted on the way in).

Revision ID: 4e5f60718293
Revises: 3d4e5f607182
Create Date: 2026-12-05
"""
from alembic import op
import sqlalchemy as sa


revision = '4e5f60718293'
down_revision = '3d4e5f607182'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('volunteers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('national_number', sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f('ix_volunteers_national_number'), ['national_number'],
                              unique=True)
    op.create_table(
        'calendar_feeds',
        sa.Column('volunteer_id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_read_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers.id'],
                                name=op.f('fk_calendar_feeds_volunteer_id_volunteers')),
        sa.PrimaryKeyConstraint('volunteer_id', name=op.f('pk_calendar_feeds')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_calendar_feeds_token_hash')),
    )


def downgrade():
    # National numbers were typed in or imported by hand: refuse to drop them unless forced.
    # Feed tokens are only links a volunteer can make again, but a dropped table silently
    # breaks subscribed phones: counted too.
    from volunteer_hub.migration_guard import refuse_data_loss

    refuse_data_loss(revision, tables=['calendar_feeds'],
                     columns=[('volunteers', 'national_number')])
    op.drop_table('calendar_feeds')
    with op.batch_alter_table('volunteers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_volunteers_national_number'))
        batch_op.drop_column('national_number')
