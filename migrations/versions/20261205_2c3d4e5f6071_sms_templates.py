"""Template SMS providers: receipts and inbound replies (issue 15)

Reserved: nothing here yet.

Revision ID: 2c3d4e5f6071
Revises: 1b2c3d4e5f60
Create Date: 2026-12-05
"""
from alembic import op
import sqlalchemy as sa

revision = '2c3d4e5f6071'
down_revision = '1b2c3d4e5f60'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
