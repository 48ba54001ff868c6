"""A flow process's lease in Redis: renewed while the flow's code runs, marked ended when it stops.

Prefect 2 has no liveness check of its own for flow runs; the gateway reads this lease
(api/runs/flowLeases.ts) and marks a Running flow run without one Crashed.

The renewal loop is stopped by an event, never by cancelling its task: redis-py's asyncio client can
swallow a cancellation that lands inside a command (the command returns normally; seen with redis 8.1,
a cancel one to three loop turns into a SET). A renewal loop that missed its cancel renews for ever,
and the flow that awaits it never ends: a process holding its lease while doing nothing, which the
gateway cannot tell from one at work.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from redis import Redis as SyncRedis
from redis.asyncio import Redis

from redis_names import redis_name, redis_value
from shared_settings import flow_heartbeat_seconds, flow_lease_seconds, queue_prefix
from termination import on_termination

# What the lease holds once the flow's code has ended, or once its process was told to stop before it
# ended (config/redis-names.json; the gateway reads them too).
LEASE_ENDED = redis_value("flowLeaseEnded")
LEASE_STOPPED = redis_value("flowLeaseStopped")
# Ended, unless the process's last words (stopped) landed first: on SIGTERM the flow's code unwinds in one
# thread while the signal handler speaks in another, and the gateway should read the stronger of the two.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[2] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
return 1"""


def sync_twin(redis: Redis) -> SyncRedis:
    """A short-lived sync client to the same server, for last words in a signal handler (termination.py):
    the async client belongs to the flow's event loop, in another thread."""
    pool = redis.connection_pool
    kwargs = pool.connection_kwargs
    connection = {k: kwargs[k] for k in ("host", "port", "db", "username", "password") if k in kwargs}
    if "path" in kwargs:  # unix:// (a socket file, no host)
        connection = {"unix_socket_path": kwargs["path"], **{k: kwargs[k] for k in ("db", "username", "password") if k in kwargs}}
    tls = pool.connection_class.__name__.startswith("SSL")  # rediss://
    return SyncRedis(**connection, ssl=tls, socket_timeout=1, socket_connect_timeout=1)


def lease_key(flow_run_id: str, prefix: str | None = None) -> str:
    return redis_name("flowLease", prefix=prefix or queue_prefix(), flowRunId=flow_run_id)


class FlowLease:
    """`async with FlowLease(redis, flow_run_id):` holds the lease for the block's duration."""

    def __init__(self, redis: Redis, flow_run_id: str, lease_seconds: int | None = None, heartbeat_seconds: float | None = None, prefix: str | None = None) -> None:
        self.redis = redis
        self.key = lease_key(flow_run_id, prefix)
        self.lease_seconds = lease_seconds or flow_lease_seconds()
        self.heartbeat_seconds = flow_heartbeat_seconds() if heartbeat_seconds is None else heartbeat_seconds
        self._stop = asyncio.Event()
        self._renewing: asyncio.Task[None] | None = None
        self._last_words = contextlib.ExitStack()

    async def __aenter__(self) -> "FlowLease":
        await self._set_held()  # held from the block's first line, not from the renewal task's first turn
        # Told to stop (SIGTERM), the process says so as it dies: the gateway need not wait for the lease to lapse.
        self._last_words.enter_context(on_termination(self._say_stopped))
        self._renewing = asyncio.create_task(self._renew())
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        self._stop.set()
        if self._renewing:
            # Its last renewal must not land after the release; a renewal hung on Redis is not waited for.
            done, _ = await asyncio.wait({self._renewing}, timeout=max(1.0, self.heartbeat_seconds))
            if not done:
                self._renewing.cancel()
        await self._release()
        self._last_words.__exit__(*exc_info)  # kept when the block was cut off: see termination.py

    async def _renew(self) -> None:
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.heartbeat_seconds)
            if self._stop.is_set():
                return
            await self._set_held()

    async def _set_held(self) -> None:
        try:
            await self.redis.set(self.key, "1", ex=self.lease_seconds)
        except Exception:
            pass  # Redis restarting: the lease outlives a short outage

    async def _release(self) -> None:
        """Marks the lease ended (done, failed, or suspended), so a resume knows no process runs this flow
        run any more. The key lives on for a lease period: until Prefect records the flow run's final
        state, it must not look like a process that died."""
        try:
            await self.redis.eval(_RELEASE, 1, self.key, LEASE_ENDED, LEASE_STOPPED, self.lease_seconds)
        except Exception:
            pass  # Redis restarting: the lease lapses by itself

    def _say_stopped(self) -> None:
        """From the SIGTERM handler (termination.py), so sync and short."""
        with sync_twin(self.redis) as redis:
            redis.set(self.key, LEASE_STOPPED, ex=3600)  # long enough for a gateway started later to read why
