"""Working-day calendar, national volunteer number, calendar feeds, coordinates (issue 16)

Reserved: nothing here yet.

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
    pass


def downgrade():
    pass
