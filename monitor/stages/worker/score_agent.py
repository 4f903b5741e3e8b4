"""The ``score`` agent: raw stories → scored stories (and dead letters), one model call per forward pass.

Each read takes up to ``capacity.read_batch`` stories (``BEARWATCH_CONSUME_BATCH``) or what arrived within
``batch_max_wait_s``; its chunks of ``model_batch`` stories are all queued on the model at once and published in
order as each comes back. The scored stories keep their raw record's Kafka timestamp. Every output of a read is
acknowledged by the broker before the read's offsets may commit (Faust acks a ``take_events`` batch only when the
loop asks for the next one).
"""

from __future__ import annotations

from typing import Any, cast

import faust

from monitor.ground.contracts import encode
from monitor.ground.settings import Settings
from monitor.stages.worker import capacity, metrics
from monitor.stages.worker.agent_kit import WorkerAgentKit
from monitor.stages.worker.publish import Outgoing, publish_all
from monitor.stages.worker.records import record_of
from monitor.stages.worker.runtime import WorkerRuntime

AGENT = "score"


def add_score_agent(app: faust.App, settings: Settings, runtime: WorkerRuntime, kit: WorkerAgentKit,
                    source: faust.TopicT, scored: faust.TopicT) -> None:
    """Register the ``score`` agent on ``app``: reads ``source``, writes ``scored`` and dead letters."""

    @app.agent(source, name=AGENT)
    async def score(stream: faust.StreamT) -> None:
        scorer = await runtime.model.scorer()
        # StreamT (Faust's protocol) omits take_events; the faust.Stream an agent gets has it.
        async for events in cast("faust.Stream[Any]", stream).take_events(capacity.read_batch(settings),
                                                                           within=settings.batch_max_wait_s):
            records = [record_of(event) for event in events]
            kit.received(AGENT, len(records))
            metrics.BATCH_SIZE.labels(AGENT).observe(len(records))
            # Forward passes are queued all at once and published as each returns: the model works on the next
            # chunk while this one is produced (StoryScorer.score_chunks). Chunks keep input order.
            async for outcome in scorer.score_chunks(records, settings.model_batch):
                messages = kit.dead_messages(outcome.dead)
                messages += [Outgoing(scored, story.id.encode(), encode(story), produced)
                             for story, produced in zip(outcome.scored, outcome.produced, strict=True)]
                await publish_all(messages, "scored")  # delivered before these offsets may be committed
                runtime.pace.observe("scored", outcome.produced)
                kit.handled(AGENT, len(outcome.scored))
