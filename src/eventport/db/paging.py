"""One page of a query, the same way for every list the API and pages show."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from eventport.errors import InvalidInput

MAX_PER_PAGE = 200


def paginate(db: Session, query: Any, page: int, per_page: int) -> tuple[list[Any], int]:
    """The rows of page ``page`` (from 1) and the total number of rows."""
    if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
        raise InvalidInput(f"page must be ≥ 1 and per_page between 1 and {MAX_PER_PAGE}")
    total = db.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    rows = db.scalars(query.offset((page - 1) * per_page).limit(per_page)).all()
    return list(rows), total
