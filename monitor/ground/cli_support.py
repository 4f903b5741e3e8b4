"""Shared pieces of the ``bearwatch`` command line: the console, the ``--config`` option, clean failures.

Every sub-command module (``<package>/cli.py``) exposes ``register(app)`` and imports heavy libraries (torch,
faust) inside its commands, so ``bearwatch --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from monitor.ground.settings import Settings, SettingsError, load_settings, unknown_env_vars

console = Console()
err_console = Console(stderr=True)

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="TOML settings file (env vars BEARWATCH_* override it)."),
]


def fail(message: str, code: int = 2) -> NoReturn:
    """Print one red line naming the problem and the fix, then exit non-zero."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def settings_or_exit(config: Path | None = None, *, attach_running: bool = True, **overrides: object) -> Settings:
    """Load settings; a bad value ends the command with one clear line instead of a traceback.

    With no Kafka/Redis URL configured, the URLs of a running ``bearwatch up`` on the same ``var_dir`` are used
    (``attach_running``; ``up`` itself passes False). Unknown ``BEARWATCH_*`` variables get one warning each.
    """
    from monitor.ground.running import attach

    try:
        settings = load_settings(config, **overrides)
    except SettingsError as exc:
        fail(str(exc))
    for line in unknown_env_vars():
        err_console.print(f"[yellow]warning:[/] {line}", highlight=False, soft_wrap=True)
    return attach(settings) if attach_running else settings
