"""records: training records, quality evaluations, awards

Revision ID: a3d4e5f6a7b8
Revises: 9c2e1f3b0d12
Create Date: 2026-11-23 11:40:00
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a3d4e5f6a7b8'
down_revision = '9c2e1f3b0d12'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
