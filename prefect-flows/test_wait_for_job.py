"""A step's wait for its BullMQ job, against a real redis-server and BullMQ's own (Python) worker."""

import asyncio
import unittest

from bullmq import Job, Queue, Worker

import run_stage
from redis_server_fixture import RedisServer


class WaitForJob(unittest.IsolatedAsyncioTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = RedisServer()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    async def asyncSetUp(self):
        self.opts = {"connection": self.server.url, "prefix": "test"}
        self.queue = Queue(f"steps-{self.id().rsplit('.', 1)[-1]}", self.opts)
        self.saved_poll = run_stage.POLL_SECONDS
        # Far longer than any wait below: a result must arrive by the event stream, not by the fallback read.
        run_stage.POLL_SECONDS = 60
        self.worker = None

    async def asyncTearDown(self):
        run_stage.POLL_SECONDS = self.saved_poll
        if self.worker:
            await self.worker.close()
        await self.queue.close()

    def work(self, processor) -> None:
        self.worker = Worker(self.queue.name, processor, self.opts)

    async def add_and_wait(self, jid: str, timeout: float = 10) -> dict:
        since = await run_stage.last_event_id(self.queue)
        await self.queue.add("step", {"n": 1}, {"jobId": jid, "attempts": 1})
        return await run_stage.wait_for_job(self.queue, jid, timeout, since)

    async def test_returns_the_result_as_soon_as_the_worker_finishes(self):
        async def slow_answer(job, token):
            await asyncio.sleep(0.3)
            return {"content": {"heading": job.id}}

        self.work(slow_answer)
        self.assertEqual(await asyncio.wait_for(self.add_and_wait("job-1"), 5), {"content": {"heading": "job-1"}})

    async def test_a_failed_job_is_a_step_failure_and_a_marked_one_is_permanent(self):
        async def fail(job, token):
            raise RuntimeError(f"{run_stage.PERMANENT_MARK} 401 bad key" if job.id == "job-permanent" else "503 busy")

        self.work(fail)
        with self.assertRaises(run_stage.StepFailed):
            await asyncio.wait_for(self.add_and_wait("job-retryable"), 5)
        with self.assertRaises(run_stage.StepFailedPermanently):
            await asyncio.wait_for(self.add_and_wait("job-permanent"), 5)

    async def test_a_job_finished_before_the_wait_comes_back_at_once(self):
        async def answer(job, token):
            return {"done": job.id}

        self.work(answer)
        await self.add_and_wait("job-early")
        # A flow run again (after a pause, say) adds the same job id: no new event, the stored result returns.
        self.assertEqual(await asyncio.wait_for(self.add_and_wait("job-early"), 5), {"done": "job-early"})

    async def test_times_out_without_a_worker_and_withdraws_the_job(self):
        with self.assertRaises(run_stage.StepTimedOut):
            await self.add_and_wait("job-orphan", timeout=0.5)
        self.assertIsNone(await Job.fromId(self.queue, "job-orphan"))


if __name__ == "__main__":
    unittest.main()
