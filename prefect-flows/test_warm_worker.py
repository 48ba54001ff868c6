"""The warm worker's fork server, for real (a fork server process, forked children, exit codes)."""

import asyncio
import os
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


if __name__ == "__main__":
    unittest.main()
