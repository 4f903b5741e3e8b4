import asyncio, contextlib, sys
from tests import alerts_fixtures
from tests.alerts_fixtures import make_alert
from tests.test_alerts_delivery import notifier_for, running  # noqa

receiver = alerts_fixtures.receiver


async def step(name, aw, t=8):
    try:
        return await asyncio.wait_for(aw, t)
    except TimeoutError:
        print("HANG at", name, file=sys.stderr)
        for task in asyncio.all_tasks():
            task.print_stack(file=sys.stderr)
        raise


async def test_debug(receiver, notifier_for) -> None:
    for rep in range(15):
        receiver.requests.clear()
        receiver.behaviour = lambda i: (500, 0.0, {})
        first = notifier_for(receiver)
        task = asyncio.create_task(first.run_forever())
        for minute in range(3):
            await step("enqueue", first.enqueue(make_alert(minute=minute + rep * 10, evaluated_minute=minute)))
        await step("wait2", receiver.wait_for_requests(2))
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await step("await task", asyncio.shield(task))
        receiver.behaviour = lambda i: (200, 0.0, {})
        second = notifier_for(receiver)
        t2 = asyncio.create_task(second.run_forever())
        await step("wait3", receiver.wait_for(3, timeout_s=5))
        await step("close2", second.close())
        await step("t2", t2)
        await step("close1", first.close())
