"""HTTP conventions every service shares: plain-words validation errors, body size limit,
no caching of personal data."""

import json
from typing import Any

from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def _field_path(location: tuple[Any, ...]) -> str:
    parts = [str(part) for part in location if part not in ("body", "query", "path", "header")]
    return ".".join(parts) or str(location[0])


def describe_validation_error(error: RequestValidationError) -> dict[str, Any]:
    """422 body: FastAPI's ``detail`` (without the rejected input, which may be personal
    data) plus ``errors``, one entry per wrong field in plain words."""
    detail = [
        {key: value for key, value in item.items() if key in ("loc", "msg", "type")}
        for item in error.errors()
    ]
    errors = [{"field": _field_path(tuple(item["loc"])), "message": item["msg"]} for item in detail]
    return {"detail": detail, "errors": errors}


def invalid(field: str, message: str, *, where: str = "body") -> RequestValidationError:
    """A 422 naming ``field`` (in the body, or ``where``: query, path, header), worded as
    the request's own validation errors are: for rules a model cannot state alone."""
    return RequestValidationError(
        [{"type": "value_error", "loc": (where, field), "msg": message, "input": None}]
    )


class BodySizeLimit:
    """Refuse request bodies over ``max_bytes`` with 413, whether or not they say their
    length, before anything reads them whole.

    A body that says its length is refused before the app runs. One sent in chunks is
    counted as the app reads it: the read that passes the limit raises an HTTP 413 error,
    which FastAPI and Starlette answer as one (a plain exception there would become
    FastAPI's 400 "error parsing the body"); should it reach this middleware instead,
    before a response has started, it answers 413 itself.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge(self.max_bytes)
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except _BodyTooLarge:
            if started:
                raise
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps({"detail": _too_large(self.max_bytes)}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _too_large(max_bytes: int) -> str:
    return f"request body larger than {max_bytes} bytes"


class _BodyTooLarge(HTTPException):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(status_code=413, detail=_too_large(max_bytes))


class NoStore:
    """``Cache-Control: no-store`` on every response to a request that carried an
    ``Authorization`` header or went to the API (``/v1/...``): such answers hold personal
    data, which no browser, proxy or shared cache may keep. Replaces any other
    ``Cache-Control`` the app set."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _may_hold_personal_data(scope):
            await self.app(scope, receive, send)
            return

        async def send_no_store(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() != b"cache-control"
                ]
                message = {**message, "headers": [*headers, (b"cache-control", b"no-store")]}
            await send(message)

        await self.app(scope, receive, send_no_store)


def _may_hold_personal_data(scope: Scope) -> bool:
    path: str = scope.get("path", "")
    return path.startswith("/v1/") or any(
        name.lower() == b"authorization" for name, _ in scope.get("headers", [])
    )
