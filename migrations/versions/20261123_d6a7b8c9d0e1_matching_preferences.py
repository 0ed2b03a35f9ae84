"""matching: volunteer preferences

Revision ID: d6a7b8c9d0e1
Revises: c5f6a7b8c9d0
Create Date: 2026-11-23 11:40:00
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd6a7b8c9d0e1'
down_revision = 'c5f6a7b8c9d0'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
