"""A Prefect process worker whose flow processes start warm.

Prefect 2's process worker starts every flow run as `python -m prefect.engine`, a fresh interpreter that
imports Prefect (~2 s on this kind of machine) before the flow's first task. Each stage of a book is one
flow run, so a book paid that seven times. This worker is Prefect's own ProcessWorker with one change:
`run()` asks a fork server (warm_zygote.py, which imported Prefect once) for a child that runs the same
engine entry point. It also keeps the deployment and flow it reads for a few seconds (read_cache.py).
Told to stop (SIGTERM), it takes no more flow runs and ends the flow processes it forked, so they say
their last words even when a supervisor signals the worker alone. Everything else (polling the work
pool, submitting, reporting the process id, killing cancelled runs, crash reporting) is the stock
worker's code, and it serves a plain `process` work pool: the stock `prefect worker start --pool quire`
remains a drop-in replacement.

Started by the launcher as `python prefect-flows/warm_worker.py --pool quire --name <name>`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
import tempfile
import warnings
from collections import deque
from functools import partial
from pathlib import Path
from typing import Optional

import anyio
from prefect.settings import PREFECT_WORKER_HEARTBEAT_SECONDS, PREFECT_WORKER_PREFETCH_SECONDS, PREFECT_WORKER_QUERY_SECONDS
from prefect.utilities.processutils import get_sys_executable
from prefect.utilities.services import critical_service_loop
from prefect.workers.process import ProcessJobConfiguration, ProcessWorker, ProcessWorkerResult
from redis.asyncio import Redis

from process_shutdown import stop_processes
from read_cache import ReadCache
from redis_names import redis_name
from shared_settings import queue_prefix, redis_url

ZYGOTE = Path(__file__).with_name("warm_zygote.py")
# How long the worker keeps a read deployment or flow (read_cache.py).
READ_CACHE_SECONDS = float(os.environ.get("QUIRE_WORKER_READ_CACHE_SECONDS", "10"))
# Told to stop: how long flow processes get to end by themselves, then after SIGTERM (process_shutdown.py).
# Both fit in the 10 s a stack or `docker compose stop` waits before its SIGKILL.
STOP_ALONE_SECONDS, STOP_TERM_SECONDS = 1.0, 5.0
# Exit codes of ended children kept for a wait() still to come (it comes right after the spawn); older
# ones are dropped, or a worker that forked for months would keep one for every flow run it ran.
KEPT_EXITS = 1000


class ZygoteClosed(RuntimeError):
    """The worker is stopping: no flow process is forked any more."""


class Zygote:
    """The worker's side of the fork server's line protocol (see warm_zygote.py)."""

    def __init__(self, stderr: Optional[int] = None) -> None:
        """stderr: where the fork server and its children write theirs (default: the worker's own)."""
        self._stderr = stderr
        self._process: Optional[asyncio.subprocess.Process] = None
        self._spawns: deque[asyncio.Future] = deque()
        self._exits: dict[int, asyncio.Future] = {}
        self._lock = asyncio.Lock()
        self._reader: Optional[asyncio.Task] = None
        self._closed = False

    @property
    def closed(self) -> bool:
        """Closed to new forks: the worker is stopping."""
        return self._closed

    async def start(self) -> None:
        self._process = await asyncio.create_subprocess_exec(sys.executable, str(ZYGOTE), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=self._stderr, limit=1 << 20)
        ready = await self._process.stdout.readline()
        if not ready or not json.loads(ready).get("ready"):
            raise RuntimeError("the warm fork server did not start")
        self._reader = asyncio.create_task(self._read())

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.returncode is None and self._reader is not None and not self._reader.done()

    async def spawn(self, env: dict[str, str], cwd: str) -> int:
        loop = asyncio.get_running_loop()
        async with self._lock:  # answers come in request order
            if self._closed:
                raise ZygoteClosed("the worker is stopping")
            spawned = loop.create_future()
            self._spawns.append(spawned)
            self._process.stdin.write((json.dumps({"env": env, "cwd": cwd}) + "\n").encode())
            await self._process.stdin.drain()
        return await spawned

    async def close_to_new(self) -> None:
        """Forks no more, and returns once the forks already asked for are answered: from then on,
        running() holds every child there will be (a stopping worker signals them all)."""
        self._closed = True
        async with self._lock:
            pending = list(self._spawns)
        if pending:
            await asyncio.wait(pending)  # not gather: a cancelled stop must not cancel the forks under way

    async def wait(self, pid: int) -> int:
        return await self._exit_future(pid)

    def running(self) -> list[int]:
        """The children that have not ended yet."""
        return [pid for pid, future in self._exits.items() if not future.done()]

    async def stop(self) -> None:
        if self._process and self._process.returncode is None:
            self._process.stdin.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._process.wait(), 5)
        if self._reader:
            self._reader.cancel()

    def _exit_future(self, pid: int) -> asyncio.Future:
        if pid not in self._exits:
            self._exits[pid] = asyncio.get_running_loop().create_future()
        return self._exits[pid]

    async def _read(self) -> None:
        try:
            async for line in self._process.stdout:
                message = json.loads(line)
                if "spawned" in message:
                    # A new child, though an ended one may have had its pid (pids are reused): a fresh
                    # exit future, made before any line after this one (its own "exited") is read.
                    self._exits[message["spawned"]] = asyncio.get_running_loop().create_future()
                    self._spawns.popleft().set_result(message["spawned"])
                    ended = [pid for pid, future in self._exits.items() if future.done()]
                    for pid in ended[: max(0, len(self._exits) - KEPT_EXITS)]:
                        del self._exits[pid]  # the oldest first: a dict keeps its order
                elif "exited" in message:
                    future = self._exit_future(message["exited"])
                    if not future.done():
                        future.set_result(message["code"])
        finally:
            # The fork server is gone: pending requests fail over to a plain process; its orphaned
            # children are waited for by polling (their exit codes are lost; their flow runs report
            # their own final states).
            for spawned in self._spawns:
                if not spawned.done():
                    spawned.set_exception(RuntimeError("the warm fork server exited"))
            for pid, future in self._exits.items():
                if not future.done():
                    asyncio.ensure_future(_wait_for_orphan(pid, future))


