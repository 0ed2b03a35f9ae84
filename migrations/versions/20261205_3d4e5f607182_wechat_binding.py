"""WeChat Official Account binding (issue 15)

wechat_bindings: a user's openid, encrypted, with a keyed hash for the login lookup.
wechat_access_tokens: the access token shared by every process, encrypted.

Revision ID: 3d4e5f607182
Revises: 2c3d4e5f6071
Create Date: 2026-12-05
"""
from alembic import op
import sqlalchemy as sa

revision = '3d4e5f607182'
down_revision = '2c3d4e5f6071'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'wechat_bindings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('openid_encrypted', sa.Text(), nullable=False),
        sa.Column('openid_hash', sa.String(length=64), nullable=False),
        sa.Column('bound_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                                name=op.f('fk_wechat_bindings_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_wechat_bindings')),
        sa.UniqueConstraint('openid_hash', name=op.f('uq_wechat_bindings_openid_hash')),
        sa.UniqueConstraint('user_id', name=op.f('uq_wechat_bindings_user_id')),
    )
    op.create_table(
        'wechat_access_tokens',
        sa.Column('app_id', sa.String(length=64), nullable=False),
        sa.Column('token_encrypted', sa.Text(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.Column('fetched_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('app_id', name=op.f('pk_wechat_access_tokens')),
    )


def downgrade():
    # Bindings cannot be recreated without each volunteer binding again: refuse unless forced.
    # The access token is a cache (fetched again on demand): dropping it loses nothing.
    from volunteer_hub.migration_guard import refuse_data_loss

    refuse_data_loss(revision, tables=['wechat_bindings'])
    op.drop_table('wechat_access_tokens')
    op.drop_table('wechat_bindings')
