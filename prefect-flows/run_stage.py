"""The one generic Prefect flow: run the steps of one stage of one book run.

Each step is a Prefect task that hands the step to a TypeScript agent worker as a BullMQ job on Redis
and waits for the job to finish. The flow holds no book logic: which steps, with which settings and
inputs, come in as parameters from the gateway. A step that already has an accepted output comes back
at once (the job id is deterministic and the agent worker is idempotent), so a resumed or re-run flow
never pays twice for a step.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any, Optional

from bullmq import Job, Queue
from prefect import flow, get_run_logger, suspend_flow_run, task
from prefect.context import get_run_context
from redis.asyncio import Redis
from redis.exceptions import RedisError

from api_outage import outage_handler, run_riding_outages
from flow_lease import FlowLease, sync_twin
from redis_names import redis_name, redis_value
from shared_settings import queue_prefix, redis_url
from termination import on_termination

REDIS_URL = redis_url()
QUEUE_PREFIX = queue_prefix()
# A waiting step wakes on its queue's BullMQ event stream; it also reads its job at least this often.
POLL_SECONDS = float(os.environ.get("QUIRE_STEP_POLL_SECONDS", "1"))
# One blocking read of the event stream lasts at most this long: redis-py cuts a read off after its 5 s
# socket timeout, and BullMQ then retries it for minutes, past the step's deadline.
MAX_BLOCK_SECONDS = 2.0
PERMANENT_MARK = redis_value("permanentMark")
# A suspended run that nobody resumes is failed by Prefect after this long.
PAUSE_TIMEOUT_SECONDS = 30 * 24 * 3600
# A standby flow run that no stage claims within this long ends, unused.
STANDBY_SECONDS = float(os.environ.get("QUIRE_FLOW_STANDBY_SECONDS", "600"))
# Past its time with Redis out of reach for this long too, a waiting run ends without saying so: it cannot
# (its stack may be gone, leaving it an orphan that would wait for ever), and no gateway can give it a stage
# without Redis; once Redis is back, the gateway finds its lease ended or lapsed.
STANDBY_NO_REDIS_SECONDS = 60.0


class StepFailed(Exception):
    """The agent worker gave up on the step; Prefect may retry it."""


class StepFailedPermanently(Exception):
    """A failure that a retry cannot fix (bad request, bad credentials, invalid output after repair)."""


class StepTimedOut(Exception):
    """No result within the step's timeout (no live worker, or a hung provider)."""


def queue_name(provider: str) -> str:
    """One queue per provider, so each has its own workers and rate limit."""
    return redis_name("stepQueue", provider=provider)


def job_id(run_id: str, stage_id: str, attempt: int, step_id: str, iteration: int, try_number: int) -> str:
    """Deterministic, so a re-run of the flow finds the job (and its result) it already added."""
    return f"{run_id}.{stage_id}.{attempt}.{step_id}.{iteration}.{try_number}"


def next_step_index(steps: list[dict], index: int, iteration: int, loop: Optional[dict], result: dict) -> tuple[int, int]:
    """Where to go after steps[index]: the next step, or back to loop['from'] while the review says not done."""
    step_id = steps[index]["stepId"]
    if loop and step_id == loop["to"]:
        content = result.get("content") or {}
        if not content.get(loop["until"]) and iteration < loop["maxIterations"]:
            start = next(i for i, s in enumerate(steps) if s["stepId"] == loop["from"])
            return start, iteration + 1
    return index + 1, iteration


