"""The warm worker's fork server, for real (a fork server process, forked children, exit codes)."""

import asyncio
import os
import signal
import tempfile
import unittest

from warm_worker import Zygote


class ForkServer(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        # The children run the engine without a flow run, on purpose: their tracebacks would only alarm a CI log.
        self.zygote = Zygote(stderr=asyncio.subprocess.DEVNULL)
        await self.zygote.start()
        self.home = tempfile.TemporaryDirectory()

    async def asyncTearDown(self):
        await self.zygote.stop()
        self.home.cleanup()

    def env(self, **extra):
        return {"PATH": os.environ.get("PATH", ""), "PREFECT_HOME": self.home.name, **extra}

    async def test_a_child_runs_the_engine_entry_point_and_its_exit_code_comes_back(self):
        # Without a flow run id the engine's own __main__ refuses with exit code 1.
        pid = await self.zygote.spawn(self.env(), self.home.name)
        self.assertNotEqual(pid, os.getpid())
        self.assertEqual(await asyncio.wait_for(self.zygote.wait(pid), 60), 1)

    async def test_children_are_independent_processes_each_reaped_once(self):
        pids = await asyncio.gather(*(self.zygote.spawn(self.env(), self.home.name) for _ in range(3)))
        self.assertEqual(len(set(pids)), 3)
        codes = await asyncio.wait_for(asyncio.gather(*(self.zygote.wait(p) for p in pids)), 60)
        self.assertEqual(codes, [1, 1, 1])
        for pid in pids:
            with self.assertRaises(ProcessLookupError):
                os.kill(pid, 0)  # gone, not a zombie left behind

    async def test_a_child_killed_by_a_signal_reports_the_signal_like_subprocess(self):
        pid = await self.zygote.spawn(self.env(PREFECT__FLOW_RUN_ID="00000000-0000-0000-0000-000000000000", PREFECT_API_URL="http://127.0.0.1:9/api"), self.home.name)
        os.kill(pid, 9)
        self.assertEqual(await asyncio.wait_for(self.zygote.wait(pid), 60), -9)

    async def test_the_fork_server_outlives_a_sigterm_that_its_children_do_not_ignore(self):
        # The fork server ignores SIGTERM so that it can still report the ends of its children when the
        # worker's whole group is told to stop; a child must not inherit that.
        pid = await self.zygote.spawn(self.env(PREFECT__FLOW_RUN_ID="00000000-0000-0000-0000-000000000000", PREFECT_API_URL="http://127.0.0.1:9/api"), self.home.name)
        await asyncio.wait_for(self.until_sigterm_not_ignored(pid), 10)
        os.kill(self.zygote._process.pid, signal.SIGTERM)
        os.kill(pid, signal.SIGTERM)
        self.assertEqual(await asyncio.wait_for(self.zygote.wait(pid), 60), -signal.SIGTERM)
        self.assertTrue(self.zygote.alive)

    @staticmethod
    async def until_sigterm_not_ignored(pid: int) -> None:
        """Until the child has put back SIGTERM's disposition (the SigIgn mask of /proc/<pid>/status)."""
        while True:
            with open(f"/proc/{pid}/status") as status:
                ignored = int(next(line for line in status if line.startswith("SigIgn:")).split()[1], 16)
            if not ignored & (1 << (signal.SIGTERM - 1)):
                return
            await asyncio.sleep(0.01)


if __name__ == "__main__":
    unittest.main()
