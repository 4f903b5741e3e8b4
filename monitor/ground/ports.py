"""Small interfaces through which a lower layer calls a higher one it may not import.

Why: the worker stage (``monitor.stages.worker``) decides alerts after every window update and hands them on, but
the detector lives in ``alerts/``, above the stages; the ``notify`` agent lives in ``alerts/`` and runs inside the
worker's Faust app, but may not import the worker stage. Each side is typed against a protocol here, and the shell
(``monitor.shell.worker_app``) passes the real objects in. Go-to-definition of a call lands on the protocol, whose
docstring names the implementation.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, TypeVar

from monitor.ground.contracts import Alert

if TYPE_CHECKING:
    from faust.types import EventT

__all__ = ["AgentKit", "AlertDecider", "AlertQueue"]

T = TypeVar("T")


class AlertDecider(Protocol):
    """What the aggregate agent needs of the detector (implemented by ``alerts.detector.Detector``)."""

    async def evaluate(self, touched: Iterable[tuple[str, str]], watermark: datetime | None) -> list[Alert]:
        """Alerts that changed state at bucket boundaries up to ``watermark``, for the keys a batch touched."""
        ...

    def forget(self, touched: Iterable[tuple[str, str]]) -> None:
        """A batch counted late stories for ``touched``: re-read their buckets next time."""
        ...

    async def handed_on(self, alerts: Iterable[Alert]) -> None:
        """The ``alerts`` are durably in Kafka: drop their hand-off records."""
        ...


class AlertQueue(Protocol):
    """Where the notify agent queues an alert for delivery (implemented by ``alerts.delivery.Notifier``)."""

    async def enqueue(self, alert: Alert) -> bool:
        """Queue ``alert`` for every channel; False if this notification was already queued."""
        ...


class AgentKit(Protocol):
    """What an agent defined outside the worker stage needs from the worker it runs in (implemented by
    ``monitor.stages.worker.agent_kit.WorkerAgentKit``): the per-agent message counters, the dead-letter topic, and
    the worker's Redis retry (an outage pauses the stream instead of dropping messages)."""

    def received(self, agent: str, count: int = 1) -> None:
        """Count ``count`` messages read by ``agent``."""
        ...

    def handled(self, agent: str, count: int = 1) -> None:
        """Count ``count`` messages ``agent`` produced or passed on."""
        ...

    async def dead_letter(self, event: EventT, reason: str) -> None:
        """Send the message of ``event`` to the dead-letter topic with ``reason``, and wait until it is there."""
        ...

    async def retry_redis(self, call: Callable[[], Awaitable[T]]) -> T:
        """Await ``call()`` until Redis answers (transient errors are retried with the worker's backoff)."""
        ...
