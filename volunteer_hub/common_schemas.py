"""Schemas shared by every feature's API: pagination and list arguments."""
from marshmallow import Schema, fields, validate


class PageArgsSchema(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    page_size = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class PaginationSchema(Schema):
    total = fields.Integer()
    total_pages = fields.Integer()
    page = fields.Integer()
    page_size = fields.Integer()


def page_of(item_schema) -> type[Schema]:
    """A list envelope: {"items": [...], "pagination": {...}}."""
    name = f"{item_schema.__name__.removesuffix('Schema')}PageSchema"
    return Schema.from_dict(
        {"items": fields.List(fields.Nested(item_schema)),
         "pagination": fields.Nested(PaginationSchema)},
        name=name,
    )
