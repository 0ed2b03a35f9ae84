"""ledger: each transaction records the canonical format its hash covers

Revision ID: e7f8a9b0c1d2
Revises: d6a7b8c9d0e1
Create Date: 2026-11-23 15:30:00
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e7f8a9b0c1d2'
down_revision = 'd6a7b8c9d0e1'
branch_labels = None
depends_on = None


def upgrade():
    # A plain ADD COLUMN with a constant default (no batch copy: that would drop SQLite's
    # append-only triggers); it rewrites no rows, so those triggers are not involved.
    op.add_column('ledger_transactions', sa.Column('format_version', sa.SmallInteger(),
                                                   nullable=False, server_default='1'))


def downgrade():
    op.drop_column('ledger_transactions', 'format_version')
