"""The warm worker's fork server, for real (a fork server process, forked children, exit codes)."""

import asyncio
import json
import os
import signal
import tempfile
import unittest

from warm_worker import KEPT_EXITS, Zygote, ZygoteClosed


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

    async def test_closed_to_new_forks_it_answers_the_forks_under_way_and_starts_none_after(self):
        # A stopping worker signals running(): a fork asked for just before the stop must be in it.
        under_way = asyncio.create_task(self.zygote.spawn(self.env(), self.home.name))
        await asyncio.sleep(0)  # the request is sent
        await asyncio.wait_for(self.zygote.close_to_new(), 30)
        self.assertTrue(under_way.done(), "close_to_new returned before the fork under way was answered")
        pid = under_way.result()
        with self.assertRaises(ZygoteClosed):
            await self.zygote.spawn(self.env(), self.home.name)
        await asyncio.wait_for(self.zygote.wait(pid), 60)

    @staticmethod
    async def until_sigterm_not_ignored(pid: int) -> None:
        """Until the child has put back SIGTERM's disposition (the SigIgn mask of /proc/<pid>/status)."""
        while True:
            with open(f"/proc/{pid}/status") as status:
                ignored = int(next(line for line in status if line.startswith("SigIgn:")).split()[1], 16)
            if not ignored & (1 << (signal.SIGTERM - 1)):
                return
            await asyncio.sleep(0.01)


class ForkServerProtocol(unittest.IsolatedAsyncioTestCase):
    """The worker's side of the line protocol, fed the lines a fork server would write."""

    async def asyncSetUp(self):
        class Stdin:
            def write(self, data):
                pass

            async def drain(self):
                pass

        class Process:
            returncode = None
            stdout = asyncio.StreamReader()
            stdin = Stdin()

        self.zygote = Zygote()
        self.zygote._process = Process()
        self.zygote._reader = asyncio.create_task(self.zygote._read())

    async def asyncTearDown(self):
        self.zygote._reader.cancel()

    def say(self, *messages):
        self.zygote._process.stdout.feed_data("".join(json.dumps(m) + "\n" for m in messages).encode())

    async def test_a_new_child_with_the_pid_of_an_ended_one_is_not_taken_for_it(self):
        # The kernel reuses pids: the old child's exit must not end (or be reported for) the new one.
        first = asyncio.create_task(self.zygote.spawn({}, "/"))
        self.say({"spawned": 4242}, {"exited": 4242, "code": -15})
        self.assertEqual(await first, 4242)
        self.assertEqual(await asyncio.wait_for(self.zygote.wait(4242), 5), -15)
        second = asyncio.create_task(self.zygote.spawn({}, "/"))
        self.say({"spawned": 4242})
        self.assertEqual(await second, 4242)
        self.assertEqual(self.zygote.running(), [4242])
        waiting = asyncio.create_task(self.zygote.wait(4242))
        await asyncio.sleep(0.05)
        self.assertFalse(waiting.done())
        self.say({"exited": 4242, "code": 0})
        self.assertEqual(await asyncio.wait_for(waiting, 5), 0)
        self.assertEqual(self.zygote.running(), [])

    async def test_ended_children_are_not_kept_for_ever_but_the_latest_still_answer_a_wait(self):
        for pid in range(10_000, 12_500):
            spawn = asyncio.create_task(self.zygote.spawn({}, "/"))
            self.say({"spawned": pid}, {"exited": pid, "code": 0})
            await spawn
        self.assertLessEqual(len(self.zygote._exits), KEPT_EXITS + 1)
        self.assertEqual(await asyncio.wait_for(self.zygote.wait(12_499), 5), 0)

    async def test_a_child_that_ends_at_once_is_reported_though_its_end_comes_with_its_start(self):
        spawn = asyncio.create_task(self.zygote.spawn({}, "/"))
        self.say({"spawned": 77}, {"exited": 77, "code": 1})
        self.assertEqual(await spawn, 77)
        self.assertEqual(await asyncio.wait_for(self.zygote.wait(77), 5), 1)


if __name__ == "__main__":
    unittest.main()
