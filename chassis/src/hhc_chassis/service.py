"""One way to run a service: HTTP API, consumers, outbox relay, health, graceful shutdown.

A service declares what it is (:class:`ServiceDefinition`); :func:`create_listeners`
builds its ASGI apps: the staff app (the API, /docs, the probes; ``HTTP_PORT``) and, for
a service with public pages, the public app (those pages and nothing else;
``PUBLIC_HTTP_PORT``). One lifespan, run once around both, migrates the schema, opens
the pool, connects to the broker (retrying in the background, so the API answers while
Kafka is away), and runs the relay, the consumer, the retention purge and the service's
own background tasks, each supervised (restarted when it dies; liveness fails when one
keeps dying). :class:`Listening` serves both in one event loop; on SIGTERM/SIGINT
in-flight requests on either and messages finish before everything closes.
"""

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from hhc_chassis.audit import audit_chainer, audit_router, audit_waiting, record_refusal
from hhc_chassis.auth import TokenVerifier, document_access_answers
from hhc_chassis.case_access import with_case_access
from hhc_chassis.consumer import (
    EventConsumer,
    Handler,
    PartitionedConsumer,
    RetryPolicy,
    TrustCheck,
)
from hhc_chassis.db import MigrationSet, check_migrated, connect, create_pool, migrate
from hhc_chassis.http import BodySizeLimit, NoStore, describe_validation_error
from hhc_chassis.kafka import Publisher
from hhc_chassis.outbox import OutboxRelay, outbox_state
from hhc_chassis.retention import purge_expired
from hhc_chassis.sealing import CaseKeys, IntakeCaseKeys, ServiceTokens
from hhc_chassis.settings import ServiceSettings
from hhc_chassis.supervise import TaskHealth, supervise
from hhc_chassis.telemetry import (
    METRICS_CONTENT_TYPE,
    configure_logging,
    configure_metrics,
    configure_tracing,
    instrument_http,
    metrics_page,
    shutdown_tracing,
)
from hhc_contracts import Topic
from hhc_contracts.trust import trust_problem

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
    """Served on the staff listener (``HTTP_PORT``), beside /docs and the probes."""
    public_routers: Sequence[Any] = ()
    """Served on the public listener (``PUBLIC_HTTP_PORT``) alone: pages and forms for the
    public, with no staff route, no /docs, /openapi.json or /redoc, and no probes. A
    service without any has no public listener."""
    background: Sequence[BackgroundTask] = ()
    trust: TrustCheck = trust_problem
    """Which events may be acted on; the catalogue's rule (a test on a topic of its own
    names which catalogue topic it stands for)."""
    case_keys: Callable[[asyncpg.Pool], CaseKeys] | None = None
    """Where the service keeps case keys itself (intake); the others fetch them from
    intake (``CASE_KEYS_URL``)."""
    opens_personal_data: bool = False
    """Its handlers need the personal part of what they consume (referrals, to share with
    partners what consent allows): sealed parts are opened before they run."""
    ready_without_broker: bool = False
    """Readiness ignores the broker (it still reports it): for a service that keeps
    accepting work into its outbox while Kafka is away, such as intake."""
    writes_case_access: bool = False
    """The service writes ``case_access`` itself, in the transactions that open and move
    cases (intake): it is not kept again from intake's case events."""
    start_checks: Sequence[Callable[[asyncpg.Pool], Awaitable[None]]] = ()
    """Run once the database is migrated, before anything else starts: one that raises
    stops the service from starting (a pod that never becomes ready, so a rollout with a
    wrong setting halts while the old pods serve)."""


def consumed_handlers(definition: ServiceDefinition) -> Mapping[str, Handler]:
    """What the service's consumer runs for each event type: its own handlers, and for a
    reader of intake's case events that does not write them itself, ``case_access``
    kept with them (:mod:`hhc_chassis.case_access`)."""
    if Topic.INTAKE_CASES in definition.topics and not definition.writes_case_access:
        return with_case_access(definition.handlers)
    return definition.handlers


