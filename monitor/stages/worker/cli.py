"""``bearwatch worker``: run the Faust stream worker (score → aggregate → notify), composed by
``monitor.shell.worker_app``."""

from __future__ import annotations

import typer

from monitor.ground.cli_support import ConfigOption, fail, settings_or_exit


def worker(config: ConfigOption = None) -> None:
    """Run the stream worker: scores news in micro-batches, updates Redis windows, raises alerts.

    Needs BEARWATCH_KAFKA_URL and BEARWATCH_REDIS_URL (`bearwatch up` starts it with both set).
    Serves /metrics, /health (with "behind": whether it keeps up with the news), /api/pipeline
    (produce-to-decision latency, scoring rate, backlog) and the status page on BEARWATCH_WORKER_PORT.

    Example: BEARWATCH_KAFKA_URL=localhost:9092 BEARWATCH_REDIS_URL=redis://localhost:6379/0 bearwatch worker
    """
    settings = settings_or_exit(config)
    if not settings.kafka_url or not settings.redis_url:
        fail("bearwatch worker needs BEARWATCH_KAFKA_URL and BEARWATCH_REDIS_URL: run `bearwatch up` instead, "
             "which starts the embedded stack and the worker together")
    if not settings.model_path.is_dir():
        fail(f"model directory {settings.model_path} does not exist: set BEARWATCH_MODEL_PATH or run bearwatch train")
    from faust import Worker

    from monitor.shell.worker_app import create_app

    app = create_app(settings)
    Worker(app, loglevel=settings.log_level.lower()).execute_from_commandline()


def register(app: typer.Typer) -> None:
    app.command(name="worker")(worker)
