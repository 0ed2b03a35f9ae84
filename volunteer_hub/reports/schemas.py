"""Report API schemas: month range arguments, the monthly and the liability report."""
from marshmallow import Schema, ValidationError, fields, post_load, validate

from volunteer_hub.errors import ValidationFailed
from volunteer_hub.reports.export import FORMATS, type_label
from volunteer_hub.reports.services import month_range

MONTH_PATTERN = r"^\d{4}-\d{2}$"


class MonthRangeArgsSchema(Schema):
    first = fields.String(data_key="from", metadata={
        "description": "first month, YYYY-MM (default: 11 months before `to`)",
        "example": "2026-01"})
    to = fields.String(metadata={"description": "last month, YYYY-MM (default: this month)",
                                 "example": "2026-11"})

    @post_load
    def months(self, data, **kwargs):
        """Parse and check the range once, with the message on the field at fault."""
        try:
            data["months"] = month_range(data.get("first"), data.get("to"))
        except ValidationFailed as error:
            raise ValidationError({key: [str(m) for m in messages]
                                   for key, messages in (error.errors or {}).items()}) from None
        return data


class MonthlyExportArgsSchema(MonthRangeArgsSchema):
    format = fields.String(load_default="csv", validate=validate.OneOf(FORMATS))


class ExportArgsSchema(Schema):
    format = fields.String(load_default="csv", validate=validate.OneOf(FORMATS))


class ServiceTypeSchema(Schema):
    code = fields.Function(lambda code: code)
    label = fields.Function(lambda code: str(type_label(code)))


class MonthStatsSchema(Schema):
    month = fields.Function(lambda row: str(row.month), metadata={"example": "2026-03"})
    minutes_by_type = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={
        "description": "verified service minutes by the activity's service type"})
    total_minutes = fields.Integer()
    active_volunteers = fields.Integer(metadata={
        "description": "distinct volunteers with a verified record in the subtree's activities"})
    new_registrations = fields.Integer(metadata={
        "description": "volunteers living in the subtree who registered in the month"})
    registered_volunteers = fields.Integer(metadata={
        "description": "volunteers living in the subtree registered by the month's end"})
    active_residents = fields.Integer(metadata={
        "description": "volunteers living in the subtree with a verified record anywhere"})
    beneficiaries_served = fields.Integer(metadata={
        "description": "distinct beneficiaries of tasks that took place with an accepted "
                       "volunteer (service records carry no beneficiary)"})
    participation_rate = fields.Float(allow_none=True, metadata={
        "description": "active_residents / resident_population; null when no population "
                       "is recorded"})


class ReportTotalsSchema(Schema):
    minutes_by_type = fields.Dict(keys=fields.String(), values=fields.Integer(),
                                  attribute="totals_by_type")
    total_minutes = fields.Integer()
    new_registrations = fields.Integer()
    distinct_active_volunteers = fields.Integer()


class MonthlyReportSchema(Schema):
    org_id = fields.Function(lambda report: report.org.id)
    org_code = fields.Function(lambda report: report.org.code)
    org_name = fields.Function(lambda report: report.org.name_zh)
    first = fields.Function(lambda report: str(report.first), data_key="from")
    to = fields.Function(lambda report: str(report.last))
    resident_population = fields.Integer(allow_none=True)
    service_types = fields.List(fields.Nested(ServiceTypeSchema))
    months = fields.List(fields.Nested(MonthStatsSchema))
    totals = fields.Function(lambda report: ReportTotalsSchema().dump(report))


class BandSchema(Schema):
    band = fields.String(metadata={"example": "60-69"})
    holders = fields.Integer()
    redeemable_minutes = fields.Integer(metadata={
        "description": "individual minutes: the holder may redeem or gift them"})
    group_minutes = fields.Integer(metadata={
        "description": "minutes earned as a group: donation only"})
    total_minutes = fields.Integer()


class LiabilityReportSchema(Schema):
    org_id = fields.Function(lambda report: report.org.id)
    org_code = fields.Function(lambda report: report.org.code)
    as_of = fields.Date()
    redemption_age = fields.Integer()
    bands = fields.List(fields.Nested(BandSchema))
    holders = fields.Integer()
    redeemable_minutes = fields.Integer()
    group_minutes = fields.Integer()
    holders_of_redemption_age = fields.Integer()
    minutes_of_redemption_age = fields.Integer(metadata={
        "description": "redeemable minutes held by holders of redemption age today"})
    pool_minutes = fields.Integer(metadata={
        "description": "community donation pools in the subtree"})
    total_minutes = fields.Integer(metadata={
        "description": "everything the time bank owes in the subtree: holders and pools"})


class PopulationSchema(Schema):
    resident_population = fields.Integer(required=True, allow_none=True,
                                         validate=validate.Range(min=0, max=100_000_000))


class OrgPopulationSchema(Schema):
    org_id = fields.Integer(attribute="id")
    resident_population = fields.Integer(allow_none=True)
