"""Per-organization matching data version for the volunteer-table cache (issue 12)

Reserved: nothing here yet.

Revision ID: 0a1b2c3d4e5f
Revises: f4a5b6c7d8e9
Create Date: 2026-12-05
"""
from alembic import op
import sqlalchemy as sa

revision = '0a1b2c3d4e5f'
down_revision = 'f4a5b6c7d8e9'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
