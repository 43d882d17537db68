"""``crossverify serve``: run the HTTP service for banks, issuers and regulators; make API keys."""

from __future__ import annotations

import click
from rich.markup import escape

from ..service.auth import ROLES, new_key
from ._shell import App, command


@click.group("serve", invoke_without_command=True)
@click.option("--host", help="Address to listen on (default: [service] host).")
@click.option("--port", type=int, help="Port (default: [service] port).")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Serve the API (OpenAPI at /docs) with the clients of this configuration."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(_run, host=host, port=port)


@command
def _run(app: App, host: str | None, port: int | None) -> None:
    import uvicorn

    from ..service.app import create_app

    settings = app.session.config.service
    service = create_app(app.session)
    uvicorn.run(service, host=host or settings.host, port=port or settings.port, log_config=None,
                access_log=False)


@serve.command("new-key")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True)
@command
def serve_new_key(app: App, name: str, role: str) -> None:
    """Make an API key for the institution NAME; the configuration keeps only its SHA-256."""
    key, digest = new_key()
    app.emit({"name": name, "role": role, "key": key, "configuration": f'{name} = "{role} {digest}"'},
             escape(f"API key for {name} (give it to them once; it is not stored):\n  {key}\n"
                    f"Add to [service.api_keys]:\n  {name} = \"{role} {digest}\""))
