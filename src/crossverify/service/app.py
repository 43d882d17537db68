"""The app factory: assembles the service for one :class:`~crossverify.session.Session` from the routers of
:mod:`crossverify.service.routes` (one per role), the shared :class:`~crossverify.service.dependencies.Context`
and the middleware of :mod:`crossverify.service.middleware`."""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from ..config import Config
from ..session import Session
from . import console, openapi, resident, server
from .dependencies import Context
from .lane import VerifyLane
from .middleware import Front, Head, StrictJson
from .problems import HANDLERS
from .routes import banks, issuers, operations, regulators, residents

#: The API's version: the major is the path's (``/v1``), the minor counts additive changes (docs/api.md).
API_VERSION = "1.0"
DESCRIPTION = (
    "Cross-border document verification. Banks verify the bundles and presentations residents hand over; issuers "
    "submit certificates and offer them for pickup; regulators read the audit report and the circulation trail. "
    "Institutions authenticate with their API key as a Bearer token. Every error is RFC 9457 problem details "
    "(`application/problem+json`) with a stable `type`: https://crossverify.example/problems/<slug>.")
#: Routes that read their JSON body themselves (as a bundle, with a verdict for a bad one).
RAW_BODIES = {"/v1/verifications", "/resident/verifications"}


class _Service(FastAPI):
    """FastAPI that takes ``POST lane`` (the verifications the protocol's fast lane, :mod:`.lane`, leaves to the
    app) straight to the service's own middleware, :class:`Front` first, past the framework's outer layers (its
    telemetry hooks, body limit and error page: none is configured, and :class:`Front` answers every fault
    itself); any other request, the framework's way."""

    lane: str | None = None
    _front: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == self.lane and scope["method"] == "POST" and not self.root_path:
            front = self._front or self._find_front()
            if front is not None:
                scope["app"] = self
                await front(scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    def _find_front(self) -> Any:
        if self.middleware_stack is None:
            self.middleware_stack = self.build_middleware_stack()
        layer: Any = self.middleware_stack
        while layer is not None and not isinstance(layer, Front):
            layer = getattr(layer, "app", None)
        self._front = layer
        return layer


def create_app(session: Session, *, start_workers: bool = True) -> FastAPI:
    """The service for ``session``'s configuration. Workers (issuer pipeline, receipt outbox, audit index)
    start for the roles that have API keys; ``start_workers=False`` leaves them to the caller (tests). They stop
    when the app shuts down, the outbox's after one last flush (:meth:`Context.stop`)."""
    ctx = Context(session)
    limit = ctx.settings.max_body_bytes

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await asyncio.to_thread(ctx.stop)  # a graceful shutdown (SIGTERM): the outbox's last flush, bounded

    app = _Service(title="crossverify", version=API_VERSION, exception_handlers=HANDLERS, description=DESCRIPTION,
                   docs_url=None, redoc_url=None, lifespan=lifespan)  # /docs: openapi.install
    app.add_middleware(StrictJson, limit=limit, raw=RAW_BODIES)
    if "bank" in ctx.roles:
        app.lane = "/v1/verifications"
    app.add_middleware(Head)
    app.add_middleware(Front, record=ctx.observed, limit=limit, timeout=ctx.settings.body_timeout)  # runs first
    routers = [module.router(ctx) for module in (operations, banks, residents, issuers, regulators)]
    for router in routers:
        app.include_router(router)
    openapi.install(app, routers, ctx.roles)
    if ctx.roles & {"bank", "issuer"}:
        resident.mount(app, ctx.roles)
    if "regulator" in ctx.roles:
        console.mount(app)
    if start_workers:
        ctx.start()
    app.state.context, app.state.workers, app.state.queue, app.state.session = ctx, ctx.workers, ctx.queue, session
    app.state.lane = VerifyLane(ctx) if "bank" in ctx.roles else None  # for the HTTP protocol (service.server)
    return app


def from_environment() -> FastAPI:
    """The app factory each worker of ``crossverify serve --workers N`` calls in its own process: the service for
    the configuration ``CROSSVERIFY_CONFIG`` names (and the ``CROSSVERIFY_*`` overrides), as the command resolved
    it. Keys' passwords come from the environment: a worker cannot ask."""
    session = Session(Config.load(os.environ.get("CROSSVERIFY_CONFIG")))
    app = create_app(session)
    server.bound_workers(session.config.service, app)
    gc.freeze()  # what setting up made (contract ABIs, the app) is never scanned by the collector again
    return app
