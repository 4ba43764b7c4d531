"""Dependencies shared by the routers, as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import Depends, Path, Query

from portside.api.schemas import MAX_ROW_ID, Page
from portside.reads.paging import MAX_CURSOR, Slice, Window
from portside.web.deps import ReadSession, ServicesDep

T = TypeVar("T")
__all__ = ["PagingDep", "ReadSession", "RowId", "ServicesDep", "page_of"]


# Dependencies are async functions: FastAPI runs plain ``def`` ones in a thread pool.
async def get_paging(
    page: Annotated[
        int, Query(ge=1, le=1_000_000, description="Page number, from 1 (prefer after=).")
    ] = 1,
    per_page: Annotated[int, Query(ge=1, le=500, description="Items per page.")] = 50,
    after: Annotated[
        str | None,
        Query(max_length=MAX_CURSOR, description="A page's next or previous cursor."),
    ] = None,
) -> Window:
    return Window(per_page=per_page, cursor=after, page=page)


PagingDep = Annotated[Window, Depends(get_paging)]


def page_of(items: list[T], found: Slice[Any], window: Window) -> Page[T]:
    """A read model's slice as the API's page (``total`` 0 when the list is not counted)."""
    return Page(
        items=items,
        total=found.total or 0,
        total_estimated=found.estimated,
        page=found.page,
        per_page=window.per_page,
        next=found.next,
        previous=found.previous,
    )


# Row ids: 64-bit, so an id out of range is a 422, not a database overflow.
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]
