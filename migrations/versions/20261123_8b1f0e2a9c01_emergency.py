"""emergency plans, activations, responses, roll call

Revision ID: 8b1f0e2a9c01
Revises: 7a3c91d2e4b6
Create Date: 2026-11-23 11:40:00
"""
from alembic import op
import sqlalchemy as sa

from volunteer_hub.migration_guard import refuse_data_loss


# revision identifiers, used by Alembic.
revision = '8b1f0e2a9c01'
down_revision = '7a3c91d2e4b6'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('emergency_plans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('org_path', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('category', sa.String(length=24), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('levels', sa.JSON(), nullable=False),
    sa.Column('assembly_points', sa.JSON(), nullable=False),
    sa.Column('templates', sa.JSON(), nullable=False),
    sa.Column('archived_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_emergency_plans_created_by_id_users')),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_emergency_plans_org_id_orgs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_emergency_plans'))
    )

    with op.batch_alter_table('emergency_plans', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_emergency_plans_org_id'), ['org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_emergency_plans_org_path'), ['org_path'], unique=False)

    op.create_table('emergency_settings',
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('drill_hours_count', sa.Boolean(), nullable=True),
    sa.Column('link_valid_hours', sa.Integer(), nullable=True),
    sa.Column('fatigue_window_days', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_emergency_settings_org_id_orgs')),
    sa.PrimaryKeyConstraint('org_id', name=op.f('pk_emergency_settings'))
    )

    op.create_table('emergency_activations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('org_path', sa.String(length=255), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('is_drill', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('incident_lat', sa.Double(), nullable=True),
    sa.Column('incident_lon', sa.Double(), nullable=True),
    sa.Column('incident_address', sa.String(length=200), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('radius_km', sa.Double(), nullable=True),
    sa.Column('area_org_id', sa.Integer(), nullable=True),
    sa.Column('team_ids_called', sa.JSON(), nullable=False),
    sa.Column('skill_level_relaxed_by', sa.Integer(), nullable=False),
    sa.Column('escalation_steps_taken', sa.Integer(), nullable=False),
    sa.Column('assembly_points', sa.JSON(), nullable=False),
    sa.Column('templates', sa.JSON(), nullable=False),
    sa.Column('escalation', sa.JSON(), nullable=False),
    sa.Column('drill_hours_count', sa.Boolean(), nullable=False),
    sa.Column('activated_by_id', sa.Integer(), nullable=True),
    sa.Column('activated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('stood_down_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('stood_down_by_id', sa.Integer(), nullable=True),
    sa.Column('stand_down_note', sa.Text(), nullable=False),
    sa.Column('activity_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['activated_by_id'], ['users.id'], name=op.f('fk_emergency_activations_activated_by_id_users')),
    sa.ForeignKeyConstraint(['activity_id'], ['activities.id'], name=op.f('fk_emergency_activations_activity_id_activities')),
    sa.ForeignKeyConstraint(['area_org_id'], ['orgs.id'], name=op.f('fk_emergency_activations_area_org_id_orgs')),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_emergency_activations_org_id_orgs')),
    sa.ForeignKeyConstraint(['plan_id'], ['emergency_plans.id'], name=op.f('fk_emergency_activations_plan_id_emergency_plans')),
    sa.ForeignKeyConstraint(['stood_down_by_id'], ['users.id'], name=op.f('fk_emergency_activations_stood_down_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_emergency_activations'))
    )

    with op.batch_alter_table('emergency_activations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_emergency_activations_is_drill'), ['is_drill'], unique=False)
        batch_op.create_index(batch_op.f('ix_emergency_activations_org_id'), ['org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_emergency_activations_org_path'), ['org_path'], unique=False)
        batch_op.create_index(batch_op.f('ix_emergency_activations_plan_id'), ['plan_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_emergency_activations_status'), ['status'], unique=False)

    op.create_table('emergency_activation_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('activation_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['activation_id'], ['emergency_activations.id'], name=op.f('fk_emergency_activation_events_activation_id_emergency_activations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_emergency_activation_events_actor_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_emergency_activation_events'))
    )

    with op.batch_alter_table('emergency_activation_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_emergency_activation_events_activation_id'), ['activation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_emergency_activation_events_at'), ['at'], unique=False)

    op.create_table('emergency_activation_roles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('activation_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('label_zh', sa.String(length=100), nullable=False),
    sa.Column('label_en', sa.String(length=100), nullable=False),
    sa.Column('needed', sa.Integer(), nullable=False),
    sa.Column('skill_code', sa.String(length=32), nullable=True),
    sa.Column('min_level', sa.Integer(), nullable=False),
    sa.Column('certification_kind', sa.String(length=40), nullable=True),
    sa.Column('filled_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['activation_id'], ['emergency_activations.id'], name=op.f('fk_emergency_activation_roles_activation_id_emergency_activations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_emergency_activation_roles')),
    sa.UniqueConstraint('activation_id', 'code', name=op.f('uq_emergency_activation_roles_activation_id'))
    )

    with op.batch_alter_table('emergency_activation_roles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_emergency_activation_roles_activation_id'), ['activation_id'], unique=False)

    op.create_table('emergency_responders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('activation_id', sa.Integer(), nullable=False),
    sa.Column('volunteer_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=True),
    sa.Column('distance_km', sa.Double(), nullable=True),
    sa.Column('notified_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('notify_round', sa.Integer(), nullable=False),
    sa.Column('answer', sa.String(length=8), nullable=False),
    sa.Column('eta_minutes', sa.Integer(), nullable=True),
    sa.Column('first_answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('answer_channel', sa.String(length=8), nullable=True),
    sa.Column('role_id', sa.Integer(), nullable=True),
    sa.Column('assembly_point', sa.Integer(), nullable=True),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('arrived_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('arrival_method', sa.String(length=12), nullable=True),
    sa.Column('checked_out_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('safe_confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('safe_confirmed_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['activation_id'], ['emergency_activations.id'], name=op.f('fk_emergency_responders_activation_id_emergency_activations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['role_id'], ['emergency_activation_roles.id'], name=op.f('fk_emergency_responders_role_id_emergency_activation_roles'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['safe_confirmed_by_id'], ['users.id'], name=op.f('fk_emergency_responders_safe_confirmed_by_id_users')),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_emergency_responders_team_id_teams')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_emergency_responders_user_id_users')),
    sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers.id'], name=op.f('fk_emergency_responders_volunteer_id_volunteers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_emergency_responders')),
    sa.UniqueConstraint('activation_id', 'volunteer_id', name=op.f('uq_emergency_responders_activation_id'))
    )

    with op.batch_alter_table('emergency_responders', schema=None) as batch_op:
        batch_op.create_index('ix_emergency_responders_activation_answer', ['activation_id', 'answer'], unique=False)
        batch_op.create_index(batch_op.f('ix_emergency_responders_activation_id'), ['activation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_emergency_responders_role_id'), ['role_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_emergency_responders_user_id'), ['user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_emergency_responders_volunteer_id'), ['volunteer_id'], unique=False)

    op.create_table('emergency_response_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('responder_id', sa.Integer(), nullable=False),
    sa.Column('answer', sa.String(length=8), nullable=False),
    sa.Column('eta_minutes', sa.Integer(), nullable=True),
    sa.Column('channel', sa.String(length=8), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['responder_id'], ['emergency_responders.id'], name=op.f('fk_emergency_response_changes_responder_id_emergency_responders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_emergency_response_changes'))
    )

    with op.batch_alter_table('emergency_response_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_emergency_response_changes_responder_id'), ['responder_id'], unique=False)

    op.create_table('emergency_wellbeing_checks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('activation_id', sa.Integer(), nullable=False),
    sa.Column('beneficiary_id', sa.Integer(), nullable=False),
    sa.Column('responder_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('note_encrypted', sa.Text(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['activation_id'], ['emergency_activations.id'], name=op.f('fk_emergency_wellbeing_checks_activation_id_emergency_activations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['beneficiary_id'], ['beneficiaries.id'], name=op.f('fk_emergency_wellbeing_checks_beneficiary_id_beneficiaries')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_emergency_wellbeing_checks_recorded_by_id_users')),
    sa.ForeignKeyConstraint(['responder_id'], ['emergency_responders.id'], name=op.f('fk_emergency_wellbeing_checks_responder_id_emergency_responders'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_emergency_wellbeing_checks')),
    sa.UniqueConstraint('activation_id', 'beneficiary_id', name=op.f('uq_emergency_wellbeing_checks_activation_id'))
    )

    with op.batch_alter_table('emergency_wellbeing_checks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_emergency_wellbeing_checks_activation_id'), ['activation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_emergency_wellbeing_checks_beneficiary_id'), ['beneficiary_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_emergency_wellbeing_checks_responder_id'), ['responder_id'], unique=False)



def downgrade():
    refuse_data_loss(revision, tables=('emergency_wellbeing_checks', 'emergency_response_changes',
                                     'emergency_responders', 'emergency_activation_roles',
                                     'emergency_activation_events', 'emergency_activations',
                                     'emergency_settings', 'emergency_plans'))
    with op.batch_alter_table('emergency_wellbeing_checks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_emergency_wellbeing_checks_responder_id'))
        batch_op.drop_index(batch_op.f('ix_emergency_wellbeing_checks_beneficiary_id'))
        batch_op.drop_index(batch_op.f('ix_emergency_wellbeing_checks_activation_id'))

    op.drop_table('emergency_wellbeing_checks')

    with op.batch_alter_table('emergency_response_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_emergency_response_changes_responder_id'))

    op.drop_table('emergency_response_changes')

    with op.batch_alter_table('emergency_responders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_emergency_responders_volunteer_id'))
        batch_op.drop_index(batch_op.f('ix_emergency_responders_user_id'))
        batch_op.drop_index(batch_op.f('ix_emergency_responders_role_id'))
        batch_op.drop_index(batch_op.f('ix_emergency_responders_activation_id'))
        batch_op.drop_index('ix_emergency_responders_activation_answer')

    op.drop_table('emergency_responders')

    with op.batch_alter_table('emergency_activation_roles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_emergency_activation_roles_activation_id'))

    op.drop_table('emergency_activation_roles')

    with op.batch_alter_table('emergency_activation_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_emergency_activation_events_at'))
        batch_op.drop_index(batch_op.f('ix_emergency_activation_events_activation_id'))

    op.drop_table('emergency_activation_events')

    with op.batch_alter_table('emergency_activations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_emergency_activations_status'))
        batch_op.drop_index(batch_op.f('ix_emergency_activations_plan_id'))
        batch_op.drop_index(batch_op.f('ix_emergency_activations_org_path'))
        batch_op.drop_index(batch_op.f('ix_emergency_activations_org_id'))
        batch_op.drop_index(batch_op.f('ix_emergency_activations_is_drill'))

    op.drop_table('emergency_activations')

    op.drop_table('emergency_settings')

    with op.batch_alter_table('emergency_plans', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_emergency_plans_org_path'))
        batch_op.drop_index(batch_op.f('ix_emergency_plans_org_id'))

    op.drop_table('emergency_plans')