class Runtime:
    """What handlers and routes reach through ``request.app.state.runtime``."""

    def __init__(self, definition: ServiceDefinition, pool: asyncpg.Pool) -> None:
        settings = definition.settings
        self.settings = settings
        self.pool = pool
        self.publisher = Publisher(settings)
        self.health = TaskHealth(restart_limit=settings.task_restart_limit)
        self.stopping = asyncio.Event()
        self.relay = OutboxRelay(
            connect=lambda: connect(settings),
            sender=self.publisher,
            schema=settings.schema_name,
            batch_size=settings.relay_batch_size,
            idle_poll_seconds=settings.relay_idle_poll_seconds,
            max_backoff_seconds=settings.retry_max_delay_seconds,
            stall_seconds=settings.relay_stall_seconds,
            unknown_topic_grace_seconds=settings.relay_unknown_topic_grace_seconds,
            send_timeout_seconds=settings.relay_send_timeout_seconds,
            observe_every_seconds=settings.metrics_refresh_seconds,
        )
        self.http = httpx.AsyncClient(timeout=5.0)
        self.case_keys = _case_keys(definition, pool, self.http)
        self.relay.case_keys = self.case_keys
        self.consumer: PartitionedConsumer | None = None
        handlers = consumed_handlers(definition)
        if definition.topics:
            self.consumer = PartitionedConsumer(
                settings=settings,
                topics=definition.topics,
                events=EventConsumer(
                    name=settings.group_id,
                    pool=pool,
                    handlers=handlers,
                    publisher=self.publisher,
                    retry=RetryPolicy.from_settings(settings),
                    trust=definition.trust,
                    case_keys=self.case_keys,
                    opens_personal_data=definition.opens_personal_data,
                ),
            )

    async def is_database_ready(self) -> bool:
        try:
            async with asyncio.timeout(2):
                return bool(await self.pool.fetchval("SELECT 1"))
        except Exception:
            return False

    async def is_broker_ready(self) -> bool:
        # The consumer's group membership is not asked for: joining takes seconds, and the
        # API serves (and the outbox fills) whether or not it has partitions yet.
        return await self.publisher.is_reachable()

    async def publish_outbox(self) -> None:
        if await self.publisher.connect(stopping=self.stopping):
            await self.relay.run()

    async def purge_expired_rows(self) -> None:
        settings = self.settings
        while not self.stopping.is_set():
            await purge_expired(
                self.pool,
                outbox_retention=settings.outbox_retention,
                inbox_retention=settings.inbox_retention,
                dead_letter_retention=settings.dead_letter_retention,
                batch_size=settings.retention_batch_size,
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self.stopping.wait(), timeout=settings.retention_interval_seconds
                )


def _case_keys(
    definition: ServiceDefinition, pool: asyncpg.Pool, http: httpx.AsyncClient
) -> CaseKeys | None:
    settings = definition.settings
    if definition.case_keys is not None:
        return definition.case_keys(pool)
    if not settings.case_keys_url:
        return None
    assert settings.oidc_client_secret is not None  # the settings refuse one without it
    tokens = ServiceTokens(
        http,
        settings.oidc_token_url,
        settings.oidc_client_id or settings.service_name,
        settings.oidc_client_secret.get_secret_value(),
    )
    return IntakeCaseKeys(
        http, settings.case_keys_url, tokens, ttl_seconds=settings.case_key_cache_seconds
    )


@dataclass(frozen=True)
class Listeners:
    """A service's ASGI apps and the one lifespan they share.

    ``staff``: the API, /docs and the probes. ``public``: the public pages alone, for a
    service that has them. ``lifespan()`` makes the runtime (pool, publisher, tasks)
    that both reach through ``request.app.state.runtime``; it is also the staff app's
    own, so the staff app served alone (``create_app``) still starts everything.
    """

    staff: FastAPI
    public: FastAPI | None
    lifespan: Callable[[], AbstractAsyncContextManager[None]]


def create_app(definition: ServiceDefinition) -> FastAPI:
    """The staff app alone, its lifespan included (tests that need no public pages)."""
    return create_listeners(definition).staff


