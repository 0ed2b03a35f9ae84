"""emergency plans, activations, responses, roll call

Revision ID: 8b1f0e2a9c01
Revises: 7a3c91d2e4b6
Create Date: 2026-11-23 11:40:00
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '8b1f0e2a9c01'
down_revision = '7a3c91d2e4b6'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
