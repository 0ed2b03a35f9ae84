"""timebank: batched verification write path

Revision ID: c5f6a7b8c9d0
Revises: b4e5f6a7b8c9
Create Date: 2026-11-23 11:40:00
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c5f6a7b8c9d0'
down_revision = 'b4e5f6a7b8c9'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
