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


# --- bounded input (issue 11, item 5): one definition each, used by every schema ----------

MAX_ID = 2**31 - 1  # PostgreSQL's integer: every id column
MAX_LIST_ITEMS = 1000  # a list in a request body, unless its field sets a smaller cap


class Id(fields.Integer):
    """A row id coming in (body or query): a whole number from 1 to 2^31-1. A JSON 1.5 or
    true is refused, not read as 1; a query's "7" is fine."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators.insert(0, validate.Range(min=1, max=MAX_ID))

    def _validated(self, value):
        if not isinstance(value, (int, str)) or isinstance(value, bool):
            raise self.make_error("invalid")
        return super()._validated(value)


class Latitude(fields.Float):
    """Degrees north, -90 to 90."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators.insert(0, validate.Range(min=-90, max=90))


class Longitude(fields.Float):
    """Degrees east, -180 to 180."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators.insert(0, validate.Range(min=-180, max=180))


def bounded_list(item: fields.Field, *, max_items: int = MAX_LIST_ITEMS, **kwargs) -> fields.List:
    """A list field refusing more than `max_items` items (422 with the field's message)."""
    return fields.List(item, validate=validate.Length(max=max_items), **kwargs)
