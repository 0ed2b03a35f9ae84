"""notify: Web Push subscriptions

Revision ID: 9c2e1f3b0d12
Revises: 8b1f0e2a9c01
Create Date: 2026-11-23 11:40:00
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '9c2e1f3b0d12'
down_revision = '8b1f0e2a9c01'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
