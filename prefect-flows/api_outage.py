"""Riding out a Prefect API outage inside a running flow (a restart of the Prefect server, say).

Prefect 2's client retries timeouts and 503s but not a refused connection: a step that starts or ends
while the server is down raises httpx.ConnectError in the flow, and the flow run would end Failed,
failing the book. Instead the flow waits for the API to come back and runs the step again: its job id
is deterministic, so the agent worker's stored result comes back without a second provider call. The
task run the outage cut off would stay Running forever; it is marked Crashed, naming why.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Awaitable, Callable, TypeVar
from uuid import UUID

import httpx

# How long a flow waits for the Prefect API before it gives up (and its run fails as before).
OUTAGE_SECONDS = float(os.environ.get("QUIRE_FLOW_API_OUTAGE_SECONDS", "300"))
# A step cut off by this many outages in a row fails: something else is wrong.
MAX_OUTAGES_PER_STEP = 5

T = TypeVar("T")


def lost_the_api(exc: BaseException) -> bool:
    """True for a failure to reach the Prefect API at all (the server is down or restarting).

    Only the transport: an HTTP error status is an answer, and Prefect's own client already retries 503s.
    """
    return isinstance(exc, httpx.TransportError)


async def wait_for_api(is_healthy: Callable[[], Awaitable[bool]], timeout_seconds: float = OUTAGE_SECONDS, every_seconds: float = 1.0) -> bool:
    """Polls until the API answers; False when it did not within the timeout."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        if await is_healthy():
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(every_seconds)


async def run_riding_outages(
    call: Callable[[], Awaitable[T]],
    after_outage: Callable[[BaseException], Awaitable[bool]],
    max_outages: int = MAX_OUTAGES_PER_STEP,
) -> T:
    """Awaits call(); when it fails because the API was unreachable, lets after_outage wait for the API
    (and tidy up), then calls again. Re-raises when after_outage says the API did not come back, after
    max_outages outages, or for any other error."""
    outages = 0
    while True:
        try:
            return await call()
        except Exception as exc:
            outages += 1
            if not lost_the_api(exc) or outages > max_outages or not await after_outage(exc):
                raise


async def prefect_api_healthy() -> bool:
    from prefect.client.orchestration import get_client

    try:
        async with get_client() as client:
            return await client.api_healthcheck() is None
    except Exception:
        return False


async def crash_cut_off_task_runs(flow_run_id: UUID, message: str) -> int:
    """Marks Crashed the task runs of this flow run that an outage left Running, Pending or Scheduled (a try
    that failed and was waiting out its retry delay: AwaitingRetry). Steps run one at a time, so once the
    flow is between steps none of them is really running or coming. Returns how many."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, TaskRunFilter, TaskRunFilterState, TaskRunFilterStateType
    from prefect.client.schemas.objects import StateType
    from prefect.states import Crashed

    async with get_client() as client:
        stuck = await client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
            task_run_filter=TaskRunFilter(state=TaskRunFilterState(type=TaskRunFilterStateType(any_=[StateType.RUNNING, StateType.PENDING, StateType.SCHEDULED]))),
        )
        for task_run in stuck:
            await client.set_task_run_state(task_run.id, Crashed(message=message))
        return len(stuck)


def outage_handler(flow_run_id: UUID, label: str, log: Callable[[str], None]) -> Callable[[BaseException], Awaitable[bool]]:
    """What a flow does after an outage cut off step `label`: wait for the API, then tidy the task run."""

    async def after_outage(exc: BaseException) -> bool:
        log(f"lost the Prefect API during step {label} ({type(exc).__name__}: {exc}); waiting for it to come back")
        if not await wait_for_api(prefect_api_healthy):
            return False
        crashed = await crash_cut_off_task_runs(flow_run_id, f"the Prefect API went away during step {label}; the step ran again")
        log(f"the Prefect API is back; running step {label} again ({crashed} cut-off task run(s) marked Crashed)")
        return True

    return after_outage
