"""Schemas shared by every feature's API: pagination, list arguments, timestamps."""
from datetime import UTC

from marshmallow import Schema, fields, validate


class Instant(fields.DateTime):
    """A moment (created, sent, verified...), written ISO 8601 in UTC with its `+00:00`
    offset. Columns store UTC, aware (UTCDateTime) or naive (utcnow into a plain
    DateTime column); planned local wall-clock times use needs.schemas.LocalDateTime."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return aware.isoformat()


class PageArgsSchema(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    page_size = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class PaginationSchema(Schema):
    total = fields.Integer()
    total_pages = fields.Integer()
    page = fields.Integer()
    page_size = fields.Integer()


PAGE_ENVELOPES: set[str] = set()  # their OpenAPI names: these responses carry X-Pagination


def page_of(item_schema) -> type[Schema]:
    """A list envelope: {"items": [...], "pagination": {...}}."""
    name = f"{item_schema.__name__.removesuffix('Schema')}PageSchema"
    PAGE_ENVELOPES.add(name.removesuffix("Schema"))
    return Schema.from_dict(
        {"items": fields.List(fields.Nested(item_schema)),
         "pagination": fields.Nested(PaginationSchema)},
        name=name,
    )
