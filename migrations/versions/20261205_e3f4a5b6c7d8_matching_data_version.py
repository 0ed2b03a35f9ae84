"""Matching data version for set-based loading: empty so far

Reserved for the per-organization volunteer-table cache of issue #12 (a version every write to
a volunteer's matching data bumps). Set-based loading needed no column, so it changes
nothing yet; it stays in the chain because databases were upgraded through it.

Revision ID: e3f4a5b6c7d8
Revises: d2e3f4a5b6c7
Create Date: 2026-12-05
"""
from alembic import op
import sqlalchemy as sa

revision = 'e3f4a5b6c7d8'
down_revision = 'd2e3f4a5b6c7'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
