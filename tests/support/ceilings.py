"""One readiness ceiling for every test that waits for something to happen (a server up, a story in a topic).

Tests wait for a signal, not for a time: the ceiling only bounds a hang, so it is generous (minutes) and a loaded
machine (two cores shared by several jobs) cannot make a test fail by being slow. Speed is measured in bench/.
A failing wait names what it awaited and for how long.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any

READY_CEILING_S = 180.0


async def wait_for(check: Callable[[], Any], timeout_s: float, what: str, poll_s: float = 0.5) -> Any:
    """Poll ``check`` (sync or async) until it returns something truthy, and return that; past ``timeout_s`` fail
    naming what was awaited. The one readiness poll of the suite, so every wait reads and fails the same way."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        await asyncio.sleep(poll_s)
    raise AssertionError(f"awaited {what} for {timeout_s:g} s")
