"""reports: resident population per organization

Revision ID: b4e5f6a7b8c9
Revises: a3d4e5f6a7b8
Create Date: 2026-11-23 11:40:00
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b4e5f6a7b8c9'
down_revision = 'a3d4e5f6a7b8'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
