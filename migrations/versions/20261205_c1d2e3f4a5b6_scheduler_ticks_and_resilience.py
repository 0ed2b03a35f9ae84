"""Scheduled job ticks recorded once across schedulers

`scheduler_ticks` holds one row per job and scheduled tick (unique), written by the
scheduler that runs it before the job starts (volunteer_hub/scheduler.py). The rows are
bookkeeping the scheduler prunes after a week; the downgrade still refuses to drop them
unless forced (migration_guard), like every table with rows.

Revision ID: c1d2e3f4a5b6
Revises: b0c1d2e3f4a5
Create Date: 2026-12-05
"""
from alembic import op
import sqlalchemy as sa

from volunteer_hub.migration_guard import refuse_data_loss

revision = 'c1d2e3f4a5b6'
down_revision = 'b0c1d2e3f4a5'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'scheduler_ticks',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('job_id', sa.String(length=100), nullable=False),
        sa.Column('tick_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('runner', sa.String(length=100), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('outcome', sa.String(length=10), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_scheduler_ticks')),
        sa.UniqueConstraint('job_id', 'tick_at', name=op.f('uq_scheduler_ticks_job_id')),
    )


def downgrade():
    refuse_data_loss(revision, tables=['scheduler_ticks'])
    op.drop_table('scheduler_ticks')