def is_retryable(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect's retry_condition_fn (called with these keyword names): no retry for permanent failures."""
    return PERMANENT_MARK not in (state.message or "")


def end_if_cancelled() -> None:
    """For waits that loop over Redis commands: redis-py now and then swallows a cancel that lands inside a
    command (a Prefect cancel, a SIGTERM unwinding the flow). The task still says it is being cancelled, so
    the wait ends at its next turn rather than go on for minutes (and hold its process's SIGTERM up)."""
    if asyncio.current_task().cancelling():
        raise asyncio.CancelledError()


async def last_event_id(queue: Queue) -> str:
    """Where the queue's event stream ends now: a wait that reads from here misses nothing after it."""
    newest = await queue.client.xrevrange(queue.keys["events"], count=1)
    return newest[0][0] if newest else "0-0"


async def next_event_for(queue: Queue, jid: str, since: str, wait_seconds: float) -> tuple[str, bool]:
    """Blocks until the queue's event stream (what BullMQ's QueueEvents reads) has news, or the wait ends.
    Returns the position read up to, and whether the job finished or failed meanwhile."""
    block_ms = max(1, int(min(wait_seconds, MAX_BLOCK_SECONDS) * 1000))
    answer = await queue.client.xread({queue.keys["events"]: since}, block=block_ms, count=100)
    if not answer:
        return since, False
    entries = answer[0][1]
    done = any(fields.get("jobId") == jid and fields.get("event") in ("completed", "failed") for _, fields in entries)
    return entries[-1][0], done


async def finished_job(queue: Queue, jid: str) -> Optional[dict]:
    """The job's result if it has finished (raises if it failed), None while it has not."""
    job = await Job.fromId(queue, jid)
    if job is None or not getattr(job, "finishedOn", None):
        return None
    reason = getattr(job, "failedReason", None)
    if reason:
        if PERMANENT_MARK in reason:
            raise StepFailedPermanently(reason)
        raise StepFailed(reason)
    if not isinstance(job.returnvalue, dict):  # failed with an empty message: BullMQ keeps no reason
        raise StepFailed(f"job {jid} ended without a result")
    return job.returnvalue


async def wait_for_job(queue: Queue, jid: str, timeout_seconds: float, since: str) -> dict:
    """Waits for the job's result: reads the job when its queue's event stream says it finished, and every
    POLL_SECONDS regardless (should an event be missed), so a result comes back without a polling delay."""
    deadline = time.monotonic() + timeout_seconds
    check, checked_at = True, 0.0
    while time.monotonic() < deadline:
        end_if_cancelled()
        if check or time.monotonic() - checked_at >= POLL_SECONDS:
            checked_at = time.monotonic()
            if (finished := await finished_job(queue, jid)) is not None:
                return finished
        wait = min(POLL_SECONDS, max(0.0, deadline - time.monotonic()))
        since, check = await next_event_for(queue, jid, since, wait)
    if (finished := await finished_job(queue, jid)) is not None:  # it may have ended since the last look
        return finished
    try:
        await queue.remove(jid)  # best effort: a job still waiting must not run after we gave up on it
    except Exception:
        pass
    raise StepTimedOut(f"job {jid} gave no result within {timeout_seconds:g}s")


@task(name="run-step", retry_condition_fn=is_retryable, retry_delay_seconds=1)
async def run_step(run_id: str, stage_id: str, attempt: int, step: dict, iteration: int) -> dict:
    try_number = get_run_context().task_run.run_count
    jid = job_id(run_id, stage_id, attempt, step["stepId"], iteration, try_number)
    queue = Queue(queue_name(step["provider"]), {"connection": REDIS_URL, "prefix": QUEUE_PREFIX})
    try:
        data = {**step, "runId": run_id, "stageId": stage_id, "stageAttempt": attempt, "iteration": iteration, "try": try_number}
        since = await last_event_id(queue)
        await queue.add(step["stepId"], data, {"jobId": jid, "attempts": 1})
        return await wait_for_job(queue, jid, float(step.get("timeoutSeconds", 120)), since)
    finally:
        await queue.close()


def hold_key(run_id: str) -> str:
    """The gateway's hold flag for a run (api/runs/holdFlags.ts); its value is the pause key."""
    return redis_name("hold", prefix=QUEUE_PREFIX, runId=run_id)


async def honour_hold(redis: Redis, run_id: str) -> None:
    """Suspends this flow run before its next step when the gateway asked for a pause.

    Uses Prefect's own suspend with the gateway's pause key: when the gateway already suspended the run
    with that key, or the run was resumed after that pause, Prefect refuses the key and the flow goes on.
    """
    try:
        pause_key = await redis.get(hold_key(run_id))
    except Exception:
        return  # Redis restarting: the gateway's own suspend still reaches the run through Prefect
    if pause_key:
        await suspend_flow_run(timeout=PAUSE_TIMEOUT_SECONDS, key=pause_key.decode())


def flow_finished_channel() -> str:
    """Where the gateway listens for finished flow runs (api/events/eventNotifier.ts)."""
    return redis_name("flowFinished", prefix=QUEUE_PREFIX)


async def announce_finished(flow: Any, flow_run: Any, state: Any) -> None:
    """Prefect hook, run after the final state is recorded: tells the gateway to move the book on now
    instead of at its next poll of Prefect. Best effort: the poll still finds the state."""
    redis = Redis.from_url(REDIS_URL)
    try:
        await redis.publish(flow_finished_channel(), str(flow_run.parameters.get("runId", "")))
    except Exception:
        pass
    finally:
        await redis.aclose()


def standby_key(flow_run_id: str) -> str:
    """A standby flow run's assignment (api/runs/standbyFlowRuns.ts): the stage the gateway gives it, or an end:
    {"expired": true} (it waited too long), {"dismissed": true} (the gateway let it go) or {"stopped": true} (its process stopped)."""
    return redis_name("standby", prefix=QUEUE_PREFIX, flowRunId=flow_run_id)


def standby_bell_key(flow_run_id: str) -> str:
    """Pushed to when the standby's assignment is set, so the waiting flow run wakes at once."""
    return redis_name("standbyBell", prefix=QUEUE_PREFIX, flowRunId=flow_run_id)


async def wait_for_stage(redis: Redis, flow_run_id: str) -> Optional[dict]:
    """A standby flow run (started ahead, while the book's previous stage runs) waits here for its stage.

    The gateway's claim and this run's expiry are the same SET NX on one key, so exactly one of them
    wins: either the stage arrives (returned), or nobody wanted it in time or it was dismissed (None).
    """
    with on_termination(lambda: give_up_now(redis, flow_run_id)):
        return await _wait_for_stage(redis, flow_run_id)


def give_up_now(redis: Redis, flow_run_id: str) -> None:
    """A waiting run told to stop (its worker stopping): it will never take a stage, so it says so now,
    with the SET NX of its expiry; else a gateway started again at once would hand a stage to a flow run
    whose lease still looks held. Sync and short: it runs in a signal handler."""
    with sync_twin(redis) as client:
        client.set(standby_key(flow_run_id), json.dumps({"stopped": True}), nx=True, ex=86400)


async def _wait_for_stage(redis: Redis, flow_run_id: str) -> Optional[dict]:
    deadline = time.monotonic() + STANDBY_SECONDS
    while True:
        end_if_cancelled()
        try:
            value = await redis.get(standby_key(flow_run_id))
            if value is None and time.monotonic() > deadline:
                if await redis.set(standby_key(flow_run_id), json.dumps({"expired": True}), nx=True, ex=86400):
                    return None
                continue  # claimed at the last moment
            if value is not None:
                assignment = json.loads(value)
                return None if assignment.get("expired") or assignment.get("dismissed") or assignment.get("stopped") else assignment
            await redis.blpop([standby_bell_key(flow_run_id)], timeout=1)
        except (ConnectionError, OSError, RedisError):
            if time.monotonic() > deadline + STANDBY_NO_REDIS_SECONDS:
                return None
            await asyncio.sleep(1)  # Redis restarting: the assignment, if any, is kept (append-only file)


@flow(name="run-stage", log_prints=False, on_completion=[announce_finished], on_failure=[announce_finished])
async def run_stage(runId: str, stageId: str, attempt: int, steps: list[dict], loop: Optional[dict] = None, standby: bool = False) -> dict:
    """Runs the stage's steps in order (repeating the loop, if any, until its review accepts). A standby
    run first waits for the stage it is given (the gateway also renames it in Prefect); a spare (runId
    "") learns its book with the stage."""
    logger = get_run_logger()
    flow_run_id = str(get_run_context().flow_run.id)
    redis = Redis.from_url(REDIS_URL)
    try:
        async with FlowLease(redis, flow_run_id):
            if standby:
                assignment = await wait_for_stage(redis, flow_run_id)
                if assignment is None:
                    return {"runId": runId, "standby": "unused"}
                # A spare waits for any book: the book comes with the stage.
                runId = assignment.get("runId") or runId
                stageId, attempt, steps, loop = assignment["stageId"], assignment["attempt"], assignment["steps"], assignment.get("loop")
                logger.info("standby flow run takes stage %s (attempt %s) of book %s", stageId, attempt, runId)
            return await run_steps(redis, runId, stageId, attempt, steps, loop)
    finally:
        await redis.aclose()


async def run_steps(redis: Redis, runId: str, stageId: str, attempt: int, steps: list[dict], loop: Optional[dict]) -> dict:
    logger = get_run_logger()
    flow_run_id = get_run_context().flow_run.id
    tags = [f"book:{runId}", f"stage:{stageId}"]
    index, iteration, done = 0, 1, []
    while index < len(steps):
        await honour_hold(redis, runId)
        step = steps[index]
        label = step["stepId"] if iteration == 1 else f"{step['stepId']}#{iteration}"
        step_task = run_step.with_options(task_run_name=label, tags=[*tags, f"step:{step['stepId']}"], retries=int(step.get("retries", 0)))
        result = await run_riding_outages(
            lambda: step_task(runId, stageId, attempt, step, iteration),
            outage_handler(flow_run_id, label, logger.warning),
        )
        logger.info("step %s done (output v%s%s)", label, result.get("version"), ", reused" if result.get("reused") else "")
        done.append(label)
        index, iteration = next_step_index(steps, index, iteration, loop, result)
    return {"runId": runId, "stageId": stageId, "attempt": attempt, "steps": done}
