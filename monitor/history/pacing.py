"""Release stories as fast as possible, or paced so event time runs ``speed`` times faster than wall time.

``--speed 60`` means one hour of event time per minute of wall time: a story published ``d`` seconds after the
file's first story is released ``d / 60`` seconds after the replay started producing. Stories are released in the
order given ((published_at, id) order), in chunks of those already due, so a burst of simultaneous stories goes
out as one batch and a quiet night is waited out. The pacer never catches up by skipping: if producing falls
behind, stories go out as soon as they can, still in order.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

from monitor.ground.contracts import Story

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class Pacer:
    """Example::

        async for chunk in Pacer(speed=60).chunks(stories):
            await producer.submit(chunk)
    """

    def __init__(self, speed: float | None = None, max_chunk: int = 500, clock: Clock = time.monotonic,
                 sleep: Sleep = asyncio.sleep) -> None:
        if speed is not None and speed <= 0:
            raise ValueError(f"speed must be positive (got {speed}); leave it unset for as fast as possible")
        if max_chunk < 1:
            raise ValueError("max_chunk must be at least 1")
        self.speed = speed
        self.max_chunk = max_chunk
        self._clock = clock
        self._sleep = sleep

    def due_offsets(self, stories: Sequence[Story]) -> list[float]:
        """Wall seconds after the start at which each story is due (all 0 when unpaced)."""
        if not stories or self.speed is None:
            return [0.0] * len(stories)
        origin = stories[0].published_at
        return [max(0.0, (story.published_at - origin).total_seconds() / self.speed) for story in stories]

    async def chunks(self, stories: Sequence[Story]) -> AsyncIterator[list[Story]]:
        """Consecutive chunks of ``stories``, each yielded once its first story is due."""
        due = self.due_offsets(stories)
        started = self._clock()
        index = 0
        while index < len(stories):
            wait = started + due[index] - self._clock()
            if wait > 0:
                await self._sleep(wait)
            now = self._clock() - started
            end = index + 1
            while end < len(stories) and end - index < self.max_chunk and due[end] <= now:
                end += 1
            yield list(stories[index:end])
            index = end
