"""Operations: liveness, readiness and Prometheus metrics (no key)."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from ...errors import CrossverifyError
from ..dependencies import Context
from ..problems import RETRY_UNAVAILABLE, public_text


class ReadyOut(BaseModel):
    ready: bool
    checks: dict[str, str] = Field(description="Each check (node, registry, each background worker) and its state")


def router(ctx: Context) -> APIRouter:
    routes = APIRouter(tags=["operations"])
    session, workers = ctx.session, ctx.workers

    @routes.get("/healthz", operation_id="getHealth", summary="The process is up")
    async def healthz() -> dict[str, str]:  # on the event loop: no wait for a thread while the loop is busy
        return {"status": "ok"}

    @routes.get("/readyz", operation_id="getReadiness", response_model=ReadyOut,
                responses={503: {"model": ReadyOut, "description": "Not ready: the failing check says why",
                                 "headers": {"Retry-After": {"schema": {"type": "integer"}}}}},
                summary="Node reachable, registry present, stores reachable, background work current")
    def readyz() -> JSONResponse:
        checks: dict[str, str] = {}
        reachable = True
        try:
            with ctx.chain_lock:
                latest = session.w3.eth.get_block("latest")
                checks["node"] = f"block {latest['number']}"
                checks["registry"] = session.registry.address
            ctx.queue.verifier.not_behind(latest["number"], latest["timestamp"])  # [verifier] max_head_age
        except CrossverifyError as exc:
            checks["node"], reachable = f"{type(exc).__name__}: {public_text(exc)}", False
        for store in ctx.stores():
            try:
                store.ping()
            except CrossverifyError as exc:
                checks[f"store {store.kind}"], reachable = f"{type(exc).__name__}: {public_text(exc)}", False
        for name, worker in workers.items():
            checks[name] = worker.last_error or ("standby: another replica runs it" if worker.standby else
                                                 "current" if worker.last_success else "starting")
        ready = reachable and all(w.last_success and not w.last_error for w in workers.values())
        return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503,
                            headers=None if ready else {"Retry-After": str(RETRY_UNAVAILABLE)})

    @routes.get("/metrics", operation_id="getMetrics", summary="Prometheus metrics", response_class=PlainTextResponse)
    def prometheus() -> Response:
        return Response(generate_latest(ctx.metrics), media_type=CONTENT_TYPE_LATEST)

    return routes
