"""The chassis's HTTP conventions in process: no-store on personal data, 413 for a body
sent in chunks, and server spans exported without the caller's address, user agent or
query string. (tests/test_http_conventions.py checks them on the running services.)"""

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from hhc_chassis.http import BodySizeLimit, NoStore
from hhc_chassis.telemetry import RedactingExporter, instrument_http, redacted

MAX_BYTES = 1024
JSON = {"Content-Type": "application/json"}


def conventions_app() -> FastAPI:
    app = FastAPI()

    @app.get("/v1/cases/{case_id}")
    async def case(case_id: str) -> dict[str, str]:
        return {"case_id": case_id}

    @app.post("/v1/reports")
    async def report(numbers: list[int]) -> dict[str, int]:
        # A typed body: FastAPI reads it, and turns an error while reading into a 400.
        return {"received": len(numbers)}

    @app.get("/page")
    async def page() -> PlainTextResponse:
        return PlainTextResponse("public", headers={"Cache-Control": "max-age=600"})

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(BodySizeLimit, max_bytes=MAX_BYTES)
    app.add_middleware(NoStore)
    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=conventions_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        yield client


@pytest.mark.parametrize(
    ("path", "headers", "cache_control"),
    [
        ("/v1/cases/1", {}, "no-store"),
        ("/v1/cases/1", {"Authorization": "Bearer x"}, "no-store"),
        ("/v1/nowhere", {}, "no-store"),  # a 404 from the API too
        ("/page", {"Authorization": "Bearer x"}, "no-store"),  # replaces the app's own
        ("/healthz", {"Authorization": "Bearer x"}, "no-store"),
        ("/page", {}, "max-age=600"),
        ("/healthz", {}, None),
    ],
)
async def test_no_store_on_api_answers_and_answers_to_credentials(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], cache_control: str | None
) -> None:
    response = await client.get(path, headers=headers)
    assert response.headers.get_list("cache-control") == ([cache_control] if cache_control else [])


async def test_a_refused_body_is_not_stored_either(client: httpx.AsyncClient) -> None:
    body = b"[" + b"1," * MAX_BYTES + b"1]"
    response = await client.post("/v1/reports", content=body, headers=JSON)
    assert response.status_code == 413
    assert response.headers["cache-control"] == "no-store"


async def test_a_body_in_chunks_over_the_limit_gets_413_not_400(
    client: httpx.AsyncClient,
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"["
        for _ in range(MAX_BYTES):
            yield b"1,"
        yield b"1]"

    response = await client.post("/v1/reports", content=chunks(), headers=JSON)
    assert response.status_code == 413
    assert response.json() == {"detail": f"request body larger than {MAX_BYTES} bytes"}


async def test_a_body_in_chunks_under_the_limit_is_read(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"[1,"
        yield b"2]"

    response = await client.post("/v1/reports", content=chunks(), headers=JSON)
    assert response.status_code == 200
    assert response.json() == {"received": 2}


async def test_server_spans_keep_route_method_and_status_but_not_the_caller() -> None:
    exported = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(RedactingExporter(exported)))
    app = FastAPI()

    @app.get("/v1/cases/{case_id}")
    async def case(case_id: str) -> JSONResponse:
        return JSONResponse({"case_id": case_id})

    instrument_http(app, tracer_provider=provider)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 51515))
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        response = await client.get(
            "/v1/cases/c-1?name=Jane+Doe&postcode=M14",
            headers={"User-Agent": "Mozilla/5.0 (Jane's phone)"},
        )
    assert response.status_code == 200

    spans = exported.get_finished_spans()
    (server,) = [span for span in spans if span.name == "GET /v1/cases/{case_id}"]
    attributes = dict(server.attributes or {})
    assert attributes["http.route"] == "/v1/cases/{case_id}"
    assert (attributes.get("http.method") or attributes.get("http.request.method")) == "GET"
    assert (
        attributes.get("http.status_code") or attributes.get("http.response.status_code")
    ) == 200
    for span in spans:
        for key, value in (span.attributes or {}).items():
            shown = f"{key}={value!s}"
            for secret in ("203.0.113.9", "51515", "Mozilla", "Jane", "postcode", "M14"):
                assert secret not in shown, f"{span.name}: {shown}"


def test_redacted_strips_every_convention_of_caller_and_query() -> None:
    span = ReadableSpan(
        name="GET /v1/audit",
        attributes={
            "http.route": "/v1/audit",
            "http.method": "GET",
            "http.status_code": 200,
            "http.target": "/v1/audit?case_id=1",
            "url.path": "/v1/audit",
            "url.query": "case_id=1",
            "http.url": "http://service/v1/audit?case_id=1",
            "url.full": "http://service/v1/audit?case_id=1",
            "client.address": "203.0.113.9",
            "client.port": 51515,
            "net.peer.ip": "203.0.113.9",
            "net.peer.port": 51515,
            "network.peer.address": "203.0.113.9",
            "http.client_ip": "203.0.113.9",
            "http.user_agent": "Mozilla",
            "user_agent.original": "Mozilla",
            "user_agent.synthetic.type": "bot",
            "hhc.case.id": "1",
        },
    )
    assert dict(redacted(span).attributes or {}) == {
        "http.route": "/v1/audit",
        "http.method": "GET",
        "http.status_code": 200,
        "http.target": "/v1/audit",
        "url.path": "/v1/audit",
        "hhc.case.id": "1",
    }


def test_a_span_with_nothing_to_redact_is_passed_as_it_is() -> None:
    span = ReadableSpan(name="intake.report-received publish", attributes={"hhc.case.id": "1"})
    assert redacted(span) is span
