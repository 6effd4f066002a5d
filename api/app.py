"""The FastAPI application: routers, error mapping, the runtime it serves from."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from api import errors
from api.routers import admin, cameos, checks, generations, log, notices, platform, webhooks, works
from governance.jobs import BackgroundJobs
from governance.runtime import Runtime


class _BodyLimit(BaseHTTPMiddleware):
    """Refuse a declared body over the limit before reading it (the per-file limit still applies)."""

    def __init__(self, app: object, limit: int) -> None:
        super().__init__(app)  # type: ignore[arg-type]
        self.limit = limit

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            return errors.error_response(413, "too_large", f"request body over the {self.limit}-byte limit")
        return await call_next(request)


def create_app(runtime: Runtime | None = None) -> FastAPI:
    rt = runtime or Runtime()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        background = BackgroundJobs(rt, rt.settings.jobs_interval_s)
        background.start()
        try:
            yield
        finally:
            background.stop()

    app = FastAPI(
        lifespan=lifespan,
        title="rightsgate",
        version="0.1.0",
        description="Rights and identity governance for generative video. "
        "Authenticate with `Authorization: Bearer <api key>`.",
    )
    app.state.runtime = rt
    errors.install(app)
    # A whole request may carry several files; allow the per-file limit times the file count.
    app.add_middleware(_BodyLimit, limit=rt.settings.max_upload_bytes * rt.settings.max_files_per_request)

    @app.get("/healthz", tags=["health"])
    def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    for r in (
        admin.router,
        works.router,
        cameos.router,
        platform.router,
        checks.router,
        checks.reviews_router,
        log.router,
        log.takedowns_router,
        notices.router,
        webhooks.router,
        generations.router,
    ):
        app.include_router(r)
    return app
