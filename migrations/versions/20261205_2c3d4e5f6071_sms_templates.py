"""Template SMS providers: receipts and inbound replies (issue 15)

Empty: a template SMS needs no new column. A message's kind comes from its event key and its
named parameters from what the dispatcher already reads (subject, text, outbox id for the
short link: volunteer_hub.sms.kinds and sms.links); receipts find their message by the
provider's id in provider_message_id. It stays in the chain because later revisions follow.

Revision ID: 2c3d4e5f6071
Revises: 1b2c3d4e5f60
Create Date: 2026-12-05
"""
from alembic import op
import sqlalchemy as sa

revision = '2c3d4e5f6071'
down_revision = '1b2c3d4e5f60'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
