"""WeChat Official Account binding (issue 15)

Reserved: nothing here yet.

Revision ID: 3d4e5f607182
Revises: 2c3d4e5f6071
Create Date: 2026-12-05
"""
from alembic import op
import sqlalchemy as sa

revision = '3d4e5f607182'
down_revision = '2c3d4e5f6071'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