def create_listeners(definition: ServiceDefinition) -> Listeners:
    settings = definition.settings
    public = _public_app(definition) if definition.public_routers else None

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_tracing(settings.service_name)
        configure_metrics(settings.service_name)
        if settings.migrate_on_start:
            await migrate(settings, [definition.migrations])
        else:
            await check_migrated(settings, [definition.migrations])
        pool = await create_pool(settings)
        try:
            for check in definition.start_checks:
                await check(pool)
        except BaseException:
            await pool.close()
            raise
        runtime = Runtime(definition, pool)
        app.state.runtime = runtime
        if public is not None:
            public.state.runtime = runtime

        def supervised(
            name: str, run: Callable[[], Coroutine[Any, Any, None]]
        ) -> asyncio.Task[None]:
            return asyncio.create_task(
                supervise(name, run, runtime.health, runtime.stopping), name=name
            )

        publishing = supervised("relay", runtime.publish_outbox)
        consuming = supervised("consumer", runtime.consumer.run) if runtime.consumer else None
        others = [supervised("retention", runtime.purge_expired_rows)]

        def bound(task: BackgroundTask) -> Callable[[], Coroutine[Any, Any, None]]:
            return lambda: task(runtime)

        others.extend(
            supervised(getattr(task, "__name__", "background"), bound(task))
            for task in (audit_chainer, audit_waiting.refresh, *definition.background)
        )
        log.info(
            "service started",
            extra={"port": settings.http_port, "public_port": settings.public_http_port},
        )
        try:
            yield
        finally:
            log.info("service stopping")
            # In-flight HTTP requests are finished by uvicorn before we get here; now the
            # consumer finishes the records in hand and commits, the relay its batch,
            # while the producer is still open; then everything closes.
            runtime.stopping.set()
            runtime.relay.stop()
            if runtime.consumer is not None:
                runtime.consumer.stop()
            finishing = [task for task in (publishing, consuming) if task is not None]
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(settings.shutdown_grace_seconds):
                    await asyncio.gather(*finishing, return_exceptions=True)
            for task in (*finishing, *others):
                task.cancel()
            await asyncio.gather(*finishing, *others, return_exceptions=True)
            with contextlib.suppress(Exception):
                await runtime.publisher.close()
            await runtime.http.aclose()
            try:
                await asyncio.wait_for(pool.close(), timeout=5)
            except TimeoutError:
                pool.terminate()
            shutdown_tracing()
            log.info("service stopped")

    app = FastAPI(
        title=definition.title,
        description=definition.description,
        version=definition.version,
        lifespan=lifespan,
    )
    # Built here, not in the lifespan: a service without an identity provider configured
    # must not start at all.
    app.state.token_verifier = TokenVerifier(settings)
    app.state.record_refusal = record_refusal

    @app.get("/healthz", tags=["health"], summary="Liveness: the process and its tasks")
    async def healthz(request: Request) -> JSONResponse:
        runtime: Runtime | None = getattr(request.app.state, "runtime", None)
        failing = runtime.health.failing if runtime else {}
        return JSONResponse(
            status_code=503 if failing else 200,
            content={"status": "failing", "failing_tasks": failing}
            if failing
            else {"status": "ok"},
        )

    @app.get("/readyz", tags=["health"], summary="Readiness: database and broker reachable")
    async def readyz(request: Request) -> JSONResponse:
        runtime: Runtime | None = getattr(request.app.state, "runtime", None)
        database = bool(runtime and await runtime.is_database_ready())
        broker = bool(runtime and await runtime.is_broker_ready())
        ready = database and (broker or definition.ready_without_broker)
        content: dict[str, Any] = {
            "status": "ready" if ready else "not ready",
            "checks": {"database": database, "broker": broker},
        }
        if runtime and database:
            with contextlib.suppress(Exception):
                state = await outbox_state(runtime.pool)
                content["outbox"] = {
                    "unpublished": state.unpublished,
                    "parked": state.parked,
                    "oldest_unpublished_seconds": state.oldest_unpublished_seconds,
                }
        return JSONResponse(status_code=200 if ready else 503, content=content)

    @app.get(
        "/metrics",
        tags=["health"],
        summary="Metrics for Prometheus: counts, durations and gauges, no personal data",
        response_class=Response,
    )
    async def prometheus_metrics() -> Response:
        # Unauthenticated like the probes: reached by the scraper inside the cluster only
        # (the NetworkPolicy), and nothing in it names a person or a case.
        return Response(metrics_page(), media_type=METRICS_CONTENT_TYPE)

    for router in (*definition.routers, audit_router):
        app.include_router(router)
    document_access_answers(app.routes)
    _http_conventions(app, settings)
    return Listeners(staff=app, public=public, lifespan=lambda: lifespan(app))


