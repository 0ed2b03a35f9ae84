"""Certificate issuer fields, seal, credit code, star notice period (issue 16)

Reserved: nothing here yet.

Revision ID: 60718293a4b5
Revises: 5f60718293a4
Create Date: 2026-12-05
"""
from alembic import op
import sqlalchemy as sa

revision = '60718293a4b5'
down_revision = '5f60718293a4'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
