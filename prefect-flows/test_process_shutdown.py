"""A stopping worker ending its flow processes, on real child processes."""

import asyncio
import signal
import sys
import time
import unittest

from process_shutdown import stop_processes

# Prints "ready" once its SIGTERM disposition is set, then sleeps; "ignore" makes it ignore SIGTERM.
CHILD = """
import signal, sys, time
if sys.argv[1] == "ignore":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ready", flush=True)
time.sleep(float(sys.argv[2]))
"""


class StopProcesses(unittest.IsolatedAsyncioTestCase):
    async def child(self, mode: str, seconds: float) -> asyncio.subprocess.Process:
        process = await asyncio.create_subprocess_exec(sys.executable, "-c", CHILD, mode, str(seconds), stdout=asyncio.subprocess.PIPE)
        self.assertEqual(await process.stdout.readline(), b"ready\n")
        return process

    async def stop(self, *processes: asyncio.subprocess.Process, alone: float, term: float) -> list[int]:
        by_pid = {p.pid: p for p in processes}
        await stop_processes(by_pid, lambda pid: by_pid[pid].wait(), alone, term)
        return [await asyncio.wait_for(p.wait(), 10) for p in processes]

    async def test_a_process_that_ends_within_the_moment_alone_gets_no_signal(self):
        self.assertEqual(await self.stop(await self.child("default", 0.2), alone=5, term=5), [0])

    async def test_one_still_running_after_the_moment_gets_sigterm(self):
        started = time.monotonic()
        self.assertEqual(await self.stop(await self.child("default", 60), alone=0.2, term=5), [-signal.SIGTERM])
        self.assertLess(time.monotonic() - started, 5)  # it ended on the SIGTERM, not at the SIGKILL

    async def test_one_that_ignores_sigterm_gets_sigkill_after_the_term_wait_and_its_end_is_awaited(self):
        deaf = await self.child("ignore", 60)
        by_pid = {deaf.pid: deaf}
        await stop_processes(by_pid, lambda pid: by_pid[pid].wait(), 0.1, 0.5)
        self.assertEqual(deaf.returncode, -signal.SIGKILL)  # already known when stop_processes returns

    async def test_nothing_to_stop_returns_at_once(self):
        started = time.monotonic()
        await stop_processes([], lambda pid: asyncio.sleep(0), 5, 5)
        self.assertLess(time.monotonic() - started, 1)


if __name__ == "__main__":
    unittest.main()
