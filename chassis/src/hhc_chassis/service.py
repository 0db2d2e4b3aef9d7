"""One way to run a service: HTTP API, consumers, outbox relay, health, graceful shutdown.

A service declares what it is (:class:`ServiceDefinition`); :func:`create_app` builds
the ASGI app whose lifespan migrates the schema, opens the pool, connects the broker
(retrying in the background, so the API answers while Kafka is away), starts the relay
and the service's own background tasks, and on SIGTERM/SIGINT lets in-flight requests
and messages finish before closing everything.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from faststream.middlewares import AckPolicy
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

from hhc_chassis.consumer import EventConsumer, Handler, RetryPolicy
from hhc_chassis.db import MigrationSet, connect, create_pool, migrate
from hhc_chassis.http import BodySizeLimit, describe_validation_error
from hhc_chassis.outbox import OutboxRelay
from hhc_chassis.settings import ServiceSettings
from hhc_chassis.telemetry import configure_logging, configure_tracing, shutdown_tracing

log = logging.getLogger(__name__)

BackgroundTask = Callable[["Runtime"], Coroutine[Any, Any, None]]


@dataclass(frozen=True)
class ServiceDefinition:
    settings: ServiceSettings
    migrations: MigrationSet
    title: str
    description: str = ""
    version: str = "1.0.0"
    topics: Sequence[str] = ()
    handlers: Mapping[str, Handler] = field(default_factory=dict)
    routers: Sequence[Any] = ()
    background: Sequence[BackgroundTask] = ()


class Runtime:
    """What handlers and routes reach through ``request.app.state.runtime``."""

    def __init__(self, settings: ServiceSettings, pool: asyncpg.Pool, broker: KafkaBroker) -> None:
        self.settings = settings
        self.pool = pool
        self.broker = broker
        self.broker_connected = asyncio.Event()
        self.relay = OutboxRelay(
            connect=lambda: connect(settings),
            publish=self.publish,
            schema=settings.schema_name,
            batch_size=settings.relay_batch_size,
            idle_poll_seconds=settings.relay_idle_poll_seconds,
            max_backoff_seconds=settings.retry_max_delay_seconds,
        )

    async def publish(
        self, topic: str, key: bytes | None, value: bytes, headers: dict[str, str]
    ) -> None:
        """Publish and wait for the broker's acknowledgement."""
        await self.broker.publish(value, topic=topic, key=key, headers=headers)

    async def is_database_ready(self) -> bool:
        try:
            async with asyncio.timeout(2):
                return bool(await self.pool.fetchval("SELECT 1"))
        except Exception:
            return False

    async def is_broker_ready(self) -> bool:
        if not self.broker_connected.is_set():
            return False
        try:
            return await self.broker.ping(timeout=2)
        except Exception:
            return False


def _build_broker(definition: ServiceDefinition, runtime_ref: list[Runtime]) -> KafkaBroker:
    settings = definition.settings
    broker = KafkaBroker(
        settings.kafka_bootstrap_servers.split(","),
        client_id=f"hhc-{settings.service_name}",
        # Tansu (the embedded broker) rejects idempotent producers; Kafka does not need it
        # here because the inbox makes redelivery harmless.
        enable_idempotence=False,
        acks="all",
        graceful_timeout=settings.shutdown_grace_seconds,
        middlewares=[
            KafkaTelemetryMiddleware(tracer_provider=configure_tracing(settings.service_name))
        ],
        logger=logging.getLogger(f"hhc.{settings.service_name}.broker"),
    )
    if definition.topics:
        retry = RetryPolicy(
            max_attempts=settings.retry_max_attempts,
            base_delay_seconds=settings.retry_base_delay_seconds,
            max_delay_seconds=settings.retry_max_delay_seconds,
        )

        @broker.subscriber(
            *definition.topics,
            group_id=settings.group_id,
            ack_policy=AckPolicy.MANUAL,
            auto_offset_reset="earliest",
        )
        async def on_message(message: KafkaMessage) -> None:
            runtime = runtime_ref[0]
            consumer = EventConsumer(
                name=settings.group_id,
                pool=runtime.pool,
                handlers=definition.handlers,
                publish_raw=runtime.publish,
                retry=retry,
            )
            try:
                await consumer.consume(message.raw_message)
            except Exception as error:
                # Not expected (consume handles, retries or dead-letters everything); if it
                # happens, rewind to this message rather than let a later one commit past it.
                log.error(
                    "consumer failed unexpectedly, redelivering",
                    extra={"consumer": settings.group_id, "error_class": type(error).__name__},
                )
                await message.nack()
                await asyncio.sleep(retry.max_delay_seconds)
                return
            await message.ack()

    return broker


