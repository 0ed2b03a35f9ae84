"""Channel registry: per-org fallback order and channel preferences (issue 15)

Reserved: nothing here yet.

Revision ID: 1b2c3d4e5f60
Revises: 0a1b2c3d4e5f
Create Date: 2026-12-05
"""
from alembic import op
import sqlalchemy as sa

revision = '1b2c3d4e5f60'
down_revision = '0a1b2c3d4e5f'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
