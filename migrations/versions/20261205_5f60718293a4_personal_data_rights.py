"""Personal-data rights: consent versions, access log, closed accounts, retention (issue 16)

Reserved: nothing here yet.

Revision ID: 5f60718293a4
Revises: 4e5f60718293
Create Date: 2026-12-05
"""
from alembic import op
import sqlalchemy as sa

revision = '5f60718293a4'
down_revision = '4e5f60718293'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