async def _connect_broker(runtime: Runtime) -> None:
    failures = 0
    while True:
        try:
            await runtime.broker.start()
        except Exception as error:
            failures += 1
            log.warning(
                "broker not reachable, retrying",
                extra={"error_class": type(error).__name__, "attempt": failures},
            )
            with contextlib.suppress(Exception):
                await runtime.broker.stop()
            await asyncio.sleep(min(10.0, 0.5 * 2**failures))
            continue
        runtime.broker_connected.set()
        log.info("broker connected")
        return


def create_app(definition: ServiceDefinition) -> FastAPI:
    settings = definition.settings
    runtime_ref: list[Runtime] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_tracing(settings.service_name)
        await migrate(settings, [definition.migrations])
        pool = await create_pool(settings)
        broker = _build_broker(definition, runtime_ref)
        runtime = Runtime(settings, pool, broker)
        runtime_ref[:] = [runtime]
        app.state.runtime = runtime
        tasks: list[asyncio.Task[None]] = []

        async def start_publishing() -> None:
            await _connect_broker(runtime)
            await runtime.relay.run()

        tasks.append(asyncio.create_task(start_publishing(), name="relay"))
        tasks.extend(
            asyncio.create_task(task(runtime), name=getattr(task, "__name__", "background"))
            for task in definition.background
        )
        log.info("service started", extra={"port": settings.http_port})
        try:
            yield
        finally:
            log.info("service stopping")
            # In-flight HTTP requests are finished by uvicorn before we get here; now the
            # consumers finish the message in hand, the relay its batch, then we close.
            runtime.relay.stop()
            publishing, others = tasks[0], tasks[1:]
            if runtime.broker_connected.is_set():
                # The relay finishes its batch while the producer is still open...
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(settings.shutdown_grace_seconds):
                        await asyncio.gather(publishing, return_exceptions=True)
            # ... and if it is still connecting (broker away) it has nothing in hand.
            for task in (publishing, *others):
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            # Consumers finish the message in hand (graceful_timeout), then disconnect.
            with contextlib.suppress(Exception):
                await broker.stop()
            await pool.close()
            shutdown_tracing()
            log.info("service stopped")

    app = FastAPI(
        title=definition.title,
        description=definition.description,
        version=definition.version,
        lifespan=lifespan,
    )

    @app.get("/healthz", tags=["health"], summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], summary="Readiness: database and broker reachable")
    async def readyz(request: Request) -> JSONResponse:
        runtime: Runtime | None = getattr(request.app.state, "runtime", None)
        database = bool(runtime and await runtime.is_database_ready())
        broker = bool(runtime and await runtime.is_broker_ready())
        ready = database and broker
        return JSONResponse(
            status_code=200 if ready else 503,
            content={
                "status": "ready" if ready else "not ready",
                "checks": {"database": database, "broker": broker},
            },
        )

    @app.exception_handler(RequestValidationError)
    async def plain_validation_errors(
        request: Request, error: RequestValidationError
    ) -> JSONResponse:
        return JSONResponse(status_code=422, content=describe_validation_error(error))

    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    for router in definition.routers:
        app.include_router(router)
    FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz")
    return app


def run(definition: ServiceDefinition) -> None:
    """Entry point: serve until SIGTERM/SIGINT, then shut down gracefully."""
    settings = definition.settings
    configure_logging(settings.log_level)
    uvicorn.run(
        create_app(definition),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
    )


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime
