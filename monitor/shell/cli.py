"""``bearwatch``: the one command line for every stage.

Core commands live here (``up``, ``doctor``, ``version``); each stage adds its own through a ``register(app)``
function in its ``cli`` module, so this file does not grow with every feature.
"""

from __future__ import annotations

import importlib
import logging

import typer

from monitor import __version__
from monitor.ground.cli_support import ConfigOption, console, settings_or_exit

app = typer.Typer(
    name="bearwatch",
    help="Bearwatch: streaming financial news sentiment monitor.\n\nStart everything with `bearwatch up`.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)

# Modules that add commands. Every one must import: a missing or broken one is an error, never a command that
# silently disappears from `bearwatch --help`.
COMMAND_MODULES = (
    "monitor.stages.model.cli",
    "monitor.stages.worker.cli",
    "monitor.stages.windows.cli",
    "consumers.cli",
    "alerts.cli",
    "dashboards.cli",
    "monitor.history.cli",  # replay and backtest
)


@app.command()
def version() -> None:
    """Print the Bearwatch version.

    Example: bearwatch version
    """
    console.print(f"bearwatch {__version__}")


@app.command()
def up(config: ConfigOption = None) -> None:
    """Start the whole system: embedded Kafka and Redis (unless URLs are set), consumers, worker, /health.

    One Ctrl-C (or SIGTERM) stops everything it started.

    Example: bearwatch up

    Against real servers: BEARWATCH_KAFKA_URL=kafka:9092 BEARWATCH_REDIS_URL=redis://redis:6379/0 bearwatch up
    """
    from monitor.shell.supervisor import run_up

    settings = settings_or_exit(config, attach_running=False)
    _configure_logging(settings.log_level)
    raise typer.Exit(run_up(settings, config))


@app.command()
def doctor(config: ConfigOption = None) -> None:
    """Check settings, Kafka, Redis, the model, Prometheus, Grafana and webhooks; print a table of findings.

    Example: bearwatch doctor --config bearwatch.toml
    """
    from monitor.shell.doctor import run_doctor

    raise typer.Exit(run_doctor(config))


def _configure_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _register_stage_commands() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(app)


_register_stage_commands()

if __name__ == "__main__":
    app()
