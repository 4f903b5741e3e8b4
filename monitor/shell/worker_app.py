"""The whole ``bearwatch worker`` app, composed: the worker stage, the detector, the ``notify`` agent, alert
delivery and the status page.

Why here: the worker stage (``monitor.stages.worker``) may not import ``alerts/`` or the shell's web pages, and
``alerts/`` may not import the worker stage; the shell may import both, so it builds each part and passes them
to one another (the detector as a :class:`monitor.ground.ports.AlertDecider`, the worker's agent kit as a
:class:`monitor.ground.ports.AgentKit`). Everything that runs a worker in-process (``bearwatch worker``, tests,
bench) calls :func:`create_app`.
"""

from __future__ import annotations

import faust

from alerts.delivery import Notifier
from alerts.detector import Detector
from alerts.notify_agent import add_delivery, add_notify_agent
from alerts.rules import load_rules
from monitor.ground.settings import Settings
from monitor.shell.web import install_web
from monitor.stages.worker.app import StageApp, create_stage_app
from monitor.stages.worker.model_slot import ModelSlot
from monitor.stages.worker.redis_calls import worker_redis
from monitor.stages.worker.runtime import WorkerRuntime, window_store


def build_worker(settings: Settings) -> StageApp:
    """The composed worker and its parts (tests reach the runtime through it)."""
    if not settings.kafka_url or not settings.redis_url:
        raise ValueError("the worker needs BEARWATCH_KAFKA_URL and BEARWATCH_REDIS_URL (bearwatch up sets both)")
    redis = worker_redis(settings)
    store = window_store(settings, redis)
    # hand_off: an alert's decision is kept in Redis until Kafka holds the alert (see alerts.detector).
    detector = Detector(redis, store, load_rules(settings.rules_file), settings.redis_namespace, hand_off=True)
    runtime = WorkerRuntime(settings, redis, store, detector, ModelSlot(settings))
    stage = create_stage_app(runtime)
    notifier = Notifier(redis, settings, settings.redis_namespace)
    add_notify_agent(stage.app, stage.topics.alerts, notifier, stage.kit)
    add_delivery(stage.app, notifier)
    install_web(stage.app, runtime)
    return stage


def create_app(settings: Settings) -> faust.App:
    """The Faust app of ``bearwatch worker`` for ``settings`` (Kafka and Redis URLs required)."""
    return build_worker(settings).app
