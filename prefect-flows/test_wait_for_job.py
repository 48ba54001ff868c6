"""A step's wait for its BullMQ job, against a real redis-server and BullMQ's own (Python) worker."""

import asyncio
import subprocess
import sys
import unittest
from pathlib import Path

from bullmq import Job, Queue

import run_stage
from redis_server_fixture import RedisServer

QUEUE = "steps-test"


class WaitForJob(unittest.IsolatedAsyncioTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = RedisServer()
        worker = Path(__file__).with_name("bullmq_test_worker.py")
        cls.worker = subprocess.Popen([sys.executable, str(worker), cls.server.url, QUEUE], stdout=subprocess.PIPE, text=True)
        if cls.worker.stdout.readline().strip() != "ready":
            raise RuntimeError("the BullMQ test worker did not start")

    @classmethod
    def tearDownClass(cls):
        cls.worker.kill()
        cls.worker.wait()
        cls.server.stop()

    async def asyncSetUp(self):
        self.queue = Queue(QUEUE, {"connection": self.server.url, "prefix": "test"})
        self.orphans = Queue("steps-nobody-works", {"connection": self.server.url, "prefix": "test"})
        self.saved_poll = run_stage.POLL_SECONDS
        # Far longer than any wait below: a result must arrive by the event stream, not by the fallback read.
        run_stage.POLL_SECONDS = 60

    async def asyncTearDown(self):
        run_stage.POLL_SECONDS = self.saved_poll
        await self.queue.close()
        await self.orphans.close()

    async def add_and_wait(self, jid: str, behave: str = "", timeout: float = 10, queue: Queue = None) -> dict:
        queue = queue or self.queue
        since = await run_stage.last_event_id(queue)
        await queue.add("step", {"behave": behave}, {"jobId": jid, "attempts": 1})
        return await run_stage.wait_for_job(queue, jid, timeout, since)

    async def test_returns_the_result_as_soon_as_the_worker_finishes(self):
        self.assertEqual(await asyncio.wait_for(self.add_and_wait("job-slow", "slow"), 5), {"done": "job-slow"})

    async def test_a_failed_job_is_a_step_failure_and_a_marked_one_is_permanent(self):
        with self.assertRaises(run_stage.StepFailed):
            await asyncio.wait_for(self.add_and_wait("job-retryable", "fail"), 5)
        with self.assertRaises(run_stage.StepFailedPermanently):
            await asyncio.wait_for(self.add_and_wait("job-permanent", "fail-permanently"), 5)

    async def test_a_job_that_failed_without_a_message_is_a_step_failure_not_an_empty_result(self):
        with self.assertRaises(run_stage.StepFailed):
            await asyncio.wait_for(self.add_and_wait("job-silent", "fail-silently"), 5)

    async def test_looks_once_more_at_the_deadline_before_giving_up(self):
        # Its end missed (no event read, no poll due): the job is done, and the wait says so, not "timed out".
        async def nothing_heard(queue, jid, since, wait_seconds):
            await asyncio.sleep(wait_seconds)
            return since, False

        saved, run_stage.next_event_for = run_stage.next_event_for, nothing_heard
        try:
            self.assertEqual(await asyncio.wait_for(self.add_and_wait("job-unheard", timeout=0.5), 5), {"done": "job-unheard"})
        finally:
            run_stage.next_event_for = saved

    async def test_a_job_finished_before_the_wait_comes_back_at_once(self):
        await self.add_and_wait("job-early")
        # A flow run again (after a pause, say) adds the same job id: no new event, the stored result returns.
        self.assertEqual(await asyncio.wait_for(self.add_and_wait("job-early"), 5), {"done": "job-early"})

    async def test_a_long_wait_for_news_ends_before_redis_cuts_the_read_off(self):
        # A read blocked past redis-py's 5 s socket timeout fails, and BullMQ retries it for minutes.
        since = await run_stage.last_event_id(self.orphans)
        self.assertEqual(await asyncio.wait_for(run_stage.next_event_for(self.orphans, "nobody", since, 30), 10), (since, False))

    async def test_times_out_without_a_worker_and_withdraws_the_job(self):
        with self.assertRaises(run_stage.StepTimedOut):
            await self.add_and_wait("job-orphan", timeout=0.5, queue=self.orphans)
        self.assertIsNone(await Job.fromId(self.orphans, "job-orphan"))


if __name__ == "__main__":
    unittest.main()
