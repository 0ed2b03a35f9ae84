"""reports: resident population per organization

Revision ID: b4e5f6a7b8c9
Revises: a3d4e5f6a7b8
Create Date: 2026-11-23 11:40:00

No schema change: `orgs.resident_population` (nullable Integer) already exists since the
foundation revision 5f24129eb5b1, so adding it again would fail. The reports feature reads
it and lets organizers set it; this revision stays in the chain as an explicit no-op.
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


# revision identifiers, used by Alembic.
revision = 'b4e5f6a7b8c9'
down_revision = 'a3d4e5f6a7b8'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
