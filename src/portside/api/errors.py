"""One JSON shape for every error: ``{"error": {"code": ..., "message": ...}}``."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from portside.accounts.errors import AccountConflict, AccountNotFound, InvalidAccount
from portside.accounts.ldap import DirectoryUnavailable
from portside.deletion import DeletionRefused
from portside.errors import InvalidName, PortsideError, RegistryError, StorageError
from portside.security.analysis.limits import LayerRejected
from portside.security.exceptions import ExceptionNotFound, ExceptionRefused, InvalidException
from portside.web.access import Forbidden, Unauthorized
from portside.web.csrf import CsrfRefused

log = logging.getLogger(__name__)


class NotFound(PortsideError):
    """An API resource that does not exist."""


class InvalidRequest(PortsideError):
    """A well-formed request whose value cannot be used (422)."""


class NotConfigured(PortsideError):
    """A call this server is not set up for (503), e.g. a scan without registry.url."""


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(error_body(code, message), status_code=status)


# Errors answered with their own message, by the status and code each maps to. Order does not
# matter: Starlette picks the handler of the nearest class in the exception's MRO.
_PLAIN: dict[type[Exception], tuple[int, str]] = {
    DeletionRefused: (409, "refused"),
    RegistryError: (502, "registry_error"),
    InvalidRequest: (422, "invalid_request"),
    InvalidName: (422, "invalid_name"),
    NotConfigured: (503, "not_configured"),
    LayerRejected: (422, "layer_rejected"),
    NotFound: (404, "not_found"),
    CsrfRefused: (403, "csrf"),
    DirectoryUnavailable: (503, "directory_unavailable"),
    Forbidden: (403, "forbidden"),
    AccountNotFound: (404, "not_found"),
    AccountConflict: (409, "conflict"),
    InvalidAccount: (422, "invalid_account"),
    ExceptionNotFound: (404, "not_found"),
    ExceptionRefused: (403, "forbidden"),
    InvalidException: (422, "invalid_exception"),
}


def _plain(status: int, code: str) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    async def handler(_: Request, exc: Exception) -> JSONResponse:
        return error_response(status, code, str(exc))

    return handler


def install(app: FastAPI) -> None:
    @app.exception_handler(Unauthorized)
    async def unauthorized(_: Request, exc: Unauthorized) -> JSONResponse:
        response = error_response(401, "unauthorized", str(exc))
        response.headers["WWW-Authenticate"] = 'Bearer realm="portside"'
        return response

    for kind, (status, code) in _PLAIN.items():
        app.add_exception_handler(kind, _plain(status, code))

    @app.exception_handler(StorageError)
    async def storage_error(_: Request, exc: StorageError) -> JSONResponse:
        log.error("database error: %s", exc)
        return error_response(503, "storage_unavailable", "the database is unavailable")

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        parts = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        return error_response(422, "invalid_request", "; ".join(parts))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, "internal", "an unexpected error; the server log has it")

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail))