async def _wait_for_orphan(pid: int, future: asyncio.Future) -> None:
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            future.set_result(0)
            return
        await asyncio.sleep(1)


with warnings.catch_warnings():
    # Registering under "process" replaces the stock class in this interpreter only, on purpose: this
    # worker serves process work pools.
    warnings.simplefilter("ignore")

    class WarmProcessWorker(ProcessWorker):
        type = "process"
        _description = "Process worker whose flow processes are forked from a warm, pre-imported parent."

        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self._zygote = Zygote()

        async def __aenter__(self):
            await super().__aenter__()
            # The stock worker reads the deployment twice and the flow once per flow run: keep them briefly.
            self._client.read_deployment = ReadCache(self._client.read_deployment, READ_CACHE_SECONDS)
            self._client.read_flow = ReadCache(self._client.read_flow, READ_CACHE_SECONDS)
            await self._zygote.start()
            return self

        async def __aexit__(self, *exc_info):
            await self._zygote.stop()
            return await super().__aexit__(*exc_info)

        def _not_started(self, flow_run) -> ProcessWorkerResult:
            """A flow run submitted as the worker stops: no process (not even the stock way, which no stop
            would signal). Prefect's worker proposes Crashed; the gateway starts the stage again."""
            self.get_flow_run_logger(flow_run).info("Not started: the worker is stopping")
            return ProcessWorkerResult(status_code=-signal.SIGTERM, identifier="")

        async def end_flow_processes(self) -> None:
            """Told to stop: ends the flow processes forked here, with their last words (process_shutdown.py).
            A submission still under way (Prefect's worker runs them beside its loops) forks nothing now."""
            await self._zygote.close_to_new()
            await stop_processes(self._zygote.running(), self._zygote.wait, STOP_ALONE_SECONDS, STOP_TERM_SECONDS)

        async def run(self, flow_run, configuration: ProcessJobConfiguration, task_status=None):
            standard = configuration.command in (None, "", f"{get_sys_executable()} -m prefect.engine")
            if self._zygote.closed:
                return self._not_started(flow_run)
            if not standard or not self._zygote.alive:
                return await super().run(flow_run, configuration, task_status)  # a custom command: the stock way
            logger = self.get_flow_run_logger(flow_run)
            env = {k: v for k, v in configuration.env.items() if v is not None}
            working_dir_ctx = tempfile.TemporaryDirectory(suffix="prefect") if not configuration.working_dir else contextlib.nullcontext(configuration.working_dir)
            with working_dir_ctx as working_dir:
                try:
                    pid = await self._zygote.spawn(env, str(working_dir))
                except ZygoteClosed:
                    return self._not_started(flow_run)
                except RuntimeError:
                    return await super().run(flow_run, configuration, task_status)
                logger.info(f"Forked warm process {pid}")
                if task_status:
                    task_status.started(f"{socket.gethostname()}:{pid}")
                code = await self._zygote.wait(pid)
            if code:
                logger.error(f"Process {pid} exited with status code: {code}")
            else:
                logger.info(f"Process {pid} exited cleanly.")
            return ProcessWorkerResult(status_code=code, identifier=str(pid))


