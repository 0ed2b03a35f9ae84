"""Matching data versions: one token per org node for the volunteer-table cache (issue 12)

matching_data_versions(org_id, version): every write to a volunteer's matching data sets a
new random token on the volunteer's home node (matching/cache.py), and a process keeps an
org's loaded volunteer table while the tokens of its subtree and ancestors are unchanged.

The downgrade drops the table without the data-loss guard: its rows are cache tokens, not
data. Without them no process trusts a kept table (an empty set of tokens is never cached),
so every run after an upgrade again loads from the tables.

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
    op.create_table(
        'matching_data_versions',
        sa.Column('org_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('version', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('org_id', name=op.f('pk_matching_data_versions')),
    )


def downgrade():
    op.drop_table('matching_data_versions')
