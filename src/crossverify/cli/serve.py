"""``crossverify serve``: run the HTTP service for banks, issuers and regulators; make API keys."""

from __future__ import annotations

import gc
import json
import os
import re
from pathlib import Path

import click
from rich.markup import escape

from ..errors import ConfigError
from ..service.auth import ROLES, ApiKeys, new_key
from ..service.supervisor import supervise
from ..session import Session
from ._shell import App, command, demo_folder


@click.group("serve", invoke_without_command=True)
@click.option("--host", help="Address to listen on (default: [service] host).")
@click.option("--port", type=int, help="Port (default: [service] port).")
@click.option("--workers", type=click.IntRange(min=1), help="Processes serving a bank on this machine, sharing its "
              "challenges, outbox and rate limits (default: [service] workers; at most one per core is useful).")
@click.option("--demo", is_flag=True, help="Ignore the configuration: a bank's service on the embedded chain, "
              "with a few certificates issued for trying the resident page.")
@click.option("--demo-console", is_flag=True, help="Ignore the configuration: the demo's story on the embedded "
              "chain, then a regulator's service over it, for trying the console (/regulator/).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("resident-demo"),
              show_default=True, help="With --demo or --demo-console: where the demo's files are written: a new or "
              "empty folder, or an earlier demo's (emptied first).")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, workers: int | None, demo: bool,
          demo_console: bool, out: Path) -> None:
    """Serve the API (OpenAPI at /docs); for a bank, the resident page (/resident/); for a regulator, the console
    (/regulator/)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(_run, host=host, port=port, workers=workers, demo=demo, demo_console=demo_console, out=out)


@command
def _run(app: App, host: str | None, port: int | None, workers: int | None, demo: bool, demo_console: bool,
         out: Path) -> None:
    import uvicorn

    from ..service import server
    from ..service.app import create_app

    session = app.session
    if demo_console:
        from ..demo import regulator_demo

        demo_folder(out)
        config, key, result = regulator_demo(out, host=host or "127.0.0.1", port=port or 8080, console=app.console)
        session = Session(config)
        session.trail.sync()  # the console opens on an index that holds the whole story
        settings = config.service
        app.console.print(escape(
            f"\nA regulator's service over the demo chain (registry {config.network.registry}).\n"
            f"Console: http://{settings.host}:{settings.port}/regulator/ - sign in with the key {key}\n"
            f"Drop the resident's certificate on its Document page: {result.bundle}"), soft_wrap=True)
    elif demo:
        from ..demo import resident_demo

        demo_folder(out)
        config, key, bundles = resident_demo(out, host=host or "127.0.0.1", port=port or 8080)
        session = Session(config)
        settings = config.service
        app.console.print(escape(
            f"Demo bank {config.verifier.audience} on the embedded chain (registry {config.network.registry}).\n"
            f"Resident page: http://{settings.host}:{settings.port}/resident/ - open one of these files in it:\n"
            + "".join(f"  {path}\n" for path in bundles)
            + f"The bank's API (http://{settings.host}:{settings.port}/docs) takes the key {key}"), soft_wrap=True)
    settings = session.config.service
    workers = workers or (1 if demo or demo_console else settings.workers)
    if workers > 1:
        _serve_in_workers(session, host or settings.host, port or settings.port, workers)
        return
    service = create_app(session)
    gc.freeze()  # what setting up made (contract ABIs, schemas, the app) is never scanned by the collector again
    uvicorn.Server(server.config(service, settings, host=host or settings.host, port=port or settings.port)).run()


def _serve_in_workers(session: Session, host: str, port: int, workers: int) -> None:
    """``workers`` processes on the port, each on a socket of its own (:mod:`crossverify.service.supervisor`
    restarts one that dies), each building the service from the configuration as this command resolved it."""
    config = session.config
    if config.network.rpc == "embedded":
        raise ConfigError("several workers need a JSON-RPC node ([network] rpc): the embedded chain lives inside one "
                          "process")
    others = ApiKeys(config.service.api_keys).roles - {"bank"}
    if others and config.storage.url is None:
        raise ConfigError(f"several workers on SQLite stores serve a bank; run the {' and '.join(sorted(others))} "
                          "service as one process, or its stores in PostgreSQL ([storage] url)")
    os.environ["CROSSVERIFY_SERVICE_WORKERS"] = str(workers)
    if config.source != "defaults and environment":
        os.environ["CROSSVERIFY_CONFIG"] = str(Path(config.source).resolve())
    # Each worker's requests bounded as one process's are (the protocol imported by name in the worker).
    supervise(workers, host, port, {"app": "crossverify.service.app:from_environment", "factory": True,
                                    "log_config": None, "access_log": False,
                                    "http": "crossverify.service.server:WorkerHttp", "loop": "auto",
                                    "timeout_keep_alive": config.service.keep_alive})


@serve.command("new-key")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True)
@command
def serve_new_key(app: App, name: str, role: str) -> None:
    """Make an API key for the institution NAME; the configuration keeps only its SHA-256."""
    key, digest = new_key()
    line = f'{name if re.fullmatch("[A-Za-z0-9_-]+", name) else json.dumps(name)} = "{role} {digest}"'  # TOML
    app.emit({"name": name, "role": role, "key": key, "configuration": line},
             f"API key for {name} (give it to them once; it is not stored):\n  {key}\n"
             f"Add to [service.api_keys]:\n  {line}")