def flow_runs_ready_channel() -> str:
    """Where the gateway announces a flow run that awaits a worker (api/events/eventNotifier.ts)."""
    return redis_name("flowRunsReady", prefix=queue_prefix())


async def fetch_when_woken(worker: WarmProcessWorker) -> None:
    """Fetches scheduled flow runs as soon as the gateway announces one, instead of at the next poll
    (which stays: it finds flow runs created by anyone else, and everything while Redis is away)."""
    while True:
        redis = Redis.from_url(redis_url())
        try:
            async with redis.pubsub() as pubsub:
                await pubsub.subscribe(flow_runs_ready_channel())
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        await worker.get_and_submit_flow_runs()
        except Exception as err:  # Redis restarting or a failed fetch: the poll covers until we are back
            print(f"wake-ups paused ({err!r}); polling only", file=sys.stderr, flush=True)
            await asyncio.sleep(2)
        finally:
            await redis.aclose()


async def serve(pool: str, name: Optional[str]) -> None:
    """The loops of `prefect worker start`, around the warm worker, plus the gateway's wake-ups. Returns
    when told to stop (SIGTERM), once the flow processes it started have ended."""
    query_seconds = PREFECT_WORKER_QUERY_SECONDS.value()
    loop = partial(critical_service_loop, printer=print, jitter_range=0.3, backoff=4)
    async with WarmProcessWorker(work_pool_name=pool, name=name, prefetch_seconds=PREFECT_WORKER_PREFETCH_SECONDS.value(), heartbeat_interval_seconds=PREFECT_WORKER_HEARTBEAT_SECONDS.value()) as worker:
        while True:  # the Prefect server may be restarting: wait for it here rather than exit and restart
            try:
                await worker.sync_with_backend()
                break
            except Exception as err:
                print(f"waiting for the Prefect API ({err!r})", file=sys.stderr, flush=True)
                await asyncio.sleep(2)
        # From here on a SIGTERM stops the worker in order; before, it has no flow process to end.
        told_to_stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, told_to_stop.set)
        print(f"Worker {worker.name!r} started (warm processes)!", flush=True)
        async with anyio.create_task_group() as tg:
            tg.start_soon(partial(loop, workload=worker.get_and_submit_flow_runs, interval=query_seconds))
            tg.start_soon(partial(loop, workload=worker.sync_with_backend, interval=worker.heartbeat_interval_seconds))
            tg.start_soon(partial(loop, workload=worker.check_for_cancelled_flow_runs, interval=query_seconds * 2))
            tg.start_soon(fetch_when_woken, worker)
            await told_to_stop.wait()
            tg.cancel_scope.cancel()  # no new flow runs from here on
        print("stopping: ending the flow processes started here", file=sys.stderr, flush=True)
        await worker.end_flow_processes()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool", required=True)
    parser.add_argument("--name")
    args = parser.parse_args()
    asyncio.run(serve(args.pool, args.name))
    # Stopped in order: end as a process killed by the signal would, which is what supervisors expect.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)
