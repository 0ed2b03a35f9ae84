"""Time-bank transactions authenticated with a key outside the database; Merkle log (issue 14)

Reserved: nothing here yet.

Revision ID: f4a5b6c7d8e9
Revises: e3f4a5b6c7d8
Create Date: 2026-12-05
"""
from alembic import op
import sqlalchemy as sa

revision = 'f4a5b6c7d8e9'
down_revision = 'e3f4a5b6c7d8'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
