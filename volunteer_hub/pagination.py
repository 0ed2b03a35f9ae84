"""Paginate a SQLAlchemy select the same way everywhere (body envelope + X-Pagination)."""
from __future__ import annotations

import json
import math

from flask import request

from volunteer_hub.db import db


def paginate(query, page: int, page_size: int) -> dict:
    total = db.session.execute(
        db.select(db.func.count()).select_from(query.order_by(None).subquery())
    ).scalar_one()
    items = db.session.execute(
        query.limit(page_size).offset((page - 1) * page_size)
    ).scalars().unique().all()
    pagination = {"total": total, "total_pages": max(1, math.ceil(total / page_size)),
                  "page": page, "page_size": page_size}
    request.environ["vh.pagination"] = json.dumps(pagination)
    return {"items": items, "pagination": pagination}


def add_pagination_header(response):
    header = request.environ.get("vh.pagination")
    if header:
        response.headers["X-Pagination"] = header
    return response
