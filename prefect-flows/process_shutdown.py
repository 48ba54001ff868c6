"""How a worker told to stop ends the flow processes it started.

Under Quire's launcher the SIGTERM goes to the worker's whole process group, so its flow processes get
it too and say their last words (termination.py). `docker compose stop`, or systemd with
KillMode=mixed, signals the worker's own process only, and SIGKILLs the rest some seconds later: the
flow processes would die without a word, and the gateway would know only once their leases lapsed. So
the worker passes the signal on, after a moment in which processes that got it themselves can end (a
second SIGTERM landing while Prefect's engine unwinds the first would cut the unwinding short).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from typing import Awaitable, Callable, Iterable


async def stop_processes(pids: Iterable[int], ended: Callable[[int], Awaitable[object]], alone_seconds: float, term_seconds: float) -> None:
    """Waits `alone_seconds` for the processes to end by themselves, sends SIGTERM to those still running,
    and SIGKILL to any left `term_seconds` later. `ended(pid)` resolves when a process has ended."""
    pending = {pid: asyncio.ensure_future(ended(pid)) for pid in pids}

    async def wait(seconds: float) -> None:
        if pending:
            await asyncio.wait(pending.values(), timeout=seconds)
        for pid in [pid for pid, future in pending.items() if future.done()]:
            del pending[pid]

    await wait(alone_seconds)
    _signal(pending, signal.SIGTERM)
    await wait(term_seconds)
    _signal(pending, signal.SIGKILL)
    # A moment for their ends to be reported (the fork server reaps them) before the worker closes it:
    # otherwise they read as orphans that exited cleanly. The waits are not cancelled: their waiters are
    # the worker's runs.
    await wait(1.0)


def _signal(pids: Iterable[int], signum: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)