def _public_app(definition: ServiceDefinition) -> FastAPI:
    """The public listener's app: its routers and nothing else. No token verifier either,
    so a staff route put here by mistake fails closed."""
    app = FastAPI(title=definition.title, docs_url=None, redoc_url=None, openapi_url=None)
    for router in definition.public_routers:
        app.include_router(router)
    _http_conventions(app, definition.settings)
    return app


def _http_conventions(app: FastAPI, settings: ServiceSettings) -> None:
    """What every listener does alike: plain-words 422s, the body size limit, no-store on
    personal data, tracing."""

    @app.exception_handler(RequestValidationError)
    async def plain_validation_errors(
        request: Request, error: RequestValidationError
    ) -> JSONResponse:
        return JSONResponse(status_code=422, content=describe_validation_error(error))

    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(NoStore)
    instrument_http(app)


class _Listener(uvicorn.Server):
    """One uvicorn server of several in one loop: signals are :class:`Listening`'s to
    handle, for all of them at once."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class Listening:
    """Serve a service's listeners in the running event loop: the lifespan once, then a
    uvicorn server per listener (staff on ``port``, public on ``public_port``).

    :meth:`stop` (SIGTERM/SIGINT in :func:`run`) stops both from taking connections and
    lets both finish their requests; only then does the lifespan close the runtime.
    If either cannot start (its port is taken), neither serves.
    """

    def __init__(
        self,
        listeners: Listeners,
        settings: ServiceSettings,
        *,
        host: str | None = None,
        port: int | None = None,
        public_port: int | None = None,
    ) -> None:
        self._listeners = listeners
        apps = [(listeners.staff, port if port is not None else settings.http_port)]
        if listeners.public is not None:
            public_port = public_port if public_port is not None else settings.public_http_port
            if public_port is None:
                raise ValueError(f"{settings.service_name} has public pages: set PUBLIC_HTTP_PORT")
            apps.append((listeners.public, public_port))
        self.servers = [
            _Listener(
                uvicorn.Config(
                    app,
                    host=host or settings.http_host,
                    port=app_port,
                    lifespan="off",  # run once, around both, by serve()
                    log_config=None,
                    access_log=False,
                    timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
                )
            )
            for app, app_port in apps
        ]

    @property
    def started(self) -> bool:
        return all(server.started for server in self.servers)

    def stop(self) -> None:
        """Stop gracefully; a second call (a second Ctrl-C) stops at once."""
        for server in self.servers:
            if server.should_exit:
                server.force_exit = True
            server.should_exit = True

    async def serve(self) -> None:
        async with self._listeners.lifespan():
            serving = [asyncio.create_task(self._serve(server)) for server in self.servers]
            # One listener ending (stopped, or failing to bind) ends the others.
            await asyncio.wait(serving, return_when=asyncio.FIRST_COMPLETED)
            self.stop()
            ended = await asyncio.gather(*serving, return_exceptions=True)
        for outcome in ended:
            if isinstance(outcome, BaseException):
                raise outcome

    @staticmethod
    async def _serve(server: uvicorn.Server) -> None:
        try:
            await server.serve()
        except SystemExit as exited:  # uvicorn's way of saying it could not bind
            raise RuntimeError(f"cannot serve on port {server.config.port}") from exited


def run(definition: ServiceDefinition) -> None:
    """Entry point: serve until SIGTERM/SIGINT, then shut down gracefully."""
    settings = definition.settings
    configure_logging(settings.log_level, settings.service_name)
    listening = Listening(create_listeners(definition), settings)

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        for stop_signal in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(stop_signal, listening.stop)
        await listening.serve()

    # What start-up made (modules, the app, its routes and models: most of the heap) lives
    # as long as the process: kept out of the collector's view, a full collection walks
    # only what the work makes. Without it one took up to 250 ms at 50 reports/s, every
    # task of the service stopped meanwhile. Start-up's garbage goes first, not to be kept.
    gc.collect()
    gc.freeze()
    # Most of what the work makes dies young (a message, its models, its statements): a
    # young generation ten times Python's default is collected a third as often, for a
    # third of the time in young collections over a run, and no more memory to speak of.
    gc.set_threshold(7000, 10, 10)
    with asyncio.Runner(loop_factory=listening.servers[0].config.get_loop_factory()) as runner:
        runner.run(serve())


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime
