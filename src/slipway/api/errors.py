"""Every error leaves the API as Heroku's `{"id", "message"}` with the matching status."""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from slipway.api.deps import route_rule
from slipway.api.ranges import RangeError
from slipway.platform import errors as perr

log = logging.getLogger("slipway.api")

_STATUS = {
    perr.Unauthorized: 401,
    perr.Forbidden: 403,
    perr.NotFound: 404,
    perr.Conflict: 409,
    perr.InvalidParams: 422,
    perr.Gone: 410,
    perr.RateLimited: 429,
    perr.Unavailable: 503,
}


def error_response(status: int, error_id: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"id": error_id, "message": message, **extra}, status_code=status)


def _status_for(exc: perr.PlatformError) -> int:
    for cls in type(exc).__mro__:
        if cls in _STATUS:
            return _STATUS[cls]
    return 400


def describe_validation_error(exc: RequestValidationError) -> tuple[int, str, str]:
    """Pydantic's error list -> one sentence a person can act on."""
    first = exc.errors()[0]
    kind = first.get("type", "")
    loc = [str(p) for p in first.get("loc", ()) if p != "body"]
    if kind == "json_invalid":
        return 400, "bad_request", "The request body is not valid JSON; send a JSON object."
    if not loc:
        if kind == "missing":
            return 400, "bad_request", "The request needs a JSON body; send a JSON object."
        return 422, "invalid_params", "The request body must be a JSON object."
    field = ".".join(loc)
    if kind == "missing":
        return 422, "invalid_params", f"The field {field} is required."
    message = str(first.get("msg", "is invalid")).rstrip(".")
    return 422, "invalid_params", f"Invalid value for {field}: {message[:1].lower()}{message[1:]}."


def _prompts(request: Request) -> bool:
    """Whether the route is a page a browser opens, which asks for credentials it lacks."""
    rule = route_rule(request)
    return rule is not None and rule.prompt


def install(app: FastAPI) -> None:
    @app.exception_handler(perr.PlatformError)
    async def _platform(request: Request, exc: perr.PlatformError) -> JSONResponse:
        extra = {"resource": exc.resource} if exc.resource else {}
        response = error_response(_status_for(exc), exc.id, exc.message, **extra)
        if isinstance(exc, perr.RateLimited) and exc.retry_after is not None:
            response.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
        if isinstance(exc, perr.Unauthorized) and _prompts(request):
            response.headers["WWW-Authenticate"] = 'Basic realm="Slipway", charset="UTF-8"'
        return response

    @app.exception_handler(RangeError)
    async def _range(_: Request, exc: RangeError) -> JSONResponse:
        return error_response(416, "requested_range_not_satisfiable", str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        status, error_id, message = describe_validation_error(exc)
        return error_response(status, error_id, message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return error_response(
                404, "not_found", f"The requested API endpoint {request.url.path} was not found."
            )
        if exc.status_code == 405:
            return error_response(
                405,
                "method_not_allowed",
                f"{request.method} is not allowed on {request.url.path}.",
            )
        return error_response(exc.status_code, "bad_request", str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # The details go to the server log, never to the client (they may hold secrets).
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(
            500, "internal_server_error", "Internal server error; see the server log for details."
        )
