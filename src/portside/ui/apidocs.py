"""``GET /api/docs``: the API's reference as a plain page, rendered from the OpenAPI document.

FastAPI's Swagger page loads its scripts and styles from a CDN: blank in an air-gapped network,
and third-party code on a page where an admin may paste a token. This page is rendered on the
server from ``app.openapi()`` with the pages' templates and Content-Security-Policy; it needs
no script at all. The machine-readable document stays at ``/api/openapi.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from portside.ui.render import Pages

router = APIRouter(include_in_schema=False)

METHODS = ("get", "post", "put", "patch", "delete")


@dataclass(frozen=True)
class Parameter:
    name: str
    where: str  # path, query, header
    required: bool
    type: str
    description: str


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    description: str
    parameters: tuple[Parameter, ...]
    body: str | None  # the request body's schema name
    responses: tuple[tuple[str, str], ...]  # (status, description)
    anchor: str


@dataclass(frozen=True)
class Section:
    name: str
    operations: tuple[Operation, ...]


def _type(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " | ".join(_type(s) for s in schema["anyOf"])
    if schema.get("type") == "array":
        return f"list of {_type(schema.get('items', {}))}"
    return str(schema.get("type", "any"))


def _body(operation: dict[str, Any]) -> str | None:
    content = operation.get("requestBody", {}).get("content", {})
    for media in content.values():
        return _type(media.get("schema", {}))
    return None


def sections(openapi: dict[str, Any]) -> list[Section]:
    """The document's operations grouped by their first tag (pure)."""
    grouped: dict[str, list[Operation]] = {}
    for path, item in sorted(openapi.get("paths", {}).items()):
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            parameters = tuple(
                Parameter(
                    name=str(p.get("name", "")),
                    where=str(p.get("in", "")),
                    required=bool(p.get("required", False)),
                    type=_type(p.get("schema", {})),
                    description=str(p.get("description", "")),
                )
                for p in operation.get("parameters", [])
            )
            responses = tuple(
                (str(code), str(r.get("description", "")))
                for code, r in sorted(operation.get("responses", {}).items())
            )
            tag = (operation.get("tags") or ["other"])[0]
            grouped.setdefault(str(tag), []).append(
                Operation(
                    method=method.upper(),
                    path=path,
                    summary=str(operation.get("summary", "")),
                    description=str(operation.get("description", "")),
                    parameters=parameters,
                    body=_body(operation),
                    responses=responses,
                    anchor=str(operation.get("operationId", f"{method}-{path}")),
                )
            )
    return [Section(name, tuple(ops)) for name, ops in sorted(grouped.items())]


@router.get("/api/docs")
async def api_docs(request: Request) -> Response:
    pages: Pages = request.app.state.portside_pages
    openapi = request.app.openapi()
    return pages.render(
        "api_docs.html",
        {
            "title": openapi.get("info", {}).get("title", "Portside"),
            "sections": sections(openapi),
            "schemas": sorted(openapi.get("components", {}).get("schemas", {})),
        },
    )
